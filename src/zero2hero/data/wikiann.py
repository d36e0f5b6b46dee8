"""WikiANN (Rahimi et al. 2019 split) NER data: the shipped TSV, the original prefixed format, the hub copy.

Formats read by `read_wikiann`:
- XTREME / shipped (`data_dir/wikiann/<lang>/<split>-<lang>.tsv`): `token<TAB>tag` per line, a blank line
  between sentences, IOB2 tags (O, B-X, I-X).
- Original Rahimi `panx_dataset` files: the same, but every token carries its language, `en:London`.
  When every token of a file starts with the same `<lang>:` prefix, the prefix is removed.

Hub (`data_dir=hub`, needs internet): `unimelb-nlp/wikiann` via `datasets.load_dataset`, one language
config per call, written once to `$Z2H_CACHE_DIR/wikiann-hub/<lang>/<split>-<lang>.tsv` in the shipped
format, so that reading, hashing and provenance work exactly as for local files.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import DataError, Z2HError
from .examples import WordExample
from .text import read_text

HUB_ID = "unimelb-nlp/wikiann"
HUB_SPLITS = {"train": "train", "dev": "validation", "test": "test"}
TAG = re.compile(r"^(O|[BI]-\S+)$")
CONTROL = re.compile(r"[\t\n\r]")
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


def write_wikiann(path: Path, rows) -> Path:
    """Write (tokens, tags) pairs in the shipped format (atomically: a partial file never stays behind)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    with open(partial, "w", encoding="utf-8") as handle:
        for tokens, tags in rows:
            for token, tag in zip(tokens, tags):
                # a tab or newline inside a token would break the format; the hub data has none in practice
                token = CONTROL.sub(" ", token)
                handle.write(f"{token}\t{tag}\n")
            handle.write("\n")
    partial.replace(path)
    return path


def hub_cache_dir() -> Path:
    return Path(os.environ.get("Z2H_CACHE_DIR", Path.home() / ".cache" / "zero2hero")) / "wikiann-hub"


def hub_file(lang: str, split: str) -> Path:
    """The local copy of `unimelb-nlp/wikiann` (config `lang`, split train/dev/test), downloaded on first use."""
    if split not in HUB_SPLITS:
        raise Z2HError(f"WikiANN has no split {split!r}; valid: {', '.join(HUB_SPLITS)}")
    path = hub_cache_dir() / lang / f"{split}-{lang}.tsv"
    if path.exists():
        return path
    try:
        from datasets import load_dataset

        dataset = load_dataset(HUB_ID, lang, split=HUB_SPLITS[split])
    except Exception as exc:  # offline, unknown config, hub errors: one clear message
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise Z2HError(f"cannot load {HUB_ID} config {lang!r} split {HUB_SPLITS[split]!r} from the "
                       f"Hugging Face hub{offline}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}; "
                       "use a local data_dir instead") from None
    names = dataset.features["ner_tags"].feature.names
    rows = ((row["tokens"], [names[i] for i in row["ner_tags"]]) for row in dataset)
    return write_wikiann(path, rows)
