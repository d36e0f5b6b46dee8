"""Prediction and scoring shared by every task and stage."""
from __future__ import annotations

import torch
from tqdm.auto import tqdm

from ..errors import raise_if_terminated
from .batching import evaluation_batches, iterate_batches
from .config import pick_device
from .loop import autocast

# Padded tokens per evaluation batch by device (none: eval_batch_size alone). On CPU a forward pass costs about the
# same per token from ~256 to ~1,000 tokens a batch, so what matters is padding: 64 length-sorted sentences of a
# 200-sentence test set span a wide range of lengths and pad a lot. 1,024 tokens made POS scoring 1.3x faster
# than 64 sentences a batch and left 384-token XQuAD windows as fast (benchmarks/README.md); the scores do not depend
# on how examples are batched.
EVAL_TOKENS = {"cpu": 1024}


@torch.inference_mode()
def predict_features(model, task, tokenizer, features: list[dict], batch_size: int = 64, progress: bool = False,
                     precision: str = "auto") -> list:
    """Decoded head output for every feature, in feature order (batches are length-sorted internally, at most
    `batch_size` features and, on CPU, EVAL_TOKENS padded tokens each)."""
    device = next(model.parameters()).device if any(True for _ in model.parameters()) else pick_device()
    model.eval()
    lengths = [task.feature_length(f) for f in features]
    outputs: list = [None] * len(features)
    batches = evaluation_batches(lengths, batch_size, EVAL_TOKENS.get(device.type))
    for indices, batch in tqdm(iterate_batches(task, features, tokenizer, batches, device),
                               total=len(batches), desc=f"{task.name} predict", disable=not progress, leave=False):
        raise_if_terminated()
        gold_free = {key: value for key, value in batch.items() if key not in ("labels", "heads", "relations")}
        with autocast(device, precision):
            output = model(gold_free)
        for index, decoded in zip(indices, model.decode(output, batch)):
            outputs[index] = decoded
    return outputs


def predict_examples(model, task, tokenizer, examples: list, batch_size: int = 64, features=None, progress=False,
                     precision: str = "auto") -> list:
    """One prediction per example (features encoded here unless given)."""
    if features is None:
        features = task.encode(examples, tokenizer, model.meta, training=False)
    decoded = predict_features(model, task, tokenizer, features, batch_size, progress, precision)
    return task.finalize(examples, features, decoded, model.meta)


def evaluate(model, task, tokenizer, examples: list, batch_size: int = 64, features=None, progress=False,
             precision: str = "auto") -> dict[str, float]:
    """The task's metrics (percent) on labelled examples."""
    predictions = predict_examples(model, task, tokenizer, examples, batch_size, features, progress, precision)
    return task.score(examples, predictions)
