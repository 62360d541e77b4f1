"""Sparse storage and sparse matrix multiplication on the CPU: bytes, timings, break-even sparsity.

Introduced in 06_measuring_what_pruning_buys_pytorch. Imports ``torch`` at top level (``scipy.sparse``
is imported inside the functions that use it).

A pruned weight matrix full of zeros is only smaller or faster if it is *stored and multiplied
as a sparse matrix*. The helpers here measure both sides of that bargain:

- :func:`random_sparse_matrix` builds a test matrix with an exact fraction of zeros.
- :func:`storage_nbytes` counts the bytes a dense or sparse array really holds
  (values **and** index arrays) for numpy, scipy.sparse and torch (strided, COO, CSR, CSC).
- :func:`to_torch_csr` converts a weight to a ``torch.sparse_csr`` tensor with 32-bit indices.
- :func:`time_interleaved`, :func:`time_ratio`, :func:`paired_ratio` and :func:`interleaved_latency`
  (interleaved timing, compared by fastest repeat, median or repeat by repeat) live in
  :mod:`course_utils.timing` and are re-exported here; to time whole models of any framework use
  :func:`course_utils.metrics.race`.
- :func:`matmul_sweep` times ``W @ X`` dense vs sparse (torch CSR, scipy CSR) over sparsities
  and batch sizes; :func:`break_even_sparsity` finds where the sparse kernel starts to win.
- :func:`nonzero_macs`: the multiply-accumulates that touch a nonzero weight, the numerator of
  a *theoretical* speed-up (not a measured one).
- :class:`CSRLinear` / :func:`to_csr_model`: a Linear layer that really multiplies with a CSR
  weight, so a pruned MLP can be timed with a sparse kernel.

Units: seconds, bytes, sparsity as a fraction 0-1 of zeros, MACs per sample.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._torch_prune import copy_model, make_permanent
from ._validate import check_fraction, check_int
from .timing import _STATISTICS, interleaved_latency, paired_ratio, time_interleaved, time_ratio

__all__ = [
    "BACKENDS",
    "CSRLinear",
    "break_even_by_batch",
    "break_even_sparsity",
    "interleaved_latency",
    "matmul_sweep",
    "nonzero_macs",
    "paired_ratio",
    "random_sparse_matrix",
    "storage_nbytes",
    "time_interleaved",
    "time_ratio",
    "to_csr_model",
    "to_torch_csr",
]

#: Sparse back ends understood by :func:`matmul_sweep` (the dense baseline is always torch).
BACKENDS: tuple[str, ...] = ("torch_csr", "scipy_csr", "torch_coo")


# ----------------------------------------------------------------------------- validation
def _check_fraction(value: Any, name: str) -> float:
    return check_fraction(value, name, hint=" (0.9 = 90 % zeros)")




# ----------------------------------------------------------------------------- matrices & bytes
def random_sparse_matrix(rows: int, cols: int, sparsity: float, *, seed: int = 0,
                         dtype: Any = np.float32) -> np.ndarray:
    """A ``(rows, cols)`` matrix of standard-normal values with exactly ``round(sparsity * rows * cols)``
    zeros at random positions (seeded). Introduced in 06_measuring_what_pruning_buys_pytorch."""
    rows, cols = check_int(rows, "rows"), check_int(cols, "cols")
    s = _check_fraction(sparsity, "sparsity")
    rng = np.random.default_rng(check_int(seed, "seed", 0))
    w = rng.standard_normal((rows, cols)).astype(dtype)
    w[w == 0] = 1.0  # keep the zero count exact
    n_zero = int(round(s * w.size))
    w.flat[rng.permutation(w.size)[:n_zero]] = 0
    return w


def storage_nbytes(x: Any) -> int:
    """Bytes the array ``x`` really holds: values plus every index array.

    - numpy array or dense (strided) torch tensor: ``size × itemsize``;
    - scipy CSR/CSC/BSR: ``data`` + ``indices`` + ``indptr``; scipy COO: ``data`` + ``row`` + ``col``;
    - torch ``sparse_csr``/``sparse_csc``: values + compressed pointers + plain indices
      (torch uses int64 indices unless built with int32 ones, see :func:`to_torch_csr`);
    - torch ``sparse_coo``: values + the ``(ndim, nnz)`` int64 index matrix.

    This is the honest size of a sparse matrix; "nonzeros × 4 bytes" forgets the indices.
    Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    if isinstance(x, np.ndarray):
        return int(x.nbytes)
    if isinstance(x, torch.Tensor):
        def tb(t: torch.Tensor) -> int:
            return int(t.numel() * t.element_size())
        if x.layout == torch.strided:
            return tb(x)
        if x.layout == torch.sparse_coo:
            c = x.coalesce() if not x.is_coalesced() else x
            return tb(c.values()) + tb(c.indices())
        if x.layout == torch.sparse_csr:
            return tb(x.values()) + tb(x.crow_indices()) + tb(x.col_indices())
        if x.layout == torch.sparse_csc:
            return tb(x.values()) + tb(x.ccol_indices()) + tb(x.row_indices())
        raise TypeError(f"unsupported torch layout {x.layout} (supported: strided, sparse_coo, sparse_csr, sparse_csc)")
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a course dependency
        sp = None
    if sp is not None and sp.issparse(x):
        if hasattr(x, "indptr"):
            return int(x.data.nbytes + x.indices.nbytes + x.indptr.nbytes)
        if hasattr(x, "row") and hasattr(x, "col"):
            return int(x.data.nbytes + x.row.nbytes + x.col.nbytes)
        raise TypeError(f"unsupported scipy sparse format {x.format!r} (use CSR, CSC, BSR or COO)")
    raise TypeError(f"storage_nbytes expects a numpy array, a torch tensor or a scipy.sparse matrix, "
                    f"got {type(x).__name__}")


def to_torch_csr(weight: Any, *, index_dtype: torch.dtype = torch.int32) -> torch.Tensor:
    """A 2-D weight (numpy array or tensor) as a ``torch.sparse_csr`` tensor with ``index_dtype``
    indices (int32 by default, like scipy; torch's own ``to_sparse_csr`` uses int64).
    Introduced in 06_measuring_what_pruning_buys_pytorch."""
    w = torch.as_tensor(weight).detach()
    if w.dim() != 2:
        raise ValueError(f"to_torch_csr expects a 2-D matrix, got shape {tuple(w.shape)}")
    if index_dtype not in (torch.int32, torch.int64):
        raise ValueError(f"index_dtype must be torch.int32 or torch.int64, got {index_dtype}")
    if index_dtype == torch.int32 and max(w.shape[1] - 1, int(torch.count_nonzero(w))) > 2**31 - 1:
        raise ValueError("matrix too large for int32 indices; use index_dtype=torch.int64")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
        c = w.to_sparse_csr()
        return torch.sparse_csr_tensor(c.crow_indices().to(index_dtype), c.col_indices().to(index_dtype),
                                       c.values(), size=tuple(w.shape), check_invariants=True)


# ----------------------------------------------------------------------------- timing
# time_interleaved, paired_ratio, interleaved_latency, time_ratio and _STATISTICS: see course_utils.timing.


def matmul_sweep(
    shape: tuple[int, int] = (300, 784),
    sparsities: Sequence[float] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99),
    batch_sizes: Sequence[int] = (1, 256),
    *,
    backends: Sequence[str] = ("torch_csr", "scipy_csr"),
    repeats: int = 21,
    warmup: int = 2,
    min_time: float = 2e-4,
    seed: int = 0,
    threads: int | None = None,
    statistic: str = "min",
) -> list[dict[str, Any]]:
    """Time ``Y = W @ X`` for a ``shape = (out, in)`` weight, dense vs sparse, at each sparsity and batch size.

    ``X`` is ``(in, batch)``: the Linear layer's ``y = x Wᵀ`` transposed, so one weight layout
    serves every back end. The dense baseline is torch (MKL/oneDNN BLAS); the sparse back ends
    are ``"torch_csr"`` (``torch.sparse_csr``, int32 indices), ``"scipy_csr"`` (scipy CSR on numpy,
    single-threaded) and ``"torch_coo"``. Timings are interleaved (:func:`time_interleaved`).
    ``threads`` sets ``torch.set_num_threads`` for the sweep (restored afterwards).

    Returns one row per (batch size, sparsity, back end): ``batch_size``, ``sparsity``,
    ``backend``, ``dense_s`` and ``sparse_s`` (median seconds per multiplication),
    ``dense_min_s`` and ``sparse_min_s`` (fastest repeat) and ``ratio`` = sparse/dense time by
    ``statistic`` (see :func:`time_ratio`; < 1 means the sparse kernel wins). Results are checked
    against the dense product once per configuration. Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    import scipy.sparse as sp

    if len(shape) != 2:
        raise ValueError(f"shape must be (rows, cols), got {shape!r}")
    rows, cols = check_int(shape[0], "shape[0]"), check_int(shape[1], "shape[1]")
    sparsities = [_check_fraction(s, "sparsity") for s in sparsities]
    batch_sizes = [check_int(b, "batch size") for b in batch_sizes]
    if not sparsities or not batch_sizes:
        raise ValueError("give at least one sparsity and one batch size")
    bad = [b for b in backends if b not in BACKENDS]
    if bad or not backends:
        raise ValueError(f"backends must be a non-empty subset of {BACKENDS}, got {list(backends)}")
    if threads is not None:
        threads = check_int(threads, "threads")
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
    old = torch.get_num_threads()
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
            for b in batch_sizes:
                x = rng.random((cols, b), dtype=np.float32)
                xt = torch.from_numpy(x)
                for i, s in enumerate(sparsities):
                    w = random_sparse_matrix(rows, cols, s, seed=seed + i)
                    wt = torch.from_numpy(w)
                    fns: dict[str, Callable[[], Any]] = {"dense": lambda wt=wt, xt=xt: wt @ xt}
                    if "torch_csr" in backends:
                        wc = to_torch_csr(wt)
                        fns["torch_csr"] = lambda wc=wc, xt=xt: wc @ xt
                    if "scipy_csr" in backends:
                        ws = sp.csr_matrix(w)
                        fns["scipy_csr"] = lambda ws=ws, x=x: ws @ x
                    if "torch_coo" in backends:
                        wo = wt.to_sparse_coo().coalesce()
                        fns["torch_coo"] = lambda wo=wo, xt=xt: torch.sparse.mm(wo, xt)
                    ref = fns["dense"]()
                    # Each float32 product sums `cols` terms: in any order it is off from the exact value by at
                    # most cols·u·Σ|w||x| (u = 2⁻²⁴), so two back ends may differ by twice that, and no more.
                    bound = torch.from_numpy(2 * cols * 2.0 ** -24 * (np.abs(w) @ np.abs(x)))
                    for name in backends:
                        got = torch.as_tensor(np.asarray(fns[name]()))
                        if not bool(((got - ref).abs() <= bound).all()):
                            raise RuntimeError(f"{name} gave a different product than dense at sparsity {s}")
                    times = time_interleaved(fns, repeats=repeats, warmup=warmup, min_time=min_time)
                    for name in backends:
                        out.append({
                            "batch_size": b,
                            "sparsity": s,
                            "backend": name,
                            "dense_s": float(np.median(times["dense"])),
                            "sparse_s": float(np.median(times[name])),
                            "dense_min_s": float(np.min(times["dense"])),
                            "sparse_min_s": float(np.min(times[name])),
                            "ratio": time_ratio(times, name, "dense", statistic=statistic),
                        })
    finally:
        torch.set_num_threads(old)
    return out


def break_even_sparsity(sparsities: Sequence[float], ratios: Sequence[float]) -> float | None:
    """The sparsity from which the sparse kernel is faster (``ratio = sparse/dense time < 1``).

    Looks for the lowest tested sparsity from which *every* higher tested sparsity has
    ``ratio < 1`` and interpolates the crossing linearly in ``log(ratio)`` between it and the
    tested point below. Returns ``None`` if sparse is not faster at the highest sparsity tested,
    and the lowest tested sparsity if sparse already wins there (the true break-even is then at
    or below it). Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    s = np.asarray([_check_fraction(v, "sparsity") for v in sparsities], float)
    r = np.asarray(ratios, float)
    if s.shape != r.shape or s.size == 0:
        raise ValueError(f"need one ratio per sparsity, got {s.size} sparsities and {r.size} ratios")
    if not np.all(np.isfinite(r)) or np.any(r <= 0):
        raise ValueError("ratios must be positive finite numbers (sparse time / dense time)")
    order = np.argsort(s)
    s, r = s[order], r[order]
    if len(np.unique(s)) != len(s):
        raise ValueError("sparsities must be distinct")
    if r[-1] >= 1:
        return None
    i = len(r) - 1
    while i > 0 and r[i - 1] < 1:
        i -= 1
    if i == 0:
        return float(s[0])
    l0, l1 = math.log(r[i - 1]), math.log(r[i])
    return float(s[i - 1] + (s[i] - s[i - 1]) * l0 / (l0 - l1))


def break_even_by_batch(rows: Sequence[Mapping[str, Any]], backend: str = "torch_csr") -> dict[int, float | None]:
    """``{batch_size: break-even sparsity}`` for one back end, from :func:`matmul_sweep` rows.

    Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    sel = [r for r in rows if r["backend"] == backend]
    if not sel:
        raise ValueError(f"no rows for backend {backend!r}")
    out: dict[int, float | None] = {}
    for b in sorted({int(r["batch_size"]) for r in sel}):
        rb = [r for r in sel if int(r["batch_size"]) == b]
        out[b] = break_even_sparsity([r["sparsity"] for r in rb], [r["ratio"] for r in rb])
    return out


# ----------------------------------------------------------------------------- MACs
def nonzero_macs(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Multiply-accumulates per sample that involve a *nonzero* weight, summed over Linear/Conv layers.

    Each layer's dense count (:func:`course_utils.metrics.layer_macs`) times its density (fraction
    of nonzero weights): for a Linear layer that is its number of nonzero weights, for a Conv layer
    nonzero weights × output positions. ``macs(dense) / nonzero_macs(pruned)`` is a
    *theoretical* speed-up: what an ideal sparse kernel could save, not what a CPU delivers.
    Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    from . import metrics

    dense = metrics.layer_macs(model, input_shape)
    weights = metrics.prunable_weights(model)
    total = 0
    for name, m in dense.items():
        w = weights[name]
        total += m * int(np.count_nonzero(w)) // max(1, w.size)
    return int(total)


# ----------------------------------------------------------------------------- CSR model
class CSRLinear(nn.Module):
    """A Linear layer whose weight is stored and multiplied as a ``torch.sparse_csr`` tensor.

    Computes ``y = x Wᵀ + b`` as ``(W_csr @ xᵀ)ᵀ + b``. The weight (CSR, int32 indices) and bias
    are *buffers*, not parameters: the layer is for inference only. ``state_dict`` holds the CSR
    values and indices, so ``torch.save`` shows the real sparse file size.
    Introduced in 06_measuring_what_pruning_buys_pytorch.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        w = torch.as_tensor(weight).detach().float()
        if w.dim() != 2:
            raise ValueError(f"weight must be (out_features, in_features), got shape {tuple(w.shape)}")
        self.out_features, self.in_features = int(w.shape[0]), int(w.shape[1])
        self.register_buffer("weight_csr", to_torch_csr(w))
        if bias is not None:
            b = torch.as_tensor(bias).detach().float()
            if b.shape != (self.out_features,):
                raise ValueError(f"bias must have shape ({self.out_features},), got {tuple(b.shape)}")
            self.register_buffer("bias", b.clone())
        else:
            self.bias = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"CSRLinear expects inputs with {self.in_features} features, got shape {tuple(x.shape)}")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        y = (self.weight_csr @ x2.T).T
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features)

    @property
    def nnz(self) -> int:
        """Number of stored (nonzero) weights."""
        return int(self.weight_csr.values().numel())

    def extra_repr(self) -> str:
        density = self.nnz / (self.out_features * self.in_features)
        return f"in_features={self.in_features}, out_features={self.out_features}, density={density:.3f}"


def to_csr_model(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.Linear`` replaced by a :class:`CSRLinear` (inference only).

    Pruning masks (``torch.nn.utils.prune``) are applied first, so the CSR layers hold exactly the
    nonzero effective weights. The argument is not modified. Convolutions stay dense.
    Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch nn.Module, got {type(model).__name__}")
    # a copy (works right after a prune call) with the masks baked in and -0.0 normalised
    new = make_permanent(copy_model(model))
    if isinstance(new, nn.Linear):
        raise TypeError("to_csr_model needs a model that contains Linear layers, not a bare nn.Linear; "
                        "use CSRLinear(layer.weight, layer.bias)")
    replaced = 0
    for name, module in list(new.named_modules()):
        if isinstance(module, nn.Linear):
            *path, last = name.split(".")
            parent = new
            for p in path:
                parent = getattr(parent, p)
            setattr(parent, last, CSRLinear(module.weight, module.bias))
            replaced += 1
    if not replaced:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to convert")
    return new.eval()
