"""The exercise checkers of 05_structured_pruning_tensorflow accept the reference solutions and reject
plausible wrong answers (numpy only: these checkers import no framework)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course_utils.checks import ex05tf
from course_utils.checks._common import verdict


# --------------------------------------------------------------------------- equivalent_rescale
def _rescale(mean_f, var_f, bias_f=lambda c, b: b * c, gamma_f=lambda c, g: g):
    def fn(kernel, bias, bn, factors, eps):
        c = np.asarray(factors)
        g, b, m, v = bn
        return kernel * c, bias_f(c, bias), [gamma_f(c, g), b, mean_f(c, m), var_f(c, v, eps)]
    return fn


def test_equivalent_rescale_accepts_reference_and_variant(capsys):
    assert ex05tf.equivalent_rescale(ex05tf.reference_equivalent_rescale)
    # the same algebra, written another way, float32 output
    variant = _rescale(lambda c, m: c * m, lambda c, v, eps: (c ** 2 * v + (c ** 2 - 1) * eps))
    assert ex05tf.equivalent_rescale(variant)
    assert "✓" in capsys.readouterr().out


def test_reference_equivalent_rescale_keeps_the_function():
    r = np.random.default_rng(0)
    k, b = r.normal(size=(3, 3, 2, 4)), r.normal(size=4)
    bn = [r.normal(size=4), r.normal(size=4), r.normal(size=4), r.uniform(0.1, 1, 4)]
    c = np.array([0.5, 1.0, 2.0, 3.0])
    k2, b2, bn2 = ex05tf.reference_equivalent_rescale(k, b, bn, c, eps=1e-3)
    p = r.normal(size=(10, 18))
    np.testing.assert_allclose(ex05tf._conv_bn(k2, b2, bn2, 1e-3, p), ex05tf._conv_bn(k, b, bn, 1e-3, p), rtol=1e-10)
    np.testing.assert_allclose(np.abs(k2).sum(axis=(0, 1, 2)), c * np.abs(k).sum(axis=(0, 1, 2)))


@pytest.mark.parametrize("wrong, hint", [
    (_rescale(lambda c, m: c * m, lambda c, v, eps: c ** 2 * v), "sqrt(var + eps)"),  # forgot eps
    (_rescale(lambda c, m: c * m, lambda c, v, eps: c * v), "c²·var"),  # variance scales with the square
    (_rescale(lambda c, m: m, lambda c, v, eps: c ** 2 * (v + eps) - eps), "mean"),  # mean not scaled
    (_rescale(lambda c, m: c * m, lambda c, v, eps: c ** 2 * (v + eps) - eps, bias_f=lambda c, b: b), "bias"),
    (_rescale(lambda c, m: m, lambda c, v, eps: v, gamma_f=lambda c, g: g / c), "gamma"),  # changes gamma instead
    (lambda k, b, bn, c, eps: (k * np.asarray(c)[:, None, None] if k.shape[2] == len(c) else k, b, bn), "L1"),
    (lambda k, b, bn, c, eps: (k, b, bn), "did not change"),
    (lambda k, b, bn, c, eps: k * np.asarray(c), "tuple"),
])
def test_equivalent_rescale_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex05tf.equivalent_rescale, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_equivalent_rescale_reports_placeholders(capsys):
    def todo(kernel, bias, bn, factors, eps):
        raise NotImplementedError

    assert ex05tf.equivalent_rescale(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex05tf.equivalent_rescale, None) is None  # nothing passed yet: not attempted


# --------------------------------------------------------------------------- flatten_rows
def test_flatten_rows_accepts_reference_and_variants(capsys):
    assert ex05tf.flatten_rows(ex05tf.reference_flatten_rows)

    def loops(h, w, c, keep):
        return [(i * w + j) * c + k for i in range(h) for j in range(w) for k in keep]

    def mask(h, w, c, keep):
        m = np.zeros((h, w, c), dtype=bool)
        m[:, :, keep] = True
        return np.flatnonzero(m.ravel())

    assert ex05tf.flatten_rows(loops)
    assert ex05tf.flatten_rows(mask)
    assert "✓" in capsys.readouterr().out


def test_flatten_rows_reference_matches_numpy_flatten():
    fmap = np.arange(3 * 4 * 5).reshape(3, 4, 5)  # (h, w, c), values = flat index
    keep = np.array([1, 4])
    np.testing.assert_array_equal(ex05tf.reference_flatten_rows(3, 4, 5, keep), fmap[:, :, keep].ravel())


@pytest.mark.parametrize("wrong, hint", [
    (lambda h, w, c, keep: (np.asarray(keep)[:, None] * h * w + np.arange(h * w)[None, :]).ravel(), "NCHW"),
    (lambda h, w, c, keep: np.sort((np.asarray(keep)[:, None] * h * w + np.arange(h * w)[None, :]).ravel()), "NCHW"),
    (lambda h, w, c, keep: (np.arange(h * w)[:, None] * c + np.asarray(keep)[None, :]).T.ravel(), "order"),
    (lambda h, w, c, keep: np.asarray(keep), "position"),
])
def test_flatten_rows_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex05tf.flatten_rows, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


# --------------------------------------------------------------------------- is_2_of_4
def test_is_2_of_4_accepts_reference_and_variant(capsys):
    assert ex05tf.is_2_of_4(ex05tf.reference_is_2_of_4)

    def padded(k):
        k = np.asarray(k)
        rows = k.T if k.ndim == 2 else np.moveaxis(k, 2, -1).reshape(-1, k.shape[2])
        pad = (-rows.shape[1]) % 4
        rows = np.pad(rows, ((0, 0), (0, pad)))
        return bool((np.count_nonzero(rows.reshape(rows.shape[0], -1, 4), axis=2) <= 2).all())

    assert ex05tf.is_2_of_4(padded)
    assert "✓" in capsys.readouterr().out


def test_is_2_of_4_reference_agrees_with_tfmot():
    pytest.importorskip("tensorflow_model_optimization")
    import course_utils  # noqa: F401
    from course_utils.env import load_tensorflow

    tf, _ = load_tensorflow()
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

    for label, kernel, want in ex05tf._cases_2_of_4():
        if kernel.ndim == 4 and kernel.shape[2] == 1:
            continue  # TFMOT's checker reshapes C_IN=1 kernels differently; covered by the reference's own case
        got = bool(pruning_utils.is_pruned_m_by_n(tf.constant(kernel, dtype=tf.float32), (2, 4)))
        assert got == want, label


@pytest.mark.parametrize("wrong", [
    lambda k: bool((np.count_nonzero(np.asarray(k).reshape(-1, 4), axis=1) <= 2).all()),  # wrong axis (C-order)
    lambda k: bool(np.mean(np.asarray(k) == 0) >= 0.5),  # "half of the weights are zero"
    lambda k: all((np.count_nonzero(np.moveaxis(k, -1, 0).reshape(k.shape[-1], -1)[:, g:g + 4], axis=1) <= 2).all()
                  for g in range(0, np.moveaxis(k, -1, 0).reshape(k.shape[-1], -1).shape[1], 4)),  # groups along out
    lambda k: bool((np.count_nonzero((k.T if k.ndim == 2 else np.moveaxis(k, 2, -1).reshape(-1, k.shape[2]))
                                     .reshape(-1, 4), axis=1) == 2).all())
    if np.asarray(k).shape[-2 if k.ndim == 4 else 0] % 4 == 0 else False,
    lambda k: 1,
])
def test_is_2_of_4_rejects_wrong_answers(wrong, capsys):
    assert verdict(ex05tf.is_2_of_4, wrong) is False
    assert "✗" in capsys.readouterr().out


def test_ex05tf_imports_no_framework():
    code = "import sys; import course_utils.checks.ex05tf; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
