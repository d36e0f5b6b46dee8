"""Optuna storage for `search`: workers that open one study at the same moment on a fresh database all get it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from postgres import postgres_url  # noqa: F401  (fixture)
from zero2hero.errors import Z2HError
from zero2hero.tracking.studies import masked_url, open_study, storage_url

SRC = Path(__file__).resolve().parents[2] / "src"
WORKERS = 4

# Each worker imports first, then waits until all are ready, so that they hit the fresh database together.
WORKER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import optuna
from zero2hero.tracking.studies import open_study
ready = Path(sys.argv[3])
(ready / sys.argv[4]).touch()
while len(list(ready.iterdir())) < int(sys.argv[5]):
    time.sleep(0.005)
study = open_study(sys.argv[2], "race", optuna.samplers.RandomSampler(), optuna.pruners.NopPruner())
print(study._study_id)
"""


def open_together(storage: str, tmp_path: Path) -> list[str]:
    ready = tmp_path / "ready"
    ready.mkdir()
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(SRC), storage, str(ready), str(i), str(WORKERS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(WORKERS)]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-3000:]
    return [out.strip() for out, _ in outputs]


def test_workers_racing_on_a_fresh_sqlite_file_share_one_study(tmp_path):
    ids = open_together(f"sqlite:///{tmp_path / 'optuna.db'}", tmp_path)
    assert len(set(ids)) == 1


def test_workers_racing_on_a_fresh_postgresql_database_share_one_study(postgres_url, tmp_path):
    ids = open_together(postgres_url, tmp_path)
    assert len(set(ids)) == 1


def test_bad_storage_urls_are_clear_errors(tmp_path):
    import optuna

    sampler, pruner = optuna.samplers.RandomSampler(), optuna.pruners.NopPruner()
    with pytest.raises(Z2HError, match="not a database URL"):
        open_study("not-a-url", "s", sampler, pruner)
    assert masked_url("postgresql://user:secret@db.example/z2h") == "postgresql://user:***@db.example/z2h"


def test_plain_postgresql_urls_use_the_installed_driver():
    pytest.importorskip("psycopg2")
    assert storage_url("postgresql://u@h/db").startswith(("postgresql+psycopg2://", "postgresql://"))
    assert storage_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert storage_url("sqlite:///optuna.db") == "sqlite:///optuna.db"


def test_a_storage_parameter_with_a_password_is_refused_and_never_shown(monkeypatch, tmp_path):
    from zero2hero.tracking.studies import DEFAULT_STORAGE, STORAGE_ENV, STORAGE_FILE_ENV, has_password, resolve_storage

    for url in ("postgresql://user:secret@db/z2h", "postgresql://user@db/z2h?password=secret", "user:secret@db"):
        assert has_password(url)
        with pytest.raises(Z2HError) as error:
            resolve_storage(url)
        assert "secret" not in str(error.value) and STORAGE_ENV in str(error.value)
    assert not has_password("postgresql://user@db/z2h") and not has_password("sqlite:///optuna.db")
    assert resolve_storage("postgresql://user@db/z2h") == "postgresql://user@db/z2h"

    monkeypatch.delenv(STORAGE_ENV, raising=False)
    monkeypatch.delenv(STORAGE_FILE_ENV, raising=False)
    assert resolve_storage("") == DEFAULT_STORAGE
    secret_file = tmp_path / "storage.txt"
    secret_file.write_text("postgresql://user:fromfile@db/z2h\n")
    monkeypatch.setenv(STORAGE_FILE_ENV, str(secret_file))
    assert resolve_storage("") == "postgresql://user:fromfile@db/z2h"
    monkeypatch.setenv(STORAGE_ENV, "postgresql://user:fromenv@db/z2h")
    assert resolve_storage("") == "postgresql://user:fromenv@db/z2h"
    secret_file.write_text("")
    monkeypatch.delenv(STORAGE_ENV)
    with pytest.raises(Z2HError, match="the file is empty"):
        resolve_storage("")
