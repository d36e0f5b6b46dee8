"""Dropout masks from the seeded CPU stream (training/dropout.py): torch's dropout distribution, reproducible by
seed whatever the number of threads, the SDPA attention math around them, and the model back as it was after."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from zero2hero.data.conllu_reader import read_conllu
from zero2hero.stages.common import build_model
from zero2hero.tasks import get_task
from zero2hero.training import dropout as seeded
from zero2hero.training.dropout import ATTENTION, PARALLEL_FROM, MaskStream, seeded_masks

CPU = torch.device("cpu")


@pytest.mark.parametrize("p", [0.1, 0.33])
def test_masks_are_torch_dropout_masks(p):
    n = 1_000_000
    mask = MaskStream(3).mask(torch.empty(n), p)
    kept = mask != 0
    # each element kept with probability 1 - p: within 5 standard deviations over a million draws
    assert abs(kept.float().mean().item() - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    assert torch.all(mask[kept] == torch.tensor(1 / (1 - p)))  # kept ones scaled, as torch scales them
    torch_kept = (nn.functional.dropout(torch.ones(n), p, training=True) != 0).float().mean().item()
    assert abs(torch_kept - kept.float().mean().item()) < 10 * math.sqrt(p * (1 - p) / n)
    assert MaskStream(3).mask(torch.empty(8, dtype=torch.bfloat16), p).dtype == torch.bfloat16
    x = torch.randn(4, 5)
    assert torch.equal(MaskStream(3).dropout(x, 0.0), x) and torch.equal(MaskStream(3).dropout(x, 1.0), x * 0)


def test_masks_follow_the_seed_not_the_threads():
    threads = torch.get_num_threads()
    sizes = [PARALLEL_FROM * 3 + 1, 17, PARALLEL_FROM]
    try:
        torch.set_num_threads(1)
        stream = MaskStream(11)
        sequential = [stream.uniform(n) for n in sizes]
        torch.set_num_threads(2)  # large masks: the second half on the helper thread
        stream = MaskStream(11)
        parallel = [stream.uniform(n) for n in sizes]
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(a, b) for a, b in zip(sequential, parallel))
    assert not torch.equal(sequential[2], MaskStream(11).uniform(PARALLEL_FROM))  # later masks go on in the stream
    assert not torch.equal(MaskStream(12).uniform(1000), MaskStream(11).uniform(1000))
    assert 0.0 <= float(sequential[0].min()) and float(sequential[0].max()) < 1.0


class _Attention(nn.Module):
    is_causal = False


@pytest.mark.parametrize("mask_kind", ["none", "bool", "additive"])
def test_attention_is_sdpa_math_with_the_stream_mask(mask_kind):
    torch.manual_seed(0)
    query, key, value = (torch.randn(3, 4, 7, 8) for _ in range(3))
    allowed = torch.ones(3, 1, 7, 7, dtype=torch.bool)
    allowed[0, ..., 5:] = False  # the first sequence has two padding positions
    additive = torch.where(allowed, 0.0, torch.finfo(torch.float32).min)
    mask = {"none": None, "bool": allowed, "additive": additive}[mask_kind]
    module, p, scaling = _Attention(), 0.25, 0.3
    token = seeded._current.set(MaskStream(5))
    try:
        output, _ = seeded._attention(module, query, key, value, mask, dropout=p, scaling=scaling)
        # without dropout it hands over to Hugging Face's own SDPA attention
        plain, _ = seeded._attention(module, query, key, value, mask, dropout=0.0, scaling=scaling)
    finally:
        seeded._current.reset(token)
    reference, _ = sdpa_attention_forward(module, query, key, value, mask, dropout=0.0, scaling=scaling)
    assert torch.equal(plain, reference)
    # by hand: softmax of the scaled, masked scores, the same stream's mask on the weights, the weighted values
    scores = query @ key.transpose(-2, -1) * scaling
    if mask is not None:
        scores = scores.masked_fill(~allowed, -math.inf)
    weights = torch.softmax(scores, dim=-1) * MaskStream(5).mask(scores, p)
    expected = (weights @ value).transpose(1, 2)
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-6)
    assert output.shape == reference.shape and not torch.allclose(output, reference)  # dropout did something


def _pos_model(path, data_dir):
    task = get_task("pos")
    examples = read_conllu(data_dir / "ud" / "en" / "en_ewt-ud-dev.conllu")[:6]
    model, tokenizer = build_model(task, str(path), None, task.label_vocabs(examples), 64, seed=1)
    batch = task.collate(task.encode(examples, tokenizer, model.meta, training=True), tokenizer)
    return model, batch


@pytest.mark.parametrize("encoder", ["tiny_bert", "tiny_xlmr"])
def test_training_on_cpu_draws_every_dropout_from_the_stream(encoder, data_dir, request):
    model, batch = _pos_model(request.getfixturevalue(encoder), data_dir)
    dropouts = [m for m in model.modules() if type(m) is nn.Dropout]
    assert len(dropouts) > 3 and model.encoder.config._attn_implementation == "sdpa"
    model.train()

    def loss_and_gradient(seed):
        model.zero_grad(set_to_none=True)
        with seeded_masks(model, seed, CPU) as stream:
            assert model.encoder.config._attn_implementation == ATTENTION
            before = stream.streams[0].bit_generator.state["state"]["state"]
            loss = model(batch)["loss"]
            loss.backward()
            drawn = stream.streams[0].bit_generator.state["state"]["state"] != before
        grad = model.encoder.get_input_embeddings().weight.grad.clone()
        return loss.item(), grad, drawn

    first, second, other = loss_and_gradient(7), loss_and_gradient(7), loss_and_gradient(8)
    assert first[2]  # the forward drew its masks from the stream
    assert first[0] == second[0] and torch.equal(first[1], second[1])  # reproducible by seed
    assert first[0] != other[0]  # and the masks are random
    # afterwards the model is as it was: its own dropout modules and SDPA attention
    assert model.encoder.config._attn_implementation == "sdpa"
    assert all("forward" not in m.__dict__ for m in dropouts)
    model.eval()
    with torch.no_grad():
        outside = model(batch)["loss"].item()
        with seeded_masks(model, 7, CPU):  # evaluation has no dropout: the same function inside
            inside = model(batch)["loss"].item()
    assert inside == pytest.approx(outside, rel=1e-6)


def test_other_devices_keep_torch_dropout(tiny_bert, data_dir):
    model, _ = _pos_model(tiny_bert, data_dir)
    with seeded_masks(model, 7, torch.device("cuda")) as stream:
        assert stream is None and model.encoder.config._attn_implementation == "sdpa"
        assert all("forward" not in m.__dict__ for m in model.modules() if type(m) is nn.Dropout)


def test_the_model_is_restored_when_training_fails(tiny_bert, data_dir):
    model, _ = _pos_model(tiny_bert, data_dir)
    with pytest.raises(RuntimeError, match="stop"):
        with seeded_masks(model, 7, CPU):
            raise RuntimeError("stop")
    assert model.encoder.config._attn_implementation == "sdpa"
    assert all("forward" not in m.__dict__ for m in model.modules() if type(m) is nn.Dropout)
