"""The one door to data files: `data_dir` is a local directory laid out as in docs/interface.md, or `hub`.

Everything that reads data asks here; `layout` knows only local files and `hub` only the hub.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from ..errors import Z2HError
from .corpus import Corpus
from .hub import RealDataUnavailable, hub_file, not_on_hub
from .layout import find_local, has_local
from .splits import Split, load_split
from .text import file_sha256

log = logging.getLogger(__name__)

HUB = "hub"  # data_dir=hub: every file from the Hugging Face hub


def find_file(data_dir: str | Path, corpus: Corpus, lang: str, split: str) -> Path:
    """The one file for (corpus, lang, split): under data_dir, or with data_dir=hub the local copy of the hub
    split (downloaded on first use)."""
    if str(data_dir) == HUB:
        return hub_file(corpus, lang, split)
    return find_local(data_dir, corpus, lang, split)


def has_file(data_dir: str | Path, corpus: Corpus, lang: str, split: str) -> bool:
    if str(data_dir) == HUB:
        return not_on_hub(corpus, lang, split) is None
    return has_local(data_dir, corpus, lang, split)


def local_or_hub_file(data_dir, corpus: Corpus, lang: str, split: str) -> Path:
    """The file under data_dir where it is there, else the hub copy (RealDataUnavailable when neither works)."""
    if has_file(data_dir, corpus, lang, split):
        return find_file(data_dir, corpus, lang, split)
    return hub_file(corpus, lang, split)


def english_train_split(data_dir, corpus: Corpus, read: Callable[[Path], list], what: str) -> Split:
    """English training data that no task reads per language (MultiNLI, SQuAD train) as the `train` Split:
    from data_dir where it is there, else from the hub; RealDataUnavailable naming both places when neither."""
    try:
        path = local_or_hub_file(data_dir, corpus, "en", "train")
    except RealDataUnavailable as exc:
        raise RealDataUnavailable(f"{what}: no {corpus.relative('en', 'train')} under {data_dir} and {exc}") from None
    return Split("train", "en", read(path), str(path), file_sha256(path), corpus=corpus.name)


def local_or_hub(task, data_dir, lang: str, split: str) -> Split:
    """`split` of `lang` from data_dir where it is on disk, else from the hub; where neither works, the error of
    the missing local file (it names the path expected), which is what a user without internet can act on."""
    if str(data_dir) == HUB or has_file(data_dir, task.corpus, lang, split):
        return load_split(task, data_dir, lang, split)
    try:
        task.file_for(HUB, lang, split)  # fetches the hub copy (a task may keep several splits in one file)
    except Z2HError as exc:
        log.info("%s", exc)
        return load_split(task, data_dir, lang, split)
    return load_split(task, HUB, lang, split)
