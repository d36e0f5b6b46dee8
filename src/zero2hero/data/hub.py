"""Hugging Face hub copies of corpora, for users with internet access.

A task's corpus may name its hub dataset (`Corpus.hub`). Each hub split is written once, in the corpus's local
format and layout, under `$Z2H_CACHE_DIR/hub/`, so that one reader per format, content hashes, the feature cache
and the logged provenance work exactly as for local files. Loading is always optional: where it fails (no network,
`HF_HUB_OFFLINE=1`, an unknown config) the caller gets `RealDataUnavailable` saying why, and decides (a stand-in,
docs/method.md §9, or a message naming the file).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import Z2HError
from .cache import cache_root
from .corpus import Corpus

log = logging.getLogger(__name__)


class RealDataUnavailable(Z2HError):
    """A real data set (not a stand-in) could not be loaded from disk or the hub."""


def hub_cache_dir() -> Path:
    return cache_root() / "hub"


def not_on_hub(corpus: Corpus, lang: str, split: str) -> str | None:
    """Why the hub has no (corpus, lang, split), or None when it has it; without asking the hub."""
    hub = corpus.hub
    if hub is None:
        return f"{corpus.name} data has no hub copy; give a local data_dir"
    if split not in hub.splits:
        return f"{hub.hub_id} has no {split!r} split; valid: {', '.join(hub.splits)}"
    if hub.langs is not None and lang not in hub.langs:
        return f"{hub.hub_id} has no {lang!r} data; its languages: {', '.join(hub.langs)}"
    return None


def load_hub_rows(hub_id: str, split: str, config: str | None = None):
    """The hub dataset `hub_id` (optionally a `config`) split `split`, or RealDataUnavailable saying why."""
    label = f"{hub_id}" + (f" (config {config})" if config else "") + f" split {split!r}"
    try:
        import datasets

        return datasets.load_dataset(hub_id, config, split=split)
    except Exception as exc:  # datasets raises ConnectionError, FileNotFoundError, ValueError, ... depending on why
        reason = (str(exc).splitlines() or [type(exc).__name__])[0] or type(exc).__name__
        offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
        raise RealDataUnavailable(f"cannot load {label} from the Hugging Face hub{offline}: {reason}") from None


def hub_file(corpus: Corpus, lang: str, split: str) -> Path:
    """The local copy of a hub split in the local format, downloaded and written on first use."""
    reason = not_on_hub(corpus, lang, split)
    if reason:
        raise Z2HError(reason)
    hub = corpus.hub
    path = hub_cache_dir() / corpus.relative(lang, split)
    if not path.exists():
        rows = load_hub_rows(hub.hub_id, hub.splits[split], hub.config(lang))
        hub.write(rows, path, lang)
        log.info("wrote %s (%s) to %s", hub.hub_id, hub.splits[split], path)
    return path
