"""Extractive-QA span head (XQuAD/SQuAD): a linear layer scoring every token as answer start and end."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MASKED = -1e4  # logit for padding positions: never chosen, and finite so bf16/fp32 softmax stays stable


class SpanHead(nn.Module):
    """Start and end logits per token; loss = mean of the start and end cross-entropies (BERT/SQuAD).

    Gold positions index tokens of the window; windows that do not contain the answer point at token 0
    ([CLS]/<s>), as in BERT's SQuAD fine-tuning, so the model learns to score those windows low.
    """

    def __init__(self, hidden_size: int):
        super().__init__()
        self.span = nn.Linear(hidden_size, 2)

    def forward(self, hidden: torch.Tensor, batch: dict) -> dict:
        start, end = self.span(hidden).float().unbind(-1)
        padding = batch["attention_mask"] == 0
        output = {"start_logits": start.masked_fill(padding, MASKED), "end_logits": end.masked_fill(padding, MASKED)}
        if "start_positions" in batch:
            output["loss"] = (F.cross_entropy(output["start_logits"], batch["start_positions"])
                              + F.cross_entropy(output["end_logits"], batch["end_positions"])) / 2
        return output

    def decode(self, output: dict, batch: dict) -> list[tuple[list[float], list[float]]]:
        """Per window: (start logits, end logits) over its real tokens; spans are chosen by the task."""
        lengths = batch["attention_mask"].sum(-1).tolist()
        starts, ends = output["start_logits"].tolist(), output["end_logits"].tolist()
        return [(s[:n], e[:n]) for s, e, n in zip(starts, ends, lengths)]
