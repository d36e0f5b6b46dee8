"""XQuAD / SQuAD extractive question answering: span head, exact match (score) and F1.

Data: English training is SQuAD v1.1 (`squad/train-v1.1.json` under data_dir, else the hub `rajpurkar/squad`;
`data_dir=hub` reads every XQuAD language from `google/xquad`, its articles named through SQuAD v1.1 dev);
each `xquad/xquad.<lang>.json` is split by article: the first 10 articles (file order) are the pool (few-shot
data; `dev` is accepted as its alias) and the other 38 the test set. The English pool is the source dev set.
Offline stand-in (docs/method.md §9): the English pool's first 9 articles stand in for SQuAD train and its 10th is dev.
"""
from __future__ import annotations

import logging
from collections import defaultdict

import pandas as pd

from ..data.corpus import Corpus, HubSet
from ..data.examples import QaExample
from ..data.files import english_train_split, find_file, local_or_hub
from ..data.squad import POOL_ARTICLES, read_squad_json, select_articles, write_squad_rows
from ..data.squad_scoring import exact_match, squad_scores
from ..data.stand_ins import real_or_stand_in
from ..errors import Z2HError
from ..languages import SOURCE_LANG
from .base import Task, TrainDefaults
from .padding import encoder_inputs
from .xquad_windows import MAX_ANSWER_SUBWORDS, best_span, window_features

log = logging.getLogger(__name__)

PARTS = {"pool": "pool", "dev": "pool", "test": "test"}  # split name -> article part of the file
# SQuAD v1.1: the English training data (dev names the articles of hub XQuAD rows, which carry no title)
SQUAD = Corpus("squad", "squad/{split}-v1.1.json",
               HubSet("rajpurkar/squad", {"train": "train", "dev": "validation"}, lambda lang: None, ("en",),
                      write_squad_rows))


def _write_hub_xquad(rows, path, lang: str) -> None:
    """google/xquad rows have no title: the articles are named through SQuAD v1.1 dev, where every id is."""
    from ..data.hub import hub_file

    dev = read_squad_json(hub_file(SQUAD, "en", "dev"))
    write_squad_rows(rows, path, lang, {example.id: example.article for example in dev})


# one hub split holds all 48 articles; the task splits them into pool and test (file name: the test split's)
XQUAD = Corpus("xquad", "xquad/xquad.{lang}.json",
               HubSet("google/xquad", {"test": "validation"}, lambda lang: f"xquad.{lang}",
                      ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh"), _write_hub_xquad))


class XquadTask(Task):
    name = "xquad"
    corpus = XQUAD
    targets = ("es", "de", "el", "ru", "tr", "ar", "vi", "th", "zh", "hi")
    k_values = (0, 2, 4, 6, 8, 10)  # docs/method.md §4: k counts articles
    k_unit = "articles"
    score_metric = "exact_match"
    selection_metric = "f1"  # best epoch by dev F1 (see Task.selection_metric)
    # docs/method.md §3: epochs {2, 3}, batch 12, lr {5e-5, 3e-5}; 384 subwords
    defaults = TrainDefaults(lr=5e-5, epochs=2, batch_size=12, max_length=384)
    few_shot_defaults = TrainDefaults(lr=3e-5, epochs=5, batch_size=8, max_length=384)
    sampling_strategies = ("random",)
    # docs/method.md §6.4: annotators paid by the hour, minutes per paragraph, paragraphs per article
    cost_defaults = {"usd_per_hour": 9.0, "minutes_per_paragraph": 4.0, "paragraphs_per_article": 5.0}

    def annotation_cost(self, k, lang, prices, shot_tokens=None):
        hours = prices["minutes_per_paragraph"] * prices["paragraphs_per_article"] / 60
        return k * hours * prices["usd_per_hour"]

    # ---- data ----
    @staticmethod
    def part(split: str) -> str:
        if split not in PARTS:
            raise Z2HError(f"xquad has no {split!r} split: its splits are pool (the first {POOL_ARTICLES} articles of "
                           f"each xquad.<lang>.json; alias dev) and test (the other articles); English training data "
                           f"is SQuAD, loaded by the source stage")
        return PARTS[split]

    def read_file(self, path):
        return read_squad_json(path)

    def file_for(self, data_dir, lang, split):
        self.part(split)
        return find_file(data_dir, self.corpus, lang, "test")  # one file per language holds every split

    def read(self, data_dir, lang, split):
        return select_articles(self.read_file(self.file_for(data_dir, lang, split)), self.part(split))

    def split_selection(self, split):
        part = self.part(split)
        return f"articles:1-{POOL_ARTICLES}" if part == "pool" else f"articles:{POOL_ARTICLES + 1}-"

    def pool_split(self, data_dir, lang):
        return "pool"

    def n_tokens(self, example: QaExample, tokenizer=None) -> int:
        return 1  # one question; few-shot records count an article by its paragraphs (unit_size)

    def sampling_units(self, examples):
        """One unit per article (id = title), in file order: few-shot k counts articles."""
        units: dict[int, tuple[str, list[int]]] = {}
        for index, example in enumerate(examples):
            units.setdefault(example.article_index, (example.article, []))[1].append(index)
        return list(units.values())

    def unit_size(self, examples, indices, tokenizer=None):
        return len({examples[i].paragraph for i in indices})

    def source_splits(self, data_dir, stand_in, config):
        """(train, dev, test) for source training: SQuAD train, the English pool, the English test articles."""
        pool = local_or_hub(self, data_dir, SOURCE_LANG, "pool")
        test = local_or_hub(self, data_dir, SOURCE_LANG, "test")

        def real():
            return english_train_split(data_dir, SQUAD, read_squad_json, "SQuAD v1.1"), pool

        def stand():
            last = max(ex.article_index for ex in pool.examples)
            train = [ex for ex in pool.examples if ex.article_index != last]
            held_out = [ex for ex in pool.examples if ex.article_index == last]
            return pool.subset("train", train, "not-last-article"), pool.subset("dev", held_out, "last-article")

        (train, dev), tags = real_or_stand_in(
            stand_in, real, stand, "SQuAD v1.1", "xquad-pool-en",
            f"the first {POOL_ARTICLES - 1} English XQuAD pool articles stand in for SQuAD v1.1 train, the "
            f"{POOL_ARTICLES}th is the source dev set; the English XQuAD test articles stay the test set.")
        train.tags.update(tags)
        return (train.head(config.max_train_examples), dev.head(config.max_eval_examples),
                test.head(config.max_eval_examples))

    # ---- model ----
    def label_vocabs(self, examples):
        return {}

    def build_head(self, hidden_size, meta):
        from ..modeling.span_head import SpanHead

        return SpanHead(hidden_size)

    # ---- features ----
    def encode(self, examples, tokenizer, meta, training):
        features, left_out = window_features(examples, tokenizer, meta.max_length, training)
        if left_out:
            log.warning("%d of %d questions have no answer found in their context (see the reader's warning) and are "
                        "left out of training", left_out, len(examples))
        return features

    def collate(self, features, tokenizer):
        import torch

        batch = encoder_inputs(features, tokenizer)
        if features and "start_positions" in features[0]:
            for key in ("start_positions", "end_positions"):
                batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)
        return batch

    def finalize(self, examples, features, predictions, meta):
        """Best span over each question's windows -> (answer text, character start); ("", -1) when none is valid."""
        windows = defaultdict(list)
        for feature, logits in zip(features, predictions):
            windows[feature["example_index"]].append((feature["offsets"], logits))
        max_answer = meta.head_config.get("max_answer_subwords", MAX_ANSWER_SUBWORDS)
        answers = []
        for index, example in enumerate(examples):
            span = best_span(windows.get(index, []), max_answer)
            answers.append((example.context[span[0]:span[1]], span[0]) if span else ("", -1))
        return answers

    # ---- scoring ----
    def score(self, examples, predictions):
        return squad_scores([text for text, _ in predictions], [[a.text for a in ex.answers] for ex in examples])

    def score_counts(self, example, prediction):
        return max((exact_match(prediction[0], answer.text) for answer in example.answers), default=0.0), 1

    def gold_of(self, example):
        return {"answers": [answer.text for answer in example.answers]}

    # ---- pyfunc ----
    pyfunc_inputs = {"question": "string", "context": "string"}
    pyfunc_outputs = {"answer": "string", "start": "long"}
    pyfunc_example = {"question": "Where does the dog sleep?", "context": "The dog sleeps in the garden."}

    def examples_from_frame(self, frame):
        self.require_columns(frame, *self.pyfunc_inputs)
        return [QaExample(str(i), str(q), str(c)) for i, (q, c) in enumerate(zip(frame["question"], frame["context"]))]

    def frame_from_predictions(self, predictions):
        return pd.DataFrame({"answer": [text for text, _ in predictions], "start": [start for _, start in predictions]})
