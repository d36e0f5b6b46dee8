"""Example records shared by the readers and tasks."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WordExample:
    """A pre-tokenised sentence with optional word-level annotations (UD or WikiANN)."""

    id: str
    words: list[str]
    tags: list[str] | None = None  # UPOS (UD) or IOB2 entity tags (WikiANN)
    heads: list[int] | None = None  # 1-based head per word, 0 = root
    relations: list[str] | None = None  # universal relation per word (subtypes stripped)
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.words)
