"""Seeding, FAST mode, the Setup cell, and the Keras-2 guard (introduced in 00_index)."""
from __future__ import annotations

import os
import platform
import random
import sys
from importlib import metadata
from typing import Any

from . import results

_FRAMEWORKS = ("torch", "tensorflow")
DIST_NAME = "pruning-hands-on"


def fast_mode(default: bool = False) -> bool:
    """Whether to run the notebook in its quick smoke-test configuration.

    The environment variable ``COURSE_FAST`` wins when it is set (``1/true/yes`` or
    ``0/false/no``); otherwise ``default``, the value of the notebook's ``FAST`` parameter.
    """
    raw = os.environ.get("COURSE_FAST")
    if raw is None or raw.strip() == "":
        return bool(default)
    val = raw.strip().lower()
    if val in {"1", "true", "yes", "on"}:
        return True
    if val in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"COURSE_FAST must be 1/0/true/false, got {raw!r}")


def seed_everything(seed: int = 0) -> int:
    """Seed Python, numpy, and PyTorch/TensorFlow *if they are already imported*.

    Never imports a framework itself. Returns the seed.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    import numpy as np

    np.random.seed(seed)
    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        tf.random.set_seed(seed)
        tf.keras.utils.set_random_seed(seed)
    return seed


def load_tensorflow():
    """Import TensorFlow with Keras 2 (``tf-keras``) and return ``(tf, keras)``.

    TFMOT works only with Keras 2. ``course_utils`` sets ``TF_USE_LEGACY_KERAS=1`` when it is
    imported; this fails loudly if TensorFlow was imported earlier without it.
    """
    already = "tensorflow" in sys.modules
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    keras = tf.keras
    version = getattr(keras, "__version__", None) or _keras_version_from(keras)
    if not str(version).startswith("2."):
        hint = (
            "TensorFlow was imported before course_utils" if already else "TF_USE_LEGACY_KERAS was set to 0"
        )
        raise RuntimeError(
            f"tf.keras is Keras {version}, but TFMOT needs Keras 2 ({hint}). "
            "Restart the kernel and run `import course_utils` (it sets TF_USE_LEGACY_KERAS=1) "
            "before importing tensorflow; check that the `tf-keras` package is installed."
        )
    return tf, keras


def _keras_version_from(keras_module: Any) -> str:
    name = getattr(keras_module, "__name__", "")
    if name.startswith("tf_keras"):
        import tf_keras

        return tf_keras.__version__
    import keras

    return keras.__version__


def set_threads(n: int | None = None) -> int:
    """Pin intra-op threads of every *imported* framework to ``n`` (default: all cores)."""
    n = n or os.cpu_count() or 1
    if n < 1:
        raise ValueError(f"threads must be >= 1, got {n}")
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:  # only possible before TensorFlow initialises its runtime (first tensor/model)
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:
            n = tf.config.threading.get_intra_op_parallelism_threads() or n
    return n


def pinned_versions() -> dict[str, str]:
    """Package → pinned version, read from the installed course's metadata (pyproject.toml)."""
    pins: dict[str, str] = {}
    try:
        reqs = metadata.requires(DIST_NAME) or []
    except metadata.PackageNotFoundError:
        return pins
    for req in reqs:
        if "extra ==" in req:
            continue
        spec = req.split(";")[0].strip()
        if "==" in spec:
            name, ver = spec.split("==", 1)
            pins[name.strip().lower()] = ver.strip()
    return pins


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def version_report(packages: list[str] | None = None) -> list[tuple[str, str, str | None, bool]]:
    """Rows ``(package, pinned, installed, ok)`` for the pinned packages (or ``packages``)."""
    pins = pinned_versions()
    names = packages or sorted(pins)
    rows = []
    for name in names:
        want = pins.get(name.lower(), "")
        have = installed_version(name)
        ok = have is not None and (not want or have.split("+")[0] == want)
        rows.append((name, want, have, ok))
    return rows


def memory_total_bytes() -> int:
    import psutil

    return int(psutil.virtual_memory().total)


def environment_report(packages: list[str] | None = None) -> str:
    """A printable report: Python, CPU threads, memory, and pinned vs installed versions."""
    lines = [
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        f"CPU threads: {os.cpu_count()}   memory: {memory_total_bytes() / 2**30:.1f} GiB",
    ]
    for name, want, have, ok in version_report(packages):
        mark = "ok " if ok else "!! "
        lines.append(f"  {mark}{name:<32} installed {have or 'MISSING':<14} pinned {want or '-'}")
    return "\n".join(lines)


def notebook_setup(
    stem: str,
    *,
    framework: str | None = None,
    seed: int = 0,
    fast: bool = False,
    threads: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """The Setup cell of every notebook.

    Makes ``record()`` write for ``stem`` (old results deleted), imports ``framework``
    (``"torch"``, ``"tensorflow"`` or ``None``), checks its version against the course's pins,
    pins threads, seeds everything and resolves FAST mode. Returns a dict with ``fast``,
    ``seed``, ``threads`` and, for TensorFlow, ``tf`` and ``keras``.
    """
    if framework not in (None, *_FRAMEWORKS):
        raise ValueError(f"framework must be one of {_FRAMEWORKS} or None, got {framework!r}")
    other = {"torch": "tensorflow", "tensorflow": "torch"}.get(framework or "")
    if other and other in sys.modules:
        raise RuntimeError(
            f"{other} is already imported in this kernel; a notebook uses one framework. Restart the kernel."
        )
    results.set_notebook(stem)
    out: dict[str, Any] = {"stem": stem, "fast": fast_mode(fast), "seed": seed}
    results.record("fast_mode", out["fast"])  # so every results file says which mode produced it
    results.record("seed", seed)
    packages = ["numpy", "matplotlib"]
    if framework == "torch":
        import torch  # noqa: F401

        packages += ["torch", "torch-pruning"]
    elif framework == "tensorflow":
        tf, keras = load_tensorflow()
        out.update(tf=tf, keras=keras)
        packages += ["tensorflow", "tf-keras", "tensorflow-model-optimization"]
    out["threads"] = set_threads(threads)
    seed_everything(seed)
    bad = [(n, w, h) for n, w, h, ok in version_report(packages) if not ok]
    if not quiet:
        print(environment_report(packages))
        print(f"FAST mode: {out['fast']}   seed: {seed}   threads: {out['threads']}")
    if bad:
        import warnings

        warnings.warn(
            "versions differ from the course's pins (results may differ): "
            + ", ".join(f"{n} {h} (pinned {w})" for n, w, h in bad),
            stacklevel=2,
        )
    return out
