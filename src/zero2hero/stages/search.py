"""`search`: Optuna over the source stage's learning rate and epochs, objective = the source dev score.

`sampler=grid` reproduces the study's grid (docs/method.md §3); `sampler=tpe` searches a log-uniform lr and integer
epochs with a median pruner fed after every epoch. Each trial is a nested MLflow run (`z2h.stage=trial`) under
the worker's `search` run, logged here directly (Optuna's MLflowCallback is deprecated). Several worker
processes, on one machine or many, share a study through one storage URL (e.g. postgresql://...).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os

import mlflow
import optuna

from ..config import Params, params_for
from ..errors import Z2HError, raise_if_terminated
from ..modeling.encoder import model_slug
from .source import run_source, source_run_params, train_source
from ..tracking.studies import StorageSecretError, masked_url, open_study, requeue, resolve_storage
from ..tasks import get_task
from ..tracking.liveness import end_stale_runs
from ..tracking.runs import log_metrics, log_params, run_name, stage_run
from ..tracking.server import check_tracking_server
from ..training.callbacks import Callback
from ..training.config import TrainConfig, precision_record
from ..training.loop import TrainingDiverged

log = logging.getLogger(__name__)

TPE_DEFAULT_TRIALS = 20


class EpochReporter(Callback):
    """Reports each epoch's dev score to Optuna and stops a trial the pruner gives up on."""

    def __init__(self, trial):
        self.trial = trial

    def on_epoch_end(self, epoch, dev_score, train_loss):
        if dev_score is None:
            return
        self.trial.report(dev_score, epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} (dev {dev_score:.2f})")


def search_space(params: Params) -> dict:
    """What the sampler explores, as logged on the search run."""
    if params.sampler == "grid":
        return {"lrs": ",".join(map(str, params.lrs)), "epochs": ",".join(map(str, params.epochs))}
    if params.lr_min > params.lr_max or params.epochs_min > params.epochs_max:
        raise Z2HError("search: need lr_min <= lr_max and epochs_min <= epochs_max")
    return {"lr_min": params.lr_min, "lr_max": params.lr_max, "epochs_min": params.epochs_min,
            "epochs_max": params.epochs_max}


def default_study_name(task, params: Params, slug: str, device=None) -> str:
    """Readable, and distinct for every setting that changes results, so different searches never mix: precision
    as a run on `device` records it (auto on CUDA is bf16; fp32 under auto leaves the name as before the option)."""
    settings = {name: params.values[name] for name in sorted(params.values)
                if name not in ("n_trials", "storage", "study_name", "register", "register_as", "alias", "precision")}
    if settings.get("bad_trees") == "error":  # the default leaves the names of studies made before it existed
        del settings["bad_trees"]
    settings.update(precision_record(params.values.get("precision", "auto"), device))
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]
    return f"z2h-{task.name}-{slug}-{params.sampler}-{digest}"


def _sampler_and_pruner(params: Params):
    if params.sampler == "grid":
        space = {"lr": list(params.lrs), "epochs": list(params.epochs)}
        return optuna.samplers.GridSampler(space, seed=params.seed), optuna.pruners.NopPruner()
    # constant_liar: running trials count as pending, so parallel workers spread out instead of colliding;
    # no sampler seed, for the same reason (the training seed is `seed`)
    sampler = optuna.samplers.TPESampler(constant_liar=True)
    return sampler, optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)


def _suggest(trial, params: Params) -> tuple[float, int]:
    if params.sampler == "grid":  # the grid sampler returns its grid values; the ranges only contain them
        return (trial.suggest_float("lr", min(params.lrs), max(params.lrs)),
                trial.suggest_int("epochs", min(params.epochs), max(params.epochs)))
    return (trial.suggest_float("lr", params.lr_min, params.lr_max, log=True),
            trial.suggest_int("epochs", params.epochs_min, params.epochs_max))


def trial_config(task, params: Params, lr: float, epochs: int) -> TrainConfig:
    return TrainConfig.resolve(task.defaults, {**params.values, "lr": lr, "epochs": epochs})


def make_objective(task, params: Params, slug: str, study_name: str):
    """Optuna objective: one source training in a nested trial run; returns its best dev score."""

    def objective(trial) -> float:
        raise_if_terminated()
        objective.started.append(trial.number)
        lr, epochs = _suggest(trial, params)
        config = trial_config(task, params, lr, epochs)
        name = f"{run_name('trial', task.name, slug)}/t{trial.number}"
        tags = {"optuna.study": study_name, "optuna.trial": str(trial.number)}
        pruned = None
        with stage_run("trial", name, tags=tags, nested=True, system_metrics=params.system_metrics) as run:
            trial.set_user_attr("mlflow_run_id", run.info.run_id)
            log_params({**source_run_params(task, params, config), "trial_number": trial.number})
            try:
                _, _, result, _ = train_source(task, params, config, callbacks=[EpochReporter(trial)])
            except optuna.TrialPruned as exc:
                mlflow.set_tag("z2h.trial_state", "PRUNED")  # the run itself finished as planned
                pruned = exc
            else:
                mlflow.set_tag("z2h.trial_state", "COMPLETE")
                log_params({"best_epoch": result.best_epoch})
                log_metrics({"best_dev_score": result.best_dev_score})
        if pruned is not None:
            raise pruned
        return result.best_dev_score

    objective.started = []  # trial numbers in the order this worker began them
    return objective


def _trials_to_run(study, sampler, params: Params) -> int | None:
    """None = until the grid is done (the grid sampler then stops the study itself)."""
    if params.n_trials:
        return params.n_trials
    if params.sampler == "grid":
        waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
        return 0 if sampler.is_exhausted(study) and not waiting else None
    return TPE_DEFAULT_TRIALS


def register_best(params: Params, lr: float, epochs: int) -> str:
    """Train the best configuration as a nested source run and register it (the source stage does both)."""
    values = {spec.name: params.values.get(spec.name, spec.default) for spec in params_for("source")}
    values.update(lr=lr, epochs=epochs)
    return run_source(Params("source", values, {"task", "model", "lr", "epochs"}), nested=True)


def gc_command(run_id: str) -> str:
    """The command that purges a deleted run for good (`mlflow gc` works on the backend store itself)."""
    uri = mlflow.get_tracking_uri()
    if uri.startswith(("http://", "https://")):
        return f"MLFLOW_TRACKING_URI={uri} mlflow gc --backend-store-uri <that server's backend store URI> --run-ids {run_id}"
    return f"mlflow gc --backend-store-uri {uri} --run-ids {run_id}"


def search_storage(params: Params) -> str:
    """The study's storage URL (see studies.resolve_storage). Under `mlflow run` a refused one has already been
    logged as a param of the run `mlflow run` made: that run is deleted, and the message says how to purge it."""
    try:
        return resolve_storage(params.storage)
    except StorageSecretError as exc:
        run_id = os.environ.get("MLFLOW_RUN_ID")
        if not run_id:
            raise
        try:
            mlflow.MlflowClient().delete_run(run_id)
        except Exception as error:  # noqa: BLE001  (the refusal must still be reported)
            raise Z2HError(f"{exc}. `mlflow run` has logged it as a param of run {run_id}, which could not be deleted "
                           f"({str(error).splitlines()[0][:200]}): delete it, then run {gc_command(run_id)}") from None
        raise Z2HError(f"{exc}. `mlflow run` had already logged it as a param of run {run_id}: that run is now deleted; "
                       f"purge it for good with: {gc_command(run_id)}") from None


def run_search(params: Params) -> str:
    """The `search` entry point (one worker); returns its search run id."""
    task = get_task(params.task, params.bad_trees)
    space = search_space(params)
    storage = search_storage(params)
    check_tracking_server()
    slug = model_slug(params.model, params.model_name)
    study_name = params.study_name or default_study_name(task, params, slug)
    sampler, pruner = _sampler_and_pruner(params)
    study = open_study(storage, study_name, sampler, pruner)
    tags = {"optuna.study": study_name, "optuna.storage": masked_url(storage)}
    with stage_run("search", run_name("search", task.name, slug), tags=tags) as run:
        # the training settings every trial shares (lr and epochs are the trials' own)
        fixed = TrainConfig.resolve(task.defaults, {**params.values, "epochs": None}).as_params()
        log_params({"task": task.name, "model": params.model, "model_name": slug, "sampler": params.sampler,
                    "study_name": study_name, "storage": masked_url(storage), **space,
                    **{key: value for key, value in fixed.items() if key not in ("lr", "epochs")}})
        end_stale_runs([run.info.experiment_id])  # search and trial runs of workers that died
        n_trials = _trials_to_run(study, sampler, params)
        if n_trials != 0:
            objective = make_objective(task, params, slug, study_name)
            try:
                # a diverged trial is FAILED (its run says at which step) and the search goes on with the others
                study.optimize(objective, n_trials=n_trials, gc_after_trial=True, catch=(TrainingDiverged,))
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the interrupted grid point goes back to the queue
                for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,)):
                    if objective.started[-1:] == [trial.number]:
                        requeue(study, trial, f"worker stopped (interrupted) during trial {trial.number}")
                raise
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            failed = sum(t.state == optuna.trial.TrialState.FAIL for t in study.trials)
            raise Z2HError(f"study {study_name!r} has no completed trial"
                           + (f" ({failed} failed; their runs' z2h.error says why)" if failed else ""))
        best = study.best_trial
        lr, epochs = best.params["lr"], best.params["epochs"]
        log_params({"best_lr": lr, "best_epochs": epochs, "best_trial": best.number})
        log_metrics({"best_score": best.value})
        mlflow.set_tag("z2h.best_trial_run_id", best.user_attrs.get("mlflow_run_id", ""))
        print(f"search {task.name} {slug}: {len(complete)} completed trials in study {study_name!r}; "
              f"best dev {best.value:.2f} with lr={lr:g}, epochs={epochs}")
        if params.register:
            register_best(params, lr, epochs)
        return run.info.run_id
