"""`grid` scaled out: on a real local Ray instance, as disjoint shards, and after a worker is killed (kill -9)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter

import pytest
from mlflow.tracking import MlflowClient

from helpers import BIN, REPO, mlflow_run
from integration.test_grid import cell_runs, summary_total
from zero2hero.stages.grid import unit_shard

pytestmark = pytest.mark.integration

PLAN = """\
experiment: {experiment}
tasks: [pos]
models: [{model}]
langs: {langs}
k: {k}
sampling: [random]
seeds: [1, 2]
data_dir: {data_dir}
source: {{epochs: 1, max_train_examples: 60, max_eval_examples: 20, model_name: {name}}}
few_shot: {{epochs: {epochs}, lr: 0.005, dev_curve: no}}
evaluate: {{max_eval_examples: 30}}
{executor}
"""


def write_plan(tmp_path, tiny_bert, data_dir, executor="", langs="[tr, it]", k="[0, 10]", epochs=3, name=None):
    experiment = f"scale-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{experiment}.yaml"
    path.write_text(PLAN.format(experiment=experiment, model=tiny_bert, data_dir=data_dir, langs=langs, k=k,
                                epochs=epochs, name=name or f"s{experiment[-8:]}", executor=executor))
    return path, experiment


def scores(client, experiment: str) -> dict[str, float]:
    return {run.info.run_name: round(run.data.metrics["score"], 6) for run in cell_runs(client, experiment, "FINISHED")}


def test_ray_gives_every_cell_once_with_the_local_executors_scores(mlflow_server, tiny_bert, data_dir, tmp_path):
    name = f"ray-{uuid.uuid4().hex[:6]}"  # one short name: both runs train the same source model
    # no address: a Ray instance of 2 workers is started for the run (the session's cluster serves the next test)
    on_ray, ray_experiment = write_plan(tmp_path, tiny_bert, data_dir, name=name,
                                        executor="executor: {kind: ray, workers: 2, cpus_per_worker: 1}")
    local, local_experiment = write_plan(tmp_path, tiny_bert, data_dir, name=name)
    result = mlflow_run("grid", {"plan": on_ray}, mlflow_server.uri, experiment="z2h-grids", env={"RAY_ADDRESS": None})
    assert summary_total(result.stdout) == [7, 0, 0]  # source + 2 languages x (zero-shot + k=10 x 2 seeds)
    # one-thread torch in both, so the same seeds give the same math
    mlflow_run("grid", {"plan": local}, mlflow_server.uri, experiment="z2h-grids", env={"OMP_NUM_THREADS": "1"})
    client = MlflowClient(mlflow_server.uri)
    on_ray_scores, local_scores = scores(client, ray_experiment), scores(client, local_experiment)
    assert len(cell_runs(client, ray_experiment)) == 7  # nothing ran twice, nothing was left RUNNING
    assert on_ray_scores == local_scores and len(on_ray_scores) == 7
    few = [score for run, score in on_ray_scores.items() if "k=10" in run]
    assert len(set(few)) > 1, "the cells should differ (seeds, languages), or the comparison proves nothing"
    # the cells ran in Ray worker processes, not in the driver, and hang under the driver's grid run
    processes = {run.data.tags["z2h.process"] for run in cell_runs(client, ray_experiment)}
    [grid_run] = [run for run in cell_runs(client, "z2h-grids") if run.data.params.get("plan") == str(on_ray)]
    assert grid_run.data.tags["z2h.process"] not in processes
    assert {run.data.tags.get("mlflow.parentRunId") for run in cell_runs(client, ray_experiment)} == {grid_run.info.run_id}


def test_ray_reports_a_failing_cell_and_a_killed_worker_and_a_rerun_adds_only_the_missing(
        mlflow_server, ray_cluster, tiny_bert, data_dir, tmp_path):
    # k=100000 is larger than any pool: those cells raise; max_retries 0, so the killed worker's unit is reported
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, k="[0, 10, 100000]", epochs=40,
                                  executor=f"executor: {{kind: ray, address: '{ray_cluster}', max_retries: 0}}")
    client = MlflowClient(mlflow_server.uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri, "PATH": f"{BIN}:{os.environ['PATH']}"}
    grid = subprocess.Popen([str(BIN / "z2h"), "grid", "--plan", str(plan)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, victim = time.time() + 300, None
    while victim is None:
        assert grid.poll() is None and time.time() < deadline, "grid ended before a few-shot cell ran"
        running = [run for run in cell_runs(client, experiment, "RUNNING")
                   if run.data.tags.get("z2h.stage") == "few_shot" and "z2h.process" in run.data.tags]
        if running:
            victim = running[0]
        time.sleep(0.1)
    worker_pid = int(victim.data.tags["z2h.process"].split(":")[1])
    assert worker_pid != grid.pid
    os.kill(worker_pid, signal.SIGKILL)
    output = grid.communicate(timeout=600)[0]
    assert grid.returncode == 2, output[-3000:]
    failed_lines = [line for line in output.splitlines() if line.startswith("FAILED ")]
    assert any("k=100000" in line and "larger than the few-shot pool" in line for line in failed_lines), output[-3000:]
    lang = victim.info.run_name.split("/")[3]  # few_shot/pos/SLUG/LANG/... (its params may not be logged yet)
    assert any(f" {lang}:" in line and "WorkerCrashedError" in line for line in failed_lines), output[-3000:]
    killed = client.get_run(victim.info.run_id)
    assert killed.info.status == "FAILED" and "abandoned" in killed.data.tags["z2h.error"]
    before = {run.info.run_name for run in cell_runs(client, experiment, "FINISHED")}
    assert victim.info.run_name not in before

    # the same plan without the impossible k: only what is missing runs, nothing twice
    rerun_plan = tmp_path / "rerun.yaml"
    rerun_plan.write_text(plan.read_text().replace("[0, 10, 100000]", "[0, 10]"))
    rerun = mlflow_run("grid", {"plan": rerun_plan}, mlflow_server.uri, experiment="z2h-grids")
    finished = Counter(run.info.run_name for run in cell_runs(client, experiment, "FINISHED"))
    assert len(finished) == 7 and set(finished.values()) == {1}
    assert summary_total(rerun.stdout) == [7 - len(before), len(before), 0]


def test_shards_cover_every_cell_once_after_only_sources(mlflow_server, tracking, tiny_bert, data_dir, tmp_path,
                                                        capsys):
    """`only=sources` through the real entry point (`-P` extras), then the shards in-process, as a SLURM array
    would start them one by one."""
    from zero2hero.cli import run_entry

    langs = ["tr", "it", "fi"]
    # a short model name whose units spread over the shards (the hash puts all 3 in one shard 1 time in 9)
    slug = next(name for name in (f"s{uuid.uuid4().hex[:8]}" for _ in range(200))
                if len({unit_shard("pos", name, lang, 3) for lang in langs}) > 1)
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, langs=f"[{', '.join(langs)}]", epochs=1, name=slug)
    assert run_entry("grid", ["--plan", str(plan), "--shard", "1/3"]) == 2
    error = capsys.readouterr().err
    assert "-P only=sources" in error and "under precision=auto a source trained on a GPU is bf16" in error
    client = MlflowClient(mlflow_server.uri)
    assert cell_runs(client, experiment, "FINISHED") == []  # the shard stopped before any work

    sources = mlflow_run("grid", {"plan": plan, "only": "sources"}, mlflow_server.uri, experiment="z2h-grids")
    assert summary_total(sources.stdout) == [1, 0, 0]
    done = 0
    for index in (1, 2, 3):
        assert run_entry("grid", ["--plan", str(plan), "--shard", f"{index}/3"]) == 0
        mine = [lang for lang in langs if unit_shard("pos", slug, lang, 3) == index]
        assert summary_total(capsys.readouterr().out) == [3 * len(mine), 1, 0]  # its units' cells; the source reused
        done += 3 * len(mine)
    finished = Counter(run.info.run_name for run in cell_runs(client, experiment, "FINISHED"))
    assert done == 3 * len(langs) and len(finished) == 1 + 3 * len(langs) and set(finished.values()) == {1}


def test_ray_with_a_local_store_stops_before_any_work(local_tracking, tiny_bert, data_dir, tmp_path, capsys):
    plan, experiment = write_plan(tmp_path, tiny_bert, data_dir, executor="executor: {kind: ray}")
    from zero2hero.cli import run_entry

    assert run_entry("grid", ["--plan", str(plan)]) == 2
    error = capsys.readouterr().err
    assert "every worker logs to one tracking server" in error and "MLFLOW_TRACKING_URI=http" in error
    assert MlflowClient(local_tracking).get_experiment_by_name(experiment) is None  # nothing was created
