"""The exercise checkers of 09_pruning_regularization_and_early_stopping_pytorch accept the reference
solutions and reject plausible wrong answers."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.checks import ex09
from course_utils.checks._common import verdict


# --------------------------------------------------------------------------- l1_penalty
def test_l1_penalty_accepts_reference_and_simple_solution(capsys):
    assert ex09.l1_penalty(ex09.reference_l1_penalty)

    def simple(model):
        return sum(m.weight.abs().sum() for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))

    assert ex09.l1_penalty(simple)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda m: sum(p.abs().sum() for p in m.parameters()), "biases"),
    (lambda m: sum(p.abs().sum() for n, p in m.named_parameters() if n.endswith("weight")), "BatchNorm"),
    (lambda m: sum(mod.weight.abs().mean() for mod in m.modules() if isinstance(mod, (nn.Linear, nn.Conv2d))),
     "mean"),
    (lambda m: ex09.reference_l1_penalty(m).item(), "tensor"),
    (lambda m: ex09.reference_l1_penalty(m).detach(), "gradient"),
    (lambda m: sum((mod.weight ** 2).sum() for mod in m.modules() if isinstance(mod, (nn.Linear, nn.Conv2d))), ""),
    (lambda m: torch.stack([mod.weight.abs().sum() for mod in m.modules() if isinstance(mod, nn.Linear)]), ""),
])
def test_l1_penalty_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex09.l1_penalty, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_l1_penalty_reports_exceptions_and_placeholders(capsys):
    def todo(model):
        raise NotImplementedError

    assert ex09.l1_penalty(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex09.l1_penalty, 42) is False
    assert "pass your function itself" in capsys.readouterr().out


def test_reference_l1_penalty_rejects_a_model_without_layers():
    with pytest.raises(ValueError, match="no Linear or Conv"):
        ex09.reference_l1_penalty(nn.Sequential(nn.ReLU()))


# --------------------------------------------------------------------------- near_zero_fraction
def test_near_zero_fraction_accepts_reference_and_a_variant(capsys):
    assert ex09.near_zero_fraction(ex09.reference_near_zero_fraction)

    def variant(weights, tol):
        n = sum(np.size(w) for w in weights.values())
        return sum(int((np.abs(w) < tol).sum()) for w in weights.values()) / n

    assert ex09.near_zero_fraction(variant)
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda ws, tol: float(np.mean([np.mean(np.abs(w) < tol) for w in ws.values()])), "per-layer"),
    (lambda ws, tol: float(np.mean(np.concatenate([w.ravel() for w in ws.values()]) < tol)), "absolute"),
    (lambda ws, tol: float(np.mean(np.abs(np.concatenate([w.ravel() for w in ws.values()])) < 1e-3)), ""),
    (lambda ws, tol: 100 * float(np.mean(np.abs(np.concatenate([w.ravel() for w in ws.values()])) < tol)), "fraction"),
    (lambda ws, tol: None, "number"),
])
def test_near_zero_fraction_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex09.near_zero_fraction, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


# --------------------------------------------------------------------------- early_stopping_epoch
def test_early_stopping_epoch_accepts_reference(capsys):
    assert ex09.early_stopping_epoch(ex09.reference_early_stopping_epoch)
    assert "✓" in capsys.readouterr().out


def _argmin_plus_one(losses, patience):
    return int(np.argmin(losses)) + 1


def _zero_based(losses, patience):
    return ex09.reference_early_stopping_epoch(losses, patience) - 1


def _off_by_one_patience(losses, patience):
    return ex09.reference_early_stopping_epoch(losses, max(1, patience - 1))


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
    best = ex09.reference_early_stopping_epoch(losses, patience)
    return min(len(losses), best + patience)


@pytest.mark.parametrize("wrong, hint", [
    (_argmin_plus_one, "argmin"),
    (_zero_based, "numbered from 1"),
    (_off_by_one_patience, ""),
    (_ties_improve, ""),
    (_returns_stop_epoch, ""),
    (lambda losses, patience: float(ex09.reference_early_stopping_epoch(losses, patience)), "int"),
])
def test_early_stopping_epoch_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex09.early_stopping_epoch, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_reference_early_stopping_epoch_examples():
    ref = ex09.reference_early_stopping_epoch
    assert ref([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 3) == 2
    assert ref([1.0, 0.5, 0.6, 0.7, 0.8, 0.3], 4) == 6
    assert ref([0.9, 0.7, 0.6], 1) == 3


def test_checkers_do_not_import_tensorflow():
    code = "import sys, course_utils.checks.ex09; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
