"""Framework-free argument checks shared by the PyTorch and Keras twins (no framework imports)."""
from __future__ import annotations

from collections.abc import Sequence

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
