"""The exercise checkers of 03_regularization_and_early_stopping_pytorch accept the reference
solutions and reject plausible wrong answers."""
from __future__ import annotations

import copy
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import pruning_torch as pt
from course_utils.checks import ex03
from course_utils.checks._common import verdict


# --------------------------------------------------------------------------- free_sparsity
def _linear(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _global_copy(model, amount):
    """A copy with the round(amount * n) smallest |w| of all Linear weights (one ranking) set to zero."""
    out = copy.deepcopy(model)
    flat = torch.cat([m.weight.detach().abs().flatten() for m in _linear(out)])
    k = int(round(amount * flat.numel()))
    if k:
        drop = torch.argsort(flat, stable=True)[:k]
        keep = torch.ones_like(flat, dtype=torch.bool)
        keep[drop] = False
        start = 0
        with torch.no_grad():
            for m in _linear(out):
                n = m.weight.numel()
                m.weight.mul_(keep[start:start + n].reshape(m.weight.shape))
                start += n
    return out


def _acc(model, val):
    with torch.no_grad():
        return float((model(torch.as_tensor(val[0])).argmax(1).numpy() == val[1]).mean())


def _by_rule(layerwise=False, from_100=False, first_failure=False, in_place=False):
    def fn(model, val, amounts, max_drop):
        dense = 1.0 if from_100 else _acc(model, val)
        best = 0.0
        for a in amounts:
            if in_place:
                pt.global_prune(model, a)
                m = model
            elif layerwise:
                m = copy.deepcopy(model)
                pt.layerwise_prune(m, a)
            else:
                m = _global_copy(model, a)
            if dense - _acc(m, val) <= max_drop + 1e-9:
                best = max(best, float(a))
            elif first_failure:
                break
        return best
    return fn


def test_free_sparsity_accepts_reference_and_a_simple_solution(capsys):
    assert ex03.free_sparsity(ex03.reference_free_sparsity)
    assert ex03.free_sparsity(_by_rule())
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (_by_rule(layerwise=True), "layer-wise"),
    (_by_rule(from_100=True), "not from 100 %"),
    (_by_rule(in_place=True), "changed the model"),
    (lambda model, val, amounts, max_drop: 95.0, "fraction 0-1"),
    (lambda model, val, amounts, max_drop: 0.123, "one of the amounts"),
])
def test_free_sparsity_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex03.free_sparsity, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out, out


def test_free_sparsity_reports_placeholders_and_non_callables(capsys):
    def todo(model, val, amounts, max_drop):
        raise NotImplementedError

    assert ex03.free_sparsity(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex03.free_sparsity, 42) is False
    assert "pass your function itself" in capsys.readouterr().out


def test_reference_free_sparsity_leaves_the_model_alone_and_is_monotone_in_max_drop():
    from course_utils.models_torch import mlp
    model = mlp((16, 8), seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((200, 28, 28), dtype=np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).argmax(1).numpy()
    before = [m.weight.detach().clone() for m in _linear(model)]
    amounts = [0.2, 0.5, 0.8, 0.95]
    loose = ex03.reference_free_sparsity(model, (x, y), amounts, 0.5)
    strict = ex03.reference_free_sparsity(model, (x, y), amounts, 0.0)
    assert all(torch.equal(a, m.weight) for a, m in zip(before, _linear(model)))
    assert loose in amounts and strict in [0.0, *amounts] and loose >= strict


# --------------------------------------------------------------------------- l1_fate (Exercise 3)
def test_l1_fate_accepts_reference_and_a_variant(capsys):
    assert ex03.l1_fate(ex03.reference_l1_fate)
    # a variant: count whole steps with integer arithmetic on the ratio, return a numpy int and a list
    assert ex03.l1_fate(lambda w0, lr, lam: [np.int64(-(-abs(w0) // (lr * lam))), lr * lam])
    assert "✓" in capsys.readouterr().out


def test_reference_l1_fate_matches_torch_sgd():
    """The prediction is what torch.optim.SGD does to a weight on lam*|w| alone (float32)."""
    for w0, lr, lam in ((0.01, 0.05, 3e-4), (-0.00437, 0.1, 1e-3)):
        k, bound = ex03.reference_l1_fate(w0, lr, lam)
        w = nn.Parameter(torch.tensor([w0]))
        sgd = torch.optim.SGD([w], lr=lr)
        path = []
        for _ in range(k + 50):
            sgd.zero_grad()
            (lam * w.abs().sum()).backward()
            sgd.step()
            path.append(w.detach().item())
        path = np.array(path)
        first = int(np.argmax(np.sign(path) != np.sign(w0))) + 1
        assert first == k and np.abs(path[first:]).max() <= bound * (1 + 4 * 2.0 ** -24)


def test_reference_near_zero_fraction_pools_the_layers():
    w = {"big": np.r_[np.zeros(90), np.ones(10)], "small": -np.ones(10)}
    assert ex03.reference_near_zero_fraction(w, 0.5) == pytest.approx(90 / 110)


@pytest.mark.parametrize("wrong, hint", [
    (lambda w0, lr, lam: (math.floor(abs(w0) / (lr * lam)), lr * lam), "still on its own side"),
    (lambda w0, lr, lam: (math.ceil(w0 / (lr * lam)), lr * lam), "either side"),
    (lambda w0, lr, lam: (math.ceil(abs(w0) / (2 * lr * lam)), 2 * lr * lam), "2λw"),
    (lambda w0, lr, lam: (None, 0.0), "L2"),
    (lambda w0, lr, lam: (math.inf, 0.0), "L2"),
    (lambda w0, lr, lam: (math.ceil(abs(w0) / (lr * lam)), 0.0), "stop at 0"),
    (lambda w0, lr, lam: (math.ceil(abs(w0) / (lr * lam)), lr * lam / 2), "whatever w0"),
    (lambda w0, lr, lam: (math.ceil(abs(w0) / (lr * lam)), 2 * lr * lam), "2λw"),
    (lambda w0, lr, lam: (abs(w0) / (lr * lam), lr * lam), "whole number"),
    (lambda w0, lr, lam: math.ceil(abs(w0) / (lr * lam)), "pair"),
])
def test_l1_fate_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex03.l1_fate, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


# --------------------------------------------------------------------------- early_stopping_epoch
def test_early_stopping_epoch_accepts_reference(capsys):
    assert ex03.early_stopping_epoch(ex03.reference_early_stopping_epoch)
    assert "✓" in capsys.readouterr().out


def _argmin_plus_one(losses, patience):
    return int(np.argmin(losses)) + 1


def _zero_based(losses, patience):
    return ex03.reference_early_stopping_epoch(losses, patience) - 1


def _off_by_one_patience(losses, patience):
    return ex03.reference_early_stopping_epoch(losses, max(1, patience - 1))


def _ties_improve(losses, patience):
    best_epoch, best, waited = 0, math.inf, 0
    for epoch, loss in enumerate(losses, start=1):
        if loss <= best:
            best_epoch, best, waited = epoch, loss, 0
        else:
            waited += 1
            if waited >= patience:
                break
    return best_epoch


def _returns_stop_epoch(losses, patience):
    best = ex03.reference_early_stopping_epoch(losses, patience)
    return min(len(losses), best + patience)


@pytest.mark.parametrize("wrong, hint", [
    (_argmin_plus_one, "argmin"),
    (_zero_based, "numbered from 1"),
    (_off_by_one_patience, ""),
    (_ties_improve, ""),
    (_returns_stop_epoch, ""),
    (lambda losses, patience: float(ex03.reference_early_stopping_epoch(losses, patience)), "int"),
])
def test_early_stopping_epoch_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex03.early_stopping_epoch, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_reference_early_stopping_epoch_examples():
    ref = ex03.reference_early_stopping_epoch
    assert ref([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 3) == 2
    assert ref([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 4) == 6
    assert ref([0.9, 0.7, 0.6], 1) == 3


def test_checkers_do_not_import_tensorflow():
    code = "import sys, course_utils.checks.ex03; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
