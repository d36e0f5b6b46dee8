"""WikiANN named-entity recognition: CRF over first-subword vectors; token accuracy (the study's metric),
seqeval entity F1/precision/recall and per-type F1 (`f1_PER`, `f1_LOC`, `f1_ORG`) in seqeval's default
(conlleval) mode, as XTREME reports them, plus `f1_strict`/`precision_strict`/`recall_strict` in strict IOB2
mode. The two differ on spans that start with `I-` (a few hundred ja/zh WikiANN test sentences): conlleval
counts such a span as an entity, strict IOB2 does not, so a perfect prediction of those golds scores 100 in
`f1` but less in `f1_strict`.

`data_dir=hub` reads `unimelb-nlp/wikiann` from the Hugging Face hub instead of local files (internet needed;
data/hub.py keeps a local copy).
"""
from __future__ import annotations

import warnings

from ..data.corpus import Corpus, HubSet
from ..data.wikiann import read_wikiann, write_hub_rows
from ..modeling.meta import IGNORE, OUTSIDE, may_follow
from .base import TrainDefaults
from .word_level import WordLevelTask, tag_accuracy

WIKIANN = Corpus("wikiann", "wikiann/{lang}/{split}-{lang}.tsv",
                 HubSet("unimelb-nlp/wikiann", {"train": "train", "dev": "validation", "test": "test"},
                        lambda lang: lang, None, write_hub_rows))  # the hub has all 176 languages


def repair_iob2(tags: list[str]) -> list[str]:
    """Make a tag sequence valid IOB2: an I-X that does not continue an X entity starts one (B-X).

    Used on training targets only (a few ja/zh WikiANN sentences break IOB2, and the constrained CRF
    cannot represent them); scoring always compares with the gold tags as given.
    """
    repaired, previous = [], OUTSIDE
    for tag in tags:
        if not may_follow(previous, tag):
            tag = f"B-{tag[2:]}"
        repaired.append(tag)
        previous = tag
    return repaired


def entity_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """seqeval micro precision/recall/F1 and per-type F1 in default (conlleval) mode, and micro
    precision/recall/F1 in strict IOB2 mode (`*_strict`), in percent."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    with warnings.catch_warnings():  # numpy warns about averaging zero entities (a sample without any)
        warnings.simplefilter("ignore", RuntimeWarning)
        default = classification_report(gold, predicted, output_dict=True, zero_division=0)
        strict = classification_report(gold, predicted, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    metrics = {}
    for suffix, report in (("", default), ("_strict", strict)):
        micro = report.pop("micro avg")
        metrics.update({f"precision{suffix}": 100.0 * float(micro["precision"]),
                        f"recall{suffix}": 100.0 * float(micro["recall"]), f"f1{suffix}": 100.0 * float(micro["f1-score"])})
    for name, values in default.items():
        if not name.endswith(" avg"):
            metrics[f"f1_{name}"] = 100.0 * float(values["f1-score"])
    return metrics


class NerTask(WordLevelTask):
    name = "ner"
    corpus = WIKIANN
    score_metric = "accuracy"
    # docs/method.md §3: 10 epochs, batch 128 sentences, Adam with a fixed learning rate
    defaults = TrainDefaults(lr=5e-5, epochs=10, batch_size=128, max_length=512)
    few_shot_defaults = TrainDefaults(lr=5e-5, epochs=5, batch_size=16, max_length=512)
    cost_defaults = {"usd_per_sentence": 0.06}  # docs/method.md §6.4: $11.37/hour median pay, ~190 sentences/hour

    def read_file(self, path):
        return read_wikiann(path)

    def label_vocabs(self, examples):
        # "O" first (the CRF head reads unknown ids as 0); both B- and I- of every type seen
        types = sorted({tag[2:] for ex in examples for tag in ex.tags if tag != OUTSIDE})
        return {"tags": [OUTSIDE] + [f"{prefix}-{kind}" for kind in types for prefix in ("B", "I")]}

    def build_head(self, hidden_size, meta):
        from ..modeling.crf import CrfTaggingHead

        return CrfTaggingHead(hidden_size, meta.labels["tags"])

    def word_labels(self, example, meta):
        vocab = {tag: i for i, tag in enumerate(meta.labels["tags"])}
        return {"labels": [vocab.get(tag, IGNORE) for tag in repair_iob2(example.tags)]}

    def score(self, examples, predictions):
        metrics = {"accuracy": tag_accuracy(examples, predictions)}
        metrics.update(entity_scores([ex.tags for ex in examples], [list(p) for p in predictions]))
        return metrics
