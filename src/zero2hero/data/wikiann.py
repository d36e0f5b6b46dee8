"""WikiANN (Rahimi et al. 2019 split) NER data: the shipped TSV, the original prefixed format, the hub copy.

Formats read by `read_wikiann`:
- XTREME / shipped (`data_dir/wikiann/<lang>/<split>-<lang>.tsv`): `token<TAB>tag` per line, a blank line
  between sentences, IOB2 tags (O, B-X, I-X).
- Original Rahimi `panx_dataset` files: the same, but every token carries its language, `en:London`.
  When every token of a file starts with the same `<lang>:` prefix, the prefix is removed.

The hub copy (`data_dir=hub`, `unimelb-nlp/wikiann`) is written in the shipped format by `write_hub_rows`.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError
from .examples import WordExample
from .text import one_line, read_text, write_lines

TAG = re.compile(r"^(O|[BI]-\S+)$")
LANG_PREFIX = re.compile(r"^([a-z]{2,3}(?:-[a-z]+)*):(?=.)")


def _sentences(path: Path, text: str):
    """Yield lists of (line number, token, tag); raises DataError on malformed lines."""
    sentence: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            if sentence:
                yield sentence
                sentence = []
            continue
        columns = line.split("\t")
        if len(columns) != 2:
            raise DataError(path, number, f"expected 2 tab-separated columns (token, tag), found {len(columns)}")
        token, tag = columns[0], columns[1].strip()
        if not TAG.match(tag):
            raise DataError(path, number, f"tag {tag!r} is not IOB2 (O, B-TYPE or I-TYPE)")
        sentence.append((number, token, tag))
    if sentence:
        yield sentence


def _common_prefix(sentences: list) -> str | None:
    """The `<lang>:` prefix that every token of the file carries (original Rahimi format), else None."""
    prefix = None
    for sentence in sentences:
        for _, token, _ in sentence:
            match = LANG_PREFIX.match(token)
            if not match or (prefix is not None and match.group(0) != prefix):
                return None
            prefix = match.group(0)
    return prefix


def read_wikiann(path: str | Path) -> list[WordExample]:
    """Read a WikiANN file into WordExamples (words, IOB2 tags); ids are `<file name>:<index>`."""
    path = Path(path)
    sentences = list(_sentences(path, read_text(path)))
    if not sentences:
        raise DataError(path, None, "empty file; expected token<TAB>tag lines with blank lines between sentences")
    prefix = _common_prefix(sentences)
    cut = len(prefix) if prefix else 0
    return [
        WordExample(id=f"{path.name}:{index}", words=[token[cut:] for _, token, _ in sentence],
                    tags=[tag for _, _, tag in sentence])
        for index, sentence in enumerate(sentences)
    ]


def wikiann_lines(rows):
    """The shipped format's lines for (tokens, tags) pairs: `token<TAB>tag`, a blank line after each sentence."""
    for tokens, tags in rows:
        for token, tag in zip(tokens, tags):
            yield f"{one_line(token)}\t{tag}"
        yield ""


def write_hub_rows(rows, path: Path, lang: str) -> None:
    """Hub rows (tokens, ClassLabel ner_tags) -> the shipped TSV at `path`."""
    names = rows.features["ner_tags"].feature.names
    write_lines(path, wikiann_lines((row["tokens"], [names[tag] for tag in row["ner_tags"]]) for row in rows))
