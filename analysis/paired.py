"""Paired bootstrap tests between few-shot samplings, from the runs' `predictions.jsonl` (`log_predictions=yes`).

Two few_shot runs of one (task, model, lang, k, seed) that differ only in sampling scored the same test examples,
so their difference is tested on paired examples: resample the examples (with replacement) and recompute both
scores from the per-example counts (`score` = 100 · Σ correct / Σ total, as the runs logged it). The 95%
interval is the 2.5th–97.5th percentile of the resampled differences; p is two-sided: twice the smaller share of
resampled differences on either side of 0, counted with one added to both parts so p is never 0, at most 1.
"""
from __future__ import annotations

import itertools
import json
import logging
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from zero2hero.tracking.queries import search_all_runs

log = logging.getLogger(__name__)

PREDICTIONS_TAG = "z2h.predictions"  # the artifact path of a run's predictions.jsonl
RESAMPLES = 2000
COLUMNS = ["task", "model", "lang", "k", "seed", "sampling_a", "sampling_b", "score_a", "score_b", "difference",
           "ci_low", "ci_high", "p_value", "n_examples"]
GROUP = ["task", "model", "lang", "k", "seed"]


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> dict[str, float]:
    """a, b: [n, 2] per-example (correct, total) of two systems on the same n examples -> the difference of their
    scores (a - b, points), its 95% bootstrap interval and two-sided p."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(a), size=(resamples, len(a)))

    def score(counts, index=slice(None)):
        picked = counts[index]
        return 100.0 * picked[..., 0].sum(-1) / np.maximum(picked[..., 1].sum(-1), 1)

    difference = float(score(a) - score(b))
    resampled = score(a, draws) - score(b, draws)
    tail = min(int(np.sum(resampled <= 0)), int(np.sum(resampled >= 0)))
    p = min(1.0, 2 * (tail + 1) / (resamples + 1))
    low, high = np.percentile(resampled, [2.5, 97.5])
    return {"difference": difference, "ci_low": float(low), "ci_high": float(high), "p_value": p}


def _counts(client, run_id: str, path: str) -> dict[str, tuple[float, int]]:
    with tempfile.TemporaryDirectory(prefix="z2h-predictions-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=tmp,
                                                         tracking_uri=client.tracking_uri))
        with open(local, encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    return {str(r["id"]): (float(r["correct"]), int(r["total"])) for r in records}


def paired_tests(results: pd.DataFrame, experiment_id: str, client) -> tuple[pd.DataFrame, list[str]]:
    """few_shot_tests: one row per pair of samplings of one (task, model, lang, k, seed) whose runs both logged
    predictions; notes for pairs that cannot be compared (different scored examples)."""
    few = results[(results["stage"] == "few_shot") & (results["k"] > 0)]
    if few.empty:
        return pd.DataFrame(columns=COLUMNS), []
    logged = {run.info.run_id: run.data.tags[PREDICTIONS_TAG] for run in
              search_all_runs([experiment_id], f"tags.`{PREDICTIONS_TAG}` LIKE '%'", client=client)}
    few = few[few["run_id"].isin(logged)]
    rows, notes = [], []
    for key, group in few.groupby(GROUP, sort=True):
        runs = group.drop_duplicates("sampling").sort_values("sampling")
        counts = {row.sampling: _counts(client, row.run_id, logged[row.run_id]) for row in runs.itertuples()}
        for first, second in itertools.combinations(sorted(counts), 2):
            a, b = counts[first], counts[second]
            if set(a) != set(b):
                notes.append(f"{'/'.join(map(str, key))}: {first} and {second} scored different examples; "
                             "no paired test")
                continue
            ids = sorted(a)
            pair = np.array([a[i] for i in ids]), np.array([b[i] for i in ids])
            scores = [100.0 * m[:, 0].sum() / max(m[:, 1].sum(), 1) for m in pair]
            rows.append({**dict(zip(GROUP, key)), "sampling_a": first, "sampling_b": second, "score_a": scores[0],
                         "score_b": scores[1], **paired_bootstrap(*pair), "n_examples": len(ids)})
    return pd.DataFrame(rows, columns=COLUMNS), notes


def report_section(tests: pd.DataFrame, labels: dict[str, str] | None = None) -> str:
    """The report's section on the paired tests (empty when there are none); `labels`: short model names."""
    if tests.empty:
        return ""
    from .report import markdown_table

    tests = tests.assign(model=tests["model"].map(lambda model: (labels or {}).get(model, model)))
    return ("## Paired bootstrap tests between samplings (few_shot_tests.csv)\n\n"
            f"Difference of scores a − b (points) on the same test examples, 95% interval and two-sided p from "
            f"{RESAMPLES} resamples of the examples.\n\n" + markdown_table(tests, 3) + "\n")
