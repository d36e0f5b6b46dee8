"""Faults, really injected: kill -9 and SIGTERM of a grid and of search workers, and an experiment holding two plan
versions and a duplicated cell. Nothing wrong is counted, nothing is lost, and a rerun finishes what is missing."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import optuna
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analysis.main import run_analysis
from helpers import BIN, REPO
from integration.test_grid import cell_runs, summary_total
from integration.test_scale_out import write_plan
from postgres import postgres_url  # noqa: F401  (fixture)
from zero2hero.cli import run_entry
from zero2hero.tracking.studies import storage_url

pytestmark = pytest.mark.integration


def started(command: list[str], env: dict, group: bool = False) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=group)


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 300):
    deadline = time.time() + timeout
    while True:
        found = condition()
        if found:
            return found
        assert process.poll() is None, f"ended before {what}:\n{process.stdout.read()[-3000:]}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def owned_by(run, pid: int) -> bool:
    return run.data.tags.get("z2h.process", "").split(":")[1:2] == [str(pid)]


def test_kill_9_of_a_grid_leaves_no_half_counted_cell_and_a_rerun_finishes(mlflow_server, tiny_bert, data_dir,
                                                                            tmp_path):
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, epochs=40)
    client = MlflowClient(mlflow_server.uri)
    client.create_experiment(f"own-{experiment}")
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri, "MLFLOW_EXPERIMENT_NAME": f"own-{experiment}"}
    grid = started([str(BIN / "z2h"), "grid", "--plan", str(plan)], env)
    victim = wait_for(lambda: [r for r in cell_runs(client, experiment, "RUNNING")
                               if r.data.tags.get("z2h.stage") == "few_shot" and owned_by(r, grid.pid)],
                      grid, "a running few-shot cell")[0]
    os.kill(grid.pid, signal.SIGKILL)
    grid.wait(timeout=60)
    kept = {run.info.run_name for run in cell_runs(client, experiment, "FINISHED")}
    assert client.get_run(victim.info.run_id).info.status == "RUNNING"  # what kill -9 leaves behind

    rerun = subprocess.run([str(BIN / "z2h"), "grid", "--plan", str(plan)], cwd=REPO, env=env, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    killed = client.get_run(victim.info.run_id)
    assert killed.info.status == "FAILED" and "abandoned" in killed.data.tags["z2h.error"]
    [old_grid] = [r for r in cell_runs(client, f"own-{experiment}") if owned_by(r, grid.pid)]
    assert old_grid.info.status == "FAILED"  # the killed grid's own run too
    finished = Counter(run.info.run_name for run in cell_runs(client, experiment, "FINISHED"))
    assert len(finished) == 7 and set(finished.values()) == {1}
    assert summary_total(rerun.stdout) == [7 - len(kept), len(kept), 0]
    assert cell_runs(client, experiment, "RUNNING") == []


def test_sigterm_of_a_grid_prints_the_summary_and_ends_its_runs_killed(mlflow_server, tiny_bert, data_dir, tmp_path):
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, epochs=40)
    client = MlflowClient(mlflow_server.uri)
    own = f"own-{experiment}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri, "PATH": f"{BIN}:{os.environ['PATH']}"}
    command = [str(BIN / "mlflow"), "run", str(REPO), "-e", "grid", "--env-manager", "local", "--experiment-name",
               own, "-P", f"plan={plan}"]
    grid = started(command, env, group=True)
    wait_for(lambda: [r for r in cell_runs(client, experiment, "RUNNING") if r.data.tags.get("z2h.stage") == "few_shot"],
             grid, "a running few-shot cell")
    os.killpg(grid.pid, signal.SIGTERM)  # what `timeout`, SLURM and schedulers send
    output = grid.communicate(timeout=120)[0]
    assert grid.returncode != 0
    assert "terminated (SIGTERM)" in output and any(line.startswith("total") for line in output.splitlines())
    assert "Traceback" not in output
    statuses = Counter(run.info.status for run in cell_runs(client, experiment))
    assert statuses["KILLED"] >= 1 and statuses["RUNNING"] == 0
    [grid_run] = cell_runs(client, own)
    assert grid_run.info.status == "KILLED"


def test_search_workers_killed_and_terminated_lose_no_grid_point(mlflow_server, tiny_bert, data_dir, postgres_url):
    experiment = f"search-faults-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(mlflow_server.uri)
    client.create_experiment(experiment)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri, "MLFLOW_EXPERIMENT_NAME": experiment,
           "Z2H_HEARTBEAT_INTERVAL": "1", "Z2H_HEARTBEAT_GRACE": "4"}
    command = [str(BIN / "z2h"), "search", "--task", "pos", "--model", str(tiny_bert), "--model_name", "faults",
               "--data_dir", str(data_dir), "--max_train_examples", "300", "--max_eval_examples", "30",
               "--batch_size", "8", "--epochs", "3,4", "--storage", postgres_url, "--study_name", "faults"]

    def running_trial(worker):
        found = client.get_experiment_by_name(experiment)
        return [r for r in client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'")
                if r.data.tags.get("z2h.stage") == "trial" and owned_by(r, worker.pid)]

    first = started(command, env)
    [killed_trial] = wait_for(lambda: running_trial(first), first, "worker 1's trial")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=60)
    time.sleep(5)  # past the heartbeat grace period

    second = started(command, env)
    [stopped_trial] = wait_for(lambda: running_trial(second), second, "worker 2's trial")
    second.send_signal(signal.SIGTERM)
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 143 and "terminated (SIGTERM)" in output, output[-3000:]

    third = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert third.returncode == 0, third.stderr[-3000:]

    study = optuna.load_study(study_name="faults", storage=storage_url(postgres_url))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    points = Counter((t.params["lr"], t.params["epochs"]) for t in complete)
    assert set(points) == {(5e-5, 3), (5e-5, 4), (3e-5, 3), (3e-5, 4)} and set(points.values()) == {1}
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    assert len(failed) == 2  # the killed worker's trial (no heartbeat) and the terminated one's
    retried = {number for t in study.trials for number in t.system_attrs.get("retry_history", [])}
    assert {t.number for t in failed} == retried  # both grid points were queued again
    lost = client.get_run(killed_trial.info.run_id)
    # ended by whichever noticed first: Optuna's stale-trial check ("lost its heartbeat") or the liveness sweep
    assert lost.info.status == "FAILED" and ("heartbeat" in lost.data.tags["z2h.error"]
                                             or "abandoned" in lost.data.tags["z2h.error"])
    assert client.get_run(stopped_trial.info.run_id).info.status == "KILLED"
    searches = {owned_by(r, first.pid): r.info.status for r in
                client.search_runs([client.get_experiment_by_name(experiment).experiment_id],
                                   "tags.`z2h.stage` = 'search'")}
    assert searches[True] == "FAILED"  # worker 1's own search run, ended by a later worker


def test_analysis_keeps_two_plan_versions_apart_and_counts_a_duplicate_once(tracking, tiny_bert, data_dir, tmp_path,
                                                                            capsys):
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, epochs=1)
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    version_2 = tmp_path / "v2.yaml"
    version_2.write_text(plan.read_text().replace("epochs: 1, lr", "epochs: 3, lr"))
    assert run_entry("grid", ["--plan", str(version_2)]) == 0
    assert summary_total(capsys.readouterr().out) == [4, 3, 0]  # source and zero-shot reused, new few-shot cells
    client = MlflowClient(tracking)
    few = [r for r in cell_runs(client, experiment, "FINISHED") if r.data.tags["z2h.stage"] == "few_shot"]
    # the same cell once more, by hand, with version 1's settings: a duplicate
    [tr_cell] = [r for r in few if r.data.params["lang"] == "tr" and r.data.params["seed"] == "1"
                 and r.data.params["epochs"] == "1"]
    argv = {"task": "pos", "model_uri": tr_cell.data.params["model_uri"], "lang": "tr", "k": 10, "sampling": "random",
            "seed": 1, "data_dir": data_dir, "epochs": 1, "lr": 0.005, "dev_curve": "no", "max_eval_examples": 30}
    os.environ["MLFLOW_EXPERIMENT_NAME"] = experiment
    try:
        assert run_entry("few_shot", [f"--{key}={value}" for key, value in argv.items()]) == 0
    finally:
        del os.environ["MLFLOW_EXPERIMENT_NAME"]
    assert json.loads(tr_cell.data.tags["z2h.config"])["epochs"] == "1"

    paths = run_analysis(experiment, output_dir=str(tmp_path / "out"))
    table = pd.read_csv(paths["few_shot"])
    rows = table[table["k"] == 10].set_index("setting")
    assert sorted(rows.index) == ["epochs=1", "epochs=3"]  # two configurations, never averaged together
    for epochs in ("1", "3"):
        mine = [r.data.metrics["score"] for r in few if r.data.params["epochs"] == epochs]
        assert len(mine) == 4 and rows.loc[f"epochs={epochs}", "n_seeds"] == 2
        assert rows.loc[f"epochs={epochs}", "mean_score"] == pytest.approx(sum(mine) / len(mine))
    report = Path(paths["report"]).read_text()
    assert "1 duplicate runs left out" in report and "pos/tr/k=10 (1)" in report
