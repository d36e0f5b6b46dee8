"""Ingest refuses rows that would record shifted or broken names, naming file and line, before any run exists."""
from __future__ import annotations

import pytest

from analysis.ingest import read_scores_csv
from zero2hero.errors import DataError

HEADER = "task,model,lang,k,sampling,seed,score\n"
GOOD = "xnli,mbert,de,0,,,70.3\n"


def write(tmp_path, text):
    path = tmp_path / "scores.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_row_with_an_extra_field_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, HEADER + GOOD + "xnli,mbert,fr,0,,,73.1,Table 3\n")
    with pytest.raises(DataError) as error:
        read_scores_csv(str(path))
    assert error.value.line == 3 and "8 fields, but the header names 7 columns" in str(error.value)


def test_a_name_with_a_line_break_is_refused_where_its_row_starts(tmp_path):
    path = write(tmp_path, HEADER + GOOD + 'xnli,"mbert\ncased",fr,0,,,73.1\n' + GOOD)
    with pytest.raises(DataError) as error:
        read_scores_csv(str(path))
    assert error.value.line == 3 and "model contains a line break" in str(error.value)
    assert str(path) in str(error.value)


def test_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, HEADER + GOOD + "\n" + "xnli,mbert,fr,0,,,73.1\n")
    assert [line for line, _ in read_scores_csv(str(path))] == [2, 4]
