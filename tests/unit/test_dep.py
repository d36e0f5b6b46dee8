"""DEP: biaffine scorer shapes and masking, tree decoding, attachment scores, tiny models end to end."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from zero2hero.data.examples import WordExample
from zero2hero.modeling.biaffine import MASKED, BiaffineDependencyHead, biaffine_arc_scores
from zero2hero.modeling.meta import IGNORE
from zero2hero.modeling.mst import greedy_heads, mst_heads
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.tasks.dep import attachment_scores
from zero2hero.training.config import TrainConfig
from zero2hero.training.evaluator import evaluate, predict_examples
from zero2hero.training.loop import train


def _batch(n_words: list[int], tokens: int = 12) -> dict:
    width = max(n_words)
    mask = torch.arange(width)[None, :] < torch.tensor(n_words)[:, None]
    starts = (torch.arange(width) + 1).expand(len(n_words), -1) * mask
    return {"word_starts": starts, "word_mask": mask, "n_words": torch.tensor(n_words),
            "attention_mask": torch.ones(len(n_words), tokens, dtype=torch.long)}


def test_biaffine_formula_matches_explicit_sum():
    torch.manual_seed(0)
    dependents, heads = torch.randn(2, 3, 4), torch.randn(2, 4, 4)
    weight, bias = torch.randn(4, 4), torch.randn(4)
    scores = biaffine_arc_scores(dependents, heads, weight, bias)
    assert scores.shape == (2, 3, 4)
    for b, i, j in [(0, 0, 0), (1, 2, 3), (1, 1, 0)]:
        expected = dependents[b, i] @ weight @ heads[b, j] + heads[b, j] @ bias
        assert torch.allclose(scores[b, i, j], expected, atol=1e-5)


def test_head_shapes_masking_and_loss():
    torch.manual_seed(0)
    head = BiaffineDependencyHead(16, n_relations=5, config={"arc_dim": 8, "relation_dim": 6})
    with torch.no_grad():
        head.arc_weight.normal_()
    batch = _batch([3, 5])
    hidden = torch.randn(2, 12, 16)
    output = head(hidden, batch)
    scores = output["arc_scores"]
    assert scores.shape == (2, 5, 6) and "loss" not in output
    assert (scores[0, :, 4:] == MASKED).all()  # words 4 and 5 do not exist in the first sentence
    assert all(scores[b, i, i + 1] == MASKED for b in range(2) for i in range(5))  # no word heads itself
    assert (scores[:, :, 0] > MASKED).all()  # the root is always a candidate
    batch["heads"] = torch.tensor([[0, 1, 1, IGNORE, IGNORE], [2, 0, 2, 3, 3]])
    batch["relations"] = torch.tensor([[0, 1, IGNORE, IGNORE, IGNORE], [4, 0, 1, 2, 3]])
    output = head(hidden, batch)
    assert torch.isfinite(output["loss"])
    output["loss"].backward()
    assert head.arc_weight.grad.abs().sum() > 0 and head.relation_weight.grad.abs().sum() > 0
    with torch.no_grad():
        decoded = head.decode(head(hidden, _batch([3, 5])), _batch([3, 5]))
    assert [len(heads) for heads, _ in decoded] == [3, 5] and [len(r) for _, r in decoded] == [3, 5]
    assert all(0 <= h <= 3 for h in decoded[0][0]) and all(0 <= r < 5 for _, rels in decoded for r in rels)


def _is_tree(heads: list[int]) -> bool:
    for start in range(1, len(heads) + 1):
        seen, node = set(), start
        while node != 0:
            if node in seen:
                return False
            seen.add(node)
            node = heads[node - 1]
    return True


def test_mst_repairs_a_greedy_cycle():
    # rows: words 1..3; columns: root, 1, 2, 3. Greedy: 1 <- 2, 2 <- 1 (a cycle), 3 <- 2.
    scores = np.array([[1.0, 0.0, 10.0, 0.0],
                       [2.0, 9.0, 0.0, 0.0],
                       [0.0, 1.0, 8.0, 0.0]])
    assert greedy_heads(scores) == [2, 1, 2] and not _is_tree(greedy_heads(scores))
    heads = mst_heads(scores)
    assert heads == [2, 0, 2]  # breaking the cycle at word 2 (root 2, loses 7) beats word 1 (root 1, loses 9)
    assert _is_tree(heads)


def test_mst_has_exactly_one_root():
    scores = np.array([[5.0, 0.0, 0.5, 0.0],
                       [5.0, 1.0, 0.0, 0.0],
                       [5.0, 0.0, 2.0, 0.0]])  # every word prefers the root
    assert greedy_heads(scores) == [0, 0, 0]
    heads = mst_heads(scores)
    assert heads.count(0) == 1 and _is_tree(heads)
    assert heads == [0, 1, 2]  # the best single-root tree: 5 + 1 + 2
    assert mst_heads(scores, single_root=False) == [0, 0, 0]
    assert mst_heads(np.array([[3.0, -1.0]])) == [0]  # one word: it heads the sentence


def test_mst_is_optimal_on_random_matrices():
    import itertools

    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(2, 6))
        scores = rng.normal(size=(n, n + 1))
        trees = [h for h in itertools.product(range(n + 1), repeat=n)
                 if all(h[i] != i + 1 for i in range(n)) and list(h).count(0) == 1 and _is_tree(list(h))]
        best = max(sum(scores[i, h[i]] for i in range(n)) for h in trees)
        heads = mst_heads(scores)
        assert _is_tree(heads) and heads.count(0) == 1
        assert sum(scores[i, heads[i]] for i in range(n)) == pytest.approx(best)


def test_attachment_scores_and_punctuation_option():
    gold = [WordExample("a", ["I", "saw", "her", "."], ["PRON", "VERB", "PRON", "PUNCT"], [2, 0, 2, 2],
                        ["nsubj", "root", "obj", "punct"]),
            WordExample("b", ["Go", "!"], ["VERB", "PUNCT"], [0, 1], ["root", "punct"])]
    predicted = [([2, 0, 2, 3], ["nsubj", "root", "iobj", "punct"]),
                 ([0, 1], ["root", "discourse"])]
    # heads right: 3/4 + 2/2 = 5 of 6; labels also right: I, saw, Go = 3 of 6
    assert attachment_scores(gold, predicted) == pytest.approx({"uas": 500 / 6, "las": 50.0})
    # without punctuation: I, saw, her, Go; heads right 4/4, labels right 3/4
    assert attachment_scores(gold, predicted, count_punctuation=False) == pytest.approx({"uas": 100.0, "las": 75.0})
    task = get_task("dep")
    metrics = task.score(gold, predicted)
    assert metrics["uas"] == pytest.approx(500 / 6) and metrics["uas_no_punct"] == 100.0
    task.count_punctuation = False
    assert task.score(gold, predicted)["uas"] == 100.0


def test_unknown_relation_is_wrong_not_a_crash(tiny_bert):
    task = get_task("dep")
    seen = [WordExample("a", ["Go", "!"], ["VERB", "PUNCT"], [0, 1], ["root", "punct"])]
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(seen), 64)
    unseen = [WordExample("b", ["Go", "home"], ["VERB", "NOUN"], [0, 1], ["root", "obl"])]
    features = task.encode(unseen, tokenizer, model.meta, training=False)
    assert features[0]["relations"] == [model.meta.labels["relations"].index("root"), IGNORE]
    metrics = evaluate(model, task, tokenizer, unseen)
    assert metrics["las"] <= 50.0


def test_a_tiny_model_overfits_and_predicts_trees(tiny_xlmr, data_dir):
    """DEP's own part beyond the task contract: attachment scores reached and every prediction one tree."""
    model_dir = tiny_xlmr
    task = get_task("dep")
    examples = [e for e in task.read(data_dir, "en", "dev") if 4 <= len(e) <= 12][:8]
    model, tokenizer = build_model(task, str(model_dir), None, task.label_vocabs(examples), 128)
    assert model.meta.head_config["decoder"] == "mst"  # recorded in the checkpoint
    features = task.encode(examples, tokenizer, model.meta, training=True)
    assert features[0]["heads"] == examples[0].heads
    result = train(model, task, tokenizer, features, TrainConfig(lr=3e-3, epochs=40, batch_size=8, max_length=128,
                                                                  seed=7), progress=False)
    metrics = evaluate(model, task, tokenizer, examples)
    assert result.train_losses[-1] < result.train_losses[0] / 5
    assert metrics["uas"] > 90 and metrics["las"] > 80
    predictions = predict_examples(model, task, tokenizer, examples)
    assert all(_is_tree(heads) and heads.count(0) == 1 for heads, _ in predictions)


def test_words_beyond_max_length_are_still_parsed_and_scored(tiny_bert, caplog):
    task = get_task("dep")
    words = ["the"] * 30
    example = WordExample("long", words, ["DET"] * 30, [0] + [1] * 29, ["root"] + ["det"] * 29)
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs([example]), 16)
    with caplog.at_level("WARNING"):
        predictions = predict_examples(model, task, tokenizer, [example])
    assert "16 words without a subword (0 that the tokenizer maps to nothing" in caplog.text
    assert "16 beyond max_length=16" in caplog.text
    heads, relations = predictions[0]
    assert len(heads) == len(relations) == 30 and _is_tree(heads) and heads.count(0) == 1
    wrong_last = [0] + [1] * 28 + [2]  # only the last (truncated) word wrong: it still counts, 29 of 30
    assert task.score([example], [(wrong_last, relations)])["uas"] == pytest.approx(100 * 29 / 30)
