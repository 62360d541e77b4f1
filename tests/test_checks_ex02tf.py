"""Checkers of 02_weight_pruning_tensorflow accept the reference solutions and reject plausible mistakes."""
from __future__ import annotations

import math

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from course_utils.checks import ex02tf
from course_utils.checks._common import verdict

tfmot = pytest.importorskip("tensorflow_model_optimization")


# ----------------------------------------------------------------------------- exercise 1
def end_ok(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0):
    last = (epochs - tail_epochs) * math.ceil(n_images / batch_size)
    return begin_step + (last - begin_step) // frequency * frequency


def end_epochs(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0):
    return epochs - tail_epochs  # epochs, not steps


def end_floor(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0):
    last = (epochs - tail_epochs) * (n_images // batch_size)  # drops the short last batch
    return begin_step + (last - begin_step) // frequency * frequency


def end_not_multiple(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0):
    return (epochs - tail_epochs) * math.ceil(n_images / batch_size)  # not rounded to the frequency


def end_no_tail(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0):
    last = epochs * math.ceil(n_images / batch_size)
    return begin_step + (last - begin_step) // frequency * frequency


def end_from_zero(n_images, batch_size, epochs, frequency, tail_epochs=1, begin_step=0):
    last = (epochs - tail_epochs) * math.ceil(n_images / batch_size)
    return last // frequency * frequency  # multiple of frequency from 0, not from begin_step


def end_todo(*args, **kwargs):
    raise NotImplementedError


def test_pruning_end_step(capsys):
    assert ex02tf.pruning_end_step(end_ok)
    assert "✓" in capsys.readouterr().out
    for wrong, words in [(end_epochs, "batches"), (end_floor, "short batch"), (end_not_multiple, "multiple"),
                         (end_no_tail, "tail"), (end_from_zero, "multiple")]:
        assert verdict(ex02tf.pruning_end_step, wrong) is False, wrong.__name__
        out = capsys.readouterr().out
        assert "✗" in out and "Hint" in out and words in out, (wrong.__name__, out)
    assert ex02tf.pruning_end_step(end_todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex02tf.pruning_end_step, lambda *a, **k: "late") is False
    assert ex02tf.pruning_end_step(lambda *a, **k: float(end_ok(*a, **k)))  # 880.0 is a step number too


def test_reference_end_step_reproduces_the_snippet_numbers():
    # the notebook's snippet: 3,500 images, batch 32, 5 epochs, frequency 100, the last epoch fine-tunes
    assert ex02tf.reference_pruning_end_step(3500, 32, 5, 100, tail_epochs=1) == 400
    assert ex02tf.reference_pruning_end_step(3500, 32, 5, 100, tail_epochs=0) == 500


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
    assert ex02tf.clone_function(clone_ok)
    assert "✓" in capsys.readouterr().out
    assert verdict(ex02tf.clone_function, clone_all_dense) is False
    assert "wraps" in capsys.readouterr().out
    assert verdict(ex02tf.clone_function, clone_default_schedule) is False
    assert "schedule" in capsys.readouterr().out
    assert verdict(ex02tf.clone_function, lambda names, schedule: None) is False
    assert verdict(ex02tf.clone_function, lambda names, schedule: (lambda layer: None)) is False


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
    assert ex02tf.global_layer_sparsity(global_ok)
    assert "✓" in capsys.readouterr().out
    assert verdict(ex02tf.global_layer_sparsity, global_layerwise) is False
    assert "layer-wise" in capsys.readouterr().out
    assert verdict(ex02tf.global_layer_sparsity, global_signed) is False
    assert "np.abs" in capsys.readouterr().out
    assert verdict(ex02tf.global_layer_sparsity, lambda kernels, s: [s]) is False


def test_references_pass_their_checkers():
    """The "Stuck?" lines of the notebook load these; each must pass its own checker."""
    assert ex02tf.pruning_end_step(ex02tf.reference_pruning_end_step)
    assert ex02tf.clone_function(ex02tf.reference_make_clone_function)
    assert ex02tf.global_layer_sparsity(ex02tf.reference_global_layer_sparsity)
    assert not {"reference_pruning_end_step", "reference_make_clone_function",
                "reference_global_layer_sparsity"} & set(ex02tf.__all__)
