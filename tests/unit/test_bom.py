"""A UTF-8 byte-order mark never reaches the data: every reader goes through data.text.read_text."""
from __future__ import annotations

import json

from zero2hero.data.squad import read_squad_json
from zero2hero.data.wikiann import read_wikiann
from zero2hero.data.xnli import read_xnli_tsv

BOM = b"\xef\xbb\xbf"


def test_wikiann_first_token_has_no_bom(tmp_path):
    path = tmp_path / "test-de.tsv"
    path.write_bytes(BOM + "Berlin\tB-LOC\nist\tO\n\n".encode())
    assert read_wikiann(path)[0].words == ["Berlin", "ist"]
    prefixed = tmp_path / "test-en.tsv"  # the original format's `en:` prefix is still recognised after a BOM
    prefixed.write_bytes(BOM + "en:London\tB-LOC\nen:calls\tO\n\n".encode())
    assert read_wikiann(prefixed)[0].words == ["London", "calls"]


def test_xnli_first_premise_has_no_bom(tmp_path):
    path = tmp_path / "test-de.tsv"
    path.write_bytes(BOM + "Er schläft.\tEr ist wach.\tcontradiction\n".encode())
    [example] = read_xnli_tsv(path)
    assert example.premise == "Er schläft." and example.label == "contradiction"
    header = tmp_path / "dev-de.tsv"  # a header line after a BOM is still recognised as the header
    header.write_bytes(BOM + "premise\thypothesis\tlabel\nA.\tB.\tneutral\n".encode())
    assert [ex.premise for ex in read_xnli_tsv(header)] == ["A."]


def test_squad_json_with_a_bom_parses(tmp_path):
    document = {"data": [{"title": "T", "paragraphs": [{"context": "Paris is big.", "qas": [
        {"id": "q1", "question": "What is big?", "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}
    path = tmp_path / "xquad.de.json"
    path.write_bytes(BOM + json.dumps(document).encode())
    [example] = read_squad_json(path)
    assert example.id == "q1" and example.answers[0].text == "Paris"
