"""Grid cells and the runner that executes them in one process (the local executor and every Ray task).

A cell's identity is its params and the SHA-256 of every file it read; a cell whose identity has a FINISHED run in
the plan's experiment is skipped (see grid.py for the units and executors built on this).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from mlflow.tracking import MlflowClient

from ..config import Params, parse_params
from ..data.fewshot import PoolSpec, TargetData
from ..errors import Z2HError, raise_if_terminated
from ..tracking.queries import FinishedRuns
from ..training.config import TrainConfig
from .evaluate import evaluate_language, evaluate_params, lineage_tags, resolve_langs
from .few_shot import SourceModel, few_shot_config, few_shot_params, few_shot_run, load_source
from .plan import StudyPlan
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
    status: str = ""  # done | skipped | failed (| missing: a source only looked up)
    detail: str = ""  # run id, or the error
    uri: str | None = None  # a source cell's models:/NAME/VERSION


def data_hashes(*splits) -> dict[str, str]:
    """The content hashes a run logged for its data files (`data.<split>.sha256`): a cell whose files changed
    since its run finished is run again."""
    return {key: value for split in splits for key, value in split.log_params().items() if key.endswith(".sha256")}


def _flags(values: dict) -> list[str]:
    return [item for key, value in values.items() for item in (f"--{key}", str(value))]


def langs_of(plan: StudyPlan, task) -> list[str]:
    if plan.langs == "all":
        return resolve_langs(task, plan.data_dir, "all", "test")
    return list(plan.langs)


def cell_keys(plan: StudyPlan, task, langs: list[str]):
    """(lang, k, sampling, seed) of every target cell, in the order they run. Zero-shot depends on neither
    sampling nor seed: one cell per language. Samplings: the plan's that the task supports (XNLI/XQuAD: random)."""
    samplings = [s for s in plan.sampling if s in task.sampling_strategies] or [task.sampling_strategies[0]]
    for lang in langs:
        for k in plan.ks(task.name):
            if k == 0:
                yield lang, 0, samplings[0], 0
                continue
            for sampling in samplings:
                for seed in plan.seeds:
                    yield lang, k, sampling, seed


class CellRunner:
    """Runs cells in this process — the local executor, and the body of every Ray task.

    `finished` indexes the FINISHED runs that count as done; `cells` is the record for the summary.
    """

    def __init__(self, plan: StudyPlan, finished: FinishedRuns, progress=None):
        self.plan, self.finished, self.progress = plan, finished, progress
        self.cells: list[Cell] = []
        self.targets: dict[tuple, TargetData] = {}
        self.loaded: dict[str, SourceModel] = {}  # the last source model loaded, by URI

    # ---- one cell ----
    def _cell(self, cell: Cell, identity: Callable[[], dict], action: Callable[[], str] | None) -> None:
        """Skip the cell if a FINISHED run has its identity, else run it (action None: only look it up);
        failures are recorded, not raised."""
        self.cells.append(cell)
        try:
            raise_if_terminated()
            params = identity()
            found = self.finished.find(cell.stage, params)
            if found:
                cell.status, cell.detail = "skipped", found
                return
            if action is None:
                cell.status, cell.detail = "missing", ""
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
            if self.progress is not None and cell.status != "missing":
                self.progress.update(1)

    # ---- source ----
    def source(self, task, model: str, train: bool = True) -> Cell:
        """The (task, model) source cell, trained now or reused; with train=False only looked up (status
        `missing` when absent). A done or skipped cell's `uri` is its models:/NAME/VERSION."""
        plan = self.plan
        params = parse_params("source", ["--task", task.name, "--model", model, "--data_dir", plan.data_dir,
                                         "--bad_trees", plan.bad_trees, *_flags(plan.source)])

        def identity() -> dict:
            config = TrainConfig.resolve(task.defaults, params.values)
            return {**source_run_params(task, params, config), **data_hashes(*load_source_splits(task, params, config))}

        def train_source() -> str:
            return run_source(params, nested=True, experiment=plan.experiment)

        cell = Cell("source", task.name, model)
        self._cell(cell, identity, train_source if train else None)
        if cell.status in ("done", "skipped"):
            cell.uri = registered_uri(MlflowClient().get_run(cell.detail))
            if cell.uri is None:
                cell.status, cell.detail = "failed", f"source run {cell.detail} registered no model"
        return cell

    # ---- one (task, model, language) unit: zero-shot and few-shot ----
    def unit(self, task, model: str, uri: str, lang: str) -> None:
        """Every cell of one language, with the source model and the language's data loaded once."""
        try:
            source = self.loaded.get(uri) or load_source(task, uri)
        except Z2HError as exc:
            self.cells.append(Cell("few_shot", task.name, model, lang, status="failed", detail=str(exc)))
            return
        self.loaded = {uri: source}  # one model in memory: units arrive grouped by (task, model)
        for lang, k, sampling, seed in cell_keys(self.plan, task, [lang]):
            run_cell = self._zero_shot if k == 0 else self._few_shot
            run_cell(task, model, source, self._cell_params(task, uri, lang, k, sampling, seed))

    def _target(self, task, lang: str, params: Params) -> TargetData:
        key = (task.name, lang, params.pool, params.max_eval_examples)
        if key not in self.targets:
            self.targets = {key: TargetData(task, self.plan.data_dir, lang, PoolSpec.parse(params.pool),
                                            params.max_eval_examples)}
        return self.targets[key]

    def _cell_params(self, task, uri: str, lang: str, k: int, sampling: str, seed: int) -> Params:
        """The few_shot params of a cell: plan, then `evaluate` overrides, then `few_shot` overrides."""
        plan = self.plan
        return parse_params("few_shot", [
            "--task", task.name, "--model_uri", uri, "--lang", lang, "--k", str(k), "--sampling", sampling,
            "--seed", str(seed), "--data_dir", plan.data_dir, "--bad_trees", plan.bad_trees, *_flags(plan.evaluate),
            *_flags(plan.few_shot)])

    def _zero_shot(self, task, model: str, source: SourceModel, params: Params) -> None:
        """k = 0: one evaluate run per language, on the same scored examples as the language's few-shot cells."""
        plan = self.plan
        extra = {"data_dir": plan.data_dir}
        if PoolSpec.parse(params.pool).carve_out:
            extra["pool"] = params.pool  # the carved-out items are not scored here either
        if params.log_predictions:  # only when asked, so earlier runs without the record stay reusable otherwise
            extra["log_predictions"] = True

        def identity() -> dict:
            split = self._target(task, params.lang, params).test
            return {**evaluate_params(task, source.model, source.uri, split, params.max_eval_examples,
                                      params.precision), **extra, **data_hashes(split)}

        def evaluate() -> str:
            split = self._target(task, params.lang, params).test
            return evaluate_language(task, source.model, source.tokenizer, source.uri, lineage_tags(source.resolved),
                                     split, params.max_eval_examples, params.eval_batch_size, extra, plan.experiment,
                                     params.log_predictions, params.system_metrics, params.precision)[0]

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


def unit_filter(task: str, lang: str) -> str:
    """The runs of one target unit (a search filter), so a Ray worker indexes only its own."""
    return f"params.task = '{task}' and params.lang = '{lang}'"
