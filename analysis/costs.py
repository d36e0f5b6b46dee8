"""Annotation and compute cost of few-shot gains (docs/method.md §6.4).

Annotation cost is per target language: what annotating the k shots of one language costs.
Compute hours are the mean wall-clock duration of one run (one language, one seed) of that cell.
"""
from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import yaml

from zero2hero.errors import DataError, Z2HError

from .few_shot import GROUP, spread_zero_shot

COST_COLUMNS = ["task", "model", "sampling", "k", "annotation_cost_usd", "gain_points", "usd_per_point", "compute_hours",
                "setting"]

GLOBAL_COSTS = {
    "gpu_hour_price": None,  # USD per GPU-hour; adds compute_cost_usd
    "use_shot_tokens": True,  # tasks priced by size (POS): count the real tokens of the logged shots
}


def default_costs() -> dict:
    """Every task's price settings (`Task.cost_defaults`, the study's figures, docs/method.md §6.4) under its name,
    plus the global settings; a YAML file given as `costs` overrides any of them."""
    from zero2hero.tasks import registry

    return {**{name: copy.deepcopy(cls.cost_defaults) for name, cls in registry().items()},
            **copy.deepcopy(GLOBAL_COSTS)}


def load_costs(path: str | None = None) -> dict:
    """`default_costs()`, with the values of the YAML file at `path` (if any) merged over them.

    Unknown keys are an error listing the valid ones, so a typo cannot silently leave a default in place.
    """
    config = default_costs()
    if not path:
        return config
    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise DataError(path, None, f"cannot read costs file: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DataError(path, mark.line + 1 if mark else None, f"not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise DataError(path, None, "a costs file is a mapping of task -> settings")
    for key, value in loaded.items():
        if key not in config:
            raise Z2HError(f"{path}: unknown costs key {key!r}; valid: {', '.join(config)}")
        if isinstance(config[key], dict):
            unknown = set(value or {}) - set(config[key])
            if unknown:
                raise Z2HError(f"{path}: unknown {key} cost(s) {', '.join(sorted(unknown))}; "
                               f"valid: {', '.join(config[key])}")
            config[key].update(value or {})
        else:
            config[key] = value
    return config


def annotation_cost(task: str, k: int, lang: str, config: dict, shot_tokens: int | None = None) -> float:
    """USD to annotate k examples of `task` in `lang`: the task's own rule (`Task.annotation_cost`) with its
    prices from `config`; `shot_tokens` is the real token count of the sampled shots where known."""
    if k == 0:
        return 0.0
    from zero2hero.tasks import task_class

    return task_class(task)().annotation_cost(k, lang, config[task], shot_tokens)


def shot_priced_tasks() -> tuple[str, ...]:
    """Tasks whose price depends on the real size of the shots (their shots' token counts are read)."""
    from zero2hero.tasks import registry

    return tuple(name for name, cls in registry().items() if cls.priced_by_shot_tokens)


def cost_table(results: pd.DataFrame, few_shot: pd.DataFrame, config: dict | None = None,
               shot_tokens: dict[str, int] | None = None, source_lang: str = "en") -> pd.DataFrame:
    """costs.csv (COST_COLUMNS, plus compute_cost_usd when gpu_hour_price is set).

    Inputs: run-level results (with run_id, duration), the few-shot table (its delta_vs_zero is the gain),
    the cost configuration and optionally {run_id: real token count of its shots}.
    annotation_cost_usd is the mean over the cell's runs of each run's cost; usd_per_point is cost / gain,
    NaN where nothing was gained; compute_hours is NaN for cells made only of ingested runs (no durations).
    cpu/gpu_utilization_percent (mean over the cell's runs) appear where runs logged system metrics.
    """
    config = config or load_costs()
    tokens = shot_tokens if config.get("use_shot_tokens", True) else {}
    runs = spread_zero_shot(results, source_lang)
    if runs.empty:
        return pd.DataFrame(columns=COST_COLUMNS)
    runs = runs.assign(cost=[annotation_cost(t, k, lang, config, (tokens or {}).get(run_id))
                             for t, k, lang, run_id in zip(runs["task"], runs["k"], runs["lang"], runs["run_id"])],
                       hours=runs["duration"].where(runs["stage"] != "ingest") / 3600)
    cells = runs.groupby(GROUP, sort=True).agg(annotation_cost_usd=("cost", "mean"),
                                               compute_hours=("hours", "mean")).reset_index()
    gains = few_shot[GROUP + ["delta_vs_zero"]].rename(columns={"delta_vs_zero": "gain_points"})
    table = cells.merge(gains, on=GROUP, how="left")
    gained = table["gain_points"] > 0
    table["usd_per_point"] = (table["annotation_cost_usd"] / table["gain_points"]).where(gained)
    columns = list(COST_COLUMNS)
    price = config.get("gpu_hour_price")
    if price is not None:
        table["compute_cost_usd"] = table["compute_hours"] * float(price)
        columns.append("compute_cost_usd")
    # beside the compute hours, how busy the hardware was (only where runs logged system metrics)
    for column in ("cpu_percent", "gpu_percent"):
        if column in runs and runs[column].notna().any():
            table = table.merge(runs.groupby(GROUP)[column].mean().rename(f"{column[:3]}_utilization_percent")
                                .reset_index(), on=GROUP, how="left")
            columns.append(f"{column[:3]}_utilization_percent")
    return table[columns]
