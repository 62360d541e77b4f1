"""TensorFlow/Keras 2 back end of :mod:`course_utils.metrics` (use the functions there).

Imports TensorFlow (through :func:`course_utils.env.load_tensorflow`, so ``tf.keras`` is Keras 2 =
``tf_keras``) at top level. TFMOT is not imported: its ``PruneLowMagnitude`` wrapper is
recognised by class name. Conventions are described in :mod:`course_utils.metrics`.
Introduced in 02_weight_pruning_tensorflow.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .env import load_tensorflow

tf, keras = load_tensorflow()
L = keras.layers

_CONV = (L.Conv1D, L.Conv2D, L.Conv3D)
_CONV_TRANSPOSE = (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)
_DEPTHWISE = (L.DepthwiseConv1D, L.DepthwiseConv2D)
_NON_PRUNABLE_OK = tuple(
    c for c in (getattr(L, n, None) for n in ("BatchNormalization", "LayerNormalization", "GroupNormalization",
                                               "PReLU"))
    if c is not None
)


def _cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def is_pruning_wrapper(layer: Any) -> bool:
    """True for TFMOT's ``PruneLowMagnitude`` wrapper (checked by class, without importing TFMOT)."""
    return any(c.__name__ == "PruneLowMagnitude" and c.__module__.startswith("tensorflow_model_optimization")
               for c in type(layer).__mro__)


def _kind(layer: Any) -> str:
    """``"dense"``, ``"conv"``, ``"depthwise"`` (prunable), ``"other"`` (fine, no MACs), or raise."""
    if isinstance(layer, L.Dense):
        return "dense"
    if isinstance(layer, _CONV) and not isinstance(layer, _CONV_TRANSPOSE):
        return "conv"
    if isinstance(layer, _DEPTHWISE):
        return "depthwise"
    if isinstance(layer, _NON_PRUNABLE_OK) or not layer.weights:
        return "other"
    raise NotImplementedError(
        f"layer {layer.name!r} ({type(layer).__name__}) has weights but course_utils.metrics supports only "
        "Dense, Conv1D/2D/3D and DepthwiseConv1D/2D (prunable, counted in MACs) and normalization/PReLU "
        "layers (neither)."
    )


def _kernel(layer: Any) -> Any:
    return layer.depthwise_kernel if isinstance(layer, _DEPTHWISE) else layer.kernel


def _check_built(model: Any) -> None:
    if not model.built or not model.weights:
        raise ValueError(
            f"Keras model {model.name!r} is not built (it has no weights yet): give it an Input layer, "
            "call model.build((None, 28, 28)), or call it once on data."
        )


def _walk(model: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """``(name, graph layer, inner layer)`` for every leaf layer; nested models are flattened
    with ``"outer/inner"`` names, TFMOT wrappers are unwrapped (name of the inner layer)."""
    for layer in model.layers:
        if is_pruning_wrapper(layer):
            inner = layer.layer
            if isinstance(inner, keras.Model):
                raise NotImplementedError(f"a TFMOT wrapper around the model {inner.name!r} is not supported")
            yield prefix + inner.name, layer, inner
        elif isinstance(layer, keras.Model):
            yield from _walk(layer, prefix + layer.name + "/")
        else:
            yield prefix + layer.name, layer, layer


def _masks(model: Any) -> dict[int, Any]:
    """``id(weight variable) → mask variable`` for every TFMOT-pruned weight."""
    out: dict[int, Any] = {}
    for _, outer, _ in _walk(model):
        if is_pruning_wrapper(outer):
            for weight, mask, _threshold in getattr(outer, "pruning_vars", []):
                out[id(weight)] = mask
    return out


def _effective(var: Any, masks: dict[int, Any]) -> np.ndarray:
    value = np.asarray(var.numpy())
    mask = masks.get(id(var))
    return value * np.asarray(mask.numpy()) if mask is not None else value


def prunable_weights(model: Any) -> dict[str, np.ndarray]:
    """See :func:`course_utils.metrics.prunable_weights`."""
    _check_built(model)
    masks = _masks(model)
    out: dict[str, np.ndarray] = {}
    for name, _, inner in _walk(model):
        if _kind(inner) in {"dense", "conv", "depthwise"}:
            out[name] = _effective(_kernel(inner), masks)
    return out


def _parameters(model: Any) -> list[Any]:
    """Model variables that are parameters (no TFMOT bookkeeping, no BatchNorm moving stats)."""
    _check_built(model)
    excluded: set[int] = set()
    for _, outer, inner in _walk(model):
        _kind(inner)  # raise on unsupported layers, as everywhere else
        if is_pruning_wrapper(outer):
            inner_ids = {id(v) for v in inner.weights}
            excluded |= {id(v) for v in outer.weights if id(v) not in inner_ids}
        if isinstance(inner, L.BatchNormalization):
            excluded |= {id(inner.moving_mean), id(inner.moving_variance)}
    seen: set[int] = set()
    params = []
    for v in model.weights:
        if id(v) in excluded or id(v) in seen:
            continue
        seen.add(id(v))
        params.append(v)
    return params


def count_params(model: Any) -> int:
    """See :func:`course_utils.metrics.count_params`."""
    return int(sum(int(np.prod(v.shape)) for v in _parameters(model)))


def count_nonzero(model: Any) -> int:
    """See :func:`course_utils.metrics.count_nonzero`."""
    masks = _masks(model)
    return int(sum(int(np.count_nonzero(_effective(v, masks))) for v in _parameters(model)))


def _ensure_graph(model: Any, input_shape: tuple[int, ...]) -> None:
    """Build an unbuilt Sequential for ``input_shape``; check ``input_shape`` against the model's."""
    if not model.built and isinstance(model, keras.Sequential):
        model.build((None, *input_shape))
    _check_built(model)
    if not getattr(model, "_is_graph_network", False):
        raise NotImplementedError(
            f"{type(model).__name__} {model.name!r} is a subclassed Keras model; MACs and latency need a "
            "Sequential or functional model (TFMOT needs one too)."
        )
    expected = model.input_shape
    if isinstance(expected, list):
        raise NotImplementedError(f"model {model.name!r} has {len(expected)} inputs; only single-input models "
                                  "are supported")
    want = tuple(expected[1:])
    if len(want) != len(input_shape) or any(w is not None and w != d for w, d in zip(want, input_shape)):
        raise ValueError(
            f"input_shape={input_shape} does not match model {model.name!r}, which takes (batch, "
            f"{', '.join('?' if w is None else str(w) for w in want)}); give one sample without the batch "
            "dimension, e.g. (28, 28) for the course models"
        )


def _calls(model: Any, layer: Any) -> list[Any]:
    """The nodes (calls) of ``layer`` that belong to ``model``'s graph — a layer reused in another
    model (e.g. after surgery) has extra nodes there, which must not be counted here."""
    keys = model._network_nodes
    return [node for i, node in enumerate(layer._inbound_nodes) if f"{layer.name}_ib-{i}" in keys]


def _macs_into(model: Any, prefix: str, times: int, counts: dict[str, int], input_shape: tuple[int, ...]) -> None:
    for layer in model.layers:
        nodes = _calls(model, layer)
        if isinstance(layer, keras.Model) and not is_pruning_wrapper(layer):
            if not getattr(layer, "_is_graph_network", False):
                raise NotImplementedError(f"nested model {layer.name!r} is subclassed; MACs need Sequential/functional")
            _macs_into(layer, prefix + layer.name + "/", times * len(nodes), counts, input_shape)
            continue
        inner = layer.layer if is_pruning_wrapper(layer) else layer
        name = prefix + inner.name
        kind = _kind(inner)
        if kind == "other":
            continue
        kernel_shape = tuple(int(d) for d in _kernel(inner).shape)
        per_output = {
            "dense": kernel_shape[0],  # (in, out)
            "conv": int(np.prod(kernel_shape[:-1])),  # (*kernel, in/groups, out)
            "depthwise": int(np.prod(kernel_shape[:-2])),  # (*kernel, in, multiplier)
        }[kind]
        total = 0
        for node in nodes:
            shape = node.output_shapes
            if isinstance(shape, list):
                raise NotImplementedError(f"layer {name!r} has several outputs")
            out = tuple(shape)[1:]
            if any(d is None for d in out):
                raise ValueError(
                    f"layer {name!r} has an undefined output shape {tuple(shape)}; build the model with a fixed "
                    f"input shape such as keras.Input({input_shape})"
                )
            total += int(np.prod(out)) * per_output
        counts[name] = counts.get(name, 0) + total * times


def layer_macs(model: Any, input_shape: tuple[int, ...]) -> dict[str, int]:
    """See :func:`course_utils.metrics.layer_macs`. Reads the output shape of every call of a layer
    in the model's graph (a shared layer called twice counts twice; a nested model too)."""
    _ensure_graph(model, input_shape)
    counts: dict[str, int] = {}
    _macs_into(model, "", 1, counts, input_shape)
    return counts


def serialized_bytes(model: Any) -> bytes:
    """``model.save_weights(<tmp>.h5)`` read back. See :func:`course_utils.metrics.serialized_bytes`."""
    _check_built(model)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "weights.h5"
        model.save_weights(str(path))
        return path.read_bytes()


def _check_stripped(model: Any, what: str) -> None:
    wrapped = [outer.name for _, outer, _ in _walk(model) if is_pruning_wrapper(outer)]
    if wrapped:
        raise ValueError(
            f"{what}: model {model.name!r} still holds TFMOT pruning wrappers ({', '.join(wrapped[:3])}"
            f"{', ...' if len(wrapped) > 3 else ''}); call tfmot.sparsity.keras.strip_pruning(model) first"
        )


def tflite_bytes(model: Any, *, optimizations: Sequence[Any] = ()) -> bytes:
    """See :func:`course_utils.metrics.tflite_bytes`."""
    _check_built(model)
    _check_stripped(model, "TFLite conversion")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = list(optimizations)
    return bytes(converter.convert())


def _apply_tf_threads(threads: int | None) -> int:
    current = tf.config.threading.get_intra_op_parallelism_threads()
    if threads is not None and threads != (current or _cpu_threads()):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
        except RuntimeError:
            warnings.warn(
                f"TensorFlow is already initialised with {current or _cpu_threads()} intra-op threads and cannot "
                f"switch to {threads}; set tf.config.threading.set_intra_op_parallelism_threads({threads}) right "
                "after importing TensorFlow, before creating any tensor or model. Timing with the current setting.",
                RuntimeWarning,
                stacklevel=3,
            )
    return tf.config.threading.get_intra_op_parallelism_threads() or _cpu_threads()


@contextlib.contextmanager
def timer(
    model: Any,
    input_shape: tuple[int, ...],
    batch_size: int,
    *,
    threads: int | None,
) -> Iterator[tuple[Callable[[], Any], int]]:
    """Context: ``(call, threads used)``, where ``call()`` runs a traced ``model(x, training=False)``
    once on a fixed random batch (traced and run once before it is handed out). Used by :func:`latency`
    and :func:`course_utils.metrics.race` (arguments already validated there)."""
    used = _apply_tf_threads(threads)
    _ensure_graph(model, input_shape)
    x = tf.constant(np.random.default_rng(0).random((batch_size, *input_shape), dtype=np.float32))
    fn = tf.function(lambda t: model(t, training=False))
    try:
        fn(x)  # trace and compile outside the timed runs (in addition to the warm-up)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as e:
        raise ValueError(f"model {model.name!r} failed on an input of shape {tuple(x.shape)} "
                         f"(input_shape={input_shape}): {e}") from e
    yield (lambda: fn(x)), used



def litert_interpreter(model_content: bytes, *, num_threads: int | None = None) -> Any:
    """An interpreter for a ``.tflite`` flatbuffer: LiteRT's (``ai_edge_litert.interpreter.Interpreter``, the
    ``ai-edge-litert`` package the course pins), or ``tf.lite.Interpreter`` when that package is missing.

    ``tf.lite.Interpreter`` is deprecated (TensorFlow 2.21 warns) in favour of LiteRT; the two have the same API
    and give the same outputs. ``num_threads``: ``None`` → the interpreter's default.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # fallback: TensorFlow's own copy (deprecated)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return tf.lite.Interpreter(model_content=bytes(model_content), num_threads=num_threads)
    return Interpreter(model_content=bytes(model_content), num_threads=num_threads)


def _is_interpreter(obj: Any) -> bool:
    return isinstance(obj, tf.lite.Interpreter) or any(c.__name__ == "Interpreter" for c in type(obj).__mro__)


@contextlib.contextmanager
def tflite_timer(
    tflite_model: Any,
    input_shape: tuple[int, ...],
    batch_size: int,
    *,
    threads: int | None,
) -> Iterator[tuple[Callable[[], Any], int]]:
    """Context: ``(call, threads used)``, where ``call()`` is one ``invoke()`` of a TFLite model on a
    fixed random batch of its input dtype.

    ``tflite_model`` is the model's bytes (a LiteRT interpreter, :func:`litert_interpreter`, with
    ``num_threads=threads`` is created; ``None`` → all usable CPUs) or an interpreter (LiteRT's or
    ``tf.lite.Interpreter``, used as it is: its input is resized
    to the batch, and its thread count, set when it was created, is reported as 0 = unknown).
    """
    if _is_interpreter(tflite_model):
        interpreter, used = tflite_model, 0
    else:
        used = threads or _cpu_threads()
        interpreter = litert_interpreter(bytes(tflite_model), num_threads=used)
    inputs = interpreter.get_input_details()
    if len(inputs) != 1:
        raise NotImplementedError(f"the TFLite model has {len(inputs)} inputs; only single-input models are supported")
    detail = inputs[0]
    want = tuple(int(d) for d in detail.get("shape_signature", detail["shape"]))[1:]
    if len(want) != len(input_shape) or any(w not in (-1, d) for w, d in zip(want, input_shape)):
        raise ValueError(
            f"input_shape={input_shape} does not match the TFLite model's input (batch, "
            f"{', '.join('?' if w == -1 else str(w) for w in want)}); give one sample without the batch dimension"
        )
    interpreter.resize_tensor_input(detail["index"], (batch_size, *input_shape), strict=False)
    interpreter.allocate_tensors()
    dtype = np.dtype(detail["dtype"])
    rng = np.random.default_rng(0)
    shape = (batch_size, *input_shape)
    if np.issubdtype(dtype, np.floating):
        data = rng.random(shape, dtype=np.float32).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    interpreter.set_tensor(detail["index"], data)
    yield interpreter.invoke, used

