"""Loading a checkpoint, and a checkpoint ready to predict on DataFrames (what the pyfunc model and the stages use).

The task named in a checkpoint's metadata rebuilds its head, so this module sits above `tasks`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch

from .modeling.model import HEAD_FILE, META_FILE, ModelMeta, TaskModel, find_checkpoint_dir
from .tasks import get_task


def load_checkpoint(path: str | Path):
    """Rebuild (TaskModel, tokenizer) from a checkpoint directory written by `TaskModel.save`."""
    from transformers import AutoModel, AutoTokenizer

    directory = find_checkpoint_dir(path)
    meta = ModelMeta(**json.loads((directory / META_FILE).read_text()))
    tokenizer = AutoTokenizer.from_pretrained(directory / "encoder")
    encoder = AutoModel.from_pretrained(directory / "encoder")
    task = get_task(meta.task)
    head = task.build_head(encoder.config.hidden_size, meta)
    head.load_state_dict(torch.load(directory / HEAD_FILE, map_location="cpu", weights_only=True))
    model = TaskModel(encoder, head, meta)
    model.eval()
    return model, tokenizer


class Predictor:
    """Loads a checkpoint once; `predict_frame` maps a task's input DataFrame to its output DataFrame."""

    def __init__(self, checkpoint_dir: str | Path):
        from .training.config import pick_device

        self.model, self.tokenizer = load_checkpoint(checkpoint_dir)
        self.model.to(pick_device())
        self.task = get_task(self.model.meta.task)

    def predict_frame(self, frame: pd.DataFrame, batch_size: int = 32) -> pd.DataFrame:
        from .training.evaluator import predict_examples

        examples = self.task.examples_from_frame(frame)
        predictions = predict_examples(self.model, self.task, self.tokenizer, examples, batch_size)
        return self.task.frame_from_predictions(predictions)
