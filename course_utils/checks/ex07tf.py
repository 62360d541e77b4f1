"""Self-checks for the exercise of 07_capstone_tensorflow (the Keras twin of 07_capstone_pytorch).

- :func:`challenge` — a Keras model (scored here on the test split) or a :class:`course_utils.capstone.Report`
  that meets the capstone challenge; the same judgement as ``ex07.challenge``.

Every checker prints what it expected and what it got, with a hint, and returns True or False.

The reference solution (not in ``__all__``) is what the notebook's main line uses, so the lesson runs while
the exercise is unsolved: :func:`reference_capstone_model`. The lottery ticket exercises (``prune_round``,
``rewind``) are in :mod:`course_utils.checks.ex08tf`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import capstone
from . import ex07
from ._common import exercise as _exercise
from ._common import fail as _fail

__all__ = ["challenge"]


#: The reference solution's candidates, as in the PyTorch capstone: (hidden widths of fc1, fc2; fraction of the
#: remaining weights pruned by global magnitude).
REFERENCE_CANDIDATES = ex07.REFERENCE_CANDIDATES


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
    """Reference solution of exercise 1 (07_capstone_tensorflow): a pruned copy of the trained Keras MLP ``dense``.

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


# ----------------------------------------------------------------------------- exercise 1
@_exercise
def challenge(report: Any, test: Any = None, budget: Any = None, reference: Any = None, *, fast: bool = False,
              **timing: Any) -> bool:
    """Exercise 1 of 07_capstone_tensorflow: a Keras model that meets the capstone challenge.

    ``challenge(capstone_model, test, budget, dense)`` scores the model on the test split with
    ``capstone.score`` and judges it exactly as ``ex07.challenge`` does (MAC and gzip limits exact, latency
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
                         "ex07tf.challenge(capstone_model, test, budget, dense)")
        leftovers = capstone.pruning_leftovers(report)
        if leftovers:
            print(f"note: layers {leftovers} still carry TFMOT wrappers; their masks are saved too. "
                  "Call tfmot.sparsity.keras.strip_pruning(model) (pruning_tf.strip) before scoring.")
    return ex07.challenge.verdict(report, test, budget, reference, fast=fast, **timing)
