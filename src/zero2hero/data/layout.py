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
}


def data_root(data_dir: str | Path) -> Path:
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise Z2HError(f"data_dir {str(root)!r} is not a directory; expected the layout of INTERFACE.md (ud/, wikiann/, xnli/, xquad/)")
    return root


def find_file(data_dir: str | Path, kind: str, lang: str, split: str) -> Path:
    """The one file for (kind, lang, split), or an error naming the file that was expected."""
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
    root = Path(data_dir).expanduser()
    return any(root.glob(PATTERNS[kind].format(lang=lang, split=split)))


def available_langs(data_dir: str | Path, kind: str, split: str) -> list[str]:
    """Languages that have the given split on disk."""
    root = Path(data_dir).expanduser()
    langs = set()
    for folder in (root / kind).glob("*"):
        if folder.is_dir() and has_file(root, kind, folder.name, split):
            langs.add(folder.name)
    if kind in ("xnli", "xquad"):
        for path in (root / kind).glob("*"):
            for lang in _lang_from_name(kind, path.name, split):
                langs.add(lang)
    return sorted(langs)


def _lang_from_name(kind: str, name: str, split: str) -> list[str]:
    if kind == "xnli" and name.startswith(f"{split}-") and name.endswith(".tsv"):
        return [name[len(split) + 1 : -4]]
    if kind == "xquad" and name.startswith("xquad.") and name.endswith(".json"):
        return [name[6:-5]]
    return []
