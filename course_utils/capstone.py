"""The capstone's budget checker: does a pruned model fit a size/compute/latency budget, and at what cost?

Introduced in 07_capstone_pytorch. Framework-agnostic: a PyTorch ``nn.Module`` or a Keras 2 (``tf_keras``)
Model, measured with :mod:`course_utils.metrics` (which imports only the model's own framework).

- :class:`Budget` holds the limits: ``max_params``, ``max_nonzeros``, ``max_gzip_bytes``, ``max_macs``
  (absolute: a count, bytes, multiply-accumulates per sample), ``max_latency_ratio`` (model latency /
  reference latency at batch 256, a ratio) and optionally ``max_accuracy_drop`` (reference accuracy minus
  model accuracy, a fraction 0–1: ``0.015`` = 1.5 percentage points). ``Budget.relative_to(reference, ...)``
  builds one from fractions of a reference (dense) model.
- :func:`score` measures the model and the reference on the same test data and returns a :class:`Report`:
  every measured value, pass/fail per constraint with a message that says what to do about a failure,
  and the accuracy drop — the number the challenge asks you to minimise.

What each constraint measures (units as in :mod:`course_utils.metrics`):

==================  ==========================================================================
``params``          ``count_params``: every weight and bias, zero or not (masks do not help)
``nonzeros``        ``count_nonzero``: nonzero effective parameters (masks applied)
``gzip_bytes``      ``gzip_size``: bytes of the saved weights after gzip level 9 (torch
                    ``state_dict``, Keras ``save_weights`` .h5) — zeros compress, masks cost bytes
``macs``            ``macs``: dense, shape-based multiply-accumulates per sample (masks do not help)
``latency_ratio``   time of model / reference on one batch of 256 (``metrics.race``: alternating
                    rounds, median over rounds of the per-round ratio)
``accuracy_drop``   reference accuracy − model accuracy on the test data (fraction 0–1)
==================  ==========================================================================
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from . import metrics, timing

__all__ = [
    "CHALLENGE",
    "Budget",
    "Check",
    "Report",
    "accuracy",
    "challenge_budget",
    "default_input_shape",
    "pruning_leftovers",
    "score",
]

#: The capstone challenge of notebook 07 (07_capstone_pytorch and its twin 07_capstone_tensorflow), as
#: fractions of the dense reference model of the same framework: at most a quarter of its MACs, a fifth of its
#: gzip size, half its latency at batch 256, and at most 1.5 points less accuracy.
#: ``challenge_budget(reference)`` turns it into a :class:`Budget`.
CHALLENGE: dict[str, float] = {"macs": 0.25, "gzip": 0.2, "latency": 0.5, "max_accuracy_drop": 0.015}

_COUNT_FIELDS = ("max_params", "max_nonzeros", "max_gzip_bytes", "max_macs")
_RESOURCE_FIELDS = (*_COUNT_FIELDS, "max_latency_ratio")

_HINTS = {
    "params": "count_params counts every weight, zero or not: remove neurons/channels (structured pruning), "
    "or budget max_nonzeros if unstructured sparsity is what you want to count.",
    "nonzeros": "prune more weights (global magnitude pruning), then fine-tune to recover accuracy.",
    "gzip_bytes": "only the saved file counts: prune more weights or remove neurons. PyTorch: call "
    "torch.nn.utils.prune.remove(module, 'weight') so the file holds no weight_orig + weight_mask; "
    "Keras: tfmot.sparsity.keras.strip_pruning(model).",
    "macs": "MACs are counted from layer shapes, so masked (zeroed) weights still cost MACs: remove "
    "neurons/channels and build a smaller model.",
    "latency_ratio": "dense kernels multiply zeros as fast as any other number: remove neurons/channels. "
    "Timings vary with machine load: re-run on a quiet machine before you conclude.",
    "accuracy_drop": "fine-tune longer (at a lower learning rate), prune less, or prune gradually.",
}


# ----------------------------------------------------------------------------- budget
@dataclass(frozen=True)
class Budget:
    """Limits a pruned model must meet (introduced in 07_capstone_pytorch). Every field is optional (``None``);
    at least one of the resource limits must be set.

    - ``max_params``: parameters (weights + biases, zero or not), a count.
    - ``max_nonzeros``: nonzero parameters, a count.
    - ``max_gzip_bytes``: size of the saved weights after gzip, in bytes.
    - ``max_macs``: multiply-accumulates per sample (dense, shape-based), a count.
    - ``max_latency_ratio``: latency of the model divided by the reference's at batch 256 (``0.5`` =
      at most half the reference's time).
    - ``max_accuracy_drop``: reference accuracy minus model accuracy, a fraction 0–1 (``0.015`` = 1.5
      percentage points). Optional: the challenge's score is the drop itself.
    """

    max_params: int | None = None
    max_nonzeros: int | None = None
    max_gzip_bytes: int | None = None
    max_macs: int | None = None
    max_latency_ratio: float | None = None
    max_accuracy_drop: float | None = None

    def __post_init__(self) -> None:
        for name in _COUNT_FIELDS:
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"Budget.{name} must be an int (a count or bytes) or None, got {v!r}")
            if v <= 0:
                raise ValueError(f"Budget.{name} must be a positive int, got {v!r}")
            object.__setattr__(self, name, int(v))
        for name, lo_open, hi in (("max_latency_ratio", True, math.inf), ("max_accuracy_drop", False, 1.0)):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise TypeError(f"Budget.{name} must be a finite number or None, got {v!r}")
            if v < 0 or (lo_open and v == 0) or v > hi:
                want = "> 0 (a ratio: 0.5 = half the reference's latency)" if lo_open else (
                    "a fraction in [0, 1] (0.015 = 1.5 percentage points)")
                raise ValueError(f"Budget.{name} must be {want}, got {v!r}")
            object.__setattr__(self, name, float(v))
        if all(getattr(self, n) is None for n in _RESOURCE_FIELDS):
            raise ValueError(
                "Budget has no constraints: set at least one of "
                + ", ".join(_RESOURCE_FIELDS)
                + " (max_accuracy_drop alone is not a budget: the dense model meets it)."
            )

    @classmethod
    def relative_to(
        cls,
        reference: Any,
        *,
        params: float | None = None,
        nonzeros: float | None = None,
        gzip: float | None = None,
        macs: float | None = None,
        latency: float | None = None,
        max_accuracy_drop: float | None = None,
        input_shape: Sequence[int] | None = None,
    ) -> Budget:
        """A budget given as fractions of ``reference`` (a dense model of either framework).

        ``params=0.25`` allows 25% of the reference's parameters, ``gzip=0.2`` a fifth of its gzip
        size, ``macs=0.25`` a quarter of its MACs; limits are rounded down to whole counts/bytes.
        ``latency`` is passed through as ``max_latency_ratio``. ``input_shape`` (one sample) defaults
        to :func:`default_input_shape`. Measure in the framework you will submit in: gzip bytes differ
        between ``torch.save`` and Keras ``.h5`` files.
        """
        metrics.framework_of(reference)  # TypeError for anything but a torch/Keras model
        for name, v in (("params", params), ("nonzeros", nonzeros), ("gzip", gzip), ("macs", macs)):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise TypeError(f"{name} must be a fraction of the reference (a number), got {v!r}")
            if not 0 < v:
                raise ValueError(f"{name} must be a positive fraction of the reference (0.25 = 25%), got {v!r}")
        shape = input_shape if input_shape is not None else default_input_shape(reference)
        return cls(
            max_params=None if params is None else _floor_int(params * metrics.count_params(reference)),
            max_nonzeros=None if nonzeros is None else _floor_int(nonzeros * metrics.count_nonzero(reference)),
            max_gzip_bytes=None if gzip is None else _floor_int(gzip * metrics.gzip_size(reference)),
            max_macs=None if macs is None else _floor_int(macs * metrics.macs(reference, shape)),
            max_latency_ratio=latency,
            max_accuracy_drop=max_accuracy_drop,
        )

    def constraints(self) -> dict[str, float]:
        """``{field name: limit}`` of the limits that are set."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def challenge_budget(reference: Any, *, input_shape: Sequence[int] | None = None) -> Budget:
    """The capstone challenge (:data:`CHALLENGE`) as a :class:`Budget` for ``reference``, the dense model
    of your framework. Introduced in 07_capstone_pytorch."""
    return Budget.relative_to(reference, input_shape=input_shape, **CHALLENGE)


def _floor_int(x: float) -> int:
    return max(1, int(math.floor(x)))


# ----------------------------------------------------------------------------- report
@dataclass(frozen=True)
class Check:
    """One constraint of a :class:`Budget`, measured: ``name`` is ``"params"``, ``"nonzeros"``,
    ``"gzip_bytes"``, ``"macs"``, ``"latency_ratio"`` or ``"accuracy_drop"``."""

    name: str
    measured: float
    limit: float
    passed: bool
    message: str


@dataclass(frozen=True)
class Report:
    """What :func:`score` measured (introduced in 07_capstone_pytorch).

    Accuracies and ``accuracy_drop`` are fractions 0–1, sizes bytes, MACs per sample, latencies seconds
    per batch of ``batch_size``; ``reference_*`` are the same measurements of the reference model.
    ``latency_*`` are ``None`` when latency was not measured; ``latency_s``/``reference_latency_s`` are
    medians over all timed calls and ``latency_ratio`` is the paired ratio of :func:`course_utils.metrics.race`
    (``latency_statistic`` says so in words; see :func:`score`). ``checks`` holds one :class:`Check` per
    constraint of ``budget``; ``passed`` is True when all of them pass. ``notes`` are warnings
    (e.g. pruning masks still attached). ``print(report)`` shows the table.
    """

    framework: str
    budget: Budget
    accuracy: float
    reference_accuracy: float
    params: int
    reference_params: int
    nonzeros: int
    reference_nonzeros: int
    gzip_bytes: int
    reference_gzip_bytes: int
    macs: int
    reference_macs: int
    latency_s: float | None
    reference_latency_s: float | None
    latency_ratio: float | None
    batch_size: int
    n_test: int
    checks: tuple[Check, ...]
    notes: tuple[str, ...] = field(default=())
    latency_statistic: str = ""

    @property
    def accuracy_drop(self) -> float:
        """Reference accuracy minus model accuracy (fraction 0–1; negative if the model is better)."""
        return self.reference_accuracy - self.accuracy

    @property
    def passed(self) -> bool:
        """True when every constraint of the budget is met."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[str]:
        """Names of the constraints that are not met (empty when ``passed``)."""
        return [c.name for c in self.checks if not c.passed]

    @property
    def mac_ratio(self) -> float:
        """MACs of the model / MACs of the reference."""
        return self.macs / self.reference_macs

    @property
    def gzip_ratio(self) -> float:
        """gzip bytes of the model / gzip bytes of the reference."""
        return self.gzip_bytes / self.reference_gzip_bytes

    @property
    def params_ratio(self) -> float:
        """Parameters of the model / parameters of the reference."""
        return self.params / self.reference_params

    @property
    def nonzeros_ratio(self) -> float:
        """Nonzero parameters of the model / of the reference."""
        return self.nonzeros / self.reference_nonzeros

    def check(self, name: str) -> Check:
        """The :class:`Check` called ``name`` (KeyError if the budget has no such constraint)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"the budget has no {name!r} constraint; it has {[c.name for c in self.checks]}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of the headline numbers (JSON-friendly)."""
        return {
            "framework": self.framework,
            "passed": self.passed,
            "failed": self.failed,
            "accuracy": self.accuracy,
            "reference_accuracy": self.reference_accuracy,
            "accuracy_drop": self.accuracy_drop,
            "params": self.params,
            "nonzeros": self.nonzeros,
            "gzip_bytes": self.gzip_bytes,
            "macs": self.macs,
            "mac_ratio": self.mac_ratio,
            "gzip_ratio": self.gzip_ratio,
            "latency_ratio": self.latency_ratio,
        }

    def table(self) -> str:
        """The report as a fixed-width text table with one row per measurement."""
        checks = {c.name: c for c in self.checks}
        rows = [
            ("params", f"{self.params:,}", f"{self.reference_params:,}", f"{self.params_ratio:.1%}",
             lambda v: f"{int(v):,}"),
            ("nonzeros", f"{self.nonzeros:,}", f"{self.reference_nonzeros:,}", f"{self.nonzeros_ratio:.1%}",
             lambda v: f"{int(v):,}"),
            ("gzip_bytes", _kb(self.gzip_bytes), _kb(self.reference_gzip_bytes), f"{self.gzip_ratio:.1%}", _kb),
            ("macs", f"{self.macs:,}", f"{self.reference_macs:,}", f"{self.mac_ratio:.1%}",
             lambda v: f"{int(v):,}"),
        ]
        if self.latency_ratio is not None:
            rows.append(("latency_ratio", f"{self.latency_s * 1e3:.2f} ms", f"{self.reference_latency_s * 1e3:.2f} ms",
                         f"{self.latency_ratio:.1%}", lambda v: f"{v:.0%} of ref"))
        rows.append(("accuracy_drop", f"{self.accuracy:.2%}", f"{self.reference_accuracy:.2%}",
                     f"{self.accuracy_drop * 100:+.2f} pt", lambda v: f"{v * 100:.2f} pt"))
        labels = {"params": "parameters", "nonzeros": "nonzero params", "gzip_bytes": "gzip size",
                  "macs": "MACs / sample", "latency_ratio": f"latency @{self.batch_size} (paired)",
                  "accuracy_drop": "accuracy (drop)"}
        header = ("measurement", "model", "reference", "model/ref", "limit", "result")
        body = []
        for name, model_v, ref_v, ratio, fmt in rows:
            c = checks.get(name)
            limit = "-" if c is None else f"<= {fmt(c.limit)}"
            result = "-" if c is None else ("ok" if c.passed else "FAIL")
            body.append((labels[name], model_v, ref_v, ratio, limit, result))
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

        def fmt_row(r: Sequence[str]) -> str:
            return "  ".join(s.ljust(w) if i == 0 else s.rjust(w) for i, (s, w) in enumerate(zip(r, widths)))

        verdict = "MET" if self.passed else f"NOT MET ({', '.join(self.failed)})"
        lines = [f"Capstone report ({self.framework}, {self.n_test:,} test images): budget {verdict}",
                 fmt_row(header), "  ".join("-" * w for w in widths)]
        lines += [fmt_row(r) for r in body]
        lines.append(f"accuracy {self.accuracy:.2%} vs reference {self.reference_accuracy:.2%}: "
                     f"drop {self.accuracy_drop * 100:.2f} percentage points (the score: lower is better)")
        if self.latency_ratio is not None and self.latency_statistic:
            lines.append(f"latency: median ms per batch; model/ref = {self.latency_statistic}")
        lines += [f"FAIL {c.name}: {c.message}" for c in self.checks if not c.passed]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _kb(v: float) -> str:
    return f"{v / 1000:,.1f} kB"


# ----------------------------------------------------------------------------- measuring
def default_input_shape(model: Any) -> tuple[int, ...]:
    """One MNIST sample as the model's framework takes it: torch ``(1, 28, 28)``, Keras ``(28, 28)``."""
    return (1, 28, 28) if metrics.framework_of(model) == "torch" else (28, 28)


def pruning_leftovers(model: Any) -> list[str]:
    """Names of layers that still carry pruning bookkeeping (torch ``*_mask`` buffers from
    ``torch.nn.utils.prune``; TFMOT ``PruneLowMagnitude`` wrappers). Their saved files are bigger than
    the pruned weights need: remove the bookkeeping before you measure size."""
    if metrics.framework_of(model) == "torch":
        from ._torch_prune import has_prune_hooks

        return sorted(name for name, m in model.named_modules() if has_prune_hooks(m))
    from . import metrics_tf

    return [outer.name for _, outer, _ in metrics_tf._walk(model) if metrics_tf.is_pruning_wrapper(outer)]


def _check_test_data(test_data: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(test_data, (tuple, list)) or len(test_data) != 2:
        raise TypeError(
            "test_data must be a tuple (x, y) of numpy arrays, e.g. (splits.x_test, splits.y_test); "
            f"got {type(test_data).__name__}"
        )
    x, y = test_data
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"test_data must hold numpy arrays, got {type(x).__name__} and {type(y).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"test images must be float in [0, 1], got dtype {x.dtype}")
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise TypeError(f"test labels must be a 1-D array of integer class ids, got {y.dtype} {y.shape}")
    if len(x) != len(y) or len(y) == 0:
        raise ValueError(f"test_data needs as many images as labels (> 0), got {len(x)} and {len(y)}")
    return x.astype(np.float32, copy=False), y.astype(np.int64, copy=False)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction 0–1 of ``x`` classified as ``y`` (inference mode), for a torch or Keras model."""
    if metrics.framework_of(model) == "torch":
        from .train_torch import predict_logits
    else:
        from .train_tf import predict_logits
    logits = predict_logits(model, x)
    if logits.ndim != 2:
        raise ValueError(f"the model must return logits of shape (N, classes), got {logits.shape}")
    return float(np.mean(logits.argmax(axis=1) == y))


def _latency(model: Any, reference: Any, shape: tuple[int, ...], batch_size: int, rounds: int,
             repeats: int) -> tuple[float, float, float, str]:
    """Race reference and model (:func:`course_utils.metrics.race`, alternating rounds, so a busy machine
    slows both alike); return (model median s, reference median s, paired ratio, the statistic in words)."""
    race = metrics.race({"model": model, "reference": reference}, shape, batch_size, rounds=rounds,
                        repeats=repeats, warmup=3, reference="reference")
    return race.median_s("model"), race.median_s("reference"), race.ratio("model"), timing.PAIRED


def score(
    model: Any,
    test_data: tuple[np.ndarray, np.ndarray],
    budget: Budget,
    reference: Any,
    *,
    input_shape: Sequence[int] | None = None,
    batch_size: int = 256,
    measure_latency: bool | None = None,
    latency_rounds: int = 3,
    latency_repeats: int = 30,
    verbose: bool = True,
) -> Report:
    """Measure ``model`` against ``budget`` and ``reference`` (the dense model); return a :class:`Report`.

    - ``model``/``reference``: PyTorch ``nn.Module``\\s or Keras 2 Models, both of the same framework
      (sizes and latencies depend on the framework). Only that framework is imported.
    - ``test_data``: ``(x, y)`` numpy arrays, images float in [0, 1], labels int; both models are
      evaluated on it.
    - ``input_shape``: one sample for MACs and latency; default :func:`default_input_shape`.
    - Latency (seconds per batch of ``batch_size``) is measured when the budget limits it or when
      ``measure_latency=True``, with :func:`course_utils.metrics.race`: ``latency_rounds`` alternating
      rounds of reference and model, each ``latency_repeats`` timed calls after a warm-up.
      ``latency_ratio`` is the median over rounds of the per-round ratio model / reference (paired:
      load that hits a round hits both); ``latency_s`` and ``reference_latency_s`` are the medians
      over all calls.
    - ``verbose``: print the report's table.

    Raises ``TypeError`` for a model of unknown type, a non-Budget budget or malformed test data, and
    ``ValueError`` when the two models are of different frameworks. Introduced in 07_capstone_pytorch.
    """
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be a course_utils.capstone.Budget, got {type(budget).__name__}")
    try:
        fw = metrics.framework_of(model)
    except TypeError as e:
        raise TypeError(f"score() cannot measure `model`: {e}") from None
    try:
        ref_fw = metrics.framework_of(reference)
    except TypeError as e:
        raise TypeError(f"score() cannot measure `reference`: {e}") from None
    if fw != ref_fw:
        raise ValueError(
            f"model is a {fw} model but reference is a {ref_fw} model: compare like with like (file sizes and "
            f"latency depend on the framework). Train a dense reference in {fw} and build the budget from it "
            "with Budget.relative_to(reference, ...)."
        )
    x, y = _check_test_data(test_data)
    shape = metrics.check_input_shape(input_shape) if input_shape is not None else default_input_shape(model)
    batch_size = metrics.check_positive_int(batch_size, "batch_size")
    latency_rounds = metrics.check_positive_int(latency_rounds, "latency_rounds")
    latency_repeats = metrics.check_positive_int(latency_repeats, "latency_repeats")
    if measure_latency is None:
        measure_latency = budget.max_latency_ratio is not None
    elif budget.max_latency_ratio is not None and not measure_latency:
        raise ValueError("the budget limits latency (max_latency_ratio), so measure_latency cannot be False")

    acc, ref_acc = accuracy(model, x, y), accuracy(reference, x, y)
    lat = ref_lat = ratio = None
    statistic = ""
    if measure_latency:
        lat, ref_lat, ratio, statistic = _latency(model, reference, shape, batch_size, latency_rounds,
                                                  latency_repeats)
    measured = {
        "params": (metrics.count_params(model), metrics.count_params(reference)),
        "nonzeros": (metrics.count_nonzero(model), metrics.count_nonzero(reference)),
        "gzip_bytes": (metrics.gzip_size(model), metrics.gzip_size(reference)),
        "macs": (metrics.macs(model, shape), metrics.macs(reference, shape)),
    }
    leftovers = pruning_leftovers(model)
    notes = []
    if leftovers:
        fix = ("torch.nn.utils.prune.remove(module, 'weight')" if fw == "torch"
               else "tfmot.sparsity.keras.strip_pruning(model)")
        notes.append(f"layers {leftovers} still carry pruning masks, so the saved file stores them too: "
                     f"call {fix} before scoring.")

    values = {name: float(v[0]) for name, v in measured.items()}
    values["latency_ratio"] = ratio
    values["accuracy_drop"] = ref_acc - acc
    checks = []
    for fname, limit in budget.constraints().items():
        name = fname[len("max_"):]
        v = values[name]
        ok = bool(v <= limit + (1e-12 if name == "accuracy_drop" else 0.0))
        msg = "within budget" if ok else _failure_message(name, v, limit, leftovers)
        checks.append(Check(name=name, measured=v, limit=float(limit), passed=ok, message=msg))

    report = Report(
        framework=fw, budget=budget, accuracy=acc, reference_accuracy=ref_acc,
        params=measured["params"][0], reference_params=measured["params"][1],
        nonzeros=measured["nonzeros"][0], reference_nonzeros=measured["nonzeros"][1],
        gzip_bytes=measured["gzip_bytes"][0], reference_gzip_bytes=measured["gzip_bytes"][1],
        macs=measured["macs"][0], reference_macs=measured["macs"][1],
        latency_s=lat, reference_latency_s=ref_lat, latency_ratio=ratio,
        batch_size=batch_size, n_test=len(y), checks=tuple(checks), notes=tuple(notes),
        latency_statistic=statistic,
    )
    if verbose:
        print(report.table())
    return report


def _failure_message(name: str, value: float, limit: float, leftovers: list[str]) -> str:
    if name == "accuracy_drop":
        head = f"accuracy dropped {value * 100:.2f} points, the budget allows {limit * 100:.2f}"
    elif name == "latency_ratio":
        head = f"latency is {value:.0%} of the reference's, the budget allows {limit:.0%}"
    else:
        unit = " bytes" if name == "gzip_bytes" else ""
        head = f"{name} is {value:,.0f}{unit}, over the limit of {limit:,.0f}{unit} ({value / limit:.2f}x)"
    hint = _HINTS[name]
    if name == "gzip_bytes" and leftovers:
        hint = "the file still stores pruning masks (see note). " + hint
    return f"{head}. {hint}"
