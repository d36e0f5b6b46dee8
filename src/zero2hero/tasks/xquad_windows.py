"""XQuAD/SQuAD features: question + context windows with character offsets, and span post-processing.

Windows (BERT/HF SQuAD practice): the question, cut to QUESTION_SUBWORDS subwords, is paired with the context
cut into windows of at most `max_length` subwords in all; consecutive windows overlap by DOC_STRIDE subwords
(the `stride` of Hugging Face fast tokenizers, as in HF's run_qa.py; the 2020 run_squad.py stepped *by*
doc_stride instead — both cover every context token, and XQuAD paragraphs rarely need a second window).
Every context token keeps its (start, end) character offsets; other tokens (and tokens of pure whitespace)
have None, so no answer starts or ends on them. Answers are mapped to
token positions through those offsets; a window that does not contain the whole answer points at token 0.

Post-processing: per window the N_BEST highest start and end logits; a span is valid when both ends are
context tokens, end >= start and it is at most `max_answer` subwords long; the valid span with the highest
start + end logit over all windows of a question wins; its text is cut from the context by offsets.
"""
from __future__ import annotations

import unicodedata

import numpy as np

from ..data.examples import Answer, QaExample
from ..errors import Z2HError

QUESTION_SUBWORDS = 64  # docs/method.md §2: questions cut to 64 subwords
DOC_STRIDE = 128  # docs/method.md §2: sliding window with stride 128
MAX_ANSWER_SUBWORDS = 30  # HF run_qa default
N_BEST = 20  # candidates per window for the start and for the end
CHUNK = 256  # questions tokenised per tokenizer call

Offsets = list  # per token: (start, end) character offsets into the context, or None outside the context


def tidy_offsets(span, context: str) -> tuple[int, int]:
    """A token's character span without surrounding whitespace and with the combining marks that follow it.

    Metaspace tokenizers (XLM-R) count the space before a word in its first token ("▁308" -> " 308"), and
    accent-stripping normalisers (uncased BERT) drop combining marks, so a Thai "สี่" would end before its vowel
    and tone marks; answers cut out by offsets must start and end exactly where the words do.
    """
    start, end = span
    while start < end and context[start].isspace():
        start += 1
    while end > start and context[end - 1].isspace():
        end -= 1
    while end < len(context) and unicodedata.category(context[end]).startswith("M"):
        end += 1
    return start, end


def window_settings(tokenizer, max_length: int, doc_stride: int = DOC_STRIDE,
                    question_limit: int = QUESTION_SUBWORDS) -> tuple[int, int]:
    """(question subword limit, stride) that fit `max_length`; both depend only on the settings, not the data.

    The fast tokenizer needs the stride to be smaller than the room left for the context, so a short
    `max_length` shrinks the question limit to half the room and the stride to half of what remains.
    """
    room = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    question_limit = min(question_limit, room // 2)
    if question_limit < 1 or room - question_limit < 2:
        raise Z2HError(f"max_length={max_length} is too small for question answering; use e.g. 384")
    return question_limit, max(1, min(doc_stride, (room - question_limit) // 2))


def cut_questions(questions: list[str], tokenizer, limit: int) -> list[str]:
    """Questions cut (at a subword boundary, by character offsets) to at most `limit` subwords."""
    encoding = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    result = []
    for question, ids, offsets in zip(questions, encoding["input_ids"], encoding["offset_mapping"]):
        while len(ids) > limit:  # re-tokenising a prefix can shift subwords, so check again
            question = question[: offsets[limit - 1][1]]
            single = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
            ids, offsets = single["input_ids"], single["offset_mapping"]
        result.append(question)
    return result


def training_answer(example: QaExample) -> Answer | None:
    """The first gold answer found in the context at its answer_start (None: not usable for training)."""
    return next((answer for answer in example.answers if answer.matches(example.context)), None)


def answer_positions(offsets: Offsets, answer: Answer) -> tuple[int, int]:
    """Token positions (start, end) of `answer` in one window, or (0, 0) when the window does not hold all of it."""
    context = [t for t, span in enumerate(offsets) if span is not None]
    char_start, char_end = answer.start, answer.start + len(answer.text)
    if not context or offsets[context[0]][0] > char_start or offsets[context[-1]][1] < char_end:
        return 0, 0
    start = next(t for t in context if offsets[t][1] > char_start)
    end = max(t for t in context if offsets[t][0] < char_end)
    return start, end


def window_features(examples: list[QaExample], tokenizer, max_length: int, training: bool,
                    doc_stride: int = DOC_STRIDE, question_limit: int = QUESTION_SUBWORDS) -> tuple[list[dict], int]:
    """Features for every window of every question; returns (features, questions left out of training).

    Each feature: `example_index`, `input_ids`, `token_type_ids` where the tokenizer uses them, and
    `start_positions`/`end_positions` for training or `offsets` for prediction. For training, questions without a usable answer
    (see `training_answer`) get no features.
    """
    question_limit, stride = window_settings(tokenizer, max_length, doc_stride, question_limit)
    use_types = "token_type_ids" in tokenizer.model_input_names
    chosen = [(i, training_answer(ex)) for i, ex in enumerate(examples)]
    if training:
        chosen = [(i, answer) for i, answer in chosen if answer is not None]
    features: list[dict] = []
    for begin in range(0, len(chosen), CHUNK):
        part = chosen[begin : begin + CHUNK]
        questions = cut_questions([examples[i].question for i, _ in part], tokenizer, question_limit)
        encoding = tokenizer(questions, [examples[i].context for i, _ in part], truncation="only_second",
                             max_length=max_length, stride=stride, return_overflowing_tokens=True,
                             return_offsets_mapping=True)
        for window, local in enumerate(encoding["overflow_to_sample_mapping"]):
            index, answer = part[local]
            context = examples[index].context
            offsets = [tidy_offsets(span, context) if sequence == 1 else None
                       for span, sequence in zip(encoding["offset_mapping"][window], encoding.sequence_ids(window))]
            offsets = [span if span is None or span[1] > span[0] else None for span in offsets]  # whitespace-only tokens
            feature = {"example_index": index, "input_ids": encoding["input_ids"][window]}
            if use_types and "token_type_ids" in encoding:
                feature["token_type_ids"] = encoding["token_type_ids"][window]
            if training:  # offsets are only needed to cut answers out at prediction time
                feature["start_positions"], feature["end_positions"] = answer_positions(offsets, answer)
            else:
                feature["offsets"] = offsets
            features.append(feature)
    return features, len(examples) - len(chosen)


def best_span(windows: list[tuple[Offsets, tuple[list[float], list[float]]]], max_answer: int = MAX_ANSWER_SUBWORDS,
              n_best: int = N_BEST) -> tuple[int, int] | None:
    """Character (start, end) of the best valid span over all windows of one question (None: no valid span)."""
    best, best_score = None, -np.inf
    for offsets, (start_logits, end_logits) in windows:
        starts, ends = np.asarray(start_logits), np.asarray(end_logits)
        top_starts = np.argsort(-starts, kind="stable")[:n_best]
        top_ends = np.argsort(-ends, kind="stable")[:n_best]
        for s in top_starts:
            if offsets[s] is None:
                continue
            for e in top_ends:
                if offsets[e] is None or e < s or e - s + 1 > max_answer:
                    continue
                score = starts[s] + ends[e]
                if score > best_score:
                    best, best_score = (offsets[s][0], offsets[e][1]), score
    return best
