"""The course's two models in PyTorch (introduced in 01_loss_before_and_after_pytorch).

Both are ``nn.Sequential`` with named children, so layers are reached as ``model.fc1`` or
``model.conv1`` — the names torch.nn.utils.prune, torch-pruning and the Keras twins in
``course_utils.models_tf`` use as well.

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

__all__ = ["mlp", "small_cnn", "he_uniform_bound"]


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
    Introduced in 06_structured_pruning_pytorch.
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
