"""Language features from the real lang2vec data and the bundled SIZE table."""
import math

import numpy as np
import pytest

from zero2hero.errors import Z2HError
from analysis.lang_features import (URIEL_SETS, corpus_for_model, language_features, load_corpus_sizes,
                                     parse_features, uriel_similarity)
from zero2hero.tasks import task_class


def test_syntax_of_german_is_closer_to_english_than_japanese():
    similarity, missing = uriel_similarity("SYN", ("de", "ja", "fr"))
    assert missing == ()
    assert similarity["de"] > similarity["ja"]
    assert all(0 <= v <= 1 for v in similarity.values())


def test_basque_has_no_family_similarity():
    table, notes = language_features(task_class("pos").targets, "bert-base-multilingual-cased", ("FAM", "SYN"))
    assert math.isnan(table.loc["eu", "FAM"])
    assert not math.isnan(table.loc["eu", "SYN"])
    assert table.loc["sv", "FAM"] > table.loc["ja", "FAM"]  # Germanic vs. unrelated
    assert any("FAM" in n and "eu" in n for n in notes)


def test_same_as_lang2vec_get_features_minimal():
    """Our direct read of lang2vec's files gives what lang2vec's own API gives (docs/method.md §8)."""
    l2v = pytest.importorskip("lang2vec.lang2vec")  # ~5 s: lang2vec loads every data file, per call too
    targets = task_class("pos").targets
    for feature, (feature_set, *_) in URIEL_SETS.items():
        vectors = l2v.get_features(["en", *targets], feature_set, minimal=True)
        source = np.array(vectors["en"], dtype=float)
        ours, _ = uriel_similarity(feature, targets)
        for lang in targets:
            vector = np.array(vectors[lang], dtype=float)
            norm = np.linalg.norm(vector) * np.linalg.norm(source)
            expected = vector @ source / norm if norm else math.nan
            assert ours[lang] == pytest.approx(expected, nan_ok=True), (feature, lang)


def test_the_language_set_matters_through_minimal():
    """Columns constant across the queried languages are dropped, so the set changes the similarity."""
    alone, _ = uriel_similarity("SYN", ("de",))
    together, _ = uriel_similarity("SYN", ("de", "ja", "ar"))
    assert alone["de"] != pytest.approx(together["de"])


def test_languages_unknown_to_lang2vec_are_reported_and_left_out():
    table, notes = language_features(("de", "zz", "fr"), "xlmr", ("GEO",))
    assert math.isnan(table.loc["zz", "GEO"]) and not math.isnan(table.loc["de", "GEO"])
    assert any("zz" in n and "GEO" in n for n in notes)


def test_size_uses_the_model_corpus_z_normalised():
    sizes = load_corpus_sizes()
    assert sizes.loc["sv", "xlmr_cc100_tokens_millions"] == 77.8  # as printed (docs/method.md §8)
    table, _ = language_features(("de", "sw", "ru"), "FacebookAI/xlm-roberta-base", ("SIZE",))
    raw = np.array([10297, 275, 23408])
    np.testing.assert_allclose(table["SIZE"], (raw - raw.mean()) / raw.std())
    mbert, _ = language_features(("de", "sw", "ru"), "mbert", ("SIZE",))
    assert mbert.loc["de", "SIZE"] > mbert.loc["ru", "SIZE"]  # more articles, fewer CC-100 tokens


def test_size_for_other_models_needs_a_configured_corpus(tmp_path):
    table, notes = language_features(("de", "ru", "sw"), "/models/my-encoder", ("SIZE",))
    assert "SIZE" not in table.columns and any("my-encoder" in n for n in notes)
    custom = tmp_path / "sizes.csv"
    custom.write_text("iso,gib\nde,66.6\nru,278.0\n")
    table, notes = language_features(("de", "ru", "sw"), "/models/my-encoder", ("SIZE",), size_corpus=str(custom))
    assert table.loc["ru", "SIZE"] == pytest.approx(1.0) and math.isnan(table.loc["sw", "SIZE"])
    assert any("sw" in n for n in notes)


def test_corpus_mapping():
    assert corpus_for_model("xlm-roberta-large") == "cc100"
    assert corpus_for_model("bert-base-multilingual-uncased") == "wikipedia"
    assert corpus_for_model("mbert") == "wikipedia" and corpus_for_model("xlmr") == "cc100"
    assert corpus_for_model("distilbert") is None
    assert corpus_for_model("distilbert", "wikipedia") == "wikipedia"
    assert corpus_for_model("xlmr", "xlmr=my.csv,*=cc100") == "my.csv"
    assert corpus_for_model("mbert", "xlmr=my.csv,*=cc100") == "cc100"


def test_unknown_feature_names_are_rejected():
    assert parse_features("syn, GEO") == ("SYN", "GEO")
    with pytest.raises(Z2HError, match="SYNTAX.*valid: SYN"):
        parse_features("SYNTAX")
