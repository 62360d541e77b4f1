"""The self-checks of 10_capstone_pytorch accept the reference solutions and reject plausible wrong answers."""
from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.nn.utils import prune

from course_utils import capstone
from course_utils.checks import ex10
from course_utils.checks._common import verdict
from course_utils.models_torch import mlp


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
    assert ex10.prune_round(prune_round) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [prune_round_ranks_zeros, prune_round_ignores_mask, prune_round_of_original,
                                   prune_round_global, prune_round_in_place])
def test_prune_round_rejects_wrong(wrong, capsys):
    assert verdict(ex10.prune_round, wrong) is False
    assert "✗" in capsys.readouterr().out


def test_prune_round_survives_a_crashing_answer(capsys):
    def boom(masks, weights, rate):
        raise KeyError("fc9")

    assert verdict(ex10.prune_round, boom) is False
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
    assert ex10.rewind(rewind) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [rewind_zero_once, rewind_weights_only, rewind_load_only])
def test_rewind_rejects_wrong(wrong, capsys):
    assert verdict(ex10.rewind, wrong) is False
    assert "✗" in capsys.readouterr().out


# ----------------------------------------------------------------------------- challenge
def _fake_report(**changes) -> capstone.Report:
    ref_macs, ref_gzip = 266_200, 983_000
    budget = capstone.Budget(max_macs=ref_macs // 4, max_gzip_bytes=ref_gzip // 5, max_latency_ratio=0.5,
                             max_accuracy_drop=0.015)
    checks = (
        capstone.Check("gzip_bytes", 150_000, budget.max_gzip_bytes, True, "within budget"),
        capstone.Check("macs", 66_320, budget.max_macs, True, "within budget"),
        capstone.Check("latency_ratio", 0.3, 0.5, True, "within budget"),
        capstone.Check("accuracy_drop", 0.004, 0.015, True, "within budget"),
    )
    r = capstone.Report(
        framework="torch", budget=budget, accuracy=0.940, reference_accuracy=0.944, params=66_450,
        reference_params=266_610, nonzeros=40_000, reference_nonzeros=266_609, gzip_bytes=150_000,
        reference_gzip_bytes=ref_gzip, macs=66_320, reference_macs=ref_macs, latency_s=0.0003,
        reference_latency_s=0.001, latency_ratio=0.3, batch_size=256, n_test=1000, checks=checks)
    return replace(r, **changes)


def test_challenge_accepts_a_passing_report(capsys):
    assert ex10.challenge(_fake_report()) is True
    assert "✓" in capsys.readouterr().out


def test_challenge_rejects_failed_loose_or_wrong_objects(capsys):
    r = _fake_report()
    failing = replace(r, checks=(replace(r.checks[1], measured=266_200.0, passed=False, message="macs over"),
                                 *r.checks[2:]))
    assert verdict(ex10.challenge, failing) is False
    assert "macs" in capsys.readouterr().out
    lax = replace(r, budget=replace(r.budget, max_macs=r.reference_macs // 2))
    assert verdict(ex10.challenge, lax) is False
    assert "looser" in capsys.readouterr().out
    no_latency = replace(r, budget=capstone.Budget(max_macs=r.budget.max_macs, max_gzip_bytes=r.budget.max_gzip_bytes,
                                                   max_accuracy_drop=0.015))
    assert verdict(ex10.challenge, no_latency) is False
    assert verdict(ex10.challenge, {"passed": True}) is False


def test_challenge_with_a_real_score(capsys):
    """End to end: an untrained small MLP meets the size limits; the scorer and checker agree."""
    torch.manual_seed(0)
    dense, small = mlp(seed=0), mlp((64, 32), seed=0)
    x = np.random.default_rng(0).random((64, 28, 28), dtype=np.float32)
    y = np.zeros(64, dtype=np.int64)
    budget = capstone.challenge_budget(dense)
    report = capstone.score(small, (x, y), budget, dense, verbose=False)
    assert report.check("macs").passed and report.check("gzip_bytes").passed
    assert verdict(ex10.challenge, report) is report.passed
    copy.deepcopy(report)  # a plain frozen dataclass


# ----------------------------------------------------------------------------- reference solutions
def test_reference_prune_round_and_rewind_pass_their_checkers(capsys):
    assert ex10.prune_round(ex10.reference_prune_round) is True
    assert ex10.rewind(ex10.reference_rewind) is True
    assert capsys.readouterr().out.count("✓") == 2


def test_unsolved_challenge_is_not_attempted(capsys):
    from course_utils.data import load_mnist

    s = load_mnist()
    dense = mlp(seed=0)
    assert ex10.challenge(None, (s.x_test[:50], s.y_test[:50]), capstone.challenge_budget(dense), dense) is None
    assert "not attempted" in capsys.readouterr().out


def test_reference_capstone_model_passes_the_model_check(capsys, monkeypatch):
    """The reference solution, built on a small training subset, meets the challenge when scored by the checker.

    Latency is a benchmark, not a unit-test quantity (on a loaded CI machine a race can say anything): here the
    timing is replaced by a deterministic one, proportional to MACs, so the test checks the checker's logic."""
    from course_utils import metrics, timing, train_torch
    from course_utils.data import load_mnist

    def macs_as_latency(model, reference, shape, batch_size, rounds, repeats):
        m, r = metrics.macs(model, shape) * 1e-9, metrics.macs(reference, shape) * 1e-9
        return m, r, m / r, timing.PAIRED

    monkeypatch.setattr(capstone, "_latency", macs_as_latency)

    s = load_mnist().subsample(train=1000, seed=0)
    train, val, test = (s.x_train, s.y_train), (s.x_val, s.y_val), (s.x_test, s.y_test)
    dense = mlp(seed=0)
    train_torch.fit(dense, train, epochs=2, seed=0, progress=False)
    before = copy.deepcopy(dense.state_dict())
    model = ex10.reference_capstone_model(dense, train, val, 1, seed=0)
    assert all(torch.equal(before[k], v) for k, v in dense.state_dict().items())  # dense is not modified
    budget = capstone.challenge_budget(dense)
    assert ex10.challenge(model, test, budget, dense, latency_rounds=3, latency_repeats=10) is True
    out = capsys.readouterr().out
    assert "✓" in out and "dense − yours" in out  # the paired comparison is printed
    # a model that misses the MAC limit fails, with the report's hint
    assert verdict(ex10.challenge, mlp((150, 60), seed=0), test, budget, dense, latency_rounds=1,
                   latency_repeats=3) is False
    assert "macs" in capsys.readouterr().out


def test_challenge_times_again_when_latency_fails_with_the_accuracy_in_fast_mode(capsys, monkeypatch):
    """FAST mode: too little training fails the accuracy too, which is not judged; a latency over the limit must
    still be timed once more (a busy machine only slows calls down) instead of failing at the first race."""
    from course_utils import train_torch
    from course_utils.data import load_mnist

    calls = []

    def slow_then_quiet(model, reference, shape, batch_size, rounds, repeats):
        calls.append(rounds)
        ratio = 0.6 if len(calls) == 1 else 0.3  # the first race ran on a loaded machine
        return ratio * 1e-3, 1e-3, ratio, "paired"

    monkeypatch.setattr(capstone, "_latency", slow_then_quiet)
    s = load_mnist().subsample(train=1000, seed=0)
    test = (s.x_test[:200], s.y_test[:200])
    dense, small = mlp(seed=0), mlp((64, 32), seed=1)  # the small one untrained: a drop far over 1.5 points
    train_torch.fit(dense, (s.x_train, s.y_train), epochs=1, seed=0, progress=False)
    budget = capstone.challenge_budget(dense)
    assert ex10.challenge(small, test, budget, dense, fast=True, latency_rounds=3, latency_repeats=2) is True
    assert calls == [3, 6]  # timed again, with twice the rounds
    out = capsys.readouterr().out
    assert "timing once more" in out and "accuracy_drop" in out and "not judged" in out
