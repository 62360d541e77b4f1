"""course_utils.pruning_torch: masks, idempotent pruning, iterative schedule, sensitivity scan."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from course_utils import metrics, models_torch, schedules
from course_utils import pruning_torch as pt


@pytest.fixture
def mlp():
    return models_torch.mlp(hidden=(32, 16), seed=0)


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return x, y


def _n_weights(model):
    return sum(m.weight.numel() for m in pt.prunable_modules(model).values())


def test_prunable_modules(mlp):
    assert list(pt.prunable_modules(mlp)) == ["fc1", "fc2", "fc3"]
    assert list(pt.prunable_modules(mlp, ["fc2"])) == ["fc2"]
    with pytest.raises(ValueError, match="no prunable layer named"):
        pt.prunable_modules(mlp, ["fc9"])
    with pytest.raises(ValueError, match="no Linear"):
        pt.prunable_modules(nn.Sequential(nn.ReLU()))
    with pytest.raises(TypeError):
        pt.prunable_modules("model")
    assert list(pt.prunable_modules(nn.Linear(3, 2))) == ["Linear"]


@pytest.mark.parametrize("scope", ["global", "layer"])
@pytest.mark.parametrize("method", ["l1", "random"])
def test_prune_model_is_idempotent_and_grows(mlp, scope, method):
    s1 = pt.prune_model(mlp, 0.5, scope=scope, method=method)
    masks1 = {n: m.weight_mask.clone() for n, m in pt.prunable_modules(mlp).items()}
    assert s1 == pt.prune_model(mlp, 0.5, scope=scope, method=method)  # no stacking
    for n, m in pt.prunable_modules(mlp).items():
        assert torch.equal(m.weight_mask, masks1[n])
        assert type(m._forward_pre_hooks[next(iter(m._forward_pre_hooks))]).__name__ == "CustomFromMask"
    assert math.isclose(s1["total"], 0.5, abs_tol=1 / _n_weights(mlp))
    s2 = pt.prune_model(mlp, 0.8, scope=scope, method=method)
    assert math.isclose(s2["total"], 0.8, abs_tol=2 / _n_weights(mlp))
    for n, m in pt.prunable_modules(mlp).items():  # masks only grow
        assert not bool(((m.weight_mask != 0) & (masks1[n] == 0)).any())
    with pytest.raises(ValueError, match="cannot be undone"):
        pt.prune_model(mlp, 0.5, scope=scope, method=method)
    assert math.isclose(metrics.sparsity(mlp), s2["total"])


def test_global_prune_keeps_the_largest_weights(mlp):
    w = {n: m.weight.detach().abs().clone() for n, m in pt.prunable_modules(mlp).items()}
    per_layer = pt.global_prune(mlp, 0.6)
    every = torch.cat([v.flatten() for v in w.values()])
    t = every.kthvalue(round(0.6 * every.numel())).values
    for n, m in pt.prunable_modules(mlp).items():
        assert torch.equal(m.weight_mask.bool(), w[n] > t)
        assert math.isclose(per_layer[n], float((w[n] <= t).double().mean()), rel_tol=1e-6)
    # the forward pass uses the masked weight and weight is refreshed at once
    assert torch.equal(mlp.fc1.weight, mlp.fc1.weight_orig * mlp.fc1.weight_mask)


def test_layerwise_prune_hits_every_layer(mlp):
    s = pt.layerwise_prune(mlp, 0.75)
    for n, m in pt.prunable_modules(mlp).items():
        assert s[n] == round(0.75 * m.weight.numel()) / m.weight.numel()
    s = pt.layerwise_prune(models_torch.mlp(hidden=(32, 16)), {"fc1": 0.9, "fc3": 0.2})
    assert set(s) == {"fc1", "fc3", "total"} and math.isclose(s["fc1"], 0.9, abs_tol=1e-3)


def test_helpers_do_not_stack_on_torch_pruned_layers(mlp):
    prune.l1_unstructured(mlp.fc1, "weight", amount=0.2)
    prune.l1_unstructured(mlp.fc1, "weight", amount=0.2)  # torch stacks: 36 %
    rows = {r["layer"]: r for r in pt.describe_pruning(mlp)}
    assert rows["fc1"]["hook"] == "PruningContainer" and math.isclose(rows["fc1"]["sparsity"], 0.36, abs_tol=1e-3)
    assert not rows["fc2"]["pruned"] and rows["fc2"]["tensors"] == ["weight", "bias"]
    s = pt.layerwise_prune(mlp, 0.5, layers=["fc1"])
    assert math.isclose(s["fc1"], 0.5, abs_tol=1e-3)
    assert len([h for h in mlp.fc1._forward_pre_hooks.values() if isinstance(h, prune.BasePruningMethod)]) == 1
    x = torch.rand(4, 784)
    assert torch.allclose(mlp(x), mlp(x))


def test_random_method_is_seeded_and_differs_from_l1():
    a, b, c = (models_torch.mlp(hidden=(32, 16), seed=0) for _ in range(3))
    pt.global_prune(a, 0.5, method="random", seed=1)
    pt.global_prune(b, 0.5, method="random", seed=1)
    pt.global_prune(c, 0.5, method="l1")
    assert torch.equal(a.fc1.weight_mask, b.fc1.weight_mask)
    assert not torch.equal(a.fc1.weight_mask, c.fc1.weight_mask)


def test_magnitude_masks_leave_the_model_alone(mlp):
    before = copy.deepcopy(mlp.state_dict())
    masks = pt.magnitude_masks(mlp, 0.3)
    assert set(masks) == {"fc1", "fc2", "fc3"} and all(m.dtype == torch.bool for m in masks.values())
    assert all(torch.equal(before[k], v) for k, v in mlp.state_dict().items())
    assert not pt.is_pruned(mlp.fc1)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bad_amount(mlp, bad):
    with pytest.raises(ValueError, match="fraction in"):
        pt.global_prune(mlp, bad)


def test_bad_arguments(mlp):
    with pytest.raises(TypeError):
        pt.global_prune(mlp, "0.5")
    with pytest.raises(ValueError, match="scope"):
        pt.prune_model(mlp, 0.5, scope="model")
    with pytest.raises(ValueError, match="method"):
        pt.prune_model(mlp, 0.5, method="l2")
    with pytest.raises(ValueError, match="scope='layer'"):
        pt.prune_model(mlp, {"fc1": 0.5})
    with pytest.raises(ValueError, match="shape"):
        pt.apply_masks(mlp, {"fc1": torch.ones(3, 3, dtype=torch.bool)})
    pt.global_prune(mlp, 0.5)
    with pytest.raises(ValueError, match="bring back"):
        pt.apply_masks(mlp, {"fc1": torch.ones_like(mlp.fc1.weight_mask, dtype=torch.bool)})


def test_make_permanent(mlp):
    dense_bytes = metrics.serialized_size(mlp)
    pt.global_prune(mlp, 0.9)
    assert metrics.serialized_size(mlp) > dense_bytes  # weight_orig + weight_mask
    out = pt.make_permanent(mlp)
    assert out is mlp and not any(pt.is_pruned(m) for m in pt.prunable_modules(mlp).values())
    assert set(mlp.state_dict()) == set(models_torch.mlp(hidden=(32, 16)).state_dict())
    assert abs(metrics.serialized_size(mlp) - dense_bytes) < 200
    assert math.isclose(metrics.sparsity(mlp), 0.9, abs_tol=1e-3)
    assert metrics.gzip_size(mlp) < 0.5 * dense_bytes
    pt.make_permanent(mlp)  # nothing left to do: no error


def test_iterative_prune_follows_the_cubic_schedule(mlp):
    x, y = _data(256)
    seen = []
    orig = pt.prune_model

    def spy(model, amount, **kw):
        seen.append(amount)
        return orig(model, amount, **kw)

    pt.prune_model = spy
    try:
        hist = pt.iterative_prune(mlp, (x, y), final_sparsity=0.8, epochs=3, batch_size=32, frequency=2,
                                  progress=False)
    finally:
        pt.prune_model = orig
    total = 3 * 8
    end = 2 * total // 3 // 2 * 2
    steps = schedules.pruning_steps(begin_step=0, end_step=end, frequency=2)
    expected = [float(schedules.cubic_sparsity(int(t), initial_sparsity=0.0, final_sparsity=0.8, begin_step=0,
                                               end_step=end, frequency=2)) for t in steps]
    assert seen == pytest.approx(expected)
    assert hist.steps == total
    assert math.isclose(metrics.sparsity(mlp), 0.8, abs_tol=1 / _n_weights(mlp))
    assert pt.is_pruned(mlp.fc1)


def test_iterative_prune_rejects_bad_schedules(mlp):
    x, y = _data(64)
    with pytest.raises(ValueError, match="after the last training step"):
        pt.iterative_prune(mlp, (x, y), final_sparsity=0.5, epochs=1, end_step=100, progress=False)
    with pytest.raises(ValueError, match="final_sparsity"):
        pt.iterative_prune(mlp, (x, y), final_sparsity=1.0, epochs=1, progress=False)
    with pytest.raises(ValueError, match="too few"):
        pt.iterative_prune(mlp, (x, y), final_sparsity=0.5, epochs=1, frequency=10, progress=False)


def test_sensitivity_scan(mlp):
    x, y = _data(128, seed=1)
    before = copy.deepcopy(mlp.state_dict())
    res = pt.sensitivity_scan(mlp, (x, y), [0.0, 0.5, 0.99])
    assert set(res) == {"fc1", "fc2", "fc3"}
    for rows in res.values():
        assert rows["amount"] == [0.0, 0.5, 0.99] and len(rows["accuracy"]) == 3
        assert all(0 <= a <= 1 for a in rows["accuracy"])
    assert res["fc1"]["loss"][0] == res["fc3"]["loss"][0]  # amount 0 = the unpruned model
    assert all(torch.equal(before[k], v) for k, v in mlp.state_dict().items())
    with pytest.raises(TypeError):
        pt.sensitivity_scan(mlp, (x, y), 0.5)


def test_copy_model_works_after_torch_prune_calls(mlp):
    prune.global_unstructured([(mlp.fc1, "weight"), (mlp.fc2, "weight")], pruning_method=prune.L1Unstructured,
                              amount=0.5)
    assert not mlp.fc1.weight.is_leaf  # what makes copy.deepcopy fail (pytorch/pytorch #37322)
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(mlp)
    twin = pt.copy_model(mlp)
    assert torch.equal(twin.fc1.weight, mlp.fc1.weight) and pt.is_pruned(twin.fc1)
    x = torch.rand(3, 784)
    assert torch.equal(twin(x), mlp(x))
    res = pt.sensitivity_scan(mlp, _data(32), [0.9], layers=["fc3"])  # deep-copies internally
    assert res["fc3"]["amount"] == [0.9]


def test_random_scores_are_independent_of_the_seeded_init():
    """Regression: random pruning with seed 0 on a seed-0 model used the init's own random stream."""

    from course_utils import models_torch, pruning_torch

    model = models_torch.mlp(seed=0)
    masks = pruning_torch.magnitude_masks(model, 0.5, method="random", layers=["fc1"], seed=0)
    kept = model.fc1.weight.detach()[masks["fc1"].bool()]
    frac_negative = float((kept < 0).float().mean())
    assert 0.45 < frac_negative < 0.55, f"random pruning kept {frac_negative:.0%} negative weights"


def test_make_permanent_leaves_no_negative_zeros():
    import torch
    from torch.nn.utils import prune

    from course_utils import models_torch, pruning_torch

    model = models_torch.mlp(hidden=(30, 10), seed=0)
    prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    pruning_torch.make_permanent(model)
    w = model.fc1.weight.detach()
    zeros = w[w == 0]
    assert zeros.numel() > 0 and not torch.signbit(zeros).any()


def test_magnitude_masks_twin_contract(mlp):
    """The contract pruning_tf.magnitude_masks shares (issue 9, P1-4): argument amount, default scope="global",
    bool keep-masks (True = kept); apply_masks installs them persistently (torch.nn.utils.prune)."""
    default = pt.magnitude_masks(mlp, 0.6)
    explicit = pt.magnitude_masks(mlp, amount=0.6, scope="global", method="l1", layers=None, seed=0)
    assert all(m.dtype == torch.bool and torch.equal(m, explicit[n]) for n, m in default.items())
    total = sum(m.numel() for m in default.values())
    assert sum(int((~m).sum()) for m in default.values()) == round(0.6 * total)
    pt.apply_masks(mlp, default)
    assert all(pt.is_pruned(m) for m in pt.prunable_modules(mlp).values())  # a reparametrisation, not a multiply
    with pytest.raises(ValueError, match="scope"):
        pt.magnitude_masks(mlp, 0.5, scope="neuron")
    with pytest.raises(ValueError, match="scope='layer'"):
        pt.magnitude_masks(mlp, {"fc1": 0.5})
