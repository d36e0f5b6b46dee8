"""`grid` on a live tracking server: a Ctrl-C half-way loses nothing, a rerun finishes, another adds no runs."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter

import pytest
from mlflow.tracking import MlflowClient

from helpers import BIN, REPO, copy_tree, default_sigint, mlflow_run
from zero2hero.cli import run_entry

pytestmark = pytest.mark.integration

PLAN = """\
experiment: {experiment}
tasks: [pos]
models: [{model}]
langs: {langs}
k: {k}
sampling: [random, longest]
seeds: [1]
data_dir: {data_dir}
source: {{epochs: 1, max_train_examples: 30, max_eval_examples: 20, model_name: {name}}}
few_shot: {{epochs: 1, dev_curve: no}}
evaluate: {{max_eval_examples: 20}}
"""
N_CELLS = 1 + 2 * (1 + 2 * 2)  # source + per language: zero-shot + k in {5, 10} x {random, longest}


def write_plan(tmp_path, tiny_bert, data_dir, langs="[tr, it]", k="[0, 5, 10]"):
    experiment = f"grid-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.format(experiment=experiment, model=tiny_bert, data_dir=data_dir, langs=langs, k=k,
                                name=f"grid-{experiment[-8:]}"))
    return path, experiment


def cell_runs(client, experiment: str, status: str | None = None) -> list:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    query = f"attributes.status = '{status}'" if status else ""
    return client.search_runs([found.experiment_id], query, max_results=1000)


def interrupt_after(command: list[str], env: dict, client, experiment: str, finished: int) -> None:
    """Start `command`, press Ctrl-C (SIGINT to its process group) once `finished` cells are FINISHED."""
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True, preexec_fn=default_sigint)
    deadline = time.time() + 600
    while len(cell_runs(client, experiment, "FINISHED")) < finished:
        assert process.poll() is None, f"grid ended before the interrupt:\n{process.stdout.read()[-3000:]}"
        assert time.time() < deadline, "grid too slow"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    output = process.communicate(timeout=300)[0]
    assert process.returncode != 0, output[-3000:]


def test_interrupted_grid_loses_nothing_and_reruns_add_nothing(mlflow_server, tiny_bert, data_dir, tmp_path):
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir)
    client = MlflowClient(mlflow_server.uri)
    own_runs = f"grid-runs-{uuid.uuid4().hex[:8]}"  # where `mlflow run` puts the grid's own runs
    command = [str(BIN / "mlflow"), "run", str(REPO), "-e", "grid", "--env-manager", "local", "--experiment-name",
               own_runs, "-P", f"plan={plan}"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri, "PATH": f"{BIN}:{os.environ['PATH']}"}

    interrupt_after(command, env, client, experiment, finished=3)
    kept = {run.info.run_name for run in cell_runs(client, experiment, "FINISHED")}
    assert 3 <= len(kept) < N_CELLS

    rerun = mlflow_run("grid", {"plan": plan}, mlflow_server.uri, experiment=own_runs)
    finished = Counter(run.info.run_name for run in cell_runs(client, experiment, "FINISHED"))
    assert len(finished) == N_CELLS and set(finished.values()) == {1}  # every cell once, the kept ones not redone
    assert summary_total(rerun.stdout) == [N_CELLS - len(kept), len(kept), 0]

    before = len(cell_runs(client, experiment))
    again = mlflow_run("grid", {"plan": plan}, mlflow_server.uri, experiment=own_runs, env={"TQDM_DISABLE": None})
    assert len(cell_runs(client, experiment)) == before
    assert summary_total(again.stdout) == [0, N_CELLS, 0]
    # the progress bar over cells (the tests turn tqdm off everywhere else)
    assert f"grid {experiment}: 100%" in again.stderr and f"{N_CELLS}/{N_CELLS} [" in again.stderr


def summary_total(output: str) -> list[int]:
    """[done, skipped, failed] from the grid's summary table."""
    line = [line for line in output.splitlines() if line.startswith("total")][-1]
    return [int(count) for count in line.split()[1:]]


def test_failed_cells_are_reported_and_the_rest_runs(tracking, tiny_bert, data_dir, tmp_path, capsys):
    """Arabic has no few-shot pool: its few-shot cells fail with the reason, its zero-shot cell still runs."""
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, langs="[ar]", k="[0, 5]")
    assert run_entry("grid", ["--plan", str(plan)]) == 2
    output = capsys.readouterr()
    assert "FAILED few_shot pos" in output.out and "pool=test:N" in output.out
    assert "2 cells failed" in output.err
    assert "pool=test:N" in output.err  # the error names the failures themselves (it is the run's z2h.error)
    stages = Counter(run.data.tags["z2h.stage"] for run in cell_runs(MlflowClient(tracking), experiment, "FINISHED"))
    assert stages == {"source": 1, "evaluate": 1}  # failed cells left no runs behind: sampling comes first


def test_a_changed_data_file_reruns_the_cells_that_read_it(tracking, tiny_bert, data_dir, tmp_path, capsys):
    """Reuse is by params and by the content hash of every data file a run read, not by the data_dir string."""
    data = tmp_path / "data"
    for lang in ("en", "tr"):
        copy_tree(data_dir / "ud" / lang, data / "ud" / lang)
    plan, experiment = write_plan(tmp_path, tiny_bert, data, langs="[tr]", k="[0, 5]")
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    assert summary_total(capsys.readouterr().out) == [4, 0, 0]  # source, zero-shot, 5 random, 5 longest

    test_file = next((data / "ud" / "tr").glob("*-ud-test.conllu"))
    sentences = test_file.read_text(encoding="utf-8").rstrip("\n").split("\n\n")
    test_file.write_text("\n\n".join(sentences[:-1]) + "\n\n", encoding="utf-8")  # one sentence fewer
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    assert summary_total(capsys.readouterr().out) == [3, 1, 0]  # the source is reused; every tr cell runs again
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    assert summary_total(capsys.readouterr().out) == [0, 4, 0]
    assert len(cell_runs(MlflowClient(tracking), experiment, "FINISHED")) == 7


def test_a_plan_sets_the_broken_tree_policy_for_every_stage(tracking, tiny_bert, small_ud, data_dir, tmp_path, capsys):
    from integration.test_refusals import break_tree

    copy_tree(data_dir / "ud" / "tr", small_ud / "ud" / "tr")
    train = small_ud / "ud" / "en" / "en_ewt-ud-train.conllu"
    line = break_tree(train)
    plan, experiment = write_plan(tmp_path, tiny_bert, small_ud, langs="[tr]", k="[0]")
    assert run_entry("grid", ["--plan", str(plan)]) == 2
    assert f"{train}:{line}: not a dependency tree" in capsys.readouterr().out  # the source cell, with file and line
    plan.write_text(plan.read_text() + "bad_trees: skip\n")
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    assert summary_total(capsys.readouterr().out) == [2, 0, 0]
    [source] = [r for r in cell_runs(MlflowClient(tracking), experiment, "FINISHED") if r.data.tags["z2h.stage"] == "source"]
    assert source.data.params["data.train.skipped_bad_trees"] == "1"


def test_a_different_precision_is_a_different_cell(tracking, tiny_bert, data_dir, tmp_path, capsys):
    """bf16 scores are not fp32 scores: `precision` in the plan runs every target cell again, records it, and gives
    the runs their own config id, so the analysis never averages the two; the source (fp32) is reused."""
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, langs="[tr]", k="[0, 5]")
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    assert summary_total(capsys.readouterr().out) == [4, 0, 0]
    plan.write_text(plan.read_text().replace("evaluate: {max_eval_examples: 20}",
                                             "evaluate: {max_eval_examples: 20, precision: bf16}"))
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    assert summary_total(capsys.readouterr().out) == [3, 1, 0]
    assert run_entry("grid", ["--plan", str(plan)]) == 0
    assert summary_total(capsys.readouterr().out) == [0, 4, 0]
    runs = [run for run in cell_runs(MlflowClient(tracking), experiment, "FINISHED")
            if run.data.tags["z2h.stage"] != "source"]
    by_precision = Counter(run.data.params.get("precision", "-") for run in runs)
    assert by_precision == {"-": 3, "bf16": 3}
    for name in {run.info.run_name for run in runs}:
        pair = [run for run in runs if run.info.run_name == name]
        assert len(pair) == 2 and len({run.data.tags["z2h.config_id"] for run in pair}) == 2, name
