"""Tracking overhead of training: the loop with per-step asynchronous MLflow logging against the loop without it.

A real `mlflow server` (SQLite, local) serves one run; inside it, one epoch is trained with the project's
`MlflowTrainingLogger` (train_loss and lr every step, asynchronously, flushed at the end) and one without any
callback, alternating, on the same fresh model each time. Two figures: the end-to-end slowdown (median of the
paired ratios; it includes the logging thread's CPU use and the final flush) and the time spent inside the
callback's `on_step` itself, as a share of the step time.

    .venv/bin/python benchmarks/bench_tracking.py [--sentences 640] [--batch_size 32] [--repeats 3]
"""
from __future__ import annotations

import tempfile
import time

import mlflow
from common import arguments, fresh_setup, load_examples, median

from zero2hero.tracking.local_server import LocalMlflowServer
from zero2hero.tracking.runs import MlflowTrainingLogger
from zero2hero.training.callbacks import Callback
from zero2hero.training.loop import train


class Timed(Callback):
    """Forwards to `inner` and adds up the seconds its hooks take in the training thread."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def _timed(self, hook, *args):
        started = time.perf_counter()
        getattr(self.inner, hook)(*args)
        self.seconds += time.perf_counter() - started

    def on_train_begin(self, total_steps):
        self._timed("on_train_begin", total_steps)

    def on_step(self, step, loss, lr):
        self._timed("on_step", step, loss, lr)

    def on_epoch_end(self, epoch, dev_score, train_loss):
        self._timed("on_epoch_end", epoch, dev_score, train_loss)

    def on_train_end(self, result):
        self._timed("on_train_end", result)


def epoch_seconds(examples, batch_size: int, logged: bool) -> tuple[float, float]:
    """(wall seconds of train(), seconds inside the logger's hooks) for one epoch."""
    task, model, tokenizer, features, config = fresh_setup(examples, batch_size)
    callbacks = [Timed(MlflowTrainingLogger())] if logged else []
    started = time.perf_counter()
    train(model, task, tokenizer, features, config, callbacks=callbacks, progress=False)
    return time.perf_counter() - started, callbacks[0].seconds if callbacks else 0.0


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    examples = load_examples(args.data_dir, args.sentences)
    with tempfile.TemporaryDirectory() as root, LocalMlflowServer(root) as server:
        mlflow.set_tracking_uri(server.uri)
        mlflow.set_experiment("bench-tracking")
        with mlflow.start_run():
            ratios, hook_shares = [], []
            for repeat in range(args.repeats):
                order = (False, True) if repeat % 2 == 0 else (True, False)
                seconds = {}
                for logged in order:
                    seconds[logged] = epoch_seconds(examples, args.batch_size, logged)
                ratios.append(seconds[True][0] / seconds[False][0])
                hook_shares.append(seconds[True][1] / seconds[True][0])
                print(f"  repeat {repeat + 1}: without {seconds[False][0]:.2f} s, with logging {seconds[True][0]:.2f} s "
                      f"({seconds[True][1] * 1000:.1f} ms inside the hooks)", flush=True)
    print(f"\nend-to-end slowdown with per-step async logging: {100 * (median(ratios) - 1):+.2f}% (median of {len(ratios)})")
    print(f"time inside the logging hooks: {100 * median(hook_shares):.2f}% of the training time")


if __name__ == "__main__":
    main()
