"""Universal Dependencies CoNLL-U reading with `conllu`, validated line by line.

Only lines with an integer ID are words: multiword-token ranges (`3-4`) and empty nodes (`5.1`)
are kept out of the word sequence, so they are never predicted or scored.

The heads of a sentence must form a tree: exactly one word headed by 0 (the root), no word headed by
itself, no cycle. A parser trained or scored on anything else is meaningless, so such a sentence is a
DataError by default; `bad_trees="skip"` leaves it out instead (each one logged with its line, the count
returned by `parse_conllu`). Sentences without any HEAD (all `_`) carry no tree and are not checked.
"""
from __future__ import annotations

import logging
from pathlib import Path

import conllu

from ..errors import DataError
from .examples import WordExample
from .text import read_text

log = logging.getLogger(__name__)

N_COLUMNS = 10
BAD_TREES = ("error", "skip")
TAG_COLUMNS = ("upos", "xpos", "feats")  # the word-level label a WordExample's `tags` holds


def column_tag(token, column: str) -> str:
    """A word's label in `column`: UPOS/XPOS as written ("_" when empty); FEATS as one label, its Name=Value
    pairs in the canonical (name) order joined by "|" (UD's own spelling), "_" when the word has none."""
    value = token[column]
    if column == "feats":
        return "|".join(f"{name}={value[name]}" for name in sorted(value, key=str.lower)) if value else "_"
    return value or "_"


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


def tree_problem(heads: list[int | None]) -> tuple[int, str] | None:
    """(0-based word index, reason) when 1-based `heads` (0 = root) are not one tree, else None."""
    if all(head is None for head in heads):
        return None
    roots = [i for i, head in enumerate(heads) if head == 0]
    for i, head in enumerate(heads):
        if head is None:
            return i, "HEAD '_' in a sentence whose other words have heads"
        if head == i + 1:
            return i, f"word {i + 1} is headed by itself"
    if not roots:
        return 0, "no root: no word has HEAD 0"
    if len(roots) > 1:
        return roots[1], f"{len(roots)} roots (words {', '.join(str(r + 1) for r in roots)} have HEAD 0); expected one"
    for start in range(len(heads)):  # with one root and no self-heads, a walk up that never reaches 0 loops
        seen, node = set(), start + 1
        while node != 0:
            if node in seen:
                cycle = sorted(seen)
                return cycle[0] - 1, f"heads form a cycle (words {', '.join(map(str, cycle))} never reach the root)"
            seen.add(node)
            node = heads[node - 1]
    return None


def read_conllu(path: str | Path, bad_trees: str = "error", tag_column: str = "upos") -> list[WordExample]:
    """Read a CoNLL-U file into WordExamples (words, tags, heads, relations); see `parse_conllu`."""
    return parse_conllu(path, bad_trees, tag_column)[0]


def parse_conllu(path: str | Path, bad_trees: str = "error",
                 tag_column: str = "upos") -> tuple[list[WordExample], int]:
    """Read a CoNLL-U file into WordExamples whose `tags` are the `tag_column` labels (UPOS by default);
    returns (examples, number of sentences skipped as bad trees).

    Raises DataError with file and line for: an empty file, a token line without 10 columns, a bad ID,
    a non-integer HEAD, a HEAD outside 0..n_words, heads that are not a tree (unless `bad_trees="skip"`),
    and invalid UTF-8.
    """
    if bad_trees not in BAD_TREES:
        raise ValueError(f"bad_trees must be one of {BAD_TREES}, got {bad_trees!r}")
    if tag_column not in TAG_COLUMNS:
        raise ValueError(f"tag_column must be one of {TAG_COLUMNS}, got {tag_column!r}")
    path = Path(path)
    text = read_text(path)
    examples: list[WordExample] = []
    skipped = 0
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
        problem = tree_problem([token["head"] for token in words])
        if problem:
            index, reason = problem
            if bad_trees == "error":
                raise DataError(path, word_lines[index][0], f"not a dependency tree: {reason} "
                                "(bad_trees=skip leaves such sentences out)")
            log.warning("%s:%d: skipped a sentence that is not a dependency tree: %s", path, word_lines[index][0], reason)
            skipped += 1
            continue
        sent_id = sentence.metadata.get("sent_id") or f"{path.name}:{len(examples)}"
        examples.append(
            WordExample(
                id=sent_id,
                words=[token["form"] for token in words],
                tags=[column_tag(token, tag_column) for token in words],
                heads=[token["head"] if token["head"] is not None else 0 for token in words],
                relations=[(token["deprel"] or "_").split(":")[0] for token in words],
            )
        )
    if not examples:
        raise DataError(path, None, "empty file; expected CoNLL-U sentences" if not skipped else
                        f"all {skipped} sentences are not dependency trees")
    if skipped:
        log.warning("%s: %d sentence(s) skipped because their heads are not a tree (bad_trees=skip)", path, skipped)
    return examples, skipped
