"""The course's models in PyTorch (introduced in 01_loss_before_and_after_pytorch).

The MLP and the CNN are ``nn.Sequential`` with named children, so layers are reached as ``model.fc1``
or ``model.conv1`` — the names torch.nn.utils.prune, torch-pruning and the Keras twins in
``course_utils.models_tf`` use as well. :func:`residual_mlp` (layer pruning, notebook 05) is an
``nn.Module`` with a ``stem``, a list of residual ``blocks`` and a ``head``.

Initialisation (same rule as the Keras models): weights of Linear/Conv layers are
He/Kaiming-uniform, ``U(-b, b)`` with ``b = sqrt(6 / fan_in)`` (``fan_in`` = inputs per output
unit: ``in_features`` for Linear, ``in_channels * kh * kw`` for Conv), biases are zero,
BatchNorm has its default init (weight 1, bias 0, running mean 0, running var 1). The same
``seed`` gives the same weights; the two frameworks draw from the same *distribution*, not the
same numbers.

Caveat (structured surgery on ``fc``): torch flattens the CNN's feature map in NCHW order
(channel-major: index ``c*49 + h*7 + w``), Keras in NHWC order (``(h*7 + w)*C + c``). Removing
conv2 channel ``c`` therefore removes a different set of ``fc`` input columns in each framework.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ._validate import check_sizes as _check_sizes

IMAGE_SIZE = 28
NUM_CLASSES = 10
INPUT_FEATURES = IMAGE_SIZE * IMAGE_SIZE

__all__ = ["Block", "ResidualMLP", "he_uniform_bound", "mlp", "residual_mlp", "small_cnn"]


def he_uniform_bound(fan_in: int) -> float:
    """Bound ``b = sqrt(6 / fan_in)`` of the He-uniform init ``U(-b, b)``."""
    if fan_in <= 0:
        raise ValueError(f"fan_in must be positive, got {fan_in}")
    return math.sqrt(6.0 / fan_in)


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed


def _init_(model: nn.Module, seed: int) -> None:
    """He-uniform weights, zero biases, in module order, from a local generator."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu", generator=gen)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                module.reset_parameters()


def _build(make_layers: Callable[[], OrderedDict], seed: int) -> nn.Sequential:
    # Constructing layers runs their default init, which draws from torch's *global* RNG;
    # fork_rng keeps the caller's global RNG stream untouched. Our init uses a local generator.
    with torch.random.fork_rng(devices=[]):
        model = nn.Sequential(make_layers())
    _init_(model, seed)
    return model


def mlp(hidden: Sequence[int] = (300, 100), *, seed: int = 0) -> nn.Sequential:
    """LeNet-300-100 style MLP: 784 → hidden... → 10 with ReLU, outputs logits.

    Children: ``flatten, fc1, relu1, fc2, relu2, ..., fc{k+1}``. Accepts inputs of shape
    ``(N, 784)``, ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` (``nn.Flatten(start_dim=1)``).
    The default has 266,610 parameters. Introduced in 01_loss_before_and_after_pytorch.
    """
    sizes = _check_sizes(hidden, "hidden")
    _check_seed(seed)

    def make_layers() -> OrderedDict:
        layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=nn.Flatten(start_dim=1))
        fan_in = INPUT_FEATURES
        for i, width in enumerate(sizes, start=1):
            layers[f"fc{i}"] = nn.Linear(fan_in, width)
            layers[f"relu{i}"] = nn.ReLU()
            fan_in = width
        layers[f"fc{len(sizes) + 1}"] = nn.Linear(fan_in, NUM_CLASSES)
        return layers

    return _build(make_layers, seed)


def small_cnn(channels: Sequence[int] = (32, 64), *, seed: int = 0) -> nn.Sequential:
    """Small CNN: conv1-bn1-ReLU-pool → conv2-bn2-ReLU-pool → flatten → fc (logits).

    Input ``(N, 1, 28, 28)``. Convs are 3x3 with ``padding="same"`` (and a bias); pools are 2x2,
    so ``fc`` sees ``channels[1] * 7 * 7`` features in NCHW (channel-major) order.
    Children: ``conv1, bn1, relu1, pool1, conv2, bn2, relu2, pool2, flatten, fc``.
    Introduced in 05_structured_pruning_pytorch.
    """
    c1, c2 = _check_sizes(channels, "channels", exact=2)
    _check_seed(seed)
    side = IMAGE_SIZE // 4

    def make_layers() -> OrderedDict:
        return OrderedDict(
            conv1=nn.Conv2d(1, c1, kernel_size=3, padding="same"),
            bn1=nn.BatchNorm2d(c1),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(c1, c2, kernel_size=3, padding="same"),
            bn2=nn.BatchNorm2d(c2),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(start_dim=1),
            fc=nn.Linear(c2 * side * side, NUM_CLASSES),
        )

    return _build(make_layers, seed)


class Block(nn.Module):
    """One residual block ``y = h + fc2(ReLU(fc1(h)))`` of :func:`residual_mlp`.

    No activation after the sum, so a block whose branch outputs zero is exactly the identity.
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(torch.relu(self.fc1(h)))


class ResidualMLP(nn.Module):
    """``flatten → stem (Linear + ReLU) → blocks (residual) → head (Linear, logits)``; see :func:`residual_mlp`."""

    def __init__(self, width: int, blocks: int) -> None:
        super().__init__()
        self.flatten = nn.Flatten(start_dim=1)
        self.stem = nn.Linear(INPUT_FEATURES, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(blocks))
        self.head = nn.Linear(width, NUM_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(self.flatten(x)))
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def residual_mlp(width: int = 256, blocks: int = 6, *, seed: int = 0) -> ResidualMLP:
    """Residual MLP for layer (depth) pruning: 784 → ``width`` → ``blocks`` residual blocks → 10 logits.

    ``h = ReLU(stem(x))``, then per block ``h = h + fc2(ReLU(fc1(h)))`` (``width → width → width``, no
    activation after the sum: removing a block is exactly ``h = h``), then ``head(h)``. Attributes
    ``stem``, ``blocks`` (an ``nn.ModuleList`` of :class:`Block` with ``fc1``, ``fc2``; parameter names
    ``blocks.{i}.fc1.weight`` …) and ``head``; the twin of ``models_tf.residual_mlp`` (layers
    ``stem``, ``block{i}_fc1``, ``block{i}_fc2``, ``head``). He-uniform weights as the other models,
    except that each block's ``fc2`` starts at zero weights, so the untrained network starts as the
    plain stem → head MLP and adds depth as it learns (the "zero-init residual" trick of Goyal et al.
    2017). Accepts ``(N, 784)``, ``(N, 28, 28)`` or ``(N, 1, 28, 28)``. ``blocks=0`` is allowed.
    Introduced in 05_structured_pruning_pytorch.
    """
    (w,) = _check_sizes((width,), "width", exact=1)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        raise ValueError(f"blocks must be a non-negative int, got {blocks!r}")
    _check_seed(seed)
    with torch.random.fork_rng(devices=[]):
        model = ResidualMLP(w, blocks)
    _init_(model, seed)
    with torch.no_grad():
        for block in model.blocks:
            block.fc2.weight.zero_()
    return model
