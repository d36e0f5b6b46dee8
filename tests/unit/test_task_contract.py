"""The contract every registered task keeps, checked for each one on the fixtures in tests/fixtures/data.

A new task module gets all of this by being registered: a tiny offline encoder trains a few steps and the loss
falls; save -> load predicts identically; batched and one-by-one predictions agree; the pyfunc model round-trips;
gold scored against itself is 100 and the per-example counts add up to the score; few-shot sampling draws whole
units of the task's pool; and the facts the grid and the analysis read (targets, k values, prices) are there.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from zero2hero.checkpoint import load_checkpoint
from zero2hero.data.fewshot import sample_few_shot
from zero2hero.data.splits import load_split
from zero2hero.errors import Z2HError
from zero2hero.languages import KNOWN_LANGS
from zero2hero.stages.common import build_model, predictions_jsonl
from zero2hero.tasks import get_task, task_names
from zero2hero.tracking.pyfunc import input_example_of, signature_of
from zero2hero.training.config import TrainConfig
from zero2hero.training.evaluator import predict_examples
from zero2hero.training.loop import train

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"
TASKS = task_names()


@pytest.fixture(scope="module")
def trained(tiny_bert, tmp_path_factory):
    """name -> (task, train examples, test examples, model, tokenizer, losses, checkpoint dir): one short training
    of each task on its English fixture, shared by the checks below."""
    cache = {}

    def get(name: str):
        if name not in cache:
            task = get_task(name)
            config = TrainConfig.resolve(task.defaults, {"lr": 3e-3, "epochs": 12, "batch_size": 8, "max_length": 128,
                                                          "seed": 3})
            train_split, _, test_split = task.source_splits(FIXTURES, "yes", config)  # stand_in: never the hub
            model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(train_split.examples),
                                           config.max_length, "tiny", config.seed)
            features = task.encode(train_split.examples, tokenizer, model.meta, training=True)
            result = train(model, task, tokenizer, features, config, progress=False)
            checkpoint = model.save(tmp_path_factory.mktemp(f"ckpt-{name}") / "checkpoint", tokenizer)
            cache[name] = (task, train_split.examples, test_split.examples, model, tokenizer, result.train_losses,
                           checkpoint)
        return cache[name]

    return get


@pytest.mark.parametrize("name", TASKS)
def test_the_registry_holds_what_the_grid_and_the_analysis_read(name):
    task = get_task(name)
    assert task.name == name and set(task.targets) <= set(KNOWN_LANGS) and "en" not in task.targets
    assert task.k_values[0] == 0 and list(task.k_values) == sorted(set(task.k_values))
    assert "{lang}" in task.corpus.pattern or task.corpus.name in ("squad", "multinli")
    assert task.score_metric and task.sampling_strategies and "random" in task.sampling_strategies
    prices = task.cost_defaults
    assert task.annotation_cost(10, task.targets[0], prices) > 0  # a cost rule, never a silent NaN
    assert task.annotation_cost(100, task.targets[0], prices) > task.annotation_cost(10, task.targets[0], prices)


@pytest.mark.parametrize("name", TASKS)
def test_a_tiny_encoder_learns_the_task(name, trained):
    *_, losses, _ = trained(name)
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < 0.7 * first, (name, losses)


@pytest.mark.parametrize("name", TASKS)
def test_save_then_load_predicts_identically(name, trained):
    task, _, test, model, tokenizer, _, checkpoint = trained(name)
    loaded, loaded_tokenizer = load_checkpoint(checkpoint)
    assert loaded.meta == model.meta
    assert predict_examples(loaded, task, loaded_tokenizer, test) == predict_examples(model, task, tokenizer, test)


@pytest.mark.parametrize("name", TASKS)
def test_batched_and_one_by_one_predictions_agree(name, trained):
    task, _, test, model, tokenizer, _, _ = trained(name)
    batched = predict_examples(model, task, tokenizer, test, batch_size=8)
    assert batched == [predict_examples(model, task, tokenizer, [example], batch_size=1)[0] for example in test]


@pytest.mark.parametrize("name", TASKS)
def test_the_pyfunc_model_round_trips(name, trained, tmp_path):
    import mlflow.pyfunc

    from zero2hero.tracking import pyfunc_entry
    from zero2hero.tracking.registry import PIP_REQUIREMENTS

    task, _, _, _, _, _, checkpoint = trained(name)
    example = input_example_of(task)
    # the registered models' own flavour: models-from-code with the checkpoint as an artifact
    mlflow.pyfunc.save_model(tmp_path / "model", python_model=str(Path(pyfunc_entry.__file__)),
                             artifacts={"checkpoint": str(checkpoint)}, signature=signature_of(task),
                             input_example=example, pip_requirements=PIP_REQUIREMENTS)
    loaded = mlflow.pyfunc.load_model(str(tmp_path / "model"))
    output = loaded.predict(example)
    assert list(output.columns) == list(task.pyfunc_outputs) and len(output) == len(example)
    assert loaded.metadata.get_input_schema().input_names() == list(task.pyfunc_inputs)
    with pytest.raises(Z2HError, match="needs the column"):
        task.examples_from_frame(pd.DataFrame({"other": [1]}))


@pytest.mark.parametrize("name", TASKS)
def test_gold_scores_100_and_counts_add_up_to_the_score(name, trained):
    task, _, test, model, tokenizer, _, _ = trained(name)
    gold_predictions = [_gold_prediction(task, example) for example in test]
    assert task.score(test, gold_predictions)[task.score_metric] == pytest.approx(100.0)
    predictions = predict_examples(model, task, tokenizer, test)
    records = [json.loads(line) for line in predictions_jsonl(task, test, predictions).splitlines()]
    assert set(records[0]["prediction"]) == set(task.pyfunc_outputs) and set(records[0]["gold"]) <= {
        *task.pyfunc_outputs, "answers"}
    recomputed = 100 * sum(r["correct"] for r in records) / sum(r["total"] for r in records)
    assert recomputed == pytest.approx(task.score(test, predictions)[task.score_metric])


def _gold_prediction(task, example):
    """The gold annotation in the form `score` compares with a prediction."""
    gold = task.gold_of(example)
    if "answers" in gold:  # span tasks: the first gold answer, at its offset
        return example.answers[0].text, example.answers[0].start
    if "heads" in gold:
        return gold["heads"], gold["relations"]
    return next(iter(gold.values()))


@pytest.mark.parametrize("name", TASKS)
def test_few_shot_sampling_draws_whole_units_of_the_pool(name):
    task = get_task(name)
    pool = load_split(task, FIXTURES, "en", task.pool_split(FIXTURES, "en"))
    units = dict(task.sampling_units(pool.examples))
    for sampling in task.sampling_strategies:
        sample = sample_few_shot(task, pool, 2, sampling, seed=1)
        assert len(sample.shots) == 2 and all(shot.id in units for shot in sample.shots)
        drawn = [index for shot in sample.shots for index in units[shot.id]]
        assert sample.split.examples == [pool.examples[i] for i in sorted(drawn)]
        low, high = task.few_shot_length_range or (0, float("inf"))
        assert all(low <= shot.n_tokens <= high for shot in sample.shots)
    with pytest.raises(Z2HError, match="larger than the few-shot pool"):
        sample_few_shot(task, pool, len(units) + 1, "random", seed=1)


def test_the_registry_and_the_analysis_read_tasks_without_torch():
    """Tasks import torch only to build heads and batches: the analysis, `budget` and `ingest` read every task's
    facts (targets, prices, defaults) without it, about a second less of each (modeling/meta.py)."""
    import subprocess
    import sys

    script = ("import json, sys; from zero2hero.tasks import registry, get_task; import analysis.main, analysis.budget_run; "
              "prices = {name: get_task(name).cost_defaults for name in registry()}; "
              "print(json.dumps([sorted(prices), 'torch' in sys.modules]))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.splitlines()[-1]) == [sorted(TASKS), False]
