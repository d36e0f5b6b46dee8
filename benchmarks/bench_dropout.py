"""The loop's seeded CPU dropout masks (training/dropout.py) against torch's own, alternating in one process.

Two measurements, each setting alternating with the other (the order reversed every other repeat), medians of the
per-repeat ratios: (1) one epoch of the project's loop (UD English POS, all-MiniLM-L6-v2, length-grouped batches,
as in bench_training.py) with the loop's masks and with torch's; (2) one forward and backward pass of the encoder
alone in training mode on random ids, 32 sequences of 128 subwords and 8 of 384 (one sequence half padding).
torch's CPU dropout draws element by element on one thread (MKL's generator on Intel CPUs only), and its share
grows with the attention matrices, so with the sequence length.

    .venv/bin/python benchmarks/bench_dropout.py [--sentences 320] [--repeats 12] [--threads N]
"""
from __future__ import annotations

import contextlib
import statistics
import time

import torch
from common import arguments, fresh_setup, load_examples, minilm_dir, real_tokens

from zero2hero.training import loop
from zero2hero.training.dropout import seeded_masks

CPU = torch.device("cpu")


def epoch(examples, batch_size: int, torch_masks: bool) -> tuple[float, float]:
    """(real tokens/s, mean train loss) of one epoch of the loop on a fresh model."""
    task, model, tokenizer, features, config = fresh_setup(examples, batch_size)
    original = loop.seeded_masks
    if torch_masks:
        loop.seeded_masks = lambda *args: contextlib.nullcontext()
    try:
        started = time.perf_counter()
        result = loop.train(model, task, tokenizer, features, config, progress=False)
        return real_tokens(task, features) / (time.perf_counter() - started), result.train_losses[-1]
    finally:
        loop.seeded_masks = original


def alternate(run, repeats: int) -> tuple[list, list]:
    """run(torch_masks) for both settings, alternating; (torch's, the loop's) results."""
    results = {True: [], False: []}
    for repeat in range(repeats):
        for torch_masks in ((True, False) if repeat % 2 == 0 else (False, True)):
            results[torch_masks].append(run(torch_masks))
    return results[True], results[False]


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    examples = load_examples(args.data_dir, args.sentences)
    epoch(examples, args.batch_size, False)  # warm-up: caches, allocator
    torch_side, loop_side = alternate(lambda torch_masks: epoch(examples, args.batch_size, torch_masks), args.repeats)
    print(f"\none epoch, {args.sentences} sentences, {args.repeats} repeats: torch's masks "
          f"{statistics.median(t for t, _ in torch_side):.0f} real tokens/s (loss {torch_side[0][1]:.4f}), the loop's "
          f"{statistics.median(t for t, _ in loop_side):.0f} (loss {loop_side[0][1]:.4f}): "
          f"{statistics.median(b[0] / a[0] for a, b in zip(torch_side, loop_side)):.2f}x")

    from transformers import AutoModel

    encoder = AutoModel.from_pretrained(minilm_dir())
    encoder.train()
    holder = torch.nn.Module()
    holder.encoder = encoder
    generator = torch.Generator().manual_seed(1)
    for length, batch in ((128, 32), (384, 8)):
        ids = torch.randint(1000, 20000, (batch, length), generator=generator)
        attention = torch.ones(batch, length, dtype=torch.long)
        attention[0, length // 2 :] = 0

        def step(torch_masks: bool) -> float:
            with contextlib.nullcontext() if torch_masks else seeded_masks(holder, 1, CPU):
                started = time.perf_counter()
                encoder(input_ids=ids, attention_mask=attention).last_hidden_state.pow(2).mean().backward()
                return time.perf_counter() - started

        step(False), step(True)
        torch_side, loop_side = alternate(step, max(args.repeats, 8))
        print(f"forward and backward, {batch} x {length} subwords: torch's masks {statistics.median(torch_side):.3f} s, "
              f"the loop's {statistics.median(loop_side):.3f} s: "
              f"{statistics.median(a / b for a, b in zip(torch_side, loop_side)):.2f}x")


if __name__ == "__main__":
    main()
