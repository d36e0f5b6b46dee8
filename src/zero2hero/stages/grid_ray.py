"""The grid's units as Ray tasks: missing source models in parallel, then one task per (task, model, language).

The driver (the `grid` process) looks up what is already FINISHED, submits what is missing and takes results as
they finish (`ray.wait`), so the progress bar and the summary work as with the local executor. Each task builds a
`CellRunner` over its own unit: it ends that unit's abandoned runs, skips its FINISHED cells, and loads the source
model and the language's data once. A worker process that dies is restarted by Ray (`max_retries`); the retry
skips the cells its predecessor finished. Every worker logs to the driver's tracking server (an HTTP URI).
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import mlflow

from ..errors import Z2HError
from ..tasks import get_task
from ..tracking.liveness import end_stale_runs
from ..tracking.queries import FinishedRuns
from ..tracking.runs import experiment_id_for, set_parent_run
from .cells import Cell, CellRunner, cell_keys, unit_filter

log = logging.getLogger(__name__)

# the environment workers need to log where the driver logs and to read data as it does
FORWARDED = ("MLFLOW_", "HF_", "Z2H_", "TRANSFORMERS_", "TOKENIZERS_", "TQDM_")
NOT_FORWARDED = {"MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"}  # the driver's own run


def worker_env(threads: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key.startswith(FORWARDED) and key not in NOT_FORWARDED}
    env["OMP_NUM_THREADS"] = str(threads)
    env.setdefault("TQDM_DISABLE", "1")  # the driver's bar shows progress; workers' bars would interleave
    return env


def portable(plan):
    """The plan with local paths made absolute: Ray workers do not share the driver's working directory."""
    def absolute(path: str) -> str:
        return str(Path(path).resolve()) if path != "hub" and Path(path).exists() else path

    return dataclasses.replace(plan, data_dir=absolute(plan.data_dir), models=[absolute(m) for m in plan.models])


def _prepare(parent_run_id: str, threads: int) -> None:
    """Per task in a worker: torch threads, the parent run of nested runs, quiet library loggers."""
    import torch

    torch.set_num_threads(threads)
    set_parent_run(parent_run_id)
    for noisy in ("urllib3", "mlflow.store", "mlflow.tracking", "mlflow.models", "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _unit_runner(plan, parent_run_id: str, threads: int, task_name: str, lang: str):
    """In a worker: (task, CellRunner) over one unit's runs, after ending that unit's abandoned ones."""
    _prepare(parent_run_id, threads)
    experiment_id = experiment_id_for(plan.experiment)
    own = unit_filter(task_name, lang)
    end_stale_runs([experiment_id], own)
    return get_task(task_name, plan.bad_trees), CellRunner(plan, FinishedRuns(experiment_id, filter_string=own))


def source_task(plan, parent_run_id: str, task_name: str, model: str, threads: int) -> list[Cell]:
    """Ray task: train (or, after a retry, reuse) one source model."""
    task, runner = _unit_runner(plan, parent_run_id, threads, task_name, "en")
    runner.source(task, model)
    return runner.cells


def unit_task(plan, parent_run_id: str, task_name: str, model: str, uri: str, lang: str, threads: int) -> list[Cell]:
    """Ray task: every cell of one (task, model, language)."""
    task, runner = _unit_runner(plan, parent_run_id, threads, task_name, lang)
    runner.unit(task, model, uri, lang)
    return runner.cells


def connect(executor, threads: int) -> None:
    """Connect to the cluster at `address` (or RAY_ADDRESS), else start a Ray instance for this run."""
    import ray

    address = executor.address or os.environ.get("RAY_ADDRESS", "")
    runtime_env = {"env_vars": worker_env(threads)}
    try:
        if address:
            ray.init(address=address, runtime_env=runtime_env, logging_level=logging.WARNING)
            return
        cpus = executor.workers * executor.cpus_per_worker if executor.workers else os.cpu_count()
        # address="local": a new instance even where `ray start` left one running (ray.init() would join it)
        ray.init(address="local", num_cpus=cpus, runtime_env=runtime_env, include_dashboard=False,
                 logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ray.exceptions.AuthenticationError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise Z2HError(f"executor ray: cannot connect to the Ray cluster at {address!r}: {reason}; start it "
                       "(ray start --head), fix executor.address / RAY_ADDRESS, or, on a cluster with token "
                       "authentication, set RAY_AUTH_MODE=token and its token (README: Scaling out)") from None


class Fanout:
    """Submitted Ray tasks and what each stands for; results are taken in the order they finish."""

    def __init__(self, grid):
        self.grid, self.pending = grid, {}

    def submit(self, ref, key, planned: int, cell: Cell) -> None:
        self.pending[ref] = (key, planned, cell)

    def results(self):
        """Yield (key, cells) as tasks finish; a task that failed as a whole (its worker died more often than
        max_retries, or it raised outside a cell) becomes one failed cell, never a silent loss."""
        import ray

        while self.pending:
            done, _ = ray.wait(list(self.pending), num_returns=1)
            for ref in done:
                key, planned, template = self.pending.pop(ref)
                try:
                    cells = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    reason = str(exc).strip().splitlines()[-1][:500] if str(exc).strip() else type(exc).__name__
                    cells = [dataclasses.replace(template, status="failed",
                                                 detail=f"{type(exc).__name__}: {reason}; rerun the plan to finish")]
                self.grid.cells.extend(cells)
                if self.grid.progress is not None:
                    self.grid.progress.update(planned)
                yield key, cells

    def cancel(self) -> None:
        """Ctrl-C / SIGTERM: interrupt the running tasks (their open runs end KILLED) and wait for them briefly."""
        import ray

        for ref in self.pending:
            ray.cancel(ref)
        ray.wait(list(self.pending), num_returns=len(self.pending), timeout=30)


def run_on_ray(grid, units) -> None:
    """Both phases of `grid` on Ray (see the module docstring)."""
    import ray

    executor = grid.plan.executor
    threads = max(1, int(executor.cpus_per_worker))
    connect(executor, threads)
    plan, parent = portable(grid.plan), mlflow.active_run().info.run_id
    options = {"num_cpus": executor.cpus_per_worker, "num_gpus": executor.gpus_per_worker,
               "max_retries": executor.max_retries}
    fanout = Fanout(grid)
    try:
        sources = grid.sources(grid.runner(), units)
        for (task_name, model), cell in list(sources.items()):
            if cell.status == "missing":
                grid.cells.remove(cell)
                ref = ray.remote(source_task).options(**options).remote(plan, parent, task_name, model, threads)
                fanout.submit(ref, (task_name, model), 1, dataclasses.replace(cell))
        for key, cells in fanout.results():
            sources[key] = cells[-1]
        for task, model, langs in units:
            uri = sources[(task.name, model)].uri
            for lang in langs if uri else []:
                planned = sum(1 for _ in cell_keys(grid.plan, task, [lang]))
                ref = ray.remote(unit_task).options(**options).remote(plan, parent, task.name, model, uri, lang,
                                                                       threads)
                fanout.submit(ref, (task.name, model, lang), planned, Cell("few_shot", task.name, model, lang))
        for _ in fanout.results():
            pass
    except KeyboardInterrupt:
        fanout.cancel()
        raise
    finally:
        end_stale_runs([grid.experiment_id])  # runs of workers that died for good
        ray.shutdown()  # stops the instance started here; a cluster given by address keeps running
