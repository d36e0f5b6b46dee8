"""Loading any Hugging Face encoder and its tokenizer, once per process."""
from __future__ import annotations

import logging
import os
import re
from functools import lru_cache
from pathlib import Path

from ..errors import Z2HError

log = logging.getLogger(__name__)

GENERIC_DIR_NAMES = {"model", "models", "checkpoint", "encoder", "pretrained", "hf", "huggingface", "snapshot"}


def model_slug(model: str, name: str = "") -> str:
    """Short name for run and registry names: `name` where the user gave one (`model_name`), else the HF id's last
    part or the directory name (skipping generic ones)."""
    if name:
        return name
    parts = [part for part in re.split(r"[\\/]+", model.rstrip("/\\")) if part]
    if Path(model).expanduser().exists():
        while len(parts) > 1 and parts[-1].lower() in GENERIC_DIR_NAMES:
            parts.pop()
    name = parts[-1] if parts else "model"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "model"


def _hub_help(model: str) -> str:
    return (
        f"model {model!r} is neither a local directory with a Hugging Face model nor loadable from the hub"
        + (" (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else "")
        + "; give an HF id such as bert-base-multilingual-cased or xlm-roberta-base, or a directory with config.json"
    )


@lru_cache(maxsize=4)
def load_tokenizer(model: str, revision: str | None = None):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model, revision=revision or None)
    except (OSError, ValueError) as exc:
        raise Z2HError(f"{_hub_help(model)} ({str(exc).splitlines()[0]})") from None
    if not tokenizer.is_fast:
        raise Z2HError(f"model {model!r} has no fast tokenizer; word alignment and offsets need one")
    return tokenizer


def load_encoder(model: str, revision: str | None = None):
    """A fresh AutoModel encoder (weights from the hub id or directory)."""
    from transformers import AutoModel

    if Path(model).expanduser().exists() and not (Path(model).expanduser() / "config.json").exists():
        raise Z2HError(f"model directory {model!r} has no config.json; expected a Hugging Face model directory")
    try:
        return AutoModel.from_pretrained(model, revision=revision or None)
    except (OSError, ValueError) as exc:
        raise Z2HError(f"{_hub_help(model)} ({str(exc).splitlines()[0]})") from None
