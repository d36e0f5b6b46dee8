"""A fresh PostgreSQL database per test (127.0.0.1:5432, user postgres, trust auth), dropped afterwards."""
from __future__ import annotations

import os
import uuid

import pytest

HOST = os.environ.get("Z2H_TEST_PGHOST", "127.0.0.1")
PORT = int(os.environ.get("Z2H_TEST_PGPORT", "5432"))


@pytest.fixture
def postgres_url():
    """`postgresql://postgres@HOST:PORT/<fresh database>`; the test is skipped where no server answers."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(host=HOST, port=PORT, user="postgres", dbname="postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {HOST}:{PORT}: {exc}")
    admin.autocommit = True
    name = f"z2h_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@{HOST}:{PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
