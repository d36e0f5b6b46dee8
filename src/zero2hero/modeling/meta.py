"""What describes a model and its labels without torch: a checkpoint's `ModelMeta` and the label conventions that
tasks and heads share. Tasks import these and import their heads (torch) only when they build one, so reading the
task registry (the analysis, `budget`, `ingest`) does not import torch, about a second of CPU."""
from __future__ import annotations

from dataclasses import dataclass, field

IGNORE = -100  # label id that the loss ignores (padding, words without a usable label)
OUTSIDE = "O"  # the IOB2 tag outside any entity; also what "comes before" the first tag


def may_follow(previous: str, tag: str) -> bool:
    """The IOB2 rule, written once: an I-X continues a B-X or I-X entity; every other tag may follow anything."""
    return not tag.startswith("I-") or (previous[:2] in ("B-", "I-") and previous[2:] == tag[2:])


@dataclass
class ModelMeta:
    """What a checkpoint needs besides weights to be rebuilt and used."""

    task: str
    model: str  # the encoder's original HF id or directory (recorded on every run)
    labels: dict[str, list[str]] = field(default_factory=dict)  # label vocabularies by name
    max_length: int = 512
    model_name: str = ""  # slug used in run and registry names
    head_config: dict = field(default_factory=dict)
