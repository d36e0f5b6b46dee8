"""Padding helpers every task's `collate` shares: ragged lists -> rectangular tensors."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def pad(rows: list[list[int]], value: int) -> torch.Tensor:
    """Right-pad integer rows to the longest one: [[1, 2], [3]] -> tensor([[1, 2], [3, value]])."""
    import torch  # here: the task registry is read without torch (modeling/meta.py)

    width = max((len(row) for row in rows), default=0)
    return torch.tensor([row + [value] * (width - len(row)) for row in rows], dtype=torch.long)


def encoder_inputs(features: list[dict], tokenizer) -> dict[str, torch.Tensor]:
    """`input_ids`, `attention_mask` and (where the features carry them) `token_type_ids`, padded to the longest.

    Features carry `token_type_ids` only when the tokenizer produces them (BERT: 0 = first segment,
    1 = second); XLM-R-style encoders have a single segment type, so their features leave it out.
    """
    batch = {
        "input_ids": pad([f["input_ids"] for f in features], tokenizer.pad_token_id),
        "attention_mask": pad([[1] * len(f["input_ids"]) for f in features], 0),
    }
    if features and "token_type_ids" in features[0]:
        batch["token_type_ids"] = pad([f["token_type_ids"] for f in features], 0)
    return batch
