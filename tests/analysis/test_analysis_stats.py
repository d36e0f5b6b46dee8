"""Correlations and the LOOCV meta-regression on synthetic data with known answers."""
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import LeaveOneOut

from analysis.stats import (correlate, correlation_rows, forward_selection, loocv_predictions, regression_row,
                            zscore)

LANGS = ["ar", "eu", "zh", "fi", "he", "hi", "it", "ja", "ko", "ru", "sv", "tr"]


@pytest.fixture
def synthetic():
    """A feature that determines the score exactly (score = 40 + 30 * EXACT), plus pure noise."""
    rng = np.random.default_rng(0)
    exact = rng.uniform(0, 1, len(LANGS))
    features = pd.DataFrame({"NOISE": rng.normal(size=len(LANGS)), "EXACT": exact,
                             "NOISE2": rng.normal(size=len(LANGS))}, index=LANGS)
    return features, pd.Series(40 + 30 * exact, index=LANGS)


def test_exact_feature_correlates_perfectly_and_noise_does_not(synthetic):
    features, scores = synthetic
    rows = {r["feature"]: r for r in correlation_rows("pos", "m", scores, features)}
    assert rows["EXACT"]["pearson"] == pytest.approx(1.0)
    assert rows["EXACT"]["spearman"] == pytest.approx(1.0)
    assert rows["EXACT"]["pearson_p"] < 1e-10
    assert abs(rows["NOISE"]["pearson"]) < 0.9 and rows["NOISE"]["pearson_p"] > 0.01
    assert all(r["n_langs"] == len(LANGS) for r in rows.values())


def test_correlate_matches_scipy_and_leaves_out_missing_values():
    x = np.array([1.0, 2.0, math.nan, 4.0, 5.0, 7.0])
    y = np.array([2.0, 1.0, 9.0, 5.0, 4.0, 8.0])
    result = correlate(x, y)
    keep = ~np.isnan(x)
    assert result["n_langs"] == 5
    assert result["pearson"] == pytest.approx(scipy_stats.pearsonr(x[keep], y[keep]).statistic)
    assert result["spearman_p"] == pytest.approx(scipy_stats.spearmanr(x[keep], y[keep]).pvalue)


def test_correlate_gives_nan_not_an_error_for_too_few_or_constant_values():
    assert math.isnan(correlate([1, 2], [3, 4])["pearson"])
    constant = correlate([1, 1, 1, 1], [1, 2, 3, 4])
    assert math.isnan(constant["pearson"]) and constant["n_langs"] == 4


def test_loocv_equals_a_hand_written_leave_one_out_loop(synthetic):
    features, scores = synthetic
    rng = np.random.default_rng(1)
    y = scores.to_numpy() + rng.normal(scale=3, size=len(scores))  # not an exact fit, so folds differ
    x = zscore(features[["NOISE", "EXACT"]]).to_numpy()
    expected = np.empty(len(y))
    for train, test in LeaveOneOut().split(x):
        expected[test] = LinearRegression().fit(x[train], y[train]).predict(x[test])
    np.testing.assert_allclose(loocv_predictions(x, y), expected, rtol=1e-10)


def test_forward_selection_picks_the_exact_feature_alone(synthetic):
    features, scores = synthetic
    fit = forward_selection(features, scores)
    assert fit.selected == ["EXACT"]
    assert fit.weights == [pytest.approx(1.0)]
    assert fit.pearson == pytest.approx(1.0) and fit.spearman == pytest.approx(1.0)
    assert fit.mae == pytest.approx(0.0, abs=1e-9)
    # coefficient on the z-scored feature = 30 points per unit × the feature's std
    assert fit.coefficients[0] == pytest.approx(30 * features["EXACT"].std(ddof=0))
    row = regression_row("pos", "m", fit)
    assert row["selected_features"] == "EXACT" and row["weights"] == "1.0000"


def test_forward_selection_adds_a_second_feature_only_when_it_raises_loocv_pearson():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=12), rng.normal(size=12)
    features = pd.DataFrame({"A": a, "B": b, "NOISE": rng.normal(size=12)}, index=LANGS)
    scores = pd.Series(50 + 6 * a + 2 * b, index=LANGS)
    fit = forward_selection(features, scores)
    assert fit.selected == ["A", "B"]
    assert fit.pearson == pytest.approx(1.0)
    # normalised weights: shares of |coefficients| on z-scored features
    expected = np.array([6 * a.std(), 2 * b.std()])
    np.testing.assert_allclose(fit.weights, expected / expected.sum())
    # the pooled predictions are those of a LOOCV with the selected features
    np.testing.assert_allclose(fit.predictions, loocv_predictions(zscore(features[["A", "B"]]).to_numpy(), scores))


def test_features_with_a_missing_value_or_no_variation_are_not_candidates(synthetic):
    features, scores = synthetic
    features = features.assign(GAPPY=features["EXACT"], FLAT=1.0)
    features.loc["eu", "GAPPY"] = math.nan  # as Basque's FAM: perfect otherwise, but incomplete
    fit = forward_selection(features, scores)
    assert "GAPPY" not in fit.candidates and "FLAT" not in fit.candidates
    assert fit.selected == ["EXACT"]


def test_no_candidates_gives_an_empty_model_not_an_error():
    features = pd.DataFrame({"FLAT": [1.0, 1.0, 1.0]}, index=["a", "b", "c"])
    fit = forward_selection(features, pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"]))
    assert fit.selected == [] and math.isnan(fit.pearson)
    assert regression_row("pos", "m", fit)["selected_features"] == ""
