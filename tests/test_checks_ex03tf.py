"""The self-checks of 03_regularization_and_early_stopping_tensorflow accept the reference solutions and
reject plausible mistakes. Importing ``ex03tf`` loads no framework; its free-sparsity checker loads TensorFlow
(Keras 2) when called."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course_utils.checks import ex03tf
from course_utils.checks._common import verdict


# --------------------------------------------------------------------------- free_sparsity
def _keras():
    from course_utils.env import load_tensorflow

    return load_tensorflow()[1]


def _kernels(model):
    keras = _keras()
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def _acc(model, val):
    return float((np.asarray(model(val[0], training=False)).argmax(1) == val[1]).mean())


def _pruned(model, amount, *, layerwise=False, in_place=False):
    keras = _keras()
    if in_place:
        out = model
    else:
        out = keras.models.clone_model(model)
        out.set_weights(model.get_weights())
    layers = _kernels(out)
    groups = [[layer] for layer in layers] if layerwise else [layers]
    for group in groups:
        flat = np.concatenate([np.abs(layer.kernel.numpy()).ravel() for layer in group])
        keep = np.ones(flat.size, dtype=bool)
        keep[np.argsort(flat, kind="stable")[: int(round(amount * flat.size))]] = False
        start = 0
        for layer in group:
            k = layer.kernel.numpy()
            layer.kernel.assign(k * keep[start:start + k.size].reshape(k.shape))
            start += k.size
    return out


def _by_rule(layerwise=False, from_100=False, in_place=False):
    def fn(model, val, amounts, max_drop):
        dense = 1.0 if from_100 else _acc(model, val)
        best = 0.0
        for a in amounts:
            if dense - _acc(_pruned(model, a, layerwise=layerwise, in_place=in_place), val) <= max_drop + 1e-9:
                best = max(best, float(a))
        return best
    return fn


def test_free_sparsity_accepts_reference_and_a_simple_solution(capsys):
    assert ex03tf.free_sparsity(ex03tf.reference_free_sparsity) is True
    assert ex03tf.free_sparsity(_by_rule()) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (_by_rule(layerwise=True), "layer-wise"),
    (_by_rule(from_100=True), "not from 100 %"),
    (_by_rule(in_place=True), "changed the model"),
    (lambda model, val, amounts, max_drop: 0.123, "one of the amounts"),
])
def test_free_sparsity_rejects_mistakes(wrong, hint, capsys):
    assert verdict(ex03tf.free_sparsity, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out, out


def test_free_sparsity_placeholder_is_not_attempted(capsys):
    def todo(model, val, amounts, max_drop):
        raise NotImplementedError

    assert ex03tf.free_sparsity(todo) is None
    assert "not attempted" in capsys.readouterr().out


# --------------------------------------------------------------------------- early stopping (Keras' rule)
def test_early_stopping_epoch_accepts_keras_rule_and_rejects_argmin(capsys):
    assert ex03tf.early_stopping_epoch(ex03tf.reference_early_stopping_epoch) is True

    def argmin(val_losses, patience, min_delta=0.0):
        return int(np.argmin(val_losses)) + 1

    def ignores_min_delta(val_losses, patience, min_delta=0.0):
        return ex03tf.reference_early_stopping_epoch(val_losses, patience, 0.0)

    assert verdict(ex03tf.early_stopping_epoch, argmin) is False
    assert "argmin" in capsys.readouterr().out
    assert verdict(ex03tf.early_stopping_epoch, ignores_min_delta) is False
    assert "min_delta" in capsys.readouterr().out


def test_reference_matches_keras_early_stopping():
    """Keras' own EarlyStopping(restore_best_weights=True), fed the same losses, restores the same epoch."""
    code = """
import numpy as np
from course_utils.env import load_tensorflow
from course_utils.checks import ex03tf
tf, keras = load_tensorflow()
for losses, patience, delta in [([1.0, 0.8, 0.7, 0.75, 0.9, 1.0, 1.1], 2, 0.0),
                                ([1.0, 0.9, 0.895, 0.89, 0.885, 0.7], 3, 0.01),
                                ([0.9, 0.7, 0.6, 0.5, 0.45], 2, 0.0)]:
    cb = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=delta,
                                       restore_best_weights=True)
    model = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
    cb.set_model(model); cb.on_train_begin()
    stopped = len(losses)
    for epoch, loss in enumerate(losses):
        cb.on_epoch_end(epoch, {"val_loss": loss})
        if model.stop_training:
            stopped = epoch + 1
            break
    best = cb.best_epoch + 1
    assert best == ex03tf.reference_early_stopping_epoch(losses, patience, delta), (losses, best)
print("OK")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


def test_l1_fate_accepts_reference_and_rejects_l2_thinking(capsys):
    assert ex03tf.l1_fate(ex03tf.reference_l1_fate) is True
    assert verdict(ex03tf.l1_fate, lambda w0, lr, lam: (None, 0.0)) is False
    assert "L2" in capsys.readouterr().out


def test_importing_the_checker_loads_no_framework():
    code = ("import sys; from course_utils.checks import ex03tf; "
            "print('tensorflow' in sys.modules, 'torch' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "False False", res.stdout + res.stderr
