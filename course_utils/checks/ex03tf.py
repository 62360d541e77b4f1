"""Self-checks for the exercises of 03_regularization_and_early_stopping_tensorflow (Keras twin of ex03).

Each checker calls the learner's function on hidden cases, prints what was expected and what came back (with a
hint) and returns ``True`` (all cases pass) or ``False``. Importing this module imports neither framework;
:func:`free_sparsity` and :func:`reference_free_sparsity` load TensorFlow (Keras 2) when called. What the
PyTorch twin (``ex03``) shares lives in ``_ex03_common``.

- :func:`free_sparsity` checks ``free_sparsity(model, val, amounts, max_drop) -> float``: the largest amount in
  ``amounts`` to which global magnitude pruning of a *copy* of the Keras ``model`` costs at most ``max_drop``
  validation accuracy (0.0 if none); the model itself must stay unchanged.
- :func:`early_stopping_epoch` checks ``early_stopping_epoch(val_losses, patience, min_delta=0.0) -> int``:
  Keras' ``EarlyStopping`` rule — the 1-based epoch whose weights ``restore_best_weights=True`` gives back.
- :func:`l1_fate` checks the prediction ``l1_fate(w0, lr, lam) -> (k, bound)`` (as in ``ex03``).

Introduced in 03_regularization_and_early_stopping_tensorflow.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _ex03_common as _shared
from ._common import exercise as _exercise

__all__ = ["free_sparsity", "early_stopping_epoch", "l1_fate", "reference_free_sparsity",
           "reference_early_stopping_epoch", "reference_near_zero_fraction", "reference_l1_fate"]


# --------------------------------------------------------------------------- reference answers
def _dense_layers(model: Any) -> list[Any]:
    from ..env import load_tensorflow

    _, keras = load_tensorflow()
    return [layer for layer in model.layers if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))]


def _accuracy(model: Any, val: Any) -> float:
    logits = np.asarray(model(np.asarray(val[0], dtype=np.float32), training=False))
    return float(np.mean(logits.argmax(1) == np.asarray(val[1])))


def _accuracies(model: Any, val: Any, amounts: Sequence[float], layerwise: bool) -> list[float]:
    """Accuracy on ``val`` of ``model`` with its smallest |kernel| weights zeroed, for each amount
    (one global ranking, or each layer on its own); ``model`` is not changed."""
    from ..env import load_tensorflow

    _, keras = load_tensorflow()
    scratch = keras.models.clone_model(model)
    kernels = [layer.kernel.numpy() for layer in _dense_layers(model)]
    groups = [[i] for i in range(len(kernels))] if layerwise else [list(range(len(kernels)))]
    out = []
    for amount in amounts:
        scratch.set_weights(model.get_weights())
        for group in groups:
            flat = np.concatenate([np.abs(kernels[i]).ravel() for i in group])
            keep = np.ones(flat.size, dtype=bool)
            keep[np.argsort(flat, kind="stable")[: int(round(amount * flat.size))]] = False
            start = 0
            for i in group:
                n = kernels[i].size
                _dense_layers(scratch)[i].kernel.assign(kernels[i] * keep[start : start + n].reshape(kernels[i].shape))
                start += n
        out.append(_accuracy(scratch, val))
    return out


def reference_free_sparsity(model: Any, val: Any, amounts: Sequence[float], max_drop: float) -> float:
    """Largest amount in ``amounts`` whose global-magnitude-pruned copy of the Keras ``model`` loses at most
    ``max_drop`` accuracy on ``val = (x, y)`` against the dense model (0.0 if none); ``model`` is not changed."""
    return _shared.free_choice(_accuracies(model, val, amounts, False), amounts, _accuracy(model, val), max_drop)


def reference_early_stopping_epoch(val_losses: Sequence[float], patience: int, min_delta: float = 0.0) -> int:
    """1-based epoch Keras' ``EarlyStopping(patience=..., min_delta=..., restore_best_weights=True)`` restores:
    the best loss seen before ``patience`` epochs in a row without an improvement by more than ``min_delta``."""
    return _shared.reference_early_stopping_epoch(val_losses, patience, min_delta)


reference_near_zero_fraction = _shared.reference_near_zero_fraction
reference_l1_fate = _shared.reference_l1_fate


# --------------------------------------------------------------------------- hidden cases
def _case(seed: int, tiny: float) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
    """A small course MLP (Keras) in which a random fraction ``tiny`` of the fc1 weights is shrunk 1000-fold
    (they barely matter, and global magnitude pruning finds them; a layer-wise rule also cuts fc2 and fc3);
    labels: its own predictions on random images, 25 % replaced at random (dense accuracy about 0.8)."""
    from ..models_tf import mlp

    model = mlp((16, 8), seed=seed)
    rng = np.random.default_rng(seed)
    w = model.get_weights()  # fc1 kernel, fc1 bias, fc2 kernel, ...
    w[0] = np.where(rng.random(w[0].shape) < tiny, w[0] * 1e-3, w[0]).astype(np.float32)
    model.set_weights(w)
    x = rng.random((333, 28, 28), dtype=np.float32)
    y = np.asarray(model(x, training=False)).argmax(1)
    flip = rng.random(len(y)) < 0.25
    y[flip] = rng.integers(0, 10, int(flip.sum()))
    return model, (x, y.astype(np.int64))


def _fingerprint(model: Any) -> tuple:
    layers = _dense_layers(model)
    return (tuple(layer.name for layer in model.layers),
            tuple(float(np.abs(layer.kernel.numpy()).astype(np.float64).sum()) for layer in layers),
            tuple(int((layer.kernel.numpy() == 0).sum()) for layer in layers))


# --------------------------------------------------------------------------- checkers
@_exercise
def free_sparsity(fn: Callable[..., float]) -> bool:
    """Check the learner's ``free_sparsity(model, val, amounts, max_drop)`` on hidden small Keras MLPs.

    Expected: the largest amount in ``amounts`` such that a copy of ``model`` pruned to it by global magnitude
    (one |w| ranking over all Dense kernels, biases kept) has accuracy on ``val`` at most ``max_drop`` below the
    dense model's; ``0.0`` if no amount qualifies; ``model`` left unchanged. Prints a message and returns
    True/False. Introduced in 03_regularization_and_early_stopping_tensorflow.
    """
    cases = [(*_case(1, 0.85), "an MLP with 85 % of its fc1 weights tiny"),
             (*_case(2, 0.6), "an MLP with 60 % of its fc1 weights tiny"),
             (*_case(3, 0.93), "an MLP with 93 % of its fc1 weights tiny")]
    return _shared.check_free_sparsity(fn, "ex03tf", cases, reference_free_sparsity, _accuracies, _fingerprint)


@_exercise
def early_stopping_epoch(fn: Callable[..., int]) -> bool:
    """Check the learner's ``early_stopping_epoch(val_losses, patience, min_delta=0.0)`` on hidden loss curves
    (plateaus, ties, late minima, improvements smaller than ``min_delta``).

    Expected: the 1-based epoch of the best loss seen before ``patience`` epochs in a row without an
    improvement, where an improvement means lower than the best so far by more than ``min_delta`` — the epoch
    whose weights ``keras.callbacks.EarlyStopping(restore_best_weights=True)`` restores. Prints a message and
    returns True/False. Introduced in 03_regularization_and_early_stopping_tensorflow.
    """
    return _shared.check_early_stopping_epoch(fn, "ex03tf", min_delta=True)


@_exercise
def l1_fate(fn: Callable[[float, float, float], tuple[int, float]]) -> bool:
    """Check the learner's prediction ``l1_fate(w0, lr, lam) -> (k, bound)`` on hidden cases.

    The case: one weight whose loss gradient is 0, plain SGD (no momentum) with learning rate ``lr`` on the
    penalty ``lam * |w|`` alone, sign(0) = 0. Expected: ``k`` (int), the first step at which the weight reaches
    or passes 0, and ``bound``, the smallest number |w| stays at or below after that for every ``w0`` (in the
    units of ``w0``). Wrong answers get a hint that names the mistake (L2's gradient, a step too early, the sign
    of ``w0``, "it stays at 0"). Prints a message and returns True/False.
    Introduced in 03_regularization_and_early_stopping_tensorflow.
    """
    return _shared.check_l1_fate(fn, "ex03tf")
