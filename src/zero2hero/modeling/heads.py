"""Shared head pieces: first-subword gathering and a linear token classifier (POS)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .meta import IGNORE


def gather_words(hidden: torch.Tensor, word_starts: torch.Tensor) -> torch.Tensor:
    """Pick each word's first-subword vector: hidden [B, T, H], word_starts [B, W] -> [B, W, H]."""
    index = word_starts.unsqueeze(-1).expand(-1, -1, hidden.size(-1))
    return hidden.gather(1, index)


class TokenClassificationHead(nn.Module):
    """Linear classifier over the first subword of each word; cross-entropy on labelled words."""

    def __init__(self, hidden_size: int, n_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, n_labels)

    def forward(self, hidden: torch.Tensor, batch: dict) -> dict:
        words = self.dropout(gather_words(hidden, batch["word_starts"]))
        logits = self.classifier(words).float()
        output = {"logits": logits}
        if "labels" in batch:
            output["loss"] = F.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE)
        return output

    def loss_counts(self, batch: dict) -> tuple[int]:
        """The labelled words the loss averages over."""
        return (int((batch["labels"] != IGNORE).sum()),)

    def decode(self, output: dict, batch: dict) -> list[list[int]]:
        best = output["logits"].argmax(-1).tolist()
        return [row[:n] for row, n in zip(best, batch["n_words"].tolist())]
