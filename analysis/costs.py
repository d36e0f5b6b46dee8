"""Annotation and compute cost of few-shot gains (SPEC §6.4).

Annotation cost is per target language: what annotating the k shots of one language costs.
Compute hours are the mean wall-clock duration of one run (one language, one seed) of that cell.
"""
from __future__ import annotations

import copy
import math
from pathlib import Path

import pandas as pd
import yaml

from zero2hero.errors import DataError, Z2HError

from .few_shot import GROUP, spread_zero_shot

COST_COLUMNS = ["task", "model", "sampling", "k", "annotation_cost_usd", "gain_points", "usd_per_point", "compute_hours",
                "setting"]

# The study's figures (SPEC §6.4); a YAML file given as `costs` overrides any of them.
DEFAULT_COSTS = {
    "xnli": {"usd_per_instance": 2030 / 200_000},           # SICK: $2,030 per 200k judgments
    "xquad": {"usd_per_hour": 9.0, "minutes_per_paragraph": 4.0, "paragraphs_per_article": 5.0},
    "dep": {"usd_per_sentence": 0.28},                       # flat; the 72% figure is context, not a divisor
    "pos": {"usd_per_10_tokens": 0.05,
            "default_tokens_per_sentence": 14.6,            # 14,619 tokens / 1,000 tweets in the cited corpus
            "pool_mean_tokens": {}},                         # lang -> mean words per sentence in its pool
    "ner": {"usd_per_sentence": 0.06},                       # $11.37/hour median pay, ~190 sentences/hour
    "gpu_hour_price": None,                                  # USD per GPU-hour; adds compute_cost_usd
    "use_shot_tokens": True,                                 # POS: count the real tokens of logged shots
}


def load_costs(path: str | None = None) -> dict:
    """DEFAULT_COSTS, with the values of the YAML file at `path` (if any) merged over them.

    Unknown keys are an error listing the valid ones, so a typo cannot silently leave a default in place.
    """
    config = copy.deepcopy(DEFAULT_COSTS)
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
    """USD to annotate k examples of `task` in `lang`.

    POS is priced per token: the real token count of the sampled shots when known (`shot_tokens`), else
    k × the pool's mean sentence length (config pos.pool_mean_tokens[lang]), else k × the default length.
    XQuAD's k counts articles. Unknown tasks cost NaN.
    """
    if k == 0:
        return 0.0
    prices = config.get(task)
    if task == "xnli":
        return k * prices["usd_per_instance"]
    if task == "xquad":
        hours = prices["minutes_per_paragraph"] * prices["paragraphs_per_article"] / 60
        return k * hours * prices["usd_per_hour"]
    if task in ("dep", "ner"):
        return k * prices["usd_per_sentence"]
    if task == "pos":
        if shot_tokens is None:
            per_sentence = (prices["pool_mean_tokens"] or {}).get(lang, prices["default_tokens_per_sentence"])
            shot_tokens = k * per_sentence
        return shot_tokens / 10 * prices["usd_per_10_tokens"]
    return math.nan


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
