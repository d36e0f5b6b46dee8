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


@dataclass
class NliExample:
    """A premise/hypothesis pair with its label (entailment, neutral, contradiction; None when unlabelled)."""

    id: str
    premise: str
    hypothesis: str
    label: str | None = None


@dataclass
class Answer:
    """A gold answer: its text and the character offset where it starts in the context."""

    text: str
    start: int

    def matches(self, context: str) -> bool:
        """Whether the context really holds `text` at `start` (SQuAD-format files sometimes disagree)."""
        return bool(self.text) and self.start >= 0 and context[self.start : self.start + len(self.text)] == self.text


@dataclass
class QaExample:
    """One extractive-QA question on its paragraph (SQuAD format); `answers` is empty when unlabelled.

    `article`, `article_index` and `paragraph` say where the question comes from: XQuAD splits and
    few-shot samples whole articles.
    """

    id: str
    question: str
    context: str
    answers: list[Answer] = field(default_factory=list)
    article: str = ""  # the article's title (unique within its file)
    article_index: int = 0  # 0-based position of the article in its file
    paragraph: int = 0  # 0-based position of the paragraph in its file
