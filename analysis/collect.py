"""Collect an experiment's runs from the tracking server into one tidy table (one row per run)."""
from __future__ import annotations

import json
import math
import tempfile

import pandas as pd
from mlflow import MlflowClient

from zero2hero.tracking.queries import resolve_experiment, search_all_runs  # noqa: F401  (part of this module's API)

STAGE_TAG = "z2h.stage"
SHOTS_TAG = "z2h.shots"
# Only these stages score a target language; source/search/trial/grid/analysis runs are not results.
RESULT_STAGES = ("evaluate", "few_shot", "ingest")
COLUMNS = ["run_id", "stage", "status", "task", "model", "model_name", "lang", "k", "sampling", "seed", "score",
           "duration", "shots"]
CELL = ["task", "model", "lang", "k", "sampling"]  # what identifies a result apart from its seed


def _row(run) -> dict:
    info, data = run.info, run.data
    params, tags = data.params, data.tags
    end = info.end_time
    return {
        "run_id": info.run_id, "stage": tags.get(STAGE_TAG, ""), "status": info.status,
        "task": params.get("task", ""), "model": params.get("model", ""),
        "model_name": params.get("model_name", ""), "lang": params.get("lang", ""),
        "k": params.get("k"), "sampling": params.get("sampling", ""), "seed": params.get("seed", ""),
        "score": data.metrics.get("score", math.nan),
        "duration": (end - info.start_time) / 1000 if end and info.start_time else math.nan,
        "shots": tags.get(SHOTS_TAG, ""),
    }


def collect_runs(experiment: str, client: MlflowClient | None = None) -> pd.DataFrame:
    """All active runs of `experiment` (name or id), one row each, columns COLUMNS.

    score is the `score` metric (percent), duration is seconds from start to end (NaN while running),
    k is a number (NaN when absent or not numeric); text columns are "" when the param is absent.
    """
    client = client or MlflowClient()
    found = resolve_experiment(experiment, client)
    table = pd.DataFrame([_row(run) for run in search_all_runs([found.experiment_id], client=client)], columns=COLUMNS)
    table["k"] = pd.to_numeric(table["k"], errors="coerce")
    table["score"] = pd.to_numeric(table["score"], errors="coerce")
    table["duration"] = pd.to_numeric(table["duration"], errors="coerce")
    return table


def model_labels(runs: pd.DataFrame) -> dict[str, str]:
    """Short display names for the report: each `model` (an HF id or a long directory path) by its runs'
    `model_name` slug, when every model has one slug and no two models share one; else the models as recorded."""
    named = runs[runs["model"].ne("")].groupby("model")["model_name"].agg(lambda names: set(names) - {""})
    labels = {model: next(iter(names)) if len(names) == 1 else model for model, names in named.items()}
    return labels if len(set(labels.values())) == len(labels) else {}


def results(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The runs that are results: FINISHED evaluate/few_shot/ingest runs with task, lang and score.

    Evaluate runs are zero-shot, so their k is 0 whatever they logged. The parent of a multi-language
    evaluate run has no `lang` and no score and is not a result. Returns (table, notes on what was dropped).
    """
    table = runs[runs["stage"].isin(RESULT_STAGES)].copy()
    table.loc[table["stage"] == "evaluate", "k"] = 0
    notes = []
    unfinished = table["status"] != "FINISHED"
    if unfinished.any():
        counts = table.loc[unfinished, "status"].value_counts()
        notes.append("runs not counted (not FINISHED): " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    table = table[~unfinished]
    scored = (table["task"] != "") & (table["lang"] != "")
    complete = scored & table["score"].notna() & table["k"].notna()
    # runs without task or lang (an evaluate parent, an entry point's own run) are wrappers, not results
    if (scored & ~complete).any():
        notes.append(f"{int((scored & ~complete).sum())} finished runs of a task and language lack a score "
                     "or a numeric k; not counted")
    table = table[complete].copy()
    table["k"] = table["k"].astype(int)
    return table.reset_index(drop=True), notes


def average_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, lang, k, sampling): score (mean over runs), score_std, n_seeds, duration.

    Zero-shot rows (k = 0) have no sampling, so their sampling is blanked to merge evaluate and ingested
    k = 0 rows. duration is the total over the cell's runs.
    """
    table = table.assign(sampling=table["sampling"].where(table["k"] != 0, ""))
    grouped = table.groupby(CELL, sort=True)
    return grouped.agg(score=("score", "mean"), score_std=("score", "std"), n_seeds=("seed", "nunique"),
                       n_runs=("run_id", "size"), duration=("duration", "sum")).reset_index()


def zero_shot_scores(table: pd.DataFrame, source_lang: str = "en") -> pd.DataFrame:
    """Zero-shot score per (task, model, lang), averaged over runs, source language excluded."""
    zero = table[(table["k"] == 0) & (table["lang"] != source_lang)]
    return average_seeds(zero)[["task", "model", "lang", "score"]]


def load_shot_tokens(table: pd.DataFrame, client: MlflowClient | None = None,
                     tasks: tuple[str, ...] = ("pos",)) -> dict[str, int]:
    """Total `n_tokens` of the sampled shots of each few_shot run of `tasks` that logged shots.jsonl.

    Returns {run_id: tokens}; runs whose artifact is missing or unreadable are simply absent, so the
    cost estimate falls back to sentence-length defaults for them.
    """
    client = client or MlflowClient()
    wanted = table[(table["stage"] == "few_shot") & table["task"].isin(tasks) & (table["shots"] != "")]
    tokens = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run_id, path in zip(wanted["run_id"], wanted["shots"]):
            try:
                local = client.download_artifacts(run_id, path, tmp)
                with open(local) as handle:
                    tokens[run_id] = sum(int(json.loads(line)["n_tokens"]) for line in handle if line.strip())
            except Exception:  # a missing or malformed artifact only costs precision, never the analysis
                continue
    return tokens
