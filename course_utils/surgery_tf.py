"""Keras model surgery: make a pruned ``Sequential`` physically smaller (introduced in 04_neuron_pruning_tensorflow).

TFMOT only *masks* weights: a pruned ``Dense(300)`` is still a 784 x 300 matrix multiply, so it
runs exactly as fast as before. To gain speed we build a *new*, smaller model whose layers have
fewer units (``Dense``) or filters (``Conv2D``) and copy the surviving weights into it:

- :func:`remove_units` (notebook 04): drop hidden units of a ``Dense`` layer — its kernel
  columns and bias entries — and the matching kernel *rows* of the next ``Dense``.
- :func:`remove_channels` (notebook 05): drop filters of a ``Conv2D`` — kernel ``[..., c]`` and
  bias — the matching entries of a following ``BatchNormalization`` (gamma, beta, moving
  mean/variance), and the matching *input* channels of the consumer: the next ``Conv2D``
  (kernel ``[:, :, c, :]``), or the ``Dense`` after ``Flatten``. Keras flattens channels-last
  (NHWC), so the feature at row ``(h * W + w) * C + c`` belongs to channel ``c``
  (PyTorch flattens NCHW: ``c * H * W + h * W + w``).
- :func:`mask_units` / :func:`mask_channels` zero the same weights in a *copy* of the model
  without changing any shape: the reference the surgically smaller model must match
  (same outputs up to float rounding, before any fine-tuning).
- Ranking: :func:`unit_scores` (``"l2"``, ``"l1"``, ``"mean_activation"``, ``"random"``),
  :func:`filter_norms` (L1 = Li et al. 2017), :func:`layer_widths` and :func:`keep_indices` — the
  same names and arguments as in ``surgery_torch``; :func:`bn_scale_scores` ranks a conv's channels by
  the ``|gamma|`` of its BatchNorm (Network Slimming, Liu et al. 2017).
- :func:`recalibrate_bn` (notebook 05): re-estimate BatchNorm's moving statistics after surgery.
- Depth (notebook 05): :func:`block_influence` (ShortGPT's 1 - cos per residual block) and
  :func:`remove_blocks` for the functional ``models_tf.residual_mlp``. The old names ``unit_l2_norms``,
  ``filter_l1_norms``, ``mean_activations``, ``random_scores`` and ``structure`` still work.

Channel and unit surgery support ``Sequential`` models only (the course's CNN and MLP are), without TFMOT wrappers
(call ``tfmot.sparsity.keras.strip_pruning`` first). Layers between a pruned layer and its
consumer may be element-wise or per-channel: activations, ``Dropout``, pooling and
``BatchNormalization``. Anything else raises ``NotImplementedError`` naming the layer —
surgery never silently returns a wrong model. The new model's layers keep their names
(``fc1``, ``conv2`` ...); the model is not compiled (compile it — a new optimizer — before
fine-tuning: the old optimizer's state belongs to the old weights).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._compat import alias, renamed_keywords
from ._validate import check_int, keep_index_array, keep_indices
from .env import load_tensorflow

tf, keras = load_tensorflow()
L = keras.layers

__all__ = [
    "CRITERIA",
    "block_influence",
    "bn_scale_scores",
    "filter_norms",
    "keep_indices",
    "layer_widths",
    "mask_channels",
    "mask_units",
    "recalibrate_bn",
    "remove_blocks",
    "remove_channels",
    "remove_units",
    "unit_scores",
    # old names, kept working (issue 9, P1-4)
    "filter_l1_norms",
    "mean_activations",
    "random_scores",
    "structure",
    "unit_l2_norms",
]

# Layers that act on each channel/unit independently and keep the channel count: they may sit
# between a pruned layer and its consumer. BatchNormalization is sliced; the others have no weights.
_PASS_THROUGH = tuple(
    c
    for c in (
        getattr(L, n, None)
        for n in (
            "Activation", "ReLU", "LeakyReLU", "ELU", "Dropout", "SpatialDropout2D", "GaussianNoise",
            "MaxPooling2D", "AveragePooling2D",
        )
    )
    if c is not None
)


# --------------------------------------------------------------------------- checks
def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"expected a tf_keras Sequential model, got {type(model).__module__}.{type(model).__name__}"
        )
    wrapped = [layer.name for layer in model.layers if type(layer).__name__ == "PruneLowMagnitude"]
    if wrapped:
        raise ValueError(
            f"model {model.name!r} still holds TFMOT pruning wrappers ({', '.join(wrapped)}); "
            "call tfmot.sparsity.keras.strip_pruning(model) first"
        )
    if not isinstance(model, keras.Sequential):
        raise NotImplementedError(
            f"surgery supports keras.Sequential models only; {model.name!r} is a {type(model).__name__}"
        )
    if not model.built or not model.weights:
        raise ValueError(f"model {model.name!r} is not built: give it a keras.Input or call it on data first")


def _layer_index(model: Any, name: str) -> int:
    if not isinstance(name, str):
        raise TypeError(f"layer name must be a string such as 'fc1', got {type(name).__name__}")
    names = [layer.name for layer in model.layers]
    if name not in names:
        raise ValueError(f"model {model.name!r} has no layer {name!r}; its layers are {names}")
    return names.index(name)


def _check_keep(keep_idx: Any, n: int, what: str) -> np.ndarray:
    """``keep_idx`` as a sorted int64 array of distinct indices in ``[0, n)``; at least one."""
    if hasattr(keep_idx, "numpy") and not isinstance(keep_idx, np.ndarray):
        keep_idx = keep_idx.numpy()
    return keep_index_array(keep_idx, n, what)


# --------------------------------------------------------------------------- ranking
#: Criteria understood by :func:`unit_scores` here; a higher score means more important. The PyTorch twin
#: (``surgery_torch.CRITERIA``) also has ``"apoz"`` and ``"taylor"``.
CRITERIA: tuple[str, ...] = ("l2", "l1", "mean_activation", "random")
_PYTORCH_ONLY = ("apoz", "taylor")
# Layers whose output is "the activation" of the Dense/Conv2D before them (see _activation_layer).
_ACTIVATION_LAYERS = tuple(c for c in (getattr(L, n, None) for n in ("Activation", "ReLU", "LeakyReLU", "ELU"))
                           if c is not None)
_SKIP_TO_ACTIVATION = tuple(c for c in (getattr(L, n, None) for n in ("BatchNormalization", "Dropout",
                                                                       "SpatialDropout2D", "GaussianNoise"))
                            if c is not None)


def _weight_layer(model: Any, layer: str, what: str) -> Any:
    """The ``Dense``/``Conv2D`` layer named ``layer`` of a checked model."""
    _check_model(model)
    found = model.layers[_layer_index(model, layer)]
    if not isinstance(found, (L.Dense, L.Conv2D)) or isinstance(found, (L.Conv2DTranspose, L.DepthwiseConv2D)):
        raise TypeError(f"{what} ranks units of Dense or Conv2D layers; {layer!r} is a {type(found).__name__}")
    return found


def _norms(kernel: np.ndarray, p: Any) -> np.ndarray:
    """p-norm of each output unit/filter (last axis) of a Keras kernel, float64."""
    if isinstance(p, bool) or p not in (1, 2):
        raise ValueError(f"p must be 1 (L1 norm) or 2 (L2 norm), got {p!r}")
    k = np.asarray(kernel, dtype=np.float64).reshape(-1, kernel.shape[-1])
    return np.abs(k).sum(axis=0) if p == 1 else np.sqrt((k * k).sum(axis=0))


def filter_norms(model: Any, layer: str, p: int = 1) -> np.ndarray:
    """p-norm (``p=1``: L1, Li et al. 2017; ``p=2``: L2) of each filter/unit of ``layer``, shape ``(filters,)``.

    The twin of ``surgery_torch.filter_norms(model, layer, p=1)``: one value per *output* channel of a
    ``Conv2D`` (its filter ``kernel[..., j]``, summed over ``(kh, kw, in_channels)``) or per unit of a
    ``Dense`` (its kernel *column*: Keras stores ``(inputs, units)``, PyTorch ``(out, in)``). Biases are
    not included. Returns float64. Introduced in 05_structured_pruning_tensorflow.
    """
    return _norms(_weight_layer(model, layer, "filter_norms").kernel.numpy(), p)


def _activation_layer(model: Any, idx: int) -> Any:
    """The layer whose output is the activation of layer ``idx``: itself if it has a built-in
    non-linear activation (``Dense(..., activation="relu")``), else the next activation layer
    (skipping BatchNormalization/Dropout)."""
    layer = model.layers[idx]
    act = getattr(layer, "activation", None)
    if act is not None and getattr(act, "__name__", "") != "linear":
        return layer
    for nxt in model.layers[idx + 1:]:
        if isinstance(nxt, _ACTIVATION_LAYERS):
            return nxt
        if isinstance(nxt, _SKIP_TO_ACTIVATION):
            continue
        break
    raise ValueError(
        f"no activation follows {layer.name!r} before the next layer, so there is no activation to measure; "
        "use criterion='l2' or 'l1'"
    )


def _mean_output(model: Any, layer: Any, x: Any, batch_size: int) -> np.ndarray:
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"images must be float in [0, 1], got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images, got shape {x.shape}")
    batch_size = check_int(batch_size, "batch_size", 1)
    probe = keras.Model(model.inputs, layer.output)
    total, count = None, 0
    for start in range(0, len(x), int(batch_size)):  # eager calls: no tf.function retracing per model
        out = np.asarray(probe(x[start:start + int(batch_size)], training=False), dtype=np.float64)
        out = out.reshape(-1, out.shape[-1])
        total = out.sum(axis=0) if total is None else total + out.sum(axis=0)
        count += len(out)
    return total / count


def unit_scores(
    model: Any,
    layer: str,
    criterion: str,
    data: Any = None,
    *,
    batch_size: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """Importance of each unit (``Dense``) or filter (``Conv2D``) of ``layer``; higher = keep.

    The twin of ``surgery_torch.unit_scores`` (same arguments, same float64 result of length
    units/filters). ``criterion`` (see :data:`CRITERIA`):

    - ``"l2"`` / ``"l1"``: norm of the unit's incoming weights (a Dense kernel *column*, a Conv2D
      filter ``kernel[..., j]``); needs no data.
    - ``"mean_activation"``: mean activation over the images ``data`` (and positions, for a
      feature map). The activation is the layer's own output when it has a built-in activation
      (the course MLP's ``Dense(..., activation="relu")``), else the output of the next
      ``ReLU``/``Activation`` layer (skipping BatchNorm/Dropout), as in PyTorch.
    - ``"random"``: uniform random scores from ``seed``, the control every criterion must beat.

    ``"apoz"`` and ``"taylor"`` exist in the PyTorch twin only (``ValueError`` here). ``data`` is
    images ``x`` or a tuple ``(x, y)`` (labels unused); use the validation split. Old names of the
    criteria: ``unit_l2_norms``, ``mean_activations``, ``random_scores``. Introduced in 04_neuron_pruning_tensorflow.
    """
    if criterion in _PYTORCH_ONLY:
        raise ValueError(
            f"criterion={criterion!r} is implemented in surgery_torch only; here use one of {CRITERIA}"
        )
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    found = _weight_layer(model, layer, "unit_scores")
    n_units = int(found.kernel.shape[-1])
    batch_size = check_int(batch_size, "batch_size", 1)
    if criterion == "random":
        seed = check_int(seed, "seed", 0)
        return np.random.default_rng(int(seed)).random(n_units)
    if criterion in ("l2", "l1"):
        return _norms(found.kernel.numpy(), 2 if criterion == "l2" else 1)
    if data is None:
        raise ValueError(
            f"criterion={criterion!r} measures activations: pass data=x or data=(x, y) (validation images)"
        )
    x = data[0] if isinstance(data, (tuple, list)) and len(data) == 2 else data
    return _mean_output(model, _activation_layer(model, _layer_index(model, layer)), x, batch_size)


def layer_widths(model: Any) -> dict[str, int]:
    """``{layer name: units or filters}`` of the model's ``Dense`` and ``Conv2D`` layers (output layer included).

    The twin of ``surgery_torch.layer_widths`` (old name ``structure``). Introduced in 04_neuron_pruning_tensorflow.
    """
    _check_model(model)
    out: dict[str, int] = {}
    for layer in model.layers:
        if isinstance(layer, L.Dense):
            out[layer.name] = int(layer.units)
        elif isinstance(layer, L.Conv2D):
            out[layer.name] = int(layer.filters)
    return out


# keep_indices (scores, fraction to remove -> sorted indices to keep) is framework-free and shared with
# surgery_torch: course_utils._validate.keep_indices, imported above and exported here.


# --------------------------------------------------------------------------- old names (issue 9, P1-4)
structure = alias(layer_widths, "structure")


def unit_l2_norms(model: Any, layer_name: str) -> np.ndarray:
    """Old name: ``unit_scores(model, layer_name, "l2")`` for a ``Dense`` layer (L2 norm of each kernel column)."""
    _check_model(model)
    layer = model.layers[_layer_index(model, layer_name)]
    if not isinstance(layer, L.Dense):
        raise TypeError(f"layer {layer_name!r} is a {type(layer).__name__}, not a Dense layer")
    return unit_scores(model, layer_name, "l2")


def filter_l1_norms(model: Any, conv_name: str) -> np.ndarray:
    """Old name: ``filter_norms(model, conv_name, p=1)`` for a ``Conv2D`` layer (L1 norm of each filter)."""
    _check_model(model)
    layer = model.layers[_layer_index(model, conv_name)]
    if not isinstance(layer, L.Conv2D) or isinstance(layer, (L.Conv2DTranspose, L.DepthwiseConv2D)):
        raise TypeError(f"layer {conv_name!r} is a {type(layer).__name__}, not a Conv2D layer")
    return filter_norms(model, conv_name, p=1)


def mean_activations(model: Any, layer_name: str, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Old form: mean output of layer ``layer_name`` itself over the images ``x`` (and positions), shape ``(units,)``.

    Unlike ``unit_scores(model, layer, "mean_activation", x)`` — which takes the Dense/Conv2D and
    finds its activation — this reads the named layer's output as is: pass ``"fc1"`` for the MLP
    (its ReLU is built in), the ReLU layer (``"relu1"``) for a conv block. Compute it on the
    *validation* split, never on test.
    """
    _check_model(model)
    layer = model.layers[_layer_index(model, layer_name)]
    return _mean_output(model, layer, x, batch_size)


def random_scores(n: int, seed: int = 0) -> np.ndarray:
    """Old form: ``n`` uniform random scores (seeded), the control a pruning criterion must beat.

    ``unit_scores(model, layer, "random", seed=seed)`` gives the same numbers for that layer's
    ``n`` units.
    """
    n = check_int(n, "n", 1)
    seed = check_int(seed, "seed", 0)
    return np.random.default_rng(int(seed)).random(int(n))


# --------------------------------------------------------------------------- the walk
def _bn_slice(layer: Any, keep: np.ndarray) -> list[np.ndarray]:
    axis = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    rank = len(layer.input_shape) if isinstance(layer.input_shape, tuple) else None
    if len(axis) != 1 or (rank is not None and axis[0] not in (-1, rank - 1)):
        raise NotImplementedError(f"BatchNormalization {layer.name!r} must normalise the last axis (channels-last)")
    return [w[keep] for w in layer.get_weights()]


def _downstream(model: Any, start: int, what: str) -> tuple[list[int], int, list[int]]:
    """From layer ``start`` walk forward: ``(batch-norm indices, consumer index, flatten indices)``."""
    bns: list[int] = []
    flattens: list[int] = []
    for i in range(start + 1, len(model.layers)):
        layer = model.layers[i]
        if isinstance(layer, L.BatchNormalization):
            bns.append(i)
        elif isinstance(layer, L.Flatten):
            flattens.append(i)
        elif isinstance(layer, (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)):
            if getattr(layer, "keepdims", False):
                raise NotImplementedError(f"{layer.name!r}: global pooling with keepdims=True is not supported")
            flattens.append(i)
        elif isinstance(layer, (L.Dense, L.Conv2D)) and not isinstance(layer, (L.DepthwiseConv2D, L.Conv2DTranspose)):
            return bns, i, flattens
        elif isinstance(layer, _PASS_THROUGH):
            continue
        else:
            raise NotImplementedError(
                f"cannot remove {what}: layer {layer.name!r} ({type(layer).__name__}) sits between the pruned "
                "layer and the next Dense/Conv2D, and surgery only knows activations, Dropout, pooling, "
                "BatchNormalization, Flatten and global pooling"
            )
    raise ValueError(
        f"cannot remove {what}: no Dense/Conv2D layer follows it, so it is the output layer (removing its "
        "units would change what the model predicts)"
    )


def _rebuild(model: Any, configs: dict[str, dict[str, Any]], weights: dict[str, list[np.ndarray]]) -> Any:
    """A new Sequential with the same layers, config overrides and replacement weights."""
    layers = []
    for layer in model.layers:
        cfg = layer.get_config()
        cfg.update(configs.get(layer.name, {}))
        layers.append(layer.__class__.from_config(cfg))
    inp = model.inputs[0]
    name = getattr(inp, "name", None) or "image"
    new = keras.Sequential(
        [keras.Input(shape=tuple(model.input_shape[1:]), dtype=inp.dtype, name=name.split(":")[0]), *layers],
        name=model.name,
    )
    for old, fresh in zip(model.layers, new.layers):
        fresh.set_weights(weights.get(old.name, old.get_weights()))
    return new


def _flatten_rows(model: Any, flat_idx: int, channels: int, keep: np.ndarray) -> np.ndarray:
    """Rows of the Dense kernel after ``Flatten`` that belong to the kept channels (NHWC order)."""
    layer = model.layers[flat_idx]
    if isinstance(layer, (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)):
        return keep
    shape = tuple(layer.input_shape[1:])
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise NotImplementedError(f"Flatten {layer.name!r} uses data_format={layer.data_format!r}; only channels_last")
    if not shape or shape[-1] != channels or any(d is None for d in shape):
        raise ValueError(f"Flatten {layer.name!r} sees shape {shape}, expected (..., {channels}) channels-last")
    positions = int(np.prod(shape[:-1]))
    # feature index = position * C + c  (NHWC): keep, for every position, the kept channels
    return (np.arange(positions)[:, None] * channels + keep[None, :]).ravel()


def _prune_plan(model: Any, name: str, keep_idx: Any, kind: str):
    """Configs and weights of the smaller model (shared by remove_* and the mask_* checks)."""
    _check_model(model)
    idx = _layer_index(model, name)
    layer = model.layers[idx]
    if kind == "units":
        if not isinstance(layer, L.Dense):
            raise TypeError(f"remove_units works on Dense layers; {name!r} is a {type(layer).__name__}")
        n = int(layer.units)
        what = f"units of {name!r}"
    else:
        if not isinstance(layer, L.Conv2D) or isinstance(layer, (L.DepthwiseConv2D, L.Conv2DTranspose)):
            raise TypeError(f"remove_channels works on Conv2D layers; {name!r} is a {type(layer).__name__}")
        if layer.data_format != "channels_last" or getattr(layer, "groups", 1) != 1:
            raise NotImplementedError(f"{name!r}: only channels_last Conv2D with groups=1 is supported")
        n = int(layer.filters)
        what = f"channels of {name!r}"
    keep = _check_keep(keep_idx, n, what)
    bns, consumer_idx, flattens = _downstream(model, idx, what)
    consumer = model.layers[consumer_idx]
    if kind == "units" and flattens:
        raise NotImplementedError(f"cannot remove {what}: a Flatten/pooling layer follows a Dense layer")
    if kind == "channels" and isinstance(consumer, L.Dense) and not flattens:
        raise NotImplementedError(f"cannot remove {what}: Dense {consumer.name!r} follows without Flatten")
    if kind == "channels" and isinstance(consumer, L.Conv2D) and getattr(consumer, "groups", 1) != 1:
        raise NotImplementedError(f"cannot remove {what}: the next conv {consumer.name!r} uses groups")

    configs: dict[str, dict[str, Any]] = {}
    weights: dict[str, list[np.ndarray]] = {}
    w = layer.get_weights()  # [kernel, (bias)]
    weights[name] = [w[0][..., keep]] + ([w[1][keep]] if len(w) > 1 else [])
    configs[name] = {"units": len(keep)} if kind == "units" else {"filters": len(keep)}
    for b in bns:
        weights[model.layers[b].name] = _bn_slice(model.layers[b], keep)
    cw = consumer.get_weights()
    if isinstance(consumer, L.Dense):
        rows = _flatten_rows(model, flattens[-1], n, keep) if flattens else keep
        if len(flattens) > 1:
            raise NotImplementedError(f"cannot remove {what}: more than one Flatten/pooling before {consumer.name!r}")
        weights[consumer.name] = [cw[0][rows, :]] + cw[1:]
    else:
        weights[consumer.name] = [cw[0][:, :, keep, :]] + cw[1:]
    return keep, bns, consumer, configs, weights


# --------------------------------------------------------------------------- surgery
@renamed_keywords(layer_name="layer")
def remove_units(model: Any, layer: str, keep_idx: Any) -> Any:
    """A new, smaller ``Sequential`` in which ``Dense`` layer ``layer`` keeps only units ``keep_idx``.

    ``keep_idx``: indices (any order; kept in increasing order) or a boolean mask of length
    ``units``. Copies ``kernel[:, keep]`` and ``bias[keep]`` of the layer, slices any
    ``BatchNormalization`` in between, and keeps ``kernel[keep, :]`` of the next ``Dense``.
    All other weights are copied unchanged; ``model`` itself is not modified. The result is
    not compiled. Introduced in 04_neuron_pruning_tensorflow.
    """
    _, _, _, configs, weights = _prune_plan(model, layer, keep_idx, "units")
    return _rebuild(model, configs, weights)


@renamed_keywords(conv_name="layer")
def remove_channels(model: Any, layer: str, keep_idx: Any) -> Any:
    """A new, smaller ``Sequential`` in which ``Conv2D`` ``layer`` keeps only filters ``keep_idx``.

    Slices the conv's ``kernel[..., keep]`` and ``bias[keep]``; a following
    ``BatchNormalization``'s gamma, beta, moving mean and variance; and the consumer's inputs:
    the next ``Conv2D`` keeps ``kernel[:, :, keep, :]``, a ``Dense`` after ``Flatten`` keeps the
    rows ``(h * W + w) * C + c`` for kept ``c`` (Keras flattens NHWC), a ``Dense`` after global
    pooling keeps rows ``keep``. ``model`` is not modified; the result is not compiled.
    Introduced in 05_structured_pruning_tensorflow.
    """
    _, _, _, configs, weights = _prune_plan(model, layer, keep_idx, "channels")
    return _rebuild(model, configs, weights)


def _clone(model: Any) -> Any:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


@renamed_keywords(layer_name="layer")
def mask_units(model: Any, layer: str, keep_idx: Any) -> Any:
    """A same-shape copy of ``model`` in which the units of ``layer`` not in ``keep_idx`` are zeroed.

    Zeroes their kernel columns and biases (and gamma/beta of a ``BatchNormalization`` in
    between), so those units output ``relu(0) = 0`` and contribute nothing downstream. The
    smaller model from :func:`remove_units` must give the same outputs (up to float rounding)
    — provided the activation maps 0 to 0 (ReLU does). It is no faster: same shapes.
    Introduced in 04_neuron_pruning_tensorflow.
    """
    keep, bns, _, _, _ = _prune_plan(model, layer, keep_idx, "units")
    return _masked(model, layer, keep, bns)


@renamed_keywords(conv_name="layer")
def mask_channels(model: Any, layer: str, keep_idx: Any) -> Any:
    """A same-shape copy of ``model`` in which the filters of ``layer`` not in ``keep_idx`` are zeroed.

    Zeroes the filters and biases *and* the following ``BatchNormalization``'s gamma and beta:
    zeroing the filter alone is not enough, because BatchNorm then outputs
    ``beta - gamma * mean / sqrt(var + eps)``, a constant that still reaches the next layer.
    Introduced in 05_structured_pruning_tensorflow.
    """
    keep, bns, _, _, _ = _prune_plan(model, layer, keep_idx, "channels")
    return _masked(model, layer, keep, bns)


def _masked(model: Any, name: str, keep: np.ndarray, bns: Sequence[int]) -> Any:
    clone = _clone(model)
    n = int(model.get_layer(name).get_weights()[0].shape[-1])
    drop = np.setdiff1d(np.arange(n), keep)
    layer = clone.get_layer(name)
    w = layer.get_weights()
    w[0][..., drop] = 0.0
    if len(w) > 1:
        w[1][drop] = 0.0
    layer.set_weights(w)
    for b in bns:
        bn = clone.layers[b]
        ws = bn.get_weights()
        # gamma and beta come first (when present); moving mean/variance stay as they are
        n_affine = int(bool(bn.scale)) + int(bool(bn.center))
        for k in range(n_affine):
            ws[k][drop] = 0.0
        bn.set_weights(ws)
    return clone


# --------------------------------------------------------------------------- BatchNorm: ranking and recalibration
def _bn_after(model: Any, layer: str) -> Any:
    """The ``BatchNormalization`` that normalises the channels of ``layer`` (itself if it is one)."""
    _check_model(model)
    idx = _layer_index(model, layer)
    found = model.layers[idx]
    if isinstance(found, L.BatchNormalization):
        return found
    _weight_layer(model, layer, "bn_scale_scores")
    for nxt in model.layers[idx + 1:]:
        if isinstance(nxt, L.BatchNormalization):
            return nxt
        if not isinstance(nxt, _PASS_THROUGH):
            break
    raise ValueError(
        f"no BatchNormalization follows {layer!r} (before the next layer with weights), so it has no BN scale "
        "to rank by; use filter_norms or unit_scores"
    )


def bn_scale_scores(model: Any, layer: str) -> np.ndarray:
    """``|gamma|`` of the ``BatchNormalization`` after ``layer``: one score per channel, higher = keep.

    Network Slimming (Liu et al. 2017) ranks a conv's channels by the scale ``gamma`` that BatchNorm
    multiplies each normalised channel with: BatchNorm divides out the filter's own scale, so ``gamma`` (not
    the filter's norm) sets how strongly the channel reaches the next layer. ``layer`` is the ``Conv2D``
    (or ``Dense``) whose channels are ranked, or the ``BatchNormalization`` itself. Returns float64 of length
    channels. The twin of ``surgery_torch.bn_scale_scores``. Introduced in 05_structured_pruning_tensorflow.
    """
    bn = _bn_after(model, layer)
    if not bn.scale:
        raise ValueError(f"BatchNormalization {bn.name!r} was built with scale=False: it has no gamma to rank by")
    return np.abs(np.asarray(bn.gamma.numpy(), dtype=np.float64))


def _images(data: Any, what: str) -> np.ndarray:
    x = data[0] if isinstance(data, (tuple, list)) and len(data) == 2 else data
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{what}: images must be float in [0, 1], got dtype {x.dtype}")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"{what}: need a non-empty batch of images, got shape {x.shape}")
    return x.astype(np.float32, copy=False)


def recalibrate_bn(model: Any, x: Any, *, batch_size: int = 256) -> Any:
    """A copy of ``model`` whose BatchNorm moving mean/variance are re-estimated on the images ``x``.

    After channel surgery the layers after a pruned conv see different inputs, so the moving statistics
    that BatchNorm stored during training no longer describe them ("adaptive BN", Li et al. 2020,
    EagleEye). This runs ``x`` (calibration images from the TRAINING split, or ``(x, y)``) through the
    copy in batches of ``batch_size`` with ``training=True``, which makes every BatchNorm update its
    moving statistics; the momentum of batch ``t`` (1, 2, ...) is set to ``(t - 1) / t``, so after the
    last batch they are the plain average of the per-batch statistics (PyTorch's ``momentum=None``). Only
    the moving mean/variance change (no gradient step); the momenta are restored. Layers such as
    ``Dropout`` also run in training mode during the pass; the course's CNN has none.
    ``model`` itself is not modified. Introduced in 05_structured_pruning_tensorflow.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"expected a tf_keras model, got {type(model).__module__}.{type(model).__name__}")
    x = _images(x, "recalibrate_bn")
    batch_size = check_int(batch_size, "batch_size", 1)
    copy = _clone(model)
    bns = [layer for layer in copy.layers if isinstance(layer, L.BatchNormalization)]
    if not bns:
        raise ValueError(f"model {model.name!r} has no BatchNormalization layer to recalibrate")
    momenta = [bn.momentum for bn in bns]
    try:
        for t, start in enumerate(range(0, len(x), batch_size), start=1):
            for bn in bns:
                bn.momentum = (t - 1) / t  # eager call: read at every call
            copy(x[start:start + batch_size], training=True)
    finally:
        for bn, m in zip(bns, momenta):
            bn.momentum = m
    return copy


# --------------------------------------------------------------------------- depth: residual blocks
def _residual_blocks(model: Any, what: str) -> int:
    """Number of blocks of a ``models_tf.residual_mlp``; ValueError for any other model."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"{what}: expected a tf_keras model, got {type(model).__module__}.{type(model).__name__}")
    names = [layer.name for layer in model.layers]
    n = sum(1 for name in names if name.startswith("block") and name.endswith("_add"))
    expected = {"flatten", "stem", "head"} | {f"block{i}_{p}" for i in range(n) for p in ("fc1", "fc2", "add")}
    if set(names) - {model.layers[0].name} != expected:
        raise ValueError(
            f"{what} works on models_tf.residual_mlp models (layers stem, block{{i}}_fc1/fc2/add, head); "
            f"{model.name!r} has layers {names}"
        )
    return n


def block_influence(model: Any, data: Any, *, batch_size: int = 256) -> np.ndarray:
    """Per residual block, the mean over images of ``1 - cos(h_in, h_out)`` (ShortGPT's Block Influence).

    ``h_in`` is the block's input and ``h_out = h_in + F(h_in)`` its output, both ``(width,)`` per image;
    the cosine similarity of the two is 1 when the block leaves the direction of its input unchanged. A
    small influence marks a block that changes its input little: a candidate for removal (Men et al. 2024).
    ``data``: calibration images ``x`` or ``(x, y)`` from the TRAINING split. Returns float64 of length
    ``blocks``, block order. For ``models_tf.residual_mlp`` models; the twin of
    ``surgery_torch.block_influence``. Introduced in 05_structured_pruning_tensorflow.
    """
    n = _residual_blocks(model, "block_influence")
    x = _images(data, "block_influence")
    batch_size = check_int(batch_size, "batch_size", 1)
    if n == 0:
        return np.zeros(0)
    adds = [model.get_layer(f"block{i}_add") for i in range(n)]
    probe = keras.Model(model.inputs, [t for a in adds for t in (a.input[0], a.output)])
    total = np.zeros(n)
    for start in range(0, len(x), batch_size):
        outs = [np.asarray(o, dtype=np.float64) for o in probe(x[start:start + batch_size], training=False)]
        for i in range(n):
            h_in, h_out = outs[2 * i], outs[2 * i + 1]
            den = np.linalg.norm(h_in, axis=1) * np.linalg.norm(h_out, axis=1)
            cos = np.divide((h_in * h_out).sum(axis=1), den, out=np.ones(len(den)), where=den > 0)
            total[i] += (1.0 - cos).sum()
    return total / len(x)


def remove_blocks(model: Any, blocks: Sequence[int]) -> Any:
    """A new ``residual_mlp`` without the residual blocks ``blocks`` (indices into the model's blocks).

    Removing block ``i`` replaces ``y = h + F(h)`` by ``y = h``; every other layer keeps its weights
    (copied). The kept blocks are renumbered ``block0``, ``block1``, ... in their order, as PyTorch's
    ``nn.ModuleList`` renumbers. Removing every block is allowed (stem → head). ``model`` is not modified;
    the result is not compiled. ValueError for an index out of range, a repeated index, or a model that is
    not a ``models_tf.residual_mlp``. The twin of ``surgery_torch.remove_blocks``.
    Introduced in 05_structured_pruning_tensorflow.
    """
    n = _residual_blocks(model, "remove_blocks")
    if isinstance(blocks, (int, np.integer)) or not isinstance(blocks, (Sequence, np.ndarray)):
        raise TypeError(f"blocks must be a list of block indices, e.g. [2, 5]; got {blocks!r}")
    drop = []
    for b in blocks:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
            raise TypeError(f"blocks must hold int indices, got {b!r}")
        if not 0 <= b < n:
            raise ValueError(f"block index {b} is out of range: the model has blocks 0..{n - 1}")
        drop.append(int(b))
    if len(set(drop)) != len(drop):
        raise ValueError(f"blocks has repeated indices: {list(blocks)}")
    kept = [i for i in range(n) if i not in drop]

    def copy_layer(name: str, new_name: str | None = None) -> Any:
        old = model.get_layer(name)
        cfg = old.get_config()
        if new_name is not None:
            cfg["name"] = new_name
        return old.__class__.from_config(cfg)

    inp = keras.Input(shape=tuple(model.input_shape[1:]), name=model.layers[0].name)
    new_layers = {"stem": copy_layer("stem"), "head": copy_layer("head")}
    h = new_layers["stem"](copy_layer("flatten")(inp))
    for j, i in enumerate(kept):
        fc1, fc2 = copy_layer(f"block{i}_fc1", f"block{j}_fc1"), copy_layer(f"block{i}_fc2", f"block{j}_fc2")
        new_layers[f"block{i}_fc1"], new_layers[f"block{i}_fc2"] = fc1, fc2
        h = copy_layer(f"block{i}_add", f"block{j}_add")([h, fc2(fc1(h))])
    out = new_layers["head"](h)
    new = keras.Model(inp, out, name=model.name)
    for old_name, layer in new_layers.items():
        layer.set_weights(model.get_layer(old_name).get_weights())
    return new
