"""The `budget` entry point: how many target-language examples (and dollars) reach a score, for any language.

It reads an experiment's results, takes the language's zero-shot score (measured, else the transfer predictor's),
fits the planner on the other languages' few-shot curves and answers for `target`, `budget_usd` or `k`; the
answer is a `z2h.stage=budget` run with metrics, a table (budget.csv) and a plot (budget.png).
"""
from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from zero2hero.errors import Z2HError
from .lang_features import corpus_for_model, language_features, parse_features
from zero2hero.tasks import task_class
from zero2hero.modeling.encoder import model_slug
from zero2hero.tracking.runs import log_metrics, log_params, stage_run

from . import collect
from .budget import MIN_FIT_LANGS, compute_hours, fit_planner, smallest_k, wide_curves
from .costs import annotation_cost, load_costs
from .few_shot import language_curves
from .stats import MIN_LANGS
from .transfer import TransferPredictor, iso1, short_interval

MODES = ("target", "budget_usd", "k")


@dataclass
class Answer:
    """What `budget` answers; `curve` holds the predicted curve at every measured k and at the answer's k."""
    task: str
    model: str
    label: str
    lang: str
    sampling: str
    mode: str
    asked: float  # the target, budget_usd or k given
    k: int
    predicted_score: float
    lower: float
    upper: float
    annotation_cost_usd: float
    compute_hours: float
    zero_shot: float
    zero_source: str
    k_max: int
    reached: bool = True
    notes: list[str] = field(default_factory=list)
    curve: pd.DataFrame = field(default=None, repr=False)
    fine: pd.DataFrame = field(default=None, repr=False)  # the curve on a dense k grid, for the plot


def _resolve_model(results: pd.DataFrame, task: str, model: str, labels: dict) -> str:
    """The `model` as recorded in the task's runs, given either that or its short name."""
    recorded = sorted(results.loc[results["task"] == task, "model"].unique())
    for candidate in recorded:
        if model in (candidate, labels.get(candidate), model_slug(candidate)):
            return candidate
    raise Z2HError(f"no {task} results of model {model!r} in the experiment; its {task} models: "
                   + (", ".join(f"{labels.get(m, m)}" for m in recorded) or "none"))


def _zero_shot(results, task, model, lang, features, source_lang, size_corpus, size) -> tuple[float, float, str, str]:
    """(zero-shot score, its 80% half-width, the language code used, where it came from)."""
    zero = collect.zero_shot_scores(results, source_lang)
    zero = zero[(zero["task"] == task) & (zero["model"] == model)].set_index("lang")["score"]
    code = iso1(lang)
    if code in zero.index:
        return float(zero[code]), 0.0, code, "measured zero-shot score"
    if len(zero) < MIN_LANGS:
        raise Z2HError(f"{lang!r} has no zero-shot run and the experiment has zero-shot scores of {task}/{model} "
                       f"for {len(zero)} language(s); the transfer predictor needs at least {MIN_LANGS}")
    table, _ = language_features(tuple(zero.index), model, features, source_lang, size_corpus)
    predictor = TransferPredictor.from_analysis(task, model, zero, table, source_lang,
                                                corpus_for_model(model, size_corpus))
    row = predictor.predict_one(lang, size)
    note = f" ({row['note']})" if row["note"] else ""
    source = f"predicted by the transfer predictor from {row['features'].replace(';', '+') or 'the mean'}{note}"
    return row["predicted_score"], row["predicted_score"] - row["lower"], row["lang"], source


def _few_languages(planner) -> list[str]:
    """What the answer cannot claim when few languages carry the curve (said in the answer, never hidden)."""
    fewest, notes = min(planner.n_langs), []
    if fewest < MIN_FIT_LANGS:
        notes.append(f"the curve rests on {fewest} other language(s) at some k, too few for a gain that depends on "
                     f"the zero-shot score (that needs {MIN_FIT_LANGS}): there it adds their mean gain")
    caveat = short_interval(fewest) if fewest >= 2 else ""  # with 1 there is no interval (said below)
    if caveat:
        notes.append(f"curve interval: {caveat}")
    return notes


def plan(results: pd.DataFrame, labels: dict, task: str, model: str, lang: str, sampling: str = "random",
         target: float | None = None, budget_usd: float | None = None, k: int | None = None, costs=None,
         source_lang: str = "en", features="SYN,PHON,INV,FAM,GEO,SIZE", size_corpus: str | None = None,
         size: float | None = None) -> Answer:
    """Answer one budget question from run-level results; exactly one of target, budget_usd and k is given."""
    task_class(task)  # an unknown task: the error lists the registered ones
    asked = {m: v for m, v in zip(MODES, (target, budget_usd, k)) if v is not None}
    if len(asked) != 1:
        raise Z2HError("give exactly one of target (a score to reach), budget_usd (dollars to spend) or k "
                       f"(examples to annotate); got {', '.join(asked) or 'none'}")
    (mode, value), = asked.items()
    if mode == "target" and not 0 < value <= 100:
        raise Z2HError(f"target must be a score in (0, 100] (percent), got {value}")
    config = load_costs(costs)
    model = _resolve_model(results, task, model, labels)
    curves = language_curves(results, source_lang)
    curves = curves[(curves["task"] == task) & (curves["model"] == model)]
    samplings = sorted(set(curves.loc[curves["k"] > 0, "sampling"]))
    if not samplings:
        raise Z2HError(f"the experiment has no few-shot runs of {task}/{labels.get(model, model)}; "
                       "the planner needs few-shot scores of at least one other language")
    if sampling not in samplings:
        raise Z2HError(f"no {sampling!r} few-shot runs of {task}/{labels.get(model, model)}; samplings with runs: "
                       + ", ".join(samplings))
    zero, zero_width, code, zero_source = _zero_shot(results, task, model, lang, parse_features(features),
                                                     source_lang, size_corpus, size)
    wide = wide_curves(curves[curves["sampling"] == sampling])
    planner = fit_planner(wide, exclude=code)  # the asked language's own few-shot runs never fit its curve
    if planner is None:
        raise Z2HError(f"no other language has {sampling} few-shot runs of {task}/{labels.get(model, model)} "
                       "with a zero-shot score; the planner needs at least one")
    notes, reached = _few_languages(planner), True
    per_example = annotation_cost(task, 1, code, config)
    if mode == "k":
        if value > planner.k_max:
            raise Z2HError(f"k={value} is beyond the largest measured k ({planner.k_max}) of {task}/"
                           f"{labels.get(model, model)}/{sampling}; the planner does not extrapolate")
        chosen = int(value)
    elif mode == "budget_usd":
        affordable = int(math.floor(value / per_example + 1e-9)) if per_example > 0 else planner.k_max
        chosen = min(affordable, planner.k_max)
        if affordable > planner.k_max:
            notes.append(f"${value:g} buys {affordable} examples, but the curve is measured only up to "
                         f"k={planner.k_max}; the answer stops there")
    else:
        found = smallest_k(planner, zero, zero_width, value)
        chosen, reached = (found, True) if found is not None else (planner.k_max, False)
        if chosen == 0:
            notes.append("the zero-shot score already reaches the target: nothing to annotate")
        if not reached:
            best = planner.curve(zero, zero_width, [planner.k_max])[0][0]
            notes.append(f"target {value:g} is above what the curve reaches: {best:.1f} at the largest measured "
                         f"k={planner.k_max}; more annotation may or may not get there (no extrapolation)")
    score, lower, upper = (float(v[0]) for v in planner.curve(zero, zero_width, [chosen]))
    if any(math.isnan(w) for w in planner.halfwidth):
        notes.append("some measured k have fewer than 2 languages: no interval there")
    ks = sorted({0, *planner.ks, chosen})
    s, lo, hi = planner.curve(zero, zero_width, ks)
    measured = wide.loc[code].reindex(ks) if code in wide.index else pd.Series(np.nan, index=ks)
    table = pd.DataFrame({"k": ks, "predicted_score": s, "lower": lo, "upper": hi,
                          "annotation_cost_usd": [annotation_cost(task, x, code, config) for x in ks],
                          "measured_score": measured.to_numpy()})
    dense = np.unique(np.round(np.geomspace(1, planner.k_max, 60)).astype(int))
    fine = pd.DataFrame(dict(zip(("predicted_score", "lower", "upper"), planner.curve(zero, zero_width, [0, *dense]))))
    fine.insert(0, "k", [0, *dense])
    return Answer(task, model, labels.get(model, model_slug(model)), code, sampling, mode, value, chosen, score, lower,
                  upper, annotation_cost(task, chosen, code, config), compute_hours(results, task, model, sampling,
                  chosen), zero, zero_source, planner.k_max, reached, notes, table, fine)


def paragraph(answer: Answer) -> str:
    """The answer in one readable paragraph."""
    unit = task_class(answer.task).k_unit
    ask = {"target": f"To reach {answer.asked:g}", "budget_usd": f"With ${answer.asked:g}",
           "k": f"With k={answer.k}"}[answer.mode]
    interval = "" if math.isnan(answer.lower) else f" (80% interval {answer.lower:.1f}–{answer.upper:.1f})"
    compute = (f"; compute about {answer.compute_hours * 60:.1f} min per run (from this experiment's few-shot runs)"
               if math.isfinite(answer.compute_hours) else "; no compute estimate (no timed few-shot runs)")
    verb = "annotate" if answer.reached else "even annotating"
    text = (f"{ask} on {answer.task} {answer.lang} with {answer.label} ({answer.sampling} sampling): {verb} "
            f"{answer.k} {unit}, predicted score {answer.predicted_score:.1f}{interval}, annotation cost "
            f"${answer.annotation_cost_usd:.2f}{compute}. Zero-shot {answer.zero_shot:.1f}: {answer.zero_source}.")
    return text + "".join(f" Note: {note}." for note in answer.notes)


def plot(answer: Answer, path: Path, target: float | None = None) -> Path:
    """The curve with its interval band, the measured scores (if any), the target line and the answer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    fine, points = answer.fine, answer.curve
    ax.plot(fine["k"], fine["predicted_score"], label="predicted")
    ax.fill_between(fine["k"], fine["lower"], fine["upper"], alpha=0.25, label="80% interval")
    ax.scatter(points["k"], points["predicted_score"], s=12)
    if points["measured_score"].notna().any():
        ax.scatter(points["k"], points["measured_score"], color="black", marker="x", label="measured", zorder=3)
    if target is not None:
        ax.axhline(target, color="red", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.axvline(answer.k, color="grey", linestyle=":", linewidth=1, label=f"answer k={answer.k}")
    ax.set_xscale("symlog", linthresh=1)  # k spans 0..1000: log scale with 0 on it
    ax.set_xlim(left=0)
    ax.set(title=f"{answer.task} · {answer.label} · {answer.lang} · {answer.sampling}", xlabel="k (annotated examples)",
           ylabel="score (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _optional(value):
    return None if value in ("", None) else value


def budget_entry(params) -> Answer:
    """The `budget` entry point (parameters parsed by zero2hero.config)."""
    from zero2hero.tracking.server import check_tracking_server

    check_tracking_server()
    client = MlflowClient()
    try:
        found = collect.resolve_experiment(params.experiment, client)
    except Z2HError:
        found = None  # reported inside the run, so the failure is recorded
    target, budget_usd, k = (_optional(getattr(params, m)) for m in MODES)
    name = f"budget/{params.task}/{model_slug(params.model) if params.model else 'model'}/{params.lang}"
    with stage_run("budget", name, experiment=found.name if found else None):
        log_params({n: getattr(params, n) for n in ("experiment", "task", "model", "lang", "sampling", *MODES,
                                                      "costs", "size") if _optional(getattr(params, n)) is not None})
        if found is None:
            collect.resolve_experiment(params.experiment, client)  # raises the clear error in the run
        runs = collect.collect_runs(found.experiment_id, client)
        results, _ = collect.results(runs)
        answer = plan(results, collect.model_labels(runs), params.task, params.model, params.lang, params.sampling,
                      target, budget_usd, k, params.costs or None, params.source_lang, params.features,
                      params.size_corpus or None, _optional(params.size))
        text = paragraph(answer)
        metrics = {"predicted_score": answer.predicted_score, "lower": answer.lower, "upper": answer.upper,
                   "k": answer.k, "annotation_cost_usd": answer.annotation_cost_usd, "zero_shot": answer.zero_shot,
                   "target_reached": float(answer.reached)}
        if math.isfinite(answer.compute_hours):
            metrics["compute_hours"] = answer.compute_hours
        log_metrics({m: v for m, v in metrics.items() if math.isfinite(v)})
        mlflow.set_tags({"z2h.budget.zero_shot_source": answer.zero_source[:250], "mlflow.note.content": text})
        with tempfile.TemporaryDirectory() as tmp:
            answer.curve.to_csv(Path(tmp) / "budget.csv", index=False)
            plot(answer, Path(tmp) / "budget.png", target)
            mlflow.log_artifacts(tmp)
    print(text)
    return answer
