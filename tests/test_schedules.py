"""Sparsity schedules (numpy only). The comparison with TFMOT lives in test_models_train_tf.py."""
from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from course_utils.history import History
from course_utils.schedules import constant_sparsity, cubic_sparsity, pruning_steps, should_prune

KW = dict(initial_sparsity=0.1, final_sparsity=0.9, begin_step=10, end_step=110)


def test_cubic_endpoints_and_clipping():
    assert cubic_sparsity(10, **KW) == pytest.approx(0.1)
    assert cubic_sparsity(110, **KW) == pytest.approx(0.9)
    assert cubic_sparsity(0, **KW) == pytest.approx(0.1)  # before begin: initial
    assert cubic_sparsity(10_000, **KW) == pytest.approx(0.9)  # after end: final
    assert isinstance(cubic_sparsity(50, **KW), float)


def test_cubic_formula_midpoint():
    # Zhu & Gupta: s_f + (s_i - s_f) * (1 - (t - t0) / (n dt))^3
    t = 60
    expected = 0.9 + (0.1 - 0.9) * (1 - (t - 10) / 100) ** 3
    assert cubic_sparsity(t, **KW) == pytest.approx(expected)


def test_cubic_monotone_and_concave():
    s = cubic_sparsity(np.arange(0, 200), **KW)
    assert isinstance(s, np.ndarray) and s.shape == (200,)
    assert np.all(np.diff(s) >= -1e-12)
    inc = np.diff(s[10:111])
    assert np.all(np.diff(inc) <= 1e-12)  # increments shrink: fast first, then flat


def test_cubic_frequency_holds_value_between_updates():
    kw = dict(KW, frequency=25)
    s = cubic_sparsity(np.arange(0, 130), **kw)
    for t in range(10, 111):
        last = 10 + (t - 10) // 25 * 25
        assert s[t] == pytest.approx(cubic_sparsity(last, **KW))
    assert s[-1] == pytest.approx(0.9)


def test_cubic_warns_when_end_not_reachable():
    with pytest.warns(UserWarning, match="never reached"):
        s = cubic_sparsity(500, **dict(KW, frequency=30))
    assert s < 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cubic_sparsity(500, **dict(KW, frequency=20))


def test_should_prune_and_pruning_steps():
    assert not should_prune(9, begin_step=10, end_step=50, frequency=10)
    assert should_prune(10, begin_step=10, end_step=50, frequency=10)
    assert not should_prune(15, begin_step=10, end_step=50, frequency=10)
    assert should_prune(50, begin_step=10, end_step=50, frequency=10)
    assert not should_prune(60, begin_step=10, end_step=50, frequency=10)
    steps = pruning_steps(begin_step=10, end_step=50, frequency=10)
    np.testing.assert_array_equal(steps, [10, 20, 30, 40, 50])
    mask = should_prune(np.arange(70), begin_step=10, end_step=50, frequency=10)
    np.testing.assert_array_equal(np.flatnonzero(mask), steps)


def test_constant_sparsity():
    assert constant_sparsity(0, target_sparsity=0.5, begin_step=3) == 0.0
    assert constant_sparsity(3, target_sparsity=0.5, begin_step=3) == 0.5
    np.testing.assert_allclose(constant_sparsity(np.arange(5), target_sparsity=0.25), 0.25)


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(KW, final_sparsity=1.0), ValueError),
        (dict(KW, initial_sparsity=-0.1), ValueError),
        (dict(KW, begin_step=110), ValueError),
        (dict(KW, end_step=5), ValueError),
        (dict(KW, frequency=0), ValueError),
        (dict(KW, begin_step=-1), ValueError),
        (dict(KW, final_sparsity="0.9"), TypeError),
    ],
)
def test_cubic_rejects_bad_arguments(kwargs, err):
    with pytest.raises(err):
        cubic_sparsity(5, **kwargs)


def test_bad_steps():
    with pytest.raises(ValueError, match=">= 0"):
        cubic_sparsity(-1, **KW)
    with pytest.raises(TypeError, match="int"):
        cubic_sparsity(1.5, **KW)
    with pytest.raises(ValueError):
        constant_sparsity(1, target_sparsity=1.2)


def test_history_helpers():
    a = History(loss=[1.0], accuracy=[0.5], seconds=[2.0], steps=3)
    b = History(loss=[0.5], accuracy=[0.8], seconds=[1.0], steps=3)
    a.extend(b)
    assert a.epochs == 2 and a.steps == 6 and a.total_seconds == pytest.approx(3.0)
    assert a.last() == {"loss": 0.5, "accuracy": 0.8}
    assert a.to_dict()["accuracy"] == [0.5, 0.8]
    with pytest.raises(ValueError):
        History().last()
    with pytest.raises(ValueError):
        a.extend(History(loss=[0.1], accuracy=[0.9], val_loss=[0.2], val_accuracy=[0.9], seconds=[1.0]))


def test_framework_free_modules_import_no_framework():
    code = (
        "import sys, course_utils.schedules, course_utils.history; "
        "bad = [m for m in ('torch', 'tensorflow') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
