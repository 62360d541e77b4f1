"""Sparsity schedules for gradual pruning (numpy only; introduced in 02_weight_pruning_pytorch).

The cubic schedule of Zhu & Gupta (2017, "To prune, or not to prune", arXiv:1710.01878)::

    s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (n * dt)) ** 3      for t0 <= t <= t0 + n*dt

with ``t0 = begin_step``, ``t0 + n*dt = end_step`` and ``dt = frequency``: sparsity rises fast
at first (many redundant weights) and flattens as it approaches ``s_f``.

Semantics match TFMOT's ``tfmot.sparsity.keras.PolynomialDecay(power=3)`` so the PyTorch and
TensorFlow notebooks prune on the same timetable:

- TFMOT prunes at steps ``t`` with ``begin_step <= t <= end_step`` and
  ``(t - begin_step) % frequency == 0`` (see ``should_prune``), to the sparsity the formula
  gives at ``t``. Between those steps the mask, and so the sparsity, stays put.
- ``cubic_sparsity(t)`` returns the sparsity *in effect* at step ``t``: the formula at the most
  recent pruning step ``<= t``. At pruning steps it equals TFMOT's value exactly; with
  ``frequency=1`` it equals TFMOT's value at every step in ``[begin_step, end_step]``.
- Before ``begin_step`` it returns ``initial_sparsity`` (the clipped formula; no pruning happens
  yet, so the model is as dense as it was). After ``end_step`` it stays at the value of the last
  pruning step — ``final_sparsity`` when ``end_step - begin_step`` is a multiple of
  ``frequency``; otherwise TFMOT never prunes exactly at ``end_step`` and the final target is
  not reached (a warning says so).

Sparsities are fractions 0–1 of zeros among prunable weights; steps count optimizer steps.

Lining the two frameworks up: during ``fit``, TFMOT's ``UpdatePruningStep`` sets the step
counter to 0 and increments it *before* each batch asks the schedule, so the first batch is step
1 and TFMOT never prunes at step 0 (measured in 02_weight_pruning_tensorflow:
``PolynomialDecay(0, 0.8, 0, 4, frequency=1)`` gives 0.4625 after the first batch, its value at
t=1). ``train_torch.fit(on_step=...)`` calls ``on_step(k)`` after ``k`` optimizer steps, i.e.
just before the forward pass of the batch TFMOT calls step ``k + 1``; so a PyTorch loop that
prunes in ``on_step(k)`` to ``cubic_sparsity(k, ...)`` runs one step ahead of TFMOT, which is
harmless for schedules spanning hundreds of steps. Pruning at ``begin_step=0`` is done by hand
before ``fit``.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._validate import check_fraction, check_int

__all__ = ["cubic_sparsity", "constant_sparsity", "should_prune", "pruning_steps"]

Step = int | np.integer | np.ndarray


def _check_sparsity(value: float, name: str) -> float:
    return check_fraction(value, name, below_one=True)


def _check_steps(begin_step: int, end_step: int, frequency: int) -> tuple[int, int, int]:
    begin = check_int(begin_step, "begin_step", 0)
    end = check_int(end_step, "end_step", 0)
    freq = check_int(frequency, "frequency", 1)
    if end <= begin:
        raise ValueError(f"end_step must be greater than begin_step, got begin_step={begin}, end_step={end}")
    return begin, end, freq


def _as_steps(step: Step) -> np.ndarray:
    arr = np.asarray(step)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"step must be an int or an array of ints, got {step!r}")
    if np.any(arr < 0):
        raise ValueError(f"step must be >= 0, got {step!r}")
    return arr.astype(np.int64)


def _out(values: np.ndarray, step: Step) -> float | np.ndarray:
    return float(values) if np.ndim(step) == 0 else values


def should_prune(step: Step, *, begin_step: int, end_step: int, frequency: int = 1) -> bool | np.ndarray:
    """Whether a pruning update happens at ``step`` (TFMOT's rule).

    True when ``begin_step <= step <= end_step`` and ``(step - begin_step) % frequency == 0``.
    Accepts an int (returns bool) or an int array (returns a bool array).
    """
    begin, end, freq = _check_steps(begin_step, end_step, frequency)
    t = _as_steps(step)
    hit = (t >= begin) & (t <= end) & ((t - begin) % freq == 0)
    return bool(hit) if np.ndim(step) == 0 else hit


def pruning_steps(*, begin_step: int, end_step: int, frequency: int = 1) -> np.ndarray:
    """All steps at which ``should_prune`` is True, as an int64 array."""
    begin, end, freq = _check_steps(begin_step, end_step, frequency)
    return np.arange(begin, end + 1, freq, dtype=np.int64)


def cubic_sparsity(
    step: Step,
    *,
    initial_sparsity: float,
    final_sparsity: float,
    begin_step: int,
    end_step: int,
    frequency: int = 1,
) -> float | np.ndarray:
    """Zhu & Gupta's cubic schedule: sparsity (fraction 0–1) in effect at optimizer step ``step``.

    ``s_f + (s_i - s_f) * (1 - (t - begin_step) / (end_step - begin_step)) ** 3`` evaluated at
    the last pruning step ``t <= step`` (updates every ``frequency`` steps from ``begin_step``);
    ``initial_sparsity`` before ``begin_step``. Matches TFMOT ``PolynomialDecay(power=3)`` — see
    the module docstring. ``step`` may be an int (returns float) or an int array (for plots).
    """
    s_i = _check_sparsity(initial_sparsity, "initial_sparsity")
    s_f = _check_sparsity(final_sparsity, "final_sparsity")
    begin, end, freq = _check_steps(begin_step, end_step, frequency)
    if (end - begin) % freq:
        warnings.warn(
            f"end_step - begin_step = {end - begin} is not a multiple of frequency={freq}: the last pruning "
            f"step is {begin + (end - begin) // freq * freq}, so final_sparsity={s_f} is never reached "
            "(TFMOT behaves the same). Choose end_step = begin_step + k * frequency.",
            stacklevel=2,
        )
    t = _as_steps(step)
    last_update = begin + ((np.clip(t, begin, end) - begin) // freq) * freq
    progress = (last_update - begin) / (end - begin)
    values = s_f + (s_i - s_f) * (1.0 - progress) ** 3
    values = np.where(t < begin, s_i, values)
    return _out(values, step)


def constant_sparsity(step: Step, *, target_sparsity: float, begin_step: int = 0) -> float | np.ndarray:
    """One-shot target: sparsity 0 before ``begin_step``, ``target_sparsity`` from then on.

    The counterpart of TFMOT's ``ConstantSparsity`` (which prunes to the target at
    ``begin_step`` and then keeps the mask). ``step`` may be an int or an int array.
    """
    target = _check_sparsity(target_sparsity, "target_sparsity")
    begin = check_int(begin_step, "begin_step", 0)
    t = _as_steps(step)
    return _out(np.where(t >= begin, target, 0.0), step)
