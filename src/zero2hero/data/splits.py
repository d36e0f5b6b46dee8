"""A loaded data split: its examples and where exactly they came from."""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from .text import file_sha256


@dataclass
class Split:
    """Examples of one (language, split) with their origin, so a run can say what it used."""

    name: str  # e.g. "train", "dev", "test", "pool"
    lang: str
    examples: list
    source: str  # file path or hub id
    sha256: str  # content hash of the file (or hub revision)
    selection: str = "all"  # which examples were kept ("all", "first:500", "shots:<hash>", ...)
    tags: dict = field(default_factory=dict)
    skipped: int = 0  # sentences of the file left out as unusable (bad_trees=skip)
    corpus: str = ""  # the name of the task's Corpus (data.corpus): first part of the dataset name

    @property
    def content_key(self) -> str:
        return f"{self.sha256}:{self.selection}"

    def subset(self, name: str, examples: list, selection: str, tags: dict | None = None) -> "Split":
        """Part of this split's examples, from the same file: `selection` says which (appended to this one's)."""
        return Split(name, self.lang, examples, self.source, self.sha256, f"{self.selection}|{selection}",
                     dict(self.tags if tags is None else tags), skipped=self.skipped, corpus=self.corpus)

    def head(self, limit: int) -> "Split":
        """The first `limit` examples (0 = all)."""
        if not limit or limit >= len(self.examples):
            return self
        return self.subset(self.name, self.examples[:limit], f"first:{limit}")

    @property
    def dataset_name(self) -> str:
        """`ud/tr/test`: corpus, language, split."""
        return f"{self.corpus or 'data'}/{self.lang}/{self.name}"

    @property
    def digest(self) -> str:
        """The file's SHA-256 (16 hex digits, as `data.<split>.sha256`); for part of a file (a cap, XQuAD's articles,
        the shots) followed by a hash of the selection, so two parts of one file are two datasets."""
        if self.selection == "all":
            return self.sha256[:16]
        return f"{self.sha256[:16]}-{hashlib.sha256(self.selection.encode()).hexdigest()[:8]}"

    def log_params(self) -> dict[str, str]:
        prefix = f"data.{self.name}"
        params = {f"{prefix}.file": self.source, f"{prefix}.sha256": self.sha256[:16],
                  f"{prefix}.examples": str(len(self.examples))}
        if self.selection != "all":  # part of a file (XQuAD articles, a stand-in's share, a cap)
            params[f"{prefix}.selection"] = self.selection
        if self.skipped:
            params[f"{prefix}.skipped_bad_trees"] = str(self.skipped)
        return params


# (task, path, content hash) -> parsed examples: search trials and grid cells read the same files again and
# again (parsing the 12.5k sentences of English EWT takes seconds); a changed file has another hash
_READ_CACHE: OrderedDict[tuple, tuple[list, int]] = OrderedDict()
_READ_CACHE_FILES = 8


def _read_examples(task, data_dir, lang: str, split: str, path: Path, sha256: str) -> tuple[list, int]:
    """(examples, sentences skipped under the task's bad_trees policy)."""
    key = (task.name, str(path), sha256, split, task.bad_trees)
    if key in _READ_CACHE:
        _READ_CACHE.move_to_end(key)
    else:
        _READ_CACHE[key] = task.read_counted(data_dir, lang, split)
        while len(_READ_CACHE) > _READ_CACHE_FILES:
            _READ_CACHE.popitem(last=False)
    examples, skipped = _READ_CACHE[key]
    return list(examples), skipped  # a copy of the list, so no caller can reorder the cached one


def load_split(task, data_dir: str | Path, lang: str, split: str, limit: int = 0, name: str | None = None) -> Split:
    """Read `split` of `lang` for `task` from `data_dir`, keeping the first `limit` examples (0 = all)."""
    path = task.file_for(data_dir, lang, split)
    sha256 = file_sha256(path)
    # a task may keep part of the file (XQuAD)
    examples, skipped = _read_examples(task, data_dir, lang, split, path, sha256)
    return Split(name or split, lang, examples, str(path), sha256, task.split_selection(split),
                 skipped=skipped, corpus=task.corpus.name).head(limit)
