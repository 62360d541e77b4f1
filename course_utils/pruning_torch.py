"""Unstructured weight pruning helpers for PyTorch, built on ``torch.nn.utils.prune``.

Introduced in 02_weight_pruning_pytorch. Imports ``torch`` at top level.

Why helpers at all? ``torch.nn.utils.prune`` is the tool, and the notebooks use it directly
first. But two of its behaviours surprise learners:

- Calling a pruning function on an already pruned tensor *stacks* a new mask on top of the
  old one (a ``PruningContainer``), and ``amount`` is then a fraction of the weights that are
  *still unpruned*: two calls with ``amount=0.2`` leave 1 - 0.8 * 0.8 = 36 % zeros, not 20 %.
  Re-running a notebook cell therefore prunes again.
- ``amount`` is per tensor for ``l1_unstructured`` but over all listed tensors for
  ``global_unstructured``.

The helpers here take a *total* target instead: ``prune_model(model, 0.9)`` leaves 90 % of the
selected weights at zero however often it is called (it is idempotent), grows an existing
mask when asked for more, and refuses (``ValueError``) to go below the sparsity the model
already has. They never stack masks: a layer that is already pruned gets its ``weight_mask``
buffer updated in place; a dense layer gets one ``prune.custom_from_mask``. So everything
``torch.nn.utils.prune`` users know still holds (``weight_orig``, ``weight_mask``, the forward
pre-hook, ``prune.remove``).

Conventions: *prunable weights* are the ``weight`` tensors of ``nn.Linear`` and
``nn.Conv1d/2d/3d`` layers (not biases, not BatchNorm), keyed by module name (``"fc1"``).
``amount`` and sparsities are fractions 0-1 of zeros; masks are bool tensors with True for a
weight that is *kept*.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from . import schedules
from ._torch_prune import check_model as _check_model
from ._torch_prune import copy_model, effective_weight, is_pruned, make_permanent
from ._torch_prune import prune_hooks as _prune_hooks
from ._validate import check_fraction, check_int
from .history import History

__all__ = [
    "PRUNABLE_TYPES",
    "apply_masks",
    "copy_model",
    "describe_pruning",
    "effective_weight",
    "global_prune",
    "is_pruned",
    "iterative_prune",
    "layerwise_prune",
    "magnitude_masks",
    "make_permanent",
    "prunable_modules",
    "prune_model",
    "sensitivity_scan",
    "sparsity_of",
]

#: Module types whose ``weight`` is a prunable weight.
PRUNABLE_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_METHODS = ("l1", "random")
_SCOPES = ("global", "layer")


# --------------------------------------------------------------------------- validation
# The torch.nn.utils.prune bookkeeping (copy_model, make_permanent, effective_weight, is_pruned)
# lives in course_utils._torch_prune and is re-exported here.
def _check_amount(amount: Any, name: str = "amount") -> float:
    return check_fraction(amount, name, hint=" (e.g. 0.9 removes 90 % of the weights)")


def _check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


# --------------------------------------------------------------------------- inspection
def prunable_modules(model: nn.Module, layers: Sequence[str] | None = None) -> dict[str, nn.Module]:
    """``{name: module}`` for the Linear/Conv layers of ``model`` (all of them, or ``layers``).

    Raises ``ValueError`` for an unknown or non-prunable layer name, or when the model has no
    prunable layer. Introduced in 02_weight_pruning_pytorch.
    """
    _check_model(model)
    # a bare layer (model is itself an nn.Linear) is keyed by its class name
    found = {name or type(m).__name__: m for name, m in model.named_modules() if isinstance(m, PRUNABLE_TYPES)}
    if not found:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv1d/2d/3d layer to prune")
    if layers is None:
        return found
    if isinstance(layers, str) or not isinstance(layers, Sequence):
        raise TypeError(f"layers must be a list of layer names such as ['fc1', 'fc2'], got {layers!r}")
    unknown = [n for n in layers if n not in found]
    if unknown:
        raise ValueError(f"no prunable layer named {unknown}; prunable layers are {sorted(found)}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers lists a layer twice: {list(layers)}")
    if not layers:
        raise ValueError("layers is empty; pass None to prune every Linear/Conv layer")
    return {n: found[n] for n in layers}


def _hooks(module: nn.Module, name: str = "weight") -> list[prune.BasePruningMethod]:
    return _prune_hooks(module, name)


def sparsity_of(model: nn.Module, layers: Sequence[str] | None = None) -> dict[str, float]:
    """``{layer: fraction 0-1 of zeros}`` of the effective weights, plus ``"total"`` over all
    listed layers (weighted by size). Introduced in 02_weight_pruning_pytorch."""
    mods = prunable_modules(model, layers)
    out: dict[str, float] = {}
    zeros = total = 0
    for name, m in mods.items():
        w = effective_weight(m)
        z = int(w.numel() - torch.count_nonzero(w))
        out[name] = z / w.numel()
        zeros += z
        total += w.numel()
    out["total"] = zeros / total
    return out


def describe_pruning(model: nn.Module) -> list[dict[str, Any]]:
    """One row per prunable layer: ``layer``, ``pruned`` (bool), ``hook`` (class name of the
    pruning hook, ``"PruningContainer"`` when masks were stacked by repeated torch calls),
    ``sparsity`` (fraction 0-1), ``tensors`` (names of the layer's parameters and buffers).
    Introduced in 02_weight_pruning_pytorch."""
    rows = []
    for name, m in prunable_modules(model).items():
        hooks = _hooks(m)
        w = effective_weight(m)
        rows.append({
            "layer": name,
            "pruned": is_pruned(m),
            "hook": type(hooks[0]).__name__ if hooks else "",
            "sparsity": float(1 - torch.count_nonzero(w).item() / w.numel()),
            "tensors": ([n for n, _ in m.named_parameters(recurse=False)]
                        + [n for n, _ in m.named_buffers(recurse=False)]),
        })
    return rows


# --------------------------------------------------------------------------- masks
_RANDOM_SCORE_SEED_OFFSET = 0x5EED_0F_5C0E  # keeps random pruning scores independent of seeded inits


def _scores(weights: Mapping[str, torch.Tensor], method: str, seed: int) -> dict[str, torch.Tensor]:
    """Importance per weight: |w| (l1) or uniform random in (0, 1] (random). Already-zero
    weights score 0 in both cases, so they are removed first and masks only ever grow."""
    if method == "l1":
        return {n: w.abs().float() for n, w in weights.items()}
    # an own stream: torch.Generator().manual_seed(seed) is also how models_torch initialises the
    # weights, and scores equal to the initial weights would make "random" pruning anything but random
    gen = torch.Generator().manual_seed(_RANDOM_SCORE_SEED_OFFSET + seed)
    out = {}
    for n, w in weights.items():
        r = 1.0 - torch.rand(w.shape, generator=gen)  # (0, 1]
        out[n] = torch.where(w != 0, r, torch.zeros_like(r))
    return out


def _mask_smallest(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask (True = keep) removing exactly the ``k`` lowest scores (ties: lower index first)."""
    flat = scores.flatten()
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if k > 0:
        order = torch.argsort(flat, stable=True)
        keep[order[:k]] = False
    return keep.view(scores.shape)


def magnitude_masks(
    model: nn.Module,
    amount: float | Mapping[str, float],
    *,
    scope: str = "global",
    method: str = "l1",
    layers: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """Keep-masks that remove a fraction ``amount`` of the prunable weights (model unchanged).

    - ``scope="global"``: one ranking over all selected layers; exactly
      ``round(amount * total)`` weights are removed, and the layers end up with different
      sparsities (layers with small weights lose more).
    - ``scope="layer"``: each layer loses ``round(amount * layer size)`` of its own weights;
      ``amount`` may also be a dict ``{layer: fraction}`` (then only those layers are pruned).
    - ``method="l1"`` ranks by |effective weight| (magnitude pruning); ``method="random"``
      ranks at random (seeded by ``seed``) — the control every pruning result needs.

    Weights that are already zero (already pruned) rank lowest, so the new masks contain the
    old ones. Returns ``{layer: bool tensor}`` with True for a weight that is kept, on the CPU.
    Introduced in 02_weight_pruning_pytorch.
    """
    _check_choice(scope, "scope", _SCOPES)
    _check_choice(method, "method", _METHODS)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if isinstance(amount, Mapping):
        if scope != "layer":
            raise ValueError("a per-layer amount {layer: fraction} needs scope='layer'")
        if layers is not None:
            raise ValueError("pass either layers or a per-layer amount dict, not both")
        amounts = {n: _check_amount(a, f"amount[{n!r}]") for n, a in amount.items()}
        mods = prunable_modules(model, list(amounts))
    else:
        a = _check_amount(amount)
        mods = prunable_modules(model, layers)
        amounts = {n: a for n in mods}
    weights = {n: effective_weight(m).cpu() for n, m in mods.items()}
    scores = _scores(weights, method, seed)
    if scope == "layer":
        return {n: _mask_smallest(scores[n], round(amounts[n] * scores[n].numel())) for n in mods}
    names = list(mods)
    flat = torch.cat([scores[n].flatten() for n in names])
    keep = _mask_smallest(flat, round(next(iter(amounts.values())) * flat.numel()))
    out, start = {}, 0
    for n in names:
        size = scores[n].numel()
        out[n] = keep[start:start + size].view(scores[n].shape)
        start += size
    return out


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor], *, allow_regrow: bool = False) -> nn.Module:
    """Make ``masks`` (``{layer: keep-mask}``) the pruning masks of ``model``, in place; never stacks.

    A dense layer gets ``prune.custom_from_mask`` (so it gains ``weight_orig``, ``weight_mask``
    and the forward pre-hook); an already pruned layer gets its ``weight_mask`` buffer
    overwritten (one hook, whatever was there). ``module.weight`` is refreshed at once.
    A mask that would bring back a pruned weight raises ``ValueError`` unless
    ``allow_regrow=True``. Returns ``model``. Introduced in 02_weight_pruning_pytorch.
    """
    if not isinstance(masks, Mapping) or not masks:
        raise TypeError("masks must be a non-empty dict {layer name: bool keep-mask}")
    mods = prunable_modules(model, list(masks))
    for name, m in mods.items():
        mask = masks[name]
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask for {name!r} must be a torch tensor, got {type(mask).__name__}")
        if tuple(mask.shape) != tuple(m.weight.shape):
            raise ValueError(f"mask for {name!r} has shape {tuple(mask.shape)}, the weight has {tuple(m.weight.shape)}")
        if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask for {name!r} must hold only 0/1 (or be bool)")
    with torch.no_grad():
        for name, m in mods.items():
            ref = m.weight_orig if is_pruned(m) else m.weight
            mask = masks[name].to(device=ref.device, dtype=ref.dtype)
            if is_pruned(m):
                if not allow_regrow and bool(((mask != 0) & (m.weight_mask == 0)).any()):
                    raise ValueError(
                        f"the new mask for {name!r} would bring back weights that are pruned; pruning masks "
                        "only grow here (pass allow_regrow=True if you mean it)"
                    )
                m.weight_mask.copy_(mask)
                m.weight = m.weight_orig * m.weight_mask
            else:
                prune.custom_from_mask(m, "weight", mask)
    return model


def prune_model(
    model: nn.Module,
    amount: float | Mapping[str, float],
    *,
    scope: str = "global",
    method: str = "l1",
    layers: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Prune ``model`` in place so that a *total* fraction ``amount`` of the selected weights is zero.

    Idempotent: calling it again with the same ``amount`` changes nothing, a larger ``amount``
    grows the masks (already pruned weights stay pruned), a smaller one raises ``ValueError``
    (pruning cannot be undone; start again from a ``copy.deepcopy`` of the dense model).
    See :func:`magnitude_masks` for ``scope``/``method``. Returns :func:`sparsity_of` for the
    pruned layers. Introduced in 02_weight_pruning_pytorch.
    """
    masks = magnitude_masks(model, amount, scope=scope, method=method, layers=layers, seed=seed)
    have = sparsity_of(model, list(masks))
    if scope == "global":
        target = _check_amount(amount) if not isinstance(amount, Mapping) else None
        if target is not None and have["total"] > target + 0.5 / sum(m.numel() for m in masks.values()):
            raise ValueError(
                f"the selected layers are already {have['total']:.1%} sparse, more than amount={target}: "
                "amount is the *total* fraction to remove and pruning cannot be undone. Prune a fresh "
                "copy.deepcopy of the dense model instead."
            )
    else:
        for name, mask in masks.items():
            want = float(1 - mask.float().mean())
            if have[name] > want + 0.5 / mask.numel():
                raise ValueError(
                    f"layer {name!r} is already {have[name]:.1%} sparse, more than its amount {want:.3f}: "
                    "amount is the *total* fraction to remove and pruning cannot be undone. Prune a fresh "
                    "copy.deepcopy of the dense model instead."
                )
    apply_masks(model, masks)
    return sparsity_of(model, list(masks))


def global_prune(model: nn.Module, amount: float, *, method: str = "l1",
                 layers: Sequence[str] | None = None, seed: int = 0) -> dict[str, float]:
    """Global magnitude (or random) pruning to a total sparsity ``amount``; idempotent.

    ``prune_model(model, amount, scope="global", ...)``; see :func:`prune_model`.
    Introduced in 02_weight_pruning_pytorch.
    """
    return prune_model(model, amount, scope="global", method=method, layers=layers, seed=seed)


def layerwise_prune(model: nn.Module, amount: float | Mapping[str, float], *, method: str = "l1",
                    layers: Sequence[str] | None = None, seed: int = 0) -> dict[str, float]:
    """Layer-wise pruning: every selected layer loses a fraction ``amount`` of its own weights
    (or ``amount[layer]`` for a dict); idempotent. ``prune_model(..., scope="layer")``.
    Introduced in 02_weight_pruning_pytorch."""
    return prune_model(model, amount, scope="layer", method=method, layers=layers, seed=seed)


# --------------------------------------------------------------------------- procedures
def _n_samples(data: Any) -> int:
    from torch.utils.data import DataLoader

    if isinstance(data, DataLoader):
        return -1
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return len(data[0])
    raise TypeError(f"train must be a DataLoader or a tuple (x, y), got {type(data).__name__}")


def iterative_prune(
    model: nn.Module,
    train: Any,
    *,
    final_sparsity: float,
    epochs: int,
    initial_sparsity: float = 0.0,
    begin_step: int = 0,
    end_step: int | None = None,
    frequency: int = 10,
    scope: str = "global",
    method: str = "l1",
    layers: Sequence[str] | None = None,
    val: Any = None,
    lr: float = 1e-3,
    optimizer: str = "adam",
    batch_size: int = 128,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Gradual prune-and-fine-tune with the cubic schedule of Zhu & Gupta (2017), in place.

    Trains ``model`` for ``epochs`` with :func:`course_utils.train_torch.fit`; at every step
    ``t`` with ``schedules.should_prune(t, begin_step, end_step, frequency)`` the model is
    pruned (:func:`prune_model`, total fraction) to
    ``schedules.cubic_sparsity(t, initial_sparsity, final_sparsity, begin_step, end_step,
    frequency)`` — the rule TFMOT's ``PolynomialDecay(power=3)`` follows. Step 0 is pruned
    before training starts. ``end_step`` defaults to the step at 2/3 of training, rounded down
    to a multiple of ``frequency`` after ``begin_step``; the remaining steps fine-tune at
    ``final_sparsity``. Steps count optimizer steps (batches). The model stays pruned with
    masks (call :func:`make_permanent` to bake them in). Returns the ``History``.
    Introduced in 02_weight_pruning_pytorch.
    """
    from . import train_torch

    _check_model(model)
    final = _check_amount(final_sparsity, "final_sparsity")
    initial = _check_amount(initial_sparsity, "initial_sparsity")
    if final >= 1.0:
        raise ValueError("final_sparsity must be < 1 (1.0 would remove every weight)")
    if initial > final:
        raise ValueError(f"initial_sparsity ({initial}) must not exceed final_sparsity ({final})")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    n = _n_samples(train)
    steps_per_epoch = len(train) if n < 0 else math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    frequency = check_int(frequency, "frequency", 1)
    if end_step is None:
        span = (2 * total_steps // 3 - begin_step) // frequency * frequency
        if span < frequency:
            raise ValueError(
                f"training has only {total_steps} steps, too few to prune every {frequency} steps from "
                f"step {begin_step}; use more epochs, a smaller frequency or pass end_step"
            )
        end_step = begin_step + span
    if end_step > total_steps:
        raise ValueError(
            f"end_step={end_step} is after the last training step ({total_steps} = {epochs} epochs x "
            f"{steps_per_epoch} batches): final_sparsity would never be reached"
        )
    sched = dict(initial_sparsity=initial, final_sparsity=final, begin_step=begin_step,
                 end_step=end_step, frequency=frequency)
    kw = dict(scope=scope, method=method, layers=layers, seed=seed)
    # Step 0: reparametrise now, so fit's optimizer is built for weight_orig.
    s0 = float(schedules.cubic_sparsity(0, **sched)) if begin_step == 0 else initial
    prune_model(model, s0, **kw)

    def on_step(step: int) -> None:
        if schedules.should_prune(step, begin_step=begin_step, end_step=end_step, frequency=frequency):
            prune_model(model, float(schedules.cubic_sparsity(step, **sched)), **kw)

    hist = train_torch.fit(model, train, epochs=epochs, lr=lr, optimizer=optimizer, val=val,
                           batch_size=batch_size, seed=seed, progress=progress, on_step=on_step)
    got = sparsity_of(model, layers)["total"]
    if scope == "global" and abs(got - final) > 1e-3:
        warnings.warn(f"iterative_prune ended at sparsity {got:.4f}, not {final}", RuntimeWarning, stacklevel=2)
    return hist


def sensitivity_scan(
    model: nn.Module,
    data: Any,
    amounts: Sequence[float],
    *,
    layers: Sequence[str] | None = None,
    method: str = "l1",
    seed: int = 0,
    batch_size: int = 512,
) -> dict[str, dict[str, list[float]]]:
    """Per-layer sensitivity: prune *one* layer at a time and measure loss and accuracy on ``data``.

    For each layer and each fraction in ``amounts``, a ``copy.deepcopy`` of ``model`` has only
    that layer pruned (``scope="layer"``, ``method``), with no fine-tuning, and is evaluated
    with :func:`course_utils.train_torch.evaluate`. ``model`` is not changed. Use the
    *validation* split for ``data``. Returns ``{layer: {"amount": [...], "loss": [...],
    "accuracy": [...]}}`` (loss in nats per sample, accuracy a fraction 0-1).
    Introduced in 02_weight_pruning_pytorch.
    """
    from . import train_torch

    mods = prunable_modules(model, layers)
    if isinstance(amounts, (str, bytes)) or not isinstance(amounts, Sequence) or not amounts:
        raise TypeError(f"amounts must be a non-empty list of fractions, got {amounts!r}")
    fracs = [_check_amount(a, "each amount") for a in amounts]
    out: dict[str, dict[str, list[float]]] = {}
    for name in mods:
        rows: dict[str, list[float]] = {"amount": [], "loss": [], "accuracy": []}
        for a in fracs:
            trial = copy_model(model)
            # start from the layer's own current sparsity (a pruned model stays as pruned)
            have = sparsity_of(trial, [name])[name]
            prune_model(trial, {name: max(a, have)}, scope="layer", method=method, seed=seed)
            ev = train_torch.evaluate(trial, data, batch_size=batch_size)
            rows["amount"].append(a)
            rows["loss"].append(float(ev["loss"]))
            rows["accuracy"].append(float(ev["accuracy"]))
        out[name] = rows
    return out
