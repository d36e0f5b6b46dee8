"""Training configuration: task defaults (SPEC §3) layered under explicit parameters."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch


@dataclass
class TrainConfig:
    lr: float
    epochs: int
    batch_size: int
    max_length: int
    seed: int = 1
    max_train_examples: int = 0
    max_eval_examples: int = 0
    warmup_ratio: float = 0.0
    linear_decay: bool = False
    weight_decay: float = 0.0
    grad_accum: int = 1
    freeze_embeddings: bool = False
    eval_batch_size: int = 64
    max_grad_norm: float = 1.0

    @classmethod
    def resolve(cls, defaults, values: dict) -> "TrainConfig":
        """Task defaults (a TrainDefaults) overridden by the non-None entries of `values`."""
        merged = asdict(defaults)
        names = {f.name for f in fields(cls)}
        merged.update({k: v for k, v in values.items() if k in names and v is not None})
        return cls(**{k: v for k, v in merged.items() if k in names})

    def as_params(self) -> dict:
        return asdict(self)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
