"""Self-checks for the exercises of 03_regularization_and_early_stopping_pytorch (PyTorch).

Each checker calls the learner's function on hidden cases, prints what was expected and what came
back (with a hint) and returns ``True`` (all cases pass) or ``False``. Imports ``torch`` (this is a
PyTorch notebook) and never TensorFlow; what the Keras twin (``ex03tf``) shares lives in ``_ex03_common``.

- :func:`free_sparsity` checks ``free_sparsity(model, val, amounts, max_drop) -> float``: the largest
  amount in ``amounts`` to which global magnitude pruning of a *copy* of ``model`` costs at most
  ``max_drop`` validation accuracy (0.0 if none); the model itself must stay unchanged.
- :func:`l1_fate` checks the prediction ``l1_fate(w0, lr, lam) -> (k, bound)``: plain SGD on ``lam * |w|``
  alone reaches or passes 0 at step ``k`` and then wobbles with ``|w| <= bound`` (never settling at 0).
  ``reference_near_zero_fraction`` (no exercise) is the fraction of weights with ``|w| < tol``.
- :func:`early_stopping_epoch` checks ``early_stopping_epoch(val_losses, patience) -> int``: the
  1-based epoch of the best validation loss seen before ``patience`` epochs in a row without
  (strict) improvement stopped training.

Introduced in 03_regularization_and_early_stopping_pytorch.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models_torch import mlp as _course_mlp
from ..train_torch import evaluate as _evaluate
from . import _ex03_common as _shared
from ._common import exercise as _exercise

__all__ = ["free_sparsity", "l1_fate", "early_stopping_epoch", "reference_free_sparsity",
           "reference_near_zero_fraction", "reference_l1_fate", "reference_early_stopping_epoch"]

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# --------------------------------------------------------------------------- reference answers
def _pruned_copy(model: nn.Module, amount: float, *, layerwise: bool = False) -> nn.Module:
    """A copy whose ``round(amount * n)`` smallest |w| (Linear/Conv weights; one global ranking) are 0."""
    out = copy.deepcopy(model)
    weights = [m.weight for m in out.modules() if isinstance(m, _PRUNABLE)]
    groups = [[w] for w in weights] if layerwise else [weights]
    with torch.no_grad():
        for group in groups:
            flat = torch.cat([w.detach().abs().flatten() for w in group]).numpy()
            drop = np.argsort(flat, kind="stable")[: int(round(amount * flat.size))]
            keep = np.ones(flat.size, dtype=bool)
            keep[drop] = False
            start = 0
            for w in group:
                w.mul_(torch.from_numpy(keep[start : start + w.numel()]).reshape(w.shape).to(w.dtype))
                start += w.numel()
    return out


def _accuracy(model: nn.Module, val: Any) -> float:
    """Accuracy on ``val = (x, y)`` (numpy), in eval mode, without a DataLoader (fast for the hidden cases)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(np.asarray(val[0], dtype=np.float32))).argmax(1).numpy()
    model.train(was_training)
    return float(np.mean(pred == np.asarray(val[1])))


def _accuracies(model: nn.Module, val: Any, amounts: Sequence[float], layerwise: bool) -> list[float]:
    return [_accuracy(_pruned_copy(model, a, layerwise=layerwise), val) for a in amounts]


def reference_free_sparsity(model: nn.Module, val: Any, amounts: Sequence[float], max_drop: float) -> float:
    """Largest amount in ``amounts`` whose global-magnitude-pruned copy of ``model`` loses at most ``max_drop``
    accuracy on ``val = (x, y)`` against the dense model (0.0 if none); ``model`` is not changed."""
    dense = _evaluate(model, val)["accuracy"]
    return _shared.free_choice(_accuracies(model, val, amounts, False), amounts, dense, max_drop)


reference_near_zero_fraction = _shared.reference_near_zero_fraction
reference_l1_fate = _shared.reference_l1_fate


def reference_early_stopping_epoch(val_losses: Sequence[float], patience: int) -> int:
    """1-based epoch of the best (strictly lowest) loss seen before ``patience`` epochs without improvement."""
    return _shared.reference_early_stopping_epoch(val_losses, patience)


# --------------------------------------------------------------------------- hidden cases
def _case(seed: int, tiny: float) -> tuple[nn.Module, tuple[np.ndarray, np.ndarray]]:
    """A small course MLP in which a random fraction ``tiny`` of the fc1 weights is shrunk 1000-fold (they
    barely matter, and global magnitude pruning finds them; a layer-wise rule also cuts fc2 and fc3);
    labels: its own predictions on random images, 25 % replaced at random (dense accuracy about 0.8)."""
    model = _course_mlp((16, 8), seed=seed)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        shrink = torch.from_numpy(rng.random(tuple(model.fc1.weight.shape)) < tiny)
        model.fc1.weight[shrink] *= 1e-3
    x = rng.random((333, 28, 28), dtype=np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).argmax(1).numpy()
    flip = rng.random(len(y)) < 0.25
    y[flip] = rng.integers(0, 10, int(flip.sum()))
    return model, (x, y.astype(np.int64))


def _fingerprint(model: nn.Module) -> tuple:
    """Changes when a weight the model computes with changes (also under torch.nn.utils.prune's masks)."""
    with torch.no_grad():
        return (tuple(model.state_dict()),
                tuple(float(m.weight.double().abs().sum()) for m in model.modules() if isinstance(m, _PRUNABLE)),
                tuple(int((m.weight == 0).sum()) for m in model.modules() if isinstance(m, _PRUNABLE)))


# --------------------------------------------------------------------------- checkers
@_exercise
def free_sparsity(fn: Callable[..., float]) -> bool:
    """Check the learner's ``free_sparsity(model, val, amounts, max_drop)`` on hidden small MLPs.

    Expected: the largest amount in ``amounts`` such that a copy of ``model`` pruned to it by global magnitude
    (one |w| ranking over all Linear weights, biases kept) has accuracy on ``val`` at most ``max_drop`` below
    the dense model's; ``0.0`` if no amount qualifies; ``model`` left unchanged. Prints a message and returns
    True/False. Introduced in 03_regularization_and_early_stopping_pytorch.
    """
    cases = [(*_case(1, 0.85), "an MLP with 85 % of its fc1 weights tiny"),
             (*_case(2, 0.6), "an MLP with 60 % of its fc1 weights tiny"),
             (*_case(3, 0.93), "an MLP with 93 % of its fc1 weights tiny")]
    return _shared.check_free_sparsity(fn, "ex03", cases, reference_free_sparsity, _accuracies, _fingerprint)


@_exercise
def l1_fate(fn: Callable[[float, float, float], tuple[int, float]]) -> bool:
    """Check the learner's prediction ``l1_fate(w0, lr, lam) -> (k, bound)`` on hidden cases.

    The case: one weight whose loss gradient is 0, plain SGD (no momentum) with learning rate ``lr`` on the
    penalty ``lam * |w|`` alone, sign(0) = 0. Expected: ``k`` (int), the first step at which the weight reaches
    or passes 0, and ``bound``, the smallest number |w| stays at or below after that for every ``w0`` (in the
    units of ``w0``). Wrong answers get a hint that names the mistake (L2's gradient, a step too early, the sign
    of ``w0``, "it stays at 0"). Prints a message and returns True/False.
    Introduced in 03_regularization_and_early_stopping_pytorch.
    """
    return _shared.check_l1_fate(fn, "ex03")


@_exercise
def early_stopping_epoch(fn: Callable[[Sequence[float], int], int]) -> bool:
    """Check the learner's ``early_stopping_epoch(val_losses, patience)`` on hidden loss curves.

    Expected: the 1-based epoch of the best (strictly lowest) validation loss seen before
    ``patience`` epochs in a row without improvement stopped training; ties keep the earlier
    epoch; if training never stops early, the best epoch overall. Prints a message and returns
    True/False. Introduced in 03_regularization_and_early_stopping_pytorch.
    """
    return _shared.check_early_stopping_epoch(fn, "ex03", min_delta=False)
