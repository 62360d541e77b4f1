"""TFMOT / Keras 2 pruning helpers (introduced in 02_weight_pruning_tensorflow).

Thin, checked wrappers around ``tensorflow_model_optimization.sparsity.keras`` (TFMOT) for the
course's Keras 2 (``tf_keras``) models, plus the numpy masks that TFMOT does not offer
(global magnitude threshold, random control).

- :func:`wrap_for_pruning` (old name ``prune_model``, which warns: in ``pruning_torch`` that name
  prunes in place) wraps chosen layers with ``prune_low_magnitude`` through
  ``keras.models.clone_model(..., clone_function=...)``. Unlike calling ``prune_low_magnitude``
  on a model directly, the result does **not share weights** with the model you pass in
  (TFMOT's own clone reuses the original layer objects, so training the pruned model would
  prune the dense one too).
- :func:`strip` removes the wrappers (``strip_pruning``) and checks that none is left.
- :func:`pruning_callbacks` returns the callbacks ``fit`` needs: ``UpdatePruningStep`` (required)
  and, with a log folder, ``PruningSummaries`` (TensorBoard scalars: sparsity and threshold).
- :func:`magnitude_masks`, :func:`random_masks`, :func:`global_sparsities`, :func:`multiply_masks`
  (old name ``apply_masks``, which warns) and :class:`KeepMasks` build and hold one-shot masks by
  hand (layer-wise / global magnitude, random).
- :func:`schedule_value` evaluates a TFMOT schedule at a step, as plain Python numbers.

TFMOT's step counter: ``UpdatePruningStep`` sets each wrapper's ``pruning_step`` to 0 when
training begins, and every training batch first increments it and then asks the schedule
whether to prune. So the **first batch is step 1** (batch ``b`` of the run is step ``b + 1``,
i.e. ``optimizer.iterations`` *after* that batch), and a schedule with ``begin_step=0`` and
``frequency=100`` first prunes at the 100th batch, not the first.

Conventions (the same as ``pruning_torch``): ``amount`` and sparsity are fractions 0–1 of zeros
among a layer's kernel (weights of Dense and Conv layers; biases are never pruned); masks are
bool *keep*-masks (True = kept) with the kernel's shape (Keras layout, Dense ``(in, out)``), keyed
by layer name. ``multiply_masks`` and ``KeepMasks`` also accept 0/1 float masks.
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ._compat import deprecated_alias, renamed_keywords
from ._validate import check_fraction
from .env import load_tensorflow

tf, keras = load_tensorflow()
import tensorflow_model_optimization as tfmot  # noqa: E402  (after Keras 2 is selected)
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (  # noqa: E402
    PruneLowMagnitude,  # not exported by tfmot.sparsity.keras; needed to recognise wrappers
)

sparsity_api = tfmot.sparsity.keras
L = keras.layers
_PRUNABLE = (L.Dense, L.Conv1D, L.Conv2D, L.Conv3D)

__all__ = [
    "KeepMasks",
    "SparsityLog",
    "global_sparsities",
    "is_pruned",
    "kernels",
    "magnitude_masks",
    "multiply_masks",
    "prunable_layer_names",
    "pruning_callbacks",
    "random_masks",
    "read_pruning_summaries",
    "reset_optimizer",
    "schedule_value",
    "strip",
    "tensorboard_available",
    "tflite_predict",
    "wrap_for_pruning",
    # old names, kept working with a DeprecationWarning (issue 9, P1-4)
    "apply_masks",
    "prune_model",
]


# --------------------------------------------------------------------------- checks
def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        mod = type(model).__module__
        hint = ""
        if mod.startswith("keras.") or mod == "keras":
            hint = (
                " It is a Keras 3 model; TFMOT 0.8 needs Keras 2: run `import course_utils` before "
                "TensorFlow and build models with `tf_keras` (`course_utils.env.load_tensorflow()`)."
            )
        raise TypeError(f"expected a tf_keras (Keras 2) Model, got {mod}.{type(model).__name__}.{hint}")
    if not (isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False)):
        raise TypeError(
            f"{type(model).__name__} is a subclassed Keras model; TFMOT supports only Sequential and functional "
            "models (tensorflow/model-optimization#155)"
        )
    if not model.built:
        raise ValueError(f"model {model.name!r} is not built: give it a keras.Input or call model.build(...)")


def _check_fraction(value: Any, name: str) -> float:
    return check_fraction(value, name, below_one=True)


def is_pruned(layer: Any) -> bool:
    """True if ``layer`` is a TFMOT ``PruneLowMagnitude`` wrapper."""
    return isinstance(layer, PruneLowMagnitude)


def _inner(layer: Any) -> Any:
    return layer.layer if is_pruned(layer) else layer


def prunable_layer_names(model: Any) -> list[str]:
    """Names of the model's Dense/Conv layers (unwrapped names for TFMOT-wrapped ones), in order.

    Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    return [_inner(layer).name for layer in model.layers if isinstance(_inner(layer), _PRUNABLE)]


def _resolve_layers(model: Any, layers: Iterable[str] | None) -> list[str]:
    names = prunable_layer_names(model)
    if layers is None:
        return names
    if isinstance(layers, str):
        layers = [layers]
    chosen = list(layers)
    all_names = [_inner(layer).name for layer in model.layers]
    unknown = [n for n in chosen if n not in all_names]
    if unknown:
        raise ValueError(f"no layer named {unknown} in model {model.name!r}; its layers are {all_names}")
    unprunable = [n for n in chosen if n not in names]
    if unprunable:
        raise ValueError(f"layers {unprunable} have no prunable kernel; prunable layers are {names}")
    if not chosen:
        raise ValueError("layers is empty: name at least one layer to prune, or pass None for all")
    return chosen


# --------------------------------------------------------------------------- TFMOT wrappers
def wrap_for_pruning(model: Any, schedule: Any, layers: Iterable[str] | None = None) -> Any:
    """A *copy* of ``model`` whose chosen layers are wrapped with ``prune_low_magnitude``.

    Not the twin of ``pruning_torch.prune_model`` (which prunes in place to a fraction and returns
    sparsities): this prunes nothing yet — TFMOT prunes during ``fit`` by ``schedule``. Hence its own
    name; the old name ``prune_model`` still works and warns.

    - ``schedule``: a TFMOT ``PruningSchedule`` (``ConstantSparsity``, ``PolynomialDecay``) used for
      every chosen layer, or ``{layer name: schedule}`` for a schedule per layer (its keys are then
      the chosen layers, unless ``layers`` is given too).
    - ``layers``: names of the layers to prune (default: every Dense/Conv layer). Other layers are
      copied unwrapped.

    The copy has its own weights, equal to ``model``'s (the original is never modified), and is
    not compiled: compile it, then train with ``callbacks=pruning_callbacks()``.
    Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    if any(is_pruned(layer) for layer in model.layers):
        raise ValueError(f"model {model.name!r} already holds pruning wrappers; call strip() first")
    if isinstance(schedule, Mapping):
        schedules = dict(schedule)
        chosen = _resolve_layers(model, layers if layers is not None else list(schedules))
        missing = [n for n in chosen if n not in schedules]
        if missing:
            raise ValueError(f"no schedule given for layers {missing}")
    else:
        chosen = _resolve_layers(model, layers)
        schedules = {n: schedule for n in chosen}
    for name in chosen:
        if not isinstance(schedules[name], sparsity_api.PruningSchedule):
            raise TypeError(
                f"schedule for {name!r} must be a tfmot.sparsity.keras PruningSchedule (ConstantSparsity, "
                f"PolynomialDecay), got {type(schedules[name]).__name__}"
            )

    # 1) an independent copy (new layers, same weights), 2) wrap the chosen layers of the copy.
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())

    def wrap(layer: Any) -> Any:
        if layer.name in chosen:
            return sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedules[layer.name])
        return layer

    return keras.models.clone_model(copy, clone_function=wrap)


def strip(model: Any) -> Any:
    """``strip_pruning(model)``: the same architecture without TFMOT wrappers, kernels already masked.

    Raises ``ValueError`` if a wrapper is somehow left. The result is what you save and convert
    (a wrapped model stores mask, threshold and step variables too).
    Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    # Re-apply the masks first: after the last optimizer step the wrapped kernels hold nonzero
    # values at pruned positions until the next forward pass (UpdatePruningStep does this at each
    # epoch end; we do it here too in case training stopped mid-epoch).
    for layer in model.layers:
        if is_pruned(layer) and layer.pruning_obj is not None:
            layer.pruning_obj.weight_mask_op()
    stripped = sparsity_api.strip_pruning(model)
    left = [layer.name for layer in stripped.layers if is_pruned(layer)]
    if left:
        raise ValueError(f"strip_pruning left wrappers on {left}")
    return stripped


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package is installed (``tf.summary`` and ``PruningSummaries`` need it;
    TensorFlow 2.21 does not install it). Introduced in 02_weight_pruning_tensorflow."""
    return importlib.util.find_spec("tensorboard") is not None


def pruning_callbacks(logdir: str | os.PathLike | None = None) -> list[Any]:
    """``[UpdatePruningStep()]`` plus ``PruningSummaries(log_dir=logdir)`` when ``logdir`` is given.

    ``UpdatePruningStep`` is required: without it ``fit`` fails with "Prune() wrapper requires the
    UpdatePruningStep callback" (tensorflow/model-optimization#827). ``PruningSummaries`` writes
    each wrapped layer's sparsity and threshold at the start of every epoch, for TensorBoard
    (``tensorboard --logdir logdir``) or :func:`read_pruning_summaries`; it needs the
    ``tensorboard`` package (``ModuleNotFoundError`` with the fix if it is missing).
    Introduced in 02_weight_pruning_tensorflow.
    """
    cbs = [sparsity_api.UpdatePruningStep()]
    if logdir is not None:
        if not isinstance(logdir, (str, os.PathLike)) or not str(logdir):
            raise ValueError(f"logdir must be a non-empty folder path, got {logdir!r}")
        if not tensorboard_available():
            raise ModuleNotFoundError(
                "PruningSummaries writes TensorBoard summaries, and the `tensorboard` package is not installed "
                "(TensorFlow 2.21 does not pull it in): pip install tensorboard==2.21.0, or call "
                "pruning_callbacks() without logdir and use SparsityLog instead."
            )
        cbs.append(sparsity_api.PruningSummaries(log_dir=str(logdir)))
    return cbs


def read_pruning_summaries(logdir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """What ``PruningSummaries`` wrote: ``{tag: [(step, value), ...]}`` read from ``logdir/metrics``.

    Tags look like ``"prune_low_magnitude_fc1/mask:0/sparsity"`` (fraction 0–1) and
    ``".../threshold:0/threshold"`` (the magnitude below which weights are pruned); ``step`` is
    the optimizer step at the start of each epoch. Introduced in 02_weight_pruning_tensorflow.
    """
    folder = Path(logdir) / "metrics"
    files = sorted(folder.glob("events.out.tfevents.*"))
    if not files:
        raise FileNotFoundError(f"no PruningSummaries event files in {folder}; "
                                "did fit run with pruning_callbacks(logdir)?")
    out: dict[str, list[tuple[int, float]]] = {}
    for f in files:
        for event in tf.compat.v1.train.summary_iterator(str(f)):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append((int(event.step), float(tf.make_ndarray(value.tensor))))
    return out


class SparsityLog(keras.callbacks.Callback):
    """Records the sparsity of every TFMOT mask at the start of training and after every epoch.

    ``steps`` (optimizer steps so far), ``per_layer`` (``{layer: [fraction 0–1, ...]}``, one
    entry per record) and ``overall`` (all masked weights together). The same numbers
    ``PruningSummaries`` logs, without needing TensorBoard. Introduced in 02_weight_pruning_tensorflow.
    """

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[int] = []
        self.per_layer: dict[str, list[float]] = {}
        self.overall: list[float] = []

    def _record(self) -> None:
        zeros = total = 0
        for layer in self.model.layers:
            if is_pruned(layer):
                for _, mask, _ in layer.pruning_vars:
                    m = mask.numpy()
                    self.per_layer.setdefault(layer.layer.name, []).append(float(1.0 - m.mean()))
                    zeros += int(m.size - np.count_nonzero(m))
                    total += m.size
        if total == 0:
            raise ValueError("SparsityLog found no TFMOT-wrapped layer in the model")
        self.steps.append(int(self.model.optimizer.iterations.numpy()))
        self.overall.append(zeros / total)

    def on_train_begin(self, logs=None):
        self._record()

    def on_epoch_end(self, epoch, logs=None):
        self._record()


def schedule_value(schedule: Any, step: int) -> tuple[bool, float]:
    """``(prunes at this step?, target sparsity 0–1)`` of a TFMOT schedule at integer ``step``.

    Introduced in 02_weight_pruning_tensorflow.
    """
    if not isinstance(schedule, sparsity_api.PruningSchedule):
        raise TypeError(f"expected a tfmot.sparsity.keras PruningSchedule, got {type(schedule).__name__}")
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    should, value = schedule(tf.constant(int(step), dtype=tf.int64))
    return bool(should), float(value)


def reset_optimizer(model: Any) -> Any:
    """Zero the compiled optimizer's state (step counter and moment estimates) in place; returns ``model``.

    Gives the same training as compiling afresh, without retracing the training step (each
    ``compile`` makes the next ``fit`` rebuild its ``tf.function``, about a second on a CPU).
    Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    opt = getattr(model, "optimizer", None)
    if opt is None:
        raise ValueError("the model is not compiled: compile it first (train_tf.compile(model))")
    variables = opt.variables() if callable(opt.variables) else opt.variables  # legacy optimizers: a method
    for v in variables:
        v.assign(tf.zeros_like(v))
    return model


def tflite_predict(tflite_model: bytes, x: np.ndarray, *, threads: int | None = None) -> np.ndarray:
    """Outputs (logits) of a TFLite flatbuffer for images ``x`` (float32 ``(N, 28, 28)``), as ``(N, classes)``.

    Runs the whole batch in one call of LiteRT's interpreter (``ai_edge_litert``; ``tf.lite.Interpreter`` if that
    package is missing, see :func:`course_utils.metrics_tf.litert_interpreter`). Introduced in
    02_weight_pruning_tensorflow.
    """
    if not isinstance(tflite_model, (bytes, bytearray)):
        raise TypeError(f"tflite_model must be the converter's bytes, got {type(tflite_model).__name__}")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images, got shape {x.shape}")
    from .metrics_tf import litert_interpreter

    interpreter = litert_interpreter(bytes(tflite_model), num_threads=threads)
    inp = interpreter.get_input_details()[0]
    want = tuple(int(d) for d in inp["shape"][1:])
    if tuple(x.shape[1:]) != want:
        raise ValueError(f"x has per-sample shape {tuple(x.shape[1:])}, the TFLite model expects {want}")
    interpreter.resize_tensor_input(inp["index"], x.shape, strict=False)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


# --------------------------------------------------------------------------- masks by hand
def kernels(model: Any, layers: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """``{layer name: kernel as a numpy array}`` of an *unwrapped* model's Dense/Conv layers.

    Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    if any(is_pruned(layer) for layer in model.layers):
        raise ValueError("kernels() needs a model without pruning wrappers; strip() it first")
    return {n: model.get_layer(n).kernel.numpy() for n in _resolve_layers(model, layers)}


def _keep_top(scores: np.ndarray, amount: float) -> np.ndarray:
    """Bool keep-mask removing the ``round(amount * size)`` lowest scores (ties: lower position first)."""
    n_prune = int(round(amount * scores.size))
    keep = np.ones(scores.size, dtype=bool)
    if n_prune:
        order = np.argsort(scores.ravel(), kind="stable")
        keep[order[:n_prune]] = False
    return keep.reshape(scores.shape)


_METHODS = ("l1", "random")
_SCOPES = ("global", "layer")


@renamed_keywords(sparsity="amount")
def magnitude_masks(
    model: Any,
    amount: float | Mapping[str, float],
    *,
    scope: str = "global",
    method: str = "l1",
    layers: Iterable[str] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Keep-masks that remove a fraction ``amount`` of the kernels' weights (model unchanged).

    The twin of ``pruning_torch.magnitude_masks`` (same arguments, same defaults, same meaning;
    numpy arrays here, torch tensors there):

    - ``scope="global"`` (default): one ranking over all chosen layers; exactly
      ``round(amount * total)`` weights are removed and the layers end up with different sparsities.
    - ``scope="layer"``: each layer loses ``round(amount * size)`` of its own weights — TFMOT's rule;
      ``amount`` may also be a dict ``{layer: fraction}`` (then only those layers get masks).
    - ``method="l1"`` ranks by |weight|; ``method="random"`` at random (seeded by ``seed``), the control.

    Weights that are already zero rank lowest, so new masks contain the old ones. Returns
    ``{layer: bool array}`` in the kernel's shape (Keras layout, Dense ``(in, out)``), **True for a
    weight that is kept**. ``sparsity=`` is accepted as the old name of ``amount``.
    Introduced in 02_weight_pruning_tensorflow.
    """
    if scope not in _SCOPES:
        raise ValueError(f"scope must be one of {_SCOPES}, got {scope!r}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if isinstance(amount, Mapping):
        if scope != "layer":
            raise ValueError("a per-layer amount {layer: fraction} needs scope='layer'")
        if layers is not None:
            raise ValueError("pass either layers or a per-layer amount dict, not both")
        amounts = {n: _check_fraction(a, f"amount[{n!r}]") for n, a in amount.items()}
        ws = kernels(model, list(amounts))
    else:
        a = _check_fraction(amount, "amount")
        ws = kernels(model, layers)
        amounts = {n: a for n in ws}
    if method == "l1":
        scores = {n: np.abs(w) for n, w in ws.items()}
    else:
        rng = np.random.default_rng(int(seed))
        # already-zero weights score -1: pruned first, so masks only grow
        scores = {n: np.where(w != 0, rng.random(w.shape), -1.0) for n, w in ws.items()}
    if scope == "layer":
        return {n: _keep_top(scores[n], amounts[n]) for n in ws}
    flat = np.concatenate([sc.ravel() for sc in scores.values()])
    keep = _keep_top(flat, next(iter(amounts.values())))
    out, start = {}, 0
    for n, w in ws.items():
        out[n] = keep[start : start + w.size].reshape(w.shape)
        start += w.size
    return out


@renamed_keywords(sparsity="amount")
def global_sparsities(model: Any, amount: float, layers: Iterable[str] | None = None) -> dict[str, float]:
    """Per-layer sparsity that one *global* magnitude threshold gives (fraction 0–1 per layer).

    The ``round(amount * total)`` smallest |weights| across all chosen layers are pruned; the
    result says how many of them fall in each layer. Feed it to :func:`wrap_for_pruning` as
    ``{name: ConstantSparsity(s, ...)}`` to get global pruning out of TFMOT's layer-wise wrappers.
    ``sparsity=`` is accepted as the old name of ``amount``. Introduced in 02_weight_pruning_tensorflow.
    """
    masks = magnitude_masks(model, amount, scope="global", layers=layers)
    return {n: float(1.0 - m.mean()) for n, m in masks.items()}


@renamed_keywords(sparsity="amount")
def random_masks(
    model: Any, amount: float, *, seed: int = 0, layers: Iterable[str] | None = None
) -> dict[str, np.ndarray]:
    """Random control: prune ``round(amount * size)`` weights of each layer chosen uniformly at
    random (seeded), ignoring magnitudes. ``magnitude_masks(model, amount, scope="layer",
    method="random", seed=seed)``; bool keep-masks. Introduced in 02_weight_pruning_tensorflow.
    """
    return magnitude_masks(model, amount, scope="layer", method="random", seed=seed, layers=layers)


def multiply_masks(model: Any, masks: Mapping[str, np.ndarray]) -> Any:
    """Multiply each named layer's kernel by its mask *once*, in place; returns ``model``.

    ``masks``: ``{layer: keep-mask}``, bool (True = kept) or 0/1 numbers, in the kernel's shape.
    A one-off: nothing keeps the zeros at zero afterwards, so training regrows them unless you pass
    ``KeepMasks(masks)`` to ``fit``. Not the twin of ``pruning_torch.apply_masks``, which installs a
    persistent mask (``torch.nn.utils.prune`` reparametrisation) — hence the different name; the old
    name ``apply_masks`` still works and warns. Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    if not isinstance(masks, Mapping) or not masks:
        raise TypeError("masks must be a non-empty dict {layer name: bool keep-mask}")
    names = _resolve_layers(model, list(masks))
    for name in names:
        layer = model.get_layer(name)
        if is_pruned(layer):
            raise ValueError(f"layer {name!r} is wrapped by TFMOT; apply masks to an unwrapped model")
        m = np.asarray(masks[name])
        if m.shape != tuple(layer.kernel.shape):
            raise ValueError(f"mask for {name!r} has shape {m.shape}, the kernel has {tuple(layer.kernel.shape)}")
        if m.dtype != bool and not np.isin(m, (0.0, 1.0)).all():
            raise ValueError(f"mask for {name!r} must be bool (True = kept) or hold only 0 and 1")
        layer.kernel.assign(layer.kernel.numpy() * m.astype(np.float32))
    return model


# --------------------------------------------------------------------------- old names (issue 9, P1-4)
prune_model = deprecated_alias(
    wrap_for_pruning, "prune_model",
    "it returns a TFMOT-wrapped copy, unlike pruning_torch.prune_model, which prunes in place",
)
apply_masks = deprecated_alias(
    multiply_masks, "apply_masks",
    "it multiplies once, unlike pruning_torch.apply_masks, which installs a persistent mask",
)


class KeepMasks(keras.callbacks.Callback):
    """Keras callback that keeps hand-made masks applied during ``fit`` (re-zeroes pruned weights
    after every batch), for pruning that TFMOT cannot express (e.g. a random control).

    ``masks``: ``{layer: keep-mask}``, bool (True = kept) or 0/1. Introduced in 02_weight_pruning_tensorflow.
    """

    def __init__(self, masks: Mapping[str, np.ndarray]) -> None:
        super().__init__()
        if not isinstance(masks, Mapping) or not masks:
            raise TypeError("masks must be a non-empty dict {layer name: bool keep-mask}")
        self.masks = {n: tf.constant(np.asarray(m, dtype=np.float32)) for n, m in masks.items()}
        self._pairs: list[tuple[Any, Any]] = []

    def on_train_begin(self, logs=None):
        self._pairs = []
        for name, m in self.masks.items():
            kernel = self.model.get_layer(name).kernel
            if tuple(kernel.shape) != tuple(m.shape):
                raise ValueError(f"mask for {name!r} has shape {tuple(m.shape)}, the kernel has {tuple(kernel.shape)}")
            self._pairs.append((kernel, m))
        self._apply()

    def _apply(self) -> None:
        for kernel, m in self._pairs:
            kernel.assign(kernel * m)

    def on_train_batch_end(self, batch, logs=None):
        self._apply()
