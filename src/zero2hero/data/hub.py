"""Hugging Face hub datasets for users with internet access (MultiNLI, XNLI, SQuAD, XQuAD).

Hub loading is always optional: where it fails (no network, `HF_HUB_OFFLINE=1`, an unknown id) the
caller gets `RealDataUnavailable` and decides — fall back to a stand-in (SPEC §9) or stop with a message.
"""
from __future__ import annotations

import logging
from typing import Callable

from ..errors import Z2HError
from .layout import has_file
from .splits import Split, load_split

log = logging.getLogger(__name__)


class RealDataUnavailable(Z2HError):
    """A real data set (not a stand-in) could not be loaded from disk or the hub."""


def load_hub_rows(hub_id: str, split: str, config: str | None = None):
    """The hub dataset `hub_id` (optionally a `config`) split `split`, or RealDataUnavailable saying why."""
    label = f"{hub_id}" + (f" ({config})" if config else "") + f" split {split!r}"
    try:
        import datasets

        return datasets.load_dataset(hub_id, config, split=split)
    except Exception as exc:  # datasets raises ConnectionError, FileNotFoundError, ValueError, ... depending on why
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise RealDataUnavailable(f"cannot load {label} from the Hugging Face hub: {reason}") from None


def hub_split(name: str, lang: str, hub_id: str, split: str, convert: Callable[[object, str], list],
              config: str | None = None) -> Split:
    """A Split read from the hub; `convert(rows, source)` turns the dataset rows into examples.

    The dataset's fingerprint stands in for a file hash, so the feature cache and the logged
    provenance still change when the hub data change.
    """
    rows = load_hub_rows(hub_id, split, config)
    source = f"hf://{hub_id}" + (f"/{config}" if config else "") + f":{split}"
    fingerprint = str(getattr(rows, "_fingerprint", "") or source)
    examples = convert(rows, source)
    log.info("loaded %d examples from %s", len(examples), source)
    return Split(name, lang, examples, source, fingerprint)


def local_or_hub(task, data_dir, lang: str, split: str, from_hub: Callable[[], Split]) -> Split:
    """`split` of `lang` from data_dir where it is on disk, else `from_hub()`; where neither works, the
    error of the missing file (it names the path expected), which is what a user without internet can act on."""
    if has_file(data_dir, task.data_kind, lang, split):
        return load_split(task, data_dir, lang, split)
    try:
        return from_hub()
    except RealDataUnavailable as exc:
        log.info("%s", exc)
        return load_split(task, data_dir, lang, split)
