"""Checkpoints as pyfunc models, the model registry (`z2h-<task>-<slug>@source`), and model URI resolution."""
from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..errors import Z2HError
from ..modeling.model import find_checkpoint_dir
from .runs import writing_artifacts

log = logging.getLogger(__name__)

# Pinned loosely: what the pyfunc model needs to load a checkpoint (skips MLflow's slow inference).
PIP_REQUIREMENTS = ["torch>=2.4", "transformers>=5.0", "mlflow>=3.0", "pandas", "conllu", "seqeval"]


def registered_name(task: str, slug: str) -> str:
    return f"z2h-{task}-{slug}"


def log_checkpoint_model(checkpoint_dir: str | Path, register_as: str | None = None, alias: str | None = None,
                         tags: dict | None = None, signature=None, input_example=None):
    """Log the checkpoint as a pyfunc model of the active run (with `signature` and `input_example`, see
    tracking/pyfunc.py); optionally register it and set `alias`.

    Returns (model_uri, version or None).
    """
    with writing_artifacts("the model"):  # an upload failure is a message naming the store, not a traceback
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
            artifacts={"checkpoint": str(checkpoint_dir)},
            pip_requirements=PIP_REQUIREMENTS,
            registered_model_name=register_as or None,
            signature=signature,
            input_example=input_example,
        )
    version = None
    if register_as:
        version = info.registered_model_version
        client = MlflowClient()
        if alias:
            client.set_registered_model_alias(register_as, alias, version)
        for key, value in (tags or {}).items():
            client.set_model_version_tag(register_as, version, key, str(value))
    return info.model_uri, version


# Downloaded models live in one temporary directory per process, removed when the process exits; a model
# version or run is downloaded once per process (grid and search resolve the same source model many times).
_DOWNLOADS: dict[str, Path] = {}
_DOWNLOAD_ROOT: tempfile.TemporaryDirectory | None = None


def _download(uri: str, key: str, download_dir: str | None) -> Path:
    global _DOWNLOAD_ROOT
    if download_dir:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=download_dir))
    if key not in _DOWNLOADS:
        if _DOWNLOAD_ROOT is None:
            _DOWNLOAD_ROOT = tempfile.TemporaryDirectory(prefix="z2h-models-")
        target = Path(_DOWNLOAD_ROOT.name) / str(len(_DOWNLOADS))
        target.mkdir()
        _DOWNLOADS[key] = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target)))
    return _DOWNLOADS[key]


@dataclass
class ResolvedModel:
    checkpoint_dir: Path
    uri: str
    source_run_id: str | None
    version: str | None
    registered_name: str | None
    checkpoint: str = ""  # which checkpoint exactly: its directory, or the concrete URI and the path inside it


def resolve_model(uri: str, download_dir: str | None = None) -> ResolvedModel:
    """Download (if needed) and locate the checkpoint behind a model URI or local directory.

    Accepts `models:/NAME@ALIAS`, `models:/NAME/VERSION`, `runs:/RUN_ID/model`, `models:/m-<id>` and directories.
    """
    if Path(uri).expanduser().is_dir():
        checkpoint_dir = find_checkpoint_dir(Path(uri).expanduser())
        return ResolvedModel(checkpoint_dir, uri, None, None, None, str(checkpoint_dir.resolve()))
    if not uri.startswith(("models:/", "runs:/", "mlflow-artifacts:/", "file:", "s3://", "gs://")):
        raise Z2HError(
            f"model_uri {uri!r} is neither a directory nor a model URI; expected models:/NAME@ALIAS, "
            "models:/NAME/VERSION, runs:/RUN_ID/model or a local checkpoint directory"
        )
    client = MlflowClient()
    source_run_id = version = name = None
    try:
        if uri.startswith("models:/") and not uri.startswith("models:/m-"):
            name, _, rest = uri[len("models:/"):].partition("@")
            if rest:
                model_version = client.get_model_version_by_alias(name, rest)
            else:
                name, _, number = name.partition("/")
                model_version = client.get_model_version(name, number)
            version, source_run_id = model_version.version, model_version.run_id
        elif uri.startswith("runs:/"):
            source_run_id = uri[len("runs:/"):].split("/")[0]
        # an alias can move: fetch the version it points to now; runs:/ and models:/m-<id> are immutable
        concrete = f"models:/{name}/{version}" if version else uri
        local = _download(concrete, f"{mlflow.get_tracking_uri()} {concrete}", download_dir)
    except MlflowException as exc:
        raise Z2HError(f"cannot load model {uri!r}: {exc.message.splitlines()[0]}") from None
    checkpoint_dir = find_checkpoint_dir(local)
    inside = checkpoint_dir.relative_to(local).as_posix()
    return ResolvedModel(checkpoint_dir, uri, source_run_id, version, name,
                         concrete if inside == "." else f"{concrete.rstrip('/')}/{inside}")
