"""Dropout masks on CPU from a fast seeded generator, for the loop's training steps.

torch draws a CPU dropout mask element by element on one thread from its Mersenne Twister (it uses MKL's
generator on Intel CPUs only): about 6 ns an element; on 2 AMD cores its `bernoulli_` was 10% of the op time of a
MiniLM POS training step, more than AdamW, and its share grows with the attention matrices, so with the sequence
length (benchmarks/README.md, bench_dropout.py). numpy's PCG64 fills float32 uniforms at about 2 ns an element, and two streams
fill the two halves of a mask in parallel. The masks are the same random variable as torch's: each element kept
when a uniform float32 draw is below 1 - p (torch: a float draw against 1 - p as well) and the kept ones scaled
by 1 / (1 - p). Which elements are dropped differs from torch's draws, as the draws of torch's own two CPU
generators differ from each other; a seeded run is as reproducible as before, and its masks depend only on the
seed and the sequence of mask shapes, not on the number of threads.

While training on CPU, `seeded_masks(model, seed)` makes every `nn.Dropout` of the model and the attention
dropout of encoders that use Hugging Face's SDPA attention draw from one such stream. Evaluation (no dropout),
CUDA (torch's fused Philox dropout is already fast) and other attention implementations are left as they are.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn

ATTENTION = "z2h_sdpa_seeded_dropout"  # the attention implementation registered with transformers
PARALLEL_FROM = 1 << 16  # masks of at least this many elements fill their two halves on two threads

_current: contextvars.ContextVar["MaskStream | None"] = contextvars.ContextVar("z2h_masks", default=None)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _helper() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="z2h-dropout")
        return _pool


class MaskStream:
    """Seeded dropout masks: the first half of every mask from one PCG64 stream, the second from another."""

    def __init__(self, seed: int):
        self.streams = [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed % 2**64).spawn(2)]

    def uniform(self, n: int) -> torch.Tensor:
        """n uniform float32 draws in [0, 1)."""
        return torch.from_numpy(self._fill(n, None))

    def mask(self, like: torch.Tensor, p: float) -> torch.Tensor:
        """A mask shaped and typed like `like`: 1 / (1 - p) where a uniform draw is below 1 - p, else 0."""
        keep = 1.0 - p
        if keep <= 0.0:
            return torch.zeros_like(like)
        drawn = torch.from_numpy(self._fill(like.numel(), keep)).view(like.shape)
        return drawn.to(device=like.device, dtype=like.dtype)

    def _fill(self, n: int, keep: float | None) -> np.ndarray:
        """n uniform draws, or with `keep` the scaled mask they give: each half from its own stream, turned into
        mask values by numpy where it was drawn (without the GIL, on the helper thread for the second half)."""
        out = np.empty(n, dtype=np.float32)
        halves = [(self.streams[0], out[: n // 2]), (self.streams[1], out[n // 2 :])]

        def half(stream, values):
            stream.random(out=values, dtype=np.float32)
            if keep is not None:
                np.multiply(np.less(values, np.float32(keep)), np.float32(1.0 / keep), out=values)

        if n >= PARALLEL_FROM and torch.get_num_threads() > 1:
            pending = _helper().submit(half, *halves[1])
            half(*halves[0])
            pending.result()
        else:
            for stream, values in halves:
                half(stream, values)
        return out

    def dropout(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return x * self.mask(x, p) if p > 0.0 else x


def _dropout_forward(module: nn.Dropout, stream: MaskStream, x: torch.Tensor) -> torch.Tensor:
    return stream.dropout(x, module.p) if module.training else x


def _attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """Hugging Face's SDPA attention, except that attention dropout draws from the current `MaskStream`.

    With dropout, torch's SDPA on CPU runs its math path (the fused CPU kernel has no dropout): scores in fp32,
    the mask added, softmax, dropout, the weighted sum. This is that path, spelled out, with the stream's mask.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    stream = _current.get()
    if (not dropout or stream is None or getattr(module, "is_causal", False)
            or getattr(module, "num_key_value_groups", 1) > 1 or kwargs.get("position_bias") is not None):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    dtype = query.dtype
    with torch.autocast(query.device.type, enabled=False):
        query, key, value = query.float(), key.float(), value.float()
        scale = scaling if scaling is not None else query.shape[-1] ** -0.5
        scores = torch.matmul(query * scale, key.transpose(-2, -1))  # scaling the smaller tensor
        if attention_mask is not None:
            if attention_mask.dtype == torch.bool:  # True: attend; added as 0 / the lowest float, as torch does
                additive = torch.zeros(attention_mask.shape, dtype=scores.dtype, device=scores.device)
                attention_mask = additive.masked_fill_(attention_mask.logical_not(), torch.finfo(scores.dtype).min)
            scores.add_(attention_mask)  # an addition passes the gradient through as it is
        weights = stream.dropout(torch.softmax(scores, dim=-1), dropout)
        output = torch.matmul(weights, value).to(dtype)
    return output.transpose(1, 2).contiguous(), None


def _register() -> bool:
    """Register the attention with transformers, with SDPA's masks (a name without a mask function gets none:
    padding would be attended to)."""
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:
        return False
    AttentionInterface.register(ATTENTION, _attention)
    AttentionMaskInterface.register(ATTENTION, sdpa_mask)
    return True


def _sdpa_encoders(model: nn.Module) -> list:
    """The outermost Hugging Face models inside `model` whose attention is SDPA and can be switched."""
    try:
        from transformers import PreTrainedModel
    except ImportError:
        return []
    found, configs = [], set()
    for module in model.modules():
        if isinstance(module, PreTrainedModel) and id(module.config) not in configs:
            configs.update(id(sub.config) for sub in module.modules() if isinstance(sub, PreTrainedModel))
            switchable = getattr(module, "_can_set_attn_implementation", lambda: False)()
            if getattr(module.config, "_attn_implementation", None) == "sdpa" and switchable:
                found.append(module)
    return found


@contextlib.contextmanager
def seeded_masks(model: nn.Module, seed: int, device: torch.device):
    """While inside, `model`'s dropout on CPU draws from a `MaskStream` seeded with `seed` (elsewhere: nothing)."""
    if device.type != "cpu":
        yield None
        return
    stream = MaskStream(seed)
    dropouts = [m for m in model.modules() if type(m) is nn.Dropout]
    encoders = _sdpa_encoders(model) if _register() else []
    token = _current.set(stream)
    try:
        for module in dropouts:
            module.forward = lambda x, _module=module: _dropout_forward(_module, stream, x)
        for encoder in encoders:
            encoder.set_attn_implementation(ATTENTION)
        yield stream
    finally:
        for encoder in encoders:
            encoder.set_attn_implementation("sdpa")
        for module in dropouts:
            module.__dict__.pop("forward", None)
        _current.reset(token)
