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
from ..tracking.liveness import end_stale_runs
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
    status: str = ""  # done | skipped | failed (| missing: a source only looked up)
    detail: str = ""  # run id, or the error
    uri: str | None = None  # a source cell's models:/NAME/VERSION


def data_hashes(*splits) -> dict[str, str]:
    """The content hashes a run logged for its data files (`data.<split>.sha256`): a cell whose files changed
    since its run finished is run again."""
    return {key: value for split in splits for key, value in split.log_params().items() if key.endswith(".sha256")}


def _flags(values: dict) -> list[str]:
    return [item for key, value in values.items() for item in (f"--{key}", str(value))]


def unit_shard(task: str, slug: str, lang: str, count: int) -> int:
    """The shard (1..count) of a target unit: a stable hash of names that are the same on every machine."""
    digest = hashlib.sha256(f"{task}\0{slug}\0{lang}".encode()).hexdigest()
    return int(digest, 16) % count + 1


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
            return {**evaluate_params(task, source.model, source.uri, split, params.max_eval_examples), **extra,
                    **data_hashes(split)}

        def evaluate() -> str:
            split = self._target(task, params.lang, params).test
            return evaluate_language(task, source.model, source.tokenizer, source.uri, lineage_tags(source.resolved),
                                     split, params.max_eval_examples, params.eval_batch_size, extra, plan.experiment,
                                     params.log_predictions, params.system_metrics)[0]

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
        for task in tasks:
            try:
                langs = langs_of(self.plan, task)
            except Z2HError as exc:
                self.cells.append(Cell("few_shot", task.name, "", status="failed", detail=str(exc)))
                langs = []
            for model in self.plan.models:
                mine = langs if self.only == "all" else []
                if self.shard:
                    index, count = map(int, self.shard.split("/"))
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
                raise Z2HError(
                    f"shard {self.shard}: no FINISHED source model for {task.name}/{self.plan.slug(model)} in "
                    f"experiment {self.plan.experiment!r}; train the plan's sources first: "
                    f"mlflow run . -e grid --env-manager local -P plan={self.plan.path} -P only=sources")
        return cells

    def _run_local(self, units) -> None:
        runner = CellRunner(self.plan, FinishedRuns(self.experiment_id), self.progress)
        runner.cells = self.cells
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
