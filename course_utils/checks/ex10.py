"""Self-checks for the exercises of 10_pruning_a_transformer_pytorch (PyTorch only).

Each checker runs the learner's function on hidden cases, prints what was expected and what came back
(with a hint), and returns True or False.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["obs_update", "two_four_keep", "wanda_keep"]


# ----------------------------------------------------------------------------- reference solutions
def reference_wanda_keep(weight: torch.Tensor, x: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Reference solution of exercise 1: Wanda's keep-mask (Sun et al., arXiv 2023 / ICLR 2024). Removing
    ``W_ij`` changes output ``i`` by ``W_ij · x[:, j]``, of size ``|W_ij| · ‖x[:, j]‖₂`` (the norm of input feature
    ``j`` over the ``n`` calibration rows of ``x``, shape ``(n, in_features)``): that is the score. In **each row**
    the ``round(sparsity · in_features)`` smallest scores are pruned (ties: the lower index first)."""
    score = weight.detach().abs() * x.detach().norm(dim=0)[None, :]
    k = round(sparsity * weight.shape[1])
    keep = torch.ones_like(score, dtype=torch.bool)
    keep.scatter_(1, torch.argsort(score, dim=1, stable=True)[:, :k], False)
    return keep


def reference_obs_update(w: torch.Tensor, h_inv: torch.Tensor, q: int) -> torch.Tensor:
    """Reference solution of exercise 2: the Optimal Brain Surgeon update of one row ``w`` when weight ``q`` is
    removed. The minimum of ``δᵀHδ`` subject to ``δ_q = −w_q``: stationarity gives ``2Hδ + μ e_q = 0``, so
    ``δ = −(μ/2) H⁻¹ e_q``, and the constraint fixes ``μ``: ``δ = −(w_q / [H⁻¹]_qq) · H⁻¹[:, q]``, at the cost
    ``w_q² / [H⁻¹]_qq``. ``new[q]`` is then set to exactly 0."""
    new = w - (w[q] / h_inv[q, q]) * h_inv[:, q]
    new[q] = 0.0
    return new


def reference_two_four_keep(scores: torch.Tensor) -> torch.Tensor:
    """Reference solution of exercise 3: keep-mask with the 2 largest scores of every 4 consecutive entries of
    each row (groups along the input dimension, the last one)."""
    out, inp = scores.shape
    groups = scores.reshape(out, inp // 4, 4)
    top = torch.topk(groups, 2, dim=-1).indices
    return torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, top, True).reshape(out, inp)


# ----------------------------------------------------------------------------- helpers
def _as_bool_mask(got: Any, shape: tuple[int, ...], name: str) -> torch.Tensor | None:
    if not isinstance(got, torch.Tensor):
        _fail(f"{name}: expected a torch tensor, got {type(got).__name__}",
              "return a boolean tensor of the weight's shape (True = keep)")
        return None
    if tuple(got.shape) != shape:
        _fail(f"{name}: expected a mask of shape {shape}, got {tuple(got.shape)}",
              "one entry per weight: the same shape as the weight matrix (out_features, in_features)")
        return None
    if got.dtype != torch.bool:
        if not bool(((got == 0) | (got == 1)).all()):
            _fail(f"{name}: the mask holds values other than 0 and 1", "return a boolean mask, True = keep")
            return None
        got = got.bool()
    return got


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- exercise 1
def _wanda_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """The hidden cases (float64). In every row the scores on either side of the cut differ by far more than
    float32 rounding (tests/test_checks_ex10.py asserts a relative gap > 1e-4), so a score computed in another
    order or precision gives the same mask."""
    g = _gen(11)
    w = torch.randn(6, 8, generator=g, dtype=torch.float64)
    x = torch.randn(40, 8, generator=g, dtype=torch.float64) * torch.tensor([0.1, 5, 1, 1, 0.3, 8, 1, 0.5],
                                                                           dtype=torch.float64)
    w2 = torch.randn(5, 12, generator=g, dtype=torch.float64) * torch.linspace(0.2, 3, 5, dtype=torch.float64)[:, None]
    x2 = torch.randn(30, 12, generator=g, dtype=torch.float64) * torch.linspace(3, 0.2, 12, dtype=torch.float64)
    return [(w, x, 0.5), (w2, x2, 0.25), (w2, x2, 0.75)]


# Plausible wrong scores (as a substitute for x in the reference): what each one shows, never the answer.
_WANDA_WRONG_SCORES: tuple[tuple[Callable[[torch.Tensor], torch.Tensor], str], ...] = (
    (torch.ones_like, "your mask is what |W| alone gives: it ignores x. How much removing W_ij changes its output "
                      "also depends on how large input j is on the calibration tokens"),
    (lambda x: x * x.norm(dim=0), "your ranking weighs the input more than the weight (as |W| · ‖x_j‖² does): the "
                                  "change W_ij · x[:, j] grows with |W_ij| and with the size of x[:, j] alike"),
    (lambda x: x.abs().mean(0, keepdim=True), "you measured input j by its mean absolute value; the objective sums "
                                              "squares over the tokens, so the size of a change over tokens is its "
                                              "Euclidean norm"),
)


def _wanda_hint(masks: list[torch.Tensor], cases: list[tuple[torch.Tensor, torch.Tensor, float]], i: int) -> str:
    """What the learner's masks (one per hidden case; ``i`` is the first wrong one) show, in words that point at
    the mistake without giving the answer. A wrong score is named only if it explains every case."""
    mask, (weight, x, sparsity) = masks[i], cases[i]
    out, inp = weight.shape
    pruned, want = int((~mask).sum()), out * round(sparsity * inp)
    if torch.equal(mask, ~reference_wanda_keep(weight, x, sparsity)):
        return "you returned the pruned weights: True must mean KEEP"
    if pruned != want:
        return (f"your mask prunes {pruned} of {out * inp} weights; Wanda prunes {want} here "
                "(round(sparsity × group size) in each comparison group)")
    rows = mask.sum(1)
    if not bool((rows == rows[0]).all()):
        cols = mask.sum(0)
        if bool((cols == cols[0]).all()):
            return ("every input feature keeps the same number of weights: your comparison groups are the "
                    "columns. Wanda's group follows from what the score measures: the change of one output")
        return (f"your rows keep between {int(rows.min())} and {int(rows.max())} weights: you compared the "
                "scores across the whole layer. Wanda's comparison group is smaller (Sun et al., section 3)")
    for substitute, hint in _WANDA_WRONG_SCORES:
        if all(torch.equal(m, reference_wanda_keep(w, substitute(xx), s)) for m, (w, xx, s) in zip(masks, cases)):
            return hint
    return ("compare your scores for row 0 with the size of the change itself, (weight[0, j] * x[:, j]).norm() "
            "for each j: they must rank the weights the same way")


@_exercise
def wanda_keep(fn: Callable[[torch.Tensor, torch.Tensor, float], Any]) -> bool:
    """Check ``fn(weight, x, sparsity) -> keep-mask``: Wanda's mask (Sun et al., arXiv 2023 / ICLR 2024) for
    ``weight`` ``(out_features, in_features)`` and the layer's calibration inputs ``x`` ``(n, in_features)``, on
    hidden cases; a wrong mask gets a hint about what it shows."""
    cases, masks = _wanda_cases(), []
    for weight, x, sparsity in cases:
        ok, got = _call(fn, weight.clone(), x.clone(), sparsity)
        if not ok:
            return False
        mask = _as_bool_mask(got, tuple(weight.shape), "wanda_keep")
        if mask is None:
            return False
        masks.append(mask)
    for i, (mask, (weight, x, sparsity)) in enumerate(zip(masks, cases)):
        expected = reference_wanda_keep(weight, x, sparsity)
        if not torch.equal(mask, expected):
            return _fail(f"{tuple(weight.shape)} weight, sparsity {sparsity}: the mask differs from Wanda's "
                         f"in {int((mask != expected).sum())} places", _wanda_hint(masks, cases, i))
    return _ok("wanda_keep: the size of each weight's effect on its output, the smallest pruned within each row")


# ----------------------------------------------------------------------------- exercise 2
def _obs_cases() -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """(H, w, q) in float64: ``H = XᵀX / n`` of correlated inputs (so that the other weights can make up for the
    removed one), condition numbers below 1e4 (asserted in tests/test_checks_ex10.py)."""
    g = _gen(12)
    cases = []
    for n, inp, q in ((200, 6, 2), (300, 10, 0), (150, 8, 7)):
        x = torch.randn(n, inp, generator=g, dtype=torch.float64) @ torch.randn(inp, inp, generator=g,
                                                                              dtype=torch.float64)
        cases.append((x.T @ x / n, torch.randn(inp, generator=g, dtype=torch.float64), q))
    return cases


# A feasible δ is optimal when its cost δᵀHδ exceeds the minimum by at most this fraction. The excess is
# ‖δ − δ*‖²_H / ‖δ*‖²_H, quadratic in the error of δ: 1e-8 accepts any δ within 1e-4 of the optimum (relative),
# which a float64 answer meets with a margin of many orders (cond(H) · eps ≈ 1e4 · 2.2e-16) and even a float32
# one does (1e4 · 6e-8 ≈ 6e-4 at worst, usually far less); the wrong answers in the tests are off by > 1e-2.
_OBS_EXCESS = 1e-8
# |new[q]| below this fraction of max |w| counts as 0: a float64 answer that computes w_q − w_q leaves at most a
# few eps (2.2e-16) of w_q, and one that sets new[q] = 0 leaves nothing. (A float32 answer leaves ~6e-8 of w_q: the
# hint then asks for an exact 0, as the exercise does.)
_OBS_ZERO = 1e-9


def _obs_hint(delta: torch.Tensor, h: torch.Tensor, h_inv: torch.Tensor, w: torch.Tensor, q: int) -> str:
    """Why a feasible δ is not the optimum, from what it shows (never the formula)."""
    cost, best = float(delta @ h @ delta), float(w[q] ** 2 / h_inv[q, q])
    head = f"your δ removes w[{q}] but costs δᵀHδ = {cost:.4g}, and {best:.4g} is possible: "
    others = torch.arange(len(w)) != q
    d_o = delta[others]
    if float(d_o.abs().max()) <= _OBS_ZERO * float(w.abs().max()):
        return head + "only w[q] moved. The other weights can absorb part of its loss (H couples them to w[q])"

    def along(v: torch.Tensor) -> float:  # the ratio r if d_o == r·v (else nan)
        r = float(d_o @ v / (v @ v))
        return r if float((d_o - r * v).norm()) <= 1e-6 * float(d_o.norm()) else float("nan")

    if along(h[others, q]) == along(h[others, q]):  # not nan: δ moves the others along column q of H
        return head + ("the other weights moved along column q of H itself. At the optimum the gradient of "
                       "δᵀHδ is parallel to the constraint's: H·δ is 0 except in entry q")
    optimum = -(w[q] / h_inv[q, q]) * h_inv[:, q]
    r = along(optimum[others])
    if r == r:
        if abs(r + 1) < 1e-6:
            return head + "the other weights move the right amounts in the wrong direction: check the sign"
        return head + (f"the other weights move in the right proportions but {r:.3g} times as far as they should: "
                       "fix the Lagrange multiplier with the constraint δ_q = −w_q")
    return head + ("set the gradient of δᵀHδ + μ·(δ_q + w_q) to 0, solve for δ, then choose μ so that "
                   "δ_q = −w_q")


@_exercise
def obs_update(fn: Callable[[torch.Tensor, torch.Tensor, int], Any]) -> bool:
    """Check ``fn(w, h_inv, q) -> new row``: the row after removing weight ``q`` at the least cost (Optimal Brain
    Surgeon, Hassibi & Stork 1993). The change ``δ = new − w`` must be feasible (``new[q]`` is 0) and optimal: no
    feasible change has a smaller ``δᵀHδ``, tested against the minimum on hidden cases."""
    for h, w, q in _obs_cases():
        h_inv = torch.linalg.inv(h)
        inp = len(w)
        ok, got = _call(fn, w.clone(), h_inv.clone(), q)
        if not ok:
            return False
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (inp,):
            return _fail(f"expected a tensor of shape ({inp},), the updated row, got "
                         f"{type(got).__name__} {tuple(getattr(got, 'shape', ()))}", "return the whole new row")
        got = got.detach().double()
        delta = got - w
        if abs(float(got[q])) > _OBS_ZERO * float(w.abs().max()):
            ratio = float(delta[q] / -w[q])
            hint = f"the removed weight must end at 0, that is δ_q = −w_q; yours gives δ_q = {ratio:.4g} · (−w_q)"
            if abs(ratio - 1) < 1e-5:
                hint = (f"new[{q}] = {float(got[q]):.2g} is rounding left over, not 0: set the removed weight to "
                        "exactly 0")
            elif abs(ratio + 1) < 1e-6:
                hint += ": the sign is reversed"
            elif abs(ratio - float(h_inv[q, q])) < 1e-6 * abs(ratio):
                hint += " = [H⁻¹]_qq · (−w_q): the Lagrange multiplier must be solved from the constraint"
            return _fail(f"{inp} inputs, removing weight {q}: new[{q}] = {float(got[q]):.4g}, not 0", hint)
        cost, best = float(delta @ h @ delta), float(w[q] ** 2 / h_inv[q, q])
        if cost <= best * (1 + _OBS_EXCESS):
            continue
        return _fail(f"{inp} inputs, removing weight {q}: feasible, but not the least-cost change",
                     _obs_hint(delta, h, h_inv, w, q))
    return _ok("obs_update: the removed weight is 0 and the others absorb its loss at the least cost (δᵀHδ minimal)")


# ----------------------------------------------------------------------------- exercise 3
def _two_four_cases() -> list[torch.Tensor]:
    g = _gen(13)
    return [torch.randn(3, 8, generator=g).abs(), torch.rand(8, 16, generator=g), torch.rand(4, 4, generator=g)]


@_exercise
def two_four_keep(fn: Callable[[torch.Tensor], Any]) -> bool:
    """Check ``fn(scores) -> keep-mask`` keeping the 2 largest of every 4 consecutive scores of each row."""
    # The scores are given, not computed: the learner ranks the very numbers the reference ranks, so masks can
    # differ only at an exact tie, and these cases have none (tests/test_checks_ex10.py).
    for scores in _two_four_cases():
        ok, got = _call(fn, scores.clone())
        if not ok:
            return False
        mask = _as_bool_mask(got, tuple(scores.shape), "two_four_keep")
        if mask is None:
            return False
        expected = reference_two_four_keep(scores)
        if torch.equal(mask, expected):
            continue
        hint = "reshape each row into groups of 4 (scores.reshape(out, in // 4, 4)) and keep the top 2 of each group"
        groups_ok = bool((mask.reshape(mask.shape[0], -1, 4).sum(-1) == 2).all())
        if torch.equal(mask, ~expected):
            hint = "you kept the two SMALLEST of each group; keep the two largest scores"
        elif scores.shape[0] % 4 == 0 and torch.equal(mask, reference_two_four_keep(scores.T).T):
            hint = ("your groups run down the columns (output dimension); 2:4 groups are 4 consecutive "
                    "INPUT features of one row")
        elif not groups_ok:
            hint = ("every group of 4 consecutive entries in a row must keep exactly 2: half of each row is "
                    "not enough, the hardware needs the pattern in each group")
        return _fail(f"scores of shape {tuple(scores.shape)}: the mask differs from 2:4 in "
                     f"{int((mask != expected).sum())} places", hint)
    return _ok("two_four_keep: 2 of every 4 consecutive weights kept in every row")
