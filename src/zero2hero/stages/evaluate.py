"""`evaluate`: score a trained model on target languages, one nested run per language (k = 0)."""
from __future__ import annotations

import logging

import mlflow

from ..checkpoint import load_checkpoint
from ..config import Params
from ..data.splits import Split, load_split
from ..errors import Z2HError
from ..languages import KNOWN_LANGS
from ..modeling.encoder import model_slug
from ..tasks import get_task
from ..tracking.registry import resolve_model
from ..tracking.queries import config_tags
from ..tracking.runs import log_params, run_name, stage_run
from ..tracking.server import check_tracking_server
from ..training.config import pick_device, precision_record
from .common import log_splits, score_split

log = logging.getLogger(__name__)


def resolve_langs(task, data_dir: str, langs: str, split: str) -> list[str]:
    """`all` = the study's targets with data; otherwise every listed language must have the split on disk."""
    with_data = [lang for lang in sorted(KNOWN_LANGS) if task.has_split(data_dir, lang, split)]
    if langs.strip() == "all":
        chosen = [lang for lang in task.targets if lang in with_data]
        if not chosen:
            raise Z2HError(f"no {task.name} {split} data for any target language under {data_dir}")
        return chosen
    chosen = [lang.strip() for lang in langs.split(",") if lang.strip()]
    for lang in chosen:
        if lang not in KNOWN_LANGS:
            raise Z2HError(f"unknown language {lang!r}; valid ISO 639-1 codes: {', '.join(KNOWN_LANGS)}")
        if lang not in with_data:
            task.file_for(data_dir, lang, split)  # raises with the expected file name
    if not chosen:
        raise Z2HError("langs is empty; give a comma-separated list such as it,tr or all")
    return chosen


def load_model(model_uri: str, task=None):
    """(model, tokenizer, ResolvedModel) for any accepted model URI, moved to the compute device.

    With `task`, a model trained for another task is an error.
    """
    resolved = resolve_model(model_uri)
    model, tokenizer = load_checkpoint(resolved.checkpoint_dir)
    if task is not None and model.meta.task != task.name:
        raise Z2HError(f"model {model_uri} was trained for task {model.meta.task!r}, not {task.name!r}")
    model.to(pick_device())
    return model, tokenizer, resolved


def lineage_tags(resolved) -> dict[str, str]:
    """Tags that link a run to the model it started from (shown in the MLflow UI)."""
    tags = {"z2h.model_uri": resolved.uri, "z2h.checkpoint": resolved.checkpoint or resolved.uri}
    if resolved.source_run_id:
        tags["z2h.source_run_id"] = resolved.source_run_id
    if resolved.version:
        tags["z2h.model_version"] = f"{resolved.registered_name}/{resolved.version}"
    return tags


def evaluate_params(task, model, model_uri: str, split: Split, max_eval_examples: int, precision: str = "auto") -> dict:
    """The params of one zero-shot (k = 0) run (docs/interface.md, "What every run records")."""
    return {"task": task.name, "model": model.meta.model, "model_name": model_slug(model.meta.model, model.meta.model_name),
            "model_uri": model_uri, "lang": split.lang, "k": 0, "split": split.name,
            "max_eval_examples": max_eval_examples, **precision_record(precision)}


def evaluate_language(task, model, tokenizer, model_uri: str, tags: dict, split: Split, max_eval_examples: int,
                      eval_batch_size: int, extra_params: dict | None = None, experiment: str | None = None,
                      log_predictions: bool = False, system_metrics: bool = False,
                      precision: str = "auto") -> tuple[str, float]:
    """Score a loaded model on one language's split in a nested `evaluate` run; returns (run id, score).

    Used per language by the `evaluate` entry point and per zero-shot cell by `grid` (model and data loaded once).
    """
    params = {**evaluate_params(task, model, model_uri, split, max_eval_examples, precision), **(extra_params or {})}
    name = run_name("evaluate", task.name, params["model_name"], split.lang, k=0)
    with stage_run("evaluate", name, tags={**tags, **split.tags, **config_tags(params)}, nested=True,
                   experiment=experiment, system_metrics=system_metrics) as run:
        log_params(params)
        log_splits(split)
        score = score_split(model, task, tokenizer, split, eval_batch_size, log_predictions=log_predictions,
                            precision=precision)["score"]
        print(f"evaluate {task.name} {params['model_name']} {split.lang}: {task.score_metric} {score:.2f}")
    return run.info.run_id, score


def run_evaluate(params: Params) -> str:
    task = get_task(params.task, params.bad_trees)
    check_tracking_server()
    langs = resolve_langs(task, params.data_dir, params.langs, params.split)
    model, tokenizer, resolved = load_model(params.model_uri, task)
    slug = model_slug(model.meta.model, model.meta.model_name)
    tags = lineage_tags(resolved)
    with stage_run("evaluate", run_name("evaluate", task.name, slug), tags=tags) as parent:
        log_params({"task": task.name, "model": model.meta.model, "model_uri": params.model_uri,
                    "langs": ",".join(langs), "split": params.split, "max_eval_examples": params.max_eval_examples,
                    **precision_record(params.precision)})
        scores = {}
        for lang in langs:
            split = load_split(task, params.data_dir, lang, params.split, params.max_eval_examples)
            _, scores[lang] = evaluate_language(task, model, tokenizer, params.model_uri, tags, split,
                                                params.max_eval_examples, params.eval_batch_size,
                                                log_predictions=params.log_predictions,
                                                system_metrics=params.system_metrics, precision=params.precision)
        mlflow.log_metrics({f"score_{lang}": value for lang, value in scores.items()})
        return parent.info.run_id
