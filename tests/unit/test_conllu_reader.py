"""The CoNLL-U reader: words, multiword tokens, empty nodes, and every bad-input case with file and line."""
from __future__ import annotations

import pytest

from zero2hero.data.conllu_reader import parse_conllu, read_conllu
from zero2hero.errors import DataError

GOOD = """# sent_id = s1
# text = Vámonos al mar.
1-2\tVámonos\t_\t_\t_\t_\t_\t_\t_\t_
1\tVamos\tir\tVERB\t_\t_\t0\troot\t_\t_
2\tnos\tnosotros\tPRON\t_\t_\t1\tobj\t_\t_
3-4\tal\t_\t_\t_\t_\t_\t_\t_\t_
3\ta\ta\tADP\t_\t_\t5\tcase\t_\t_
4\tel\tel\tDET\t_\t_\t5\tdet\t_\t_
5\tmar\tmar\tNOUN\t_\t_\t1\tobl:arg\t_\t_
5.1\tva\tir\tVERB\t_\t_\t_\t_\t0:root\t_
6\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_

# sent_id = s2
1\tHola\thola\tINTJ\t_\t_\t0\troot\t_\t_

"""


def write(tmp_path, text, name="x-ud-test.conllu"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_words_skip_multiword_ranges_and_empty_nodes(tmp_path):
    sentences = read_conllu(write(tmp_path, GOOD))
    assert [s.id for s in sentences] == ["s1", "s2"]
    first = sentences[0]
    assert first.words == ["Vamos", "nos", "a", "el", "mar", "."]
    assert first.tags == ["VERB", "PRON", "ADP", "DET", "NOUN", "PUNCT"]
    assert first.heads == [0, 1, 5, 5, 1, 1]
    assert first.relations == ["root", "obj", "case", "det", "obl", "punct"]


def test_real_treebank_counts(data_dir):
    sentences = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-dev.conllu")
    assert len(sentences) == 2001
    assert sum(len(s) for s in sentences) == 25147  # PROVENANCE.md: words = integer-ID lines


@pytest.mark.parametrize("bad_line, line_number, fragment", [
    ("6\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_", 11, "expected 10 tab-separated columns, found 9"),
    ("6\t.\t.\tPUNCT\t_\t_\tone\tpunct\t_\t_", 11, "HEAD 'one' is not a non-negative integer"),
    ("6\t.\t.\tPUNCT\t_\t_\t9\tpunct\t_\t_", 11, "HEAD 9 out of range; expected 0..6"),
    ("x\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_", 11, "ID 'x' is not a positive integer"),
])
def test_malformed_lines_name_file_and_line(tmp_path, bad_line, line_number, fragment):
    text = GOOD.replace("6\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_", bad_line)
    path = write(tmp_path, text)
    with pytest.raises(DataError) as error:
        read_conllu(path)
    assert error.value.line == line_number
    assert str(error.value).startswith(f"{path}:{line_number}: ")
    assert fragment in str(error.value)


def test_empty_file(tmp_path):
    path = write(tmp_path, "\n\n")
    with pytest.raises(DataError, match="empty file"):
        read_conllu(path)


def test_invalid_utf8_names_the_line(tmp_path):
    data = GOOD.encode("utf-8").replace("Hola".encode(), b"Hol\xff")
    path = write(tmp_path, data)
    with pytest.raises(DataError) as error:
        read_conllu(path)
    assert error.value.line == 14 and "invalid UTF-8" in str(error.value)


# GOOD's second sentence (line 14) broken three ways; the error names the first offending word's line
TWO_ROOTS = "1\tHola\thola\tINTJ\t_\t_\t0\troot\t_\t_\n2\tamigo\tamigo\tNOUN\t_\t_\t0\troot\t_\t_\n"
SELF_HEAD = "1\tHola\thola\tINTJ\t_\t_\t0\troot\t_\t_\n2\tamigo\tamigo\tNOUN\t_\t_\t2\tvocative\t_\t_\n"
CYCLE = ("1\tHola\thola\tINTJ\t_\t_\t0\troot\t_\t_\n2\tmi\tmi\tDET\t_\t_\t3\tdet\t_\t_\n"
         "3\tamigo\tamigo\tNOUN\t_\t_\t2\tvocative\t_\t_\n")
ONE_WORD = "1\tHola\thola\tINTJ\t_\t_\t0\troot\t_\t_\n"


@pytest.mark.parametrize("tree, line_number, fragment", [
    (TWO_ROOTS, 15, "2 roots (words 1, 2 have HEAD 0); expected one"),
    (SELF_HEAD, 15, "word 2 is headed by itself"),
    (CYCLE, 15, "heads form a cycle (words 2, 3 never reach the root)"),
])
def test_heads_that_are_not_a_tree_are_errors_or_skipped(tmp_path, tree, line_number, fragment):
    path = write(tmp_path, GOOD.replace(ONE_WORD, tree))
    with pytest.raises(DataError) as error:
        read_conllu(path)
    assert error.value.line == line_number and fragment in str(error.value) and "bad_trees=skip" in str(error.value)
    examples, skipped = parse_conllu(path, "skip")
    assert [ex.id for ex in examples] == ["s1"] and skipped == 1


def test_a_file_of_only_bad_trees_is_an_error_even_when_skipping(tmp_path):
    path = write(tmp_path, "# sent_id = a\n" + CYCLE + "\n")
    with pytest.raises(DataError, match="all 1 sentences are not dependency trees"):
        parse_conllu(path, "skip")


def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.encode())
    assert [s.id for s in read_conllu(path)] == ["s1", "s2"]
    path = write(tmp_path, b"\xef\xbb\xbf" + GOOD.split("\n", 2)[2].encode(), "nocomment-ud-test.conllu")
    assert read_conllu(path)[0].words[0] == "Vamos"  # the BOM sits right before the first token line
