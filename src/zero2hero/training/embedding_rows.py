"""Train only the word-embedding rows the training data can reach, with the same math as the full matrix.

With AdamW and no weight decay, a row that no training input ever looks up keeps a zero gradient, zero moments
and so a zero update at every step: it never changes. Training the full matrix still pays for it at every step
(a dense gradient, clipping and an AdamW pass over all of it: 11.7M of MiniLM's 22.7M weights, 192M of
XLM-R base's 278M). So for the training run the encoder looks its inputs up in a small matrix of just the
rows the training features contain (plus padding); AdamW, clipping and the gradient then cover those rows
only, and the rows are written back when training ends. Every row gets the update it would get in the full
matrix (untouched rows: exactly none), up to float rounding in the gradient norm (tests/unit/test_loss_curve.py).

Not used where it would change the math (weight decay, which moves every row; an embedding with max_norm,
scale_grad_by_freq or sparse gradients; a matrix shared with another weight) or gain nothing.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


class TrainedRows(nn.Module):
    """Stands in for an nn.Embedding during training: looks ids up in a copy of `rows` of its matrix only."""

    def __init__(self, full: nn.Embedding, rows: torch.Tensor):
        super().__init__()
        self.full, self.rows = [full], rows  # a list: the full matrix stays out of parameters and state_dict
        self.weight = nn.Parameter(full.weight.detach()[rows].clone())
        index = torch.full((full.num_embeddings,), -1, dtype=torch.long, device=rows.device)
        index[rows] = torch.arange(len(rows), device=rows.device)
        self.register_buffer("index", index, persistent=False)
        pad = full.padding_idx
        self.padding_idx = int(index[pad]) if pad is not None and int(index[pad]) >= 0 else None

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # an id outside the rows maps to -1, which F.embedding refuses (IndexError on CPU, an assert on CUDA)
        return F.embedding(self.index[ids], self.weight, self.padding_idx)

    @torch.no_grad()
    def write_back(self) -> nn.Embedding:
        full = self.full[0]
        full.weight[self.rows] = self.weight.to(full.weight.dtype)
        return full


def _usable(model, embedding, features: list[dict], config) -> bool:
    if config.weight_decay or config.freeze_embeddings or type(embedding) is not nn.Embedding:
        return False
    if embedding.max_norm is not None or embedding.scale_grad_by_freq or embedding.sparse:
        return False
    if not embedding.weight.requires_grad or not all("input_ids" in feature for feature in features):
        return False
    pointer = embedding.weight.data_ptr()  # tied to an output layer or another weight: leave it alone
    return sum(parameter.data_ptr() == pointer for parameter in model.parameters()) == 1


class ReachableRowsOnly:
    """`with ReachableRowsOnly(model, features, tokenizer, config) as rows:` trains `model.encoder`'s input
    embedding as a TrainedRows over the rows that `features` (and padding) use; on exit those rows are back in
    the full matrix. `with rows.full_matrix():` scores on any input in between (a dev set). A no-op where it
    would not be exact or gain nothing."""

    def __init__(self, model, features: list[dict], tokenizer, config):
        self.encoder, self.stand_in = model.encoder, None
        embedding = self.encoder.get_input_embeddings() if hasattr(self.encoder, "get_input_embeddings") else None
        if embedding is None or not _usable(model, embedding, features, config):
            return
        ids = {token for feature in features for token in feature["input_ids"]}
        ids.update(i for i in (tokenizer.pad_token_id, embedding.padding_idx) if i is not None)
        if len(ids) < 0.9 * embedding.num_embeddings:  # most rows reachable: nothing to gain
            rows = torch.tensor(sorted(ids), dtype=torch.long, device=embedding.weight.device)
            self.stand_in = TrainedRows(embedding, rows)

    @property
    def active(self) -> bool:
        return self.stand_in is not None

    def __enter__(self) -> "ReachableRowsOnly":
        if self.active:
            try:
                self.encoder.set_input_embeddings(self.stand_in)
            except (NotImplementedError, AttributeError):  # an encoder that cannot swap its embedding: train it whole
                self.stand_in = None
        return self

    def __exit__(self, *exc) -> None:
        if self.active:
            self.encoder.set_input_embeddings(self.stand_in.write_back())

    @contextlib.contextmanager
    def full_matrix(self):
        """The full matrix, with the trained rows written in, for the duration of the block."""
        if not self.active:
            yield
            return
        self.__exit__()
        try:
            yield
        finally:
            self.__enter__()
