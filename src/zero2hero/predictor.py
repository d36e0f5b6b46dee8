"""A checkpoint ready to predict on DataFrames: what the pyfunc model and the stages use."""
from __future__ import annotations

from pathlib import Path

import pandas as pd


class Predictor:
    """Loads a checkpoint once; `predict_frame` maps a task's input DataFrame to its output DataFrame."""

    def __init__(self, checkpoint_dir: str | Path):
        from .modeling.model import load_checkpoint
        from .tasks import get_task
        from .training.config import pick_device

        self.model, self.tokenizer = load_checkpoint(checkpoint_dir)
        self.model.to(pick_device())
        self.task = get_task(self.model.meta.task)

    def predict_frame(self, frame: pd.DataFrame, batch_size: int = 32) -> pd.DataFrame:
        from .training.evaluator import predict_examples

        examples = self.task.examples_from_frame(frame)
        predictions = predict_examples(self.model, self.task, self.tokenizer, examples, batch_size)
        return self.task.frame_from_predictions(predictions)
