"""Structured surgery (course_utils.surgery_torch): criteria, real removal of units and channels."""
from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from course_utils import models_torch as mt
from course_utils import surgery_torch as st


def images(n: int = 16, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, 1, 28, 28), generator=torch.Generator().manual_seed(seed))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return model(x)


def trained_bn_cnn(channels=(8, 12), seed=0) -> nn.Sequential:
    """A small CNN whose BatchNorm layers hold non-trivial statistics and affine parameters."""
    model = mt.small_cnn(channels, seed=seed)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(images(32, seed=1))
        for bn in (model.bn1, model.bn2):
            bn.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(2))
            bn.bias.uniform_(-0.2, 0.2, generator=torch.Generator().manual_seed(3))
    return model.eval()


# ----------------------------------------------------------------------------- keep_indices / ranking
def test_keep_indices_rounds_like_torch_prune_and_sorts():
    scores = np.array([5.0, 1.0, 3.0, 2.0, 4.0])
    assert st.keep_indices(scores, 0.4).tolist() == [0, 2, 4]  # removes the 2 smallest (1, 3)
    assert st.keep_indices(scores, 0.0).tolist() == [0, 1, 2, 3, 4]
    assert st.keep_indices(torch.tensor([1.0, 1.0, 2.0]), 1 / 3).tolist() == [1, 2]  # tie: lower index goes


@pytest.mark.parametrize("amount", [1.0, 1.2, -0.1])
def test_keep_indices_rejects_bad_amounts(amount):
    with pytest.raises(ValueError):
        st.keep_indices(np.ones(4), amount)


def test_keep_indices_rejects_bad_scores():
    with pytest.raises(ValueError):
        st.keep_indices(np.ones((2, 2)), 0.5)
    with pytest.raises(ValueError):
        st.keep_indices(np.array([1.0, np.nan]), 0.5)
    with pytest.raises(TypeError):
        st.keep_indices(np.ones(3), "half")


def test_l1_filter_norms_and_ranking():
    conv = nn.Conv2d(2, 3, 3)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0] = 1.0  # L1 18
        conv.weight[1] = -0.1  # L1 1.8
        conv.weight[2, 0] = 0.5  # L1 4.5
    assert np.allclose(st.l1_filter_norms(conv), [18.0, 1.8, 4.5])
    assert st.l1_filter_ranking(conv).tolist() == [1, 2, 0]
    with pytest.raises(TypeError):
        st.l1_filter_norms(nn.BatchNorm2d(3))


def test_filter_norms_reads_like_surgery_tf():
    """filter_norms(model, layer, p=1): a layer name or module of the model, float64 per output channel."""
    model = trained_bn_cnn()
    w = model.conv2.weight.detach().double().flatten(1)
    by_name = st.filter_norms(model, "conv2")
    assert by_name.dtype == np.float64 and by_name.shape == (12,)
    np.testing.assert_allclose(by_name, w.abs().sum(1).numpy())
    np.testing.assert_allclose(st.filter_norms(model, model.conv2, p=2), w.norm(dim=1).numpy())
    np.testing.assert_allclose(st.l1_filter_norms(model.conv2), by_name)  # the old, module-based form
    np.testing.assert_allclose(st.filter_norms(model, "fc", p=2), st.unit_scores(model, "fc", "l2"))
    with pytest.raises(ValueError, match="p must be 1"):
        st.filter_norms(model, "conv2", p=0)
    with pytest.raises(TypeError, match="Conv or Linear"):
        st.filter_norms(model, "bn1")
    with pytest.raises(ValueError, match="no layer named"):
        st.filter_norms(model, "conv9")


def test_unit_scores_and_layer_widths_twin_contract():
    """The criteria both twins share give float64 arrays of one score per unit; unknown ones a ValueError."""
    model = trained_bn_cnn()
    x = images(8)
    for criterion in ("l2", "l1", "mean_activation", "random"):
        got = st.unit_scores(model, "conv1", criterion, x, batch_size=4, seed=0)
        assert got.dtype == np.float64 and got.shape == (st.layer_widths(model)["conv1"],)
    np.testing.assert_array_equal(st.unit_scores(model, "conv1", "random", seed=3),
                                  np.random.default_rng(3).random(8))  # = surgery_tf.random_scores(8, 3)
    with pytest.raises(ValueError, match="criterion must be one of"):
        st.unit_scores(model, "conv1", "l3")
    with pytest.raises(ValueError, match="pass data="):
        st.unit_scores(model, "conv1", "mean_activation")


def test_layer_widths():
    assert st.layer_widths(mt.mlp()) == {"fc1": 300, "fc2": 100, "fc3": 10}
    assert st.layer_widths(mt.small_cnn((4, 6))) == {"conv1": 4, "conv2": 6, "fc": 10}


# ----------------------------------------------------------------------------- unit_scores
def test_weight_criteria_match_row_norms():
    model = mt.mlp((20, 10), seed=1)
    w = model.fc1.weight.detach().double()
    assert np.allclose(st.unit_scores(model, "fc1", "l2"), w.norm(dim=1).numpy())
    assert np.allclose(st.unit_scores(model, model.fc1, "l1"), w.abs().sum(dim=1).numpy())


def test_weight_criteria_read_masked_weights():
    model = mt.mlp((20, 10), seed=1)
    prune.ln_structured(model.fc1, "weight", amount=0.5, n=2, dim=0)
    scores = st.unit_scores(model, "fc1", "l2")
    assert (scores == 0).sum() == 10


def test_random_scores_are_seeded():
    model = mt.mlp((20, 10))
    a = st.unit_scores(model, "fc1", "random", seed=3)
    assert a.shape == (20,)
    assert np.array_equal(a, st.unit_scores(model, "fc1", "random", seed=3))
    assert not np.array_equal(a, st.unit_scores(model, "fc1", "random", seed=4))


def test_activation_criteria_on_a_hand_built_mlp():
    model = mt.mlp((3, 2), seed=0)
    with torch.no_grad():
        model.fc1.weight.zero_()
        model.fc1.bias.copy_(torch.tensor([-1.0, 2.0, 0.0]))  # unit 0 always 0, unit 1 always 2
        model.fc1.weight[2, 0] = 1.0  # unit 2 = relu(pixel 0)
    x = torch.zeros((4, 28, 28))
    x[:2, 0, 0] = torch.tensor([0.5, 1.0])  # pixel 0: 0.5, 1, 0, 0
    mean = st.unit_scores(model, "fc1", "mean_activation", x)
    assert np.allclose(mean, [0.0, 2.0, 0.375])
    apoz = st.unit_scores(model, "fc1", "apoz", x.numpy(), batch_size=3)  # score = 1 - APoZ
    assert np.allclose(apoz, [0.0, 1.0, 0.5])


def test_taylor_matches_autograd_by_hand():
    torch.manual_seed(0)
    model = mt.mlp((6, 4), seed=2)
    x = torch.rand((10, 784))
    y = torch.randint(0, 10, (10,))
    scores = st.unit_scores(model, "fc2", "taylor", (x, y), batch_size=4)
    z1 = torch.relu(model.fc1(x))
    a = torch.relu(model.fc2(z1))
    a.retain_grad()
    nn.functional.cross_entropy(model.fc3(a), y, reduction="sum").backward()
    expected = (a * a.grad).abs().mean(dim=0).detach().double().numpy()
    assert np.allclose(scores, expected, atol=1e-6)


def test_taylor_leaves_parameter_grads_alone_and_restores_mode():
    model = mt.mlp((6, 4), seed=2)
    model.train()
    st.unit_scores(model, "fc1", "taylor", (torch.rand(5, 784), torch.arange(5)))
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_conv_channel_scores_average_over_positions():
    model = trained_bn_cnn()
    x = images(8)
    for crit in ("mean_activation", "apoz", "l2", "l1"):
        s = st.unit_scores(model, "conv1", crit, x)
        assert s.shape == (8,) and np.all(np.isfinite(s))
    s = st.unit_scores(model, "conv2", "taylor", (x, torch.arange(8)))
    assert s.shape == (12,) and np.all(s >= 0)
    # mean_activation of conv1 = mean of relu1's output per channel
    acts = []
    h = model.relu1.register_forward_hook(lambda m, i, o: acts.append(o))
    logits(model, x)
    h.remove()
    expected = acts[0].mean(dim=(0, 2, 3)).numpy()
    assert np.allclose(st.unit_scores(model, "conv1", "mean_activation", x), expected, atol=1e-6)


def test_unit_scores_errors():
    model = mt.mlp((6, 4))
    with pytest.raises(ValueError, match="criterion"):
        st.unit_scores(model, "fc1", "magic")
    with pytest.raises(ValueError, match="data"):
        st.unit_scores(model, "fc1", "apoz")
    with pytest.raises(ValueError, match="labels"):
        st.unit_scores(model, "fc1", "taylor", torch.rand(3, 784))
    with pytest.raises(ValueError, match="no layer named"):
        st.unit_scores(model, "fc9", "l2")
    with pytest.raises(TypeError):
        st.unit_scores(model, "relu1", "l2")
    with pytest.raises(ValueError, match="activation"):
        st.unit_scores(model, "fc3", "apoz", torch.rand(3, 784))
    with pytest.raises(TypeError):
        st.unit_scores(model, "fc1", "apoz", torch.zeros(3, 784, dtype=torch.int64))
    with pytest.raises(TypeError):
        st.unit_scores([model], "fc1", "l2")


# ----------------------------------------------------------------------------- remove_units
def test_remove_units_equals_structured_mask_of_weight_and_bias():
    model = mt.mlp(seed=0)
    with torch.no_grad():
        model.fc1.bias.uniform_(-0.1, 0.1)
    masked = mt.mlp(seed=0)
    masked.load_state_dict(model.state_dict())
    prune.ln_structured(masked.fc1, "weight", amount=0.5, n=2, dim=0)
    row_mask = masked.fc1.weight_mask[:, 0].clone()
    prune.custom_from_mask(masked.fc1, "bias", row_mask)
    small = st.remove_units(masked, "fc1", row_mask.bool())
    assert small.fc1.weight.shape == (150, 784) and small.fc2.weight.shape == (100, 150)
    x = images(20)
    assert torch.allclose(logits(small, x), logits(masked, x), atol=1e-5)
    # the argument is untouched (still masked, dense shapes)
    assert hasattr(masked.fc1, "weight_mask") and masked.fc1.weight_orig.shape == (300, 784)
    assert not hasattr(small.fc1, "weight_mask")


def test_remove_units_counts_parameters_and_keeps_order():
    model = mt.mlp((300, 100), seed=0)
    keep1 = st.keep_indices(st.unit_scores(model, "fc1", "l2"), 0.5)
    small = st.remove_units(model, "fc1", keep1[::-1].copy())  # any order: used sorted
    small = st.remove_units(small, "fc2", np.arange(50))
    assert st.layer_widths(small) == {"fc1": 150, "fc2": 50, "fc3": 10}
    assert n_params(small) == 784 * 150 + 150 + 150 * 50 + 50 + 50 * 10 + 10
    assert torch.equal(small.fc1.weight, model.fc1.weight[torch.as_tensor(keep1)])
    assert torch.equal(small.fc2.weight, model.fc2.weight[:50][:, torch.as_tensor(keep1)])
    assert n_params(model) == 266_610


def test_removing_units_equals_zeroing_their_outgoing_weights():
    model = mt.mlp((12, 8), seed=3)
    keep = [0, 2, 3, 7, 11]
    zeroed = mt.mlp((12, 8), seed=3)
    with torch.no_grad():
        drop = [i for i in range(12) if i not in keep]
        zeroed.fc2.weight[:, drop] = 0
    x = images(10)
    assert torch.allclose(logits(st.remove_units(model, "fc1", keep), x), logits(zeroed, x), atol=1e-6)


def test_remove_units_slices_batchnorm1d_between_linears():
    model = nn.Sequential(OrderedDict(
        flatten=nn.Flatten(), fc1=nn.Linear(784, 6), bn=nn.BatchNorm1d(6), act=nn.ReLU(), drop=nn.Dropout(0.1),
        fc2=nn.Linear(6, 3)))
    model.train()
    with torch.no_grad():
        model(images(8).reshape(8, -1))
    model.eval()
    small = st.remove_units(model, "fc1", [1, 4])
    assert small.bn.num_features == 2 and torch.equal(small.bn.running_mean, model.bn.running_mean[[1, 4]])
    import copy

    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        zeroed.fc2.weight[:, [0, 2, 3, 5]] = 0
    x = images(5)
    assert torch.allclose(logits(small, x), logits(zeroed, x), atol=1e-6)


def test_remove_units_errors():
    model = mt.mlp((6, 4))
    with pytest.raises(ValueError, match="last Linear"):
        st.remove_units(model, "fc3", [0, 1])
    with pytest.raises(ValueError, match="empty"):
        st.remove_units(model, "fc1", [])
    with pytest.raises(ValueError, match=r"\[0, 5\]"):
        st.remove_units(model, "fc1", [0, 6])
    with pytest.raises(ValueError, match="duplicates"):
        st.remove_units(model, "fc1", [1, 1])
    with pytest.raises(ValueError, match="shape"):
        st.remove_units(model, "fc1", np.array([True, False]))
    with pytest.raises(TypeError):
        st.remove_units(model, "fc1", [0.5, 1.5])
    with pytest.raises(TypeError, match="remove_channels"):
        st.remove_units(mt.small_cnn((4, 4)), "conv1", [0])
    with pytest.raises(ValueError, match="not a layer of the model"):
        st.remove_units(model, nn.Linear(3, 3), [0])


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_in = nn.Conv2d(1, 4, 3, padding=1)
        self.conv_a = nn.Conv2d(4, 4, 3, padding=1)
        self.conv_b = nn.Conv2d(4, 4, 3, padding=1)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 28 * 28, 10))

    def forward(self, x):
        h = torch.relu(self.conv_in(x))
        return self.head(h + self.conv_b(torch.relu(self.conv_a(h))))


def test_surgery_refuses_models_it_cannot_see_through():
    with pytest.raises(TypeError, match="DependencyGraph"):
        st.remove_channels(Residual(), "conv_a", [0, 1])
    with pytest.raises(NotImplementedError):  # LayerNorm between: not handled
        st.remove_units(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2)), "0", [0])


# ----------------------------------------------------------------------------- remove_channels
def test_remove_channels_conv1_slices_bn_and_next_conv():
    model = trained_bn_cnn()
    keep = [0, 3, 4, 7]
    small = st.remove_channels(model, "conv1", keep)
    assert small.conv1.weight.shape == (4, 1, 3, 3) and small.conv1.bias.shape == (4,)
    assert small.bn1.num_features == 4 and torch.equal(small.bn1.running_var, model.bn1.running_var[keep])
    assert small.conv2.weight.shape == (12, 4, 3, 3)
    assert torch.equal(small.conv2.weight, model.conv2.weight[:, keep])
    # equivalent to cutting those channels' outgoing weights in the dense model
    import copy

    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        zeroed.conv2.weight[:, [1, 2, 5, 6]] = 0
    x = images(6)
    assert torch.allclose(logits(small, x), logits(zeroed, x), atol=1e-5)
    assert model.conv1.out_channels == 8  # argument untouched


def test_remove_channels_conv2_slices_fc_columns_in_nchw_order():
    model = trained_bn_cnn()
    keep = np.array([11, 2, 5])  # unsorted on purpose
    small = st.remove_channels(model, model.conv2, keep)
    assert small.bn2.num_features == 3 and small.fc.in_features == 3 * 49
    cols = np.concatenate([np.arange(c * 49, c * 49 + 49) for c in sorted(keep)])
    assert torch.equal(small.fc.weight, model.fc.weight[:, torch.as_tensor(cols)])
    import copy

    zeroed = copy.deepcopy(model)
    with torch.no_grad():
        for c in set(range(12)) - set(keep.tolist()):
            zeroed.fc.weight[:, c * 49:(c + 1) * 49] = 0
    x = images(6)
    assert torch.allclose(logits(small, x), logits(zeroed, x), atol=1e-5)


def test_remove_channels_of_a_masked_conv_equals_the_mask():
    import copy

    model = trained_bn_cnn()
    ref = copy.deepcopy(model)
    prune.ln_structured(model.conv2, "weight", amount=0.5, n=1, dim=0)
    prune.custom_from_mask(model.conv2, "bias", model.conv2.weight_mask[:, 0, 0, 0])
    keep = model.conv2.weight_mask.flatten(1).any(dim=1)
    small = st.remove_channels(model, "conv2", keep)  # works right after pruning (non-leaf weight)
    assert small.conv2.out_channels == 6 and not hasattr(small.conv2, "weight_mask")
    assert hasattr(model.conv2, "weight_mask")
    # A masked channel still outputs BN(0) = beta - gamma*mean/sqrt(var), a constant feature map.
    # Removing the channel equals the dense model with that channel's fc columns cut.
    with torch.no_grad():
        for c in torch.nonzero(~keep).flatten().tolist():
            ref.fc.weight[:, c * 49:(c + 1) * 49] = 0
    x = images(4)
    assert torch.allclose(logits(small, x), logits(ref, x), atol=1e-5)


def test_remove_channels_errors():
    model = mt.small_cnn((4, 6))
    with pytest.raises(TypeError, match="remove_units"):
        st.remove_channels(model, "fc", [0])
    with pytest.raises(ValueError):
        st.remove_channels(model, "conv1", [4])
    grouped = nn.Sequential(nn.Conv2d(4, 4, 3, groups=2), nn.Conv2d(4, 2, 1))
    with pytest.raises(NotImplementedError):
        st.remove_channels(grouped, "0", [0, 1])
    with pytest.raises(ValueError, match="output"):
        st.remove_channels(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), "0", [0])
    with pytest.raises(NotImplementedError, match="Flatten"):
        st.remove_channels(nn.Sequential(nn.Conv2d(1, 2, 1), nn.Linear(28, 3)), "0", [0])


def test_hand_surgery_agrees_with_torch_pruning():
    tp = pytest.importorskip("torch_pruning")
    model = trained_bn_cnn()
    keep1 = st.keep_indices(st.l1_filter_norms(model.conv1), 0.5)
    keep2 = st.keep_indices(st.l1_filter_norms(model.conv2), 0.5)  # ranked on the unpruned model
    by_hand = st.remove_channels(st.remove_channels(model, "conv1", keep1), "conv2", keep2)

    import copy

    lib = copy.deepcopy(model)
    imp = tp.importance.MagnitudeImportance(p=1, group_reduction="first", normalizer=None)
    pruner = tp.pruner.MagnitudePruner(lib, torch.rand(1, 1, 28, 28), importance=imp, pruning_ratio=0.5,
                                       ignored_layers=[lib.fc])
    pruner.step()
    hand_sd, lib_sd = by_hand.state_dict(), lib.state_dict()
    assert hand_sd.keys() == lib_sd.keys()
    for k in hand_sd:
        assert torch.equal(hand_sd[k], lib_sd[k]), k


# ----------------------------------------------------------------------------- BatchNorm scale, recalibration
def test_bn_scale_scores_read_gamma_of_the_following_batchnorm():
    model = trained_bn_cnn()
    for conv, bn in (("conv1", model.bn1), ("conv2", model.bn2)):
        expected = bn.weight.detach().abs().double().numpy()
        np.testing.assert_array_equal(st.bn_scale_scores(model, conv), expected)
        np.testing.assert_array_equal(st.bn_scale_scores(model, bn), expected)  # the BatchNorm itself
    with torch.no_grad():
        model.bn1.weight[0] = -3.0  # a negative gamma scales as strongly as a positive one
    assert st.bn_scale_scores(model, "conv1")[0] == 3.0


def test_bn_scale_scores_errors():
    model = trained_bn_cnn()
    with pytest.raises(ValueError, match="no BatchNorm follows"):
        st.bn_scale_scores(model, "fc")
    with pytest.raises(ValueError, match="no BatchNorm follows"):
        st.bn_scale_scores(mt.mlp((8,)), "fc1")
    with pytest.raises(TypeError, match="is a ReLU"):
        st.bn_scale_scores(model, "relu1")
    with pytest.raises(ValueError, match="no layer named"):
        st.bn_scale_scores(model, "conv9")
    with pytest.raises(ValueError, match="not a layer of the model"):
        st.bn_scale_scores(model, nn.BatchNorm2d(8))


def test_recalibrate_bn_matches_the_statistics_of_the_images():
    model = trained_bn_cnn()
    x = images(64, seed=5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.bn1.momentum = 0.3
    out = st.recalibrate_bn(model, x, batch_size=16)
    assert out is model and not model.training and model.bn1.momentum == 0.3 and model.bn2.momentum == 0.1
    with torch.no_grad():  # bn1's input is conv1's output: the mean of the per-batch means, as momentum=None gives
        z = model.conv1(x)
    batch_means = torch.stack([z[i: i + 16].mean(dim=(0, 2, 3)) for i in range(0, 64, 16)]).mean(0)
    torch.testing.assert_close(model.bn1.running_mean, batch_means, rtol=1e-5, atol=1e-6)
    assert int(model.bn1.num_batches_tracked) == 4
    for k, v in model.state_dict().items():  # weights untouched, statistics changed
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(v, before[k]), k
    assert not torch.equal(model.bn2.running_var, before["bn2.running_var"])
    again = {k: v.clone() for k, v in model.state_dict().items()}
    st.recalibrate_bn(model, x, batch_size=16)  # a fresh average: running it twice gives the same statistics
    assert all(torch.equal(v, again[k]) for k, v in model.state_dict().items())


def test_recalibrate_bn_leaves_dropout_off_and_restores_train_mode():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(),
                          nn.Linear(4 * 26 * 26, 3))
    model.train()
    st.recalibrate_bn(model, images(8), batch_size=4)
    assert all(m.training for m in model.modules())
    model.eval()
    a = st.recalibrate_bn(copy_of(model), images(8), batch_size=4)
    b = st.recalibrate_bn(copy_of(model), images(8), batch_size=4)
    assert torch.equal(a[1].running_var, b[1].running_var)  # no dropout noise reached the statistics


def copy_of(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model)


def test_recalibrate_bn_errors():
    with pytest.raises(ValueError, match="no BatchNorm"):
        st.recalibrate_bn(mt.mlp((8,)), images(8))
    with pytest.raises(ValueError, match="last batch of 1"):
        st.recalibrate_bn(trained_bn_cnn(), images(9), batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        st.recalibrate_bn(trained_bn_cnn(), images(8), batch_size=1)
    with pytest.raises(TypeError, match="float"):
        st.recalibrate_bn(trained_bn_cnn(), np.zeros((8, 28, 28), dtype=np.uint8))


# ----------------------------------------------------------------------------- residual blocks (depth)
def trained_residual(blocks: int = 4, seed: int = 0) -> nn.Module:
    """A residual MLP with random non-zero weights in every branch (as after training)."""
    model = mt.residual_mlp(width=16, blocks=blocks, seed=seed)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for block in model.blocks:
            block.fc2.weight.uniform_(-0.3, 0.3, generator=gen)
            block.fc2.bias.uniform_(-0.1, 0.1, generator=gen)
    return model.eval()


@pytest.mark.parametrize("k", [0, 2, 3])
def test_removing_a_block_equals_zeroing_its_residual_branch(k):
    from course_utils import metrics

    model = trained_residual()
    x = images(16)
    removed = st.remove_blocks(model, [k])
    zeroed = copy_of(model)
    with torch.no_grad():
        zeroed.blocks[k].fc2.weight.zero_()
        zeroed.blocks[k].fc2.bias.zero_()
    torch.testing.assert_close(logits(removed, x), logits(zeroed, x), rtol=0, atol=1e-5)
    assert len(removed.blocks) == 3 and len(model.blocks) == 4  # the argument is untouched
    block_macs = 2 * 16 * 16
    assert metrics.macs(model, (1, 28, 28)) - metrics.macs(removed, (1, 28, 28)) == block_macs
    assert torch.equal(removed.blocks[k if k < 3 else 2].fc1.weight, model.blocks[k + 1 if k < 3 else 2].fc1.weight)


def test_remove_blocks_keeps_order_and_allows_removing_all():
    model = trained_residual()
    x = images(8)
    two = st.remove_blocks(model, np.array([3, 1]))
    assert torch.equal(two.blocks[0].fc1.weight, model.blocks[0].fc1.weight)
    assert torch.equal(two.blocks[1].fc1.weight, model.blocks[2].fc1.weight)
    none = st.remove_blocks(model, [0, 1, 2, 3])
    expected = model.head(torch.relu(model.stem(x.flatten(1))))
    torch.testing.assert_close(logits(none, x), expected)
    same = st.remove_blocks(model, [])
    torch.testing.assert_close(logits(same, x), logits(model, x))


def test_remove_blocks_errors():
    model = trained_residual()
    with pytest.raises(ValueError, match="out of range"):
        st.remove_blocks(model, [4])
    with pytest.raises(ValueError, match="out of range"):
        st.remove_blocks(model, [-1])
    with pytest.raises(ValueError, match="distinct"):
        st.remove_blocks(model, [1, 1])
    with pytest.raises(TypeError, match="ints"):
        st.remove_blocks(model, [1.5])
    with pytest.raises(TypeError, match="list of block indices"):
        st.remove_blocks(model, 1)
    with pytest.raises(TypeError, match="residual_mlp"):
        st.remove_blocks(mt.mlp((8,)), [0])


def test_block_influence_is_one_minus_cosine_by_hand():
    model = trained_residual()
    x = images(12)
    scores = st.block_influence(model, (x, torch.zeros(12, dtype=torch.long)), batch_size=5)
    with torch.no_grad():
        h = torch.relu(model.stem(x.flatten(1))).double()
        expected = []
        for block in model.blocks:
            out = block.double()(h)
            block.float()
            expected.append(float((1 - nn.functional.cosine_similarity(h, out, dim=1)).mean()))
            h = out
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    assert scores.shape == (4,) and np.all((scores >= 0) & (scores <= 2))
    fresh = mt.residual_mlp(width=16, blocks=3)  # zero-initialised branches change nothing
    np.testing.assert_allclose(st.block_influence(fresh, x), 0.0, atol=1e-5)
    with pytest.raises(TypeError, match="residual_mlp"):
        st.block_influence(mt.mlp((8,)), x)
