"""Self-checks for the exercises of 06_measuring_what_pruning_buys_tensorflow (TensorFlow).

Each checker calls the learner's function on hidden cases, prints what was expected and what
came back (with a hint), and returns True or False. Usage in the notebook::

    from course_utils.checks import ex06tf
    ex06tf.csr_storage_break_even(csr_storage_break_even)

Exercise 1 is the PyTorch twin's Exercise 2 (the same numbers, framework-free); Exercise 2 is its
Exercise 3 on Keras models (TFMOT-pruned and narrower ones).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import ex06
from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["csr_storage_break_even", "theoretical_speedup"]

#: Exercise 1's reference (shared with the PyTorch twin).
reference_csr_storage_break_even = ex06.reference_csr_storage_break_even


def reference_theoretical_speedup(dense_model: Any, pruned_model: Any, input_shape: tuple[int, ...]) -> float:
    """Exercise 2's reference: dense MACs / MACs of ``pruned_model`` that touch a nonzero weight (per sample);
    works for TFMOT-pruned (wrapped or stripped) Keras models and for models whose layers were made narrower."""
    from .. import metrics

    before = metrics.macs(dense_model, input_shape)
    sparsity = metrics.layer_sparsity(pruned_model)
    after = sum(m * (1 - sparsity[name]) for name, m in metrics.layer_macs(pruned_model, input_shape).items())
    return before / after


def _number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _not_callable(name: str, fn: Any) -> bool:
    return _fail(f"{name}: pass your function itself, e.g. ex06tf.{name}({name}); got {type(fn).__name__}.")


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def csr_storage_break_even(fn: Callable[..., Any]) -> bool:
    """Exercise 1: ``fn(rows, cols, value_bytes=4, index_bytes=4)`` → the smallest *sparsity*
    (fraction of zeros) at which a CSR matrix takes no more bytes than the dense one."""
    if not callable(fn):
        return _not_callable("csr_storage_break_even", fn)
    return ex06.csr_storage_break_even.verdict(fn)  # the twin's checker: same cases, same hints (None: not attempted)


# ----------------------------------------------------------------------------- exercise 2
def _speedup_cases() -> list[tuple[str, Any, Any, tuple[int, ...]]]:
    from .. import models_tf as mt

    def with_bias(model):
        rng = np.random.default_rng(3)
        for layer in model.layers:
            if getattr(layer, "bias", None) is not None:
                layer.bias.assign(rng.random(layer.bias.shape, dtype=np.float32) - 0.5)
        return model

    def zero_smallest(model, layers, sparsity):
        """Zero the `sparsity` fraction of smallest-magnitude kernel entries of `layers` (one global threshold)."""
        kernels = {n: model.get_layer(n).kernel.numpy() for n in layers}
        threshold = np.quantile(np.abs(np.concatenate([k.ravel() for k in kernels.values()])), sparsity)
        for n, k in kernels.items():
            model.get_layer(n).kernel.assign(np.where(np.abs(k) > threshold, k, 0).astype(np.float32))
        return model

    dense_mlp = with_bias(mt.mlp(hidden=(32, 16), seed=1))
    pruned_mlp = zero_smallest(with_bias(mt.mlp(hidden=(32, 16), seed=1)), ("fc1", "fc2", "fc3"), 0.8)
    small_mlp = with_bias(mt.mlp(hidden=(16, 8), seed=2))
    dense_cnn = with_bias(mt.small_cnn(channels=(4, 8), seed=1))
    pruned_cnn = zero_smallest(with_bias(mt.small_cnn(channels=(4, 8), seed=1)), ("conv2",), 0.75)
    return [
        ("an MLP 784-32-16-10 vs the same MLP with 80 % of its kernel entries zero", dense_mlp, pruned_mlp, (28, 28)),
        ("an MLP 784-32-16-10 vs a narrower MLP 784-16-8-10 (units removed)", dense_mlp, small_mlp, (28, 28)),
        ("a CNN (4, 8) vs the same CNN with 75 % of conv2's kernel zero", dense_cnn, pruned_cnn, (28, 28)),
    ]


def _speedup_ref(dense: Any, pruned: Any, input_shape: tuple[int, ...]) -> float:
    from .. import metrics

    before = metrics.macs(dense, input_shape)
    lm = metrics.layer_macs(pruned, input_shape)
    w = metrics.prunable_weights(pruned)
    after = sum(m * np.count_nonzero(w[n]) / w[n].size for n, m in lm.items())
    return before / after


@_exercise
def theoretical_speedup(fn: Callable[..., Any]) -> bool:
    """Exercise 2: ``fn(dense_model, pruned_model, input_shape)`` → dense MACs / MACs that touch a nonzero
    weight of the pruned Keras model (a *theoretical* speed-up)."""
    name = "theoretical_speedup"
    if not callable(fn):
        return _not_callable(name, fn)
    from .. import metrics

    for what, dense, pruned, shape in _speedup_cases():
        ok, got = _call(fn, dense, pruned, shape)
        if not ok:
            return False
        want = _speedup_ref(dense, pruned, shape)
        g = _number(got)
        if g is None or not math.isclose(g, want, rel_tol=1e-6):
            params_ratio = metrics.count_params(dense) / metrics.count_nonzero(pruned)
            if g is not None and math.isclose(g, params_ratio, rel_tol=1e-6):
                hint = ("that is the compression ratio (parameters / nonzeros). MACs weigh each weight by "
                        "how often it is used: a conv weight is used at every output position, a bias never "
                        "multiplies. Use metrics.layer_macs and each layer's density.")
            elif g is not None and math.isclose(g, 1 / want, rel_tol=1e-6):
                hint = "upside down — dense MACs go on top."
            elif g is not None and math.isclose(g, 1.0, rel_tol=1e-6):
                hint = ("metrics.macs counts dense shapes (what a dense kernel does); scale each layer's "
                        "MACs by its fraction of nonzero weights (1 − metrics.layer_sparsity).")
            else:
                hint = ("sum over layers of layer_macs × (1 − layer sparsity) for the pruned model; "
                        "divide metrics.macs(dense) by it.")
            return _fail(f"for {what}: expected a theoretical speed-up of {want:.4f}×, got {got!r}", hint)
    return _ok("theoretical_speedup weighs each layer's MACs by its density. Remember: theoretical, not measured.")
