"""Exercise checkers of 05_structured_pruning_pytorch accept the reference solutions and reject plausible mistakes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.checks import ex05
from course_utils.checks._common import verdict

tp = pytest.importorskip("torch_pruning")


# ----------------------------------------------------------------------------- exercise 1: L1 filter ranking
def keep_ref(weight, amount):
    l1 = weight.abs().flatten(1).sum(dim=1)
    n_remove = round(amount * weight.shape[0])
    return torch.sort(torch.argsort(l1)[n_remove:]).values


def test_filters_accepts_reference(capsys):
    assert ex05.filters_to_keep(keep_ref) is True
    assert "✓" in capsys.readouterr().out


def test_filters_accepts_unsorted_numpy():
    assert ex05.filters_to_keep(lambda w, a: keep_ref(w, a).numpy()[::-1].copy())


def test_filters_rejects_l2_ranking(capsys):
    def l2(weight, amount):
        n_remove = round(amount * weight.shape[0])
        return torch.sort(torch.argsort(weight.flatten(1).norm(dim=1))[n_remove:]).values

    assert verdict(ex05.filters_to_keep, l2) is False
    assert "L2 ranking" in capsys.readouterr().out


def test_filters_rejects_keeping_the_smallest(capsys):
    def smallest(weight, amount):
        n_keep = weight.shape[0] - round(amount * weight.shape[0])
        return torch.argsort(weight.abs().flatten(1).sum(dim=1))[:n_keep]

    assert verdict(ex05.filters_to_keep, smallest) is False
    assert "SMALLEST" in capsys.readouterr().out


def test_filters_rejects_truncation(capsys):
    def truncating(weight, amount):
        n_remove = int(amount * weight.shape[0])
        return torch.argsort(weight.abs().flatten(1).sum(dim=1))[n_remove:]

    assert verdict(ex05.filters_to_keep, truncating) is False
    assert "round(amount * n)" in capsys.readouterr().out


def test_filters_rejects_returning_removed(capsys):
    def removed(weight, amount):
        n_remove = round(amount * weight.shape[0])
        return torch.argsort(weight.abs().flatten(1).sum(dim=1))[:n_remove]

    assert verdict(ex05.filters_to_keep, removed) is False


# ----------------------------------------------------------------------------- exercise 2: fc columns
def columns_ref(keep_channels, spatial):
    keep = torch.sort(torch.as_tensor(keep_channels)).values
    return (keep[:, None] * spatial + torch.arange(spatial)[None, :]).flatten()


def test_columns_accepts_reference():
    assert ex05.fc_columns(columns_ref) is True
    assert ex05.fc_columns(lambda k, s: columns_ref(k, s).tolist())


def test_columns_rejects_nhwc_order(capsys):
    def nhwc(keep_channels, spatial):
        keep = sorted(torch.as_tensor(keep_channels).tolist())
        n = max(keep) + 1
        return np.array([p * n + c for p in range(spatial) for c in keep])

    assert verdict(ex05.fc_columns, nhwc) is False
    assert "NCHW" in capsys.readouterr().out


def test_columns_rejects_one_column_per_channel(capsys):
    assert verdict(ex05.fc_columns, lambda k, s: torch.as_tensor(k) * s) is False
    assert "owns" in capsys.readouterr().out


def test_columns_rejects_unsorted_channels(capsys):
    def unsorted(keep_channels, spatial):
        keep = torch.as_tensor(keep_channels)
        return (keep[:, None] * spatial + torch.arange(spatial)[None, :]).flatten()

    assert verdict(ex05.fc_columns, unsorted) is False
    assert "wrong order" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 3: dependency groups
def coupled_ref(model, layer_name, example_input):
    dg = tp.DependencyGraph().build_dependency(model, example_inputs=example_input)
    group = dg.get_pruning_group(model.get_submodule(layer_name), tp.prune_conv_out_channels, idxs=[0])
    names = {m: n for n, m in model.named_modules()}
    return sorted({names[dep.target.module] for dep, _ in group if dep.target.module in names})


def test_coupled_accepts_reference():
    assert ex05.coupled_layers(coupled_ref) is True


def test_coupled_rejects_the_layer_alone(capsys):
    assert verdict(ex05.coupled_layers, lambda model, name, x: [name]) is False
    assert "more than the layer itself" in capsys.readouterr().out


def test_coupled_rejects_next_layer_guess():
    def next_only(model, name, x):
        names = [n for n, _ in model.named_children()]
        return [name, names[names.index(name) + 1]]

    assert verdict(ex05.coupled_layers, next_only) is False


def test_coupled_rejects_pruning_the_model(capsys):
    def prunes(model, name, x):
        dg = tp.DependencyGraph().build_dependency(model, example_inputs=x)
        group = dg.get_pruning_group(model.get_submodule(name), tp.prune_conv_out_channels, idxs=[0])
        group.prune()
        return coupled_ref(model, name, x)

    assert verdict(ex05.coupled_layers, prunes) is False
    assert "pruned the model" in capsys.readouterr().out


# ----------------------------------------------------------------------------- reference solutions
def test_references_pass_their_checkers():
    assert ex05.filters_to_keep(ex05.reference_filters_to_keep) is True
    assert ex05.fc_columns(ex05.reference_fc_columns) is True
    assert ex05.coupled_layers(ex05.reference_coupled_layers) is True


def test_reference_filters_to_keep_matches_surgery_keep_indices():
    from course_utils import surgery_torch

    w = torch.from_numpy(np.random.default_rng(0).normal(size=(32, 3, 3, 3)).astype(np.float32))
    for amount in (0.25, 0.5, 0.625):
        np.testing.assert_array_equal(ex05.reference_filters_to_keep(w, amount).numpy(),
                                      surgery_torch.keep_indices(w.abs().flatten(1).sum(dim=1), amount))
