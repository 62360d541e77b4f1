"""The self-checks of 09_shipping_a_pruned_model_pytorch accept the reference solutions and reject plausible
mistakes."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch.nn.utils import prune

from course_utils import metrics, models_torch
from course_utils.checks import ex09
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
    assert ex09.deployable_state_dict(ex09.reference_deployable_state_dict) is True
    assert ex09.deployable_state_dict(by_prune_remove) is True
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
    assert verdict(ex09.deployable_state_dict, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_deployable_state_dict_reports_placeholders(capsys):
    def todo(model):
        raise NotImplementedError

    assert ex09.deployable_state_dict(todo) is None
    assert ex09.deployable_state_dict() is None
    assert capsys.readouterr().out.count("not attempted") == 2


def test_reference_state_dict_loads_into_a_plain_model_and_keeps_the_zeros():
    model = models_torch.mlp(hidden=(10, 6), seed=1)
    with torch.no_grad():
        prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    sd = ex09.reference_deployable_state_dict(model)
    plain = models_torch.mlp(hidden=(10, 6))
    plain.load_state_dict(sd)
    assert float((plain.fc1.weight == 0).float().mean()) == pytest.approx(0.5, abs=0.01)
    assert hasattr(model.fc1, "weight_mask")  # the argument keeps its mask


# ----------------------------------------------------------------------------- exercise 2
def test_shrink_factors_accepts_reference_and_another_correct_answer(capsys):
    def by_quantile(weights, sparsity):  # a threshold instead of an exact count, quantized with np.clip
        flat = np.concatenate([np.abs(w).ravel() for w in weights.values()])
        cut = np.quantile(flat, sparsity)
        pruned = [np.where(np.abs(w) <= cut, 0, w).astype(np.float32) for w in weights.values()]
        dense = b"".join(np.asarray(w, np.float32).tobytes() for w in weights.values())
        fp32 = b"".join(w.tobytes() for w in pruned)
        int8 = b"".join(np.clip(np.round(w * 127 / np.abs(w).max()), -127, 127).astype(np.int8).tobytes()
                        for w in pruned)
        return {"pruning": metrics.gzip_bytes(dense) / metrics.gzip_bytes(fp32),
                "quantization": metrics.gzip_bytes(fp32) / metrics.gzip_bytes(int8)}

    assert ex09.shrink_factors(ex09.reference_shrink_factors) is True
    assert ex09.shrink_factors(by_quantile) is True
    assert "✓" in capsys.readouterr().out


def _variant(**kwargs):
    return lambda weights, sparsity: ex09._shrink(weights, sparsity, **kwargs)


def in_place(weights, sparsity):
    out = ex09.reference_shrink_factors(weights, sparsity)
    for w in weights.values():
        w[np.abs(w) < np.quantile(np.abs(w), sparsity)] = 0
    return out


def int8_from_dense(weights, sparsity):
    f = ex09.reference_shrink_factors(weights, sparsity)
    return {**f, "quantization": f["pruning"] * f["quantization"]}


@pytest.mark.parametrize("wrong, hint", [
    (lambda w, s: {k: 1 / v for k, v in ex09.reference_shrink_factors(w, s).items()}, "size before the step"),
    (_variant(compress=False), "gzipped sizes"),
    (int8_from_dense, "pruned fp32 weights"),
    (_variant(scaled=False), "divide by a scale"),
    (_variant(dtype=np.float64), "float32"),
    (lambda w, s: ex09.reference_shrink_factors(w, 1 - s), "not the fraction kept"),
    (_variant(per_layer=True), "global magnitude"),
    (in_place, "changed the weights"),
    (lambda w, s: {"pruning": 2.0, "quantization": 4.0}, "prune a copy"),
    (lambda w, s: {"total": 1.0}, "keys"),
    (lambda w, s: {"pruning": float("nan"), "quantization": 1.0}, "positive finite"),
])
def test_shrink_factors_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex09.shrink_factors, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_shrink_factors_reports_placeholders_and_non_functions(capsys):
    def todo(weights, sparsity):
        raise NotImplementedError

    assert ex09.shrink_factors(todo) is None
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex09.shrink_factors, 3.0) is False
    assert "ex09.shrink_factors(shrink_factors)" in capsys.readouterr().out


def test_reference_shrink_factors_crosses_over_with_sparsity_and_leaves_its_input():
    rng = np.random.default_rng(0)
    weights = {"a": (rng.standard_normal((64, 128)) * 0.05).astype(np.float32),
               "b": (rng.standard_normal((10, 64)) * 0.2).astype(np.float32)}
    before = {k: w.copy() for k, w in weights.items()}
    low, high = ex09.reference_shrink_factors(weights, 0.5), ex09.reference_shrink_factors(weights, 0.95)
    assert low["quantization"] > low["pruning"] > 1  # at 50 % int8 (4 bytes → 1) buys more than the zeros
    assert high["pruning"] > high["quantization"] > 1  # at 95 % the zeros buy more
    assert all(np.array_equal(before[k], weights[k]) for k in weights)
    assert ex09.reference_shrink_factors(weights, 0.0)["pruning"] == 1.0
    with pytest.raises(ValueError):
        ex09.reference_shrink_factors(weights, 1.0)


def test_reference_size_factors_multiply_to_the_total():
    sizes = {"dense_fp32": 1000, "dense_fp32_gzip": 500, "pruned_fp32_gzip": 250, "pruned_int8_gzip": 100}
    f = ex09.reference_size_factors(sizes)
    assert f == {"gzip": 2.0, "pruning": 2.0, "quantization": 2.5, "total": 10.0}
