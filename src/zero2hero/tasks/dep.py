"""UD dependency parsing: biaffine arc scorer over first-subword vectors, tree decoding, UAS (and LAS).

Options (task attributes, or `ModelMeta.head_config` recorded in the checkpoint):
- `count_punctuation` (default True, as in the study): whether words with UPOS PUNCT count in `uas`/`las`;
  `uas_no_punct` / `las_no_punct` are reported either way.
- head_config `decoder`: "mst" (Chu–Liu/Edmonds, exactly one root; default) or "greedy" (best head per word).
"""
from __future__ import annotations

import pandas as pd

from ..modeling.meta import IGNORE
from .base import TrainDefaults
from .word_level import UdTask

PUNCT = "PUNCT"


def attachment_counts(example, prediction, count_punctuation: bool = True) -> tuple[int, int, int]:
    """(words scored, right heads, right heads and relations) of one sentence; `prediction` = (heads, relations)."""
    heads, relations = prediction
    words = unlabelled = labelled = 0
    for i, (gold_head, gold_relation) in enumerate(zip(example.heads, example.relations)):
        if not count_punctuation and example.tags and example.tags[i] == PUNCT:
            continue
        words += 1
        if i < len(heads) and heads[i] == gold_head:
            unlabelled += 1
            labelled += relations[i] == gold_relation
    return words, unlabelled, labelled


def attachment_scores(examples, predictions, count_punctuation: bool = True) -> dict[str, float]:
    """UAS and LAS in percent over words of `examples` (gold heads/relations/UPOS) given
    `predictions` = per sentence (heads, relations). A relation the model cannot produce is simply wrong."""
    counts = [attachment_counts(example, prediction, count_punctuation) for example, prediction in zip(examples, predictions)]
    words = max(sum(c[0] for c in counts), 1)
    return {"uas": 100.0 * sum(c[1] for c in counts) / words, "las": 100.0 * sum(c[2] for c in counts) / words}


class DepTask(UdTask):
    name = "dep"
    score_metric = "uas"
    relation_vocab = "relations"
    count_punctuation = True  # docs/method.md §2: punctuation is included unless configured
    # docs/method.md §3: 50 epochs, batch 128 sentences, Adam with a fixed learning rate
    defaults = TrainDefaults(lr=5e-5, epochs=50, batch_size=128, max_length=512)
    few_shot_defaults = TrainDefaults(lr=5e-5, epochs=5, batch_size=16, max_length=512)
    cost_defaults = {"usd_per_sentence": 0.28}  # docs/method.md §6.4: flat; the 72% figure is context, not a divisor

    def label_vocabs(self, examples):
        return {self.relation_vocab: sorted({relation for ex in examples for relation in ex.relations})}

    def build_head(self, hidden_size, meta):
        from ..modeling.biaffine import DEFAULT_CONFIG, BiaffineDependencyHead

        # defaults filled into the meta so that the checkpoint records how its head was built
        meta.head_config = {**DEFAULT_CONFIG, **meta.head_config}
        return BiaffineDependencyHead(hidden_size, len(meta.labels[self.relation_vocab]), meta.head_config)

    def word_labels(self, example, meta):
        vocab = {relation: i for i, relation in enumerate(meta.labels[self.relation_vocab])}
        return {"heads": list(example.heads), "relations": [vocab.get(r, IGNORE) for r in example.relations]}

    def finalize(self, examples, features, predictions, meta):
        names = meta.labels[self.relation_vocab]
        return [(heads, [names[i] for i in relations]) for heads, relations in predictions]

    def score(self, examples, predictions):
        metrics = attachment_scores(examples, predictions, self.count_punctuation)
        without = attachment_scores(examples, predictions, count_punctuation=False)
        metrics.update({"uas_no_punct": without["uas"], "las_no_punct": without["las"]})
        return metrics

    pyfunc_outputs = {"heads": "long[]", "relations": "string[]"}

    def score_counts(self, example, prediction):
        words, unlabelled, _ = attachment_counts(example, prediction, self.count_punctuation)
        return unlabelled, words

    def gold_of(self, example):
        return {"heads": list(example.heads), "relations": list(example.relations)}

    def frame_from_predictions(self, predictions):
        return pd.DataFrame({"heads": [heads for heads, _ in predictions],
                             "relations": [relations for _, relations in predictions]})
