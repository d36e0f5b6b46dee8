"""The transfer predictor as a registered MLflow pyfunc model (`z2h-transfer-<task>-<slug>@latest`)."""
from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from .transfer import PREDICTION_COLUMNS, TransferPredictor, registered_transfer_name

# `models:/NAME@latest` is MLflow's own alias for a model's newest version (it cannot be set, only used)
ALIAS = "latest"
# what predicting needs besides this package (lang2vec's vectors; scipy/numpy for the regression)
PIP_REQUIREMENTS = ["mlflow>=3.0", "pandas", "numpy", "scipy", "lang2vec", "setuptools<82"]
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "lang"), ColSpec("double", "size", required=False)]),
    outputs=Schema([ColSpec("double" if c in ("predicted_score", "lower", "upper") else "string", c)
                    for c in PREDICTION_COLUMNS]),
)


class TransferPythonModel(mlflow.pyfunc.PythonModel):
    """`predict(DataFrame[lang, size?]) -> DataFrame[lang, predicted_score, lower, upper, features, note]`."""

    def load_context(self, context):
        self.predictor = TransferPredictor(json.loads(Path(context.artifacts["predictor"]).read_text()))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.predictor.predict(frame)


def prepare_model_logging() -> None:
    """Build, ahead of time, MLflow's map of installed packages to their modules, which its first model logging
    in a process builds to check the model's pip requirements (about 0.4 s here, reading every installed
    package's file list). The analysis does it while the tracking server searches; where MLflow has no such
    step, this does nothing."""
    from mlflow.utils import requirements_utils

    build = getattr(requirements_utils, "_init_packages_to_modules_map", None)
    if callable(build):
        build()


def log_transfer_model(predictor: TransferPredictor, registered_name: str, tags: dict | None = None) -> str:
    """Log `predictor` as a pyfunc model of the active run and register it with `tags`: the new version is
    `@latest`. Returns the new model version."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "predictor.json"
        path.write_text(json.dumps(predictor.record, indent=1))
        with warnings.catch_warnings():  # no input example on purpose: logging one would run lang2vec lookups
            warnings.filterwarnings("ignore", message=".*input example was not provided.*")
            info = mlflow.pyfunc.log_model(
                name=registered_name.removeprefix("z2h-"),  # one artifact per (task, model) in the analysis run
                python_model=str(Path(__file__).with_name("transfer_entry.py")),
                artifacts={"predictor": str(path)}, signature=SIGNATURE, pip_requirements=PIP_REQUIREMENTS)
    # the tags come with the version (one request) rather than one request each afterwards
    return mlflow.register_model(info.model_uri, registered_name,
                                 tags={key: str(value) for key, value in (tags or {}).items()}).version


def register_transfer_models(predictors: dict, labels: dict, experiment: str) -> dict[str, str]:
    """Log and register each {(task, model): predictor} of the analysis; returns {registered name: version}."""
    versions = {}
    for (task, model), predictor in sorted(predictors.items()):
        name = registered_transfer_name(task, model, labels)
        fit = predictor.fit
        versions[name] = log_transfer_model(predictor, name, {
            "z2h.experiment": experiment, "z2h.task": task, "z2h.model": model, "z2h.features": "+".join(fit.selected) or "none",
            "z2h.basis": fit.basis[:5000],
            "z2h.n_langs": len(predictor.langs), "z2h.interval_halfwidth": f"{fit.halfwidth:.2f}"})
    return versions
