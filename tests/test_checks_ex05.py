"""The exercise checkers of 05_neuron_pruning_tensorflow accept the reference solutions and reject
plausible wrong answers (numpy only: these checkers import no framework)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course_utils.checks import ex05
from course_utils.checks._common import verdict


# --------------------------------------------------------------------------- incoming_l2
def test_incoming_l2_accepts_reference_and_variants(capsys):
    assert ex05.incoming_l2(ex05.reference_incoming_l2)
    assert ex05.incoming_l2(lambda k: np.sqrt((k ** 2).sum(axis=0)))
    assert ex05.incoming_l2(lambda k: np.linalg.norm(k.T, axis=1))
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda k: np.linalg.norm(k, axis=1), "axis 0"),  # PyTorch habit: rows
    (lambda k: np.abs(k).sum(axis=0), "L1"),
    (lambda k: (k ** 2).sum(axis=0), "square root"),
    (lambda k: np.linalg.norm(k), "shape"),
])
def test_incoming_l2_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex05.incoming_l2, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_incoming_l2_reports_placeholders_and_non_callables(capsys):
    def todo(kernel):
        raise NotImplementedError

    assert ex05.incoming_l2(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex05.incoming_l2, "incoming_l2") is False
    assert "pass your function itself" in capsys.readouterr().out


# --------------------------------------------------------------------------- shrink_dense_pair
def test_shrink_dense_pair_accepts_reference_and_variant(capsys):
    assert ex05.shrink_dense_pair(ex05.reference_shrink_dense_pair)
    assert ex05.shrink_dense_pair(
        lambda k1, b1, k2, keep: [np.take(k1, keep, axis=1), b1[keep], np.take(k2, keep, axis=0)])
    assert "✓" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda k1, b1, k2, keep: (k1[keep, :], b1[keep], k2[keep, :]), "columns"),  # torch layout habit
    (lambda k1, b1, k2, keep: (k1[:, keep], b1, k2[keep, :]), "b1[keep]"),
    (lambda k1, b1, k2, keep: (k1[:, keep], b1[keep], k2[:, keep]), ""),  # may even raise IndexError
    (lambda k1, b1, k2, keep: (k1[:, keep], b1[keep]), "tuple"),
])
def test_shrink_dense_pair_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex05.shrink_dense_pair, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and hint in out


def test_shrink_dense_pair_catches_an_order_mixup(capsys):
    def shuffled(k1, b1, k2, keep):  # consistent within a layer but k2 rows in another order
        return k1[:, keep], b1[keep], k2[keep[::-1], :]

    assert verdict(ex05.shrink_dense_pair, shuffled) is False
    assert "✗" in capsys.readouterr().out


# --------------------------------------------------------------------------- mlp_macs
def test_mlp_macs_accepts_reference_and_variant(capsys):
    assert ex05.mlp_macs(ex05.reference_mlp_macs)
    assert ex05.mlp_macs(lambda sizes: int(np.dot(sizes[:-1], sizes[1:])))
    assert "✓" in capsys.readouterr().out
    assert ex05.reference_mlp_macs((784, 300, 100, 10)) == 266_200


@pytest.mark.parametrize("wrong, hint", [
    (lambda sizes: sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])), "biases"),
    (lambda sizes: sum(a * b for a, b in zip(sizes[:-2], sizes[1:-1])), "last layer"),
    (lambda sizes: int(np.prod(sizes)), "consecutive"),
    (lambda sizes: "266200", "number"),
])
def test_mlp_macs_rejects_wrong_answers(wrong, hint, capsys):
    assert verdict(ex05.mlp_macs, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out


def test_ex05_imports_no_framework():
    code = "import sys; import course_utils.checks.ex05; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"
