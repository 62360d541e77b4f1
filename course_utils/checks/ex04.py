"""Self-checks for the exercises of 04_neuron_pruning_pytorch (PyTorch only).

Each checker runs the learner's function on hidden cases, prints what was expected and what came
back (with a hint), and returns True or False.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["apoz", "shrink_linear_pair", "shrink_with_bias_fold"]


def _to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


# ----------------------------------------------------------------------------- reference answers
def reference_apoz(acts: torch.Tensor) -> torch.Tensor:
    """APoZ per unit (dim 1): fraction 0–1 of zero activations over images (and positions of Conv maps)."""
    dims = [d for d in range(acts.dim()) if d != 1]
    return (acts == 0).float().mean(dim=dims)


def reference_shrink_linear_pair(fc_a: nn.Linear, fc_b: nn.Linear, keep_idx: Any) -> tuple[nn.Linear, nn.Linear]:
    """New ``(fc_a, fc_b)`` keeping hidden units ``keep_idx``: rows and bias entries of ``fc_a``, columns of ``fc_b``.

    The inputs are not modified. This is the core of ``surgery_torch.remove_units``.
    """
    keep_idx = torch.as_tensor(keep_idx, dtype=torch.long)
    new_a = nn.Linear(fc_a.in_features, len(keep_idx))
    new_b = nn.Linear(len(keep_idx), fc_b.out_features)
    with torch.no_grad():
        new_a.weight.copy_(fc_a.weight[keep_idx])
        new_a.bias.copy_(fc_a.bias[keep_idx])
        new_b.weight.copy_(fc_b.weight[:, keep_idx])
        new_b.bias.copy_(fc_b.bias)
    return new_a, new_b


def reference_shrink_with_bias_fold(fc_a: nn.Linear, fc_b: nn.Linear, keep_idx: Any) -> tuple[nn.Linear, nn.Linear]:
    """Like :func:`reference_shrink_linear_pair`, and ``fc_b``'s bias absorbs ``relu(b_i)`` of each removed unit
    (what a weight-only mask leaves behind)."""
    keep_idx = torch.as_tensor(keep_idx, dtype=torch.long)
    kept = set(keep_idx.tolist())
    removed = torch.tensor([i for i in range(fc_a.out_features) if i not in kept], dtype=torch.long)
    new_a, new_b = reference_shrink_linear_pair(fc_a, fc_b, keep_idx)
    with torch.no_grad():
        new_b.bias += fc_b.weight[:, removed] @ torch.relu(fc_a.bias[removed])
    return new_a, new_b


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def apoz(fn: Callable[[torch.Tensor], Any]) -> bool:
    """Check ``fn(acts) -> APoZ per unit``: fraction 0–1 of zero activations of each unit.

    ``acts`` is (N, units) for a Linear layer or (N, channels, H, W) for a Conv layer (a channel's
    zeros are counted over all images and positions).
    """
    rng = np.random.default_rng(4)
    dense = np.maximum(rng.normal(size=(50, 7)), 0).astype(np.float32)
    dense[:, 2] = 0.0  # a dead unit: APoZ 1
    dense[:, 5] = np.abs(dense[:, 5]) + 0.1  # always active: APoZ 0
    conv = np.maximum(rng.normal(loc=-0.3, size=(6, 4, 3, 5)), 0).astype(np.float32)
    cases = [
        ("(N, units) activations of a Linear layer", torch.from_numpy(dense), (dense == 0).mean(axis=0)),
        ("(N, C, H, W) activations of a Conv layer", torch.from_numpy(conv), (conv == 0).mean(axis=(0, 2, 3))),
    ]
    for what, acts, expected in cases:
        ok, got = _call(fn, acts.clone())
        if not ok:
            return False
        got = _to_numpy(got)
        if got.shape != expected.shape:
            return _fail(
                f"{what} of shape {tuple(acts.shape)}: expected one APoZ per unit, shape {expected.shape}, "
                f"got shape {got.shape}",
                "average over the images (axis 0) — and for Conv activations over the positions (axes 2, 3) too",
            )
        if np.allclose(got, 1 - expected, atol=1e-6) and not np.allclose(got, expected, atol=1e-6):
            return _fail(f"{what}: you returned the fraction of NONzero activations",
                         "APoZ = Average Percentage of Zeros: count `acts == 0`")
        if not np.allclose(got, expected, atol=1e-6):
            return _fail(f"{what}: expected {np.round(expected, 3)}, got {np.round(got, 3)}",
                         "APoZ of a unit = mean over images (and positions) of (activation == 0)")
    return _ok("apoz: correct for Linear (N, units) and Conv (N, C, H, W) activations")


# ----------------------------------------------------------------------------- exercise 2 & 3
def _hidden_pair(seed: int, n_in: int = 9, n_hidden: int = 8, n_out: int = 5) -> tuple[nn.Linear, nn.Linear]:
    gen = torch.Generator().manual_seed(seed)
    fc_a, fc_b = nn.Linear(n_in, n_hidden), nn.Linear(n_hidden, n_out)
    with torch.no_grad():
        for layer in (fc_a, fc_b):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen))
            layer.bias.copy_(torch.rand(layer.bias.shape, generator=gen) + 0.2)  # positive: relu(b) > 0
    return fc_a, fc_b


def _run_pair(fc_a: nn.Module, fc_b: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return fc_b(torch.relu(fc_a(x)))


def _check_pair_shapes(result: Any, n_in: int, k: int, n_out: int) -> str:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return f"expected a tuple (new_fc_a, new_fc_b), got {type(result).__name__}"
    a, b = result
    if not isinstance(a, nn.Linear) or not isinstance(b, nn.Linear):
        return f"expected two nn.Linear layers, got {type(a).__name__} and {type(b).__name__}"
    if tuple(a.weight.shape) != (k, n_in):
        return f"new_fc_a.weight should have shape ({k}, {n_in}) (kept units × inputs), got {tuple(a.weight.shape)}"
    if a.bias is None or tuple(a.bias.shape) != (k,):
        return f"new_fc_a.bias should have shape ({k},), got {None if a.bias is None else tuple(a.bias.shape)}"
    if tuple(b.weight.shape) != (n_out, k):
        return (f"new_fc_b.weight should have shape ({n_out}, {k}) (outputs × kept units), got "
                f"{tuple(b.weight.shape)}")
    if b.bias is None or tuple(b.bias.shape) != (n_out,):
        return f"new_fc_b.bias should have shape ({n_out},)"
    return ""


@_exercise
def shrink_linear_pair(fn: Callable[[nn.Linear, nn.Linear, Any], tuple[nn.Linear, nn.Linear]]) -> bool:
    """Check ``fn(fc_a, fc_b, keep_idx) -> (new_fc_a, new_fc_b)``: real removal of hidden units.

    The small pair with a ReLU in between must compute exactly what the big pair computes when the
    removed units are switched off entirely (their weight rows *and* biases zeroed); the inputs
    must not be modified.
    """
    x = torch.randn((11, 9), generator=torch.Generator().manual_seed(0))
    for seed, keep in ((0, [0, 3, 4, 7]), (1, [1, 2, 5]), (2, list(range(8)))):
        fc_a, fc_b = _hidden_pair(seed)
        before = (fc_a.weight.clone(), fc_a.bias.clone(), fc_b.weight.clone(), fc_b.bias.clone())
        ok, result = _call(fn, fc_a, fc_b, torch.tensor(keep))
        if not ok:
            return False
        problem = _check_pair_shapes(result, 9, len(keep), 5)
        if problem:
            return _fail(f"keep_idx={keep}: {problem}",
                         "keep rows of fc_a.weight and entries of fc_a.bias, and the matching COLUMNS of fc_b.weight")
        after = (fc_a.weight, fc_a.bias, fc_b.weight, fc_b.bias)
        if not all(torch.equal(u, v) for u, v in zip(before, after)):
            return _fail("the function modified fc_a or fc_b", "build new nn.Linear layers and copy slices into them")
        switched_off = copy.deepcopy(fc_a)
        drop = [i for i in range(8) if i not in keep]
        with torch.no_grad():
            switched_off.weight[drop] = 0
            switched_off.bias[drop] = 0
        expected = _run_pair(switched_off, fc_b, x)
        got = _run_pair(result[0], result[1], x)
        if not torch.allclose(got, expected, atol=1e-5):
            bias_only = copy.deepcopy(result[0])
            with torch.no_grad():
                bias_only.bias.copy_(fc_a.bias[torch.tensor(keep)])
            if torch.allclose(_run_pair(bias_only, result[1], x), expected, atol=1e-5):
                return _fail(f"keep_idx={keep}: the weights are right but new_fc_a.bias is not fc_a.bias[keep_idx]",
                             "a new nn.Linear starts with random biases: copy the kept ones in")
            return _fail(f"keep_idx={keep}: outputs differ from the big pair with those units switched off "
                         f"(max |difference| {float((got - expected).abs().max()):.3g})",
                         "new_fc_a.weight = fc_a.weight[keep_idx]; new_fc_b.weight = fc_b.weight[:, keep_idx]; "
                         "biases: fc_a.bias[keep_idx] and fc_b.bias unchanged")
    return _ok("shrink_linear_pair: right shapes, same outputs, inputs left untouched")


@_exercise
def shrink_with_bias_fold(fn: Callable[[nn.Linear, nn.Linear, Any], tuple[nn.Linear, nn.Linear]]) -> bool:
    """Check ``fn(fc_a, fc_b, keep_idx) -> (new_fc_a, new_fc_b)`` that folds removed units' constant output.

    Reference: the big pair in which only the *weight rows* of the removed units are zeroed (what
    ``prune.ln_structured(fc_a, "weight", ..., dim=0)`` does). Each removed unit then outputs the
    constant ``relu(b_i)``, which the small pair must add to ``fc_b``'s bias.
    """
    x = torch.randn((13, 9), generator=torch.Generator().manual_seed(1))
    for seed, keep in ((3, [0, 3, 4, 7]), (4, [2, 6]), (5, list(range(8)))):
        fc_a, fc_b = _hidden_pair(seed)
        with torch.no_grad():
            fc_a.bias[1] = -0.5  # a removed unit with a negative bias outputs relu(-0.5) = 0
        before = (fc_a.weight.clone(), fc_a.bias.clone(), fc_b.weight.clone(), fc_b.bias.clone())
        ok, result = _call(fn, fc_a, fc_b, torch.tensor(keep))
        if not ok:
            return False
        problem = _check_pair_shapes(result, 9, len(keep), 5)
        if problem:
            return _fail(f"keep_idx={keep}: {problem}", "the shapes are those of shrink_linear_pair")
        after = (fc_a.weight, fc_a.bias, fc_b.weight, fc_b.bias)
        if not all(torch.equal(u, v) for u, v in zip(before, after)):
            return _fail("the function modified fc_a or fc_b", "build new layers; do not write into the old ones")
        weight_masked = copy.deepcopy(fc_a)
        drop = [i for i in range(8) if i not in keep]
        with torch.no_grad():
            weight_masked.weight[drop] = 0  # bias left alone, like ln_structured on "weight"
        expected = _run_pair(weight_masked, fc_b, x)
        got = _run_pair(result[0], result[1], x)
        if torch.allclose(got, expected, atol=1e-5):
            continue
        diff = float((got - expected).abs().max())
        switched_off = copy.deepcopy(weight_masked)
        with torch.no_grad():
            switched_off.bias[drop] = 0
        if torch.allclose(got, _run_pair(switched_off, fc_b, x), atol=1e-5):
            return _fail(f"keep_idx={keep}: the removed units' constant output relu(b_i) is lost "
                         f"(max |difference| {diff:.3g})",
                         "new_fc_b.bias = fc_b.bias + fc_b.weight[:, removed] @ relu(fc_a.bias[removed])")
        no_relu = fc_b.bias + fc_b.weight[:, drop] @ fc_a.bias[drop] if drop else fc_b.bias
        if drop and torch.allclose(result[1].bias.detach(), no_relu.detach(), atol=1e-5):
            return _fail(f"keep_idx={keep}: you folded b_i instead of relu(b_i)",
                         "a removed unit outputs relu(0·x + b_i) = max(b_i, 0); negative biases give 0")
        return _fail(f"keep_idx={keep}: outputs differ from the weight-masked big pair (max |difference| {diff:.3g})",
                     "slice like shrink_linear_pair, then add fc_b.weight[:, removed] @ relu(fc_a.bias[removed]) "
                     "to the new fc_b bias")
    return _ok("shrink_with_bias_fold: the small pair matches the weight-only mask exactly")
