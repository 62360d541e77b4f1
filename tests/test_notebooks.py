"""Execute every notebook in FAST mode (papermill) and check what it recorded.

Every notebook in notebooks/ must appear in EXPECTED; a new notebook without checks fails
``test_every_notebook_is_covered``. Each notebook is executed once: the same run is checked for its recorded
results and for the stored outputs of its ``# NBVAL_CHECK_OUTPUT`` cells (what nbval would compare). nbval itself
runs the learner edition (``pytest learner --nbval-lax --nbval-current-env``, on another CPU family's kernels: see
``make test``): with every exercise unsolved it must raise nothing and each self-check must print exactly
"not attempted".
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from course_utils import nbtools
from course_utils.results import REPO_ROOT
from course_utils.runner import notebooks, run_notebook

Check = Callable[[dict[str, Any]], None]


def _00(r):
    assert r["n_train"] + r["n_val"] == 4000 and r["n_val"] == 500 and r["n_test"] == 1000
    assert r["classes"] == 10
    assert r["mlp_params"] == 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10


def _12(r, runtime="onnx"):
    assert r["mlp_round_trip_identical"] and r["cnn_round_trip_identical"]  # reloading gives identical outputs
    assert r["mlp_sparsity"] >= 0.9 - 1e-3  # the >= 90 %-sparse MLP, even in FAST mode
    f = r["size_factors"]  # pruning + int8 + gzip vs the dense fp32 file; the factors multiply to the total
    assert abs(f["gzip"] * f["pruning"] * f["quantization"] - f["total"]) < 1e-6 * f["total"]
    assert abs(r["size_ratio_pruned_int8_gzip"] * f["total"] - 1) < 1e-9 and f["total"] > 4
    assert 0.1 < r["accuracy_pruned_int8"] <= 1
    assert r[f"latency_ratio_{runtime}_structured"] > 0 and r[f"latency_ratio_{runtime}_zeros"] > 0
    assert r[f"{runtime}_diff_over_bound"] <= 1  # export vs framework: within the float32 rounding bound
    s = r["shrink_factors_by_sparsity"]  # Exercise 2 on the dense weights: int8 wins at 50 %, pruning at 95 %
    assert s["0.50"]["quantization"] > s["0.50"]["pruning"] and s["0.95"]["pruning"] > s["0.95"]["quantization"]
    assert 0 <= r["negative_zero_fraction"] <= 1 and r["negative_zero_gzip_cost"] >= 1  # −0.0 costs gzip bytes
    if runtime == "onnx":  # every weight layer of the int8 graphs runs as MatMulInteger / ConvInteger
        assert r["onnx_int8_integer_ops"] > 0 and r["onnx_int8_float_matmuls"] == 0


def _12tf(r):
    _12(r, runtime="litert")  # the same keys as the PyTorch twin, LiteRT instead of ONNX Runtime

def _11(r):
    for k in ("vit_dense_accuracy", "magnitude_50_accuracy", "magnitude_rowwise_50_accuracy", "wanda_50_accuracy",
              "sparsegpt_50_accuracy", "random_50_accuracy", "magnitude_24_accuracy", "wanda_24_accuracy",
              "magnitude_rowwise_50_val_accuracy", "structured_accuracy"):
        assert 0 <= r[k] <= 1, (k, r[k])
    # the two effects of Wanda add up to Wanda - magnitude: each is (count - count) / n, so only float rounding
    # (~1e-16) separates the sum from the whole
    assert abs(r["magnitude_rowwise_minus_magnitude_50_val"] + r["wanda_minus_magnitude_rowwise_50_val"]
               - r["wanda_minus_magnitude_50_val"]) < 1e-9
    # slicing heads, FFN neurons and blocks == masking them, compared in float64 (rounding < 1e-12)
    assert r["surgery_vs_masking_max_diff"] < 1e-9
    # 2:4 costs reconstruction error (median over layers; the notebook asserts every layer in full mode)
    assert all(r["two_four_over_50_reconstruction_error"][m] > 1 for m in ("magnitude", "wanda"))
    assert r["two_four_pattern_ok"] is True
    assert r["sparsegpt_over_wanda_reconstruction_error_50"] < 1  # the OBS update lowers the layer-wise error
    assert r["outlier_magnitude_error_ratio"] > 1  # outlier features hurt magnitude pruning, not Wanda
    assert r["blocks_removed"] >= 1 and 0 < r["heads_removed_fraction"] < 1 and 0 < r["ffn_removed_fraction"] < 1
    assert r["structured_mac_ratio"] > 2 and r["structured_param_ratio"] > 1.5 and r["structured_latency_speedup"] > 0


# notebook stem -> (keys it must record, extra check on the values in FAST mode)
EXPECTED: dict[str, tuple[set[str], Check | None]] = {
    "00_index": ({"n_train", "n_val", "n_test", "classes", "mlp_params"}, _00),
    "10_pruning_a_transformer_pytorch": ({"vit_dense_accuracy", "vit_dense_val_accuracy", "magnitude_50_accuracy",
                                          "wanda_50_accuracy", "sparsegpt_50_accuracy", "random_50_accuracy",
                                          "magnitude_24_accuracy", "wanda_24_accuracy", "magnitude_50_val_accuracy",
                                          "wanda_50_val_accuracy", "sparsegpt_50_val_accuracy",
                                          "random_50_val_accuracy", "magnitude_24_val_accuracy",
                                          "wanda_24_val_accuracy", "sparsegpt_24_accuracy", "random_24_accuracy",
                                          "heads_removed_fraction", "ffn_removed_fraction", "blocks_removed",
                                          "structured_latency_speedup", "structured_latency_speedup_batch1",
                                          "structured_accuracy", "structured_val_accuracy",
                                          "structured_cut_val_accuracy", "structured_mac_ratio",
                                          "structured_param_ratio", "surgery_vs_masking_max_diff",
                                          "wanda_minus_magnitude_50_val", "wanda_vs_magnitude_50_within_noise",
                                          "sparsegpt_over_wanda_reconstruction_error_50",
                                          "outlier_magnitude_error_ratio", "heads_by_score_minus_random_val",
                                          "ffn_by_score_minus_random_val", "two_four_pattern_ok",
                                          "retrained_24_val_accuracy", "retrained_24_accuracy", "seed",
                                          "magnitude_rowwise_50_accuracy", "magnitude_rowwise_50_val_accuracy",
                                          "magnitude_rowwise_minus_magnitude_50_val",
                                          "wanda_minus_magnitude_rowwise_50_val",
                                          "magnitude_rowwise_over_magnitude_reconstruction_error_50",
                                          "wanda_over_magnitude_rowwise_reconstruction_error_50",
                                          "two_four_over_50_reconstruction_error", "two_four_minus_50_val",
                                          "feature_norm_max_over_median", "block_by_influence_minus_random_val"},
                                         _11),
    "09_shipping_a_pruned_model_pytorch": ({"mlp_sparsity", "mlp_round_trip_identical", "cnn_round_trip_identical",
                                            "onnx_max_abs_diff", "size_ratio_pruned_int8_gzip", "size_factors",
                                            "accuracy_pruned_int8", "accuracy_pruned_int8_val", "accuracy_dense_fp32",
                                            "latency_ratio_onnx_structured", "latency_ratio_onnx_zeros",
                                            "latency_ratio_onnx_int8", "onnx_diff_over_bound",
                                            "onnx_int8_integer_ops", "onnx_int8_float_matmuls",
                                            "shrink_factors_by_sparsity", "negative_zero_fraction",
                                            "negative_zero_gzip_cost", "seed"}, _12),
    "09_shipping_a_pruned_model_tensorflow": ({"mlp_sparsity", "mlp_round_trip_identical",
                                               "cnn_round_trip_identical", "litert_max_abs_diff",
                                               "size_ratio_pruned_int8_gzip", "size_factors",
                                               "accuracy_pruned_int8", "accuracy_pruned_int8_val",
                                               "accuracy_dense_fp32", "latency_ratio_litert_structured",
                                               "latency_ratio_litert_zeros", "latency_ratio_litert_int8",
                                               "litert_diff_over_bound", "shrink_factors_by_sparsity",
                                               "negative_zero_fraction", "negative_zero_gzip_cost",
                                               "seed"}, _12tf),
}


def _lesson_expectations() -> dict[str, tuple[set[str], Check | None]]:
    """The ``EXPECTED`` entries of each lesson's module in tests/notebook_expectations/ (one per lesson: its core
    notebooks and their going-further notebooks), merged; a notebook may appear in one module only."""
    import importlib.util
    from pathlib import Path

    merged: dict[str, tuple[set[str], Check | None]] = {}
    for path in sorted((Path(__file__).parent / "notebook_expectations").glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"notebook_expectations_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        twice = set(merged) & set(module.EXPECTED)
        assert not twice, f"{path.name}: {sorted(twice)} already expected elsewhere"
        merged.update(module.EXPECTED)
    return merged


_twice = set(EXPECTED) & set(_lesson_expectations())
assert not _twice, f"notebooks expected twice: {sorted(_twice)}"
EXPECTED.update(_lesson_expectations())


def test_every_notebook_is_covered():
    stems = {p.stem for p in notebooks()}
    assert stems, "no notebooks found"
    missing = stems - set(EXPECTED)
    assert not missing, f"notebooks without harness checks (add them to EXPECTED): {sorted(missing)}"
    gone = set(EXPECTED) - stems
    assert not gone, f"EXPECTED names notebooks that do not exist: {sorted(gone)}"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_fast(path):
    out_dir = REPO_ROOT / "build" / "executed" / "test"
    res = run_notebook(path, fast=True, out_dir=out_dir)
    assert res.ok, f"{path.name} failed: {res.error} (see build/executed/test/{path.stem}.log)"
    # nbval's check, on this same execution: deterministic outputs match the stored ones
    problems = nbtools.checked_output_problems(path, json.loads((out_dir / path.name).read_text()))
    assert not problems, "\n".join(problems)
    keys, check = EXPECTED[path.stem]
    missing = keys - set(res.results)
    assert not missing, f"{path.name} did not record {sorted(missing)}"
    if check:
        check(res.results)
