"""The course's models in Keras 2 (``tf_keras``), twins of ``course_utils.models_torch``.

Introduced in 02_weight_pruning_tensorflow. Both are ``Sequential`` models (TFMOT does not
support subclassed models), built on an ``Input`` so ``summary()``/``count_params()`` work at once.

Same architecture, layer names and initialisation as the PyTorch models: Dense/Conv kernels are
``HeUniform`` (``U(-b, b)``, ``b = sqrt(6 / fan_in)``), biases zero, BatchNorm default init.
Each layer gets its own initializer seed derived from ``seed`` (same seed → same weights). The
frameworks draw from the same distribution, not the same numbers.

Differences worth knowing:

- Input is ``(N, 28, 28)``; ``(N, 28, 28, 1)`` also works (Keras drops the trailing 1).
- ReLU is the ``activation`` of ``fc1``/``fc2`` in the MLP (torch has separate ``relu`` modules);
  in the CNN it is a separate ``ReLU`` layer after BatchNorm, as in torch.
- BatchNorm uses PyTorch's hyper-parameters (``momentum=0.9`` in Keras terms = torch's 0.1,
  ``epsilon=1e-5``) so both frameworks train alike.
- ``count_params()`` counts BatchNorm's moving mean/variance (2 × channels per BN layer, not
  trainable); PyTorch keeps those as buffers, so ``sum(p.numel() for p in model.parameters())``
  is smaller by exactly that. Compare trainable parameters across frameworks.
- Keras flattens the CNN feature map in NHWC order (``(h*7 + w)*C + c``), torch in NCHW
  (``c*49 + h*7 + w``): removing a conv2 channel removes different ``fc`` kernel rows.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validate import check_int as _check_int
from ._validate import check_sizes as _check_sizes
from .env import load_tensorflow

IMAGE_SIZE = 28
NUM_CLASSES = 10

__all__ = ["mlp", "residual_mlp", "small_cnn"]


def _layer_seeds(seed: int, n: int) -> list[int]:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


def mlp(hidden: Sequence[int] = (300, 100), *, seed: int = 0):
    """LeNet-300-100 style MLP: ``flatten`` → ``fc1`` … → ``fc{k+1}`` (10 logits).

    Input ``(N, 28, 28)``. The default has 266,610 parameters (all trainable).
    Introduced in 02_weight_pruning_tensorflow.
    """
    sizes = _check_sizes(hidden, "hidden")
    seeds = _layer_seeds(seed, len(sizes) + 1)
    _, keras = load_tensorflow()
    layers = [keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), name="image"), keras.layers.Flatten(name="flatten")]
    for i, width in enumerate(sizes, start=1):
        layers.append(
            keras.layers.Dense(
                width,
                activation="relu",
                kernel_initializer=keras.initializers.HeUniform(seed=seeds[i - 1]),
                bias_initializer="zeros",
                name=f"fc{i}",
            )
        )
    layers.append(
        keras.layers.Dense(
            NUM_CLASSES,
            kernel_initializer=keras.initializers.HeUniform(seed=seeds[-1]),
            bias_initializer="zeros",
            name=f"fc{len(sizes) + 1}",
        )
    )
    return keras.Sequential(layers, name="mlp")


def small_cnn(channels: Sequence[int] = (32, 64), *, seed: int = 0):
    """Small CNN: ``reshape`` → conv1-bn1-relu1-pool1 → conv2-bn2-relu2-pool2 → ``flatten`` → ``fc``.

    Input ``(N, 28, 28)`` (reshaped to ``(28, 28, 1)``, channels-last). Convs are 3x3,
    ``padding="same"`` with a bias; pools 2x2; ``fc`` sees ``channels[1] * 7 * 7`` features in
    NHWC order. Introduced in 05_structured_pruning_tensorflow.
    """
    c1, c2 = _check_sizes(channels, "channels", exact=2)
    s_conv1, s_conv2, s_fc = _layer_seeds(seed, 3)
    _, keras = load_tensorflow()
    L = keras.layers

    def conv(filters: int, s: int, name: str):
        return L.Conv2D(
            filters,
            3,
            padding="same",
            kernel_initializer=keras.initializers.HeUniform(seed=s),
            bias_initializer="zeros",
            name=name,
        )

    def bn(name: str):
        return L.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)

    return keras.Sequential(
        [
            keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), name="image"),
            L.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1), name="reshape"),
            conv(c1, s_conv1, "conv1"),
            bn("bn1"),
            L.ReLU(name="relu1"),
            L.MaxPooling2D(2, name="pool1"),
            conv(c2, s_conv2, "conv2"),
            bn("bn2"),
            L.ReLU(name="relu2"),
            L.MaxPooling2D(2, name="pool2"),
            L.Flatten(name="flatten"),
            L.Dense(
                NUM_CLASSES,
                kernel_initializer=keras.initializers.HeUniform(seed=s_fc),
                bias_initializer="zeros",
                name="fc",
            ),
        ],
        name="small_cnn",
    )


def residual_mlp(width: int = 256, blocks: int = 6, *, seed: int = 0):
    """A residual MLP (functional Keras model): ``flatten`` → ``stem`` → ``blocks`` residual blocks → ``head``.

    ``stem`` is ``Dense(width, relu)`` on the 784 pixels; block ``i`` computes ``y = h + F(h)`` with
    ``F = block{i}_fc2(relu(block{i}_fc1(h)))`` (two ``Dense(width)``, the first with ReLU) and the sum in an
    ``Add`` layer named ``block{i}_add`` — no activation after the add, so a block whose branch outputs 0 is
    exactly the identity and removing it changes nothing else. ``head`` is ``Dense(10)`` (logits). Input
    ``(N, 28, 28)``. He-uniform weights as the other models, except that each block's ``fc2`` kernel starts
    at zero, so the untrained network is the plain stem → head MLP (the "zero-init residual" trick of Goyal
    et al. 2017). The twin of ``models_torch.residual_mlp`` (same layer names, same initialisation rule).
    Introduced in 05_structured_pruning_tensorflow.
    """
    width, blocks = _check_int(width, "width", 1), _check_int(blocks, "blocks", 0)
    seeds = _layer_seeds(seed, 2 + 2 * blocks)
    _, keras = load_tensorflow()
    L = keras.layers

    def dense(units: int, s: int, name: str, activation: str | None = None, zero: bool = False):
        init = "zeros" if zero else keras.initializers.HeUniform(seed=s)
        return L.Dense(units, activation=activation, kernel_initializer=init, bias_initializer="zeros", name=name)

    inp = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE), name="image")
    h = dense(width, seeds[0], "stem", "relu")(L.Flatten(name="flatten")(inp))
    for i in range(blocks):
        f = dense(width, seeds[1 + 2 * i], f"block{i}_fc1", "relu")(h)
        f = dense(width, seeds[2 + 2 * i], f"block{i}_fc2", zero=True)(f)  # zero-init residual branch
        h = L.Add(name=f"block{i}_add")([h, f])
    out = dense(NUM_CLASSES, seeds[-1], "head")(h)
    return keras.Model(inp, out, name="residual_mlp")
