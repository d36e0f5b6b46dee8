"""Real learning with the pretrained MiniLM encoder on the offline stand-ins, through `mlflow run` on a live server.

XNLI: the issue's schedule (lr 5e-5, batch 32, 2 epochs) with evaluation capped at 1,000 test pairs.
XQuAD: lr 1.5e-4, batch 8, QA_EPOCHS epochs on the stand-in (9 articles, 32 steps an epoch), scored on QA_EVAL
English test questions; training must at least double the F1 of the same model before training (its new head
initialised from the same seed, scored in-process on the same questions). The source model feeds the per-language
evaluate test.

Why 6 epochs: after 4, the test F1 rode on the seed's draws (dropout masks, batch order, head init): seeds 1-5 gave
30.9 / 12.0 / 21.9 / 13.7 / 22.1 against a bound of about 10.9, so any change to the order of random draws in
training could fail the test without anything being wrong. The dev score was still rising at epoch 4; after 6
epochs seeds 1-5 gave 37.8 / 21.5 / 21.9 / 26.1 / 32.9 (benchmarks/README.md, 2026-12-05).
"""
from __future__ import annotations

import time

import pandas as pd
import pytest
from helpers import mlflow_run
from mlflow.tracking import MlflowClient

pytestmark = [pytest.mark.integration, pytest.mark.learning]

EXPERIMENT = "z2h-qa-tests"
QA_EPOCHS = 6
QA_EVAL = 200  # English test questions scored (of 916)


def _source_run(client, registered: str):
    version = client.get_model_version_by_alias(registered, "source")
    return client.get_run(version.run_id)


@pytest.fixture(scope="module")
def xquad_source(mlflow_server, minilm, data_dir):
    """One XQuAD source run (stand-in, MiniLM); returns (run, seconds it took)."""
    started = time.time()
    mlflow_run("source", {
        "task": "xquad", "model": str(minilm), "data_dir": str(data_dir), "model_name": "minilm",
        "lr": "1.5e-4", "batch_size": 8, "epochs": QA_EPOCHS, "max_eval_examples": QA_EVAL,
    }, mlflow_server.uri, experiment=EXPERIMENT)
    return _source_run(MlflowClient(mlflow_server.uri), "z2h-xquad-minilm"), time.time() - started


def _untrained_f1(minilm, data_dir) -> float:
    """English test F1 of the MiniLM QA model before any training (same seed, same questions as the source run)."""
    from zero2hero.config import parse_params
    from zero2hero.stages.common import build_model, score_split
    from zero2hero.stages.source import load_source_splits
    from zero2hero.tasks import get_task
    from zero2hero.training.config import TrainConfig

    params = parse_params("source", ["--task", "xquad", "--model", str(minilm), "--data_dir", str(data_dir),
                                     "--max_eval_examples", str(QA_EVAL)])
    task = get_task("xquad")
    config = TrainConfig.resolve(task.defaults, params.values)
    train_split, _, test_split = load_source_splits(task, params, config)
    model, tokenizer = build_model(task, str(minilm), None, task.label_vocabs(train_split.examples),
                                   config.max_length, "minilm", config.seed)
    return score_split(model, task, tokenizer, test_split, config.eval_batch_size, log=False)["f1"]


def test_xquad_training_at_least_doubles_untrained_f1(xquad_source, minilm, data_dir):
    run, seconds = xquad_source
    untrained = _untrained_f1(minilm, data_dir)
    metrics = run.data.metrics
    print(f"xquad source: F1 {untrained:.2f} untrained -> {metrics['f1']:.2f} after {QA_EPOCHS} epochs "
          f"(EM {metrics['exact_match']:.2f}) in {seconds:.0f} s")
    assert metrics["score"] == metrics["exact_match"]
    assert run.data.params["data.test.examples"] == str(QA_EVAL)
    assert run.data.tags["z2h.stand_in"]
    assert metrics["f1"] >= 2 * untrained and metrics["f1"] >= 8


def test_xquad_pyfunc_predicts_a_span_of_the_context(xquad_source, tracking):
    import mlflow

    context = "The Eiffel Tower was completed in 1889 and is located in Paris, the capital of France."
    frame = pd.DataFrame({"question": ["When was the Eiffel Tower completed?"], "context": [context]})
    answers = mlflow.pyfunc.load_model("models:/z2h-xquad-minilm@source").predict(frame)
    assert list(answers.columns) == ["answer", "start"]
    answer, start = answers["answer"][0], int(answers["start"][0])
    assert answer and context[start:start + len(answer)] == answer


def test_xnli_learns_on_the_stand_in(mlflow_server, tracking, minilm, data_dir):
    import mlflow

    started = time.time()
    mlflow_run("source", {
        "task": "xnli", "model": str(minilm), "data_dir": str(data_dir), "model_name": "minilm",
        "lr": "5e-5", "batch_size": 32, "epochs": 2, "max_eval_examples": 1000,
    }, mlflow_server.uri, experiment=EXPERIMENT)
    run = _source_run(MlflowClient(mlflow_server.uri), "z2h-xnli-minilm")
    print(f"xnli source: accuracy {run.data.metrics['accuracy']:.1f} in {time.time() - started:.0f} s")
    assert run.data.metrics["score"] == run.data.metrics["accuracy"] >= 45
    assert run.data.tags["z2h.stand_in"] == "xnli-dev-en"
    assert "stands in for MultiNLI" in run.data.tags["mlflow.note.content"]
    assert run.data.params["data.train.examples"] == "2241" and run.data.params["data.test.examples"] == "1000"
    model = mlflow.pyfunc.load_model("models:/z2h-xnli-minilm@source")
    frame = pd.DataFrame({"premise": ["A man is sleeping on the couch.", "The shop is open all day."],
                          "hypothesis": ["A person is resting.", "The shop is closed all day."]})
    labels = model.predict(frame)
    assert list(labels.columns) == ["label"] and set(labels["label"]) <= {"entailment", "neutral", "contradiction"}


def test_xquad_evaluate_logs_each_language(xquad_source, mlflow_server, data_dir):
    run, _ = xquad_source
    result = mlflow_run("evaluate", {"task": "xquad", "model_uri": "models:/z2h-xquad-minilm@source", "langs": "de,es",
                                     "data_dir": str(data_dir), "max_eval_examples": 100},
                        mlflow_server.uri, experiment=EXPERIMENT)
    client = MlflowClient(mlflow_server.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    children = client.search_runs([experiment.experiment_id],
                                  "tags.`z2h.stage` = 'evaluate' and params.task = 'xquad' and params.k = '0'")
    by_lang = {child.data.params["lang"]: child for child in children if "mlflow.parentRunId" in child.data.tags}
    assert set(by_lang) == {"de", "es"}, result.stdout[-2000:]
    for child in by_lang.values():
        metrics = child.data.metrics
        assert {"exact_match", "f1", "score"} <= set(metrics) and metrics["score"] == metrics["exact_match"]
        assert child.data.tags["z2h.source_run_id"] == run.info.run_id
        assert child.data.params["data.test.examples"] == "100"
