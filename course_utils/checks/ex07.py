"""Self-checks for the exercise of 07_capstone_pytorch.

- :func:`challenge` — a model (scored here on the test split) or a :class:`course_utils.capstone.Report`
  that meets the capstone challenge.

Every checker prints what it expected and what it got, with a hint, and returns True or False.

The reference solution (not in ``__all__``) is what the notebook's main line uses, so the lesson runs while
the exercise is unsolved: :func:`reference_capstone_model` (builds the reference capstone model). The lottery
ticket exercises (``prune_round``, ``rewind``) are in :mod:`course_utils.checks.ex08`.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import capstone
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["challenge"]


# ----------------------------------------------------------------------------- reference solutions
#: The reference solution's candidates: (hidden widths of fc1, fc2; fraction of the remaining weights pruned).
REFERENCE_CANDIDATES: tuple[tuple[tuple[int, int], float], ...] = (((80, 40), 0.3), ((80, 40), 0.5), ((64, 32), 0.3))


def _reference_candidate(dense: Any, train: Any, widths: tuple[int, int], sparsity: float, ft_epochs: int,
                         seed: int) -> Any:
    from torch.nn.utils import prune

    from .. import surgery_torch, train_torch

    model = dense
    for layer, width in zip(("fc1", "fc2"), widths):
        scores = surgery_torch.unit_scores(model, layer, "l2")
        model = surgery_torch.remove_units(model, layer, np.argsort(scores)[-width:])
    train_torch.fit(model, train, epochs=ft_epochs, lr=1e-3, seed=seed, progress=False)
    layers = [(model.fc1, "weight"), (model.fc2, "weight"), (model.fc3, "weight")]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=sparsity)
    train_torch.fit(model, train, epochs=ft_epochs, lr=5e-4, seed=seed, progress=False)  # masks keep zeros
    for module, name in layers:
        prune.remove(module, name)
    return model


def reference_capstone_model(dense: Any, train: Any, val: Any, ft_epochs: int = 5, *, seed: int = 0,
                             budget: Any = None, input_shape: tuple[int, ...] = (1, 28, 28),
                             verbose: bool = True) -> Any:
    """Reference solution of exercise 1 (07_capstone_pytorch): a pruned copy of the trained PyTorch MLP ``dense``.

    For each of :data:`REFERENCE_CANDIDATES`: keep the ``widths`` hidden units of fc1, fc2 with the largest
    incoming-weight L2 norm (``surgery_torch``), fine-tune ``ft_epochs`` epochs, prune the given fraction of the
    weights by global magnitude, fine-tune ``ft_epochs`` more with the masks, ``prune.remove``. Among the
    candidates that meet the size limits of ``budget`` (default ``capstone.challenge_budget(dense)``) it returns
    the one with the best accuracy on ``val`` — every choice is made on validation, none on test. ``dense`` is
    not modified; ``seed`` sets the data order of fine-tuning.
    """
    from .. import metrics, train_torch

    budget = capstone.challenge_budget(dense) if budget is None else budget
    best, best_acc = None, -1.0
    for widths, sparsity in REFERENCE_CANDIDATES:
        model = _reference_candidate(dense, train, widths, sparsity, ft_epochs, seed)
        fits = (metrics.macs(model, input_shape) <= budget.max_macs
                and metrics.gzip_size(model) <= budget.max_gzip_bytes)
        val_acc = train_torch.evaluate(model, val)["accuracy"]
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
    """Exercise 1 of 07_capstone_pytorch: a model that meets the capstone challenge.

    Either ``challenge(capstone_model, test, budget, dense)`` — the checker scores the model on the test split
    with ``capstone.score`` (``timing``: ``latency_rounds``, ``latency_repeats``) and prints the report — or
    ``challenge(report)`` with a report from ``capstone.score``.

    The report's budget must be at least as strict as :data:`course_utils.capstone.CHALLENGE` relative to
    its reference (MACs <= 25%, gzip size <= 20%, latency <= 50% at batch 256, accuracy drop <= 1.5 points),
    and every constraint must pass. Given a model, the checker also compares it with the reference on the same
    test images (``metrics.compare``): a measured drop over 1.5 points still passes when the paired 95%
    interval of the drop reaches 1.5 points (within noise of the limit; the message says so), and a latency
    ratio over the limit is timed once more with twice the rounds before it counts (a busy machine only slows
    calls down). MAC and gzip limits are exact. ``fast=True`` (the notebook's FAST smoke test, too little
    training to reach the accuracy) prints the accuracy drop without judging it.
    """
    comparison = None
    if not isinstance(report, capstone.Report) and test is not None:
        from .. import metrics

        model = report
        try:
            metrics.framework_of(model)
        except TypeError:
            return _fail(f"expected your pruned model (a PyTorch or Keras model), got {type(model).__name__}",
                         "capstone_model must be the model itself, e.g. the result of your last fine-tuning.")
        if budget is None or reference is None:
            return _fail("pass the test data, the budget and the dense reference too",
                         "ex07.challenge(capstone_model, test, budget, dense)")
        try:
            report = capstone.score(model, test, budget, reference, **timing)
            if "latency_ratio" in report.failed:
                # A busy machine can only slow a call down: time again with twice the calls before concluding
                # (also when the accuracy fails too: FAST mode does not judge it, and the hint should name the
                # real misses only).
                print("latency over the limit: timing once more with twice as many rounds (other programs may "
                      "have slowed the first measurement) ...")
                more = dict(timing, latency_rounds=2 * int(timing.get("latency_rounds", 3)))
                report = capstone.score(model, test, budget, reference, **more)
            comparison = metrics.compare(metrics.correct(reference, *test), metrics.correct(model, *test),
                                         names=("dense", "yours"))
        except Exception as e:  # the learner's model may not fit the scorer
            return _fail(f"capstone.score could not measure your model: {type(e).__name__}: {e}",
                         "the model must take the same images as `dense` and return (N, 10) logits.")
        print(comparison)
    if not isinstance(report, capstone.Report):
        return _fail("expected your model (or the Report returned by capstone.score(...)), "
                     f"got {type(report).__name__}",
                     "ex07.challenge(capstone_model, test, budget, dense)")
    b = report.budget
    want = {
        "max_macs": math.floor(capstone.CHALLENGE["macs"] * report.reference_macs),
        "max_gzip_bytes": math.floor(capstone.CHALLENGE["gzip"] * report.reference_gzip_bytes),
        "max_latency_ratio": capstone.CHALLENGE["latency"],
        "max_accuracy_drop": capstone.CHALLENGE["max_accuracy_drop"],
    }
    loose = [f"{k} (yours {getattr(b, k)}, the challenge's {v})" for k, v in want.items()
             if getattr(b, k) is None or getattr(b, k) > v + 1e-12]
    if loose:
        return _fail("the report was scored against a budget looser than the challenge: " + "; ".join(loose),
                     "score with budget = capstone.challenge_budget(dense), built from the dense reference.")
    failed = [c for c in report.checks if not c.passed]
    noise = ""
    if fast and comparison is not None:
        failed = [c for c in failed if c.name != "accuracy_drop"]
        noise = (f" FAST mode: the accuracy drop ({report.accuracy_drop * 100:+.1f} points) is not judged — "
                 "run in full mode for the real score.")
    if comparison is not None and any(c.name == "accuracy_drop" for c in failed):
        lo, hi = comparison.difference_interval
        if lo <= b.max_accuracy_drop + 1e-12:  # the data do not show a drop beyond the limit
            failed = [c for c in failed if c.name != "accuracy_drop"]
            noise = (f" The measured drop is over {b.max_accuracy_drop * 100:.1f} points, but its 95% interval "
                     f"[{lo * 100:+.1f}, {hi * 100:+.1f}] reaches the limit: on 1,000 test images that is within "
                     "noise, so it counts — a smaller drop would be more convincing.")
    if failed:
        lines = "\n  ".join(f"{c.name}: {c.message}" for c in failed)
        return _fail(f"the budget is not met:\n  {lines}",
                     "MACs and latency only fall when neurons are removed (a smaller model); gzip size falls "
                     "with zeros. Combine both, then fine-tune.")
    return _ok(f"budget met with an accuracy drop of {report.accuracy_drop * 100:.2f} points "
               f"(MACs {report.mac_ratio:.0%}, gzip {report.gzip_ratio:.0%}, latency {report.latency_ratio:.0%} "
               "of the dense model)." + noise + " Can you make the drop smaller?")
