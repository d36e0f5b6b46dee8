"""The `analysis` entry point. It asks the tracking server for the experiment's runs before it imports the
analysis itself (scipy, matplotlib, the task registry) and reads lang2vec's files, so that the server searches
while this process gets ready; for 10,000 runs the search is most of the server's work (benchmarks/README.md,
analysis of 10,000 runs)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from mlflow import MlflowClient

from zero2hero.tracking.server import check_tracking_server

from . import collect


def analysis_entry(params) -> dict[str, str]:
    """The `analysis` entry point (parameters parsed by zero2hero.config)."""
    check_tracking_server()
    client = MlflowClient()
    found = collect.resolve_experiment(params.experiment, client)
    with ThreadPoolExecutor(1, thread_name_prefix="z2h-search") as pool:
        runs = pool.submit(collect.collect_runs, found.experiment_id, client)
        from .main import run_analysis  # the slow imports, while the server searches

        paths = run_analysis(params.experiment, params.source_lang, params.features, params.costs or None,
                             params.output_dir, params.size_corpus or None, runs=runs)
    print(f"analysis of {params.experiment!r}: report {paths['report']}")
    for name in ("correlations", "regression", "few_shot", "costs"):
        print(f"  {name}: {paths[name]}")
    return paths
