"""The self-checks of 06_measuring_what_pruning_buys_pytorch accept the reference solutions and reject plausible
mistakes."""
from __future__ import annotations

import numpy as np

from course_utils import metrics
from course_utils.checks import ex06
from course_utils.checks._common import verdict


# ----------------------------------------------------------------------------- reference solutions
def csr_bytes_ref(matrix, index_bytes=4, value_bytes=4):
    nnz = int(np.count_nonzero(matrix))
    return nnz * (value_bytes + index_bytes) + (matrix.shape[0] + 1) * index_bytes


def break_even_ref(rows, cols, value_bytes=4, index_bytes=4):
    nnz = (rows * cols * value_bytes - (rows + 1) * index_bytes) / (value_bytes + index_bytes)
    return 1 - nnz / (rows * cols)


def speedup_ref(dense_model, pruned_model, input_shape):
    before = metrics.macs(dense_model, input_shape)
    sparsity = metrics.layer_sparsity(pruned_model)
    after = sum(m * (1 - sparsity[name]) for name, m in metrics.layer_macs(pruned_model, input_shape).items())
    return before / after


# ----------------------------------------------------------------------------- accept
def test_csr_bytes_accepts_reference(capsys):
    assert ex06.csr_bytes(csr_bytes_ref) is True
    assert "✓" in capsys.readouterr().out


def test_csr_storage_break_even_accepts_reference():
    assert ex06.csr_storage_break_even(break_even_ref) is True


def test_theoretical_speedup_accepts_reference():
    assert ex06.theoretical_speedup(speedup_ref) is True


def test_the_notebook_helper_passes_too():
    from course_utils import sparse_bench as sb

    def via_helper(dense_model, pruned_model, input_shape):
        return metrics.macs(dense_model, input_shape) / sb.nonzero_macs(pruned_model, input_shape)

    assert ex06.theoretical_speedup(via_helper) is True


def test_the_references_pass_their_checkers():
    assert ex06.csr_bytes(ex06.reference_csr_bytes) is True
    assert ex06.csr_storage_break_even(ex06.reference_csr_storage_break_even) is True
    assert ex06.theoretical_speedup(ex06.reference_theoretical_speedup) is True
    assert "reference_csr_bytes" not in ex06.__all__


def test_reference_csr_bytes_matches_scipy():
    import scipy.sparse

    from course_utils import sparse_bench as sb

    w = sb.random_sparse_matrix(30, 40, 0.8, seed=5)
    assert ex06.reference_csr_bytes(w) == sb.storage_nbytes(scipy.sparse.csr_matrix(w))


# ----------------------------------------------------------------------------- reject
def test_csr_bytes_rejects_nonzeros_times_four(capsys):
    values_only = lambda m, index_bytes=4, value_bytes=4: int(np.count_nonzero(m)) * value_bytes  # noqa: E731
    assert verdict(ex06.csr_bytes, values_only) is False
    assert "anchors' mistake" in capsys.readouterr().out


def test_csr_bytes_rejects_rows_instead_of_rows_plus_one(capsys):
    def off_by_one(m, index_bytes=4, value_bytes=4):
        nnz = int(np.count_nonzero(m))
        return nnz * (value_bytes + index_bytes) + m.shape[0] * index_bytes

    assert verdict(ex06.csr_bytes, off_by_one) is False
    assert "rows + 1" in capsys.readouterr().out


def test_csr_bytes_survives_a_crashing_function(capsys):
    def broken(m, index_bytes=4, value_bytes=4):
        raise RuntimeError("boom")

    assert verdict(ex06.csr_bytes, broken) is False
    assert "boom" in capsys.readouterr().out
    assert verdict(ex06.csr_bytes, "not a function") is False


def test_csr_storage_break_even_rejects_density_and_half(capsys):
    assert verdict(ex06.csr_storage_break_even, lambda r, c, value_bytes=4, index_bytes=4:
                   1 - break_even_ref(r, c, value_bytes, index_bytes)) is False
    assert "density" in capsys.readouterr().out
    assert verdict(ex06.csr_storage_break_even, lambda r, c, value_bytes=4, index_bytes=4:
                   index_bytes / (value_bytes + index_bytes)) is False
    assert "row pointers" in capsys.readouterr().out


def test_theoretical_speedup_rejects_compression_ratio(capsys):
    def params_ratio(dense_model, pruned_model, input_shape):
        return metrics.count_params(dense_model) / metrics.count_nonzero(pruned_model)

    assert verdict(ex06.theoretical_speedup, params_ratio) is False
    assert "compression ratio" in capsys.readouterr().out


def test_theoretical_speedup_rejects_dense_macs_ratio(capsys):
    def dense_ratio(dense_model, pruned_model, input_shape):
        return metrics.macs(dense_model, input_shape) / metrics.macs(pruned_model, input_shape)

    assert verdict(ex06.theoretical_speedup, dense_ratio) is False
    assert "dense shapes" in capsys.readouterr().out


def test_lazy_lookup_through_the_package():
    from course_utils import checks

    assert checks.ex06_csr_bytes is ex06.csr_bytes
