"""Ingest and analysis against a real MLflow tracking store (SQLite in a temporary directory)."""
import csv
import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from analysis import collect
from analysis.ingest import run_ingest
from analysis.main import run_analysis
from zero2hero.errors import DataError, Z2HError
from analysis.lang_features import uriel_similarity
from zero2hero.tasks import task_class

HEADER = "task,model,lang,k,sampling,seed,score"


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """A SQLite tracking store with MLflow's tables made once (that takes seconds); tests get copies."""
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking(empty_store, tmp_path, monkeypatch):
    """A fresh tracking store in tmp_path (artifacts under tmp_path/mlruns), as the default for MLflow."""
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    mlflow.set_tracking_uri(uri)
    yield MlflowClient()
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def write_csv(path, rows) -> str:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return str(path)


@pytest.mark.parametrize("rows, line, message", [
    (["pos,mbert,tr,0,,,70", "tagging,mbert,tr,0,,,70"], 3, "unknown task 'tagging'"),
    (["pos,mbert,xx,0,,,70"], 2, "unknown language 'xx'"),
    (["pos,mbert,tr,0,,,seventy"], 2, "score must be a number"),
    (["pos,mbert,tr,0,,,170"], 2, "between 0 and 100"),
    (["pos,mbert,tr,ten,random,1,70"], 2, "k must be a whole number"),
    (["pos,mbert,tr,10,,1,70"], 2, "sampling must be one of"),
    (["pos,mbert,tr,10,random,first,70"], 2, "seed must be a whole number"),
    (["pos,,tr,0,,,70"], 2, "empty model"),
])
def test_bad_csv_names_the_line_and_creates_nothing(tracking, tmp_path, rows, line, message):
    path = write_csv(tmp_path / "scores.csv", rows)
    with pytest.raises(DataError, match=message) as error:
        run_ingest(path, "published")
    assert error.value.line == line and str(error.value).startswith(f"{path}:{line}: ")
    assert tracking.get_experiment_by_name("published") is None


def test_bad_csv_missing_columns_and_several_problems(tracking, tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("task,model,lang,k,score\npos,mbert,tr,0,70\n")
    with pytest.raises(DataError, match="missing column.*sampling, seed") as error:
        run_ingest(str(path), "published")
    assert error.value.line == 1
    many = write_csv(path, ["pos,mbert,tr,0,,,x", "pos,mbert,ar,0,,,70", "pos,mbert,qq,0,,,70"])
    with pytest.raises(DataError, match=r"scores.csv:2: score.*and 1 more: line 4: unknown language 'qq'"):
        run_ingest(many, "published")
    assert tracking.get_experiment_by_name("published") is None


def ud_rows(syntax: dict) -> list[str]:
    """POS results whose zero-shot score is exactly 30 + 60 × SYN; few-shot gains of 5 (k=10) and 9 (k=50)."""
    rows = [f"pos,mbert,{lang},0,,,{30 + 60 * s}" for lang, s in syntax.items()]
    for lang, s in syntax.items():
        for seed, jitter in ((1, -0.5), (2, 0.5)):
            rows += [f"pos,mbert,{lang},10,random,{seed},{35 + 60 * s + jitter}",
                     f"pos,mbert,{lang},50,random,{seed},{39 + 60 * s + jitter}"]
    return rows


def test_ingest_then_analysis(tracking, tmp_path):
    syntax, _ = uriel_similarity("SYN", task_class("pos").targets)
    rows = ud_rows(syntax) + ["xnli,xlmr,de,0,,,78.5", "xnli,xlmr,fr,0,random,1,79"]  # xnli: too few languages
    path = write_csv(tmp_path / "scores.csv", rows)
    assert run_ingest(path, "published") == len(rows)
    assert run_ingest(path, "published") == 0  # re-ingesting the same file adds nothing

    experiment = tracking.get_experiment_by_name("published")
    runs = collect.search_all_runs([experiment.experiment_id], client=tracking)
    named = {r.info.run_name: r for r in runs}
    run = named["ingest/pos/mbert/tr/k=10/random/s1"]
    assert run.data.tags["z2h.stage"] == "ingest" and run.info.status == "FINISHED"
    assert run.data.params == {"task": "pos", "model": "mbert", "lang": "tr", "k": "10", "sampling": "random",
                               "seed": "1"}
    assert "ingest/xnli/xlmr/de/k=0" in named

    out = tmp_path / "report"
    paths = run_analysis("published", output_dir=str(out))
    assert {"correlations", "regression", "few_shot", "costs", "report"} <= set(paths)
    correlations = pd.read_csv(paths["correlations"])
    assert list(correlations["feature"]) == ["SYN", "PHON", "INV", "FAM", "GEO", "SIZE"]
    syn = correlations.set_index("feature").loc["SYN"]
    assert syn["pearson"] == pytest.approx(1.0) and syn["n_langs"] == 12
    assert correlations.set_index("feature").loc["FAM", "n_langs"] == 11  # Basque, an isolate
    regression = pd.read_csv(paths["regression"], keep_default_na=False)
    assert regression.iloc[0][["task", "model", "selected_features"]].tolist() == ["pos", "mbert", "SYN"]
    assert regression.iloc[0]["pearson"] == pytest.approx(1.0)
    few = pd.read_csv(paths["few_shot"]).set_index(["task", "sampling", "k"])
    assert few.loc[("pos", "random", 10), "delta_vs_zero"] == pytest.approx(5.0)
    assert few.loc[("pos", "random", 50), ["n_seeds", "n_langs"]].tolist() == [2, 12]
    assert few.loc[("pos", "random", 50), "std_score"] == pytest.approx(pd.Series([-0.5, 0.5]).std())
    costs = pd.read_csv(paths["costs"]).set_index(["task", "sampling", "k"])
    assert costs.loc[("pos", "random", 50), "usd_per_point"] == pytest.approx(50 * 14.6 / 10 * 0.05 / 9)

    report = (out / "report.md").read_text()
    assert "xnli/xlmr: zero-shot scores for 2 language(s)" in report
    for plot in ("few_shot_delta_pos", "few_shot_curves_pos", "zero_shot_vs_feature_pos", "regression_pos"):
        assert f"]({plot}.png)" in report and (out / f"{plot}.png").stat().st_size > 1000
    analysis_runs = [r for r in collect.search_all_runs([experiment.experiment_id], client=tracking)
                     if r.data.tags.get("z2h.stage") == "analysis"]
    assert len(analysis_runs) == 1 and analysis_runs[0].info.status == "FINISHED"
    logged = {a.path for a in tracking.list_artifacts(analysis_runs[0].info.run_id)}
    assert {"correlations.csv", "regression.csv", "few_shot.csv", "costs.csv", "report.md"} <= logged


def record(client, experiment_id, stage, params, score=None, status="FINISHED", seconds=60, tags=None):
    """A run as the platform records it: params, tags, the score metric, a start and an end."""
    run = client.create_run(experiment_id, start_time=1_000_000, tags={"z2h.stage": stage, **(tags or {})})
    metrics = [Metric("score", score, 1_000_000, 0)] if score is not None else []
    client.log_batch(run.info.run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()])
    client.set_terminated(run.info.run_id, status, end_time=1_000_000 + seconds * 1000)
    return run.info.run_id


def test_shot_tokens_come_from_the_run_and_only_older_runs_download_shots(tracking):
    """A run with the `z2h.shots_tokens` tag is priced from it (its shots.jsonl, which disagrees, is not read);
    a run logged before the tag existed still has its shots.jsonl counted."""
    exp = tracking.create_experiment("tokens")
    cell = {"task": "pos", "model": "m", "k": 2, "sampling": "random", "seed": 1}
    logged = record(tracking, exp, "few_shot", {**cell, "lang": "tr"}, 70.0,
                    tags={"z2h.shots": "shots.jsonl", "z2h.shots_tokens": "17"})
    tracking.log_text(logged, '{"index": 0, "id": "a", "n_tokens": 999}\n', "shots.jsonl")
    older = record(tracking, exp, "few_shot", {**cell, "lang": "it"}, 71.0, tags={"z2h.shots": "shots.jsonl"})
    tracking.log_text(older, '{"index": 0, "id": "a", "n_tokens": 5}\n{"index": 1, "id": "b", "n_tokens": 6}\n',
                      "shots.jsonl")
    results, _ = collect.results(collect.collect_runs("tokens", tracking))
    assert collect.load_shot_tokens(results, tracking) == {logged: 17, older: 11}


def test_collect_platform_runs(tracking, monkeypatch):
    exp = tracking.create_experiment("study")
    model = "bert-base-multilingual-cased"
    record(tracking, exp, "source", {"task": "pos", "model": model, "model_name": "mbert", "lang": "en"}, 95.5)
    parent = record(tracking, exp, "evaluate", {"task": "pos", "model": model, "langs": "ar,tr,ko"})
    for lang, score in (("ar", 60.0), ("tr", 70.0), ("ko", 55.0)):
        record(tracking, exp, "evaluate", {"task": "pos", "model": model, "lang": lang}, score, seconds=36,
               tags={"mlflow.parentRunId": parent})
    shots = record(tracking, exp, "few_shot", {"task": "pos", "model": model, "lang": "tr", "k": 2,
                                               "sampling": "longest", "seed": 1}, 72.0, seconds=720,
                   tags={"z2h.shots": "shots.jsonl"})
    tracking.log_text(shots, "\n".join(json.dumps({"index": i, "id": f"s{i}", "n_tokens": n})
                                       for i, n in enumerate((30, 12))), "shots.jsonl")
    record(tracking, exp, "few_shot", {"task": "pos", "model": model, "lang": "ar", "k": 2,
                                       "sampling": "longest", "seed": 1}, 99.0, status="FAILED")
    record(tracking, exp, "trial", {"task": "pos", "model": model, "lang": "en"}, 90.0)

    from zero2hero.tracking import queries

    monkeypatch.setattr(queries, "PAGE_SIZE", 2)  # several pages even for a handful of runs
    runs = collect.collect_runs("study", tracking)
    assert len(runs) == 8
    results, notes = collect.results(runs)
    assert sorted(results["stage"]) == ["evaluate"] * 3 + ["few_shot"]
    assert (results.loc[results["stage"] == "evaluate", "k"] == 0).all()
    assert results.set_index("lang").loc["ar", "duration"] == pytest.approx(36.0)
    assert any("1 FAILED" in n for n in notes)
    assert collect.load_shot_tokens(results, tracking) == {shots: 42}

    paths = run_analysis("study", output_dir="out", features="SYN,SIZE")
    costs = pd.read_csv(paths["costs"]).set_index(["sampling", "k"])
    assert costs.loc[("longest", 2), "annotation_cost_usd"] == pytest.approx(0.21)  # 42 real tokens
    assert costs.loc[("longest", 2), "compute_hours"] == pytest.approx(0.2)
    assert costs.loc[("longest", 2), "gain_points"] == pytest.approx(2.0)  # tr only: 72 - 70
    report = Path(paths["report"]).read_text()
    assert (costs["model"] == model).all()  # the CSVs keep the model as recorded; the report shows its slug
    assert "source-language (en) reference scores: pos/mbert 95.5" in report
    assert "| lang | mbert |" in report and model not in report


def test_analysis_logs_into_the_active_run(tracking):
    exp = tracking.create_experiment("study")
    for lang, score in (("ar", 60.0), ("tr", 70.0), ("ko", 55.0), ("zz", 50.0)):
        record(tracking, exp, "evaluate", {"task": "ner", "model": "/models/encoder", "lang": lang}, score)
    with mlflow.start_run(experiment_id=tracking.create_experiment("analyses")) as active:
        mlflow.log_param("features", "SYN,GEO,SIZE")  # as `mlflow run` logs -P values before the code runs
        paths = run_analysis("study", features="SYN,GEO,SIZE", output_dir="out")
        assert mlflow.active_run().info.run_id == active.info.run_id  # not ended by the analysis
    run = tracking.get_run(active.info.run_id)
    assert run.data.tags["z2h.stage"] == "analysis" and run.data.params["experiment"] == "study"
    assert "report.md" in {a.path for a in tracking.list_artifacts(run.info.run_id)}
    report = Path(paths["report"]).read_text()
    assert "SIZE left out for model '/models/encoder'" in report
    assert "zz" in report and "left out" in report  # unknown to lang2vec: reported, not fatal
    correlations = pd.read_csv(paths["correlations"]).set_index("feature")
    assert correlations.loc["SYN", "n_langs"] == 3


def test_analysis_of_an_experiment_without_results(tracking):
    tracking.create_experiment("empty")
    paths = run_analysis("empty", output_dir="out")
    assert "No results to analyse" in Path(paths["report"]).read_text()
    assert list(pd.read_csv(paths["few_shot"]).columns)[:4] == ["task", "model", "sampling", "k"]
    with pytest.raises(Z2HError, match="no experiment 'missing'"):
        run_analysis("missing", output_dir="out")


def test_ingested_csv_is_read_with_extra_columns_and_blank_lines(tracking, tmp_path):
    path = tmp_path / "published.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", "model", "lang", "k", "sampling", "seed", "score", "source"])
        writer.writerow(["XNLI", "mbert", "DE", "0", "", "", "70.3", "Table 3"])
        writer.writerow([])
        writer.writerow(["xnli", "mbert", "fr", "0", "", "", "73.1", "Table 3"])
    assert run_ingest(str(path), "published") == 2
    runs = collect.collect_runs("published")
    assert sorted(runs["lang"]) == ["de", "fr"] and set(runs["task"]) == {"xnli"}


def test_analysis_attaches_to_the_project_run_of_mlflow_run(tracking, monkeypatch):
    """Under `mlflow run` no run is active in the process, but MLFLOW_RUN_ID names the project's run."""
    exp = tracking.create_experiment("study")
    for lang, score in (("de", 80.0), ("el", 70.0), ("ru", 72.0)):
        record(tracking, exp, "evaluate", {"task": "xnli", "model": "xlm-roberta-base", "lang": lang}, score)
    project_run = tracking.create_run(tracking.create_experiment("projects")).info.run_id
    monkeypatch.setenv("MLFLOW_RUN_ID", project_run)
    run_analysis("study", output_dir="out")
    run = tracking.get_run(project_run)
    assert run.data.tags["z2h.stage"] == "analysis" and run.data.metrics["n_result_runs"] == 3
    assert "correlations.csv" in {a.path for a in tracking.list_artifacts(project_run)}
    study_runs = collect.collect_runs("study", tracking)
    assert "analysis" not in set(study_runs["stage"])  # nothing new in the analysed experiment


def test_paired_bootstrap_between_samplings_from_predictions(tracking):
    """few_shot_tests.csv: runs that logged predictions.jsonl are compared pairwise per (task, model, lang, k, seed)."""
    import numpy as np

    from analysis.paired import paired_bootstrap

    exp = tracking.create_experiment("study")
    for lang, score in (("ar", 60.0), ("tr", 70.0), ("ko", 55.0)):
        record(tracking, exp, "evaluate", {"task": "pos", "model": "m", "lang": lang}, score)
    # 200 sentences of 5 words: random gets 4 right in every one, longest 3 (a clear, consistent difference)
    for sampling, right in (("random", 4), ("longest", 3), ("shortest", 4)):
        run = record(tracking, exp, "few_shot", {"task": "pos", "model": "m", "lang": "tr", "k": 10,
                                                 "sampling": sampling, "seed": 1}, 20.0 * right,
                     tags={} if sampling == "shortest" else {"z2h.predictions": "predictions.jsonl"})
        tracking.log_text(run, "".join(json.dumps({"id": f"s{i}", "gold": {}, "prediction": {}, "correct": right,
                                                   "total": 5}) + "\n" for i in range(200)), "predictions.jsonl")
    paths = run_analysis("study", output_dir="out", features="SYN")
    tests = pd.read_csv(paths["few_shot_tests"])
    assert len(tests) == 1  # shortest logged no predictions (no tag): not compared
    row = tests.iloc[0]
    assert (row["sampling_a"], row["sampling_b"]) == ("longest", "random")
    assert row["difference"] == pytest.approx(-20.0) and row["ci_low"] == row["ci_high"] == pytest.approx(-20.0)
    assert row["p_value"] < 0.001 and row["n_examples"] == 200
    assert "Paired bootstrap tests between samplings" in Path(paths["report"]).read_text()

    same = np.array([[1, 1], [0, 1]] * 50)
    assert paired_bootstrap(same, same)["p_value"] == 1.0  # identical systems: no difference at all
    rng = np.random.default_rng(3)
    noisy_a, noisy_b = (np.stack([rng.integers(0, 2, 300), np.ones(300, int)], 1) for _ in range(2))
    result = paired_bootstrap(noisy_a, noisy_b)
    assert result["ci_low"] < result["difference"] < result["ci_high"]
    assert (result["p_value"] > 0.05) == (result["ci_low"] < 0 < result["ci_high"])


def test_three_languages_register_a_mean_predictor_that_says_so(tracking):
    """The demo's shape (3 target languages, a local encoder): no feature can be checked on held-out languages,
    so the registered predictor is the mean zero-shot score with its leave-one-out interval, and says so."""
    from analysis.budget_run import paragraph, plan

    exp = tracking.create_experiment("demo-like")
    model, zero = "/models/minilm", {"it": 38.0, "tr": 30.5, "fi": 33.0}
    for lang, score in zero.items():
        record(tracking, exp, "evaluate", {"task": "dep", "model": model, "model_name": "minilm", "lang": lang}, score)
        for k, gain in ((10, 6.0), (100, 20.0)):
            record(tracking, exp, "few_shot", {"task": "dep", "model": model, "model_name": "minilm", "lang": lang,
                                               "k": k, "sampling": "random", "seed": 1}, score + gain - score / 20)
    paths = run_analysis("demo-like", output_dir="out")
    report = Path(paths["report"]).read_text()
    assert ("transfer predictor registered as z2h-transfer-dep-minilm@latest: no language feature improved on the "
            "mean over 3 languages") in report
    assert "equals the baseline, so those rows do not test it" in report  # budget validation over 3 languages

    version = tracking.get_model_version_by_alias("z2h-transfer-dep-minilm", "latest")
    assert version.tags["z2h.features"] == "none" and version.tags["z2h.n_langs"] == "3"
    analysed = tracking.search_runs([exp], "tags.`z2h.stage` = 'analysis'")
    assert len(analysed) == 1 and analysed[0].info.status == "FINISHED" and version.run_id == analysed[0].info.run_id
    assert "report.md" in {a.path for a in tracking.list_artifacts(analysed[0].info.run_id)}
    out = mlflow.pyfunc.load_model("models:/z2h-transfer-dep-minilm@latest").predict(pd.DataFrame({"lang": ["yo", "de"]}))
    mean = sum(zero.values()) / 3
    # leave-one-out residuals of the mean: 38 - 31.75, 30.5 - 35.5, 33 - 34.25; with 3 the largest is the half-width
    assert out["predicted_score"].tolist() == pytest.approx([mean, mean])
    assert out["lower"].tolist() == pytest.approx([mean - 6.25] * 2) and out["upper"].tolist() == pytest.approx([mean + 6.25] * 2)
    assert (out["features"] == "").all()
    assert out["note"].str.contains("no language feature improved on the mean over 3 languages").all()
    assert out["note"].str.contains("covers less than 80%").all()

    runs = collect.collect_runs("demo-like", tracking)
    results, _ = collect.results(runs)
    answer = plan(results, collect.model_labels(runs), "dep", "minilm", "yo", k=100)
    assert answer.zero_shot == pytest.approx(mean) and "no language feature improved" in answer.zero_source
    assert answer.lower < answer.predicted_score < answer.upper
    assert "curve interval: with 3 leave-one-out errors" in paragraph(answer)
    inside = plan(results, collect.model_labels(runs), "dep", "minilm", "tr", k=100)  # fitted on it and fi only
    assert inside.zero_source == "measured zero-shot score" and "the curve rests on 2 other language(s)" in paragraph(inside)


def test_a_report_that_fails_logs_no_analysis_run_and_registers_nothing(tracking, monkeypatch):
    """The output files are written before the analysis run is logged: when writing them fails, no analysis run
    and no predictor (`@latest`) claims a result."""
    import analysis.main

    exp = tracking.create_experiment("report-fails")
    for lang, score in {"it": 38.0, "tr": 30.5, "fi": 33.0}.items():
        record(tracking, exp, "evaluate", {"task": "dep", "model": "/m", "model_name": "m", "lang": lang}, score)

    def broken_report(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(analysis.main, "write_report", broken_report)
    with pytest.raises(OSError, match="disk full"):
        run_analysis("report-fails", output_dir="out")
    analysed = tracking.search_runs([exp], "tags.`z2h.stage` = 'analysis'")
    assert analysed == []
    assert tracking.search_registered_models("name = 'z2h-transfer-dep-m'") == []
