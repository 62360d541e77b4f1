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
