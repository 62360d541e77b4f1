"""The self-checks of 01_loss_before_and_after_pytorch accept the reference solutions and reject plausible mistakes."""
from __future__ import annotations

import torch

from course_utils.checks import ex01
from course_utils.checks._common import verdict


def magnitude_mask(w, fraction):
    k = round(fraction * w.numel())
    keep = torch.ones(w.numel(), dtype=torch.bool)
    keep[torch.argsort(w.abs().flatten())[:k]] = False
    return keep.view(w.shape)


def test_magnitude_mask_accepts_reference(capsys):
    assert ex01.magnitude_mask(magnitude_mask) is True
    assert "✓" in capsys.readouterr().out


def test_magnitude_mask_rejects_mistakes(capsys):
    def by_value(w, fraction):  # forgets the absolute value
        k = round(fraction * w.numel())
        keep = torch.ones(w.numel(), dtype=torch.bool)
        keep[torch.argsort(w.flatten())[:k]] = False
        return keep.view(w.shape)

    def inverted(w, fraction):
        return ~magnitude_mask(w, fraction)

    def float_mask(w, fraction):
        return magnitude_mask(w, fraction).float()

    def in_place(w, fraction):
        m = magnitude_mask(w, fraction)
        w[~m] = 0
        return m

    def quantile(w, fraction):  # a threshold test cannot split ties (weights that are already zero)
        if not 0 < fraction < 1:
            return magnitude_mask(w, fraction)
        return w.abs() > torch.quantile(w.abs().flatten(), fraction)

    def unstable(w, fraction):  # any k of the tied zeros will do
        k = round(fraction * w.numel())
        keep = torch.ones(w.numel(), dtype=torch.bool)
        order = torch.argsort(w.abs().flatten() + 0.0, descending=True).flip(0)
        keep[order[:k]] = False
        return keep.view(w.shape)

    def todo(w, fraction):
        raise NotImplementedError

    for wrong, words in [(by_value, "absolute"), (inverted, "inverted"), (float_mask, "bool"),
                         (in_place, "changed")]:
        assert verdict(ex01.magnitude_mask, wrong) is False
        assert words in capsys.readouterr().out
    assert ex01.magnitude_mask(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex01.magnitude_mask, quantile) is False
    assert "ties" in capsys.readouterr().out
    assert ex01.magnitude_mask(unstable) is True


def test_layerwise_masks():
    def reference(weights, fraction):
        return {name: magnitude_mask(w, fraction) for name, w in weights.items()}

    def global_threshold(weights, fraction):
        every = torch.cat([w.abs().flatten() for w in weights.values()])
        t = every.kthvalue(round(fraction * every.numel())).values
        return {name: w.abs() > t for name, w in weights.items()}

    assert ex01.layerwise_masks(reference) is True
    assert verdict(ex01.layerwise_masks, global_threshold) is False
    as_list = lambda weights, fraction: [magnitude_mask(w, fraction) for w in weights.values()]  # noqa: E731
    assert verdict(ex01.layerwise_masks, as_list) is False


def _obd(loss_fn, w, idx, v="onehot", half=0.5, square=True):
    """A learner's OBD saliency, right (defaults) or with a typical mistake."""
    (g,) = torch.autograd.grad(loss_fn(), w, create_graph=True)
    h = []
    for i in idx.tolist():
        if v == "onehot":
            e = torch.zeros_like(w)
            e.view(-1)[i] = 1.0
        elif v == "ones":
            e = torch.ones_like(w)
        else:  # v = w
            e = w.detach().clone()
        (hv,) = torch.autograd.grad(g, w, grad_outputs=e, retain_graph=True)
        h.append(hv.view(-1)[i])
    h = torch.stack(h)
    wi = w.detach().view(-1)[idx]
    return half * h * (wi**2 if square else wi)


def test_obd_saliency_accepts_reference_and_variants(capsys):
    assert ex01.obd_saliency(ex01.reference_obd_saliency) is True
    assert ex01.obd_saliency(_obd) is True
    hessian_rows = lambda loss_fn, w, idx: _obd(loss_fn, w, idx).float()  # float32 is fine  # noqa: E731
    assert ex01.obd_saliency(hessian_rows) is True
    assert capsys.readouterr().out.count("✓") == 3


def test_obd_saliency_rejects_mistakes(capsys):
    def grad_squared(loss_fn, w, idx):
        (g,) = torch.autograd.grad(loss_fn(), w)
        return 0.5 * g.view(-1)[idx] ** 2 * w.detach().view(-1)[idx] ** 2

    def perturbs(loss_fn, w, idx):
        with torch.no_grad():
            w.view(-1)[idx[0]] += 1e-3  # finite differences that forget to restore
        return _obd(loss_fn, w, idx)

    def todo(loss_fn, w, idx):
        raise NotImplementedError

    cases = [
        (lambda f, w, i: _obd(f, w, i, half=1.0), "½"),
        (lambda f, w, i: _obd(f, w, i, v="ones"), "row *sum*"),
        (lambda f, w, i: _obd(f, w, i, v="w"), "(H·w)_i"),
        (lambda f, w, i: _obd(f, w, i, square=False), "squaring"),
        (grad_squared, "squared gradient"),
        (lambda f, w, i: _obd(f, w, i).sum(), "one saliency per position"),
        (perturbs, "changed the weight"),
    ]
    for wrong, words in cases:
        assert verdict(ex01.obd_saliency, wrong) is False
        out = capsys.readouterr().out
        assert "✗" in out and words in out, (words, out)
    assert ex01.obd_saliency(todo) is None
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex01.obd_saliency, "not a function") is False


def test_checks_lookup_by_name():
    from course_utils import checks

    assert checks.ex01_magnitude_mask is ex01.magnitude_mask


def test_references_pass_their_checkers(capsys):
    """The notebook's main line and its "Stuck?" lines use these: they must pass the self-checks."""
    assert ex01.magnitude_mask(ex01.reference_magnitude_mask) is True
    assert ex01.layerwise_masks(ex01.reference_layerwise_masks) is True
    assert ex01.obd_saliency(ex01.reference_obd_saliency) is True
    assert capsys.readouterr().out.count("✓") == 3
    for name in ("reference_magnitude_mask", "reference_layerwise_masks", "reference_obd_saliency"):
        assert name not in ex01.__all__ and getattr(ex01, name).__doc__
