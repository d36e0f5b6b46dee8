"""Runs with the schema of docs/interface.md ("What every run records"): names, stage tags, params logged once, metrics in percent.

Under `mlflow run`, MLflow has already logged every -P value and MLproject default as a string param;
logging the same key with another string fails, so params are logged only where not yet present.

Artifacts: every run first writes (and removes) a tiny probe through its own artifact store, so an unwritable or
unreachable store fails the run in seconds instead of after training. MLflow retries a failing HTTP request for
minutes by default (7 retries, backoff factor 2); unless the user sets them, this process bounds that to about
15 s (HTTP_RETRY_DEFAULTS), and the probe to one quick retry.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import traceback

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import Z2HError
from .liveness import HEARTBEAT, owned_tags
from .server import check_tracking_server

log = logging.getLogger(__name__)

os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

HTTP_RETRY_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
for _name, _value in HTTP_RETRY_DEFAULTS.items():
    os.environ.setdefault(_name, _value)
# MLflow's async logging thread polls its queue with a 1 s timeout, so ending a run that logged asynchronously
# waited for that poll (0.44 s per grid cell, benchmarks/README.md). With a buffering interval the thread waits
# on its stop event instead: a run ends at once, and the step metrics go to the server in one batch per 5 s
# (one request per step cost 3% of a CPU-bound epoch in server work; one per 5 s is within noise).
os.environ.setdefault("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", "5")
# the probe writes a few bytes: one retry (a dropped keep-alive connection), then a clear error
PROBE_BOUNDS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
PROBE_FILE = "z2h-write-check.txt"


def run_name(stage: str, task: str, model: str, lang: str | None = None, k: int | None = None,
             sampling: str | None = None, seed: int | None = None) -> str:
    """Readable run names: `few_shot/pos/minilm/tr/k=10/longest/s1`."""
    parts = [stage, task, model]
    if lang:
        parts.append(lang)
    if k is not None:
        parts.append(f"k={k}")
    if sampling:
        parts.append(sampling)
    if seed is not None:
        parts.append(f"s{seed}")
    return "/".join(parts)


def _string(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# params logged so far on the runs this process created itself (no `mlflow run` values on them), so that
# log_params need not ask the server what a run already has
_LOGGED_PARAMS: dict[str, set[str]] = {}


def log_params(params: dict) -> None:
    """Log params of the active run, skipping keys the run already has (e.g. set by `mlflow run`)."""
    run_id = mlflow.active_run().info.run_id
    known = _LOGGED_PARAMS.get(run_id)
    existing = known if known is not None else MlflowClient().get_run(run_id).data.params
    fresh = {key: _string(value)[:6000] for key, value in params.items() if key not in existing and value is not None}
    if fresh:
        mlflow.log_params(fresh)
        if known is not None:
            known.update(fresh)


def log_metrics(metrics: dict, step: int | None = None, synchronous: bool = True, model_id: str | None = None,
                dataset=None) -> None:
    """Log metrics of the active run; `model_id` and `dataset` also tie them to a logged model and a dataset."""
    mlflow.log_metrics({key: float(value) for key, value in metrics.items()}, step=step, synchronous=synchronous,
                       model_id=model_id, dataset=dataset)


def _fail_run(exc: BaseException) -> None:
    message = str(exc) if isinstance(exc, Z2HError) else "".join(traceback.format_exception(exc))
    with contextlib.suppress(Exception):
        mlflow.set_tag("z2h.error", str(exc)[:4000] or type(exc).__name__)
        with quick_requests():  # the store may be what failed: no minutes of retries for this
            mlflow.log_text(message, "error.txt")
    status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
    mlflow.end_run(status=status)


def _check_artifact_access(run) -> None:
    """Artifacts served by a tracking server (`mlflow-artifacts:/`) can only be written through that server."""
    uri = mlflow.get_tracking_uri()
    if run.info.artifact_uri.startswith("mlflow-artifacts:") and not uri.startswith(("http://", "https://")):
        raise Z2HError(f"this experiment keeps its artifacts on a tracking server ({run.info.artifact_uri}), but the "
                       f"tracking URI is {uri}; set MLFLOW_TRACKING_URI to that server's http(s) address")


@contextlib.contextmanager
def quick_requests():
    """MLflow HTTP requests inside give up after one quick retry (PROBE_BOUNDS): for small writes whose failure
    is reported anyway (the probe, error.txt, tags after an error)."""
    saved = {name: os.environ.get(name) for name in PROBE_BOUNDS}
    os.environ.update(PROBE_BOUNDS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _upload_failure(exc: BaseException) -> str:
    """The useful part of a failed upload's message (MLflow's repeats the URL and urllib3's retry state)."""
    text = str(exc).strip()
    if "too many 500 error responses" in text:
        return "the tracking server could not store it (HTTP 500; the server's log says why)"
    if "Connection aborted" in text:  # a server that refuses an upload may close the connection mid-request
        return "the tracking server dropped the connection during the upload (the server's log says why)"
    caused = re.search(r"\(Caused by (.+)\)$", text)
    return (caused.group(1) if caused else (text.splitlines() or [type(exc).__name__])[0])[:400]


@contextlib.contextmanager
def writing_artifacts(what: str):
    """Around an upload to the active run's artifacts: a failure becomes a Z2HError naming the store."""
    try:
        yield
    except (MlflowException, OSError) as exc:
        run = mlflow.active_run()
        store = run.info.artifact_uri if run else "?"
        served = f" (served by {mlflow.get_tracking_uri()})" if store.startswith("mlflow-artifacts:") else ""
        reason = _upload_failure(exc)
        raise Z2HError(f"cannot write {what} to the artifact store {store}{served}: {reason}; check that it is "
                       "writable and has space") from None


_CHECKED_STORES: set[str] = set()  # artifact roots (an experiment's) this process has written to


def check_artifact_store(run) -> None:
    """Write and remove a tiny file through the run's artifact store: fails in seconds, naming the store.
    Once per experiment's artifact root and process: the grid's later cells would pay two uploads each for
    nothing, and their first upload (the shots) still fails before training."""
    root = run.info.artifact_uri.rsplit(run.info.run_id, 1)[0]
    if root in _CHECKED_STORES:
        return
    with quick_requests(), writing_artifacts("a test file (before any training)"):
        mlflow.log_text(f"zero2hero can write here (run {run.info.run_id})\n", PROBE_FILE)
    with contextlib.suppress(Exception):  # a store that cannot delete keeps the probe; that is harmless
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        get_artifact_repository(run.info.artifact_uri).delete_artifacts(PROBE_FILE)
    _CHECKED_STORES.add(root)


def experiment_id_for(name: str) -> str:
    """The id of experiment `name`, created when missing (safe when two processes create it at once)."""
    client = MlflowClient()
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name)
        except MlflowException:  # another process created it in between
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise Z2HError(f"experiment {name!r} is deleted; restore it (mlflow experiments restore) or choose another name")
    return found.experiment_id


_NESTED_EXPERIMENTS: dict[tuple[str, str], str] = {}  # (tracking URI, name) -> id, for nested runs
_PARENT: dict[str, str] = {}  # the run that nested runs hang under when none is active (a grid's Ray worker)


def set_parent_run(run_id: str | None) -> None:
    """Make `run_id` the parent of nested runs started while no run is active in this process."""
    _PARENT.clear()
    if run_id:
        _PARENT["run_id"] = run_id


@contextlib.contextmanager
def stage_run(stage: str, name: str, tags: dict | None = None, nested: bool = False, experiment: str | None = None,
              system_metrics: bool = False):
    """Start (or, under `mlflow run`, attach to) a run tagged `z2h.stage`; mark it FAILED with the reason on error.

    Nested runs are children of the active run (or of `set_parent_run`'s); with `experiment` they are created in
    that experiment (the grid's cells go to the plan's experiment while the grid's own run stays where
    `mlflow run` put it). The run carries its process and a heartbeat (tracking.liveness), so a run whose
    process is killed is recognised and ended later. `system_metrics` logs MLflow's system metrics (CPU, memory,
    GPU utilisation: `system/...`) while the run lasts. The first call checks the tracking server answers.
    """
    check_tracking_server()
    experiment_id = None
    if experiment and nested:  # looked up once per process: a grid starts hundreds of cells in one experiment
        key = (mlflow.get_tracking_uri(), experiment)
        experiment_id = _NESTED_EXPERIMENTS.get(key) or _NESTED_EXPERIMENTS.setdefault(key, experiment_id_for(experiment))
    elif experiment and not os.environ.get("MLFLOW_RUN_ID"):
        mlflow.set_experiment(experiment)
    parent = _PARENT.get("run_id") if nested and mlflow.active_run() is None else None
    resumed = None if nested else os.environ.get("MLFLOW_RUN_ID")  # start_run takes it out of the environment
    run = mlflow.start_run(run_name=name, nested=nested, experiment_id=experiment_id, parent_run_id=parent,
                           log_system_metrics=True if system_metrics else None)
    HEARTBEAT.add(run.info.run_id, mlflow.get_tracking_uri())
    if run.info.run_id != resumed:  # created here, not the `mlflow run` one: it has no params yet
        _LOGGED_PARAMS[run.info.run_id] = set()
    try:
        mlflow.set_tags({"z2h.stage": stage, "mlflow.runName": name, **owned_tags(), **(tags or {})})
        _check_artifact_access(run)
        check_artifact_store(run)
        yield run
    except BaseException as exc:
        HEARTBEAT.remove(run.info.run_id)
        _fail_run(exc)
        raise
    else:
        HEARTBEAT.remove(run.info.run_id)
        mlflow.end_run()
    finally:
        _LOGGED_PARAMS.pop(run.info.run_id, None)


class MlflowTrainingLogger:
    """Training callback: `train_loss` per step (asynchronously) and `dev_score` per epoch."""

    def __init__(self, log_every: int = 1):
        self.log_every = log_every

    def on_train_begin(self, total_steps):
        pass

    def on_step(self, step, loss, lr):
        if step % self.log_every == 0:
            log_metrics({"train_loss": loss, "lr": lr}, step=step, synchronous=False)

    def on_epoch_end(self, epoch, dev_score, train_loss):
        metrics = {"train_loss_epoch": train_loss}
        if dev_score is not None:
            metrics["dev_score"] = dev_score
        log_metrics(metrics, step=epoch, synchronous=False)

    def on_train_end(self, result):
        mlflow.flush_async_logging()
