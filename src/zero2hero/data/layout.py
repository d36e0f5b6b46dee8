"""Where each task's files live under `data_dir` (INTERFACE.md) and what is missing."""
from __future__ import annotations

from pathlib import Path

from ..errors import Z2HError

SPLITS = ("train", "dev", "test")

# task -> (pattern relative to data_dir with {lang} and {split}); glob patterns allowed
PATTERNS = {
    "ud": "ud/{lang}/*-ud-{split}.conllu",
    "wikiann": "wikiann/{lang}/{split}-{lang}.tsv",
    "xnli": "xnli/{split}-{lang}.tsv",
    "xquad": "xquad/xquad.{lang}.json",
    "squad": "squad/{split}-v1.1.json",  # English only (SQuAD v1.1); {lang} is not part of the name
    "multinli": "multinli/{split}-{lang}.tsv",  # English MultiNLI train in the XNLI TSV format (or from the hub)
}
HUB = "hub"  # data_dir=hub: the Hugging Face hub (data/hub.py)


def data_root(data_dir: str | Path) -> Path:
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise Z2HError(f"data_dir {str(root)!r} is not a directory; expected the layout of INTERFACE.md (ud/, wikiann/, xnli/, xquad/)")
    return root


def find_file(data_dir: str | Path, kind: str, lang: str, split: str) -> Path:
    """The one file for (kind, lang, split), or an error naming the file that was expected.

    With data_dir=hub, the local copy of the hub split (downloaded on first use)."""
    if str(data_dir) == HUB:
        from .hub import hub_file

        return hub_file(kind, lang, split)
    root = data_root(data_dir)
    pattern = PATTERNS[kind].format(lang=lang, split=split)
    matches = sorted(root.glob(pattern))
    if not matches:
        raise Z2HError(f"no {split} split for {lang!r}: expected a file matching {root / pattern}")
    if len(matches) > 1:
        names = ", ".join(str(m) for m in matches)
        raise Z2HError(f"several {split} files for {lang!r} match {root / pattern}: {names}; keep one")
    return matches[0]


def has_file(data_dir: str | Path, kind: str, lang: str, split: str) -> bool:
    if str(data_dir) == HUB:
        from .hub import on_hub

        return on_hub(kind, lang, split)
    root = Path(data_dir).expanduser()
    return any(root.glob(PATTERNS[kind].format(lang=lang, split=split)))
