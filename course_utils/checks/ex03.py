"""Self-checks for the exercises of 03_weight_pruning_tensorflow (TensorFlow/TFMOT only, no PyTorch).

Each checker runs the learner's function on hidden cases, prints what was expected and what came back
(with a hint), and returns True or False. TensorFlow is imported only by the checkers that need it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["clone_function", "global_layer_sparsity", "polynomial_sparsity"]


# ----------------------------------------------------------------------------- exercise 1
_POLY_CASES = [
    # step, initial, final, begin, end, power
    (0, 0.0, 0.9, 0, 100, 3),
    (1, 0.0, 0.9, 0, 100, 3),
    (37, 0.0, 0.9, 0, 100, 3),
    (100, 0.0, 0.9, 0, 100, 3),
    (250, 0.0, 0.9, 0, 100, 3),
    (5, 0.2, 0.8, 10, 110, 3),
    (60, 0.2, 0.8, 10, 110, 3),
    (60, 0.2, 0.8, 10, 110, 1),
    (60, 0.1, 0.75, 10, 110, 2),
    (999, 0.5, 0.95, 100, 1000, 3),
]


@_exercise
def polynomial_sparsity(fn: Callable[..., float]) -> bool:
    """Exercise 1: ``fn(step, initial_sparsity, final_sparsity, begin_step, end_step, power=3)`` must equal
    the target of ``tfmot.sparsity.keras.PolynomialDecay`` at ``step`` (to 1e-5)."""
    from ..env import load_tensorflow

    tf, _ = load_tensorflow()
    import tensorflow_model_optimization as tfmot

    for step, s_i, s_f, begin, end, power in _POLY_CASES:
        ref_sched = tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=s_i, final_sparsity=s_f, begin_step=begin, end_step=end, power=power, frequency=1
        )
        expected = float(ref_sched(tf.constant(step, dtype=tf.int64))[1])
        ok, got = _call(fn, step, s_i, s_f, begin, end, power=power)
        if not ok:
            return False
        try:
            got_f = float(got)
        except (TypeError, ValueError):
            return _fail(f"expected a number, got {type(got).__name__} ({got!r})", "return a float.")
        args = f"step={step}, initial={s_i}, final={s_f}, begin={begin}, end={end}, power={power}"
        if not math.isfinite(got_f) or abs(got_f - expected) > 1e-5:
            if step < begin:
                hint = "before begin_step the progress is 0, so the target is initial_sparsity."
            elif step > end:
                hint = "after end_step the progress is clipped to 1, so the target is final_sparsity."
            elif power != 3:
                hint = "use the `power` argument as the exponent (3 is only the default)."
            else:
                hint = "s = final + (initial - final) * (1 - (step - begin) / (end - begin)) ** power."
            return _fail(f"for {args}: expected {expected:.6f}, got {got_f:.6f}", hint)
    return _ok(f"your polynomial_sparsity matches TFMOT's PolynomialDecay on {len(_POLY_CASES)} hidden cases.")


def reference_polynomial_sparsity(step, initial_sparsity, final_sparsity, begin_step, end_step, power=3) -> float:
    """Reference solution of exercise 1: the target sparsity of TFMOT's ``PolynomialDecay`` at ``step``."""
    p = min(1.0, max(0.0, (step - begin_step) / (end_step - begin_step)))
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - p) ** power


# ----------------------------------------------------------------------------- exercise 2
def reference_make_clone_function(names, schedule) -> Callable:
    """Reference solution of exercise 2: a ``clone_function`` that wraps only the layers called ``names``."""
    import tensorflow_model_optimization as tfmot

    def clone_fn(layer):
        if layer.name in names:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return clone_fn


@_exercise
def clone_function(make_clone_function: Callable[[Any, Any], Callable]) -> bool:
    """Exercise 2: ``make_clone_function(names, schedule)`` returns a ``clone_function`` for
    ``keras.models.clone_model`` that wraps exactly the layers called ``names`` with
    ``prune_low_magnitude(layer, pruning_schedule=schedule)`` and leaves the others unwrapped."""
    from ..env import load_tensorflow

    _, keras = load_tensorflow()
    import tensorflow_model_optimization as tfmot
    from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import PruneLowMagnitude

    from ..models_tf import mlp

    model = mlp((12, 8), seed=0)  # layers: flatten, fc1, fc2, fc3
    for names in (["fc1", "fc3"], ["fc2"]):
        schedule = tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1)
        ok, fn = _call(make_clone_function, names, schedule)
        if not ok:
            return False
        if not callable(fn):
            return _fail(f"make_clone_function({names}, schedule) returned {type(fn).__name__}, not a function",
                         "define an inner `def clone_fn(layer): ...` and return it.")
        try:
            clone = keras.models.clone_model(model, clone_function=fn)
        except Exception as e:  # noqa: BLE001
            return _fail(f"keras.models.clone_model(model, clone_function=...) failed: {type(e).__name__}: {e}",
                         "the function must return a Keras layer for every layer it is given.")
        wrapped = {}
        for layer in clone.layers:
            if isinstance(layer, PruneLowMagnitude):
                wrapped[layer.layer.name] = layer
        if sorted(wrapped) != sorted(names):
            plain = [layer.name for layer in clone.layers if not isinstance(layer, PruneLowMagnitude)]
            return _fail(
                f"with names={names} the clone wraps {sorted(wrapped) or 'no layer'} (unwrapped: {plain})",
                "compare layer.name with `names`; wrap only those layers and return every other layer unchanged.",
            )
        for name, layer in wrapped.items():
            if layer.pruning_schedule is not schedule:
                return _fail(f"layer {name!r} was wrapped with a different schedule than the one passed in",
                             "pass pruning_schedule=schedule to prune_low_magnitude.")
    return _ok("your clone function prunes exactly the named layers, with the given schedule.")


# ----------------------------------------------------------------------------- exercise 3
def _reference_global(kernels: dict[str, np.ndarray], sparsity: float) -> dict[str, float]:
    flat = np.concatenate([np.abs(np.asarray(w)).ravel() for w in kernels.values()])
    k = int(round(sparsity * flat.size))
    pruned = np.zeros(flat.size, dtype=bool)
    pruned[np.argsort(flat, kind="stable")[:k]] = True
    out, start = {}, 0
    for name, w in kernels.items():
        n = np.asarray(w).size
        out[name] = float(pruned[start : start + n].mean())
        start += n
    return out


def reference_global_layer_sparsity(kernels: dict, sparsity: float) -> dict:
    """Reference solution of exercise 3: ``{layer: fraction pruned}`` under one global magnitude threshold."""
    return _reference_global(kernels, sparsity)


def _global_cases() -> list[tuple[dict[str, np.ndarray], float]]:
    rng = np.random.default_rng(3)
    a = {"fc1": rng.normal(0, 0.05, (60, 30)), "fc2": rng.normal(0, 0.2, (30, 20)), "fc3": rng.normal(0, 0.6, (20, 10))}
    b = {"conv": rng.uniform(-1, 1, (3, 3, 4, 8)), "dense": rng.normal(0, 0.1, (128, 10))}
    c = {"only": rng.normal(0, 1, (50, 40))}
    return [(a, 0.9), (a, 0.5), (a, 0.0), (b, 0.75), (c, 0.3)]


@_exercise
def global_layer_sparsity(fn: Callable[[dict, float], dict]) -> bool:
    """Exercise 3: ``fn(kernels, sparsity)`` returns ``{layer: fraction pruned}`` for one global magnitude
    threshold that prunes ``round(sparsity * total)`` weights (to within one weight per layer)."""
    for kernels, s in _global_cases():
        expected = _reference_global(kernels, s)
        ok, got = _call(fn, {k: v.copy() for k, v in kernels.items()}, s)
        if not ok:
            return False
        if not isinstance(got, dict) or set(got) != set(kernels):
            return _fail(f"expected a dict with keys {sorted(kernels)}, got {got!r}",
                         "return {layer name: fraction of that layer's weights pruned}.")
        shapes = {k: np.asarray(v).shape for k, v in kernels.items()}
        for name in kernels:
            tol = 1.0 / np.asarray(kernels[name]).size + 1e-9
            try:
                value = float(got[name])
            except (TypeError, ValueError):
                return _fail(f"value for {name!r} is {got[name]!r}, not a number")
            if abs(value - expected[name]) > tol:
                if all(abs(float(got[n]) - s) < 1e-9 for n in kernels) and len(kernels) > 1:
                    hint = "that is layer-wise pruning: every layer got `sparsity`. Rank all weights together."
                else:
                    hint = "use magnitudes (np.abs) and one threshold over all layers; then count per layer."
                return _fail(
                    f"layers {shapes}, sparsity={s}: expected "
                    f"{ {k: round(v, 4) for k, v in expected.items()} }, got "
                    f"{ {k: round(float(v), 4) for k, v in got.items()} }",
                    hint,
                )
    return _ok("your global_layer_sparsity matches the reference on 5 hidden cases.")
