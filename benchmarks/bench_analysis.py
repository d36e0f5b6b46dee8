"""The analysis at scale: a real MLflow server filled with 10,000 result runs, `z2h analysis` timed end to end.

The runs have the shape the platform gives them (zero-shot `evaluate` runs and `few_shot` runs of UD POS, two
models, the 12 target languages, k up to 1000 × 3 samplings × many seeds, each with its params, `score`, the
`z2h.shots` and `z2h.shots_tokens` tags and config tags). They are written with one create_run + log_batch +
set_terminated per run over 8 threads (not timed). A second experiment holds a few hundred runs of the shape
logged before `z2h.shots_tokens` existed (only shots.jsonl), analysed beside the same runs with the tag: the
per-run cost of the artifact download the hot path no longer makes. SQLite backend, artifacts served by the
server (tracking.local_server). Usage:

    .venv/bin/python benchmarks/bench_analysis.py [--runs 10000] [--old_runs 300]
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from zero2hero.languages import TASK_TARGETS
from zero2hero.tracking.local_server import LocalMlflowServer
from zero2hero.tracking.queries import config_tags

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODELS = ("bert-base-multilingual-cased", "xlm-roberta-base")
KS = (10, 50, 100, 200, 500, 1000)
SAMPLINGS = ("random", "shortest", "longest")


def cells(count: int):
    """(model, lang, k, sampling, seed) of `count` result runs: each (model, lang) has its zero-shot run, then
    few-shot runs seed after seed."""
    units = [(model, lang) for model in MODELS for lang in TASK_TARGETS["pos"]]
    yield from ((model, lang, 0, "", 0) for model, lang in units)
    for seed in itertools.count(1):
        for (model, lang), k, sampling in itertools.product(units, KS, SAMPLINGS):
            yield model, lang, k, sampling, seed


def log_run(client: MlflowClient, experiment_id: str, cell: tuple, tagged: bool) -> None:
    model, lang, k, sampling, seed = cell
    rng = random.Random(str(cell))
    zero = 40 + 3 * TASK_TARGETS["pos"].index(lang) + (5 if model.startswith("xlm") else 0)
    score = min(99.0, zero + (0 if k == 0 else 4 * (1 + KS.index(k))) + rng.gauss(0, 1))
    stage = "evaluate" if k == 0 else "few_shot"
    params = {"task": "pos", "model": model, "model_name": model.split("-")[0], "lang": lang}
    if k:
        params.update(k=k, sampling=sampling, seed=seed, epochs=10, lr=2e-5)
    tags = {"z2h.stage": stage, **config_tags(params)}
    if k:
        tags["z2h.shots"] = "shots.jsonl"
    now = int(time.time() * 1000)
    run = client.create_run(experiment_id, start_time=now, tags=tags)
    tokens = [rng.randint(5, 40) for _ in range(k)]
    if k and tagged:
        tags["z2h.shots_tokens"] = str(sum(tokens))
    metrics = [Metric("score", score, now, 0)]
    client.log_batch(run.info.run_id, metrics=metrics, params=[Param(key, str(v)) for key, v in params.items()],
                     tags=[RunTag("mlflow.runName", f"{stage}/pos/{lang}/k={k}")])
    if k and not tagged:  # a run of before the tag: the analysis must read its shots.jsonl
        client.log_text(run.info.run_id, "".join(f'{{"index": {i}, "id": "s{i}", "n_tokens": {n}}}\n'
                                                 for i, n in enumerate(tokens)), "shots.jsonl")
    client.set_terminated(run.info.run_id, "FINISHED", end_time=now + 60_000)


def fill(client: MlflowClient, name: str, count: int, tagged: bool) -> float:
    experiment_id = client.create_experiment(name)
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda cell: log_run(client, experiment_id, cell, tagged), itertools.islice(cells(count), count)))
    return time.perf_counter() - started


def analysis(experiment: str, env: dict, out: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run([str(BIN / "z2h"), "analysis", "--experiment", experiment, "--output_dir", str(out)],
                            cwd=out.parent, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"analysis failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--old_runs", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalMlflowServer(Path(tmp) / "server") as server:
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
        client = MlflowClient(server.uri)
        seconds = fill(client, "bench-10k", args.runs, tagged=True)
        print(f"filled {args.runs} runs in {seconds:.0f} s", flush=True)
        fill(client, "bench-new", args.old_runs, tagged=True)
        fill(client, "bench-old", args.old_runs, tagged=False)
        big = analysis("bench-10k", env, Path(tmp) / "out-10k")
        print(f"analysis of {args.runs} runs: {big:.1f} s", flush=True)
        new = analysis("bench-new", env, Path(tmp) / "out-new")
        old = analysis("bench-old", env, Path(tmp) / "out-old")
        print(f"{args.old_runs} runs: z2h.shots_tokens tag {new:.1f} s, shots.jsonl downloads {old:.1f} s: "
              f"downloads / tag = {old / new:.2f}")
        print(f"\nanalysis of {args.runs} runs {big:.1f} s; {args.old_runs} runs {new:.1f} s: "
              f"{args.runs // args.old_runs}x the runs take {big / new:.2f}x the time")


if __name__ == "__main__":
    main()
