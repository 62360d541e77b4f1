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


def _01(r):
    assert r["loss_after_magnitude_50"] < r["loss_after_random_50"] < r["loss_after_largest_50"]
    assert r["loss_before"] <= r["loss_after_magnitude_50"] + 0.05
    assert r["taylor_median_rel_error_second_order"] <= r["taylor_median_rel_error_first_order"]
    assert r["fractions"][0] == 0.0 and r["fractions"][-1] == 0.99
    assert set(r["loss_curve"]) == {"smallest", "random", "largest"}
    assert 0 <= r["obd_magnitude_overlap_50"] <= 1  # OBD vs |w| on fc3 (Ex. 3), ranked in full mode
    assert all(abs(r[k]) < 10 for k in ("obd_fc3_delta_loss_50", "magnitude_fc3_delta_loss_50",
                                        "random_fc3_delta_loss_50"))


def _01tf(r):
    assert r["forward_diff_over_float32_bound"] <= 1  # the three matmuls are the Keras model, up to float32 rounding
    assert r["loss_after_magnitude_50"] < r["loss_after_random_50"] < r["loss_after_largest_50"]
    assert r["loss_before"] <= r["loss_after_magnitude_50"] + 0.05
    assert r["fractions"][0] == 0.0 and r["fractions"][-1] == 0.99
    assert set(r["loss_curve"]) == {"smallest", "random", "largest"}  # the same keys as the PyTorch twin
    assert r["taylor_median_rel_error_second_order"] <= r["taylor_median_rel_error_first_order"]  # as the twin


def _recipe_rule(r):
    """02/03: the final recipe follows the rule fixed in advance: the default, unless recipes beat it on validation
    by more than noise (then the highest of those); the same rule at 97 %; the final model is the chosen one."""
    recipes = {"fine-tune", "gradual, longer", "LR rewinding", "distillation"}
    rv, d, better = r["recovery_val_accuracy"], r["recovery_default"], r["recovery_clearly_better"]
    assert set(rv) == recipes and d in recipes and set(better) <= recipes - {d}, (rv, d, better)
    assert all(rv[b] > rv[d] for b in better), (rv, better)  # more than noise above the default: a higher score
    assert r["final_model"] == (max(better, key=rv.get) if better else d), (r["final_model"], rv, better)
    rv97 = r["recovery_val_accuracy_97"]
    assert set(rv97) == recipes and rv97[r["best_at_97_recipe"]] >= rv97[d], rv97  # the default or one above it
    assert abs(r["pruned_val_accuracy"] - rv[r["final_model"]]) < 1e-9  # and it is the final model


def _02(r):
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert r["sparsity"] >= 0.95 - 1e-9  # the final model holds >= 95 % sparsity (issue 11), even in FAST mode
    assert r["best_at_97_sparsity"] >= 0.97 - 1e-9 and 0 <= r["best_at_97_accuracy"] <= 1  # reported, not a target
    assert r["gzip_ratio"] > 3 and r["masked_state_dict_ratio"] > 1.5  # masks double the file until prune.remove
    assert set(r["layer_sparsity"]) == {"fc1", "fc2", "fc3"}
    t, o = r["tradeoff"], r["tradeoff_oneshot"]
    assert len(t["sparsity"]) >= 5 and {"layer-wise", "global", "random"} <= set(t) <= set(o)
    i = t["sparsity"].index(0.9)
    v = r["tradeoff_oneshot_val"]  # decisions and claims on validation, not on test
    assert v["global"][i] > v["random"][i] + 0.05, v  # magnitude beats the random control
    _recipe_rule(r)
    assert r["gradual_loop_same_masks"] is True  # the loop written out == pt.iterative_prune, mask for mask
    assert r["test_within_1_point"] == (r["test_difference_points"] >= -1)  # the headline, reported (not asserted)
    assert r["serialization_roundtrip_identical"] is True  # prune.remove + save/load, and prune.identity + load


def _03(r):
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert round(r["sparsity"], 3) >= 0.95  # the final model holds >= 95 % sparsity (issue 11), even in FAST mode
    assert r["best_at_97_sparsity"] >= 0.96 and 0 <= r["best_at_97_accuracy"] <= 1  # reported, not a target
    _recipe_rule(r)  # the same recipes and the same rule as 02
    assert r["test_within_1_point"] == (r["test_difference_points"] >= -1)  # the headline, reported (not asserted)
    assert r["allocation_choice"] == max(r["allocation_val_accuracy"], key=r["allocation_val_accuracy"].get)
    assert r["wrapped_roundtrip_identical"] is True  # prune_scope load of a wrapped .h5/.keras: same outputs, steps
    assert abs(r["custom_loop_sparsity"] - 0.8) < 1e-3 and abs(r["prunable_layer_sparsity"] - 0.8) < 1e-3
    assert r["block_sparsity_whole_blocks"] is True
    assert r["gzip_ratio"] > 3
    assert r["tflite_bytes_sparse"] < r["tflite_bytes_pruned"] == r["tflite_bytes_dense"]
    t, o = r["tradeoff"], r["tradeoff_oneshot_val"]
    assert len(t["sparsity"]) >= 5 and {"layer-wise", "global", "random"} <= set(t) <= set(r["tradeoff_val"])
    i = t["sparsity"].index(0.9)
    assert o["global"][i] > o["random"][i] + 0.05, o  # magnitude beats chance (validation)
    assert r["seed"] == 0 and isinstance(r["choice_within_noise"], bool)
    assert abs(r["snippet_fixed_sparsity"] - 0.9) <= 0.01  # end_step computed from the data reaches the target


def _04(r):
    assert r["masked_vs_removed_diff_over_bound"] <= 1  # real removal computes what the mask computes (float64)
    assert r["hand_vs_surgery_identical"] is True  # fc1 sliced by hand == surgery.remove_units, same logits
    assert r["units_removed_fraction"] >= 0.5 and r["param_ratio"] >= 2.0 and r["mac_ratio"] >= 2.0
    assert r["latency_speedup"] > r["masked_speedup"]  # removal is faster than masking, even in FAST mode
    assert r["no_ft_accuracy_l2_50"] > r["no_ft_accuracy_random_50"] - 0.1, r  # no catastrophic L2 ranking
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1


def _05(r):
    assert r["masked_vs_removed_diff_over_bound"] <= 1  # Keras surgery computes what the mask computes (float64)
    assert r["units_removed_fraction"] >= 0.5 and r["param_ratio"] >= 2.0 and r["mac_ratio"] >= 2.0
    assert 0.5 <= r["amount_chosen_on_val"] < 1
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert 0 <= r["no_ft_accuracy_taylor_50"] <= 1  # the GradientTape Taylor score of Exercise 1, on validation
    assert 0.05 <= r["taylor_top5pct_images_share"] <= 1  # the top 5 % of images carry at least their share
    plan = r["mac_budget_plan"]  # Exercise 2: the fewest units that meet half the dense MACs
    assert plan["macs"] <= plan["budget"] and plan["removed_fc1"] > plan["removed_fc2"]


def _06(r):
    assert r["hand_vs_torch_pruning_identical"] is True  # by-hand surgery == torch-pruning, bit for bit
    assert r["channels_removed_fraction"] >= 0.5 and r["mac_ratio"] >= 3.0 and r["param_ratio"] > 1.5
    assert r["latency_speedup"] > r["masked_speedup"]  # channel removal is faster than masking
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert 0.1 < r["dense_val_accuracy"] <= 1 and 0.1 < r["pruned_val_accuracy"] <= 1


def _07(r):
    assert r["masked_vs_removed_diff_over_bound"] <= 1  # channel surgery (BN, next conv, NHWC fc) == channel mask
    assert r["channels_removed_fraction"] >= 0.5 and r["mac_ratio"] >= 3.0 and r["param_ratio"] > 1.5
    assert r["tflite_bytes"]["pruned"] < r["tflite_bytes"]["dense"]
    assert r["two_four_pattern_ok"] is True
    assert r["xnnpack_policy_rejects_small_cnn"] is True and r["xnnpack_policy_wrapped"] == ["pw1", "pw2", "pw3"]
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert r["equivalent_rescale_diff_over_bound"] <= 1  # Exercise 1: same function (float64), reversed L1 ranking
    assert 0 <= r["accuracy_after_cut"] <= 1 and 0 <= r["accuracy_after_cut_bn_recalibrated"] <= 1
    assert r["tflite_folds_bn"] is True and r["bn_fold_speedup"] > 0
    assert isinstance(r["x86_avx"], bool) and r["xnnpack_test_sees_other_kernels"] in (True, False)
    if r["x86_avx"]:  # XNNPACK's sparse path is off on x86 with AVX: the same dense kernels, the same bits
        assert r["xnnpack_sparse_outputs_identical"] is True
    assert r["blocks_total"] == 6 and r["blocks_removed"] == 3 and r["depth_mac_ratio"] > 1.5  # layer pruning
    assert 0.1 < r["depth_dense_accuracy"] <= 1 and 0.1 < r["depth_pruned_accuracy"] <= 1


def _08(r):
    models = ("MLP dense", "MLP 90% masked", "MLP 90% zeros", "MLP 90% CSR", "MLP ½ neurons", "CNN dense",
              "CNN ½ channels")
    assert set(r["summary"]) == set(models)
    assert r["summary"]["MLP dense"]["params"] == 266_610 and r["summary"]["MLP ½ neurons"]["params"] == 125_810
    assert r["summary"]["MLP 90% zeros"]["nonzero_macs"] == 26_620  # exactly 10 % of 266,200 weights kept
    assert r["csr_vs_dense_ratio_at_50_b1"] > 1 and r["csr_vs_dense_ratio_at_50_b256"] > 1  # CSR slower at 50 %
    for k in ("csr_break_even_sparsity_b1", "csr_break_even_sparsity_b256"):
        assert r[k] is None or 0.5 < r[k] < 1, (k, r[k])
    assert r["csr_break_even_sparsity"] == r["csr_break_even_sparsity_b256"]
    assert 0.5 < r["csr_storage_break_even_int32"] < r["csr_storage_break_even_int64"] < 0.7
    assert r["gzip_ratio_90"] < 1 and r["masked_file_ratio"] > 1.5
    assert r["gzip_ratio_masks_attached"] > 1  # weight_orig keeps the dense values until prune.remove
    assert -1 <= r["per_class_max_drop"] <= 1
    assert 0.7 <= r["zeros90_latency_ratio_b256"] <= 1.4
    assert r["neuron_speedup_b256"] > 1 and r["channel_speedup_b256"] > 1
    ops = r["operating_points"]
    assert len(ops) >= 5
    assert ops["0.90"]["magnitude_val_mean"] > ops["0.90"]["random_val_mean"]  # the control, on validation
    assert ops["0.90"]["compression_ratio"] > ops["0.90"]["csr_byte_ratio"]  # indices cost bytes
    assert r["control_val_difference"]["0.90"] > 0


def _08tf(r):
    models = ("MLP dense", "MLP 90% wrapped", "MLP 90% stripped", "MLP ½ neurons", "MLP dense TFLite",
              "MLP 90% sparse TFLite", "CNN dense", "CNN ½ channels", "CNN 90% stripped", "CNN dense TFLite",
              "CNN 90% sparse TFLite")
    s = r["summary"]
    assert set(s) == set(models)
    assert s["MLP dense"]["params"] == 266_610 and s["MLP ½ neurons"]["params"] == 125_810  # same as the twin
    assert s["MLP 90% stripped"]["nonzero_macs"] == 26_620  # exactly 10 % of 266,200 weights kept
    assert s["MLP 90% wrapped"]["params"] == s["MLP dense"]["params"]  # masks are not parameters
    assert r["masked_file_ratio"] > 1.5  # a mask saved next to every kernel
    assert r["gzip_ratio_masks_attached"] < 1 and r["gzip_ratio_90"] < 1  # TFMOT zeroes the kernel while wrapped
    assert r["tflite_sparse_file_ratio"] < 0.3
    assert 0.5 < r["csr_storage_break_even_int32"] < r["csr_storage_break_even_int64"] < 0.7
    assert -1 <= r["per_class_max_drop"] <= 1 and len(r["per_class_accuracy_change"]) == 10
    assert r["tflite_sparse_vs_dense_latency_ratio"] > 0 and isinstance(r["x86_avx"], bool)
    assert set(r["latency_ratio_by_statistic_b256"]["CNN ½ channels"]) == {"min", "median", "paired"}


def _09(r):
    for k in ("l1_near_zero_fraction", "baseline_near_zero_fraction", "l2_near_zero_fraction",
              "dropout_near_zero_fraction"):
        assert 0 <= r[k] <= 1, (k, r[k])
    assert r["l1_abs_sum_ratio"] < 1  # the L1 penalty shrinks sum|w| even in a few FAST steps
    assert r["l1_near_zero_fraction"] >= r["baseline_near_zero_fraction"]
    assert r["l1_thresholded_gzip_bytes"] <= r["baseline_thresholded_gzip_bytes"]
    assert 1 <= r["early_stopping_epoch"] <= r["epochs"]
    assert abs(r["magnitude_pruned_sparsity"] - 0.9) < 1e-3
    for k in ("magnitude_pruned_accuracy", "large_sparse_accuracy", "small_dense_accuracy", "l1_finetuned_accuracy",
              "l2_finetuned_accuracy", "l1_finetuned_val_accuracy", "l2_finetuned_val_accuracy"):
        assert 0.1 < r[k] <= 1, (k, r[k])
    free = r["free_sparsity"]  # Exercise 1's measure, per model: a fraction 0-1
    assert {"none", "L1", "L2", "dropout"} <= set(free) and all(0 <= v <= 1 for v in free.values()), free
    assert r["l1_fate_crossing_step"] >= 1  # Exercise 3: the framework's SGD crossed 0 at the predicted step


def _10(r):
    assert isinstance(r["budget_met"], bool)
    assert r["capstone_mac_ratio"] <= 0.25 and r["capstone_gzip_ratio"] <= 0.2  # size limits hold even in FAST mode
    for k in ("capstone_accuracy", "lottery_ticket_accuracy", "random_reinit_accuracy"):
        assert 0.1 < r[k] <= 1, (k, r[k])
    w = r["weights_remaining"]
    assert w[0] == 1.0 and len(w) >= 3 and all(abs(b / a - 0.8) < 0.01 for a, b in zip(w, w[1:]))  # 20% per round
    assert len(r["lottery_ticket_accuracies"]) == len(r["random_reinit_accuracies"]) == len(w)
    assert r["lottery_ticket_accuracy"] == r["lottery_ticket_accuracies"][-1]
    lo, hi = r["capstone_drop_interval"]  # the paired 95% interval of the test drop brackets the drop
    assert lo - 1e-9 <= r["capstone_accuracy_drop"] <= hi + 1e-9
    lo, hi = r["lottery_ticket_late_val_interval"]  # pooled late rounds, ticket − random: brackets the mean gap
    assert lo - 1e-4 <= r["lottery_ticket_late_val_gap"] <= hi + 1e-4  # (the interval is rounded to 4 decimals)
    assert 0.1 < r["late_rewind_accuracy"] <= 1 and 0.1 < r["late_rewind_val_accuracy"] <= 1
    change = r["per_class_accuracy_change"]  # one per digit, pruned − dense on test
    assert len(change) == 10 and abs(r["per_class_max_drop"] + min(change)) < 1e-9


def _10tf(r):
    _10(r)  # the same lesson and the same keys as the PyTorch capstone
    assert r["capstone_latency_ratio"] > 0
    assert 0 <= r["per_class_max_drop"] <= 1


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
    "01_loss_before_and_after_pytorch": ({"loss_before", "loss_after_magnitude_50", "loss_after_random_50",
                                  "loss_after_largest_50", "fractions", "loss_curve",
                                  "taylor_median_rel_error_first_order",
                                  "taylor_median_rel_error_second_order", "obd_fc3_delta_loss_50",
                                  "magnitude_fc3_delta_loss_50", "random_fc3_delta_loss_50",
                                  "obd_magnitude_overlap_50"}, _01),
    "01_loss_before_and_after_tensorflow": ({"loss_before", "accuracy_before", "loss_after_magnitude_50",
                                             "loss_after_random_50", "loss_after_largest_50",
                                             "accuracy_after_magnitude_50", "accuracy_after_random_50",
                                             "fractions", "loss_curve", "max_fraction_within_1pt_magnitude",
                                             "forward_matches_keras_max_diff", "forward_diff_over_float32_bound",
                                             "gradient_norm_val_over_train", "taylor_median_rel_error_first_order",
                                             "taylor_median_rel_error_second_order"}, _01tf),
    "02_weight_pruning_pytorch": ({"dense_accuracy", "pruned_accuracy", "sparsity", "gzip_ratio", "tradeoff",
                                   "tradeoff_oneshot", "layer_sparsity", "masked_state_dict_ratio",
                                   "latency_ratio_masked", "sensitivity_accuracy_at_90", "seed",
                                   "tradeoff_oneshot_val", "tradeoff_val", "final_model", "pruned_val_accuracy",
                                   "test_within_noise", "tradeoff_gradual", "tradeoff_oneshot_ft", "recipe",
                                   "mask_kept_border", "mask_kept_centre", "fc1_survivors_near_zero",
                                   "recovery_val_accuracy", "recovery_val_accuracy_97", "best_at_97_recipe",
                                   "best_at_97_accuracy", "best_at_97_sparsity",
                                   "recovery_best_vs_finetune_within_noise", "recovery_default",
                                   "recovery_clearly_better", "test_difference_points", "test_within_1_point",
                                   "dead_pixel_threshold_margin", "serialization_roundtrip_identical"}, _02),
    "03_weight_pruning_tensorflow": ({"dense_accuracy", "pruned_accuracy", "sparsity", "gzip_ratio", "tradeoff",
                                      "tradeoff_oneshot", "layer_sparsity", "tflite_bytes_dense",
                                      "tflite_bytes_pruned", "tflite_bytes_sparse", "tradeoff_val",
                                      "tradeoff_oneshot_val", "pruned_val_accuracy", "choice_within_noise",
                                      "snippet_fixed_sparsity", "tradeoff_gradual", "tradeoff_oneshot_ft", "recipe",
                                      "mask_kept_border", "mask_kept_centre", "fc1_survivors_near_zero",
                                      "recovery_val_accuracy", "final_model", "recovery_val_accuracy_97",
                                      "best_at_97_recipe", "best_at_97_accuracy", "best_at_97_sparsity",
                                      "recovery_best_vs_finetune_within_noise", "allocation_val_accuracy",
                                      "allocation_choice", "test_difference_points", "test_within_noise",
                                      "wrapped_roundtrip_identical", "custom_loop_sparsity",
                                      "prunable_layer_sparsity", "block_sparsity_whole_blocks",
                                      "recovery_default", "recovery_clearly_better", "test_within_1_point",
                                      "mask_kept_inked_frame"}, _03),
    "04_neuron_pruning_pytorch": ({"dense_accuracy", "pruned_accuracy", "units_removed_fraction", "param_ratio",
                                   "latency_speedup", "latency_speedup_batch1", "mac_ratio", "masked_speedup",
                                   "masked_vs_removed_max_diff", "no_ft_accuracy_l2_50",
                                   "no_ft_accuracy_random_50", "masked_vs_removed_diff_over_bound"}, _04),
    "05_neuron_pruning_tensorflow": ({"dense_accuracy", "pruned_accuracy", "units_removed_fraction", "param_ratio",
                                      "latency_speedup", "latency_speedup_batch1", "mac_ratio", "masked_speedup",
                                      "masked_vs_removed_max_diff", "no_ft_accuracy_l2_50",
                                      "no_ft_accuracy_random_50", "amount_chosen_on_val",
                                      "no_ft_accuracy_taylor_50", "mac_budget_plan",
                                      "taylor_top5pct_images_share", "masked_vs_removed_diff_over_bound"}, _05),
    "06_structured_pruning_pytorch": ({"dense_accuracy", "pruned_accuracy", "channels_removed_fraction",
                                       "mac_ratio", "latency_speedup", "latency_speedup_batch1", "param_ratio",
                                       "masked_speedup", "hand_vs_torch_pruning_identical", "seed",
                                       "dense_val_accuracy", "pruned_val_accuracy", "test_difference_points"}, _06),
    "07_structured_pruning_tensorflow": ({"dense_accuracy", "pruned_accuracy", "channels_removed_fraction",
                                          "mac_ratio", "latency_speedup", "latency_speedup_batch1", "param_ratio",
                                          "tflite_speedup", "tflite_bytes", "masked_vs_removed_max_diff",
                                          "speedup_2by4_tflite", "two_four_pattern_ok",
                                          "xnnpack_policy_rejects_small_cnn", "xnnpack_policy_wrapped",
                                          "speedup_xnnpack_tflite_batch1", "seed", "dense_val_accuracy",
                                          "pruned_val_accuracy", "test_difference_points",
                                          "sensitivity_conv1_50_l1_minus_random",
                                          "sensitivity_conv1_50_bn_scale_minus_random",
                                          "sensitivity_conv2_50_l1_minus_random",
                                          "sensitivity_conv2_50_bn_scale_minus_random",
                                          "equivalent_rescale_max_logit_diff", "accuracy_after_cut",
                                          "accuracy_after_cut_bn_recalibrated", "tflite_folds_bn", "bn_fold_speedup",
                                          "width_12_24_vs_16_32", "x86_avx", "xnnpack_sparse_outputs_identical",
                                          "xnnpack_test_sees_other_kernels", "blocks_total", "blocks_removed",
                                          "depth_mac_ratio", "depth_latency_speedup", "depth_latency_speedup_batch1",
                                          "depth_pruned_accuracy", "depth_dense_accuracy",
                                          "depth_pruned_val_accuracy", "depth_dense_val_accuracy",
                                          "depth_val_influence_minus_random", "masked_vs_removed_diff_over_bound",
                                          "equivalent_rescale_diff_over_bound"}, _07),
    "08_measuring_what_pruning_buys_pytorch": ({"summary", "csr_break_even_sparsity", "csr_break_even_sparsity_b1",
                                        "csr_break_even_sparsity_b256", "csr_vs_dense_ratio_at_50_b1",
                                        "csr_vs_dense_ratio_at_50_b256", "gzip_ratio_90", "masked_file_ratio",
                                        "zeros90_latency_ratio_b256", "masked90_latency_ratio_b256",
                                        "neuron_speedup_b256", "channel_speedup_b256", "operating_points",
                                        "csr_storage_break_even_int32", "csr_storage_break_even_int64",
                                        "chosen_sparsity", "seed", "control_val_difference",
                                        "dense_val_accuracy_mean", "gzip_ratio_masks_attached",
                                        "per_class_max_drop"}, _08),
    "08_measuring_what_pruning_buys_tensorflow": ({"summary", "masked_file_ratio", "gzip_ratio_masks_attached",
                                                   "gzip_ratio_90", "tflite_sparse_file_ratio",
                                                   "masked90_latency_ratio_b256", "zeros90_latency_ratio_b256",
                                                   "neuron_speedup_b256", "channel_speedup_b256",
                                                   "per_class_max_drop", "per_class_accuracy_change",
                                                   "csr_storage_break_even_int32", "csr_storage_break_even_int64",
                                                   "tflite_sparse_vs_dense_latency_ratio",
                                                   "tflite_sparse_vs_dense_latency_ratio_b1", "x86_avx",
                                                   "latency_ratio_by_statistic_b256", "seed"}, _08tf),
    "09_pruning_regularization_and_early_stopping_pytorch": ({"l1_near_zero_fraction", "baseline_near_zero_fraction",
                                                      "magnitude_pruned_accuracy", "large_sparse_accuracy",
                                                      "small_dense_accuracy", "early_stopping_epoch", "epochs",
                                                      "l1_abs_sum_ratio", "magnitude_pruned_sparsity",
                                                      "l1_thresholded_gzip_bytes",
                                                      "baseline_thresholded_gzip_bytes", "seed",
                                                      "large_vs_small_val", "l1_finetuned_accuracy",
                                                      "l2_finetuned_accuracy", "l1_finetuned_val_accuracy",
                                                      "l2_finetuned_val_accuracy", "free_sparsity",
                                                      "l1_fate_crossing_step"}, _09),
    "09_pruning_regularization_and_early_stopping_tensorflow": (
        {"l1_near_zero_fraction", "baseline_near_zero_fraction", "magnitude_pruned_accuracy", "large_sparse_accuracy",
         "small_dense_accuracy", "early_stopping_epoch", "epochs", "l1_abs_sum_ratio", "magnitude_pruned_sparsity",
         "l1_thresholded_gzip_bytes", "baseline_thresholded_gzip_bytes", "seed", "large_vs_small_val",
         "l1_finetuned_accuracy", "l2_finetuned_accuracy", "l1_finetuned_val_accuracy", "l2_finetuned_val_accuracy",
         "free_sparsity", "l1_fate_crossing_step"}, _09),
    "10_capstone_pytorch": ({"budget_met", "capstone_accuracy", "capstone_mac_ratio", "capstone_gzip_ratio",
                     "lottery_ticket_accuracy", "random_reinit_accuracy", "weights_remaining",
                     "lottery_ticket_accuracies", "random_reinit_accuracies", "capstone_drop_interval",
                     "capstone_val_accuracy", "lottery_ticket_late_val_gap", "late_rewind_accuracy",
                     "late_rewind_val_accuracy", "per_class_max_drop", "per_class_accuracy_change",
                     "lottery_ticket_late_val_interval"}, _10),
    "10_capstone_tensorflow": ({"budget_met", "capstone_accuracy", "capstone_mac_ratio", "capstone_gzip_ratio",
                                "capstone_latency_ratio", "lottery_ticket_accuracy", "random_reinit_accuracy",
                                "weights_remaining", "lottery_ticket_accuracies", "random_reinit_accuracies",
                                "capstone_drop_interval", "capstone_val_accuracy", "lottery_ticket_late_val_gap",
                                "late_rewind_accuracy", "late_rewind_val_accuracy", "per_class_max_drop",
                                "per_class_accuracy_change", "lottery_ticket_late_val_interval"}, _10tf),
    "11_pruning_a_transformer_pytorch": ({"vit_dense_accuracy", "vit_dense_val_accuracy", "magnitude_50_accuracy",
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
    "12_shipping_a_pruned_model_pytorch": ({"mlp_sparsity", "mlp_round_trip_identical", "cnn_round_trip_identical",
                                            "onnx_max_abs_diff", "size_ratio_pruned_int8_gzip", "size_factors",
                                            "accuracy_pruned_int8", "accuracy_pruned_int8_val", "accuracy_dense_fp32",
                                            "latency_ratio_onnx_structured", "latency_ratio_onnx_zeros",
                                            "latency_ratio_onnx_int8", "onnx_diff_over_bound",
                                            "onnx_int8_integer_ops", "onnx_int8_float_matmuls",
                                            "shrink_factors_by_sparsity", "negative_zero_fraction",
                                            "negative_zero_gzip_cost", "seed"}, _12),
    "12_shipping_a_pruned_model_tensorflow": ({"mlp_sparsity", "mlp_round_trip_identical",
                                               "cnn_round_trip_identical", "litert_max_abs_diff",
                                               "size_ratio_pruned_int8_gzip", "size_factors",
                                               "accuracy_pruned_int8", "accuracy_pruned_int8_val",
                                               "accuracy_dense_fp32", "latency_ratio_litert_structured",
                                               "latency_ratio_litert_zeros", "latency_ratio_litert_int8",
                                               "litert_diff_over_bound", "shrink_factors_by_sparsity",
                                               "negative_zero_fraction", "negative_zero_gzip_cost",
                                               "seed"}, _12tf),
}


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
