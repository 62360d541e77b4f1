"""Framework-free argument checks shared by the PyTorch and Keras twins (no framework imports).

One place for the checks every module needs (ints, fractions, positive numbers, input shapes, keep
indices) and for :func:`keep_indices`, which both ``surgery_torch`` and ``surgery_tf`` export. The
error messages say what was expected and what was given, in the words the notebooks use.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def check_sizes(values: Sequence[int], what: str, *, exact: int | None = None) -> tuple[int, ...]:
    """Layer sizes as a tuple of positive ints; a clear TypeError/ValueError otherwise."""
    if isinstance(values, (int, str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{what} must be a tuple/list of positive ints, got {values!r}")
    out = tuple(values)
    if exact is not None and len(out) != exact:
        raise ValueError(f"{what} must have exactly {exact} entries, got {len(out)}: {out!r}")
    if len(out) == 0:
        raise ValueError(f"{what} needs at least one layer size, got an empty sequence")
    for v in out:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ValueError(f"{what} must contain positive ints, got {out!r}")
    return tuple(int(v) for v in out)


def keep_index_array(keep_idx, n: int, what: str, *, allow_integral_floats: bool = False) -> np.ndarray:
    """``keep_idx`` (indices, or a boolean mask of length ``n``; already converted from a framework
    tensor) as a sorted int64 array of distinct indices in ``[0, n)``, at least one.

    Used by the unit/channel surgery of both frameworks (surgery_torch, surgery_tf). ``what`` names
    what is indexed, e.g. ``"units of 'fc1'"``. Clear ValueError/TypeError for bad input.
    """
    arr = np.asarray(keep_idx)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"a boolean keep mask for {what} must have shape ({n},), got {arr.shape}")
        arr = np.flatnonzero(arr)
    if arr.ndim != 1:
        raise ValueError(f"keep_idx for {what} must be a 1-D list of indices, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        integral = np.issubdtype(arr.dtype, np.floating) and bool(np.all(arr == np.round(arr)))
        if not (allow_integral_floats and integral):
            raise TypeError(f"keep_idx for {what} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size == 0:
        raise ValueError(f"keep_idx for {what} is empty: keep at least one of the {n}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"keep_idx for {what} must be in [0, {n - 1}], got values in [{arr.min()}, {arr.max()}]")
    if len(np.unique(arr)) != len(arr):
        raise ValueError(f"keep_idx for {what} has repeated indices (duplicates)")
    return np.sort(arr)


# ----------------------------------------------------------------------------- numbers
def check_input_shape(input_shape: Any, *, name: str = "input_shape") -> tuple[int, ...]:
    """``input_shape`` as a tuple of positive ints (one sample, no batch dimension)."""
    if isinstance(input_shape, (int, np.integer)):
        input_shape = (int(input_shape),)
    try:
        shape = tuple(input_shape)
    except TypeError:
        raise TypeError(f"{name} must be a tuple of ints such as (1, 28, 28), got {input_shape!r}") from None
    if not shape or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
                            for d in shape):
        raise ValueError(
            f"{name} must be a non-empty tuple of positive ints without the batch dimension, e.g. (1, 28, 28) "
            f"for a torch CNN or (28, 28) for Keras; got {input_shape!r}"
        )
    return tuple(int(d) for d in shape)


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (numpy ints accepted, bools not); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1; ValueError ("<name> must be an int >= 1") otherwise."""
    return check_int(value, name, 1)


def check_nonnegative_int(value: Any, name: str) -> int:
    """``value`` as an int >= 0; ValueError ("<name> must be an int >= 0") otherwise."""
    return check_int(value, name, 0)


def check_positive_number(value: Any, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float > 0 (or >= 0 with ``allow_zero``); ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def check_fraction(value: Any, name: str, *, below_one: bool = False, hint: str = "") -> float:
    """``value`` as a float in [0, 1] (or [0, 1) with ``below_one``): TypeError for a non-number,
    ValueError outside the range or NaN.

    The messages are those the course has always shown: ``"<name> must be a fraction in [0, 1]<hint>"``;
    with ``below_one``, ``"<name> must be a number in [0, 1)"`` (TypeError) and ``"<name> must be a
    fraction in [0, 1) (1.0 would remove every weight)"`` (ValueError).
    """
    if below_one:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number in [0, 1), got {value!r}")
        v = float(value)
        if math.isnan(v) or not 0.0 <= v < 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1) (1.0 would remove every weight), got {v}")
        return v
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a fraction in [0, 1]{hint}, got {value!r}")
    v = float(value)
    if math.isnan(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1]{hint}, got {value!r}")
    return v


# ----------------------------------------------------------------------------- structured pruning
def _to_numpy(x: Any) -> Any:
    """A torch tensor (``.detach()``) or TF tensor/variable (``.numpy()``) as numpy; anything else unchanged."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch
        return x.detach().cpu().numpy()
    if hasattr(x, "numpy"):  # TensorFlow
        return x.numpy()
    return x


def keep_indices(scores: Any, amount: float) -> np.ndarray:
    """Sorted indices of the units/channels to *keep* when removing the fraction ``amount`` (0–1)
    with the lowest ``scores`` (higher score = more important).

    ``scores``: one score per unit (numpy array, list, torch or TF tensor). Removes
    ``round(amount * n)`` of them, the rounding ``torch.nn.utils.prune`` uses; ties are broken by
    index (lower index removed first), so the result is deterministic. At least one must survive.
    Returns an int64 array. The same function for both frameworks (``surgery_torch.keep_indices``
    and ``surgery_tf.keep_indices`` are this one). Introduced in 04_neuron_pruning_pytorch.
    """
    s = np.asarray(_to_numpy(scores), dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D array (one per unit/channel), got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or inf")
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.floating, np.integer)):
        raise TypeError(f"amount must be a fraction in [0, 1), got {amount!r}")
    amount = float(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount is the fraction of units/channels to remove, in [0, 1); got {amount}")
    n_remove = int(round(amount * s.size))
    if n_remove >= s.size:
        raise ValueError(f"amount={amount} would remove all {s.size} units/channels; keep at least one")
    order = np.argsort(s, kind="stable")
    return np.sort(order[n_remove:]).astype(np.int64)
