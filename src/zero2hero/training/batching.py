"""Batches of similar length with dynamic padding.

Random batches pad to ~2.6x the real tokens on UD; grouping by length within shuffled chunks keeps
the randomness of batch order while padding each batch only to its own longest member.
"""
from __future__ import annotations

import random
from typing import Iterator

CHUNK_BATCHES = 50  # batches per sorted chunk: large enough to group lengths, small enough to stay random


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int | None, group: bool = True) -> list[list[int]]:
    """Index batches: shuffled (when seed is given), sorted by length within chunks, batch order shuffled.

    With seed=None (evaluation) the batches simply follow length order, which is the cheapest padding.
    group=False gives plain random batches (for comparison in benchmarks).
    """
    indices = list(range(len(lengths)))
    if seed is None:
        indices.sort(key=lambda i: lengths[i])
        return [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    rng = random.Random(seed)
    rng.shuffle(indices)
    chunk = batch_size * CHUNK_BATCHES if group else batch_size
    batches = []
    for start in range(0, len(indices), chunk):
        part = sorted(indices[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def iterate_batches(task, features, tokenizer, batches: list[list[int]], device) -> Iterator[tuple[list[int], dict]]:
    """Yield (indices, collated batch on `device`) for each index batch."""
    for indices in batches:
        batch = task.collate([features[i] for i in indices], tokenizer)
        yield indices, {key: value.to(device) for key, value in batch.items()}
