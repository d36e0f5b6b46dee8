"""Optuna studies shared by `search` workers: opening one in any storage URL, safely when workers start together.

Kept apart from `search` so that opening a study needs only Optuna and SQLAlchemy, not the training stack.
"""
from __future__ import annotations

import random
import time
from importlib.util import find_spec

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from .errors import Z2HError

CREATE_ATTEMPTS = 12
MAX_RETRY = 2  # re-queues of one grid point whose worker died (after that it stays FAIL)


def requeue(study, trial, reason: str) -> None:
    """A trial whose worker died (no heartbeat) or was stopped: its MLflow run ends FAILED with the reason and
    its parameters go back to the queue (same grid point), so another worker finishes it."""
    run_id = trial.user_attrs.get("mlflow_run_id")
    if run_id:
        from mlflow.tracking import MlflowClient

        try:
            client = MlflowClient()
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_tag(run_id, "z2h.error", reason)
                client.set_terminated(run_id, "FAILED")
        except Exception:  # the tracking server being away must not lose the grid point
            pass
    optuna.storages.RetryFailedTrialCallback(max_retry=MAX_RETRY)(study, trial)


def _on_stale_trial(study, trial) -> None:
    requeue(study, trial, f"Optuna trial {trial.number} of study {study.study_name!r} lost its heartbeat (its "
                          "worker died); its grid point was queued again for another worker")


def _storage(url: str):
    """An RDB storage with Optuna's heartbeat: a trial whose worker stops beating is failed and re-queued."""
    from .tracking.liveness import heartbeat_grace, heartbeat_interval

    interval = max(1, int(heartbeat_interval()))
    return optuna.storages.RDBStorage(storage_url(url), heartbeat_interval=interval,
                                      grace_period=max(int(heartbeat_grace()), 2 * interval),
                                      failed_trial_callback=_on_stale_trial)


def masked_url(url: str) -> str:
    """The storage URL without its password (it is logged and printed)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:  # not a URL: nothing to hide but what may follow a user name
        return url.split("@")[-1]


def storage_url(url: str) -> str:
    """The URL to hand to Optuna. SQLAlchemy 2.1 reads `postgresql://` as the psycopg (3) driver; where only
    psycopg2 is installed (this project's dependency) that URL is given the psycopg2 driver explicitly."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres") and find_spec("psycopg") is None and find_spec("psycopg2"):
        return f"postgresql+psycopg2://{rest}"
    return url


def open_study(storage: str, study_name: str, sampler, pruner):
    """Create or load the study; survives workers that start at the same moment on a fresh database.

    The storage beats while a trial runs (see `_storage`); stale trials of dead workers are failed and queued
    again as soon as the study opens. Two processes creating Optuna's tables (or the same study) at once collide (IntegrityError on
    alembic_version, duplicate tables/types on PostgreSQL, "database is locked" on SQLite); the loser
    waits a random moment and tries again, and then finds what the winner created.
    """
    last = None
    for attempt in range(CREATE_ATTEMPTS):
        try:
            study = optuna.create_study(storage=_storage(storage), study_name=study_name, sampler=sampler,
                                        pruner=pruner, direction="maximize", load_if_exists=True)
            optuna.storages.fail_stale_trials(study)  # trials of workers that died, re-queued before we start
            return study
        except sqlalchemy.exc.ArgumentError as exc:
            raise Z2HError(f"storage {masked_url(storage)!r} is not a database URL (sqlite:///FILE, "
                           f"postgresql://USER@HOST/DB, ...): {exc}") from None
        except ImportError as exc:
            raise Z2HError(f"storage {masked_url(storage)!r} needs a database driver that is not installed: {exc}") from None
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError,
                optuna.exceptions.DuplicatedStudyError) as exc:
            last = exc
            time.sleep(random.uniform(0.1, 0.4) * (attempt + 1))
    first_line = str(last).splitlines()[0] if str(last) else type(last).__name__
    raise Z2HError(f"cannot open the Optuna study {study_name!r} in {masked_url(storage)}: {first_line}")
