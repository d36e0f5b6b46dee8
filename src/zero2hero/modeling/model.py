"""TaskModel = encoder + task head; checkpoints are a directory (encoder, tokenizer, head, metadata)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from ..errors import Z2HError
from .meta import ModelMeta

META_FILE = "z2h_checkpoint.json"
HEAD_FILE = "head.pt"


class TaskModel(nn.Module):
    """An encoder followed by a head; `forward(batch)` returns the head's dict (with `loss` when gold is given)."""

    def __init__(self, encoder: nn.Module, head: nn.Module, meta: ModelMeta):
        super().__init__()
        self.encoder, self.head, self.meta = encoder, head, meta

    def forward(self, batch: dict) -> dict:
        inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
        if "token_type_ids" in batch:
            inputs["token_type_ids"] = batch["token_type_ids"]
        hidden = self.encoder(**inputs).last_hidden_state
        return self.head(hidden, batch)

    def decode(self, output: dict, batch: dict) -> list:
        return self.head.decode(output, batch)

    def loss_counts(self, batch: dict) -> tuple[int, ...]:
        """How many items each term of the head's loss (`loss_parts`, else `loss`) averages over: labelled words
        for word-level heads that say so, else the batch's examples. Micro-batches are weighted by these."""
        counts = getattr(self.head, "loss_counts", None)
        return tuple(counts(batch)) if counts else (int(batch["input_ids"].shape[0]),)

    def save(self, directory: str | Path, tokenizer) -> Path:
        """Write encoder (`save_pretrained`), tokenizer, head weights and metadata to `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory / "encoder")
        tokenizer.save_pretrained(directory / "encoder")
        torch.save(self.head.state_dict(), directory / HEAD_FILE)
        (directory / META_FILE).write_text(json.dumps(asdict(self.meta), indent=2, ensure_ascii=False))
        return directory


def find_checkpoint_dir(path: str | Path) -> Path:
    """The directory holding META_FILE at or below `path` (a downloaded run or model artifact).

    A folder with several checkpoints below it is an error listing them: which one is meant is the user's call.
    """
    path = Path(path)
    if (path / META_FILE).exists():
        return path
    found = sorted(path.rglob(META_FILE))
    if not found:
        raise Z2HError(f"{path} is not a zero2hero checkpoint: no {META_FILE} in it or below it")
    if len(found) > 1:
        listing = ", ".join(str(meta.parent) for meta in found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
        raise Z2HError(f"{path} holds {len(found)} checkpoints; give the one to use as model_uri: {listing}")
    return found[0].parent
