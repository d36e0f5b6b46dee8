"""`few_shot` end to end on a live tracking server: schema, shots.jsonl, carve-out, errors, and a real effect."""
from __future__ import annotations

import json
from types import SimpleNamespace

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from helpers import mlflow_run
from zero2hero import errors
from zero2hero.cli import run_entry
from zero2hero.config import parse_params
from zero2hero.data.fewshot import PoolSpec, TargetData, sample_few_shot
from zero2hero.stages.few_shot import few_shot_run, load_source, run_few_shot
from zero2hero.tasks.pos import PosTask

pytestmark = pytest.mark.integration

EXPERIMENT = "z2h-few-shot-tests"
MODEL_NAME = "few-shot-tiny"


@pytest.fixture(scope="module")
def tiny_source(mlflow_server, tiny_bert, data_dir):
    """A tiny POS source model trained and registered through `mlflow run -e source`."""
    mlflow_run("source", {"task": "pos", "model": tiny_bert, "data_dir": data_dir, "max_train_examples": 50,
                          "max_eval_examples": 30, "epochs": 1, "model_name": MODEL_NAME}, mlflow_server.uri,
               experiment=EXPERIMENT)
    version = MlflowClient(mlflow_server.uri).get_model_version_by_alias(f"z2h-pos-{MODEL_NAME}", "source")
    return SimpleNamespace(uri=f"models:/z2h-pos-{MODEL_NAME}@source", run_id=version.run_id, version=version.version)


def inputs_of(client, run_id) -> dict[str, tuple[str, str, str]]:
    """The run's MLflow dataset inputs: name -> (digest, source, context)."""
    inputs = client.get_run(run_id).inputs.dataset_inputs
    return {i.dataset.name: (i.dataset.digest, json.loads(i.dataset.source)["uri"],
                             {t.key: t.value for t in i.tags}["mlflow.data.context"]) for i in inputs}


def test_source_run_lists_its_datasets_and_scores_its_logged_model(tiny_source, mlflow_server):
    client = MlflowClient(mlflow_server.uri)
    run = client.get_run(tiny_source.run_id)
    inputs, params = inputs_of(client, tiny_source.run_id), run.data.params
    assert set(inputs) == {"ud/en/train", "ud/en/dev", "ud/en/test"}
    for split, context in (("train", "training"), ("dev", "evaluation"), ("test", "evaluation")):
        digest, source, logged_context = inputs[f"ud/en/{split}"]
        assert source == params[f"data.{split}.file"] and logged_context == context
        # capped splits (50 / 30 examples): the file's hash, then the hash of which part of it
        assert digest.startswith(params[f"data.{split}.sha256"] + "-") and len(digest) <= 36
    profile = json.loads(next(i.dataset.profile for i in run.inputs.dataset_inputs if i.dataset.name == "ud/en/test"))
    assert profile == {"num_examples": 30}
    # the test scores sit on the logged model too, with the test dataset, so search_logged_models filters them
    score = run.data.metrics["score"]
    test = {"dataset_name": "ud/en/test", "dataset_digest": inputs["ud/en/test"][0]}
    found = client.search_logged_models([run.info.experiment_id], filter_string=f"metrics.score >= {score - 0.01}",
                                        datasets=[test])
    model = next(m for m in found if m.source_run_id == tiny_source.run_id)
    by_key = {m.key: m for m in model.metrics}
    assert by_key["score"].value == pytest.approx(score) and by_key["accuracy"].dataset_name == "ud/en/test"
    assert by_key["score"].dataset_digest == inputs["ud/en/test"][0]
    assert not [m for m in client.search_logged_models([run.info.experiment_id],
                                                       filter_string=f"metrics.score > {score + 0.01}", datasets=[test])
                if m.source_run_id == tiny_source.run_id]
    assert len(client.get_metric_history(tiny_source.run_id, "score")) == 1  # logged once, on run and model


def few_shot_params(model_uri, data_dir, **values) -> list[str]:
    values = {"task": "pos", "model_uri": model_uri, "data_dir": data_dir, "max_eval_examples": 30, "epochs": 1,
              **values}
    return [item for key, value in values.items() for item in (f"--{key}", str(value))]


def shots_of(client, run_id) -> list[dict]:
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="shots.jsonl",
                                               tracking_uri=client.tracking_uri)
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_few_shot_through_mlflow_run(mlflow_server, tiny_source, tiny_bert, data_dir):
    mlflow_run("few_shot", {"task": "pos", "model_uri": tiny_source.uri, "lang": "tr", "k": 10, "sampling": "longest",
                            "data_dir": data_dir, "max_eval_examples": 30, "epochs": 2, "lr": "2e-4",
                            "log_predictions": "yes"},
               mlflow_server.uri, experiment=EXPERIMENT)
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    run = client.search_runs([experiment.experiment_id], "tags.`z2h.stage` = 'few_shot' and params.sampling = 'longest'",
                             order_by=["attributes.start_time DESC"], max_results=1)[0]
    params, tags = run.data.params, run.data.tags
    assert run.info.status == "FINISHED"
    assert run.info.run_name == f"few_shot/pos/{MODEL_NAME}/tr/k=10/longest/s1"
    assert {key: params[key] for key in ("task", "model", "model_uri", "lang", "k", "sampling", "seed", "pool")} == {
        "task": "pos", "model": str(tiny_bert), "model_uri": tiny_source.uri, "lang": "tr", "k": "10",
        "sampling": "longest", "seed": "1", "pool": "auto"}
    assert params["lr"] == "2e-4" and params["epochs"] == "2"  # as typed after -P: logged once, never changed
    assert tags["z2h.source_run_id"] == tiny_source.run_id
    assert tags["z2h.model_version"] == f"z2h-pos-{MODEL_NAME}/{tiny_source.version}"
    assert tags["z2h.shots"] == "shots.jsonl"
    # the recorded shots are exactly the 10 longest eligible sentences of the Turkish train split
    expected = sample_few_shot(PosTask(), TargetData(PosTask(), str(data_dir), "tr", PoolSpec()).pool, 10, "longest", 1)
    shots = shots_of(client, run.info.run_id)
    assert shots == [json.loads(line) for line in expected.jsonl().splitlines()]
    assert tags["z2h.shots_tokens"] == str(sum(shot["n_tokens"] for shot in shots))  # priced without the download
    assert 0 <= run.data.metrics["score"] <= 100 and run.data.metrics["score"] == run.data.metrics["accuracy"]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "dev_score")] == [1, 2]  # tr dev: own file
    assert len(client.get_metric_history(run.info.run_id, "train_loss")) == 2
    assert not client.search_logged_models([experiment.experiment_id],
                                           filter_string=f"source_run_id = '{run.info.run_id}'")
    # predictions.jsonl round-trips: the 30 scored sentences, and the logged score recomputed from them
    path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path=tags["z2h.predictions"],
                                               tracking_uri=client.tracking_uri)
    records = [json.loads(line) for line in open(path, encoding="utf-8")]
    test = TargetData(PosTask(), str(data_dir), "tr", PoolSpec(), max_eval_examples=30).test.examples
    assert [r["id"] for r in records] == [ex.id for ex in test] and records[0]["gold"] == {"tags": test[0].tags}
    assert len(records[0]["prediction"]["tags"]) == len(test[0].words)
    assert 100 * sum(r["correct"] for r in records) / sum(r["total"] for r in records) == pytest.approx(
        run.data.metrics["score"])
    assert PosTask().score(test, [r["prediction"]["tags"] for r in records])["accuracy"] == pytest.approx(
        run.data.metrics["score"])
    inputs = inputs_of(client, run.info.run_id)  # the pool, the drawn shots and the scored test split
    assert set(inputs) == {"ud/tr/pool", "ud/tr/shots", "ud/tr/test"}
    assert inputs["ud/tr/pool"] == (params["data.pool.sha256"], params["data.pool.file"], "training")
    assert inputs["ud/tr/shots"][0].startswith(params["data.pool.sha256"] + "-")
    assert inputs["ud/tr/test"][1:] == (params["data.test.file"], "evaluation")


def test_zero_shot_carve_out_checkpoint_and_errors(tracking, tiny_source, data_dir, capsys):
    client = MlflowClient(tracking)
    zero = client.get_run(run_few_shot(parse_params("few_shot", few_shot_params(tiny_source.uri, data_dir, lang="tr", k=0))))
    assert zero.data.params["k"] == "0" and "score" in zero.data.metrics
    assert "train_loss" not in zero.data.metrics and shots_of(client, zero.info.run_id) == []

    # Arabic has only a test split: a clear error, or an explicit carve-out that is logged and not scored
    assert run_entry("few_shot", few_shot_params(tiny_source.uri, data_dir, lang="ar", k=5)) == 2
    assert "pool=test:N" in capsys.readouterr().err
    carved = client.get_run(run_few_shot(parse_params("few_shot", few_shot_params(
        tiny_source.uri, data_dir, lang="ar", k=5, pool="test:20", log_checkpoint="yes"))))
    assert carved.data.params["pool"] == "test:20" and carved.data.params["data.pool.examples"] == "20"
    assert "z2h.carve_out" in carved.data.tags
    assert all(shot["index"] < 20 for shot in shots_of(client, carved.info.run_id))
    logged = client.search_logged_models([carved.info.experiment_id],
                                         filter_string=f"source_run_id = '{carved.info.run_id}'")
    assert {m.key: m.value for m in logged[0].metrics}["score"] == carved.data.metrics["score"]
    assert {m.dataset_name for m in logged[0].metrics} == {"ud/ar/test"}
    assert set(inputs_of(client, carved.info.run_id)) == {"ud/ar/pool", "ud/ar/shots", "ud/ar/test"}

    assert run_entry("few_shot", few_shot_params(tiny_source.uri, data_dir, lang="tr", k=100000)) == 2
    assert "eligible" in capsys.readouterr().err
    assert run_entry("few_shot", few_shot_params(tiny_source.uri, data_dir, lang="tr", k="ten")) == 2
    assert "k='ten' is not valid" in capsys.readouterr().err


@pytest.mark.learning
def test_turkish_few_shot_beats_zero_shot(tracking, pos_source, data_dir):
    """The issue's real effect: MiniLM POS, Turkish, k=500 random (3 epochs, lr 2e-4, batch 16) vs zero-shot."""
    task = PosTask()
    source = load_source(task, "models:/z2h-pos-minilm@source")  # loaded once for both runs, as grid does
    target = TargetData(task, str(data_dir), "tr", PoolSpec(), max_eval_examples=300)
    common = {"lang": "tr", "max_eval_examples": 300, "dev_curve": "no"}
    _, zero = few_shot_run(task, source, target, parse_params(
        "few_shot", few_shot_params(source.uri, data_dir, k=0, **common)))
    _, few = few_shot_run(task, source, target, parse_params("few_shot", few_shot_params(
        source.uri, data_dir, k=500, sampling="random", epochs=3, lr="2e-4", batch_size=16, **common)))
    _, zero_bf16 = few_shot_run(task, source, target, parse_params(
        "few_shot", few_shot_params(source.uri, data_dir, k=0, precision="bf16", **common)))
    print(f"Turkish POS accuracy: zero-shot {zero['score']:.1f} (bf16 {zero_bf16['score']:.1f}) -> "
          f"k=500 {few['score']:.1f}")
    assert few["score"] >= zero["score"] + 5
    assert abs(zero_bf16["score"] - zero["score"]) < 1.0  # bf16 scoring of the real model: the same within noise


def test_system_metrics_are_logged_when_asked(tracking, tiny_source, data_dir, monkeypatch):
    # default 10 s: longer than this run; MLflow drops the samples of a run that ends within one interval
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.02")
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "1")
    client = MlflowClient(tracking)
    run = client.get_run(run_few_shot(parse_params("few_shot", few_shot_params(
        tiny_source.uri, data_dir, lang="tr", k=5, system_metrics="yes"))))
    assert "system/cpu_utilization_percentage" in run.data.metrics
    assert "system/system_memory_usage_megabytes" in run.data.metrics
    plain = client.get_run(run_few_shot(parse_params("few_shot", few_shot_params(tiny_source.uri, data_dir, lang="tr",
                                                                                 k=0))))
    assert not [key for key in plain.data.metrics if key.startswith("system/")]
    # costs.csv shows the utilisation beside the compute hours, for the cell that measured it
    from analysis import collect
    from analysis.costs import cost_table
    from analysis.few_shot import few_shot_table

    results, _ = collect.results(collect.collect_runs(run.info.experiment_id, client))
    costs = cost_table(results, few_shot_table(results))
    measured = costs.dropna(subset=["cpu_utilization_percent"])
    assert list(measured["k"]) == [5]
    assert measured["cpu_utilization_percent"].item() == pytest.approx(run.data.metrics["system/cpu_utilization_percentage"])


def test_an_interrupted_entry_leaves_the_process_usable(tracking, tiny_source, data_dir, monkeypatch, capsys):
    """A Ctrl-C whose first raise was lost stops the entry at its next step (130); once the entry has reported it,
    the next call in the same process (a notebook, the demo) runs."""
    params = few_shot_params(tiny_source.uri, data_dir, lang="tr", k=5)
    monkeypatch.setattr(errors, "_RECEIVED", [2])
    assert run_entry("few_shot", params) == 130
    assert "interrupted" in capsys.readouterr().err
    assert run_entry("few_shot", params) == 0, capsys.readouterr().err
