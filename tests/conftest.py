"""Shared fixtures: offline environment, tiny models, a live MLflow server, one trained source model."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Offline and quiet for every test, set before the libraries read them.
_SESSION_TMP = Path(tempfile.mkdtemp(prefix="z2h-tests-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = str(_SESSION_TMP / "hf")
os.environ["Z2H_CACHE_DIR"] = str(_SESSION_TMP / "cache")
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["TQDM_DISABLE"] = "1"
os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("MLFLOW_RUN_ID", None)

from helpers import DATA_DIR, MlflowServer, build_tiny_bert, build_tiny_xlmr, minilm_dir, mlflow_run  # noqa: E402


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA_DIR / "ud" / "en").is_dir(), f"shared data not found at {DATA_DIR} (set Z2H_DATA_DIR)"
    return DATA_DIR


@pytest.fixture
def small_ud(tmp_path, data_dir):
    """A data_dir with a small copy of English UD (first 40 sentences of each split)."""
    root = tmp_path / "data" / "ud" / "en"
    root.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        text = (data_dir / "ud" / "en" / f"en_ewt-ud-{split}.conllu").read_text()
        (root / f"en_ewt-ud-{split}.conllu").write_text("\n\n".join(text.split("\n\n")[:40]) + "\n\n")
    return tmp_path / "data"


@pytest.fixture(scope="session")
def minilm() -> Path:
    return minilm_dir()


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> Path:
    return build_tiny_xlmr(tmp_path_factory.mktemp("tiny-xlmr") / "tiny-xlmr")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """One live tracking server for the session (SQLite backend, artifacts through the server)."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


@pytest.fixture
def tracking(mlflow_server, monkeypatch):
    """Point this test's MLflow client at the live server."""
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.uri)
    mlflow.set_tracking_uri(mlflow_server.uri)
    yield mlflow_server.uri
    mlflow.set_tracking_uri(None)


@pytest.fixture
def local_tracking(tmp_path, monkeypatch):
    """An embedded SQLite tracking store for one test (fast, no server)."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def pos_source(mlflow_server, minilm, data_dir):
    """The issue's real-learning POS source run through `mlflow run` (MiniLM, 2000 EWT sentences, 1 epoch,
    lr 2e-4, batch 16), shared by every test that needs a trained POS model. Returns (run_id, stdout)."""
    from mlflow.tracking import MlflowClient

    result = mlflow_run("source", {
        "task": "pos", "model": str(minilm), "data_dir": str(data_dir), "max_train_examples": 2000,
        "lr": "2e-4", "batch_size": 16, "epochs": 1, "model_name": "minilm",
    }, mlflow_server.uri, experiment="z2h-tests")
    client = MlflowClient(mlflow_server.uri)
    version = client.get_model_version_by_alias("z2h-pos-minilm", "source")
    return version.run_id, result


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """One real local Ray instance for the session (`ray start --head`, 2 CPUs); yields its address."""
    import subprocess
    import sys

    from helpers import free_port

    ray_bin = str(Path(sys.executable).with_name("ray"))
    port = free_port()
    # token auth off explicitly: `ray start` turns it on when an earlier `ray.init()` left ~/.ray/auth_token
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0",
                    "--include-dashboard=false", "--disable-usage-stats"], check=True, capture_output=True, env=env,
                   timeout=180)
    yield f"127.0.0.1:{port}"
    subprocess.run([ray_bin, "stop", "--force"], capture_output=True, env=env, timeout=120)
