"""Linear-chain CRF with IOB2 transition constraints: forward algorithm (loss) and Viterbi decoding.

Both run on whole batches: the only Python loop is over time steps; every step works on all sentences
at once, and finished sentences simply carry their state forward (the mask is a prefix per sentence).
IOB2 constraints (I-X only after B-X or I-X, never first) are a fixed mask added to the learned
transitions, in training as well as in decoding, so the model is normalised over valid sequences only.
"""
from __future__ import annotations

import torch
from torch import nn

from .heads import gather_words
from .meta import OUTSIDE, may_follow

FORBIDDEN = -1e4  # added to disallowed transitions: exp() underflows to 0, yet sums stay finite


def iob2_allowed(labels: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(transitions [L, L] with allowed[prev, next], start [L]) under IOB2; tags without B-/I- are free."""
    transitions = torch.tensor([[may_follow(previous, label) for label in labels] for previous in labels],
                               dtype=torch.bool).reshape(len(labels), len(labels))
    start = torch.tensor([may_follow(OUTSIDE, label) for label in labels], dtype=torch.bool)
    return transitions, start


def is_valid_iob2(tags: list[str]) -> bool:
    """True when every tag may follow the one before it (and no I-X starts the sequence)."""
    return all(may_follow(previous, tag) for previous, tag in zip([OUTSIDE, *tags], tags))


class ConditionalRandomField(nn.Module):
    """CRF over emission scores [B, T, L] with a prefix mask [B, T] (every sentence has >= 1 position)."""

    def __init__(self, labels: list[str], constrain_iob2: bool = True):
        super().__init__()
        n = len(labels)
        self.transitions = nn.Parameter(torch.zeros(n, n))
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))
        allowed, start_allowed = iob2_allowed(labels) if constrain_iob2 else (torch.ones(n, n, dtype=torch.bool),
                                                                             torch.ones(n, dtype=torch.bool))
        # buffers, not parameters: part of the state dict so a checkpoint decodes exactly as trained
        self.register_buffer("transition_penalty", (~allowed).float() * FORBIDDEN)
        self.register_buffer("start_penalty", (~start_allowed).float() * FORBIDDEN)

    def _scores(self):
        return self.transitions + self.transition_penalty, self.start + self.start_penalty

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per sentence [B] by the forward algorithm."""
        transitions, start = self._scores()
        alpha = start + emissions[:, 0]  # [B, L]
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions.unsqueeze(0), dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def sequence_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score [B] of the tag sequences `tags` [B, T] (padding positions ignored)."""
        transitions, start = self._scores()
        weights = mask.to(emissions.dtype)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # [B, T]
        score = start[tags[:, 0]] + (emitted * weights).sum(1)
        moved = transitions[tags[:, :-1], tags[:, 1:]]  # [B, T-1]
        score = score + (moved * weights[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        return score + self.end[last]

    def log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log p(tags | emissions) per sentence [B]."""
        return self.sequence_score(emissions, tags, mask) - self.log_partition(emissions, mask)

    @torch.no_grad()
    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag sequence per sentence (each cut to its own length)."""
        transitions, start = self._scores()
        batch, steps, _ = emissions.shape
        best = start + emissions[:, 0]
        backpointers = []
        for t in range(1, steps):
            candidates = best.unsqueeze(2) + transitions.unsqueeze(0)  # [B, previous, next]
            step_best, step_from = candidates.max(dim=1)
            keep = mask[:, t].unsqueeze(1)
            best = torch.where(keep, step_best + emissions[:, t], best)
            # past a sentence's end the pointer is the identity, so backtracking passes through unchanged
            identity = torch.arange(best.size(1), device=best.device).expand(batch, -1)
            backpointers.append(torch.where(keep, step_from, identity))
        current = (best + self.end).argmax(dim=1)
        path = [current]
        for pointers in reversed(backpointers):
            current = pointers.gather(1, current.unsqueeze(1)).squeeze(1)
            path.append(current)
        tags = torch.stack(path[::-1], dim=1).tolist()
        lengths = mask.sum(1).tolist()
        return [row[:length] for row, length in zip(tags, lengths)]


class CrfTaggingHead(nn.Module):
    """Emission scores from each word's first subword, a CRF on top; loss = mean negative log-likelihood.

    Label id 0 must be the outside tag "O": gold ids of IGNORE (padding, or a tag unseen in training) are
    read as 0 so that the CRF always scores a complete sequence; padding itself is masked out.
    """

    def __init__(self, hidden_size: int, labels: list[str], dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.emissions = nn.Linear(hidden_size, len(labels))
        self.crf = ConditionalRandomField(labels)

    def forward(self, hidden: torch.Tensor, batch: dict) -> dict:
        words = self.dropout(gather_words(hidden, batch["word_starts"]))
        output = {"emissions": self.emissions(words).float()}
        if "labels" in batch:
            tags = batch["labels"].clamp(min=0)
            output["loss"] = -self.crf.log_likelihood(output["emissions"], tags, batch["word_mask"]).mean()
        return output

    def decode(self, output: dict, batch: dict) -> list[list[int]]:
        return self.crf.viterbi(output["emissions"], batch["word_mask"])
