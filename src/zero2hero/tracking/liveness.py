"""Runs that outlive their process: every open run says which process owns it and beats while it lives.

A process killed with SIGKILL (or a lost machine) cannot end its runs, so MLflow shows them RUNNING forever and
nothing tells a rerun that their cell is unfinished. Each z2h run is therefore tagged `z2h.process`
(`host:pid:start-time`) and a daemon thread refreshes `z2h.heartbeat` (epoch seconds) on every run the
process holds open. The next grid, search or shard of the same study calls `end_stale_runs`, which ends as
FAILED, with the reason, every RUNNING run whose process is gone: on this host the PID no longer exists (or
belongs to a newer process), elsewhere the heartbeat is older than the grace period.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

PROCESS_TAG = "z2h.process"
HEARTBEAT_TAG = "z2h.heartbeat"


def heartbeat_interval() -> float:
    return float(os.environ.get("Z2H_HEARTBEAT_INTERVAL", "60"))


def heartbeat_grace() -> float:
    """Seconds without a heartbeat after which a run on another host counts as abandoned."""
    return float(os.environ.get("Z2H_HEARTBEAT_GRACE", "300"))


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), so a reused PID is not taken for the old one."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def process_id() -> str:
    """This process as `host:pid:start-time`."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid) or '?'}"


def process_alive(tag: str, beat: str | None, now: float | None = None) -> bool:
    """Whether the process named by a `z2h.process` tag may still be running (unknown = alive, never ended)."""
    host, _, rest = tag.partition(":")
    pid, _, started = rest.partition(":")
    if host == socket.gethostname() and pid.isdigit() and os.path.isdir("/proc"):
        current = _start_time(int(pid))
        return current is not None and (started in ("?", "") or current == started)
    try:
        return (now or time.time()) - float(beat) < heartbeat_grace()
    except (TypeError, ValueError):
        return True  # no heartbeat to judge by: leave it alone


class _Heartbeat:
    """One daemon thread per process: refreshes the heartbeat tag of the runs this process holds open."""

    def __init__(self):
        self.runs: dict[str, str] = {}  # run id -> tracking URI
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def add(self, run_id: str, uri: str) -> None:
        with self.lock:
            self.runs[run_id] = uri
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._beat, name="z2h-heartbeat", daemon=True)
                self.thread.start()

    def remove(self, run_id: str) -> None:
        with self.lock:
            self.runs.pop(run_id, None)

    def _beat(self) -> None:
        while True:
            time.sleep(heartbeat_interval())
            with self.lock:
                runs = dict(self.runs)
            for run_id, uri in runs.items():
                try:
                    MlflowClient(uri).set_tag(run_id, HEARTBEAT_TAG, str(int(time.time())))
                except Exception as exc:  # a busy server only delays the next beat
                    log.debug("heartbeat of run %s failed: %s", run_id, exc)


HEARTBEAT = _Heartbeat()


def owned_tags() -> dict[str, str]:
    """Tags every z2h run starts with: its process and a first heartbeat."""
    return {PROCESS_TAG: process_id(), HEARTBEAT_TAG: str(int(time.time()))}


def end_stale_runs(experiment_ids: list[str], filter_string: str = "", client: MlflowClient | None = None) -> list[str]:
    """End as FAILED every RUNNING run of these experiments whose owning process is gone; returns their ids.

    Runs without a `z2h.process` tag (not started by z2h) are left alone.
    """
    from .queries import search_all_runs

    client = client or MlflowClient()
    query = " and ".join(filter(None, ["attributes.status = 'RUNNING'", filter_string]))
    ended, now = [], time.time()
    for run in search_all_runs(experiment_ids, query, client):
        tags = run.data.tags
        owner = tags.get(PROCESS_TAG)
        if not owner or process_alive(owner, tags.get(HEARTBEAT_TAG), now):
            continue
        reason = (f"abandoned: its process {owner} ended without closing the run (killed or lost); "
                  "the run does not count, and rerunning the same command redoes it")
        try:
            client.set_tag(run.info.run_id, "z2h.error", reason)
            client.set_terminated(run.info.run_id, "FAILED")
        except Exception as exc:  # another process may have ended it in between
            log.debug("could not end stale run %s: %s", run.info.run_id, exc)
            continue
        ended.append(run.info.run_id)
    if ended:
        log.warning("marked %d abandoned run(s) FAILED (their process is gone)", len(ended))
    return ended
