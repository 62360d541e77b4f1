"""Checkers of 03_weight_pruning_tensorflow accept the reference solutions and reject plausible mistakes."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from course_utils.checks import ex03
from course_utils.checks._common import verdict

tfmot = pytest.importorskip("tensorflow_model_optimization")


# ----------------------------------------------------------------------------- exercise 1
def poly_ok(step, initial_sparsity, final_sparsity, begin_step, end_step, power=3):
    p = min(1.0, max(0.0, (step - begin_step) / (end_step - begin_step)))
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - p) ** power


def poly_unclipped(step, initial_sparsity, final_sparsity, begin_step, end_step, power=3):
    p = (step - begin_step) / (end_step - begin_step)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - p) ** power


def poly_cubic_only(step, initial_sparsity, final_sparsity, begin_step, end_step, power=3):
    return poly_ok(step, initial_sparsity, final_sparsity, begin_step, end_step, 3)


def poly_todo(*args, **kwargs):
    raise NotImplementedError


def test_polynomial_sparsity(capsys):
    assert ex03.polynomial_sparsity(poly_ok)
    assert "✓" in capsys.readouterr().out
    assert verdict(ex03.polynomial_sparsity, poly_unclipped) is False
    out = capsys.readouterr().out
    assert "✗" in out and "Hint" in out
    assert verdict(ex03.polynomial_sparsity, poly_cubic_only) is False
    assert "power" in capsys.readouterr().out
    assert ex03.polynomial_sparsity(poly_todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex03.polynomial_sparsity, lambda *a, **k: "half") is False


# ----------------------------------------------------------------------------- exercise 2
def clone_ok(names, schedule):
    def fn(layer):
        if layer.name in names:
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return fn


def clone_all_dense(names, schedule):
    from course_utils.env import load_tensorflow

    _, keras = load_tensorflow()

    def fn(layer):
        if isinstance(layer, keras.layers.Dense):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return fn


def clone_default_schedule(names, schedule):
    def fn(layer):
        if layer.name in names:
            return tfmot.sparsity.keras.prune_low_magnitude(layer)
        return layer

    return fn


def test_clone_function(capsys):
    assert ex03.clone_function(clone_ok)
    assert "✓" in capsys.readouterr().out
    assert verdict(ex03.clone_function, clone_all_dense) is False
    assert "wraps" in capsys.readouterr().out
    assert verdict(ex03.clone_function, clone_default_schedule) is False
    assert "schedule" in capsys.readouterr().out
    assert verdict(ex03.clone_function, lambda names, schedule: None) is False
    assert verdict(ex03.clone_function, lambda names, schedule: (lambda layer: None)) is False


# ----------------------------------------------------------------------------- exercise 3
def global_ok(kernels, sparsity):
    flat = np.concatenate([np.abs(np.asarray(w)).ravel() for w in kernels.values()])
    k = int(round(sparsity * flat.size))
    thr = np.sort(flat)[k - 1] if k else -np.inf
    return {n: float(np.mean(np.abs(w) <= thr)) for n, w in kernels.items()}


def global_layerwise(kernels, sparsity):
    return {n: sparsity for n in kernels}


def global_signed(kernels, sparsity):
    flat = np.concatenate([np.asarray(w).ravel() for w in kernels.values()])
    k = int(round(sparsity * flat.size))
    thr = np.sort(flat)[k - 1] if k else -np.inf
    return {n: float(np.mean(w <= thr)) for n, w in kernels.items()}


def test_global_layer_sparsity(capsys):
    assert ex03.global_layer_sparsity(global_ok)
    assert "✓" in capsys.readouterr().out
    assert verdict(ex03.global_layer_sparsity, global_layerwise) is False
    assert "layer-wise" in capsys.readouterr().out
    assert verdict(ex03.global_layer_sparsity, global_signed) is False
    assert "np.abs" in capsys.readouterr().out
    assert verdict(ex03.global_layer_sparsity, lambda kernels, s: [s]) is False


def test_references_pass_their_checkers():
    """The "Stuck?" lines of the notebook load these; each must pass its own checker."""
    assert ex03.polynomial_sparsity(ex03.reference_polynomial_sparsity)
    assert ex03.clone_function(ex03.reference_make_clone_function)
    assert ex03.global_layer_sparsity(ex03.reference_global_layer_sparsity)
    assert not {"reference_polynomial_sparsity", "reference_make_clone_function",
                "reference_global_layer_sparsity"} & set(ex03.__all__)
