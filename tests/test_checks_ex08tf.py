"""The self-checks of 08_lottery_ticket_tensorflow accept the reference solutions and reject plausible wrong
answers (moved unchanged from test_checks_ex07tf)."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()
pytest.importorskip("tensorflow_model_optimization")

from course_utils import pruning_tf as pt  # noqa: E402
from course_utils.checks import ex08tf  # noqa: E402
from course_utils.checks._common import verdict  # noqa: E402


# ----------------------------------------------------------------------------- prune_round (shared with ex08)
def test_prune_round_accepts_reference_and_rejects_ranking_zeros(capsys):
    assert ex08tf.prune_round(ex08tf.reference_prune_round) is True
    assert "✓" in capsys.readouterr().out

    def ranks_zeros(masks, weights, rate):  # ranks |w * mask| over the whole layer: zeros are "pruned" again
        new = {}
        for name, mask in masks.items():
            w = np.abs(weights[name] * mask)
            k = int(round(rate * mask.sum()))
            thr = np.sort(w.ravel())[k - 1] if k else -1
            new[name] = mask & (w > thr)
        return new

    assert verdict(ex08tf.prune_round, ranks_zeros) is False
    assert "alive" in capsys.readouterr().out


def test_unsolved_prune_round_is_not_attempted(capsys, monkeypatch):
    """The learner edition's placeholder: the twin's checker (called through .verdict) sees "not attempted", and
    so must this wrapper (a CI run once stopped Run All on learner/07_capstone_tensorflow, where this exercise
    was then)."""
    def prune_round(masks, weights, rate):
        raise NotImplementedError

    monkeypatch.delenv("COURSE_GRADING", raising=False)
    assert ex08tf.prune_round(prune_round) is None
    assert ex08tf.prune_round(None) is None
    out = capsys.readouterr().out
    assert out.count("not attempted") == 2 and "✗" not in out
    monkeypatch.setenv("COURSE_GRADING", "1")  # an autograder still fails it
    with pytest.raises(AssertionError, match="not attempted"):
        ex08tf.prune_round(prune_round)


# ----------------------------------------------------------------------------- rewind
def rewind(model, init_weights, masks):
    """Reference solution (as in the notebook)."""
    model.set_weights(init_weights)
    for name, mask in masks.items():
        kernel = model.get_layer(name).kernel
        kernel.assign(kernel.numpy() * mask)
    return model


def rewind_mask_first(model, init_weights, masks):
    """Wrong: zeroes the kernels, then set_weights overwrites the zeros."""
    pt.multiply_masks(model, masks)
    model.set_weights(init_weights)
    return model


def rewind_no_masks(model, init_weights, masks):
    """Wrong: rewinds but forgets the masks."""
    model.set_weights(init_weights)
    return model


def rewind_kernels_only(model, init_weights, masks):
    """Wrong: rewinds the masked kernels, leaves the trained biases."""
    for i, name in enumerate(("fc1", "fc2", "fc3")):
        model.get_layer(name).kernel.assign(init_weights[2 * i] * masks[name])
    return model


def rewind_in_place(model, init_weights, masks):
    """Wrong: masks θ₀'s own arrays in place (every later round would rewind to the masked θ₀)."""
    for i, name in enumerate(("fc1", "fc2", "fc3")):
        init_weights[2 * i] *= masks[name]
    model.set_weights(init_weights)
    return model


def test_rewind_accepts_reference(capsys):
    assert ex08tf.rewind(rewind) is True
    assert ex08tf.rewind(ex08tf.reference_rewind) is True
    out = capsys.readouterr().out
    assert out.count("✓") == 2 and "KeepMasks" in out


@pytest.mark.parametrize("wrong, hint", [(rewind_mask_first, "overwrote"), (rewind_no_masks, "never applied"),
                                         (rewind_kernels_only, "bias"), (rewind_in_place, "in place")])
def test_rewind_rejects_wrong(wrong, hint, capsys):
    assert verdict(ex08tf.rewind, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_rewind_placeholders(capsys):
    def todo(model, init_weights, masks):
        raise NotImplementedError

    assert ex08tf.rewind(todo) is None
    assert ex08tf.rewind(None) is None
    assert capsys.readouterr().out.count("not attempted") == 2
    assert verdict(ex08tf.rewind, lambda m, w, k: None) is False  # forgot `return model`
