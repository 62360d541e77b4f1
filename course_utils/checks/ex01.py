"""Self-checks for the exercises of 01_loss_before_and_after_pytorch (PyTorch only).

Each checker runs the learner's function on hidden cases, prints what was expected and what came
back (with a hint). How a self-check reports (not attempted / ✓ / ✗ and raise) is in ``_common``.
The ``reference_*`` functions are the solutions: the notebook's main line uses them, so a learner who has
not solved an exercise can still run the lesson, and its "Stuck?" line loads them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["magnitude_mask", "layerwise_masks", "taylor_delta"]


def _expected_mask(w: torch.Tensor, fraction: float) -> torch.Tensor:
    k = round(fraction * w.numel())
    keep = torch.ones(w.numel(), dtype=torch.bool)
    keep[torch.argsort(w.abs().flatten(), stable=True)[:k]] = False
    return keep.view(w.shape)


def _check_mask(got: Any, w: torch.Tensor, expected: torch.Tensor, what: str) -> bool:
    if not isinstance(got, torch.Tensor):
        return _fail(f"{what}: expected a torch tensor, got {type(got).__name__}",
                     "return something like `w.abs() > threshold` (a bool tensor)")
    if tuple(got.shape) != tuple(w.shape):
        return _fail(f"{what}: the mask must have the weight's shape {tuple(w.shape)}, got {tuple(got.shape)}",
                     "do not flatten the result (or reshape it back with .view(w.shape))")
    if got.dtype != torch.bool:
        return _fail(f"{what}: expected a bool mask (True = keep), got dtype {got.dtype}",
                     "a comparison such as `w.abs() > t` gives a bool tensor")
    n_exp, n_got = int(expected.sum()), int(got.sum())
    if torch.equal(got, ~expected):
        return _fail(f"{what}: your mask is inverted (True where a weight is removed)",
                     "True must mean *keep*: the kept weights are the large ones")
    if n_got != n_exp:
        ties = ("" if int((w == 0).sum()) == 0
                else " This weight has exact zeros (ties): a threshold test alone cannot pick exactly k of them.")
        return _fail(f"{what}: expected {n_exp} kept weights of {w.numel()}, got {n_got}.{ties}",
                     "remove exactly k = round(fraction * w.numel()) weights (fraction 0 keeps all, 1 keeps none); "
                     "torch.argsort(w.abs().flatten())[:k] gives the positions of the k smallest")
    kept, removed = w.abs()[got], w.abs()[~got]
    if kept.numel() and removed.numel() and bool(kept.min() < removed.max()):
        if torch.equal(got, _by_value(w, n_exp)):
            return _fail(f"{what}: you kept the largest *values*, so large negative weights were removed",
                         "rank by magnitude, the absolute value |w| (w.abs())")
        return _fail(f"{what}: right number of kept weights but not the largest |w| "
                     f"(a kept weight has |w| = {kept.min():.4f} < {removed.max():.4f}, a removed one)",
                     "keep the weights with the largest absolute value")
    return True


def _by_value(w: torch.Tensor, n_keep: int) -> torch.Tensor:
    keep = torch.zeros(w.numel(), dtype=torch.bool)
    if n_keep:
        keep[torch.argsort(w.flatten(), descending=True, stable=True)[:n_keep]] = True
    return keep.view(w.shape)


def _cases() -> list[tuple[str, torch.Tensor, float]]:
    g = torch.Generator().manual_seed(1)
    w1 = torch.tensor([0.5, -0.1, 0.03, -0.9, 0.2, -0.35, 0.01, 0.7, -0.05, 0.4])
    w2 = torch.randn(6, 5, generator=g)
    w3 = w2.clone()
    w3.view(-1)[torch.randperm(30, generator=g)[:12]] = 0.0
    return [
        ("1-D weight, fraction 0.5", w1, 0.5),
        ("(6, 5) weight, fraction 0.3", w2, 0.3),
        ("(6, 5) weight, fraction 0.0", w2, 0.0),
        ("(6, 5) weight, fraction 1.0", w2, 1.0),
        ("(6, 5) weight, fraction 0.9", w2, 0.9),
        ("(6, 5) weight with 12 exact zeros (already pruned), fraction 0.2", w3, 0.2),
    ]


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def magnitude_mask(fn: Callable[[torch.Tensor, float], Any]) -> bool:
    """Check ``fn(w, fraction) -> bool mask`` (True = keep) that removes the
    ``round(fraction * w.numel())`` weights of smallest magnitude |w|, without changing ``w``."""
    for what, w, fraction in _cases():
        w_in = w.clone()
        ok, got = _call(fn, w_in, fraction)
        if not ok:
            return False
        if not torch.equal(w_in, w):
            return _fail(f"{what}: your function changed the weight tensor it was given",
                         "build a new mask; do not zero `w` in place")
        if not _check_mask(got, w, _expected_mask(w, fraction), what):
            return False
    return _ok("magnitude_mask: keeps the largest |w| and removes exactly round(fraction * n) weights")


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def layerwise_masks(fn: Callable[[dict[str, torch.Tensor], float], Any]) -> bool:
    """Check ``fn(weights, fraction) -> {name: mask}`` that prunes each layer *separately* by magnitude:
    every layer loses ``round(fraction * layer size)`` of its own smallest-|w| weights."""
    g = torch.Generator().manual_seed(2)
    weights = {
        "big": torch.randn(8, 10, generator=g),          # large weights
        "small": 0.05 * torch.randn(4, 8, generator=g),  # small weights: a global threshold wipes them out
        "tiny": 0.01 * torch.randn(3, 4, generator=g),
    }
    for fraction in (0.5, 0.8):
        given = {k: v.clone() for k, v in weights.items()}
        ok, got = _call(fn, given, fraction)
        if not ok:
            return False
        if not isinstance(got, dict) or set(got) != set(weights):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return _fail(f"expected a dict with the same keys {sorted(weights)}, got {keys}",
                         "return {name: magnitude_mask(w, fraction) for name, w in weights.items()}")
        for name, w in weights.items():
            if not torch.equal(given[name], w):
                return _fail(f"your function changed the weights of {name!r}", "do not modify the weights in place")
            m = got[name]
            if isinstance(m, torch.Tensor) and tuple(m.shape) == tuple(w.shape):
                kept = int((m != 0).sum())
                if name == "tiny" and kept == 0:
                    return _fail(f"fraction {fraction}: layer 'tiny' lost every weight — "
                                 "that is one *global* threshold",
                                 "rank each layer's weights against its own magnitudes, "
                                 "not against all layers together")
            if not _check_mask(m, w, _expected_mask(w, fraction), f"fraction {fraction}, layer {name!r}"):
                return False
    return _ok("layerwise_masks: every layer keeps its own largest weights")


# ----------------------------------------------------------------------------- exercise 3
@_exercise
def taylor_delta(fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], Any]) -> bool:
    """Check ``fn(w, g, h) -> predicted change of the loss`` when each weight is removed *alone*:
    ``-g * w + 0.5 * h * w**2`` element-wise (second-order Taylor with the diagonal Hessian ``h``)."""
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    g = 0.1 * torch.randn(5, 4, generator=gen, dtype=torch.float64)
    h = torch.rand(5, 4, generator=gen, dtype=torch.float64)
    expected = -g * w + 0.5 * h * w**2
    ok, got = _call(fn, w.clone(), g.clone(), h.clone())
    if not ok:
        return False
    if not isinstance(got, torch.Tensor):
        return _fail(f"expected a tensor of predictions, got {type(got).__name__}",
                     "compute it element-wise with tensor arithmetic: one prediction per weight")
    if tuple(got.shape) != tuple(w.shape):
        return _fail(f"expected one prediction per weight, shape {tuple(w.shape)}, got {tuple(got.shape)}",
                     "do not sum: each weight is removed on its own")
    got = got.double()
    wrong = {
        "the first-order term has the wrong sign (removing w means delta = -w)": g * w + 0.5 * h * w**2,
        "the second-order term lacks the factor 1/2": -g * w + h * w**2,
        "only the first-order term": -g * w,
        "only the second-order term": 0.5 * h * w**2,
        "the second-order term uses w instead of w**2": -g * w + 0.5 * h * w,
    }
    if not torch.allclose(got, expected, rtol=1e-5, atol=1e-9):
        for why, value in wrong.items():
            if torch.allclose(got, value, rtol=1e-5, atol=1e-9):
                return _fail(f"your prediction is {why}", "ΔL ≈ gᵀδ + ½ δᵀHδ with δ = −w for one weight: −g·w + ½·h·w²")
        i = int((got - expected).abs().argmax())
        return _fail(f"expected e.g. {expected.flatten()[i].item():.6f}, got {got.flatten()[i].item():.6f}",
                     "ΔL ≈ −g·w + ½·h·w² for each weight")
    return _ok("taylor_delta: −g·w + ½·h·w² for every weight")


# ----------------------------------------------------------------------------- reference solutions
def reference_magnitude_mask(w: torch.Tensor, fraction: float) -> torch.Tensor:
    """Reference for Exercise 1: True for the weights to keep, all but the ``round(fraction * w.numel())``
    smallest ``|w|`` (ties broken by position, so exactly k weights go even among exact zeros)."""
    return _expected_mask(w, fraction)


def reference_layerwise_masks(weights: dict[str, torch.Tensor], fraction: float) -> dict[str, torch.Tensor]:
    """Reference for Exercise 2: ``{name: keep-mask}``, every layer losing ``round(fraction * its size)`` of its
    own smallest ``|w|`` (layer-wise magnitude pruning)."""
    return {name: reference_magnitude_mask(w, fraction) for name, w in weights.items()}


def reference_taylor_delta(w: torch.Tensor, g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Reference for Exercise 3: predicted change of the loss when each weight is removed alone,
    ``-g * w + 0.5 * h * w**2`` element-wise (``h`` is the diagonal of the Hessian)."""
    return -g * w + 0.5 * h * w**2
