"""`data_dir=hub` and the English hub fallbacks: hub splits written once in the local format and read by the same
readers. The hub cannot be reached here, so `datasets.load_dataset` serves real `datasets.Dataset` objects built
from the shared data, shaped as the hub's (integer NLI labels, ClassLabel NER tags, XQuAD rows without titles)."""
from __future__ import annotations

import pytest

from zero2hero.data.hub import RealDataUnavailable, hub_cache_dir
from zero2hero.data.squad import read_squad_json
from zero2hero.data.xnli import NLI_LABELS, read_xnli_tsv
from zero2hero.errors import Z2HError
from zero2hero.tasks import task_class
from zero2hero.stages.evaluate import resolve_langs
from zero2hero.tasks import get_task
from zero2hero.training.config import TrainConfig


def nli_rows(path, extra_unlabelled: bool = True):
    examples = read_xnli_tsv(path)
    rows = [{"premise": ex.premise, "hypothesis": ex.hypothesis, "label": NLI_LABELS.index(ex.label)}
            for ex in examples]
    if extra_unlabelled:
        rows.append({"premise": "no gold label", "hypothesis": "skipped", "label": -1})
    return rows


def qa_rows(path, with_title: bool):
    rows = []
    for ex in read_squad_json(path):
        row = {"id": ex.id, "context": ex.context, "question": ex.question,
               "answers": {"text": [a.text for a in ex.answers], "answer_start": [a.start for a in ex.answers]}}
        rows.append({"title": ex.article, **row} if with_title else row)
    return rows


@pytest.fixture
def hub(monkeypatch, tmp_path, data_dir):
    """A fake hub: {(hub id, config, split): rows}; records every load."""
    import datasets

    monkeypatch.setenv("Z2H_CACHE_DIR", str(tmp_path / "cache"))
    table, calls = {}, []

    def load_dataset(hub_id, config=None, split=None):
        calls.append((hub_id, config, split))
        if (hub_id, config, split) not in table:
            raise FileNotFoundError(f"Couldn't find '{hub_id}' on the Hugging Face Hub")
        rows = table[(hub_id, config, split)]
        return rows if isinstance(rows, datasets.Dataset) else datasets.Dataset.from_list(rows)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return table, calls


def test_xnli_target_languages_come_from_the_hub_once(hub, data_dir):
    table, calls = hub
    table[("facebook/xnli", "de", "validation")] = nli_rows(data_dir / "xnli" / "dev-de.tsv")
    task = get_task("xnli")
    from_hub = task.read("hub", "de", "dev")
    local = task.read(data_dir, "de", "dev")
    assert [(e.premise, e.hypothesis, e.label) for e in from_hub] == [(e.premise, e.hypothesis, e.label) for e in local]
    assert (hub_cache_dir() / "xnli" / "dev-de.tsv").is_file()
    task.read("hub", "de", "dev")
    assert calls == [("facebook/xnli", "de", "validation")]  # the local copy is reused
    assert task.pool_split("hub", "de") == "dev"
    assert resolve_langs(task, "hub", "all", "test") == list(task_class("xnli").targets)
    with pytest.raises(Z2HError, match="facebook/xnli has no 'he' data"):
        task.read("hub", "he", "test")


def test_xquad_from_the_hub_keeps_the_article_split(hub, data_dir):
    table, calls = hub
    table[("google/xquad", "xquad.de", "validation")] = qa_rows(data_dir / "xquad" / "xquad.de.json", with_title=False)
    # SQuAD v1.1 dev holds every XQuAD question id with its article title (here: the English XQuAD file's)
    table[("rajpurkar/squad", None, "validation")] = qa_rows(data_dir / "xquad" / "xquad.en.json", with_title=True)
    task = get_task("xquad")
    for split in ("pool", "test"):
        from_hub = task.read("hub", "de", split)
        local = task.read(data_dir, "de", split)
        assert [(e.id, e.question, e.context, e.article_index, e.paragraph, e.answers) for e in from_hub] == \
               [(e.id, e.question, e.context, e.article_index, e.paragraph, e.answers) for e in local]
    assert calls == [("google/xquad", "xquad.de", "validation"), ("rajpurkar/squad", None, "validation")]
    assert resolve_langs(task, "hub", "all", "test") == list(task_class("xquad").targets)


def test_xquad_rows_whose_article_is_unknown_are_refused(hub, data_dir):
    table, _ = hub
    table[("google/xquad", "xquad.de", "validation")] = qa_rows(data_dir / "xquad" / "xquad.de.json", with_title=False)
    table[("rajpurkar/squad", None, "validation")] = qa_rows(data_dir / "xquad" / "xquad.en.json", with_title=True)[:5]
    with pytest.raises(RealDataUnavailable, match="no title and its id is not in SQuAD v1.1 dev"):
        get_task("xquad").read("hub", "de", "test")
    assert not (hub_cache_dir() / "xquad" / "xquad.de.json").exists()  # nothing half-written stays behind


def test_real_english_training_data_from_the_hub_replaces_the_stand_ins(hub, data_dir):
    table, _ = hub
    table[("nyu-mll/multi_nli", None, "train")] = nli_rows(data_dir / "xnli" / "test-en.tsv")
    xnli = get_task("xnli")
    train, dev, _ = xnli.source_splits(data_dir, "no", TrainConfig.resolve(xnli.defaults, {}))
    assert len(train.examples) == 5010 and "z2h.stand_in" not in train.tags
    assert train.source == str(hub_cache_dir() / "multinli" / "train-en.tsv") and dev.source.startswith(str(data_dir))

    table[("rajpurkar/squad", None, "train")] = qa_rows(data_dir / "xquad" / "xquad.en.json", with_title=True)
    xquad = get_task("xquad")
    train, dev, test = xquad.source_splits(data_dir, "no", TrainConfig.resolve(xquad.defaults, {}))
    assert len(train.examples) == 1190 and len({e.article for e in train.examples}) == 48
    assert "z2h.stand_in" not in train.tags and len(dev.examples) + len(test.examples) == 1190


def test_wikiann_from_the_hub_in_the_shipped_format(hub):
    import datasets

    table, calls = hub
    features = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                                  "ner_tags": datasets.Sequence(datasets.ClassLabel(names=["O", "B-PER", "I-PER"]))})
    table[("unimelb-nlp/wikiann", "en", "validation")] = datasets.Dataset.from_dict(
        {"tokens": [["Ada", "Lovelace", "wrote"], ["Tab\there"]], "ner_tags": [[1, 2, 0], [0]]}, features)
    task = get_task("ner")
    examples = task.read("hub", "en", "dev")
    assert examples[0].words == ["Ada", "Lovelace", "wrote"] and examples[0].tags == ["B-PER", "I-PER", "O"]
    assert examples[1].words == ["Tab here"]
    task.read("hub", "en", "dev")
    assert calls == [("unimelb-nlp/wikiann", "en", "validation")]
    assert task.pool_split("hub", "en") == "train"
    assert resolve_langs(task, "hub", "all", "test") == list(task_class("ner").targets)


def test_the_hub_unreachable_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("Z2H_CACHE_DIR", str(tmp_path))  # HF_HUB_OFFLINE=1 (make test, conftest): nothing loads
    with pytest.raises(RealDataUnavailable, match=r"unimelb-nlp/wikiann \(config fi\) split 'test'.*HF_HUB_OFFLINE"):
        get_task("ner").read("hub", "fi", "test")
    with pytest.raises(RealDataUnavailable, match=r"facebook/xnli \(config de\) split 'validation'"):
        get_task("xnli").read("hub", "de", "dev")
    with pytest.raises(Z2HError, match="ud data has no hub copy"):
        get_task("pos").read("hub", "tr", "test")
