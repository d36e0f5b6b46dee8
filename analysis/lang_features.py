"""Language features for the analysis (docs/method.md §5, §8): URIEL similarity to the source language, and SIZE.

SYN, PHON, INV, FAM and GEO are cosine similarities between the source language's and each target
language's lang2vec vector; SIZE is the z-normalised size of the language's part of the model's
pretraining corpus. `language_features` returns all of them for one set of languages and one model.
"""
from __future__ import annotations

import csv
import functools
import importlib.metadata
import importlib.resources
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from zero2hero.errors import DataError, Z2HError

# Feature name -> (lang2vec feature set, its .npz file, source, feature-name prefix); the last three are
# what lang2vec 1.1.2's FEATURE_SETS_DICT says for each set, so reading the file equals calling lang2vec.
URIEL_SETS = {
    "SYN": ("syntax_knn", "feature_predictions.npz", "predicted", "S_"),
    "PHON": ("phonology_knn", "feature_predictions.npz", "predicted", "P_"),
    "INV": ("inventory_knn", "feature_predictions.npz", "predicted", "INV_"),
    "FAM": ("fam", "family_features.npz", "FAM", ""),
    "GEO": ("geo", "geocoord_features.npz", "GEOCOORDS", ""),
}
FEATURES = (*URIEL_SETS, "SIZE")

# Named corpora -> column of the bundled SIZE table (the study's own raw values, docs/method.md §8).
CORPORA = {"cc100": "xlmr_cc100_tokens_millions", "wikipedia": "mbert_wikipedia_articles_2018_10_21"}
# Model name prefixes (the HF id's last part) and aliases -> corpus (docs/method.md §5).
MODEL_CORPORA = (("xlm-roberta-", "cc100"), ("xlmr", "cc100"),
                 ("bert-base-multilingual-", "wikipedia"), ("mbert", "wikipedia"))


def _lang2vec_data():
    # Read lang2vec's data files directly: importing lang2vec costs ~2 s (it loads every .npz up front)
    # and needs pkg_resources, which recent setuptools lack (docs/stack.md).
    # Located through the installed distribution, not `import lang2vec`: lang2vec also installs a script
    # bin/lang2vec.py, which shadows the package when a console script (z2h) puts bin/ first on sys.path.
    return Path(importlib.metadata.distribution("lang2vec").locate_file("lang2vec/data"))


@functools.lru_cache(maxsize=1)
def letter_codes() -> dict[str, str]:
    """lang2vec's own ISO 639-1 -> ISO 639-3 table (letter_codes.json): ar -> ara, zh -> zho, sw -> swa."""
    return json.loads((_lang2vec_data() / "letter_codes.json").read_text())


@functools.lru_cache(maxsize=None)
def _uriel_file(filename: str) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
    """One lang2vec data file read whole, once per process (SYN, PHON and INV share one; decompressing is
    most of the features' cost): (row of each language code, feature names, source names, data)."""
    with np.load(_lang2vec_data() / filename) as db:
        return {code: i for i, code in enumerate(db["langs"])}, db["feats"], db["sources"], db["data"]


def preload(features) -> None:
    """Read the lang2vec files that `features` need (the analysis does it while the tracking server searches)."""
    for filename in sorted({URIEL_SETS[f][1] for f in features if f in URIEL_SETS}):
        _uriel_file(filename)


@functools.lru_cache(maxsize=32)
def _uriel_vectors(feature: str, langs: tuple[str, ...]) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Raw lang2vec vectors of `langs` for one feature, and the languages lang2vec has no data for."""
    _, filename, source, prefix = URIEL_SETS[feature]
    known, feats, sources, table = _uriel_file(filename)
    feature_idx = [i for i, name in enumerate(feats) if str(name).startswith(prefix)]
    source_idx = int(np.flatnonzero(sources == source)[0])
    # lang2vec passes codes missing from its letter table through unchanged (so ISO 639-3 codes also work)
    rows = {lang: known.get(letter_codes().get(lang, lang)) for lang in langs}
    wanted = [i for i in rows.values() if i is not None]
    data = table[wanted][:, feature_idx, source_idx].astype(np.float64) if wanted else None
    vectors, missing, j = {}, [], 0
    for lang, i in rows.items():
        if i is None:
            missing.append(lang)
            continue
        vector, j = data[j], j + 1
        # -1 is lang2vec's "no value"; a language with no value at all is as good as absent
        if np.all(vector == -1):
            missing.append(lang)
        else:
            vectors[lang] = vector
    return vectors, tuple(missing)


@functools.lru_cache(maxsize=64)
def uriel_similarity(feature: str, targets: tuple[str, ...],
                     source: str = "en") -> tuple[dict[str, float], tuple[str, ...]]:
    """Cosine similarity of each target's lang2vec vector to the source's (docs/method.md §8).

    All languages are taken together, source first, as lang2vec's `get_features(..., minimal=True)`
    would be called: columns missing (-1) for any language or constant across all are dropped, and the
    cosine is taken on what remains.
    Returns ({target: similarity, NaN when either vector is then all zeros}, the languages lang2vec lacks,
    the source included if it is one of them; then every similarity is NaN).
    """
    langs = (source, *[t for t in targets if t != source])
    vectors, missing = _uriel_vectors(feature, langs)
    if source not in vectors:  # without a source vector nothing has a similarity
        return {t: math.nan for t in targets}, missing
    matrix = np.stack(list(vectors.values()))
    keep = ~np.any(matrix == -1, axis=0) & (matrix.max(axis=0) != matrix.min(axis=0))
    matrix = matrix[:, keep]
    norms = np.linalg.norm(matrix, axis=1)
    source_vec, source_norm = matrix[0], norms[0]
    similarity = {}
    for lang, vec, norm in zip(vectors, matrix, norms):
        if lang == source:
            continue
        # an all-zero vector (e.g. a language isolate's FAM) has no direction, hence no similarity
        ok = norm > 0 and source_norm > 0
        similarity[lang] = float(vec @ source_vec / (norm * source_norm)) if ok else math.nan
    return {t: similarity.get(t, math.nan) for t in targets}, missing


@functools.lru_cache(maxsize=1)
def load_corpus_sizes() -> pd.DataFrame:
    """The study's SIZE raw values (docs/method.md §8), indexed by ISO 639-1 code; one column per corpus measure."""
    path = importlib.resources.files("analysis") / "resources" / "corpus_sizes.csv"
    with path.open() as handle:
        return pd.read_csv(handle, dtype={"iso": str}).set_index("iso")


def corpus_for_model(model: str, size_corpus: str | None = None) -> str | None:
    """The corpus whose sizes stand for `model`'s pretraining data, or None when unknown.

    `size_corpus` is either one corpus (used for models the default mapping does not know) or
    `MODEL=CORPUS,...` pairs (`*` = every model) that take precedence over the default mapping.
    A corpus is `cc100`, `wikipedia`, a column of the bundled table, or a CSV path (iso, value).
    """
    pairs, fallback = {}, None
    for part in filter(None, (p.strip() for p in (size_corpus or "").split(","))):
        if "=" in part:
            name, corpus = (s.strip() for s in part.split("=", 1))
            pairs[name] = corpus
        else:
            fallback = part
    if model in pairs or "*" in pairs:
        return pairs.get(model, pairs.get("*"))
    base = model.rstrip("/").rsplit("/", 1)[-1].lower()
    for pattern, corpus in MODEL_CORPORA:
        # "xlm-roberta-" is a family prefix; "xlmr" and "mbert" are whole aliases
        matches = base.startswith(pattern) if pattern.endswith("-") else base == pattern
        if matches:
            return corpus
    return fallback


@functools.lru_cache(maxsize=16)
def corpus_sizes(corpus: str) -> dict[str, float]:
    """Raw sizes {iso: value} of a named corpus, a column of the bundled table, or a CSV file (iso, value)."""
    table = load_corpus_sizes()
    column = CORPORA.get(corpus, corpus)
    if column in table.columns:
        return {iso: float(v) for iso, v in table[column].items() if pd.notna(v)}
    path = Path(corpus)
    if not path.is_file():
        raise Z2HError(f"unknown size corpus {corpus!r}; valid: {', '.join([*CORPORA, *table.columns])}, "
                       "or a CSV file with columns iso and one numeric column")
    sizes = {}
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header or len(header) < 2 or header[0].strip() != "iso":
            raise DataError(path, 1, "a size table needs the header 'iso,<measure>'")
        for line, row in enumerate(reader, start=2):
            try:
                sizes[row[0].strip()] = float(row[1])
            except (IndexError, ValueError):
                raise DataError(path, line, f"expected 'iso,<number>', got {','.join(row)!r}") from None
    return sizes


def size_feature(targets: tuple[str, ...], corpus: str) -> tuple[dict[str, float], tuple[str, ...]]:
    """SIZE: raw corpus sizes z-normalised over the targets that have one; returns (values, targets lacking one)."""
    sizes = corpus_sizes(corpus)
    present = [t for t in targets if t in sizes]
    raw = np.array([sizes[t] for t in present], dtype=float)
    std = raw.std() if len(raw) else 0.0
    z = (raw - raw.mean()) / std if std > 0 else np.full(len(raw), math.nan)
    values = {t: math.nan for t in targets} | dict(zip(present, map(float, z)))
    return values, tuple(t for t in targets if t not in sizes)


def parse_features(features) -> tuple[str, ...]:
    """Feature names from a tuple or a comma-separated string, validated against FEATURES."""
    names = [f.strip().upper() for f in (features.split(",") if isinstance(features, str) else features)]
    unknown = [f for f in names if f and f not in FEATURES]
    if unknown:
        raise Z2HError(f"unknown feature(s) {', '.join(unknown)}; valid: {', '.join(FEATURES)}")
    return tuple(dict.fromkeys(f for f in names if f))


def language_features(targets, model: str, features=FEATURES, source_lang: str = "en",
                      size_corpus: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Feature values of the target languages for one model.

    Inputs: target ISO 639-1 codes (the analysed languages, source excluded), the model's name, the
    feature names, the source language and the size-corpus setting (see `corpus_for_model`).
    Returns a DataFrame (index: target, columns: features, NaN where a language has no value) and
    notes naming what was left out and why.
    """
    targets = tuple(dict.fromkeys(t for t in targets if t != source_lang))
    table, notes = pd.DataFrame(index=pd.Index(targets, name="lang")), []
    for feature in parse_features(features):
        if feature == "SIZE":
            corpus = corpus_for_model(model, size_corpus)
            if corpus is None:
                notes.append(f"SIZE left out for model {model!r}: no pretraining corpus known "
                             "(name one with size_corpus)")
                continue
            values, missing = size_feature(targets, corpus)
            source_note = f"corpus {corpus!r}"
        else:
            values, missing = uriel_similarity(feature, targets, source_lang)
            source_note = f"lang2vec {URIEL_SETS[feature][0]}"
        table[feature] = pd.Series(values, dtype=float)
        if missing:
            notes.append(f"{feature} ({model}): no value in {source_note} for {', '.join(missing)}; left out")
        no_similarity = [t for t in targets if t not in missing and math.isnan(values[t])]
        if no_similarity:
            why = "sizes do not vary" if feature == "SIZE" else "all-zero vector after minimal=True"
            notes.append(f"{feature} ({model}): {', '.join(no_similarity)} left out ({why})")
    return table, notes
