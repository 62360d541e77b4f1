"""Self-checks for the exercises of 09_shipping_a_pruned_model_tensorflow (TensorFlow).

Each checker calls the learner's function on hidden cases, prints what was expected and what
came back (with a hint), and returns True or False. Usage in the notebook::

    from course_utils.checks import ex09tf
    ex09tf.save_for_deployment(save_for_deployment)

Exercise 1 saves a TFMOT-pruned Keras model so that plain ``load_model`` reads it; Exercise 2 is the PyTorch
twin's Exercise 2 (what pruning and int8 each buy on gzipped weights; framework-free, the same hidden cases).
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import ex09
from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["save_for_deployment", "shrink_factors"]

#: Exercise 2's reference (shared with the PyTorch twin: numpy arrays in, gzip sizes out).
reference_shrink_factors = ex09.reference_shrink_factors
#: The main line's split of the shipped files' shrink (shared with the PyTorch twin).
reference_size_factors = ex09.reference_size_factors


def reference_save_for_deployment(model: Any, path: Any) -> Any:
    """Exercise 1's reference: ``strip_pruning`` (a copy without wrappers, kernels masked), saved as ``.keras``."""
    from .. import pruning_tf

    pruning_tf.strip(model).save(path)
    return path


def _wrapped_mlps() -> list[tuple[str, Any]]:
    """Small TFMOT-wrapped MLPs, pruned by a few training steps (each call builds fresh ones)."""
    from .. import models_tf, pruning_tf, train_tf

    sk = pruning_tf.sparsity_api
    rng = np.random.default_rng(12)
    x = rng.random((64, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    cases = []
    for seed, hidden, target in ((3, (16, 8), 0.8), (5, (12, 6), 0.6)):
        wrapped = pruning_tf.wrap_for_pruning(models_tf.mlp(hidden=hidden, seed=seed),
                                              sk.ConstantSparsity(target, begin_step=0, frequency=1))
        train_tf.fit(wrapped, (x, y), epochs=1, batch_size=32, seed=seed, progress=False,
                     callbacks=pruning_tf.pruning_callbacks())
        cases.append((f"MLP {hidden} pruned to {target:.0%}", wrapped))
    return cases


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def save_for_deployment(fn: Callable[[Any, Any], Any]) -> bool:
    """Exercise 1: ``fn(model, path)`` saves the wrapped, pruned ``model`` without wrappers as a ``.keras`` file that
    plain ``keras.models.load_model`` reads, with the same outputs, and leaves ``model`` wrapped."""
    from .. import metrics, pruning_tf
    from ..env import load_tensorflow

    _, keras = load_tensorflow()
    if not callable(fn):
        return _fail("save_for_deployment: pass your function itself, e.g. "
                     f"ex09tf.save_for_deployment(save_for_deployment); got {type(fn).__name__}.")
    x = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        for i, (what, model) in enumerate(_wrapped_mlps()):
            path = Path(tmp) / f"case{i}.keras"
            want = np.asarray(model(x, training=False))
            ok, _ = _call(fn, model, path)
            if not ok:
                return False
            if not path.exists():
                return _fail(f"{what}: nothing was saved at {path}", "call .save(path) on the stripped model")
            if not any(pruning_tf.is_pruned(layer) for layer in model.layers):
                return _fail(f"{what}: the model you were given lost its wrappers",
                             "strip_pruning returns a new model; save that one and leave the argument alone")
            try:
                loaded = keras.models.load_model(path)
            except (ValueError, TypeError) as e:
                return _fail(f"{what}: plain keras.models.load_model cannot read the file: "
                             f"{' '.join(str(e).split())[:120]}",
                             "the file still holds PruneLowMagnitude wrappers: save "
                             "tfmot.sparsity.keras.strip_pruning(model), not the model itself")
            if any(pruning_tf.is_pruned(layer) for layer in loaded.layers):
                return _fail(f"{what}: the saved model still holds pruning wrappers", "strip_pruning first")
            got = np.asarray(loaded(x, training=False))
            if got.shape != want.shape or not np.allclose(got, want, atol=1e-5):
                return _fail(f"{what}: the reloaded model's outputs differ from the pruned model's "
                             f"(largest difference {np.abs(got - want).max() if got.shape == want.shape else '—'})",
                             "save the stripped pruned model, not the dense original or a retrained copy")
            if metrics.sparsity(loaded) < metrics.sparsity(pruning_tf.strip(model)) - 1e-6:
                return _fail(f"{what}: the saved model has fewer zeros than the pruned one",
                             "strip_pruning keeps the masked kernels; do not save the weights from before pruning")
    return _ok("save_for_deployment: stripped, saved, reloaded by plain load_model with the same outputs and zeros")


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def shrink_factors(fn: Callable[..., Any]) -> bool:
    """Exercise 2 (the PyTorch twin's): ``fn(weights, sparsity)`` → ``{"pruning", "quantization"}``."""
    if not callable(fn):
        return _fail(f"shrink_factors: pass your function itself, e.g. ex09tf.shrink_factors(shrink_factors); "
                     f"got {type(fn).__name__}.")
    return ex09.shrink_factors.verdict(fn)  # the twin's checker: same cases, same hints (None: not attempted)
