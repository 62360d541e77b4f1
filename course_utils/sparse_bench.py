"""Sparse storage and sparse matrix multiplication on the CPU: bytes, timings, break-even sparsity.

Introduced in 08_measuring_what_pruning_buys. Imports ``torch`` at top level (``scipy.sparse``
is imported inside the functions that use it).

A pruned weight matrix full of zeros is only smaller or faster if it is *stored and multiplied
as a sparse matrix*. The helpers here measure both sides of that bargain:

- :func:`random_sparse_matrix` builds a test matrix with an exact fraction of zeros.
- :func:`storage_nbytes` counts the bytes a dense or sparse array really holds
  (values **and** index arrays) for numpy, scipy.sparse and torch (strided, COO, CSR, CSC).
- :func:`to_torch_csr` converts a weight to a ``torch.sparse_csr`` tensor with 32-bit indices.
- :func:`time_interleaved` times several functions *interleaved* (one repeat of each in turn),
  so background load on a shared machine slows both sides of a comparison alike;
  :func:`time_ratio` compares them by their fastest repeat (noise only ever adds time) and
  :func:`paired_ratio` repeat by repeat.
- :func:`interleaved_latency` times several models on the same batch the same way (warm-up,
  repeats, median), interleaved, for latency *ratios* that survive a busy machine.
- :func:`matmul_sweep` times ``W @ X`` dense vs sparse (torch CSR, scipy CSR) over sparsities
  and batch sizes; :func:`break_even_sparsity` finds where the sparse kernel starts to win.
- :func:`nonzero_macs`: the multiply-accumulates that touch a nonzero weight, the numerator of
  a *theoretical* speed-up (not a measured one).
- :class:`CSRLinear` / :func:`to_csr_model`: a Linear layer that really multiplies with a CSR
  weight, so a pruned MLP can be timed with a sparse kernel.

Units: seconds, bytes, sparsity as a fraction 0-1 of zeros, MACs per sample.
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

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
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a fraction in [0, 1], got {value!r}")
    v = float(value)
    if math.isnan(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1] (0.9 = 90 % zeros), got {value!r}")
    return v


def _check_pos_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------- matrices & bytes
def random_sparse_matrix(rows: int, cols: int, sparsity: float, *, seed: int = 0,
                         dtype: Any = np.float32) -> np.ndarray:
    """A ``(rows, cols)`` matrix of standard-normal values with exactly ``round(sparsity * rows * cols)``
    zeros at random positions (seeded). Introduced in 08_measuring_what_pruning_buys."""
    rows, cols = _check_pos_int(rows, "rows"), _check_pos_int(cols, "cols")
    s = _check_fraction(sparsity, "sparsity")
    rng = np.random.default_rng(_check_pos_int(seed, "seed", 0))
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
    Introduced in 08_measuring_what_pruning_buys.
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
    Introduced in 08_measuring_what_pruning_buys."""
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
def time_interleaved(
    fns: Mapping[str, Callable[[], Any]],
    *,
    repeats: int = 21,
    warmup: int = 2,
    min_time: float = 2e-4,
) -> dict[str, np.ndarray]:
    """Seconds per call of each function, measured interleaved: ``{name: array of repeats}``.

    After ``warmup`` untimed calls each, every function gets a loop count ``number`` so that one
    timed repeat lasts at least ``min_time`` seconds (short calls are averaged over ``number``
    calls). Then ``repeats`` rounds run every function once per round, in a rotating order. So a
    burst of background load hits all functions of a round alike, and :func:`paired_ratio` can
    compare them round by round. Introduced in 08_measuring_what_pruning_buys.
    """
    if not isinstance(fns, Mapping) or not fns:
        raise TypeError("fns must be a non-empty dict {name: zero-argument callable}")
    for name, f in fns.items():
        if not callable(f):
            raise TypeError(f"fns[{name!r}] is not callable")
    repeats = _check_pos_int(repeats, "repeats")
    warmup = _check_pos_int(warmup, "warmup", 0)
    if not (isinstance(min_time, (int, float)) and min_time >= 0):
        raise ValueError(f"min_time must be a number of seconds >= 0, got {min_time!r}")
    names = list(fns)
    numbers = {}
    for n in names:
        for _ in range(warmup):
            fns[n]()
        t0 = time.perf_counter()
        fns[n]()
        dt = time.perf_counter() - t0
        numbers[n] = int(min(10_000, max(1, math.ceil(min_time / max(dt, 1e-9)))))
    times = {n: np.empty(repeats) for n in names}
    for r in range(repeats):
        for k in range(len(names)):
            n = names[(k + r) % len(names)]
            f, number = fns[n], numbers[n]
            t0 = time.perf_counter()
            for _ in range(number):
                f()
            times[n][r] = (time.perf_counter() - t0) / number
    return times


def paired_ratio(times: Mapping[str, Any], name: str, baseline: str) -> float:
    """Median over repeats of ``times[name] / times[baseline]``.

    ``times`` maps names to per-repeat seconds (from :func:`time_interleaved`) or to
    ``LatencyResult``s (from :func:`interleaved_latency`). A ratio below 1 means ``name`` is
    faster. Pairing the repeats cancels load that hits both. Introduced in 08_measuring_what_pruning_buys.
    """
    for n in (name, baseline):
        if n not in times:
            raise KeyError(f"no timings for {n!r}; have {sorted(times)}")

    def arr(v: Any) -> np.ndarray:
        return np.asarray(v.times_s if hasattr(v, "times_s") else v, float)

    a, b = arr(times[name]), arr(times[baseline])
    if a.shape != b.shape or a.size == 0:
        raise ValueError("the two timing arrays must be non-empty and of equal length (one per repeat)")
    return float(np.median(a / b))


def interleaved_latency(
    models: Mapping[str, nn.Module],
    x: torch.Tensor,
    *,
    repeats: int = 30,
    warmup: int = 5,
    min_time: float = 1e-3,
    threads: int | None = None,
) -> dict[str, Any]:
    """Inference latency of several models on the same batch ``x``, timed interleaved.

    Like :func:`course_utils.metrics.latency` (eval mode, ``torch.inference_mode``, ``warmup``
    untimed calls, ``repeats`` timed ones, median), but the models take turns within every
    repeat (:func:`time_interleaved`), so background load hits them alike; compare them with
    :func:`time_ratio`. Calls shorter than ``min_time`` seconds are
    looped and averaged. ``threads`` sets ``torch.set_num_threads`` while timing (restored).
    Returns ``{name: LatencyResult}`` in seconds per batch. Introduced in 08_measuring_what_pruning_buys.
    """
    from .metrics import LatencyResult

    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty dict {name: nn.Module}")
    for name, m in models.items():
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{name!r}] is a {type(m).__name__}, not an nn.Module")
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise TypeError("x must be a batch tensor (batch, ...), e.g. images of shape (N, 1, 28, 28)")
    if threads is not None:
        threads = _check_pos_int(threads, "threads")
    old_threads = torch.get_num_threads()
    modes = {n: m.training for n, m in models.items()}
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        used = torch.get_num_threads()
        for m in models.values():
            m.eval()
        with torch.inference_mode():
            fns = {n: (lambda m=m: m(x)) for n, m in models.items()}
            times = time_interleaved(fns, repeats=repeats, warmup=warmup, min_time=min_time)
    finally:
        for n, m in models.items():
            m.train(modes[n])
        torch.set_num_threads(old_threads)
    return {n: LatencyResult.from_times(t, batch_size=len(x), threads=used, framework="torch")
            for n, t in times.items()}


_STATISTICS = ("min", "median", "paired")


def time_ratio(times: Mapping[str, Any], name: str, baseline: str, *, statistic: str = "min") -> float:
    """How many times longer ``name`` takes than ``baseline`` (< 1: ``name`` is faster).

    ``times`` maps names to per-repeat seconds (from :func:`time_interleaved`) or to
    ``LatencyResult``s (from :func:`interleaved_latency`). ``statistic``:

    - ``"min"`` (default): ratio of the fastest repeats. Interference from other processes only
      ever *adds* time, so the minimum is the most stable estimate of what the computation itself
      costs (the advice of Python's ``timeit`` documentation); on a busy shared machine it is the
      only one of the three that reproduces.
    - ``"median"``: ratio of the medians — what a typical call costs on this machine right now.
    - ``"paired"``: :func:`paired_ratio`, the median of the per-repeat ratios.

    Introduced in 08_measuring_what_pruning_buys.
    """
    if statistic not in _STATISTICS:
        raise ValueError(f"statistic must be one of {_STATISTICS}, got {statistic!r}")
    if statistic == "paired":
        return paired_ratio(times, name, baseline)
    for n in (name, baseline):
        if n not in times:
            raise KeyError(f"no timings for {n!r}; have {sorted(times)}")

    def arr(v: Any) -> np.ndarray:
        a = np.asarray(v.times_s if hasattr(v, "times_s") else v, float)
        if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError("timings must be non-empty positive seconds")
        return a

    f = np.min if statistic == "min" else np.median
    return float(f(arr(times[name])) / f(arr(times[baseline])))


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
    against the dense product once per configuration. Introduced in 08_measuring_what_pruning_buys.
    """
    import scipy.sparse as sp

    if len(shape) != 2:
        raise ValueError(f"shape must be (rows, cols), got {shape!r}")
    rows, cols = _check_pos_int(shape[0], "shape[0]"), _check_pos_int(shape[1], "shape[1]")
    sparsities = [_check_fraction(s, "sparsity") for s in sparsities]
    batch_sizes = [_check_pos_int(b, "batch size") for b in batch_sizes]
    if not sparsities or not batch_sizes:
        raise ValueError("give at least one sparsity and one batch size")
    bad = [b for b in backends if b not in BACKENDS]
    if bad or not backends:
        raise ValueError(f"backends must be a non-empty subset of {BACKENDS}, got {list(backends)}")
    if threads is not None:
        threads = _check_pos_int(threads, "threads")
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
                    fns: dict[str, Callable[[], Any]] = {"dense": lambda wt=wt: wt @ xt}
                    if "torch_csr" in backends:
                        wc = to_torch_csr(wt)
                        fns["torch_csr"] = lambda wc=wc: wc @ xt
                    if "scipy_csr" in backends:
                        ws = sp.csr_matrix(w)
                        fns["scipy_csr"] = lambda ws=ws: ws @ x
                    if "torch_coo" in backends:
                        wo = wt.to_sparse_coo().coalesce()
                        fns["torch_coo"] = lambda wo=wo: torch.sparse.mm(wo, xt)
                    ref = fns["dense"]()
                    for name in backends:
                        got = torch.as_tensor(np.asarray(fns[name]()))
                        if not torch.allclose(got, ref, rtol=1e-3, atol=1e-3):
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
    or below it). Introduced in 08_measuring_what_pruning_buys.
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

    Introduced in 08_measuring_what_pruning_buys.
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
    Introduced in 08_measuring_what_pruning_buys.
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
    Introduced in 08_measuring_what_pruning_buys.
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
    Introduced in 08_measuring_what_pruning_buys.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch nn.Module, got {type(model).__name__}")
    from torch.nn.utils import prune

    # A layer pruned a moment ago holds weight = weight_orig * weight_mask as a non-leaf tensor,
    # which deepcopy refuses; copy it as a detached clone (prune.remove recomputes it anyway).
    memo: dict[int, Any] = {}
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                t = getattr(module, hook._tensor_name, None)
                if isinstance(t, torch.Tensor) and not t.is_leaf:
                    memo[id(t)] = t.detach().clone()
    new = copy.deepcopy(model, memo)
    for module in new.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
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
