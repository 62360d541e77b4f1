"""Self-checks for the exercises of 01_loss_before_and_after_tensorflow (numpy and TensorFlow, no PyTorch).

Each checker runs the learner's function on hidden cases, prints what was expected and what came back (with a
hint). How a self-check reports (not attempted / ✓ / ✗ and raise) is in ``_common``. The ``reference_*``
functions are the solutions: the notebook's main line uses them, so a learner who has not solved an exercise can
still run the lesson, and its "Stuck?" line loads them. Exercises 1 and 2 work on numpy arrays (Keras' kernel
layout ``(inputs, units)``); only the checker of Exercise 3 imports TensorFlow.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["kernel_gradients", "layerwise_masks", "magnitude_mask"]


def _expected_mask(w: np.ndarray, fraction: float) -> np.ndarray:
    k = round(fraction * w.size)
    keep = np.ones(w.size, dtype=bool)
    keep[np.argsort(np.abs(w).ravel(), kind="stable")[:k]] = False
    return keep.reshape(w.shape)


def _by_value(w: np.ndarray, n_keep: int) -> np.ndarray:
    keep = np.zeros(w.size, dtype=bool)
    if n_keep:
        keep[np.argsort(-w.ravel(), kind="stable")[:n_keep]] = True
    return keep.reshape(w.shape)


def _as_numpy(got: Any) -> Any:
    if hasattr(got, "numpy") and not isinstance(got, np.ndarray):  # a tf.Tensor is fine too
        return got.numpy()
    return got


def _check_mask(got: Any, w: np.ndarray, expected: np.ndarray, what: str) -> bool:
    got = _as_numpy(got)
    if not isinstance(got, np.ndarray):
        return _fail(f"{what}: expected a numpy array, got {type(got).__name__}",
                     "return something like `np.abs(w) > threshold` (a bool array)")
    if got.shape != w.shape:
        return _fail(f"{what}: the mask must have the weight's shape {w.shape}, got {got.shape}",
                     "do not flatten the result (or reshape it back with .reshape(w.shape))")
    if got.dtype != np.bool_:
        return _fail(f"{what}: expected a bool mask (True = keep), got dtype {got.dtype}",
                     "a comparison such as `np.abs(w) > t` gives a bool array")
    n_exp, n_got = int(expected.sum()), int(got.sum())
    if np.array_equal(got, ~expected):
        return _fail(f"{what}: your mask is inverted (True where a weight is removed)",
                     "True must mean *keep*: the kept weights are the large ones")
    if n_got != n_exp:
        ties = ("" if int((w == 0).sum()) == 0
                else " This weight has exact zeros (ties): a threshold test alone cannot pick exactly k of them.")
        return _fail(f"{what}: expected {n_exp} kept weights of {w.size}, got {n_got}.{ties}",
                     "remove exactly k = round(fraction * w.size) weights (fraction 0 keeps all, 1 keeps none); "
                     "np.argsort(np.abs(w).ravel())[:k] gives the positions of the k smallest")
    kept, removed = np.abs(w)[got], np.abs(w)[~got]
    if kept.size and removed.size and kept.min() < removed.max():
        if np.array_equal(got, _by_value(w, n_exp)):
            return _fail(f"{what}: you kept the largest *values*, so large negative weights were removed",
                         "rank by magnitude, the absolute value |w| (np.abs(w))")
        return _fail(f"{what}: right number of kept weights but not the largest |w| "
                     f"(a kept weight has |w| = {kept.min():.4f} < {removed.max():.4f}, a removed one)",
                     "keep the weights with the largest absolute value")
    return True


def _cases() -> list[tuple[str, np.ndarray, float]]:
    rng = np.random.default_rng(1)
    w1 = np.array([0.5, -0.1, 0.03, -0.9, 0.2, -0.35, 0.01, 0.7, -0.05, 0.4])
    w2 = rng.normal(size=(6, 5))
    w3 = w2.copy()
    w3.ravel()[rng.permutation(30)[:12]] = 0.0
    return [
        ("1-D weight, fraction 0.5", w1, 0.5),
        ("(6, 5) kernel, fraction 0.3", w2, 0.3),
        ("(6, 5) kernel, fraction 0.0", w2, 0.0),
        ("(6, 5) kernel, fraction 1.0", w2, 1.0),
        ("(6, 5) kernel, fraction 0.9", w2, 0.9),
        ("(6, 5) kernel with 12 exact zeros (already pruned), fraction 0.2", w3, 0.2),
    ]


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def magnitude_mask(fn: Callable[[np.ndarray, float], Any]) -> bool:
    """Check ``fn(w, fraction) -> bool mask`` (True = keep) that removes the ``round(fraction * w.size)``
    weights of smallest magnitude |w|, without changing ``w``."""
    for what, w, fraction in _cases():
        w_in = w.copy()
        ok, got = _call(fn, w_in, fraction)
        if not ok:
            return False
        if not np.array_equal(w_in, w):
            return _fail(f"{what}: your function changed the weight array it was given",
                         "build a new mask; do not zero `w` in place")
        if not _check_mask(got, w, _expected_mask(w, fraction), what):
            return False
    return _ok("magnitude_mask: keeps the largest |w| and removes exactly round(fraction * n) weights")


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def layerwise_masks(fn: Callable[[dict[str, np.ndarray], float], Any]) -> bool:
    """Check ``fn(weights, fraction) -> {name: mask}`` that prunes each layer *separately* by magnitude:
    every layer loses ``round(fraction * layer size)`` of its own smallest-|w| weights."""
    rng = np.random.default_rng(2)
    weights = {
        "big": rng.normal(size=(10, 8)),          # large weights
        "small": 0.05 * rng.normal(size=(8, 4)),  # small weights: a global threshold wipes them out
        "tiny": 0.01 * rng.normal(size=(4, 3)),
    }
    for fraction in (0.5, 0.8):
        given = {k: v.copy() for k, v in weights.items()}
        ok, got = _call(fn, given, fraction)
        if not ok:
            return False
        if not isinstance(got, dict) or set(got) != set(weights):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return _fail(f"expected a dict with the same keys {sorted(weights)}, got {keys}",
                         "return {name: magnitude_mask(w, fraction) for name, w in weights.items()}")
        if any(not np.array_equal(given[name], w) for name, w in weights.items()):
            return _fail("your function changed the weights it was given", "do not modify the weights in place")
        masks = {name: _as_numpy(m) for name, m in got.items()}
        if all(isinstance(masks[n], np.ndarray) and masks[n].shape == w.shape for n, w in weights.items()):
            flat = np.concatenate([masks[n].ravel() for n in weights]).astype(bool)
            glob = _expected_mask(np.concatenate([w.ravel() for w in weights.values()]), fraction)
            if np.array_equal(flat, glob) or not masks["tiny"].any():
                return _fail(f"fraction {fraction}: that is one *global* threshold (layer 'tiny' kept "
                             f"{int(masks['tiny'].sum())} of {weights['tiny'].size} weights)",
                             "rank each layer's weights against its own magnitudes, not against all layers together")
        for name, w in weights.items():
            if not _check_mask(masks[name], w, _expected_mask(w, fraction), f"fraction {fraction}, layer {name!r}"):
                return False
    return _ok("layerwise_masks: every layer keeps its own largest weights")


# ----------------------------------------------------------------------------- exercise 3
# A learner's float32 gradient and the float32 reference may take different routes (another loss function, another
# order of the sums over 40 images and up to 784 inputs); each is off from the exact gradient by float32 rounding
# only (2⁻²⁴ relative per operation, grown by the sums). The tolerance is far wider than that: the test suite checks
# that the float32 reference stays within a tenth of it of a float64 gradient computed by hand, so two float32
# routes pass with room to spare, while every mistake the checker names (probabilities for logits, a summed loss)
# changes the gradient by a factor.
_GRAD_RTOL, _GRAD_ATOL = 1e-3, 1e-6


def _grad_case(seed: int):
    from ..env import load_tensorflow
    from ..models_tf import mlp

    _, keras = load_tensorflow()
    model = mlp(hidden=(12, 8), seed=seed)
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # non-zero biases, so a forgotten bias shows in the gradients
        if isinstance(layer, keras.layers.Dense):
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape).astype(np.float32))
    x = rng.random((40, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    return model, x, y


def _variants(model: Any, x: np.ndarray, y: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """Typical wrong gradients, by the mistake that gives them."""
    tf, keras = _tf()
    dense = _dense(model)
    out = {}
    for why, loss_of in {
        "the loss treats the outputs as probabilities: the model returns logits (from_logits=True)":
            lambda lg: tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, lg)),
        "the gradient of the *summed* loss: the loss is the mean cross-entropy over the images":
            lambda lg: tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y, lg, from_logits=True)),
    }.items():
        with tf.GradientTape() as tape:
            loss = loss_of(model(x, training=False))
        out[why] = {lay.name: g.numpy() for lay, g in zip(dense, tape.gradient(loss, [d.kernel for d in dense]))}
    return out


def _tf():
    from ..env import load_tensorflow

    return load_tensorflow()


def _dense(model: Any) -> list[Any]:
    _, keras = _tf()
    return [lay for lay in model.layers if isinstance(lay, keras.layers.Dense)]


@_exercise
def kernel_gradients(fn: Callable[[Any, np.ndarray, np.ndarray], Any]) -> bool:
    """Check ``fn(model, x, y) -> {layer name: dL/dkernel}``: the gradient of the **mean** cross-entropy of the
    model's logits on ``(x, y)`` with respect to each ``Dense`` kernel, computed with ``tf.GradientTape``, as
    arrays of the kernels' shapes ``(inputs, units)``; the model's weights unchanged."""
    for seed in (3, 4):
        model, x, y = _grad_case(seed)
        before = [w.copy() for w in model.get_weights()]
        want = reference_kernel_gradients(model, x, y)
        ok, got = _call(fn, model, x, y)
        if not ok:
            return False
        if any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())):
            return _fail("your function changed the model's weights",
                         "only compute gradients: no optimizer step, no assign")
        if isinstance(got, (list, tuple)):
            return _fail(f"expected a dict {{layer name: gradient}}, got a {type(got).__name__} of {len(got)}",
                         "zip the Dense layers' names with tape.gradient(loss, kernels)")
        if not isinstance(got, dict) or set(got) != set(want):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            return _fail(f"expected the keys {sorted(want)} (one per Dense layer), got {keys}",
                         "[layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]; "
                         "differentiate with respect to layer.kernel")
        for name, g_want in want.items():
            g = _as_numpy(got[name])
            if g is None:
                return _fail(f"{name}: the gradient is None: the tape did not see the loss depend on the kernel",
                             "compute the logits *inside* `with tf.GradientTape() as tape:`")
            g = np.asarray(g, dtype=np.float64)
            if g.shape != g_want.shape:
                hint = ("that is the bias's shape: differentiate with respect to layer.kernel"
                        if g.shape == _dense_shape(model, name, bias=True) else "one gradient per kernel entry")
                return _fail(f"{name}: expected a gradient of the kernel's shape {g_want.shape}, got {g.shape}", hint)
            if not np.allclose(g, g_want, rtol=_GRAD_RTOL, atol=_GRAD_ATOL):
                for why, wrong in _variants(model, x, y).items():
                    if np.allclose(g, wrong[name], rtol=_GRAD_RTOL, atol=_GRAD_ATOL):
                        return _fail(f"{name}: your gradient is {why}",
                                     "loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy("
                                     "y, logits, from_logits=True))")
                return _fail(f"{name}: gradient differs from the expected one (largest difference "
                             f"{np.abs(g - g_want).max():.2e})",
                             "logits = model(x, training=False) inside the tape, the mean cross-entropy from logits, "
                             "then tape.gradient(loss, [layer.kernel ...])")
    return _ok("kernel_gradients: dL/dkernel of the mean cross-entropy for every Dense layer")


def _dense_shape(model: Any, name: str, bias: bool) -> tuple[int, ...]:
    layer = model.get_layer(name)
    return tuple((layer.bias if bias else layer.kernel).shape)


# ----------------------------------------------------------------------------- reference solutions
def reference_magnitude_mask(w: np.ndarray, fraction: float) -> np.ndarray:
    """Reference for Exercise 1: True for the weights to keep, all but the ``round(fraction * w.size)``
    smallest ``|w|`` (ties broken by position, so exactly k weights go even among exact zeros)."""
    return _expected_mask(np.asarray(w), fraction)


def reference_layerwise_masks(weights: dict[str, np.ndarray], fraction: float) -> dict[str, np.ndarray]:
    """Reference for Exercise 2: ``{name: keep-mask}``, every layer losing ``round(fraction * its size)`` of its
    own smallest ``|w|`` (layer-wise magnitude pruning)."""
    return {name: reference_magnitude_mask(w, fraction) for name, w in weights.items()}


def reference_kernel_gradients(model: Any, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Reference for Exercise 3: ``{Dense layer name: dL/dkernel}`` (float64 arrays of the kernels' shapes),
    ``L`` the mean cross-entropy of the model's logits on ``(x, y)``, taken with ``tf.GradientTape`` in
    inference mode. The model is not changed."""
    tf, keras = _tf()
    dense = _dense(model)
    with tf.GradientTape() as tape:
        logits = model(np.asarray(x, dtype=np.float32), training=False)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(np.asarray(y), logits, from_logits=True))
    grads = tape.gradient(loss, [layer.kernel for layer in dense])
    return {layer.name: g.numpy().astype(np.float64) for layer, g in zip(dense, grads)}
