"""course_utils.sparse_bench: sparse storage bytes, interleaved timing, break-even, nonzero MACs, CSR layers."""
from __future__ import annotations

import io

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn.utils import prune

from course_utils import metrics
from course_utils import models_torch as mt
from course_utils import sparse_bench as sb


# ----------------------------------------------------------------------------- matrices & bytes
def test_random_sparse_matrix_has_exact_zero_count_and_is_seeded():
    w = sb.random_sparse_matrix(30, 40, 0.9, seed=3)
    assert w.shape == (30, 40) and w.dtype == np.float32
    assert int((w == 0).sum()) == round(0.9 * 1200)
    assert np.array_equal(w, sb.random_sparse_matrix(30, 40, 0.9, seed=3))
    assert not np.array_equal(w, sb.random_sparse_matrix(30, 40, 0.9, seed=4))
    assert int((sb.random_sparse_matrix(5, 5, 0.0) == 0).sum()) == 0
    assert int((sb.random_sparse_matrix(5, 5, 1.0) != 0).sum()) == 0


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_random_sparse_matrix_rejects_bad_sparsity(bad):
    with pytest.raises(ValueError, match="fraction"):
        sb.random_sparse_matrix(3, 3, bad)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_storage_nbytes_counts_values_and_indices():
    w = sb.random_sparse_matrix(20, 50, 0.8, seed=0)
    nnz = int(np.count_nonzero(w))
    assert sb.storage_nbytes(w) == 20 * 50 * 4
    assert sb.storage_nbytes(torch.from_numpy(w)) == 20 * 50 * 4
    # scipy CSR: float32 values, int32 column indices, int32 row pointers (rows + 1)
    assert sb.storage_nbytes(sp.csr_matrix(w)) == nnz * 4 + nnz * 4 + 21 * 4
    assert sb.storage_nbytes(sp.coo_matrix(w)) == nnz * 4 + 2 * nnz * 4
    # torch CSR defaults to int64 indices; to_torch_csr uses int32
    t = torch.from_numpy(w)
    assert sb.storage_nbytes(t.to_sparse_csr()) == nnz * 4 + nnz * 8 + 21 * 8
    assert sb.storage_nbytes(sb.to_torch_csr(t)) == nnz * 4 + nnz * 4 + 21 * 4
    assert sb.storage_nbytes(t.to_sparse_coo()) == nnz * 4 + 2 * nnz * 8
    assert sb.storage_nbytes(t.to_sparse_csc()) == nnz * 4 + nnz * 8 + 51 * 8
    # agrees with metrics.sparse_storage_bytes (the formula) for int32 CSR
    assert sb.storage_nbytes(sp.csr_matrix(w)) == metrics.sparse_storage_bytes(w, fmt="csr")


def test_storage_nbytes_rejects_other_objects():
    with pytest.raises(TypeError, match="numpy array"):
        sb.storage_nbytes([1, 2, 3])


def test_to_torch_csr_roundtrip_and_errors():
    w = torch.from_numpy(sb.random_sparse_matrix(7, 9, 0.6, seed=1))
    c = sb.to_torch_csr(w)
    assert c.layout == torch.sparse_csr and c.col_indices().dtype == torch.int32
    assert torch.equal(c.to_dense(), w)
    assert sb.to_torch_csr(w, index_dtype=torch.int64).crow_indices().dtype == torch.int64
    with pytest.raises(ValueError, match="2-D"):
        sb.to_torch_csr(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="index_dtype"):
        sb.to_torch_csr(w, index_dtype=torch.int16)


# ----------------------------------------------------------------------------- timing
def test_time_interleaved_and_paired_ratio():
    calls = {"a": 0, "b": 0}

    def a():
        calls["a"] += 1

    def b():
        calls["b"] += 1
        sum(range(2000))

    t = sb.time_interleaved({"a": a, "b": b}, repeats=5, warmup=1, min_time=0)
    assert set(t) == {"a", "b"} and t["a"].shape == (5,) and (t["a"] > 0).all()
    assert calls["a"] >= 7 and calls["b"] >= 7  # warm-up + calibration + repeats
    assert sb.paired_ratio(t, "b", "a") > 1  # b does more work
    assert sb.paired_ratio({"x": np.array([2.0, 4.0, 6.0]), "y": np.array([1.0, 1.0, 1.0])}, "x", "y") == 4.0
    with pytest.raises(KeyError):
        sb.paired_ratio(t, "c", "a")
    with pytest.raises(TypeError):
        sb.time_interleaved({})
    with pytest.raises(ValueError):
        sb.time_interleaved({"a": a}, repeats=0)


def test_matmul_sweep_rows_and_restores_threads():
    before = torch.get_num_threads()
    rows = sb.matmul_sweep((20, 30), sparsities=(0.5, 0.9), batch_sizes=(1, 4),
                           backends=("torch_csr", "scipy_csr", "torch_coo"), repeats=3, min_time=0, threads=1)
    assert torch.get_num_threads() == before
    assert len(rows) == 2 * 2 * 3
    for r in rows:
        assert set(r) == {"batch_size", "sparsity", "backend", "dense_s", "sparse_s", "dense_min_s", "sparse_min_s",
                          "ratio"}
        assert r["ratio"] == pytest.approx(r["sparse_min_s"] / r["dense_min_s"])
        assert r["dense_s"] > 0 and r["sparse_s"] > 0 and r["ratio"] > 0
    be = sb.break_even_by_batch(rows, "scipy_csr")
    assert set(be) == {1, 4}
    with pytest.raises(ValueError, match="backends"):
        sb.matmul_sweep((2, 2), backends=("cusparse",))
    with pytest.raises(ValueError, match="fraction"):
        sb.matmul_sweep((2, 2), sparsities=(1.2,))
    with pytest.raises(ValueError, match="statistic"):
        sb.matmul_sweep((2, 2), statistic="mean")


def test_time_ratio_statistics():
    t = {"a": np.array([2.0, 9.0, 3.0]), "b": np.array([1.0, 1.0, 10.0])}
    assert sb.time_ratio(t, "a", "b") == 2.0  # min 2 / min 1
    assert sb.time_ratio(t, "a", "b", statistic="median") == 3.0
    assert sb.time_ratio(t, "a", "b", statistic="paired") == 2.0  # ratios 2, 9, 0.3
    with pytest.raises(ValueError, match="statistic"):
        sb.time_ratio(t, "a", "b", statistic="mean")
    with pytest.raises(KeyError):
        sb.time_ratio(t, "a", "c")
    with pytest.raises(ValueError, match="positive"):
        sb.time_ratio({"a": np.array([0.0]), "b": np.array([1.0])}, "a", "b")


def test_break_even_sparsity_interpolates_in_log_ratio():
    s = [0.5, 0.8, 0.9, 0.95]
    # crossing between 0.8 (ratio 2) and 0.9 (ratio 0.5): log-midpoint -> 0.85
    assert sb.break_even_sparsity(s, [4.0, 2.0, 0.5, 0.2]) == pytest.approx(0.85)
    assert sb.break_even_sparsity(s, [4.0, 2.0, 1.5, 1.0]) is None  # never faster
    assert sb.break_even_sparsity(s, [0.9, 0.5, 0.4, 0.1]) == 0.5  # faster everywhere tested
    # a lucky dip below 1 at a low sparsity does not count: sparse must stay faster above it
    assert sb.break_even_sparsity(s, [0.9, 1.2, 0.5, 0.2]) == pytest.approx(0.8 + 0.1 * np.log(1.2) / np.log(2.4))
    # order of the input does not matter
    assert sb.break_even_sparsity(s[::-1], [0.2, 0.5, 2.0, 4.0]) == pytest.approx(0.85)
    with pytest.raises(ValueError, match="one ratio per sparsity"):
        sb.break_even_sparsity(s, [1.0])
    with pytest.raises(ValueError, match="positive"):
        sb.break_even_sparsity([0.5], [0.0])


# ----------------------------------------------------------------------------- MACs
def test_nonzero_macs_mlp_and_cnn():
    m = mt.mlp(hidden=(20, 10), seed=0)
    assert sb.nonzero_macs(m, (784,)) == metrics.macs(m, (784,))
    prune.l1_unstructured(m.fc1, "weight", amount=0.75)
    nnz = sum(int(torch.count_nonzero(w)) for w in (m.fc1.weight, m.fc2.weight, m.fc3.weight))
    assert sb.nonzero_macs(m, (784,)) == nnz  # Linear: one MAC per nonzero weight per sample
    c = mt.small_cnn(channels=(4, 6), seed=0)
    with torch.no_grad():
        c.conv2.weight[:, :2] = 0  # 2 of 4 input channels: half of conv2's weights
    dense = metrics.layer_macs(c, (1, 28, 28))
    expect = dense["conv1"] + dense["conv2"] // 2 + dense["fc"]
    assert sb.nonzero_macs(c, (1, 28, 28)) == expect


# ----------------------------------------------------------------------------- CSR layers
def test_csr_linear_matches_linear_and_checks_shapes():
    lin = nn.Linear(12, 5)
    with torch.no_grad():
        lin.weight[lin.weight.abs() < 0.15] = 0
    csr = sb.CSRLinear(lin.weight, lin.bias)
    x = torch.rand(3, 12)
    assert torch.allclose(csr(x), lin(x), atol=1e-6)
    x3 = torch.rand(2, 3, 12)
    assert torch.allclose(csr(x3), lin(x3), atol=1e-6)
    assert csr.nnz == int(torch.count_nonzero(lin.weight))
    assert list(csr.parameters()) == []
    assert torch.allclose(sb.CSRLinear(lin.weight)(x), x @ lin.weight.T.detach(), atol=1e-6)
    with pytest.raises(ValueError, match="features"):
        csr(torch.rand(3, 11))
    with pytest.raises(ValueError, match="bias"):
        sb.CSRLinear(lin.weight, torch.zeros(4))


def test_to_csr_model_same_outputs_smaller_file_argument_untouched():
    m = mt.mlp(hidden=(64, 32), seed=0)
    for name in ("fc1", "fc2", "fc3"):
        prune.l1_unstructured(getattr(m, name), "weight", amount=0.9)
    c = sb.to_csr_model(m)
    assert hasattr(m.fc1, "weight_mask")  # the original keeps its masks
    assert all(isinstance(getattr(c, n), sb.CSRLinear) for n in ("fc1", "fc2", "fc3"))
    x = torch.rand(5, 1, 28, 28)
    m.eval()
    with torch.no_grad():
        assert torch.allclose(c(x), m(x), atol=1e-5)
    buf = io.BytesIO()
    torch.save(c.state_dict(), buf)
    assert len(buf.getvalue()) < len(metrics.serialized_bytes(m)) / 4
    r = metrics.latency(c, (784,), 8, repeats=2, warmup=1)
    assert r.median_s > 0
    with pytest.raises(ValueError, match="no nn.Linear"):
        sb.to_csr_model(nn.Sequential(nn.ReLU()))
    with pytest.raises(TypeError):
        sb.to_csr_model(nn.Linear(3, 2))


def test_interleaved_latency_returns_latency_results_and_restores_state():
    big, small = mt.mlp(seed=0), mt.mlp(hidden=(30, 10), seed=0)
    big.train()
    small.eval()
    before = torch.get_num_threads()
    res = sb.interleaved_latency({"big": big, "small": small}, torch.rand(64, 1, 28, 28), repeats=5, warmup=1,
                                 threads=1)
    assert big.training and not small.training and torch.get_num_threads() == before
    assert set(res) == {"big", "small"}
    r = res["big"]
    assert isinstance(r, metrics.LatencyResult) and r.batch_size == 64 and r.threads == 1 and r.repeats == 5
    assert len(r.times_s) == 5 and r.median_s > 0
    # the ratios read the two models' own repeats (which is faster is the benchmark's business, not a unit test's:
    # five sub-millisecond repeats on a loaded machine can put either first)
    small_s, big_s = np.asarray(res["small"].times_s), np.asarray(r.times_s)
    assert sb.paired_ratio(res, "small", "big") == pytest.approx(float(np.median(small_s / big_s)))
    assert sb.time_ratio(res, "small", "big") == pytest.approx(small_s.min() / big_s.min())
    with pytest.raises(TypeError):
        sb.interleaved_latency({"a": "not a model"}, torch.rand(2, 784))


def test_matmul_sweep_rejects_a_back_end_that_computes_another_product(monkeypatch):
    """The sweep checks each back end against dense within float32 rounding: a 1 % error is caught."""
    real = sb.to_torch_csr
    monkeypatch.setattr(sb, "to_torch_csr", lambda w, **kw: real(w * 1.01, **kw))
    with pytest.raises(RuntimeError, match="different product"):
        sb.matmul_sweep((20, 30), sparsities=(0.5,), batch_sizes=(4,), backends=("torch_csr",), repeats=1,
                        min_time=0, threads=1)
