"""Parameters, sparsity, MACs, bytes and latency — one API for PyTorch and Keras models.

Every function takes a model of either framework and dispatches on its class:
a ``torch.nn.Module`` goes to :mod:`course_utils.metrics_torch`, a Keras 2 (``tf_keras``)
``Model`` goes to :mod:`course_utils.metrics_tf`. Importing this module imports neither
PyTorch nor TensorFlow; the framework module is imported on first use.

Conventions (shared by both frameworks)
---------------------------------------
- *Prunable weights* are the weight tensors of Linear/Dense and Conv layers (torch
  ``nn.Linear``/``nn.Conv1d/2d/3d``; Keras ``Dense``/``Conv1D/2D/3D``/``DepthwiseConv1D/2D``),
  keyed by layer name (``"fc1"``, ``"conv1"``; nested modules/models use dotted torch names
  or ``"outer/inner"`` Keras names). Biases and BatchNorm are not prunable weights.
- Pruned models are measured by their *effective* weights: ``weight_orig * weight_mask``
  for ``torch.nn.utils.prune``, ``kernel * mask`` for TFMOT's ``prune_low_magnitude``.
- *Parameters* follow ``torch``'s ``model.parameters()``: BatchNorm moving mean/variance
  (buffers in torch, non-trainable weights in Keras), pruning masks, TFMOT thresholds and
  step counters are not parameters. So the course's MLP and CNN have the same
  ``count_params`` in both frameworks, before and after pruning.
- Units: sparsity is a fraction 0–1 of zeros, sizes are bytes, latency is seconds,
  MACs are multiply-accumulates per sample.
"""
from __future__ import annotations

import contextlib
import gzip
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from . import timing
from ._validate import check_input_shape, check_nonnegative_int, check_positive_int
from .stats import Comparison, accuracy_ci, compare, mcnemar, paired_difference_ci
from .timing import LatencyResult, Race, speedup, time_calls

__all__ = [
    "Comparison",
    "LatencyResult",
    "accuracy_ci",
    "compare",
    "correct",
    "mcnemar",
    "paired_difference_ci",
    "count_nonzero",
    "count_params",
    "framework_of",
    "gzip_bytes",
    "gzip_size",
    "latency",
    "layer_macs",
    "layer_sparsity",
    "macs",
    "prunable_weights",
    "race",
    "Race",
    "serialized_bytes",
    "serialized_size",
    "sparse_storage_bytes",
    "sparsity",
    "speedup",
    "tflite_bytes",
    "tflite_latency",
    "tflite_size",
]

_SUPPORTED = (
    "a PyTorch torch.nn.Module, or a Keras 2 (tf_keras) Model — Sequential or functional, "
    "optionally wrapped by TFMOT prune_low_magnitude"
)


# ----------------------------------------------------------------------------- dispatch
def framework_of(model: Any) -> str:
    """``"torch"`` for a ``torch.nn.Module``, ``"keras"`` for a Keras 2 (``tf_keras``) Model.

    Detection reads the class hierarchy (``type(model).__mro__``), so it imports no framework.
    Raises ``TypeError`` for anything else (numpy arrays, Keras 3 models, bare Keras layers).
    Introduced in 01_loss_before_and_after_pytorch.
    """
    mro = type(model).__mro__
    keys = {(c.__module__, c.__name__) for c in mro}
    if ("torch.nn.modules.module", "Module") in keys:
        return "torch"
    if any(mod.startswith("tf_keras.") and name == "Model" for mod, name in keys):
        return "keras"
    if any(mod.startswith("keras.") and name in {"Model", "Layer"} for mod, name in keys):
        raise TypeError(
            f"{type(model).__name__} is a Keras 3 object; this course uses Keras 2 (tf_keras), which TFMOT "
            "needs. Run `import course_utils` before importing TensorFlow and build models with "
            "`tf, keras = course_utils.env.load_tensorflow()`."
        )
    if any(mod.startswith("tf_keras.") and name == "Layer" for mod, name in keys):
        raise TypeError(
            f"{type(model).__name__} is a Keras layer, not a Model; wrap it in keras.Sequential([...]). "
            f"Supported: {_SUPPORTED}."
        )
    raise TypeError(f"unsupported model object of type {type(model).__module__}.{type(model).__name__}; "
                    f"expected {_SUPPORTED}.")


def _backend(model: Any) -> ModuleType:
    if framework_of(model) == "torch":
        from . import metrics_torch

        return metrics_torch
    from . import metrics_tf

    return metrics_tf


def _keras_backend(model: Any, what: str) -> ModuleType:
    if framework_of(model) != "keras":
        raise TypeError(f"{what} is Keras/TensorFlow-only; got a {type(model).__name__} (PyTorch).")
    from . import metrics_tf

    return metrics_tf


# ----------------------------------------------------------------------------- validation
# check_input_shape, check_positive_int and check_nonnegative_int live in course_utils._validate
# (imported above, so metrics.check_positive_int etc. keep working).


# ----------------------------------------------------------------------------- weights & params
def prunable_weights(model: Any) -> dict[str, np.ndarray]:
    """Effective weights of the Linear/Dense and Conv layers, ``{layer name: numpy array}``.

    Arrays are copies in the framework's own layout (torch Linear ``(out, in)``, Conv
    ``(out, in/groups, kh, kw)``; Keras Dense ``(in, out)``, Conv ``(kh, kw, in/groups, out)``).
    For pruned layers the mask is applied (``weight_orig * weight_mask`` in torch — ``module.weight``
    is only refreshed by a forward pass — and ``kernel * mask`` for TFMOT wrappers, keyed by the
    inner layer's name). A layer with weights that is neither prunable nor a known
    normalization layer (e.g. LSTM) raises ``NotImplementedError``.
    Introduced in 01_loss_before_and_after_pytorch.
    """
    return _backend(model).prunable_weights(model)


def count_params(model: Any) -> int:
    """Number of parameters (weights + biases, incl. BatchNorm scale/shift), an int.

    Pruning bookkeeping is not counted: ``weight_orig`` + ``weight_mask`` counts once, TFMOT's
    mask/threshold/step variables and BatchNorm moving statistics not at all. So pruning leaves
    ``count_params`` unchanged — use :func:`count_nonzero` for what survives.
    Introduced in 01_loss_before_and_after_pytorch.
    """
    return _backend(model).count_params(model)


def count_nonzero(model: Any) -> int:
    """Number of nonzero effective parameters (masks applied; biases and BatchNorm included).

    Introduced in 02_weight_pruning_pytorch.
    """
    return _backend(model).count_nonzero(model)


def layer_sparsity(model: Any) -> dict[str, float]:
    """``{layer name: fraction 0–1 of zeros in its effective weight}`` for the prunable layers.

    Introduced in 02_weight_pruning_pytorch.
    """
    return {name: float(np.mean(w == 0)) if w.size else 0.0 for name, w in prunable_weights(model).items()}


def sparsity(model: Any) -> float:
    """Fraction 0–1 of zeros among all prunable weights (Linear/Dense and Conv weights; not
    biases, not BatchNorm). Raises ``ValueError`` when the model has no prunable layer.

    Introduced in 02_weight_pruning_pytorch.
    """
    weights = prunable_weights(model)
    total = sum(w.size for w in weights.values())
    if total == 0:
        raise ValueError(f"{type(model).__name__} has no Linear/Dense or Conv weights, so sparsity is undefined")
    zeros = sum(int(w.size - np.count_nonzero(w)) for w in weights.values())
    return zeros / total


# ----------------------------------------------------------------------------- compute
def layer_macs(model: Any, input_shape: Sequence[int]) -> dict[str, int]:
    """Multiply-accumulates per sample of each Linear/Dense and Conv layer, ``{name: int}``.

    A *dense*, shape-based count — what the hardware does with dense kernels, whatever the
    sparsity: Linear/Dense = output elements × input features; Conv = output elements ×
    (in_channels/groups × kernel area). Bias additions, BatchNorm, activations and pooling
    are not counted. ``input_shape`` is one sample without the batch dimension, e.g.
    ``(1, 28, 28)`` for a torch CNN or ``(28, 28)`` for Keras. torch runs a dummy forward
    pass (batch of 1, eval mode, no grad) with hooks; Keras reads the layers' output shapes
    (an unbuilt Sequential is built for ``input_shape``). Layers with weights that are not
    supported (LSTM, transposed convs, ...) raise ``NotImplementedError`` naming the layer.
    Introduced in 04_neuron_pruning_pytorch.
    """
    return _backend(model).layer_macs(model, check_input_shape(input_shape))


def macs(model: Any, input_shape: Sequence[int]) -> int:
    """Total multiply-accumulates per sample (sum of :func:`layer_macs`), an int.

    Introduced in 04_neuron_pruning_pytorch.
    """
    return int(sum(layer_macs(model, input_shape).values()))


# ----------------------------------------------------------------------------- bytes
def gzip_bytes(b: bytes) -> int:
    """Size in bytes of ``b`` compressed with gzip (level 9, fixed mtime so it is reproducible).

    Compression is a cheap proxy for how much a sparse model *could* shrink on disk: runs of
    zeros compress well. Introduced in 02_weight_pruning_pytorch.
    """
    if not isinstance(b, (bytes, bytearray, memoryview)):
        raise TypeError(f"gzip_bytes expects bytes, got {type(b).__name__}")
    return len(gzip.compress(bytes(b), compresslevel=9, mtime=0))


def serialized_bytes(model: Any) -> bytes:
    """The model as saved to disk: torch ``torch.save(model.state_dict())``; Keras
    ``model.save_weights(<file>.h5)`` (HDF5 weights file).

    Introduced in 02_weight_pruning_pytorch.
    """
    return _backend(model).serialized_bytes(model)


def serialized_size(model: Any) -> int:
    """Size in bytes of :func:`serialized_bytes`.

    A torch model pruned with ``torch.nn.utils.prune`` stores ``weight_orig`` *and*
    ``weight_mask``, so it is *larger* than the dense model until ``prune.remove``; likewise
    a TFMOT-wrapped Keras model stores masks until ``strip_pruning``. Zeros take as many bytes
    as any other float: only :func:`gzip_size` or a sparse format shows the savings.
    Introduced in 02_weight_pruning_pytorch.
    """
    return len(serialized_bytes(model))


def gzip_size(model: Any) -> int:
    """Size in bytes of :func:`serialized_bytes` after gzip level 9. Introduced in 02_weight_pruning_pytorch."""
    return gzip_bytes(serialized_bytes(model))


def tflite_bytes(model: Any, *, optimizations: Sequence[Any] = ()) -> bytes:
    """Keras only: the model converted with ``tf.lite.TFLiteConverter.from_keras_model``.

    ``optimizations`` is passed to the converter (e.g. ``[tf.lite.Optimize.DEFAULT]``,
    ``[tf.lite.Optimize.EXPERIMENTAL_SPARSITY]``). A model still holding TFMOT pruning wrappers
    raises ``ValueError``: call ``tfmot.sparsity.keras.strip_pruning(model)`` first.
    Introduced in 02_weight_pruning_tensorflow.
    """
    return _keras_backend(model, "tflite_bytes").tflite_bytes(model, optimizations=optimizations)


def tflite_size(model: Any, *, optimizations: Sequence[Any] = ()) -> int:
    """Keras only: size in bytes of :func:`tflite_bytes`. Introduced in 02_weight_pruning_tensorflow."""
    return len(tflite_bytes(model, optimizations=optimizations))


_INDEX_DTYPES = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}


def sparse_storage_bytes(
    weights: Any,
    fmt: str = "csr",
    *,
    value_dtype: Any = "float32",
    index_dtype: Any = "int32",
) -> int:
    """Bytes needed to store ``weights`` in a sparse format — shows the index overhead.

    ``weights`` is an array (numpy or a framework tensor), a ``{name: array}`` dict (as from
    :func:`prunable_weights`; sizes are summed), or a model (its prunable weights are used).
    A 2-D array is stored as ``(rows, cols)`` as given; an N-D array as ``(shape[0], -1)``.
    Formats (nnz = number of nonzeros, v = value bytes, i = index bytes):

    - ``"csr"``: nnz·v values + nnz·i column indices + (rows + 1)·i row pointers;
    - ``"coo"``: nnz·v values + 2·nnz·i (row, column) indices;
    - ``"dense"``: size·v (for comparison).

    With float32 values and int32 indices CSR only pays off below ~50 % density.
    Note that the layout differs between frameworks (torch Linear ``(out, in)``, Keras Dense
    ``(in, out)``), so CSR row-pointer counts differ slightly. Introduced in 06_measuring_what_pruning_buys_pytorch.
    """
    if fmt not in {"csr", "coo", "dense"}:
        raise ValueError(f"fmt must be 'csr', 'coo' or 'dense', got {fmt!r}")
    vbytes = np.dtype(value_dtype).itemsize
    idt = np.dtype(index_dtype)
    if idt.name not in _INDEX_DTYPES:
        raise ValueError(f"index_dtype must be an integer dtype such as 'int32', got {index_dtype!r}")
    ibytes = idt.itemsize
    if isinstance(weights, Mapping):
        items = list(weights.items())
    elif _is_model(weights):
        items = list(prunable_weights(weights).items())
    else:
        items = [("weights", weights)]
    total = 0
    for name, w in items:
        arr = _to_numpy(w, name)
        if arr.ndim == 0:
            raise ValueError(f"{name}: expected an array with at least 1 dimension, got a scalar")
        mat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(1, -1)
        rows, cols = mat.shape
        nnz = int(np.count_nonzero(mat))
        if fmt != "dense":
            biggest = max(cols - 1, nnz) if fmt == "csr" else max(rows - 1, cols - 1)  # largest stored index
            if biggest > np.iinfo(idt).max:
                raise ValueError(f"{name}: index_dtype {idt.name} cannot index {biggest}; use a wider dtype")
        if fmt == "csr":
            total += nnz * vbytes + nnz * ibytes + (rows + 1) * ibytes
        elif fmt == "coo":
            total += nnz * vbytes + 2 * nnz * ibytes
        else:
            total += mat.size * vbytes
    return int(total)


def _is_model(obj: Any) -> bool:
    try:
        framework_of(obj)
    except TypeError:
        return False
    return True


def _to_numpy(w: Any, name: str) -> np.ndarray:
    if isinstance(w, np.ndarray):
        return w
    if hasattr(w, "detach"):  # torch tensor
        return w.detach().cpu().numpy()
    if hasattr(w, "numpy"):  # tf tensor / variable
        return np.asarray(w.numpy())
    try:
        return np.asarray(w, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an array or tensor, got {type(w).__name__}") from None


# ----------------------------------------------------------------------------- latency
# LatencyResult and speedup live in course_utils.timing (framework-free) and are re-exported here.


def _check_timing_args(input_shape: Any, batch_size: Any, repeats: Any, warmup: Any,
                       threads: Any) -> tuple[tuple[int, ...], int, int, int, int | None]:
    return (check_input_shape(input_shape), check_positive_int(batch_size, "batch_size"),
            check_positive_int(repeats, "repeats"), check_nonnegative_int(warmup, "warmup"),
            None if threads is None else check_positive_int(threads, "threads"))


def latency(
    model: Any,
    input_shape: Sequence[int],
    batch_size: int = 256,
    *,
    repeats: int = 30,
    warmup: int = 5,
    threads: int | None = None,
) -> LatencyResult:
    """Inference latency of ``model`` on one random batch (seconds), as a :class:`LatencyResult`.

    Times ``repeats`` calls with ``time.perf_counter`` after ``warmup`` untimed calls, on a
    uniform [0, 1) float32 input of shape ``(batch_size, *input_shape)`` drawn with a fixed seed.

    - torch: ``model.eval()`` and ``torch.inference_mode()`` (the training flag is restored
      afterwards); ``threads`` is applied with ``torch.set_num_threads`` and restored afterwards
      (``None`` keeps the current setting).
    - Keras: calls a ``tf.function``-compiled ``model(x, training=False)`` (``model.predict``
      has a large per-call overhead); the first call traces the function and is never timed.
      TensorFlow's intra-op thread pool can only be sized *before* TensorFlow initialises
      (before the first tensor or model is created): ``threads`` is applied if still possible —
      and then stays set for the session — otherwise a ``RuntimeWarning`` is issued and the
      current setting is used. The reported ``threads`` is
      ``tf.config.threading.get_intra_op_parallelism_threads()``, or the number of usable CPUs
      when that is 0 (TensorFlow's default: one thread per core).

    Introduced in 02_weight_pruning_pytorch.
    """
    shape, batch_size, repeats, warmup, threads = _check_timing_args(input_shape, batch_size, repeats, warmup,
                                                                     threads)
    return _time_calls_of(_backend(model).timer(model, shape, batch_size, threads=threads), batch_size,
                          repeats=repeats, warmup=warmup, framework=framework_of(model))


def _time_calls_of(timer: Any, batch_size: int, *, repeats: int, warmup: int, framework: str) -> LatencyResult:
    """Time the call a back end's ``timer`` context yields (``warmup`` untimed, ``repeats`` timed calls)."""
    with timer as (call, used):
        times = time_calls(call, repeats=repeats, warmup=warmup)
    return LatencyResult.from_times(times, batch_size=batch_size, threads=used, framework=framework)


def tflite_latency(
    tflite_model_bytes: bytes,
    input_shape: Sequence[int],
    batch_size: int = 256,
    *,
    repeats: int = 30,
    warmup: int = 5,
    threads: int | None = None,
) -> LatencyResult:
    """Latency (seconds) of a converted TFLite model run by the LiteRT interpreter.

    The interpreter is ``ai_edge_litert.interpreter.Interpreter`` (``tf.lite.Interpreter``, deprecated in
    TF 2.21, only as a fallback; see ``metrics_tf.litert_interpreter``).

    The interpreter is created with ``num_threads=threads`` (``None`` → all usable CPUs),
    its input resized to ``(batch_size, *input_shape)`` and fed random data of the model's
    input dtype (fixed seed); ``invoke()`` is timed like :func:`latency`. Notebooks time TFLite models
    with :func:`race`, which takes the bytes too.
    """
    if not isinstance(tflite_model_bytes, (bytes, bytearray)):
        raise TypeError(
            f"tflite_model_bytes must be the bytes of a .tflite model (see tflite_bytes), "
            f"got {type(tflite_model_bytes).__name__}"
        )
    shape, batch_size, repeats, warmup, threads = _check_timing_args(input_shape, batch_size, repeats, warmup,
                                                                     threads)
    from . import metrics_tf

    return _time_calls_of(metrics_tf.tflite_timer(bytes(tflite_model_bytes), shape, batch_size, threads=threads),
                          batch_size, repeats=repeats, warmup=warmup, framework="tflite")


def _is_tflite(model: Any) -> bool:
    """TFLite model bytes, or a LiteRT / ``tf.lite`` ``Interpreter`` (recognised by class, without importing it)."""
    if isinstance(model, (bytes, bytearray)):
        return True
    return any(c.__name__ == "Interpreter" and c.__module__.startswith(("tensorflow", "tflite_runtime", "ai_edge"))
               for c in type(model).__mro__)


def _race_kind(name: str, model: Any) -> str:
    if _is_tflite(model):
        return "tflite"
    try:
        return framework_of(model)
    except TypeError as e:
        raise TypeError(f"models[{name!r}]: {e} Or TFLite model bytes (see tflite_bytes) / a "
                        "LiteRT Interpreter.") from None


def race(
    models: Mapping[str, Any],
    input_shape: Sequence[int],
    batch_size: int = 256,
    *,
    rounds: int = 7,
    repeats: int = 10,
    warmup: int = 2,
    threads: int | None = None,
    reference: str | None = None,
) -> Race:
    """Time several models on the same random batch in alternating rounds; return a :class:`Race`.

    The course's one timing protocol. ``models`` is ``{name: model}``; each model may be a PyTorch
    ``nn.Module``, a Keras 2 Model, or TFLite (the bytes from :func:`tflite_bytes`, or a LiteRT
    ``Interpreter``), and the models of one race may mix kinds (Keras vs its TFLite
    conversion, say). Every model is prepared once as :func:`latency` / :func:`tflite_latency` do
    (torch: eval mode and ``inference_mode``, restored afterwards; Keras: a traced ``tf.function``;
    TFLite: an interpreter with its input resized), with a uniform [0, 1) input of shape
    ``(batch_size, *input_shape)`` (one fixed seed). Then for ``rounds`` rounds the models take
    turns (the first one rotates), each with ``warmup`` untimed calls and ``repeats`` timed ones
    (:func:`course_utils.timing.run_rounds`). So background load on a shared machine slows the
    models of a round alike.

    The :class:`Race` has, per model, the median and IQR over all calls (``race[name]``, a
    :class:`LatencyResult` in seconds per batch), the fastest round, and ratios against
    ``reference`` (default: the first model): ``race.ratio("pruned")`` is the median over rounds
    of the per-round time ratio (a round's time is the median of its calls), ``race.speedup("pruned")``
    its inverse. ``print(race)`` / ``display(race)`` show a table that names the statistic.
    ``threads``: intra-op threads while timing, as in :func:`latency` (``None`` keeps the setting).

    Raises ``ValueError`` for an empty ``models``, ``batch_size``/``rounds``/``repeats`` < 1,
    ``warmup`` < 0 or an unknown ``reference``; ``TypeError`` for an object that is not a model.
    Introduced in 04_neuron_pruning_pytorch.
    """
    if not isinstance(models, Mapping):
        raise TypeError(f"models must be a dict {{name: model}}, got {type(models).__name__}")
    if not models:
        raise ValueError("models is empty: race needs at least one {name: model}")
    shape, batch_size, repeats, warmup, threads = _check_timing_args(input_shape, batch_size, repeats, warmup,
                                                                     threads)
    rounds = check_positive_int(rounds, "rounds")
    names = list(models)
    if reference is None:
        reference = names[0]
    elif reference not in models:
        raise ValueError(f"reference {reference!r} is not one of the models {names}")
    kinds = {name: _race_kind(name, m) for name, m in models.items()}
    calls, used = {}, {}
    with contextlib.ExitStack() as stack:
        for name, m in models.items():
            if kinds[name] == "tflite":
                from . import metrics_tf

                timer = metrics_tf.tflite_timer(m, shape, batch_size, threads=threads)
            else:
                timer = _backend(m).timer(m, shape, batch_size, threads=threads)
            calls[name], used[name] = stack.enter_context(timer)
        times = timing.run_rounds(calls, rounds=rounds, repeats=repeats, warmup=warmup)
    return Race(times_s=times, batch_size=batch_size, reference=reference, warmup=warmup, threads=used,
                frameworks=kinds)


# ----------------------------------------------------------------------------- per-image correctness
def correct(model: Any, x: Any, y: Any, batch_size: int = 512) -> np.ndarray:
    """Boolean array, True where ``model`` (either framework) classifies the image right.

    The input to :func:`compare` and :func:`accuracy_ci`: ``metrics.compare(metrics.correct(a, x, y),
    metrics.correct(b, x, y), names=("dense", "pruned"))``. Introduced in 02_weight_pruning_pytorch.
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"y must be a 1-D array of labels, one per image: {len(x)} images, y of shape {y.shape}")
    check_positive_int(batch_size, "batch_size")
    if framework_of(model) == "torch":
        from .train_torch import predict_logits

        logits = predict_logits(model, x, batch_size=batch_size)
    else:
        logits = np.asarray(model.predict(np.asarray(x), batch_size=batch_size, verbose=0))
    if logits.ndim != 2 or logits.shape[0] != len(y):
        raise ValueError(f"the model must return logits of shape (N, classes), got {logits.shape}")
    return logits.argmax(axis=1) == y
