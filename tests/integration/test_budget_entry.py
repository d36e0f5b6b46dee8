"""ingest -> analysis -> the registered transfer predictor and the `budget` entry point, on the live server."""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analysis.ingest import run_ingest
from helpers import BIN, REPO, free_port, mlflow_run, z2h
from published_scores import write_scores

pytestmark = pytest.mark.integration
EXPERIMENT = "dep-published"
MODEL_URI = "models:/z2h-transfer-dep-mbert@latest"


@pytest.fixture(scope="module")
def analysed(mlflow_server, tmp_path_factory):
    """The published-style DEP table ingested and analysed once for the module; returns the report folder."""
    tmp = tmp_path_factory.mktemp("budget")
    write_scores(tmp / "scores.csv", seeds=(1, 2))  # two seeds: the table stays small to ingest
    mlflow.set_tracking_uri(mlflow_server.uri)
    try:  # in-process: the ingest entry point has its own tests
        run_ingest(str(tmp / "scores.csv"), EXPERIMENT)
    finally:
        mlflow.set_tracking_uri(None)
    mlflow_run("analysis", {"experiment": EXPERIMENT, "output_dir": tmp / "report"}, mlflow_server.uri,
               experiment="budget-analyses")
    return tmp / "report"


def budget_runs(client, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], "tags.`z2h.stage` = 'budget'", order_by=["start_time DESC"])


def test_analysis_registers_the_predictor_and_reports_intervals(analysed, tracking):
    correlations = pd.read_csv(analysed / "correlations.csv")
    assert list(correlations.columns)[-4:] == ["pearson_lo", "pearson_hi", "spearman_lo", "spearman_hi"]
    syn = correlations.set_index("feature").loc["SYN"]
    assert syn["pearson_lo"] < syn["pearson"] < syn["pearson_hi"]
    few = pd.read_csv(analysed / "few_shot.csv")
    assert ((few["mean_lo"] <= few["mean_score"]) & (few["mean_score"] <= few["mean_hi"])).all()
    validation = pd.read_csv(analysed / "budget_validation.csv")
    assert len(validation) == 5 and (validation["planner_mae"] < validation["baseline_mae"]).all()
    report = (analysed / "report.md").read_text()
    assert "Budget planner: leave-one-language-out error" in report and "pearson_lo" in report
    assert "transfer predictor registered as z2h-transfer-dep-mbert@latest" in report

    version = MlflowClient().get_model_version_by_alias("z2h-transfer-dep-mbert", "latest")
    assert version.tags["z2h.experiment"] == EXPERIMENT
    model = mlflow.pyfunc.load_model(MODEL_URI)
    assert [c.name for c in model.metadata.get_input_schema().inputs] == ["lang", "size"]
    out = model.predict(pd.DataFrame({"lang": ["yo", "kaz", "it"]}))
    assert list(out.columns) == ["lang", "predicted_score", "lower", "upper", "features", "note"]
    assert ((out["lower"] < out["predicted_score"]) & (out["predicted_score"] < out["upper"])).all()
    with pytest.raises(Exception, match="'xx' is unknown to lang2vec"):
        model.predict(pd.DataFrame({"lang": ["xx"]}))


def test_budget_for_a_language_with_runs_and_one_without(analysed, tracking):
    result = mlflow_run("budget", {"experiment": EXPERIMENT, "task": "dep", "model": "mbert", "lang": "tr",
                                   "target": 70}, tracking, experiment="budgets")
    assert "To reach 70 on dep tr with mbert" in result.stdout and "measured zero-shot score" in result.stdout
    client = MlflowClient()
    run = budget_runs(client, "budgets")[0]
    assert run.info.status == "FINISHED" and run.data.params["target"] == "70"
    metrics = run.data.metrics
    assert metrics["predicted_score"] >= 70 and metrics["lower"] < metrics["predicted_score"] < metrics["upper"]
    assert metrics["annotation_cost_usd"] == pytest.approx(metrics["k"] * 0.28) and metrics["target_reached"] == 1
    assert {"budget.csv", "budget.png"} <= {a.path for a in client.list_artifacts(run.info.run_id)}

    new = z2h("budget", "--experiment", EXPERIMENT, "--task", "dep", "--model", "mbert", "--lang", "yo",
              "--budget_usd", "50", tracking_uri=tracking)
    assert new.returncode == 0, new.stderr
    assert "With $50 on dep yo" in new.stdout and "transfer predictor" in new.stdout
    run = budget_runs(client, EXPERIMENT)[0]
    assert run.data.metrics["k"] == 178 and run.data.metrics["annotation_cost_usd"] <= 50


def test_budget_above_the_curve_and_bad_input(analysed, tracking, tmp_path):
    client = MlflowClient()
    above = z2h("budget", "--experiment", EXPERIMENT, "--task", "dep", "--model", "mbert", "--lang", "kaz",
                "--target", "99", tracking_uri=tracking)
    assert above.returncode == 0 and "above what the curve reaches" in above.stdout
    assert budget_runs(client, EXPERIMENT)[0].data.metrics["target_reached"] == 0
    bad = z2h("budget", "--experiment", EXPERIMENT, "--task", "dep", "--model", "mbert", "--lang", "xx",
              "--k", "100", tracking_uri=tracking)
    assert bad.returncode == 2 and "'xx' is unknown to lang2vec" in bad.stderr and "Traceback" not in bad.stderr
    run = budget_runs(client, EXPERIMENT)[0]
    assert run.info.status == "FAILED" and "unknown to lang2vec" in run.data.tags["z2h.error"]

    (tmp_path / "zero.csv").write_text("task,model,lang,k,sampling,seed,score\n"
                                       + "".join(f"dep,mbert,{x},0,,1,{50 + i}\n" for i, x in enumerate("it tr fi".split())))
    run_ingest(str(tmp_path / "zero.csv"), "zero-only")
    result = mlflow_run("budget", {"experiment": "zero-only", "task": "dep", "model": "mbert", "lang": "tr",
                                   "target": 70}, tracking, experiment="budgets", check=False)
    assert result.returncode != 0 and "no few-shot runs of dep/mbert" in result.stderr
    run = budget_runs(client, "budgets")[0]
    assert run.info.status == "FAILED" and "no few-shot runs" in run.data.tags["z2h.error"]


def test_predictor_through_mlflow_models_serve(analysed, tracking):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "PATH": f"{BIN}:{os.environ['PATH']}"}
    server = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", MODEL_URI, "--env-manager", "local",
                               "-p", str(port), "-h", "127.0.0.1"], cwd=REPO, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                time.sleep(1)
        body = json.dumps({"dataframe_split": {"columns": ["lang"], "data": [["yo"], ["kaz"]]}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body,
                                         {"Content-Type": "application/json"})
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
        rows = answer["predictions"]
        assert [r["lang"] for r in rows] == ["yo", "kaz"]
        assert all(r["lower"] < r["predicted_score"] < r["upper"] for r in rows)
    finally:
        server.terminate()
        server.wait(timeout=30)
