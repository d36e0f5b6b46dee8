"""Pieces every stage shares: building a model, data loading with logged provenance, scoring a split."""
from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path

import mlflow

from ..data.cache import cached_features
from ..data.splits import Split
from ..errors import Z2HError
from ..modeling.meta import ModelMeta
from ..modeling.model import TaskModel
from ..tracking.datasets import SplitDataset, log_split_inputs
from ..tracking.registry import log_checkpoint_model
from ..tracking.runs import log_metrics, log_params
from ..training.evaluator import evaluate, predict_examples

log = logging.getLogger(__name__)

PREDICTIONS_FILE = "predictions.jsonl"


def build_model(task, model_id: str, revision: str | None, labels: dict, max_length: int, model_name: str = "",
                seed: int = 1):
    """A fresh TaskModel (pretrained encoder + new head, initialised from `seed`) and its tokenizer."""
    from ..modeling.encoder import load_encoder, load_tokenizer
    from ..training.loop import seed_everything

    seed_everything(seed)
    tokenizer = load_tokenizer(model_id, revision or None)
    encoder = load_encoder(model_id, revision or None)
    max_length = min(max_length, getattr(encoder.config, "max_position_embeddings", max_length) or max_length)
    meta = ModelMeta(task=task.name, model=model_id, labels=labels, max_length=max_length, model_name=model_name)
    return TaskModel(encoder, task.build_head(encoder.config.hidden_size, meta), meta), tokenizer


def features_of(task, split: Split, tokenizer, meta, training: bool) -> list[dict]:
    return cached_features(task, split.examples, tokenizer, meta, split.content_key, training)


def dev_scorer(task, split: Split, tokenizer, meta, batch_size: int, precision: str = "auto"):
    """A `dev_score(model)` function for the training loop (features encoded once)."""
    features = features_of(task, split, tokenizer, meta, training=False)

    def score(model) -> float:
        metrics = evaluate(model, task, tokenizer, split.examples, batch_size, features, precision=precision)
        return metrics[task.selection_metric or task.score_metric]

    return score


def score_split(model, task, tokenizer, split: Split, batch_size: int, log: bool = True,
                log_predictions: bool = False, precision: str = "auto") -> dict[str, float]:
    """Evaluate on a labelled split; log its metrics plus `score` (the task's headline metric) with `log_scores`,
    and with `log_predictions` the per-example record `predictions.jsonl`."""
    features = features_of(task, split, tokenizer, model.meta, training=False)
    predictions = predict_examples(model, task, tokenizer, split.examples, batch_size, features, progress=True,
                                   precision=precision)
    metrics = task.score(split.examples, predictions)
    broken = {name: value for name, value in metrics.items() if not math.isfinite(value)}
    if broken:
        raise Z2HError(f"{split.lang} {split.name} ({split.source}): non-finite metric(s) "
                       f"{', '.join(f'{name}={value}' for name, value in broken.items())}; the model is broken")
    metrics["score"] = metrics[task.score_metric]
    if log:
        log_scores(metrics, split)
    if log_predictions:
        mlflow.log_text(predictions_jsonl(task, split.examples, predictions), PREDICTIONS_FILE)
        mlflow.set_tag("z2h.predictions", PREDICTIONS_FILE)
    return metrics


def predictions_jsonl(task, examples: list, predictions: list) -> str:
    """One JSON line per scored example: `id`, `gold` and `prediction` (in the pyfunc output columns), and
    `correct`/`total` of the headline metric, so that `score` = 100 * sum(correct) / sum(total)."""
    rows = task.frame_from_predictions(predictions).to_dict("records")
    lines = []
    for example, prediction, row in zip(examples, predictions, rows):
        correct, total = task.score_counts(example, prediction)
        record = {"id": example.id, "gold": task.gold_of(example), "prediction": row, "correct": correct, "total": total}
        lines.append(json.dumps(record, ensure_ascii=False, default=_plain) + "\n")
    return "".join(lines)


def _plain(value):
    """numpy scalars and arrays of the pyfunc frame as JSON numbers and lists."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def log_scores(metrics: dict[str, float], split: Split, model_id: str | None = None) -> None:
    """Log a split's metrics on the active run, tied to the split's dataset and, with `model_id`, to that logged
    model: the Models view shows them and `mlflow.search_logged_models` filters on them."""
    log_metrics(metrics, model_id=model_id, dataset=SplitDataset(split))


def log_splits(*splits: Split) -> None:
    """Data provenance: file, content hash and example count of every split used, as `data.*` params (the grid
    compares them to reuse runs) and as the run's MLflow dataset inputs."""
    params = {}
    for split in splits:
        params.update(split.log_params())
    log_params(params)
    log_split_inputs(*splits)


def log_model(model, tokenizer, **registration):
    """Save the checkpoint to a temporary directory, log it as the run's pyfunc model with its task's signature and
    input example (see `log_checkpoint_model` for `register_as`, `alias`, `tags`), then delete the local copy.
    Returns (model_uri, version or None, the logged model's id)."""
    from ..tasks import get_task
    from ..tracking.pyfunc import input_example_of, signature_of

    task = get_task(model.meta.task)
    with tempfile.TemporaryDirectory(prefix="z2h-ckpt-") as tmp:
        model_uri, version = log_checkpoint_model(model.save(Path(tmp) / "checkpoint", tokenizer), **registration,
                                                  signature=signature_of(task), input_example=input_example_of(task))
    return model_uri, version, mlflow.last_logged_model().model_id
