"""The PyTorch and Keras twins keep one signature per verb (issue 9, P1-4), checked from source.

Framework-free: both modules of each pair are parsed with ``ast`` (no torch, no TensorFlow import), so the
test runs anywhere and the two frameworks never meet in one process. A verb that exists in both twins must
have the same parameter names, kinds (positional / keyword-only) and defaults; ``fit`` may add the extras
listed in ``FIT_EXTRAS`` (they mean something only in one framework). Old names stay importable as aliases.
"""
from __future__ import annotations

import ast
from functools import cache

import pytest

from course_utils.paths import PACKAGE_DIR

PAIRS = {"train": ("train_torch", "train_tf"), "surgery": ("surgery_torch", "surgery_tf"),
         "pruning": ("pruning_torch", "pruning_tf")}

# verb -> pair: these must read the same in both twins
SAME = {
    "fit": "train",
    "evaluate": "train",
    "predict_logits": "train",
    "layer_widths": "surgery",
    "filter_norms": "surgery",
    "unit_scores": "surgery",
    "remove_units": "surgery",
    "remove_channels": "surgery",
    "magnitude_masks": "pruning",
}
# keyword-only parameters of fit that only one framework has (same name would mean something different)
FIT_EXTRAS = {"train_torch": {"weight_decay", "l1"}, "train_tf": {"callbacks", "compile"}}

# old names that must keep working: module -> {old name: new name}
ALIASES = {
    "surgery_tf": {"structure": "layer_widths", "filter_l1_norms": "filter_norms", "unit_l2_norms": "unit_scores",
                   "mean_activations": "unit_scores", "random_scores": "unit_scores"},
    "surgery_torch": {"l1_filter_norms": "filter_norms"},
    "pruning_tf": {"prune_model": "wrap_for_pruning", "apply_masks": "multiply_masks"},
}


@cache
def tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE_DIR / f"{module}.py").read_text())


def top_level_names(module: str) -> set[str]:
    """Functions, classes and assigned names at module level, plus names imported into it."""
    out: set[str] = set()
    for node in tree(module).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            out.update(a.asname or a.name for a in node.names)
    return out


def signature(module: str, name: str) -> list[tuple[str, str, str | None]]:
    """``[(parameter, kind, default source)]`` of top-level function ``name``, as written."""
    fn = next((n for n in tree(module).body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    assert fn is not None, f"{module}.py defines no function {name!r}"
    a = fn.args
    positional = a.posonlyargs + a.args
    pos_defaults = [None] * (len(positional) - len(a.defaults)) + [ast.unparse(d) for d in a.defaults]
    out = [(p.arg, "positional", d) for p, d in zip(positional, pos_defaults)]
    if a.vararg:
        out.append((a.vararg.arg, "*args", None))
    out += [(p.arg, "keyword", None if d is None else ast.unparse(d)) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append((a.kwarg.arg, "**kwargs", None))
    return out


@pytest.mark.parametrize("verb", sorted(SAME))
def test_twins_have_one_signature_per_verb(verb):
    torch_mod, tf_mod = PAIRS[SAME[verb]]
    got_torch, got_tf = signature(torch_mod, verb), signature(tf_mod, verb)
    if verb == "fit":
        got_torch = [p for p in got_torch if p[0] not in FIT_EXTRAS[torch_mod]]
        got_tf = [p for p in got_tf if p[0] not in FIT_EXTRAS[tf_mod]]
    assert got_torch == got_tf, (
        f"{verb} differs between {torch_mod} and {tf_mod}:\n  {torch_mod}: {got_torch}\n  {tf_mod}: {got_tf}\n"
        "Give the twins the same parameters (names, order, keyword-only, defaults), or, if the meaning differs, "
        "a different name."
    )


def test_fit_extras_are_keyword_only_and_really_one_sided():
    for module, extras in FIT_EXTRAS.items():
        params = {p[0]: p[1] for p in signature(module, "fit")}
        assert extras <= set(params), f"{module}.fit lost {extras - set(params)}: update FIT_EXTRAS"
        assert all(params[e] == "keyword" for e in extras)
    torch_mod, tf_mod = PAIRS["train"]
    assert not FIT_EXTRAS[torch_mod] & {p[0] for p in signature(tf_mod, "fit")}
    assert not FIT_EXTRAS[tf_mod] & {p[0] for p in signature(torch_mod, "fit")}


def test_data_is_the_tuple_form_in_both_train_modules():
    for module in PAIRS["train"]:
        assert [p[0] for p in signature(module, "fit")][:2] == ["model", "train"]
        assert [p[0] for p in signature(module, "evaluate")][:2] == ["model", "data"]


@pytest.mark.parametrize("module", sorted(ALIASES))
def test_old_names_are_still_there(module):
    names = top_level_names(module)
    for old, new in ALIASES[module].items():
        assert old in names, f"{module}.{old} (old name of {new}) was removed; notebooks may still call it"
        assert new in names


def test_names_that_mean_something_else_in_the_twin_are_not_defined_twice():
    """pruning_tf.prune_model / apply_masks are deprecated aliases, not functions with the torch names."""
    defs = {n.name for n in tree("pruning_tf").body if isinstance(n, ast.FunctionDef)}
    assert not {"prune_model", "apply_masks"} & defs
    assert {"wrap_for_pruning", "multiply_masks"} <= defs
