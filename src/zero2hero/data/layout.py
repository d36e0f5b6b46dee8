"""Local data files: where a corpus's file for (language, split) lies under data_dir, or what was expected."""
from __future__ import annotations

from pathlib import Path

from ..errors import Z2HError
from .corpus import Corpus

LAYOUT_DOC = "docs/interface.md (\"Data directory\")"


def data_root(data_dir: str | Path) -> Path:
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise Z2HError(f"data_dir {str(root)!r} is not a directory; expected the layout of {LAYOUT_DOC}")
    return root


def find_local(data_dir: str | Path, corpus: Corpus, lang: str, split: str) -> Path:
    """The one file of `corpus` for (lang, split) under data_dir, or an error naming the file that was expected."""
    root = data_root(data_dir)
    pattern = corpus.relative(lang, split)
    matches = sorted(root.glob(pattern))
    if not matches:
        raise Z2HError(f"no {split} split for {lang!r}: expected a file matching {root / pattern}")
    if len(matches) > 1:
        names = ", ".join(str(m) for m in matches)
        raise Z2HError(f"several {split} files for {lang!r} match {root / pattern}: {names}; keep one")
    return matches[0]


def has_local(data_dir: str | Path, corpus: Corpus, lang: str, split: str) -> bool:
    return any(Path(data_dir).expanduser().glob(corpus.relative(lang, split)))
