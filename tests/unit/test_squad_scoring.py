"""EM/F1 against hand-computed values of the official SQuAD v1.1 definitions, and the no-space-script rule."""
from __future__ import annotations

from collections import Counter

import pytest

from zero2hero.data.squad_scoring import answer_tokens, exact_match, f1_score, normalize_answer, squad_scores


@pytest.mark.parametrize("prediction, gold, em, f1", [
    ("the Denver Broncos", "Denver Broncos", 1.0, 1.0),  # articles dropped
    ("Denver", "Denver Broncos", 0.0, 2 * (1.0 * 0.5) / 1.5),  # precision 1, recall 1/2
    ("Broncos!!", "broncos", 1.0, 1.0),  # case and ASCII punctuation
    ("U.S.", "US", 1.0, 1.0),  # punctuation deleted, not replaced by a space
    ("the cat cat sat", "cat sat on the mat", 0.0, 4 / 7),  # bag of tokens: cat counts once in the overlap
    ("", "Denver", 0.0, 0.0),
    ("a an the", "the", 1.0, 0.0),  # both normalise to "": EM 1 but F1 0 in v1.1 (no empty-answer rule)
    ("\u201cBroncos\u201d", "Broncos", 0.0, 0.0),  # curly quotes are not string.punctuation in v1.1
    ("  Denver\tBroncos \n", "Denver Broncos", 1.0, 1.0),  # whitespace collapsed
    ("theater", "the ater", 0.0, 0.0),  # "the" only removed as a whole word: "theater" vs "ater"
])
def test_official_squad_v11_cases(prediction, gold, em, f1):
    assert exact_match(prediction, gold) == em
    assert f1_score(prediction, gold) == pytest.approx(f1)


def test_normalisation_matches_v11():
    assert normalize_answer("The  Quick, brown fox!") == "quick brown fox"
    assert normalize_answer("An apple a day") == "apple day"


def test_best_gold_answer_and_average():
    scores = squad_scores(["Denver", "Carolina Panthers"], [["Denver Broncos", "Denver"], ["Panthers"]])
    assert scores["exact_match"] == pytest.approx(50.0)  # first question exact on its second gold answer
    assert scores["f1"] == pytest.approx(100 * (1.0 + 2 * 0.5 / 1.5) / 2)
    with pytest.raises(ValueError):
        squad_scores(["x"], [])


def v11_f1(prediction: str, gold: str) -> float:
    """The official SQuAD v1.1 `f1_score`, transcribed line by line (whitespace tokens of the normalised text)."""
    prediction_tokens, ground_truth_tokens = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision, recall = 1.0 * num_same / len(prediction_tokens), 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


@pytest.mark.parametrize("prediction, gold, official", [
    ("黑豹队", "豹队", 0.0),  # one whitespace token each, and they differ: all or nothing
    ("黑豹队", "黑豹队", 1.0),
    ("308分", "308 分", 0.0),  # "308分" vs "308", "分"
    ("308 分", "308 分", 1.0),
    ("卡罗来纳 黑豹队", "黑豹队", 2 * 0.5 * 1.0 / 1.5),  # a space inside the Chinese answer is a token boundary
    ("สี่สิบ", "สี่", 0.0),  # Thai: one token per whitespace-separated run
    ("สี่สิบ ปี", "ปี", 2 * 0.5 * 1.0 / 1.5),
])
def test_official_f1_on_chinese_and_thai_is_the_v11_rule(prediction, gold, official):
    assert f1_score(prediction, gold) == pytest.approx(official) == pytest.approx(v11_f1(prediction, gold))
    scores = squad_scores([prediction], [[gold]])
    assert scores["f1"] == pytest.approx(100 * official)


def test_chinese_is_scored_per_character_in_f1_char():
    assert answer_tokens("308分") == ["308", "分"]
    assert answer_tokens("黑豹队 lost") == ["黑", "豹", "队", "lost"]
    assert exact_match("308分", "308 分") == 0.0  # EM stays the v1.1 string comparison
    assert f1_score("308分", "308 分", per_character=True) == 1.0
    char = 2 * (2 / 3) * 1.0 / (2 / 3 + 1.0)
    assert f1_score("黑豹队", "豹队", per_character=True) == pytest.approx(char)
    assert squad_scores(["黑豹队"], [["豹队"]]) == pytest.approx({"exact_match": 0.0, "f1": 0.0, "f1_char": 100 * char})


def test_thai_characters_keep_their_marks():
    # "สี่" (four) = base consonant + vowel mark + tone mark: one token, not three
    assert answer_tokens("สี่") == ["สี่"]
    assert answer_tokens("สี่สิบ") == ["สี่", "สิ", "บ"]
    assert f1_score("สี่สิบ", "สี่", per_character=True) == pytest.approx(2 * (1 / 3) * 1.0 / (1 / 3 + 1.0))


def test_char_variant_equals_official_on_spaced_scripts():
    for prediction, gold in (("the Denver Broncos", "Denver"), ("über die brücke", "die brücke"), ("서울 특별시", "서울")):
        assert f1_score(prediction, gold, per_character=True) == f1_score(prediction, gold) == v11_f1(prediction, gold)


def test_spaced_scripts_unchanged():
    assert answer_tokens("über die brücke") == ["über", "die", "brücke"]
    assert answer_tokens("서울 특별시") == ["서울", "특별시"]  # Hangul uses spaces: whitespace tokens
