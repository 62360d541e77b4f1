"""Exercise checkers of 11_pruning_a_transformer_pytorch accept the reference solutions and reject plausible
mistakes."""
from __future__ import annotations

import torch

from course_utils.checks import ex11
from course_utils.checks._common import verdict


# ----------------------------------------------------------------------------- exercise 1: Wanda's mask
def test_wanda_accepts_reference(capsys):
    assert ex11.wanda_keep(ex11.reference_wanda_keep) is True
    assert "✓" in capsys.readouterr().out


def test_wanda_accepts_float_mask():
    assert ex11.wanda_keep(lambda w, x, s: ex11.reference_wanda_keep(w, x, s).float())


def test_wanda_placeholder_is_not_attempted(capsys):
    assert ex11.wanda_keep(None) is None
    assert "not attempted" in capsys.readouterr().out

    def placeholder(weight, x, sparsity):
        raise NotImplementedError

    assert verdict(ex11.wanda_keep, placeholder) is None


def test_wanda_rejects_magnitude(capsys):
    assert verdict(ex11.wanda_keep, lambda w, x, s: ex11.reference_wanda_keep(w, torch.ones_like(x), s)) is False
    assert "magnitude" in capsys.readouterr().out


def test_wanda_rejects_layer_wide_comparison(capsys):
    def layer_wide(weight, x, sparsity):
        score = weight.abs() * x.norm(dim=0)
        k = round(sparsity * score.numel())
        keep = torch.ones(score.numel(), dtype=torch.bool)
        keep[torch.argsort(score.flatten())[:k]] = False
        return keep.reshape(score.shape)

    assert verdict(ex11.wanda_keep, layer_wide) is False
    assert "within each output row" in capsys.readouterr().out


def test_wanda_rejects_squared_norm_and_inverted_mask(capsys):
    assert verdict(ex11.wanda_keep, lambda w, x, s: ex11.reference_wanda_keep(w, x * x.norm(dim=0), s)) is False
    assert "not its square" in capsys.readouterr().out
    assert verdict(ex11.wanda_keep, lambda w, x, s: ~ex11.reference_wanda_keep(w, x, s)) is False
    assert "KEEP" in capsys.readouterr().out


def test_wanda_rejects_wrong_shape_and_error(capsys):
    assert verdict(ex11.wanda_keep, lambda w, x, s: torch.ones(3, dtype=torch.bool)) is False
    assert verdict(ex11.wanda_keep, lambda w, x, s: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


# ----------------------------------------------------------------------------- exercise 2: the OBS update
def test_obs_accepts_reference(capsys):
    assert ex11.obs_update(ex11.reference_obs_update) is True
    assert "✓" in capsys.readouterr().out


def test_obs_rejects_zeroing_only(capsys):
    def zero_only(w, h_inv, q):
        new = w.clone()
        new[q] = 0
        return new

    assert verdict(ex11.obs_update, zero_only) is False
    assert "only zeroed" in capsys.readouterr().out


def test_obs_rejects_hessian_instead_of_inverse(capsys):
    def with_h(w, h_inv, q):
        return ex11.reference_obs_update(w, torch.linalg.inv(h_inv), q)

    assert verdict(ex11.obs_update, with_h) is False
    assert "INVERSE" in capsys.readouterr().out


def test_obs_rejects_wrong_sign_and_nonzero_q(capsys):
    def wrong_sign(w, h_inv, q):
        new = w + (w[q] / h_inv[q, q]) * h_inv[:, q]
        new[q] = 0
        return new

    assert verdict(ex11.obs_update, wrong_sign) is False
    assert "sign" in capsys.readouterr().out
    assert verdict(ex11.obs_update, lambda w, h_inv, q: w - 0.5 * (w[q] / h_inv[q, q]) * h_inv[:, q]) is False
    assert "exactly at 0" in capsys.readouterr().out


def test_obs_placeholder_is_not_attempted():
    assert verdict(ex11.obs_update, None) is None


# ----------------------------------------------------------------------------- exercise 3: the 2:4 mask
def test_two_four_accepts_reference(capsys):
    assert ex11.two_four_keep(ex11.reference_two_four_keep) is True
    assert "✓" in capsys.readouterr().out


def test_two_four_rejects_smallest(capsys):
    assert verdict(ex11.two_four_keep, lambda s: ~ex11.reference_two_four_keep(s)) is False
    assert "SMALLEST" in capsys.readouterr().out


def test_two_four_rejects_half_of_each_row(capsys):
    def half_row(scores):
        keep = torch.zeros_like(scores, dtype=torch.bool)
        keep.scatter_(1, torch.topk(scores, scores.shape[1] // 2, dim=1).indices, True)
        return keep

    assert verdict(ex11.two_four_keep, half_row) is False
    assert "every group of 4" in capsys.readouterr().out


def test_two_four_rejects_groups_down_the_columns(capsys):
    def columns(scores):
        if scores.shape[0] % 4:
            return ex11.reference_two_four_keep(scores)
        return ex11.reference_two_four_keep(scores.T).T

    assert verdict(ex11.two_four_keep, columns) is False
    assert "INPUT features" in capsys.readouterr().out


def test_two_four_placeholder_is_not_attempted():
    assert verdict(ex11.two_four_keep, None) is None
