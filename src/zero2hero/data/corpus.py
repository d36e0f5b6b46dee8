"""What a data set is, declared by the task that reads it: where its files lie and where the hub keeps it.

A `Corpus` is pure description; `layout` finds its local files, `hub` fetches its hub copy and `files` is the one
door the rest of the code opens (docs/interface.md, "Data directory").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class HubSet:
    """Where a corpus lives on the Hugging Face hub: its id, our split -> its split, our language -> its config,
    the languages it has (None: every one), and how its rows are written in the corpus's local format."""

    hub_id: str
    splits: dict[str, str]
    config: Callable[[str], str | None]
    langs: tuple[str, ...] | None
    write: Callable[[object, Path, str], None]


@dataclass(frozen=True)
class Corpus:
    """A data set in the local layout: `pattern` is relative to data_dir, with {lang} and {split} (glob allowed)."""

    name: str  # first part of dataset names (`ud/tr/test`) and of the hub cache's layout
    pattern: str
    hub: HubSet | None = None

    def relative(self, lang: str, split: str) -> str:
        return self.pattern.format(lang=lang, split=split)
