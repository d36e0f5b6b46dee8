"""The training parameters: one definition (types, checks, defaults, help) for `source`, `few_shot` and `search`.

`lr`, `epochs`, `batch_size` and `max_length` default to None = the task's defaults (docs/method.md §3), a layer
applied by `TrainConfig.resolve`; the resolved configuration is what the loop runs and what a run logs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..parameters import nonneg_float, nonneg_int, param, pos_float, pos_int, ratio, yes_no

TASK_DEFAULT = "task default: docs/method.md §3"
PRECISIONS = ("auto", "fp32", "bf16")


def precision_param():
    """The `precision` parameter of every stage that runs a model (training and scoring use the same)."""
    return param("auto", str, "number format of the forward passes: auto = bf16 autocast on CUDA, fp32 on CPU; "
                              "bf16 = bf16 autocast on any device (on CPUs with AMX about 2x faster scoring); "
                              "fp32 = no autocast. Recorded (and part of a cell's identity) as the format that runs, "
                              "except fp32 under auto",
                 PRECISIONS)


def number_format(device: "torch.device", precision: str = "auto") -> str:
    """What the `precision` parameter means on `device`: auto = bf16 on CUDA and fp32 on CPU (bf16 matmuls are
    slower than fp32 on CPUs without bf16 instructions; with AMX or AVX-512 BF16 they are faster); bf16 and fp32 =
    themselves."""
    return "bf16" if precision == "bf16" or (precision == "auto" and device.type == "cuda") else "fp32"


def precision_record(precision: str, device: "torch.device | None" = None) -> dict:
    """The `precision` param a run logs: the number format that runs on `device` (default: `pick_device()`), except
    fp32 under auto, which logs none, so that CPU runs from before the option keep their identity. auto on CUDA logs
    bf16: a GPU run and a CPU run of one cell are then two results, never reused for or averaged with each other."""
    if precision != "auto":
        return {"precision": precision}
    resolved = number_format(device or pick_device(), precision)
    return {} if resolved == "fp32" else {"precision": resolved}


@dataclass
class TrainConfig:
    lr: float | None = param(None, pos_float, f"peak learning rate ({TASK_DEFAULT})")
    epochs: int | None = param(None, pos_int, f"training epochs ({TASK_DEFAULT})")
    batch_size: int | None = param(None, pos_int, f"examples per optimiser step ({TASK_DEFAULT})")
    max_length: int | None = param(None, pos_int, "maximum subwords per input (task default: 512 word-level, "
                                                  "128 XNLI, 384 XQuAD)")
    seed: int = param(1, int, "random seed (sampling, initialisation, batch order)")
    max_train_examples: int = param(0, nonneg_int, "use only the first N training examples (0 = all)")
    max_eval_examples: int = param(0, nonneg_int, "score only the first N examples of every evaluation split (0 = all)")
    warmup_ratio: float = param(0.0, ratio, "share of steps with linear learning-rate warm-up")
    linear_decay: bool = param(False, yes_no, "decay the learning rate linearly to 0 (yes/no)")
    weight_decay: float = param(0.0, nonneg_float, "AdamW weight decay (0 = Adam as in the study)")
    grad_accum: int = param(1, pos_int, "split each batch into at least this many micro-batches (the "
                                        "step's gradient stays the whole batch's)")
    freeze_embeddings: bool = param(False, yes_no, "keep the embedding matrix fixed (much faster optimiser steps on CPU)")
    eval_batch_size: int = param(64, pos_int, "at most this many examples per batch at evaluation (on CPU "
                                             "also at most 1,024 padded tokens)")
    precision: str = precision_param()
    max_grad_norm: float = 1.0  # gradient clipping of every run (not a parameter)

    @classmethod
    def resolve(cls, defaults, values: dict) -> "TrainConfig":
        """Task defaults (a TrainDefaults) overridden by the non-None entries of `values`."""
        merged = asdict(defaults)
        names = {f.name for f in fields(cls)}
        merged.update({k: v for k, v in values.items() if k in names and v is not None})
        return cls(**{k: v for k, v in merged.items() if k in names})

    def as_params(self, device: "torch.device | None" = None) -> dict:
        """What a run logs (`precision` as `precision_record` has it on `device`)."""
        values = asdict(self)
        precision = values.pop("precision")
        return {**values, **precision_record(precision, device)}


def pick_device() -> "torch.device":
    import torch  # here, so that reading the configuration (every entry point's --help, the analysis) needs no torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
