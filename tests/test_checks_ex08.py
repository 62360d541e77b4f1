"""The self-checks of 08_lottery_ticket_pytorch accept the reference solutions and reject plausible wrong answers
(moved unchanged from test_checks_ex07)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils import prune

from course_utils.checks import ex08
from course_utils.checks._common import verdict


# ----------------------------------------------------------------------------- prune_round
def prune_round(masks, weights, rate):
    """Reference solution (as in the notebook)."""
    new = {}
    for name, mask in masks.items():
        mask = np.asarray(mask, dtype=bool)
        alive = np.flatnonzero(mask)
        k = int(round(rate * alive.size))
        magnitudes = np.abs(np.asarray(weights[name])).ravel()[alive]
        drop = alive[np.argsort(magnitudes, kind="stable")[:k]]
        keep = mask.ravel().copy()
        keep[drop] = False
        new[name] = keep.reshape(mask.shape)
    return new


def prune_round_ranks_zeros(masks, weights, rate):
    """Wrong: ranks |w * mask| over the whole layer, so already-pruned zeros are 'pruned' again."""
    new = {}
    for name, mask in masks.items():
        w = np.abs(weights[name] * mask)
        k = int(round(rate * mask.sum()))
        thr = np.sort(w.ravel())[k - 1] if k else -1
        new[name] = mask & (w > thr)
    return new


def prune_round_ignores_mask(masks, weights, rate):
    """Wrong: ranks raw |w|, so pruned weights with large stored values come back."""
    new = {}
    for name, mask in masks.items():
        w = np.abs(weights[name])
        k = int(round(rate * mask.sum()))
        new[name] = w > np.sort(w[mask])[k - 1] if k else mask.copy()
    return new


def prune_round_of_original(masks, weights, rate):
    """Wrong: removes rate x the layer's original size, not rate x what remains."""
    new = {}
    for name, mask in masks.items():
        alive = np.flatnonzero(mask)
        k = int(round(rate * mask.size))
        drop = alive[np.argsort(np.abs(weights[name]).ravel()[alive])[:k]]
        keep = mask.ravel().copy()
        keep[drop] = False
        new[name] = keep.reshape(mask.shape)
    return new


def prune_round_global(masks, weights, rate):
    """Wrong: one global threshold instead of layer-wise pruning."""
    alive_all = np.concatenate([np.abs(weights[n])[masks[n]] for n in masks])
    k = int(round(rate * alive_all.size))
    thr = np.sort(alive_all)[k - 1] if k else -1
    return {n: masks[n] & (np.abs(weights[n]) > thr) for n in masks}


def prune_round_in_place(masks, weights, rate):
    """Wrong: right masks, but overwrites the caller's masks."""
    new = prune_round(masks, weights, rate)
    for n in masks:
        masks[n][...] = new[n]
    return masks


def test_prune_round_accepts_reference(capsys):
    assert ex08.prune_round(prune_round) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [prune_round_ranks_zeros, prune_round_ignores_mask, prune_round_of_original,
                                   prune_round_global, prune_round_in_place])
def test_prune_round_rejects_wrong(wrong, capsys):
    assert verdict(ex08.prune_round, wrong) is False
    assert "✗" in capsys.readouterr().out


def test_prune_round_survives_a_crashing_answer(capsys):
    def boom(masks, weights, rate):
        raise KeyError("fc9")

    assert verdict(ex08.prune_round, boom) is False
    assert "KeyError" in capsys.readouterr().out


# ----------------------------------------------------------------------------- rewind
def rewind(model, init_state, masks):
    """Reference solution (as in the notebook)."""
    for name in masks:
        module = model.get_submodule(name)
        if prune.is_pruned(module):
            prune.remove(module, "weight")
    model.load_state_dict(init_state)
    for name, mask in masks.items():
        prune.custom_from_mask(model.get_submodule(name), "weight", torch.as_tensor(mask, dtype=torch.bool))
    return model


def rewind_zero_once(model, init_state, masks):
    """Wrong: zeroes the pruned weights once, without attaching masks (training revives them)."""
    for name in masks:
        module = model.get_submodule(name)
        if prune.is_pruned(module):
            prune.remove(module, "weight")
    model.load_state_dict(init_state)
    with torch.no_grad():
        for name, mask in masks.items():
            model.get_submodule(name).weight.mul_(torch.as_tensor(mask, dtype=torch.float32))
    return model


def rewind_weights_only(model, init_state, masks):
    """Wrong: rewinds the weights but leaves the trained biases."""
    for name, mask in masks.items():
        module = model.get_submodule(name)
        if prune.is_pruned(module):
            prune.remove(module, "weight")
        with torch.no_grad():
            module.weight.copy_(init_state[f"{name}.weight"])
        prune.custom_from_mask(module, "weight", torch.as_tensor(mask, dtype=torch.bool))
    return model


def rewind_load_only(model, init_state, masks):
    """Wrong: load_state_dict on a pruned model (keys weight_orig/weight_mask do not match) -> error."""
    model.load_state_dict(init_state)
    for name, mask in masks.items():
        prune.custom_from_mask(model.get_submodule(name), "weight", torch.as_tensor(mask, dtype=torch.bool))
    return model


def test_rewind_accepts_reference(capsys):
    assert ex08.rewind(rewind) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [rewind_zero_once, rewind_weights_only, rewind_load_only])
def test_rewind_rejects_wrong(wrong, capsys):
    assert verdict(ex08.rewind, wrong) is False
    assert "✗" in capsys.readouterr().out


# ----------------------------------------------------------------------------- reference solutions
def test_reference_prune_round_and_rewind_pass_their_checkers(capsys):
    assert ex08.prune_round(ex08.reference_prune_round) is True
    assert ex08.rewind(ex08.reference_rewind) is True
    assert capsys.readouterr().out.count("✓") == 2
