"""`feats` (UD morphological features), the task added as one module, end to end like the others: a grid trains
its source, scores zero-shot and few-shot Turkish, the real `few_shot` entry point continues the registered model,
and the analysis prices its annotation from the shots' real tokens."""
from __future__ import annotations

import uuid
from collections import Counter

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from helpers import mlflow_run
from zero2hero.cli import run_entry
from zero2hero.tasks import get_task

pytestmark = pytest.mark.integration

PLAN = """\
experiment: {experiment}
tasks: [feats]
models: [{model}]
langs: [tr]
k: [0, 20]
sampling: [random, longest]
seeds: [1]
data_dir: {data_dir}
source: {{epochs: 4, lr: 1e-3, batch_size: 16, max_train_examples: 400, max_eval_examples: 100, model_name: feats-tiny}}
few_shot: {{epochs: 3, lr: 1e-3, dev_curve: no}}
evaluate: {{max_eval_examples: 100}}
"""


def test_feats_runs_through_grid_few_shot_and_analysis(tracking, tiny_bert, data_dir, tmp_path, capsys):
    experiment = f"feats-{uuid.uuid4().hex[:8]}"
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN.format(experiment=experiment, model=tiny_bert, data_dir=data_dir))
    assert run_entry("grid", ["--plan", str(plan)]) == 0, capsys.readouterr().err
    client = MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], "attributes.status = 'FINISHED'")
    assert Counter(run.data.tags["z2h.stage"] for run in runs) == {"source": 1, "evaluate": 1, "few_shot": 2}

    # real learning: the source beats tagging every English test word with its most frequent bundle
    task = get_task("feats")
    english = task.read(data_dir, "en", "test")[:100]
    bundles = Counter(tag for example in english for tag in example.tags)
    majority = 100 * bundles.most_common(1)[0][1] / sum(bundles.values())
    source = next(run for run in runs if run.data.tags["z2h.stage"] == "source")
    assert source.data.metrics["accuracy"] > majority + 5, (source.data.metrics["accuracy"], majority)
    zero_shot = next(run for run in runs if run.data.tags["z2h.stage"] == "evaluate")
    assert {"accuracy", "feature_f1", "feature_precision", "feature_recall"} <= set(zero_shot.data.metrics)
    assert zero_shot.data.metrics["feature_f1"] > 0

    # the real entry point continues the registered feats model on Turkish
    model_uri = f"models:/{source.data.tags['z2h.registered_model']}"
    mlflow_run("few_shot", {"task": "feats", "model_uri": model_uri, "lang": "tr", "k": 20, "sampling": "random",
                            "data_dir": data_dir, "seed": 2, "max_eval_examples": 100, "epochs": 3, "lr": 1e-3},
               tracking, experiment=experiment)

    out = tmp_path / "analysis"
    assert run_entry("analysis", ["--experiment", experiment, "--output_dir", str(out), "--features", "SYN,GEO"]) == 0
    few_shot = pd.read_csv(out / "few_shot.csv")
    row = few_shot[(few_shot["task"] == "feats") & (few_shot["sampling"] == "random") & (few_shot["k"] == 20)]
    assert len(row) == 1 and row["n_seeds"].iloc[0] == 2  # the grid's seed 1 and the entry point's seed 2
    costs = pd.read_csv(out / "costs.csv")
    priced = costs[(costs["task"] == "feats") & (costs["k"] == 20)].set_index("sampling")["annotation_cost_usd"]
    # priced per real token of the shots: the 20 longest sentences cost more than 20 random ones
    assert priced["longest"] > priced["random"] > 0
