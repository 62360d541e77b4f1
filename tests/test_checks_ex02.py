"""The self-checks of 02_weight_pruning_pytorch accept the reference solutions and reject plausible mistakes."""
from __future__ import annotations

import torch

from course_utils.checks import ex02
from course_utils.checks._common import verdict


def global_threshold(weights, amount):
    every = torch.cat([w.abs().flatten() for w in weights.values()])
    return every.kthvalue(round(amount * every.numel())).values.item()


def test_global_threshold_accepts_reference(capsys):
    assert ex02.global_threshold(global_threshold) is True
    assert "✓" in capsys.readouterr().out
    # a 0-d tensor is fine too
    assert ex02.global_threshold(lambda w, a: torch.tensor(global_threshold(w, a))) is True


def test_global_threshold_rejects_mistakes(capsys):
    def values(weights, amount):
        every = torch.cat([w.flatten() for w in weights.values()])
        return every.kthvalue(round(amount * every.numel())).values.item()

    def first_layer(weights, amount):
        w = next(iter(weights.values())).abs().flatten()
        return w.kthvalue(round(amount * w.numel())).values.item()

    def per_layer(weights, amount):
        return [w.abs().flatten().kthvalue(round(amount * w.numel())).values for w in weights.values()]

    def off_by_one(weights, amount):
        every = torch.cat([w.abs().flatten() for w in weights.values()])
        return every.kthvalue(round(amount * every.numel()) + 1).values.item()

    for wrong, words in [(values, "values"), (first_layer, "fc1"), (per_layer, "one number"),
                         (off_by_one, "off by one")]:
        assert verdict(ex02.global_threshold, wrong) is False
        assert words in capsys.readouterr().out


def test_mask_sparsity_accepts_reference_and_rejects_mistakes(capsys):
    assert ex02.mask_sparsity(ex02.reference_mask_sparsity) is True
    # unpruned layers reported as 0.0 are fine too
    assert ex02.mask_sparsity(lambda m: {n: float((x.weight_mask == 0).float().mean()) if hasattr(x, "weight_mask")
                                         else 0.0 for n, x in m.named_children() if hasattr(x, "weight")}) is True
    capsys.readouterr()

    def per_layer(model, of):
        return {n: float(of(x)) for n, x in model.named_modules() if hasattr(x, "weight_mask")}

    wrong = [
        (lambda m: per_layer(m, lambda x: (x.weight == 0).float().mean()), "zeros of the mask, not of the weights"),
        (lambda m: per_layer(m, lambda x: (x.weight_orig == 0).float().mean()), "weight_orig keeps every"),
        (lambda m: per_layer(m, lambda x: (x.weight_mask != 0).float().mean()), "density"),
        (lambda m: {n: float((x.weight == 0).float().mean()) for n, x in m.named_children() if hasattr(x, "weight")},
         "zeros of the mask"),
        (lambda m: 0.5, "expected a dict"),
        (lambda m: {"fc1": 0.5}, "no entry for"),
        (lambda m: {n: (x.weight_mask == 0).float().mean() for n, x in m.named_modules()
                    if hasattr(x, "weight_mask")}, "✓"),  # 0-d tensors are numbers too
    ]
    for fn, words in wrong:
        if words == "✓":
            assert ex02.mask_sparsity(fn) is True
        else:
            assert verdict(ex02.mask_sparsity, fn) is False
        assert words in capsys.readouterr().out, words


def test_emptiest_layer(capsys):
    from course_utils import models_torch

    dense = models_torch.mlp(seed=0)
    assert ex02.emptiest_layer(ex02.reference_predicted_layer, dense) is True
    assert "fc1" in capsys.readouterr().out
    for guess, words in [("fc3", "leaves fc1 the most sparse"), ("fc2", "fan-in"), ("conv1", "not one of"),
                         (3, "a layer name")]:
        assert verdict(ex02.emptiest_layer, guess, dense) is False
        assert words in capsys.readouterr().out
    assert ex02.emptiest_layer(None, dense) is None  # the learner edition's placeholder
    assert "not attempted" in capsys.readouterr().out
    assert ex02.emptiest_layer(" fc1 ", dense) is True  # stray spaces are fine


def test_second_amount(capsys):
    assert ex02.second_amount(lambda current, target: (target - current) / (1 - current)) is True
    capsys.readouterr()
    assert verdict(ex02.second_amount, lambda current, target: target - current) is False
    assert "fraction of *all* weights" in capsys.readouterr().out
    assert verdict(ex02.second_amount, lambda current, target: target) is False


def test_second_amount_reports_errors(capsys):
    def todo(current, target):
        raise NotImplementedError

    assert ex02.second_amount(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out


def _han_models():
    import copy

    from course_utils import models_torch, pruning_torch, train_torch

    dense = models_torch.mlp(seed=0)
    rng = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 784, generator=rng), torch.randint(0, 10, (64,), generator=rng)
    han = copy.deepcopy(dense)
    pruning_torch.layerwise_prune(han, dict(ex02.HAN_SPARSITY))
    train_torch.fit(han, (x.numpy(), y.numpy()), epochs=1, lr=1e-3, progress=False)
    return dense, han, (x.numpy(), y.numpy())


def test_han_recipe_accepts_reference(capsys):
    dense, han, _ = _han_models()
    assert ex02.han_recipe(han, dense) is True
    assert "✓" in capsys.readouterr().out


def test_han_recipe_rejects_mistakes(capsys):
    import copy

    from course_utils import pruning_torch, train_torch

    dense, han, data = _han_models()
    assert verdict(ex02.han_recipe, dense, dense) is False  # the dense model itself
    glob = copy.deepcopy(dense)  # global pruning to the same total: wrong per-layer sparsities
    pruning_torch.global_prune(glob, 0.918)
    train_torch.fit(glob, data, epochs=1, lr=1e-3, progress=False)
    assert verdict(ex02.han_recipe, glob, dense) is False
    unfit = copy.deepcopy(dense)  # right masks, no fine-tuning
    pruning_torch.layerwise_prune(unfit, dict(ex02.HAN_SPARSITY))
    assert verdict(ex02.han_recipe, unfit, dense) is False
    rnd = copy.deepcopy(dense)  # random instead of magnitude
    pruning_torch.layerwise_prune(rnd, dict(ex02.HAN_SPARSITY), method="random")
    train_torch.fit(rnd, data, epochs=1, lr=1e-3, progress=False)
    assert verdict(ex02.han_recipe, rnd, dense) is False
    out = capsys.readouterr().out
    assert "not fine-tuned" in out and "largest |w|" in out and "expected 92%" in out


def test_self_check_protocol(capsys, monkeypatch):
    """Not attempted prints one line and does not raise; wrong raises after the ✗ line; grading mode fails both."""
    import pytest

    from course_utils.checks._common import ExerciseFailed

    assert ex02.second_amount(None) is None
    assert "not attempted" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed):
        ex02.second_amount(lambda current, target: target)
    assert "✗" in capsys.readouterr().out
    assert ex02.second_amount(lambda c, t: (t - c) / (1 - c)) is True
    monkeypatch.setenv("COURSE_GRADING", "1")
    with pytest.raises(ExerciseFailed, match="not attempted"):
        ex02.second_amount(None)


def test_references_pass_their_checkers(capsys):
    """The notebook's main line and its "Stuck?" lines use these: they must pass the self-checks."""
    assert ex02.global_threshold(ex02.reference_global_threshold) is True
    assert ex02.second_amount(ex02.reference_second_amount) is True
    assert ex02.mask_sparsity(ex02.reference_mask_sparsity) is True
    dense, _, data = _han_models()
    assert ex02.emptiest_layer(ex02.reference_predicted_layer, dense) is True
    han = ex02.reference_han_recipe(dense, data, 1, 1e-3, seed=0)
    assert han is not dense and ex02.han_recipe(han, dense) is True
    assert capsys.readouterr().out.count("✓") == 5
    for name in ("reference_global_threshold", "reference_second_amount", "reference_han_recipe",
                 "reference_mask_sparsity"):
        assert name not in ex02.__all__ and getattr(ex02, name).__doc__


def test_han_recipe_missing_model_is_not_attempted(capsys):
    """The learner edition binds `han = None`: the self-check reports "not attempted" and does not raise."""
    from course_utils import models_torch

    assert ex02.han_recipe(None, models_torch.mlp(seed=0)) is None
    assert "not attempted" in capsys.readouterr().out
