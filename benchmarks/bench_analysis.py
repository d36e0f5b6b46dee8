"""The analysis at scale: a real MLflow server filled with 10,000 result runs, `z2h analysis` timed end to end.

The runs have the shape the platform gives them (zero-shot `evaluate` runs and `few_shot` runs of UD POS, two
models, the 12 target languages, k up to 1000 × 3 samplings × many seeds, each with its params, `score`, the
`z2h.shots` and `z2h.shots_tokens` tags and config tags), written in one transaction into the server's store
(not timed; through the API they would take minutes). Two more experiments hold a few hundred runs each logged
through the tracking API with their shots.jsonl, with and without the `z2h.shots_tokens` tag (the shape logged
before the tag existed): analysed side by side, they give the cost of the per-run artifact downloads that the
hot path no longer makes. SQLite backend, artifacts served by the
server (tracking.local_server). The 10,000-run analysis is timed side by side on the server zero2hero runs
(`mlflow server --app-name z2h`, tracking.server_app) and on plain `mlflow server`, each freshly filled, alternating
`--repeats` times. Usage:

    .venv/bin/python benchmarks/bench_analysis.py [--runs 10000] [--old_runs 200] [--repeats 1]
"""
from __future__ import annotations

import argparse
import itertools
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from zero2hero.tasks import task_class
from zero2hero.tracking.local_server import LocalMlflowServer
from zero2hero.tracking.queries import config_tags

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODELS = ("bert-base-multilingual-cased", "xlm-roberta-base")
KS = (10, 50, 100, 200, 500, 1000)
SAMPLINGS = ("random", "shortest", "longest")
POS_TARGETS = tuple(task_class("pos").targets)


def cells(count: int):
    """(model, lang, k, sampling, seed) of `count` result runs: each (model, lang) has its zero-shot run, then
    few-shot runs seed after seed."""
    units = [(model, lang) for model in MODELS for lang in POS_TARGETS]
    yield from ((model, lang, 0, "", 0) for model, lang in units)
    for seed in itertools.count(1):
        for (model, lang), k, sampling in itertools.product(units, KS, SAMPLINGS):
            yield model, lang, k, sampling, seed


def run_record(cell: tuple, tagged: bool) -> tuple[dict, dict, float, list[int]]:
    """(params, tags, score, shot token counts) of one result run."""
    model, lang, k, sampling, seed = cell
    rng = random.Random(str(cell))
    zero = 40 + 3 * POS_TARGETS.index(lang) + (5 if model.startswith("xlm") else 0)
    score = min(99.0, zero + (0 if k == 0 else 4 * (1 + KS.index(k))) + rng.gauss(0, 1))
    stage = "evaluate" if k == 0 else "few_shot"
    params = {"task": "pos", "model": model, "model_name": model.split("-")[0], "lang": lang}
    if k:
        params.update(k=k, sampling=sampling, seed=seed, epochs=10, lr=2e-5)
    tags = {"z2h.stage": stage, "mlflow.runName": f"{stage}/pos/{lang}/k={k}", **config_tags(params)}
    tokens = [rng.randint(5, 40) for _ in range(k)]
    if k:
        tags["z2h.shots"] = "shots.jsonl"
    if k and tagged:
        tags["z2h.shots_tokens"] = str(sum(tokens))
    return {key: str(value) for key, value in params.items()}, tags, score, tokens


def log_run(client: MlflowClient, experiment_id: str, cell: tuple, tagged: bool) -> None:
    """One run through the tracking API, as the platform logs it (with shots.jsonl)."""
    params, tags, score, tokens = run_record(cell, tagged)
    now = int(time.time() * 1000)
    run = client.create_run(experiment_id, start_time=now, tags=tags)
    client.log_batch(run.info.run_id, metrics=[Metric("score", score, now, 0)],
                     params=[Param(key, value) for key, value in params.items()])
    if tokens:
        client.log_text(run.info.run_id, "".join(f'{{"index": {i}, "id": "s{i}", "n_tokens": {n}}}\n'
                                                 for i, n in enumerate(tokens)), "shots.jsonl")
    client.set_terminated(run.info.run_id, "FINISHED", end_time=now + 60_000)


def fill_api(client: MlflowClient, name: str, count: int, tagged: bool) -> None:
    experiment_id = client.create_experiment(name)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda cell: log_run(client, experiment_id, cell, tagged), itertools.islice(cells(count), count)))


def fill_store(client: MlflowClient, db: Path, name: str, count: int) -> float:
    """`count` tagged runs written into the server's SQLite store in one transaction (the rows MLflow's own
    store writes for create_run + log_batch + set_terminated), for a fill of seconds instead of minutes."""
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    started = time.perf_counter()
    experiment = client.get_experiment(client.create_experiment(name))
    store = SqlAlchemyStore(f"sqlite:///{db}", str(db.parent / "artifacts"))
    now = int(time.time() * 1000)
    with store.ManagedSessionMaker() as session:
        for cell in itertools.islice(cells(count), count):
            params, tags, score, _ = run_record(cell, tagged=True)
            run_id = uuid.uuid4().hex
            session.add(SqlRun(run_uuid=run_id, name=tags["mlflow.runName"], source_type="LOCAL", source_name="",
                               entry_point_name="", user_id="bench", status="FINISHED", start_time=now,
                               end_time=now + 60_000, source_version="", lifecycle_stage="active",
                               artifact_uri=f"{experiment.artifact_location}/{run_id}/artifacts",
                               experiment_id=int(experiment.experiment_id)))
            session.add_all([SqlTag(key=key, value=value, run_uuid=run_id) for key, value in tags.items()])
            session.add_all([SqlParam(key=key, value=value, run_uuid=run_id) for key, value in params.items()])
            for table in (SqlMetric, SqlLatestMetric):
                session.add(table(key="score", value=score, timestamp=now, step=0, is_nan=False, run_uuid=run_id))
    return time.perf_counter() - started


def analysis(experiment: str, env: dict, out: Path, profile: Path | None = None) -> float:
    started = time.perf_counter()
    command = [str(BIN / "z2h"), "analysis", "--experiment", experiment, "--output_dir", str(out)]
    if profile:
        command = [sys.executable, "-m", "cProfile", "-o", str(profile), *command]
    result = subprocess.run(command, cwd=out.parent, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"analysis failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def analysis_env(uri: str) -> dict:
    """The environment an analysis subprocess runs in against the server at `uri`."""
    return {**os.environ, "MLFLOW_TRACKING_URI": uri, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1",
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}


def timed_on_server(root: Path, app: str | None, runs: int, profile: str = "") -> float:
    """A fresh server (`--app-name app`, or plain `mlflow server`) filled with `runs` runs; the analysis timed."""
    with LocalMlflowServer(root / "server", app=app) as server:
        seconds = fill_store(MlflowClient(server.uri), server.root / "mlflow.db", "bench-10k", runs)
        print(f"{app or 'plain'} server: filled {runs} runs in {seconds:.0f} s", flush=True)
        return analysis("bench-10k", analysis_env(server.uri), root / "out-10k", Path(profile) if profile else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--old_runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1, help="analyses of the --runs runs on each server")
    parser.add_argument("--profile", action="store_true", help="profile the analysis of --runs runs, then stop")
    parser.add_argument("--profile_out", default="", help="with --profile: keep the cProfile stats in this file")
    args = parser.parse_args()
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"  # the API fill below: no "View run" lines
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.profile:
            stats = args.profile_out or str(tmp / "analysis.prof")
            timed_on_server(tmp / "z2h", "z2h", args.runs, stats)
            pstats.Stats(stats).sort_stats("cumulative").print_stats(70)
            return
        times = {"z2h": [], None: []}
        for _ in range(args.repeats):  # alternating, each analysis on a freshly filled server
            for app in times:
                times[app].append(timed_on_server(tmp / f"{app}-{len(times[app])}", app, args.runs))
                print(f"analysis of {args.runs} runs, {app or 'plain mlflow'} server: {times[app][-1]:.1f} s", flush=True)
        z2h, plain = (sorted(t)[len(t) // 2] for t in times.values())
        print(f"\nanalysis of {args.runs} runs (median of {args.repeats}): {z2h:.1f} s with `--app-name z2h`, "
              f"{plain:.1f} s with plain `mlflow server`: plain / z2h = {plain / z2h:.2f}")
        if not args.old_runs:
            return
        with LocalMlflowServer(tmp / "server-old") as server:
            env = analysis_env(server.uri)
            client = MlflowClient(server.uri)
            fill_api(client, "bench-new", args.old_runs, tagged=True)
            fill_api(client, "bench-old", args.old_runs, tagged=False)
            new = analysis("bench-new", env, tmp / "out-new")
            old = analysis("bench-old", env, tmp / "out-old")
        print(f"{args.old_runs} runs: z2h.shots_tokens tag {new:.1f} s, shots.jsonl downloads {old:.1f} s: "
              f"downloads / tag = {old / new:.2f}")
        print(f"analysis of {args.runs} runs {z2h:.1f} s; {args.old_runs} runs {new:.1f} s: "
              f"{args.runs // args.old_runs}x the runs take {z2h / new:.2f}x the time")


if __name__ == "__main__":
    main()
