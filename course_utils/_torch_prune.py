"""``torch.nn.utils.prune`` bookkeeping, written once (private; imports ``torch``).

``torch.nn.utils.prune`` reparametrises a pruned tensor: ``module.weight_orig`` (the parameter),
``module.weight_mask`` (a buffer) and a forward pre-hook that recomputes
``module.weight = weight_orig * weight_mask`` before every forward pass. Every helper that copies,
measures or bakes in a pruned model needs the same few facts about that, so they live here:

- :func:`prune_hooks` / :func:`has_prune_hooks` / :func:`is_pruned`: is a tensor pruned?
- :func:`effective` / :func:`effective_weight`: what the layer computes with (``orig * mask``,
  always current; ``module.weight`` is only refreshed by the next forward pass).
- :func:`refresh`: recompute every pruned tensor now (e.g. after the last optimizer step).
- :func:`copy_model`: ``copy.deepcopy`` that works right after a prune call, without touching its argument.
- :func:`remove` / :func:`make_permanent`: ``prune.remove`` with ``-0.0`` normalised to ``+0.0``.

:mod:`course_utils.pruning_torch` re-exports the public names (``pt.copy_model``, ``pt.make_permanent``,
``pt.effective_weight``, ``pt.is_pruned``); :mod:`surgery_torch`, :mod:`train_torch`,
:mod:`metrics_torch` and :mod:`sparse_bench` use them.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

__all__ = [
    "check_model",
    "copy_model",
    "effective",
    "effective_weight",
    "has_prune_hooks",
    "is_pruned",
    "make_permanent",
    "prune_hooks",
    "refresh",
    "remove",
]


def check_model(model: Any) -> nn.Module:
    """``model`` if it is a ``torch.nn.Module``; TypeError otherwise."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch nn.Module, got {type(model).__name__}")
    return model


def prune_hooks(module: nn.Module, name: str | None = None) -> list[prune.BasePruningMethod]:
    """The ``torch.nn.utils.prune`` forward pre-hooks of ``module`` (of tensor ``name``, or all)."""
    return [
        h for h in module._forward_pre_hooks.values()
        if isinstance(h, prune.BasePruningMethod) and (name is None or getattr(h, "_tensor_name", None) == name)
    ]


def has_prune_hooks(module: nn.Module) -> bool:
    """Whether any tensor of ``module`` itself (not its children) is pruned by ``torch.nn.utils.prune``."""
    return bool(prune_hooks(module))


def is_pruned(module: nn.Module, name: str = "weight") -> bool:
    """Whether ``module.<name>`` is reparametrised by ``torch.nn.utils.prune``
    (it has ``<name>_orig``, ``<name>_mask`` and a forward pre-hook). Introduced in 02_weight_pruning_pytorch."""
    check_model(module)
    return bool(prune_hooks(module, name)) and hasattr(module, name + "_orig") and hasattr(module, name + "_mask")


def effective(module: nn.Module, name: str = "weight") -> torch.Tensor:
    """``module.<name>`` with its pruning mask applied (``<name>_orig * <name>_mask``), detached.

    Any module with ``<name>_orig`` and ``<name>_mask`` tensors counts as pruned (a half-removed
    reparametrisation, too); otherwise ``module.<name>`` itself.
    """
    orig = getattr(module, name + "_orig", None)
    mask = getattr(module, name + "_mask", None)
    if isinstance(orig, torch.Tensor) and isinstance(mask, torch.Tensor):
        return (orig.detach() * mask.detach())
    t = getattr(module, name, None)
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{type(module).__name__} has no {name} tensor")
    return t.detach()


def effective_weight(module: nn.Module) -> torch.Tensor:
    """The weight the layer computes with, detached: ``weight_orig * weight_mask`` when pruned
    (always current, unlike ``module.weight`` which only the next forward pass refreshes), else
    ``weight``. Introduced in 02_weight_pruning_pytorch."""
    check_model(module)
    return effective(module, "weight")


def refresh(model: nn.Module) -> None:
    """Recompute every pruned tensor (``weight = weight_orig * weight_mask``) now, without gradient tracking.

    The prune hook recomputes ``weight`` before each forward pass, so after an optimizer step
    ``module.weight`` is stale until the next forward; after this it equals what the model computes with.
    """
    with torch.no_grad():
        for module in model.modules():
            for hook in prune_hooks(module):
                setattr(module, hook._tensor_name, hook.apply_mask(module))


def copy_model(model: nn.Module) -> nn.Module:
    """``copy.deepcopy(model)`` that also works right after ``torch.nn.utils.prune`` calls; ``model`` is not changed.

    A prune call (or a forward pass with gradients) leaves ``module.weight = weight_orig * weight_mask``
    as a non-leaf tensor of the autograd graph, and ``copy.deepcopy`` refuses those ("Only Tensors
    created explicitly by the user (graph leaves) support the deepcopy protocol", pytorch/pytorch
    #37322). The copy gets ``weight_orig * weight_mask`` recomputed without gradient tracking instead
    (the current value, even if ``model.weight`` is stale). Introduced in 02_weight_pruning_pytorch.
    """
    check_model(model)
    memo: dict[int, Any] = {}
    with torch.no_grad():
        for module in model.modules():
            for hook in prune_hooks(module):
                t = getattr(module, hook._tensor_name, None)
                if isinstance(t, torch.Tensor):
                    memo[id(t)] = hook.apply_mask(module).detach().clone()
    return copy.deepcopy(model, memo)


def remove(module: nn.Module) -> None:
    """``prune.remove`` on every pruned tensor of ``module`` itself (not its children), in place.

    Masking a negative weight leaves ``-0.0``, whose bytes differ from ``+0.0``; the zeros are
    normalised to ``+0.0``, or a file holding both kinds of zero compresses worse (gzip sizes would
    be inflated).
    """
    for hook in prune_hooks(module):
        name = hook._tensor_name
        prune.remove(module, name)
        with torch.no_grad():
            w = getattr(module, name)
            w[w == 0] = 0.0


def make_permanent(model: nn.Module) -> nn.Module:
    """``prune.remove`` on every pruned tensor of ``model`` (in place) and return ``model``.

    Afterwards ``weight`` is an ordinary parameter holding zeros (all ``+0.0``), ``weight_orig``/``weight_mask``
    and the hooks are gone, and ``state_dict`` is as large as the dense model's again. Zeros
    are no longer protected: further training will make them nonzero unless you mask again.
    Safe to call on a model with nothing pruned. Introduced in 02_weight_pruning_pytorch.
    """
    check_model(model)
    for module in model.modules():
        remove(module)
    return model
