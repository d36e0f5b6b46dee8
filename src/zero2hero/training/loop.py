"""The one training loop: AdamW, optional warm-up/linear decay, gradient accumulation, length-grouped
batches, bf16 autocast on CUDA, seeded and deterministic on CPU, per-epoch dev scoring with the best
epoch kept. Logging happens only through callbacks.

A non-finite loss or dev score stops training at once with a Z2HError naming the step and value: a diverged
model would otherwise finish with a score that looks like a result."""
from __future__ import annotations

import contextlib
import math
import random
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import Z2HError, raise_if_terminated
from .batching import iterate_batches, length_grouped_batches, micro_batches
from .callbacks import Callback
from .config import TrainConfig, number_format, pick_device
from .embedding_rows import ReachableRowsOnly


@dataclass
class TrainResult:
    best_epoch: int
    best_dev_score: float | None
    dev_scores: list[float | None] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    steps: int = 0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    # deterministic mode also fills every new tensor with NaN (a guard against reading uninitialised memory, which
    # no op here does): about 2% of a CPU training step, for identical results without it
    torch.utils.deterministic.fill_uninitialized_memory = False


def autocast(device: torch.device, precision: str = "auto"):
    """bf16 autocast where the precision means bf16 (weights and optimizer stay fp32), else nothing. Heads turn
    their outputs to fp32 before losses and decoding."""
    if number_format(device, precision) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _trainable(model, freeze_embeddings: bool):
    for name, parameter in model.named_parameters():
        if freeze_embeddings and ".embeddings." in f".{name}":
            parameter.requires_grad_(False)
            continue
        if parameter.requires_grad:
            yield parameter


def _schedule(config: TrainConfig, total_steps: int):
    warmup = int(config.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if config.linear_decay:
            return max(0.0, (total_steps - step) / max(1, total_steps - warmup))
        return 1.0

    return factor


def make_optimizer(parameters: list, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """AdamW in its fastest exact implementation on `device`.

    The fused kernel (CPU and CUDA) reads and writes each parameter once per step; the multi-tensor one makes a
    pass per arithmetic operation, memory-bound on CPU: 23% of a MiniLM POS step against 8% fused (see
    benchmarks/bench_step_profile.py). Both compute the same update up to float rounding.
    """
    fused = device.type in ("cpu", "cuda") and all(p.dtype in (torch.float32, torch.float16, torch.bfloat16)
                                                   for p in parameters)
    return torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay,
                             **({"fused": True} if fused else {"foreach": True}))


# What one more micro-batch costs (forward and backward), in padded tokens, by device and number format; none: no
# cutting by length. On 2 CPU cores a MiniLM forward and backward cost about the same per token from ~100 tokens a
# batch up, so ten few-shot sentences run faster as a few micro-batches of similar length than padded to the
# longest (benchmarks/README.md). bf16 (AMX) makes a token about twice as cheap but not a call, so a micro-batch
# costs more tokens' worth: 256 was the fastest of 64-512. On CUDA a batch runs in parallel and padding is cheap;
# not measured there, so not cut.
MICRO_BATCH_OVERHEAD = {("cpu", "fp32"): 64, ("cpu", "bf16"): 256}


def backward(model, micro_batches: list[dict], device: torch.device, precision: str = "auto") -> torch.Tensor | None:
    """Forward and backward over the collated micro-batches of one step; returns the step's loss (detached).

    Each micro-batch's loss terms are weighted by its share of the items they average over (labelled words, or
    examples: `TaskModel.loss_counts`), so the gradients add up to those of the whole batch in one piece and the
    returned loss is its loss. None when nothing in the step is scored.
    """
    weights = [None]
    if len(micro_batches) > 1:
        counts = [model.loss_counts(batch) for batch in micro_batches]
        totals = [sum(column) for column in zip(*counts)]
        weights = [tuple(n / total if total else 0.0 for n, total in zip(row, totals)) for row in counts]
    summed = None
    for batch, shares in zip(micro_batches, weights):
        with autocast(device, precision):
            output = model(batch)
        loss = output["loss"] if shares is None else sum(
            term * share for term, share in zip(output.get("loss_parts", (output["loss"],)), shares)
            if share)  # a term over no items here (NaN) has no share
        if not torch.is_tensor(loss):  # nothing in this micro-batch is scored
            continue
        loss.backward()
        summed = loss.detach() if summed is None else summed + loss.detach()
    return summed


class TrainingDiverged(Z2HError):
    """The loss or dev score became inf/NaN: this configuration gives no result (a search tries the next)."""


def check_finite(what: str, value: float | None, where: str, config: TrainConfig) -> None:
    """Raise TrainingDiverged when `value` is inf or NaN (the run then ends FAILED with this reason)."""
    if value is not None and not math.isfinite(value):
        raise TrainingDiverged(f"training diverged: {what} is {value} at {where} (lr={config.lr:g}, "
                       f"weight_decay={config.weight_decay:g}); try a smaller lr")


def train(
    model,
    task,
    tokenizer,
    features: list[dict],
    config: TrainConfig,
    dev_score: Callable[[object], float] | None = None,
    callbacks: list[Callback] = (),
    progress: bool = True,
    group_by_length: bool = True,
) -> TrainResult:
    """Train `model` on task `features`; after each epoch call `dev_score(model)` and keep the best epoch.

    Returns the epochs' dev scores and mean train losses; the model ends with the best epoch's weights.
    """
    if not features:
        raise Z2HError(f"{task.name}: no training features: every training example was left out (see the "
                       "warnings above, e.g. XQuAD answers that are not found in their context)")
    device = pick_device()
    seed_everything(config.seed)
    model.to(device)
    # the word-embedding rows no training input reaches never change (no weight decay): leave them out of the
    # gradient, clipping and AdamW (embedding_rows.py)
    with ReachableRowsOnly(model, features, tokenizer, config) as rows:
        optimizer = make_optimizer(list(_trainable(model, config.freeze_embeddings)), config, device)
        lengths = [task.feature_length(f) for f in features]
        steps_per_epoch = math.ceil(len(features) / config.batch_size)
        total_steps = steps_per_epoch * config.epochs
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, total_steps))
        for callback in callbacks:
            callback.on_train_begin(total_steps)

        result, best_state, step = TrainResult(best_epoch=0, best_dev_score=None), None, 0
        overhead = MICRO_BATCH_OVERHEAD.get((device.type, number_format(device, config.precision)))
        for epoch in range(1, config.epochs + 1):
            model.train()
            batches = length_grouped_batches(lengths, config.batch_size, config.seed * 1000 + epoch, group_by_length)
            losses = []
            bar = tqdm(batches, desc=f"{task.name} epoch {epoch}/{config.epochs}", disable=not progress, leave=False)
            for indices in bar:
                raise_if_terminated()
                optimizer.zero_grad(set_to_none=True)
                parts = micro_batches(indices, lengths, config.grad_accum, overhead)
                collated = [batch for _, batch in iterate_batches(task, features, tokenizer, parts, device)]
                summed = backward(model, collated, device, config.precision)
                # the step's one host sync; a non-finite loss stops before the update
                batch_loss = summed.item() if summed is not None else math.nan
                check_finite("train_loss", batch_loss, f"step {step + 1} (epoch {epoch})", config)
                if config.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                step += 1
                losses.append(batch_loss)
                bar.set_postfix(loss=f"{batch_loss:.4f}", refresh=False)  # shown with the next step
                for callback in callbacks:
                    callback.on_step(step, batch_loss, scheduler.get_last_lr()[0])
            with rows.full_matrix():  # dev scoring looks up any row
                score = dev_score(model) if dev_score is not None else None
                check_finite("dev_score", score, f"epoch {epoch} (step {step})", config)
                result.dev_scores.append(score)
                result.train_losses.append(float(np.mean(losses)))
                for callback in callbacks:
                    callback.on_epoch_end(epoch, score, result.train_losses[-1])
            if score is None or result.best_dev_score is None or score > result.best_dev_score:
                result.best_epoch, result.best_dev_score = epoch, score
                if epoch < config.epochs and score is not None:
                    best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        if result.best_epoch != config.epochs and best_state is not None:
            model.load_state_dict(best_state)
    result.steps = step
    model.eval()
    for callback in callbacks:
        callback.on_train_end(result)
    return result

