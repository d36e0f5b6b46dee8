"""XNLI natural language inference: premise/hypothesis pairs, softmax over the first token, accuracy.

Data: English training is MultiNLI (`multinli/train-en.tsv` under data_dir, else the hub `nyu-mll/multi_nli`);
dev and test are the XNLI TSV files under `data_dir/xnli` (English: else the hub `facebook/xnli`; `data_dir=hub`:
every language from the hub). The few-shot pool of every language is its XNLI dev split.
Offline stand-in (docs/method.md §9): the English XNLI dev split stands in for MultiNLI train, with its last 10%
held out as the source dev set; the English XNLI test split stays the test set.
"""
from __future__ import annotations

import pandas as pd

from ..data.corpus import Corpus, HubSet
from ..data.examples import NliExample
from ..data.files import english_train_split, local_or_hub
from ..data.squad_scoring import answer_tokens
from ..data.stand_ins import real_or_stand_in
from ..data.xnli import NLI_LABELS, read_xnli_tsv, write_nli_rows
from ..languages import SOURCE_LANG
from .base import Task, TrainDefaults
from .padding import encoder_inputs

HELD_OUT = 0.1  # docs/method.md §9: the last 10% of the stand-in is the source dev set
XNLI_HUB_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
XNLI = Corpus("xnli", "xnli/{split}-{lang}.tsv",
              HubSet("facebook/xnli", {"dev": "validation", "test": "test"}, lambda lang: lang, XNLI_HUB_LANGS,
                     write_nli_rows))
# English MultiNLI train in the XNLI TSV format (the English training data)
MULTINLI = Corpus("multinli", "multinli/{split}-{lang}.tsv",
                  HubSet("nyu-mll/multi_nli", {"train": "train"}, lambda lang: None, ("en",), write_nli_rows))


class XnliTask(Task):
    name = "xnli"
    corpus = XNLI
    targets = ("fr", "es", "de", "el", "bg", "ru", "tr", "ar", "vi", "th", "zh", "hi", "sw", "ur")
    score_metric = "accuracy"
    # docs/method.md §3: epochs {2, 3}, batch 32, lr {5e-5, 3e-5}; 128 subwords
    defaults = TrainDefaults(lr=5e-5, epochs=2, batch_size=32, max_length=128)
    few_shot_defaults = TrainDefaults(lr=2e-5, epochs=5, batch_size=16, max_length=128)
    sampling_strategies = ("random",)
    cost_defaults = {"usd_per_instance": 2030 / 200_000}  # docs/method.md §6.4, SICK: $2,030 per 200k judgments

    def annotation_cost(self, k, lang, prices, shot_tokens=None):
        return k * prices["usd_per_instance"]

    # ---- data ----
    def read_file(self, path):
        return read_xnli_tsv(path)

    def pool_split(self, data_dir, lang):
        return "dev"  # docs/method.md §4: XNLI has no target-language train split; dev is the pool

    def n_tokens(self, example: NliExample, tokenizer=None) -> int:
        """Size of a pair for few-shot records: subwords of the premise under the source model's tokenizer
        (what few_shot records). Without a tokenizer: whitespace words, each character of a script written
        without spaces (Chinese, Thai, ...) counting as one, so a Chinese premise is not one "word"."""
        if tokenizer is not None:
            return len(tokenizer(example.premise, add_special_tokens=False)["input_ids"])
        return len(answer_tokens(example.premise))

    def source_splits(self, data_dir, stand_in, config):
        """(train, dev, test) for source training: MultiNLI train, English XNLI dev and test."""

        def real():
            train = english_train_split(data_dir, MULTINLI, read_xnli_tsv, "MultiNLI")
            return train, local_or_hub(self, data_dir, SOURCE_LANG, "dev")

        def stand():
            dev = local_or_hub(self, data_dir, SOURCE_LANG, "dev")
            cut = len(dev.examples) - round(HELD_OUT * len(dev.examples))
            return dev.subset("train", dev.examples[:cut], f"first:{cut}"), dev.subset("dev", dev.examples[cut:], f"from:{cut}")

        (train, dev), tags = real_or_stand_in(
            stand_in, real, stand, "MultiNLI", "xnli-dev-en",
            f"the English XNLI dev split stands in for MultiNLI train, its last {HELD_OUT:.0%} held out as the "
            "source dev set; the English XNLI test split stays the test set.")
        train.tags.update(tags)
        test = local_or_hub(self, data_dir, SOURCE_LANG, "test")
        return (train.head(config.max_train_examples), dev.head(config.max_eval_examples),
                test.head(config.max_eval_examples))

    # ---- model ----
    def label_vocabs(self, examples):
        return {"labels": list(NLI_LABELS)}  # fixed order: every language and checkpoint agree

    def build_head(self, hidden_size, meta):
        from ..modeling.classification_head import SentenceClassificationHead

        return SentenceClassificationHead(hidden_size, len(meta.labels["labels"]))

    # ---- features ----
    def encode(self, examples, tokenizer, meta, training):
        """One feature per pair: [CLS] premise [SEP] hypothesis [SEP], the longer side cut first to max_length."""
        encoding = tokenizer([ex.premise for ex in examples], [ex.hypothesis for ex in examples],
                             truncation=True, max_length=meta.max_length)
        vocab = {label: i for i, label in enumerate(meta.labels["labels"])}
        use_types = "token_type_ids" in tokenizer.model_input_names and "token_type_ids" in encoding
        features = []
        for index, example in enumerate(examples):
            feature = {"example_index": index, "input_ids": encoding["input_ids"][index]}
            if use_types:
                feature["token_type_ids"] = encoding["token_type_ids"][index]
            if example.label is not None:
                feature["labels"] = vocab[example.label]
            features.append(feature)
        return features

    def collate(self, features, tokenizer):
        import torch

        batch = encoder_inputs(features, tokenizer)
        if features and "labels" in features[0]:
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
        return batch

    def finalize(self, examples, features, predictions, meta):
        labels = meta.labels["labels"]
        return [labels[i] for i in predictions]

    # ---- scoring ----
    def score(self, examples, predictions):
        correct = sum(self.score_counts(example, predicted)[0] for example, predicted in zip(examples, predictions))
        return {"accuracy": 100.0 * correct / max(len(examples), 1)}

    def score_counts(self, example, prediction):
        return int(example.label == prediction), 1

    def gold_of(self, example):
        return {"label": example.label}

    # ---- pyfunc ----
    pyfunc_inputs = {"premise": "string", "hypothesis": "string"}
    pyfunc_outputs = {"label": "string"}
    pyfunc_example = {"premise": "The dog sleeps in the garden.", "hypothesis": "An animal is asleep."}

    def examples_from_frame(self, frame):
        self.require_columns(frame, *self.pyfunc_inputs)
        return [NliExample(str(i), str(p), str(h)) for i, (p, h) in enumerate(zip(frame["premise"], frame["hypothesis"]))]

    def frame_from_predictions(self, predictions):
        return pd.DataFrame({"label": predictions})
