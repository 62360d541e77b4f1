"""Self-checks for the exercises of 10_capstone_tensorflow (the Keras twin of 10_capstone_pytorch).

- :func:`challenge` — a Keras model (scored here on the test split) or a :class:`course_utils.capstone.Report`
  that meets the capstone challenge; the same judgement as ``ex10.challenge``.
- :func:`prune_round` — one round of layer-wise iterative magnitude pruning on numpy masks (no framework;
  the same exercise as in the PyTorch capstone, on Keras-layout kernels).
- :func:`rewind` — reset a Keras MLP to its initial weights (a ``get_weights()`` list) under new masks
  (imports TensorFlow).

Every checker prints what it expected and what it got, with a hint, and returns True or False.

The reference solutions (not in ``__all__``) are what the notebook's main line uses, so the lesson runs while
the exercises are unsolved: :func:`reference_capstone_model`, :func:`reference_prune_round` and
:func:`reference_rewind`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import capstone
from . import ex10
from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["challenge", "prune_round", "rewind"]

#: The reference solution's candidates, as in the PyTorch capstone: (hidden widths of fc1, fc2; fraction of the
#: remaining weights pruned by global magnitude).
REFERENCE_CANDIDATES = ex10.REFERENCE_CANDIDATES


# ----------------------------------------------------------------------------- reference solutions
def _reference_candidate(dense: Any, train: Any, widths: tuple[int, int], sparsity: float, ft_epochs: int,
                         seed: int) -> Any:
    import tensorflow_model_optimization as tfmot

    from .. import pruning_tf, surgery_tf, train_tf

    model = dense
    for layer, width in zip(("fc1", "fc2"), widths):
        scores = surgery_tf.unit_scores(model, layer, "l2")
        model = surgery_tf.remove_units(model, layer, np.argsort(scores)[-width:])  # a new, smaller model
    train_tf.fit(model, train, epochs=ft_epochs, lr=1e-3, seed=seed, progress=False)
    schedules = {name: tfmot.sparsity.keras.ConstantSparsity(s, begin_step=0, frequency=1)
                 for name, s in pruning_tf.global_sparsities(model, sparsity).items()}  # global magnitude
    wrapped = pruning_tf.wrap_for_pruning(model, schedules)
    train_tf.fit(wrapped, train, epochs=ft_epochs, lr=5e-4, seed=seed, progress=False,
                 callbacks=pruning_tf.pruning_callbacks())
    return pruning_tf.strip(wrapped)


def reference_capstone_model(dense: Any, train: Any, val: Any, ft_epochs: int = 5, *, seed: int = 0,
                             budget: Any = None, input_shape: tuple[int, ...] = (28, 28),
                             verbose: bool = True) -> Any:
    """Reference solution of exercise 1 (10_capstone_tensorflow): a pruned copy of the trained Keras MLP ``dense``.

    For each of :data:`REFERENCE_CANDIDATES`: keep the ``widths`` hidden units of fc1, fc2 with the largest
    incoming-weight L2 norm (``surgery_tf``), fine-tune ``ft_epochs`` epochs, wrap with ``prune_low_magnitude``
    at the per-layer sparsities of one global magnitude threshold (``pruning_tf.global_sparsities``,
    ``ConstantSparsity``), fine-tune ``ft_epochs`` more with ``UpdatePruningStep``, ``strip_pruning``. Among
    the candidates that meet the size limits of ``budget`` (default ``capstone.challenge_budget(dense)``) it
    returns the one with the best accuracy on ``val``. ``dense`` is not modified; ``seed`` sets the data order.
    """
    from .. import metrics, train_tf

    budget = capstone.challenge_budget(dense) if budget is None else budget
    best, best_acc, chosen = None, -1.0, None
    for widths, sparsity in REFERENCE_CANDIDATES:
        model = _reference_candidate(dense, train, widths, sparsity, ft_epochs, seed)
        fits = (metrics.macs(model, input_shape) <= budget.max_macs
                and metrics.gzip_size(model) <= budget.max_gzip_bytes)
        val_acc = train_tf.evaluate(model, val)["accuracy"]
        if verbose:
            print(f"hidden {widths}, {sparsity:.0%} of weights pruned: fits the size limits: {fits}, "
                  f"validation accuracy {val_acc:.1%}")
        if fits and val_acc > best_acc:
            best, best_acc, chosen = model, val_acc, (widths, sparsity)
    if best is None:
        raise RuntimeError("no reference candidate fits the size limits of the budget")
    if verbose:
        print(f"chosen on validation: hidden {chosen[0]}, sparsity {chosen[1]:.0%}")
    return best


#: Reference solution of exercise 2 (10_capstone_tensorflow): the framework-free one of the PyTorch capstone.
reference_prune_round = ex10.reference_prune_round


def reference_rewind(model: Any, init_weights: list, masks: dict) -> Any:
    """Reference solution of exercise 3 (10_capstone_tensorflow): give every weight of the Keras ``model`` its
    value in ``init_weights`` (``get_weights()`` of the unpruned model at initialisation), then zero the kernels
    outside ``masks`` (``{layer name: bool keep-mask}``, Keras layout); ``init_weights`` is not modified.
    Training keeps the zeros only with ``pruning_tf.KeepMasks(masks)`` passed to ``fit``."""
    from .. import pruning_tf

    model.set_weights(init_weights)  # copies the values
    pruning_tf.multiply_masks(model, masks)
    return model


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def challenge(report: Any, test: Any = None, budget: Any = None, reference: Any = None, *, fast: bool = False,
              **timing: Any) -> bool:
    """Exercise 1 of 10_capstone_tensorflow: a Keras model that meets the capstone challenge.

    ``challenge(capstone_model, test, budget, dense)`` scores the model on the test split with
    ``capstone.score`` and judges it exactly as ``ex10.challenge`` does (MAC and gzip limits exact, latency
    re-timed once when over the limit, an accuracy drop over 1.5 points accepted when the paired 95% interval
    reaches the limit; ``fast=True`` prints the drop without judging it). ``challenge(report)`` takes a report
    from ``capstone.score``. Here the model and the reference must be Keras models.
    """
    from .. import metrics

    if not isinstance(report, capstone.Report) and test is not None:
        try:
            fw = metrics.framework_of(report)
        except TypeError:
            return _fail(f"expected your pruned Keras model, got {type(report).__name__}",
                         "capstone_model must be the model itself, e.g. the stripped result of your last fine-tuning.")
        if fw != "keras":
            return _fail(f"expected a Keras model, got a {fw} model",
                         "this notebook scores Keras models against the Keras reference `dense`.")
        if budget is None or reference is None:
            return _fail("pass the test data, the budget and the dense reference too",
                         "ex10tf.challenge(capstone_model, test, budget, dense)")
        leftovers = capstone.pruning_leftovers(report)
        if leftovers:
            print(f"note: layers {leftovers} still carry TFMOT wrappers; their masks are saved too. "
                  "Call tfmot.sparsity.keras.strip_pruning(model) (pruning_tf.strip) before scoring.")
    return ex10.challenge.verdict(report, test, budget, reference, fast=fast, **timing)


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def prune_round(fn: Callable[[dict, dict, float], dict]) -> bool:
    """Exercise 2 of 10_capstone_tensorflow: ``prune_round(masks, weights, rate) -> new masks``.

    The same exercise and the same test cases as ``ex10.prune_round``: in every layer, the fraction ``rate``
    of the weights that are *still alive* with the smallest ``|w|`` is removed; pruned weights stay pruned;
    the inputs are not modified.
    """
    return ex10.prune_round.verdict(fn)


# ----------------------------------------------------------------------------- exercise 3
@_exercise
def rewind(fn: Callable[[Any, list, dict], Any]) -> bool:
    """Exercise 3 of 10_capstone_tensorflow: ``rewind(model, init_weights, masks) -> model``.

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
