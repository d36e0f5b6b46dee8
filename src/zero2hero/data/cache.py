"""Tokenised features, and parsed examples of slow formats, cached by content hash, in memory and on disk.

The key covers the task, the data's content (file hash plus the selection of examples), the tokenizer's
own definition, the maximum length and the label vocabularies, so any change to one re-tokenises.

Files are JSON (`<key>.json`), never pickle: features are plain lists, dicts, numbers and strings, and reading
JSON cannot run code, so a file planted in `Z2H_CACHE_DIR` can at worst be wrong data of the right shape (it
is keyed by content hash, so only someone who can write there can do even that). Anything else, including an
old or planted `.pkl`, is never read; an unreadable or malformed file is rebuilt.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Callable

# bumped when a reader's output changes for the same file, so that older parsed-examples files are not reused
EXAMPLES_FORMAT = 1
# bumped when a task's encoding changes for the same inputs, so that older cache files are not reused
# (2: words without a subword point at the closing special token)
FEATURE_FORMAT = 2
_MEMORY: dict[str, list] = {}
_TOKENIZER_KEYS: dict[int, str] = {}


def cache_root() -> Path:
    """`$Z2H_CACHE_DIR`, else ~/.cache/zero2hero: tokenised features and hub copies live under it."""
    return Path(os.environ.get("Z2H_CACHE_DIR", Path.home() / ".cache" / "zero2hero"))


def cache_dir() -> Path:
    return cache_root() / "features"


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
    path = cache_dir() / f"{key}.json"
    if path.exists():
        features = _load(path)
        if features is not None:
            _MEMORY[key] = features
            return features
        path.unlink(missing_ok=True)  # truncated or not ours: rebuilt below
    features = task.encode(examples, tokenizer, meta, training)
    _write_json(path, features)
    _MEMORY[key] = features
    return features


def _load(path: Path) -> list[dict] | None:
    """The features in a cache file, or None when it is not a JSON list of feature dicts."""
    try:
        features = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(features, list) or not all(isinstance(f, dict) and "input_ids" in f for f in features):
        return None
    return features


def cached_examples(reader: str, sha256: str, options: list, read: Callable[[], tuple[list, int]],
                    example_type: type) -> tuple[list, int]:
    """`read()` -> (examples, sentences skipped), memoised on disk by the file's content hash.

    For formats whose parsing costs seconds (CoNLL-U through `conllu`: about 4 s for English EWT's 12.5k
    sentences, against a fraction of a second to load them back), so that every grid cell, shard, Ray worker
    and separate run after the first reads a file's parse instead of parsing it again. `reader` and `options`
    (the reading policy) are part of the key. A read that left sentences out is not stored, so its warnings,
    which name each sentence, are given again on every read. Errors are raised by `read()` and never stored.
    """
    parts = [EXAMPLES_FORMAT, reader, sha256, options]
    key = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
    path = cache_root() / "examples" / f"{key}.json"
    if path.exists():
        examples = _load_examples(path, example_type)
        if examples is not None:
            return examples, 0
        path.unlink(missing_ok=True)  # truncated or not ours: parsed again below
    examples, skipped = read()
    if not skipped:
        names = [field.name for field in dataclasses.fields(example_type)]  # flat records: asdict copies deeply
        _write_json(path, [{name: getattr(example, name) for name in names} for example in examples])
    return examples, skipped


def _write_json(path: Path, value) -> None:
    """Write `value` as compact JSON atomically: a reader never sees half a file, concurrent writers of the same
    key (shards, Ray workers) each replace it whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps(value, separators=(",", ":"), allow_nan=False))
    partial.replace(path)


def _load_examples(path: Path, example_type: type) -> list | None:
    """The examples in a parsed-examples file, or None when it is not a JSON list of that type's records."""
    fields = {field.name for field in dataclasses.fields(example_type)}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list) or not all(isinstance(r, dict) and r.keys() == fields for r in records):
            return None
        return [example_type(**record) for record in records]
    except (OSError, ValueError, TypeError):
        return None
