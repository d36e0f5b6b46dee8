"""Extractive-QA metrics: exact match and token F1 as in the official SQuAD v1.1 evaluation (`f1`), plus a
character-level F1 for scripts written without spaces (`f1_char`).

Normalisation (SQuAD v1.1, unchanged): lower-case; delete ASCII punctuation (`string.punctuation`); delete
the English articles a/an/the as whole words; collapse whitespace. Exact match compares the normalised
strings; F1 is the harmonic mean of token precision and recall (bag of tokens), 0 when no token is shared
(also when both sides are empty, as in v1.1). Each prediction takes its best score over the gold answers.

`f1` tokenises on whitespace, exactly as the official script (and XQuAD's own evaluation, which reuses it)
does, so published numbers compare with it. For Chinese or Thai that makes a whole answer one "token" and
F1 all-or-nothing, so `f1_char` (our addition) tokenises instead with `answer_tokens`: every character of a
script written without spaces between words (Chinese/Japanese ideographs and CJK punctuation, Hiragana,
Katakana, Thai, Lao, Khmer, Myanmar, full-width forms) is a token of its own, with its combining marks (Thai
vowel and tone marks) attached; runs of other characters inside a whitespace-separated word stay one token.
So "308分" -> ["308", "分"] and Thai is scored per character. On text without such characters (English,
German, Spanish, Korean Hangul, ...) the two rules tokenise alike, so there `f1_char` equals `f1`.
The rule depends only on the characters, not on a language code, so mixed-script answers work too.
"""
from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")

# Unicode blocks of scripts written without spaces between words (start, end inclusive).
_NO_SPACE_BLOCKS = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # half-/full-width forms
    (0x20000, 0x2FA1F),  # CJK extensions B-F and supplement
)


def written_without_spaces(character: str) -> bool:
    code = ord(character)
    return any(start <= code <= end for start, end in _NO_SPACE_BLOCKS)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower, drop ASCII punctuation, drop a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(normalized: str) -> list[str]:
    """Whitespace tokens, with each character of a no-space script split off as its own token."""
    tokens: list[str] = []
    for word in normalized.split():
        run = ""  # characters of scripts that use spaces, kept together
        for ch in word:
            if unicodedata.category(ch).startswith("M") and not run and tokens and written_without_spaces(tokens[-1][0]):
                tokens[-1] += ch  # a Thai vowel/tone mark belongs to the character before it
            elif written_without_spaces(ch):
                if run:
                    tokens.append(run)
                    run = ""
                tokens.append(ch)
            else:
                run += ch
        if run:
            tokens.append(run)
    return tokens


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str, per_character: bool = False) -> float:
    """Token F1 of one prediction against one gold answer: whitespace tokens (SQuAD v1.1), or with
    `per_character` the `answer_tokens` rule (no-space scripts scored per character)."""
    tokenize = answer_tokens if per_character else str.split
    predicted, expected = tokenize(normalize_answer(prediction)), tokenize(normalize_answer(gold))
    shared = sum((Counter(predicted) & Counter(expected)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(predicted), shared / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: list[str], golds: list[list[str]]) -> dict[str, float]:
    """`exact_match`, `f1` (SQuAD v1.1) and `f1_char` in percent: per question the best over its gold answers,
    averaged over questions."""
    if len(predictions) != len(golds):
        raise ValueError(f"{len(predictions)} predictions for {len(golds)} questions")
    if not golds:
        return {"exact_match": 0.0, "f1": 0.0, "f1_char": 0.0}

    def mean_best(score) -> float:
        return 100.0 * sum(max((score(p, g) for g in gold), default=0.0) for p, gold in zip(predictions, golds)) / len(golds)

    return {"exact_match": mean_best(exact_match), "f1": mean_best(f1_score),
            "f1_char": mean_best(lambda p, g: f1_score(p, g, per_character=True))}
