"""Tracking URI resolution and a fast reachability check before any training."""
from __future__ import annotations

import os
import urllib.error
import urllib.request

from ..errors import Z2HError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # docs/interface.md: an embedded SQLite store in the working directory


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else the embedded SQLite store (set for this process so MLflow uses it too)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        uri = DEFAULT_TRACKING_URI
        os.environ["MLFLOW_TRACKING_URI"] = uri
    return uri


def check_tracking_server(uri: str | None = None, timeout: float = 5.0) -> str:
    """Fail within seconds, naming the URI, when an HTTP tracking server does not answer /health."""
    uri = uri or tracking_uri()
    if uri.startswith(("http://", "https://")):
        url = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                if response.status != 200:
                    raise Z2HError(f"MLflow tracking server {uri} answered {response.status} on /health")
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Z2HError(
                f"MLflow tracking server {uri} is not reachable ({reason}); start it or set MLFLOW_TRACKING_URI"
            ) from None
    return uri
