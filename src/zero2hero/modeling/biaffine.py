"""Biaffine dependency parsing head (Dozat & Manning 2017) over first-subword word vectors.

Nodes are [root, word 1, ..., word n]; the root is the first token's vector ([CLS] / <s>), so the root
candidate is learned from the same encoder as the words. Arcs: separate head and dependent MLPs, a
bilinear term plus a head-only bias, cross-entropy over each word's candidate heads. Relations: a
biaffine label classifier on (dependent, head) pairs — gold heads in training, decoded heads at inference.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .heads import gather_words
from .meta import IGNORE
from .mst import greedy_heads, mst_heads

MASKED = -1e9  # finite, so that rows of padded dependents never turn the loss into NaN
DEFAULT_CONFIG = {"arc_dim": 256, "relation_dim": 128, "dropout": 0.33, "decoder": "mst"}
DECODERS = ("mst", "greedy")


def projection(hidden_size: int, size: int, dropout: float) -> nn.Sequential:
    """The per-role MLP: it strips what the role does not need before the biaffine product."""
    return nn.Sequential(nn.Linear(hidden_size, size), nn.LeakyReLU(0.1), nn.Dropout(dropout))


def candidate_mask(word_mask: torch.Tensor) -> torch.Tensor:
    """[B, W, W+1] True where node j may head word i: the root or a real word other than i itself."""
    n_words = word_mask.size(1)
    nodes = torch.cat([torch.ones_like(word_mask[:, :1]), word_mask], dim=1)
    positions = torch.arange(n_words, device=word_mask.device)
    self_arc = positions[:, None] + 1 == torch.arange(n_words + 1, device=word_mask.device)[None, :]
    return nodes[:, None, :] & ~self_arc[None]


def biaffine_arc_scores(dependents: torch.Tensor, heads: torch.Tensor, weight: torch.Tensor,
                        head_bias: torch.Tensor) -> torch.Tensor:
    """scores[b, i, j] = dep_i · W · head_j + head_j · u; dependents [B, W, D], heads [B, W+1, D] -> [B, W, W+1].

    A dependent-only bias would add the same number to every candidate of a word and cancel in the
    softmax, so only the head bias (how likely a node is to be a head at all) is kept.
    """
    bilinear = torch.matmul(torch.matmul(dependents, weight), heads.transpose(1, 2))
    return bilinear + torch.matmul(heads, head_bias).unsqueeze(1)


class BiaffineDependencyHead(nn.Module):
    """Arc and relation scoring; `forward` returns scores and (with gold heads in the batch) the loss."""

    def __init__(self, hidden_size: int, n_relations: int, config: dict | None = None):
        super().__init__()
        config = {**DEFAULT_CONFIG, **(config or {})}
        arc_dim, relation_dim, dropout = config["arc_dim"], config["relation_dim"], config["dropout"]
        self.decoder = config["decoder"]
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder {self.decoder!r}; valid: {', '.join(DECODERS)}")
        self.dropout = nn.Dropout(dropout)
        self.arc_dependent = projection(hidden_size, arc_dim, dropout)
        self.arc_head = projection(hidden_size, arc_dim, dropout)
        self.arc_weight = nn.Parameter(torch.zeros(arc_dim, arc_dim))  # zero start: uniform arcs (D&M)
        self.arc_head_bias = nn.Parameter(torch.zeros(arc_dim))
        self.relation_dependent = projection(hidden_size, relation_dim, dropout)
        self.relation_head = projection(hidden_size, relation_dim, dropout)
        # one bilinear form per relation (einsum: nn.Bilinear's backward is several times slower on CPU)
        self.relation_weight = nn.Parameter(torch.zeros(n_relations, relation_dim, relation_dim))
        self.relation_linear = nn.Linear(2 * relation_dim, n_relations)

    def forward(self, hidden: torch.Tensor, batch: dict) -> dict:
        starts = batch["word_starts"]
        # node 0 is the root: index 0 is the first token ([CLS] / <s>) in every tokenizer we support
        node_starts = torch.cat([torch.zeros_like(starts[:, :1]), starts], dim=1)
        nodes = self.dropout(gather_words(hidden, node_starts))
        words = nodes[:, 1:]
        scores = biaffine_arc_scores(self.arc_dependent(words).float(), self.arc_head(nodes).float(),
                                     self.arc_weight.float(), self.arc_head_bias.float())
        scores = scores.masked_fill(~candidate_mask(batch["word_mask"]), MASKED)
        output = {"arc_scores": scores, "relation_dependent": self.relation_dependent(words),
                  "relation_head": self.relation_head(nodes)}
        if "heads" in batch:
            gold = batch["heads"]
            arc_loss = F.cross_entropy(scores.flatten(0, 1), gold.flatten(), ignore_index=IGNORE)
            relation_logits = self.relation_scores(output, gold.clamp(min=0))
            relation_loss = F.cross_entropy(relation_logits.flatten(0, 1), batch["relations"].flatten(),
                                            ignore_index=IGNORE)
            output["loss"], output["loss_parts"] = arc_loss + relation_loss, (arc_loss, relation_loss)
        return output

    def loss_counts(self, batch: dict) -> tuple[int, int]:
        """The words each loss term averages over: those with a gold head, those with a known relation."""
        return int((batch["heads"] != IGNORE).sum()), int((batch["relations"] != IGNORE).sum())

    def relation_scores(self, output: dict, heads: torch.Tensor) -> torch.Tensor:
        """Relation logits [B, W, R] of each word attached to `heads` [B, W] (node indices, 0 = root)."""
        dependent = output["relation_dependent"]
        index = heads.unsqueeze(-1).expand(-1, -1, dependent.size(-1))
        head = output["relation_head"].gather(1, index)
        bilinear = torch.einsum("bwi,rij,bwj->bwr", dependent, self.relation_weight, head)
        logits = bilinear + self.relation_linear(torch.cat([dependent, head], -1))
        return logits.float()

    def decode(self, output: dict, batch: dict) -> list[tuple[list[int], list[int]]]:
        """Per sentence (heads 1-based with 0 = root, relation ids); trees by MST unless decoder = greedy."""
        scores = torch.log_softmax(output["arc_scores"].float(), dim=-1)
        # masked arcs become -inf for the decoder, whose single-root penalty scales with the finite score range
        scores = scores.masked_fill(output["arc_scores"] <= MASKED / 2, float("-inf")).detach().cpu().numpy()
        choose = mst_heads if self.decoder == "mst" else greedy_heads
        n_words = batch["n_words"].tolist()
        heads = [choose(scores[b, :n, : n + 1]) for b, n in enumerate(n_words)]
        padded = torch.zeros(scores.shape[:2], dtype=torch.long)
        for b, row in enumerate(heads):
            padded[b, : len(row)] = torch.tensor(row, dtype=torch.long)
        relations = self.relation_scores(output, padded.to(output["arc_scores"].device)).argmax(-1).tolist()
        return [(row, relations[b][: len(row)]) for b, row in enumerate(heads)]
