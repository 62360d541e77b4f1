"""What the checkers of lesson 03 share across its PyTorch (``ex03``) and Keras (``ex03tf``) twins.

Framework-free: the early-stopping rule, the near-zero fraction and the L1 step are plain numpy, and the
free-sparsity check takes the framework's pieces (a reference, a way to build hidden cases and to fingerprint a
model) from the caller. Imports neither torch nor TensorFlow.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._common import call as _call
from ._common import fail as _fail
from ._common import ok as _ok


# --------------------------------------------------------------------------- reference answers
def reference_near_zero_fraction(weights: dict[str, Any], tol: float) -> float:
    """Fraction 0-1 of all weights in ``weights`` (pooled over layers) with ``|w| < tol``."""
    flat = np.concatenate([np.abs(np.asarray(w, dtype=np.float64)).ravel() for w in weights.values()])
    return float(np.mean(flat < tol))


def reference_l1_fate(w0: float, lr: float, lam: float) -> tuple[int, float]:
    """Plain SGD (no momentum, learning rate ``lr``) on ``lam * |w|`` alone, from ``w0 != 0``; sign(0) = 0.

    Each step moves the weight by ``lr * lam`` toward 0, whatever its size, so it first reaches or passes 0 at
    step ``k = ceil(|w0| / (lr * lam))``; after that it flips side at every step and ``|w| <= lr * lam`` (the
    bound, in the units of ``w0``). Exactly 0 only if ``|w0|`` is a multiple of the step. Returns ``(k, bound)``.
    Introduced in 03_regularization_and_early_stopping_pytorch.
    """
    step = lr * lam
    return math.ceil(abs(w0) / step), step


def reference_early_stopping_epoch(val_losses: Sequence[float], patience: int, min_delta: float = 0.0) -> int:
    """1-based epoch of the best loss seen before ``patience`` epochs in a row without improvement.

    An epoch improves if its loss is lower than the best so far by more than ``min_delta`` (Keras'
    ``EarlyStopping`` rule; ``min_delta=0``: strictly lower). A loss that does not improve does not become
    the new best either.
    """
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best - min_delta:
            best_epoch, best, waited = epoch, loss, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best_epoch


def free_choice(accuracies: Sequence[float], amounts: Sequence[float], dense: float, max_drop: float) -> float:
    """The largest amount whose accuracy is at most ``max_drop`` below ``dense`` (0.0 if none)."""
    passing = [a for a, acc in zip(amounts, accuracies) if dense - acc <= max_drop + 1e-9]
    return float(max(passing)) if passing else 0.0


# --------------------------------------------------------------------------- checkers (bodies)
_L1_CASES = [
    # (w0, lr, lam, what): |w0| / (lr * lam) is never within 0.1 of a whole number, so no case hinges on a tie
    (0.01, 0.05, 3e-4, "a weight of 0.01 with this lesson's lr and λ"),
    (-0.00437, 0.1, 1e-3, "a negative weight"),
    (0.25, 0.01, 0.03, "a large weight, a strong penalty"),
    (1e-5, 0.05, 3e-4, "a weight already smaller than one step"),
]


def _sentence(hint: str) -> str:
    """A hint ends with a full stop unless it is a question."""
    return hint if hint.endswith("?") else f"{hint}."


def check_l1_fate(fn: Callable[[float, float, float], Any], module: str) -> bool:
    """Body of ``exNN.l1_fate``: ``fn(w0, lr, lam) -> (k, bound)`` on the hidden cases of ``_L1_CASES``."""
    name = "l1_fate"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. {module}.{name}({name}); got {type(fn).__name__}.")
    for w0, lr, lam, what in _L1_CASES:
        want_k, want_bound = reference_l1_fate(w0, lr, lam)
        ok, got = _call(fn, w0, lr, lam)
        if not ok:
            return False
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return _fail(f"{name} on {what}: expected a pair (k, bound), got {got!r}.")
        k, bound = got
        step = lr * lam
        where = f"w0={w0:g}, lr={lr:g}, lam={lam:g}"
        integral = isinstance(k, (int, np.integer)) and not isinstance(k, bool)
        if k is None or (isinstance(k, float) and not math.isfinite(k)) or (integral and k == -1 and want_k != 1):
            return _fail(f"{name} on {what} ({where}): expected k = {want_k} steps, got {k!r}.",
                         "'never' is L2's answer: its pull λ·w shrinks with the weight, so the weight decays "
                         "geometrically. What does the gradient of λ|w| do as |w| gets small?")
        if not (integral or (isinstance(k, float) and k.is_integer())):
            return _fail(f"{name} on {what} ({where}): k must be a whole number of steps, got {k!r}.",
                         "a fraction of a step does not exist: which step is the first to reach or pass 0?")
        k = int(k)
        if k != want_k:
            if k < 0:
                hint = ("the pull is toward 0 from either side: a negative weight climbs to 0 exactly as a positive "
                        "one falls, so only |w0| matters")
            elif k == want_k - 1:
                hint = ("after that many steps the weight is still on its own side of 0, less than one step away; "
                        "k is the step that reaches or passes 0")
            elif k == math.ceil(abs(w0) / (2 * step)) or k == math.floor(abs(w0) / (2 * step)):
                hint = "the gradient of λ|w| is λ·sign(w); 2λw is the gradient of L2's λw²"
            else:
                hint = "write out the first two steps, w1 and w2: by how much does each one move the weight?"
            return _fail(f"{name} on {what} ({where}): expected k = {want_k}, got {k}.", _sentence(hint))
        try:
            b = float(bound)
        except (TypeError, ValueError):
            return _fail(f"{name} on {what}: expected a number for the bound, got {type(bound).__name__}.")
        if not math.isclose(b, want_bound, rel_tol=1e-6):
            if b == 0:
                hint = ("the weight does not stop at 0: once it has passed 0, sign(w) flips and the next step pushes "
                        "it back. It sits at exactly 0 only if it lands there, i.e. only if |w0| is an exact multiple "
                        "of the step — in floating point practically never")
            elif math.isclose(b, 2 * step, rel_tol=1e-6):
                hint = "the gradient of λ|w| is λ·sign(w); 2λw is the gradient of L2's λw²"
            elif 0 < b < want_bound:
                hint = ("that holds for this w0, but the bound must hold whatever w0 was: how close to the other side "
                        "can the step that passes 0 land, at most?")
            else:
                hint = "how far past 0 can a single step take a weight that was less than one step from 0?"
            return _fail(f"{name} on {what} ({where}): expected bound = {want_bound:.3g}, got {b:.3g}.",
                         _sentence(hint))
    return _ok(f"{name}: correct on {len(_L1_CASES)} hidden cases — the crossing step and the wobble after it.")


_CURVES = [
    ([1.0, 0.8, 0.7, 0.75, 0.9, 1.0, 1.1], 2, 0.0, "a U-shaped curve"),
    ([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 3, 0.0, "a lower loss that comes only after the stop"),
    ([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 4, 0.0, "the same curve with more patience"),
    ([1.0, 0.5, 0.6, 0.7, 0.4], 3, 0.0, "a curve that improves just in time"),
    ([0.9, 0.7, 0.6, 0.5, 0.45], 2, 0.0, "a curve that never stops improving"),
    ([1.0, 0.5, 0.5, 0.5, 0.6], 5, 0.0, "ties (only a strictly lower loss is an improvement)"),
    (np.array([0.4, 0.5, 0.6, 0.7]), 1, 0.0, "a numpy array, patience 1"),
]
# Each curve gives a different answer with min_delta ignored (and the second one also when each loss is compared
# with the previous epoch's instead of the best so far), so a rule that gets min_delta wrong cannot pass.
_CURVES_MIN_DELTA = [
    ([1.0, 0.9, 0.895, 0.893, 0.891, 0.7], 3, 0.01, "a plateau of improvements smaller than min_delta"),
    ([1.0, 0.9, 0.895, 0.889, 0.885, 0.884], 3, 0.01, "small steps that add up (compare with the best, not the last)"),
    ([1.0, 0.8, 0.79, 0.78, 0.77, 0.5], 3, 0.05, "steps of 0.01 under min_delta=0.05, then a real drop too late"),
    ([1.0, 0.8, 0.79, 0.7, 0.71, 0.72, 0.73], 2, 0.05, "min_delta with a real improvement in between"),
]


def check_early_stopping_epoch(fn: Callable[..., int], module: str, *, min_delta: bool) -> bool:
    name = "early_stopping_epoch"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. {module}.{name}({name}); got {type(fn).__name__}.")
    cases = _CURVES + (_CURVES_MIN_DELTA if min_delta else [])
    for losses, patience, delta, what in cases:
        want = reference_early_stopping_epoch(losses, patience, delta)
        args = (losses.copy() if isinstance(losses, np.ndarray) else list(losses), patience)
        ok, got = _call(fn, *args, min_delta=delta) if min_delta else _call(fn, *args)
        if not ok:
            return False
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            return _fail(f"{name} on {what}: expected an int epoch number, got {type(got).__name__} ({got!r}).")
        if int(got) != want:
            hint = ("walk through the epochs, count epochs without an improvement, "
                    "stop when the count reaches patience")
            if int(got) == want - 1:
                hint = "epochs are numbered from 1 (epoch 1 is val_losses[0])"
            elif int(got) == int(np.argmin(losses)) + 1:
                hint = "argmin sees the whole curve; training stopped before that epoch, so it never saw that loss"
            elif delta and int(got) == reference_early_stopping_epoch(losses, patience, 0.0):
                hint = "an improvement must beat the best loss so far by more than min_delta"
            elif delta:
                hint = ("compare each loss with the best so far (not with the previous epoch), and only an "
                        "improvement by more than min_delta becomes the new best")
            extra = f", min_delta={delta}" if min_delta else ""
            return _fail(f"{name} on {what} {list(np.round(np.asarray(losses, dtype=float), 3))} "
                         f"with patience={patience}{extra}: expected epoch {want}, got {got}.", f"{hint}.")
    return _ok(f"{name}: correct on {len(cases)} hidden loss curves.")


def check_free_sparsity(fn: Callable[..., float], module: str, cases: Sequence[tuple[Any, Any, str]],
                        reference: Callable[..., float], accuracies: Callable[..., list[float]],
                        fingerprint: Callable[[Any], Any]) -> bool:
    """Body of ``exNN.free_sparsity``: ``cases`` are ``(model, val, what)``; ``accuracies(model, val, amounts,
    layerwise)`` gives the pruned accuracies (global or layer-wise ranking) for the hints; ``fingerprint(model)``
    a value that changes when the model's weights change."""
    name = "free_sparsity"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. {module}.{name}({name}); got {type(fn).__name__}.")
    grids = [(0.3, 0.5, 0.7, 0.8, 0.9, 0.95), (0.2, 0.4, 0.6, 0.8)]
    for i, (model, val, what) in enumerate(cases):
        amounts, max_drop = grids[i % len(grids)], (0.02, 0.05)[i % 2]
        want = reference(model, val, amounts, max_drop)
        before = fingerprint(model)
        ok, got = _call(fn, model, val, list(amounts), max_drop)
        if not ok:
            return False
        if fingerprint(model) != before:
            return _fail(f"{name} on {what}: your function changed the model's weights.",
                         "prune a copy (PyTorch: copy.deepcopy / pt.copy_model; Keras: keras.models.clone_model + "
                         "set_weights): a model pruned in place is pruned again at the next amount, and the "
                         "lesson's models must stay dense.")
        try:
            value = float(got)
        except (TypeError, ValueError):
            return _fail(f"{name} on {what}: expected a number (one of the amounts), got {type(got).__name__}.")
        if not math.isclose(value, want, abs_tol=1e-9):
            hint = ("prune a copy to each amount by ONE global ranking of |w| over all Dense/Linear weights (not the "
                    "biases), score it on val, and keep the largest amount whose accuracy is at most max_drop below "
                    "the dense model's")
            dense = accuracies(model, val, (0.0,), False)[0]
            glob = accuracies(model, val, amounts, False)
            layer = accuracies(model, val, amounts, True)
            first_fail = next((a for a, acc in zip(amounts, glob) if dense - acc > max_drop + 1e-9), None)
            prev = [a for a in amounts if first_fail is not None and a < first_fail]
            if value > 1:
                hint = "return a fraction 0-1 (one of the amounts), not a percentage"
            elif value not in [float(a) for a in amounts] + [0.0]:
                hint = "return one of the amounts you were given (or 0.0 if none is free), not a measured sparsity"
            elif math.isclose(value, free_choice(layer, amounts, dense, max_drop)):
                hint = ("that is what layer-wise pruning allows; rank the weights of all layers together "
                        "(one global threshold), as pt.global_prune / pt.magnitude_masks(..., scope='global') do")
                if math.isclose(value, free_choice(glob, amounts, 1.0, max_drop)):
                    hint += "; and measure the drop from the dense model's accuracy on val, not from 100 %"
            elif math.isclose(value, free_choice(glob, amounts, 1.0, max_drop)):
                hint = "measure the drop from the dense model's accuracy on val, not from 100 %"
            elif prev and math.isclose(value, max(prev)) and want > value:
                hint = ("the accuracy is not monotone in the amount: keep the largest amount that passes, do not "
                        "stop at the first one that fails")
            return _fail(f"{name} on {what} with amounts={list(amounts)}, max_drop={max_drop}: expected {want}, "
                         f"got {value}.", f"{hint}.")
    return _ok(f"{name}: correct on {len(cases)} hidden models, and the models were left unchanged.")
