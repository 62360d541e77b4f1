"""EXPECTED entries for 07 (core) and 07x (going further), TensorFlow structured pruning (issue 18 split).

Same format as ``EXPECTED`` in tests/test_notebooks.py: stem -> (keys the notebook must record, check function).
The checks are _07's, each moved to the notebook that now records its keys, unchanged in strictness.
"""


def _07(r):
    assert r["channels_removed_fraction"] >= 0.5 and r["mac_ratio"] >= 3.0 and r["param_ratio"] > 1.5
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1


def _07x(r):
    assert r["masked_vs_removed_diff_over_bound"] <= 1  # channel surgery (BN, next conv, NHWC fc) == channel mask
    assert r["tflite_bytes"]["pruned"] < r["tflite_bytes"]["dense"]
    assert r["two_four_pattern_ok"] is True
    assert r["xnnpack_policy_rejects_small_cnn"] is True and r["xnnpack_policy_wrapped"] == ["pw1", "pw2", "pw3"]
    assert r["equivalent_rescale_diff_over_bound"] <= 1  # Exercise 1: same function (float64), reversed L1 ranking
    assert 0 <= r["accuracy_after_cut"] <= 1 and 0 <= r["accuracy_after_cut_bn_recalibrated"] <= 1
    assert r["tflite_folds_bn"] is True and r["bn_fold_speedup"] > 0
    assert isinstance(r["x86_avx"], bool) and r["xnnpack_test_sees_other_kernels"] in (True, False)
    if r["x86_avx"]:  # XNNPACK's sparse path is off on x86 with AVX: the same dense kernels, the same bits
        assert r["xnnpack_sparse_outputs_identical"] is True
    assert r["blocks_total"] == 6 and r["blocks_removed"] == 3 and r["depth_mac_ratio"] > 1.5  # layer pruning
    assert 0.1 < r["depth_dense_accuracy"] <= 1 and 0.1 < r["depth_pruned_accuracy"] <= 1


EXPECTED = {
    "05_structured_pruning_tensorflow": ({"dense_accuracy", "pruned_accuracy", "channels_removed_fraction",
                                          "mac_ratio", "latency_speedup", "param_ratio", "seed",
                                          "dense_val_accuracy", "pruned_val_accuracy", "test_difference_points",
                                          "sensitivity_conv1_50_l1_minus_random",
                                          "sensitivity_conv1_50_bn_scale_minus_random",
                                          "sensitivity_conv2_50_l1_minus_random",
                                          "sensitivity_conv2_50_bn_scale_minus_random"}, _07),
    "05x_structured_pruning_going_further_tensorflow": (
        {"latency_speedup_batch1", "tflite_speedup", "tflite_bytes", "masked_vs_removed_max_diff",
         "speedup_2by4_tflite", "two_four_pattern_ok", "xnnpack_policy_rejects_small_cnn", "xnnpack_policy_wrapped",
         "speedup_xnnpack_tflite_batch1", "seed", "equivalent_rescale_max_logit_diff", "accuracy_after_cut",
         "accuracy_after_cut_bn_recalibrated", "tflite_folds_bn", "bn_fold_speedup", "width_12_24_vs_16_32",
         "x86_avx", "xnnpack_sparse_outputs_identical", "xnnpack_test_sees_other_kernels", "blocks_total",
         "blocks_removed", "depth_mac_ratio", "depth_latency_speedup", "depth_latency_speedup_batch1",
         "depth_pruned_accuracy", "depth_dense_accuracy", "depth_pruned_val_accuracy", "depth_dense_val_accuracy",
         "depth_val_influence_minus_random", "masked_vs_removed_diff_over_bound",
         "equivalent_rescale_diff_over_bound"}, _07x),
}
