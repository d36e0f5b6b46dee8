"""XQuAD: windows and offsets, span post-processing, the article split, SQuAD-format bad input, stand-ins."""
from __future__ import annotations

import json
import logging
import shutil

import pandas as pd
import pytest

from zero2hero.data.examples import Answer, QaExample
from zero2hero.data.splits import load_split
from zero2hero.data.squad import POOL_ARTICLES, read_squad_json
from zero2hero.errors import DataError, Z2HError
from zero2hero.modeling.encoder import load_tokenizer
from zero2hero.modeling.meta import ModelMeta
from zero2hero.tasks import get_task
from zero2hero.tasks.xquad_windows import answer_positions, best_span, window_features
from zero2hero.training.config import TrainConfig

LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")


@pytest.fixture(scope="module")
def task():
    return get_task("xquad")


def _by_example(features):
    grouped = {}
    for feature in features:
        grouped.setdefault(feature["example_index"], []).append(feature)
    return grouped


def _recovered(example, windows):
    """The answer text cut out of the context through the first window that holds the gold answer."""
    for feature in windows:
        start, end = answer_positions(feature["offsets"], example.answers[0])
        if start:
            return example.context[feature["offsets"][start][0]:feature["offsets"][end][1]]
    return None


def test_offsets_recover_every_answer_of_a_real_file(task, data_dir, tiny_xlmr):
    examples = task.read_file(data_dir / "xquad" / "xquad.de.json")
    features, _ = window_features(examples, load_tokenizer(str(tiny_xlmr)), 384, training=False)
    grouped = _by_example(features)
    assert len(examples) == 1190
    for index, example in enumerate(examples):
        assert _recovered(example, grouped[index]) == example.answers[0].text, example.id


def test_offsets_with_wordpiece_fail_only_inside_words(task, data_dir, minilm):
    """With uncased WordPiece an answer can only be off where it starts inside a word ("keineTentakel")."""
    examples = task.read_file(data_dir / "xquad" / "xquad.de.json")
    grouped = _by_example(window_features(examples, load_tokenizer(str(minilm)), 384, training=False)[0])
    off = [ex for i, ex in enumerate(examples) if _recovered(ex, grouped[i]) != ex.answers[0].text]
    assert [ex.context[ex.answers[0].start - 1].isalpha() for ex in off] == [True] * len(off) and len(off) <= 2


@pytest.mark.parametrize("max_length", [384, 48])
def test_windows_cover_every_context_token(task, data_dir, minilm, max_length):
    tokenizer = load_tokenizer(str(minilm))
    examples = task.read(data_dir, "de", "pool")[:60]  # German contexts run to ~1,300 MiniLM subwords
    features, _ = window_features(examples, tokenizer, max_length, training=False)
    grouped = _by_example(features)
    assert max(len(windows) for windows in grouped.values()) > 1
    for index, example in enumerate(examples):
        whole = tokenizer(example.context, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        wanted = {(s, e) for s, e in whole if e > s}
        seen = [{span for span in f["offsets"] if span is not None} for f in grouped[index]]
        assert all(len(f["input_ids"]) <= max_length for f in grouped[index])
        covered = {(s, e) for s, e in wanted if any(o[0] <= s and e <= o[1] for window in seen for o in window)}
        assert covered == wanted
        for before, after in zip(seen, seen[1:]):  # consecutive windows overlap (stride), never leave a gap
            assert before & after


def test_questions_cut_to_64_subwords(task, minilm):
    tokenizer = load_tokenizer(str(minilm))
    context = "It rained all day because the clouds were heavy."
    example = QaExample("q", "why " * 200 + "?", context, [Answer("the clouds were heavy", context.index("the c"))])
    features, _ = window_features([example], tokenizer, 384, training=True)
    assert len(features) == 1
    question = features[0]["token_type_ids"].index(1) - 2  # [CLS] question [SEP] context [SEP]
    assert question == 64
    start, end = features[0]["start_positions"], features[0]["end_positions"]
    assert tokenizer.decode(features[0]["input_ids"][start:end + 1]) == "the clouds were heavy"


def test_training_labels_point_at_cls_outside_the_window(task, minilm):
    tokenizer = load_tokenizer(str(minilm))
    context = " ".join(f"word{i}" for i in range(200)) + " the answer is here."
    example = QaExample("q", "where?", context, [Answer("here", context.index("here"))])
    features, _ = window_features([example], tokenizer, 64, training=True)
    labels = [(f["start_positions"], f["end_positions"]) for f in features]
    assert len(features) > 2 and labels[0] == (0, 0) and labels[-1][0] > 0
    assert tokenizer.decode(features[-1]["input_ids"][labels[-1][0]]) == "here"


def test_best_valid_span_across_windows():
    none = None
    first = [none, (0, 5), (6, 10), (11, 15), none]
    second = [none, (11, 15), (16, 20), (21, 25), none]
    windows = [
        # window 1: the best logits are on special tokens or form an invalid (reversed) span
        (first, ([9.0, 1.0, 0.0, 3.0, 9.0], [9.0, 2.0, 0.5, 0.0, 9.0])),
        # window 2: a valid span (2, 3) scoring 4 + 3.5 = 7.5 beats window 1's best valid (1, 1) = 3.0
        (second, ([0.0, 0.0, 4.0, 1.0, 0.0], [0.0, 0.0, 1.0, 3.5, 0.0])),
    ]
    assert best_span(windows) == (16, 25)
    assert best_span(windows, max_answer=1) == (16, 20)  # span length limit in subwords
    assert best_span([([none, none, none], ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))]) is None
    assert best_span([]) is None


def test_finalize_answers_and_empty_context(task):
    meta = ModelMeta(task="xquad", model="m", max_length=384)
    examples = [QaExample("a", "q", "Denver Broncos won"), QaExample("b", "q", "")]
    features = [{"example_index": 0, "offsets": [None, (0, 6), (7, 14), (15, 18), None]},
                {"example_index": 1, "offsets": [None, None, None]}]
    logits = [([0, 5.0, 1.0, 0, 0], [0, 1.0, 5.0, 0, 0]), ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])]
    predictions = task.finalize(examples, features, logits, meta)
    assert predictions == [("Denver Broncos", 0), ("", -1)]
    frame = task.frame_from_predictions(predictions)
    assert list(frame.columns) == ["answer", "start"] and frame["answer"][0] == "Denver Broncos"


def test_article_split_disjoint_stable_and_parallel(task, data_dir):
    reference = None
    for lang in LANGS:
        pool, test = task.read(data_dir, lang, "pool"), task.read(data_dir, lang, "test")
        pool_titles = list(dict.fromkeys(ex.article for ex in pool))
        test_titles = list(dict.fromkeys(ex.article for ex in test))
        assert len(pool_titles) == POOL_ARTICLES and len(test_titles) == 38
        assert not set(pool_titles) & set(test_titles)
        assert not {ex.id for ex in pool} & {ex.id for ex in test}
        assert len(pool) + len(test) == 1190
        assert [ex.id for ex in task.read(data_dir, lang, "pool")] == [ex.id for ex in pool]  # stable
        ids = ([ex.id for ex in pool], [ex.id for ex in test])
        reference = reference or ids
        assert ids == reference, lang  # the same questions in every language
    assert pool_titles[0] == "Super_Bowl_50" and pool_titles[-1] == "Victoria_(Australia)"


def test_split_names_selection_and_units(task, data_dir):
    assert [ex.id for ex in task.read(data_dir, "es", "dev")] == [ex.id for ex in task.read(data_dir, "es", "pool")]
    with pytest.raises(Z2HError, match="pool"):
        task.read(data_dir, "es", "train")
    pool, test = load_split(task, data_dir, "es", "pool"), load_split(task, data_dir, "es", "test")
    assert pool.content_key != test.content_key  # one file, two splits: features must not share a cache entry
    units = task.sampling_units(pool.examples)
    assert len(units) == POOL_ARTICLES and units[0][0] == "Super_Bowl_50"
    assert sorted(i for _, indices in units for i in indices) == list(range(len(pool.examples)))
    assert task.unit_size(pool.examples, units[0][1]) == 5  # n_tokens of an article = its paragraphs
    assert task.pool_split(data_dir, "es") == "pool" and task.sampling_strategies == ("random",)


def test_few_shot_records_paragraphs_and_carve_out_takes_whole_articles(task, data_dir):
    from zero2hero.data.fewshot import PoolSpec, TargetData, sample_few_shot

    pool = load_split(task, data_dir, "es", "pool")
    sample = sample_few_shot(task, pool, 2, "random", seed=1)
    for shot in sample.shots:  # n_tokens of a drawn article = its paragraphs (not its questions)
        questions = [ex for ex in pool.examples if ex.article == shot.id]
        assert shot.n_tokens == len({ex.paragraph for ex in questions}) < len(questions)
    whole = TargetData(task, str(data_dir), "es", PoolSpec())
    carved = TargetData(task, str(data_dir), "es", PoolSpec.parse("test:3"))
    pool_articles = [ex.article for ex in carved.pool.examples]
    assert len(set(pool_articles)) == 3 and not set(pool_articles) & {ex.article for ex in carved.test.examples}
    assert len(carved.pool.examples) + len(carved.test.examples) == len(whole.test.examples)
    assert carved.pool.content_key != carved.test.content_key != whole.test.content_key
    assert [ex.id for ex in carved.pool.examples] == [ex.id for ex in whole.test.examples[: len(carved.pool.examples)]]
    with pytest.raises(Z2HError, match="has only 38 items"):
        TargetData(task, str(data_dir), "es", PoolSpec(38))


def _write(tmp_path, document, name="bad.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) if not isinstance(document, str) else document)
    return path


def _doc(context="Paris is the capital of France.", answer=("Paris", 0), qid="q1", question="Capital?"):
    qa = {"id": qid, "question": question, "answers": [{"text": answer[0], "answer_start": answer[1]}]}
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": context, "qas": [qa]}]}]}


def test_malformed_json_names_the_line(tmp_path):
    path = _write(tmp_path, '{"data": [\n  {"title": "T",\n   "paragraphs": [}\n]}')
    with pytest.raises(DataError, match=r"bad\.json:3: malformed JSON"):
        read_squad_json(path)


@pytest.mark.parametrize("document, message", [
    ({"version": "1.1"}, "'data' list"),
    ({"data": [{"title": "T"}]}, r"data\[0\]: .*'paragraphs'"),
    (_doc(question=""), "non-empty string 'question'"),
    (_doc(answer=("Paris", "0")), "must be an integer"),
])
def test_broken_structure_is_a_data_error(tmp_path, document, message):
    with pytest.raises(DataError, match=message):
        read_squad_json(_write(tmp_path, document))


def test_missing_answers_name_the_question_line(tmp_path):
    document = _doc()
    del document["data"][0]["paragraphs"][0]["qas"][0]["answers"]
    with pytest.raises(DataError, match=r"bad\.json:\d+: .*'answers'") as error:
        read_squad_json(_write(tmp_path, document))
    assert error.value.line is not None


def test_mismatched_answer_reported_skipped_for_training_scored(task, tmp_path, tiny_xlmr, caplog):
    good = _doc()["data"][0]["paragraphs"][0]["qas"][0]
    document = _doc(answer=("London", 0), qid="bad-1")
    document["data"][0]["paragraphs"][0]["qas"].append(good)
    document["data"][0]["paragraphs"].append({"context": "   ", "qas": [dict(good, id="empty-1")]})
    with caplog.at_level(logging.WARNING):
        examples = read_squad_json(_write(tmp_path, document))
    assert "bad-1" in caplog.text and "empty-1" in caplog.text and "1 question(s)" in caplog.text
    assert [ex.id for ex in examples] == ["bad-1", "q1", "empty-1"]
    tokenizer, meta = load_tokenizer(str(tiny_xlmr)), ModelMeta(task="xquad", model="m", max_length=384)
    training = task.encode(examples, tokenizer, meta, training=True)
    assert {f["example_index"] for f in training} == {1}
    evaluation = task.encode(examples, tokenizer, meta, training=False)
    predictions = task.finalize(examples, evaluation, [([0.0] * len(f["input_ids"]),) * 2 for f in evaluation], meta)
    assert predictions[2] == ("", -1)
    assert set(task.score(examples, predictions)) == {"exact_match", "f1", "f1_char"}


def test_frame_input_needs_question_and_context(task):
    assert task.examples_from_frame(pd.DataFrame({"question": ["q"], "context": ["c"]}))[0].context == "c"
    with pytest.raises(Z2HError, match="context"):
        task.examples_from_frame(pd.DataFrame({"question": ["q"]}))


def test_stand_in_modes(task, data_dir, tmp_path):
    config = TrainConfig.resolve(task.defaults, {})
    train, dev, test = task.source_splits(data_dir, "auto", config)  # HF_HUB_OFFLINE=1: SQuAD cannot load
    assert train.tags["z2h.stand_in"] == "xquad-pool-en" and "SQuAD" in train.tags["mlflow.note.content"]
    assert len({ex.article for ex in train.examples}) == POOL_ARTICLES - 1
    assert {ex.article for ex in dev.examples} == {"Victoria_(Australia)"}
    assert len({ex.article for ex in test.examples}) == 38
    assert task.source_splits(data_dir, "yes", config)[0].tags["z2h.stand_in"] == "xquad-pool-en"
    with pytest.raises(Z2HError, match="stand_in=no"):
        task.source_splits(data_dir, "no", config)
    # real SQuAD on disk: used as it is, no stand-in tag, the whole English pool is dev
    (tmp_path / "xquad").mkdir()
    shutil.copy(data_dir / "xquad" / "xquad.en.json", tmp_path / "xquad")
    (tmp_path / "squad").mkdir()
    _write(tmp_path / "squad", _doc(), "train-v1.1.json")
    train, dev, _ = task.source_splits(tmp_path, "no", config)
    assert [ex.id for ex in train.examples] == ["q1"] and not train.tags
    assert len({ex.article for ex in dev.examples}) == POOL_ARTICLES
