"""The transfer predictor, the budget planner and the bootstrap intervals on a published-style score table."""
import math

import numpy as np
import pandas as pd
import pytest

from analysis.budget import fit_planner, gain_fit, validation_table, wide_curves
from analysis.budget_run import paragraph, plan
from analysis.few_shot import few_shot_table, language_curves
from analysis.intervals import add_few_shot_intervals, correlation_interval, mean_interval
from analysis.transfer import TransferPredictor, conformal_halfwidth, loo_coverage
from published_scores import HEADER, KS, ZERO_SHOT, score_rows
from zero2hero.errors import Z2HError
from analysis.lang_features import language_features


def results_table(rows) -> pd.DataFrame:
    """Run-level results as collect.results returns them, from ingest-style rows."""
    table = pd.DataFrame(rows, columns=HEADER)
    return table.assign(run_id=[f"r{i}" for i in range(len(table))], stage="ingest", status="FINISHED",
                        duration=math.nan, shots="", model_name="", seed=table["seed"].astype(str))


@pytest.fixture(scope="module")
def results():
    return results_table(score_rows())


@pytest.fixture(scope="module")
def predictor():
    scores = pd.Series(ZERO_SHOT)
    table, _ = language_features(tuple(scores.index), "mbert", ("SYN", "PHON", "INV", "FAM", "GEO", "SIZE"), "en")
    return TransferPredictor.from_analysis("dep", "mbert", scores, table, "en", "wikipedia")


def test_conformal_halfwidth_rank():
    assert conformal_halfwidth(np.arange(1, 13)) == 11  # ceil(0.8 × 13) = 11th smallest |residual|
    assert conformal_halfwidth([3, -1]) == 3  # too few residuals: the largest
    assert math.isnan(conformal_halfwidth([]))


def test_predictor_any_language_and_clear_errors(predictor):
    out = predictor.predict(pd.DataFrame({"lang": ["yo", "kaz", "deu", "de", "it"]}))
    assert list(out.columns) == ["lang", "predicted_score", "lower", "upper", "features", "note"]
    assert (out["lower"] < out["predicted_score"]).all() and (out["predicted_score"] < out["upper"]).all()
    assert out.loc[2, "predicted_score"] == out.loc[3, "predicted_score"]  # ISO 639-3 and 639-1: one language
    assert out.loc[2, "predicted_score"] > out.loc[1, "predicted_score"]  # German transfers better than Kazakh
    assert out.loc[0, "features"] == "+".join(predictor.fit.selected).replace("+", ";")
    with pytest.raises(Z2HError, match="'xx' is unknown to lang2vec"):
        predictor.predict(pd.DataFrame({"lang": ["yo", "xx"]}))
    with pytest.raises(Z2HError, match="needs a column 'lang'"):
        predictor.predict(pd.DataFrame({"language": ["yo"]}))


def test_predictor_without_size_says_so():
    # a SIZE-only regressor: scores exactly linear in the Wikipedia size of the training languages
    scores = pd.Series({"ar": 50.0, "fi": 60.0, "it": 80.0, "ja": 70.0, "ko": 55.0, "ru": 75.0, "tr": 52.0})
    table, _ = language_features(tuple(scores.index), "mbert", ("SIZE",), "en")
    scores = 60 + 10 * table["SIZE"]
    predictor = TransferPredictor.from_analysis("pos", "mbert", scores, table, "en", "wikipedia")
    assert predictor.fit.selected == ("SIZE",)
    known = predictor.predict_one("de")  # in the shipped table: SIZE is used
    assert known["features"] == "SIZE" and known["note"] == "" and known["predicted_score"] > 70
    given = predictor.predict_one("kaz", size=230_000)
    assert given["features"] == "SIZE" and "given size" in given["note"]
    unknown = predictor.predict_one("kaz")
    assert unknown["features"] == "" and "no SIZE value" in unknown["note"]
    assert unknown["predicted_score"] == pytest.approx(scores.mean())


def test_interval_covers_about_80_percent_of_held_out_languages(predictor):
    covered, n = loo_coverage(predictor)
    assert n == 12 and 0.65 <= covered / n <= 0.95, (covered, n)


def test_bootstrap_intervals_are_seeded_and_contain_the_estimate(results):
    x, y = np.array([0.1, 0.4, 0.35, 0.8, 0.6, 0.9]), np.array([40, 55, 50, 80, 62, 85.0])
    first, again = correlation_interval(x, y), correlation_interval(x, y)
    assert first == again
    assert first["pearson_lo"] < np.corrcoef(x, y)[0, 1] < first["pearson_hi"] <= 1
    assert all(math.isnan(v) for v in correlation_interval([1, 2], [3, 4]).values())
    assert math.isnan(mean_interval([np.array([70.0])])[0])
    few = add_few_shot_intervals(few_shot_table(results), results)
    assert (few["mean_lo"] <= few["mean_score"]).all() and (few["mean_score"] <= few["mean_hi"]).all()
    k100 = few[(few["k"] == 100)].iloc[0]
    assert 2 < k100["mean_hi"] - k100["mean_lo"] < 25  # 12 languages spread over 40 points


def test_planner_beats_the_naive_baseline(results):
    validation = validation_table(language_curves(results))
    assert list(validation.columns) == ["task", "model", "sampling", "k", "planner_mae", "baseline_mae", "n_langs"]
    assert sorted(validation["k"]) == list(KS) and (validation["n_langs"] == 12).all()
    assert (validation["planner_mae"] < 0.5 * validation["baseline_mae"]).all()
    a, b = gain_fit(np.array([40.0, 60, 80, 100]), np.array([20.0, 12, 4, -4]))
    assert (a, b) == pytest.approx((36.0, -0.4))  # languages that start low gain most
    assert gain_fit(np.array([40.0, 60, 80]), np.array([20.0, 12, 4]))[1] == 0  # 3 languages: no slope can be tested
    # gains that do not follow the zero-shot score: the line loses to the mean on held-out languages
    assert gain_fit(np.array([20.0, 25, 30, 35, 40]), np.array([30.0, 10, 35, 12, 28])) == pytest.approx((23.0, 0.0))


def test_planner_interpolates_on_log_k_and_never_extrapolates(results):
    curves = language_curves(results)
    planner = fit_planner(wide_curves(curves), exclude="tr")
    assert planner.ks == KS and planner.n_langs == (11,) * 5
    at, low, high = planner.curve(53.6, 0.0, [0, 10, 30, 50])
    x = np.log1p([10, 50])
    assert at[0] == low[0] == high[0] == 53.6  # a measured zero-shot score has no interval of its own
    assert at[2] == pytest.approx(np.interp(np.log1p(30), x, at[[1, 3]]))
    assert (low[1:] < at[1:]).all() and (at[1:] < high[1:]).all()


def test_budget_answers_for_target_budget_and_k(results):
    measured = plan(results, {}, "dep", "mbert", "tr", target=70)
    assert measured.zero_source == "measured zero-shot score" and measured.zero_shot == 53.6
    assert 50 < measured.k < 500 and measured.predicted_score >= 70 and measured.reached
    assert measured.annotation_cost_usd == pytest.approx(measured.k * 0.28)
    assert measured.lower < measured.predicted_score < measured.upper
    shown = measured.curve.set_index("k")["measured_score"]
    assert shown.loc[[0, *KS]].notna().all()  # tr's own runs are shown beside the curve, not fitted
    new = plan(results, {}, "dep", "mbert", "yo", budget_usd=50)
    assert new.k == 178 and new.annotation_cost_usd <= 50 and "transfer predictor" in new.zero_source
    assert new.upper - new.lower > measured.upper - measured.lower  # a predicted zero-shot widens the interval
    at_k = plan(results, {}, "dep", "mbert", "kaz", k=100)
    assert at_k.k == 100 and at_k.predicted_score > at_k.zero_shot
    text = paragraph(new)
    assert text.startswith("With $50 on dep yo with mbert") and "annotate 178 examples" in text
    done = plan(results, {}, "dep", "mbert", "it", target=80)
    assert done.k == 0 and "already reaches the target" in paragraph(done)
    high = plan(results, {}, "dep", "mbert", "it", target=99)
    assert not high.reached and high.k == 1000 and "above what the curve reaches" in paragraph(high)


@pytest.mark.parametrize("kwargs, message", [
    (dict(task="tagging", lang="tr", target=70), "unknown task 'tagging'"),
    (dict(task="dep", lang="xx", target=70), "'xx' is unknown to lang2vec"),
    (dict(task="dep", lang="tr"), "give exactly one of target"),
    (dict(task="dep", lang="tr", target=70, k=10), "got target, k"),
    (dict(task="dep", lang="tr", k=5000), "beyond the largest measured k"),
    (dict(task="dep", lang="tr", target=70, sampling="longest"), "samplings with runs: random"),
    (dict(task="dep", lang="tr", target=170), "target must be a score"),
    (dict(task="dep", lang="tr", target=70, model="xlmr"), "its dep models: mbert"),
])
def test_budget_bad_input(results, kwargs, message):
    kwargs = {"model": "mbert", **kwargs}
    with pytest.raises(Z2HError, match=message):
        plan(results, {}, **kwargs)


def test_budget_needs_few_shot_runs():
    zero_only = results_table([row for row in score_rows() if row[3] == 0])
    with pytest.raises(Z2HError, match="no few-shot runs of dep/mbert"):
        plan(zero_only, {}, "dep", "mbert", "tr", target=70)


def test_budget_parameters_empty_means_not_given():
    from zero2hero.config import parse_params

    params = parse_params("budget", ["--task", "dep", "--lang", "yo", "--target", "", "--k", "100"])
    assert (params.target, params.budget_usd, params.k) == (None, "", 100)
    with pytest.raises(Z2HError, match="budget_usd='-5' is not valid"):
        parse_params("budget", ["--task", "dep", "--lang", "yo", "--budget_usd", "-5"])
