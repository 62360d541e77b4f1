"""Self-checks for the exercises of 09_shipping_a_pruned_model_pytorch.

Each checker calls the learner's function on hidden cases, prints what was expected and what
came back (with a hint), and returns True or False. Usage in the notebook::

    from course_utils.checks import ex09
    ex09.deployable_state_dict(deployable_state_dict)

Exercise 1 turns a masked model into a state_dict that a plain model loads; Exercise 2 measures what pruning and
int8 each buy on gzipped weights at a given sparsity (framework-free numpy; the TensorFlow twin uses the same
checker). ``reference_size_factors`` splits the shipped files' shrink into its factors for the main line.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ._common import call as _call
from ._common import exercise as _exercise
from ._common import fail as _fail
from ._common import ok as _ok

__all__ = ["deployable_state_dict", "shrink_factors"]

#: The four files whose sizes ``reference_size_factors`` reads, by name.
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
    """The shrink from the dense fp32 file to the gzipped pruned int8 file, as a product of three factors taken in
    order: gzip alone, then pruning (at fp32, gzipped), then int8 (pruned, gzipped). ``sizes`` holds the bytes of
    ``SIZE_KEYS``; each factor is size before / size after its step, and ``"total"`` is their product (the dense
    fp32 file / the gzipped pruned int8 file). Introduced in 09_shipping_a_pruned_model_pytorch."""
    gzip_f = sizes["dense_fp32"] / sizes["dense_fp32_gzip"]
    pruning = sizes["dense_fp32_gzip"] / sizes["pruned_fp32_gzip"]
    quantization = sizes["pruned_fp32_gzip"] / sizes["pruned_int8_gzip"]
    return {"gzip": gzip_f, "pruning": pruning, "quantization": quantization,
            "total": sizes["dense_fp32"] / sizes["pruned_int8_gzip"]}


def _as_number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _not_callable(name: str, fn: Any) -> bool:
    return _fail(f"{name}: pass your function itself, e.g. ex09.{name}({name}); got {type(fn).__name__}.")


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
def _as_float32_arrays(weights: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {name: np.array(w, dtype=np.float32) for name, w in weights.items()}  # copies: the caller's stay intact


def _global_magnitude_prune(weights: Mapping[str, np.ndarray], sparsity: float) -> dict[str, np.ndarray]:
    """Zero the ``round(sparsity * n)`` smallest-magnitude weights over all arrays together (one threshold)."""
    flat = np.concatenate([w.ravel() for w in weights.values()])
    n_zero = int(round(sparsity * flat.size))
    flat[np.argsort(np.abs(flat), kind="stable")[:n_zero]] = 0
    out, start = {}, 0
    for name, w in weights.items():
        out[name] = flat[start:start + w.size].reshape(w.shape)
        start += w.size
    return out


def _int8(w: np.ndarray) -> np.ndarray:
    """Symmetric per-tensor int8: ``q = round(w / scale)`` with ``scale = max|w| / 127`` (so q is in [-127, 127])."""
    top = float(np.abs(w).max())
    return np.round(w / (top / 127 if top > 0 else 1.0)).astype(np.int8)


def _shrink(weights: Mapping[str, Any], sparsity: float, *, per_layer: bool = False, dtype: Any = np.float32,
            scaled: bool = True, compress: bool = True) -> dict[str, float]:
    """The reference measurement and, with the keyword arguments, the typical mistakes the checker recognises."""
    from .. import metrics

    arrays = {name: np.array(w, dtype=dtype) for name, w in weights.items()}
    if per_layer:
        pruned = {name: _global_magnitude_prune({name: w}, sparsity)[name] for name, w in arrays.items()}
    else:
        pruned = _global_magnitude_prune(arrays, sparsity)
    size = metrics.gzip_bytes if compress else len
    dense_fp32 = size(b"".join(w.tobytes() for w in arrays.values()))
    pruned_fp32 = size(b"".join(w.tobytes() for w in pruned.values()))
    pruned_int8 = size(b"".join((_int8(w) if scaled else w.astype(np.int8)).tobytes() for w in pruned.values()))
    return {"pruning": dense_fp32 / pruned_fp32, "quantization": pruned_fp32 / pruned_int8}


def reference_shrink_factors(weights: Mapping[str, Any], sparsity: float) -> dict[str, float]:
    """Exercise 2's reference: what pruning and int8 each buy on the gzipped weights at ``sparsity`` (a fraction).

    ``weights`` maps a layer name to its weight array (any float dtype; stored as float32). Prunes a copy by
    global magnitude (the ``round(sparsity * n)`` smallest ``|w|`` over all layers become 0), then quantizes the
    pruned copy to symmetric per-tensor int8 (``q = round(w / scale)``, ``scale = max|w| / 127``). Returns
    ``{"pruning": gzip bytes of the dense fp32 weights / of the pruned fp32 weights, "quantization": gzip bytes of
    the pruned fp32 weights / of the pruned int8 weights}`` (each above 1 when the step shrinks the file; gzip
    level 9, ``metrics.gzip_bytes``). ``weights`` is not modified. Introduced in 09_shipping_a_pruned_model_pytorch.
    """
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be a fraction in [0, 1), got {sparsity}")
    return _shrink(_as_float32_arrays(weights), sparsity)


def _shrink_cases() -> list[tuple[str, dict[str, np.ndarray], float]]:
    """Small MLP-like weight sets (Gaussian, one scale per layer) and sparsities on both sides of the crossing."""
    cases = []
    for seed, sparsities in ((4, (0.4, 0.95)), (9, (0.8,))):
        rng = np.random.default_rng(seed)
        weights = {f"fc{i}": (rng.standard_normal(shape) * scale).astype(np.float32)
                   for i, (shape, scale) in enumerate((((96, 196), 0.06), ((48, 96), 0.1), ((10, 48), 0.2)), 1)}
        cases += [(f"weights {sum(w.size for w in weights.values()):,} (seed {seed}), sparsity {s:.0%}", weights, s)
                  for s in sparsities]
    return cases


#: Relative tolerance of the accepted factors: another rule for ties or for rounding the count of zeros changes a
#: factor by well under 1 %; each mistake the checker names moves a factor by more than 4 % in at least one case.
SHRINK_RTOL = 0.03


def _close(got: Mapping[str, float], want: Mapping[str, float], rtol: float = SHRINK_RTOL) -> bool:
    return all(abs(got[k] - want[k]) <= rtol * abs(want[k]) for k in want)


@_exercise
def shrink_factors(fn: Callable[[Mapping[str, Any], float], Any]) -> bool:
    """Exercise 2: ``fn(weights, sparsity)`` → ``{"pruning", "quantization"}``, what each step buys on the gzipped
    weights (see :func:`reference_shrink_factors`), leaving ``weights`` unchanged."""
    if not callable(fn):
        return _fail(f"shrink_factors: pass your function itself, e.g. ex09.shrink_factors(shrink_factors); "
                     f"got {type(fn).__name__}.")
    for what, weights, sparsity in _shrink_cases():
        given = {name: w.copy() for name, w in weights.items()}
        ok, got = _call(fn, given, sparsity)
        if not ok:
            return False
        if any(not np.array_equal(given[name], w) for name, w in weights.items()):
            return _fail(f"{what}: your function changed the weights it was given",
                         "prune a copy: the notebook measures the same dense weights at several sparsities")
        want = reference_shrink_factors(weights, sparsity)
        if not isinstance(got, Mapping) or not set(want) <= set(got):
            return _fail(f"{what}: expected a dict with the keys {sorted(want)}, got "
                         f"{sorted(got) if isinstance(got, Mapping) else type(got).__name__}")
        values = {k: _as_number(got[k]) for k in want}
        if any(v is None or v <= 0 for v in values.values()):
            return _fail(f"{what}: both factors must be positive finite numbers, got "
                         f"{ {k: got[k] for k in want} }")
        if _close(values, want):
            continue
        shown = f"{what}: expected about " + ", ".join(f"{k} {want[k]:.2f}" for k in want) + "; got " + \
            ", ".join(f"{k} {values[k]:.2f}" for k in want)
        inverted = {k: 1 / want[k] for k in want}
        from_dense = {**want, "quantization": want["pruning"] * want["quantization"]}
        if _close(values, inverted):
            hint = "a factor is the size before the step / the size after it (above 1 when the file shrinks)"
        elif _close(values, _shrink(weights, sparsity, compress=False)):
            hint = ("these are the raw byte counts: a dense array stores a zero in 4 bytes like any other number; "
                    "compare gzipped sizes (metrics.gzip_bytes)")
        elif abs(values["quantization"] - from_dense["quantization"]) <= SHRINK_RTOL * from_dense["quantization"]:
            hint = "int8's factor starts from the pruned fp32 weights (pruning came first), not the dense ones"
        elif _close(values, _shrink(weights, sparsity, scaled=False)):
            hint = ("casting floats of size ~0.1 to int8 makes almost all of them 0: divide by a scale first, so the "
                    "largest |w| of each tensor maps to 127")
        elif _close(values, _shrink(weights, sparsity, dtype=np.float64)):
            hint = "the fp32 file stores 4 bytes per weight: convert the arrays to float32 before taking their bytes"
        elif sparsity != 0.5 and _close(values, _shrink(weights, 1 - sparsity)):
            hint = "sparsity is the fraction of weights set to zero, not the fraction kept"
        elif _close(values, _shrink(weights, sparsity, per_layer=True)):
            hint = ("you pruned each layer to the sparsity on its own; this exercise ranks all weights together "
                    "(global magnitude, one threshold), as the pruned MLP was")
        else:
            hint = ("prune a copy (the round(sparsity * n) smallest |w| over all layers become 0), then quantize the "
                    "pruned copy per tensor; each factor divides the gzipped size before its step by the size after")
        return _fail(shown, hint)
    return _ok("shrink_factors: pruning and int8 measured on the gzipped weights, each from the step before")
