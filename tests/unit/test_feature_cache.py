"""The feature cache stores JSON and never unpickles: a planted file cannot run code."""
from __future__ import annotations

import pickle
from pathlib import Path
from types import SimpleNamespace

from zero2hero.data import cache


class Planted:
    """Unpickling this touches `marker`: what a malicious cache file would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


class CountingTask:
    name = "pos"

    def __init__(self):
        self.calls = 0

    def encode(self, examples, tokenizer, meta, training):
        self.calls += 1
        return [{"example_index": 0, "input_ids": [2, 7, 3], "offsets": [None, (0, 4), None]}]


TOKENIZER = SimpleNamespace(backend_tokenizer=SimpleNamespace(to_str=lambda: "tok"), special_tokens_map={})
META = SimpleNamespace(max_length=16, labels={"tags": ["X"]})


def test_a_planted_pickle_is_never_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("Z2H_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cache, "_MEMORY", {})
    task = CountingTask()
    first = cache.cached_features(task, ["ex"], TOKENIZER, META, "sha:all", training=True)
    [stored] = list(cache.cache_dir().iterdir())
    assert stored.suffix == ".json" and task.calls == 1

    marker = tmp_path / "code-ran"
    payload = pickle.dumps([Planted(marker)])
    stored.with_suffix(".pkl").write_bytes(payload)  # the name the old cache read
    stored.unlink()
    cache._MEMORY.clear()
    again = cache.cached_features(task, ["ex"], TOKENIZER, META, "sha:all", training=True)
    assert task.calls == 2 and not marker.exists() and again == first

    stored.write_bytes(payload)  # a pickle under the JSON name is not JSON: rebuilt, nothing runs
    cache._MEMORY.clear()
    third = cache.cached_features(task, ["ex"], TOKENIZER, META, "sha:all", training=True)
    assert task.calls == 3 and not marker.exists() and third[0]["input_ids"] == [2, 7, 3]

    cache._MEMORY.clear()  # a good file is read back (offsets come back as lists, which callers index alike)
    fourth = cache.cached_features(task, ["ex"], TOKENIZER, META, "sha:all", training=True)
    assert task.calls == 3 and fourth[0]["offsets"] == [None, [0, 4], None]
