"""report.md and its PNG plots: few-shot Δ heatmaps, per-language curves, zero-shot vs best feature,
predicted vs true of the meta-regressor. One figure per task, one panel per model."""
from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or under `mlflow run`
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .budget import MIN_FIT_LANGS  # noqa: E402


def markdown_table(frame: pd.DataFrame, digits: int = 2) -> str:
    """A pipe table; floats rounded to `digits`, NaN shown as an en dash."""
    if frame.empty:
        return "_(no rows)_\n"

    def cell(value) -> str:
        if isinstance(value, float):
            return "–" if math.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _panels(n: int, rows: int = 1, width: float = 5.0, height: float = 4.0):
    """A figure with n panels laid out in `rows` rows; returns (figure, flat list of n axes)."""
    cols = math.ceil(n / rows)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _with_setting(rows: pd.DataFrame) -> pd.Series:
    """The sampling label, with the setting where a model's runs have several (they are never merged)."""
    setting = rows["setting"] if "setting" in rows else pd.Series("", index=rows.index)
    return rows["sampling"].where(setting == "", rows["sampling"] + " [" + setting + "]")


def plot_heatmaps(few_shot: pd.DataFrame, task: str, out: Path) -> Path | None:
    """Δ vs zero-shot by sampling (rows) × k (columns), one panel per model."""
    rows = few_shot[(few_shot["task"] == task) & (few_shot["k"] > 0) & few_shot["delta_vs_zero"].notna()]
    if rows.empty:
        return None
    models = sorted(rows["model"].unique())
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models):
        mine = rows[rows["model"] == model]
        grid = mine.assign(sampling=_with_setting(mine)).pivot_table(index="sampling", columns="k",
                                                                     values="delta_vs_zero")
        limit = np.nanmax(np.abs(grid.to_numpy())) if grid.notna().any().any() else 1.0
        image = ax.imshow(grid.to_numpy(dtype=float), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_xticks(range(len(grid.columns)), [str(k) for k in grid.columns])
        ax.set_yticks(range(len(grid.index)), list(grid.index))
        for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
            if not math.isnan(value):  # white on the dark ends of the colour scale
                ax.text(j, i, f"{value:+.1f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(value) > 0.6 * limit else "black")
        ax.set(title=f"{task} · {model}", xlabel="k", ylabel="sampling")
        fig.colorbar(image, ax=ax, label="Δ vs zero-shot (points)")
    return _save(fig, out / f"few_shot_delta_{task}.png")


def plot_curves(curves: pd.DataFrame, task: str, out: Path, few_shot: pd.DataFrame | None = None) -> Path | None:
    """Score vs k per target language; one panel per (model, sampling); with `few_shot`, the mean over languages
    and its 95% interval (mean_lo, mean_hi) as a black line and a grey band."""
    rows = curves[curves["task"] == task]
    rows = rows.assign(sampling=_with_setting(rows))
    panels = rows[["model", "sampling"]].drop_duplicates().sort_values(["model", "sampling"])
    if rows.empty or not (rows["k"] > 0).any():
        return None
    # one row of panels per model, one column per sampling; one colour per language across panels
    fig, axes = _panels(len(panels), rows=panels["model"].nunique())
    colours = dict(zip(sorted(rows["lang"].unique()), plt.get_cmap("tab20").colors))
    for ax, (model, sampling) in zip(axes, panels.itertuples(index=False)):
        panel = rows[(rows["model"] == model) & (rows["sampling"] == sampling)]
        for lang, line in panel.groupby("lang"):
            ax.plot(line["k"], line["score"], marker="o", label=lang, color=colours.get(lang))
        if few_shot is not None and "mean_lo" in few_shot:
            mean = few_shot[(few_shot["task"] == task) & (few_shot["model"] == model)
                            & (few_shot["sampling"] == sampling)].sort_values("k")
            ax.plot(mean["k"], mean["mean_score"], color="black", linewidth=2, label="mean")
            ax.fill_between(mean["k"], mean["mean_lo"], mean["mean_hi"], color="grey", alpha=0.3, label="95% CI")
        ax.set(title=f"{task} · {model} · {sampling}", xlabel="k (target examples)", ylabel="score (%)")
        ks = sorted(panel["k"].unique())
        ax.set_xscale("symlog", linthresh=max(1, min([k for k in ks if k > 0], default=1)))  # k spans 0..1000
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.legend(fontsize=7, ncol=2)
    return _save(fig, out / f"few_shot_curves_{task}.png")


def _scatter(ax, x, y, labels) -> None:
    ax.scatter(x, y)
    for xi, yi, label in zip(x, y, labels):
        ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(3, 3), fontsize=8)


def plot_best_feature(zero: pd.DataFrame, features: dict, correlations: pd.DataFrame, task: str,
                      out: Path) -> Path | None:
    """Zero-shot score vs the feature with the largest |Pearson| for each model of the task."""
    best = correlations[(correlations["task"] == task) & correlations["pearson"].notna()]
    best = best.loc[best.assign(a=best["pearson"].abs()).groupby("model")["a"].idxmax()] if len(best) else best
    if best.empty:
        return None
    fig, axes = _panels(len(best))
    for ax, row in zip(axes, best.itertuples(index=False)):
        scores = zero[(zero["task"] == task) & (zero["model"] == row.model)].set_index("lang")["score"]
        values = features[(task, row.model)][row.feature].reindex(scores.index)
        ok = values.notna()
        _scatter(ax, values[ok], scores[ok], scores.index[ok])
        ax.set(title=f"{task} · {row.model}: r = {row.pearson:.2f}{_interval(row, 'pearson')}", xlabel=row.feature,
               ylabel="zero-shot score (%)")
    return _save(fig, out / f"zero_shot_vs_feature_{task}.png")


def plot_predictions(zero: pd.DataFrame, fits: dict, task: str, out: Path) -> Path | None:
    """LOOCV prediction vs true zero-shot score of the selected meta-regressor, one panel per model."""
    models = [m for (t, m), fit in sorted(fits.items()) if t == task and fit.selected]
    if not models:
        return None
    fig, axes = _panels(len(models))
    for ax, model in zip(axes, models):
        fit = fits[(task, model)]
        true = zero[(zero["task"] == task) & (zero["model"] == model)].set_index("lang")["score"]
        predicted = fit.predictions.reindex(true.index)
        _scatter(ax, true, predicted, true.index)
        low, high = float(np.nanmin([true.min(), predicted.min()])), float(np.nanmax([true.max(), predicted.max()]))
        ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
        ax.set(title=f"{task} · {model}: {'+'.join(fit.selected)} (r = {fit.pearson:.2f})",
               xlabel="true zero-shot score (%)", ylabel="LOOCV prediction (%)")
    return _save(fig, out / f"regression_{task}.png")


def _present(frame: pd.DataFrame, *columns: str) -> list[str]:
    """The interval columns a table has (tables written before they existed have none)."""
    return [c for c in columns if c in frame.columns]


def _interval(row, name: str) -> str:
    low, high = getattr(row, f"{name}_lo", math.nan), getattr(row, f"{name}_hi", math.nan)
    return "" if math.isnan(low) else f" [95% {low:.2f}, {high:.2f}]"


def _section(title: str, frame: pd.DataFrame, columns: list[str], plot: Path | None, digits: int = 2) -> str:
    text = f"### {title}\n\n" + markdown_table(frame[columns] if not frame.empty else frame, digits)
    return text + (f"\n![{title}]({plot.name})\n" if plot else "") + "\n"


def write_report(out: Path, *, experiment: str, summary: list[str], zero: pd.DataFrame, features: dict,
                 correlations: pd.DataFrame, regression: pd.DataFrame, fits: dict, few_shot: pd.DataFrame,
                 curves: pd.DataFrame, costs: pd.DataFrame, notes: list[str],
                 labels: dict[str, str] | None = None, budget_validation: pd.DataFrame | None = None) -> list[Path]:
    """Write report.md (organised by task) and its plots into `out`; returns every file written.

    `labels` maps a `model` to the short name shown in the report and plots (the CSVs keep `model` as recorded).
    """
    name = (labels or {}).get
    validation = budget_validation if budget_validation is not None else pd.DataFrame(columns=["task", "model"])
    zero, correlations, regression, few_shot, curves, costs, validation = (
        frame.assign(model=frame["model"].map(lambda m: name(m, m))) if "model" in frame else frame
        for frame in (zero, correlations, regression, few_shot, curves, costs, validation))
    for model, label in sorted((labels or {}).items(), key=lambda item: -len(item[0])):  # longest path first
        notes = [note.replace(model, label) for note in notes]
    fits = {(task, name(model, model)): fit for (task, model), fit in fits.items()}
    features = {(task, name(model, model)): table for (task, model), table in features.items()}
    tasks = sorted(set(zero["task"]) | set(few_shot["task"]))
    written, parts = [], [f"# Analysis of experiment `{experiment}`\n", *[f"- {line}" for line in summary], ""]
    for task in tasks:
        plots = {"heat": plot_heatmaps(few_shot, task, out), "curves": plot_curves(curves, task, out, few_shot),
                 "feature": plot_best_feature(zero, features, correlations, task, out),
                 "fit": plot_predictions(zero, fits, task, out)}
        written += [p for p in plots.values() if p]
        parts.append(f"## {task}\n")
        scores = zero[zero["task"] == task].pivot_table(index="lang", columns="model", values="score")
        parts.append("### Zero-shot scores (%)\n\n" + markdown_table(scores.reset_index(), 1) + "\n")
        of = {name: frame[frame["task"] == task] for name, frame in
              [("corr", correlations), ("reg", regression), ("few", few_shot), ("cost", costs),
               ("budget", validation)]}
        parts.append(_section("Correlation of zero-shot score with language features", of["corr"],
                              ["model", "feature", "pearson", *_present(of["corr"], "pearson_lo", "pearson_hi"),
                               "pearson_p", "spearman", *_present(of["corr"], "spearman_lo", "spearman_hi"),
                               "spearman_p", "n_langs"], plots["feature"], 3))
        parts.append(_section("Meta-regression (LOOCV, greedy forward selection)", of["reg"],
                              ["model", "selected_features", "weights", "pearson", "spearman", "mae"], plots["fit"], 3))
        signed = [f"{m}: " + ", ".join(f"{f} {c:+.2f}" for f, c in zip(fit.selected, fit.coefficients))
                  for (t, m), fit in sorted(fits.items()) if t == task and fit.selected]
        if signed:
            parts.append("Signed coefficients on z-scored features (points per standard deviation): "
                         + "; ".join(signed) + "\n")
        parts.append(_section("Few-shot scores (mean over target languages) and Δ vs zero-shot", of["few"],
                              ["model", "sampling", "k", "mean_score", *_present(of["few"], "mean_lo", "mean_hi"),
                               "std_score", "n_seeds", "delta_vs_zero", "n_langs", "setting"], plots["heat"]))
        if plots["curves"]:
            parts.append(f"Per-language curves:\n\n![{task} curves]({plots['curves'].name})\n")
        parts.append(_section("Costs: annotation per target language, compute per run", of["cost"],
                              [c for c in costs.columns if c != "task"], None))
        if not of["budget"].empty:
            parts.append(_section("Budget planner: leave-one-language-out error (points) vs the naive baseline "
                                  "(held-out zero-shot + the other languages' mean gain)", of["budget"],
                                  ["model", "sampling", "k", "planner_mae", "baseline_mae", "n_langs"], None))
            if (of["budget"]["n_langs"] <= MIN_FIT_LANGS).any():
                parts.append(f"With {MIN_FIT_LANGS} languages or fewer each fold keeps fewer than {MIN_FIT_LANGS}, too "
                             "few for a gain that depends on the zero-shot score: the planner then adds the others' "
                             "mean gain and equals the baseline, so those rows do not test it.\n")
    if not tasks:
        parts.append("No results to analyse.\n")
    parts.append("## Notes\n")
    parts += [f"- {note}" for note in notes] or ["- none"]
    report = out / "report.md"
    report.write_text("\n".join(parts) + "\n")
    return [report, *written]
