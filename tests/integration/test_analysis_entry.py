"""ingest -> analysis through `mlflow run` on the live tracking server."""
from __future__ import annotations

import csv

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from helpers import mlflow_run

pytestmark = pytest.mark.integration

LANGS = ["ar", "eu", "zh", "fi", "he", "hi", "it", "ja", "ko", "ru", "sv", "tr"]


def write_scores(path):
    """A published-style table: zero-shot POS for 12 languages, few-shot gains for 3 seeds."""
    rows = []
    for i, lang in enumerate(LANGS):
        zero = 40 + 4 * i
        rows.append(["pos", "mbert", lang, 0, "", 1, zero])
        for k, gain in ((10, 5), (100, 15)):
            for seed in (1, 2, 3):
                rows.append(["pos", "mbert", lang, k, "random", seed, min(99, zero + gain + seed - 2)])
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", "model", "lang", "k", "sampling", "seed", "score"])
        writer.writerows(rows)
    return len(rows)


def test_ingest_then_analysis_writes_every_output(tracking, tmp_path):
    n_rows = write_scores(tmp_path / "scores.csv")
    mlflow_run("ingest", {"scores": tmp_path / "scores.csv", "experiment": "published"}, tracking)
    client = MlflowClient()
    experiment = client.get_experiment_by_name("published")
    ingested = client.search_runs([experiment.experiment_id], "tags.z2h.stage = 'ingest'", max_results=1000)
    assert len(ingested) == n_rows
    mlflow_run("ingest", {"scores": tmp_path / "scores.csv", "experiment": "published"}, tracking)  # idempotent
    assert len(client.search_runs([experiment.experiment_id], "tags.z2h.stage = 'ingest'", max_results=1000)) == n_rows

    out = tmp_path / "report"
    mlflow_run("analysis", {"experiment": "published", "output_dir": out}, tracking, experiment="analyses")
    correlations = pd.read_csv(out / "correlations.csv")
    assert list(correlations.columns) == ["task", "model", "feature", "pearson", "pearson_p", "spearman",
                                          "spearman_p", "n_langs", "pearson_lo", "pearson_hi", "spearman_lo",
                                          "spearman_hi"]
    assert set(correlations["feature"]) == {"SYN", "PHON", "INV", "FAM", "GEO", "SIZE"}
    assert correlations.loc[correlations["feature"] == "FAM", "n_langs"].item() == 11  # Basque: an isolate
    regression = pd.read_csv(out / "regression.csv")
    assert list(regression.columns) == ["task", "model", "selected_features", "weights", "pearson", "spearman", "mae"]
    few = pd.read_csv(out / "few_shot.csv").set_index(["sampling", "k"])
    assert few.loc[("random", 100), "delta_vs_zero"] == pytest.approx(15, abs=0.6)
    assert few.loc[("random", 10), "n_seeds"] == 3
    costs = pd.read_csv(out / "costs.csv")
    assert list(costs.columns)[:8] == ["task", "model", "sampling", "k", "annotation_cost_usd", "gain_points",
                                       "usd_per_point", "compute_hours"]
    report = (out / "report.md").read_text()
    assert "Correlation of zero-shot score" in report and "Meta-regression" in report and ".png)" in report
    assert len(list(out.glob("*.png"))) >= 3
    analysis_runs = client.search_runs([client.get_experiment_by_name("analyses").experiment_id])
    artifacts = {a.path for a in client.list_artifacts(analysis_runs[0].info.run_id)}
    assert {"correlations.csv", "regression.csv", "few_shot.csv", "costs.csv", "report.md"} <= artifacts


def test_bad_scores_csv_fails_with_the_line(tracking, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("task,model,lang,k,sampling,seed,score\npos,mbert,tr,0,,1,55\npos,mbert,tr,10,random,1,high\n")
    result = mlflow_run("ingest", {"scores": path, "experiment": "bad"}, tracking, check=False)
    assert result.returncode != 0
    assert f"{path}:3" in result.stderr and "Traceback" not in result.stderr.split("mlflow.exceptions")[0]
    assert MlflowClient().get_experiment_by_name("bad") is None or not MlflowClient().search_runs(
        [MlflowClient().get_experiment_by_name("bad").experiment_id], "tags.z2h.stage = 'ingest'")
