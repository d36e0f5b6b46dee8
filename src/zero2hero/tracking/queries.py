"""Run queries: every run of an experiment page by page, and finished runs looked up by their parameters."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from mlflow.entities import ViewType
from mlflow.tracking import MlflowClient

from ..errors import Z2HError
from ..parameters import yes_no

PAGE_SIZE = 1000  # runs per page through MLflow's client (a local store)
REST_PAGE_SIZE = 50_000  # runs per page read as plain JSON from a tracking server (it accepts up to 50,000)


def resolve_experiment(experiment: str, client: MlflowClient | None = None):
    """The experiment named `experiment` (or with that id); Z2HError when there is none."""
    client = client or MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None and experiment.isdigit():
        try:
            found = client.get_experiment(experiment)
        except Exception:  # an unknown id raises a server-specific error
            found = None
    if found is None:
        raise Z2HError(f"no experiment {experiment!r} on {client.tracking_uri}")
    return found


@dataclass(frozen=True)
class RunRecordInfo:
    run_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None


@dataclass(frozen=True)
class RunRecordData:
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class RunRecord:
    """What a search tells of a run, read-only, with the attribute names of `mlflow.entities.Run`
    (`.info.run_id`, `.info.status`, `.data.params`, `.data.tags`, `.data.metrics`: the latest value of each)."""
    info: RunRecordInfo
    data: RunRecordData

    @classmethod
    def from_run(cls, run) -> "RunRecord":
        info, data = run.info, run.data
        return cls(RunRecordInfo(info.run_id, info.run_name, info.status, info.start_time, info.end_time),
                   RunRecordData(dict(data.params), dict(data.tags), dict(data.metrics)))

    @classmethod
    def from_json(cls, run: dict) -> "RunRecord":
        """From a run of the REST API's JSON (`/api/2.0/mlflow/runs/search`)."""
        info, data = run["info"], run.get("data", {})
        end = info.get("end_time")
        return cls(RunRecordInfo(info["run_id"], info.get("run_name", ""), info["status"],
                                 int(info["start_time"]) if "start_time" in info else None,
                                 int(end) if end is not None else None),
                   RunRecordData({p["key"]: p.get("value", "") for p in data.get("params", ())},
                                 {t["key"]: t.get("value", "") for t in data.get("tags", ())},
                                 {m["key"]: float(m["value"]) for m in data.get("metrics", ())}))


def _rest_store(client: MlflowClient):
    """The client's REST store when it talks to a tracking server, else None (a local database or folder)."""
    from mlflow.store.tracking.rest_store import RestStore

    store = client._tracking_client.store
    return store if isinstance(store, RestStore) else None


def _search_rest(store, experiment_ids: list[str], filter_string: str) -> list[RunRecord]:
    """The search as MLflow's client sends it, the answer read with `json` instead of protobuf's JSON parser,
    which took longer than the server's own work for 10,000 runs (benchmarks/README.md, analysis)."""
    from mlflow.protos.service_pb2 import SearchRuns
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    endpoint, method = store._METHOD_TO_INFO[SearchRuns]
    body = {"experiment_ids": [str(e) for e in experiment_ids], "filter": filter_string,
            "run_view_type": "ACTIVE_ONLY", "max_results": REST_PAGE_SIZE}
    runs = []
    while True:
        response = verify_rest_response(http_request(store.get_host_creds(), endpoint, method, json=body), endpoint)
        page = response.json()
        runs += [RunRecord.from_json(run) for run in page.get("runs", ())]
        if not page.get("next_page_token"):
            return runs
        body["page_token"] = page["next_page_token"]


def search_all_runs(experiment_ids: list[str], filter_string: str = "",
                    client: MlflowClient | None = None) -> list[RunRecord]:
    """Every active run matching `filter_string`, fetched page by page, as `RunRecord`s."""
    client = client or MlflowClient()
    store = _rest_store(client)
    if store is not None:
        return _search_rest(store, experiment_ids, filter_string)
    runs, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string, ViewType.ACTIVE_ONLY, max_results=PAGE_SIZE,
                                  page_token=token)
        runs += [RunRecord.from_run(run) for run in page]
        token = page.token
        if not token:
            return runs


def canonical(value) -> str:
    """A param value in one spelling, so `2e-4` (typed after -P) equals `0.0002` (logged by the code)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip()
    if text.lower() in ("yes", "true", "no", "false"):  # the words of a flag (1/0 stay numbers)
        return "yes" if yes_no(text) else "no"
    try:
        return repr(float(text))
    except ValueError:
        return text


class FinishedRuns:
    """The FINISHED runs of one experiment, queried once, found by stage tag and identical params.

    A run matches when every given param has the same (canonical) value; params it logged beyond those
    (data hashes, best_epoch, ...) do not matter.
    """

    def __init__(self, experiment_id: str, client: MlflowClient | None = None, filter_string: str = ""):
        query = " and ".join(filter(None, ["attributes.status = 'FINISHED'", filter_string]))
        runs = search_all_runs([experiment_id], query, client)
        # oldest first, so a later run with the same params wins in the index
        self._runs = sorted(runs, key=lambda run: run.info.start_time or 0)
        self._index: dict[tuple, dict[tuple, str]] = {}

    def _table(self, stage: str, names: tuple) -> dict[tuple, str]:
        key = (stage, names)
        if key not in self._index:
            table = {}
            for run in self._runs:
                if run.data.tags.get("z2h.stage") == stage:
                    params = run.data.params
                    table[tuple(canonical(params.get(name, "\0missing")) for name in names)] = run.info.run_id
            self._index[key] = table
        return self._index[key]

    def find(self, stage: str, params: dict) -> str | None:
        """The id of the latest FINISHED run of `stage` with exactly these param values, else None."""
        names = tuple(sorted(params))
        return self._table(stage, names).get(tuple(canonical(params[name]) for name in names))

    def add(self, stage: str, params: dict, run_id: str) -> None:
        """Record a run finished by this process (so a plan listing a cell twice runs it once)."""
        names = tuple(sorted(params))
        self._table(stage, names)[tuple(canonical(params[name]) for name in names)] = run_id


# What a result is about (its row in the analysis); every other param that changes the result is its configuration.
RESULT_KEYS = ("task", "model", "model_name", "lang", "k", "sampling", "seed")
# Params that record where or how a run was made but do not change its score.
RECORD_ONLY = ("data_dir", "log_checkpoint", "dev_curve", "eval_batch_size", "log_predictions", "system_metrics")
CONFIG_TAG, CONFIG_ID_TAG = "z2h.config", "z2h.config_id"


def config_tags(params: dict) -> dict[str, str]:
    """`z2h.config` (the settings of a result run as JSON) and `z2h.config_id` (their short hash).

    Two runs of one cell (task, model, lang, k, sampling) with different settings — another epoch count, source
    model version, pool or evaluation cap — get different ids, so the analysis never averages them together.
    Data hashes are not part of it: a run on changed data supersedes the older one of the same cell.
    """
    settings = {key: value for key, value in sorted(params.items())
                if key not in RESULT_KEYS and key not in RECORD_ONLY and not key.startswith("data.")
                and value is not None}
    text = json.dumps({key: canonical(value) if isinstance(value, bool) else str(value)
                       for key, value in settings.items()}, sort_keys=True, separators=(",", ":"))
    spelling = json.dumps({key: canonical(value) for key, value in settings.items()}, sort_keys=True)
    return {CONFIG_TAG: text, CONFIG_ID_TAG: hashlib.sha256(spelling.encode()).hexdigest()[:12]}
