"""The analysis and ingest entry points: `run_analysis` and `run_ingest` (INTERFACE.md)."""
from __future__ import annotations

import csv
import logging
import math
import os
import time
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from zero2hero.errors import DataError
from zero2hero.lang_features import corpus_for_model, corpus_sizes, language_features, parse_features
from zero2hero.languages import KNOWN_LANGS, TASK_TARGETS
from zero2hero.tracking.runs import log_metrics, log_params

from . import collect
from .budget import validation_table
from .costs import cost_table, load_costs
from .few_shot import few_shot_table, language_curves
from .intervals import add_correlation_intervals, add_few_shot_intervals
from .paired import paired_tests, report_section
from .report import write_report
from .stats import (CORRELATION_COLUMNS, MIN_LANGS, REGRESSION_COLUMNS, correlation_rows, forward_selection,
                    regression_row)
from .transfer import TransferPredictor, registered_transfer_name

log = logging.getLogger(__name__)
INGEST_COLUMNS = ("task", "model", "lang", "k", "sampling", "seed", "score")
SAMPLINGS = ("random", "shortest", "longest")


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
            from .transfer_model import register_transfer_models  # MLflow's model machinery: only when needed

            register_transfer_models(predictors, labels or {}, params["experiment"])
    finally:
        if started:
            mlflow.end_run()
    return run_id


def run_analysis(experiment: str, source_lang: str = "en", features=("SYN", "PHON", "INV", "FAM", "GEO", "SIZE"),
                 costs: str | None = None, output_dir: str = "analysis-output",
                 size_corpus: str | None = None) -> dict[str, str]:
    """Analyse the results of `experiment` (name or id) and write/log the tables, plots and report.

    features: names or a comma-separated string; costs: an optional YAML file overriding the cost
    defaults; size_corpus: the SIZE corpus for models the default mapping does not know (or
    MODEL=CORPUS pairs, see zero2hero.lang_features.corpus_for_model).
    Returns {name: path} of correlations, regression, few_shot, costs, report and each plot.
    """
    features = parse_features(features)
    config = load_costs(costs)  # bad settings fail here, before any work
    for part in filter(None, (size_corpus or "").split(",")):
        corpus_sizes(part.split("=", 1)[-1].strip())
    client = MlflowClient()
    found = collect.resolve_experiment(experiment, client)
    runs = collect.collect_runs(found.experiment_id, client)
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


def _check_row(row: dict, n_columns: int) -> tuple[dict, str | None]:
    """A CSV row normalised (task/lang lower-case, k int, score float), or the reason it is invalid."""
    if row.get(None):  # csv.DictReader puts fields beyond the header under None
        return row, f"{n_columns + len(row[None])} fields, but the header names {n_columns} columns"
    broken = [c for c, v in row.items() if isinstance(v, str) and ("\n" in v or "\r" in v)]
    if broken:
        return row, f"{', '.join(broken)} contains a line break (a quoted field spanning lines)"
    value = {c: (row.get(c) or "").strip() for c in INGEST_COLUMNS}
    value["task"], value["lang"] = value["task"].lower(), value["lang"].lower()
    if value["task"] not in TASK_TARGETS:
        return value, f"unknown task {value['task']!r}; valid: {', '.join(TASK_TARGETS)}"
    if not value["model"]:
        return value, "empty model"
    if value["lang"] not in KNOWN_LANGS:
        return value, f"unknown language {value['lang']!r}; valid: {', '.join(KNOWN_LANGS)}"
    if not value["k"].isdigit():
        return value, f"k must be a whole number >= 0, got {value['k']!r}"
    value["k"] = int(value["k"])
    if value["sampling"] not in (*SAMPLINGS, "") or (value["k"] > 0 and not value["sampling"]):
        return value, f"sampling must be one of {', '.join(SAMPLINGS)} (empty only for k = 0), got {value['sampling']!r}"
    if value["seed"] and not value["seed"].lstrip("-").isdigit():
        return value, f"seed must be a whole number or empty, got {value['seed']!r}"
    try:
        value["score"] = float(value["score"])
    except ValueError:
        return value, f"score must be a number (percent), got {value['score']!r}"
    if not (math.isfinite(value["score"]) and 0 <= value["score"] <= 100):
        return value, f"score must be a percentage between 0 and 100, got {value['score']}"
    return value, None


def read_scores_csv(path: str) -> list[tuple[int, dict]]:
    """Validated rows of a scores CSV (columns INGEST_COLUMNS; extra columns ignored) with their line numbers.

    A row with more fields than the header, or a field holding a line break, is an error (never a shifted or
    broken name in a run).

    Raises DataError naming the file and the first bad line (and listing a few more) before anything is
    recorded, so a bad file never leaves half an ingest behind.
    """
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as error:
        raise DataError(path, None, f"cannot read scores file: {error.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in INGEST_COLUMNS if c not in header]
        if missing:
            raise DataError(path, 1, f"missing column(s) {', '.join(missing)}; expected {', '.join(INGEST_COLUMNS)}")
        reader.fieldnames = header
        rows, problems = [], []
        for row in reader:
            # a quoted field may span lines: report the line where the row starts
            start = reader.line_num - sum(v.count("\n") for v in row.values() if isinstance(v, str))
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)) and not row.get(None):
                continue  # blank line
            value, problem = _check_row(row, len(header))
            (problems if problem else rows).append((start, problem or value))
    if problems:
        (line, first), more = problems[0], problems[1:]
        extra = f" (and {len(more)} more: " + "; ".join(f"line {n}: {p}" for n, p in more[:5]) + \
            ("; …" if len(more) > 5 else "") + ")" if more else ""
        raise DataError(path, line, first + extra)
    if not rows:
        raise DataError(path, None, "no score rows")
    return rows


def _ingest_run_name(row: dict) -> str:
    parts = ["ingest", row["task"], row["model"], row["lang"], f"k={row['k']}", row["sampling"],
             f"s{row['seed']}" if row["seed"] else ""]
    return "/".join(p for p in parts if p)


def _row_key(task, model, lang, k, sampling, seed, score) -> tuple:
    return task, model, lang, str(k), sampling, seed, float(score)


def run_ingest(scores_csv: str, experiment: str) -> int:
    """Record each row of `scores_csv` as a FINISHED run (z2h.stage=ingest) in `experiment` (created if new).

    Rows identical to a run ingested before (same params and score) are skipped, so re-ingesting a file is
    harmless. Returns the number of runs created.
    """
    rows = read_scores_csv(scores_csv)  # everything is validated before the first run exists
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    done = {_row_key(*(r.data.params.get(c, "") for c in INGEST_COLUMNS[:-1]), r.data.metrics.get("score", math.nan))
            for r in collect.search_all_runs([experiment_id], f"tags.`{collect.STAGE_TAG}` = 'ingest'", client)
            if r.info.status == "FINISHED"}
    created, source = 0, os.path.basename(scores_csv)
    for line, row in rows:
        if _row_key(*(row[c] for c in INGEST_COLUMNS)) in done:
            continue
        now = int(time.time() * 1000)
        run = client.create_run(experiment_id, start_time=now, run_name=_ingest_run_name(row),
                                tags={collect.STAGE_TAG: "ingest", "z2h.ingest_source": f"{source}:{line}"})
        params = [Param(c, str(row[c])) for c in INGEST_COLUMNS[:-1] if row[c] != ""]
        client.log_batch(run.info.run_id, metrics=[Metric("score", row["score"], now, 0)], params=params)
        client.set_terminated(run.info.run_id, "FINISHED", end_time=now)
        created += 1
    skipped = len(rows) - created
    log.info("ingested %d runs into %r%s", created, experiment, f" ({skipped} already there)" if skipped else "")
    return created


def analysis_entry(params) -> dict[str, str]:
    """The `analysis` entry point (parameters parsed by zero2hero.config)."""
    from zero2hero.tracking.server import check_tracking_server

    check_tracking_server()
    paths = run_analysis(params.experiment, params.source_lang, params.features, params.costs or None,
                         params.output_dir, params.size_corpus or None)
    print(f"analysis of {params.experiment!r}: report {paths['report']}")
    for name in ("correlations", "regression", "few_shot", "costs"):
        print(f"  {name}: {paths[name]}")
    return paths


def ingest_entry(params) -> int:
    """The `ingest` entry point (parameters parsed by zero2hero.config)."""
    from zero2hero.tracking.server import check_tracking_server

    check_tracking_server()
    created = run_ingest(params.scores, params.experiment)
    print(f"ingested {created} runs from {params.scores} into experiment {params.experiment!r}")
    return created
