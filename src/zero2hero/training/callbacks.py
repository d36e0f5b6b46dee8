"""Training callbacks: the loop reports through these and never logs anywhere itself."""
from __future__ import annotations


class Callback:
    """Hooks called by `training.loop.train`; override what you need."""

    def on_train_begin(self, total_steps: int) -> None: ...

    def on_step(self, step: int, loss: float, lr: float) -> None: ...

    def on_epoch_end(self, epoch: int, dev_score: float | None, train_loss: float) -> None: ...

    def on_train_end(self, result) -> None: ...
