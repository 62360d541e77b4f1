"""Self-checks for the exercises of 11_pruning_a_transformer_pytorch (PyTorch only).

Each checker runs the learner's function on hidden cases, prints what was expected and what came back
(with a hint), and returns True or False.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["obs_update", "two_four_keep", "wanda_keep"]


# ----------------------------------------------------------------------------- reference solutions
def reference_wanda_keep(weight: torch.Tensor, x: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Reference solution of exercise 1: Wanda's keep-mask. Score ``|W_ij| · ‖X_:,j‖₂`` (the norm of input
    feature ``j`` over the ``n`` calibration rows of ``x``, shape ``(n, in_features)``); in **each row** the
    ``round(sparsity · in_features)`` smallest scores are pruned (ties: the lower index first)."""
    score = weight.detach().abs() * x.detach().norm(dim=0)[None, :]
    k = round(sparsity * weight.shape[1])
    keep = torch.ones_like(score, dtype=torch.bool)
    keep.scatter_(1, torch.argsort(score, dim=1, stable=True)[:, :k], False)
    return keep


def reference_obs_update(w: torch.Tensor, h_inv: torch.Tensor, q: int) -> torch.Tensor:
    """Reference solution of exercise 2: the Optimal Brain Surgeon update of one row ``w`` when weight ``q`` is
    removed: ``w − (w_q / [H⁻¹]_qq) · H⁻¹[:, q]`` (then ``w_q`` is exactly 0)."""
    new = w - (w[q] / h_inv[q, q]) * h_inv[:, q]
    new[q] = 0.0
    return new


def reference_two_four_keep(scores: torch.Tensor) -> torch.Tensor:
    """Reference solution of exercise 3: keep-mask with the 2 largest scores of every 4 consecutive entries of
    each row (groups along the input dimension, the last one)."""
    out, inp = scores.shape
    groups = scores.reshape(out, inp // 4, 4)
    top = torch.topk(groups, 2, dim=-1).indices
    return torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, top, True).reshape(out, inp)


# ----------------------------------------------------------------------------- helpers
def _as_bool_mask(got: Any, shape: tuple[int, ...], name: str) -> torch.Tensor | None:
    if not isinstance(got, torch.Tensor):
        _fail(f"{name}: expected a torch tensor, got {type(got).__name__}",
              "return a boolean tensor of the weight's shape (True = keep)")
        return None
    if tuple(got.shape) != shape:
        _fail(f"{name}: expected a mask of shape {shape}, got {tuple(got.shape)}",
              "one entry per weight: the same shape as the weight matrix (out_features, in_features)")
        return None
    if got.dtype != torch.bool:
        if not bool(((got == 0) | (got == 1)).all()):
            _fail(f"{name}: the mask holds values other than 0 and 1", "return a boolean mask, True = keep")
            return None
        got = got.bool()
    return got


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- exercise 1
def _wanda_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    g = _gen(11)
    w = torch.randn(6, 8, generator=g, dtype=torch.float64)
    x = torch.randn(40, 8, generator=g, dtype=torch.float64) * torch.tensor([0.1, 5, 1, 1, 0.3, 8, 1, 0.5],
                                                                           dtype=torch.float64)
    w2 = torch.randn(5, 12, generator=g, dtype=torch.float64) * torch.linspace(0.2, 3, 5, dtype=torch.float64)[:, None]
    x2 = torch.randn(30, 12, generator=g, dtype=torch.float64) * torch.linspace(3, 0.2, 12, dtype=torch.float64)
    return [(w, x, 0.5), (w2, x2, 0.25), (w2, x2, 0.75)]


@_exercise
def wanda_keep(fn: Callable[[torch.Tensor, torch.Tensor, float], Any]) -> bool:
    """Check ``fn(weight, x, sparsity) -> keep-mask`` (Wanda, Sun et al. 2023).

    ``weight`` is ``(out_features, in_features)``, ``x`` the layer's calibration inputs ``(n, in_features)``;
    score ``|W_ij| · ‖x[:, j]‖₂``, prune the ``round(sparsity · in_features)`` smallest scores of each row.
    """
    for weight, x, sparsity in _wanda_cases():
        ok, got = _call(fn, weight.clone(), x.clone(), sparsity)
        if not ok:
            return False
        mask = _as_bool_mask(got, tuple(weight.shape), "wanda_keep")
        if mask is None:
            return False
        expected = reference_wanda_keep(weight, x, sparsity)
        if torch.equal(mask, expected):
            continue
        n_keep = weight.shape[1] - round(sparsity * weight.shape[1])
        hint = "score = weight.abs() * x.norm(dim=0) (one norm per input feature), then sort within each row"
        if torch.equal(mask, ~expected):
            hint = "you returned the pruned weights: True must mean KEEP"
        elif not bool((mask.sum(1) == n_keep).all()):
            if int(mask.sum()) == weight.shape[0] * n_keep:
                hint = ("every row must keep the same number of weights: Wanda compares scores within each "
                        "output row, not across the whole layer")
            else:
                hint = f"each row keeps {n_keep} of {weight.shape[1]} weights (round(sparsity * in_features) pruned)"
        elif torch.equal(mask, reference_wanda_keep(weight, torch.ones_like(x), sparsity)):
            hint = "that is magnitude within rows: multiply |W| by the norm of each input feature over x's rows"
        elif torch.equal(mask, reference_wanda_keep(weight, x * x.norm(dim=0), sparsity)):
            hint = "use the L2 norm ‖x[:, j]‖₂, not its square"
        elif torch.equal(mask, reference_wanda_keep(weight, x.abs().mean(0, keepdim=True), sparsity)):
            hint = "Wanda uses the L2 norm over the calibration rows, x.norm(dim=0), not the mean |x|"
        return _fail(f"{tuple(weight.shape)} weight, sparsity {sparsity}: the mask differs from Wanda's "
                     f"in {int((mask != expected).sum())} places", hint)
    return _ok("wanda_keep: |W| · ‖X‖ per input feature, smallest pruned within each row")


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def obs_update(fn: Callable[[torch.Tensor, torch.Tensor, int], Any]) -> bool:
    """Check ``fn(w, h_inv, q) -> new row``: remove weight ``q`` of the row ``w`` and move the others by the
    Optimal Brain Surgeon update ``−(w_q / [H⁻¹]_qq) · H⁻¹[:, q]`` (Hassibi & Stork 1993)."""
    g = _gen(12)
    for n, inp, q in ((200, 6, 2), (300, 10, 0), (150, 8, 7)):
        x = torch.randn(n, inp, generator=g, dtype=torch.float64) @ torch.randn(inp, inp, generator=g,
                                                                              dtype=torch.float64)
        h = x.T @ x / n
        h_inv = torch.linalg.inv(h)
        w = torch.randn(inp, generator=g, dtype=torch.float64)
        ok, got = _call(fn, w.clone(), h_inv.clone(), q)
        if not ok:
            return False
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (inp,):
            return _fail(f"expected a tensor of shape ({inp},), the updated row, got "
                         f"{type(got).__name__} {tuple(getattr(got, 'shape', ()))}", "return the whole new row")
        got = got.double()
        expected = reference_obs_update(w, h_inv, q)
        if torch.allclose(got, expected, atol=1e-8, rtol=1e-6):
            continue
        zeroed = w.clone()
        zeroed[q] = 0
        hint = "new = w - (w[q] / h_inv[q, q]) * h_inv[:, q]"
        if abs(float(got[q])) > 1e-8:
            hint = f"the removed weight w[{q}] must end exactly at 0 (it is {float(got[q]):.3g})"
        elif torch.allclose(got, zeroed):
            hint = "you only zeroed w[q]: OBS also moves the other weights to make up for it (the whole point)"
        elif torch.allclose(got, reference_obs_update(w, h, q)):
            hint = "use the INVERSE Hessian h_inv, as given, not H"
        elif torch.allclose(got, torch.where(torch.arange(inp) == q, 0.0, 2 * w - expected), atol=1e-8):
            hint = "check the sign: subtract (w[q] / h_inv[q, q]) * h_inv[:, q]"
        err = {k: float(((w - v) @ x.T).norm()) for k, v in (("got", got), ("obs", expected), ("zero", zeroed))}
        return _fail(f"{inp} inputs, removing weight {q}: expected {expected.numpy().round(3)}, got "
                     f"{got.numpy().round(3)} (output error {err['got']:.3g}; OBS gives {err['obs']:.3g}, "
                     f"zeroing alone {err['zero']:.3g})", hint)
    return _ok("obs_update: the removed weight is 0 and the others absorb its loss (smallest output error)")


# ----------------------------------------------------------------------------- exercise 3
@_exercise
def two_four_keep(fn: Callable[[torch.Tensor], Any]) -> bool:
    """Check ``fn(scores) -> keep-mask`` keeping the 2 largest of every 4 consecutive scores of each row."""
    g = _gen(13)
    cases = [torch.randn(3, 8, generator=g).abs(), torch.rand(8, 16, generator=g), torch.rand(4, 4, generator=g)]
    for scores in cases:
        ok, got = _call(fn, scores.clone())
        if not ok:
            return False
        mask = _as_bool_mask(got, tuple(scores.shape), "two_four_keep")
        if mask is None:
            return False
        expected = reference_two_four_keep(scores)
        if torch.equal(mask, expected):
            continue
        hint = "reshape each row into groups of 4 (scores.reshape(out, in // 4, 4)) and keep the top 2 of each group"
        groups_ok = bool((mask.reshape(mask.shape[0], -1, 4).sum(-1) == 2).all())
        if torch.equal(mask, ~expected):
            hint = "you kept the two SMALLEST of each group; keep the two largest scores"
        elif scores.shape[0] % 4 == 0 and torch.equal(mask, reference_two_four_keep(scores.T).T):
            hint = ("your groups run down the columns (output dimension); 2:4 groups are 4 consecutive "
                    "INPUT features of one row")
        elif not groups_ok:
            hint = ("every group of 4 consecutive entries in a row must keep exactly 2: half of each row is "
                    "not enough, the hardware needs the pattern in each group")
        return _fail(f"scores of shape {tuple(scores.shape)}: the mask differs from 2:4 in "
                     f"{int((mask != expected).sum())} places", hint)
    return _ok("two_four_keep: 2 of every 4 consecutive weights kept in every row")
