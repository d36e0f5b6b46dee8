"""Sentence(-pair) classification head (XNLI): softmax over the first token's final representation."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class SentenceClassificationHead(nn.Module):
    """Linear classifier over the first token ([CLS] for BERT, <s> for XLM-R); cross-entropy on `labels`."""

    def __init__(self, hidden_size: int, n_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, n_labels)

    def forward(self, hidden: torch.Tensor, batch: dict) -> dict:
        logits = self.classifier(self.dropout(hidden[:, 0])).float()
        output = {"logits": logits}
        if "labels" in batch:
            output["loss"] = F.cross_entropy(logits, batch["labels"])
        return output

    def decode(self, output: dict, batch: dict) -> list[int]:
        return output["logits"].argmax(-1).tolist()
