"""Training throughput of the one loop against the HF Trainer anchor, side by side in one process.

Four settings on the same model, data, batch size, lr, constant schedule, gradient clipping (1.0) and seed:
HF Trainer (its default optimizer: fused AdamW on torch >= 2.8) with random batches and with its
length-grouped sampler, the project's loop with random and with
length-grouped batches (its default). Settings alternate within each repeat; the figures are medians of the
repeats, each ratio taken against HF Trainer's grouped setting of the same repeat. The final training loss (mean
over the epoch) of each shows that the same math is compared: the losses agree within noise. On CUDA both run
under bf16 autocast (the Trainer's `bf16=True`, the loop's default there); `--precision bf16` does the same on
CPU (the Trainer's `bf16=True`, the loop's `precision=bf16`: torch's CPU autocast in both).

    .venv/bin/pip install -e ".[bench]"
    .venv/bin/python benchmarks/bench_training.py [--sentences 640] [--batch_size 32] [--repeats 2] [--threads N]
        [--precision auto|bf16] [--model DIR] [--random_init]

Each setting's model TFLOP/s (6 x the weights of its matrix products x real tokens/s) is set against one large
matrix product on the same device in the same number format, measured in the same run: how much of what the
device's matrix units can do the training step turns into useful work. On a lent GPU machine the benchmark runs
through benchmarks/gpu_check.sh (prepared by benchmarks/gpu_prepare.sh).

Besides wall-clock tokens/s it reports tokens per CPU-second of the process: on a machine shared with other
work, one torch thread (`--threads 1`) and CPU time measure the work itself rather than the share of the cores
the benchmark was given.
"""
from __future__ import annotations

import inspect
import tempfile
import time

import torch
from common import arguments, fresh_setup, load_examples, median, real_tokens

from zero2hero.training.loop import train


class KeywordModel(torch.nn.Module):
    """The TaskModel as the Trainer calls it (`model(**batch)`); the loss it returns is the loop's own."""

    accepts_loss_kwargs = False  # the Trainer then neither passes num_items_in_batch nor rescales the loss

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, **batch):
        return self.model(batch)


def hf_trainer(examples, batch_size: int, grouped: bool, precision: str) -> tuple[tuple[float, float], float, int]:
    """((wall, CPU) seconds, final mean training loss, real tokens) of one epoch with the HF Trainer."""
    from transformers import Trainer, TrainingArguments

    task, model, tokenizer, features, config = fresh_setup(examples, batch_size, precision)
    sampling = {}
    if "train_sampling_strategy" in inspect.signature(TrainingArguments).parameters:
        sampling["train_sampling_strategy"] = "group_by_length" if grouped else "random"
    else:
        sampling["group_by_length"] = grouped
    with tempfile.TemporaryDirectory() as output_dir:
        arguments_ = TrainingArguments(
            output_dir=output_dir, per_device_train_batch_size=batch_size, num_train_epochs=config.epochs,
            learning_rate=config.lr, weight_decay=config.weight_decay, lr_scheduler_type="constant",
            warmup_steps=0, max_grad_norm=config.max_grad_norm, seed=config.seed, data_seed=config.seed,
            report_to="none", save_strategy="no", logging_strategy="no",
            disable_tqdm=True, remove_unused_columns=False, dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
            # the loop's own autocast (training/loop.py: bf16 on CUDA, and on CPU with precision=bf16): the same math
            bf16=torch.cuda.is_available() or precision == "bf16",
            **sampling)
        trainer = Trainer(model=KeywordModel(model), args=arguments_, train_dataset=features,
                          data_collator=lambda rows: task.collate(rows, tokenizer))
        started = time.perf_counter(), time.process_time()
        output = trainer.train()
        seconds = time.perf_counter() - started[0], time.process_time() - started[1]
    return seconds, output.training_loss, real_tokens(task, features)


def project_loop(examples, batch_size: int, grouped: bool, precision: str) -> tuple[tuple[float, float], float, int]:
    """((wall, CPU) seconds, final mean training loss, real tokens) of one epoch with the project's loop."""
    task, model, tokenizer, features, config = fresh_setup(examples, batch_size, precision)
    started = time.perf_counter(), time.process_time()
    result = train(model, task, tokenizer, features, config, progress=False, group_by_length=grouped)
    seconds = time.perf_counter() - started[0], time.process_time() - started[1]
    return seconds, result.train_losses[-1], real_tokens(task, features)


SETTINGS = {
    "HF Trainer, random batches": (hf_trainer, False),
    "HF Trainer, group_by_length": (hf_trainer, True),
    "project loop, random batches": (project_loop, False),
    "project loop, length-grouped (default)": (project_loop, True),
}
ANCHOR = "HF Trainer, group_by_length"


def main() -> None:
    args = arguments(__doc__.splitlines()[0], precision="auto")
    if torch.cuda.is_available():
        print(f"device: {torch.cuda.get_device_name()}")
    examples = load_examples(args.data_dir, args.sentences)
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in SETTINGS}  # tokens/s, per CPU-s, loss
    for repeat in range(args.repeats):
        order = list(SETTINGS) if repeat % 2 == 0 else list(reversed(SETTINGS))
        for name in order:
            run, grouped = SETTINGS[name]
            (wall, cpu), loss, tokens = run(examples, args.batch_size, grouped, args.precision)
            rows[name].append((tokens / wall, tokens / cpu, loss))
            print(f"  repeat {repeat + 1}: {name}: {tokens / wall:.0f} real tokens/s, {tokens / cpu:.0f} per CPU-s, "
                  f"loss {loss:.4f}", flush=True)
    flops_per_token = 6 * matmul_weights(fresh_setup(examples[:1], args.batch_size, args.precision)[1])
    peak = matmul_peak(args.precision)
    print(f"\n{'setting':40s} {'tokens/s':>9s} {'x HF grp':>9s} {'tok/CPU-s':>10s} {'x HF grp':>9s} {'final loss':>11s} "
          f"{'TFLOP/s':>8s} {'of peak':>8s}")
    for name, values in rows.items():
        ratios = [[mine[k] / anchor[k] for mine, anchor in zip(values, rows[ANCHOR])] for k in (0, 1)]
        achieved = flops_per_token * median(v[0] for v in values) / 1e12
        print(f"{name:40s} {median(v[0] for v in values):9.0f} {median(ratios[0]):8.2f}x "
              f"{median(v[1] for v in values):10.0f} {median(ratios[1]):8.2f}x {median(v[2] for v in values):11.4f} "
              f"{achieved:8.3f} {100 * achieved / peak:7.2f}%")
    print(f"TFLOP/s: 6 x {flops_per_token // 6:,} matrix weights per real token (attention's own products left out: "
          f"short sentences); peak: one large matrix product on this device in this number format, {peak:.3g} TFLOP/s")


def matmul_weights(model) -> int:
    """The weights a token's forward pass multiplies by (every nn.Linear but an unused pooler)."""
    return sum(module.weight.numel() for name, module in model.named_modules()
               if isinstance(module, torch.nn.Linear) and "pooler" not in name)


def matmul_peak(precision: str) -> float:
    """TFLOP/s of one large square matrix product on this device, in the number format the benchmark trains in
    (bf16 on CUDA and with --precision bf16, else fp32): the achievable peak the step's products are measured against."""
    cuda = torch.cuda.is_available()
    size = 8192 if cuda else 2048
    dtype = torch.bfloat16 if cuda or precision == "bf16" else torch.float32
    a, b = (torch.randn(size, size, device="cuda" if cuda else "cpu", dtype=dtype) for _ in range(2))
    timings = []
    for _ in range(8):
        if cuda:
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if cuda:
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - started)
    return 2 * size ** 3 / median(timings[3:]) / 1e12

if __name__ == "__main__":
    main()
