"""Confidence intervals and paired tests (course_utils.stats, re-exported by metrics)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from course_utils import metrics, stats


def test_wilson_matches_textbook_values():
    # Wilson 95 % interval for 81/263 (Newcombe 1998, example): 0.2553 to 0.3662
    lo, hi = metrics.accuracy_ci(81, 263)
    assert abs(lo - 0.2553) < 5e-4 and abs(hi - 0.3662) < 5e-4
    # all right: the upper end is 1, the lower end is n / (n + z^2)
    lo, hi = metrics.accuracy_ci(500, 500)
    assert hi == 1.0 and abs(lo - 500 / (500 + 1.959964**2)) < 1e-6
    assert metrics.accuracy_ci(0, 10)[0] == pytest.approx(0.0, abs=1e-12)


def test_wilson_width_follows_n_and_level():
    w = lambda n, level=0.95: np.subtract(*metrics.accuracy_ci(int(0.95 * n), n, level)[::-1])  # noqa: E731
    assert w(1000) < w(500) and abs(w(2000) * math.sqrt(2) - w(1000)) < 0.002
    assert w(500, 0.99) > w(500, 0.95) > w(500, 0.8)


def test_accuracy_ci_accepts_a_boolean_array():
    c = np.array([True] * 95 + [False] * 5)
    assert metrics.accuracy_ci(c, 100) == metrics.accuracy_ci(95, 100)


@pytest.mark.parametrize("args, match", [((5, 0), "positive"), ((11, 10), "between"), ((5, 10, 1.5), "level"),
                                         ((-1, 10), "between")])
def test_accuracy_ci_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        metrics.accuracy_ci(*args)


def test_mcnemar_exact_small_counts():
    a = np.array([True] * 10 + [False] * 0 + [True] * 90)
    b = np.array([False] * 10 + [True] * 90)
    t = metrics.mcnemar(a, b)
    assert (t.only_a, t.only_b, t.exact) == (10, 0, True)
    assert abs(t.p_value - 2 / 2**10) < 1e-12  # both tails of Binomial(10, 1/2) at 0 and 10
    same = metrics.mcnemar(a, a)
    assert same.p_value == 1.0 and same.only_a == same.only_b == 0
    # 3 vs 2 discordant: far from significant
    a = np.array([1, 1, 1, 0, 0, 1], bool)
    b = np.array([0, 0, 0, 1, 1, 1], bool)
    assert metrics.mcnemar(a, b).p_value == 1.0


def test_mcnemar_is_exact_for_large_counts_too():
    from scipy.stats import binomtest

    rng = np.random.default_rng(0)
    a = rng.random(2000) < 0.9
    b = a.copy()
    flip = rng.choice(2000, 120, replace=False)
    b[flip] = ~b[flip]
    t = metrics.mcnemar(a, b)
    assert t.exact and t.only_a + t.only_b == 120
    assert t.p_value == pytest.approx(binomtest(t.only_a, 120, 0.5).pvalue, rel=1e-9)


def test_difference_interval_is_exact_and_agrees_with_the_test():
    """Clopper-Pearson on the discordant share: the interval excludes 0 exactly when McNemar rejects."""
    from scipy.stats import binomtest

    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(20, 600))
        a = rng.random(n) < rng.uniform(0.6, 0.99)
        b = a.copy()
        k = int(rng.integers(0, n // 4 + 1))
        idx = rng.choice(n, k, replace=False)
        b[idx] = rng.random(k) < 0.5
        c = metrics.compare(a, b)
        lo, hi = c.difference_interval
        assert lo <= c.difference <= hi
        assert c.within_noise == (lo <= 0 <= hi), (c, lo, hi)
        m = c.test.only_a + c.test.only_b
        if m:
            ci = binomtest(c.test.only_a, m, 0.5).proportion_ci(0.95, method="exact")
            assert lo == pytest.approx(m / n * (2 * ci.low - 1), abs=1e-9)
            assert hi == pytest.approx(m / n * (2 * ci.high - 1), abs=1e-9)


def test_mcnemar_rejects_unpaired_input():
    with pytest.raises(ValueError, match="same images"):
        metrics.mcnemar(np.ones(5, bool), np.ones(6, bool))
    with pytest.raises(ValueError, match="booleans"):
        metrics.mcnemar(np.array([0.5, 1.0]), np.array([1.0, 1.0]))


def test_compare_says_within_noise_only_when_it_is():
    rng = np.random.default_rng(1)
    a = rng.random(500) < 0.95
    b = a.copy()
    b[np.flatnonzero(a)[:2]] = False  # B loses 2 images: noise
    c = metrics.compare(a, b, names=("dense", "pruned"))
    assert c.within_noise and "within noise" in str(c) and c.difference == pytest.approx(2 / 500)
    lo, hi = c.difference_interval
    assert lo < 0 < hi or lo <= 0.004 <= hi
    worse = a.copy()
    worse[np.flatnonzero(a)[:40]] = False  # 40 images: 8 points, real
    c = metrics.compare(a, worse, names=("dense", "pruned"))
    assert not c.within_noise and "real difference" in str(c)
    assert c.difference_interval[0] > 0


def test_stats_imports_no_framework():
    import subprocess
    import sys

    code = ("import sys, course_utils.stats, course_utils.metrics; "
            "print('torch' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
    assert stats.compare is metrics.compare
