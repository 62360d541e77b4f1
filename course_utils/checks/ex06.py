"""Self-checks for the exercises of 06_measuring_what_pruning_buys_pytorch (PyTorch).

Each checker calls the learner's function on hidden cases, prints what was expected and what
came back (with a hint), and returns True or False. Usage in the notebook::

    from course_utils.checks import ex06
    ex06.csr_bytes(csr_bytes)
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

__all__ = ["csr_bytes", "csr_storage_break_even", "theoretical_speedup"]


# ----------------------------------------------------------------------------- reference answers
def reference_csr_bytes(matrix: Any, index_bytes: int = 4, value_bytes: int = 4) -> int:
    """Exercise 1's reference: bytes of the CSR form of a 2-D array (values + column indices + rows + 1 row
    pointers), counted without building a sparse matrix."""
    w = np.asarray(matrix)
    nnz = int(np.count_nonzero(w))
    return nnz * value_bytes + nnz * index_bytes + (w.shape[0] + 1) * index_bytes


def reference_csr_storage_break_even(rows: int, cols: int, value_bytes: int = 4, index_bytes: int = 4) -> float:
    """Exercise 2's reference: the smallest sparsity (0-1, fraction of zeros) at which a ``rows × cols`` matrix
    in CSR takes no more bytes than dense (solve nnz·(v + i) + (rows + 1)·i = rows·cols·v for nnz)."""
    nnz = (rows * cols * value_bytes - (rows + 1) * index_bytes) / (value_bytes + index_bytes)
    return 1 - nnz / (rows * cols)


def reference_theoretical_speedup(dense_model: Any, pruned_model: Any, input_shape: tuple[int, ...]) -> float:
    """Exercise 3's reference: dense MACs / MACs of ``pruned_model`` that touch a nonzero weight (per sample);
    works for masked models and for models whose layers were made narrower."""
    from .. import metrics

    before = metrics.macs(dense_model, input_shape)
    sparsity = metrics.layer_sparsity(pruned_model)
    after = sum(m * (1 - sparsity[name]) for name, m in metrics.layer_macs(pruned_model, input_shape).items())
    return before / after


def _number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ----------------------------------------------------------------------------- exercise 1
def _csr_ref(w: np.ndarray, index_bytes: int, value_bytes: int) -> int:
    rows = w.shape[0]
    nnz = int(np.count_nonzero(w))
    return nnz * value_bytes + nnz * index_bytes + (rows + 1) * index_bytes


def _csr_cases() -> list[tuple[str, np.ndarray, int, int]]:
    rng = np.random.default_rng(8)
    a = rng.standard_normal((30, 50)).astype(np.float32)
    a[rng.random(a.shape) < 0.9] = 0
    b = rng.standard_normal((7, 3)).astype(np.float32)
    c = np.zeros((5, 6), np.float32)
    d = rng.standard_normal((1, 40)).astype(np.float32)
    d[0, ::3] = 0
    return [
        ("a 30×50 matrix with ~90 % zeros, int32 indices, float32 values", a, 4, 4),
        ("the same matrix with int64 indices (torch's default)", a, 8, 4),
        ("a 7×3 matrix without any zero, float16 values", b, 4, 2),
        ("an all-zero 5×6 matrix", c, 4, 4),
        ("a single row of 40 with every third entry zero", d, 4, 4),
    ]


@_exercise
def csr_bytes(fn: Callable[..., Any]) -> bool:
    """Exercise 1: ``fn(matrix, index_bytes=4, value_bytes=4)`` → bytes of the CSR form of a 2-D array:
    nonzero values + one column index per nonzero + ``rows + 1`` row pointers."""
    name = "csr_bytes"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex06.{name}({name}); got {type(fn).__name__}.")
    for what, w, ib, vb in _csr_cases():
        ok, got = _call(fn, w.copy(), index_bytes=ib, value_bytes=vb)
        if not ok:
            return False
        want = _csr_ref(w, ib, vb)
        g = _number(got)
        if g is None or g != want:
            nnz, rows = int(np.count_nonzero(w)), w.shape[0]
            if g == nnz * vb:
                hint = ("that is nonzeros × value bytes only — the anchors' mistake. CSR also stores "
                        "a column index for every nonzero and the row pointers.")
            elif g == nnz * (vb + ib):
                hint = "values and column indices are right; add the row-pointer array."
            elif g == nnz * (vb + ib) + rows * ib:
                hint = f"the row-pointer array has rows + 1 = {rows + 1} entries (it starts with 0)."
            elif g == w.size * vb:
                hint = "that is the dense size; count only the nonzeros (np.count_nonzero)."
            else:
                hint = "bytes = nnz × (value_bytes + index_bytes) + (rows + 1) × index_bytes."
            return _fail(f"for {what} (index_bytes={ib}, value_bytes={vb}): expected {want:,} bytes, got {got!r}",
                         hint)
    return _ok("csr_bytes counts values, column indices and row pointers correctly.")


# ----------------------------------------------------------------------------- exercise 2
def _break_even_ref(rows: int, cols: int, value_bytes: int, index_bytes: int) -> float:
    density = (rows * cols * value_bytes - (rows + 1) * index_bytes) / (rows * cols * (value_bytes + index_bytes))
    return 1.0 - density


@_exercise
def csr_storage_break_even(fn: Callable[..., Any]) -> bool:
    """Exercise 2: ``fn(rows, cols, value_bytes=4, index_bytes=4)`` → the smallest *sparsity*
    (fraction of zeros) at which a CSR matrix takes no more bytes than the dense one."""
    name = "csr_storage_break_even"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex06.{name}({name}); got {type(fn).__name__}.")
    cases = [(300, 784, 4, 4), (300, 784, 4, 8), (4, 4, 4, 4), (10, 3, 2, 4), (100, 10, 4, 2)]
    for rows, cols, vb, ib in cases:
        ok, got = _call(fn, rows, cols, value_bytes=vb, index_bytes=ib)
        if not ok:
            return False
        want = _break_even_ref(rows, cols, vb, ib)
        g = _number(got)
        if g is None or not math.isclose(g, want, rel_tol=1e-6, abs_tol=1e-9):
            if g is not None and math.isclose(g, 1 - want, rel_tol=1e-6):
                hint = ("you returned the *density* (fraction of nonzeros); the question asks for the "
                        "sparsity = 1 − density.")
            elif g is not None and math.isclose(g, ib / (vb + ib), rel_tol=1e-6):
                hint = ("close, but the row pointers cost (rows + 1) × index_bytes too — they matter "
                        "for small matrices.")
            elif g is not None and math.isclose(g, vb / (vb + ib), rel_tol=1e-6):
                hint = ("that ignores the row pointers and returns a density; solve "
                        "nnz·(v + i) + (rows + 1)·i = rows·cols·v for nnz, then sparsity = 1 − nnz/(rows·cols).")
            else:
                hint = ("solve nnz·(value_bytes + index_bytes) + (rows + 1)·index_bytes = rows·cols·value_bytes "
                        "for nnz; sparsity = 1 − nnz / (rows·cols).")
            return _fail(f"for a {rows}×{cols} matrix with value_bytes={vb}, index_bytes={ib}: "
                         f"expected sparsity {want:.6f}, got {got!r}", hint)
    return _ok("csr_storage_break_even is right, row pointers included.")


# ----------------------------------------------------------------------------- exercise 3
def _speedup_cases() -> list[tuple[str, Any, Any, tuple[int, ...]]]:
    import torch
    from torch.nn.utils import prune

    from .. import models_torch as mt

    def with_bias(model):
        gen = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for m in model.modules():
                if getattr(m, "bias", None) is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)
        return model

    dense_mlp = with_bias(mt.mlp(hidden=(32, 16), seed=1))
    pruned_mlp = with_bias(mt.mlp(hidden=(32, 16), seed=1))
    prune.global_unstructured([(pruned_mlp.fc1, "weight"), (pruned_mlp.fc2, "weight"), (pruned_mlp.fc3, "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.8)
    small_mlp = with_bias(mt.mlp(hidden=(16, 8), seed=2))
    dense_cnn = with_bias(mt.small_cnn(channels=(4, 8), seed=1))
    pruned_cnn = with_bias(mt.small_cnn(channels=(4, 8), seed=1))
    prune.l1_unstructured(pruned_cnn.conv2, "weight", amount=0.75)
    return [
        ("an MLP 784-32-16-10 vs the same MLP with 80 % of its weights masked (torch.nn.utils.prune)",
         dense_mlp, pruned_mlp, (784,)),
        ("an MLP 784-32-16-10 vs a narrower MLP 784-16-8-10 (neurons removed)", dense_mlp, small_mlp, (784,)),
        ("a CNN (4, 8) vs the same CNN with 75 % of conv2's weights masked", dense_cnn, pruned_cnn, (1, 28, 28)),
    ]


def _speedup_ref(dense: Any, pruned: Any, input_shape: tuple[int, ...]) -> float:
    from .. import metrics

    before = metrics.macs(dense, input_shape)
    lm = metrics.layer_macs(pruned, input_shape)
    w = metrics.prunable_weights(pruned)
    after = sum(m * np.count_nonzero(w[n]) / w[n].size for n, m in lm.items())
    return before / after


@_exercise
def theoretical_speedup(fn: Callable[..., Any]) -> bool:
    """Exercise 3: ``fn(dense_model, pruned_model, input_shape)`` → dense MACs / MACs that touch a nonzero
    weight of the pruned model (a *theoretical* speed-up)."""
    name = "theoretical_speedup"
    if not callable(fn):
        return _fail(f"{name}: pass your function itself, e.g. ex06.{name}({name}); got {type(fn).__name__}.")
    from .. import metrics

    for what, dense, pruned, shape in _speedup_cases():
        ok, got = _call(fn, dense, pruned, shape)
        if not ok:
            return False
        want = _speedup_ref(dense, pruned, shape)
        g = _number(got)
        if g is None or not math.isclose(g, want, rel_tol=1e-6):
            params_ratio = metrics.count_params(dense) / metrics.count_nonzero(pruned)
            if g is not None and math.isclose(g, params_ratio, rel_tol=1e-6):
                hint = ("that is the compression ratio (parameters / nonzeros). MACs weigh each weight by "
                        "how often it is used: a conv weight is used at every output position, a bias never "
                        "multiplies. Use metrics.layer_macs and each layer's density.")
            elif g is not None and math.isclose(g, 1 / want, rel_tol=1e-6):
                hint = "upside down — dense MACs go on top."
            elif g is not None and math.isclose(g, 1.0, rel_tol=1e-6):
                hint = ("metrics.macs counts dense shapes (what a dense kernel does); scale each layer's "
                        "MACs by its fraction of nonzero weights (1 − metrics.layer_sparsity).")
            else:
                hint = ("sum over layers of layer_macs × (1 − layer sparsity) for the pruned model; "
                        "divide metrics.macs(dense) by it.")
            return _fail(f"for {what}: expected a theoretical speed-up of {want:.4f}×, got {got!r}", hint)
    return _ok("theoretical_speedup weighs each layer's MACs by its density. Remember: theoretical, not measured.")
