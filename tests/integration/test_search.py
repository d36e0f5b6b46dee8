"""`search` on a live tracking server: the study's grid as nested trial runs, TPE, and workers sharing PostgreSQL."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import optuna
import pytest
from mlflow.tracking import MlflowClient

from helpers import mlflow_run
from postgres import postgres_url  # noqa: F401  (fixture)
from zero2hero.config import parse_params
from zero2hero.stages.search import run_search
from zero2hero.tracking.studies import storage_url

pytestmark = pytest.mark.integration

TINY = {"task": "pos", "max_train_examples": 30, "max_eval_examples": 30, "batch_size": 16}


def runs_of(client, experiment: str, stage: str) -> list:
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id], f"tags.`z2h.stage` = '{stage}'")


def test_grid_sampler_gives_four_trials_under_one_parent_and_registers_the_best(
        mlflow_server, tiny_bert, data_dir, tmp_path):
    experiment = f"search-{uuid.uuid4().hex[:8]}"
    mlflow_run("search", {**TINY, "model": tiny_bert, "model_name": "search-tiny", "data_dir": data_dir,
                          "epochs": "1,2", "storage": f"sqlite:///{tmp_path / 'optuna.db'}", "register": "yes"},
               mlflow_server.uri, experiment=experiment)
    client = MlflowClient(mlflow_server.uri)
    [parent] = runs_of(client, experiment, "search")
    trials = runs_of(client, experiment, "trial")
    assert len(trials) == 4
    assert {trial.data.tags["mlflow.parentRunId"] for trial in trials} == {parent.info.run_id}
    grid = {(float(t.data.params["lr"]), int(t.data.params["epochs"])) for t in trials}
    assert grid == {(5e-5, 1), (5e-5, 2), (3e-5, 1), (3e-5, 2)}
    top = max(t.data.metrics["best_dev_score"] for t in trials)
    assert parent.data.metrics["best_score"] == pytest.approx(top)
    # the best params are those of a trial with the top score (several may tie: epoch 1 is shared by 1 and 2 epochs)
    [best] = [t for t in trials if (float(t.data.params["lr"]), t.data.params["epochs"])
              == (float(parent.data.params["best_lr"]), parent.data.params["best_epochs"])]
    assert best.data.metrics["best_dev_score"] == pytest.approx(top)
    assert parent.data.tags["z2h.best_trial_run_id"] == best.info.run_id
    assert all(len(client.get_metric_history(t.info.run_id, "dev_score")) == int(t.data.params["epochs"]) for t in trials)
    # register=yes: the best configuration trained once more as a nested source run and registered
    [source] = runs_of(client, experiment, "source")
    assert source.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert source.data.params["lr"] == best.data.params["lr"] and source.data.params["epochs"] == best.data.params["epochs"]
    assert client.get_model_version_by_alias("z2h-pos-search-tiny", "source").run_id == source.info.run_id


def test_tpe_searches_within_the_bounds(tracking, tiny_bert, data_dir, tmp_path):
    argv = [f"--{key}={value}" for key, value in {
        **TINY, "max_train_examples": 20, "model": tiny_bert, "data_dir": data_dir, "sampler": "tpe", "n_trials": 2,
        "lr_min": "1e-5", "lr_max": "1e-4", "epochs_min": 1, "epochs_max": 2,
        "storage": f"sqlite:///{tmp_path / 'optuna.db'}", "study_name": "tpe"}.items()]
    run_search(parse_params("search", argv))
    study = optuna.load_study(study_name="tpe", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    assert len(study.trials) == 2
    for trial in study.trials:
        assert 1e-5 <= trial.params["lr"] <= 1e-4 and trial.params["epochs"] in (1, 2)
        assert MlflowClient(tracking).get_run(trial.user_attrs["mlflow_run_id"]).data.tags["z2h.stage"] == "trial"


def test_two_workers_share_one_postgresql_study(mlflow_server, tiny_bert, data_dir, postgres_url):
    """Two `mlflow run -e search` processes started together on a fresh database complete distinct trials."""
    experiment = f"workers-{uuid.uuid4().hex[:8]}"
    params = {**TINY, "max_train_examples": 20, "model": tiny_bert, "data_dir": data_dir, "storage": postgres_url,
              "study_name": "shared", "lrs": "5e-5,4e-5,3e-5,2e-5", "epochs": "1", "n_trials": 2}
    # as the README says: `mlflow run --experiment-name` itself crashes when two processes create one experiment
    MlflowClient(mlflow_server.uri).create_experiment(experiment)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: mlflow_run("search", params, mlflow_server.uri, experiment=experiment), range(2)))
    assert all(result.returncode == 0 for result in results)
    study = optuna.load_study(study_name="shared", storage=storage_url(postgres_url))
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert sorted(trial.params["lr"] for trial in study.trials) == [2e-5, 3e-5, 4e-5, 5e-5]
    client = MlflowClient(mlflow_server.uri)
    parents = runs_of(client, experiment, "search")
    trials = runs_of(client, experiment, "trial")
    assert len(parents) == 2 and len(trials) == 4
    per_parent = sorted(sum(t.data.tags["mlflow.parentRunId"] == p.info.run_id for t in trials) for p in parents)
    assert per_parent == [2, 2]
    assert {t.info.run_id for t in trials} == {trial.user_attrs["mlflow_run_id"] for trial in study.trials}
