"""Input that would cost hours or count wrong numbers is refused through the real entry points on a real server:
diverged training, an unwritable artifact store, CoNLL-U heads that are not a tree, a password in a parameter,
a folder of several checkpoints, parameter errors under `mlflow run`, an XQuAD pool without usable answers."""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import mlflow
import pytest
from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from helpers import MlflowServer, mlflow_run, z2h
from zero2hero.errors import Z2HError

pytestmark = pytest.mark.integration

TINY_SOURCE = ("--epochs", "1", "--batch_size", "8", "--max_length", "64", "--eval_batch_size", "16")


def only_run(client: MlflowClient, experiment: str, view=ViewType.ACTIVE_ONLY):
    [run] = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], run_view_type=view)
    return run


def fresh_experiment(client: MlflowClient, name: str) -> dict:
    client.create_experiment(name)
    return {"MLFLOW_EXPERIMENT_NAME": name}


def test_diverged_training_fails_the_run_naming_step_and_value(mlflow_server, small_ud, tiny_bert):
    client = MlflowClient(mlflow_server.uri)
    env = fresh_experiment(client, "diverged")
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud), *TINY_SOURCE,
                 "--lr", "1e30", tracking_uri=mlflow_server.uri, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "training diverged: train_loss is nan at step " in result.stderr and "lr=1e+30" in result.stderr
    run = only_run(client, "diverged")
    assert run.info.status == "FAILED" and "train_loss is nan at step" in run.data.tags["z2h.error"]
    assert "z2h.registered_model" not in run.data.tags  # nothing was registered as a result


def test_a_diverged_search_trial_fails_and_the_search_goes_on(mlflow_server, small_ud, tiny_bert, tmp_path):
    client = MlflowClient(mlflow_server.uri)
    env = fresh_experiment(client, "diverged-search")
    result = z2h("search", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud),
                 "--lrs", "1e30,2e-4", "--epochs", "1", "--batch_size", "8", "--max_length", "64",
                 "--storage", f"sqlite:///{tmp_path / 'optuna.db'}", tracking_uri=mlflow_server.uri, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = client.search_runs([client.get_experiment_by_name("diverged-search").experiment_id])
    trials = {float(r.data.params["lr"]): r for r in runs if r.data.tags["z2h.stage"] == "trial"}
    assert trials[1e30].info.status == "FAILED" and "train_loss is nan at step" in trials[1e30].data.tags["z2h.error"]
    assert trials[2e-4].info.status == "FINISHED"
    [search] = [r for r in runs if r.data.tags["z2h.stage"] == "search"]
    assert search.info.status == "FINISHED" and float(search.data.params["best_lr"]) == 2e-4


@pytest.fixture
def unwritable_server(tmp_path):
    """A second live server whose artifacts folder is immutable (chattr +i: even root cannot write into it)."""
    server = MlflowServer(tmp_path / "ro-server").start()
    artifacts = server.root / "artifacts"
    artifacts.mkdir(exist_ok=True)
    made = subprocess.run(["chattr", "-R", "+i", str(artifacts)], capture_output=True, text=True)
    try:
        if made.returncode != 0:
            pytest.skip(f"cannot make a folder immutable here: {made.stderr.strip()}")
        yield server
    finally:
        subprocess.run(["chattr", "-R", "-i", str(artifacts)], capture_output=True)
        server.stop()


def test_an_unwritable_artifact_store_fails_before_training_and_uploads_fail_fast(unwritable_server, small_ud,
                                                                                  tiny_bert, monkeypatch):
    uri = unwritable_server.uri
    client = MlflowClient(uri)
    env = fresh_experiment(client, "unwritable")
    started = time.time()
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud), *TINY_SOURCE,
                 tracking_uri=uri, env=env)
    assert time.time() - started < 60
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "cannot write a test file (before any training) to the artifact store mlflow-artifacts:/" in result.stderr
    assert f"served by {uri}" in result.stderr
    run = only_run(client, "unwritable")
    assert run.info.status == "FAILED" and "cannot write a test file" in run.data.tags["z2h.error"]
    assert "train_loss" not in run.data.metrics

    # an upload that fails after training (the store filled up or was locked meanwhile): a message within seconds
    from zero2hero.tracking.runs import writing_artifacts

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run(experiment_id=run.info.experiment_id):
            started = time.time()
            with pytest.raises(Z2HError, match="cannot write the model to the artifact store mlflow-artifacts:/"):
                with writing_artifacts("the model"):
                    mlflow.log_text("weights", "model/weights.bin")
            assert time.time() - started < 40  # MLflow's own retries alone take minutes
    finally:
        mlflow.set_tracking_uri(None)


def break_tree(path):
    """Make the second word of the first sentence head the third and the third the second: a cycle."""
    lines = path.read_text().split("\n")
    words = [i for i, line in enumerate(lines) if line and line[0].isdigit() and line.split("\t")[0].isdigit()]
    second, third = words[1], words[2]
    for index, head in ((second, "3"), (third, "2")):
        columns = lines[index].split("\t")
        columns[6] = head
        lines[index] = "\t".join(columns)
    path.write_text("\n".join(lines))
    return second + 1


def test_a_cycle_is_an_error_with_file_and_line_unless_skipped(mlflow_server, small_ud, tiny_bert):
    train = small_ud / "ud" / "en" / "en_ewt-ud-train.conllu"
    line = break_tree(train)
    dev = small_ud / "ud" / "en" / "en_ewt-ud-dev.conllu"
    dev.write_bytes(b"\xef\xbb\xbf" + dev.read_bytes())  # and a BOM (once: "expected 10 columns, found 1")
    client = MlflowClient(mlflow_server.uri)
    env = fresh_experiment(client, "trees")
    args = ("source", "--task", "dep", "--model", str(tiny_bert), "--data_dir", str(small_ud), *TINY_SOURCE)
    result = z2h(*args, tracking_uri=mlflow_server.uri, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{train}:{line}: not a dependency tree: heads form a cycle (words 2, 3 never reach the root)" in result.stderr
    assert "bad_trees=skip" in result.stderr
    failed = only_run(client, "trees")
    assert failed.info.status == "FAILED" and "not a dependency tree" in failed.data.tags["z2h.error"]

    client.delete_run(failed.info.run_id)
    result = z2h(*args, "--bad_trees", "skip", tracking_uri=mlflow_server.uri, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{train}:{line}: skipped a sentence that is not a dependency tree" in result.stderr
    run = only_run(client, "trees")
    assert run.info.status == "FINISHED"
    assert run.data.params["data.train.skipped_bad_trees"] == "1" and run.data.params["data.train.examples"] == "39"
    assert "data.dev.skipped_bad_trees" not in run.data.params and run.data.params["data.dev.examples"] == "40"


def test_a_password_in_storage_is_refused_and_the_run_that_logged_it_deleted(mlflow_server, small_ud, tiny_bert):
    client = MlflowClient(mlflow_server.uri)
    client.create_experiment("secrets")
    storage = "postgresql://z2h:hunter2@127.0.0.1:5432/z2h_optuna"
    result = mlflow_run("search", {"task": "pos", "model": str(tiny_bert), "data_dir": str(small_ud), "storage": storage},
                        mlflow_server.uri, experiment="secrets", check=False)
    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("z2h search: error:")]
    assert "carries a password" in message and "hunter2" not in message and "z2h:***@127.0.0.1" in message
    assert "Z2H_OPTUNA_STORAGE" in message
    run = only_run(client, "secrets", ViewType.ALL)
    assert run.info.lifecycle_stage == "deleted" and run.info.run_id in message
    assert f"mlflow gc --backend-store-uri <that server's backend store URI> --run-ids {run.info.run_id}" in message


def test_a_parameter_error_under_mlflow_run_leaves_a_failed_run_with_stage_and_error(mlflow_server):
    client = MlflowClient(mlflow_server.uri)
    client.create_experiment("bad-params")
    result = mlflow_run("source", {"task": "pos", "weight_decay": "nan"}, mlflow_server.uri, experiment="bad-params",
                        check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "weight_decay='nan' is not valid: expected a finite number" in result.stderr
    run = only_run(client, "bad-params")
    assert run.info.status == "FAILED" and run.data.tags["z2h.stage"] == "source"
    assert "weight_decay='nan' is not valid" in run.data.tags["z2h.error"]


def test_a_folder_of_several_checkpoints_is_an_error_and_the_one_used_is_recorded(mlflow_server, tiny_bert,
                                                                                  data_dir, tmp_path):
    from zero2hero.stages.common import build_model
    from zero2hero.tasks import get_task

    task = get_task("pos")
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs([]), 64, "tiny")
    folder = tmp_path / "checkpoints"
    first = model.save(folder / "run-a" / "checkpoint", tokenizer)
    shutil.copytree(first, folder / "run-b" / "checkpoint")
    client = MlflowClient(mlflow_server.uri)
    env = fresh_experiment(client, "checkpoints")
    args = ("evaluate", "--task", "pos", "--langs", "tr", "--data_dir", str(data_dir), "--max_eval_examples", "5")
    result = z2h(*args, "--model_uri", str(folder), tracking_uri=mlflow_server.uri, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{folder} holds 2 checkpoints; give the one to use as model_uri:" in result.stderr
    assert str(folder / "run-a" / "checkpoint") in result.stderr and str(folder / "run-b" / "checkpoint") in result.stderr

    shutil.rmtree(folder / "run-b")
    result = z2h(*args, "--model_uri", str(folder), tracking_uri=mlflow_server.uri, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = client.search_runs([client.get_experiment_by_name("checkpoints").experiment_id])
    assert len(runs) == 2 and {r.data.tags["z2h.checkpoint"] for r in runs} == {str(first.resolve())}


def test_an_xquad_pool_without_usable_answers_is_a_message(mlflow_server, data_dir, tiny_bert, tmp_path):
    document = json.loads((data_dir / "xquad" / "xquad.en.json").read_text())
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                for answer in qa["answers"]:
                    answer["text"] = "no such answer"
    (tmp_path / "data" / "xquad").mkdir(parents=True)
    (tmp_path / "data" / "xquad" / "xquad.en.json").write_text(json.dumps(document))
    client = MlflowClient(mlflow_server.uri)
    env = fresh_experiment(client, "no-answers")
    result = z2h("source", "--task", "xquad", "--model", str(tiny_bert), "--data_dir", str(tmp_path / "data"),
                 "--max_train_examples", "10", "--max_eval_examples", "4", *TINY_SOURCE,
                 tracking_uri=mlflow_server.uri, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "xquad: no training features: every training example was left out" in result.stderr
    run = only_run(client, "no-answers")
    assert run.info.status == "FAILED" and "no training features" in run.data.tags["z2h.error"]
