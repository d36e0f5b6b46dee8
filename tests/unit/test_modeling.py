"""Alignment on the first subword, length-grouped batching, the training loop and checkpoints."""
from __future__ import annotations

import torch

from zero2hero.data.conllu_reader import read_conllu
from zero2hero.data.examples import WordExample
from zero2hero.modeling.encoder import load_tokenizer, model_slug
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.tasks.word_level import align_words
from zero2hero.training.batching import evaluation_batches, length_grouped_batches, micro_batches
from zero2hero.training.config import TrainConfig
from zero2hero.training.evaluator import evaluate
from zero2hero.training.loop import train


def test_first_subword_alignment(tiny_bert, tiny_xlmr):
    words = ["Unbelievably", "long", "words", "tokenise", "into", "pieces", "."]
    for model_dir in (tiny_bert, tiny_xlmr):
        tokenizer = load_tokenizer(str(model_dir))
        input_ids, starts, empty, beyond = align_words(words, tokenizer, 512)
        assert empty == beyond == 0 and len(starts) == len(words)
        assert starts == sorted(starts) and len(set(starts)) == len(words) and starts[0] == 1
        pieces = tokenizer.convert_ids_to_tokens(input_ids)
        # every word starts exactly at its first piece: the pieces between two starts decode to that word
        for i, word in enumerate(words):
            end = starts[i + 1] if i + 1 < len(words) else len(input_ids) - 1
            text = tokenizer.convert_tokens_to_string(pieces[starts[i]:end]).replace(" ", "")
            assert text == word


def test_truncation_keeps_every_word_scored(tiny_bert):
    tokenizer = load_tokenizer(str(tiny_bert))
    words = ["the"] * 40  # one subword each in the fixture vocabulary
    input_ids, starts, empty, beyond = align_words(words, tokenizer, 16)
    assert len(input_ids) == 16 and len(starts) == 40 and (empty, beyond) == (0, 40 - 14)
    assert starts[14:] == [15] * beyond  # the explicit rule: the closing [SEP] stands for them, still counted


def test_words_without_subword_are_counted_apart_and_never_point_at_the_first_token(tiny_bert, minilm, caplog):
    # zero-width space, soft hyphen: BERT's normaliser deletes them (an XLM-R tokenizer maps them to <unk>)
    words = ["the", "\u200b", "cat", "\u00ad", "sat", "\u200b"]
    for model_dir in (tiny_bert, minilm):
        tokenizer = load_tokenizer(str(model_dir))
        input_ids, starts, empty, beyond = align_words(words, tokenizer, 512)
        assert (empty, beyond) == (3, 0)
        closing = len(input_ids) - 1
        assert input_ids[closing] == tokenizer.sep_token_id
        assert [starts[i] for i in (1, 3, 5)] == [closing] * 3 and 0 not in starts
    task = get_task("pos")
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs([]), 8)
    # "the" is one subword in the fixture vocabulary: 6 of them fit into 8 with [CLS] and [SEP]
    example = WordExample("z", ["the", "\u200b", "the", "\u00ad", "the", "\u200b"] + ["the"] * 10, ["DET"] * 16)
    with caplog.at_level("WARNING"):
        task.encode([example], tokenizer, model.meta, training=False)
    assert ("pos: 10 words without a subword (3 that the tokenizer maps to nothing, such as zero-width characters "
            "or soft hyphens; 7 beyond max_length=8)") in caplog.text


def test_length_grouped_batches_cover_all_and_pad_little():
    lengths = [((i * 37) % 97) + 3 for i in range(1000)]
    batches = length_grouped_batches(lengths, 16, seed=3)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert batches == length_grouped_batches(lengths, 16, seed=3)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded / sum(lengths) < 1.2  # random batches pad to ~2x here


def test_evaluation_batches_follow_length_within_a_token_budget():
    lengths = [((i * 37) % 97) + 3 for i in range(200)] + [700]  # one longer than the budget
    batches = evaluation_batches(lengths, 64, max_tokens=1024)
    assert sorted(i for b in batches for i in b) == list(range(201))
    flat = [i for b in batches for i in b]
    assert [lengths[i] for i in flat] == sorted(lengths)  # length order
    assert all(len(b) <= 64 for b in batches)
    assert all(len(b) * max(lengths[i] for i in b) <= 1024 for b in batches if len(b) > 1)
    assert batches[-1] == [200]  # too long for the budget: a batch of its own
    assert [len(b) for b in evaluation_batches([2] * 100, 64, max_tokens=1024)] == [64, 36]  # the example cap
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    plain = evaluation_batches(lengths, 64)  # no budget: 64 examples a batch, as on CUDA
    assert [len(b) for b in plain] == [64, 64, 64, 9]
    assert padded < sum(len(b) * max(lengths[i] for i in b) for b in plain)


def test_micro_batches_cut_by_length_within_the_grad_accum_cap():
    lengths = [8, 60, 9, 55, 10, 58, 11, 12, 50, 9]  # ten few-shot sentences: five short, five long-ish
    parts = micro_batches(list(range(10)), lengths, 1, overhead=64)
    assert sorted(i for p in parts for i in p) == list(range(10))
    assert [sorted(lengths[i] for i in p) for p in parts] == [[8, 9, 9, 10, 11, 12], [50, 55, 58, 60]]
    assert micro_batches(list(range(10)), lengths, 1, overhead=None) == [list(range(10))]  # CUDA: one piece
    capped = micro_batches(list(range(10)), lengths, 4, overhead=64)  # at most ceil(10 / 4) = 3 examples each
    assert all(len(p) <= 3 for p in capped) and sorted(i for p in capped for i in p) == list(range(10))
    assert micro_batches(list(range(10)), lengths, 4, overhead=None) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_model_slug():
    assert model_slug("xlm-roberta-base") == "xlm-roberta-base"
    assert model_slug("google-bert/bert-base-multilingual-cased") == "bert-base-multilingual-cased"


def _tiny_pos(tiny_bert, data_dir, n=8):
    task = get_task("pos")
    examples = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-dev.conllu")[:n]
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(examples), 128)
    return task, examples, model, tokenizer


def test_loop_overfits_a_tiny_batch_and_is_deterministic(tiny_bert, data_dir):
    runs = []
    for _ in range(2):
        task, examples, model, tokenizer = _tiny_pos(tiny_bert, data_dir)
        features = task.encode(examples, tokenizer, model.meta, training=True)
        config = TrainConfig(lr=3e-3, epochs=40, batch_size=8, max_length=128, seed=7)
        result = train(model, task, tokenizer, features, config, progress=False)
        runs.append((result.train_losses, evaluate(model, task, tokenizer, examples)["accuracy"]))
    (losses, accuracy), (losses_again, _) = runs
    assert accuracy > 95 and losses[-1] < losses[0] / 10
    assert losses == losses_again  # seeded and deterministic on CPU


def test_best_epoch_is_kept(tiny_bert, data_dir):
    task, examples, model, tokenizer = _tiny_pos(tiny_bert, data_dir)
    features = task.encode(examples, tokenizer, model.meta, training=True)
    scores = iter([50.0, 80.0, 10.0])
    snapshots = []

    def dev(m):
        snapshots.append({k: v.clone() for k, v in m.head.state_dict().items()})
        return next(scores)

    result = train(model, task, tokenizer, features, TrainConfig(lr=1e-3, epochs=3, batch_size=4, max_length=128), dev,
                   progress=False)
    assert result.best_epoch == 2 and result.best_dev_score == 80.0
    for key, value in model.head.state_dict().items():
        assert torch.equal(value, snapshots[1][key])





