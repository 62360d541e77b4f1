"""Structured pruning surgery for PyTorch: score hidden units / channels, then really remove them.

Masks (``torch.nn.utils.prune``) keep every tensor at its dense shape, so a masked model is
exactly as big and as slow as the dense one. The functions here build *smaller* layers instead:

- :func:`unit_scores` ranks the output units of a Linear layer (or the output channels of a
  Conv layer) by a criterion: weight norms, mean activation, APoZ, first-order Taylor, or random.
  Introduced in 04_neuron_pruning_pytorch.
- :func:`keep_indices` turns scores and a fraction to remove into the sorted indices to keep.
  Introduced in 04_neuron_pruning_pytorch.
- :func:`remove_units` drops output units of a Linear layer: rows of its weight and bias, and
  the matching input columns of the next Linear layer. Introduced in 04_neuron_pruning_pytorch.
- :func:`remove_channels` drops output channels of a Conv layer: its filters and biases, the
  following BatchNorm's entries, and the input channels of the next Conv layer — or, after a
  flatten, the matching input columns of the first Linear layer. Introduced in
  05_structured_pruning_pytorch.
- :func:`bn_scale_scores`: ``|gamma|`` of the BatchNorm after a conv, the channel criterion of
  Network Slimming (Liu et al. 2017). Introduced in 05_structured_pruning_pytorch.
- :func:`recalibrate_bn`: fresh BatchNorm running statistics from calibration images after a
  surgery (adaptive BN, Li et al. 2020 "EagleEye"). Introduced in 05_structured_pruning_pytorch.
- :func:`block_influence` and :func:`remove_blocks`: layer (depth) pruning of
  ``models_torch.residual_mlp`` — score each residual block by how little it changes its input
  (ShortGPT's block influence, Men et al. 2024), then remove whole blocks. Introduced in
  05_structured_pruning_pytorch.
- :func:`filter_norms` (``p=1``: the L1-norm filter criterion of Li et al. 2017, "Pruning Filters
  for Efficient ConvNets") and :func:`layer_widths`, with the same names and arguments as in
  ``surgery_tf``; the older module-based :func:`l1_filter_norms` / :func:`l1_filter_ranking` still
  work. Introduced in 05_structured_pruning_pytorch.

Scope: the surgery functions handle layers that sit in an ``nn.Sequential`` (the course's MLP
and CNN), where the next layer is found by looking at the following siblings. Models with
branches or residual connections need a dependency graph — use ``torch_pruning`` (notebook 05).
They never modify their argument: each returns a pruned *copy* of the model, so re-running a
notebook cell does not prune twice.

Flatten order: torch flattens a feature map ``(N, C, H, W)`` channel-major (NCHW), so channel
``c`` owns the ``H*W`` consecutive input columns ``c*H*W ... c*H*W + H*W - 1`` of the Linear
layer after the flatten (Keras, NHWC, interleaves them instead).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._compat import renamed_keywords
from ._torch_prune import check_model as _check_model
from ._torch_prune import copy_model as _copy
from ._torch_prune import effective_weight as _effective_weight
from ._torch_prune import has_prune_hooks as _has_prune_hooks
from ._torch_prune import remove as _make_permanent
from ._validate import check_int, keep_index_array, keep_indices

__all__ = [
    "CRITERIA",
    "block_influence",
    "bn_scale_scores",
    "filter_norms",
    "keep_indices",
    "l1_filter_norms",
    "l1_filter_ranking",
    "layer_widths",
    "recalibrate_bn",
    "remove_blocks",
    "remove_channels",
    "remove_units",
    "unit_scores",
]

#: Criteria understood by :func:`unit_scores`. For all of them a *higher* score means *more important*.
CRITERIA: tuple[str, ...] = ("l2", "l1", "mean_activation", "apoz", "taylor", "random")

_WEIGHT_CRITERIA = ("l2", "l1")
_DATA_CRITERIA = ("mean_activation", "apoz", "taylor")

# Modules that act element-wise (same shape in and out, channel i in -> channel i out).
_ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus,
    nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
)
# Activation functions: where unit_scores reads a unit's "activation".
_ACTIVATIONS = tuple(t for t in _ELEMENTWISE if not issubclass(t, (nn.Identity, nn.modules.dropout._DropoutNd)))
# Pooling keeps channels separate (channel i in -> channel i out), only the spatial size changes.
_POOLS = (
    nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
    nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d,
)
_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)

LayerRef = str | nn.Module
IndexLike = Sequence[int] | np.ndarray | torch.Tensor


# ----------------------------------------------------------------------------- locating layers
def _resolve(model: nn.Module, layer: LayerRef) -> tuple[str, nn.Module]:
    """``(dotted name, module)`` of ``layer`` (a name such as ``"fc1"`` or a module of ``model``)."""
    if isinstance(layer, str):
        try:
            return layer, model.get_submodule(layer)
        except AttributeError:
            names = [n for n, m in model.named_modules() if isinstance(m, (nn.Linear, *_CONVS))]
            raise ValueError(f"the model has no layer named {layer!r}; its Linear/Conv layers are {names}") from None
    if isinstance(layer, nn.Module):
        for name, module in model.named_modules():
            if module is layer:
                return name, module
        raise ValueError(
            f"this {type(layer).__name__} is not a layer of the model. If you pruned a copy "
            "(copy.deepcopy), pass the layer's name (e.g. 'fc1') instead of the module object."
        )
    raise TypeError(f"layer must be a layer name (str) or an nn.Module of the model, got {type(layer).__name__}")


def _parent_and_key(model: nn.Module, name: str) -> tuple[nn.Module, str]:
    if "." in name:
        parent_name, key = name.rsplit(".", 1)
        return model.get_submodule(parent_name), key
    return model, name


def _siblings_after(model: nn.Module, name: str, what: str) -> tuple[nn.Sequential, list[tuple[str, nn.Module]]]:
    """The ``nn.Sequential`` holding layer ``name`` and the ``(key, module)`` pairs after it."""
    parent, key = _parent_and_key(model, name)
    if not isinstance(parent, nn.Sequential):
        raise TypeError(
            f"{what} handles layers inside an nn.Sequential, where the next layer is the next child. "
            f"{name!r} sits in a {type(parent).__name__}, whose forward() may add branches or residual "
            "connections that this function cannot see. Use torch-pruning's DependencyGraph for such models "
            "(see 05_structured_pruning_pytorch)."
        )
    keys = list(parent._modules.keys())
    return parent, [(k, parent._modules[k]) for k in keys[keys.index(key) + 1:]]


# Pruning bookkeeping (_copy, _make_permanent = prune.remove with -0.0 normalised, _effective_weight,
# _has_prune_hooks) comes from course_utils._torch_prune.


def layer_widths(model: nn.Module) -> dict[str, int]:
    """``{layer name: number of output units/channels}`` for every Linear and Conv layer.

    E.g. ``{"fc1": 300, "fc2": 100, "fc3": 10}`` for the course MLP. Introduced in
    04_neuron_pruning_pytorch.
    """
    _check_model(model)
    out: dict[str, int] = {}
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            out[name] = int(m.out_features)
        elif isinstance(m, _CONVS):
            out[name] = int(m.out_channels)
    return out


# ----------------------------------------------------------------------------- indices
def _as_index_array(keep_idx: IndexLike, n: int, what: str) -> np.ndarray:
    """Validate ``keep_idx`` (ints, or a boolean mask of length ``n``) → sorted unique int64 array."""
    if isinstance(keep_idx, torch.Tensor):
        keep_idx = keep_idx.detach().cpu().numpy()
    return keep_index_array(keep_idx, n, what, allow_integral_floats=True)


# keep_indices (scores, fraction to remove -> sorted indices to keep) is framework-free: see
# course_utils._validate.keep_indices, imported above and exported here.


# ----------------------------------------------------------------------------- criteria
def _row_norms(module: nn.Module, p: Any) -> np.ndarray:
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 (L1 norm) or 2 (L2 norm), got {p!r}")
    w = _effective_weight(module).flatten(1).double()
    return (w.abs().sum(dim=1) if p == 1 else w.norm(p=2, dim=1)).cpu().numpy()


def filter_norms(model: nn.Module, layer: LayerRef, p: int = 1) -> np.ndarray:
    """p-norm (``p=1``: L1, Li et al. 2017; ``p=2``: L2) of each filter/unit of ``layer``, shape ``(out_channels,)``.

    The twin of ``surgery_tf.filter_norms(model, layer, p=1)``. ``layer`` is a name (``"conv2"``) or a
    Conv/Linear module of ``model``. One value per *output* channel of a Conv (``sum |W[i]|`` over
    inputs and kernel for ``p=1``) or per row of a Linear weight. The criterion of Li et al. 2017
    ("Pruning Filters for Efficient ConvNets"): filters with small kernel weights tend to produce weak
    feature maps. Masked layers (``torch.nn.utils.prune``) are measured by their effective weights.
    Returns float64. Introduced in 05_structured_pruning_pytorch; notebook 06 calls it by its old name
    ``l1_filter_norms(conv_module)``.
    """
    _check_model(model)
    name, module = _resolve(model, layer)
    if not isinstance(module, (nn.Linear, *_CONVS)):
        raise TypeError(f"filter_norms expects a Conv or Linear layer, {name!r} is a {type(module).__name__}")
    return _row_norms(module, p)


def l1_filter_norms(conv: nn.Module) -> np.ndarray:
    """Old form of ``filter_norms(model, layer, p=1)``, given the layer module itself: L1 norm of each filter.

    ``sum(|W[i]|)`` over inputs and kernel, shape ``(out_channels,)``; works for Linear layers too (L1
    norm of each row). Masked layers are measured by their effective weights.
    Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    if not isinstance(conv, (nn.Linear, *_CONVS)):
        raise TypeError(f"l1_filter_norms expects a Conv or Linear layer, got {type(conv).__name__}")
    return _row_norms(conv, 1)


def l1_filter_ranking(conv: nn.Module) -> np.ndarray:
    """Filter indices of a Conv layer sorted by L1 norm, *smallest first* (the first ones are pruned first).

    Ties are broken by index. ``l1_filter_ranking(conv)[:m]`` are the ``m`` filters Li et al. 2017
    would remove. Introduced in 05_structured_pruning_pytorch.
    """
    return np.argsort(l1_filter_norms(conv), kind="stable")


def _activation_after(model: nn.Module, name: str) -> nn.Module:
    """The activation module that follows layer ``name`` (skipping BatchNorm/Dropout/pooling)."""
    _, after = _siblings_after(model, name, "unit_scores with a data-based criterion")
    for _key, m in after:
        if isinstance(m, _ACTIVATIONS):
            return m
        if isinstance(m, _BATCHNORMS) or isinstance(m, (nn.Identity, nn.modules.dropout._DropoutNd)):
            continue
        break
    raise ValueError(
        f"no activation function (e.g. nn.ReLU) follows {name!r} before the next layer, so there is no "
        "activation to measure; use criterion='l2' or 'l1'"
    )


def _as_input(x: Any) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"images must be a numpy array or torch tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"images must be float in [0, 1], got dtype {x.dtype}")
    if x.dim() == 3:  # (N, 28, 28) -> (N, 1, 28, 28), the convention of course_utils.train_torch
        x = x.unsqueeze(1)
    if x.shape[0] == 0:
        raise ValueError("no images given (0 samples)")
    return x.float()


def _unpack_data(data: Any, need_labels: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        x, y = data, None
    xt = _as_input(x)
    if y is None:
        if need_labels:
            raise ValueError("criterion='taylor' needs labels: pass data=(x, y)")
        return xt, None
    yt = torch.from_numpy(np.asarray(y)) if not isinstance(y, torch.Tensor) else y
    if yt.is_floating_point() or yt.dim() != 1 or len(yt) != len(xt):
        raise ValueError(f"labels must be 1-D integer class ids, one per image; got {tuple(yt.shape)} {yt.dtype}")
    return xt, yt.long()


def unit_scores(
    model: nn.Module,
    layer: LayerRef,
    criterion: str,
    data: Any = None,
    *,
    batch_size: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """Importance of each output unit (Linear) or output channel (Conv) of ``layer``; higher = keep.

    ``criterion`` (see :data:`CRITERIA`):

    - ``"l2"`` / ``"l1"``: norm of the unit's *incoming* weights (its row of a Linear weight, its
      filter of a Conv weight) — needs no data. ``"l2"`` is what ``prune.ln_structured(n=2, dim=0)`` uses.
    - ``"mean_activation"``: mean of the unit's activation (the output of the activation function
      that follows the layer, e.g. ReLU) over the images (and positions, for a Conv channel).
    - ``"apoz"``: ``1 - APoZ``, where APoZ (Hu et al. 2016) is the Average Percentage of Zeros
      of the activation; a unit that is almost always zero carries little information.
    - ``"taylor"``: first-order Taylor estimate of the change in loss when the unit is zeroed
      (Molchanov et al. 2017): mean over images of ``|a · ∂L/∂a|`` (for Conv channels the product
      is summed over positions before the absolute value); ``L`` is the cross-entropy.
    - ``"random"``: uniform random scores from ``seed`` — the control every criterion must beat.

    ``data`` is images ``x`` or a tuple ``(x, y)`` (labels needed for ``"taylor"``), numpy or
    torch, float in [0, 1] — use the validation split, not the test split. The model runs in eval
    mode (BatchNorm uses its running statistics) and its training flag is restored. Returns a
    float64 numpy array of length ``out_features``/``out_channels``.
    Introduced in 04_neuron_pruning_pytorch.
    """
    _check_model(model)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    name, module = _resolve(model, layer)
    if not isinstance(module, (nn.Linear, *_CONVS)):
        raise TypeError(f"{name!r} is a {type(module).__name__}; unit_scores ranks units of Linear or Conv layers")
    n_units = module.out_features if isinstance(module, nn.Linear) else module.out_channels
    batch_size = check_int(batch_size, "batch_size", 1)
    if criterion == "random":
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        return np.random.default_rng(seed).random(n_units)
    if criterion in _WEIGHT_CRITERIA:
        w = _effective_weight(module).flatten(1).double()
        return (w.norm(p=2, dim=1) if criterion == "l2" else w.abs().sum(dim=1)).cpu().numpy()

    if data is None:
        raise ValueError(
            f"criterion={criterion!r} measures activations: pass data=x or data=(x, y) (validation images)"
        )
    act_module = _activation_after(model, name)
    x, y = _unpack_data(data, need_labels=criterion == "taylor")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))

    total = torch.zeros(n_units, dtype=torch.float64)
    count = 0  # number of activation values per unit summed into `total`
    captured: dict[str, torch.Tensor] = {}

    def hook(_m: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        if out.dim() < 2 or out.shape[1] != n_units:
            raise ValueError(
                f"the activation after {name!r} has shape {tuple(out.shape)}, expected (N, {n_units}, ...)"
            )
        captured["a"] = out

    handle = act_module.register_forward_hook(hook)
    was_training = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch_size):
            xb = x[i: i + batch_size].to(device)
            if criterion == "taylor":
                assert y is not None
                yb = y[i: i + batch_size].to(device)
                with torch.enable_grad():
                    logits = model(xb)
                    a = captured["a"]
                    # sum, not mean: each image's gradient is that of its own loss.
                    # autograd.grad leaves the parameters' .grad untouched.
                    loss = nn.functional.cross_entropy(logits, yb, reduction="sum")
                    (g,) = torch.autograd.grad(loss, a)
                prod = (a.detach() * g).double().flatten(2).sum(dim=2) if a.dim() > 2 else (a.detach() * g).double()
                total += prod.abs().sum(dim=0).cpu()
                count += len(xb)
            else:
                with torch.no_grad():
                    model(xb)
                a = captured["a"].double()
                per_unit = a.transpose(0, 1).reshape(n_units, -1)  # (units, N * positions)
                total += (per_unit if criterion == "mean_activation" else (per_unit != 0).double()).sum(dim=1).cpu()
                count += per_unit.shape[1]
    finally:
        handle.remove()
        model.train(was_training)
    return (total / count).numpy()


# ----------------------------------------------------------------------------- surgery helpers
def _new_like(old: nn.Module, **kwargs: Any) -> nn.Module:
    """A new module of ``old``'s type/dtype/device built with ``kwargs`` (its init is overwritten)."""
    p = old.weight
    with torch.random.fork_rng(devices=[]):  # constructing runs default init: keep global RNG untouched
        return type(old)(**kwargs).to(device=p.device, dtype=p.dtype)


def _slice_batchnorm(bn: nn.Module, keep: torch.Tensor) -> nn.Module:
    new = _new_like(bn, num_features=len(keep), eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                    track_running_stats=bn.track_running_stats)
    with torch.no_grad():
        if bn.affine:
            new.weight.copy_(bn.weight[keep])
            new.bias.copy_(bn.bias[keep])
        if bn.track_running_stats:
            new.running_mean.copy_(bn.running_mean[keep])
            new.running_var.copy_(bn.running_var[keep])
            new.num_batches_tracked.copy_(bn.num_batches_tracked)
    new.train(bn.training)
    return new


def _slice_linear(lin: nn.Linear, rows: torch.Tensor | None = None, cols: torch.Tensor | None = None) -> nn.Linear:
    w = _effective_weight(lin)
    b = lin.bias.detach() if lin.bias is not None else None
    if rows is not None:
        w = w[rows]
        b = b[rows] if b is not None else None
    if cols is not None:
        w = w[:, cols]
    new = _new_like(lin, in_features=w.shape[1], out_features=w.shape[0], bias=b is not None)
    with torch.no_grad():
        new.weight.copy_(w)
        if b is not None:
            new.bias.copy_(b)
    new.train(lin.training)
    return new


def _slice_conv(
    conv: nn.Module, out_keep: torch.Tensor | None = None, in_keep: torch.Tensor | None = None
) -> nn.Module:
    if conv.groups != 1:
        raise NotImplementedError(
            f"grouped/depthwise convolutions (groups={conv.groups}) couple input and output channels; "
            "use torch-pruning, which handles them"
        )
    w = _effective_weight(conv)
    b = conv.bias.detach() if conv.bias is not None else None
    if out_keep is not None:
        w = w[out_keep]
        b = b[out_keep] if b is not None else None
    if in_keep is not None:
        w = w[:, in_keep]
    padding = conv.padding if isinstance(conv.padding, str) else tuple(conv.padding)
    new = _new_like(conv, in_channels=w.shape[1], out_channels=w.shape[0], kernel_size=conv.kernel_size,
                    stride=conv.stride, padding=padding, dilation=conv.dilation, groups=1,
                    bias=b is not None, padding_mode=conv.padding_mode)
    with torch.no_grad():
        new.weight.copy_(w)
        if b is not None:
            new.bias.copy_(b)
    new.train(conv.training)
    return new


def _check_not_masked_elsewhere(module: nn.Module, name: str) -> None:
    if _has_prune_hooks(module):
        # a masked BatchNorm, say: we would silently drop its mask
        raise NotImplementedError(f"{name!r} carries torch.nn.utils.prune masks; call prune.remove on it first")


# ----------------------------------------------------------------------------- surgery
def remove_units(model: nn.Module, layer: LayerRef, keep_idx: IndexLike) -> nn.Module:
    """A copy of ``model`` in which Linear ``layer`` keeps only the output units ``keep_idx``.

    Real removal, not a mask: ``layer`` becomes a smaller ``nn.Linear`` (rows of its weight and
    entries of its bias), and the next Linear layer loses the matching input *columns*. Layers
    in between must act element-wise (ReLU and other activations, Dropout) or be a BatchNorm1d
    (sliced too). ``keep_idx``: indices of the units to keep (any order, no duplicates) or a
    boolean mask of length ``out_features``; they are used in increasing order.

    A layer pruned with ``torch.nn.utils.prune`` is read through its mask (``weight_orig *
    weight_mask``; a masked bias likewise), so removing the units a structured mask zeroed gives
    a model with the same outputs. The argument is not modified. Raises ``TypeError`` if the
    layer is not a Linear inside an ``nn.Sequential``, ``ValueError`` for bad indices or for the
    output layer (its units are the classes). Introduced in 04_neuron_pruning_pytorch.
    """
    _check_model(model)
    name, module = _resolve(model, layer)
    if not isinstance(module, nn.Linear):
        raise TypeError(
            f"remove_units works on nn.Linear layers, {name!r} is a {type(module).__name__}"
            + ("; use remove_channels for Conv layers" if isinstance(module, _CONVS) else "")
        )
    _, after = _siblings_after(model, name, "remove_units")
    keep_np = _as_index_array(keep_idx, module.out_features, f"units of {name!r}")
    plan: list[tuple[str, str]] = []  # (key in parent, action)
    for key, m in after:
        if isinstance(m, nn.Linear):
            if m.in_features != module.out_features:
                raise ValueError(f"{key!r} takes {m.in_features} inputs but {name!r} has {module.out_features} outputs")
            plan.append((key, "linear_in"))
            break
        if isinstance(m, _BATCHNORMS):
            plan.append((key, "bn"))
        elif isinstance(m, _ELEMENTWISE):
            continue
        else:
            raise NotImplementedError(
                f"{type(m).__name__} {key!r} between {name!r} and the next Linear layer is not supported "
                "by remove_units (only activations, Dropout and BatchNorm1d are); use torch-pruning"
            )
    if not plan or plan[-1][1] != "linear_in":
        raise ValueError(
            f"{name!r} is the last Linear layer: its outputs are the model's outputs (the classes), "
            "so there is no next layer to shrink and its units cannot be removed"
        )

    new_model = _copy(model)
    parent, key = _parent_and_key(new_model, name)
    old = parent._modules[key]
    keep = torch.as_tensor(keep_np, device=old.weight.device)
    if _has_prune_hooks(old):
        _make_permanent(old)
    parent._modules[key] = _slice_linear(old, rows=keep)
    for k, action in plan:
        m = parent._modules[k]
        if action == "bn":
            _check_not_masked_elsewhere(m, k)
            parent._modules[k] = _slice_batchnorm(m, keep)
        else:
            if _has_prune_hooks(m):
                _make_permanent(m)
            parent._modules[k] = _slice_linear(m, cols=keep)
    return new_model


@renamed_keywords(conv="layer")
def remove_channels(model: nn.Module, layer: LayerRef, keep_idx: IndexLike) -> nn.Module:
    """A copy of ``model`` in which Conv layer ``layer`` keeps only the output channels ``keep_idx``.

    What changes (the "surgery" of Li et al. 2017):

    1. ``layer``: its filters ``weight[keep]`` and ``bias[keep]``;
    2. a BatchNorm right after it: ``weight``, ``bias``, ``running_mean``, ``running_var`` at ``keep``;
    3. the next Conv layer: the input channels ``weight[:, keep]``; **or**, if the feature map is
       flattened first, the next Linear layer: for each kept channel ``c`` its ``H*W`` input columns
       ``c*H*W ... c*H*W + H*W - 1`` (torch flattens NCHW, channel-major). ``H*W`` is read from
       the Linear layer: ``in_features / out_channels``.

    Activations, Dropout and pooling in between are kept as they are (they treat channels
    separately). ``keep_idx``: channel indices (any order, no duplicates) or a boolean mask;
    used in increasing order. Masked layers (``torch.nn.utils.prune``) are read through their masks.
    The argument is not modified. Raises ``TypeError`` if the layer is not a Conv inside an
    ``nn.Sequential`` (residual/branching models need torch-pruning's dependency graph),
    ``NotImplementedError`` for grouped convolutions or unsupported layers in between.
    Introduced in 05_structured_pruning_pytorch.
    """
    _check_model(model)
    name, module = _resolve(model, layer)
    if not isinstance(module, _CONVS):
        raise TypeError(
            f"remove_channels works on Conv1d/2d/3d layers, {name!r} is a {type(module).__name__}"
            + ("; use remove_units for Linear layers" if isinstance(module, nn.Linear) else "")
        )
    if module.groups != 1:
        raise NotImplementedError(f"{name!r} is a grouped convolution (groups={module.groups}); use torch-pruning")
    _, after = _siblings_after(model, name, "remove_channels")
    c_out = module.out_channels
    keep_np = _as_index_array(keep_idx, c_out, f"channels of {name!r}")

    plan: list[tuple[str, str]] = []
    flattened = False
    for key, m in after:
        if isinstance(m, _CONVS):
            if flattened:
                raise NotImplementedError(f"a Conv layer {key!r} after a flatten is not supported")
            if m.groups != 1:
                raise NotImplementedError(f"{key!r} is a grouped convolution (groups={m.groups}); use torch-pruning")
            if m.in_channels != c_out:
                raise ValueError(f"{key!r} takes {m.in_channels} channels but {name!r} has {c_out}")
            plan.append((key, "conv_in"))
            break
        if isinstance(m, nn.Linear):
            if not flattened:
                raise NotImplementedError(
                    f"Linear {key!r} follows {name!r} without an nn.Flatten; add one (the course CNN has it)"
                )
            if m.in_features % c_out:
                raise ValueError(
                    f"{key!r} has {m.in_features} inputs, not a multiple of the {c_out} channels of {name!r}"
                )
            plan.append((key, "linear_in"))
            break
        if isinstance(m, _BATCHNORMS):
            if flattened:
                raise NotImplementedError(f"BatchNorm {key!r} after a flatten is not supported")
            if m.num_features != c_out:
                raise ValueError(f"BatchNorm {key!r} has {m.num_features} features but {name!r} has {c_out} channels")
            plan.append((key, "bn"))
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                raise NotImplementedError(f"Flatten {key!r} must flatten from dim 1 (start_dim=1)")
            flattened = True
        elif isinstance(m, (_ELEMENTWISE, _POOLS)):
            continue
        else:
            raise NotImplementedError(
                f"{type(m).__name__} {key!r} after {name!r} is not supported by remove_channels "
                "(only BatchNorm, activations, Dropout, pooling and Flatten are); use torch-pruning"
            )
    if not plan or plan[-1][1] not in ("conv_in", "linear_in"):
        raise ValueError(f"no Conv or Linear layer follows {name!r}: its channels are the model's output")

    new_model = _copy(model)
    parent, key = _parent_and_key(new_model, name)
    old = parent._modules[key]
    keep = torch.as_tensor(keep_np, device=old.weight.device)
    if _has_prune_hooks(old):
        _make_permanent(old)
    parent._modules[key] = _slice_conv(old, out_keep=keep)
    for k, action in plan:
        m = parent._modules[k]
        if action == "bn":
            _check_not_masked_elsewhere(m, k)
            parent._modules[k] = _slice_batchnorm(m, keep)
            continue
        if _has_prune_hooks(m):
            _make_permanent(m)
        if action == "conv_in":
            parent._modules[k] = _slice_conv(m, in_keep=keep)
        else:  # Linear after flatten: channel c owns columns c*HW ... c*HW + HW - 1 (NCHW order)
            spatial = m.in_features // c_out
            cols = (keep[:, None] * spatial + torch.arange(spatial, device=keep.device)[None, :]).reshape(-1)
            parent._modules[k] = _slice_linear(m, cols=cols)
    return new_model


# ----------------------------------------------------------------------------- BatchNorm
def _batchnorm_after(model: nn.Module, name: str, what: str) -> nn.Module:
    """The BatchNorm that follows layer ``name`` in its ``nn.Sequential`` (only element-wise layers between)."""
    _, after = _siblings_after(model, name, what)
    for _key, m in after:
        if isinstance(m, _BATCHNORMS):
            return m
        if isinstance(m, (nn.Identity, nn.modules.dropout._DropoutNd)):
            continue
        break
    raise ValueError(f"no BatchNorm follows {name!r}, so there is no BatchNorm scale (gamma) to read")


def bn_scale_scores(model: nn.Module, layer: LayerRef) -> np.ndarray:
    """``|gamma|`` of each output channel of ``layer``, read from the BatchNorm right after it; higher = keep.

    The criterion of Network Slimming (Liu et al. 2017, "Learning Efficient Convolutional Networks
    through Network Slimming"; ``torch_pruning.importance.BNScaleImportance``): BatchNorm normalises
    each channel to unit variance and multiplies it by ``gamma``, so ``|gamma|`` — not the filter's
    norm, which the normalisation divides out — sets how strongly the channel reaches the next layer.
    ``layer`` is a Conv/Linear layer (name or module) followed by a BatchNorm in an ``nn.Sequential``,
    or the BatchNorm itself. The twin of ``surgery_tf.bn_scale_scores(model, layer)``. Returns a
    float64 array of length ``out_channels``. Introduced in 05_structured_pruning_pytorch.
    """
    _check_model(model)
    if isinstance(layer, nn.Module) and isinstance(layer, _BATCHNORMS):
        bn = layer
        _resolve(model, layer)  # it must belong to the model
    else:
        name, module = _resolve(model, layer)
        if isinstance(module, _BATCHNORMS):
            bn = module
        elif isinstance(module, (nn.Linear, *_CONVS)):
            bn = _batchnorm_after(model, name, "bn_scale_scores")
        else:
            raise TypeError(f"bn_scale_scores expects a Conv/Linear layer or a BatchNorm, {name!r} is a "
                            f"{type(module).__name__}")
    if not bn.affine:
        raise ValueError("this BatchNorm has no scale (affine=False): every gamma is 1")
    return _effective_weight(bn).abs().double().cpu().numpy()


def recalibrate_bn(model: nn.Module, x: Any, *, batch_size: int = 256) -> nn.Module:
    """Recompute every BatchNorm's running mean and variance from the images ``x``; returns ``model``.

    After channel surgery a BatchNorm's stored statistics describe the inputs of the *dense* model;
    forwarding calibration images — a few hundred from the **training** split — refreshes them
    ("adaptive BatchNorm", Li et al. 2020, "EagleEye"). What it does, in place: reset each
    BatchNorm's running statistics, set ``momentum=None`` (a cumulative average over the batches
    instead of an exponential one), put only the BatchNorm layers in training mode (Dropout stays
    off), forward ``x`` in batches of ``batch_size`` under ``torch.no_grad()``, then restore each
    layer's momentum and mode. No weight changes. ``x``: numpy or torch images, float in [0, 1],
    ``(N, 28, 28)`` or ``(N, 1, 28, 28)``. Raises ``ValueError`` if the model has no BatchNorm with
    running statistics, or if a batch of 1 would meet a BatchNorm. Introduced in
    05_structured_pruning_pytorch.
    """
    _check_model(model)
    bns = [m for m in model.modules() if isinstance(m, _BATCHNORMS) and m.track_running_stats]
    if not bns:
        raise ValueError("the model has no BatchNorm layer with running statistics to recalibrate")
    batch_size = check_int(batch_size, "batch_size", 2)
    xt = _as_input(x)
    if len(xt) % batch_size == 1:
        raise ValueError(f"{len(xt)} images in batches of {batch_size} leave a last batch of 1 image, "
                         "whose batch variance is undefined; change batch_size")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    modes = {m: m.training for m in model.modules()}
    momenta = {bn: bn.momentum for bn in bns}
    try:
        model.eval()
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        with torch.no_grad():
            for i in range(0, len(xt), batch_size):
                model(xt[i: i + batch_size].to(device))
    finally:
        for bn, momentum in momenta.items():
            bn.momentum = momentum
        for m, mode in modes.items():
            m.training = mode
    return model


# ----------------------------------------------------------------------------- residual blocks
def _check_residual(model: nn.Module, what: str) -> None:
    from .models_torch import ResidualMLP

    _check_model(model)
    if not isinstance(model, ResidualMLP):
        raise TypeError(f"{what} works on models_torch.residual_mlp models (a stem, a list of residual blocks "
                        f"and a head), got a {type(model).__name__}")


def block_influence(model: nn.Module, data: Any, *, batch_size: int = 256) -> np.ndarray:
    """Block influence of each residual block: mean over images of ``1 - cos(h_in, h_out)``; low = removable.

    ShortGPT's criterion (Men et al. 2024, "ShortGPT: Layers in Large Language Models are More
    Redundant Than You Expect"): a block whose output points the same way as its input changes the
    representation little, so removing it (``h_out = h_in``) should cost little. ``data`` is images
    ``x`` or ``(x, y)`` (labels ignored), float in [0, 1] — calibration images from the **training**
    split. The model runs in eval mode under ``no_grad``; its mode is restored. Returns a float64
    array with one value per block, in ``[0, 2]``. The twin of ``surgery_tf.block_influence``.
    Introduced in 05_structured_pruning_pytorch.
    """
    _check_residual(model, "block_influence")
    batch_size = check_int(batch_size, "batch_size", 1)
    x, _ = _unpack_data(data, need_labels=False)
    n_blocks = len(model.blocks)
    total = torch.zeros(n_blocks, dtype=torch.float64)
    captured: list[torch.Tensor] = []

    def hook(_m: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        captured.append(1 - nn.functional.cosine_similarity(inp[0].double(), out.double(), dim=1, eps=1e-12))

    handles = [block.register_forward_hook(hook) for block in model.blocks]
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                captured.clear()
                model(x[i: i + batch_size].to(device))
                total += torch.stack([c.sum() for c in captured]).cpu()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return (total / len(x)).numpy()


def remove_blocks(model: nn.Module, blocks: Sequence[int]) -> nn.Module:
    """A copy of a ``residual_mlp`` without the residual blocks ``blocks`` (indices from 0); other weights copied.

    Removing block ``i`` replaces ``h = h + F_i(h)`` by ``h = h``, which is exact because the blocks
    have no activation after the sum: the result computes what the original computes with block
    ``i``'s branch set to zero. The remaining blocks keep their order (and are renumbered 0, 1, …).
    Removing every block is allowed (stem → head). The argument is not modified. Raises
    ``TypeError`` for a model that is not a ``models_torch.residual_mlp``, ``ValueError`` for indices
    out of range or repeated. The twin of ``surgery_tf.remove_blocks``. Introduced in
    05_structured_pruning_pytorch.
    """
    _check_residual(model, "remove_blocks")
    n = len(model.blocks)
    if isinstance(blocks, torch.Tensor):
        blocks = blocks.tolist()
    if isinstance(blocks, (str, bytes)) or not isinstance(blocks, (Sequence, np.ndarray)):
        raise TypeError(f"blocks must be a list of block indices, got {blocks!r}")
    idx: list[int] = []
    for b in blocks:
        if isinstance(b, (bool, np.bool_)) or not isinstance(b, (int, np.integer)):
            raise TypeError(f"block indices must be ints, got {blocks!r}")
        if not 0 <= b < n:
            raise ValueError(f"block index {b} out of range: the model has {n} blocks (0 … {n - 1})")
        idx.append(int(b))
    if len(set(idx)) != len(idx):
        raise ValueError(f"block indices must be distinct, got {idx}")
    new_model = _copy(model)
    new_model.blocks = nn.ModuleList(b for i, b in enumerate(new_model.blocks) if i not in idx)
    return new_model
