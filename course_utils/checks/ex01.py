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

__all__ = ["magnitude_mask", "layerwise_masks", "obd_saliency"]


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
def _obd_cases() -> list[tuple[str, Callable[[], torch.Tensor], torch.Tensor, torch.Tensor]]:
    """(what, loss_fn, weight, idx): a loss with off-diagonal curvature and a tiny softmax network."""
    gen = torch.Generator().manual_seed(5)
    rand = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
    w = rand(4, 3).requires_grad_()
    a, b, c = torch.rand(4, 3, generator=gen, dtype=torch.float64) + 0.1, rand(4, 3), 0.3 * rand(4, 3)
    quad = lambda: (a * w**2).sum() + (b * w).sum() ** 2 + (c * w**3).sum() + (b * w).sum()  # noqa: E731
    w1, w2 = rand(5, 6), rand(3, 5).requires_grad_()
    x, y = rand(20, 6), torch.randint(0, 3, (20,), generator=gen)
    net = lambda: torch.nn.functional.cross_entropy(torch.relu(x @ w1.T) @ w2.T, y)  # noqa: E731
    return [("a (4, 3) weight whose Hessian has off-diagonal terms, 5 positions", quad, w,
             torch.tensor([0, 5, 7, 11, 3])),
            ("the (3, 5) output weight of a tiny softmax network, all 15 positions", net, w2, torch.arange(15))]


@_exercise
def obd_saliency(fn: Callable[[Callable[[], torch.Tensor], torch.Tensor, torch.Tensor], Any]) -> bool:
    """Check ``fn(loss_fn, weight, idx) -> saliencies``: for the flat positions ``idx`` of the parameter ``weight``,
    Optimal Brain Damage's ``½ · H_ii · w_i²`` with ``H_ii`` the diagonal of the Hessian of ``loss_fn()``
    (one Hessian-vector product per position), as a tensor of shape ``(len(idx),)``; ``weight`` unchanged."""
    for what, loss_fn, weight, idx in _obd_cases():
        h_full = _exact_hessian(loss_fn, weight)
        (g,) = torch.autograd.grad(loss_fn(), weight)
        w = weight.detach().clone().view(-1)
        ii = idx.long()
        expected = 0.5 * h_full.diagonal()[ii] * w[ii] ** 2
        ok, got = _call(fn, loss_fn, weight, idx.clone())
        if not ok:
            return False
        if not torch.equal(weight.detach().view(-1), w):
            return _fail(f"{what}: your function changed the weight", "compute Hessian-vector products; do not "
                         "perturb the weight in place (or put it back exactly)")
        if not isinstance(got, torch.Tensor):
            return _fail(f"{what}: expected a tensor of saliencies, got {type(got).__name__}",
                         "collect the H_ii in a tensor and combine them with w[idx] element-wise")
        got = got.detach().double().reshape(-1) if got.numel() == len(ii) else got
        if tuple(got.shape) != (len(ii),):
            return _fail(f"{what}: expected one saliency per position, shape ({len(ii)},), got {tuple(got.shape)}",
                         "index the result with idx: one number per weight you score")
        # Both Hessians are float64 (rounding ~1e-16 relative); rtol 1e-4 also accepts saliencies stored in float32
        # (2⁻²⁴ ≈ 6e-8 relative), atol covers the exact zeros (H_ii = 0), and every named mistake is off by a factor.
        if torch.allclose(got, expected, rtol=1e-4, atol=1e-10):
            continue
        wi, hi = w[ii], h_full.diagonal()[ii]
        wrong = {
            "missing the factor ½": hi * wi**2,
            "H_ii alone: the saliency also needs the weight, ½·H_ii·w_i²": hi,
            "not squaring the weight": 0.5 * hi * wi,
            "using (H·1)_i, a row *sum* of the Hessian: a vector of ones mixes in the off-diagonal terms":
                0.5 * (h_full @ torch.ones_like(w))[ii] * wi**2,
            "using (H·w)_i: v = w mixes in the off-diagonal terms": 0.5 * (h_full @ w)[ii] * wi**2,
            "the squared gradient (g_i²), not the curvature": 0.5 * g.view(-1)[ii] ** 2 * wi**2,
            "the first-order term −g_i·w_i, not the curvature": -g.view(-1)[ii] * wi,
        }
        for why, value in wrong.items():
            if torch.allclose(got, value, rtol=1e-4, atol=1e-10) or torch.allclose(got, value.abs(), rtol=1e-4):
                return _fail(f"{what}: your saliency is {why}",
                             "H_ii = e_iᵀ H e_i: one Hessian-vector product with the one-hot vector e_i, "
                             "then ½·H_ii·w_i²")
        k = int((got - expected).abs().argmax())
        return _fail(f"{what}: expected e.g. {expected[k].item():.6g} at position {int(ii[k])}, "
                     f"got {got[k].item():.6g}",
                     "g = grad(loss, w, create_graph=True); for each i: Hv = grad(g, w, grad_outputs=e_i, "
                     "retain_graph=True); H_ii = Hv.view(-1)[i]")
    return _ok("obd_saliency: ½·H_ii·w_i² from one Hessian-vector product per weight")


def _exact_hessian(loss_fn: Callable[[], torch.Tensor], weight: torch.Tensor) -> torch.Tensor:
    """The full Hessian of ``loss_fn()`` with respect to the (small) ``weight``, flattened: row by row with
    double backward (independent of the learner's method)."""
    (g,) = torch.autograd.grad(loss_fn(), weight, create_graph=True)
    g = g.reshape(-1)
    rows = [torch.autograd.grad(g[i], weight, retain_graph=True)[0].reshape(-1) for i in range(g.numel())]
    return torch.stack(rows).detach()


# ----------------------------------------------------------------------------- reference solutions
def reference_magnitude_mask(w: torch.Tensor, fraction: float) -> torch.Tensor:
    """Reference for Exercise 1: True for the weights to keep, all but the ``round(fraction * w.numel())``
    smallest ``|w|`` (ties broken by position, so exactly k weights go even among exact zeros)."""
    return _expected_mask(w, fraction)


def reference_layerwise_masks(weights: dict[str, torch.Tensor], fraction: float) -> dict[str, torch.Tensor]:
    """Reference for Exercise 2: ``{name: keep-mask}``, every layer losing ``round(fraction * its size)`` of its
    own smallest ``|w|`` (layer-wise magnitude pruning)."""
    return {name: reference_magnitude_mask(w, fraction) for name, w in weights.items()}


def reference_obd_saliency(loss_fn: Callable[[], torch.Tensor], weight: torch.Tensor,
                           idx: torch.Tensor) -> torch.Tensor:
    """Reference for Exercise 3: Optimal Brain Damage saliencies ``½ · H_ii · w_i²`` (float64, shape
    ``(len(idx),)``) for the flat positions ``idx`` of ``weight``, ``H_ii`` the Hessian diagonal of ``loss_fn()``
    (a function of no arguments computing the loss through ``weight``), one Hessian-vector product with the
    one-hot vector ``e_i`` per position. ``weight`` is not changed."""
    (g,) = torch.autograd.grad(loss_fn(), weight, create_graph=True)
    h = torch.empty(len(idx), dtype=torch.float64)
    for k, i in enumerate(torch.as_tensor(idx).tolist()):
        e = torch.zeros_like(weight)
        e.view(-1)[i] = 1.0
        (hv,) = torch.autograd.grad(g, weight, grad_outputs=e, retain_graph=True)
        h[k] = hv.reshape(-1)[i]
    return 0.5 * h * weight.detach().reshape(-1)[torch.as_tensor(idx)].double() ** 2
