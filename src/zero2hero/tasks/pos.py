"""UD part-of-speech tagging: UPOS per word, linear classifier, accuracy."""
from __future__ import annotations

from .base import TrainDefaults
from .word_level import UdTask, per_token_cost, tag_accuracy

# The 17 universal POS tags: a fixed label set, so every language maps onto the same classifier.
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
        "PUNCT", "SCONJ", "SYM", "VERB", "X")


class PosTask(UdTask):
    name = "pos"
    score_metric = "accuracy"
    # docs/method.md §3: 50 epochs, batch 128 sentences, Adam with a fixed learning rate
    defaults = TrainDefaults(lr=5e-5, epochs=50, batch_size=128, max_length=512)
    few_shot_defaults = TrainDefaults(lr=5e-5, epochs=5, batch_size=16, max_length=512)
    # docs/method.md §6.4: priced per token ($0.05 per 10 tokens)
    cost_defaults = {"usd_per_10_tokens": 0.05,
                     "default_tokens_per_sentence": 14.6,  # 14,619 tokens / 1,000 tweets in the cited corpus
                     "pool_mean_tokens": {}}  # lang -> mean words per sentence in its pool
    priced_by_shot_tokens = True

    def annotation_cost(self, k, lang, prices, shot_tokens=None):
        return per_token_cost(k, prices, shot_tokens, lang)

    def label_vocabs(self, examples):
        extra = sorted({tag for ex in examples for tag in ex.tags} - set(UPOS))
        return {"tags": list(UPOS) + extra}

    def build_head(self, hidden_size, meta):
        from ..modeling.heads import TokenClassificationHead

        return TokenClassificationHead(hidden_size, len(meta.labels["tags"]))

    def score(self, examples, predictions):
        return {"accuracy": tag_accuracy(examples, predictions)}
