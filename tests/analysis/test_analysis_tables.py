"""The few-shot and cost tables on a hand-made run table with hand-computed answers."""
import math

import pandas as pd
import pytest

from analysis.collect import average_seeds, model_labels, zero_shot_scores
from analysis.costs import COST_COLUMNS, annotation_cost, cost_table, load_costs
from analysis.few_shot import FEW_SHOT_COLUMNS, few_shot_table, language_curves
from analysis.report import write_report
from zero2hero.errors import Z2HError


def run(run_id, task, lang, k, sampling, seed, score, duration=3600.0, stage=None, model="m"):
    stage = stage or ("evaluate" if k == 0 else "few_shot")
    return dict(run_id=run_id, stage=stage, status="FINISHED", task=task, model=model, lang=lang, k=k,
                sampling=sampling, seed=seed, score=score, duration=duration, shots="")


@pytest.fixture
def runs():
    return pd.DataFrame([
        run("z-en", "pos", "en", 0, "", "", 95.0, 360),  # the source language: not a target
        run("z-ar", "pos", "ar", 0, "", "", 60.0, 360),
        run("z-tr", "pos", "tr", 0, "", "", 70.0, 360),
        run("r-ar-1", "pos", "ar", 10, "random", "1", 70.0, 3600),
        run("r-ar-2", "pos", "ar", 10, "random", "2", 72.0, 1800),
        run("r-tr-1", "pos", "tr", 10, "random", "1", 75.0, 3600),
        run("r-tr-2", "pos", "tr", 10, "random", "2", 79.0, 1800),
        run("s-ar-1", "pos", "ar", 10, "shortest", "1", 64.0, 7200),
        run("x-de", "xnli", "de", 0, "random", "1", 78.0, 0, stage="ingest"),  # zero-shot only, ingested
        run("x-fr", "xnli", "fr", 0, "", "", 80.0, 0, stage="ingest"),
    ])


def cell(table, task, sampling, k):
    rows = table[(table["task"] == task) & (table["sampling"] == sampling) & (table["k"] == k)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_few_shot_table(runs):
    table = few_shot_table(runs)
    assert list(table.columns) == FEW_SHOT_COLUMNS
    # zero-shot is the k = 0 row of every sampling
    for sampling in ("random", "shortest"):
        zero = cell(table, "pos", sampling, 0)
        assert (zero["mean_score"], zero["delta_vs_zero"], zero["n_langs"], zero["n_seeds"]) == (65.0, 0.0, 2, 1)
        assert math.isnan(zero["std_score"])
    random10 = cell(table, "pos", "random", 10)
    assert random10["mean_score"] == pytest.approx(74.0)  # ar 71, tr 77
    assert random10["std_score"] == pytest.approx(pd.Series([72.5, 75.5]).std())  # language means per seed
    assert (random10["n_seeds"], random10["n_langs"]) == (2, 2)
    assert random10["delta_vs_zero"] == pytest.approx(9.0)  # ar +11, tr +7
    shortest10 = cell(table, "pos", "shortest", 10)
    # one language only: the delta is taken on that language, not against the 2-language zero-shot mean
    assert (shortest10["mean_score"], shortest10["delta_vs_zero"], shortest10["n_langs"]) == (64.0, 4.0, 1)
    xnli = cell(table, "xnli", "none", 0)
    assert (xnli["mean_score"], xnli["n_langs"]) == (79.0, 2)
    assert len(table) == 5


def test_language_curves_and_seed_averages(runs):
    curves = language_curves(runs)
    ar = curves[(curves["task"] == "pos") & (curves["sampling"] == "random") & (curves["lang"] == "ar")]
    assert ar.set_index("k")["score"].to_dict() == {0: 60.0, 10: 71.0}
    averaged = average_seeds(runs)
    row = averaged[(averaged["lang"] == "tr") & (averaged["k"] == 10)].iloc[0]
    assert (row["score"], row["n_seeds"], row["duration"]) == (77.0, 2, 5400.0)
    zero = zero_shot_scores(runs)
    assert set(zero["lang"]) == {"ar", "tr", "de", "fr"}  # the source language is not a target


def test_annotation_cost_defaults():
    config = load_costs()
    assert annotation_cost("xnli", 1000, "de", config) == pytest.approx(10.15)
    assert annotation_cost("xquad", 2, "de", config) == pytest.approx(6.0)  # $9/h × 4 min × 5 paragraphs
    assert annotation_cost("dep", 10, "ar", config) == pytest.approx(2.8)
    assert annotation_cost("ner", 100, "ar", config) == pytest.approx(6.0)
    assert annotation_cost("pos", 10, "ar", config) == pytest.approx(0.73)  # 14.6 tokens per sentence
    assert annotation_cost("pos", 10, "ar", config, shot_tokens=240) == pytest.approx(1.2)
    assert annotation_cost("pos", 0, "ar", config) == 0.0


def test_cost_table(runs, tmp_path):
    costs_file = tmp_path / "costs.yaml"
    costs_file.write_text("pos: {pool_mean_tokens: {tr: 20}}\ngpu_hour_price: 2.0\n")
    config = load_costs(str(costs_file))
    few = few_shot_table(runs)
    table = cost_table(runs, few, config, shot_tokens={"r-ar-1": 100})
    assert list(table.columns) == [*COST_COLUMNS, "compute_cost_usd"]
    random10 = cell(table, "pos", "random", 10)
    # ar s1: 100 real tokens = $0.50; ar s2: 10 × 14.6 = $0.73; tr: 10 × 20 pool mean = $1.00 each
    assert random10["annotation_cost_usd"] == pytest.approx((0.5 + 0.73 + 1.0 + 1.0) / 4)
    assert random10["gain_points"] == pytest.approx(9.0)
    assert random10["usd_per_point"] == pytest.approx(random10["annotation_cost_usd"] / 9.0)
    assert random10["compute_hours"] == pytest.approx(0.75)  # mean of 1 h, 0.5 h, 1 h, 0.5 h
    assert random10["compute_cost_usd"] == pytest.approx(1.5)
    zero = cell(table, "pos", "random", 0)
    assert (zero["annotation_cost_usd"], zero["compute_hours"]) == (0.0, pytest.approx(0.1))
    assert math.isnan(zero["usd_per_point"])  # nothing gained, no price per point
    assert math.isnan(cell(table, "xnli", "none", 0)["compute_hours"])  # ingested: no compute measured


def test_cost_table_without_shot_tokens_uses_defaults(runs):
    config = load_costs()
    config["use_shot_tokens"] = False
    table = cost_table(runs, few_shot_table(runs), config, shot_tokens={"r-ar-1": 100})
    assert list(table.columns) == COST_COLUMNS
    assert cell(table, "pos", "random", 10)["annotation_cost_usd"] == pytest.approx(0.73)


def test_costs_file_with_an_unknown_key_is_rejected(tmp_path):
    bad = tmp_path / "costs.yaml"
    bad.write_text("pos: {usd_per_token: 1}\n")
    with pytest.raises(Z2HError, match="usd_per_token.*valid: usd_per_10_tokens"):
        load_costs(str(bad))
    bad.write_text("postagging: {}\n")
    with pytest.raises(Z2HError, match="unknown costs key 'postagging'"):
        load_costs(str(bad))


def test_model_labels_are_the_slugs_when_they_name_each_model_once():
    frame = pd.DataFrame({"model": ["/venv/pkg/model", "/venv/pkg/model", "xlm-roberta-base", "mbert"],
                          "model_name": ["minilm", "", "xlmr", ""]})
    assert model_labels(frame) == {"/venv/pkg/model": "minilm", "xlm-roberta-base": "xlmr", "mbert": "mbert"}
    clash = pd.DataFrame({"model": ["/a/model", "/b/model"], "model_name": ["model", "model"]})
    assert model_labels(clash) == {}  # two models, one slug: keep what was recorded
    two_names = pd.DataFrame({"model": ["/a/enc", "/a/enc"], "model_name": ["x", "y"]})
    assert model_labels(two_names) == {"/a/enc": "/a/enc"}


def test_the_report_names_models_by_their_short_names(tmp_path):
    empty = pd.DataFrame(columns=["task", "model", "lang", "score"])
    write_report(tmp_path, experiment="e", summary=[], zero=empty, features={}, correlations=empty,
                 regression=empty, fits={}, few_shot=empty, curves=empty, costs=empty,
                 notes=["pos: SIZE for model '/venv/pkg/model' is not known; pass size_corpus"],
                 labels={"/venv/pkg/model": "minilm"})
    report = (tmp_path / "report.md").read_text()
    assert "model 'minilm' is not known" in report and "/venv/pkg" not in report
