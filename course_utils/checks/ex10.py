"""Self-checks for the exercises of 10_capstone_pytorch.

- :func:`challenge` — a model (scored here on the test split) or a :class:`course_utils.capstone.Report`
  that meets the capstone challenge.
- :func:`prune_round` — one round of layer-wise iterative magnitude pruning on numpy masks (no framework).
- :func:`rewind` — reset a (pruned) PyTorch MLP to its initial weights under new masks (imports torch).

Every checker prints what it expected and what it got, with a hint, and returns True or False.

The reference solutions (not in ``__all__``) are what the notebook's main line uses, so the lesson runs while
the exercises are unsolved: :func:`reference_capstone_model` (builds the reference capstone model),
:func:`reference_prune_round` and :func:`reference_rewind`.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import capstone
from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["challenge", "prune_round", "rewind"]


# ----------------------------------------------------------------------------- reference solutions
#: The reference solution's candidates: (hidden widths of fc1, fc2; fraction of the remaining weights pruned).
REFERENCE_CANDIDATES: tuple[tuple[tuple[int, int], float], ...] = (((80, 40), 0.3), ((80, 40), 0.5), ((64, 32), 0.3))


def _reference_candidate(dense: Any, train: Any, widths: tuple[int, int], sparsity: float, ft_epochs: int,
                         seed: int) -> Any:
    from torch.nn.utils import prune

    from .. import surgery_torch, train_torch

    model = dense
    for layer, width in zip(("fc1", "fc2"), widths):
        scores = surgery_torch.unit_scores(model, layer, "l2")
        model = surgery_torch.remove_units(model, layer, np.argsort(scores)[-width:])
    train_torch.fit(model, train, epochs=ft_epochs, lr=1e-3, seed=seed, progress=False)
    layers = [(model.fc1, "weight"), (model.fc2, "weight"), (model.fc3, "weight")]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=sparsity)
    train_torch.fit(model, train, epochs=ft_epochs, lr=5e-4, seed=seed, progress=False)  # masks keep zeros
    for module, name in layers:
        prune.remove(module, name)
    return model


def reference_capstone_model(dense: Any, train: Any, val: Any, ft_epochs: int = 5, *, seed: int = 0,
                             budget: Any = None, input_shape: tuple[int, ...] = (1, 28, 28),
                             verbose: bool = True) -> Any:
    """Reference solution of exercise 1 (10_capstone_pytorch): a pruned copy of the trained PyTorch MLP ``dense``.

    For each of :data:`REFERENCE_CANDIDATES`: keep the ``widths`` hidden units of fc1, fc2 with the largest
    incoming-weight L2 norm (``surgery_torch``), fine-tune ``ft_epochs`` epochs, prune the given fraction of the
    weights by global magnitude, fine-tune ``ft_epochs`` more with the masks, ``prune.remove``. Among the
    candidates that meet the size limits of ``budget`` (default ``capstone.challenge_budget(dense)``) it returns
    the one with the best accuracy on ``val`` — every choice is made on validation, none on test. ``dense`` is
    not modified; ``seed`` sets the data order of fine-tuning.
    """
    from .. import metrics, train_torch

    budget = capstone.challenge_budget(dense) if budget is None else budget
    best, best_acc = None, -1.0
    for widths, sparsity in REFERENCE_CANDIDATES:
        model = _reference_candidate(dense, train, widths, sparsity, ft_epochs, seed)
        fits = (metrics.macs(model, input_shape) <= budget.max_macs
                and metrics.gzip_size(model) <= budget.max_gzip_bytes)
        val_acc = train_torch.evaluate(model, val)["accuracy"]
        if verbose:
            print(f"hidden {widths}, {sparsity:.0%} of weights pruned: fits the size limits: {fits}, "
                  f"validation accuracy {val_acc:.1%}")
        if fits and val_acc > best_acc:
            best, best_acc, chosen = model, val_acc, (widths, sparsity)
    if best is None:
        raise RuntimeError("no reference candidate fits the size limits of the budget")
    if verbose:
        print(f"chosen on validation: hidden {chosen[0]}, sparsity {chosen[1]:.0%}")
    return best


def reference_prune_round(masks: dict, weights: dict, rate: float) -> dict:
    """Reference solution of exercise 2 (10_capstone_pytorch): new masks in which each layer loses the fraction ``rate``
    (``round(rate * alive)``) of its alive weights with the smallest ``|w|``; the inputs are not modified."""
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
    """Reference solution of exercise 3 (10_capstone_pytorch): give every parameter of the (possibly pruned) PyTorch
    ``model`` its value in ``init_state`` and attach ``masks`` with ``prune.custom_from_mask``; return the model."""
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
@_exercise
def challenge(report: Any, test: Any = None, budget: Any = None, reference: Any = None, *, fast: bool = False,
              **timing: Any) -> bool:
    """Exercise 1 of 10_capstone_pytorch: a model that meets the capstone challenge.

    Either ``challenge(capstone_model, test, budget, dense)`` — the checker scores the model on the test split
    with ``capstone.score`` (``timing``: ``latency_rounds``, ``latency_repeats``) and prints the report — or
    ``challenge(report)`` with a report from ``capstone.score``.

    The report's budget must be at least as strict as :data:`course_utils.capstone.CHALLENGE` relative to
    its reference (MACs <= 25%, gzip size <= 20%, latency <= 50% at batch 256, accuracy drop <= 1.5 points),
    and every constraint must pass. Given a model, the checker also compares it with the reference on the same
    test images (``metrics.compare``): a measured drop over 1.5 points still passes when the paired 95%
    interval of the drop reaches 1.5 points (within noise of the limit; the message says so), and a latency
    ratio over the limit is timed once more with twice the rounds before it counts (a busy machine only slows
    calls down). MAC and gzip limits are exact. ``fast=True`` (the notebook's FAST smoke test, too little
    training to reach the accuracy) prints the accuracy drop without judging it.
    """
    comparison = None
    if not isinstance(report, capstone.Report) and test is not None:
        from .. import metrics

        model = report
        try:
            metrics.framework_of(model)
        except TypeError:
            return _fail(f"expected your pruned model (a PyTorch or Keras model), got {type(model).__name__}",
                         "capstone_model must be the model itself, e.g. the result of your last fine-tuning.")
        if budget is None or reference is None:
            return _fail("pass the test data, the budget and the dense reference too",
                         "ex10.challenge(capstone_model, test, budget, dense)")
        try:
            report = capstone.score(model, test, budget, reference, **timing)
            if "latency_ratio" in report.failed:
                # A busy machine can only slow a call down: time again with twice the calls before concluding
                # (also when the accuracy fails too: FAST mode does not judge it, and the hint should name the
                # real misses only).
                print("latency over the limit: timing once more with twice as many rounds (other programs may "
                      "have slowed the first measurement) ...")
                more = dict(timing, latency_rounds=2 * int(timing.get("latency_rounds", 3)))
                report = capstone.score(model, test, budget, reference, **more)
            comparison = metrics.compare(metrics.correct(reference, *test), metrics.correct(model, *test),
                                         names=("dense", "yours"))
        except Exception as e:  # the learner's model may not fit the scorer
            return _fail(f"capstone.score could not measure your model: {type(e).__name__}: {e}",
                         "the model must take the same images as `dense` and return (N, 10) logits.")
        print(comparison)
    if not isinstance(report, capstone.Report):
        return _fail("expected your model (or the Report returned by capstone.score(...)), "
                     f"got {type(report).__name__}",
                     "ex10.challenge(capstone_model, test, budget, dense)")
    b = report.budget
    want = {
        "max_macs": math.floor(capstone.CHALLENGE["macs"] * report.reference_macs),
        "max_gzip_bytes": math.floor(capstone.CHALLENGE["gzip"] * report.reference_gzip_bytes),
        "max_latency_ratio": capstone.CHALLENGE["latency"],
        "max_accuracy_drop": capstone.CHALLENGE["max_accuracy_drop"],
    }
    loose = [f"{k} (yours {getattr(b, k)}, the challenge's {v})" for k, v in want.items()
             if getattr(b, k) is None or getattr(b, k) > v + 1e-12]
    if loose:
        return _fail("the report was scored against a budget looser than the challenge: " + "; ".join(loose),
                     "score with budget = capstone.challenge_budget(dense), built from the dense reference.")
    failed = [c for c in report.checks if not c.passed]
    noise = ""
    if fast and comparison is not None:
        failed = [c for c in failed if c.name != "accuracy_drop"]
        noise = (f" FAST mode: the accuracy drop ({report.accuracy_drop * 100:+.1f} points) is not judged — "
                 "run in full mode for the real score.")
    if comparison is not None and any(c.name == "accuracy_drop" for c in failed):
        lo, hi = comparison.difference_interval
        if lo <= b.max_accuracy_drop + 1e-12:  # the data do not show a drop beyond the limit
            failed = [c for c in failed if c.name != "accuracy_drop"]
            noise = (f" The measured drop is over {b.max_accuracy_drop * 100:.1f} points, but its 95% interval "
                     f"[{lo * 100:+.1f}, {hi * 100:+.1f}] reaches the limit: on 1,000 test images that is within "
                     "noise, so it counts — a smaller drop would be more convincing.")
    if failed:
        lines = "\n  ".join(f"{c.name}: {c.message}" for c in failed)
        return _fail(f"the budget is not met:\n  {lines}",
                     "MACs and latency only fall when neurons are removed (a smaller model); gzip size falls "
                     "with zeros. Combine both, then fine-tune.")
    return _ok(f"budget met with an accuracy drop of {report.accuracy_drop * 100:.2f} points "
               f"(MACs {report.mac_ratio:.0%}, gzip {report.gzip_ratio:.0%}, latency {report.latency_ratio:.0%} "
               "of the dense model)." + noise + " Can you make the drop smaller?")


# ----------------------------------------------------------------------------- exercise 2
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
    """Exercise 2 of 10_capstone_pytorch: ``prune_round(masks, weights, rate) -> new masks``.

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


# ----------------------------------------------------------------------------- exercise 3
@_exercise
def rewind(fn: Callable[[Any, dict, dict], Any]) -> bool:
    """Exercise 3 of 10_capstone_pytorch: ``rewind(model, init_state, masks) -> model``.

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
