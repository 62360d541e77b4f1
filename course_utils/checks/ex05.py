"""Self-checks for the exercises of 05_neuron_pruning_tensorflow.

Each checker calls the learner's function on hidden cases, prints what was expected and what came
back (with a hint) and returns ``True`` (all cases pass) or ``False``. The exercises work on
numpy arrays in Keras' layout, so these checkers import only numpy (neither TensorFlow nor torch).

- :func:`incoming_l2` checks ``incoming_l2(kernel) -> np.ndarray``: the L2 norm of each unit's
  incoming weights of a Keras ``Dense`` kernel of shape ``(inputs, units)``, shape ``(units,)``.
- :func:`shrink_dense_pair` checks ``shrink_dense_pair(k1, b1, k2, keep) -> (k1, b1, k2)``: the
  weights of two consecutive ``Dense`` layers after keeping only the hidden units ``keep`` of the first.
- :func:`mlp_macs` checks ``mlp_macs(sizes) -> int``: multiply-accumulates per image of an MLP with
  layer widths ``sizes`` (inputs first), biases not counted.

Introduced in 05_neuron_pruning_tensorflow.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = [
    "incoming_l2",
    "mlp_macs",
    "reference_incoming_l2",
    "reference_mlp_macs",
    "reference_shrink_dense_pair",
    "shrink_dense_pair",
]


# --------------------------------------------------------------------------- reference answers
def reference_incoming_l2(kernel: np.ndarray) -> np.ndarray:
    """L2 norm of each column of a Keras Dense kernel ``(inputs, units)`` → shape ``(units,)``."""
    return np.linalg.norm(np.asarray(kernel, dtype=np.float64), axis=0)


def reference_shrink_dense_pair(
    k1: np.ndarray, b1: np.ndarray, k2: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep hidden units ``keep``: columns of ``k1``, entries of ``b1``, rows of ``k2``."""
    keep = np.asarray(keep)
    return k1[:, keep], b1[keep], k2[keep, :]


def reference_mlp_macs(sizes: Any) -> int:
    """MACs per image of an MLP with layer widths ``sizes``: ``sum(a * b)`` over consecutive widths."""
    sizes = [int(v) for v in sizes]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


# --------------------------------------------------------------------------- helpers
def _as_array(got: Any, name: str, label: str) -> np.ndarray | None:
    if hasattr(got, "numpy") and not isinstance(got, np.ndarray):  # a tf.Tensor is fine too
        got = got.numpy()
    try:
        return np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        _fail(f"{name} on {label}: expected a numpy array, got {type(got).__name__}.")
        return None


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- checkers
@_exercise
def incoming_l2(fn: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Check ``incoming_l2(kernel)``: per-unit L2 norm of a Keras Dense kernel ``(inputs, units)``.

    Hidden cases: a wide kernel (784 x 7), a tall one (3 x 5) and a square one, so that reducing
    over the wrong axis gives the wrong shape or the wrong values. Introduced in 05_neuron_pruning_tensorflow.
    """
    name = "incoming_l2"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex05.{name}({name}); "
                     f"got {type(fn).__name__}.")
    cases = [("a 784 x 7 kernel", _rng(1).normal(size=(784, 7))),
             ("a 3 x 5 kernel", _rng(2).normal(size=(3, 5))),
             ("a 6 x 6 kernel", _rng(3).normal(size=(6, 6)) * np.arange(1, 7))]
    for label, kernel in cases:
        want = reference_incoming_l2(kernel)
        ok, got = _call(fn, kernel.copy())
        if not ok:
            return False
        arr = _as_array(got, name, label)
        if arr is None:
            return False
        if arr.shape != want.shape:
            return _fail(f"{name} on {label}: expected shape {want.shape} (one norm per unit), got {arr.shape}.",
                         "a Keras Dense kernel is (inputs, units) — the incoming weights of unit j are the "
                         "column kernel[:, j], so reduce over axis 0.")
        if not np.allclose(arr, want, rtol=1e-5, atol=1e-8):
            hint = "reduce over axis 0 (the inputs)."
            if np.allclose(arr, np.abs(kernel).sum(axis=0)):
                hint = "That is the L1 norm; the L2 norm is sqrt(sum(w**2))."
            elif np.allclose(arr, (kernel ** 2).sum(axis=0)):
                hint = "That is the squared L2 norm: take the square root."
            return _fail(f"{name} on {label}: expected {np.round(want[:4], 4)}…, got {np.round(arr[:4], 4)}….", hint)
    return _ok(f"{name}: correct on {len(cases)} hidden kernels.")


@_exercise
def shrink_dense_pair(fn: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]) -> bool:
    """Check ``shrink_dense_pair(k1, b1, k2, keep) -> (k1_small, b1_small, k2_small)``.

    Expected: columns ``keep`` of ``k1`` (inputs, hidden), entries ``keep`` of ``b1``, rows ``keep``
    of ``k2`` (hidden, outputs), in the order of ``keep``. The checker also runs both networks:
    the small one must give the same outputs as the big one with the other units zeroed.
    Introduced in 05_neuron_pruning_tensorflow.
    """
    name = "shrink_dense_pair"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex05.{name}({name}); "
                     f"got {type(fn).__name__}.")
    cases = [("8 inputs, 6 hidden, 4 outputs, keep [0, 2, 5]", (8, 6, 4), np.array([0, 2, 5])),
             ("5 inputs, 5 hidden, 5 outputs, keep [1, 3]", (5, 5, 5), np.array([1, 3])),
             ("784 inputs, 10 hidden, 3 outputs, keep 7 units", (784, 10, 3), np.array([0, 1, 2, 4, 6, 8, 9]))]
    for i, (label, (n_in, n_hidden, n_out), keep) in enumerate(cases):
        r = _rng(10 + i)
        k1, b1, k2 = r.normal(size=(n_in, n_hidden)), r.normal(size=n_hidden), r.normal(size=(n_hidden, n_out))
        want = reference_shrink_dense_pair(k1, b1, k2, keep)
        ok, got = _call(fn, k1.copy(), b1.copy(), k2.copy(), keep.copy())
        if not ok:
            return False
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return _fail(f"{name} on {label}: return a tuple (k1_small, b1_small, k2_small), "
                         f"got {type(got).__name__}.")
        arrs = [_as_array(g, name, label) for g in got]
        if any(a is None for a in arrs):
            return False
        for what, a, w, hint in zip(
            ("k1_small", "b1_small", "k2_small"), arrs, want,
            ("k1 is (inputs, hidden): keep its columns, k1[:, keep]",
             "b1 has one entry per hidden unit: b1[keep]",
             "k2 is (hidden, outputs): keep its rows, k2[keep, :]"),
        ):
            if a.shape != w.shape or not np.allclose(a, w):
                return _fail(f"{name} on {label}: {what} should have shape {w.shape}, got {a.shape}"
                             f"{'' if a.shape != w.shape else ' with different values'}.", f"{hint}.")
        x = r.random((4, n_in))
        mask = np.zeros(n_hidden)
        mask[keep] = 1
        big = np.maximum(x @ (k1 * mask) + b1 * mask, 0) @ k2
        small = np.maximum(x @ arrs[0] + arrs[1], 0) @ arrs[2]
        if not np.allclose(big, small):
            return _fail(f"{name} on {label}: the small network's outputs differ from the masked big network's.")
    return _ok(f"{name}: correct on {len(cases)} hidden cases, and the small networks compute the same outputs.")


@_exercise
def mlp_macs(fn: Callable[[Any], int]) -> bool:
    """Check ``mlp_macs(sizes) -> int``: multiply-accumulates per image of an MLP with layer widths
    ``sizes`` (inputs first, logits last), i.e. ``sum(a * b)`` over consecutive widths; biases not counted.

    Introduced in 05_neuron_pruning_tensorflow.
    """
    name = "mlp_macs"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex05.{name}({name}); "
                     f"got {type(fn).__name__}.")
    cases = [(784, 300, 100, 10), (784, 90, 30, 10), (5, 3), (10, 7, 6, 5, 4)]
    for sizes in cases:
        want = reference_mlp_macs(sizes)
        ok, got = _call(fn, sizes)
        if not ok:
            return False
        try:
            value = float(got)
        except (TypeError, ValueError):
            return _fail(f"{name}{sizes}: expected a number, got {type(got).__name__}.")
        if value != want:
            pairs = list(zip(sizes[:-1], sizes[1:]))
            hint = "one a × b per pair of consecutive widths, summed."
            if value == want + sum(b for _, b in pairs):
                hint = "You counted the biases: they are additions, not multiply-accumulates."
            elif value == sum(a * b for a, b in zip(sizes[:-2], sizes[1:-1])):
                hint = "You forgot the last layer (hidden → logits)."
            return _fail(f"{name}{sizes}: expected {want:,}, got {got!r}.", hint)
    return _ok(f"{name}: correct on {len(cases)} hidden MLPs.")
