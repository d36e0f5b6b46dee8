"""Entry-point parameters: groups defined once as dataclasses (types, checks, defaults, help), shared by `z2h`,
MLproject (a test checks MLproject against them) and the logged params.

Every entry point accepts `--name value` flags whose names are the parameter names of docs/interface.md.
Values arrive as strings (MLproject does not check types), so they are parsed and validated here.
Training parameters left unset take the task's defaults (docs/method.md §3) when the stage resolves them.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from .data.fewshot import STRATEGIES, PoolSpec
from .errors import Z2HError
from .parameters import (Param, finite, list_of, nonneg_int, optional, param, params_of, pos_float, pos_int, shard,
                         yes_no)
from .training.config import TrainConfig, precision_param


def task_names() -> tuple[str, ...]:
    from .tasks import task_names as registered  # imported on use: the registry imports every task module

    return registered()


def _pool(value: str) -> str:
    return str(PoolSpec.parse(value))


FEATURES = "SYN,PHON,INV,FAM,GEO,SIZE"
LOG_PREDICTIONS = "write predictions.jsonl (id, gold, prediction per scored example) (yes/no)"
SIZE_CORPUS = "SIZE corpus for models the default mapping does not know (or MODEL=CORPUS pairs)"


@dataclass
class Monitoring:
    # MLflow's own system metrics (system/cpu_utilization_percentage, system/gpu_0_utilization_percentage, ...)
    system_metrics: bool = param(False, yes_no, "log CPU, memory and GPU utilisation with each run (yes/no)")


@dataclass
class Data:
    data_dir: str = param("../shared/data", str, "data directory laid out as in docs/interface.md, or hub (NER, XNLI, "
                                                 "XQuAD from the Hugging Face hub)")
    bad_trees: str = param("error", str, "UD sentences whose heads are not a tree (two roots, a cycle, a word headed "
                           "by itself): error = stop naming file and line; skip = leave them out (logged, counted as "
                           "data.<split>.skipped_bad_trees)", ("error", "skip"))


@dataclass
class SourceModel:
    """What a source model is trained from: shared by `source` (one model) and `search` (one per trial)."""

    task: str = param(None, str, "task", task_names, required=True)
    model: str = param("bert-base-multilingual-cased", str, "Hugging Face encoder id or local directory")
    model_name: str = param("", str, "short name (slug) for run and registry names; default derived from model")
    model_revision: str = param("", str, "Hugging Face revision (branch, tag or commit) of the model")
    stand_in: str = param("auto", str, "use offline stand-ins for MultiNLI/SQuAD (docs/method.md §9)",
                          ("auto", "yes", "no"))


@dataclass
class Registration:
    register_as: str = param("", str, "registered model name (default z2h-<task>-<slug>)")
    alias: str = param("source", str, "registry alias set on the new model version")


@dataclass
class Evaluate:
    task: str = param(None, str, "task", task_names, required=True)
    model_uri: str = param(None, str, "models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/checkpoint or a local "
                                      "checkpoint dir", required=True)
    langs: str = param("all", str, "comma-separated target languages, or all")
    split: str = param("test", str, "split to score", ("test", "dev", "train"))
    max_eval_examples: int = param(0, nonneg_int, "score only the first N examples of each language (0 = all)")
    eval_batch_size: int = param(64, pos_int, "at most this many examples per batch at evaluation (on CPU "
                                             "also at most 1,024 padded tokens)")
    log_predictions: bool = param(False, yes_no, LOG_PREDICTIONS)
    precision: str = precision_param()


@dataclass
class Ingest:
    scores: str = param(None, str, "CSV with columns task, model, lang, k, sampling, seed, score", required=True)
    experiment: str = param("zero2hero", str, "experiment that receives one run per CSV row")


@dataclass
class Analysis:
    experiment: str = param("zero2hero", str, "experiment (name or id) whose runs are analysed")
    source_lang: str = param("en", str, "source language of the transfer")
    features: str = param(FEATURES, str, "language features to correlate and regress on")
    costs: str = param("", str, "YAML file overriding the annotation-cost settings (docs/method.md §6.4)")
    output_dir: str = param("analysis-output", str, "where the tables, plots and report.md are written")
    size_corpus: str = param("", str, SIZE_CORPUS)


@dataclass
class Budget:
    experiment: str = param("zero2hero", str, "experiment (name or id) whose zero-shot and few-shot results are used")
    task: str = param(None, str, "task", task_names, required=True)
    model: str = param("", str, "model as recorded in the runs (HF id, directory or ingested name) or its short name")
    lang: str = param(None, str, "target language: any ISO 639-1 or 639-3 code lang2vec knows (yo, kaz, de)",
                      required=True)
    target: float | None = param("", optional(finite), "score (percent) to reach: answers the k to annotate")
    budget_usd: float | None = param("", optional(pos_float), "dollars to spend on annotation: answers the k they buy")
    k: int | None = param("", optional(nonneg_int), "examples to annotate: answers the predicted score")
    sampling: str = param("random", str, "few-shot sampling whose curves are used")
    source_lang: str = param("en", str, "source language of the transfer")
    features: str = param(FEATURES, str, "features of the transfer predictor (languages without a zero-shot run)")
    costs: str = param("", str, "YAML file overriding the annotation-cost settings")
    size_corpus: str = param("", str, SIZE_CORPUS)
    size: float | None = param("", optional(pos_float), "raw pretraining-corpus size of lang, for SIZE when the "
                                                        "shipped table lacks it")


@dataclass
class FewShot:
    task: str = param(None, str, "task", task_names, required=True)
    model_uri: str = param(None, str, "source model: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model or a "
                                      "local checkpoint dir", required=True)
    lang: str = param(None, str, "target language (ISO 639-1)", required=True)
    k: int = param(None, nonneg_int, "number of shots (sentences; XQuAD: articles); 0 = zero-shot, no training",
                   required=True)
    sampling: str = param("random", str, "how shots are chosen (docs/method.md §4)", STRATEGIES)
    pool: str = param("auto", _pool, "auto = the task's pool (train, else dev); test:N = the first N test items, then "
                                     "not scored")
    log_checkpoint: bool = param(False, yes_no, "log the continued model as a pyfunc model of the run (yes/no; ~size "
                                                "of the encoder)")
    dev_curve: bool = param(True, yes_no, "score the target dev split after each epoch when it is not the pool "
                                          "(monitoring only)")
    log_predictions: bool = param(False, yes_no, LOG_PREDICTIONS)


@dataclass
class Search:
    sampler: str = param("grid", str, "grid = every lrs x epochs pair; tpe = Bayesian search within the bounds",
                         ("grid", "tpe"))
    lrs: tuple = param((5e-5, 3e-5), list_of(pos_float, "numbers > 0"), "learning rates of the grid (comma-separated)")
    epochs: tuple = param((2, 3), list_of(pos_int, "integers >= 1"), "epoch counts of the grid (comma-separated)")
    lr_min: float = param(1e-5, pos_float, "lowest learning rate for tpe (searched log-uniformly)")
    lr_max: float = param(3e-4, pos_float, "highest learning rate for tpe")
    epochs_min: int = param(1, pos_int, "fewest epochs for tpe")
    epochs_max: int = param(5, pos_int, "most epochs for tpe")
    n_trials: int = param(0, nonneg_int, "trials of this worker process (0 = grid: until the grid is done; tpe: 20)")
    storage: str = param("", str, "Optuna storage URL without a password (postgresql://... lets workers on many "
                         "machines share a study); empty = $Z2H_OPTUNA_STORAGE, else the file named by "
                         "$Z2H_OPTUNA_STORAGE_FILE, else sqlite:///optuna.db")
    study_name: str = param("", str, "Optuna study name (default derived from task, model, sampler and settings)")
    register: bool = param(False, yes_no, "train the best configuration as a source model and register it (yes/no)")


@dataclass
class Grid:
    plan: str = param(None, str, "study plan YAML file (docs/interface.md, 'Study plan')", required=True)
    shard: str = param("", shard, "I/N: run only the (task, model, language) units of shard I of N (1 <= I <= N); "
                                  "sources must exist (train them with only=sources)")
    only: str = param("all", str, "all, or sources: train/reuse the plan's source models and stop", ("all", "sources"))
    # executor overrides (the plan's `executor` section); unset = the plan's value
    executor: str = param("", str, "local or ray (default: the plan's executor.kind, else local)", ("", "local", "ray"))
    address: str = param("", str, "Ray cluster address (auto, ray://HOST:10001, HOST:6379); unset = start one")
    gpus_per_worker: str = param("", str, "GPUs per Ray worker (fractions share a GPU)")
    cpus_per_worker: str = param("", str, "CPUs (and torch threads) per Ray worker")
    workers: str = param("", str, "workers of a Ray instance started for the run (0 = one per CPU)")
    max_retries: str = param("", str, "restarts of a unit whose Ray worker died")


TRAINING = params_of(TrainConfig)
MONITORING = params_of(Monitoring)
COMMON_DATA = params_of(Data)
SOURCE_MODEL = [*params_of(SourceModel), *COMMON_DATA]
REGISTRATION = params_of(Registration)


def _training_without(*names: str) -> list[Param]:
    return params_of(TrainConfig, without=names)


ENTRY_POINTS: dict[str, list[Param]] = {
    "source": [*SOURCE_MODEL, *REGISTRATION, *TRAINING, *MONITORING],
    "evaluate": [*params_of(Evaluate), *COMMON_DATA, *MONITORING],
    "ingest": params_of(Ingest),
    "analysis": params_of(Analysis),
    "budget": params_of(Budget),
    # the shots are the training data, so there is no max_train_examples
    "few_shot": [*params_of(FewShot), *COMMON_DATA, *_training_without("max_train_examples"), *MONITORING],
    "search": [*SOURCE_MODEL, *params_of(Search), *REGISTRATION, *_training_without("lr", "epochs"), *MONITORING],
    "grid": params_of(Grid),
}


@dataclass
class Params:
    """Parsed parameters of one entry point; `given` names those set explicitly by the user."""

    entry: str
    values: dict[str, Any]
    given: set[str] = field(default_factory=set)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None


def params_for(entry: str) -> list[Param]:
    try:
        return ENTRY_POINTS[entry]
    except KeyError:
        raise Z2HError(f"unknown entry point {entry!r}; valid: {', '.join(ENTRY_POINTS)}") from None


def parse_params(entry: str, argv: list[str]) -> Params:
    """Parse `--name value` flags of an entry point; errors name the parameter and what was expected."""
    specs = {p.name: p for p in params_for(entry)}
    raw: dict[str, str] = {}
    items = list(argv)
    while items:
        flag = items.pop(0)
        if not flag.startswith("--"):
            raise Z2HError(f"{entry}: expected --name value, got {flag!r}")
        name, _, inline = flag[2:].partition("=")
        if name not in specs:
            raise Z2HError(f"{entry}: unknown parameter {name!r}; valid: {', '.join(specs)}")
        if inline == "" and "=" not in flag:
            if not items:
                raise Z2HError(f"{entry}: parameter {name!r} needs a value")
            inline = items.pop(0)
        raw[name] = inline
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        if name not in raw:
            if spec.required:
                raise Z2HError(f"{entry}: parameter {name!r} is required ({spec.help})")
            values[name] = spec.default
            continue
        text = raw[name]
        choices = spec.valid_choices()
        if choices and text not in choices:
            raise Z2HError(f"{entry}: {name}={text!r} is not valid; choose one of: {', '.join(choices)}")
        try:
            values[name] = spec.parse(text)
        except ValueError as exc:
            raise Z2HError(f"{entry}: {name}={text!r} is not valid: {exc}") from None
    return Params(entry, values, set(raw))


def build_help(entry: str) -> argparse.ArgumentParser:
    """An argparse parser used only to print `--help` (parsing itself is `parse_params`)."""
    parser = argparse.ArgumentParser(prog=f"z2h {entry}")
    for spec in params_for(entry):
        default = "required" if spec.required else "task default" if spec.default is None else spec.default
        choices = f" [{'|'.join(spec.valid_choices())}]" if spec.valid_choices() else ""
        parser.add_argument(f"--{spec.name}", help=f"{spec.help}{choices} (default: {default})")
    return parser
