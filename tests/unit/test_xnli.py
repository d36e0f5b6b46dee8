"""XNLI: the TSV reader and its errors, pair features, the head, stand-ins, and the pyfunc frames."""
from __future__ import annotations

import pytest
import torch

from zero2hero.data.xnli import NLI_LABELS, read_xnli_tsv
from zero2hero.errors import DataError, Z2HError
from zero2hero.modeling.encoder import load_tokenizer
from zero2hero.modeling.meta import ModelMeta
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.training.config import TrainConfig


@pytest.fixture(scope="module")
def task():
    return get_task("xnli")


def _tsv(tmp_path, text, name="dev-xx.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_shared_files(task, data_dir):
    dev = task.read(data_dir, "en", "dev")
    assert len(dev) == 2490 and {ex.label for ex in dev} == set(NLI_LABELS)
    assert dev[0].id == "dev-en.tsv:0" and dev[0].hypothesis.startswith("He called his mom")
    assert len(task.read(data_dir, "de", "test")) == 5010
    assert task.pool_split(data_dir, "de") == "dev" and task.sampling_strategies == ("random",)


def test_header_blank_lines_and_label_case(tmp_path):
    path = _tsv(tmp_path, "premise\thypothesis\tlabel\nA man sleeps.\tA person rests.\tEntailment\n\n")
    [example] = read_xnli_tsv(path)
    assert example.label == "entailment"


@pytest.mark.parametrize("text, line, message", [
    ("a\tb\tneutral\na\tb\n", 2, "expected 3 tab-separated columns"),
    ("a\tb\tneutral\na\tb\tmaybe\n", 2, "unknown label 'maybe'"),
    ("a\tb\tneutral\n\t b\tneutral\n", 2, "empty premise"),
    ("\n\n", None, "no examples"),
])
def test_bad_lines_name_file_and_line(tmp_path, text, line, message):
    with pytest.raises(DataError, match=message) as error:
        read_xnli_tsv(_tsv(tmp_path, text))
    assert error.value.line == line and error.value.path.endswith("dev-xx.tsv")


def test_invalid_utf8_is_a_data_error(tmp_path):
    path = tmp_path / "dev-xx.tsv"
    path.write_bytes(b"a\tb\tneutral\n\xff\tb\tneutral\n")
    with pytest.raises(DataError, match="UTF-8") as error:
        read_xnli_tsv(path)
    assert error.value.line == 2


def test_pair_features_fixed_labels_and_truncation(task, data_dir, minilm, tiny_bert):
    tokenizer = load_tokenizer(str(minilm))
    meta = ModelMeta(task="xnli", model=str(minilm), labels=task.label_vocabs([]), max_length=128)
    assert meta.labels == {"labels": ["entailment", "neutral", "contradiction"]}
    examples = task.read(data_dir, "en", "dev")[:3]
    examples[0].premise = "word " * 300  # far beyond 128 subwords
    features = task.encode(examples, tokenizer, meta, training=True)
    assert [f["labels"] for f in features] == [NLI_LABELS.index(ex.label) for ex in examples]
    assert len(features[0]["input_ids"]) == 128 and 1 in features[0]["token_type_ids"]  # hypothesis kept
    batch = task.collate(features, tokenizer)
    assert batch["input_ids"].shape == batch["token_type_ids"].shape == (3, 128) and batch["labels"].tolist()
    assert task.n_tokens(examples[1]) == len(examples[1].premise.split())
    chinese = task.read(data_dir, "zh", "dev")[0]
    assert " " not in chinese.premise.strip()  # one whitespace "word"
    assert task.n_tokens(chinese) >= 10 and task.n_tokens(chinese, tokenizer) > 1
    assert task.n_tokens(examples[1], tokenizer) == len(tokenizer(examples[1].premise, add_special_tokens=False)["input_ids"])
    model, tiny_tokenizer = build_model(task, str(tiny_bert), None, meta.labels, 128)
    output = model(task.collate(task.encode(examples, tiny_tokenizer, model.meta, training=True), tiny_tokenizer))
    assert output["logits"].shape == (3, 3) and torch.isfinite(output["loss"])




def test_stand_in_modes(task, data_dir):
    config = TrainConfig.resolve(task.defaults, {"max_eval_examples": 0})
    train_split, dev, test = task.source_splits(data_dir, "auto", config)  # HF_HUB_OFFLINE=1: MultiNLI cannot load
    assert (len(train_split.examples), len(dev.examples), len(test.examples)) == (2241, 249, 5010)
    whole = task.read(data_dir, "en", "dev")
    assert dev.examples[0].id == whole[2241].id and dev.examples[-1].id == whole[-1].id  # the last 10%
    assert train_split.tags["z2h.stand_in"] == "xnli-dev-en"
    assert "MultiNLI" in train_split.tags["mlflow.note.content"] and "OfflineModeIsEnabled" in train_split.tags["mlflow.note.content"]
    assert train_split.content_key != dev.content_key
    capped = task.source_splits(data_dir, "yes", TrainConfig.resolve(task.defaults, {"max_train_examples": 100,
                                                                                      "max_eval_examples": 50}))
    assert [len(split.examples) for split in capped] == [100, 50, 50] and capped[0].tags["z2h.stand_in"]
    with pytest.raises(Z2HError, match="stand_in=no"):
        task.source_splits(data_dir, "no", config)
    with pytest.raises(Z2HError, match="stand_in"):
        task.source_splits(data_dir, "maybe", config)
