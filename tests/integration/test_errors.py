"""Bad input exits non-zero with file and line and no traceback; failed runs are marked FAILED."""
from __future__ import annotations

import shutil
import time

import pytest
from mlflow.tracking import MlflowClient

from helpers import free_port, z2h

pytestmark = pytest.mark.integration


def test_unreachable_tracking_server_fails_within_seconds(tiny_bert, data_dir):
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.time()
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(data_dir), tracking_uri=uri)
    assert time.time() - started < 30
    assert result.returncode == 2
    assert uri in result.stderr and "not reachable" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("corruption, expected", [
    (lambda lines: lines.__setitem__(5, lines[5].rsplit("\t", 1)[0]), ":6: expected 10 tab-separated columns, found 9"),
    (lambda lines: lines.__setitem__(5, "\t".join(lines[5].split("\t")[:6] + ["x"] + lines[5].split("\t")[7:])),
     ":6: HEAD 'x' is not a non-negative integer"),
    (lambda lines: lines.__setitem__(5, "\t".join(lines[5].split("\t")[:6] + ["99"] + lines[5].split("\t")[7:])),
     ":6: HEAD 99 out of range"),
])
def test_malformed_conllu_fails_run_with_file_and_line(small_ud, tiny_bert, local_tracking, corruption, expected):
    path = small_ud / "ud" / "en" / "en_ewt-ud-train.conllu"
    lines = path.read_text().split("\n")
    corruption(lines)
    path.write_text("\n".join(lines))
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud), "--epochs", "1",
                 tracking_uri=local_tracking)
    assert result.returncode == 2, result.stderr
    assert f"{path}{expected}" in result.stderr and "Traceback" not in result.stderr
    run = MlflowClient(local_tracking).search_runs(["0"])[0]
    assert run.info.status == "FAILED" and expected in run.data.tags["z2h.error"]


def test_empty_and_non_utf8_files(small_ud, tiny_bert, local_tracking):
    path = small_ud / "ud" / "en" / "en_ewt-ud-dev.conllu"
    path.write_text("")
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud),
                 tracking_uri=local_tracking)
    assert result.returncode == 2 and f"{path}: empty file" in result.stderr and "Traceback" not in result.stderr
    shutil.copy(small_ud / "ud" / "en" / "en_ewt-ud-test.conllu", path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n\xfe", 1))
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud),
                 tracking_uri=local_tracking)
    assert result.returncode == 2 and f"{path}:2: invalid UTF-8" in result.stderr


def test_missing_split_names_the_expected_file(small_ud, tiny_bert, local_tracking):
    (small_ud / "ud" / "en" / "en_ewt-ud-dev.conllu").unlink()
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud),
                 tracking_uri=local_tracking)
    assert result.returncode == 2
    assert f"no dev split for 'en': expected a file matching {small_ud}/ud/en/*-ud-dev.conllu" in result.stderr


def test_unknown_model_path_task_and_language(small_ud, tmp_path, local_tracking):
    result = z2h("source", "--task", "pos", "--model", str(tmp_path / "no-such-model"), "--data_dir", str(small_ud),
                 tracking_uri=local_tracking)
    assert result.returncode == 2 and "no-such-model" in result.stderr and "bert-base-multilingual-cased" in result.stderr
    assert "Traceback" not in result.stderr
    result = z2h("source", "--task", "tagging", tracking_uri=local_tracking)
    assert result.returncode == 2 and "choose one of: dep, feats, ner, pos, xnli, xquad" in result.stderr
    result = z2h("evaluate", "--task", "pos", "--model_uri", str(tmp_path), "--langs", "xx",
                 "--data_dir", str(small_ud), tracking_uri=local_tracking)
    assert result.returncode == 2 and "unknown language 'xx'; valid ISO 639-1 codes: ar, bg" in result.stderr
    result = z2h("evaluate", "--task", "pos", "--model_uri", str(tmp_path), "--langs", "tr",
                 "--data_dir", str(small_ud), tracking_uri=local_tracking)
    assert result.returncode == 2 and "expected a file matching" in result.stderr and "ud/tr/*-ud-test.conllu" in result.stderr


def test_a_server_store_opened_without_its_server_is_a_clear_error(mlflow_server, small_ud, tiny_bert):
    """The server's SQLite file used directly: its experiments keep artifacts at mlflow-artifacts:/ URIs, which
    only the server can write. The run stops before any training, marked FAILED, with what to set."""
    client = MlflowClient(mlflow_server.uri)
    experiment = client.create_experiment("served-artifacts")
    store = f"sqlite:///{mlflow_server.root / 'mlflow.db'}"
    result = z2h("source", "--task", "pos", "--model", str(tiny_bert), "--data_dir", str(small_ud), "--epochs", "1",
                 tracking_uri=store, env={"MLFLOW_EXPERIMENT_NAME": "served-artifacts"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "keeps its artifacts on a tracking server" in result.stderr and "MLFLOW_TRACKING_URI" in result.stderr
    [run] = client.search_runs([experiment])
    assert run.info.status == "FAILED" and "tracking server" in run.data.tags["z2h.error"]
