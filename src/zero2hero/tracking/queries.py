"""Run queries shared by the grid (which cells are done) and the analysis (collect results)."""
from __future__ import annotations

from mlflow import MlflowClient
from mlflow.entities import ViewType

from ..errors import Z2HError

PAGE_SIZE = 1000  # the most a tracking server returns per page


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


def search_all_runs(client: MlflowClient, experiment_ids: list[str], filter_string: str = "") -> list:
    """Every matching run, page by page (one request per 1000 runs, so 10,000+ runs stay fast)."""
    runs, token = [], None
    while True:
        page = client.search_runs(experiment_ids, filter_string, ViewType.ACTIVE_ONLY,
                                  max_results=PAGE_SIZE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs
