"""The self-checks of 12_shipping_a_pruned_model_pytorch accept the reference solutions and reject plausible
mistakes."""
from __future__ import annotations

import copy

import pytest
import torch
from torch.nn.utils import prune

from course_utils import models_torch
from course_utils.checks import ex12
from course_utils.checks._common import verdict


# ----------------------------------------------------------------------------- exercise 1
def by_prune_remove(model):
    clean = copy.deepcopy(model)
    for module in clean.modules():
        for name, _ in list(module.named_buffers(recurse=False)):
            if name.endswith("_mask"):
                prune.remove(module, name[: -len("_mask")])
    return clean.state_dict()


def test_deployable_state_dict_accepts_reference_and_prune_remove_on_a_copy(capsys):
    assert ex12.deployable_state_dict(ex12.reference_deployable_state_dict) is True
    assert ex12.deployable_state_dict(by_prune_remove) is True
    assert "✓" in capsys.readouterr().out


def remove_in_place(model):
    for name in ("fc1", "fc2"):
        prune.remove(getattr(model, name), "weight")
    return model.state_dict()


def orig_as_weight(model):
    return {k.replace("_orig", ""): v for k, v in model.state_dict().items() if not k.endswith("_mask")}


@pytest.mark.parametrize("wrong, hint", [
    (lambda m: m.state_dict(), "prune.remove"),
    (remove_in_place, "model.state_dict()"),
    (orig_as_weight, "before masking"),
    (lambda m: [1, 2], "dict of tensors"),
])
def test_deployable_state_dict_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex12.deployable_state_dict, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_deployable_state_dict_reports_placeholders(capsys):
    def todo(model):
        raise NotImplementedError

    assert ex12.deployable_state_dict(todo) is None
    assert ex12.deployable_state_dict() is None
    assert capsys.readouterr().out.count("not attempted") == 2


def test_reference_state_dict_loads_into_a_plain_model_and_keeps_the_zeros():
    model = models_torch.mlp(hidden=(10, 6), seed=1)
    with torch.no_grad():
        prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    sd = ex12.reference_deployable_state_dict(model)
    plain = models_torch.mlp(hidden=(10, 6))
    plain.load_state_dict(sd)
    assert float((plain.fc1.weight == 0).float().mean()) == pytest.approx(0.5, abs=0.01)
    assert hasattr(model.fc1, "weight_mask")  # the argument keeps its mask


# ----------------------------------------------------------------------------- exercise 2
def test_size_factors_accepts_reference(capsys):
    assert ex12.size_factors(ex12.reference_size_factors) is True
    assert "✓" in capsys.readouterr().out


def inverted(s):
    return {k: 1 / v for k, v in ex12.reference_size_factors(s).items()}


def int8_from_dense(s):
    f = ex12.reference_size_factors(s)
    return {**f, "quantization": s["dense_fp32_gzip"] / s["pruned_int8_gzip"]}


def pruning_from_file(s):
    f = ex12.reference_size_factors(s)
    return {**f, "pruning": s["dense_fp32"] / s["pruned_fp32_gzip"]}


@pytest.mark.parametrize("wrong, hint", [
    (inverted, "old size / new size"),
    (int8_from_dense, "pruned fp32 file"),
    (pruning_from_file, "gzip alone has its own factor"),
    (lambda s: {"total": 1.0}, "keys"),
])
def test_size_factors_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex12.size_factors, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_size_factors_reports_placeholders_and_non_functions(capsys):
    def todo(sizes):
        raise NotImplementedError

    assert ex12.size_factors(todo) is None
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex12.size_factors, 3.0) is False
    assert "ex12.size_factors(size_factors)" in capsys.readouterr().out
