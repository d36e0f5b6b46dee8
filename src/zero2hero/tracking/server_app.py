"""`mlflow server --app-name z2h`: MLflow's own tracking server, with its garbage collector tuned for bulk searches.

A search of 10,000 runs makes MLflow's SQLAlchemy store build about 170,000 short-lived ORM objects in one
request. With CPython's default thresholds (a young-generation pass every 700 allocations) the collector keeps
walking the server's whole import-time heap (about 340,000 objects), and on the development machine it took two
thirds of the search: 5.3 s for 10,000 runs against 2.1 s with the settings below. The answer, written as
indented JSON, took another 1.8 s; it is written compact (0.4 s). Nothing else changes: the app is MLflow's,
routes, stores and artifact serving included (docs/stack.md, "Tracking server").

The app is registered under MLflow's `mlflow.app` entry point group (pyproject.toml), the plugin mechanism that
`--app-name basic-auth` uses, so a shared server gets it with `mlflow server --app-name z2h ...`.
"""
from __future__ import annotations

import gc

# a young-generation pass every 50,000 net allocations instead of 700; older generations scanned as rarely
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move everything alive now (the imported server) out of the collector's scans; collect young objects
    less often. Reference counting still frees what a request leaves behind at once; only cycles wait longer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def compact_json() -> None:
    """Answer in compact JSON. MLflow's handlers write every response with `json.dumps(..., indent=2)`, which
    Python can only do with its pure-Python encoder: 1.8 s of a 10,000-run search, 0.4 s compact. Clients
    parse JSON, so the whitespace was all that changes."""
    from functools import partial

    from mlflow.server import handlers
    from mlflow.utils.proto_json_utils import message_to_json

    if getattr(handlers, "message_to_json", None) is message_to_json:  # MLflow's own, as this was written for
        handlers.message_to_json = partial(message_to_json, pretty=False)


def create_app():
    """MLflow's server app for the server program in use (uvicorn: the FastAPI app; gunicorn or waitress: Flask)."""
    from mlflow.environment_variables import _MLFLOW_SGI_NAME

    if _MLFLOW_SGI_NAME.get() == "uvicorn":
        from mlflow.server.fastapi_app import app
    else:
        from mlflow.server import app
    compact_json()
    tune_gc()
    return app
