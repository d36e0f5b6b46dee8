"""Real learning for DEP and NER with MiniLM through the `source` / `evaluate` entry points on a live server."""
from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from helpers import mlflow_run

pytestmark = [pytest.mark.integration, pytest.mark.learning]

EXPERIMENT = "z2h-tests"
# the settings (lr 2e-4, batch 16, 2 epochs); dev/test capped to keep evaluation cheap
SOURCE = {"lr": "2e-4", "batch_size": 16, "epochs": 2, "model_name": "minilm", "max_eval_examples": 500}
TRAIN_SIZE = {"dep": 2000, "ner": 3000}


def _source(task: str, server, minilm, data_dir):
    mlflow_run("source", {"task": task, "model": str(minilm), "data_dir": str(data_dir),
                          "max_train_examples": TRAIN_SIZE[task], **SOURCE}, server.uri, experiment=EXPERIMENT)
    version = MlflowClient(server.uri).get_model_version_by_alias(f"z2h-{task}-minilm", "source")
    return MlflowClient(server.uri).get_run(version.run_id)


@pytest.fixture(scope="module")
def dep_source(mlflow_server, minilm, data_dir):
    return _source("dep", mlflow_server, minilm, data_dir)


@pytest.fixture(scope="module")
def ner_source(mlflow_server, minilm, data_dir):
    return _source("ner", mlflow_server, minilm, data_dir)


def test_dep_source_reaches_uas(dep_source):
    params, metrics = dep_source.data.params, dep_source.data.metrics
    assert dep_source.info.status == "FINISHED" and dep_source.data.tags["z2h.stage"] == "source"
    assert params["task"] == "dep" and params["data.train.examples"] == "2000" and params["data.test.examples"] == "500"
    print(f"DEP en test: UAS {metrics['uas']:.2f}, LAS {metrics['las']:.2f}")
    assert metrics["score"] == metrics["uas"] >= 65.0
    assert 0 < metrics["las"] <= metrics["uas"]
    assert "uas_no_punct" in metrics and len(metrics) > 4


def test_ner_source_reaches_accuracy_and_f1(ner_source):
    params, metrics = ner_source.data.params, ner_source.data.metrics
    assert ner_source.info.status == "FINISHED"
    assert params["task"] == "ner" and params["data.train.examples"] == "3000"
    assert params["data.train.file"].endswith("wikiann/en/train-en.tsv")
    print(f"NER en test: accuracy {metrics['accuracy']:.2f}, F1 {metrics['f1']:.2f}, "
          f"P {metrics['precision']:.2f}, R {metrics['recall']:.2f}")
    assert metrics["score"] == metrics["accuracy"] >= 85.0
    assert metrics["f1"] >= 55.0
    assert {"f1_PER", "f1_LOC", "f1_ORG"} <= set(metrics)


@pytest.mark.parametrize("task", ["dep", "ner"])
def test_evaluate_tr_fi_logs_nested_runs(task, request, tracking, data_dir):
    source = request.getfixturevalue(f"{task}_source")
    mlflow_run("evaluate", {"task": task, "model_uri": f"models:/z2h-{task}-minilm@source", "langs": "tr,fi",
                            "data_dir": str(data_dir), "max_eval_examples": 200}, tracking, experiment=EXPERIMENT)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    parent = client.search_runs([experiment.experiment_id],
                                f"tags.z2h.stage = 'evaluate' and params.task = '{task}' and params.langs = 'tr,fi'")[0]
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    by_lang = {child.data.params["lang"]: child for child in children}
    assert sorted(by_lang) == ["fi", "tr"]
    for lang, child in by_lang.items():
        assert child.info.status == "FINISHED" and child.data.tags["z2h.source_run_id"] == source.info.run_id
        assert child.data.params["data.test.examples"] == "200"
        print(f"{task} {lang}: score {child.data.metrics['score']:.2f}")
        assert 0 < child.data.metrics["score"] < 100


def test_registered_models_predict_their_columns(dep_source, ner_source, tracking):
    frame = pd.DataFrame({"tokens": [["The", "dog", "barks", "."], ["John", "Smith", "lives", "in", "London"]]})
    parsed = mlflow.pyfunc.load_model("models:/z2h-dep-minilm@source").predict(frame)
    assert list(parsed.columns) == ["heads", "relations"]
    heads, relations = list(parsed["heads"][0]), list(parsed["relations"][0])
    assert len(heads) == len(relations) == 4 and heads.count(0) == 1 and heads[2] == 0  # "barks" heads the sentence
    assert relations[2] == "root"
    tagged = mlflow.pyfunc.load_model("models:/z2h-ner-minilm@source").predict(frame)
    assert list(tagged.columns) == ["tags"]
    assert list(tagged["tags"][1])[:2] == ["B-PER", "I-PER"] and list(tagged["tags"][1])[-1] == "B-LOC"
