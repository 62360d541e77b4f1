"""course_utils.transformer_torch: the tiny ViT, one-shot pruning (magnitude, Wanda, SparseGPT, random) and head,
FFN-neuron and block surgery."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import metrics
from course_utils import transformer_torch as tt


@pytest.fixture(scope="module")
def vit():
    return tt.tiny_vit(32, 2, 4, 64, seed=3)


@pytest.fixture(scope="module")
def images():
    return torch.rand(24, 28, 28, generator=torch.Generator().manual_seed(0))


def test_shapes_inputs_and_counts(vit, images):
    out = vit(images)
    assert out.shape == (24, 10)
    assert torch.allclose(vit(images.reshape(24, 784)), out) and torch.allclose(vit(images[:, None]), out)
    assert metrics.count_params(vit) == sum(p.numel() for p in vit.parameters())
    # Linear MACs per token × 16 tokens, plus 2·16²·dim per block for q·kᵀ and att·v
    per_block = 16 * (4 * 32 * 32 + 2 * 32 * 64) + 2 * 16 * 16 * 32
    assert tt.vit_macs(vit) == 16 * 49 * 32 + 2 * per_block + 32 * 10
    with pytest.raises(ValueError, match="expects images"):
        vit(torch.rand(2, 27, 27))


def test_same_seed_same_model():
    a, b = tt.tiny_vit(seed=1), tt.tiny_vit(seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="multiple of heads"):
        tt.tiny_vit(dim=30, heads=4)


def test_patches_are_7x7_tiles(vit):
    x = torch.arange(784.0).reshape(1, 28, 28)
    p = vit.patches(x)
    assert p.shape == (1, 16, 49)
    assert torch.equal(p[0, 1], x[0, :7, 7:14].flatten()) and torch.equal(p[0, 4], x[0, 7:14, :7].flatten())


def test_masks_sparsity_and_pattern():
    w = torch.randn(8, 16, generator=torch.Generator().manual_seed(1))
    for fn in (lambda s: tt.magnitude_mask(w, s), lambda s: tt.random_mask(w, s, seed=2),
               lambda s: tt.wanda_mask(w, torch.rand(16), s)):
        assert int((~fn(0.5)).sum()) == 64
        assert tt.two_four_ok(fn("2:4"))
    assert (tt.wanda_mask(w, torch.rand(16), 0.25).sum(1) == 12).all()  # per row
    assert not tt.two_four_ok(torch.ones(2, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="2:4"):
        tt.magnitude_mask(torch.randn(4, 6), "2:4")
    with pytest.raises(ValueError, match="sparsity"):
        tt.magnitude_mask(w, 1.5)
    with pytest.raises(ValueError, match="one entry per input"):
        tt.wanda_mask(w, torch.ones(3))


def test_wanda_equals_magnitude_per_row_for_equal_norms():
    w = torch.randn(6, 8, generator=torch.Generator().manual_seed(4))
    keep = tt.wanda_mask(w, torch.full((8,), 2.0), 0.5)
    top = torch.zeros_like(keep).scatter_(1, torch.topk(w.abs(), 4, dim=1).indices, True)
    assert torch.equal(keep, top)


def test_sparsegpt_beats_masking_alone():
    g = torch.Generator().manual_seed(5)
    x = torch.randn(400, 16, generator=g) @ torch.randn(16, 16, generator=g)
    w = torch.randn(12, 16, generator=g)
    for sparsity in (0.5, "2:4"):
        w_hat = tt.sparsegpt_prune_layer(w, x, sparsity, block=8)
        assert int((w_hat == 0).sum()) == w.numel() // 2
        if sparsity == "2:4":
            assert tt.two_four_ok(w_hat != 0)
        err = lambda v: float((x @ (w - v).T).norm())  # noqa: E731
        assert err(w_hat) < err(w * tt.magnitude_mask(w, sparsity))
        assert err(w_hat) < err(w * tt.wanda_mask(w, x.norm(dim=0), sparsity))
    with pytest.raises(ValueError, match="in_features"):
        tt.sparsegpt_prune_layer(w, torch.randn(10, 5), 0.5)


def test_one_shot_prune_leaves_the_original_alone(vit, images):
    before = [p.clone() for p in vit.parameters()]
    inputs = tt.calibration_inputs(vit, images)
    assert inputs["blocks.0.ffn.fc2"].shape == (24 * 16, 64)
    for method in tt.METHODS:
        pruned = tt.one_shot_prune(vit, method, 0.5, inputs=inputs, seed=1)
        for layer in tt.prunable_layers(pruned).values():
            assert abs(float((layer.weight == 0).float().mean()) - 0.5) < 1e-6
        err = tt.reconstruction_errors(vit, pruned, inputs)
        assert set(err) == set(tt.prunable_layers(vit)) and all(v > 0 for v in err.values())
    assert all(torch.equal(p, q) for p, q in zip(before, vit.parameters()))
    with pytest.raises(ValueError, match="calibration"):
        tt.one_shot_prune(vit, "wanda", 0.5)
    with pytest.raises(ValueError, match="method"):
        tt.one_shot_prune(vit, "taylor", 0.5)


def test_surgery_equals_masking(vit, images):
    heads = {0: [1, 3], 1: []}
    a, b = tt.remove_heads(vit, heads), tt.mask_heads(vit, heads)
    assert a.blocks[0].attn.q_proj.out_features == 16 and a.blocks[1].attn.n_heads == 0
    assert torch.allclose(a(images), b(images), atol=1e-5)
    neurons = {0: np.arange(10), 1: [0, 5, 63]}
    a, b = tt.remove_ffn_neurons(vit, neurons), tt.mask_ffn_neurons(vit, neurons)
    assert a.blocks[1].ffn.fc2.in_features == 3
    assert torch.allclose(a(images), b(images), atol=1e-5)
    assert tt.vit_macs(a) < tt.vit_macs(vit)
    c = tt.remove_blocks(vit, [1])
    assert len(c.blocks) == 1 and len(vit.blocks) == 2
    with pytest.raises(ValueError, match="block"):
        tt.remove_blocks(vit, [5])
    with pytest.raises(ValueError, match="heads to keep"):
        tt.remove_heads(vit, {0: [7]})
    with pytest.raises(TypeError, match="TinyViT"):
        tt.remove_heads(torch.nn.Linear(2, 2), {})


def test_scores_shapes(vit, images):
    y = torch.randint(0, 10, (24,), generator=torch.Generator().manual_seed(0)).numpy()
    assert tt.head_loss_scores(vit, images, y).shape == (2, 4)
    assert tt.ffn_scores(vit, images).shape == (2, 64)
    bi = tt.block_influence(vit, images)
    assert bi.shape == (2,) and np.all(bi >= 0)
    with pytest.raises(ValueError, match="labels"):
        tt.head_loss_scores(vit, images, y[:3])
