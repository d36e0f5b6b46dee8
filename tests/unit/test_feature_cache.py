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


# ---- parsed examples (CoNLL-U) ----
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "data"


def test_parsed_treebank_is_cached_by_content_and_reads_back_equal(tmp_path, monkeypatch):
    from zero2hero.tasks import get_task

    monkeypatch.setenv("Z2H_CACHE_DIR", str(tmp_path / "cache"))
    data = tmp_path / "data"
    (data / "ud" / "en").mkdir(parents=True)
    source = next((FIXTURES / "ud" / "en").glob("*-ud-train.conllu"))
    copy = data / "ud" / "en" / source.name
    copy.write_bytes(source.read_bytes())
    task = get_task("dep")
    parsed, skipped = task.read_counted(data, "en", "train")
    stored = list((tmp_path / "cache" / "examples").glob("*.json"))
    assert skipped == 0 and len(stored) == 1
    again, _ = task.read_counted(data, "en", "train")  # read back from the file above
    assert again == parsed and again is not parsed and len(parsed) > 10
    assert get_task("feats").read_counted(data, "en", "train")[0] != parsed  # another column, another entry
    assert len(list((tmp_path / "cache" / "examples").glob("*.json"))) == 2

    stored[0].write_text('[{"id": "x"}]')  # not ours (wrong fields): parsed again and rewritten
    assert task.read_counted(data, "en", "train")[0] == parsed
    lines = copy.read_text().splitlines(keepends=True)
    first_word = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    columns = lines[first_word].split("\t")
    lines[first_word] = "\t".join([*columns[:1], columns[1] + "x", *columns[2:]])
    copy.write_text("".join(lines))  # new content, new key: the change is read, not the old parse
    changed, _ = task.read_counted(data, "en", "train")
    assert changed[0].words[0] == parsed[0].words[0] + "x"


def test_a_read_that_skipped_bad_trees_is_not_stored(tmp_path, monkeypatch):
    from zero2hero.tasks import get_task

    monkeypatch.setenv("Z2H_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "data" / "ud" / "en"
    folder.mkdir(parents=True)
    good = "1\tA\ta\tNOUN\t_\t_\t0\troot\t_\t_\n2\tb\tb\tNOUN\t_\t_\t1\tdep\t_\t_\n\n"
    bad = "1\tC\tc\tNOUN\t_\t_\t2\tdep\t_\t_\n2\td\td\tNOUN\t_\t_\t1\tdep\t_\t_\n\n"
    (folder / "en_x-ud-train.conllu").write_text("# sent_id = s1\n" + good + "# sent_id = s2\n" + bad)
    task = get_task("dep", bad_trees="skip")
    for _ in range(2):  # each read skips (and warns) again
        examples, skipped = task.read_counted(tmp_path / "data", "en", "train")
        assert [e.id for e in examples] == ["s1"] and skipped == 1
    assert not (tmp_path / "cache" / "examples").exists()
