"""The bulk run search on a live tracking server, the server app it talks to (`mlflow server --app-name z2h`) and
the programs' quick exit: what makes the analysis of 10,000 runs fast (benchmarks/README.md) must not change
what it reads."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.request

import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from zero2hero.tracking import queries
from zero2hero.tracking.server_app import GC_THRESHOLDS

pytestmark = pytest.mark.integration


def _log_runs(client: MlflowClient, experiment_id: str) -> list[str]:
    """Runs of every shape a search meets: finished with params, tags and metrics (a NaN, a metric logged twice),
    one still running, one failed, one deleted."""
    ids, now = [], int(time.time() * 1000)
    for i in range(7):
        run = client.create_run(experiment_id, start_time=now + i, run_name=f"cell-{i}",
                                tags={"z2h.stage": "few_shot", "z2h.config": json.dumps({"epochs": "3", "i": i})})
        client.log_batch(run.info.run_id,
                         metrics=[Metric("score", 50.0 + i, now, 0), Metric("score", 60.5 + i, now + 1, 1),
                                  Metric("loss", math.nan, now, 0)],
                         params=[Param("lang", "tr"), Param("k", str(10 * i)), Param("empty", "")],
                         tags=[RunTag("note", "ünïcode ✓")])
        if i < 5:
            client.set_terminated(run.info.run_id, "FINISHED" if i != 3 else "FAILED", end_time=now + 1000 + i)
        ids.append(run.info.run_id)
    client.delete_run(ids[4])
    return ids


def test_rest_search_reads_what_the_store_holds(tracking, mlflow_server, monkeypatch):
    """Over HTTP the runs are read as plain JSON, page by page; the records equal those of MLflow's own store
    reading the server's database directly (every param, tag, latest metric, status, time), the deleted run left out."""
    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.create_experiment(f"search-{time.time_ns()}")
    ids = _log_runs(client, experiment_id)
    assert queries._rest_store(client) is not None  # this client talks to a server: the REST path
    monkeypatch.setattr(queries, "REST_PAGE_SIZE", 2)  # four pages, so the page tokens are followed
    over_rest = {run.info.run_id: run for run in queries.search_all_runs([experiment_id], client=client)}

    local = MlflowClient(f"sqlite:///{mlflow_server.root / 'mlflow.db'}")
    assert queries._rest_store(local) is None  # the database itself: MLflow's client path
    from_store = {run.info.run_id: run for run in queries.search_all_runs([experiment_id], client=local)}

    assert set(over_rest) == set(from_store) == set(ids) - {ids[4]}
    for run_id, run in over_rest.items():
        expected = from_store[run_id]
        assert run.info == expected.info
        assert run.data.params == expected.data.params and run.data.tags == expected.data.tags
        assert run.data.metrics.keys() == expected.data.metrics.keys() == {"score", "loss"}
        assert run.data.metrics["score"] == expected.data.metrics["score"] == 60.5 + ids.index(run_id)
        assert math.isnan(run.data.metrics["loss"]) and math.isnan(expected.data.metrics["loss"])
    statuses = {over_rest[i].info.status for i in ids[:4]}
    assert statuses == {"FINISHED", "FAILED"} and over_rest[ids[5]].info.status == "RUNNING"
    assert over_rest[ids[5]].info.end_time is None and over_rest[ids[0]].info.end_time is not None
    assert over_rest[ids[0]].data.tags["note"] == "ünïcode ✓" and over_rest[ids[0]].data.params["empty"] == ""

    filtered = queries.search_all_runs([experiment_id], "params.k = '20'", client=client)
    assert [run.info.run_id for run in filtered] == [ids[2]]


def test_server_app_answers_compact_json(mlflow_server):
    """The tests' server runs MLflow's app through the `z2h` plugin: answers come as compact JSON (MLflow's own
    handlers indent them, the slow part of a large search)."""
    client = MlflowClient(mlflow_server.uri)
    experiment_id = client.create_experiment(f"compact-{time.time_ns()}")
    _log_runs(client, experiment_id)
    body = json.dumps({"experiment_ids": [experiment_id], "max_results": 5}).encode()
    request = urllib.request.Request(f"{mlflow_server.uri}/api/2.0/mlflow/runs/search", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    answer = json.loads(text)
    assert len(answer["runs"]) == 5 and answer["runs"][0]["data"]["params"]
    assert text == json.dumps(answer, separators=(",", ":"))  # MLflow's compact form; indented differs


def test_server_app_is_mlflows_with_the_collector_tuned():
    """The `mlflow.app` entry point gives MLflow's FastAPI app (uvicorn) or Flask app (gunicorn, waitress), with
    the collector's thresholds raised and the import-time heap frozen; checked in a fresh interpreter."""
    script = """
import gc, os
from mlflow.server import _find_app
from importlib import import_module
target = _find_app("z2h")
module, name = target.split(":")
create_app = getattr(import_module(module), name)
os.environ["_MLFLOW_SGI_NAME"] = "uvicorn"
import mlflow.server.fastapi_app as fastapi_app
assert create_app() is fastapi_app.app
os.environ["_MLFLOW_SGI_NAME"] = "gunicorn"
import mlflow.server as flask_server
assert create_app() is flask_server.app
from mlflow.server import handlers
print(target, gc.get_threshold(), gc.get_freeze_count() > 100_000, handlers.message_to_json.keywords)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["zero2hero.tracking.server_app:create_app", *str(GC_THRESHOLDS).split(),
                                     "True", "{'pretty':", "False}"]


def test_programs_exit_with_their_code_and_run_atexit_handlers(tmp_path):
    """`finish` skips Python's last garbage collection, not the atexit handlers (MLflow flushes its logging queues
    there) nor the exit status."""
    marker = tmp_path / "flushed"
    script = (f"import atexit, pathlib; atexit.register(lambda: pathlib.Path({str(marker)!r}).write_text('ok'))\n"
              "from zero2hero.cli import finish; finish(3)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert marker.read_text() == "ok"
