"""Self-checks for the exercises of 02_weight_pruning_tensorflow (TensorFlow/TFMOT only, no PyTorch).

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

__all__ = ["clone_function", "global_layer_sparsity", "pruning_end_step"]


# ----------------------------------------------------------------------------- exercise 1
# n_images, batch_size, epochs, frequency, tail_epochs, begin_step
_END_STEP_CASES = [
    (3500, 32, 5, 100, 1, 0),  # the snippet of the notebook: 110 steps per epoch (the last batch is short)
    (3500, 128, 20, 10, 10, 0),  # the notebook's gradual schedule: prune in the first half
    (1000, 128, 6, 4, 2, 0),
    (60000, 256, 3, 100, 1, 0),
    (5000, 100, 8, 25, 2, 30),  # pruning starts at step 30: end_step - begin_step is a multiple of frequency
    (999, 64, 7, 3, 0, 0),  # no tail: prune until the very end
]


def reference_pruning_end_step(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0) -> int:
    """Reference solution of exercise 1: the latest ``end_step`` at which a TFMOT schedule reaches its target
    before the last ``tail_epochs`` epochs (which fine-tune with the masks fixed).

    Steps count batches: ``ceil(n_images / batch_size)`` per epoch (the last batch may be short). The masks
    change only at steps ``begin_step + k * frequency``, so ``end_step - begin_step`` must be a multiple of
    ``frequency``, or the schedule's final update never happens.
    """
    steps_per_epoch = math.ceil(n_images / batch_size)
    last = (epochs - tail_epochs) * steps_per_epoch  # the last step before the fine-tuning tail
    return begin_step + (last - begin_step) // frequency * frequency


def _last_update(begin_step: int, end_step: int, frequency: int, total_steps: int) -> int | None:
    """The last step (1..total_steps, TFMOT's counter starts at 1) at which the schedule prunes."""
    ts = [t for t in range(max(1, begin_step), min(end_step, total_steps) + 1) if (t - begin_step) % frequency == 0]
    return ts[-1] if ts else None


@_exercise
def pruning_end_step(fn: Callable[..., int]) -> bool:
    """Exercise 1: ``fn(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0)`` returns the
    ``end_step`` of a ``PolynomialDecay`` that reaches its target at a mask update before the last
    ``tail_epochs`` epochs, as late as possible. Checked by running TFMOT's schedule over the steps."""
    from ..env import load_tensorflow

    tf, _ = load_tensorflow()
    import tensorflow_model_optimization as tfmot

    for n, batch, epochs, freq, tail, begin in _END_STEP_CASES:
        args = (f"n_images={n}, batch_size={batch}, epochs={epochs}, frequency={freq}, tail_epochs={tail}, "
                f"begin_step={begin}")
        expected = reference_pruning_end_step(n, batch, epochs, freq, tail, begin)
        ok, got = _call(fn, n, batch, epochs, freq, tail_epochs=tail, begin_step=begin)
        if not ok:
            return False
        if isinstance(got, bool) or not isinstance(got, (int, np.integer)):
            if isinstance(got, float) and got.is_integer():
                got = int(got)
            else:
                return _fail(f"for {args}: expected an int (a step number), got {type(got).__name__} ({got!r})",
                             "steps are whole batches: use math.ceil / // and return an int.")
        got = int(got)
        steps_per_epoch = math.ceil(n / batch)
        total = epochs * steps_per_epoch
        last_allowed = (epochs - tail) * steps_per_epoch
        if got <= begin:
            return _fail(f"for {args}: end_step={got} is not after begin_step={begin}",
                         "end_step counts optimizer steps (batches) over the whole run, not epochs.")
        schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, 0.9, begin_step=begin, end_step=got, frequency=freq)
        last = _last_update(begin, got, freq, total)
        reached = last is not None and abs(float(schedule(tf.constant(last, tf.int64))[1]) - 0.9) < 1e-6
        if not reached:
            if last is None or got <= epochs:
                hint = (f"end_step counts optimizer steps (batches), not epochs: one epoch is ceil(n_images / "
                        f"batch_size) = {steps_per_epoch} steps here.")
            elif got > total:
                hint = ("training has only ceil(n_images / batch_size) * epochs = "
                        f"{total} steps: end_step counts batches, and it lies beyond the last one.")
            else:
                hint = ("the masks change only at begin_step + k * frequency: round end_step - begin_step down to a "
                        "multiple of frequency, or the final update never comes.")
            reached_at = 0.0 if last is None else float(schedule(tf.constant(last, tf.int64))[1])
            return _fail(f"for {args}: with end_step={got} the last mask update (step {last}) prunes to "
                         f"{reached_at:.2%}, not the 90 % target", hint)
        if got > last_allowed:
            return _fail(f"for {args}: end_step={got}, but the last {tail} epoch(s) (from step {last_allowed}) "
                         "should fine-tune with the masks fixed",
                         "subtract the tail: the schedule must end by (epochs - tail_epochs) * steps per epoch.")
        if got < expected:
            floor_steps = (epochs - tail) * (n // batch)
            if begin + (floor_steps - begin) // freq * freq == got and n % batch:
                hint = (f"{n} images in batches of {batch} make ceil({n}/{batch}) = {steps_per_epoch} steps per "
                        "epoch: the last, short batch is a step too.")
            else:
                hint = "take the latest multiple of frequency (counted from begin_step) that is not in the tail."
            return _fail(f"for {args}: end_step={got} reaches the target, but {expected} would too and prunes "
                         "more gently (the schedule can use every step before the tail)", hint)
    return _ok(f"your end_step reaches the target, before the fine-tuning tail and as late as possible, in "
               f"{len(_END_STEP_CASES)} hidden cases (checked with TFMOT's PolynomialDecay).")


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
