"""The self-checks of 06_measuring_what_pruning_buys_tensorflow accept the reference solutions and reject
plausible mistakes (Exercise 2 builds small Keras models)."""
from __future__ import annotations

import pytest

from course_utils import metrics
from course_utils.checks import ex06tf
from course_utils.checks._common import verdict


def break_even_ref(rows, cols, value_bytes=4, index_bytes=4):
    nnz = (rows * cols * value_bytes - (rows + 1) * index_bytes) / (value_bytes + index_bytes)
    return 1 - nnz / (rows * cols)


def speedup_ref(dense_model, pruned_model, input_shape):
    before = metrics.macs(dense_model, input_shape)
    sparsity = metrics.layer_sparsity(pruned_model)
    after = sum(m * (1 - sparsity[name]) for name, m in metrics.layer_macs(pruned_model, input_shape).items())
    return before / after


# ----------------------------------------------------------------------------- exercise 1
def test_csr_storage_break_even_accepts_reference(capsys):
    assert ex06tf.csr_storage_break_even(break_even_ref) is True
    assert ex06tf.csr_storage_break_even(ex06tf.reference_csr_storage_break_even) is True
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda r, c, value_bytes=4, index_bytes=4: 1 - break_even_ref(r, c, value_bytes, index_bytes), "density"),
    (lambda r, c, value_bytes=4, index_bytes=4: index_bytes / (value_bytes + index_bytes), "row pointers"),
])
def test_csr_storage_break_even_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex06tf.csr_storage_break_even, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_csr_storage_break_even_reports_placeholders_and_non_functions(capsys):
    def todo(rows, cols, value_bytes=4, index_bytes=4):
        raise NotImplementedError

    assert ex06tf.csr_storage_break_even(todo) is None  # the learner edition's placeholder: not attempted
    assert ex06tf.csr_storage_break_even() is None
    assert capsys.readouterr().out.count("not attempted") == 2
    assert verdict(ex06tf.csr_storage_break_even, 0.5) is False
    assert "ex06tf.csr_storage_break_even(csr_storage_break_even)" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 2
def test_theoretical_speedup_accepts_reference(capsys):
    assert ex06tf.theoretical_speedup(speedup_ref) is True
    assert ex06tf.theoretical_speedup(ex06tf.reference_theoretical_speedup) is True
    assert "✓" in capsys.readouterr().out


def test_theoretical_speedup_rejects_the_compression_ratio(capsys):
    def compression(dense_model, pruned_model, input_shape):
        return metrics.count_params(dense_model) / metrics.count_nonzero(pruned_model)

    assert verdict(ex06tf.theoretical_speedup, compression) is False
    out = capsys.readouterr().out
    assert "✗" in out and "compression ratio" in out


def test_theoretical_speedup_rejects_dense_macs_and_upside_down(capsys):
    def dense_macs(dense_model, pruned_model, input_shape):
        return metrics.macs(dense_model, input_shape) / metrics.macs(pruned_model, input_shape)

    assert verdict(ex06tf.theoretical_speedup, dense_macs) is False
    assert "1 − metrics.layer_sparsity" in capsys.readouterr().out
    assert verdict(ex06tf.theoretical_speedup, lambda d, p, s: 1 / speedup_ref(d, p, s)) is False
    assert "upside down" in capsys.readouterr().out


def test_theoretical_speedup_reports_placeholders(capsys):
    def todo(dense_model, pruned_model, input_shape):
        raise NotImplementedError

    assert ex06tf.theoretical_speedup(todo) is None
    assert "not attempted" in capsys.readouterr().out


def test_public_names():
    assert set(ex06tf.__all__) == {"csr_storage_break_even", "theoretical_speedup"}
