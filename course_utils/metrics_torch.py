"""PyTorch back end of :mod:`course_utils.metrics` (use the functions there; they dispatch here).

Imports ``torch`` at top level. Conventions (units, what counts as a parameter or a prunable
weight) are described in :mod:`course_utils.metrics`. Introduced in 01_loss_before_and_after_pytorch.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ._torch_prune import effective as _effective

# Layers whose weight is a prunable weight and whose MACs we count.
_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Layers with parameters that are deliberately neither prunable nor counted in MACs.
_NON_PRUNABLE_OK = (
    nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm* (affine)
    nn.LayerNorm,
    nn.GroupNorm,
    nn.PReLU,
)


def _own_param_names(module: nn.Module) -> list[str]:
    return [n for n, _ in module.named_parameters(recurse=False)]


# _effective(module, name): the tensor with its torch.nn.utils.prune mask applied (orig * mask, always
# current; module.weight may be stale after pruning or an optimizer step). From course_utils._torch_prune.


def _check_supported(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if not _own_param_names(module):
            continue
        if isinstance(module, _PRUNABLE) or isinstance(module, _NON_PRUNABLE_OK):
            continue
        raise NotImplementedError(
            f"layer {name or '<root>'!r} ({type(module).__name__}) has parameters "
            f"{_own_param_names(module)} but course_utils.metrics supports only Linear, Conv1d/2d/3d "
            "(prunable, counted in MACs) and normalization/PReLU layers (neither)."
        )


def _prunable_modules(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    _check_supported(model)
    for name, module in model.named_modules():
        if isinstance(module, _PRUNABLE):
            yield name or type(module).__name__, module


def prunable_weights(model: nn.Module) -> dict[str, np.ndarray]:
    """See :func:`course_utils.metrics.prunable_weights`."""
    return {name: _effective(m, "weight").cpu().numpy().copy() for name, m in _prunable_modules(model)}


def _effective_params(model: nn.Module) -> Iterator[torch.Tensor]:
    """Every parameter once (shared ones too), with any pruning mask applied."""
    seen: set[int] = set()
    for module in model.modules():
        for pname, p in module.named_parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            if pname.endswith("_orig") and isinstance(getattr(module, pname[:-5] + "_mask", None), torch.Tensor):
                yield _effective(module, pname[:-5])
            else:
                yield p.detach()


def count_params(model: nn.Module) -> int:
    """See :func:`course_utils.metrics.count_params`."""
    return int(sum(t.numel() for t in _effective_params(model)))


def count_nonzero(model: nn.Module) -> int:
    """See :func:`course_utils.metrics.count_nonzero`."""
    return int(sum(int(torch.count_nonzero(t)) for t in _effective_params(model)))


def _dummy_input(model: nn.Module, shape: tuple[int, ...], batch_size: int, seed: int = 0) -> torch.Tensor:
    p = next(iter(model.parameters()), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None and p.dtype.is_floating_point else torch.float32
    gen = torch.Generator().manual_seed(seed)
    return torch.rand((batch_size, *shape), generator=gen, dtype=torch.float32).to(device=device, dtype=dtype)


class _InputShapeError(ValueError):
    pass


def _run(model: nn.Module, x: torch.Tensor, input_shape: tuple[int, ...]) -> None:
    try:
        model(x)
    except _InputShapeError:
        raise
    except (RuntimeError, ValueError) as e:
        raise ValueError(
            f"{type(model).__name__} failed on a dummy input of shape {tuple(x.shape)} built from "
            f"input_shape={input_shape} (input_shape is one sample without the batch dimension, e.g. "
            f"(1, 28, 28) for the course CNN or (784,) for the MLP). PyTorch said: {e}"
        ) from e


def layer_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """See :func:`course_utils.metrics.layer_macs`. Dummy forward with batch 1 and hooks."""
    layers = list(_prunable_modules(model))
    counts: dict[str, int] = {name: 0 for name, _ in layers}

    def make_hook(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if isinstance(module, nn.Linear):
                counts[name] += output.numel() * module.in_features
                return
            spatial = len(module.kernel_size)
            if inputs[0].dim() != spatial + 2:
                raise _InputShapeError(
                    f"layer {name!r} ({type(module).__name__}) got an input of shape {tuple(inputs[0].shape)}, "
                    f"expected (batch, channels, {spatial} spatial dims): input_shape={input_shape} has the "
                    "wrong number of dimensions (give one sample without the batch dimension, e.g. (1, 28, 28))"
                )
            # weight is (out, in/groups, *kernel): each output element needs in/groups * kernel-area MACs.
            counts[name] += output.numel() * int(np.prod(module.weight.shape[1:]))

        return hook

    handles = [m.register_forward_hook(make_hook(n)) for n, m in layers]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            _run(model, _dummy_input(model, input_shape, 1), input_shape)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {k: int(v) for k, v in counts.items()}


def serialized_bytes(model: nn.Module) -> bytes:
    """``torch.save(model.state_dict())`` into memory. See :func:`course_utils.metrics.serialized_bytes`."""
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


@contextlib.contextmanager
def timer(
    model: nn.Module,
    input_shape: tuple[int, ...],
    batch_size: int,
    *,
    threads: int | None,
) -> Iterator[tuple[Callable[[], object], int]]:
    """Context: ``(call, threads used)``, where ``call()`` runs ``model`` once on a fixed random batch.

    Inside the context the model is in eval mode under ``torch.inference_mode`` with ``threads``
    intra-op threads; leaving it restores the training flag and the thread count. The first call
    (untimed) gives a clear ``ValueError`` for a wrong ``input_shape``. Used by :func:`latency` and
    :func:`course_utils.metrics.race` (arguments already validated there).
    """
    old_threads = torch.get_num_threads()
    was_training = model.training
    x = _dummy_input(model, input_shape, batch_size)
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        used = torch.get_num_threads()
        model.eval()
        with torch.inference_mode():
            _run(model, x, input_shape)  # clear error on a wrong input_shape
            yield (lambda: model(x)), used
    finally:
        model.train(was_training)
        torch.set_num_threads(old_threads)

