"""Universal Dependencies CoNLL-U reading with `conllu`, validated line by line.

Only lines with an integer ID are words: multiword-token ranges (`3-4`) and empty nodes (`5.1`)
are kept out of the word sequence, so they are never predicted or scored.
"""
from __future__ import annotations

from pathlib import Path

import conllu

from ..errors import DataError
from .examples import WordExample
from .text import read_text

N_COLUMNS = 10


def _blocks(text: str):
    """Yield (first line number, list of (line number, line)) per sentence block."""
    block: list[tuple[int, str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if line.strip():
            block.append((number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _check_token_line(path: Path, number: int, line: str) -> str:
    columns = line.split("\t")
    if len(columns) != N_COLUMNS:
        raise DataError(path, number, f"expected {N_COLUMNS} tab-separated columns, found {len(columns)}")
    token_id = columns[0]
    if "-" in token_id or "." in token_id:
        return token_id
    if not token_id.isdigit() or int(token_id) < 1:
        raise DataError(path, number, f"ID {token_id!r} is not a positive integer, a range (3-4) or an empty node (5.1)")
    head = columns[6]
    if head != "_" and not head.isdigit():
        raise DataError(path, number, f"HEAD {head!r} is not a non-negative integer")
    return token_id


def read_conllu(path: str | Path) -> list[WordExample]:
    """Read a CoNLL-U file into WordExamples (words, UPOS tags, heads, relations).

    Raises DataError with file and line for: an empty file, a token line without 10 columns, a bad ID,
    a non-integer HEAD, a HEAD outside 0..n_words, and invalid UTF-8.
    """
    path = Path(path)
    text = read_text(path)
    examples: list[WordExample] = []
    for block in _blocks(text):
        word_lines = []
        for number, line in block:
            if line.startswith("#"):
                continue
            token_id = _check_token_line(path, number, line)
            if token_id.isdigit():
                word_lines.append((number, line))
        if not word_lines:
            raise DataError(path, block[0][0], "sentence without any word line (integer ID)")
        sentence = conllu.parse("\n".join(line for _, line in block) + "\n\n")[0]
        words = [token for token in sentence if isinstance(token["id"], int)]
        for position, ((number, _), token) in enumerate(zip(word_lines, words), start=1):
            if token["id"] != position:
                raise DataError(path, number, f"word ID {token['id']} out of order; expected {position}")
            head = token["head"]
            if head is not None and not 0 <= head <= len(words):
                raise DataError(path, number, f"HEAD {head} out of range; expected 0..{len(words)}")
        sent_id = sentence.metadata.get("sent_id") or f"{path.name}:{len(examples)}"
        examples.append(
            WordExample(
                id=sent_id,
                words=[token["form"] for token in words],
                tags=[token["upos"] or "_" for token in words],
                heads=[token["head"] if token["head"] is not None else 0 for token in words],
                relations=[(token["deprel"] or "_").split(":")[0] for token in words],
            )
        )
    if not examples:
        raise DataError(path, None, "empty file; expected CoNLL-U sentences")
    return examples
