"""Helpers for *Pruning, Hands-On*.

Importing this package is cheap: it imports neither PyTorch nor TensorFlow.
Framework code lives in modules that are imported on use (``*_torch`` / ``*_tf`` are twins):

Lessons
- ``data``            the shipped MNIST subset: ``load_mnist``, ``MnistSplits``, ``subset`` (numpy only)
- ``models_torch`` / ``models_tf``     the course's MLP and CNN
- ``train_torch`` / ``train_tf``       training and evaluation loops
- ``pruning_torch`` / ``pruning_tf``   unstructured (weight) pruning: masks, global/layer-wise, iterative
- ``surgery_torch`` / ``surgery_tf``   structured pruning: score units/channels, really remove them
- ``transformer_torch`` the tiny vision transformer, one-shot pruning as for LLMs (magnitude, Wanda, SparseGPT),
  removing heads, FFN neurons and blocks (PyTorch only)
- ``schedules``       sparsity schedules for gradual pruning (numpy only)
- ``metrics``         parameters, sparsity, MACs, bytes, latency, accuracy intervals; dispatches to
  ``metrics_torch`` / ``metrics_tf``
- ``timing``          the timing protocol: latency results, interleaved rounds, paired ratios (framework-free)
- ``sparse_bench``    sparse storage and sparse matmul on the CPU: bytes, timings, break-even sparsity
- ``stats``           how sure an accuracy is: confidence intervals and paired tests
- ``plots``           matplotlib figures used across notebooks
- ``history``         ``History``: what a training run returns, the same in both frameworks
- ``capstone``        the capstone's budget checker and score
- ``checks``          the exercises' self-checks, ``checks.exNN`` per notebook, with ``reference_*`` solutions

Running the course
- ``env``             the Setup cell (``notebook_setup``), FAST mode, seeding, versions report, Keras-2 guard
- ``results``         ``record()``: the results a notebook commits to (``build/results/``)
- ``paths``           where the checkout and its folders are (notebooks/, learner/, data/, build/; ``$COURSE_ROOT``)

Maintaining the course (``python -m course_utils <command>``, see ``__main__``)
- ``runner``          execute notebooks with papermill; the ``run-all`` benchmark table
- ``nbtools``         notebooks as source: clean, header convention, checked outputs, learner edition, badges
- ``course``          the course map, read from each notebook's ``metadata.course`` (README, index, plans, tests)
- ``reading_time``    the honest-minutes model: a notebook's reading time, minutes
- ``pins``            pins live in pyproject.toml; ``environment.yml`` is generated from them
- ``links``           Binder badge and nbgitpuller links, rendered from one place
- ``book``            the course website (``make site``): Sphinx + MyST-NB over the executed notebooks
- ``classroom``       the nbgrader source course (``python -m course_utils nbgrader-source``)

Private: ``_validate`` (argument checks), ``_torch_prune`` (``torch.nn.utils.prune`` bookkeeping),
``_data_build`` (rebuilding data/mnist_5k.npz, the optional full-MNIST download), ``_compat`` (old names and
call forms of the twin APIs, kept working).

Why ``TF_USE_LEGACY_KERAS=1`` is set here: TensorFlow >= 2.16 ships Keras 3, which
TensorFlow Model Optimization (TFMOT) does not support. With this variable set *before
TensorFlow is imported*, ``tf.keras`` is the Keras 2 from the ``tf-keras`` package.
"""
from __future__ import annotations

import os as _os
from importlib import metadata as _metadata

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# Quieter TensorFlow start-up (C++ INFO/WARNING logs); errors are still shown.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .env import fast_mode, notebook_setup, seed_everything  # noqa: E402
from .results import load_results, record, results_dir  # noqa: E402

try:
    __version__ = _metadata.version("pruning-hands-on")  # the one place it is kept: pyproject.toml
except _metadata.PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "fast_mode",
    "load_results",
    "notebook_setup",
    "record",
    "results_dir",
    "seed_everything",
]
