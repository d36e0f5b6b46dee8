"""Optuna studies shared by `search` workers: opening one in any storage URL, safely when workers start together.

Kept apart from `search` so that opening a study needs only Optuna and SQLAlchemy, not the training stack.

The storage URL is a secret when it carries a password, and every parameter is logged in clear (by `mlflow run`
before the entry point even starts). So a `storage` parameter with a password is refused; such a URL comes from
the environment variable Z2H_OPTUNA_STORAGE, or from a file named by Z2H_OPTUNA_STORAGE_FILE, and only its
masked form is ever logged or printed.
"""
from __future__ import annotations

import os
import random
import time
from importlib.util import find_spec
from pathlib import Path

import optuna
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from ..errors import Z2HError

CREATE_ATTEMPTS = 12
STORAGE_ENV = "Z2H_OPTUNA_STORAGE"
STORAGE_FILE_ENV = "Z2H_OPTUNA_STORAGE_FILE"
DEFAULT_STORAGE = "sqlite:///optuna.db"
PASSWORD_KEYS = ("password", "passwd")  # libpq and MySQL drivers also take the password as a query argument
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
    from .liveness import heartbeat_grace, heartbeat_interval

    interval = max(1, int(heartbeat_interval()))
    return optuna.storages.RDBStorage(storage_url(url), heartbeat_interval=interval,
                                      grace_period=max(int(heartbeat_grace()), 2 * interval),
                                      heartbeat_stale_trial_callback=_on_stale_trial)


def masked_url(url: str) -> str:
    """The storage URL without its password (it is logged and printed)."""
    try:
        parsed = make_url(url)
        secret = {key: "***" for key in parsed.query if key.lower() in PASSWORD_KEYS}
        return parsed.update_query_dict(secret).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:  # not a URL: nothing to hide but what may follow a user name
        return url.split("@")[-1]


def has_password(url: str) -> bool:
    """Whether a storage URL carries a password (in its user part or as a `password=` query argument)."""
    try:
        parsed = make_url(url)
    except sqlalchemy.exc.ArgumentError:  # not a URL, but `user:secret@host` still holds a password
        return "@" in url and ":" in url.rsplit("@", 1)[0].split("://")[-1]
    return bool(parsed.password) or any(key.lower() in PASSWORD_KEYS for key in parsed.query)


def resolve_storage(value: str) -> str:
    """The Optuna storage to use: the `storage` parameter, else Z2H_OPTUNA_STORAGE, else the first line of the
    file named by Z2H_OPTUNA_STORAGE_FILE, else sqlite:///optuna.db. A parameter with a password is refused."""
    if value:
        if has_password(value):
            raise StorageSecretError(
                f"storage={masked_url(value)!r} carries a password, and parameters are logged in clear on the run. "
                f"Leave storage unset and pass the URL in the environment variable {STORAGE_ENV} (or put it in a file "
                f"and set {STORAGE_FILE_ENV} to its path), or keep the password in ~/.pgpass (PostgreSQL)")
        return value
    if os.environ.get(STORAGE_ENV):
        return os.environ[STORAGE_ENV].strip()
    if os.environ.get(STORAGE_FILE_ENV):
        path = Path(os.environ[STORAGE_FILE_ENV]).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise Z2HError(f"{STORAGE_FILE_ENV}={path}: cannot read the storage URL: {exc.strerror}") from None
        if not lines or not lines[0].strip():
            raise Z2HError(f"{STORAGE_FILE_ENV}={path}: the file is empty; expected the storage URL on its first line")
        return lines[0].strip()
    return DEFAULT_STORAGE


class StorageSecretError(Z2HError):
    """A storage parameter that carries a password (the run that logged it is deleted, see search)."""


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
