"""How sure is an accuracy? Confidence intervals and paired tests for classifiers (introduced in 02).

Validation has 500 images and test 1,000: one image is 0.2 or 0.1 points, and the binomial standard error
of an accuracy near 95 % is about 1.0 or 0.7 points. Two models evaluated on the *same* images are compared
with a paired test (McNemar), which looks only at the images on which they disagree and is far more sensitive
than comparing two unpaired intervals. Pure Python and numpy: no framework is imported.
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
    length). Introduced in 02_weight_pruning_pytorch.
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
    exact: bool


def mcnemar(correct_a: Any, correct_b: Any, *, exact_below: int = 50) -> McNemar:
    """Paired test of "A and B are equally accurate" on the same images (boolean arrays, True = right).

    Only discordant images count. With fewer than ``exact_below`` of them the p-value is exact (binomial,
    two-sided); otherwise the chi-square approximation with continuity correction. Introduced in 02.
    """
    a, b = _as_correct(correct_a, "correct_a"), _as_correct(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(f"both models must be scored on the same images: shapes {a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    m = only_a + only_b
    if m == 0:
        return McNemar(0, 0, 1.0, True)
    if m < exact_below:
        k = min(only_a, only_b)
        tail = sum(math.comb(m, i) for i in range(k + 1)) / 2**m
        return McNemar(only_a, only_b, min(1.0, 2 * tail), True)
    chi2 = (abs(only_a - only_b) - 1) ** 2 / m
    return McNemar(only_a, only_b, math.erfc(math.sqrt(chi2 / 2)), False)


def paired_difference_ci(correct_a: Any, correct_b: Any, level: float = 0.95) -> tuple[float, float]:
    """Interval for accuracy(A) − accuracy(B) on the same images (fractions; normal approximation, paired)."""
    a, b = _as_correct(correct_a, "correct_a"), _as_correct(correct_b, "correct_b")
    if a.shape != b.shape:
        raise ValueError(f"both models must be scored on the same images: shapes {a.shape} and {b.shape}")
    n = a.size
    d = a.astype(float) - b.astype(float)
    diff = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    z = _z(level)
    return diff - z * se, diff + z * se


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
        return (f"{na}: {aa:.1%} [{la:.1%}, {ha:.1%}]   {nb}: {ab:.1%} [{lb:.1%}, {hb:.1%}]   ({pct} % Wilson intervals, "
                f"{self.n} images)\n{na} − {nb}: {self.difference * 100:+.1f} points [{lo * 100:+.1f}, {hi * 100:+.1f}]; "
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
        difference=float(a.mean() - b.mean()),
        difference_interval=paired_difference_ci(a, b, level),
        test=test, level=level, within_noise=test.p_value >= 1 - level,
    )
