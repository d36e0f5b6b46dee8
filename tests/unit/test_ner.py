"""NER: the CRF against brute-force enumeration, IOB2 constraints, the WikiANN readers, metrics, tiny models."""
from __future__ import annotations

import itertools
import logging

import pytest
import torch

from zero2hero.data.examples import WordExample
from zero2hero.data.wikiann import read_wikiann
from zero2hero.errors import DataError, Z2HError
from zero2hero.modeling.crf import ConditionalRandomField, iob2_allowed, is_valid_iob2
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.tasks.ner import repair_iob2

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _random_crf(constrain: bool, seed: int = 0) -> ConditionalRandomField:
    torch.manual_seed(seed)
    crf = ConditionalRandomField(LABELS, constrain_iob2=constrain)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def _brute_force(crf, emissions, length, valid_only):
    """(log Z, best score, best path) of one sentence by enumerating every tag sequence."""
    scores = {}
    for path in itertools.product(range(len(LABELS)), repeat=length):
        if valid_only and not is_valid_iob2([LABELS[i] for i in path]):
            continue
        score = crf.start[path[0]] + crf.end[path[-1]] + sum(emissions[t, path[t]] for t in range(length))
        score = score + sum(crf.transitions[path[t - 1], path[t]] for t in range(1, length))
        scores[path] = score
    best = max(scores, key=lambda p: scores[p])
    return torch.logsumexp(torch.stack(list(scores.values())), 0), scores[best], list(best)


@pytest.mark.parametrize("constrain", [False, True])
def test_crf_likelihood_and_viterbi_match_brute_force(constrain):
    crf = _random_crf(constrain)
    torch.manual_seed(1)
    emissions = torch.randn(3, 4, len(LABELS))
    lengths = [4, 2, 1]  # padding after each sentence's end must not change anything
    mask = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
    gold = torch.tensor([[1, 2, 0, 3], [3, 4, 0, 0], [0, 0, 0, 0]])
    log_likelihood = crf.log_likelihood(emissions, gold, mask)
    decoded = crf.viterbi(emissions, mask)
    for b, length in enumerate(lengths):
        log_z, best_score, best_path = _brute_force(crf, emissions[b], length, valid_only=constrain)
        gold_path = gold[b, :length].tolist()
        gold_score = _brute_force_score(crf, emissions[b], gold_path)
        assert torch.allclose(log_likelihood[b], gold_score - log_z, atol=1e-4)
        assert decoded[b] == best_path
        assert torch.allclose(_brute_force_score(crf, emissions[b], decoded[b]), best_score, atol=1e-5)


def _brute_force_score(crf, emissions, path):
    score = crf.start[path[0]] + crf.end[path[-1]] + sum(emissions[t, p] for t, p in enumerate(path))
    return score + sum(crf.transitions[path[t - 1], path[t]] for t in range(1, len(path)))


def test_iob2_constraints_hold_even_when_emissions_prefer_inside_tags():
    allowed, start = iob2_allowed(LABELS)
    assert not start[LABELS.index("I-PER")] and start[LABELS.index("B-PER")] and start[0]
    assert allowed[LABELS.index("B-PER"), LABELS.index("I-PER")] and allowed[LABELS.index("I-PER"), LABELS.index("I-PER")]
    assert not allowed[0, LABELS.index("I-PER")] and not allowed[LABELS.index("B-LOC"), LABELS.index("I-PER")]
    crf = _random_crf(True, seed=3)
    emissions = torch.randn(16, 9, len(LABELS))
    emissions[:, :, [2, 4]] += 8.0  # inside tags everywhere would win without the constraints
    for path in crf.viterbi(emissions, torch.ones(16, 9, dtype=torch.bool)):
        assert is_valid_iob2([LABELS[i] for i in path])


def test_repair_iob2():
    assert repair_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-PER"]) == \
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-PER"]
    assert repair_iob2(["B-ORG", "I-ORG"]) == ["B-ORG", "I-ORG"]


def test_wikiann_reader_formats_and_bad_lines(tmp_path):
    plain = tmp_path / "train-xx.tsv"
    plain.write_text("Karl\tB-PER\nOve\tI-PER\n(\tO\n\n\nParis\tB-LOC\n")
    examples = read_wikiann(plain)
    assert [e.words for e in examples] == [["Karl", "Ove", "("], ["Paris"]]
    assert examples[0].tags == ["B-PER", "I-PER", "O"] and examples[1].id == "train-xx.tsv:1"
    rahimi = tmp_path / "rahimi.tsv"
    rahimi.write_text("en:Karl\tB-PER\nen:Ove\tI-PER\n\nen:http://x\tO\n")
    assert [e.words for e in read_wikiann(rahimi)] == [["Karl", "Ove"], ["http://x"]]
    mixed = tmp_path / "mixed.tsv"
    mixed.write_text("re:\tO\nFoo\tB-ORG\n")  # a colon in some tokens only: not the prefixed format
    assert read_wikiann(mixed)[0].words == ["re:", "Foo"]
    for text, line, message in (("a\tO\nb\tO\tX\n", 2, "2 tab-separated columns"), ("a\tO\n\nb O\n", 3, "found 1"),
                                ("a\tB-PER\nb\tPERSON\n", 2, "not IOB2"), ("\n\n", None, "empty file")):
        bad = tmp_path / "bad.tsv"
        bad.write_text(text)
        with pytest.raises(DataError, match=message) as error:
            read_wikiann(bad)
        assert error.value.path == str(bad) and error.value.line == line


def test_swedish_wikiann_is_missing_with_the_file_named(data_dir):
    with pytest.raises(Z2HError, match=r"wikiann/sv/test-sv\.tsv"):
        get_task("ner").file_for(data_dir, "sv", "test")


def test_scores_count_unseen_tags_as_wrong_and_warn(tiny_bert, caplog):
    task = get_task("ner")
    seen = [WordExample("a", ["Ada", "in", "Paris"], ["B-PER", "O", "B-LOC"])]
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(seen), 64)
    assert model.meta.labels["tags"] == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    gold = [WordExample("b", ["IBM", "Corp", "in", "Rome"], ["B-ORG", "I-ORG", "O", "B-LOC"])]
    with caplog.at_level(logging.WARNING):
        task.encode(gold, tokenizer, model.meta, training=False)
    assert "2 gold labels were never seen in training" in caplog.text
    metrics = task.score(gold, [["O", "O", "O", "B-LOC"]])
    assert metrics["accuracy"] == 50.0 and metrics["f1_LOC"] == 100.0 and metrics["f1_ORG"] == 0.0
    assert metrics["precision"] == 100.0 and metrics["recall"] == 50.0
    assert metrics["f1"] == pytest.approx(100 * 2 * 0.5 / 1.5)


def test_gold_starting_with_inside_tag_is_an_entity_in_f1_not_in_f1_strict():
    """conlleval (seqeval's default mode, what XTREME reports) reads a span opened by I-X as an X entity;
    strict IOB2 does not. The constrained CRF can only output B-LOC I-LOC for it: right under conlleval,
    a spurious entity under strict IOB2 (whose gold has no LOC entity at all)."""
    task = get_task("ner")
    gold = [WordExample("a", ["東京", "都", "に"], ["I-LOC", "I-LOC", "O"]),
            WordExample("b", ["Ada", "Lovelace"], ["B-PER", "I-PER"])]
    metrics = task.score(gold, [["B-LOC", "I-LOC", "O"], ["B-PER", "I-PER"]])
    assert metrics["f1"] == metrics["precision"] == metrics["recall"] == 100.0
    assert metrics["f1_LOC"] == 100.0 and metrics["f1_PER"] == 100.0
    assert metrics["recall_strict"] == 100.0 and metrics["precision_strict"] == 50.0  # gold: Ada Lovelace only
    assert metrics["f1_strict"] == pytest.approx(100 * 2 * 0.5 / 1.5)
    missed = task.score(gold, [["O", "O", "O"], ["B-PER", "I-PER"]])  # missing the I- span costs recall in f1 only
    assert missed["recall"] == 50.0 and missed["recall_strict"] == 100.0 and missed["f1_strict"] == 100.0




@pytest.mark.integration
def test_cli_reports_bad_wikiann_line_and_missing_swedish(tmp_path, tiny_bert, data_dir, local_tracking):
    from helpers import z2h

    root = tmp_path / "data" / "wikiann" / "en"
    root.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        (root / f"{split}-en.tsv").write_text("Ada\tB-PER\nLovelace\tI-PER\n\nParis\tB-LOC\n")
    bad = root / "train-en.tsv"
    bad.write_text("Ada\tB-PER\nLovelace I-PER\n")
    result = z2h("source", "--task", "ner", "--model", str(tiny_bert), "--data_dir", str(tmp_path / "data"),
                 "--epochs", "1", tracking_uri=local_tracking)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{bad}:2: expected 2 tab-separated columns (token, tag), found 1" in result.stderr
    result = z2h("evaluate", "--task", "ner", "--model_uri", str(tmp_path), "--langs", "tr,sv",
                 "--data_dir", str(data_dir), tracking_uri=local_tracking)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"no test split for 'sv': expected a file matching {data_dir}/wikiann/sv/test-sv.tsv" in result.stderr
