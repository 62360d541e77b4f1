"""course_utils.transformer_torch: the tiny ViT, one-shot pruning (magnitude, Wanda, SparseGPT, random) and head,
FFN-neuron and block surgery."""
from __future__ import annotations

import copy

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
    # The same pixel values in three layouts give the same patches, so the same float32 arithmetic; only a BLAS
    # kernel chosen by memory alignment could round differently, by a few float32 ulp (eps 1.2e-7) of logits O(1).
    for same in (images.reshape(24, 784), images[:, None]):
        assert torch.allclose(vit(same), out, rtol=1e-5, atol=1e-5)
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
    assert (tt.magnitude_mask(w, 0.25, per_row=True).sum(1) == 12).all()
    assert not (tt.magnitude_mask(w, 0.25).sum(1) == 12).all()  # per layer: the rows keep different counts
    # 2:4 groups lie within a row: per row or per layer is the same mask
    assert torch.equal(tt.magnitude_mask(w, "2:4", per_row=True), tt.magnitude_mask(w, "2:4"))
    assert not tt.two_four_ok(torch.ones(2, 8, dtype=torch.bool))
    with pytest.raises(ValueError, match="2:4"):
        tt.magnitude_mask(torch.randn(4, 6), "2:4")
    with pytest.raises(ValueError, match="sparsity"):
        tt.magnitude_mask(w, 1.5)
    with pytest.raises(ValueError, match="one entry per input"):
        tt.wanda_mask(w, torch.ones(3))


def test_wanda_equals_magnitude_per_row_for_equal_norms():
    # With every input norm equal, Wanda's score is |W| times a constant: Wanda is magnitude per row, and the
    # masks are equal exactly (multiplying by 2.0 is exact in floating point, so not even a tie can move).
    w = torch.randn(6, 8, generator=torch.Generator().manual_seed(4))
    keep = tt.wanda_mask(w, torch.full((8,), 2.0), 0.5)
    top = torch.zeros_like(keep).scatter_(1, torch.topk(w.abs(), 4, dim=1).indices, True)
    assert torch.equal(keep, top)
    assert torch.equal(keep, tt.magnitude_mask(w, 0.5, per_row=True))
    assert not torch.equal(keep, tt.magnitude_mask(w, 0.5))  # per layer differs: the comparison group


def test_damped_hessian():
    g = torch.Generator().manual_seed(6)
    x = torch.randn(50, 5, generator=g)
    x[:, 3] = 0.0  # an input that is always 0
    h = tt.damped_hessian(x, damp=0.1)
    raw = x.double().T @ x.double() / 50
    raw[3, 3] = 1.0
    # the same float64 operations in the same order: equal to the last bit
    assert h.dtype == torch.float64 and torch.equal(h, raw + 0.1 * torch.diag(raw).mean() * torch.eye(5, dtype=h.dtype))
    torch.linalg.cholesky(h)  # positive definite
    with pytest.raises(ValueError, match="damp"):
        tt.damped_hessian(x, damp=0)
    with pytest.raises(ValueError, match="in_features"):
        tt.damped_hessian(torch.ones(3))


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


def plain_sparsegpt(w: torch.Tensor, x: torch.Tensor, sparsity, *, block: int, lazy: bool = True) -> torch.Tensor:
    """SparseGPT written plainly, for comparison (float64): one column at a time, and for every column ``j`` the
    inverse Hessian of the columns still free, ``[H_F]⁻¹`` with ``F = j, j+1, …``, computed afresh with
    ``torch.linalg.inv`` (no Cholesky factor, no lazy batching of the updates). A pruned weight ``w[r, j]`` moves
    its row by the OBS update ``−(w[r, j] / [H_F⁻¹]_00) · H_F⁻¹[0, :]`` on the columns of ``F``.

    The mask comes from the saliency ``w² / [H_F⁻¹]_00`` of each column (with that column's own ``F``): for a
    fraction, at the start of each block of ``block`` columns, over the block's weights; for 2:4, for each group
    of 4 columns when the group is reached (``lazy``) or, as the earlier version of the course did, for the
    whole block at its start (``lazy=False``)."""
    w, h = w.double().clone(), tt.damped_hessian(x)
    rows, cols = w.shape
    den = torch.stack([torch.linalg.inv(h[j:, j:])[0, 0] for j in range(cols)])  # [H_F⁻¹]_jj for each column j
    prune = torch.zeros_like(w, dtype=torch.bool)
    for j in range(cols):
        if j % block == 0:
            sal = w[:, j:j + block] ** 2 / den[j:j + block]
            if sparsity != "2:4":
                k = round(sparsity * sal.numel())
                flat = torch.zeros(sal.numel(), dtype=torch.bool)
                flat[torch.argsort(sal.flatten(), stable=True)[:k]] = True
                prune[:, j:j + block] = flat.reshape(sal.shape)
            elif not lazy:
                for g in range(0, sal.shape[1], 4):
                    drop = torch.topk(sal[:, g:g + 4], 2, dim=1, largest=False).indices
                    prune[:, j + g:j + g + 4] = torch.zeros(rows, 4, dtype=torch.bool).scatter(1, drop, True)
        if sparsity == "2:4" and lazy and j % 4 == 0:
            sal = w[:, j:j + 4] ** 2 / den[j:j + 4]
            drop = torch.topk(sal, 2, dim=1, largest=False).indices
            prune[:, j:j + 4] = torch.zeros(rows, 4, dtype=torch.bool).scatter(1, drop, True)
        h_inv_f = torch.linalg.inv(h[j:, j:])
        for r in range(rows):
            if prune[r, j]:
                w[r, j:] -= w[r, j] / h_inv_f[0, 0] * h_inv_f[0, :]
                w[r, j] = 0.0
    return w


def test_sparsegpt_matches_a_plain_implementation():
    g = torch.Generator().manual_seed(7)
    x = (torch.randn(300, 16, generator=g) @ torch.randn(16, 16, generator=g)).double()
    w = torch.randn(10, 16, generator=g, dtype=torch.float64)
    # Both sides compute in float64 (eps 2.2e-16), the course's with one Cholesky factor, the plain one with an
    # explicit inverse per column. Either rounds by about cond(H) · eps per step, and 16 steps add up.
    cond = float(torch.linalg.cond(tt.damped_hessian(x)))
    tol = 16 * cond * 2.2e-16 * float(w.abs().max())
    assert tol < 1e-8  # a well-conditioned H (damped), so the tolerance stays far below any real difference
    for sparsity in (0.5, 0.25, "2:4"):
        got, plain = tt.sparsegpt_prune_layer(w, x, sparsity, block=8), plain_sparsegpt(w, x, sparsity, block=8)
        assert torch.equal(got == 0, plain == 0), sparsity  # the same mask
        assert torch.allclose(got, plain, rtol=0, atol=tol), (sparsity, float((got - plain).abs().max()), tol)
    # The 2:4 masks are chosen lazily, from the weights already updated: choosing a block's groups at its start
    # gives another mask on these data (so the test above tells the two apart).
    eager = plain_sparsegpt(w, x, "2:4", block=8, lazy=False)
    assert not torch.equal(eager == 0, tt.sparsegpt_prune_layer(w, x, "2:4", block=8) == 0)


def test_one_shot_prune_leaves_the_original_alone(vit, images):
    before = [p.clone() for p in vit.parameters()]
    inputs = tt.calibration_inputs(vit, images)
    assert inputs["blocks.0.ffn.fc2"].shape == (24 * 16, 64)
    for method in tt.METHODS:
        pruned = tt.one_shot_prune(vit, method, 0.5, inputs=inputs, seed=1)
        for layer in tt.prunable_layers(pruned).values():
            assert int((layer.weight == 0).sum()) == layer.weight.numel() // 2  # counts: exact
            if method in ("magnitude_rowwise", "wanda"):
                assert ((layer.weight == 0).sum(1) == layer.weight.shape[1] // 2).all()  # half of every row
        err = tt.reconstruction_errors(vit, pruned, inputs)
        assert set(err) == set(tt.prunable_layers(vit)) and all(v > 0 for v in err.values())
    assert all(torch.equal(p, q) for p, q in zip(before, vit.parameters()))
    with pytest.raises(ValueError, match="calibration"):
        tt.one_shot_prune(vit, "wanda", 0.5)
    with pytest.raises(ValueError, match="method"):
        tt.one_shot_prune(vit, "taylor", 0.5)


def test_surgery_equals_masking(vit, images):
    # Compared in float64: a sliced and a masked model add the same nonzero products in different orders, which
    # rounds differently by about (terms per sum) · eps relative; in float64 that is < 1e-13 on logits O(1),
    # so 1e-10 separates rounding from any real difference.
    def logits64(model):
        return copy.deepcopy(model).double()(images.double())

    heads = {0: [1, 3], 1: []}
    a, b = tt.remove_heads(vit, heads), tt.mask_heads(vit, heads)
    assert a.blocks[0].attn.q_proj.out_features == 16 and a.blocks[1].attn.n_heads == 0
    assert torch.allclose(logits64(a), logits64(b), rtol=0, atol=1e-10)
    neurons = {0: np.arange(10), 1: [0, 5, 63]}
    a, b = tt.remove_ffn_neurons(vit, neurons), tt.mask_ffn_neurons(vit, neurons)
    assert a.blocks[1].ffn.fc2.in_features == 3
    assert torch.allclose(logits64(a), logits64(b), rtol=0, atol=1e-10)
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


# ----------------------------------------------------------------------------- 2:4 on a GPU
def test_cuda_synced_times_like_the_model_on_a_cpu():
    """The wrapper of the GPU timing path, run where CI can run it: ``metrics.race`` reads the input's dtype and
    device through the wrapper, and the wrapper returns what the model returns."""
    lin = torch.nn.Linear(8, 4)
    x = torch.rand(3, 8)
    assert torch.equal(tt.CudaSynced(lin)(x), lin(x))  # the same call on the same tensor: the same bits
    race = metrics.race({"a": tt.CudaSynced(lin), "b": lin}, (8,), 16, rounds=2, repeats=2)
    assert race.speedup("b") > 0


@pytest.mark.skipif(tt.semi_structured_unavailable() is None, reason="2:4 kernels are available: see the CUDA test")
def test_two_four_gpu_race_says_why_it_cannot_run():
    why = tt.semi_structured_unavailable()
    assert "GPU" in why
    with pytest.raises(RuntimeError, match="cannot run here"):
        tt.two_four_gpu_race()


requires_sparse_tensor_cores = pytest.mark.skipif(
    tt.semi_structured_unavailable() is not None,
    reason=f"CUDA 2:4 sparse tensor cores: {tt.semi_structured_unavailable()}")


@requires_sparse_tensor_cores
def test_two_four_gpu_race_on_cuda():
    """Notebook 10's GPU cell: to_sparse_semi_structured, the synchronized wrapper and metrics.race, which builds
    its input from the dtype and device of the sparse tensor subclass, under inference_mode."""
    dense, sparse = tt._two_four_gpu_layers(512, torch.float16, 0)
    assert type(sparse.weight).__name__.startswith("SparseSemiStructuredTensor")
    x = torch.rand(256, 512, device="cuda", dtype=torch.float16)
    with torch.inference_mode():
        want, got = dense(x).float(), sparse(x).float()
    # Both round the output to fp16 (2^-11 ≈ 5e-4 relative) after summing the same products in another order;
    # 1 % of the output's norm allows that many times over, while a wrong layout or mask gives an O(1) error.
    assert float((got - want).norm() / want.norm()) < 1e-2
    race = tt.two_four_gpu_race(512, 256, rounds=2, repeats=2)
    assert race.names == ["dense", "2:4"] and race.speedup("2:4") > 0
