"""The exercise checkers of 04_neuron_pruning_tensorflow accept the reference solutions and reject plausible wrong
answers. Importing the checks imports no framework; the Taylor checker imports TensorFlow when it runs."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course_utils.checks import ex04tf
from course_utils.checks._common import verdict


# --------------------------------------------------------------------------- taylor_scores
def _tf():
    from course_utils.env import load_tensorflow

    return load_tensorflow()


def _learner_taylor(mistake=None):
    """A learner's Taylor score written with GradientTape, right (None) or with a typical mistake."""
    tf, keras = _tf()

    def taylor(model, layer, x, y):
        probe = keras.Model(model.inputs, [model.get_layer(layer).output, model.output])
        with tf.GradientTape() as tape:
            a, logits = probe(x, training=False)
            per_image = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
            loss = tf.reduce_mean(per_image)  # the mean: a positive factor 1/N, ranks the same
        ag = (a * tape.gradient(loss, a)).numpy()
        if mistake == "abs_after_mean":
            return np.abs(ag.mean(0))
        if mistake == "no_abs":
            return ag.mean(0)
        if mistake == "activation_only":
            return a.numpy().mean(0)
        if mistake == "per_image":
            return np.abs(ag)
        return np.abs(ag).mean(0)

    return taylor


def test_taylor_scores_accepts_reference_and_a_mean_loss_variant(capsys):
    assert ex04tf.taylor_scores(ex04tf.reference_taylor_scores) is True
    assert ex04tf.taylor_scores(_learner_taylor()) is True
    out = capsys.readouterr().out
    assert out.count("✓") == 2 and "hidden check" in out


@pytest.mark.parametrize("mistake, words", [
    ("abs_after_mean", "after averaging"),
    ("no_abs", "without the absolute value"),
    ("activation_only", "mean activation"),
    ("per_image", "one score per unit"),
])
def test_taylor_scores_rejects_mistakes(mistake, words, capsys):
    assert verdict(ex04tf.taylor_scores, _learner_taylor(mistake)) is False
    out = capsys.readouterr().out
    assert "✗" in out and words in out, out


def test_taylor_scores_rejects_a_random_ranking_and_a_non_array(capsys):
    assert verdict(ex04tf.taylor_scores, lambda model, layer, x, y: np.random.default_rng(0).random(
        model.get_layer(layer).units)) is False
    assert "✗" in capsys.readouterr().out
    assert verdict(ex04tf.taylor_scores, lambda model, layer, x, y: "scores") is False
    assert verdict(ex04tf.taylor_scores, "taylor_scores") is False


def test_taylor_scores_rejects_training_the_model(capsys):
    tf, keras = _tf()

    def trains(model, layer, x, y):
        scores = ex04tf.reference_taylor_scores(model, layer, x, y)
        model.get_layer("fc3").bias.assign_add(tf.ones_like(model.get_layer("fc3").bias))
        return scores

    try:
        assert verdict(ex04tf.taylor_scores, trains) is False
        assert "changed the model" in capsys.readouterr().out
    finally:
        ex04tf._trained_case.cache_clear()  # the case model was changed: rebuild it for later tests


def test_taylor_scores_placeholder_is_not_attempted(capsys):
    def todo(model, layer, x, y):
        raise NotImplementedError

    assert ex04tf.taylor_scores(todo) is None
    assert "not attempted" in capsys.readouterr().out


def test_reference_taylor_scores_is_the_mean_of_abs_a_times_grad():
    tf, keras = _tf()
    from course_utils import models_tf

    model = models_tf.mlp(hidden=(6, 4), seed=2)
    rng = np.random.default_rng(0)
    x, y = rng.random((30, 28, 28)).astype(np.float32), rng.integers(0, 10, 30)
    got = ex04tf.reference_taylor_scores(model, "fc1", x, y, batch_size=7)  # batches must not change the result
    want = ex04tf.reference_taylor_scores(model, "fc1", x, y, batch_size=30)
    assert got.shape == (6,) and np.allclose(got, want, rtol=1e-5) and (got >= 0).all()


# --------------------------------------------------------------------------- fewest_units_for_budget
def _brute(sizes, budget):
    n_in, h1, h2, n_out = sizes
    plans = [(r1, r2) for r1 in range(h1) for r2 in range(h2)
             if n_in * (h1 - r1) + (h1 - r1) * (h2 - r2) + (h2 - r2) * n_out <= budget]
    return min(plans, key=lambda p: (p[0] + p[1], p[0]))


def test_fewest_units_accepts_reference_and_brute_force(capsys):
    assert ex04tf.fewest_units_for_budget(ex04tf.reference_fewest_units_for_budget) is True
    assert ex04tf.fewest_units_for_budget(_brute) is True
    assert capsys.readouterr().out.count("✓") == 2
    assert ex04tf.reference_fewest_units_for_budget((784, 300, 100, 10), 133_100) == (151, 0)
    for sizes, budget, _ in ex04tf._BUDGET_CASES:
        assert ex04tf.reference_fewest_units_for_budget(sizes, budget) == _brute(sizes, budget)


@pytest.mark.parametrize("wrong, words", [
    (lambda sizes, budget: (0, sizes[2] - 1), "above the budget"),  # only the cheap-looking layer
    (lambda sizes, budget: (sizes[1] - 1, sizes[2] - 1), "meets the budget with"),  # removes far too many
    (lambda sizes, budget: 151, "pair"),
    (lambda sizes, budget: (151.5, 0), "pair"),
    (lambda sizes, budget: (sizes[1], 0), "at least one"),
])
def test_fewest_units_rejects_wrong_plans(wrong, words, capsys):
    assert verdict(ex04tf.fewest_units_for_budget, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and words in out, out


def test_fewest_units_rejects_the_same_fraction_plan(capsys):
    def same_fraction(sizes, budget):  # the plan the notebook used so far: same fraction from both layers
        n_in, h1, h2, n_out = sizes
        for a in np.arange(0, 1, 0.01):
            k1, k2 = max(1, round(h1 * (1 - a))), max(1, round(h2 * (1 - a)))
            if n_in * k1 + k1 * k2 + k2 * n_out <= budget:
                return h1 - k1, h2 - k2
        return h1 - 1, h2 - 1

    assert verdict(ex04tf.fewest_units_for_budget, same_fraction) is False
    assert "carries" in capsys.readouterr().out  # the hint: what one unit of each layer costs


def test_reference_fewest_units_reports_an_impossible_budget():
    with pytest.raises(ValueError, match="no plan"):
        ex04tf.reference_fewest_units_for_budget((784, 300, 100, 10), 500)


def test_ex04tf_imports_no_framework():
    code = "import sys; import course_utils.checks.ex04tf; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
