"""Exercise checkers of 04_neuron_pruning_pytorch accept the reference solutions and reject plausible mistakes."""
from __future__ import annotations

import torch
from torch import nn

from course_utils.checks import ex04
from course_utils.checks._common import verdict


# ----------------------------------------------------------------------------- exercise 1: APoZ
def apoz_ref(acts):
    dims = [d for d in range(acts.dim()) if d != 1]
    return (acts == 0).float().mean(dim=dims)


def test_apoz_accepts_reference(capsys):
    assert ex04.apoz(apoz_ref) is True
    assert "✓" in capsys.readouterr().out


def test_apoz_accepts_numpy_return():
    assert ex04.apoz(lambda a: apoz_ref(a).numpy())


def test_apoz_rejects_nonzero_fraction(capsys):
    assert verdict(ex04.apoz, lambda a: 1 - apoz_ref(a)) is False
    assert "NONzero" in capsys.readouterr().out


def test_apoz_rejects_linear_only_version(capsys):
    assert verdict(ex04.apoz, lambda a: (a == 0).float().mean(dim=0)) is False  # forgets positions of conv maps
    assert "shape" in capsys.readouterr().out


def test_apoz_rejects_counting_negatives():
    assert verdict(ex04.apoz, lambda a: (a <= 0.1).float().mean(dim=[d for d in range(a.dim()) if d != 1])) is False


def test_apoz_reports_not_implemented(capsys):
    def todo(acts):
        raise NotImplementedError

    assert ex04.apoz(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 2: shrink a pair
def shrink_ref(fc_a, fc_b, keep_idx):
    keep_idx = torch.as_tensor(keep_idx)
    new_a = nn.Linear(fc_a.in_features, len(keep_idx))
    new_b = nn.Linear(len(keep_idx), fc_b.out_features)
    with torch.no_grad():
        new_a.weight.copy_(fc_a.weight[keep_idx])
        new_a.bias.copy_(fc_a.bias[keep_idx])
        new_b.weight.copy_(fc_b.weight[:, keep_idx])
        new_b.bias.copy_(fc_b.bias)
    return new_a, new_b


def test_shrink_accepts_reference():
    assert ex04.shrink_linear_pair(shrink_ref) is True


def test_shrink_rejects_forgotten_bias(capsys):
    def no_bias(fc_a, fc_b, keep_idx):
        new_a, new_b = shrink_ref(fc_a, fc_b, keep_idx)
        with torch.no_grad():
            new_a.bias.copy_(torch.linspace(-1, 1, len(keep_idx)))  # left at "random init"
        return new_a, new_b

    assert verdict(ex04.shrink_linear_pair, no_bias) is False
    assert "bias" in capsys.readouterr().out


def test_shrink_rejects_rows_instead_of_columns(capsys):
    def rows(fc_a, fc_b, keep_idx):
        new_a, _ = shrink_ref(fc_a, fc_b, keep_idx)
        new_b = nn.Linear(fc_b.in_features, len(keep_idx))
        return new_a, new_b

    assert verdict(ex04.shrink_linear_pair, rows) is False
    assert "COLUMNS" in capsys.readouterr().out


def test_shrink_rejects_in_place_edits(capsys):
    def in_place(fc_a, fc_b, keep_idx):
        keep_idx = torch.as_tensor(keep_idx)
        with torch.no_grad():
            fc_a.weight = nn.Parameter(fc_a.weight[keep_idx])
            fc_a.bias = nn.Parameter(fc_a.bias[keep_idx])
            fc_a.out_features = len(keep_idx)
            fc_b.weight = nn.Parameter(fc_b.weight[:, keep_idx])
            fc_b.in_features = len(keep_idx)
        return fc_a, fc_b

    assert verdict(ex04.shrink_linear_pair, in_place) is False
    assert "modified" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 3: fold the bias
def fold_ref(fc_a, fc_b, keep_idx):
    keep_idx = torch.as_tensor(keep_idx)
    removed = torch.tensor([i for i in range(fc_a.out_features) if i not in set(keep_idx.tolist())], dtype=torch.long)
    new_a, new_b = shrink_ref(fc_a, fc_b, keep_idx)
    with torch.no_grad():
        new_b.bias += fc_b.weight[:, removed] @ torch.relu(fc_a.bias[removed])
    return new_a, new_b


def test_fold_accepts_reference():
    assert ex04.shrink_with_bias_fold(fold_ref) is True


def test_fold_rejects_plain_removal(capsys):
    assert verdict(ex04.shrink_with_bias_fold, shrink_ref) is False
    assert "relu(b_i)" in capsys.readouterr().out


def test_fold_rejects_missing_relu(capsys):
    def no_relu(fc_a, fc_b, keep_idx):
        keep_idx = torch.as_tensor(keep_idx)
        removed = torch.tensor([i for i in range(fc_a.out_features) if i not in set(keep_idx.tolist())],
                               dtype=torch.long)
        new_a, new_b = shrink_ref(fc_a, fc_b, keep_idx)
        with torch.no_grad():
            new_b.bias += fc_b.weight[:, removed] @ fc_a.bias[removed]
        return new_a, new_b

    assert verdict(ex04.shrink_with_bias_fold, no_relu) is False
    assert "instead of relu" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the "stuck?" references
def test_references_pass_their_checkers():
    assert ex04.apoz(ex04.reference_apoz) is True
    assert ex04.shrink_linear_pair(ex04.reference_shrink_linear_pair) is True
    assert ex04.shrink_with_bias_fold(ex04.reference_shrink_with_bias_fold) is True


def test_references_are_not_exported():
    assert not any(n.startswith("reference_") for n in ex04.__all__)
