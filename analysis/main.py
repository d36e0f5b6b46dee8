"""The analysis entry point: `run_analysis` (docs/interface.md, Analysis outputs)."""
from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from zero2hero.tracking.runs import log_metrics, log_params

from . import collect
from .budget import validation_table
from .costs import cost_table, load_costs
from .few_shot import few_shot_table, language_curves
from .lang_features import corpus_for_model, corpus_sizes, language_features, parse_features, preload
from .intervals import add_correlation_intervals, add_few_shot_intervals
from .paired import paired_tests, report_section
from .report import write_report
from .stats import (CORRELATION_COLUMNS, MIN_LANGS, REGRESSION_COLUMNS, correlation_rows, forward_selection,
                    regression_row)
from .transfer import TransferPredictor, registered_transfer_name
from .transfer_model import prepare_model_logging, register_transfer_models

log = logging.getLogger(__name__)


def _analyse_zero_shot(zero: pd.DataFrame, features, source_lang: str, size_corpus: str | None):
    """Correlations and meta-regression for every (task, model) with at least MIN_LANGS target languages."""
    correlations, regressions, feature_tables, fits, notes = [], [], {}, {}, []
    for (task, model), group in zero.groupby(["task", "model"], sort=True):
        scores = group.set_index("lang")["score"]
        if len(scores) < MIN_LANGS:
            notes.append(f"{task}/{model}: zero-shot scores for {len(scores)} language(s) "
                         f"({', '.join(scores.index)}); at least {MIN_LANGS} needed; correlations and regression skipped")
            continue
        table, feature_notes = language_features(tuple(scores.index), model, features, source_lang, size_corpus)
        notes += [f"{task}: {note}" for note in feature_notes]
        feature_tables[(task, model)] = table
        correlations += correlation_rows(task, model, scores, table)
        fits[(task, model)] = fit = forward_selection(table, scores)
        regressions.append(regression_row(task, model, fit))
        left_out = [f for f in table.columns if f not in fit.candidates]
        if left_out:
            notes.append(f"{task}/{model}: not regression candidates (a missing value or no variation): "
                         + ", ".join(left_out))
    return (pd.DataFrame(correlations, columns=CORRELATION_COLUMNS),
            pd.DataFrame(regressions, columns=REGRESSION_COLUMNS), feature_tables, fits, notes)


def _transfer_predictors(zero, feature_tables, fits, source_lang, size_corpus) -> dict:
    """A transfer predictor per analysed (task, model): a regression where one beats the mean, else the mean."""
    predictors = {}
    for task, model in fits:
        scores = zero[(zero["task"] == task) & (zero["model"] == model)].set_index("lang")["score"]
        predictors[(task, model)] = TransferPredictor.from_analysis(
            task, model, scores, feature_tables[(task, model)], source_lang, corpus_for_model(model, size_corpus))
    return predictors


def _predictor_note(key, predictor, labels) -> str:
    fit = predictor.fit
    return (f"{key[0]}/{key[1]}: transfer predictor registered as {registered_transfer_name(*key, labels)}@latest: "
            f"{fit.basis}; 80% interval ±{fit.halfwidth:.1f} points from leave-one-out residuals"
            + "".join(f"; {note}" for note in fit.notes if note != fit.basis))


def _summary(runs: pd.DataFrame, results: pd.DataFrame, source_lang: str, features, labels: dict) -> list[str]:
    counts = results["stage"].value_counts()
    lines = [f"{len(results)} result runs ({', '.join(f'{n} {s}' for s, n in counts.items()) or 'none'}) "
             f"of {len(runs)} runs; source language `{source_lang}`; features {', '.join(features)}"]
    source = runs[(runs["stage"] == "source") & (runs["status"] == "FINISHED") & runs["score"].notna()]
    if not source.empty:
        means = source.groupby(["task", "model"])["score"].mean()
        lines.append(f"source-language ({source_lang}) reference scores: "
                     + ", ".join(f"{t}/{labels.get(m, m)} {s:.1f}" for (t, m), s in means.items()))
    return lines


def _log_analysis_run(experiment_id: str, output_dir: Path, params: dict[str, str], n_results: int,
                      predictors: dict | None = None, labels: dict | None = None) -> str:
    """Log the outputs to the active run (under `mlflow run` the project's), else to a new analysis run;
    register the transfer predictors as models of that run."""
    started = mlflow.active_run() is None
    if started:
        # MLFLOW_RUN_ID (set by `mlflow run`) makes start_run attach to the project run wherever it lives
        kwargs = {} if os.environ.get("MLFLOW_RUN_ID") else {"experiment_id": experiment_id, "run_name": "analysis"}
        mlflow.start_run(**kwargs)
    try:
        run_id = mlflow.active_run().info.run_id
        log_params(params)  # skips what `mlflow run` already logged from -P values
        log_metrics({"n_result_runs": n_results})
        mlflow.set_tags({collect.STAGE_TAG: "analysis", "mlflow.runName": f"analysis/{params['experiment']}"})
        mlflow.log_artifacts(str(output_dir))
        if predictors:
            register_transfer_models(predictors, labels or {}, params["experiment"])
    finally:
        if started:
            mlflow.end_run()
    return run_id


def run_analysis(experiment: str, source_lang: str = "en", features=("SYN", "PHON", "INV", "FAM", "GEO", "SIZE"),
                 costs: str | None = None, output_dir: str = "analysis-output",
                 size_corpus: str | None = None, runs: Future | None = None) -> dict[str, str]:
    """Analyse the results of `experiment` (name or id) and write/log the tables, plots and report.

    features: names or a comma-separated string; costs: an optional YAML file overriding the cost
    defaults; size_corpus: the SIZE corpus for models the default mapping does not know (or
    MODEL=CORPUS pairs, see analysis.lang_features.corpus_for_model); runs: the experiment's runs
    (`collect.collect_runs`) already asked for, as a Future (the entry point's), else they are searched here.
    Returns {name: path} of correlations, regression, few_shot, costs, report and each plot.
    """
    client = MlflowClient()
    found = collect.resolve_experiment(experiment, client)
    with ThreadPoolExecutor(1, thread_name_prefix="z2h-search") as pool:
        # the server searches while the settings are checked (the task registry's import is most of that), lang2vec's
        # files are read and MLflow's model logging is readied
        runs = runs or pool.submit(collect.collect_runs, found.experiment_id, client)
        features = parse_features(features)
        config = load_costs(costs)  # bad settings fail here, before any work of this process
        for part in filter(None, (size_corpus or "").split(",")):
            corpus_sizes(part.split("=", 1)[-1].strip())
        preload(features)
        prepare_model_logging()
        runs = runs.result()
    results, notes = collect.results(runs)
    zero = collect.zero_shot_scores(results, source_lang)
    correlations, regression, feature_tables, fits, more_notes = _analyse_zero_shot(zero, features, source_lang,
                                                                                     size_corpus)
    notes += more_notes
    correlations = add_correlation_intervals(correlations, zero, feature_tables)
    few, curves = few_shot_table(results, source_lang), language_curves(results, source_lang)
    few = add_few_shot_intervals(few, results, source_lang)
    validation = validation_table(curves)
    labels = collect.model_labels(runs)
    predictors = _transfer_predictors(zero, feature_tables, fits, source_lang, size_corpus)
    notes += [_predictor_note(key, predictor, labels) for key, predictor in predictors.items()]
    tokens = collect.load_shot_tokens(results, client) if config.get("use_shot_tokens") else {}
    cost = cost_table(results, few, config, tokens, source_lang)
    tests, test_notes = paired_tests(results, found.experiment_id, client)  # runs with predictions.jsonl only
    notes += test_notes

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in [("correlations", correlations), ("regression", regression), ("few_shot", few),
                        ("costs", cost), ("budget_validation", validation),
                        *([("few_shot_tests", tests)] if not tests.empty else [])]:
        paths[name] = out / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    written = write_report(out, experiment=found.name, summary=_summary(runs, results, source_lang, features, labels),
                           labels=labels,
                           zero=zero, features=feature_tables, correlations=correlations, regression=regression,
                           fits=fits, few_shot=few, curves=curves, costs=cost, notes=notes,
                           budget_validation=validation)
    paths["report"] = written[0]
    if not tests.empty:  # its own section at the end of the report
        written[0].write_text(written[0].read_text() + "\n" + report_section(tests, labels))
    paths.update({p.stem: p for p in written[1:]})
    for note in notes:
        log.info("analysis note: %s", note)
    params = {"experiment": experiment, "source_lang": source_lang, "features": ",".join(features),
              "costs": costs or "", "output_dir": str(output_dir), "size_corpus": size_corpus or ""}
    _log_analysis_run(found.experiment_id, out, params, len(results), predictors, labels)
    return {name: str(path) for name, path in paths.items()}
