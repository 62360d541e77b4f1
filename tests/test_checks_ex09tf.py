"""The self-checks of 09_shipping_a_pruned_model_tensorflow accept the reference solutions and reject plausible
mistakes (Exercise 1 builds and saves small Keras models)."""
from __future__ import annotations

import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported)
from course_utils.checks import ex09tf
from course_utils.checks._common import verdict
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()

import tensorflow_model_optimization as tfmot  # noqa: E402


# ----------------------------------------------------------------------------- exercise 1
def strip_and_save(model, path):
    tfmot.sparsity.keras.strip_pruning(model).save(path)
    return path


def test_save_for_deployment_accepts_reference_and_strip_pruning(capsys):
    assert ex09tf.save_for_deployment(ex09tf.reference_save_for_deployment) is True
    assert ex09tf.save_for_deployment(strip_and_save) is True
    assert "✓" in capsys.readouterr().out


def save_wrapped(model, path):
    model.save(path)


def save_fresh_dense(model, path):  # a model with the right layers but not the pruned weights
    stripped = tfmot.sparsity.keras.strip_pruning(model)
    fresh = keras.models.clone_model(stripped)
    fresh.save(path)


@pytest.mark.parametrize("wrong, hint", [
    (save_wrapped, "strip_pruning(model)"),
    (save_fresh_dense, "outputs differ"),
    (lambda model, path: None, "nothing was saved"),
])
def test_save_for_deployment_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex09tf.save_for_deployment, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_save_for_deployment_reports_placeholders(capsys):
    def todo(model, path):
        raise NotImplementedError

    assert ex09tf.save_for_deployment(todo) is None
    assert ex09tf.save_for_deployment() is None
    assert capsys.readouterr().out.count("not attempted") == 2
    assert verdict(ex09tf.save_for_deployment, "model.keras") is False
    assert "ex09tf.save_for_deployment(save_for_deployment)" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 2
def test_shrink_factors_is_the_twins_check(capsys):
    assert ex09tf.shrink_factors(ex09tf.reference_shrink_factors) is True

    def todo(weights, sparsity):
        raise NotImplementedError

    assert ex09tf.shrink_factors(todo) is None
    assert verdict(ex09tf.shrink_factors, lambda w, s: {"total": 1.0}) is False
    assert verdict(ex09tf.shrink_factors, lambda w, s: ex09tf.reference_shrink_factors(w, 1 - s)) is False
    assert "not the fraction kept" in capsys.readouterr().out
    assert verdict(ex09tf.shrink_factors, 2) is False
    assert "ex09tf.shrink_factors(shrink_factors)" in capsys.readouterr().out
    assert ex09tf.reference_size_factors is ex09tf.ex09.reference_size_factors
