"""Self-checks for the exercises of 08_lottery_ticket_tensorflow (the Keras twin of 08_lottery_ticket_pytorch;
moved unchanged from ``ex07tf``).

- :func:`prune_round` — one round of layer-wise iterative magnitude pruning on numpy masks (no framework;
  the same exercise as in the PyTorch notebook, on Keras-layout kernels).
- :func:`rewind` — reset a Keras MLP to its initial weights (a ``get_weights()`` list) under new masks
  (imports TensorFlow).

Every checker prints what it expected and what it got, with a hint, and returns True or False.

The reference solutions (not in ``__all__``) are what the notebook's main line uses, so the lesson runs while
the exercises are unsolved: :func:`reference_prune_round` and :func:`reference_rewind`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import ex08
from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["prune_round", "rewind"]


# ----------------------------------------------------------------------------- reference solutions
#: Reference solution of exercise 1 (08_lottery_ticket_tensorflow): the framework-free one of the PyTorch twin.
reference_prune_round = ex08.reference_prune_round


def reference_rewind(model: Any, init_weights: list, masks: dict) -> Any:
    """Reference solution of exercise 2 (08_lottery_ticket_tensorflow): give every weight of the Keras ``model`` its
    value in ``init_weights`` (``get_weights()`` of the unpruned model at initialisation), then zero the kernels
    outside ``masks`` (``{layer name: bool keep-mask}``, Keras layout); ``init_weights`` is not modified.
    Training keeps the zeros only with ``pruning_tf.KeepMasks(masks)`` passed to ``fit``."""
    from .. import pruning_tf

    model.set_weights(init_weights)  # copies the values
    pruning_tf.multiply_masks(model, masks)
    return model


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def prune_round(fn: Callable[[dict, dict, float], dict]) -> bool:
    """Exercise 1 of 08_lottery_ticket_tensorflow: ``prune_round(masks, weights, rate) -> new masks``.

    The same exercise and the same test cases as ``ex08.prune_round``: in every layer, the fraction ``rate``
    of the weights that are *still alive* with the smallest ``|w|`` is removed; pruned weights stay pruned;
    the inputs are not modified.
    """
    return ex08.prune_round.verdict(fn)


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def rewind(fn: Callable[[Any, list, dict], Any]) -> bool:
    """Exercise 2 of 08_lottery_ticket_tensorflow: ``rewind(model, init_weights, masks) -> model``.

    Afterwards every kernel of the Keras MLP equals ``init_weights`` times its mask, every bias its initial
    value, and ``init_weights`` (a ``get_weights()`` list) is unchanged. Imports TensorFlow.
    """
    from .. import metrics_tf
    from ..env import load_tensorflow
    from ..models_tf import mlp

    load_tensorflow()
    rng = np.random.default_rng(3)
    hidden = (16, 8)
    init_weights = mlp(hidden, seed=5).get_weights()
    layers = ["fc1", "fc2", "fc3"]

    def trained_model():
        m = mlp(hidden, seed=5)
        m.set_weights([w + 0.1 * rng.standard_normal(w.shape).astype(np.float32) for w in m.get_weights()])
        return m  # every weight and bias moved, as training moves them

    for desc, make in (("a fresh model", lambda: mlp(hidden, seed=7)),
                       ("the trained ticket of an earlier round", trained_model)):
        model = make()
        masks = {n: rng.random(tuple(model.get_layer(n).kernel.shape)) > 0.5 for n in layers}
        given = [w.copy() for w in init_weights]
        ok, got = _call(fn, model, given, {n: m.copy() for n, m in masks.items()})
        if not ok:
            return _fail(f"[{desc}] see the error above",
                         "model.set_weights(init_weights), then multiply each kernel by its mask.")
        if not hasattr(got, "get_layer") or not hasattr(got, "get_weights"):
            return _fail(f"[{desc}] expected the Keras model back, got {type(got).__name__}",
                         "end with `return model`.")
        if any(not np.array_equal(g, w) for g, w in zip(given, init_weights)):
            return _fail(f"[{desc}] your function changed init_weights",
                         "multiply copies (or the model's variables), never the arrays of θ₀ in place "
                         "(`w *= mask` on them): every round, the control and late rewinding reuse θ₀.")
        eff = metrics_tf.prunable_weights(got)
        init = dict(zip([f"{n}.{p}" for n in layers for p in ("kernel", "bias")], init_weights))
        for n in layers:
            want = init[f"{n}.kernel"] * masks[n]
            if not np.allclose(eff[n], want):
                zeros_lost = bool(np.allclose(eff[n], init[f"{n}.kernel"]))
                return _fail(f"[{desc}] layer {n}: the kernel is not init_kernel * mask "
                             f"(max difference {np.abs(eff[n] - want).max():.3g})",
                             "the kernel is θ₀ without the mask: either the masks were never applied, or "
                             "set_weights overwrote them (it writes every value, zeros included). Rewind first, "
                             "then multiply each kernel by its mask." if zeros_lost else
                             "rewind every weight to init_weights, then multiply each kernel by its mask "
                             "(pruning_tf.multiply_masks(model, masks)).")
            b = got.get_layer(n).bias.numpy()
            if not np.allclose(b, init[f"{n}.bias"]):
                return _fail(f"[{desc}] layer {n}: the bias was not reset to its initial value",
                             "rewinding resets every parameter (kernels and biases) to initialisation: "
                             "model.set_weights(init_weights) does both.")
    return _ok("rewind resets kernels and biases to initialisation and zeroes the pruned weights. In fit, "
               "pass callbacks=[pruning_tf.KeepMasks(masks)] so that training keeps them at zero.")
