"""Start and stop a real `mlflow server` on 127.0.0.1 (the demo and the tests use it).

SQLite backend and an artifact store served through the server (`--artifacts-destination`), one worker,
job execution off: ready in a few seconds with ~500 MB instead of 15 processes; MLflow's app with the garbage
collector tuned for bulk searches (`--app-name z2h`, tracking.server_app) (docs/stack.md).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalMlflowServer:
    """`with LocalMlflowServer(root) as server:` serves `root/mlflow.db` and `root/artifacts` at `server.uri`."""

    def __init__(self, root: str | Path, port: int | None = None, app: str | None = "z2h"):
        """app: the `--app-name` to serve (None: plain `mlflow server`, as the benchmarks compare)."""
        self.root = Path(root).resolve()
        self.app = app
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> "LocalMlflowServer":
        self.root.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        env.pop("MLFLOW_TRACKING_URI", None)
        self._log = open(self.root / "server.log", "a")
        mlflow_bin = Path(sys.executable).with_name("mlflow")
        self.process = subprocess.Popen(
            [str(mlflow_bin), "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
             "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1", *(["--app-name", self.app] if self.app else [])],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        try:
            self._wait_healthy(timeout)
        except BaseException:  # also Ctrl-C while waiting: never leave a server behind
            self.stop()
            raise
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                log_tail = (self.root / "server.log").read_text()[-2000:]
                raise RuntimeError(f"mlflow server exited with {self.process.returncode}:\n{log_tail}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"mlflow server at {self.uri} did not answer /health within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> "LocalMlflowServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
