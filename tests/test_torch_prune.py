"""course_utils._torch_prune: the torch.nn.utils.prune bookkeeping every torch module shares (imports torch only)."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from course_utils import _torch_prune as tp
from course_utils import models_torch as mt
from course_utils import pruning_torch as pt
from course_utils import sparse_bench as sb
from course_utils import surgery_torch as st
from course_utils import train_torch


def negative_zeros(model: nn.Module) -> dict[str, int]:
    """``{parameter name: count of -0.0 entries}`` for parameters that have any."""
    out = {}
    for name, p in model.named_parameters():
        n = int(((p == 0) & torch.signbit(p)).sum())
        if n:
            out[name] = n
    return out


def test_public_names_are_re_exported_by_pruning_torch():
    assert pt.copy_model is tp.copy_model and pt.make_permanent is tp.make_permanent
    assert pt.effective_weight is tp.effective_weight and pt.is_pruned is tp.is_pruned


def test_effective_weight_is_current_even_when_weight_is_stale():
    model = mt.mlp(hidden=(30, 10), seed=0)
    prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    with torch.no_grad():
        model.fc1.weight_orig.mul_(2.0)  # an optimizer step: module.weight is now stale
    want = model.fc1.weight_orig.detach() * model.fc1.weight_mask
    assert not torch.equal(model.fc1.weight.detach(), want)
    assert torch.equal(tp.effective_weight(model.fc1), want) and torch.equal(tp.effective(model.fc1, "weight"), want)
    assert torch.equal(tp.effective(model.fc1, "bias"), model.fc1.bias.detach())  # not pruned: itself
    tp.refresh(model)
    assert torch.equal(model.fc1.weight.detach(), want)
    assert tp.is_pruned(model.fc1) and not tp.is_pruned(model.fc2) and not tp.is_pruned(model.fc1, "bias")
    assert tp.has_prune_hooks(model.fc1) and not tp.has_prune_hooks(model)  # the root itself has no hook
    with pytest.raises(TypeError):
        tp.is_pruned("fc1")


def test_copy_model_does_not_touch_its_argument_and_copies_the_current_weight():
    model = mt.mlp(hidden=(30, 10), seed=0)
    prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    with torch.no_grad():
        model.fc1.weight_orig.mul_(3.0)
    stale = model.fc1.weight
    assert not stale.is_leaf  # deepcopy refuses it
    twin = tp.copy_model(model)
    assert model.fc1.weight is stale  # the argument is unchanged (pruning_torch's old copy_model replaced it)
    assert torch.equal(twin.fc1.weight, tp.effective_weight(model.fc1)) and tp.is_pruned(twin.fc1)
    x = torch.rand(4, 784)
    assert torch.equal(twin(x), model(x))
    twin.fc1.weight_orig.data.zero_()
    assert model.fc1.weight_orig.abs().sum() > 0  # a real copy
    copy.deepcopy(tp.copy_model(nn.Linear(2, 2)))  # nothing pruned: a plain deepcopy


def test_make_permanent_normalises_negative_zeros_and_keeps_values():
    model = mt.mlp(hidden=(30, 10), seed=0)
    prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    prune.l1_unstructured(model.fc2, "weight", amount=0.5)
    want = tp.effective_weight(model.fc1).clone()
    assert tp.make_permanent(model) is model
    assert not any(tp.has_prune_hooks(m) for m in model.modules())
    assert torch.equal(model.fc1.weight.detach(), want)  # -0.0 == 0.0
    assert negative_zeros(model) == {}
    assert int((model.fc1.weight == 0).sum()) == want.numel() // 2


def test_surgery_copies_leave_no_negative_zeros():
    """Regression: surgery_torch baked masks in with a bare prune.remove, which leaves -0.0 (worse gzip)."""
    mlp = mt.mlp(hidden=(30, 10), seed=0)
    prune.l1_unstructured(mlp.fc1, "weight", amount=0.5)
    prune.l1_unstructured(mlp.fc2, "weight", amount=0.5)
    small = st.remove_units(mlp, "fc1", list(range(0, 30, 2)))
    assert small.fc1.out_features == 15 and (small.fc1.weight == 0).any() and (small.fc2.weight == 0).any()
    assert negative_zeros(small) == {}
    assert tp.is_pruned(mlp.fc1) and tp.is_pruned(mlp.fc2)  # the argument keeps its masks

    cnn = mt.small_cnn((8, 12), seed=0)
    prune.l1_unstructured(cnn.conv1, "weight", amount=0.5)
    prune.l1_unstructured(cnn.conv2, "weight", amount=0.5)
    thin = st.remove_channels(cnn, "conv1", [0, 2, 4, 6])
    assert thin.conv1.out_channels == 4 and (thin.conv2.weight == 0).any()
    assert negative_zeros(thin) == {}


def test_sparse_bench_copy_leaves_no_negative_zeros():
    """Regression: to_csr_model's permanent copy (its dense conv layers) kept -0.0 from prune.remove."""
    cnn = mt.small_cnn((8, 12), seed=0)
    prune.l1_unstructured(cnn.conv1, "weight", amount=0.5)
    prune.l1_unstructured(cnn.fc, "weight", amount=0.9)
    csr = sb.to_csr_model(cnn)
    assert isinstance(csr.fc, sb.CSRLinear) and (csr.conv1.weight == 0).any()
    assert negative_zeros(csr) == {}
    assert tp.is_pruned(cnn.conv1)  # the argument is not modified
    x = torch.rand(2, 1, 28, 28)
    cnn.eval()
    with torch.no_grad():
        torch.testing.assert_close(csr(x), cnn(x), rtol=1e-4, atol=1e-5)


def test_fit_leaves_weight_equal_to_the_effective_weight():
    model = mt.mlp(hidden=(30, 10), seed=0)
    pt.global_prune(model, 0.5)
    x = torch.rand(64, 784).numpy()
    y = torch.randint(0, 10, (64,)).numpy()
    train_torch.fit(model, (x, y), epochs=1, batch_size=32, progress=False)
    assert torch.equal(model.fc1.weight.detach(), tp.effective_weight(model.fc1))
