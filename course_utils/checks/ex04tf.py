"""Self-checks for the exercises of 04_neuron_pruning_tensorflow.

Each checker calls the learner's function on hidden cases, prints what was expected and what came back (with a
hint) and returns ``True`` (all cases pass) or ``False``. TensorFlow is imported only inside the checker that
needs it, so importing this module imports no framework.

- :func:`taylor_scores` checks ``taylor_scores(model, layer, x, y) -> np.ndarray``: the first-order Taylor
  importance of each unit of a ``Dense`` layer (Molchanov et al. 2017), the mean over images of
  ``|a · ∂L/∂a|``, computed with ``tf.GradientTape``. Beyond the numbers, the checker prunes a small trained
  MLP it builds itself with the learner's ranking and compares the validation accuracy with random rankings.
- :func:`fewest_units_for_budget` checks ``fewest_units_for_budget(sizes, budget) -> (r1, r2)``: how many units
  to remove from the two hidden layers of an MLP so that its MACs meet ``budget``, removing as few units as
  possible.

Introduced in 04_neuron_pruning_tensorflow.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["fewest_units_for_budget", "taylor_scores"]


# --------------------------------------------------------------------------- reference answers
def reference_taylor_scores(model: Any, layer: str, x: np.ndarray, y: np.ndarray, batch_size: int = 250) -> np.ndarray:
    """First-order Taylor importance of each unit of the ``Dense`` ``layer`` (higher = keep): the mean over the
    images of ``|a_j · ∂L_n/∂a_j|``, with ``a_j`` the unit's activation (the layer's output, ReLU included) and
    ``L_n`` the cross-entropy of image ``n`` (Molchanov et al. 2017). Removing the unit sets ``a_j`` to 0, a change
    of the loss of about ``−a_j · ∂L_n/∂a_j`` to first order; the absolute value is taken per image, before the
    mean, so that images do not cancel. float64, shape ``(units,)``; the model is not changed."""
    from ..env import load_tensorflow

    tf, keras = load_tensorflow()
    probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.outputs[0]])
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    total = None
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        with tf.GradientTape() as tape:
            a, logits = probe(xb, training=False)
            # the sum of the per-image losses: its gradient at image n is dL_n/da_n
            loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(yb, logits, from_logits=True))
        g = tape.gradient(loss, a)
        part = tf.reduce_sum(tf.abs(a * g), axis=0).numpy().astype(np.float64)
        total = part if total is None else total + part
    return total / len(x)


def _macs(sizes: Any) -> int:
    sizes = [int(v) for v in sizes]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def reference_fewest_units_for_budget(sizes: Any, budget: int) -> tuple[int, int]:
    """``(r1, r2)``: units to remove from the two hidden layers of the MLP with widths ``sizes = (inputs, h1, h2,
    outputs)`` so that its MACs per image (``sum(a * b)`` over consecutive widths) are at most ``budget``, with the
    fewest units removed in total (ties: fewer from the first hidden layer); each hidden layer keeps at least one
    unit. Raises ``ValueError`` if no such plan exists."""
    n_in, h1, h2, n_out = (int(v) for v in sizes)
    best = None
    for r1 in range(h1):
        k1 = h1 - r1
        # MACs = n_in*k1 + k1*k2 + k2*n_out <= budget  <=>  k2 <= (budget - n_in*k1) / (k1 + n_out)
        room = budget - n_in * k1
        if room < k1 + n_out:  # not even one unit of layer 2 fits
            continue
        k2 = min(h2, room // (k1 + n_out))
        plan = (r1, h2 - k2)
        if best is None or (sum(plan), plan[0]) < (sum(best), best[0]):
            best = plan
    if best is None:
        raise ValueError(f"no plan keeps one unit per hidden layer within {budget:,} MACs for widths {tuple(sizes)}")
    return best


# --------------------------------------------------------------------------- helpers
def _as_array(got: Any) -> Any:
    if hasattr(got, "numpy") and not isinstance(got, np.ndarray):  # a tf.Tensor is fine too
        got = got.numpy()
    try:
        return np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _proportional(got: np.ndarray, want: np.ndarray, rtol: float = 1e-3) -> bool:
    """``got == c * want`` for some c > 0 (a mean or a sum over images ranks the same)."""
    denom = float(want @ want)
    if denom == 0:
        return bool(np.allclose(got, 0))
    c = float(got @ want) / denom
    return c > 0 and bool(np.allclose(got, c * want, rtol=rtol, atol=1e-6 * np.abs(c * want).max()))


@functools.lru_cache(maxsize=1)
def _trained_case() -> tuple[Any, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A small MLP (64, 32 hidden units) trained on 1,000 training images, the hidden calibration images (500
    other training images) and the validation images it is judged on. Built once per session."""
    from .. import data, models_tf, train_tf

    splits = data.load_mnist()
    model = models_tf.mlp(hidden=(64, 32), seed=11)
    train_tf.fit(model, (splits.x_train[:1000], splits.y_train[:1000]), epochs=5, lr=2e-3, seed=11,
                 progress=False)
    cal = (splits.x_train[1000:1500], splits.y_train[1000:1500])
    return model, cal, (splits.x_val, splits.y_val)


def _accuracy_after_removal(model: Any, layer: str, scores: np.ndarray, amount: float,
                            val: tuple[np.ndarray, np.ndarray]) -> float:
    from .. import surgery_tf, train_tf

    small = surgery_tf.remove_units(model, layer, surgery_tf.keep_indices(scores, amount))
    return train_tf.evaluate(small, val)["accuracy"]


# --------------------------------------------------------------------------- checkers
_AMOUNT = 0.5  # the checker removes this fraction of fc1's units with the learner's ranking


@_exercise
def taylor_scores(fn: Callable[[Any, str, np.ndarray, np.ndarray], Any]) -> bool:
    """Check ``taylor_scores(model, layer, x, y) -> scores`` (one per unit of the ``Dense`` ``layer``, higher =
    keep): the mean over images of ``|a · ∂L_n/∂a|`` (first-order Taylor, Molchanov et al. 2017), up to a positive
    factor. Then prune a small trained MLP with the ranking on hidden calibration images and compare its
    validation accuracy with random rankings. Introduced in 04_neuron_pruning_tensorflow.
    """
    from ..env import load_tensorflow

    tf, keras = load_tensorflow()
    model, cal, val = _trained_case()
    before = [w.copy() for w in model.get_weights()]
    for layer in ("fc1", "fc2"):
        want = reference_taylor_scores(model, layer, *cal)
        ok, got = _call(fn, model, layer, cal[0].copy(), cal[1].copy())
        if not ok:
            return False
        if any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())):
            return _fail("your function changed the model's weights", "only compute gradients: no training step")
        arr = _as_array(got)
        if arr is None:
            return _fail(f"{layer}: expected an array of scores, got {type(got).__name__}")
        if arr.shape != want.shape:
            return _fail(f"{layer}: expected one score per unit, shape {want.shape}, got {arr.shape}",
                         "average over the images (axis 0) of an (images, units) array")
        if _proportional(arr, want):
            continue
        probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.outputs[0]])
        with tf.GradientTape() as tape:
            a, logits = probe(cal[0], training=False)
            loss = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(cal[1], logits, from_logits=True))
        a_np, g_np = a.numpy().astype(np.float64), tape.gradient(loss, a).numpy().astype(np.float64)
        wrong = {
            "|mean(a·g)|: the absolute value is taken after averaging, so images cancel each other":
                np.abs((a_np * g_np).mean(0)),
            "mean(a·g) without the absolute value (removing a unit can raise the loss on one image and "
            "lower it on another)": (a_np * g_np).mean(0),
            "the mean activation: the gradient is missing": a_np.mean(0),
            "the mean |∂L/∂a|: the activation is missing": np.abs(g_np).mean(0),
            "computed with from_logits=False: the model returns logits": None,
        }
        for why, value in wrong.items():
            if value is not None and value.shape == arr.shape and _proportional(arr, value):
                return _fail(f"{layer}: your scores are {why}",
                             "per image n: |a_n · ∂L_n/∂a_n|, then the mean over images")
        return _fail(f"{layer}: your scores do not rank like the mean of |a · ∂L/∂a| "
                     f"(expected e.g. {np.round(want[:3] / want.max(), 3)} relative to the largest, "
                     f"got {np.round(arr[:3] / (np.abs(arr).max() or 1), 3)})",
                     "probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.output]); inside the "
                     "tape: a, logits = probe(x); the cross-entropy from logits; g = tape.gradient(loss, a)")
    acc = _accuracy_after_removal(model, "fc1", np.asarray(_as_array(fn(model, "fc1", *cal))), _AMOUNT, val)
    rnd = [_accuracy_after_removal(model, "fc1", np.random.default_rng(s).random(64), _AMOUNT, val)
           for s in range(5)]
    print(f"  hidden check: removing {_AMOUNT:.0%} of fc1's 64 units of a small trained MLP, validation accuracy "
          f"{acc:.3f} with your ranking vs {np.mean(rnd):.3f} (best {max(rnd):.3f}) with 5 random rankings")
    if acc <= max(rnd):
        return _fail("your ranking does not beat the random rankings on the hidden validation images")
    return _ok("taylor_scores: the first-order Taylor score, and it beats random rankings on hidden data")


_BUDGET_CASES = [
    ((784, 300, 100, 10), 133_100, "LeNet-300-100, half its MACs"),
    ((784, 300, 100, 10), 200_000, "LeNet-300-100, 200,000 MACs"),
    ((784, 300, 100, 10), 266_200, "LeNet-300-100, its own MACs (nothing to remove)"),
    ((784, 300, 100, 10), 40_000, "LeNet-300-100, 40,000 MACs"),
    ((20, 10, 200, 50), 8_000, "an MLP 20-10-200-50 whose second hidden layer is the expensive one"),
    ((100, 60, 60, 100), 9_000, "an MLP 100-60-60-100, 9,000 MACs"),
]


@_exercise
def fewest_units_for_budget(fn: Callable[[Any, int], Any]) -> bool:
    """Check ``fewest_units_for_budget(sizes, budget) -> (r1, r2)``: units removed from the two hidden layers of
    an MLP with widths ``sizes = (inputs, h1, h2, outputs)``; the MACs after removal must be at most ``budget``,
    every hidden layer keeps at least one unit, and no plan removes fewer units in total.
    Introduced in 04_neuron_pruning_tensorflow.
    """
    for sizes, budget, what in _BUDGET_CASES:
        ok, got = _call(fn, sizes, budget)
        if not ok:
            return False
        try:
            r1, r2 = (int(v) for v in got)
            if (r1, r2) != tuple(got):
                raise ValueError
        except (TypeError, ValueError):
            return _fail(f"{what}: expected a pair of whole numbers (r1, r2), got {got!r}",
                         "return how many units to remove from hidden layer 1 and from hidden layer 2")
        n_in, h1, h2, n_out = sizes
        if not (0 <= r1 < h1 and 0 <= r2 < h2):
            return _fail(f"{what}: remove between 0 and {h1 - 1} units from layer 1 and 0 and {h2 - 1} from layer "
                         f"2 (each keeps at least one), got ({r1}, {r2})")
        macs = _macs((n_in, h1 - r1, h2 - r2, n_out))
        best = reference_fewest_units_for_budget(sizes, budget)
        if macs > budget:
            return _fail(f"{what}: your plan ({r1}, {r2}) leaves {macs:,} MACs, above the budget of {budget:,}",
                         "MACs = inputs·k1 + k1·k2 + k2·outputs with k1, k2 the units kept")
        if r1 + r2 > sum(best):
            c1, c2 = n_in + h2, h1 + n_out
            return _fail(f"{what}: your plan removes {r1 + r2} units; {best} meets the budget with {sum(best)}",
                         f"one unit of hidden layer 1 carries {n_in} + {h2} = {c1:,} MACs (its inputs and its "
                         f"outputs), one of layer 2 {h1} + {n_out} = {c2:,}: which is the cheaper way to save MACs? "
                         "(Each removal also shrinks what a unit of the other layer carries.)")
    return _ok(f"fewest_units_for_budget: the fewest units for every budget ({len(_BUDGET_CASES)} hidden cases)")
