"""Entry-point parameters: one table of names, types, defaults and help, shared by `z2h` and MLproject.

Every entry point accepts `--name value` flags whose names are the parameter names of INTERFACE.md.
Values arrive as strings (MLproject does not check types), so they are parsed and validated here.
Training parameters left unset take the task's defaults (SPEC §3) when the stage resolves them.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .data.fewshot import STRATEGIES, PoolSpec
from .errors import Z2HError

TASK_NAMES = ("pos", "dep", "ner", "xnli", "xquad")


def _bool(value: str) -> bool:
    lowered = str(value).strip().lower()
    if lowered in ("yes", "true", "1", "y"):
        return True
    if lowered in ("no", "false", "0", "n", ""):
        return False
    raise ValueError("expected yes or no")


def _list(value: str) -> list[str]:
    return [item.strip() for item in str(value).split(",") if item.strip()]


def _finite(value: str) -> float:
    """A float that is a real number: inf and nan parse as floats but would poison training."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _at_least(parse: Callable[[str], Any], minimum, what: str, strict: bool = False) -> Callable[[str], Any]:
    """A parser that also checks `value >= minimum` (`>` with strict); the error says what was expected."""
    def check(value: str):
        number = parse(value)
        if number < minimum or (strict and number == minimum):
            raise ValueError(f"expected {what} {'>' if strict else '>='} {minimum}")
        return number

    return check


_nonneg_int = _at_least(int, 0, "an integer")
_pos_int = _at_least(int, 1, "an integer")
_pos_float = _at_least(_finite, 0, "a finite number", strict=True)
_nonneg_float = _at_least(_finite, 0, "a finite number")


def _pos_float_list(value: str) -> list[float]:
    numbers = [_pos_float(item) for item in _list(value)]
    if not numbers:
        raise ValueError("expected a comma-separated list of numbers > 0")
    return numbers


def _pos_int_list(value: str) -> list[int]:
    numbers = [_pos_int(item) for item in _list(value)]
    if not numbers:
        raise ValueError("expected a comma-separated list of integers >= 1")
    return numbers


def _shard(value: str) -> str:
    """`I/N` with 1 <= I <= N, or empty for every unit."""
    text = str(value).strip()
    if not text:
        return ""
    index, sep, count = text.partition("/")
    if not (sep and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise ValueError("expected I/N with 1 <= I <= N, e.g. 2/8")
    return f"{int(index)}/{int(count)}"


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An optional value: empty = not given (None); MLproject passes unset parameters as ""."""
    return lambda value: None if str(value).strip() == "" else parse(value)


def _pool(value: str) -> str:
    return str(PoolSpec.parse(value))


def _ratio(value: str) -> float:
    number = _finite(value)
    if not 0 <= number < 1:
        raise ValueError("expected a number in [0, 1)")
    return number


@dataclass(frozen=True)
class Param:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    choices: tuple = ()


def _p(name, parse, default, help, choices=()):
    return Param(name, parse, default, help, tuple(choices))


# Training parameters shared by source, few_shot and search. None = the task's default (SPEC §3).
TRAINING = [
    _p("lr", _pos_float, None, "peak learning rate (task default: SPEC §3)"),
    _p("epochs", _pos_int, None, "training epochs (task default: SPEC §3)"),
    _p("batch_size", _pos_int, None, "examples per optimiser step (task default: SPEC §3)"),
    _p("max_length", _pos_int, None, "maximum subwords per input (task default: 512 word-level, 128 XNLI, 384 XQuAD)"),
    _p("seed", int, 1, "random seed (sampling, initialisation, batch order)"),
    _p("max_train_examples", _nonneg_int, 0, "use only the first N training examples (0 = all)"),
    _p("max_eval_examples", _nonneg_int, 0, "score only the first N examples of every evaluation split (0 = all)"),
    _p("warmup_ratio", _ratio, 0.0, "share of steps with linear learning-rate warm-up"),
    _p("linear_decay", _bool, False, "decay the learning rate linearly to 0 (yes/no)"),
    _p("weight_decay", _nonneg_float, 0.0, "AdamW weight decay (0 = Adam as in the study)"),
    _p("grad_accum", _pos_int, 1, "split each batch into this many micro-batches (same effective batch)"),
    _p("freeze_embeddings", _bool, False, "keep the embedding matrix fixed (much faster optimiser steps on CPU)"),
    _p("eval_batch_size", _pos_int, 64, "examples per batch at evaluation"),
]

# MLflow's own system metrics (system/cpu_utilization_percentage, system/gpu_0_utilization_percentage, ...)
MONITORING = [_p("system_metrics", _bool, False, "log CPU, memory and GPU utilisation with each run (yes/no)")]


def _training_without(*names: str) -> list[Param]:
    return [param for param in TRAINING if param.name not in names]


COMMON_DATA = [
    _p("data_dir", str, "../shared/data", "data directory laid out as in INTERFACE.md, or hub (NER, XNLI, XQuAD from the Hugging Face hub)"),
    _p("bad_trees", str, "error", "UD sentences whose heads are not a tree (two roots, a cycle, a word headed by "
       "itself): error = stop naming file and line; skip = leave them out (logged, counted as data.<split>.skipped_bad_trees)",
       ("error", "skip")),
]

# What a source model is trained from: shared by `source` (one model) and `search` (one per trial).
SOURCE_MODEL = [
    _p("task", str, None, "task", TASK_NAMES),
    _p("model", str, "bert-base-multilingual-cased", "Hugging Face encoder id or local directory"),
    _p("model_name", str, "", "short name (slug) for run and registry names; default derived from model"),
    _p("model_revision", str, "", "Hugging Face revision (branch, tag or commit) of the model"),
    *COMMON_DATA,
    _p("stand_in", str, "auto", "use offline stand-ins for MultiNLI/SQuAD (SPEC §9)", ("auto", "yes", "no")),
]

REGISTRATION = [
    _p("register_as", str, "", "registered model name (default z2h-<task>-<slug>)"),
    _p("alias", str, "source", "registry alias set on the new model version"),
]

ENTRY_POINTS: dict[str, list[Param]] = {
    "source": [*SOURCE_MODEL, *REGISTRATION, *TRAINING, *MONITORING],
    "evaluate": [
        _p("task", str, None, "task", TASK_NAMES),
        _p("model_uri", str, None, "models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/checkpoint or a local checkpoint dir"),
        _p("langs", str, "all", "comma-separated target languages, or all"),
        *COMMON_DATA,
        _p("split", str, "test", "split to score", ("test", "dev", "train")),
        _p("max_eval_examples", _nonneg_int, 0, "score only the first N examples of each language (0 = all)"),
        _p("eval_batch_size", _pos_int, 64, "examples per batch at evaluation"),
        _p("log_predictions", _bool, False, "write predictions.jsonl (id, gold, prediction per scored example) (yes/no)"),
        *MONITORING,
    ],
    "ingest": [
        _p("scores", str, None, "CSV with columns task, model, lang, k, sampling, seed, score"),
        _p("experiment", str, "zero2hero", "experiment that receives one run per CSV row"),
    ],
    "analysis": [
        _p("experiment", str, "zero2hero", "experiment (name or id) whose runs are analysed"),
        _p("source_lang", str, "en", "source language of the transfer"),
        _p("features", str, "SYN,PHON,INV,FAM,GEO,SIZE", "language features to correlate and regress on"),
        _p("costs", str, "", "YAML file overriding the annotation-cost settings (SPEC §6.4)"),
        _p("output_dir", str, "analysis-output", "where the tables, plots and report.md are written"),
        _p("size_corpus", str, "", "SIZE corpus for models the default mapping does not know (or MODEL=CORPUS pairs)"),
    ],
    "budget": [
        _p("experiment", str, "zero2hero", "experiment (name or id) whose zero-shot and few-shot results are used"),
        _p("task", str, None, "task"),
        _p("model", str, "", "model as recorded in the runs (HF id, directory or ingested name) or its short name"),
        _p("lang", str, None, "target language: any ISO 639-1 or 639-3 code lang2vec knows (yo, kaz, de)"),
        _p("target", _optional(float), "", "score (percent) to reach: answers the k to annotate"),
        _p("budget_usd", _optional(_pos_float), "", "dollars to spend on annotation: answers the k they buy"),
        _p("k", _optional(_nonneg_int), "", "examples to annotate: answers the predicted score"),
        _p("sampling", str, "random", "few-shot sampling whose curves are used"),
        _p("source_lang", str, "en", "source language of the transfer"),
        _p("features", str, "SYN,PHON,INV,FAM,GEO,SIZE", "features of the transfer predictor (languages without a zero-shot run)"),
        _p("costs", str, "", "YAML file overriding the annotation-cost settings"),
        _p("size_corpus", str, "", "SIZE corpus for models the default mapping does not know (or MODEL=CORPUS pairs)"),
        _p("size", _optional(_pos_float), "", "raw pretraining-corpus size of lang, for SIZE when the shipped table lacks it"),
    ],
    "few_shot": [
        _p("task", str, None, "task", TASK_NAMES),
        _p("model_uri", str, None, "source model: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model or a local checkpoint dir"),
        _p("lang", str, None, "target language (ISO 639-1)"),
        _p("k", _nonneg_int, None, "number of shots (sentences; XQuAD: articles); 0 = zero-shot, no training"),
        _p("sampling", str, "random", "how shots are chosen (SPEC §4)", STRATEGIES),
        _p("pool", _pool, "auto", "auto = the task's pool (train, else dev); test:N = the first N test items, then not scored"),
        *COMMON_DATA,
        _p("log_checkpoint", _bool, False, "log the continued model as a pyfunc model of the run (yes/no; ~size of the encoder)"),
        _p("dev_curve", _bool, True, "score the target dev split after each epoch when it is not the pool (monitoring only)"),
        _p("log_predictions", _bool, False, "write predictions.jsonl (id, gold, prediction per scored example) (yes/no)"),
        # the shots are the training data, so there is no max_train_examples
        *_training_without("max_train_examples"),
        *MONITORING,
    ],
    "search": [
        *SOURCE_MODEL,
        _p("sampler", str, "grid", "grid = every lrs x epochs pair; tpe = Bayesian search within the bounds", ("grid", "tpe")),
        _p("lrs", _pos_float_list, [5e-5, 3e-5], "learning rates of the grid (comma-separated)"),
        _p("epochs", _pos_int_list, [2, 3], "epoch counts of the grid (comma-separated)"),
        _p("lr_min", _pos_float, 1e-5, "lowest learning rate for tpe (searched log-uniformly)"),
        _p("lr_max", _pos_float, 3e-4, "highest learning rate for tpe"),
        _p("epochs_min", _pos_int, 1, "fewest epochs for tpe"),
        _p("epochs_max", _pos_int, 5, "most epochs for tpe"),
        _p("n_trials", _nonneg_int, 0, "trials of this worker process (0 = grid: until the grid is done; tpe: 20)"),
        _p("storage", str, "", "Optuna storage URL without a password (postgresql://... lets workers on many machines "
           "share a study); empty = $Z2H_OPTUNA_STORAGE, else the file named by $Z2H_OPTUNA_STORAGE_FILE, else "
           "sqlite:///optuna.db"),
        _p("study_name", str, "", "Optuna study name (default derived from task, model, sampler and settings)"),
        _p("register", _bool, False, "train the best configuration as a source model and register it (yes/no)"),
        *REGISTRATION,
        *_training_without("lr", "epochs"),
        *MONITORING,
    ],
    "grid": [
        _p("plan", str, None, "study plan YAML file (INTERFACE.md)"),
        _p("shard", _shard, "", "I/N: run only the (task, model, language) units of shard I of N (1 <= I <= N); "
                                "sources must exist (train them with only=sources)"),
        _p("only", str, "all", "all, or sources: train/reuse the plan's source models and stop", ("all", "sources")),
        # executor overrides (the plan's `executor` section); unset = the plan's value
        _p("executor", str, "", "local or ray (default: the plan's executor.kind, else local)", ("", "local", "ray")),
        _p("address", str, "", "Ray cluster address (auto, ray://HOST:10001, HOST:6379); unset = start one"),
        _p("gpus_per_worker", str, "", "GPUs per Ray worker (fractions share a GPU)"),
        _p("cpus_per_worker", str, "", "CPUs (and torch threads) per Ray worker"),
        _p("workers", str, "", "workers of a Ray instance started for the run (0 = one per CPU)"),
        _p("max_retries", str, "", "restarts of a unit whose Ray worker died"),
    ],
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
            if spec.default is None and name in ("task", "model_uri", "lang", "k", "plan", "scores"):
                raise Z2HError(f"{entry}: parameter {name!r} is required ({spec.help})")
            values[name] = spec.default
            continue
        text = raw[name]
        if spec.choices and text not in spec.choices:
            raise Z2HError(f"{entry}: {name}={text!r} is not valid; choose one of: {', '.join(spec.choices)}")
        try:
            values[name] = spec.parse(text)
        except ValueError as exc:
            raise Z2HError(f"{entry}: {name}={text!r} is not valid: {exc}") from None
    return Params(entry, values, set(raw))


def build_help(entry: str) -> argparse.ArgumentParser:
    """An argparse parser used only to print `--help` (parsing itself is `parse_params`)."""
    parser = argparse.ArgumentParser(prog=f"z2h {entry}")
    for spec in params_for(entry):
        default = "task default" if spec.default is None else spec.default
        choices = f" [{'|'.join(spec.choices)}]" if spec.choices else ""
        parser.add_argument(f"--{spec.name}", help=f"{spec.help}{choices} (default: {default})")
    return parser
