"""Tokenised features cached by content hash, in memory and on disk.

The key covers the task, the data's content (file hash plus the selection of examples), the tokenizer's
own definition, the maximum length and the label vocabularies, so any change to one re-tokenises.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

# bumped when a task's encoding changes for the same inputs, so that older cache files are not reused
# (2: words without a subword point at the closing special token)
FEATURE_FORMAT = 2
_MEMORY: dict[str, list] = {}
_TOKENIZER_KEYS: dict[int, str] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("Z2H_CACHE_DIR", Path.home() / ".cache" / "zero2hero")) / "features"


def tokenizer_fingerprint(tokenizer) -> str:
    """Hash of the tokenizer's full definition (vocabulary, normaliser, special tokens)."""
    key = _TOKENIZER_KEYS.get(id(tokenizer))
    if key is None:
        definition = tokenizer.backend_tokenizer.to_str() + json.dumps(tokenizer.special_tokens_map, sort_keys=True)
        key = hashlib.sha256(definition.encode()).hexdigest()[:16]
        _TOKENIZER_KEYS[id(tokenizer)] = key
    return key


def cached_features(task, examples: list, tokenizer, meta, content_key: str, training: bool) -> list[dict]:
    """`task.encode(...)`, memoised by a content hash; `content_key` identifies exactly which examples."""
    parts = [FEATURE_FORMAT, task.name, content_key, tokenizer_fingerprint(tokenizer), meta.max_length, meta.labels, training]
    key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    if key in _MEMORY:
        return _MEMORY[key]
    path = cache_dir() / f"{key}.pkl"
    if path.exists():
        try:
            features = pickle.loads(path.read_bytes())
            _MEMORY[key] = features
            return features
        except Exception:  # a truncated cache file is simply rebuilt
            path.unlink(missing_ok=True)
    features = task.encode(examples, tokenizer, meta, training)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(pickle.dumps(features, protocol=pickle.HIGHEST_PROTOCOL))
    partial.replace(path)
    _MEMORY[key] = features
    return features
