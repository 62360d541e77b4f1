"""Self-checks for the exercises of 02_weight_pruning_pytorch (PyTorch only).

Each checker runs the learner's function on hidden cases, prints what was expected and what came
back (with a hint). How a self-check reports (not attempted / ✓ / ✗ and raise) is in ``_common``.
The ``reference_*`` functions are the solutions: the notebook's main line uses them, so a learner who has
not solved an exercise can still run the lesson, and its "Stuck?" line loads them.

Exercise 2 of the notebook is "predict which layer global pruning empties most, then verify" (``mask_sparsity``
and ``emptiest_layer``). ``global_threshold`` was the earlier Exercise 2; the notebook now shows the threshold in
the lesson, and the checker stays for anyone who still calls it.
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

__all__ = ["emptiest_layer", "global_threshold", "han_recipe", "mask_sparsity", "second_amount"]


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


# ----------------------------------------------------------------------------- exercise 2 (predict, then verify)
def _pruned_mlp(seed: int) -> nn.Module:
    """A small MLP (Sequential fc1, relu1, fc2, relu2, fc3), weights drawn from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential()
    model.add_module("fc1", nn.Linear(40, 30))
    model.add_module("relu1", nn.ReLU())
    model.add_module("fc2", nn.Linear(30, 20))
    model.add_module("relu2", nn.ReLU())
    model.add_module("fc3", nn.Linear(20, 5))
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen))
    return model


def _mask_cases() -> list[tuple[str, nn.Module, dict[str, float]]]:
    """(what, model, expected {layer: sparsity}) for the mask_sparsity checker."""
    cases = []
    one = _pruned_mlp(0)  # two layers pruned, fc3 not: it has no mask
    prune.l1_unstructured(one.fc1, "weight", amount=0.5)
    prune.l1_unstructured(one.fc2, "weight", amount=0.25)
    cases.append(("fc1 50 %, fc2 25 %, fc3 unpruned", one, {"fc1": 0.5, "fc2": 0.25}))
    two = _pruned_mlp(1)  # global pruning; a kept weight that is exactly zero does not count as pruned
    params = [(two.get_submodule(n), "weight") for n in ("fc1", "fc2", "fc3")]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.7)
    expected = {n: float((two.get_submodule(n).weight_mask == 0).float().mean()) for n in ("fc1", "fc2", "fc3")}
    with torch.no_grad():
        kept = two.fc3.weight_mask.nonzero()[:3]
        for r, c in kept.tolist():
            two.fc3.weight_orig[r, c] = 0.0  # kept by the mask, zero by chance
        two.fc3.weight = two.fc3.weight_orig * two.fc3.weight_mask
    cases.append(("global 70 %, three kept fc3 weights that happen to be 0", two, expected))
    three = _pruned_mlp(2)  # masks stacked by two calls: the container's combined mask
    prune.l1_unstructured(three.fc2, "weight", amount=0.2)
    prune.l1_unstructured(three.fc2, "weight", amount=0.2)
    cases.append(("fc2 pruned twice by 20 % (stacked masks)", three, {"fc2": 0.36}))
    return cases


@_exercise
def mask_sparsity(fn: Callable[[nn.Module], Any]) -> bool:
    """Check ``fn(model) -> {layer name: sparsity}``: for every layer with a pruning mask (``weight_mask``), the
    fraction of its weights the mask removes (zeros in the mask / its size); layers without a mask are left out
    (or reported as 0.0)."""
    for what, model, expected in _mask_cases():
        ok, got = _call(fn, model)
        if not ok:
            return False
        if not isinstance(got, dict):
            return _fail(f"{what}: expected a dict {{layer name: sparsity}}, got {type(got).__name__}",
                         "one entry per pruned layer, e.g. {'fc1': 0.5, 'fc2': 0.25}")
        values = {str(k).split(".")[-1]: _as_float(v) for k, v in got.items()}
        if any(v is None for v in values.values()):
            return _fail(f"{what}: every value must be one number (a fraction), got {got!r}")
        extra = {k: v for k, v in values.items() if k not in expected and v != 0.0}
        missing = [k for k in expected if k not in values]
        if missing:
            return _fail(f"{what}: no entry for {missing} (got {sorted(values)})",
                         "go through model.named_modules() and keep every module that has a weight_mask")
        if extra:
            return _fail(f"{what}: {sorted(extra)} has no pruning mask, yet you report {extra}",
                         "report only layers with a weight_mask (or 0.0 for the others)")
        for name, want in expected.items():
            have = values[name]
            if math.isclose(have, want, abs_tol=1e-6):
                continue
            if math.isclose(have, 1 - want, abs_tol=1e-6):
                return _fail(f"{what}: {name} {have:.3f}, expected {want:.3f}: that is the fraction *kept* (density)",
                             "sparsity = fraction of zeros in the mask")
            if have == 0.0:
                return _fail(f"{what}: {name} 0.000, expected {want:.3f}",
                             "weight_orig keeps every original value; the mask (weight_mask) holds the zeros")
            return _fail(f"{what}: {name} {have:.4f}, expected {want:.4f}",
                         "count the zeros of the mask, not of the weights: a kept weight can be 0 by chance "
                         "(and model.weight is only recomputed at the next forward pass)")
    return _ok("mask_sparsity: per-layer sparsity read from the masks")


def _global_90_sparsity(dense: nn.Module) -> dict[str, float]:
    import copy

    from .. import pruning_torch

    model = copy.deepcopy(dense)
    pruning_torch.global_prune(model, 0.9)
    return reference_mask_sparsity(model)


@_exercise
def emptiest_layer(predicted: Any, dense: nn.Module) -> bool:
    """Check the prediction of Exercise 2: the name of the layer that global magnitude pruning to 90 % of the
    weights of ``dense`` leaves the most sparse (measured here on a copy of ``dense``)."""
    if not isinstance(dense, nn.Module):
        return _fail(f"pass the dense model as the second argument, got {type(dense).__name__}")
    sp = _global_90_sparsity(dense)
    if not isinstance(predicted, str):
        return _fail(f"expected a layer name (a string such as 'fc2'), got {type(predicted).__name__}")
    name = predicted.strip()
    if name not in sp:
        return _fail(f"{predicted!r} is not one of the pruned layers {sorted(sp)}")
    most = max(sp, key=sp.get)
    split = ", ".join(f"{k} {v:.1%}" for k, v in sp.items())
    if name != most:
        return _fail(f"you predicted {name}; global pruning to 90 % leaves {most} the most sparse ({split})",
                     "one threshold for all layers cuts deepest where the weights are smallest; compare "
                     "dense.fc1.weight.abs().mean() with fc2's and fc3's, and think of each layer's fan-in")
    return _ok(f"{most} ends up the most sparse ({split}). Now say why in one sentence; the answer is "
               "under the bar chart")


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


def reference_mask_sparsity(model: nn.Module) -> dict[str, float]:
    """Reference for Exercise 2: ``{layer name: fraction of zeros in its weight_mask}`` for every module of
    ``model`` that has a pruning mask."""
    return {name: float((module.weight_mask == 0).float().mean())
            for name, module in model.named_modules() if hasattr(module, "weight_mask")}


#: Reference for Exercise 2's prediction: the layer global magnitude pruning leaves the most sparse in the course MLP.
reference_predicted_layer = "fc1"


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
