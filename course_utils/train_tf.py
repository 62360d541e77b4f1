"""Training and evaluation for Keras 2 (``tf_keras``) models (introduced in 02_weight_pruning_tensorflow).

The twin of ``course_utils.train_torch``: same signatures (``fit(model, train, epochs=..., val=val,
seed=...)``, ``evaluate(model, data)`` with ``train``/``data``/``val`` tuples ``(x, y)``), same
``History``, same units (accuracy fraction 0–1, mean cross-entropy per sample, seconds), same input
checks. The old Keras-style form ``fit(model, x, y, ...)`` / ``evaluate(model, x, y)`` still works.
Data is numpy: images float in [0, 1] of shape ``(N, 28, 28)`` (or ``(N, 28, 28, 1)``), labels
integer class ids.

TFMOT: wrap the model with ``prune_low_magnitude``, compile it yourself (or let ``fit`` compile
it) and pass ``tfmot.sparsity.keras.UpdatePruningStep()`` in ``callbacks``; with
``compile=False`` the model's own compiled optimizer/loss/metrics are kept.

Progress bar: a small tqdm callback written against ``tf_keras`` (``tqdm.keras.TqdmCallback``
imports the standalone Keras 3 package, which is a different library from the Keras 2 the
course uses).
"""
from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ._compat import xy_positional
from ._validate import check_fraction, check_int, check_positive_number
from .env import load_tensorflow
from .history import History

tf, keras = load_tensorflow()

__all__ = ["History", "compile", "fit", "evaluate", "predict_logits"]

_OPTIMIZERS = ("adam", "adamw", "sgd")
_ACC_KEYS = ("accuracy", "sparse_categorical_accuracy", "acc")


# --------------------------------------------------------------------------- checks
def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"expected a tf_keras Model (Sequential/functional), got {type(model).__module__}.{type(model).__name__}"
        )


def _check_lr(lr: float) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    return float(lr)


def _check_x(model: Any, x: Any) -> np.ndarray:
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # tf.Tensor
        x = x.numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"x must be float images in [0, 1], got dtype {x.dtype}; "
            "convert with x.astype('float32') / 255 if they are raw uint8 pixels"
        )
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch of images, got shape {x.shape}")
    expected = _expected_input(model)
    if expected is not None:
        got = tuple(x.shape[1:])
        ok = got == expected or got == expected + (1,) or (expected[-1:] == (1,) and got == expected[:-1])
        if not ok:
            raise ValueError(
                f"x has per-sample shape {got}, but the model expects {expected} "
                f"(the course's Keras models take (N, 28, 28) or (N, 28, 28, 1))"
            )
    return x.astype(np.float32, copy=False)


def _expected_input(model: Any) -> tuple[int, ...] | None:
    try:
        shape = model.input_shape
    except (AttributeError, RuntimeError, ValueError):
        return None
    if not isinstance(shape, tuple) or any(d is None for d in shape[1:]):
        return None
    return tuple(int(d) for d in shape[1:])


def _n_classes(model: Any) -> int | None:
    try:
        shape = model.output_shape
    except (AttributeError, RuntimeError, ValueError):
        return None
    if isinstance(shape, tuple) and len(shape) == 2 and shape[-1] is not None:
        return int(shape[-1])
    return None


def _check_y(model: Any, y: Any, n: int) -> np.ndarray:
    if hasattr(y, "numpy") and not isinstance(y, np.ndarray):
        y = y.numpy()
    y = np.asarray(y)
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"y must hold integer class ids, got dtype {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (one class id per sample), got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"x and y have different lengths: {n} images but {len(y)} labels")
    classes = _n_classes(model)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or (classes is not None and hi >= classes):
        limit = f"[0, {classes - 1}]" if classes is not None else ">= 0"
        raise ValueError(f"labels must be class ids in {limit}, found values in [{lo}, {hi}]")
    return y.astype(np.int64, copy=False)


def _check_xy(model: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    _check_model(model)
    x = _check_x(model, x)
    return x, _check_y(model, y, len(x))


# --------------------------------------------------------------------------- compile
def _make_optimizer(optimizer: Any, lr: float):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        return optimizer
    if not isinstance(optimizer, str) or optimizer.lower() not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS} or a tf_keras optimizer, got {optimizer!r}")
    name = optimizer.lower()
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr)
    return keras.optimizers.SGD(learning_rate=lr, momentum=0.9)


def compile(model: Any, lr: float = 1e-3, optimizer: Any = "adam") -> Any:  # noqa: A001 (mirrors Keras)
    """Compile ``model`` for classification from logits and return it.

    Loss ``SparseCategoricalCrossentropy(from_logits=True)``, metric ``"accuracy"``;
    ``optimizer`` is ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9) with learning rate ``lr``,
    or a tf_keras optimizer instance (``lr`` then ignored). Recompiling resets optimizer state.
    Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    opt = _make_optimizer(optimizer, _check_lr(lr))
    model.compile(
        optimizer=opt,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


_compile = compile


# --------------------------------------------------------------------------- callbacks
class _EpochTimer(keras.callbacks.Callback):
    """Wall seconds of each epoch's training pass (validation excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0
        self._train_end: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        self._train_end = None

    def on_test_begin(self, logs=None):  # validation inside fit starts: training pass is over
        if self._train_end is None:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = self._train_end if self._train_end is not None else time.perf_counter()
        self.seconds.append(end - self._start)


class _TqdmProgress(keras.callbacks.Callback):
    """One tqdm bar over all training batches, showing loss/accuracy (and val accuracy)."""

    def __init__(self, epochs: int, steps_per_epoch: int) -> None:
        super().__init__()
        self.epochs = epochs
        self.bar = tqdm(total=epochs * steps_per_epoch, unit="batch", desc="train")

    def on_epoch_begin(self, epoch, logs=None):
        self.bar.set_description(f"epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self.bar.update(1)
        if logs:
            self.bar.set_postfix(_short(logs), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            self.bar.set_postfix(_short(logs))

    def on_train_end(self, logs=None):
        self.bar.close()


def _short(logs: dict) -> dict[str, str]:
    names = {"accuracy": "acc", "val_accuracy": "val_acc", "sparse_categorical_accuracy": "acc"}
    return {names.get(k, k): f"{float(v):.4f}" for k, v in logs.items() if k in ("loss", "val_loss", *names)}


def _is_compiled(model: Any) -> bool:
    return bool(getattr(model, "_is_compiled", False)) and getattr(model, "optimizer", None) is not None


# --------------------------------------------------------------------------- public API
def _check_data(model: Any, data: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``data`` = ``(x, y)`` checked and converted (the course's form, as in ``train_torch``)."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            f"{what} must be a tuple (x, y) of numpy arrays (the course's form, as in train_torch), "
            f"got {type(data).__name__}; the old form f(model, x, y) works too"
        )
    return _check_xy(model, *data)


class _OnStep(keras.callbacks.Callback):
    """Calls ``on_step(step)`` after every training batch, ``step`` = optimizer steps in this call (1, 2, ...)."""

    def __init__(self, on_step: Any) -> None:
        super().__init__()
        self.on_step = on_step
        self.step = 0

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        self.on_step(self.step)


def _check_teacher(model: Any, teacher: Any, kd_temperature: float, kd_weight: float) -> None:
    if not isinstance(teacher, keras.Model):
        raise TypeError(
            f"teacher must be a tf_keras Model (the dense model to distil from), got {type(teacher).__name__}"
        )
    if teacher is model:
        raise ValueError("teacher is the model being trained: pass a separate (e.g. the dense) model")
    check_positive_number(kd_temperature, "kd_temperature")
    check_fraction(kd_weight, "kd_weight")
    t_out, s_out = _n_classes(teacher), _n_classes(model)
    if t_out is not None and s_out is not None and t_out != s_out:
        raise ValueError(f"teacher outputs {t_out} classes, the model {s_out}: they must match")


def _kd_loss(temperature: float, weight: float) -> Any:
    """Keras loss of a packed target ``[label, teacher logits...]``: Hinton et al. (2015) distillation.

    ``weight · T² · KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − weight) · CE(label, student)``.
    """
    t, w = float(temperature), float(weight)

    def kd_loss(y_true, y_pred):
        labels = tf.cast(y_true[:, 0], tf.int64)
        teacher_logits = y_true[:, 1:]
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)
        p_teacher = tf.nn.softmax(teacher_logits / t)
        kl = tf.reduce_sum(
            p_teacher * (tf.nn.log_softmax(teacher_logits / t) - tf.nn.log_softmax(y_pred / t)), axis=-1
        )
        return w * t * t * kl + (1.0 - w) * ce

    return kd_loss


def _packed_accuracy(y_true, y_pred):
    """Accuracy against column 0 (the label) of a packed ``[label, teacher logits...]`` target."""
    labels = tf.cast(y_true[:, 0], tf.int64)
    return tf.cast(tf.equal(tf.argmax(y_pred, axis=-1), labels), tf.float32)


def _packed_ce(y_true, y_pred):
    """Cross-entropy with the label (column 0 of a packed target), reported as ``History.loss``."""
    labels = tf.cast(y_true[:, 0], tf.int64)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)


_packed_accuracy.__name__ = "accuracy"
_packed_ce.__name__ = "ce"


class _EvalEachEpoch(keras.callbacks.Callback):
    """Validation loss (cross-entropy) and accuracy after each epoch, via :func:`evaluate`."""

    def __init__(self, val: tuple[np.ndarray, np.ndarray]) -> None:
        super().__init__()
        self.val = val
        self.loss: list[float] = []
        self.accuracy: list[float] = []

    def on_epoch_end(self, epoch, logs=None):
        out = evaluate(self.model, self.val)
        self.loss.append(out["loss"])
        self.accuracy.append(out["accuracy"])


@xy_positional
def fit(
    model: Any,
    train: tuple[np.ndarray, np.ndarray],
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    optimizer: Any = "adam",
    val: tuple[np.ndarray, np.ndarray] | None = None,
    batch_size: int = 128,
    seed: int = 0,
    progress: bool = True,
    on_step: Any = None,
    teacher: Any = None,
    kd_temperature: float = 4.0,
    kd_weight: float = 0.9,
    callbacks: Sequence[Any] = (),
    compile: bool = True,  # noqa: A002 (mirrors Keras' naming)
) -> History:
    """Train a Keras model in place; return the course's ``History``.

    The twin of ``train_torch.fit``: the course's form is ``fit(model, train, epochs=..., val=val,
    seed=...)`` with ``train = (x, y)`` and ``val = (x_val, y_val)``, and the keywords ``epochs``,
    ``lr``, ``optimizer``, ``val``, ``batch_size``, ``seed``, ``progress``, ``on_step`` mean the same in
    both. The old Keras-style form ``fit(model, x, y, ...)`` still works.

    - ``compile=True`` (default) compiles with ``train_tf.compile(model, lr, optimizer)``
      (optimizer state is reset); ``compile=False`` keeps the model's compiled state — e.g. a
      TFMOT-wrapped model the notebook compiled itself — and ignores ``lr``/``optimizer``.
    - Batches are shuffled with ``tf.data`` ``shuffle(seed=seed)``, reshuffled each epoch: the
      same seed gives the same batch order.
    - ``val`` is evaluated after each epoch. ``callbacks`` are extra Keras callbacks
      (``tfmot.sparsity.keras.UpdatePruningStep()`` for pruning wrappers).
    - ``on_step(step)``: called after every optimizer step with the number of steps taken so far in
      this call (1, 2, ...), as in ``train_torch.fit``.
    - ``progress``: a tqdm bar over all batches (Keras' own printing is off).
    - ``teacher``: a model to **distil** from (Hinton et al. 2015), e.g. the dense model while a pruned
      copy is fine-tuned. The loss becomes ``kd_weight · T² · KL(softmax(teacher/T) ‖ softmax(model/T))
      + (1 − kd_weight) · cross-entropy(labels)`` with ``T = kd_temperature`` (the ``T²`` keeps the
      soft term's gradients on the scale of the hard one). The teacher is not trained; its logits are
      computed once, in inference mode, for the training images. ``History.loss`` still reports the
      cross-entropy with the labels, and ``val`` is scored with :func:`evaluate`. The model keeps its
      optimizer (and its state with ``compile=False``) and is left compiled with the course's loss.
      Introduced in 02_weight_pruning_tensorflow.

    PyTorch-only keywords: ``weight_decay`` and ``l1`` (add Keras regularizers to the layers instead).
    ``History.loss`` is Keras' epoch loss (mean cross-entropy plus any layer regularization
    losses), ``accuracy`` a fraction 0–1, ``seconds`` the training wall time per epoch (seconds,
    validation excluded). Introduced in 02_weight_pruning_tensorflow.
    """
    check_int(epochs, "epochs", 1)
    check_int(batch_size, "batch_size", 1)
    check_int(seed, "seed", 0)
    x, y = _check_data(model, train, "train")
    validation = None
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"val must be a tuple (x_val, y_val) of numpy arrays, got {type(val).__name__}")
        validation = _check_xy(model, *val)
    if isinstance(callbacks, keras.callbacks.Callback) or not isinstance(callbacks, (list, tuple)):
        raise TypeError("callbacks must be a list/tuple of Keras callbacks, e.g. [UpdatePruningStep()]")
    if on_step is not None and not callable(on_step):
        raise TypeError(f"on_step must be callable (step: int) -> None, got {on_step!r}")
    if teacher is not None:
        _check_teacher(model, teacher, kd_temperature, kd_weight)
    if compile:
        _compile(model, lr=lr, optimizer=optimizer)
    elif not _is_compiled(model):
        raise ValueError(
            "compile=False but the model is not compiled: call train_tf.compile(model) (or model.compile) "
            "first, or pass compile=True"
        )
    if teacher is not None:
        return _fit_distilled(model, x, y, teacher, kd_temperature, kd_weight, epochs=epochs, val=validation,
                              batch_size=batch_size, seed=seed, progress=progress, on_step=on_step,
                              callbacks=callbacks)

    steps_per_epoch = math.ceil(len(x) / batch_size)
    ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    timer = _EpochTimer()
    cbs = [*callbacks, timer]
    if on_step is not None:
        cbs.append(_OnStep(on_step))
    if progress:
        cbs.append(_TqdmProgress(epochs, steps_per_epoch))
    keras_hist = model.fit(
        ds,
        epochs=epochs,
        validation_data=validation,
        validation_batch_size=512,
        callbacks=cbs,
        verbose=0,
    )
    logs = keras_hist.history
    hist = History(loss=[float(v) for v in logs.get("loss", [])], seconds=list(timer.seconds))
    acc_key = next((k for k in _ACC_KEYS if k in logs), None)
    if acc_key is None:
        warnings.warn(
            "the model was compiled without an accuracy metric, so History.accuracy is empty; "
            "compile with metrics=['accuracy'] (train_tf.compile does)",
            stacklevel=2,
        )
    else:
        hist.accuracy = [float(v) for v in logs[acc_key]]
    if validation is not None:
        hist.val_loss = [float(v) for v in logs.get("val_loss", [])]
        if f"val_{acc_key}" in logs:
            hist.val_accuracy = [float(v) for v in logs[f"val_{acc_key}"]]
    hist.steps = steps_per_epoch * len(hist.loss)
    if any(not math.isfinite(v) for v in hist.loss):
        raise FloatingPointError(f"training loss became non-finite ({hist.loss}); lr={lr} is probably too high")
    return hist


def _fit_distilled(model, x, y, teacher, temperature, weight, *, epochs, val, batch_size, seed, progress,
                   on_step, callbacks) -> History:
    """``fit`` with a distillation loss: the target is packed as ``[label, teacher logits...]``."""
    optimizer = model.optimizer  # compiled by fit (fresh) or by the caller (state kept)
    packed = np.concatenate([y[:, None].astype(np.float32), predict_logits(teacher, x)], axis=1)
    model.compile(optimizer=optimizer, loss=_kd_loss(temperature, weight), metrics=[_packed_accuracy, _packed_ce])
    steps_per_epoch = math.ceil(len(x) / batch_size)
    ds = (
        tf.data.Dataset.from_tensor_slices((x, packed))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    timer = _EpochTimer()
    cbs = [*callbacks, timer]
    scorer = _EvalEachEpoch(val) if val is not None else None
    if scorer is not None:
        cbs.append(scorer)
    if on_step is not None:
        cbs.append(_OnStep(on_step))
    if progress:
        cbs.append(_TqdmProgress(epochs, steps_per_epoch))
    try:
        logs = model.fit(ds, epochs=epochs, callbacks=cbs, verbose=0).history
    finally:  # back to the course's loss, same optimizer object (its state carries over)
        model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    hist = History(loss=[float(v) for v in logs.get("ce", [])], seconds=list(timer.seconds),
                   accuracy=[float(v) for v in logs.get("accuracy", [])])
    if scorer is not None:
        hist.val_loss, hist.val_accuracy = scorer.loss, scorer.accuracy
    hist.steps = steps_per_epoch * len(hist.loss)
    if any(not math.isfinite(v) for v in hist.loss):
        raise FloatingPointError(f"training loss became non-finite ({hist.loss}); lower the learning rate")
    return hist


def predict_logits(model: Any, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Logits of ``model`` for images ``x``: float32 array ``(N, classes)`` (inference mode).

    Introduced in 02_weight_pruning_tensorflow.
    """
    _check_model(model)
    check_int(batch_size, "batch_size", 1)
    x = _check_x(model, x)
    out = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype=np.float32)


@xy_positional
def evaluate(model: Any, data: tuple[np.ndarray, np.ndarray], batch_size: int = 512) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``data = (x, y)`` in inference mode.

    The twin of ``train_torch.evaluate(model, data)``; the old form ``evaluate(model, x, y)`` still
    works. Returns ``{"loss": mean cross-entropy per sample (nats), "accuracy": fraction 0–1}``.
    Computed from the logits (float64 log-softmax), so the model need not be compiled and
    layer regularization losses are not included. Introduced in 02_weight_pruning_tensorflow.
    """
    x, y = _check_data(model, data, "data")
    check_int(batch_size, "batch_size", 1)
    logits = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"the model must return logits of shape (N, classes), got {logits.shape}")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(len(y)), y].mean())
    accuracy = float((logits.argmax(axis=1) == y).mean())
    return {"loss": loss, "accuracy": accuracy}
