"""Where a training step of the loop spends its time: collation, forward, backward, clipping, optimizer.

The loop's step, phase by phase, on length-grouped batches (the loop's default), timed with a clock read after
each phase (on CPU every op has finished when it returns; on CUDA the clock waits for the device). The two exact
AdamW implementations torch offers on this device (multi-tensor `foreach`, and `fused` where torch has it) are
measured alternately on the same batches; the share of each phase is the median over steps and repeats.

    .venv/bin/python benchmarks/bench_step_profile.py [--sentences 640] [--batch_size 32] [--repeats 2]
"""
from __future__ import annotations

import time

import torch
from common import arguments, fresh_setup, load_examples, median, real_tokens

from zero2hero.training.batching import iterate_batches, length_grouped_batches
from zero2hero.training.loop import autocast, seed_everything

PHASES = ("collation", "forward", "backward", "clip", "optimizer")


def clock(device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def profile(examples, batch_size: int, fused: bool) -> tuple[dict[str, float], float]:
    """(seconds per phase summed over the epoch, real tokens/s) of one epoch."""
    task, model, tokenizer, features, config = fresh_setup(examples, batch_size)
    device = next(model.parameters()).device
    seed_everything(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, **({"fused": True} if fused else {"foreach": True}))
    lengths = [task.feature_length(f) for f in features]
    batches = length_grouped_batches(lengths, batch_size, config.seed * 1000 + 1)
    spent = dict.fromkeys(PHASES, 0.0)
    model.train()
    started = last = clock(device)
    for _, batch in iterate_batches(task, features, tokenizer, batches, device):
        now = clock(device); spent["collation"] += now - last; last = now
        optimizer.zero_grad(set_to_none=True)
        with autocast(device):
            loss = model(batch)["loss"]
        loss.item()
        now = clock(device); spent["forward"] += now - last; last = now
        loss.backward()
        now = clock(device); spent["backward"] += now - last; last = now
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        now = clock(device); spent["clip"] += now - last; last = now
        optimizer.step()
        now = clock(device); spent["optimizer"] += now - last; last = now
    return spent, real_tokens(task, features) / (last - started)


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    examples = load_examples(args.data_dir, args.sentences)
    variants = {"AdamW foreach": False, "AdamW fused": True}
    results: dict[str, list] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        for name, fused in (variants.items() if repeat % 2 == 0 else reversed(variants.items())):
            results[name].append(profile(examples, args.batch_size, fused))
            print(f"  repeat {repeat + 1}: {name}: {results[name][-1][1]:.0f} real tokens/s", flush=True)
    print(f"\n{'variant':16s} {'tokens/s':>9s} " + " ".join(f"{p:>10s}" for p in PHASES) + "   (share of step time)")
    for name, runs in results.items():
        shares = {p: median(spent[p] / sum(spent.values()) for spent, _ in runs) for p in PHASES}
        print(f"{name:16s} {median(s for _, s in runs):9.0f} " + " ".join(f"{100 * shares[p]:9.1f}%" for p in PHASES))


if __name__ == "__main__":
    main()
