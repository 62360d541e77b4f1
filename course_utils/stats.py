"""How sure is an accuracy? Confidence intervals and paired tests for classifiers (introduced in 00_index).

Validation has 500 images and test 1,000: one image is 0.2 or 0.1 points, and the binomial standard error
of an accuracy near 95 % is about 1.0 or 0.7 points. Two models evaluated on the *same* images are compared
with a paired test (McNemar, exact), which looks only at the images on which they disagree and is far more
sensitive than comparing two unpaired intervals. Its interval for the difference is exact too, and excludes zero
exactly when the test rejects, so the verdict and the interval always agree. Pure Python and numpy: no framework
is imported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["Comparison", "McNemar", "accuracy_ci", "compare", "mcnemar", "paired_difference_ci"]


def _z(level: float) -> float:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValueError(f"level must be a confidence level strictly between 0 and 1 (e.g. 0.95), got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2)


def _as_correct(a: Any, what: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array of per-image correctness, got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{what} must hold booleans (or 0/1): True where the model was right")
        arr = arr.astype(bool)
    return arr


def accuracy_ci(correct: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` (fractions 0–1) for ``correct`` right answers out of ``n``.

    The Wilson interval stays inside [0, 1] and keeps its coverage near 0 and 1 errors, where the textbook
    ``p ± z·sqrt(p(1-p)/n)`` does not. ``correct`` may also be a boolean array (then ``n`` must match its
    length). Introduced in 00_index.
    """
    if not isinstance(correct, (int, np.integer)):
        correct = int(_as_correct(correct, "correct").sum())
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of images, got {n!r}")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be between 0 and n={n}, got {correct}")
    z = _z(level)
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class McNemar:
    """McNemar's paired test: ``only_a`` images only A got right, ``only_b`` only B; two-sided ``p_value``."""

    only_a: int
    only_b: int
    p_value: float
    exact: bool = True


def _log_binom_pmf(i: int, m: int, p: float) -> float:
    return (math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1)
            + i * math.log(p) + (m - i) * math.log1p(-p))


def _binom_cdf(k: int, m: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(m, p)."""
    if k < 0:
        return 0.0
    if k >= m:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    return min(1.0, sum(math.exp(_log_binom_pmf(i, m, p)) for i in range(k + 1)))


def _clopper_pearson(k: int, m: int, alpha: float) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval for a binomial proportion k/m; it excludes p0 exactly when the
    two-sided exact binomial test (twice the smaller tail) rejects p0 at level alpha."""

    def solve(f, target: float) -> float:  # f increasing in p on [0, 1]
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = (lo + hi) / 2
            if f(mid) < target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    lower = 0.0 if k == 0 else solve(lambda p: 1 - _binom_cdf(k - 1, m, p), alpha / 2)  # P(X >= k; p) = alpha/2
    upper = 1.0 if k == m else solve(lambda p: -_binom_cdf(k, m, p), -alpha / 2)        # P(X <= k; p) = alpha/2
    return lower, upper


def mcnemar(correct_a: Any, correct_b: Any) -> McNemar:
    """Exact McNemar test of "A and B are equally accurate" on the same images (boolean arrays, True = right).

    Only discordant images count: under equal accuracy each of the ``m`` images that exactly one model gets
    right is A's with probability 1/2, so the p-value is twice the smaller binomial tail (capped at 1). Exact for
    any count (no chi-square approximation), so it agrees with :func:`paired_difference_ci`.
    """
    a, b = _paired(correct_a, correct_b)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    m = only_a + only_b
    if m == 0:
        return McNemar(0, 0, 1.0)
    tail = _binom_cdf(min(only_a, only_b), m, 0.5)
    return McNemar(only_a, only_b, min(1.0, 2 * tail))


def _paired(correct_a: Any, correct_b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _as_correct(correct_a, "correct_a"), _as_correct(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(f"both models must be scored on the same images: shapes {a.shape} and {b.shape}")
    return a, b


def paired_difference_ci(correct_a: Any, correct_b: Any, level: float = 0.95) -> tuple[float, float]:
    """Interval for accuracy(A) − accuracy(B) on the same images (fractions), consistent with :func:`mcnemar`.

    Given the ``m`` discordant images, the share ``q`` that A wins has an exact (Clopper-Pearson) interval, and
    the difference is ``(m / n)·(2q − 1)``. The interval excludes 0 exactly when McNemar's exact test rejects
    equal accuracy at ``1 − level``, so "within noise" and "the interval contains 0" never disagree.
    """
    _z(level)  # validates level
    a, b = _paired(correct_a, correct_b)
    n = a.size
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    m = only_a + only_b
    if m == 0:
        return 0.0, 0.0
    lo, hi = _clopper_pearson(only_a, m, 1 - level)
    diff = (only_a - only_b) / n
    return min(diff, m / n * (2 * lo - 1)), max(diff, m / n * (2 * hi - 1))  # min/max: float rounding at the ends


@dataclass(frozen=True)
class Comparison:
    """Two models on the same images: accuracies with Wilson intervals, the paired difference and McNemar."""

    names: tuple[str, str]
    n: int
    accuracy: tuple[float, float]
    interval: tuple[tuple[float, float], tuple[float, float]]
    difference: float
    difference_interval: tuple[float, float]
    test: McNemar
    level: float
    within_noise: bool

    def __str__(self) -> str:
        (na, nb), (aa, ab) = self.names, self.accuracy
        (la, ha), (lb, hb) = self.interval
        lo, hi = self.difference_interval
        pct = round(self.level * 100)
        verdict = ("within noise" if self.within_noise
                   else f"a real difference at the {pct} % level")
        return (f"{na}: {aa:.1%} [{la:.1%}, {ha:.1%}]   {nb}: {ab:.1%} [{lb:.1%}, {hb:.1%}]   "
                f"({pct} % Wilson intervals, {self.n} images)\n"
                f"{na} − {nb}: {self.difference * 100:+.1f} points [{lo * 100:+.1f}, {hi * 100:+.1f}]; "
                f"they disagree on {self.test.only_a + self.test.only_b} images ({self.test.only_a} vs "
                f"{self.test.only_b}), McNemar p = {self.test.p_value:.2g}: {verdict}.")

    def _repr_markdown_(self) -> str:
        return str(self).replace("\n", "  \n")


def compare(correct_a: Any, correct_b: Any, names: tuple[str, str] = ("A", "B"), level: float = 0.95) -> Comparison:
    """Compare two models scored on the same images (boolean arrays, True = right), as the course reports it.

    ``within_noise`` is True when McNemar's test cannot reject equal accuracy at ``1 − level``.
    ``print(compare(...))`` gives one line per model and one for the difference. Introduced in 02.
    """
    a, b = _as_correct(correct_a, "correct_a"), _as_correct(correct_b, "correct_b")
    test = mcnemar(a, b)
    n = a.size
    return Comparison(
        names=(str(names[0]), str(names[1])), n=n,
        accuracy=(float(a.mean()), float(b.mean())),
        interval=(accuracy_ci(int(a.sum()), n, level), accuracy_ci(int(b.sum()), n, level)),
        difference=(test.only_a - test.only_b) / n,  # = accuracy(A) - accuracy(B), from the same counts as the interval
        difference_interval=paired_difference_ci(a, b, level),
        test=test, level=level, within_noise=test.p_value >= 1 - level,
    )
