"""``History``: what a training run returns, the same in both frameworks.

Framework-free (no torch, no TensorFlow): both ``train_torch.fit`` and ``train_tf.fit``
return this dataclass, so plotting and ``record()`` code is shared. Introduced in
01_loss_before_and_after_pytorch, the first notebook that trains a model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class History:
    """Epoch-wise training curves.

    Every list has one entry per epoch. ``loss`` is the mean training cross-entropy over the
    epoch (running average over batches, *without* any L1/weight-decay penalty), ``accuracy``
    the training accuracy as a fraction 0–1. ``val_loss``/``val_accuracy`` are measured at the
    end of each epoch and stay empty when no validation data was given. ``seconds`` is the wall
    time of each epoch's training pass in seconds (validation excluded). ``steps`` is the
    number of optimizer steps taken in total.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: int = 0

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.loss)

    @property
    def total_seconds(self) -> float:
        """Training wall time of all epochs, in seconds."""
        return float(sum(self.seconds))

    def last(self) -> dict[str, float]:
        """The final epoch's numbers, e.g. ``{"loss": .., "accuracy": .., "val_accuracy": ..}``."""
        if not self.loss:
            raise ValueError("History is empty: no epoch was trained")
        out = {"loss": self.loss[-1], "accuracy": self.accuracy[-1]}
        if self.val_loss:
            out["val_loss"] = self.val_loss[-1]
            out["val_accuracy"] = self.val_accuracy[-1]
        return out

    def extend(self, other: History) -> History:
        """Append ``other``'s epochs (e.g. fine-tuning after pruning) and return ``self``."""
        if not isinstance(other, History):
            raise TypeError(f"can only extend with a History, got {type(other).__name__}")
        if bool(self.val_loss) != bool(other.val_loss) and self.loss and other.loss:
            raise ValueError("cannot join a History with validation curves to one without them")
        self.loss += other.loss
        self.accuracy += other.accuracy
        self.val_loss += other.val_loss
        self.val_accuracy += other.val_accuracy
        self.seconds += other.seconds
        self.steps += other.steps
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-friendly; ``record("history", h.to_dict())`` works)."""
        return asdict(self)
