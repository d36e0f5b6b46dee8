"""`few_shot`: continue training a source model on k target-language shots, then score the target test split.

k = 0 is zero-shot: the same run schema, no training. The entry point and `grid` share `few_shot_run`, which
takes an already-loaded source model and target data, so the grid loads each once for many cells.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import mlflow

from ..config import Params
from ..data.fewshot import PoolSpec, TargetData, check_sampling, sample_few_shot
from ..errors import Z2HError
from ..modeling.encoder import model_slug
from ..tasks import get_task
from ..tracking.queries import config_tags
from ..tracking.runs import MlflowTrainingLogger, log_metrics, log_params, run_name, stage_run, writing_artifacts
from ..tracking.server import check_tracking_server
from ..training.callbacks import Callback
from ..training.config import TrainConfig
from ..training.loop import train
from .common import dev_scorer, features_of, log_model, log_scores, log_splits, score_split
from .evaluate import lineage_tags, load_model, resolve_langs

log = logging.getLogger(__name__)

SHOTS_FILE = "shots.jsonl"
# tag: the total `n_tokens` of the run's shots.jsonl, so the analysis prices annotation without downloading it
SHOTS_TOKENS_TAG = "z2h.shots_tokens"


@dataclass
class SourceModel:
    """A source model loaded once; every few-shot run trains a copy of it."""

    model: object
    tokenizer: object
    resolved: object  # tracking.registry.ResolvedModel
    uri: str

    @property
    def slug(self) -> str:
        return model_slug(self.model.meta.model, self.model.meta.model_name)


def load_source(task, model_uri: str) -> SourceModel:
    model, tokenizer, resolved = load_model(model_uri, task)
    return SourceModel(model, tokenizer, resolved, model_uri)


def few_shot_config(task, source: SourceModel, params: Params) -> TrainConfig:
    """The task's few-shot defaults under the given params; max_length defaults to the source model's."""
    config = TrainConfig.resolve(task.few_shot_defaults, params.values)
    limit = source.model.meta.max_length
    if params.max_length is None:
        config.max_length = limit
    elif params.max_length > limit:
        raise Z2HError(f"max_length={params.max_length} exceeds the source model's max_length {limit}")
    return config


def few_shot_params(task, source: SourceModel, params: Params, config: TrainConfig) -> dict:
    """The params of a few_shot run; a FINISHED run with the same ones is the same result (grid skips it)."""
    training = {key: value for key, value in config.as_params().items() if key != "max_train_examples"}
    return {"task": task.name, "model": source.model.meta.model, "model_name": source.slug, "model_uri": source.uri,
            "lang": params.lang, "k": params.k, "sampling": params.sampling, "pool": params.pool,
            "data_dir": params.data_dir, "log_checkpoint": params.log_checkpoint, "dev_curve": params.dev_curve,
            # only when asked for, so the grid reuses runs of before this option unless predictions are wanted
            **({"log_predictions": True} if params.log_predictions else {}), **training}


class DevCurve(Callback):
    """Logs `dev_score` on the target dev split after each epoch. Monitoring only: few-shot training keeps
    its last epoch, since choosing an epoch on a large target dev set would not be few-shot any more."""

    def __init__(self, model, score):
        self.model, self.score = model, score

    def on_epoch_end(self, epoch, dev_score, train_loss):
        log_metrics({"dev_score": self.score(self.model)}, step=epoch)


def _continue_training(task, source: SourceModel, target: TargetData, sample, config: TrainConfig, dev_curve: bool):
    """The model to score: the source model itself (k = 0, same max_length) or a trained copy."""
    if sample is None and config.max_length == source.model.meta.max_length:
        return source.model
    model = copy.deepcopy(source.model)  # the grid reuses the loaded source model for every cell
    model.meta.max_length = config.max_length
    if sample is None:
        return model
    features = features_of(task, sample.split, source.tokenizer, model.meta, training=True)
    callbacks = [MlflowTrainingLogger()]
    if dev_curve and target.dev is not None:
        score = dev_scorer(task, target.dev, source.tokenizer, model.meta, config.eval_batch_size, config.precision)
        callbacks.append(DevCurve(model, score))
    train(model, task, source.tokenizer, features, config, None, callbacks)
    return model


def few_shot_run(task, source: SourceModel, target: TargetData, params: Params, nested: bool = False,
                 experiment: str | None = None) -> tuple[str, dict]:
    """One few-shot run (k = 0: zero-shot) from loaded objects; returns (run id, metrics).

    The shots are drawn before the run starts, so a language without a pool fails without leaving a run behind.
    """
    check_sampling(task, params.sampling)
    config = few_shot_config(task, source, params)
    sample = None
    if params.k:
        sample = sample_few_shot(task, target.pool, params.k, params.sampling, config.seed, target.pool_spec,
                                 source.tokenizer)
    run_params = few_shot_params(task, source, params, config)
    tags = {**lineage_tags(source.resolved), **target.test.tags, "z2h.shots": SHOTS_FILE,
            SHOTS_TOKENS_TAG: str(sum(shot.n_tokens for shot in sample.shots) if sample else 0),
            **config_tags(run_params)}
    name = run_name("few_shot", task.name, source.slug, params.lang, params.k, params.sampling, config.seed)
    with stage_run("few_shot", name, tags=tags, nested=nested, experiment=experiment,
                   system_metrics=params.system_metrics) as run:
        log_params(run_params)
        log_splits(*((target.pool, sample.split) if sample else ()), target.test)
        with writing_artifacts(f"the shots ({SHOTS_FILE})"):
            mlflow.log_text(sample.jsonl() if sample else "", SHOTS_FILE)
        model = _continue_training(task, source, target, sample, config, params.dev_curve)
        metrics = score_split(model, task, source.tokenizer, target.test, config.eval_batch_size,
                              log=not params.log_checkpoint, log_predictions=params.log_predictions,
                              precision=config.precision)
        if params.log_checkpoint:  # the scores go onto the logged model as well
            log_scores(metrics, target.test, log_model(model, source.tokenizer)[2])
        print(f"few_shot {task.name} {source.slug} {params.lang} k={params.k} {params.sampling} s{config.seed}: "
              f"{task.score_metric} {metrics['score']:.2f}")
    return run.info.run_id, metrics


def run_few_shot(params: Params) -> str:
    """The `few_shot` entry point; returns the run id."""
    task = get_task(params.task, params.bad_trees)
    check_sampling(task, params.sampling)
    if "," in params.lang or params.lang.strip() == "all":
        raise Z2HError(f"few_shot: lang={params.lang!r}: give one language (the grid entry point runs many)")
    resolve_langs(task, params.data_dir, params.lang, "test")  # known language with a test split
    check_tracking_server()
    source = load_source(task, params.model_uri)
    target = TargetData(task, params.data_dir, params.lang, PoolSpec.parse(params.pool), params.max_eval_examples)
    run_id, _ = few_shot_run(task, source, target, params)
    return run_id
