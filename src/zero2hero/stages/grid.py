"""`grid`: run a whole study plan in one process — source models, zero-shot and few-shot cells.

Each (task, model) source model is trained once, or reused when a FINISHED source run with the same params
and data (the SHA-256 of every file it read) is in the plan's experiment; it is then loaded once, and every cell
trains a copy of it. A cell that already has a FINISHED run with identical params and data is skipped, so after
a crash or Ctrl-C a rerun continues where the last one stopped: each finished cell is its own finished run,
nothing else is kept between runs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mlflow
from mlflow.tracking import MlflowClient
from tqdm.auto import tqdm

from ..config import Params, parse_params
from ..data.fewshot import PoolSpec, TargetData
from ..errors import Z2HError
from ..tasks import get_task
from ..tracking.queries import FinishedRuns
from ..tracking.runs import experiment_id_for, log_metrics, log_params, stage_run
from ..tracking.server import check_tracking_server
from ..training.config import TrainConfig
from .evaluate import evaluate_language, evaluate_params, lineage_tags, resolve_langs
from .few_shot import SourceModel, few_shot_config, few_shot_params, few_shot_run, load_source
from .plan import StudyPlan, load_plan
from .source import load_source_splits, registered_uri, run_source, source_run_params

log = logging.getLogger(__name__)


@dataclass
class Cell:
    """One line of the summary: what ran (or was skipped, or failed) and why."""

    stage: str
    task: str
    model: str
    lang: str = ""
    k: str = ""
    sampling: str = ""
    seed: str = ""
    status: str = ""  # done | skipped | failed
    detail: str = ""  # run id, or the error


def data_hashes(*splits) -> dict[str, str]:
    """The content hashes a run logged for its data files (`data.<split>.sha256`): a cell whose files changed
    since its run finished is run again."""
    return {key: value for split in splits for key, value in split.log_params().items() if key.endswith(".sha256")}


def _flags(values: dict) -> list[str]:
    return [item for key, value in values.items() for item in (f"--{key}", str(value))]


class Grid:
    """Runs one plan; `cells` is the record for the summary."""

    def __init__(self, plan: StudyPlan):
        self.plan = plan
        self.finished = FinishedRuns(experiment_id_for(plan.experiment))
        self.cells: list[Cell] = []
        self.targets: dict[tuple, TargetData] = {}
        self.progress = None  # the grid's progress bar over cells (while `run` runs)

    def run(self) -> None:
        tasks = [get_task(name) for name in self.plan.tasks]
        total = sum(self._planned_cells(task) for task in tasks) * len(self.plan.models)
        with tqdm(total=total, desc=f"grid {self.plan.experiment}", unit="cell") as self.progress:
            for task in tasks:
                for model in self.plan.models:
                    uri = self._source(task, model)
                    if uri is not None:
                        self._target_cells(task, model, uri)

    def _planned_cells(self, task) -> int:
        """Cells of one (task, model): its source, then per language one zero-shot cell and the few-shot ones."""
        try:
            langs = self._langs(task)
        except Z2HError:
            langs = []  # reported as a failed cell when the grid gets there
        return 1 + sum(1 for _ in self._cell_keys(task, langs))

    # ---- one cell ----
    def _cell(self, cell: Cell, identity: Callable[[], dict], action: Callable[[], str]) -> None:
        """Skip the cell if a FINISHED run has its params, else run it; failures are recorded, not raised."""
        self.cells.append(cell)
        try:
            params = identity()
            found = self.finished.find(cell.stage, params)
            if found:
                cell.status, cell.detail = "skipped", found
                return
            run_id = action()
            self.finished.add(cell.stage, params, run_id)
            cell.status, cell.detail = "done", run_id
        except KeyboardInterrupt:
            cell.status, cell.detail = "failed", "interrupted"
            raise
        except Z2HError as exc:
            cell.status, cell.detail = "failed", str(exc)
            log.warning("%s %s %s %s: %s", cell.stage, cell.task, cell.lang, cell.k, exc)
        except Exception as exc:  # one broken cell must not stop the study; the run holds the traceback
            cell.status, cell.detail = "failed", f"{type(exc).__name__}: {exc}"
            log.exception("%s %s %s k=%s failed", cell.stage, cell.task, cell.lang, cell.k)
        finally:
            if self.progress is not None:
                self.progress.update(1)

    # ---- source ----
    def _source(self, task, model: str) -> str | None:
        """The source model's URI (models:/NAME/VERSION), trained now or reused; None when it failed."""
        plan = self.plan
        params = parse_params("source", ["--task", task.name, "--model", model, "--data_dir", plan.data_dir,
                                         *_flags(plan.source)])

        def identity() -> dict:
            config = TrainConfig.resolve(task.defaults, params.values)
            return {**source_run_params(task, params, config), **data_hashes(*load_source_splits(task, params, config))}

        def train() -> str:
            return run_source(params, nested=True, experiment=plan.experiment)

        cell = Cell("source", task.name, model)
        self._cell(cell, identity, train)
        if cell.status == "failed":
            return None
        uri = registered_uri(MlflowClient().get_run(cell.detail))
        if uri is None:
            cell.status, cell.detail = "failed", f"source run {cell.detail} registered no model"
        return uri

    # ---- zero-shot and few-shot ----
    def _langs(self, task) -> list[str]:
        if self.plan.langs == "all":
            return resolve_langs(task, self.plan.data_dir, "all", "test")
        return list(self.plan.langs)

    def _cell_keys(self, task, langs: list[str]):
        """(lang, k, sampling, seed) of every target cell, in the order they run. Zero-shot depends on neither
        sampling nor seed: one cell per language. Samplings: the plan's that the task supports (XNLI/XQuAD: random)."""
        samplings = [s for s in self.plan.sampling if s in task.sampling_strategies] or [task.sampling_strategies[0]]
        for lang in langs:
            for k in self.plan.ks(task.name):
                if k == 0:
                    yield lang, 0, samplings[0], 0
                    continue
                for sampling in samplings:
                    for seed in self.plan.seeds:
                        yield lang, k, sampling, seed

    def _target(self, task, lang: str, params: Params) -> TargetData:
        key = (task.name, lang, params.pool, params.max_eval_examples)
        if key not in self.targets:
            self.targets[key] = TargetData(task, self.plan.data_dir, lang, PoolSpec.parse(params.pool),
                                           params.max_eval_examples)
        return self.targets[key]

    def _cell_params(self, task, uri: str, lang: str, k: int, sampling: str, seed: int) -> Params:
        """The few_shot params of a cell: plan, then `evaluate` overrides, then `few_shot` overrides."""
        plan = self.plan
        return parse_params("few_shot", [
            "--task", task.name, "--model_uri", uri, "--lang", lang, "--k", str(k), "--sampling", sampling,
            "--seed", str(seed), "--data_dir", plan.data_dir, *_flags(plan.evaluate), *_flags(plan.few_shot)])

    def _target_cells(self, task, model: str, uri: str) -> None:
        try:
            source = load_source(task, uri)
            langs = self._langs(task)
        except Z2HError as exc:
            self.cells.append(Cell("few_shot", task.name, model, status="failed", detail=str(exc)))
            return
        for lang, k, sampling, seed in self._cell_keys(task, langs):
            run_cell = self._zero_shot if k == 0 else self._few_shot
            run_cell(task, model, source, self._cell_params(task, uri, lang, k, sampling, seed))

    def _zero_shot(self, task, model: str, source: SourceModel, params: Params) -> None:
        """k = 0: one evaluate run per language, on the same scored examples as the language's few-shot cells."""
        plan = self.plan
        extra = {"data_dir": plan.data_dir}
        if PoolSpec.parse(params.pool).carve_out:
            extra["pool"] = params.pool  # the carved-out items are not scored here either

        def identity() -> dict:
            split = self._target(task, params.lang, params).test
            return {**evaluate_params(task, source.model, source.uri, split, params.max_eval_examples), **extra,
                    **data_hashes(split)}

        def evaluate() -> str:
            split = self._target(task, params.lang, params).test
            return evaluate_language(task, source.model, source.tokenizer, source.uri, lineage_tags(source.resolved),
                                     split, params.max_eval_examples, params.eval_batch_size, extra, plan.experiment)[0]

        self._cell(Cell("evaluate", task.name, model, params.lang, "0"), identity, evaluate)

    def _few_shot(self, task, model: str, source: SourceModel, params: Params) -> None:
        def identity() -> dict:
            target = self._target(task, params.lang, params)
            return {**few_shot_params(task, source, params, few_shot_config(task, source, params)),
                    **data_hashes(target.test, *([target.pool] if params.k else []))}

        def train_and_score() -> str:
            target = self._target(task, params.lang, params)
            return few_shot_run(task, source, target, params, nested=True, experiment=self.plan.experiment)[0]

        cell = Cell("few_shot", task.name, model, params.lang, str(params.k), params.sampling, str(params.seed))
        self._cell(cell, identity, train_and_score)

    # ---- summary ----
    def summary(self) -> str:
        """Counts per (stage, task, model) and one line per failure."""
        counts: dict[tuple, dict[str, int]] = {}
        for cell in self.cells:
            row = counts.setdefault((cell.stage, cell.task, cell.model), {"done": 0, "skipped": 0, "failed": 0})
            row[cell.status or "failed"] += 1
        lines = [f"{'stage':<10} {'task':<6} {'done':>5} {'skipped':>8} {'failed':>7}  model"]
        for (stage, task, model), row in counts.items():
            lines.append(f"{stage:<10} {task:<6} {row['done']:>5} {row['skipped']:>8} {row['failed']:>7}  "
                         f"{self.plan.slug(model)}")
        total = {status: sum(row[status] for row in counts.values()) for status in ("done", "skipped", "failed")}
        lines.append(f"{'total':<17} {total['done']:>5} {total['skipped']:>8} {total['failed']:>7}")
        for cell in self.cells:
            if cell.status == "failed":
                where = " ".join(part for part in (cell.lang, cell.k and f"k={cell.k}", cell.sampling,
                                                   cell.seed and f"s{cell.seed}") if part)
                lines.append(f"FAILED {cell.stage} {cell.task} {self.plan.slug(cell.model)} {where}: {cell.detail}")
        return "\n".join(lines)

    def totals(self) -> dict[str, int]:
        return {f"cells_{status}": sum(cell.status == status for cell in self.cells)
                for status in ("done", "skipped", "failed")}


def run_grid(params: Params) -> str:
    """The `grid` entry point; returns the grid's run id."""
    plan = load_plan(params.plan)  # checked whole (tasks included) before anything runs
    check_tracking_server()
    # the grid's own run goes where `mlflow run` (or MLFLOW_EXPERIMENT_NAME) puts it; its cells go to the plan's
    with stage_run("grid", f"grid/{Path(plan.path).stem}") as run:
        log_params({"plan": plan.path, "experiment": plan.experiment})
        mlflow.log_text(plan.text, "plan.yaml")
        grid = Grid(plan)
        try:
            grid.run()
        finally:  # also after Ctrl-C: what finished is kept, and the summary says so
            text = grid.summary()
            print(f"\ngrid {plan.path} -> experiment {plan.experiment!r}\n{text}")
            mlflow.log_text(text + "\n", "summary.txt")
            log_metrics(grid.totals())
        failed = grid.totals()["cells_failed"]
        if failed:
            raise Z2HError(f"{failed} cells failed (listed above); fix their cause and rerun the plan to finish them")
        return run.info.run_id
