"""Self-checks for the exercises of 02_weight_pruning_pytorch (PyTorch only).

Each checker runs the learner's function on hidden cases, prints what was expected and what came
back (with a hint). How a self-check reports (not attempted / ✓ / ✗ and raise) is in ``_common``.
The ``reference_*`` functions are the solutions: the notebook's main line uses them, so a learner who has
not solved an exercise can still run the lesson, and its "Stuck?" line loads them.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["global_threshold", "han_recipe", "second_amount"]


def _as_float(x: Any) -> float | None:
    try:
        if isinstance(x, torch.Tensor):
            if x.numel() != 1:
                return None
            return float(x.item())
        return float(x)
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def global_threshold(fn: Callable[[dict[str, torch.Tensor], float], Any]) -> bool:
    """Check ``fn(weights, amount) -> threshold``: the k-th smallest |w| over *all* tensors of the dict
    ``weights``, k = round(amount * total number of weights), so that pruning every weight with
    |w| <= threshold removes a fraction ``amount`` of them (0 < amount < 1)."""
    gen = torch.Generator().manual_seed(5)
    weights = {
        "fc1": torch.randn(20, 30, generator=gen) * 0.1,
        "fc2": torch.randn(10, 20, generator=gen) * 0.3,
        "fc3": torch.randn(3, 10, generator=gen),
    }
    every = torch.cat([w.flatten() for w in weights.values()])
    for amount in (0.5, 0.9, 0.25):
        given = {k: v.clone() for k, v in weights.items()}
        ok, got = _call(fn, given, amount)
        if not ok:
            return False
        if any(not torch.equal(given[k], weights[k]) for k in weights):
            return _fail("your function changed the weights it was given", "work on w.abs(), a new tensor")
        value = _as_float(got)
        if value is None:
            return _fail(f"expected one number (a float or a 0-d tensor), got {type(got).__name__}"
                         + (f" of shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else ""),
                         "one threshold for the whole model; `.item()` turns a 0-d tensor into a float")
        k = round(amount * every.numel())
        expected = float(every.abs().kthvalue(k).values)
        if math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        wrong = {
            "the threshold of the *values*, not of |w|": float(every.kthvalue(k).values),
            "the (k+1)-th smallest |w| (off by one)": float(every.abs().kthvalue(min(k + 1, every.numel())).values),
            "the threshold of fc1 alone (a layer-wise threshold)": float(
                weights["fc1"].abs().flatten().kthvalue(round(amount * weights["fc1"].numel())).values),
            "the amount-quantile of |w| with interpolation": float(torch.quantile(every.abs(), amount)),
        }
        for why, w_value in wrong.items():
            if math.isclose(value, w_value, rel_tol=1e-6, abs_tol=1e-9):
                return _fail(f"amount={amount}: you returned {why} ({value:.5f}); expected {expected:.5f}",
                             "concatenate all |w| (torch.cat of flattened tensors) and take .kthvalue(k) "
                             "with k = round(amount * n)")
        pruned = float((every.abs() <= value).float().mean())
        return _fail(f"amount={amount}: expected {expected:.5f}, got {value:.5f} (|w| <= it removes {pruned:.1%}, "
                     f"not {amount:.0%})", "k-th smallest of all |w| with k = round(amount * n)")
    return _ok("global_threshold: one threshold over all layers removes exactly the requested fraction")


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def second_amount(fn: Callable[[float, float], Any]) -> bool:
    """Check ``fn(current, target) -> amount`` to pass to ``prune.l1_unstructured`` on a tensor that
    is already ``current`` sparse so that it ends ``target`` sparse: (target - current) / (1 - current).
    The check also runs ``torch.nn.utils.prune`` twice with your amount and measures the sparsity."""
    cases = [(0.2, 0.36), (0.5, 0.9), (0.0, 0.7), (0.8, 0.8), (0.6, 0.95)]
    for current, target in cases:
        ok, got = _call(fn, current, target)
        if not ok:
            return False
        value = _as_float(got)
        if value is None:
            return _fail(f"expected a number, got {type(got).__name__}")
        expected = (target - current) / (1 - current)
        if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9):
            hint = ("prune's amount is a fraction of the weights that are still *unpruned* (1 - current of them): "
                    "the second call must remove target - current of all weights")
            if math.isclose(value, target - current, abs_tol=1e-9):
                return _fail(f"current={current}, target={target}: you returned target - current = {value:.3f}, "
                             f"a fraction of *all* weights; expected {expected:.4f}", hint)
            if math.isclose(value, target, abs_tol=1e-9):
                return _fail(f"current={current}, target={target}: you returned the target itself; "
                             f"expected {expected:.4f}", hint)
            return _fail(f"current={current}, target={target}: expected {expected:.4f}, got {value:.4f}", hint)
        # and check against torch itself
        layer = nn.Linear(50, 40)
        with torch.no_grad():
            layer.weight.copy_(torch.linspace(0.01, 1.0, 2000).view(40, 50))
        prune.l1_unstructured(layer, "weight", amount=current)
        prune.l1_unstructured(layer, "weight", amount=value)
        measured = float((layer.weight == 0).float().mean())
        if abs(measured - target) > 1e-3:
            return _fail(f"current={current}, target={target}: torch ended at {measured:.3f} sparsity")
    return _ok("second_amount: two stacked prune calls reach the target sparsity")


HAN_SPARSITY = {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}  # Han et al. 2015, LeNet-300-100: 8 %, 9 %, 26 % kept


def _effective(module: nn.Module) -> torch.Tensor:
    if hasattr(module, "weight_orig") and hasattr(module, "weight_mask"):
        return (module.weight_orig * module.weight_mask).detach()
    return module.weight.detach()


@_exercise
def han_recipe(model: Any, dense: nn.Module) -> bool:
    """Exercise 3 of 02_weight_pruning_pytorch: ``model`` is ``dense`` pruned layer-wise to Han et al.'s
    sparsities (fc1 92 %, fc2 91 %, fc3 74 %) by magnitude, then fine-tuned with the masks kept."""
    if not isinstance(model, nn.Module):
        return _fail(f"pass your pruned model (an nn.Module), got {type(model).__name__}")
    if model is dense:
        return _fail("you passed `dense` itself", "prune a fresh copy: han = copy.deepcopy(dense)")
    for name, target in HAN_SPARSITY.items():
        try:
            w, w0 = _effective(model.get_submodule(name)), dense.get_submodule(name).weight.detach()
        except AttributeError:
            return _fail(f"the model has no layer {name!r}", "start from a copy of the course MLP `dense`")
        n = w.numel()
        zeros = int((w == 0).sum())
        want = round(target * n)
        if abs(zeros - want) > max(1, 0.001 * n):
            hint = ("amounts are per layer: pt.layerwise_prune(model, {'fc1': 0.92, ...})"
                    if abs(zeros / n - target) > 0.01 else "prune the fresh copy once (masks stack on re-runs)")
            return _fail(f"{name}: {zeros / n:.2%} of the weights are zero, expected {target:.0%}", hint)
        kept = w != 0
        by_magnitude = torch.zeros(n, dtype=torch.bool)
        by_magnitude[torch.argsort(w0.abs().flatten(), descending=True)[: n - want]] = True
        agree = float((kept.flatten() == by_magnitude).float().mean())
        if agree < 0.99:
            return _fail(f"{name}: the kept weights are not the largest |w| of `dense` ({agree:.1%} agree)",
                         "rank by magnitude within each layer (layer-wise), not at random or globally")
        moved = float((w[kept] - w0[kept]).abs().max()) if bool(kept.any()) else 0.0
        if moved == 0.0:
            return _fail(f"{name}: the kept weights equal `dense`'s: the model was not fine-tuned",
                         "train it with train_torch.fit(...) after pruning; the masks keep the zeros at zero")
    return _ok("Han's per-layer sparsities, by magnitude within each layer, and fine-tuned with the masks kept")


# ----------------------------------------------------------------------------- reference solutions
def reference_global_threshold(weights: dict[str, torch.Tensor], amount: float) -> float:
    """Reference for the global-threshold exercise: the k-th smallest ``|w|`` over all tensors together,
    ``k = round(amount * total number of weights)``."""
    every = torch.cat([w.detach().abs().flatten() for w in weights.values()])
    return float(every.kthvalue(round(amount * every.numel())).values)


def reference_second_amount(current: float, target: float) -> float:
    """Reference for the second-amount exercise: the ``amount`` of a second ``prune.l1_unstructured`` call that
    takes a tensor from sparsity ``current`` to ``target`` (amount is a fraction of the unpruned weights)."""
    return (target - current) / (1 - current)


def reference_han_recipe(dense: nn.Module, train: Any, epochs: int, lr: float, seed: int = 0) -> nn.Module:
    """Reference for Exercise 3 (Han's per-layer recipe): a fresh copy of ``dense`` pruned layer-wise by
    magnitude to ``HAN_SPARSITY`` (fc1 92 %, fc2 91 %, fc3 74 %), then fine-tuned with the masks kept for
    ``epochs`` epochs of ``train_torch.fit`` at learning rate ``lr`` (batch order seeded by ``seed``)."""
    import copy

    from .. import pruning_torch, train_torch

    model = copy.deepcopy(dense)
    pruning_torch.layerwise_prune(model, dict(HAN_SPARSITY))
    train_torch.fit(model, train, epochs=epochs, lr=lr, seed=seed, progress=False)
    return model
