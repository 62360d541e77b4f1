"""The self-check of 07_capstone_tensorflow accepts the reference solution and rejects plausible wrong answers."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()
pytest.importorskip("tensorflow_model_optimization")

from course_utils import capstone, metrics, timing  # noqa: E402
from course_utils import pruning_tf as pt  # noqa: E402
from course_utils.checks import ex07tf  # noqa: E402
from course_utils.checks._common import verdict  # noqa: E402
from course_utils.models_tf import mlp  # noqa: E402


# ----------------------------------------------------------------------------- challenge
@pytest.fixture
def macs_as_latency(monkeypatch):
    """Latency is a benchmark, not a unit-test quantity: a deterministic stand-in proportional to MACs."""
    def fake(model, reference, shape, batch_size, rounds, repeats):
        m, r = metrics.macs(model, shape) * 1e-9, metrics.macs(reference, shape) * 1e-9
        return m, r, m / r, timing.PAIRED

    monkeypatch.setattr(capstone, "_latency", fake)


def _data(n: int = 64):
    return np.random.default_rng(0).random((n, 28, 28), dtype=np.float32), np.zeros(n, dtype=np.int64)


def test_challenge_scores_a_keras_model(capsys, macs_as_latency):
    dense, small = mlp(seed=0), mlp((64, 32), seed=0)
    budget = capstone.challenge_budget(dense)
    got = verdict(ex07tf.challenge, small, _data(), budget, dense, fast=True)
    out = capsys.readouterr().out
    assert got is True and "✓" in out and "Capstone report (keras" in out
    assert verdict(ex07tf.challenge, mlp((150, 60), seed=0), _data(), budget, dense, fast=True) is False
    assert "macs" in capsys.readouterr().out


def test_challenge_flags_wrappers_and_bad_calls(capsys, macs_as_latency):
    import tensorflow_model_optimization as tfmot

    dense = mlp(seed=0)
    budget = capstone.challenge_budget(dense)
    wrapped = pt.wrap_for_pruning(mlp((64, 32), seed=0), tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0))
    verdict(ex07tf.challenge, wrapped, _data(), budget, dense, fast=True)
    assert "strip_pruning" in capsys.readouterr().out
    assert verdict(ex07tf.challenge, "model", _data(), budget, dense) is False
    assert "Keras model" in capsys.readouterr().out
    assert verdict(ex07tf.challenge, dense, _data()) is False
    assert "ex07tf.challenge(capstone_model, test, budget, dense)" in capsys.readouterr().out
    assert ex07tf.challenge(None, _data(), budget, dense) is None
    assert "not attempted" in capsys.readouterr().out


def test_reference_capstone_model_meets_the_size_limits(capsys, macs_as_latency):
    """The Keras reference solution on a small training subset: dense unchanged, size limits met, checker agrees."""
    from course_utils import train_tf
    from course_utils.data import load_mnist

    s = load_mnist().subsample(train=600, seed=0)
    train, val, test = (s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)
    dense = mlp(seed=0)
    train_tf.fit(dense, train, epochs=1, seed=0, progress=False)
    before = dense.get_weights()
    model = ex07tf.reference_capstone_model(dense, train, val, 1, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, dense.get_weights()))  # dense is not modified
    assert capstone.pruning_leftovers(model) == []  # stripped
    budget = capstone.challenge_budget(dense)
    assert metrics.macs(model, (28, 28)) <= budget.max_macs and metrics.gzip_size(model) <= budget.max_gzip_bytes
    assert ex07tf.challenge(model, test, budget, dense, fast=True) is True
    assert "chosen on validation" in capsys.readouterr().out
