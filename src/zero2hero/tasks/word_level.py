"""Shared machinery of the word-level tasks (POS, DEP, NER): alignment, padding, pyfunc frames.

Each word is represented by its first subword. A *word without a subword* — one the tokenizer maps to
nothing (zero-width characters, soft hyphens: its normaliser deletes them) or one beyond `max_length`
subwords — is represented by the closing special token ([SEP] / </s>): never the first token, which DEP uses
as the root, so such a word does not tie with the root. It is still predicted and still counts in the metric;
the encoder warns with the count of each kind.
"""
from __future__ import annotations

import logging

import pandas as pd

from ..data.cache import cached_examples
from ..data.conllu_reader import parse_conllu, read_conllu
from ..data.corpus import Corpus
from ..data.examples import WordExample
from ..data.text import file_sha256
from ..modeling.meta import IGNORE
from .base import Task
from .padding import encoder_inputs, pad  # `pad` stays importable from here for the other word-level tasks

log = logging.getLogger(__name__)


def align_words(words: list[str], tokenizer, max_length: int) -> tuple[list[int], list[int], int, int]:
    """Tokenise pre-split words; return (input_ids, first-subword index per word, words the tokenizer maps to
    no subword, words beyond max_length). Words without a subword point at the last (closing special) token."""
    encoding = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    word_ids = encoding.word_ids()
    starts = [len(word_ids) - 1] * len(words)
    seen = set()
    for position, word_id in enumerate(word_ids):
        if word_id is not None and word_id not in seen:
            seen.add(word_id)
            starts[word_id] = position
    # words after the last one with a subword were cut off when the encoding is full; the rest are empty
    last = max(seen, default=-1)
    beyond = len(words) - 1 - last if len(word_ids) >= max_length else 0
    return encoding["input_ids"], starts, len(words) - len(seen) - beyond, beyond


def tag_counts(example: WordExample, predicted: list[str]) -> tuple[int, int]:
    """(words tagged right, words) of one sentence."""
    return sum(gold == guess for gold, guess in zip(example.tags, predicted)), len(example.tags)


def tag_accuracy(examples: list[WordExample], predictions: list[list[str]]) -> float:
    """Percent of words whose predicted tag equals the gold tag (a gold tag unseen in training is wrong)."""
    counts = [tag_counts(example, predicted) for example, predicted in zip(examples, predictions)]
    return 100.0 * sum(c for c, _ in counts) / max(sum(t for _, t in counts), 1)


# the study's Universal Dependencies treebanks (v2.5 layout: one directory per language)
UD = Corpus("ud", "ud/{lang}/*-ud-{split}.conllu")
# the study's target languages of the word-level tasks (docs/method.md §2); WikiANN NER uses the same ones
UD_TARGETS = ("ar", "eu", "zh", "fi", "he", "hi", "it", "ja", "ko", "ru", "sv", "tr")


class WordLevelTask(Task):
    """Base for tasks that label every word of a pre-tokenised sentence."""

    corpus = UD
    targets = UD_TARGETS
    tag_vocab = "tags"
    few_shot_length_range = (3, 50)  # docs/method.md §4: only sentences of 3 to 50 words are few-shot candidates

    def annotation_cost(self, k, lang, prices, shot_tokens=None):
        """A flat price per annotated sentence (DEP and NER; POS prices tokens)."""
        return k * prices["usd_per_sentence"]

    def word_labels(self, example: WordExample, meta) -> dict[str, list[int]]:
        """Per-word integer targets for the batch (task-specific); IGNORE where unknown."""
        vocab = {label: i for i, label in enumerate(meta.labels[self.tag_vocab])}
        return {"labels": [vocab.get(tag, IGNORE) for tag in example.tags]}

    def encode(self, examples, tokenizer, meta, training):
        features, empty, beyond, unknown = [], 0, 0, 0
        for index, example in enumerate(examples):
            input_ids, starts, no_subword, cut_off = align_words(example.words, tokenizer, meta.max_length)
            empty, beyond = empty + no_subword, beyond + cut_off
            feature = {"example_index": index, "input_ids": input_ids, "word_starts": starts}
            if example.tags is not None or example.heads is not None:
                labels = self.word_labels(example, meta)
                unknown += sum(value == IGNORE for values in labels.values() for value in values)
                feature.update(labels)
            features.append(feature)
        if empty or beyond:
            log.warning("%s: %d words without a subword (%d that the tokenizer maps to nothing, such as zero-width "
                        "characters or soft hyphens; %d beyond max_length=%d): they are represented by the closing "
                        "special token, predicted and still scored", self.name, empty + beyond, empty, beyond,
                        meta.max_length)
        if unknown:
            # labels never seen in training: no loss on them, and at evaluation they simply count as wrong
            log.warning("%s: %d gold labels were never seen in training; they are scored as errors", self.name, unknown)
        return features

    def collate(self, features, tokenizer):
        import torch

        batch = {
            **encoder_inputs(features, tokenizer),
            "word_starts": pad([f["word_starts"] for f in features], 0),
            "n_words": torch.tensor([len(f["word_starts"]) for f in features]),
        }
        batch["word_mask"] = pad([[1] * len(f["word_starts"]) for f in features], 0).bool()
        for key in self.label_keys(features):
            batch[key] = pad([f[key] for f in features], IGNORE)
        return batch

    @staticmethod
    def label_keys(features) -> list[str]:
        return [key for key in ("labels", "heads", "relations") if features and key in features[0]]

    def finalize(self, examples, features, predictions, meta):
        """Tag ids -> tag names of the `tag_vocab` vocabulary (tagging tasks; DEP overrides)."""
        names = meta.labels[self.tag_vocab]
        return [[names[i] for i in predicted] for predicted in predictions]

    pyfunc_inputs = {"tokens": "string[]"}  # a list of words per row
    pyfunc_outputs = {"tags": "string[]"}
    pyfunc_example = {"tokens": ["The", "dog", "barks", "."]}

    def frame_from_predictions(self, predictions) -> pd.DataFrame:
        return pd.DataFrame({"tags": predictions})

    def score_counts(self, example, prediction):
        return tag_counts(example, prediction)  # POS and NER: `score` is tag accuracy

    def gold_of(self, example):
        return {"tags": list(example.tags)}

    def examples_from_frame(self, frame: pd.DataFrame) -> list[WordExample]:
        self.require_columns(frame, *self.pyfunc_inputs)
        return [WordExample(id=str(i), words=[str(w) for w in list(tokens)]) for i, tokens in enumerate(frame["tokens"])]


class UdTask(WordLevelTask):
    """Tasks on Universal Dependencies CoNLL-U, read under the task's `bad_trees` policy; `tag_column` is the
    column an example's `tags` hold (UPOS; FEATS for morphology)."""

    tag_column = "upos"

    def read_file(self, path):
        return read_conllu(path, self.bad_trees, self.tag_column)

    def read_counted(self, data_dir, lang, split):
        path = self.file_for(data_dir, lang, split)
        return cached_examples("conllu", file_sha256(path), [self.bad_trees, self.tag_column],
                               lambda: parse_conllu(path, self.bad_trees, self.tag_column), WordExample)


def per_token_cost(k: int, prices: dict, shot_tokens: int | None, lang: str) -> float:
    """Annotation priced per token (`usd_per_10_tokens`): the real token count of the sampled shots when known,
    else k x the pool's mean sentence length (`pool_mean_tokens[lang]`), else k x the default length."""
    if shot_tokens is None:
        shot_tokens = k * (prices["pool_mean_tokens"] or {}).get(lang, prices["default_tokens_per_sentence"])
    return shot_tokens / 10 * prices["usd_per_10_tokens"]
