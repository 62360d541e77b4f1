"""Self-checks for the exercises of 09_pruning_regularization_and_early_stopping_pytorch (PyTorch).

Each checker calls the learner's function on hidden cases, prints what was expected and what came
back (with a hint) and returns ``True`` (all cases pass) or ``False``. Imports ``torch`` (this is a
PyTorch notebook) and never TensorFlow.

- :func:`l1_penalty` checks ``l1_penalty(model) -> torch.Tensor``: the sum of ``|w|`` over the
  weights of Linear/Conv layers (not biases, not BatchNorm), as a scalar tensor that keeps its
  gradient.
- :func:`near_zero_fraction` checks ``near_zero_fraction(weights, tol) -> float``: the fraction
  0-1 of all weights of a ``{layer: array}`` dict, pooled over layers, with ``|w| < tol``.
- :func:`early_stopping_epoch` checks ``early_stopping_epoch(val_losses, patience) -> int``: the
  1-based epoch of the best validation loss seen before ``patience`` epochs in a row without
  (strict) improvement stopped training.

Introduced in 09_pruning_regularization_and_early_stopping_pytorch.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["l1_penalty", "near_zero_fraction", "early_stopping_epoch",
           "reference_l1_penalty", "reference_near_zero_fraction", "reference_early_stopping_epoch"]

_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# --------------------------------------------------------------------------- reference answers
def reference_l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of ``|w|`` over the weights of the Linear/Conv layers of ``model`` (0-dim tensor with grad)."""
    terms = [m.weight.abs().sum() for m in model.modules() if isinstance(m, _PRUNABLE)]
    if not terms:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv layer")
    return torch.stack(terms).sum()


def reference_near_zero_fraction(weights: dict[str, Any], tol: float) -> float:
    """Fraction 0-1 of all weights in ``weights`` (pooled over layers) with ``|w| < tol``."""
    flat = np.concatenate([np.abs(np.asarray(w, dtype=np.float64)).ravel() for w in weights.values()])
    return float(np.mean(flat < tol))


def reference_early_stopping_epoch(val_losses: Sequence[float], patience: int) -> int:
    """1-based epoch of the best (strictly lowest) loss seen before ``patience`` epochs without improvement."""
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best_epoch, best, waited = epoch, loss, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best_epoch


# --------------------------------------------------------------------------- helpers
def _mlp(seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.2), nn.Linear(5, 3))
    with torch.no_grad():
        for p in model.parameters():  # nonzero biases so that counting them changes the sum
            p.copy_(torch.randn(p.shape, generator=gen))
    return model


def _cnn(seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))
    with torch.no_grad():
        for p in model.parameters():  # BatchNorm weight != 1, so counting it changes the sum
            p.copy_(torch.randn(p.shape, generator=gen))
    return model


# --------------------------------------------------------------------------- checkers
@_exercise
def l1_penalty(fn: Callable[[nn.Module], torch.Tensor]) -> bool:
    """Check the learner's ``l1_penalty(model)`` on an MLP (with dropout) and a CNN (with BatchNorm).

    Expected: a scalar ``torch.Tensor`` equal to the sum of ``|w|`` over Linear/Conv weights (no
    biases, no BatchNorm parameters) whose gradient with respect to each weight is ``sign(w)``.
    Prints a message and returns True/False. Introduced in 09_pruning_regularization_and_early_stopping_pytorch.
    """
    name = "l1_penalty"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex09.{name}({name}); "
                     f"got {type(fn).__name__}.")
    for label, model in (("an MLP with dropout", _mlp(1)), ("a CNN with BatchNorm", _cnn(2))):
        want = float(reference_l1_penalty(model).detach())
        ok, got = _call(fn, model)
        if not ok:
            return False
        if not isinstance(got, torch.Tensor):
            return _fail(f"{name} on {label}: expected a torch.Tensor, got {type(got).__name__} ({got!r}).",
                         "don't call .item() or float(): the penalty must stay a tensor so that "
                         "`loss + lam * l1_penalty(model)` can be back-propagated.")
        if got.numel() != 1:
            return _fail(f"{name} on {label}: expected a scalar (one number), got a tensor of shape "
                         f"{tuple(got.shape)}.", "sum over all elements of every weight, then over layers.")
        value = float(got.detach())
        if not math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-6):
            with torch.no_grad():
                everything = float(sum(p.abs().sum() for p in model.parameters()))
                weights_named = float(sum(p.abs().sum() for n, p in model.named_parameters() if n.endswith("weight")))
            hint = "sum |w| of module.weight for the nn.Linear and nn.Conv2d modules only"
            if math.isclose(value, everything, rel_tol=1e-5):
                hint = "you included the biases (and BatchNorm); only Linear/Conv *weights* count"
            elif math.isclose(value, weights_named, rel_tol=1e-5):
                hint = "you included BatchNorm's weight (its scale γ); keep only nn.Linear / nn.Conv2d modules"
            elif value < want:
                hint = "use the sum of absolute values, not the mean; and include every Linear/Conv layer"
            return _fail(f"{name} on {label}: expected {want:.6f}, got {value:.6f}.", f"{hint}.")
        if not got.requires_grad:
            return _fail(f"{name} on {label}: the value is right but carries no gradient.",
                         "don't detach, use torch.no_grad() or convert to numpy — compute it from module.weight "
                         "directly.")
        model.zero_grad(set_to_none=True)
        try:
            got.sum().backward()
        except Exception as e:
            return _fail(f"{name} on {label}: backward() failed ({type(e).__name__}: {e}).")
        for m in model.modules():
            if isinstance(m, _PRUNABLE):
                if m.weight.grad is None or not torch.allclose(m.weight.grad, m.weight.detach().sign()):
                    return _fail(f"{name} on {label}: the gradient with respect to a weight should be sign(w).",
                                 "sum(|w|) over the weights, computed from module.weight.")
    return _ok(f"{name}: correct value and gradient on an MLP with dropout and a CNN with BatchNorm.")


@_exercise
def near_zero_fraction(fn: Callable[[dict, float], float]) -> bool:
    """Check the learner's ``near_zero_fraction(weights, tol)`` on hidden ``{layer: array}`` dicts.

    Expected: the fraction 0-1 of *all* weights (pooled over layers, not a mean of per-layer
    fractions) with ``|w| < tol``, as a Python/numpy float. Prints a message and returns True/False.
    Introduced in 09_pruning_regularization_and_early_stopping_pytorch.
    """
    name = "near_zero_fraction"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex09.{name}({name}); "
                     f"got {type(fn).__name__}.")
    rng = np.random.default_rng(9)
    cases = [
        # big layer mostly near zero, small layer mostly not: pooled != mean of per-layer fractions
        ({"fc1": np.concatenate([rng.uniform(-1e-4, 1e-4, 900), rng.uniform(0.1, 0.5, 100)]).reshape(20, 50)
          .astype(np.float32),
          "fc2": rng.uniform(0.1, 0.5, (10, 10)).astype(np.float32)}, 1e-3),
        # negative weights: |w| matters
        ({"a": np.array([-0.5, -1e-5, 2e-5, 0.3, -0.002, 0.0], dtype=np.float32),
          "b": np.array([[-3e-4, 0.7], [0.9, -0.8]], dtype=np.float32)}, 1e-3),
        # the tolerance is a parameter, not a constant
        ({"w": np.linspace(-0.1, 0.1, 201).astype(np.float32)}, 0.0505),
    ]
    for weights, tol in cases:
        want = reference_near_zero_fraction(weights, tol)
        ok, got = _call(fn, {k: v.copy() for k, v in weights.items()}, tol)
        if not ok:
            return False
        try:
            value = float(got)
        except (TypeError, ValueError):
            return _fail(f"{name}: expected a number (fraction 0-1), got {type(got).__name__}.")
        if not math.isclose(value, want, abs_tol=1e-9):
            per_layer = float(np.mean([reference_near_zero_fraction({"x": w}, tol) for w in weights.values()]))
            signed = float(np.mean(np.concatenate([np.asarray(w).ravel() for w in weights.values()]) < tol))
            hint = "count |w| < tol over all weights of all layers together, divide by their total number"
            if math.isclose(value, per_layer, abs_tol=1e-9):
                hint = ("that is the mean of per-layer fractions; pool the weights of all layers first "
                        "(np.concatenate of the flattened arrays)")
            elif math.isclose(value, signed, abs_tol=1e-9):
                hint = "take the absolute value: large negative weights are not near zero"
            elif value > 1:
                hint = "return a fraction 0-1, not a count or a percentage"
            sizes = {k: v.size for k, v in weights.items()}
            return _fail(f"{name}: for layers of sizes {sizes} and tol={tol}, expected {want:.6f}, got {value:.6f}.",
                         f"{hint}.")
    return _ok(f"{name}: correct on {len(cases)} hidden cases.")


@_exercise
def early_stopping_epoch(fn: Callable[[Sequence[float], int], int]) -> bool:
    """Check the learner's ``early_stopping_epoch(val_losses, patience)`` on hidden loss curves.

    Expected: the 1-based epoch of the best (strictly lowest) validation loss seen before
    ``patience`` epochs in a row without improvement stopped training; ties keep the earlier
    epoch; if training never stops early, the best epoch overall. Prints a message and returns
    True/False. Introduced in 09_pruning_regularization_and_early_stopping_pytorch.
    """
    name = "early_stopping_epoch"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex09.{name}({name}); "
                     f"got {type(fn).__name__}.")
    cases = [
        ([1.0, 0.8, 0.7, 0.75, 0.9, 1.0, 1.1], 2, "a U-shaped curve"),
        ([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 3, "a lower loss that comes only after the stop"),
        ([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 4, "the same curve with more patience"),
        ([1.0, 0.5, 0.6, 0.7, 0.4], 3, "a curve that improves just in time"),
        ([0.9, 0.7, 0.6, 0.5, 0.45], 2, "a curve that never stops improving"),
        ([1.0, 0.5, 0.5, 0.5, 0.6], 5, "ties (only a strictly lower loss is an improvement)"),
        (np.array([0.4, 0.5, 0.6, 0.7]), 1, "a numpy array, patience 1"),
    ]
    for losses, patience, what in cases:
        want = reference_early_stopping_epoch(losses, patience)
        ok, got = _call(fn, losses.copy() if isinstance(losses, np.ndarray) else list(losses), patience)
        if not ok:
            return False
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            return _fail(f"{name} on {what}: expected an int epoch number, got {type(got).__name__} ({got!r}).")
        if int(got) != want:
            hint = ("walk through the epochs, count epochs without a strict improvement, "
                    "stop when the count reaches patience")
            if int(got) == want - 1:
                hint = "epochs are numbered from 1 (epoch 1 is val_losses[0])"
            elif int(got) == int(np.argmin(losses)) + 1:
                hint = "argmin sees the whole curve; training stopped before that epoch, so it never saw that loss"
            return _fail(f"{name} on {what} {list(np.round(np.asarray(losses, dtype=float), 3))} "
                         f"with patience={patience}: expected epoch {want}, got {got}.", f"{hint}.")
    return _ok(f"{name}: correct on {len(cases)} hidden loss curves.")
