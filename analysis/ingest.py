"""`ingest`: published (or any external) scores recorded as runs, so the analysis treats them like the project's own.

A scores CSV is validated completely, with file and line of every bad row, before the first run exists.
"""
from __future__ import annotations

import csv
import logging
import math
import os
import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from zero2hero.data.fewshot import STRATEGIES
from zero2hero.errors import DataError
from zero2hero.languages import KNOWN_LANGS
from zero2hero.tasks import task_names

from . import collect

log = logging.getLogger(__name__)

INGEST_COLUMNS = ("task", "model", "lang", "k", "sampling", "seed", "score")
SAMPLINGS = STRATEGIES


def _check_row(row: dict, n_columns: int) -> tuple[dict, str | None]:
    """A CSV row normalised (task/lang lower-case, k int, score float), or the reason it is invalid."""
    if row.get(None):  # csv.DictReader puts fields beyond the header under None
        return row, f"{n_columns + len(row[None])} fields, but the header names {n_columns} columns"
    broken = [c for c, v in row.items() if isinstance(v, str) and ("\n" in v or "\r" in v)]
    if broken:
        return row, f"{', '.join(broken)} contains a line break (a quoted field spanning lines)"
    value = {c: (row.get(c) or "").strip() for c in INGEST_COLUMNS}
    value["task"], value["lang"] = value["task"].lower(), value["lang"].lower()
    if value["task"] not in task_names():
        return value, f"unknown task {value['task']!r}; valid: {', '.join(task_names())}"
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


def ingest_entry(params) -> int:
    """The `ingest` entry point (parameters parsed by zero2hero.config)."""
    from zero2hero.tracking.server import check_tracking_server

    check_tracking_server()
    created = run_ingest(params.scores, params.experiment)
    print(f"ingested {created} runs from {params.scores} into experiment {params.experiment!r}")
    return created
