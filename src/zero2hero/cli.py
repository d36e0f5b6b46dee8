"""`z2h ENTRY --name value ...`: the same entry points as MLproject, flags = parameter names."""
from __future__ import annotations

import gc
import logging
import os
import sys
from importlib import import_module

from .errors import Terminated, Z2HError, raise_on_signals, signals_reported

# entry point -> "module:function" taking Params; imported only when run so `z2h --help` stays fast
RUNNERS = {
    "source": "zero2hero.stages.source:run_source",
    "evaluate": "zero2hero.stages.evaluate:run_evaluate",
    "ingest": "analysis.ingest:ingest_entry",
    "analysis": "analysis.entry:analysis_entry",
    "budget": "analysis.budget_run:budget_entry",
    "few_shot": "zero2hero.stages.few_shot:run_few_shot",
    "search": "zero2hero.stages.search:run_search",
    "grid": "zero2hero.stages.grid:run_grid",
}

USAGE = """usage: z2h ENTRY [--name value ...]

Entry points (the same as `mlflow run . -e ENTRY -P name=value --env-manager local`):
{entries}

`z2h ENTRY --help` lists an entry point's parameters."""


def _setup_environment() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("urllib3", "httpx", "filelock", "alembic", "mlflow.store", "mlflow.tracking", "mlflow.models",
                  "torch"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .tracking.server import tracking_uri

    tracking_uri()


def _mark_mlflow_run_failed(entry: str, exc: Z2HError) -> None:
    """Under `mlflow run` the run exists before the entry point starts; an error raised before a stage attached
    to it (a bad parameter, a refused storage URL) still leaves it FAILED with `z2h.stage` and `z2h.error`."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id or not os.environ.get("MLFLOW_TRACKING_URI"):
        return
    import contextlib

    from .tracking.runs import quick_requests

    with contextlib.suppress(Exception), quick_requests():  # an unreachable server: no minutes of retries
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        run = client.get_run(run_id)
        if run.info.lifecycle_stage == "deleted" or "z2h.error" in run.data.tags:
            return  # deleted on purpose (a logged secret), or the stage has already recorded its failure
        tags = {"z2h.error": str(exc)[:4000]}
        if "z2h.stage" not in run.data.tags:
            tags["z2h.stage"] = entry
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
        if run.info.status == "RUNNING":
            client.set_terminated(run_id, "FAILED")


def run_entry(entry: str, argv: list[str]) -> int:
    """Parse and run one entry point; user errors print one line on stderr and return 2."""
    from .config import build_help, parse_params

    if entry not in RUNNERS:
        print(f"z2h: unknown entry point {entry!r}; valid: {', '.join(RUNNERS)}", file=sys.stderr)
        return 2
    if any(arg in ("-h", "--help") for arg in argv):
        build_help(entry).print_help()
        return 0
    raise_on_signals()
    try:
        params = parse_params(entry, argv)
        _setup_environment()
        module_name, function_name = RUNNERS[entry].split(":")
        getattr(import_module(module_name), function_name)(params)
    except Z2HError as exc:
        print(f"z2h {entry}: error: {exc}", file=sys.stderr)
        _mark_mlflow_run_failed(entry, exc)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, or Terminated: SIGTERM
        signals_reported()
        if isinstance(exc, Terminated):
            print(f"z2h {entry}: terminated (SIGTERM); finished runs are kept, the open ones ended KILLED",
                  file=sys.stderr)
            return 143
        print(f"z2h {entry}: interrupted", file=sys.stderr)
        return 130
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE.format(entries="\n".join(f"  {name}" for name in RUNNERS)))
        return 0 if argv else 2
    return run_entry(argv[0], argv[1:])


def finish(code: int) -> None:
    """End the program with exit status `code`, without the garbage collection Python runs over every object left
    at exit (after importing torch, MLflow and pandas: about a second of each entry point's run). Everything of a
    run is closed and written by then; atexit handlers (MLflow's logging queues) still run."""
    gc.freeze()
    sys.exit(code)


def console() -> None:
    """The `z2h` program."""
    finish(main())


if __name__ == "__main__":
    console()
