"""Self-checks for the exercises of 12_shipping_a_pruned_model_pytorch.

Each checker calls the learner's function on hidden cases, prints what was expected and what
came back (with a hint), and returns True or False. Usage in the notebook::

    from course_utils.checks import ex12
    ex12.deployable_state_dict(deployable_state_dict)

Exercise 1 turns a masked model into a state_dict that a plain model loads; Exercise 2 splits the
"pruning + int8" shrink into its factors (framework-free; the TensorFlow twin uses the same checker).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["deployable_state_dict", "size_factors"]

#: The four files of Exercise 2, by name.
SIZE_KEYS: tuple[str, ...] = ("dense_fp32", "dense_fp32_gzip", "pruned_fp32_gzip", "pruned_int8_gzip")


def reference_deployable_state_dict(model: Any) -> dict[str, Any]:
    """Exercise 1's reference: the state_dict a never-pruned model of the same shape loads: each pruned
    parameter as a plain ``weight`` = ``weight_orig * weight_mask`` (the zeros folded in), no ``weight_orig`` /
    ``weight_mask``. The same as ``prune.remove`` on a copy; ``model`` itself stays pruned (it can go on training
    with its masks)."""
    state = model.state_dict()
    out = {}
    for key, value in state.items():
        if key.endswith("_mask"):
            continue
        if key.endswith("_orig"):
            base = key[: -len("_orig")]
            out[base] = (value * state[base + "_mask"]).detach().clone()
        else:
            out[key] = value.detach().clone()
    return out


def reference_size_factors(sizes: Mapping[str, int]) -> dict[str, float]:
    """Exercise 2's reference: the shrink from the dense fp32 file to the gzipped pruned int8 file, as a product
    of three factors taken in order: gzip alone, then pruning (at fp32, gzipped), then int8 (pruned, gzipped)."""
    gzip_f = sizes["dense_fp32"] / sizes["dense_fp32_gzip"]
    pruning = sizes["dense_fp32_gzip"] / sizes["pruned_fp32_gzip"]
    quantization = sizes["pruned_fp32_gzip"] / sizes["pruned_int8_gzip"]
    return {"gzip": gzip_f, "pruning": pruning, "quantization": quantization,
            "total": sizes["dense_fp32"] / sizes["pruned_int8_gzip"]}


def _not_callable(name: str, fn: Any) -> bool:
    return _fail(f"{name}: pass your function itself, e.g. ex12.{name}({name}); got {type(fn).__name__}.")


# ----------------------------------------------------------------------------- exercise 1
def _masked_mlps() -> list[tuple[str, Any]]:
    import torch
    from torch.nn.utils import prune

    from .. import models_torch

    cases = []
    for seed, hidden, amount in ((3, (20, 12), 0.7), (5, (16, 8), 0.9)):
        model = models_torch.mlp(hidden=hidden, seed=seed)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.Linear):
                    m.bias.uniform_(-0.5, 0.5)
        with torch.no_grad():
            for name in ("fc1", "fc2"):
                prune.l1_unstructured(getattr(model, name), "weight", amount=amount)
        cases.append((f"MLP {hidden}, fc1 and fc2 {amount:.0%} masked", model))
    return cases


@_exercise
def deployable_state_dict(fn: Callable[[Any], Any]) -> bool:
    """Exercise 1: ``fn(model)`` → a state_dict that a plain (never pruned) model of the same shape loads, holding
    the masked weights' zeros, with ``model`` itself left pruned."""
    import torch

    from .. import models_torch

    if not callable(fn):
        return _not_callable("deployable_state_dict", fn)
    for what, model in _masked_mlps():
        before = {k: v.clone() for k, v in model.state_dict().items()}
        ok, sd = _call(fn, model)
        if not ok:
            return False
        if not isinstance(sd, Mapping):
            return _fail(f"{what}: expected a dict of tensors (a state_dict), got {type(sd).__name__}",
                         "return clean.state_dict() of the cleaned copy")
        extra = [k for k in sd if k.endswith(("_orig", "_mask"))]
        if extra:
            return _fail(f"{what}: the state_dict still holds {extra[:2]}",
                         "weight_orig and weight_mask stay until torch.nn.utils.prune.remove(module, 'weight') "
                         "folds them into a plain weight; call it on a copy of the model")
        if model.state_dict().keys() != before.keys() or any(
                not torch.equal(model.state_dict()[k], v) for k, v in before.items()):
            return _fail(f"{what}: your function changed the model it was given (its masks are gone)",
                         "build a new dict from model.state_dict() (or prune.remove on a copy): the pruned model may "
                         "still be fine-tuned with its masks")
        plain = models_torch.mlp(hidden=(model.fc1.out_features, model.fc2.out_features))
        try:
            plain.load_state_dict(sd)
        except (RuntimeError, TypeError, KeyError) as e:
            return _fail(f"{what}: a plain MLP cannot load it: {str(e).splitlines()[0]}",
                         "the keys must be those of a never-pruned model: fc1.weight, fc1.bias, ...")
        for name in ("fc1", "fc2", "fc3"):
            want = getattr(model, name).weight.detach()  # masked layers: weight = weight_orig * weight_mask
            got = sd[f"{name}.weight"]
            if not torch.equal(got, want):
                hint = ("these are the values before masking (weight_orig): the zeros are missing"
                        if name != "fc3" and torch.equal(got, getattr(model, name).weight_orig.detach())
                        else "read each layer's weight through the mask, as prune.remove does")
                return _fail(f"{what}: {name}.weight differs from the masked weight the model uses", hint)
    return _ok("deployable_state_dict: plain weight tensors with the zeros folded in; the pruned model is untouched")


# ----------------------------------------------------------------------------- exercise 2
_SIZE_CASES: tuple[dict[str, int], ...] = (
    {"dense_fp32": 1_067_000, "dense_fp32_gzip": 985_000, "pruned_fp32_gzip": 190_000, "pruned_int8_gzip": 81_000},
    {"dense_fp32": 400_000, "dense_fp32_gzip": 370_000, "pruned_fp32_gzip": 100_000, "pruned_int8_gzip": 50_000},
    {"dense_fp32": 1000, "dense_fp32_gzip": 500, "pruned_fp32_gzip": 250, "pruned_int8_gzip": 100},
)


def _as_number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@_exercise
def size_factors(fn: Callable[[Mapping[str, int]], Any]) -> bool:
    """Exercise 2: ``fn(sizes)`` with the bytes of ``SIZE_KEYS`` → ``{"gzip", "pruning", "quantization", "total"}``,
    the factors by which each step (in that order) shrinks the file; their product is the total."""
    if not callable(fn):
        return _fail(f"size_factors: pass your function itself, e.g. ex12.size_factors(size_factors); "
                     f"got {type(fn).__name__}.")
    for sizes in _SIZE_CASES:
        ok, got = _call(fn, dict(sizes))
        if not ok:
            return False
        want = reference_size_factors(sizes)
        if not isinstance(got, Mapping) or set(got) != set(want):
            return _fail(f"sizes {sizes}: expected a dict with the keys {sorted(want)}, got "
                         f"{sorted(got) if isinstance(got, Mapping) else type(got).__name__}")
        values = {k: _as_number(got[k]) for k in want}
        if any(v is None for v in values.values()):
            return _fail(f"sizes {sizes}: every factor must be a finite number, got {dict(got)}")
        for key, w in want.items():
            v = values[key]
            if abs(v - w) > 1e-6 * w:
                if abs(v * w - 1) < 1e-6:
                    hint = "a factor is old size / new size (above 1 when the file shrinks), not new / old"
                elif key == "quantization" and abs(v - sizes["dense_fp32_gzip"] / sizes["pruned_int8_gzip"]) < 1e-6 * v:
                    hint = "int8's factor starts from the pruned fp32 file (pruning came first), not the dense one"
                elif key == "pruning" and abs(v - sizes["dense_fp32"] / sizes["pruned_fp32_gzip"]) < 1e-6 * v:
                    hint = "pruning's factor starts from the gzipped dense file; gzip alone has its own factor"
                else:
                    hint = "each factor divides the size before that step by the size after it"
                return _fail(f"sizes {sizes}: {key} should be {w:.4g}, got {v:.4g}", hint)
        product = values["gzip"] * values["pruning"] * values["quantization"]
        if abs(product - values["total"]) > 1e-6 * values["total"]:
            return _fail(f"sizes {sizes}: the three factors multiply to {product:.4g}, "
                         f"not the total {values['total']:.4g}")
    return _ok("size_factors: gzip × pruning × int8 = the total shrink, each factor from the step before")
