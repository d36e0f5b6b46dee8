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

    Two processes creating Optuna's tables (or the same study) at once collide (IntegrityError on
    alembic_version, duplicate tables/types on PostgreSQL, "database is locked" on SQLite); the loser
    waits a random moment and tries again, and then finds what the winner created.
    """
    last = None
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return optuna.create_study(storage=storage_url(storage), study_name=study_name, sampler=sampler, pruner=pruner,
                                       direction="maximize", load_if_exists=True)
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
