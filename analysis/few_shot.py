"""Few-shot tables (docs/method.md §6.3): mean score over target languages per (task, model, sampling, k), Δ vs k = 0."""
from __future__ import annotations

import pandas as pd

GROUP = ["task", "model", "sampling", "setting", "k"]  # setting: see collect.label_settings
FEW_SHOT_COLUMNS = ["task", "model", "sampling", "k", "mean_score", "std_score", "n_seeds", "delta_vs_zero", "n_langs",
                    "setting"]
NO_SAMPLING = "none"  # the sampling label of a (task, model) that has zero-shot results only


def spread_zero_shot(table: pd.DataFrame, source_lang: str = "en") -> pd.DataFrame:
    """Result rows of target languages, each zero-shot (k = 0) row repeated once per sampling.

    Zero-shot runs have no sampling, yet they are the k = 0 point of every sampling's curve; repeating
    them lets every later step group by sampling alone. Input and output: run-level result tables.
    """
    table = table[table["lang"] != source_lang]
    if "setting" not in table:
        table = table.assign(setting="")
    few = table[table["k"] > 0]
    zero = table[table["k"] == 0].drop(columns=["sampling", "setting"])
    # every (task, model) with zero-shot results × its (sampling, setting)s; NaN (-> NO_SAMPLING) where it has none
    samplings = zero[["task", "model"]].drop_duplicates().merge(
        few[["task", "model", "sampling", "setting"]].drop_duplicates(), how="left")
    samplings["sampling"] = samplings["sampling"].fillna(NO_SAMPLING)
    samplings["setting"] = samplings["setting"].fillna("")
    zero = zero.merge(samplings, on=["task", "model"])
    return pd.concat([zero, few], ignore_index=True)


def language_curves(table: pd.DataFrame, source_lang: str = "en") -> pd.DataFrame:
    """Per-language curves: score averaged over seeds per (task, model, sampling, k, lang)."""
    return _per_language(spread_zero_shot(table, source_lang))


def _per_language(spread: pd.DataFrame) -> pd.DataFrame:
    return spread.groupby([*GROUP, "lang"], sort=True)["score"].mean().reset_index()


def few_shot_table(table: pd.DataFrame, source_lang: str = "en") -> pd.DataFrame:
    """The few-shot table of docs/interface.md ("Analysis outputs") (columns FEW_SHOT_COLUMNS) from run-level results.

    mean_score: mean over target languages of each language's mean over seeds.
    std_score: sample std over seeds of the language-averaged score (NaN with one seed).
    delta_vs_zero: mean over the languages that have a zero-shot score of (score at k − zero-shot score),
    so a cell covering fewer languages than zero-shot is compared on the same languages.
    """
    if table.empty:
        return pd.DataFrame(columns=FEW_SHOT_COLUMNS)
    spread = spread_zero_shot(table, source_lang)
    curves = _per_language(spread)
    by_cell = curves.groupby(GROUP, sort=True)["score"]
    out = pd.DataFrame({"mean_score": by_cell.mean(), "n_langs": by_cell.size()})
    by_seed = spread.groupby([*GROUP, "seed"])["score"].mean().groupby(GROUP)
    out["std_score"], out["n_seeds"] = by_seed.std(ddof=1), by_seed.size()
    zero = curves[curves["k"] == 0].drop(columns="k").rename(columns={"score": "zero"})
    paired = curves.merge(zero, on=["task", "model", "sampling", "setting", "lang"], how="inner")
    out["delta_vs_zero"] = (paired["score"] - paired["zero"]).groupby([paired[c] for c in GROUP]).mean()
    return out.reset_index()[FEW_SHOT_COLUMNS]
