"""UD part-of-speech tagging: UPOS per word, linear classifier, accuracy."""
from __future__ import annotations

import pandas as pd

from ..data.conllu_reader import read_conllu
from ..modeling.heads import TokenClassificationHead
from .base import TrainDefaults
from .word_level import WordLevelTask

# The 17 universal POS tags: a fixed label set, so every language maps onto the same classifier.
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "SYM", "VERB", "X")


class PosTask(WordLevelTask):
    name = "pos"
    score_metric = "accuracy"
    # SPEC §3: 50 epochs, batch 128 sentences, Adam with a fixed learning rate
    defaults = TrainDefaults(lr=5e-5, epochs=50, batch_size=128, max_length=512)
    few_shot_defaults = TrainDefaults(lr=5e-5, epochs=5, batch_size=16, max_length=512)

    def read_file(self, path):
        return read_conllu(path)

    def label_vocabs(self, examples):
        extra = sorted({tag for ex in examples for tag in ex.tags} - set(UPOS))
        return {"tags": list(UPOS) + extra}

    def build_head(self, hidden_size, meta):
        return TokenClassificationHead(hidden_size, len(meta.labels["tags"]))

    def finalize(self, examples, features, predictions, meta):
        tags = meta.labels["tags"]
        return [[tags[i] for i in predicted] for predicted in predictions]

    def score(self, examples, predictions):
        correct = total = 0
        for example, predicted in zip(examples, predictions):
            total += len(example.tags)
            correct += sum(gold == guess for gold, guess in zip(example.tags, predicted))
        return {"accuracy": 100.0 * correct / max(total, 1)}

    def frame_from_predictions(self, predictions):
        return pd.DataFrame({"tags": predictions})
