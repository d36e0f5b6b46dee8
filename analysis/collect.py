"""Collect an experiment's runs from the tracking server into one tidy table (one row per run)."""
from __future__ import annotations

import json
import math
import tempfile

import pandas as pd
from mlflow import MlflowClient

from zero2hero.tracking.queries import (CONFIG_ID_TAG, CONFIG_TAG, resolve_experiment,  # noqa: F401  (API)
                                        search_all_runs)

STAGE_TAG = "z2h.stage"
SHOTS_TAG = "z2h.shots"
SHOTS_TOKENS_TAG = "z2h.shots_tokens"  # the total n_tokens of the run's shots.jsonl (set with the shots)
# Only these stages score a target language; source/search/trial/grid/analysis runs are not results.
RESULT_STAGES = ("evaluate", "few_shot", "ingest")
COLUMNS = ["run_id", "stage", "status", "task", "model", "model_name", "lang", "k", "sampling", "seed", "score",
           "duration", "shots", "shots_tokens", "start", "config_id", "config", "cpu_percent", "gpu_percent"]
# MLflow's system metrics (runs with -P system_metrics=yes): the last sampled utilisation, in percent
SYSTEM_METRICS = {"cpu_percent": "system/cpu_utilization_percentage", "gpu_percent": "system/gpu_0_utilization_percentage"}
# what identifies a result apart from its seed: the cell and its setting (a label of how its configuration
# differs from the others of the same task and model; "" when it has only one)
CELL = ["task", "model", "lang", "k", "sampling", "setting"]


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
        "shots": tags.get(SHOTS_TAG, ""), "shots_tokens": tags.get(SHOTS_TOKENS_TAG, ""),
        "start": info.start_time or 0,
        "config_id": tags.get(CONFIG_ID_TAG, ""), "config": tags.get(CONFIG_TAG, ""),
        **{column: data.metrics.get(metric, math.nan) for column, metric in SYSTEM_METRICS.items()},
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
    table["sampling"] = table["sampling"].where(table["k"] != 0, "")  # zero-shot has no sampling
    table, more = latest_per_cell(table)
    table, zero_notes = one_zero_shot_setting(label_settings(table))
    return table.reset_index(drop=True), notes + more + zero_notes


DEDUP_KEY = ["task", "model", "lang", "k", "sampling", "seed", "config_id"]


def latest_per_cell(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One run per (cell, configuration, seed): the latest FINISHED one. A plan run twice, two shards that
    overlapped or a rerun after changed data leave several; counting them all would weight that seed twice.
    Ingested rows without a seed are distinct results and all kept."""
    if "start" not in table:
        table = table.assign(start=0, config_id="", config="")
    table = table.sort_values("start", kind="stable")
    keyed = (table["seed"].astype(str) != "") | (table["config_id"] != "")
    duplicate = table.duplicated(DEDUP_KEY, keep="last") & keyed
    notes = []
    if duplicate.any():
        left = table[duplicate]
        cells = left.groupby(["task", "lang", "k"]).size()
        shown = ", ".join(f"{t}/{lang}/k={k} ({n})" for (t, lang, k), n in list(cells.items())[:6])
        notes.append(f"{int(duplicate.sum())} duplicate runs left out (the same cell, configuration and seed ran "
                     f"again; the latest FINISHED run counts): {shown}{', …' if len(cells) > 6 else ''}")
    return table[~duplicate], notes


def _describe(config: str, varying: list[str]) -> str:
    try:
        values = json.loads(config) if config else {}
    except ValueError:
        values = {}
    return ", ".join(f"{key}={values.get(key, '-')}" for key in varying)


def label_settings(table: pd.DataFrame) -> pd.DataFrame:
    """Add `setting`: per (task, model, zero-shot or few-shot), the params in which its configurations differ
    (`epochs=3`), or "" where there is one configuration. Different settings are never averaged together."""
    table = table.assign(setting="")
    if "config" not in table:
        return table
    for _, group in table.groupby([table["task"], table["model"], table["k"] == 0]):
        configs = group.drop_duplicates("config_id")
        if len(configs) < 2:
            continue
        parsed = [json.loads(c) if c else {} for c in configs["config"]]
        keys = sorted({key for values in parsed for key in values})
        varying = [key for key in keys if len({str(values.get(key)) for values in parsed}) > 1] or ["config_id"]
        labels = {cid: _describe(cfg, varying) if varying != ["config_id"] else f"config {cid or 'none'}"
                  for cid, cfg in zip(configs["config_id"], configs["config"])}
        table.loc[group.index, "setting"] = group["config_id"].map(labels)
    return table


def one_zero_shot_setting(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The zero-shot analysis needs one score per language: where a (task, model) has zero-shot runs of several
    settings, the setting with the newest run counts and the others are listed as left out."""
    notes, drop = [], []
    zero = table[(table["k"] == 0) & (table["setting"] != "")]
    for (task, model), group in zero.groupby(["task", "model"]):
        newest = group.loc[group["start"].idxmax(), "setting"]
        older = group[group["setting"] != newest]
        drop += list(older.index)
        notes.append(f"{task}/{model}: zero-shot runs of {group['setting'].nunique()} settings; the newest "
                     f"({newest}) counts, {len(older)} runs of {', '.join(sorted(older['setting'].unique()))} left out")
    return table.drop(index=drop), notes


def average_seeds(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, lang, k, sampling, setting): score (mean over runs), score_std, n_seeds, duration.

    Zero-shot rows (k = 0) have no sampling, so their sampling is blanked to merge evaluate and ingested
    k = 0 rows. duration is the total over the cell's runs.
    """
    table = table.assign(sampling=table["sampling"].where(table["k"] != 0, ""))
    if "setting" not in table:
        table = table.assign(setting="")
    grouped = table.groupby(CELL, sort=True)
    return grouped.agg(score=("score", "mean"), score_std=("score", "std"), n_seeds=("seed", "nunique"),
                       n_runs=("run_id", "size"), duration=("duration", "sum")).reset_index()


def zero_shot_scores(table: pd.DataFrame, source_lang: str = "en") -> pd.DataFrame:
    """Zero-shot score per (task, model, lang), averaged over runs, source language excluded."""
    zero = table[(table["k"] == 0) & (table["lang"] != source_lang)]
    return average_seeds(zero)[["task", "model", "lang", "score"]]


def load_shot_tokens(table: pd.DataFrame, client: MlflowClient | None = None,
                     tasks: tuple[str, ...] | None = None) -> dict[str, int]:
    """Total `n_tokens` of the sampled shots of each few_shot run of `tasks` (default: the tasks priced by the
    size of their shots) that logged shots.jsonl.

    The run's `z2h.shots_tokens` tag when it has one; only runs without it (logged before the tag existed) have
    their shots.jsonl downloaded. Returns {run_id: tokens}; runs whose artifact is missing or unreadable are
    simply absent, so the cost estimate falls back to sentence-length defaults for them.
    """
    if tasks is None:
        from .costs import shot_priced_tasks

        tasks = shot_priced_tasks()
    wanted = table[(table["stage"] == "few_shot") & table["task"].isin(tasks) & (table["shots"] != "")]
    logged = wanted.get("shots_tokens", pd.Series("", index=wanted.index)).astype(str).str.isdigit()
    tokens = {run_id: int(value)
              for run_id, value in zip(wanted.loc[logged, "run_id"], wanted.loc[logged, "shots_tokens"])}
    wanted = wanted[~logged]
    if wanted.empty:
        return tokens
    client = client or MlflowClient()
    with tempfile.TemporaryDirectory() as tmp:
        for run_id, path in zip(wanted["run_id"], wanted["shots"]):
            try:
                local = client.download_artifacts(run_id, path, tmp)
                with open(local) as handle:
                    tokens[run_id] = sum(int(json.loads(line)["n_tokens"]) for line in handle if line.strip())
            except Exception:  # a missing or malformed artifact only costs precision, never the analysis
                continue
    return tokens
