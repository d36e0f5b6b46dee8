"""UD morphological features: the FEATS column of the same treebanks as POS and DEP, one label per word.

As UDPipe tags it, a word's whole feature bundle (`Case=Nom|Number=Sing`, or `_` for none) is one label of a
linear classifier over the word's first subword; a bundle never seen in training is simply wrong. `accuracy`
(the `score`) counts words whose bundle is exactly right; `feature_precision`/`feature_recall`/`feature_f1` are
micro-averaged over the single Name=Value pairs, so a bundle right in all but one feature still earns credit.
Morphology is where agglutinative targets (Turkish, Finnish, Basque) differ most from English.
"""
from __future__ import annotations

from .base import TrainDefaults
from .word_level import UdTask, per_token_cost, tag_accuracy

NONE = "_"


def feature_pairs(bundle: str) -> set[str]:
    """`Case=Nom|Number=Sing` -> {"Case=Nom", "Number=Sing"}; `_` -> empty."""
    return set() if bundle == NONE else set(bundle.split("|"))


def feature_scores(examples, predictions) -> dict[str, float]:
    """Micro precision/recall/F1 (percent) over the Name=Value pairs of every word."""
    right = guessed = gold_total = 0
    for example, predicted in zip(examples, predictions):
        for gold, guess in zip(example.tags, predicted):
            gold_pairs, guess_pairs = feature_pairs(gold), feature_pairs(guess)
            right += len(gold_pairs & guess_pairs)
            guessed += len(guess_pairs)
            gold_total += len(gold_pairs)
    precision = 100.0 * right / guessed if guessed else 0.0
    recall = 100.0 * right / gold_total if gold_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    if not guessed and not gold_total:  # no features anywhere, none predicted: nothing was missed
        precision = recall = f1 = 100.0
    return {"feature_precision": precision, "feature_recall": recall, "feature_f1": f1}


class FeatsTask(UdTask):
    name = "feats"
    tag_column = "feats"
    score_metric = "accuracy"
    # as POS (docs/method.md §3): the same treebanks, a word-level classifier
    defaults = TrainDefaults(lr=5e-5, epochs=50, batch_size=128, max_length=512)
    few_shot_defaults = TrainDefaults(lr=5e-5, epochs=5, batch_size=16, max_length=512)
    # No published price for FEATS alone: priced per token like UPOS at twice its rate, as a bundle of several
    # decisions per word (docs/method.md §6.4); a costs YAML overrides it under `feats`.
    cost_defaults = {"usd_per_10_tokens": 0.10, "default_tokens_per_sentence": 14.6, "pool_mean_tokens": {}}
    priced_by_shot_tokens = True

    def label_vocabs(self, examples):
        return {"tags": sorted({tag for example in examples for tag in example.tags})}

    def build_head(self, hidden_size, meta):
        from ..modeling.heads import TokenClassificationHead

        return TokenClassificationHead(hidden_size, len(meta.labels["tags"]))

    def score(self, examples, predictions):
        return {"accuracy": tag_accuracy(examples, predictions), **feature_scores(examples, predictions)}

    def annotation_cost(self, k, lang, prices, shot_tokens=None):
        return per_token_cost(k, prices, shot_tokens, lang)
