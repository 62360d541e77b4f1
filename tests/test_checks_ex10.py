"""Exercise checkers of 10_pruning_a_transformer_pytorch accept the reference solutions and reject plausible
mistakes."""
from __future__ import annotations

import torch

from course_utils.checks import ex10
from course_utils.checks._common import verdict


# ----------------------------------------------------------------------------- exercise 1: Wanda's mask
def test_wanda_accepts_reference(capsys):
    assert ex10.wanda_keep(ex10.reference_wanda_keep) is True
    assert "✓" in capsys.readouterr().out


def test_wanda_accepts_float_mask():
    assert ex10.wanda_keep(lambda w, x, s: ex10.reference_wanda_keep(w, x, s).float())


def test_wanda_placeholder_is_not_attempted(capsys):
    assert ex10.wanda_keep(None) is None
    assert "not attempted" in capsys.readouterr().out

    def placeholder(weight, x, sparsity):
        raise NotImplementedError

    assert verdict(ex10.wanda_keep, placeholder) is None


def test_wanda_rejects_magnitude(capsys):
    assert verdict(ex10.wanda_keep, lambda w, x, s: ex10.reference_wanda_keep(w, torch.ones_like(x), s)) is False
    assert "|W| alone" in capsys.readouterr().out


def _layer_wide(weight, x, sparsity):
    score = weight.abs() * x.norm(dim=0)
    k = round(sparsity * score.numel())
    keep = torch.ones(score.numel(), dtype=torch.bool)
    keep[torch.argsort(score.flatten())[:k]] = False
    return keep.reshape(score.shape)


def _per_column(weight, x, sparsity):
    score = weight.abs() * x.norm(dim=0)
    k = round(sparsity * weight.shape[0])
    keep = torch.ones_like(score, dtype=torch.bool)
    keep.scatter_(0, torch.argsort(score, dim=0)[:k], False)
    return keep


def test_wanda_rejects_layer_wide_and_per_column_groups(capsys):
    assert verdict(ex10.wanda_keep, _layer_wide) is False
    out = capsys.readouterr().out
    assert "whole layer" in out and "smaller" in out
    assert verdict(ex10.wanda_keep, _per_column) is False
    out = capsys.readouterr().out
    assert "columns" in out or "prunes" in out


def test_wanda_rejects_squared_norm_mean_abs_and_inverted_mask(capsys):
    assert verdict(ex10.wanda_keep, lambda w, x, s: ex10.reference_wanda_keep(w, x * x.norm(dim=0), s)) is False
    assert "more than the weight" in capsys.readouterr().out
    assert verdict(ex10.wanda_keep,
                   lambda w, x, s: ex10.reference_wanda_keep(w, x.abs().mean(0, keepdim=True), s)) is False
    assert "Euclidean norm" in capsys.readouterr().out
    assert verdict(ex10.wanda_keep, lambda w, x, s: ~ex10.reference_wanda_keep(w, x, s)) is False
    assert "KEEP" in capsys.readouterr().out


def test_wanda_hints_diagnose_without_giving_the_answer(capsys):
    """A hint names what the wrong mask shows; it never prints the score's formula or the per-row rule."""
    wrong = [lambda w, x, s: ex10.reference_wanda_keep(w, torch.ones_like(x), s), _layer_wide, _per_column,
             lambda w, x, s: ex10.reference_wanda_keep(w, x * x.norm(dim=0), s),
             lambda w, x, s: ex10.reference_wanda_keep(w, x.abs().mean(0, keepdim=True), s),
             lambda w, x, s: ex10.reference_wanda_keep(w, x ** 3, s)]
    for fn in wrong:
        assert verdict(ex10.wanda_keep, fn) is False
        out = capsys.readouterr().out
        for answer in ("x.norm(dim=0)", "within each row", "in each row", "per row", "sort within"):
            assert answer not in out, (answer, out)


def test_wanda_rejects_wrong_count(capsys):
    def too_few(weight, x, sparsity):
        keep = ex10.reference_wanda_keep(weight, x, sparsity)
        keep[0] = True
        return keep

    assert verdict(ex10.wanda_keep, too_few) is False
    assert "prunes" in capsys.readouterr().out


def test_wanda_rejects_wrong_shape_and_error(capsys):
    assert verdict(ex10.wanda_keep, lambda w, x, s: torch.ones(3, dtype=torch.bool)) is False
    assert verdict(ex10.wanda_keep, lambda w, x, s: 1 / 0) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_wanda_cases_are_far_from_ties():
    """Float32 rounding (relative 6e-8) of a score computed another way cannot move a weight across the cut: in
    every row of every hidden case the scores on either side of it differ by more than 1e-4 (relative)."""
    for weight, x, sparsity in ex10._wanda_cases():
        score = (weight.abs() * x.norm(dim=0)).sort(dim=1).values
        k = round(sparsity * weight.shape[1])
        gap = (score[:, k] - score[:, k - 1]) / score[:, k]
        assert float(gap.min()) > 1e-4, (tuple(weight.shape), sparsity, float(gap.min()))


def test_wanda_accepts_float32_scores():
    def float32(weight, x, sparsity):
        return ex10.reference_wanda_keep(weight.float(), x.float(), sparsity)

    assert ex10.wanda_keep(float32) is True


# ----------------------------------------------------------------------------- exercise 2: the OBS update
def test_obs_accepts_reference(capsys):
    assert ex10.obs_update(ex10.reference_obs_update) is True
    assert "✓" in capsys.readouterr().out


def test_obs_accepts_other_correct_derivations():
    """Any optimal δ passes, however it is computed: by solving the 2-by-2 KKT system of the Lagrangian, or in
    float32 (the tolerance on the cost follows from float32 rounding: see ex10._OBS_EXCESS)."""
    def kkt(w, h_inv, q):
        h = torch.linalg.inv(h_inv)
        n = len(w)
        a = torch.zeros(n + 1, n + 1, dtype=h.dtype)
        a[:n, :n], a[q, n], a[n, q] = 2 * h, 1.0, 1.0
        rhs = torch.zeros(n + 1, dtype=h.dtype)
        rhs[n] = -w[q]
        return w + torch.linalg.solve(a, rhs)[:n]

    def float32(w, h_inv, q):
        new = ex10.reference_obs_update(w.float(), h_inv.float(), q).double()
        new[q] = 0.0
        return new

    assert ex10.obs_update(kkt) is True
    assert ex10.obs_update(float32) is True


def test_obs_asks_for_an_exact_zero(capsys):
    def float32_no_reset(w, h_inv, q):  # what w_q - w_q rounded in float32 can leave at q
        leftover = 1e-7 * w[q] * (torch.arange(len(w)) == q)
        return ex10.reference_obs_update(w.float(), h_inv.float(), q).double() + leftover

    assert verdict(ex10.obs_update, float32_no_reset) is False
    assert "exactly 0" in capsys.readouterr().out


def test_obs_cases_are_well_conditioned():
    for h, _, _ in ex10._obs_cases():
        assert float(torch.linalg.cond(h)) < 1e4


def test_obs_rejects_zeroing_only(capsys):
    def zero_only(w, h_inv, q):
        new = w.clone()
        new[q] = 0
        return new

    assert verdict(ex10.obs_update, zero_only) is False
    assert "only w[q] moved" in capsys.readouterr().out


def test_obs_rejects_hessian_instead_of_inverse(capsys):
    def with_h(w, h_inv, q):
        return ex10.reference_obs_update(w, torch.linalg.inv(h_inv), q)

    assert verdict(ex10.obs_update, with_h) is False
    assert "column q of H itself" in capsys.readouterr().out


def test_obs_rejects_wrong_sign_scale_and_nonzero_q(capsys):
    def wrong_sign(w, h_inv, q):
        new = w + (w[q] / h_inv[q, q]) * h_inv[:, q]
        new[q] = 0
        return new

    def wrong_scale(w, h_inv, q):
        new = w - w[q] * h_inv[:, q]
        new[q] = 0
        return new

    assert verdict(ex10.obs_update, wrong_sign) is False
    assert "wrong direction" in capsys.readouterr().out
    assert verdict(ex10.obs_update, wrong_scale) is False
    assert "right proportions" in capsys.readouterr().out
    assert verdict(ex10.obs_update, lambda w, h_inv, q: w - 0.5 * (w[q] / h_inv[q, q]) * h_inv[:, q]) is False
    assert "must end at 0" in capsys.readouterr().out
    assert verdict(ex10.obs_update, lambda w, h_inv, q: w - w[q] * h_inv[:, q]) is False
    assert "Lagrange multiplier" in capsys.readouterr().out


def test_obs_rejects_other_suboptimal_rows(capsys):
    def random_move(w, h_inv, q):
        new = w + 0.1 * torch.randn(len(w), generator=torch.Generator().manual_seed(0), dtype=w.dtype)
        new[q] = 0
        return new

    assert verdict(ex10.obs_update, random_move) is False
    assert "gradient" in capsys.readouterr().out


def test_obs_messages_never_print_the_update(capsys):
    """Whatever the answer, the checker's output does not spell out δ (the exercise is to derive it)."""
    answers = [None, ex10.reference_obs_update, lambda w, h_inv, q: w, lambda w, h_inv, q: w - w[q] * h_inv[:, q],
               lambda w, h_inv, q: torch.zeros_like(w)]
    for fn in answers:
        verdict(ex10.obs_update, fn)
        out = capsys.readouterr().out
        for formula in ("h_inv[:, q]", "H⁻¹[:, q]", "H⁻¹e_q", "/ h_inv[q, q]", "/ [H⁻¹]_qq"):
            assert formula not in out, (formula, out)


def test_obs_placeholder_is_not_attempted():
    assert verdict(ex10.obs_update, None) is None


# ----------------------------------------------------------------------------- exercise 3: the 2:4 mask
def test_two_four_accepts_reference(capsys):
    assert ex10.two_four_keep(ex10.reference_two_four_keep) is True
    assert "✓" in capsys.readouterr().out


def test_two_four_rejects_smallest(capsys):
    assert verdict(ex10.two_four_keep, lambda s: ~ex10.reference_two_four_keep(s)) is False
    assert "SMALLEST" in capsys.readouterr().out


def test_two_four_rejects_half_of_each_row(capsys):
    def half_row(scores):
        keep = torch.zeros_like(scores, dtype=torch.bool)
        keep.scatter_(1, torch.topk(scores, scores.shape[1] // 2, dim=1).indices, True)
        return keep

    assert verdict(ex10.two_four_keep, half_row) is False
    assert "every group of 4" in capsys.readouterr().out


def test_two_four_rejects_groups_down_the_columns(capsys):
    def columns(scores):
        if scores.shape[0] % 4:
            return ex10.reference_two_four_keep(scores)
        return ex10.reference_two_four_keep(scores.T).T

    assert verdict(ex10.two_four_keep, columns) is False
    assert "INPUT features" in capsys.readouterr().out


def test_two_four_cases_have_no_ties():
    for scores in ex10._two_four_cases():
        groups = scores.reshape(scores.shape[0], -1, 4).sort(dim=-1).values
        assert bool((groups[..., 2] > groups[..., 1]).all())  # the 2nd and 3rd largest of each group differ


def test_two_four_placeholder_is_not_attempted():
    assert verdict(ex10.two_four_keep, None) is None
