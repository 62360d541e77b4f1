"""Self-checks for the exercises of 08_lottery_ticket_pytorch (moved unchanged from ``ex07``).

- :func:`prune_round` — one round of layer-wise iterative magnitude pruning on numpy masks (no framework).
- :func:`rewind` — reset a (pruned) PyTorch MLP to its initial weights under new masks (imports torch).

Every checker prints what it expected and what it got, with a hint, and returns True or False.

The reference solutions (not in ``__all__``) are what the notebook's main line uses, so the lesson runs while
the exercises are unsolved: :func:`reference_prune_round` and :func:`reference_rewind`.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["prune_round", "rewind"]


# ----------------------------------------------------------------------------- reference solutions
def reference_prune_round(masks: dict, weights: dict, rate: float) -> dict:
    """Reference solution of exercise 1 (08_lottery_ticket_pytorch): new masks in which each layer loses the
    fraction ``rate`` (``round(rate * alive)``) of its alive weights with the smallest ``|w|``; the inputs are not
    modified."""
    new = {}
    for name, mask in masks.items():
        mask = np.asarray(mask, dtype=bool)
        alive = np.flatnonzero(mask)
        k = int(round(rate * alive.size))
        magnitudes = np.abs(np.asarray(weights[name])).ravel()[alive]
        drop = alive[np.argsort(magnitudes, kind="stable")[:k]]
        keep = mask.ravel().copy()
        keep[drop] = False
        new[name] = keep.reshape(mask.shape)
    return new


def reference_rewind(model: Any, init_state: dict, masks: dict) -> Any:
    """Reference solution of exercise 2 (08_lottery_ticket_pytorch): give every parameter of the (possibly pruned)
    PyTorch ``model`` its value in ``init_state`` and attach ``masks`` with ``prune.custom_from_mask``; return the
    model."""
    import torch
    from torch.nn.utils import prune

    for name in masks:
        module = model.get_submodule(name)
        if prune.is_pruned(module):
            prune.remove(module, "weight")
    model.load_state_dict(init_state)
    for name, mask in masks.items():
        prune.custom_from_mask(model.get_submodule(name), "weight", torch.as_tensor(mask, dtype=torch.bool))
    return model


# ----------------------------------------------------------------------------- exercise 1
def _prune_round_cases() -> list[tuple[str, dict, dict, float]]:
    rng = np.random.default_rng(10)
    shapes = {"fc1": (30, 40), "fc2": (20, 30), "fc3": (10, 20)}
    scales = {"fc1": 0.05, "fc2": 0.2, "fc3": 1.0}  # different scales: layer-wise != global
    cases = []
    w = {n: rng.permutation(np.linspace(0.01, 1.0, int(np.prod(s)))).reshape(s) * scales[n]
         * rng.choice([-1.0, 1.0], size=s) for n, s in shapes.items()}
    cases.append(("all weights alive, rate 0.2", {n: np.ones(s, bool) for n, s in shapes.items()}, w, 0.2))
    # Round 3 of IMP: 36% already pruned; the pruned positions still hold large stale values
    # (as weight_orig does after training with a mask).
    masks = {n: rng.random(s) > 0.36 for n, s in shapes.items()}
    w2 = {n: np.where(masks[n], w[n], 10.0 * scales[n]) for n in shapes}
    cases.append(("36% already pruned (their stored weights are large), rate 0.2", masks, w2, 0.2))
    cases.append(("36% already pruned, rate 0.5", masks, w2, 0.5))
    cases.append(("rate 0 keeps the masks", masks, w2, 0.0))
    return cases


@_exercise
def prune_round(fn: Callable[[dict, dict, float], dict]) -> bool:
    """Exercise 1 of 08_lottery_ticket_pytorch: ``prune_round(masks, weights, rate) -> new masks``.

    In every layer, the fraction ``rate`` of the weights that are *still alive* (``masks[name]`` True)
    with the smallest ``|weights[name]|`` is removed; pruned weights stay pruned; the inputs are not
    modified.
    """
    for desc, masks, weights, rate in _prune_round_cases():
        masks_in = {n: m.copy() for n, m in masks.items()}
        weights_in = {n: w.copy() for n, w in weights.items()}
        ok, got = _call(fn, masks_in, weights_in, rate)
        if not ok:
            return False
        if any(not np.array_equal(masks_in[n], masks[n]) for n in masks):
            return _fail(f"[{desc}] your function changed the masks it was given",
                         "work on a copy (m = masks[name].copy()): the notebook keeps every round's masks.")
        if any(not np.array_equal(weights_in[n], weights[n]) for n in weights):
            return _fail(f"[{desc}] your function changed the weights it was given", "work on copies.")
        if not isinstance(got, dict) or set(got) != set(masks):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return _fail(f"[{desc}] expected a dict with the layers {sorted(masks)}, got {keys}")
        for n in masks:
            g = np.asarray(got[n])
            if g.shape != masks[n].shape:
                return _fail(f"[{desc}] layer {n}: mask shape {g.shape}, expected {masks[n].shape}")
            g = g.astype(bool)
            alive = int(masks[n].sum())
            if np.any(g & ~masks[n]):
                return _fail(f"[{desc}] layer {n}: {int(np.sum(g & ~masks[n]))} weights that were already pruned "
                             "came back", "a pruned weight stays pruned: new mask = old mask AND (not removed now).")
            removed = alive - int(g.sum())
            expect = rate * alive
            if abs(removed - expect) >= 1:
                return _fail(
                    f"[{desc}] layer {n}: removed {removed} weights, expected {int(round(expect))} "
                    f"(rate {rate} of the {alive} still alive)",
                    "rank only the alive weights (|w|[mask]), not all of them: zeros of pruned weights are not "
                    "candidates, and the rate applies to what remains, not to the original layer size. "
                    "Prune each layer separately.")
            alive_w = np.abs(weights[n])[masks[n]]
            kept_min = np.abs(weights[n])[g].min() if g.any() else np.inf
            cut_max = np.abs(weights[n])[masks[n] & ~g].max() if removed else -np.inf
            if removed and kept_min < cut_max:
                return _fail(f"[{desc}] layer {n}: a weight with |w|={kept_min:.4f} was kept while one with "
                             f"|w|={cut_max:.4f} was removed",
                             f"remove the smallest |w| among the {alive_w.size} alive weights of each layer "
                             "(layer-wise, as Frankle & Carbin do), e.g. with np.argsort.")
    return _ok("prune_round removes the smallest surviving weights of each layer and never revives one.")


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def rewind(fn: Callable[[Any, dict, dict], Any]) -> bool:
    """Exercise 2 of 08_lottery_ticket_pytorch: ``rewind(model, init_state, masks) -> model``.

    Afterwards every parameter of the (possibly already pruned) MLP equals its value in ``init_state``
    (the *unpruned* model's ``state_dict`` at initialisation), the weights outside ``masks`` are zero, and
    they stay zero during training (the masks are attached with ``torch.nn.utils.prune``). ``init_state``
    is not modified. Imports PyTorch.
    """
    import torch
    from torch.nn.utils import prune

    from .. import metrics
    from ..models_torch import mlp

    rng = np.random.default_rng(3)
    hidden = (16, 8)
    init_state = copy.deepcopy(mlp(hidden, seed=5).state_dict())
    layers = ["fc1", "fc2", "fc3"]

    def trained_pruned_model():
        m = mlp(hidden, seed=5)
        for n in layers:
            keep = torch.as_tensor(rng.random(getattr(m, n).weight.shape) > 0.3)
            prune.custom_from_mask(getattr(m, n), "weight", keep)
        with torch.no_grad():  # pretend training moved every parameter
            for p in m.parameters():
                p.add_(0.1 * torch.randn_like(p))
        return m

    for desc, make in (("a fresh model", lambda: mlp(hidden, seed=7)),
                       ("a model already pruned and trained in an earlier round", trained_pruned_model)):
        model = make()
        shapes = {n: tuple(getattr(model, n).weight.shape) for n in layers}
        masks = {n: rng.random(s) > 0.5 for n, s in shapes.items()}
        state_in = copy.deepcopy(init_state)
        ok, got = _call(fn, model, state_in, {n: m.copy() for n, m in masks.items()})
        if not ok:
            return _fail(f"[{desc}] see the error above",
                         "if the model is already pruned, its state_dict has weight_orig/weight_mask instead of "
                         "weight: prune.remove(module, 'weight') first, or copy into module.weight_orig.")
        if not isinstance(got, torch.nn.Module):
            return _fail(f"[{desc}] expected the model back, got {type(got).__name__}", "end with `return model`.")
        if any(not torch.equal(state_in[k], init_state[k]) for k in init_state):
            return _fail(f"[{desc}] your function changed init_state",
                         "copy values out of it (param.copy_(init_state[...])), never train the tensors in it.")
        eff = metrics.prunable_weights(got)
        for n in layers:
            want = init_state[f"{n}.weight"].numpy() * masks[n]
            if not np.allclose(eff[n], want):
                return _fail(f"[{desc}] layer {n}: the effective weights are not init_weights * mask "
                             f"(max difference {np.abs(eff[n] - want).max():.3g})",
                             "load the initial weights, then attach the new masks with "
                             "prune.custom_from_mask(module, 'weight', mask).")
            b = dict(got.named_parameters())[f"{n}.bias"].detach().numpy()
            if not np.allclose(b, init_state[f"{n}.bias"].numpy()):
                return _fail(f"[{desc}] layer {n}: the bias was not reset to its initial value",
                             "rewinding resets every parameter (weights and biases) to initialisation.")
        # Do pruned weights stay pruned during training?
        opt = torch.optim.SGD(got.parameters(), lr=0.5)
        x = torch.rand(32, 784)
        for _ in range(2):
            loss = torch.nn.functional.cross_entropy(got(x), torch.randint(0, 10, (32,)))
            opt.zero_grad()
            loss.backward()
            opt.step()
        eff = metrics.prunable_weights(got)
        revived = {n: int(np.count_nonzero(eff[n][~masks[n]])) for n in layers}
        if any(revived.values()):
            return _fail(f"[{desc}] after two training steps, pruned weights are nonzero again: {revived}",
                         "zeroing weights once is not enough: training updates them. Attach the mask with "
                         "torch.nn.utils.prune.custom_from_mask so every forward pass applies it.")
    return _ok("rewind resets weights and biases to initialisation and keeps the pruned weights at zero in training.")
