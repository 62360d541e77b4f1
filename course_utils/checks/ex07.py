"""Self-checks for the exercises of 07_structured_pruning_tensorflow.

Each checker calls the learner's function on hidden cases, prints what was expected and what came
back (with a hint) and returns ``True`` (all cases pass) or ``False``. The exercises work on numpy
arrays in Keras' layout, so these checkers import only numpy (neither TensorFlow nor torch).

- :func:`filter_l1` checks ``filter_l1(kernel) -> np.ndarray``: the L1 norm of each filter of a
  Keras ``Conv2D`` kernel ``(kh, kw, in_channels, filters)``, shape ``(filters,)`` (Li et al. 2017).
- :func:`flatten_rows` checks ``flatten_rows(h, w, c, keep) -> np.ndarray``: the rows of the
  ``Dense`` kernel after a Keras ``Flatten`` of an ``(h, w, c)`` feature map that belong to the
  kept channels ``keep`` (NHWC order: row ``(i * w + j) * c + k``), in increasing order.
- :func:`is_2_of_4` checks ``is_2_of_4(kernel) -> bool``: whether a Keras ``Dense`` ``(in, out)``
  or ``Conv2D`` ``(kh, kw, in, out)`` kernel has at most 2 nonzeros in every group of 4
  consecutive *input channels* (for each output and kernel position) — TFMOT's
  ``sparsity_m_by_n=(2, 4)`` pattern.

Introduced in 07_structured_pruning_tensorflow.
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
    "filter_l1",
    "flatten_rows",
    "is_2_of_4",
    "reference_filter_l1",
    "reference_flatten_rows",
    "reference_is_2_of_4",
]


# --------------------------------------------------------------------------- reference answers
def reference_filter_l1(kernel: np.ndarray) -> np.ndarray:
    """Sum of ``|w|`` of each filter of a Keras Conv2D kernel ``(kh, kw, in, out)`` → shape ``(out,)``."""
    return np.abs(np.asarray(kernel, dtype=np.float64)).sum(axis=(0, 1, 2))


def reference_flatten_rows(h: int, w: int, c: int, keep: Any) -> np.ndarray:
    """Rows ``(i * w + j) * c + k`` for every position ``(i, j)`` and kept channel ``k`` (NHWC), increasing."""
    keep = np.sort(np.asarray(keep, dtype=np.int64))
    return (np.arange(h * w)[:, None] * c + keep[None, :]).ravel()


def reference_is_2_of_4(kernel: np.ndarray) -> bool:
    """At most 2 nonzeros in every group of 4 consecutive input channels (last group may be shorter)."""
    k = np.asarray(kernel)
    if k.ndim == 2:  # Dense (in, out) -> (out, in)
        rows = k.T
    elif k.ndim == 4:  # Conv2D (kh, kw, in, out) -> (out * kh * kw, in), TFLite's (out, kh, kw, in)
        rows = np.transpose(k, (3, 0, 1, 2)).reshape(-1, k.shape[2])
    else:
        raise ValueError(f"expected a Dense (in, out) or Conv2D (kh, kw, in, out) kernel, got shape {k.shape}")
    for start in range(0, rows.shape[1], 4):
        if (np.count_nonzero(rows[:, start:start + 4], axis=1) > 2).any():
            return False
    return True


# --------------------------------------------------------------------------- helpers
def _as_array(got: Any, name: str, label: str, dtype: Any = np.float64) -> np.ndarray | None:
    if hasattr(got, "numpy") and not isinstance(got, np.ndarray):  # a tf.Tensor is fine too
        got = got.numpy()
    try:
        return np.asarray(got, dtype=dtype)
    except (TypeError, ValueError):
        _fail(f"{name} on {label}: expected a numpy array, got {type(got).__name__}.")
        return None


# --------------------------------------------------------------------------- checkers
@_exercise
def filter_l1(fn: Callable[[np.ndarray], np.ndarray]) -> bool:
    """Check ``filter_l1(kernel)``: L1 norm per filter of a Keras Conv2D kernel ``(kh, kw, in, out)``.

    Hidden cases with ``in != out`` (a wrong axis gives a wrong shape) and one with ``in == out``
    (a wrong axis gives wrong values). Introduced in 07_structured_pruning_tensorflow.
    """
    name = "filter_l1"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex07.{name}({name}); "
                     f"got {type(fn).__name__}.")
    r = np.random.default_rng(7)
    cases = [("a 3x3 kernel, 1 input channel, 8 filters", r.normal(size=(3, 3, 1, 8))),
             ("a 3x3 kernel, 6 input channels, 4 filters", r.normal(size=(3, 3, 6, 4))),
             ("a 3x3 kernel, 5 input channels, 5 filters", r.normal(size=(3, 3, 5, 5)) * np.arange(1, 6))]
    for label, kernel in cases:
        want = reference_filter_l1(kernel)
        ok, got = _call(fn, kernel.copy())
        if not ok:
            return False
        arr = _as_array(got, name, label)
        if arr is None:
            return False
        if arr.shape != want.shape:
            return _fail(f"{name} on {label}: expected shape {want.shape} (one norm per filter), got {arr.shape}.",
                         "a Keras Conv2D kernel is (kh, kw, in_channels, filters); filter j is kernel[..., j], "
                         "so sum |w| over axes (0, 1, 2).")
        if not np.allclose(arr, want, rtol=1e-5, atol=1e-8):
            hint = "sum |w| over axes (0, 1, 2) — the last axis indexes the filters."
            if np.allclose(arr, np.sqrt((kernel ** 2).sum(axis=(0, 1, 2)))):
                hint = "That is the L2 norm; Li et al. 2017 rank filters by the L1 norm, sum(|w|)."
            elif np.allclose(arr, kernel.sum(axis=(0, 1, 2))):
                hint = "Take the absolute value first: positive and negative weights must not cancel."
            return _fail(f"{name} on {label}: expected {np.round(want[:4], 3)}…, got {np.round(arr[:4], 3)}….", hint)
    return _ok(f"{name}: correct on {len(cases)} hidden kernels.")


@_exercise
def flatten_rows(fn: Callable[[int, int, int, Any], np.ndarray]) -> bool:
    """Check ``flatten_rows(h, w, c, keep)``: Dense-kernel rows of kept channels after a Keras (NHWC) Flatten.

    Introduced in 07_structured_pruning_tensorflow.
    """
    name = "flatten_rows"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex07.{name}({name}); "
                     f"got {type(fn).__name__}.")
    cases = [(2, 2, 3, [0, 2]), (7, 7, 64, list(range(0, 64, 2))), (3, 1, 4, [1]), (1, 1, 5, [0, 3, 4])]
    for h, w, c, keep in cases:
        label = f"h={h}, w={w}, c={c}, keep={keep if len(keep) < 6 else str(keep[:4])[:-1] + ', …]'}"
        want = reference_flatten_rows(h, w, c, keep)
        ok, got = _call(fn, h, w, c, np.array(keep))
        if not ok:
            return False
        arr = _as_array(got, name, label, dtype=np.float64)
        if arr is None:
            return False
        arr = arr.ravel()
        if arr.shape != want.shape or not np.array_equal(arr, want):
            keep_arr = np.array(keep)
            nchw = (keep_arr[:, None] * (h * w) + np.arange(h * w)[None, :]).ravel()
            if arr.shape == want.shape and np.array_equal(np.sort(arr), np.sort(nchw)) and not np.array_equal(
                    np.sort(arr), want):
                hint = ("These are PyTorch's rows (NCHW: channel-major, c * h * w + position). Keras flattens "
                        "channels-last: row = position * c + channel, position = i * w + j.")
            elif arr.shape == want.shape and np.array_equal(np.sort(arr), want):
                hint = "Right rows, wrong order: return them in increasing order (position by position)."
            else:
                hint = "Row = (i * w + j) * c + k for every position (i, j) and every kept channel k."
            return _fail(f"{name}({label}): expected {want.size} rows starting {want[:6].tolist()}, got {arr.size} "
                         f"rows starting {arr[:6].astype(int).tolist()}.", hint)
    return _ok(f"{name}: correct on {len(cases)} hidden feature maps.")


def _cases_2_of_4() -> list[tuple[str, np.ndarray, bool]]:
    r = np.random.default_rng(24)

    def pattern(shape_rows: tuple[int, int]) -> np.ndarray:
        """(rows, inputs) with exactly 2 nonzeros in each group of 4 inputs."""
        rows, n_in = shape_rows
        out = np.zeros((rows, n_in))
        for i in range(rows):
            for g in range(0, n_in, 4):
                pos = g + r.choice(min(4, n_in - g), size=min(2, n_in - g), replace=False)
                out[i, pos] = r.normal(size=len(pos)) + 3
        return out

    dense_ok = pattern((3, 8)).T  # Dense (in=8, out=3)
    conv_ok = np.transpose(pattern((4 * 9, 8)).reshape(4, 3, 3, 8), (1, 2, 3, 0))  # (3, 3, 8, 4)
    conv_bad = conv_ok.copy()
    zero = np.argwhere(conv_bad[1, 2, 4:8, 3] == 0)[0, 0]
    conv_bad[1, 2, 4 + zero, 3] = 1.0  # one group now has 3 nonzeros
    out_axis = pattern((8, 4))  # Dense (in=8, out=4): 2:4 along the *outputs*, dense along inputs
    return [
        ("a 2:4 Dense kernel (8 inputs, 3 outputs)", dense_ok, True),
        ("a 2:4 Conv2D kernel (3, 3, 8, 4)", conv_ok, True),
        ("a Conv2D kernel with one group of 4 inputs holding 3 nonzeros", conv_bad, False),
        ("a Dense kernel that is 2:4 along its outputs, not its inputs", out_axis, False),
        ("a dense Conv2D kernel", r.normal(size=(3, 3, 4, 2)) + 5, False),
        ("an all-zero Dense kernel", np.zeros((8, 2)), True),
        ("a Conv2D kernel with 1 input channel (like conv1)", r.normal(size=(3, 3, 1, 4)) + 5, True),
    ]


@_exercise
def is_2_of_4(fn: Callable[[np.ndarray], bool]) -> bool:
    """Check ``is_2_of_4(kernel)``: at most 2 nonzeros in every group of 4 consecutive input channels.

    Introduced in 07_structured_pruning_tensorflow.
    """
    name = "is_2_of_4"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex07.{name}({name}); "
                     f"got {type(fn).__name__}.")
    cases = _cases_2_of_4()
    for label, kernel, want in cases:
        ok, got = _call(fn, kernel.copy())
        if not ok:
            return False
        if not isinstance(got, (bool, np.bool_)):
            return _fail(f"{name} on {label}: return True or False, got {type(got).__name__} ({got!r}).")
        if bool(got) != want:
            hint = ("Group 4 consecutive *input* channels of the same output and kernel position: for a Conv2D "
                    "kernel (kh, kw, in, out) move the input axis last, e.g. np.moveaxis(k, 2, -1), and reshape "
                    "to (-1, in); for a Dense kernel (in, out) use k.T.")
            if "all-zero" in label or "1 input" in label:
                hint = "The rule is *at most* 2 nonzeros per group (more zeros are fine; a short group too)."
            return _fail(f"{name} on {label}: expected {want}, got {bool(got)}.", hint)
    return _ok(f"{name}: correct on {len(cases)} hidden kernels.")
