"""Training and evaluation loops for PyTorch models (introduced in 01_loss_before_and_after_pytorch).

``fit`` works for plain models, models pruned with ``torch.nn.utils.prune`` (it trains
``weight_orig``; the mask keeps pruned weights at zero) and models shrunk by structured surgery
(torch-pruning): the optimizer is built inside ``fit`` from the model's *current* parameters.

Data is either a ``DataLoader`` yielding ``(x, y)`` batches or a numpy/torch tuple ``(x, y)``:
images float in [0, 1], shape ``(N, 28, 28)`` / ``(N, 1, 28, 28)`` / ``(N, 784)``; labels
integer class ids. 3-D image batches ``(N, 28, 28)`` get a channel axis ``(N, 1, 28, 28)``, so
numpy data from ``course_utils.data`` feeds both the MLP and the CNN.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset
from tqdm.auto import tqdm

from ._torch_prune import refresh
from ._validate import check_fraction, check_int, check_positive_number
from .history import History

__all__ = ["History", "fit", "evaluate", "predict_logits"]

ArrayLike = np.ndarray | torch.Tensor
Data = DataLoader | tuple[ArrayLike, ArrayLike]

_OPTIMIZERS = ("adam", "adamw", "sgd")
_PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


# --------------------------------------------------------------------------- input checks
def _as_tensor(a: Any, what: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach()
    if isinstance(a, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(a))
    raise TypeError(f"{what} must be a numpy array or torch tensor, got {type(a).__name__}")


def _check_xy(x: Any, y: Any | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Validate and convert ``x`` (float images) and ``y`` (int labels) to tensors."""
    xt = _as_tensor(x, "x")
    if not xt.is_floating_point():
        raise TypeError(
            f"x must be float images in [0, 1], got dtype {xt.dtype}; "
            "convert with x.astype('float32') / 255 if they are raw uint8 pixels"
        )
    if xt.dim() < 2:
        raise ValueError(f"x must have a batch axis and features, got shape {tuple(xt.shape)}")
    if xt.shape[0] == 0:
        raise ValueError("x is empty (0 samples)")
    xt = xt.float()
    if not bool(torch.isfinite(xt).all()):
        raise ValueError("x contains NaN or inf values")
    if xt.dim() == 3:
        xt = xt.unsqueeze(1)
    if y is None:
        return xt, None
    yt = _as_tensor(y, "y")
    if yt.is_floating_point() or yt.dtype == torch.bool or yt.is_complex():
        raise TypeError(f"y must hold integer class ids, got dtype {yt.dtype}")
    if yt.dim() != 1:
        raise ValueError(f"y must be 1-D (one class id per sample), got shape {tuple(yt.shape)}")
    if len(yt) != len(xt):
        raise ValueError(f"x and y have different lengths: {len(xt)} images but {len(yt)} labels")
    if int(yt.min()) < 0:
        raise ValueError(f"labels must be class ids >= 0, found {int(yt.min())}")
    return xt, yt.long()


def _check_labels(yb: torch.Tensor, n_classes: int) -> None:
    lo, hi = int(yb.min()), int(yb.max())
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"labels must be class ids in [0, {n_classes - 1}] for a model with {n_classes} outputs, "
            f"found values in [{lo}, {hi}]"
        )


def _forward(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """Forward pass that turns shape errors into a ValueError explaining the expected shapes."""
    try:
        out = model(xb)
    except RuntimeError as err:
        raise ValueError(
            f"the model could not process a batch of shape {tuple(xb.shape)}: {err}. "
            "The course's CNN expects (N, 1, 28, 28) (numpy (N, 28, 28) gets its channel axis "
            "automatically); the MLP accepts (N, 784), (N, 28, 28) or (N, 1, 28, 28)."
        ) from err
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the model must return logits of shape (N, classes), got {shape}")
    return out


def _device(model: nn.Module) -> torch.device:
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch nn.Module, got {type(model).__name__}")
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _probe_classes(model: nn.Module, xt: torch.Tensor, device: torch.device) -> int:
    """Run 2 samples through the model (eval mode, no grad) to check shapes; return #classes."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return int(_forward(model, xt[:2].to(device)).shape[1])
    finally:
        model.train(was_training)


def _loader(
    data: Data, *, batch_size: int, shuffle: bool, seed: int, model: nn.Module, device: torch.device
) -> Iterable:
    """A DataLoader for ``data``: passed through if it already is one, else built (seeded)."""
    if isinstance(data, DataLoader):
        return data
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(
            "data must be a torch DataLoader or a tuple (x, y) of numpy arrays/tensors, "
            f"got {type(data).__name__}"
        )
    xt, yt = _check_xy(*data)
    _check_labels(yt, _probe_classes(model, xt, device))
    dataset = TensorDataset(xt, yt)
    # Index whole batches at once (fast: no per-sample collation); batch_size=None hands each
    # list of indices from the BatchSampler straight to TensorDataset.__getitem__.
    base = (RandomSampler(dataset, generator=torch.Generator().manual_seed(seed)) if shuffle
            else SequentialSampler(dataset))
    return DataLoader(dataset, sampler=BatchSampler(base, batch_size=batch_size, drop_last=False), batch_size=None)


def _unpack(batch: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise TypeError(f"each batch must be a pair (x, y), got {type(batch).__name__}")
    xb, yb = batch
    if not isinstance(xb, torch.Tensor) or not isinstance(yb, torch.Tensor):
        raise TypeError("each batch must hold torch tensors (x, y)")
    if not xb.is_floating_point():
        raise TypeError(f"image batches must be float in [0, 1], got dtype {xb.dtype}")
    if yb.is_floating_point():
        raise TypeError(f"label batches must be integer class ids, got dtype {yb.dtype}")
    if xb.dim() == 3:
        xb = xb.unsqueeze(1)
    if len(xb) != len(yb):
        raise ValueError(f"batch has {len(xb)} images but {len(yb)} labels")
    return xb.to(device, torch.float32), yb.to(device, torch.long)


# --------------------------------------------------------------------------- optimizer
def _make_optimizer(
    model: nn.Module, optimizer: str | torch.optim.Optimizer, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (all requires_grad=False)")
    if isinstance(optimizer, torch.optim.Optimizer):
        held = {id(p) for group in optimizer.param_groups for p in group["params"]}
        missing = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in held]
        if missing:
            raise ValueError(
                f"the optimizer does not hold {len(missing)} of the model's parameters (e.g. {missing[0]!r}); "
                "it was probably built before structured pruning replaced them. Pass optimizer='adam' "
                "(or build a new optimizer from model.parameters())."
            )
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be one of {_OPTIMIZERS} or a torch.optim.Optimizer, got {optimizer!r}")
    name = optimizer.lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be one of {_OPTIMIZERS} or a torch.optim.Optimizer, got {optimizer!r}")


# --------------------------------------------------------------------------- public API
def fit(
    model: nn.Module,
    train: Data,
    *,
    epochs: int = 5,
    lr: float = 1e-3,
    optimizer: str | torch.optim.Optimizer = "adam",
    weight_decay: float = 0.0,
    val: Data | None = None,
    batch_size: int = 128,
    seed: int = 0,
    progress: bool = True,
    on_step: Callable[[int], Any] | None = None,
    l1: float = 0.0,
    teacher: nn.Module | None = None,
    kd_temperature: float = 4.0,
    kd_weight: float = 0.9,
) -> History:
    """Train ``model`` in place with cross-entropy on logits; return its ``History``.

    The twin of ``train_tf.fit``: ``fit(model, train, epochs=..., val=val, seed=...)`` with the same
    keywords (``epochs``, ``lr``, ``optimizer``, ``val``, ``batch_size``, ``seed``, ``progress``,
    ``on_step``, ``teacher``, ``kd_temperature``, ``kd_weight``); ``weight_decay`` and ``l1`` are PyTorch-only,
    ``callbacks``/``compile`` Keras-only.

    - ``train``/``val``: a ``DataLoader`` of ``(x, y)`` batches or a tuple ``(x, y)`` of numpy
      arrays/tensors. Tuples are wrapped in a DataLoader shuffled by a generator seeded with
      ``seed`` (same seed → same batch order); a DataLoader you pass is used as is
      (``batch_size`` and ``seed`` do not apply to it).
    - ``optimizer``: ``"adam"``, ``"adamw"``, ``"sgd"`` (momentum 0.9), built from the model's
      current trainable parameters with ``lr`` and ``weight_decay`` (L2; decoupled for AdamW);
      or an already-built ``torch.optim.Optimizer`` (then ``lr``/``weight_decay`` are ignored and
      its state carries over). It must hold all of the model's parameters.
    - ``on_step(step)``: called after every optimizer step with the number of steps taken so far
      in this call (1, 2, ...). Use it for gradual pruning schedules (``course_utils.schedules``).
    - ``l1``: adds ``l1 * sum(|w|)`` over the weights of Linear/Conv layers (the prunable
      weights; not biases, not BatchNorm) to the loss; introduced in
      03_regularization_and_early_stopping_pytorch.
      ``History.loss`` reports the cross-entropy alone.
    - ``teacher``: knowledge distillation (Hinton et al. 2015, arXiv:1503.02531). With a teacher model
      (e.g. the dense model a pruned copy came from; run in eval mode, no gradients, never changed) the
      loss is ``(1 - kd_weight) * CE(student, labels) + kd_weight * T² * KL(softmax(teacher / T) ||
      softmax(student / T))`` with ``T = kd_temperature`` (> 0; the T² keeps the soft term's gradient
      on the scale of the hard one); ``kd_weight`` is a fraction in [0, 1]. Without a teacher the two
      are ignored. ``History.loss`` still reports the cross-entropy with the labels alone.
      Introduced in 02_weight_pruning_pytorch.
    - ``progress``: a tqdm bar over all batches showing loss/accuracy.

    Works with ``torch.nn.utils.prune``: the optimizer updates ``weight_orig`` and the mask keeps
    pruned weights at exactly zero. Accuracies are fractions 0–1, ``History.seconds`` the
    training wall time of each epoch in seconds. Raises ``FloatingPointError`` if the loss
    becomes NaN/inf (lower ``lr``). Introduced in 01_loss_before_and_after_pytorch.
    """
    check_int(epochs, "epochs", 1)
    check_int(batch_size, "batch_size", 1)
    check_int(seed, "seed", 0)
    check_positive_number(lr, "lr")
    check_positive_number(weight_decay, "weight_decay", allow_zero=True)
    check_positive_number(l1, "l1", allow_zero=True)
    if on_step is not None and not callable(on_step):
        raise TypeError(f"on_step must be callable (step: int) -> None, got {on_step!r}")
    check_positive_number(kd_temperature, "kd_temperature")
    check_fraction(kd_weight, "kd_weight")
    if teacher is not None:
        if not isinstance(teacher, nn.Module):
            raise TypeError(f"teacher must be a torch nn.Module (e.g. the dense model), got {type(teacher).__name__}")
        if teacher is model:
            raise ValueError("teacher is the model being trained: pass a separate copy (e.g. the dense model)")

    device = _device(model)
    train_loader = _loader(train, batch_size=batch_size, shuffle=True, seed=seed, model=model, device=device)
    val_loader = (
        None if val is None else _loader(val, batch_size=512, shuffle=False, seed=seed, model=model, device=device)
    )
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    prunable = [m for m in model.modules() if isinstance(m, _PRUNABLE)] if l1 > 0 else []

    try:
        n_batches: int | None = len(train_loader)  # type: ignore[arg-type]
    except TypeError:
        n_batches = None
    bar = tqdm(
        total=None if n_batches is None else epochs * n_batches,
        disable=not progress,
        unit="batch",
        desc="train",
    )
    hist = History()
    was_training = model.training
    step = 0
    try:
        for epoch in range(1, epochs + 1):
            model.train()
            bar.set_description(f"epoch {epoch}/{epochs}")
            start = time.perf_counter()
            loss_sum, correct, seen = 0.0, 0, 0
            for batch in train_loader:
                xb, yb = _unpack(batch, device)
                logits = _forward(model, xb)
                _check_labels(yb, logits.shape[1])
                loss = F.cross_entropy(logits, yb)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"training loss became {loss.item()} at step {step + 1} (epoch {epoch}); "
                        f"the learning rate lr={lr} is probably too high"
                    )
                total = loss
                if teacher is not None:
                    total = (1 - kd_weight) * loss + kd_weight * _distillation(logits, teacher, xb, kd_temperature)
                if prunable:
                    total = total + l1 * sum(m.weight.abs().sum() for m in prunable)
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                step += 1
                n = len(yb)
                loss_sum += loss.item() * n
                correct += int((logits.argmax(1) == yb).sum())
                seen += n
                if on_step is not None:
                    on_step(step)
                bar.update(1)
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.3f}", refresh=False)
            if seen == 0:
                raise ValueError("the training data yielded no batches")
            hist.seconds.append(time.perf_counter() - start)
            hist.loss.append(loss_sum / seen)
            hist.accuracy.append(correct / seen)
            if val_loader is not None:
                refresh(model)  # module.weight = weight_orig * mask, not one step stale
                ev = _evaluate_loader(model, val_loader, device)
                hist.val_loss.append(ev["loss"])
                hist.val_accuracy.append(ev["accuracy"])
                bar.set_postfix(
                    loss=f"{hist.loss[-1]:.4f}", acc=f"{hist.accuracy[-1]:.3f}", val_acc=f"{ev['accuracy']:.3f}"
                )
    finally:
        bar.close()
        refresh(model)  # module.weight = weight_orig * mask, not one step stale
        model.train(was_training)
    hist.steps = step
    return hist


def _distillation(logits: torch.Tensor, teacher: nn.Module, xb: torch.Tensor, temperature: float) -> torch.Tensor:
    """T² · KL(softmax(teacher/T) ‖ softmax(student/T)), mean over the batch (Hinton et al. 2015)."""
    was_training = teacher.training
    teacher.eval()
    try:
        with torch.no_grad():
            soft = F.log_softmax(_forward(teacher, xb) / temperature, dim=1)
    finally:
        teacher.train(was_training)
    if soft.shape != logits.shape:
        raise ValueError(f"the teacher's logits have shape {tuple(soft.shape)}, the student's {tuple(logits.shape)}: "
                         "teacher and student must predict the same classes")
    log_student = F.log_softmax(logits / temperature, dim=1)
    return temperature**2 * F.kl_div(log_student, soft, reduction="batchmean", log_target=True)


def _evaluate_loader(model: nn.Module, loader: Iterable, device: torch.device) -> dict[str, float]:
    was_training = model.training
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    try:
        with torch.no_grad():
            for batch in loader:
                xb, yb = _unpack(batch, device)
                logits = _forward(model, xb)
                _check_labels(yb, logits.shape[1])
                loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
                correct += int((logits.argmax(1) == yb).sum())
                seen += len(yb)
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("the evaluation data yielded no batches")
    return {"loss": loss_sum / seen, "accuracy": correct / seen}


def evaluate(model: nn.Module, data: Data, batch_size: int = 512) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``data`` (eval mode, no gradients).

    The twin of ``train_tf.evaluate(model, data)``. ``data`` is a DataLoader or a tuple ``(x, y)``.
    Returns ``{"loss": mean cross-entropy per sample (nats), "accuracy": fraction 0–1}``. The
    model's train/eval mode is restored.
    Introduced in 01_loss_before_and_after_pytorch.
    """
    check_int(batch_size, "batch_size", 1)
    device = _device(model)
    loader = _loader(data, batch_size=batch_size, shuffle=False, seed=0, model=model, device=device)
    return _evaluate_loader(model, loader, device)


def predict_logits(model: nn.Module, x: ArrayLike, batch_size: int = 512) -> np.ndarray:
    """Logits of ``model`` for images ``x`` as a float32 numpy array of shape ``(N, classes)``.

    Runs in eval mode without gradients, in batches of ``batch_size``; the model's mode is
    restored. Introduced in 01_loss_before_and_after_pytorch.
    """
    check_int(batch_size, "batch_size", 1)
    device = _device(model)
    xt, _ = _check_xy(x)
    was_training = model.training
    model.eval()
    outs = []
    try:
        with torch.no_grad():
            for i in range(0, len(xt), batch_size):
                outs.append(_forward(model, xt[i : i + batch_size].to(device)).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(outs).numpy()
