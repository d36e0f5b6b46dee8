"""The registered model flavour: an `mlflow.pyfunc` model wrapping a zero2hero checkpoint directory, and the
signature and input example that each task's columns give it."""
from __future__ import annotations

import mlflow.pyfunc
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema
from mlflow.types.schema import Array


def _schema(columns: dict[str, str]) -> Schema:
    """`{"tokens": "string[]", "start": "long"}` -> an MLflow schema (`[]`: a list of that type per row)."""
    specs = []
    for name, kind in columns.items():
        element = getattr(DataType, kind.removesuffix("[]"))
        specs.append(ColSpec(Array(element) if kind.endswith("[]") else element, name))
    return Schema(specs)


def signature_of(task) -> ModelSignature:
    """The task's input columns (all required) and output columns."""
    return ModelSignature(inputs=_schema(task.pyfunc_inputs), outputs=_schema(task.pyfunc_outputs))


def input_example_of(task) -> pd.DataFrame:
    return pd.DataFrame([task.pyfunc_example])


class Z2HPythonModel(mlflow.pyfunc.PythonModel):
    """`predict(DataFrame) -> DataFrame` with the task's columns (docs/interface.md, "Registered models")."""

    def load_context(self, context):
        from ..checkpoint import Predictor

        self.predictor = Predictor(context.artifacts["checkpoint"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.predictor.predict_frame(frame)
