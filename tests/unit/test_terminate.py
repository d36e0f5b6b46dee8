"""SIGTERM and Ctrl-C are never lost: the handler raises `Terminated` or `KeyboardInterrupt` wherever the main
thread is, and where that raise lands in a finalizer Python only prints "Exception ignored"; the loops raise it
again at their next step."""
from __future__ import annotations

import subprocess
import sys

import pytest

from zero2hero import errors
from zero2hero.data.conllu_reader import read_conllu
from zero2hero.errors import Terminated
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.training.config import TrainConfig
from zero2hero.training.evaluator import evaluate
from zero2hero.training.loop import train

SWALLOWED = """
import os, signal
from zero2hero.errors import raise_if_terminated, raise_on_signals
raise_on_signals()

class Bar:  # like a progress bar that closes itself when collected
    def __del__(self):
        os.kill(os.getpid(), signal.{name})
        sum(range(100_000))  # the handler runs here, inside the finalizer

Bar()
print("went on", flush=True)
try:
    raise_if_terminated()
except KeyboardInterrupt as exc:  # Terminated is one too
    print("raised again:", type(exc).__name__, flush=True)
"""


@pytest.mark.parametrize("name, raised", [("SIGTERM", "Terminated"), ("SIGINT", "KeyboardInterrupt")])
def test_a_signal_raised_inside_a_finalizer_is_raised_again(name, raised):
    result = subprocess.run([sys.executable, "-c", SWALLOWED.replace("{name}", name)], capture_output=True,
                            text=True, timeout=120)
    assert "Exception ignored" in result.stderr and raised in result.stderr  # what Python does with it
    assert result.stdout.split("\n")[:2] == ["went on", f"raised again: {raised}"]


def test_training_and_scoring_stop_at_their_next_step_once_a_signal_came(tiny_bert, data_dir, monkeypatch):
    task = get_task("pos")
    examples = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-dev.conllu")[:16]
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(examples), 64)
    features = task.encode(examples, tokenizer, model.meta, training=True)
    config = TrainConfig(lr=1e-3, epochs=1, batch_size=8, max_length=64, seed=1)
    train(model, task, tokenizer, features, config, progress=False)  # no signal: it runs
    monkeypatch.setattr(errors, "_RECEIVED", [15])  # a SIGTERM whose raise was lost
    with pytest.raises(Terminated):
        train(model, task, tokenizer, features, config, progress=False)
    with pytest.raises(Terminated):
        evaluate(model, task, tokenizer, examples)
    monkeypatch.setattr(errors, "_RECEIVED", [2])  # a Ctrl-C whose raise was lost
    with pytest.raises(KeyboardInterrupt) as stopped:
        train(model, task, tokenizer, features, config, progress=False)
    assert type(stopped.value) is KeyboardInterrupt
