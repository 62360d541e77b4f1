"""A tiny vision transformer and the one-shot and structured pruning methods used on LLMs
(introduced in 10_pruning_a_transformer_pytorch).

The model, :func:`tiny_vit`, cuts a 28×28 MNIST digit into 7×7 patches (16 tokens of 49 pixels), embeds each
patch, adds a learned position embedding and runs pre-LayerNorm transformer blocks — the layers of an LLM:

    h ← h + Attention(LN(h))      q_proj, k_proj, v_proj: dim → heads·head_dim; out_proj: heads·head_dim → dim
    h ← h + FFN(LN(h))            fc1: dim → hidden, GELU, fc2: hidden → dim

then averages the tokens and classifies them with ``head``. Each attention head and each FFN neuron owns
slices of these matrices, so removing one is slicing (:func:`remove_heads`, :func:`remove_ffn_neurons`), and a
block can be dropped whole (:func:`remove_blocks`): with the residual stream, a missing block is ``h ← h``.

One-shot unstructured pruning with calibration data (no retraining), as LLMs are pruned:

- magnitude: the smallest ``|W|`` of each layer (``"magnitude"``), or of each output row (``"magnitude_rowwise"``:
  the comparison group Wanda uses, so that Wanda and magnitude can be compared with one change at a time);
- Wanda (Sun et al., arXiv:2306.11695, 2023; ICLR 2024): score ``|W_ij| · ‖X_j‖₂`` (the norm of input feature
  ``j`` over all calibration tokens), compared within each output row ``i``;
- SparseGPT (Frantar & Alistarh 2023, arXiv:2301.00774), compact: from ``H = XᵀX`` (damped) and the upper
  Cholesky factor ``U`` of ``H⁻¹`` (``H⁻¹ = UᵀU``), choose the mask by the saliency ``w² / U_jj²`` and update
  the remaining weights of each row with the Optimal Brain Surgeon formula, column by column, in blocks of
  columns. ``U_jj² = [H_F⁻¹]_jj``, the inverse Hessian's diagonal entry for column ``j`` once the columns
  before it are fixed (``F`` = columns ``j, j+1, …``), so ``w² / U_jj²`` is the OBS saliency of that step;
- random, the control.

:func:`one_shot_prune` prunes every layer against the inputs of the **dense** model (the layer-wise problem,
every layer independent). The published Wanda and SparseGPT code runs block by block instead: each
transformer block is calibrated on the outputs of the blocks already pruned.

``sparsity`` is a fraction in [0, 1) of the weights of each pruned layer, or the string ``"2:4"`` (two of every
four consecutive weights of a row, along the input dimension: NVIDIA's semi-structured pattern). Only the
Linear layers inside the blocks are pruned; the patch embedding and the classifier stay dense, as the
embeddings and the output layer of an LLM usually do.
"""
from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import metrics
from ._validate import check_fraction, check_int, check_positive_number

__all__ = [
    "PATCH",
    "CudaSynced",
    "TinyViT",
    "block_influence",
    "calibration_inputs",
    "damped_hessian",
    "ffn_scores",
    "head_loss_scores",
    "head_mask_model",
    "magnitude_mask",
    "mask_ffn_neurons",
    "mask_heads",
    "one_shot_prune",
    "prunable_layers",
    "random_mask",
    "reconstruction_errors",
    "remove_blocks",
    "remove_ffn_neurons",
    "remove_heads",
    "semi_structured_unavailable",
    "sparsegpt_prune_layer",
    "tiny_vit",
    "two_four_gpu_race",
    "two_four_ok",
    "vit_macs",
    "wanda_mask",
]

PATCH = 7  #: patch side in pixels: 28×28 images give (28/7)² = 16 tokens of 49 pixels
METHODS = ("magnitude", "magnitude_rowwise", "wanda", "sparsegpt", "random")
SUBLAYERS = ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "ffn.fc1", "ffn.fc2")


# ----------------------------------------------------------------------------- the model
class Attention(nn.Module):
    """Multi-head self-attention with separate q/k/v/out projections (so heads can be sliced out).

    ``n_heads`` may become 0 after :func:`remove_heads`: the sub-layer then adds only ``out_proj``'s bias.
    """

    def __init__(self, dim: int, n_heads: int, head_dim: int):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, head_dim
        inner = n_heads * head_dim
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(dim, inner) for _ in range(3))
        self.out_proj = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        if self.n_heads == 0:
            return self.out_proj.bias.expand(b, t, -1)
        q, k, v = (p(x).view(b, t, self.n_heads, self.head_dim).transpose(1, 2)
                   for p in (self.q_proj, self.k_proj, self.v_proj))
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.head_dim), dim=-1)  # (b, heads, t, t)
        return self.out_proj((att @ v).transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim))


class FFN(nn.Module):
    """``fc2(GELU(fc1(x)))``; ``hidden`` may become 0 after :func:`remove_ffn_neurons` (then only fc2's bias)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fc1.out_features == 0:
            return self.fc2.bias.expand(*x.shape[:-1], -1)
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """A pre-LayerNorm transformer block: ``h + attn(ln1(h))``, then ``+ ffn(ln2(.))``."""

    def __init__(self, dim: int, n_heads: int, head_dim: int, hidden: int):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(dim), Attention(dim, n_heads, head_dim)
        self.ln2, self.ffn = nn.LayerNorm(dim), FFN(dim, hidden)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = h + self.attn(self.ln1(h))
        return h + self.ffn(self.ln2(h))


class PositionEmbedding(nn.LayerNorm):
    """A learned position embedding, one ``dim``-vector per token, added to the patch embeddings.

    Stored as the (elementwise-affine) parameters of a LayerNorm subclass only so that the course's metrics,
    which accept Linear, Conv and normalization layers, can measure the model; it normalizes nothing.
    """

    def __init__(self, tokens: int, dim: int):
        super().__init__((tokens, dim), elementwise_affine=True, bias=False)
        with torch.no_grad():
            self.weight.normal_(0.0, 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight


class TinyViT(nn.Module):
    """The course's vision transformer: see the module docstring and :func:`tiny_vit`.

    Attributes ``embed`` (Linear 49 → dim), ``pos`` (position embedding), ``blocks`` (``nn.ModuleList`` of
    :class:`Block`), ``norm`` (final LayerNorm) and ``head`` (Linear dim → 10). Accepts images ``(N, 28, 28)``,
    ``(N, 1, 28, 28)`` or ``(N, 784)``; returns logits ``(N, 10)``.
    """

    def __init__(self, dim: int, depth: int, n_heads: int, hidden: int, classes: int = 10):
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"dim={dim} must be a multiple of heads={n_heads}")
        self.tokens = (28 // PATCH) ** 2
        self.embed = nn.Linear(PATCH * PATCH, dim)
        self.pos = PositionEmbedding(self.tokens, dim)
        self.blocks = nn.ModuleList(Block(dim, n_heads, dim // n_heads, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Images → ``(N, 16, 49)``: the 7×7 patches in row-major order, each flattened row by row."""
        if x.dim() == 2 and x.shape[1] == 784:
            x = x.view(-1, 28, 28)
        if x.dim() == 4 and x.shape[1] == 1:
            x = x[:, 0]
        if x.dim() != 3 or x.shape[1:] != (28, 28):
            raise ValueError(f"TinyViT expects images (N, 28, 28), (N, 1, 28, 28) or (N, 784), got {tuple(x.shape)}")
        n, g = x.shape[0], 28 // PATCH
        return x.reshape(n, g, PATCH, g, PATCH).permute(0, 1, 3, 2, 4).reshape(n, g * g, PATCH * PATCH)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The residual stream after the last block, ``(N, 16, dim)``."""
        h = self.pos(self.embed(self.patches(x)))
        for block in self.blocks:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.features(x)).mean(dim=1))


def tiny_vit(dim: int = 64, depth: int = 4, heads: int = 4, hidden: int = 128, *, seed: int = 0) -> TinyViT:
    """A :class:`TinyViT`: 7×7 patches (16 tokens), ``depth`` blocks of ``heads`` heads of ``dim // heads``
    dimensions and an FFN of ``hidden`` neurons; weights drawn reproducibly from ``seed`` (PyTorch's default
    initialization under a forked RNG). The defaults have about 139k parameters (``metrics.count_params``).
    Introduced in 10_pruning_a_transformer_pytorch.
    """
    for name, v in (("dim", dim), ("heads", heads), ("hidden", hidden)):
        check_int(v, name, 1)
    check_int(depth, "depth", 0)
    check_int(seed, "seed", 0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TinyViT(dim, depth, heads, hidden)


def _check_vit(model: Any) -> TinyViT:
    if not isinstance(model, TinyViT):
        raise TypeError(f"expected a TinyViT from transformer_torch.tiny_vit, got {type(model).__name__}")
    return model


def vit_macs(model: TinyViT) -> int:
    """Multiply-accumulates per image: ``metrics.macs`` (every Linear layer, per token) plus the two attention
    products ``q·kᵀ`` and ``att·v`` (``2 · tokens² · heads · head_dim`` per block), which ``metrics.macs`` does not
    see because they have no weights. Softmax, GELU, LayerNorm and additions are not counted. A dense, shape-based
    count: zeros in a weight matrix cost the same. Introduced in 10_pruning_a_transformer_pytorch.
    """
    model = _check_vit(model)
    attention = sum(2 * model.tokens**2 * block.attn.n_heads * block.attn.head_dim for block in model.blocks)
    return int(metrics.macs(model, (28, 28)) + attention)


def _as_images(x: Any) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected images as a numpy array or tensor, got {type(x).__name__}")
    if x.shape[0] == 0:
        raise ValueError("no images given")
    return x.float()


# ----------------------------------------------------------------------------- masks (one layer)
def _check_sparsity(sparsity: Any) -> float | str:
    if sparsity == "2:4":
        return "2:4"
    return check_fraction(sparsity, "sparsity", below_one=True,
                          hint='a fraction of each layer\'s weights such as 0.5, or the string "2:4"')


def _check_weight(weight: Any, sparsity: float | str) -> torch.Tensor:
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2:
        raise ValueError(f"weight must be a 2-D tensor (out_features, in_features), got {type(weight).__name__} "
                         f"{tuple(getattr(weight, 'shape', ()))}")
    if sparsity == "2:4" and weight.shape[1] % 4:
        raise ValueError(f"2:4 needs in_features divisible by 4, got {weight.shape[1]}")
    return weight.detach()


def _keep_from_scores(scores: torch.Tensor, sparsity: float | str, *, per_row: bool) -> torch.Tensor:
    """Boolean keep-mask: the smallest scores pruned, per layer / per row, or 2 of every 4 along each row."""
    out, inp = scores.shape
    if sparsity == "2:4":
        groups = scores.reshape(out, inp // 4, 4)
        drop = torch.topk(groups, 2, dim=-1, largest=False).indices
        keep = torch.ones_like(groups, dtype=torch.bool).scatter_(-1, drop, False)
        return keep.reshape(out, inp)
    keep = torch.ones_like(scores, dtype=torch.bool)
    if per_row:
        k = round(float(sparsity) * inp)
        if k:
            keep.scatter_(1, torch.argsort(scores, dim=1, stable=True)[:, :k], False)
    else:
        k = round(float(sparsity) * scores.numel())
        if k:
            keep.view(-1)[torch.argsort(scores.flatten(), stable=True)[:k]] = False
    return keep


def magnitude_mask(weight: torch.Tensor, sparsity: float | str = 0.5, *, per_row: bool = False) -> torch.Tensor:
    """Keep-mask (bool, the shape of ``weight``) that prunes the smallest ``|W|`` of the whole layer, or of each
    output row with ``per_row=True`` (Wanda's comparison group, without Wanda's input norms). For ``"2:4"``
    both keep 2 of every 4 along each row (the groups lie within a row, so ``per_row`` changes nothing).
    Introduced in 10_pruning_a_transformer_pytorch."""
    sparsity = _check_sparsity(sparsity)
    weight = _check_weight(weight, sparsity)
    return _keep_from_scores(weight.abs(), sparsity, per_row=bool(per_row))


def wanda_mask(weight: torch.Tensor, x_norm: torch.Tensor, sparsity: float | str = 0.5) -> torch.Tensor:
    """Wanda's keep-mask: score ``|W_ij| · x_norm[j]``, the ``sparsity`` fraction with the smallest scores of
    **each output row** pruned (or 2 of every 4 along each row for ``"2:4"``).

    ``x_norm`` has one entry per input feature: the L2 norm of that feature over all calibration tokens
    (:func:`calibration_inputs` gives ``X``; ``X.norm(dim=0)``). Introduced in 10_pruning_a_transformer_pytorch.
    """
    sparsity = _check_sparsity(sparsity)
    weight = _check_weight(weight, sparsity)
    x_norm = torch.as_tensor(x_norm, dtype=weight.dtype).flatten()
    if x_norm.numel() != weight.shape[1]:
        raise ValueError(f"x_norm needs one entry per input feature ({weight.shape[1]}), got {x_norm.numel()}")
    if bool((x_norm < 0).any()):
        raise ValueError("x_norm holds norms, which cannot be negative")
    return _keep_from_scores(weight.abs() * x_norm[None, :], sparsity, per_row=True)


def random_mask(weight: torch.Tensor, sparsity: float | str = 0.5, *, seed: int = 0) -> torch.Tensor:
    """The control: a keep-mask with the same sparsity (or 2:4 pattern) as the others, chosen at random from
    ``seed``."""
    sparsity = _check_sparsity(sparsity)
    weight = _check_weight(weight, sparsity)
    gen = torch.Generator().manual_seed(check_int(seed, "seed", 0))
    return _keep_from_scores(torch.rand(weight.shape, generator=gen), sparsity, per_row=False)


def two_four_ok(mask: torch.Tensor) -> bool:
    """True if every row of the keep-mask keeps exactly 2 of every 4 consecutive entries (the 2:4 pattern).
    Introduced in 10_pruning_a_transformer_pytorch."""
    mask = torch.as_tensor(mask)
    if mask.dim() != 2 or mask.shape[1] % 4:
        return False
    return bool((mask.reshape(mask.shape[0], -1, 4).sum(-1) == 2).all())


def damped_hessian(x: Any, *, damp: float = 0.01) -> torch.Tensor:
    """The damped Hessian of the layer-wise objective, in float64: ``H = XᵀX / n + damp · mean(diag) · I`` for
    inputs ``x`` of shape ``(n, in_features)``. An input feature that is always 0 gets ``H_jj = 1`` before the
    damping (its weights do nothing, and ``H`` stays invertible). Damping keeps ``H`` invertible and its
    inverse well conditioned; SparseGPT's default is ``damp = 0.01``. Introduced in
    10_pruning_a_transformer_pytorch."""
    check_positive_number(damp, "damp")
    x = torch.as_tensor(x).detach().double()
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be (n, in_features) with n >= 1, got {tuple(x.shape)}")
    h = x.T @ x / x.shape[0]
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    return h + damp * torch.diag(h).mean() * torch.eye(h.shape[0], dtype=h.dtype)


def sparsegpt_prune_layer(
    weight: torch.Tensor, x: torch.Tensor, sparsity: float | str = 0.5, *, damp: float = 0.01, block: int = 32
) -> torch.Tensor:
    """SparseGPT in a few lines: the pruned **and updated** weight for inputs ``x`` (a new tensor).

    ``H`` is :func:`damped_hessian` of ``x`` (``(n, in_features)``), and ``U`` the upper Cholesky factor of
    ``H⁻¹`` (``H⁻¹ = UᵀU``). The columns are processed left to right, in blocks of ``block``; column ``j`` is
    then the first of the columns ``F = j, j+1, …`` still free, and ``U_jj² = [H_F⁻¹]_jj``, the OBS denominator
    of that step. A weight ``w_j`` to prune is set to 0, and its error ``w_j / U_jj`` is spread over the
    columns not yet processed, in every row at once, with row ``j`` of ``U`` (lazily: within the block at once,
    to the later blocks at the block's end). The mask comes from the OBS saliency ``w² / U_jj²``:

    - a fraction: at the start of each block, the ``sparsity`` fraction of the block's weights with the smallest
      saliency (computed from the weights as updated by the earlier blocks);
    - ``"2:4"``: when a group of 4 columns is reached, the 2 of every 4 with the smallest saliency in each row,
      computed from the weights as updated so far (Frantar & Alistarh 2023, Algorithm 1).

    ``x`` and the weight are used in float64. Introduced in 10_pruning_a_transformer_pytorch.
    """
    sparsity = _check_sparsity(sparsity)
    weight = _check_weight(weight, sparsity)
    check_positive_number(damp, "damp")
    check_int(block, "block", 1)
    x = torch.as_tensor(x).detach().double()
    if x.dim() != 2 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"x must be (n, in_features={weight.shape[1]}), got {tuple(x.shape)}")
    if sparsity == "2:4":
        block = max(4, block - block % 4)  # a multiple of 4: the groups of 4 columns never straddle two blocks
    w = weight.double().clone()
    cols = w.shape[1]
    w[:, (x == 0).all(dim=0)] = 0.0  # inputs that are always 0: their weights do nothing
    h = damped_hessian(x, damp=damp)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    for i1 in range(0, cols, block):
        i2 = min(i1 + block, cols)
        w1, u1 = w[:, i1:i2].clone(), u[i1:i2, i1:i2]
        d = torch.diag(u1)
        err1 = torch.zeros_like(w1)
        if sparsity == "2:4":
            prune = torch.zeros_like(w1, dtype=torch.bool)  # chosen group by group, below
        else:
            prune = ~_keep_from_scores(w1**2 / d[None, :] ** 2, sparsity, per_row=False)
        for j in range(i2 - i1):
            if sparsity == "2:4" and j % 4 == 0:  # i1 is a multiple of 4: column i1 + j starts a group
                saliency = w1[:, j:j + 4] ** 2 / d[None, j:j + 4] ** 2
                prune[:, j:j + 4] = ~_keep_from_scores(saliency, "2:4", per_row=True)
            col = w1[:, j]
            q = torch.where(prune[:, j], torch.zeros_like(col), col)
            e = (col - q) / d[j]
            w1[:, j:] -= e[:, None] * u1[j, j:][None, :]
            w1[:, j] = q
            err1[:, j] = e
        w[:, i1:i2] = w1
        w[:, i2:] -= err1 @ u[i1:i2, i2:]
    return w.to(weight.dtype)


# ----------------------------------------------------------------------------- whole model, one shot
def prunable_layers(model: TinyViT) -> dict[str, nn.Linear]:
    """``{"blocks.0.attn.q_proj": Linear, …}``: the Linear layers inside the blocks, the ones one-shot pruning
    touches. Introduced in 10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    return {f"blocks.{i}.{s}": model.get_submodule(f"blocks.{i}.{s}") for i in range(len(model.blocks))
            for s in SUBLAYERS}


def calibration_inputs(model: TinyViT, x: Any, *, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """The inputs each prunable layer sees for images ``x``: ``{layer name: X}`` with ``X`` of shape
    ``(images · 16 tokens, in_features)`` (float32; forward hooks, eval mode, no gradients).
    Introduced in 10_pruning_a_transformer_pytorch."""
    layers = prunable_layers(model)
    x = _as_images(x)
    check_int(batch_size, "batch_size", 1)
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    handles = [m.register_forward_hook(lambda _m, inp, _out, name=name: seen[name].append(
        inp[0].detach().reshape(-1, inp[0].shape[-1]))) for name, m in layers.items()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                model(x[i:i + batch_size])
    finally:
        for hd in handles:
            hd.remove()
        model.train(was_training)
    return {name: torch.cat(v) for name, v in seen.items()}


def one_shot_prune(
    model: TinyViT, method: str, sparsity: float | str, calib: Any = None, *, seed: int = 0,
    inputs: Mapping[str, torch.Tensor] | None = None,
) -> TinyViT:
    """A pruned copy of ``model`` (the original is untouched): every layer of :func:`prunable_layers` pruned
    with ``method`` (``"magnitude"`` per layer, ``"magnitude_rowwise"`` per output row, ``"wanda"``,
    ``"sparsegpt"``, ``"random"``) to ``sparsity`` (a fraction, or ``"2:4"``), no retraining. Wanda and SparseGPT
    need calibration images ``calib`` (or the ``inputs`` of :func:`calibration_inputs`, computed once on the
    dense model and reused). Every layer is pruned against the **dense** model's inputs: the layer-wise problem,
    each layer on its own. The published Wanda and SparseGPT code is sequential instead: it prunes one
    transformer block at a time and feeds the next block the outputs of the blocks already pruned, so that a
    block can make up for the errors of the ones before it. ``seed`` drives the random control only.
    Introduced in 10_pruning_a_transformer_pytorch.
    """
    model = _check_vit(model)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    sparsity = _check_sparsity(sparsity)
    if method in ("wanda", "sparsegpt") and inputs is None:
        if calib is None:
            raise ValueError(f"{method} needs calibration images: pass calib=… (training images) or inputs=…")
        inputs = calibration_inputs(model, calib)
    pruned = copy.deepcopy(model)
    for k, (name, layer) in enumerate(prunable_layers(pruned).items()):
        w = layer.weight.data
        if method in ("magnitude", "magnitude_rowwise"):
            new = w * magnitude_mask(w, sparsity, per_row=method == "magnitude_rowwise")
        elif method == "random":
            new = w * random_mask(w, sparsity, seed=seed * 1000 + k)
        elif method == "wanda":
            new = w * wanda_mask(w, inputs[name].norm(dim=0), sparsity)
        else:
            new = sparsegpt_prune_layer(w, inputs[name], sparsity)
        layer.weight.data.copy_(new)
    return pruned


def reconstruction_errors(dense: TinyViT, pruned: TinyViT, inputs: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Per prunable layer, the relative layer-wise reconstruction error ``‖WX − ŴX‖_F / ‖WX‖_F`` (a number ≥ 0;
    bias excluded, it is not pruned) for the inputs ``X`` of :func:`calibration_inputs` of the **dense** model —
    the objective SparseGPT minimizes, layer by layer. Introduced in 10_pruning_a_transformer_pytorch."""
    a, b = prunable_layers(dense), prunable_layers(pruned)
    out = {}
    for name, layer in a.items():
        if name not in inputs:
            raise KeyError(f"no calibration inputs for layer {name!r}")
        x = inputs[name].double()
        w, w_hat = layer.weight.detach().double(), b[name].weight.detach().double()
        if w.shape != w_hat.shape:
            raise ValueError(f"{name}: dense {tuple(w.shape)} and pruned {tuple(w_hat.shape)} differ in shape")
        out[name] = float((x @ (w - w_hat).T).norm() / (x @ w.T).norm().clamp_min(1e-30))
    return out


# ----------------------------------------------------------------------------- structured: heads, neurons, blocks
def _keep_map(model: TinyViT, keep: Mapping[int, Sequence[int]], what: str, n_of) -> dict[int, torch.Tensor]:
    if not isinstance(keep, Mapping):
        raise TypeError(f"keep must be a dict {{block index: {what} to keep}}, got {type(keep).__name__}")
    out = {}
    for b, idx in keep.items():
        if not isinstance(b, (int, np.integer)) or not 0 <= b < len(model.blocks):
            raise ValueError(f"block index {b!r} is not in 0..{len(model.blocks) - 1}")
        n = n_of(model.blocks[int(b)])
        arr = np.unique(np.asarray(list(idx), dtype=np.int64))
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(f"block {b}: {what} to keep must lie in 0..{n - 1}, got {list(idx)}")
        out[int(b)] = torch.from_numpy(arr)
    return out


def _slice(lin: nn.Linear, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None) -> nn.Linear:
    w, bias = lin.weight.data, lin.bias.data
    if rows is not None:
        w, bias = w[rows], bias[rows]
    if cols is not None:
        w = w[:, cols]
    with warnings.catch_warnings():  # a head or neuron count of 0 is allowed: "zero-element tensors" is expected
        warnings.simplefilter("ignore", UserWarning)
        new = nn.Linear(w.shape[1], w.shape[0])
    new.weight.data.copy_(w)
    new.bias.data.copy_(bias)
    return new


def _head_dims(attn: Attention, heads: torch.Tensor) -> torch.Tensor:
    return (heads[:, None] * attn.head_dim + torch.arange(attn.head_dim)[None, :]).flatten()


def remove_heads(model: TinyViT, keep: Mapping[int, Sequence[int]]) -> TinyViT:
    """A smaller copy with only the attention heads ``keep[block]`` (head indices) in each listed block: the
    rows ``h·head_dim … (h+1)·head_dim − 1`` of ``q_proj``, ``k_proj``, ``v_proj`` and the same columns of
    ``out_proj`` are kept, the rest sliced away. Before fine-tuning it computes what :func:`mask_heads`
    computes. Introduced in 10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    keep_t = _keep_map(model, keep, "heads", lambda blk: blk.attn.n_heads)
    new = copy.deepcopy(model)
    for b, heads in keep_t.items():
        attn = new.blocks[b].attn
        dims = _head_dims(attn, heads)
        attn.q_proj, attn.k_proj, attn.v_proj = (_slice(m, rows=dims) for m in (attn.q_proj, attn.k_proj, attn.v_proj))
        attn.out_proj = _slice(attn.out_proj, cols=dims)
        attn.n_heads = len(heads)
    return new


def mask_heads(model: TinyViT, keep: Mapping[int, Sequence[int]]) -> TinyViT:
    """A copy of the same size in which the heads not in ``keep[block]`` are switched off by zeroing their
    columns of ``out_proj`` (their output no longer reaches the residual stream). Introduced in
    10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    keep_t = _keep_map(model, keep, "heads", lambda blk: blk.attn.n_heads)
    new = copy.deepcopy(model)
    for b, heads in keep_t.items():
        attn = new.blocks[b].attn
        drop = torch.tensor(sorted(set(range(attn.n_heads)) - set(heads.tolist())), dtype=torch.int64)
        attn.out_proj.weight.data[:, _head_dims(attn, drop)] = 0.0
    return new


def remove_ffn_neurons(model: TinyViT, keep: Mapping[int, Sequence[int]]) -> TinyViT:
    """A smaller copy keeping only FFN neurons ``keep[block]``: those rows of ``fc1`` (weight and bias) and
    columns of ``fc2``. Introduced in 10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    keep_t = _keep_map(model, keep, "FFN neurons", lambda blk: blk.ffn.fc1.out_features)
    new = copy.deepcopy(model)
    for b, idx in keep_t.items():
        ffn = new.blocks[b].ffn
        ffn.fc1, ffn.fc2 = _slice(ffn.fc1, rows=idx), _slice(ffn.fc2, cols=idx)
    return new


def mask_ffn_neurons(model: TinyViT, keep: Mapping[int, Sequence[int]]) -> TinyViT:
    """A copy of the same size with the FFN neurons not in ``keep[block]`` switched off (their ``fc2`` columns
    zeroed). Introduced in 10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    keep_t = _keep_map(model, keep, "FFN neurons", lambda blk: blk.ffn.fc1.out_features)
    new = copy.deepcopy(model)
    for b, idx in keep_t.items():
        fc2 = new.blocks[b].ffn.fc2
        drop = torch.tensor(sorted(set(range(fc2.in_features)) - set(idx.tolist())), dtype=torch.int64)
        fc2.weight.data[:, drop] = 0.0
    return new


def remove_blocks(model: TinyViT, blocks: Sequence[int]) -> TinyViT:
    """A copy without the listed blocks (indices into ``model.blocks``): the residual stream goes straight on.
    Introduced in 10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    drop = {int(b) for b in blocks}
    bad = sorted(b for b in drop if not 0 <= b < len(model.blocks))
    if bad:
        raise ValueError(f"block indices {bad} are not in 0..{len(model.blocks) - 1}")
    new = copy.deepcopy(model)
    new.blocks = nn.ModuleList(blk for i, blk in enumerate(new.blocks) if i not in drop)
    return new


def head_mask_model(model: TinyViT, block: int, head: int) -> TinyViT:
    """:func:`mask_heads` for one head: the copy without head ``head`` of block ``block``."""
    n = model.blocks[block].attn.n_heads
    return mask_heads(model, {block: [h for h in range(n) if h != head]})


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(F.cross_entropy(model(x), y))


def head_loss_scores(model: TinyViT, x: Any, y: Any) -> np.ndarray:
    """``(blocks, heads)`` array: how much the mean cross-entropy on the calibration images ``(x, y)`` rises
    (in nats) when that one head is masked. A small (or negative) number marks a head the model misses
    little. Introduced in 10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    x, y = _as_images(x), torch.as_tensor(np.asarray(y), dtype=torch.int64)
    if len(y) != len(x):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    base = _loss(model, x, y)
    return np.array([[_loss(head_mask_model(model, b, h), x, y) - base for h in range(blk.attn.n_heads)]
                     for b, blk in enumerate(model.blocks)])


def ffn_scores(model: TinyViT, x: Any) -> np.ndarray:
    """``(blocks, hidden)`` array: per FFN neuron, mean ``|GELU activation|`` over the calibration tokens times the
    L2 norm of its ``fc2`` column — the typical size of what the neuron adds to the residual stream (a
    Wanda-like score for a whole neuron). Introduced in 10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    acts: list[torch.Tensor] = []
    handles = [blk.ffn.fc2.register_forward_hook(
        lambda _m, inp, _o: acts.append(inp[0].abs().reshape(-1, inp[0].shape[-1]).mean(0))) for blk in model.blocks]
    try:
        _loss_free_forward(model, _as_images(x))
    finally:
        for hd in handles:
            hd.remove()
    return np.stack([(a * blk.ffn.fc2.weight.detach().norm(dim=0)).numpy() for a, blk in zip(acts, model.blocks)])


def _loss_free_forward(model: nn.Module, x: torch.Tensor) -> None:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)


def block_influence(model: TinyViT, x: Any) -> np.ndarray:
    """ShortGPT's block influence per block: ``1 − mean cos(h_in, h_out)`` over all calibration tokens (the
    residual stream before and after the block). Small: the block changes little. Introduced in
    10_pruning_a_transformer_pytorch."""
    model = _check_vit(model)
    out: list[float] = []
    handles = [blk.register_forward_hook(lambda _m, inp, o: out.append(
        float((1 - F.cosine_similarity(inp[0], o, dim=-1)).mean()))) for blk in model.blocks]
    try:
        _loss_free_forward(model, _as_images(x))
    finally:
        for hd in handles:
            hd.remove()
    return np.array(out)


# ----------------------------------------------------------------------------- 2:4 on a GPU
class CudaSynced(nn.Module):
    """Wraps a module so that each call returns only when the GPU has finished it (``torch.cuda.synchronize``):
    CUDA runs asynchronously, and a timer around an unsynchronized call measures only the kernel launch. On a
    CPU tensor the wrapper adds nothing. :func:`two_four_gpu_race` wraps both of its models in it."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        if out.is_cuda:
            torch.cuda.synchronize(out.device)
        return out


def semi_structured_unavailable() -> str | None:
    """Why NVIDIA's 2:4 sparse tensor cores cannot be used in this session (a sentence), or ``None`` if they can:
    they need a CUDA GPU of compute capability 8.0 or newer. Introduced in 10_pruning_a_transformer_pytorch."""
    if not torch.cuda.is_available():
        return "no CUDA GPU in this session"
    cc = torch.cuda.get_device_capability()
    if cc < (8, 0):
        return f"this GPU has compute capability {cc[0]}.{cc[1]} < 8.0"
    return None


def _two_four_gpu_layers(size: int, dtype: torch.dtype, seed: int) -> tuple[nn.Linear, nn.Linear]:
    """(dense, sparse) CUDA ``Linear(size, size)`` without bias, the same weights with 2:4 zeros (magnitude); the
    sparse one stores them with ``to_sparse_semi_structured``."""
    from torch.sparse import to_sparse_semi_structured

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dense = nn.Linear(size, size, bias=False)
    with torch.no_grad():
        dense.weight.mul_(magnitude_mask(dense.weight, "2:4"))
    dense = dense.to(device="cuda", dtype=dtype).eval()
    sparse = copy.deepcopy(dense)
    sparse.weight = nn.Parameter(to_sparse_semi_structured(sparse.weight.detach()), requires_grad=False)
    return dense, sparse


def two_four_gpu_race(
    size: int = 4096, tokens: int = 1024, *, rounds: int = 7, repeats: int = 10, dtype: torch.dtype = torch.float16,
    seed: int = 0,
) -> metrics.Race:
    """Time a dense ``Linear(size, size)`` (no bias) against the same layer stored by
    ``torch.sparse.to_sparse_semi_structured`` on the GPU, both with the same 2:4 zeros (magnitude), on a batch
    of ``tokens`` rows: :func:`course_utils.metrics.race` of the two models, each wrapped in :class:`CudaSynced`
    (``"dense"`` is the reference, ``race.speedup("2:4")`` the gain). ``dtype``: float16 or bfloat16, what the
    default cuSPARSELt backend takes (float32 needs PyTorch's CUTLASS backend). Raises ``RuntimeError`` with
    :func:`semi_structured_unavailable`'s reason where the kernels cannot run. Introduced in
    10_pruning_a_transformer_pytorch."""
    why = semi_structured_unavailable()
    if why:
        raise RuntimeError(f"2:4 sparse tensor cores cannot run here: {why}")
    check_int(tokens, "tokens", 1)
    dense, sparse = _two_four_gpu_layers(check_int(size, "size", 1), dtype, check_int(seed, "seed", 0))
    return metrics.race({"dense": CudaSynced(dense), "2:4": CudaSynced(sparse)}, (size,), tokens, rounds=rounds,
                        repeats=repeats)
