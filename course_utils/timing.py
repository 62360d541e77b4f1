"""The course's timing protocol: latency results, interleaved rounds, paired ratios (no framework imports).

Introduced in 04_neuron_pruning_pytorch; notebook 06 compares the statistics. Everything here is
plain Python and numpy, so it can be tested on a fake clock. The framework-specific part (build one
inference call of a PyTorch, Keras or TFLite model) lives in :mod:`course_utils.metrics_torch` /
:mod:`course_utils.metrics_tf`; :func:`course_utils.metrics.race` joins the two.

- :class:`LatencyResult`: the times of one model on one batch, summarised (median, IQR), and
  :func:`speedup` of two of them.
- :func:`run_rounds`: the protocol. Several zero-argument calls take turns in ``rounds`` rounds
  (the model that goes first rotates); in every round each call gets ``warmup`` untimed calls and
  then ``repeats`` timed ones. A burst of background load on a shared machine then slows all
  models of that round alike, and the per-round ratio cancels it.
- :class:`Race`: what :func:`course_utils.metrics.race` returns. Per model: the median and IQR
  over all timed calls, the fastest round, and the time ratio against a reference. Its headline
  statistic, :data:`PAIRED`, is the *median over rounds of the per-round time ratio*, where a
  round's time is the median of its ``repeats`` calls.
- :func:`time_interleaved`, :func:`paired_ratio`, :func:`time_ratio`, :func:`interleaved_latency`:
  the lower-level tools of notebook 06 (they used to live in ``sparse_bench``, which re-exports them).

Units: seconds per batch (per call), ratios are ``time(model) / time(reference)``, so below 1
means faster; a speedup is the inverse, ``time(reference) / time(model)``.
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validate import check_nonnegative_int, check_positive_int

__all__ = [
    "PAIRED",
    "STATISTICS",
    "LatencyResult",
    "Race",
    "interleaved_latency",
    "paired_ratio",
    "run_rounds",
    "speedup",
    "time_calls",
    "time_interleaved",
    "time_ratio",
]

#: The statistics :func:`time_ratio` and :meth:`Race.ratio` understand.
STATISTICS: tuple[str, ...] = ("min", "median", "paired")
_STATISTICS = STATISTICS  # old private name (sparse_bench)

#: What :meth:`Race.ratio` reports by default, in words.
PAIRED = "median over rounds of the per-round time ratio (a round's time: median of its calls)"
_STATISTIC_WORDS = {
    "paired": PAIRED,
    "median": "ratio of the median round times",
    "min": "ratio of the fastest rounds",
}


# ----------------------------------------------------------------------------- one model's result
@dataclass(frozen=True)
class LatencyResult:
    """Wall-clock time of one inference call on a batch, summarised over ``repeats`` runs.

    All times are seconds per *batch* of ``batch_size`` samples; ``per_sample_s`` divides the
    median by the batch size. ``threads`` is the intra-op thread count in effect while timing.
    Introduced in 04_neuron_pruning_pytorch.
    """

    median_s: float
    p25_s: float
    p75_s: float
    iqr_s: float
    batch_size: int
    threads: int
    repeats: int
    framework: str = ""
    times_s: tuple[float, ...] = field(default=(), repr=False)

    @property
    def per_sample_s(self) -> float:
        """Median seconds per sample (``median_s / batch_size``)."""
        return self.median_s / self.batch_size

    @classmethod
    def from_times(cls, times: Sequence[float], *, batch_size: int, threads: int, framework: str) -> LatencyResult:
        arr = np.asarray(times, dtype=float).ravel()
        if arr.size == 0:
            raise ValueError("no timings")
        p25, med, p75 = (float(v) for v in np.percentile(arr, [25, 50, 75]))
        return cls(
            median_s=med,
            p25_s=p25,
            p75_s=p75,
            iqr_s=p75 - p25,
            batch_size=int(batch_size),
            threads=int(threads),
            repeats=int(arr.size),
            framework=framework,
            times_s=tuple(float(t) for t in arr),
        )

    def __str__(self) -> str:
        return (f"{self.median_s * 1e3:.3f} ms/batch (IQR {self.iqr_s * 1e3:.3f} ms) = "
                f"{self.per_sample_s * 1e6:.2f} µs/sample  [batch {self.batch_size}, {self.threads} threads, "
                f"{self.repeats} repeats{', ' + self.framework if self.framework else ''}]")


def speedup(before: LatencyResult, after: LatencyResult) -> float:
    """How many times faster ``after`` is than ``before``: ``before.median_s / after.median_s``.

    Both must use the same batch size (compare ``per_sample_s`` yourself otherwise); different
    thread counts give a ``RuntimeWarning``. Introduced in 04_neuron_pruning_pytorch.
    """
    for name, r in (("before", before), ("after", after)):
        if not isinstance(r, LatencyResult):
            raise TypeError(f"{name} must be a LatencyResult (from latency()), got {type(r).__name__}")
    if before.batch_size != after.batch_size:
        raise ValueError(
            f"batch sizes differ ({before.batch_size} vs {after.batch_size}); time both with the same "
            "batch_size or compare per_sample_s"
        )
    if before.threads != after.threads:
        warnings.warn(f"comparing latencies measured with {before.threads} and {after.threads} threads",
                      RuntimeWarning, stacklevel=2)
    if not (after.median_s > 0 and math.isfinite(after.median_s)):
        raise ValueError(f"after.median_s must be a positive time, got {after.median_s}")
    return before.median_s / after.median_s


# ----------------------------------------------------------------------------- the protocol
Clock = Callable[[], float]


def time_calls(call: Callable[[], Any], *, repeats: int, warmup: int = 0,
               clock: Clock = time.perf_counter) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``call``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(repeats):
        t0 = clock()
        call()
        out.append(clock() - t0)
    return out


def run_rounds(
    calls: Mapping[str, Callable[[], Any]],
    *,
    rounds: int,
    repeats: int,
    warmup: int,
    clock: Clock = time.perf_counter,
) -> dict[str, np.ndarray]:
    """Time several zero-argument calls in alternating rounds: ``{name: array (rounds, repeats)}`` of seconds.

    In round ``r`` the calls take turns in the order of ``calls`` rotated by ``r`` (so each goes
    first equally often); each gets ``warmup`` untimed calls, then ``repeats`` timed ones, one
    ``clock()`` reading before and after each. ``clock`` is a seconds counter
    (``time.perf_counter``; tests pass a fake one). Introduced in 04_neuron_pruning_pytorch.
    """
    if not isinstance(calls, Mapping):
        raise TypeError(f"calls must be a dict {{name: zero-argument callable}}, got {type(calls).__name__}")
    if not calls:
        raise ValueError("calls is empty: give at least one {name: callable}")
    for name, f in calls.items():
        if not callable(f):
            raise TypeError(f"calls[{name!r}] is not callable")
    rounds = check_positive_int(rounds, "rounds")
    repeats = check_positive_int(repeats, "repeats")
    warmup = check_nonnegative_int(warmup, "warmup")
    names = list(calls)
    out = {n: np.empty((rounds, repeats)) for n in names}
    for r in range(rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            out[n][r] = time_calls(calls[n], repeats=repeats, warmup=warmup, clock=clock)
    return out


# ----------------------------------------------------------------------------- the race
def _fmt_ms(s: float) -> str:
    return f"{s * 1e3:.3f}"


@dataclass(frozen=True)
class Race:
    """Latencies of several models timed in alternating rounds (returned by :func:`course_utils.metrics.race`).

    ``times_s[name]`` holds seconds per batch of ``batch_size``, one row per round and one column
    per timed call. Per model:

    - ``race[name]`` / :meth:`result`: a :class:`LatencyResult` over all ``rounds x repeats`` calls
      (median and IQR);
    - :meth:`round_times_s`: each round's median call; :meth:`fastest_round_s`: the lowest of them;
    - :meth:`ratio`: ``time(name) / time(reference)``, by default :data:`PAIRED`, the median over
      rounds of the per-round ratio (rounds share the machine's load, so the ratio cancels it);
      :meth:`speedup` is the inverse, ``time(reference) / time(name)``, as the median of per-round
      speedups.

    ``print(race)`` shows a text table, ``race.to_markdown()`` (or ``display(race)`` in Jupyter) a
    Markdown table; both name the statistic. Introduced in 04_neuron_pruning_pytorch.
    """

    times_s: Mapping[str, np.ndarray]
    batch_size: int
    reference: str
    warmup: int = 0
    threads: Mapping[str, int] = field(default_factory=dict)
    frameworks: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.times_s, Mapping) or not self.times_s:
            raise ValueError("a Race needs the times of at least one model")
        clean = {}
        shape = None
        for name, t in self.times_s.items():
            a = np.asarray(t, dtype=float)
            if a.ndim == 1:
                a = a[:, None]
            if a.ndim != 2 or a.size == 0:
                raise ValueError(f"times_s[{name!r}] must be a (rounds, repeats) array, got shape {a.shape}")
            if not np.all(np.isfinite(a)) or np.any(a <= 0):
                raise ValueError(f"times_s[{name!r}] must hold positive seconds")
            if shape is not None and a.shape != shape:
                raise ValueError(f"every model needs the same (rounds, repeats); {name!r} has {a.shape}, not {shape}")
            shape = a.shape
            a.setflags(write=False)
            clean[name] = a
        object.__setattr__(self, "times_s", clean)
        object.__setattr__(self, "batch_size", check_positive_int(self.batch_size, "batch_size"))
        self._check_name(self.reference, "reference")

    # -------------------------------------------------------------- access
    @property
    def names(self) -> list[str]:
        """The models' names, in the order they were given."""
        return list(self.times_s)

    @property
    def rounds(self) -> int:
        return int(next(iter(self.times_s.values())).shape[0])

    @property
    def repeats(self) -> int:
        """Timed calls per model and round."""
        return int(next(iter(self.times_s.values())).shape[1])

    def _check_name(self, name: Any, what: str = "name") -> str:
        if name not in self.times_s:
            raise ValueError(f"{what} {name!r} is not a model of this race; its models are {list(self.times_s)}")
        return name

    def result(self, name: str) -> LatencyResult:
        """All timed calls of ``name`` as a :class:`LatencyResult` (median, IQR, per sample)."""
        self._check_name(name)
        return LatencyResult.from_times(self.times_s[name], batch_size=self.batch_size,
                                        threads=int(self.threads.get(name, 0)),
                                        framework=self.frameworks.get(name, ""))

    __getitem__ = result

    def __iter__(self):
        return iter(self.times_s)

    def __len__(self) -> int:
        return len(self.times_s)

    def __contains__(self, name: object) -> bool:
        return name in self.times_s

    def median_s(self, name: str) -> float:
        """Median over all timed calls of ``name``, seconds per batch."""
        return self.result(name).median_s

    def iqr_s(self, name: str) -> float:
        """Interquartile range (p75 - p25) over all timed calls of ``name``, seconds."""
        return self.result(name).iqr_s

    def round_times_s(self, name: str) -> np.ndarray:
        """One time per round: the median of that round's calls of ``name``, seconds per batch."""
        return np.median(self.times_s[self._check_name(name)], axis=1)

    def fastest_round_s(self, name: str) -> float:
        """The fastest round of ``name`` (lowest per-round median), seconds per batch."""
        return float(np.min(self.round_times_s(name)))

    # -------------------------------------------------------------- comparisons
    def ratio(self, name: str, reference: str | None = None, *, statistic: str = "paired") -> float:
        """``time(name) / time(reference)`` (below 1: ``name`` is faster); ``reference`` defaults to the race's.

        ``statistic`` (all on the per-round times of :meth:`round_times_s`):
        ``"paired"`` (default) the median over rounds of the per-round ratio; ``"median"`` the
        ratio of the median rounds; ``"min"`` the ratio of the fastest rounds.
        """
        ref = self.reference if reference is None else self._check_name(reference, "reference")
        self._check_name(name)
        rounds = {n: self.round_times_s(n) for n in {name, ref}}
        return time_ratio(rounds, name, ref, statistic=statistic)

    def speedup(self, name: str, reference: str | None = None, *, statistic: str = "paired") -> float:
        """``time(reference) / time(name)`` (above 1: ``name`` is faster), by ``statistic`` as in :meth:`ratio`.

        The paired speedup is the median over rounds of the per-round speedup (not ``1 / ratio``,
        which differs when the number of rounds is even).
        """
        ref = self.reference if reference is None else self._check_name(reference, "reference")
        self._check_name(name)
        rounds = {n: self.round_times_s(n) for n in {name, ref}}
        return time_ratio(rounds, ref, name, statistic=statistic)

    def describe(self, statistic: str = "paired") -> str:
        """One sentence naming the protocol and the statistic of the ratio column."""
        _check_statistic(statistic)
        n = len(self.times_s)
        turns = "models take turns, the first one rotating each round" if n > 1 else "one model"
        return (f"{self.rounds} rounds x {self.repeats} timed calls per model ({turns}; {self.warmup} untimed "
                f"warm-up calls per round), batch {self.batch_size}. Median and IQR over all "
                f"{self.rounds * self.repeats} calls; fastest round = lowest per-round median. "
                f"Ratio = time / time of {self.reference!r}, {_STATISTIC_WORDS[statistic]}; below 1 is faster.")

    def rows(self, statistic: str = "paired") -> list[dict[str, Any]]:
        """One dict per model: ``model``, ``median_s``, ``iqr_s``, ``fastest_round_s``, ``per_sample_s``,
        ``ratio`` (against the reference, by ``statistic``), ``threads``, ``framework``."""
        out = []
        for n in self.names:
            r = self.result(n)
            out.append({"model": n, "median_s": r.median_s, "iqr_s": r.iqr_s,
                        "fastest_round_s": self.fastest_round_s(n), "per_sample_s": r.per_sample_s,
                        "ratio": self.ratio(n, statistic=statistic), "threads": r.threads,
                        "framework": r.framework})
        return out

    def _table(self, statistic: str) -> tuple[list[str], list[list[str]]]:
        head = ["model", "median ms/batch", "IQR ms", "fastest round ms", "µs/sample",
                f"time / {self.reference} ({statistic})"]
        body = [[r["model"], _fmt_ms(r["median_s"]), _fmt_ms(r["iqr_s"]), _fmt_ms(r["fastest_round_s"]),
                 f"{r['per_sample_s'] * 1e6:.2f}", f"{r['ratio']:.3f}"] for r in self.rows(statistic)]
        return head, body

    def to_markdown(self, statistic: str = "paired") -> str:
        """The race as a Markdown table, followed by :meth:`describe`."""
        head, body = self._table(statistic)
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines) + "\n\n" + self.describe(statistic)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        head, body = self._table("paired")
        widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
        fmt = lambda r: "  ".join(s.ljust(w) if i == 0 else s.rjust(w) for i, (s, w) in enumerate(zip(r, widths)))  # noqa: E731
        lines = [fmt(head), "  ".join("-" * w for w in widths), *map(fmt, body)]
        return "\n".join(lines) + "\n" + self.describe()

    def __repr__(self) -> str:
        return (f"Race({', '.join(self.names)}; reference={self.reference!r}, batch_size={self.batch_size}, "
                f"rounds={self.rounds}, repeats={self.repeats})")


# ----------------------------------------------------------------------------- notebook 06's tools
def _check_statistic(statistic: str) -> str:
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    return statistic


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
    compare them round by round. Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    if not isinstance(fns, Mapping) or not fns:
        raise TypeError("fns must be a non-empty dict {name: zero-argument callable}")
    for name, f in fns.items():
        if not callable(f):
            raise TypeError(f"fns[{name!r}] is not callable")
    repeats = check_positive_int(repeats, "repeats")
    warmup = check_nonnegative_int(warmup, "warmup")
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


def _times_of(v: Any) -> np.ndarray:
    return np.asarray(v.times_s if hasattr(v, "times_s") else v, float)


def paired_ratio(times: Mapping[str, Any], name: str, baseline: str) -> float:
    """Median over repeats of ``times[name] / times[baseline]``.

    ``times`` maps names to per-repeat seconds (from :func:`time_interleaved`) or to
    ``LatencyResult``s (from :func:`interleaved_latency`). A ratio below 1 means ``name`` is
    faster. Pairing the repeats cancels load that hits both. Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    for n in (name, baseline):
        if n not in times:
            raise KeyError(f"no timings for {n!r}; have {sorted(times)}")
    a, b = _times_of(times[name]), _times_of(times[baseline])
    if a.shape != b.shape or a.size == 0:
        raise ValueError("the two timing arrays must be non-empty and of equal length (one per repeat)")
    return float(np.median(a / b))


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
    """
    _check_statistic(statistic)
    if statistic == "paired":
        return paired_ratio(times, name, baseline)
    for n in (name, baseline):
        if n not in times:
            raise KeyError(f"no timings for {n!r}; have {sorted(times)}")

    def arr(v: Any) -> np.ndarray:
        a = _times_of(v)
        if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError("timings must be non-empty positive seconds")
        return a

    f = np.min if statistic == "min" else np.median
    return float(f(arr(times[name])) / f(arr(times[baseline])))


def interleaved_latency(
    models: Mapping[str, Any],
    x: Any,
    *,
    repeats: int = 30,
    warmup: int = 5,
    min_time: float = 1e-3,
    threads: int | None = None,
) -> dict[str, LatencyResult]:
    """PyTorch only: inference latency of several ``nn.Module``\\s on the same batch ``x``, timed interleaved.

    Like :func:`course_utils.metrics.latency` (eval mode, ``torch.inference_mode``, ``warmup``
    untimed calls, ``repeats`` timed ones, median), but the models take turns within every
    repeat (:func:`time_interleaved`), so background load hits them alike; compare them with
    :func:`time_ratio`. Calls shorter than ``min_time`` seconds are
    looped and averaged. ``threads`` sets ``torch.set_num_threads`` while timing (restored).
    Returns ``{name: LatencyResult}`` in seconds per batch. For any framework, and with the IQR
    and the fastest round, use :func:`course_utils.metrics.race`.
    """
    import torch  # only this function needs torch; importing course_utils.timing imports no framework
    from torch import nn

    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty dict {name: nn.Module}")
    for name, m in models.items():
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{name!r}] is a {type(m).__name__}, not an nn.Module")
    if not isinstance(x, torch.Tensor) or x.dim() < 2:
        raise TypeError("x must be a batch tensor (batch, ...), e.g. images of shape (N, 1, 28, 28)")
    if threads is not None:
        threads = check_positive_int(threads, "threads")
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
