"""`torch.compile` of the encoder against eager, the project's loop on both, in one process.

Same model, data, batch, lr and seed as bench_training.py (UD English POS, all-MiniLM-L6-v2, length-grouped
batches). Each setting trains a fresh model for one epoch twice in a row: the first epoch of the compiled model
includes compiling (shapes vary from batch to batch, so `dynamic=True`), the second shows its steady state.
Usage:

    .venv/bin/python benchmarks/bench_compile.py [--sentences 640] [--batch_size 32] [--threads N]
"""
from __future__ import annotations

import time

from common import arguments, fresh_setup, load_examples, real_tokens

from zero2hero.training.loop import train


def epochs(examples, batch_size: int, compiled: bool) -> list[tuple[float, float]]:
    """(real tokens/s, mean train loss) of two consecutive epochs of one fresh model."""
    task, model, tokenizer, features, config = fresh_setup(examples, batch_size)
    if compiled:
        model.encoder.compile(dynamic=True)  # in place: parameter names (and so checkpoints) stay the same
    figures = []
    for _ in range(2):
        started = time.perf_counter()
        result = train(model, task, tokenizer, features, config, progress=False)
        figures.append((real_tokens(task, features) / (time.perf_counter() - started), result.train_losses[-1]))
    return figures


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    examples = load_examples(args.data_dir, args.sentences)
    eager, compiled = epochs(examples, args.batch_size, False), epochs(examples, args.batch_size, True)
    print(f"\n{'setting':<36}{'epoch 1 tok/s':>14}{'epoch 2 tok/s':>14}{'x eager (2)':>12}{'loss (1)':>10}")
    for name, figures in (("eager", eager), ("torch.compile(dynamic=True)", compiled)):
        print(f"{name:<36}{figures[0][0]:>14.0f}{figures[1][0]:>14.0f}{figures[1][0] / eager[1][0]:>11.2f}x"
              f"{figures[0][1]:>10.4f}")


if __name__ == "__main__":
    main()
