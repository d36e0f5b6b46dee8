"""Seeded bootstrap 95% intervals for the reported statistics: correlations over languages, few-shot means over
languages and seeds. Correlations over 10-14 languages are noisy; the intervals say how noisy."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .few_shot import GROUP, spread_zero_shot

N_BOOT = 2000
SEED = 20200  # fixed: a rerun of the analysis gives the same intervals
LEVEL = 0.95
CORRELATION_INTERVAL_COLUMNS = ["pearson_lo", "pearson_hi", "spearman_lo", "spearman_hi"]
FEW_SHOT_INTERVAL_COLUMNS = ["mean_lo", "mean_hi"]


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson of each row pair of two (B, n) arrays; NaN where a resample has no variation."""
    x, y = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    denominator = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 1e-12, (x * y).sum(axis=1) / denominator, np.nan)


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if len(values) < N_BOOT // 2:  # most resamples degenerate (too few distinct languages): no interval
        return np.nan, np.nan
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def correlation_interval(x, y, seed: int = SEED) -> dict:
    """Percentile-bootstrap 95% intervals of Pearson and Spearman, resampling languages (pairs) with replacement.

    Pairs with a missing value are left out first, as in stats.correlate; fewer than 3 pairs give NaN.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    empty = dict.fromkeys(CORRELATION_INTERVAL_COLUMNS, np.nan)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return empty
    index = np.random.default_rng(seed).integers(0, len(x), size=(N_BOOT, len(x)))
    bx, by = x[index], y[index]
    pearson = _rowwise_pearson(bx, by)
    spearman = _rowwise_pearson(stats.rankdata(bx, axis=1), stats.rankdata(by, axis=1))
    (p_lo, p_hi), (s_lo, s_hi) = _percentiles(pearson), _percentiles(spearman)
    return dict(pearson_lo=p_lo, pearson_hi=p_hi, spearman_lo=s_lo, spearman_hi=s_hi)


def add_correlation_intervals(correlations: pd.DataFrame, zero: pd.DataFrame, features: dict) -> pd.DataFrame:
    """correlations.csv with CORRELATION_INTERVAL_COLUMNS appended.

    zero: zero-shot scores (task, model, lang, score); features: {(task, model): feature table by language}.
    """
    rows = []
    for row in correlations.itertuples(index=False):
        scores = zero[(zero["task"] == row.task) & (zero["model"] == row.model)].set_index("lang")["score"]
        values = features[(row.task, row.model)][row.feature].reindex(scores.index)
        rows.append(correlation_interval(values.to_numpy(), scores.to_numpy()))
    intervals = pd.DataFrame(rows, columns=CORRELATION_INTERVAL_COLUMNS, index=correlations.index)
    return pd.concat([correlations, intervals], axis=1)


def mean_interval(per_language: list[np.ndarray], seed: int = SEED) -> tuple[float, float]:
    """95% interval of the mean over languages of each language's mean over seeds.

    Two-level bootstrap: languages are resampled with replacement, and each drawn language's seed scores
    are resampled too, so both the choice of languages and seed noise widen the interval.
    """
    if not per_language:
        return np.nan, np.nan
    rng = np.random.default_rng(seed)
    # seed level: one resampled seed mean per (replicate, language)
    seed_means = np.column_stack([
        scores[rng.integers(0, len(scores), size=(N_BOOT, len(scores)))].mean(axis=1) for scores in per_language])
    if len(per_language) == 1 and len(per_language[0]) == 1:
        return np.nan, np.nan  # one language, one seed: nothing to resample
    chosen = rng.integers(0, len(per_language), size=(N_BOOT, len(per_language)))
    means = np.take_along_axis(seed_means, chosen, axis=1).mean(axis=1)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def add_few_shot_intervals(few_shot: pd.DataFrame, results: pd.DataFrame, source_lang: str = "en") -> pd.DataFrame:
    """few_shot.csv with mean_lo and mean_hi (95% bootstrap interval of mean_score) appended."""
    out = few_shot.copy()
    out[FEW_SHOT_INTERVAL_COLUMNS] = np.nan
    if few_shot.empty:
        return out
    spread = spread_zero_shot(results, source_lang)
    # a seed's score per (cell, language); runs sharing a seed (e.g. a rerun) count once
    by_seed = spread.groupby([*GROUP, "lang", "seed"], sort=True)["score"].mean()
    cells = {}
    for key, group in by_seed.groupby(level=[*range(len(GROUP))]):
        cells[key] = [g.to_numpy() for _, g in group.groupby(level="lang")]
    for i, row in enumerate(few_shot[GROUP].itertuples(index=False, name=None)):
        out.iloc[i, out.columns.get_indexer(FEW_SHOT_INTERVAL_COLUMNS)] = mean_interval(cells.get(row, []))
    return out
