"""Helpers for *Pruning, Hands-On*.

Importing this package is cheap: it imports neither PyTorch nor TensorFlow.
Framework code lives in modules that are imported on use:

- ``course_utils.data``         data loading (numpy; torch/Keras adapters import lazily)
- ``course_utils.models_torch`` / ``course_utils.models_tf``   the course's MLP and CNN
- ``course_utils.train_torch`` / ``course_utils.train_tf``     training and evaluation loops
- ``course_utils.metrics``      parameters, sparsity, MACs, bytes, latency (both frameworks)
- ``course_utils.plots``        matplotlib figures used across notebooks
- ``course_utils.results``      ``record()``: results a notebook commits to
- ``course_utils.env``          seeding, FAST mode, environment report, Keras-2 guard

Why ``TF_USE_LEGACY_KERAS=1`` is set here: TensorFlow >= 2.16 ships Keras 3, which
TensorFlow Model Optimization (TFMOT) does not support. With this variable set *before
TensorFlow is imported*, ``tf.keras`` is the Keras 2 from the ``tf-keras`` package.
"""
from __future__ import annotations

import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# Quieter TensorFlow start-up (C++ INFO/WARNING logs); errors are still shown.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .env import fast_mode, notebook_setup, seed_everything  # noqa: E402
from .results import load_results, record, results_dir  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "fast_mode",
    "load_results",
    "notebook_setup",
    "record",
    "results_dir",
    "seed_everything",
]
