"""The registered model flavour: an `mlflow.pyfunc` model wrapping a zero2hero checkpoint directory."""
from __future__ import annotations

import mlflow.pyfunc
import pandas as pd


class Z2HPythonModel(mlflow.pyfunc.PythonModel):
    """`predict(DataFrame) -> DataFrame` with the task's columns (INTERFACE.md, Registered models)."""

    def load_context(self, context):
        from ..predictor import Predictor

        self.predictor = Predictor(context.artifacts["checkpoint"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.predictor.predict_frame(frame)
