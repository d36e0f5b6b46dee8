"""`source`: fine-tune on English, pick the best epoch on English dev, score English test, register."""
from __future__ import annotations

import logging

import mlflow

from ..config import Params
from ..languages import SOURCE_LANG
from ..modeling.encoder import model_slug
from ..tasks import get_task
from ..tracking.registry import registered_name
from ..tracking.runs import MlflowTrainingLogger, log_params, run_name, stage_run
from ..tracking.server import check_tracking_server
from ..training.config import TrainConfig
from ..training.loop import seed_everything, train
from .common import build_model, dev_scorer, features_of, log_model, log_scores, log_splits, score_split

log = logging.getLogger(__name__)


def load_source_splits(task, params: Params, config: TrainConfig):
    """English train/dev/test as the task defines them (`Task.source_splits`)."""
    return task.source_splits(params.data_dir, params.stand_in, config)


def train_source(task, params: Params, config: TrainConfig, callbacks=()):
    """Train a source model in the active run; returns (model, tokenizer, TrainResult, splits)."""
    train_split, dev_split, test_split = load_source_splits(task, params, config)
    log_splits(train_split, dev_split, test_split)
    for key, value in train_split.tags.items():
        mlflow.set_tag(key, value)
    seed_everything(config.seed)  # the new head's initialisation too, so equal settings give equal models
    model, tokenizer = build_model(task, params.model, params.model_revision, task.label_vocabs(train_split.examples),
                                   config.max_length, model_slug(params.model, params.model_name), config.seed)
    train_features = features_of(task, train_split, tokenizer, model.meta, training=True)
    dev_score = dev_scorer(task, dev_split, tokenizer, model.meta, config.eval_batch_size, config.precision)
    result = train(model, task, tokenizer, train_features, config, dev_score,
                   [MlflowTrainingLogger(), *callbacks])
    return model, tokenizer, result, (train_split, dev_split, test_split)


def source_run_params(task, params: Params, config: TrainConfig) -> dict:
    """The params that define a source model; a FINISHED run with the same ones can be reused (grid)."""
    slug = model_slug(params.model, params.model_name)
    return {"task": task.name, "model": params.model, "model_name": slug, "lang": SOURCE_LANG, "k": 0,
            "data_dir": params.data_dir, **config.as_params()}


def registered_uri(run) -> str | None:
    """`models:/NAME/VERSION` of the model a finished source run registered (None if it registered none)."""
    registered = run.data.tags.get("z2h.registered_model")
    return f"models:/{registered}" if registered else None


def run_source(params: Params, nested: bool = False, experiment: str | None = None) -> str:
    """The `source` entry point (also a nested run of `search` and `grid`); returns the run id."""
    task = get_task(params.task, params.bad_trees)
    config = TrainConfig.resolve(task.defaults, params.values)
    check_tracking_server()
    slug = model_slug(params.model, params.model_name)
    name = params.register_as or registered_name(task.name, slug)
    with stage_run("source", run_name("source", task.name, slug, SOURCE_LANG, seed=config.seed),
                   nested=nested, experiment=experiment, system_metrics=params.system_metrics) as run:
        log_params(source_run_params(task, params, config))
        model, tokenizer, result, (_, _, test_split) = train_source(task, params, config)
        log_params({"best_epoch": result.best_epoch})
        metrics = score_split(model, task, tokenizer, test_split, config.eval_batch_size, log=False,
                              precision=config.precision)
        model_uri, version, model_id = log_model(
            model, tokenizer, register_as=name, alias=params.alias,
            tags={"task": task.name, "model": params.model, "score": f"{metrics['score']:.2f}"},
        )
        log_scores(metrics, test_split, model_id)  # on the run and on the logged model (the Models view ranks them)
        mlflow.set_tags({"z2h.registered_model": f"{name}/{version}", "z2h.model_uri": model_uri})
        print(f"source {task.name} {slug}: en test {task.score_metric} {metrics['score']:.2f}; "
              f"registered models:/{name}@{params.alias} (version {version})")
        return run.info.run_id
