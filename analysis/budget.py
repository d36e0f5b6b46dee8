"""The annotation-budget planner: a learning-curve model of score(lang, k) from the language's zero-shot score.

Per (task, model, sampling) and measured k, the gain over zero-shot is a linear function of the zero-shot score,
fitted over the languages (the study's finding: languages that start low gain most) where that line predicts
held-out languages better than the mean gain, else the mean gain; between measured k the
curve is interpolated on log(1 + k), never extrapolated beyond the largest k. Its 80% interval at each measured k
comes from leave-one-language-out residuals; the validation table compares those errors with the naive baseline
"held-out zero-shot + the other languages' mean gain".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .transfer import conformal_halfwidth

VALIDATION_COLUMNS = ["task", "model", "sampling", "k", "planner_mae", "baseline_mae", "n_langs"]
MIN_FIT_LANGS = 3  # a slope over fewer languages is noise; below this the planner uses the mean gain


def _line(zero: np.ndarray, gain: np.ndarray) -> tuple[float, float]:
    """(a, b) of the least-squares line gain = a + b × zero, or the mean gain (b = 0) when a slope cannot be fitted
    (fewer than MIN_FIT_LANGS languages, or no spread in zero-shot scores)."""
    if len(gain) < MIN_FIT_LANGS or np.ptp(zero) == 0:
        return float(gain.mean()), 0.0
    b, a = np.polyfit(zero, gain, 1)
    return float(a), float(b)


def gain_fit(zero: np.ndarray, gain: np.ndarray) -> tuple[float, float]:
    """(a, b) of gain = a + b × zero over the given languages: the line when it predicts held-out languages better
    than the mean gain does (a leave-one-out check inside these languages), else the mean gain (b = 0).

    The check keeps the planner from being worse than the naive baseline where gains do not follow the zero-shot
    score (an English-only encoder on scripts it cannot read); with 3 languages each fold keeps 2, no slope can be
    tested, and the mean gain is used."""
    zero, gain = np.asarray(zero, dtype=float), np.asarray(gain, dtype=float)
    if len(gain) == 0:
        return math.nan, 0.0
    line = _line(zero, gain)
    if line[1] == 0.0:
        return line
    line_errors, mean_errors = [], []
    for i in range(len(gain)):
        rest = np.arange(len(gain)) != i
        a, b = _line(zero[rest], gain[rest])
        line_errors.append(abs(gain[i] - (a + b * zero[i])))
        mean_errors.append(abs(gain[i] - gain[rest].mean()))
    return line if np.mean(line_errors) < np.mean(mean_errors) else (float(gain.mean()), 0.0)


def leave_one_out(zero: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each language's score at one k predicted from its zero-shot score and the other languages:
    (planner predictions, baseline predictions = zero + the others' mean gain)."""
    zero, score = np.asarray(zero, dtype=float), np.asarray(score, dtype=float)
    planner, baseline = np.full(len(zero), math.nan), np.full(len(zero), math.nan)
    gain = score - zero
    for i in range(len(zero)):
        rest = np.arange(len(zero)) != i
        if not rest.any():
            continue
        a, b = gain_fit(zero[rest], gain[rest])
        planner[i] = np.clip(zero[i] + a + b * zero[i], 0, 100)
        baseline[i] = zero[i] + gain[rest].mean()
    return planner, baseline


def wide_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Per-language curves (language_curves rows of one task/model/sampling) as lang × k (k = 0 first)."""
    return curves.pivot_table(index="lang", columns="k", values="score", aggfunc="mean").sort_index(axis=1)


@dataclass(frozen=True)
class Planner:
    """The fitted curve model of one (task, model, sampling): per measured k > 0, gain = a + b × zero, the 80%
    half-width of its leave-one-language-out errors (NaN with fewer than 2 languages) and the languages used."""
    ks: tuple[int, ...]
    a: tuple[float, ...]
    b: tuple[float, ...]
    halfwidth: tuple[float, ...]
    n_langs: tuple[int, ...]

    @property
    def k_max(self) -> int:
        return max(self.ks)

    def curve(self, zero: float, zero_halfwidth: float, ks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(score, lower, upper) at each k of `ks` (0 <= k <= k_max) for a language with this zero-shot score.

        A zero-shot score that is itself a prediction widens every point by its half-width times (1 + b),
        how much of a zero-shot error survives at that k.
        """
        ks = np.asarray(ks, dtype=float)
        points = [zero] + [float(np.clip(zero + a + b * zero, 0, 100)) for a, b in zip(self.a, self.b)]
        widths = [zero_halfwidth] + [math.hypot(h, (1 + b) * zero_halfwidth) for h, b in zip(self.halfwidth, self.b)]
        x = np.log1p([0, *self.ks])
        score = np.interp(np.log1p(ks), x, points)
        width = np.interp(np.log1p(ks), x, widths)
        return score, np.clip(score - width, 0, 100), np.clip(score + width, 0, 100)


def fit_planner(wide: pd.DataFrame, exclude: str | None = None) -> Planner | None:
    """The planner fitted on the languages of `wide` (lang × k) except `exclude`; None without few-shot data."""
    wide = wide.drop(index=[exclude], errors="ignore")
    if 0 not in wide.columns:
        return None
    ks, a, b, widths, counts = [], [], [], [], []
    for k in [k for k in wide.columns if k > 0]:
        pair = wide[[0, k]].dropna()
        if pair.empty:
            continue
        zero, score = pair[0].to_numpy(), pair[k].to_numpy()
        fit_a, fit_b = gain_fit(zero, score - zero)
        planner, _ = leave_one_out(zero, score)
        ks.append(int(k)), a.append(fit_a), b.append(fit_b), counts.append(len(pair))
        widths.append(conformal_halfwidth(score - planner) if len(pair) >= 2 else math.nan)
    if not ks:
        return None
    return Planner(tuple(ks), tuple(a), tuple(b), tuple(widths), tuple(counts))


def validation_table(curves: pd.DataFrame) -> pd.DataFrame:
    """budget_validation.csv: per (task, model, sampling, k > 0) the leave-one-language-out MAE of the planner
    and of the baseline, over the n_langs languages with both a zero-shot and a k-shot score (at least 2)."""
    rows = []
    for (task, model, sampling), group in curves.groupby(["task", "model", "sampling"], sort=True):
        wide = wide_curves(group)
        if 0 not in wide.columns:
            continue
        for k in [k for k in wide.columns if k > 0]:
            pair = wide[[0, k]].dropna()
            if len(pair) < 2:
                continue
            planner, baseline = leave_one_out(pair[0].to_numpy(), pair[k].to_numpy())
            truth = pair[k].to_numpy()
            rows.append({"task": task, "model": model, "sampling": sampling, "k": int(k),
                         "planner_mae": float(np.mean(np.abs(planner - truth))),
                         "baseline_mae": float(np.mean(np.abs(baseline - truth))), "n_langs": len(pair)})
    return pd.DataFrame(rows, columns=VALIDATION_COLUMNS)


def smallest_k(planner: Planner, zero: float, zero_halfwidth: float, target: float) -> int | None:
    """The smallest whole k (0..k_max) whose predicted score reaches `target`; None when the curve never does."""
    ks = np.arange(planner.k_max + 1)
    score, _, _ = planner.curve(zero, zero_halfwidth, ks)
    reached = np.flatnonzero(score >= target - 1e-9)
    return int(ks[reached[0]]) if len(reached) else None


def compute_hours(results: pd.DataFrame, task: str, model: str, sampling: str, k: int) -> float:
    """Mean wall-clock hours of one few-shot run at k, interpolated linearly between the measured k
    (training time grows with the number of shots); NaN without timed few-shot runs (ingested ones have none)."""
    if k == 0:
        return 0.0
    runs = results[(results["stage"] == "few_shot") & (results["task"] == task) & (results["model"] == model)
                   & (results["sampling"] == sampling) & (results["k"] > 0) & results["duration"].notna()]
    if runs.empty:
        return math.nan
    hours = runs.groupby("k")["duration"].mean() / 3600
    return float(np.interp(k, hours.index.to_numpy(dtype=float), hours.to_numpy()))
