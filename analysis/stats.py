"""Correlations and the LOOCV meta-regression of zero-shot scores on language features (docs/method.md §6.1-2, §8)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

CORRELATION_COLUMNS = ["task", "model", "feature", "pearson", "pearson_p", "spearman", "spearman_p", "n_langs"]
REGRESSION_COLUMNS = ["task", "model", "selected_features", "weights", "pearson", "spearman", "mae"]
MIN_LANGS = 3  # a correlation over fewer languages says nothing
RAISE_TOLERANCE = 1e-9  # a Pearson "raise" smaller than rounding noise is no raise


def correlate(x, y) -> dict:
    """Pearson and Spearman (with two-sided p-values) over the pairs where both values are finite.

    Returns pearson, pearson_p, spearman, spearman_p (NaN with fewer than MIN_LANGS pairs or no
    variation in either variable) and n_langs, the number of pairs used.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    out = dict(pearson=math.nan, pearson_p=math.nan, spearman=math.nan, spearman_p=math.nan, n_langs=int(ok.sum()))
    if len(x) < MIN_LANGS or np.ptp(x) == 0 or np.ptp(y) == 0:
        return out
    with warnings.catch_warnings():  # near-constant inputs warn; the NaN/values they give are the answer
        warnings.simplefilter("ignore")
        pearson, spearman = stats.pearsonr(x, y), stats.spearmanr(x, y)
    out.update(pearson=float(pearson.statistic), pearson_p=float(pearson.pvalue),
               spearman=float(spearman.statistic), spearman_p=float(spearman.pvalue))
    return out


def zscore(frame: pd.DataFrame) -> pd.DataFrame:
    """Each column standardised over the rows (population std), as the study's features were."""
    return (frame - frame.mean()) / frame.std(ddof=0)


def _ols(features: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Ordinary least squares with an intercept; returns [intercept, coefficients...]."""
    design = np.column_stack([np.ones(len(y)), features])
    return np.linalg.lstsq(design, y, rcond=None)[0]


def loocv_predictions(features: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Leave-one-out predictions: for each row, OLS fitted on all other rows predicts that row.

    Computed in closed form from one fit (prediction_i = y_i - e_i / (1 - h_ii), h the hat matrix's diagonal);
    where a row has all the leverage (h_ii ~ 1) the n refits are done explicitly.
    """
    features, y = np.asarray(features, dtype=float).reshape(len(y), -1), np.asarray(y, dtype=float)
    design = np.column_stack([np.ones(len(y)), features])
    pinv = np.linalg.pinv(design)
    leverage = np.einsum("ij,ji->i", design, pinv)
    if np.all(1 - leverage > 1e-4):  # closer to 1 the division loses precision
        residuals = y - design @ (pinv @ y)
        return y - residuals / (1 - leverage)
    predictions = np.empty(len(y))
    for i in range(len(y)):
        train = np.arange(len(y)) != i
        coef = _ols(features[train], y[train])
        predictions[i] = coef[0] + features[i] @ coef[1:]
    return predictions


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson of two finite vectors without p-values (forward selection calls it thousands of times)."""
    if len(a) < MIN_LANGS or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))) or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(np.corrcoef(a, b)[0, 1])


@dataclass
class Regression:
    """The selected meta-regressor: features in order of selection, normalised weights (shares of
    |coefficient| on z-scored features, fit on all languages), signed coefficients, pooled LOOCV metrics,
    and the LOOCV prediction of each language."""
    selected: list[str]
    weights: list[float]
    coefficients: list[float]
    pearson: float
    spearman: float
    mae: float
    predictions: pd.Series = field(repr=False)
    candidates: list[str] = field(default_factory=list)


def regression_candidates(features: pd.DataFrame) -> list[str]:
    """Features usable in the regression: no missing value (docs/method.md §8) and some variation over the languages."""
    return [c for c in features.columns if features[c].notna().all() and features[c].nunique() > 1]


def forward_selection(features: pd.DataFrame, scores: pd.Series) -> Regression:
    """Greedy forward selection by pooled LOOCV Pearson (docs/method.md §6.2, §8).

    Inputs: features (index: language, columns: features) and zero-shot scores on the same index.
    Start empty; each round add the candidate whose model has the highest pooled LOOCV Pearson; stop when
    that best candidate does not raise the Pearson of the current model. A model is only tried while its
    parameters (intercept + features) do not outnumber the n - 1 training languages of a fold.
    """
    features = features.loc[scores.index]
    candidates = regression_candidates(features)
    z, y = zscore(features[candidates]), scores.to_numpy(dtype=float)
    columns = {c: z[c].to_numpy() for c in candidates}  # numpy, not DataFrame lookups, inside the loops
    selected, current, predictions = [], -math.inf, np.full(len(y), math.nan)
    while len(selected) + 2 <= len(y) - 1:
        trials = {c: loocv_predictions(np.column_stack([columns[s] for s in selected + [c]]), y)
                  for c in candidates if c not in selected}
        scored = {c: _pearson(p, y) for c, p in trials.items()}
        scored = {c: r for c, r in scored.items() if not math.isnan(r)}
        if not scored:
            break
        best = max(scored, key=scored.get)  # ties: the first in column order
        if scored[best] <= current + RAISE_TOLERANCE:
            break
        selected.append(best)
        current, predictions = scored[best], trials[best]
    if not selected:
        return Regression([], [], [], math.nan, math.nan, math.nan, pd.Series(predictions, index=scores.index),
                          candidates)
    coefficients = _ols(z[selected].to_numpy(), y)[1:]
    weights = np.abs(coefficients) / np.abs(coefficients).sum() if np.abs(coefficients).sum() > 0 \
        else np.full(len(selected), 1 / len(selected))
    fit = correlate(predictions, y)
    return Regression(selected, [float(w) for w in weights], [float(c) for c in coefficients], fit["pearson"],
                      fit["spearman"], float(np.mean(np.abs(predictions - y))),
                      pd.Series(predictions, index=scores.index), candidates)


def correlation_rows(task: str, model: str, scores: pd.Series, features: pd.DataFrame) -> list[dict]:
    """One correlation row per feature (CORRELATION_COLUMNS); languages without a feature value are left out."""
    features = features.reindex(scores.index)
    return [{"task": task, "model": model, "feature": name, **correlate(features[name], scores)}
            for name in features.columns]


def regression_row(task: str, model: str, fit: Regression) -> dict:
    """The regression.csv row (REGRESSION_COLUMNS) of one fitted meta-regressor."""
    return {"task": task, "model": model, "selected_features": ";".join(fit.selected),
            "weights": ";".join(f"{w:.4f}" for w in fit.weights),
            "pearson": fit.pearson, "spearman": fit.spearman, "mae": fit.mae}
