"""Batches of similar length with dynamic padding.

Random batches pad to ~2.6x the real tokens on UD; grouping by length within shuffled chunks keeps
the randomness of batch order while padding each batch only to its own longest member.
"""
from __future__ import annotations

import math
import random
from typing import Iterator

CHUNK_BATCHES = 50  # batches per sorted chunk: large enough to group lengths, small enough to stay random


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int, group: bool = True) -> list[list[int]]:
    """Training batches: shuffled, sorted by length within chunks, batch order shuffled (evaluation batches:
    `evaluation_batches`). group=False gives plain random batches (for comparison in benchmarks).
    """
    indices = list(range(len(lengths)))
    rng = random.Random(seed)
    rng.shuffle(indices)
    chunk = batch_size * CHUNK_BATCHES if group else batch_size
    batches = []
    for start in range(0, len(indices), chunk):
        part = sorted(indices[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def micro_batches(indices: list[int], lengths: list[int], grad_accum: int, overhead: int | None) -> list[list[int]]:
    """One optimizer step's examples as the micro-batches to run forward and backward, at most
    ceil(len / grad_accum) examples each.

    With `overhead` (what one more forward and backward costs, in padded tokens) the batch is cut, in length
    order, where that minimises the padded tokens plus the overhead per micro-batch: ten few-shot sentences of
    8 to 60 subwords pad to about twice their tokens as one batch. The loop weights each micro-batch by its share
    of the loss's items, so the step's gradient is the batch's (training/loop.py). Without it: consecutive slices.
    """
    most = math.ceil(len(indices) / grad_accum)
    if overhead is None or len(indices) < 2:
        return [indices[i : i + most] for i in range(0, len(indices), most)]
    order = sorted(indices, key=lambda i: lengths[i])
    cost, cut = [0.0] + [math.inf] * len(order), [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):  # cost[end]: the cheapest cutting of the `end` shortest examples
        for start in range(max(0, end - most), end):
            value = cost[start] + overhead + (end - start) * lengths[order[end - 1]]
            if value < cost[end]:
                cost[end], cut[end] = value, start
    parts, end = [], len(order)
    while end:
        parts.append(order[cut[end] : end])
        end = cut[end]
    return parts[::-1]


def evaluation_batches(lengths: list[int], batch_size: int, max_tokens: int | None = None) -> list[list[int]]:
    """Index batches in length order, each of at most `batch_size` examples and, with `max_tokens`, at most that
    many tokens once padded to its longest member (an example longer than that is a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches, batch = [], []
    for index in order:
        if batch and (len(batch) == batch_size or (max_tokens and (len(batch) + 1) * lengths[index] > max_tokens)):
            batches.append(batch)
            batch = []
        batch.append(index)
    return batches + ([batch] if batch else [])


def iterate_batches(task, features, tokenizer, batches: list[list[int]], device) -> Iterator[tuple[list[int], dict]]:
    """Yield (indices, collated batch on `device`) for each index batch."""
    for indices in batches:
        batch = task.collate([features[i] for i in indices], tokenizer)
        yield indices, {key: value.to(device) for key, value in batch.items()}
