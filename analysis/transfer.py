"""The transfer predictor: the analysis's meta-regressor, fitted on every analysed language, that predicts the
zero-shot score of any language lang2vec knows, with an 80% interval from the LOOCV residuals.

A regression is only used when its leave-one-out error beats predicting the mean of the other languages; else
(few languages, no feature that helps) the predictor is that mean, and every prediction says so in its note.

Its whole state is a JSON-able record (training languages, scores, feature values, the corpus sizes behind SIZE),
so the registered pyfunc model needs no tracking server to predict, and a refit never differs from the analysis's.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from zero2hero.errors import Z2HError
from .lang_features import URIEL_SETS, corpus_sizes, letter_codes, uriel_similarity
from zero2hero.modeling.encoder import model_slug

from .stats import forward_selection, regression_candidates

COVERAGE = 0.8  # the interval's nominal coverage
# forward selection fits intercept + feature on a fold's n - 1 languages only while 3 <= n - 2 (analysis.stats)
MIN_CHECK_LANGS = 4
PREDICTION_COLUMNS = ["lang", "predicted_score", "lower", "upper", "features", "note"]


def registered_transfer_name(task: str, model: str, labels: dict | None = None) -> str:
    """The registered name of a (task, model) transfer predictor: `z2h-transfer-<task>-<slug>`, the slug being
    the runs' short model name where there is one (as in the report), else derived from the model."""
    return f"z2h-transfer-{task}-{model_slug((labels or {}).get(model) or model)}"


def iso1(lang: str) -> str:
    """The ISO 639-1 code of an ISO 639-3 code lang2vec's letter table knows (deu -> de); else the code itself."""
    code = lang.strip().lower()
    reverse = {three: one for one, three in letter_codes().items()}
    return reverse.get(code, code)


def conformal_halfwidth(residuals, coverage: float = COVERAGE) -> float:
    """Half-width of a symmetric interval from leave-one-out residuals (the jackknife's conformal rule).

    The ceil(coverage × (n + 1))-th smallest |residual|: with exchangeable languages it covers a new one with
    probability >= coverage. Fewer residuals than that rank needs: the largest (an interval that is too short).
    """
    r = np.sort(np.abs(np.asarray(residuals, dtype=float)[np.isfinite(residuals)]))
    if len(r) == 0:
        return math.nan
    rank = math.ceil(coverage * (len(r) + 1))
    return float(r[min(rank, len(r)) - 1])


def short_interval(n_residuals: int, coverage: float = COVERAGE) -> str:
    """A caveat when `n_residuals` are too few for the conformal rank (the interval then covers less), else ""."""
    if n_residuals == 0 or math.ceil(coverage * (n_residuals + 1)) <= n_residuals:
        return ""
    return (f"with {n_residuals} leave-one-out errors the {coverage:.0%} interval is the largest of them and covers "
            f"less than {coverage:.0%}")


@dataclass(frozen=True)
class Fit:
    """One meta-regressor: OLS on z-scored features (intercept = mean score, since the features are centred)."""
    selected: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    means: tuple[float, ...]
    stds: tuple[float, ...]
    halfwidth: float
    basis: str = ""  # how it predicts, in words (the report's note, the model version's tag)
    notes: tuple[str, ...] = ()  # what every prediction of this fit says in its `note`

    def predict(self, values: dict) -> float:
        """The score predicted from raw feature values {feature: value} (only the selected ones are read)."""
        z = [(values[f] - m) / s for f, m, s in zip(self.selected, self.means, self.stds)]
        return float(np.clip(self.intercept + float(np.dot(self.coefficients, z)) if z else self.intercept, 0, 100))


def _fit(table: pd.DataFrame, scores: pd.Series, halfwidth: float = math.nan) -> Fit:
    regression = forward_selection(table, scores)
    chosen = table.loc[scores.index, regression.selected]
    return Fit(tuple(regression.selected), tuple(regression.coefficients), float(scores.mean()),
               tuple(float(v) for v in chosen.mean()), tuple(float(v) for v in chosen.std(ddof=0)), halfwidth)


def fit_regressor(table: pd.DataFrame, scores: pd.Series) -> Fit:
    """The forward-selected regressor of `scores` on `table` (as in the analysis) with its 80% interval, or the
    mean score when the regressor does not predict held-out languages better than the mean does.

    The interval comes from leave-one-out residuals of the whole procedure: each language is predicted by a
    regressor whose features were selected without it, so the selection's optimism is not hidden in the width.
    The mean's residuals are each language's score minus the mean of the others.
    """
    selection, paired_mean = [], []
    mean_residuals = {lang: scores[lang] - scores.drop(lang).mean() for lang in scores.index}
    for lang in scores.index:
        rest = scores.drop(lang)
        value = table.loc[lang].to_dict()
        fold = _fit(table.loc[rest.index], rest)
        if any(not math.isfinite(value[f]) for f in fold.selected):
            continue  # the held-out language lacks a feature this fold selected: no comparable residual
        selection.append(scores[lang] - fold.predict(value))
        paired_mean.append(mean_residuals[lang])
    full, n = _fit(table, scores), len(scores)
    errors = (float(np.mean(np.abs(selection))), float(np.mean(np.abs(paired_mean)))) if selection else None
    if full.selected and errors and errors[0] < errors[1]:
        caveat = short_interval(len(selection))
        return replace(full, halfwidth=conformal_halfwidth(selection), notes=(caveat,) if caveat else (),
                       basis=f"regression on {'+'.join(full.selected)} over {n} languages (leave-one-out MAE "
                             f"{errors[0]:.1f} vs {errors[1]:.1f} for the mean)")
    if not regression_candidates(table.loc[scores.index]):
        why = f"no usable language feature (a missing value or no variation) over {n} languages"
    elif n < MIN_CHECK_LANGS:  # a fold of n - 1 languages selects nothing: no feature is tested out of sample
        why = (f"no language feature improved on the mean over {n} languages (a feature is tested on held-out "
               f"languages from {MIN_CHECK_LANGS} on)")
    else:
        why = f"no language feature improved on the mean over {n} languages"
        if full.selected and errors:
            why += (f" (the selected {'+'.join(full.selected)}: leave-one-out MAE {errors[0]:.1f} vs "
                    f"{errors[1]:.1f} for the mean)")
    basis = f"{why}: predicts their mean zero-shot score {scores.mean():.1f}"
    caveat = short_interval(n)
    return Fit((), (), float(scores.mean()), (), (), conformal_halfwidth(list(mean_residuals.values())), basis,
               (basis, caveat) if caveat else (basis,))


class TransferPredictor:
    """Predicts zero-shot scores of (task, model) for any language from lang2vec features and SIZE.

    `record`: task, model, source_lang, langs, scores, table ({feature: {lang: value}}, NaN = no value) and, when
    SIZE is a feature, sizes (raw corpus size per ISO 639-1 code) and corpus (its name).
    """

    def __init__(self, record: dict):
        self.record = record
        self.langs = list(record["langs"])
        self.scores = pd.Series(record["scores"], dtype=float).reindex(self.langs)
        self.table = pd.DataFrame({f: pd.Series(v, dtype=float) for f, v in record["table"].items()}).reindex(self.langs)
        self.sizes = {k: float(v) for k, v in (record.get("sizes") or {}).items()}

    @classmethod
    def from_analysis(cls, task: str, model: str, scores: pd.Series, table: pd.DataFrame, source_lang: str,
                      corpus: str | None = None) -> "TransferPredictor":
        """Build from the analysis's zero-shot scores (by language) and feature table of one (task, model)."""
        langs = [str(lang) for lang in scores.index]
        record = {"task": task, "model": model, "source_lang": source_lang, "langs": langs,
                  "scores": {lang: float(scores[lang]) for lang in langs},
                  "table": {f: {lang: float(table.at[lang, f]) for lang in langs} for f in table.columns}}
        if "SIZE" in table.columns and corpus:
            record.update(sizes=corpus_sizes(corpus), corpus=corpus)
        return cls(record)

    @functools.cached_property
    def fit(self) -> Fit:
        """The analysis's selection, fitted on every language."""
        return self.fit_without(frozenset())

    @functools.lru_cache(maxsize=16)
    def fit_without(self, excluded: frozenset) -> Fit:
        """The best selection among the features not in `excluded` (those a language has no value for)."""
        return fit_regressor(self.table.drop(columns=sorted(excluded)), self.scores)

    def without(self, lang: str) -> "TransferPredictor":
        """The same predictor trained without `lang` (for leave-one-out checks)."""
        keep = [x for x in self.langs if x != lang]
        record = {**self.record, "langs": keep, "scores": {x: self.record["scores"][x] for x in keep},
                  "table": {f: {x: v[x] for x in keep} for f, v in self.record["table"].items()}}
        return TransferPredictor(record)

    def _size(self, lang: str, given: float | None) -> tuple[float, str]:
        """SIZE of a new language on the training languages' scale, and where its raw size came from."""
        raw, origin = self.sizes.get(iso1(lang), self.sizes.get(lang)), "corpus table"
        if raw is None and given is not None and math.isfinite(given):
            raw, origin = float(given), "given size"
        if raw is None:
            return math.nan, ""
        train = np.array([self.sizes[x] for x in self.langs if x in self.sizes])
        std = train.std() if len(train) else 0.0
        return ((raw - train.mean()) / std if std > 0 else math.nan), origin

    def feature_values(self, lang: str, size: float | None = None) -> tuple[dict, list[str]]:
        """Raw feature values of `lang` ({feature: value}, NaN where none) and notes on where they came from.

        Raises Z2HError naming the language when lang2vec knows nothing of it.
        """
        if lang in self.langs:
            return self.table.loc[lang].to_dict(), []
        values, notes, unknown = {}, [], []
        for feature in self.table.columns:
            if feature == "SIZE":
                values[feature], origin = self._size(lang, size)
                if origin == "given size":
                    notes.append("SIZE from the given size")  # kept only when SIZE is used, below
                continue
            similarity, missing = uriel_similarity(feature, (*self.langs, lang), self.record["source_lang"])
            values[feature] = similarity[lang]
            if lang in missing:
                unknown.append(feature)
        uriel = [f for f in self.table.columns if f in URIEL_SETS]
        if uriel and len(unknown) == len(uriel):
            raise Z2HError(f"language {lang!r} is unknown to lang2vec (no {', '.join(uriel)} vector); give an "
                           "ISO 639-1 or ISO 639-3 code lang2vec knows, e.g. yo or yor, kk or kaz")
        return values, notes

    def predict_values(self, values: dict) -> tuple[float, float, Fit, list[str]]:
        """(score, 80% half-width, the fit used, notes) for raw feature values; a selected feature the language
        lacks makes it use the best selection without the features it lacks, and says so."""
        lacking = frozenset(f for f, v in values.items() if not math.isfinite(v))
        fit, notes = self.fit, []
        if lacking & set(fit.selected):
            fit = self.fit_without(lacking)
            notes.append(f"no {', '.join(sorted(lacking & set(self.fit.selected)))} value: predicted with "
                         f"{'+'.join(fit.selected) or 'the mean score'} instead of {'+'.join(self.fit.selected)}")
        return fit.predict(values), fit.halfwidth, fit, notes

    def predict_one(self, lang: str, size: float | None = None) -> dict:
        """One output row (PREDICTION_COLUMNS) for a language code (ISO 639-1 or 639-3)."""
        code = str(lang).strip().lower()
        if not code:
            raise Z2HError("empty language code; give an ISO 639-1 or ISO 639-3 code such as yo or kaz")
        code = iso1(code) if iso1(code) in self.langs else code
        values, notes = self.feature_values(code, size)
        score, halfwidth, fit, more = self.predict_values(values)
        notes = [n for n in notes if n.split()[0] in fit.selected]
        return {"lang": code, "predicted_score": score, "lower": max(0.0, score - halfwidth),
                "upper": min(100.0, score + halfwidth), "features": ";".join(fit.selected),
                "note": "; ".join(notes + more + list(fit.notes))}

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A DataFrame with `lang` (and optionally `size`, the raw corpus size for SIZE) -> PREDICTION_COLUMNS."""
        if "lang" not in frame.columns:
            raise Z2HError(f"the input needs a column 'lang' (ISO 639-1 or 639-3 codes); got {list(frame.columns)}")
        sizes = frame["size"] if "size" in frame.columns else pd.Series(math.nan, index=frame.index)
        rows = [self.predict_one(lang, None if pd.isna(size) else float(size))
                for lang, size in zip(frame["lang"], sizes)]
        return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def loo_coverage(predictor: TransferPredictor) -> tuple[int, int]:
    """Leave-one-language-out check of the interval: refit (selection included) without each language and
    count how often its 80% interval covers its true score. Returns (covered, languages)."""
    covered = 0
    for lang in predictor.langs:
        score, halfwidth, _, _ = predictor.without(lang).predict_values(predictor.table.loc[lang].to_dict())
        covered += abs(score - predictor.scores[lang]) <= halfwidth
    return int(covered), len(predictor.langs)
