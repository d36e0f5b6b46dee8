"""The speed work in the training loop leaves the math alone: a seeded run's per-step losses and final weights
follow a plain PyTorch reference (single-tensor AdamW over every weight, the full embedding matrix included, one
backward per batch, clipping) computed in the same test."""
from __future__ import annotations

import pytest
import torch

from zero2hero.data.conllu_reader import read_conllu
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.training.batching import length_grouped_batches
from zero2hero.training.callbacks import Callback
from zero2hero.training.config import TrainConfig
from zero2hero.training import embedding_rows
from zero2hero.training.embedding_rows import ReachableRowsOnly
from zero2hero.training.evaluator import evaluate
from zero2hero.training.batching import micro_batches
from zero2hero.training.loop import MICRO_BATCH_OVERHEAD, backward, seed_everything, train


class StepLosses(Callback):
    def __init__(self):
        self.losses: list[float] = []

    def on_step(self, step, loss, lr):
        self.losses.append(loss)


def reference_losses(model, task, tokenizer, features, config) -> list[float]:
    """The loop's math written plainly: same seed, batches, loss, clipping and AdamW (single-tensor kernel)."""
    seed_everything(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  foreach=False, fused=False)
    lengths = [task.feature_length(f) for f in features]
    losses = []
    model.train()
    for indices in length_grouped_batches(lengths, config.batch_size, config.seed * 1000 + 1):
        optimizer.zero_grad()
        loss = model(task.collate([features[i] for i in indices], tokenizer))["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_seeded_loss_curve_matches_plain_reference(minilm, data_dir, monkeypatch):
    task = get_task("pos")
    examples = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-train.conllu")[:48]
    config = TrainConfig(lr=2e-4, epochs=1, batch_size=8, max_length=128, seed=3)

    def fresh():
        model, tokenizer = build_model(task, str(minilm), None, task.label_vocabs(examples), 128, seed=3)
        return model, tokenizer, task.encode(examples, tokenizer, model.meta, training=True)

    model, tokenizer, features = fresh()
    initial = model.encoder.get_input_embeddings().weight.detach().clone()
    reached = sorted({i for f in features for i in f["input_ids"]} | {tokenizer.pad_token_id})
    assert ReachableRowsOnly(model, features, tokenizer, config).active  # the loop trains reachable rows only
    recorded = StepLosses()
    train(model, task, tokenizer, features, config, callbacks=[recorded], progress=False)
    model_ref, tokenizer_ref, features_ref = fresh()
    expected = reference_losses(model_ref, task, tokenizer_ref, features_ref, config)

    assert len(recorded.losses) == len(expected) == 6
    # training moves the loss (the comparison is not between two flat lines): POS loss falls from ~2.9
    assert expected[-1] < expected[0] - 0.3
    # the fused and the single-tensor AdamW differ only in float rounding
    assert recorded.losses == pytest.approx(expected, rel=1e-4, abs=1e-5)

    # training the reachable rows only gives the weights of training the full matrix with the same kernels,
    # the matrix back in its place; rows that no input reaches are exactly as they were
    monkeypatch.setattr(embedding_rows, "_usable", lambda *args: False)
    model_full, tokenizer_full, features_full = fresh()
    train(model_full, task, tokenizer_full, features_full, config, progress=False)
    embedding = model.encoder.get_input_embeddings()
    assert type(embedding) is torch.nn.Embedding and embedding.weight.shape == initial.shape
    trained, full = model.state_dict(), model_full.state_dict()
    assert trained.keys() == full.keys() == model_ref.state_dict().keys()
    for name, value in full.items():
        torch.testing.assert_close(trained[name], value, rtol=1e-6, atol=1e-8, msg=name)
    moved = (embedding.weight != initial).any(dim=1).nonzero().flatten().tolist()
    assert len(moved) > 100 and set(moved) <= set(reached)
    unreached = torch.ones(len(initial), dtype=torch.bool)
    unreached[reached] = False
    assert torch.equal(embedding.weight[unreached], initial[unreached])


def test_dev_scoring_and_the_best_epoch_see_the_whole_matrix(tiny_bert, data_dir):
    """Dev scoring between epochs looks up rows that training never reaches, and going back to the best epoch
    restores the rows trained by then; the model ends with its full embedding matrix."""
    task = get_task("pos")
    train_examples = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-train.conllu")[:6]
    dev_examples = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-dev.conllu")[:20]
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(train_examples + dev_examples), 64)
    features = task.encode(train_examples, tokenizer, model.meta, training=True)
    config = TrainConfig(lr=1e-3, epochs=3, batch_size=4, max_length=64, seed=1)
    rows = ReachableRowsOnly(model, features, tokenizer, config)
    assert rows.active
    reached = set(rows.stand_in.rows.tolist())
    dev_ids = {i for f in task.encode(dev_examples, tokenizer, model.meta, training=False) for i in f["input_ids"]}
    assert dev_ids - reached  # the dev set needs rows outside the trained ones

    seen = []

    def dev_score(scored) -> float:
        embedding = scored.encoder.get_input_embeddings()
        assert type(embedding) is torch.nn.Embedding and embedding.num_embeddings == len(tokenizer)
        evaluate(scored, task, tokenizer, dev_examples, 8)
        seen.append(embedding.weight.detach().clone())
        return (50.0, 40.0, 30.0)[len(seen) - 1]  # the first epoch is the best

    result = train(model, task, tokenizer, features, config, dev_score, progress=False)
    assert result.best_epoch == 1 and len(seen) == 3
    final = model.encoder.get_input_embeddings()
    assert type(final) is torch.nn.Embedding
    assert not torch.equal(seen[0], seen[2])  # training went on after the first epoch
    assert torch.equal(final.weight, seen[0])  # and the model is back at the first epoch's weights


@pytest.mark.parametrize("task_name", ["pos", "dep", "ner"])
def test_micro_batches_of_similar_length_give_the_gradient_of_the_whole_batch(task_name, tiny_bert, data_dir):
    """A step's examples cut by length into micro-batches, each weighted by its share of the items every loss term
    averages over (labelled words; DEP: words with a head and words with a known relation; NER: sentences), give
    the loss and the gradients of the batch in one piece (dropout off, so both see the same function)."""
    task = get_task(task_name)
    examples = task.read(data_dir, "en", "dev")[:12]
    model, tokenizer = build_model(task, str(tiny_bert), None, task.label_vocabs(examples[:6]), 64)
    features = task.encode(examples, tokenizer, model.meta, training=True)  # half the labels unseen: IGNORE
    lengths = [task.feature_length(f) for f in features]
    parts = micro_batches(list(range(len(features))), lengths, 1, MICRO_BATCH_OVERHEAD["cpu", "fp32"])
    assert 1 < len(parts) < len(features)  # cut by length, not one per example
    assert sum(len(p) for p in parts) * max(lengths) > 1.3 * sum(len(p) * max(lengths[i] for i in p) for p in parts)
    model.eval()

    def gradients(index_batches):
        model.zero_grad(set_to_none=True)
        loss = backward(model, [task.collate([features[i] for i in b], tokenizer) for b in index_batches], torch.device("cpu"))
        return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    whole_loss, whole = gradients([list(range(len(features)))])
    cut_loss, cut = gradients(parts)
    assert cut_loss == pytest.approx(whole_loss, rel=1e-5)
    assert whole.keys() == cut.keys() and len(whole) > 10
    for name, grad in whole.items():  # float rounding differs with the batch shapes: a tolerance at the tensor's scale
        torch.testing.assert_close(cut[name], grad, rtol=1e-4, atol=1e-5 * float(grad.abs().max()) + 1e-9,
                                   msg=lambda text: f"{name}: {text}")
    if task_name == "pos":  # weighting by examples instead of labelled words would give another gradient
        naive = sum(model(task.collate([features[i] for i in b], tokenizer))["loss"] * len(b) / len(features)
                    for b in parts)
        assert abs(naive.item() - whole_loss) > 1e-3
