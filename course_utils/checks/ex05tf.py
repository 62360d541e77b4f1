"""Self-checks for the exercises of 05_structured_pruning_tensorflow.

Each checker calls the learner's function on hidden cases, prints what was expected and what came
back (with a hint) and returns ``True`` (all cases pass) or ``False``. The exercises work on numpy
arrays in Keras' layout, so these checkers import only numpy (neither TensorFlow nor torch).

- :func:`equivalent_rescale` checks ``equivalent_rescale(kernel, bias, bn, factors, eps) -> (kernel, bias, bn)``:
  multiply the L1 norm of every filter ``j`` of a Keras ``Conv2D`` by ``factors[j] > 0`` *without changing what
  conv → BatchNorm computes at inference* (``bn`` is ``[gamma, beta, moving_mean, moving_variance]``, Keras'
  order; gamma and beta stay). It shows why a filter's L1 norm says little under BatchNorm.
- :func:`flatten_rows` checks ``flatten_rows(h, w, c, keep) -> np.ndarray``: the rows of the
  ``Dense`` kernel after a Keras ``Flatten`` of an ``(h, w, c)`` feature map that belong to the
  kept channels ``keep`` (NHWC order: row ``(i * w + j) * c + k``), in increasing order.
- :func:`is_2_of_4` checks ``is_2_of_4(kernel) -> bool``: whether a Keras ``Dense`` ``(in, out)``
  or ``Conv2D`` ``(kh, kw, in, out)`` kernel has at most 2 nonzeros in every group of 4
  consecutive *input channels* (for each output and kernel position) — TFMOT's
  ``sparsity_m_by_n=(2, 4)`` pattern.

Introduced in 05_structured_pruning_tensorflow.
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
    "equivalent_rescale",
    "flatten_rows",
    "is_2_of_4",
    "reference_equivalent_rescale",
    "reference_flatten_rows",
    "reference_is_2_of_4",
]


# --------------------------------------------------------------------------- reference answers
def reference_equivalent_rescale(kernel: np.ndarray, bias: np.ndarray, bn: Any, factors: Any,
                                 eps: float = 1e-5) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Scale filter ``j`` of a Conv2D (kernel ``(kh, kw, in, out)``, bias ``(out,)``) by ``factors[j] > 0`` and let
    the BatchNorm after it absorb the change: its input becomes ``c·z``, so its moving mean becomes ``c·mean`` and,
    because BatchNorm divides by ``sqrt(var + eps)``, its moving variance ``c²·(var + eps) − eps``; gamma and beta
    stay. conv → BatchNorm (inference) then computes exactly what it computed before, while every filter's L1
    norm is multiplied by its factor. Returns ``(kernel, bias, [gamma, beta, mean, var])``, float64."""
    c = np.asarray(factors, dtype=np.float64)
    gamma, beta, mean, var = (np.asarray(v, dtype=np.float64) for v in bn)
    return (np.asarray(kernel, dtype=np.float64) * c, np.asarray(bias, dtype=np.float64) * c,
            [gamma.copy(), beta.copy(), mean * c, c ** 2 * (var + eps) - eps])


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
def _conv_bn(kernel: np.ndarray, bias: np.ndarray, bn: Any, eps: float, patches: np.ndarray) -> np.ndarray:
    """conv (as patches @ kernel) → BatchNorm at inference, one row per patch."""
    gamma, beta, mean, var = bn
    z = patches @ kernel.reshape(-1, kernel.shape[-1]) + bias
    return gamma * (z - mean) / np.sqrt(var + eps) + beta


@_exercise
def equivalent_rescale(fn: Callable[..., Any]) -> bool:
    """Check ``equivalent_rescale(kernel, bias, bn, factors, eps)``: filter ``j``'s L1 norm times ``factors[j]``,
    conv → BatchNorm unchanged at inference, gamma and beta unchanged.

    Hidden conv + BatchNorm layers with small moving variances and ``eps = 1e-3`` (so that forgetting ``eps``
    shows), factors below and above 1, and ``in != out`` (scaling the wrong kernel axis shows).
    Introduced in 05_structured_pruning_tensorflow.
    """
    name = "equivalent_rescale"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex05tf.{name}({name}); got {type(fn).__name__}.")
    r = np.random.default_rng(17)
    cases = []
    for label, (cin, cout, eps) in (("a 3x3 conv, 4 input channels, 6 filters, eps=1e-3", (4, 6, 1e-3)),
                                    ("a 3x3 conv, 5 input channels, 5 filters, eps=1e-5", (5, 5, 1e-5))):
        kernel = r.normal(0, 0.3, size=(3, 3, cin, cout))
        bias = r.normal(0, 0.2, size=cout)
        bn = [r.uniform(0.5, 1.5, cout) * r.choice([-1, 1], cout), r.normal(0, 0.3, cout),
              r.normal(0, 0.2, cout), r.uniform(0.02, 0.08, cout)]
        factors = r.uniform(0.4, 3.0, cout)
        cases.append((label, kernel, bias, bn, factors, eps))
    for label, kernel, bias, bn, factors, eps in cases:
        ok, got = _call(fn, kernel.copy(), bias.copy(), [v.copy() for v in bn], factors.copy(), eps)
        if not ok:
            return False
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return _fail(f"{name} on {label}: expected a tuple (kernel, bias, bn), got {type(got).__name__}.")
        k2 = _as_array(got[0], name, label)
        b2 = _as_array(got[1], name, label)
        if k2 is None or b2 is None:
            return False
        try:
            bn2 = [np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float64) for v in got[2]]
        except (TypeError, ValueError):
            return _fail(f"{name} on {label}: bn must be a list of 4 arrays [gamma, beta, moving_mean, "
                         "moving_variance].")
        if k2.shape != kernel.shape or b2.shape != bias.shape or len(bn2) != 4 or \
                any(v.shape != (kernel.shape[-1],) for v in bn2):
            return _fail(f"{name} on {label}: expected a kernel {kernel.shape}, a bias {bias.shape} and 4 BatchNorm "
                         f"vectors of length {kernel.shape[-1]}; got {k2.shape}, {b2.shape} and "
                         f"{[v.shape for v in bn2]}.")
        l1, l1_new = np.abs(kernel).sum(axis=(0, 1, 2)), np.abs(k2).sum(axis=(0, 1, 2))
        if not np.allclose(l1_new, factors * l1, rtol=1e-6):
            hint = "filter j is kernel[..., j] (the last axis): multiply it by factors[j]."
            if np.allclose(l1_new, l1, rtol=1e-6):
                hint = "the filters' L1 norms did not change: scale filter j (kernel[..., j]) by factors[j]."
            return _fail(f"{name} on {label}: the filters' L1 norms should be multiplied by the factors "
                         f"{np.round(factors[:3], 2)}…, got ratios {np.round(l1_new[:3] / l1[:3], 2)}….", hint)
        if not (np.allclose(bn2[0], bn[0]) and np.allclose(bn2[1], bn[1])):
            return _fail(f"{name} on {label}: gamma and beta changed.",
                         "keep gamma and beta: they are trained weights. What BatchNorm *measured* on the conv's "
                         "outputs — its moving mean and variance — is what must follow the rescaled conv.")
        patches = r.normal(0, 1, size=(64, kernel[..., 0].size))
        want = _conv_bn(kernel, bias, bn, eps, patches)
        out = _conv_bn(k2, b2, bn2, eps, patches)
        if not np.allclose(out, want, rtol=1e-6, atol=1e-6 * np.abs(want).max()):
            c = factors
            mean, var = bn[2], bn[3]
            if not np.allclose(b2, c * bias):
                hint = "the conv's output is z = w * x + b: when the filter is scaled by c, the bias must be too."
            elif not np.allclose(bn2[2], c * mean):
                hint = "the mean of c·z is c·mean: scale the moving mean by the factor."
            elif np.allclose(bn2[3], c * var):
                hint = "the variance of c·z is c²·var, not c·var."
            elif np.allclose(bn2[3], c ** 2 * var):
                hint = ("almost: BatchNorm divides by sqrt(var + eps), and sqrt(c²·var + eps) is not "
                        "c·sqrt(var + eps). Which variance makes var' + eps = c²·(var + eps)?")
            else:
                hint = ("BatchNorm computes gamma·(z − mean)/sqrt(var + eps) + beta; with z scaled by c, choose the "
                        "new mean and variance so that every output stays the same.")
            return _fail(f"{name} on {label}: conv → BatchNorm no longer computes the same outputs (largest "
                         f"difference {np.abs(out - want).max():.2e}).", hint)
    return _ok(f"{name}: on {len(cases)} hidden conv + BatchNorm layers the filters' L1 norms follow the factors "
               "and the outputs are unchanged.")


@_exercise
def flatten_rows(fn: Callable[[int, int, int, Any], np.ndarray]) -> bool:
    """Check ``flatten_rows(h, w, c, keep)``: Dense-kernel rows of kept channels after a Keras (NHWC) Flatten.

    Introduced in 05_structured_pruning_tensorflow.
    """
    name = "flatten_rows"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex05tf.{name}({name}); "
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

    Introduced in 05_structured_pruning_tensorflow.
    """
    name = "is_2_of_4"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex05tf.{name}({name}); "
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
