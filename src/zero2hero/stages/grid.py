"""`grid`: run a whole study plan — source models, then zero-shot and few-shot cells — here, on Ray, or as shards.

Units: a source model per (task, model), then a target unit per (task, model, language) holding that language's
zero-shot cell and its few-shot cells, so whoever runs a unit loads the source model and the language's data once.
Every cell has an identity: its params and the SHA-256 of every file it read. A cell whose identity already has a
FINISHED run in the plan's experiment is skipped, so after a crash, a kill or Ctrl-C the same command continues
where the last one stopped; runs left RUNNING by a process that died are ended FAILED first (tracking.liveness).
`shard=I/N` keeps the target units whose stable hash falls in shard I (shards cover every cell exactly once);
`executor.kind: ray` fans the units out over a Ray cluster (grid_ray.py). The local executor is the default.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import mlflow
from tqdm.auto import tqdm

from ..config import Params
from ..errors import Z2HError
from ..tasks import get_task
from ..tracking.liveness import end_stale_runs
from ..tracking.queries import FinishedRuns
from ..tracking.runs import experiment_id_for, log_metrics, log_params, stage_run
from ..tracking.server import check_tracking_server
from .cells import Cell, CellRunner, cell_keys, langs_of
from .plan import StudyPlan, load_plan

log = logging.getLogger(__name__)


def unit_shard(task: str, slug: str, lang: str, count: int) -> int:
    """The shard (1..count) of a target unit: a stable hash of names that are the same on every machine."""
    digest = hashlib.sha256(f"{task}\0{slug}\0{lang}".encode()).hexdigest()
    return int(digest, 16) % count + 1


class Grid:
    """Runs one plan (or one shard of it); `cells` is the record for the summary."""

    def __init__(self, plan: StudyPlan, shard: str = "", only: str = "all"):
        self.plan, self.shard, self.only = plan, shard, only
        self.experiment_id = experiment_id_for(plan.experiment)
        self.cells: list[Cell] = []
        self.progress = None  # the grid's progress bar over cells (while `run` runs)

    def units(self, tasks) -> list[tuple]:
        """(task, model, langs of this shard) per (task, model); a task whose languages cannot be resolved is
        recorded as a failed cell and has no languages."""
        units = []
        index, count = map(int, self.shard.split("/")) if self.shard else (0, 0)
        for task in tasks:
            try:
                langs = langs_of(self.plan, task)
            except Z2HError as exc:
                self.cells.append(Cell("few_shot", task.name, "", status="failed", detail=str(exc)))
                langs = []
            for model in self.plan.models:
                mine = langs if self.only == "all" else []
                if self.shard:
                    mine = [lang for lang in mine if unit_shard(task.name, self.plan.slug(model), lang, count) == index]
                units.append((task, model, mine))
        return units

    def run(self) -> None:
        tasks = [get_task(name, self.plan.bad_trees) for name in self.plan.tasks]
        units = self.units(tasks)
        own = mlflow.active_run()  # the grid's own run: its experiment may hold abandoned grid runs
        end_stale_runs(sorted({self.experiment_id, *([own.info.experiment_id] if own else [])}))
        total = sum(1 + sum(1 for _ in cell_keys(self.plan, task, langs)) for task, _, langs in units)
        with tqdm(total=total, desc=f"grid {self.plan.experiment}", unit="cell") as self.progress:
            if self.plan.executor.kind == "ray":
                from .grid_ray import run_on_ray

                run_on_ray(self, units)
            else:
                self._run_local(units)

    def sources(self, runner: CellRunner, units) -> dict[tuple, Cell]:
        """Phase 1 as far as this process goes: each (task, model) source cell; a shard only looks them up and
        stops when one is missing."""
        cells = {}
        for task, model, _ in units:
            cells[(task.name, model)] = cell = runner.source(task, model, train=False)
            if cell.status == "missing" and self.shard:
                # under auto, a source's number format (part of its identity) is that of the machine that trained it
                hint = "" if "precision" in self.plan.source else (
                    " (under precision=auto a source trained on a GPU is bf16 and one trained on a CPU fp32: train "
                    "the sources on the kind of machine the shards run on, or set `source: {precision: ...}` in the "
                    "plan)")
                raise Z2HError(
                    f"shard {self.shard}: no FINISHED source model for {task.name}/{self.plan.slug(model)} in "
                    f"experiment {self.plan.experiment!r}; train the plan's sources first: "
                    f"mlflow run . -e grid --env-manager local -P plan={self.plan.path} -P only=sources{hint}")
        return cells

    def runner(self) -> CellRunner:
        """A runner in this process over the whole experiment, recording into this grid's cells."""
        runner = CellRunner(self.plan, FinishedRuns(self.experiment_id), self.progress)
        runner.cells = self.cells
        return runner

    def _run_local(self, units) -> None:
        runner = self.runner()
        for (task, model, langs), found in zip(units, self.sources(runner, units).values()):
            cell = found
            if found.status == "missing":  # train it here, in place of the lookup's record
                self.cells.remove(found)
                cell = runner.source(task, model)
            for lang in langs if cell.uri else []:
                runner.unit(task, model, cell.uri, lang)

    # ---- summary ----
    def summary(self) -> str:
        """Counts per (stage, task, model) and one line per failure."""
        counts: dict[tuple, dict[str, int]] = {}
        for cell in self.cells:
            row = counts.setdefault((cell.stage, cell.task, cell.model), {"done": 0, "skipped": 0, "failed": 0})
            row[cell.status if cell.status in row else "failed"] += 1
        lines = [f"{'stage':<10} {'task':<6} {'done':>5} {'skipped':>8} {'failed':>7}  model"]
        for (stage, task, model), row in counts.items():
            lines.append(f"{stage:<10} {task:<6} {row['done']:>5} {row['skipped']:>8} {row['failed']:>7}  "
                         f"{self.plan.slug(model) if model else '-'}")
        total = {status: sum(row[status] for row in counts.values()) for status in ("done", "skipped", "failed")}
        lines.append(f"{'total':<17} {total['done']:>5} {total['skipped']:>8} {total['failed']:>7}")
        lines += self.failures()
        return "\n".join(lines)

    def failures(self) -> list[str]:
        lines = []
        for cell in self.cells:
            if cell.status not in ("done", "skipped"):
                where = " ".join(part for part in (cell.lang, cell.k and f"k={cell.k}", cell.sampling,
                                                   cell.seed and f"s{cell.seed}") if part)
                model = self.plan.slug(cell.model) if cell.model else ""
                lines.append(f"FAILED {cell.stage} {cell.task} {model} {where}: {cell.detail or cell.status}")
        return lines

    def totals(self) -> dict[str, int]:
        done = {status: sum(cell.status == status for cell in self.cells) for status in ("done", "skipped")}
        return {"cells_done": done["done"], "cells_skipped": done["skipped"],
                "cells_failed": len(self.cells) - done["done"] - done["skipped"]}


def apply_overrides(plan: StudyPlan, params: Params) -> None:
    """-P executor/address/... override the plan's executor section (same checks as the plan's values)."""
    names = {"executor": "kind", "address": "address", "gpus_per_worker": "gpus_per_worker",
             "cpus_per_worker": "cpus_per_worker", "workers": "workers", "max_retries": "max_retries"}
    for name, field_name in names.items():
        if name in params.given and str(params.values[name]).strip():
            try:
                plan.executor.override(field_name, str(params.values[name]))
            except ValueError as exc:
                raise Z2HError(f"grid: {name}={params.values[name]!r} is not valid: {exc}") from None


def run_grid(params: Params) -> str:
    """The `grid` entry point; returns the grid's run id."""
    plan = load_plan(params.plan)  # checked whole (tasks included) before anything runs
    apply_overrides(plan, params)
    uri = check_tracking_server()
    if plan.executor.kind == "ray" and not uri.startswith(("http://", "https://")):
        raise Z2HError(f"executor ray: every worker logs to one tracking server, but the tracking URI is {uri!r}, "
                       "which many processes cannot share; start one (mlflow server --backend-store-uri "
                       "sqlite:///mlflow.db --artifacts-destination ./mlartifacts --host 127.0.0.1 --port 5000) and "
                       "set MLFLOW_TRACKING_URI=http://127.0.0.1:5000 (README: Scaling out)")
    # the grid's own run goes where `mlflow run` (or MLFLOW_EXPERIMENT_NAME) puts it; its cells go to the plan's
    name = f"grid/{Path(plan.path).stem}" + (f"/shard{params.shard.replace('/', 'of')}" if params.shard else "")
    with stage_run("grid", name) as run:
        log_params({"plan": plan.path, "experiment": plan.experiment, "shard": params.shard, "only": params.only,
                    "executor": plan.executor.kind})
        mlflow.log_text(plan.text, "plan.yaml")
        grid = Grid(plan, params.shard, params.only)
        try:
            grid.run()
        finally:  # also after Ctrl-C or SIGTERM: what finished is kept, and the summary says so
            text = grid.summary()
            print(f"\ngrid {plan.path} -> experiment {plan.experiment!r}\n{text}")
            mlflow.log_text(text + "\n", "summary.txt")
            log_metrics(grid.totals())
        failures = grid.failures()
        if failures:
            shown = "; ".join(failures[:3]) + (f"; and {len(failures) - 3} more (summary.txt)" if len(failures) > 3 else "")
            raise Z2HError(f"{len(failures)} cells failed: {shown}. Fix their cause and rerun the plan to finish them")
        return run.info.run_id
