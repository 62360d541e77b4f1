"""Self-checks for the exercises of 05_structured_pruning_pytorch (PyTorch and torch-pruning only).

Each checker runs the learner's function on hidden cases, prints what was expected and what came
back (with a hint), and returns True or False.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["coupled_layers", "fc_columns", "filters_to_keep"]


def _int_array(x: Any) -> np.ndarray | None:
    """``x`` as a 1-D int64 array, or None if it is not a 1-D collection of integers."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except Exception:
        return None
    if arr.ndim != 1 or arr.dtype == bool:
        return None
    if arr.size == 0 or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
        return arr.astype(np.int64)
    return None


# ----------------------------------------------------------------------------- reference solutions
def reference_filters_to_keep(weight: torch.Tensor, amount: float) -> torch.Tensor:
    """Reference solution of exercise 1: sorted indices of the filters kept when the ``round(amount * n)``
    filters with the smallest L1 norm are removed (ties: the lower index goes first, as in
    ``surgery_torch.keep_indices``)."""
    l1 = weight.detach().abs().flatten(1).sum(dim=1)
    n_remove = round(amount * weight.shape[0])
    return torch.sort(torch.argsort(l1, stable=True)[n_remove:]).values


def reference_fc_columns(keep_channels: Any, spatial: int) -> torch.Tensor:
    """Reference solution of exercise 2: columns ``c*spatial ... c*spatial + spatial - 1`` of every kept
    channel ``c`` of an NCHW flatten, channels in increasing order."""
    keep = torch.sort(torch.as_tensor(keep_channels)).values
    return (keep[:, None] * spatial + torch.arange(spatial)[None, :]).flatten()


def reference_coupled_layers(model: nn.Module, layer_name: str, example_input: torch.Tensor) -> list[str]:
    """Reference solution of exercise 3: sorted names of the layers in the torch-pruning dependency group of
    ``layer_name``'s output channels (the model is not pruned)."""
    import torch_pruning as tp

    dg = tp.DependencyGraph().build_dependency(model, example_inputs=example_input)
    group = dg.get_pruning_group(model.get_submodule(layer_name), tp.prune_conv_out_channels, idxs=[0])
    names = {module: name for name, module in model.named_modules()}
    return sorted({names[dep.target.module] for dep, _ in group if dep.target.module in names})


# ----------------------------------------------------------------------------- exercise 1
def _l1_vs_l2_weight() -> torch.Tensor:
    """6 filters (6, 2, 3, 3) whose L1 and L2 rankings differ."""
    w = torch.zeros((6, 2, 3, 3))
    w[0, 0, 1, 1] = 3.0  # one big weight: L1 3.0, L2 3.0
    w[1] = 0.25  # 18 small weights: L1 4.5, L2 1.06
    w[2, :, 0, :] = -0.6  # L1 3.6, L2 1.47
    w[3, 1] = 0.05  # L1 0.45
    w[4, 0, 0, 0] = -2.0  # L1 2.0, L2 2.0
    w[5, :, :, 1] = 0.9  # L1 5.4, L2 2.2
    return w


@_exercise
def filters_to_keep(fn: Callable[[torch.Tensor, float], Any]) -> bool:
    """Check ``fn(weight, amount) -> indices of the filters to keep`` (L1-norm ranking, Li et al. 2017).

    ``weight`` has shape ``(out_channels, in_channels, kh, kw)``; the ``round(amount * out_channels)``
    filters with the smallest sum of absolute weights are removed; the others are returned (sorted).
    """
    rng = np.random.default_rng(6)
    big = torch.from_numpy(rng.normal(size=(12, 3, 3, 3)).astype(np.float32))
    cases = [
        (_l1_vs_l2_weight(), 0.5),
        (big, 0.4),  # round(4.8) = 5 filters removed
        (big, 0.0),
    ]
    for weight, amount in cases:
        n = weight.shape[0]
        l1 = weight.abs().flatten(1).sum(dim=1).numpy()
        n_remove = int(round(amount * n))
        expected = np.sort(np.argsort(l1, kind="stable")[n_remove:])
        ok, got = _call(fn, weight.clone(), amount)
        if not ok:
            return False
        arr = _int_array(got)
        if arr is None:
            return _fail(f"expected a 1-D list/array/tensor of filter indices, got {type(got).__name__} {got!r}",
                         "return e.g. torch.sort(kept_indices).values or a sorted numpy array")
        if len(arr) != len(expected):
            hint = "remove round(amount * out_channels) filters and return the ones you KEEP"
            if len(arr) == n_remove:
                hint = "you returned the removed filters; return the ones to keep"
            elif len(arr) == n - int(amount * n):
                hint = "int(amount * n) truncates 4.8 to 4; use round(amount * n), like torch.nn.utils.prune"
            return _fail(f"{n} filters, amount={amount}: expected {len(expected)} kept filters, got {len(arr)}", hint)
        if set(arr.tolist()) != set(expected.tolist()):
            l2 = weight.flatten(1).norm(dim=1).numpy()
            by_l2 = set(np.argsort(l2, kind="stable")[n_remove:].tolist())
            smallest = set(np.argsort(l1, kind="stable")[: n - n_remove].tolist())
            hint = "score each filter by weight[i].abs().sum() and keep the largest"
            if set(arr.tolist()) == by_l2:
                hint = "that is the L2 ranking; Li et al. rank filters by the L1 norm, sum(|w|)"
            elif set(arr.tolist()) == smallest:
                hint = "you kept the filters with the SMALLEST norms; keep the largest"
            return _fail(f"{n} filters, amount={amount}: expected to keep {expected.tolist()}, "
                         f"got {sorted(arr.tolist())}", hint)
    return _ok("filters_to_keep: the right filters for all cases (L1 norm, round(amount * n) removed)")


# ----------------------------------------------------------------------------- exercise 2
@_exercise
def fc_columns(fn: Callable[[Any, int], Any]) -> bool:
    """Check ``fn(keep_channels, spatial) -> input columns of the Linear layer after an NCHW flatten``.

    Channel ``c`` of a ``(N, C, H, W)`` map owns columns ``c*spatial ... c*spatial + spatial - 1``
    (``spatial = H*W``). Expected: those columns of every kept channel, channels in increasing order.
    """
    cases = [([0, 2], 4), ([1, 3, 4], 49), ([5], 1), ([2, 0, 7], 3)]
    for keep, spatial in cases:
        expected = np.concatenate([np.arange(c * spatial, (c + 1) * spatial) for c in sorted(keep)])
        ok, got = _call(fn, torch.tensor(keep), spatial)
        if not ok:
            return False
        arr = _int_array(got)
        if arr is None:
            return _fail(f"expected a 1-D list/array/tensor of column indices, got {type(got).__name__}")
        if np.array_equal(arr, expected):
            continue
        hint = "column of (channel c, position p) is c * spatial + p"
        if len(arr) == len(keep):
            hint = "each channel owns `spatial` columns, not one: c*spatial ... c*spatial + spatial - 1"
        elif len(arr) == len(expected) and set(arr.tolist()) == set(expected.tolist()):
            hint = ("right columns, wrong order: list them channel by channel (channels in increasing order), "
                    "then position by position — the order of the Linear layer's inputs")
        elif len(arr) == len(expected):
            hint = ("torch flattens NCHW: all positions of channel 0 come first, then channel 1, ... "
                    "(position-major order, p*C + c, is Keras' NHWC flatten)")
        return _fail(f"keep_channels={keep}, spatial={spatial}: expected {expected.tolist()[:12]}"
                     f"{' ...' if len(expected) > 12 else ''}, got {arr.tolist()[:12]}"
                     f"{' ...' if len(arr) > 12 else ''}", hint)
    return _ok("fc_columns: channel-major (NCHW) columns for all cases")


# ----------------------------------------------------------------------------- exercise 3
class _TwoBlockNet(nn.Module):
    """Hidden test model: a stem and a residual block, plus a plain branch-free tail."""

    def __init__(self) -> None:
        super().__init__()
        self.entry = nn.Conv2d(1, 6, 3, padding=1)
        self.entry_bn = nn.BatchNorm2d(6)
        self.inner1 = nn.Conv2d(6, 5, 3, padding=1)
        self.inner1_bn = nn.BatchNorm2d(5)
        self.inner2 = nn.Conv2d(5, 6, 3, padding=1)
        self.inner2_bn = nn.BatchNorm2d(6)
        self.tail = nn.Conv2d(6, 4, 1)
        self.head = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.entry_bn(self.entry(x)))
        r = self.inner2_bn(self.inner2(torch.relu(self.inner1_bn(self.inner1(h)))))
        t = torch.relu(self.tail(torch.relu(h + r)))
        return self.head(t.mean(dim=(2, 3)))


def _plain_cnn() -> nn.Sequential:
    return nn.Sequential(OrderedDict(
        a=nn.Conv2d(1, 4, 3, padding=1), a_bn=nn.BatchNorm2d(4), a_act=nn.ReLU(), pool=nn.MaxPool2d(2),
        b=nn.Conv2d(4, 6, 3, padding=1), b_bn=nn.BatchNorm2d(6), b_act=nn.ReLU(),
        flat=nn.Flatten(), out=nn.Linear(6 * 4 * 4, 2)))


_EXPECTED = {
    ("two_block", "inner1"): {"inner1", "inner1_bn", "inner2"},
    ("two_block", "inner2"): {"entry", "entry_bn", "inner1", "inner2", "inner2_bn", "tail"},
    ("two_block", "entry"): {"entry", "entry_bn", "inner1", "inner2", "inner2_bn", "tail"},
    ("two_block", "tail"): {"tail", "head"},
    ("plain", "a"): {"a", "a_bn", "b"},
    ("plain", "b"): {"b", "b_bn", "out"},
}


@_exercise
def coupled_layers(fn: Callable[[nn.Module, str, torch.Tensor], Any]) -> bool:
    """Check ``fn(model, layer_name, example_input) -> names of the layers that lose channels together``.

    Pruning output channels of ``layer_name`` forces the same channels out of every layer in its
    torch-pruning dependency group; the function returns the *names* (as in ``model.named_modules()``)
    of the layers with parameters in that group, including ``layer_name`` itself.
    """
    models = {"two_block": (_TwoBlockNet(), torch.rand(1, 1, 8, 8)), "plain": (_plain_cnn(), torch.rand(1, 1, 8, 8))}
    for (which, layer), expected in _EXPECTED.items():
        model, x = models[which]
        before = {k: v.clone() for k, v in model.state_dict().items()}
        ok, got = _call(fn, model, layer, x)
        if not ok:
            return False
        if isinstance(got, str) or not hasattr(got, "__iter__"):
            return _fail(f"expected a list of layer names, got {type(got).__name__}")
        got_set = {str(n) for n in got}
        after = model.state_dict()
        if before.keys() != after.keys() or any(before[k].shape != after[k].shape for k in before):
            return _fail("the function pruned the model", "only build the group and read it; do not call group.prune()")
        if got_set != expected:
            missing, extra = sorted(expected - got_set), sorted(got_set - expected)
            hint = ("build tp.DependencyGraph().build_dependency(model, example_inputs=...), then "
                    "DG.get_pruning_group(layer, tp.prune_conv_out_channels, idxs=[0]) and collect "
                    "dep.target.module of every entry that is a named module of the model")
            if got_set == {layer}:
                hint = "the group holds more than the layer itself: the next layer's inputs, BatchNorm, ..."
            return _fail(f"{which} model, layer {layer!r}: expected {sorted(expected)}, got {sorted(got_set)} "
                         f"(missing {missing}, unexpected {extra})", hint)
    return _ok("coupled_layers: right groups for a residual block and for a plain CNN")
