"""EXPECTED entries for notebooks 05 (core) and 06x (going further), in the format of tests/test_notebooks.py.

_06 is the original check unchanged: every key it reads is still recorded by the core. The keys that moved to 06x
(test_difference_points, with the paired accuracy test; BatchNorm-scale sensitivity, recalibration, BN fold,
depth pruning) are listed under 06x; _06x checks what the notebook itself asserts (mirroring _07 for the TF twin).
"""
from __future__ import annotations


def _06(r):
    assert r["hand_vs_torch_pruning_identical"] is True  # by-hand surgery == torch-pruning, bit for bit
    assert r["channels_removed_fraction"] >= 0.5 and r["mac_ratio"] >= 3.0 and r["param_ratio"] > 1.5
    assert r["latency_speedup"] > r["masked_speedup"]  # channel removal is faster than masking
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert 0.1 < r["dense_val_accuracy"] <= 1 and 0.1 < r["pruned_val_accuracy"] <= 1


def _06x(r):
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["dense_val_accuracy"] <= 1  # notebook 05's dense CNN, rebuilt
    assert 0 <= r["accuracy_after_cut"] <= 1 and 0 <= r["accuracy_after_cut_bn_recalibrated"] <= 1
    for k in ("sensitivity_conv1_50_l1_minus_random", "sensitivity_conv1_50_bn_scale_minus_random",
              "sensitivity_conv2_50_l1_minus_random", "sensitivity_conv2_50_bn_scale_minus_random"):
        assert -1 <= r[k] <= 1, (k, r[k])  # differences of two accuracies
    assert isinstance(r["test_within_noise"], bool) and -100 <= r["test_difference_points"] <= 100
    assert r["bn_fold_speedup"] > 0
    assert r["blocks_total"] == 6 and r["blocks_removed"] == 3 and r["depth_mac_ratio"] > 1.5  # layer pruning
    assert 0.1 < r["depth_dense_accuracy"] <= 1 and 0.1 < r["depth_pruned_accuracy"] <= 1


EXPECTED = {
    "05_structured_pruning_pytorch": ({"dense_accuracy", "pruned_accuracy", "channels_removed_fraction",
                                       "mac_ratio", "latency_speedup", "latency_speedup_batch1", "param_ratio",
                                       "masked_speedup", "hand_vs_torch_pruning_identical", "seed",
                                       "dense_val_accuracy", "pruned_val_accuracy", "final_ft_epochs",
                                       "sensitivity_conv1_50_l1_minus_random",
                                       "sensitivity_conv2_50_l1_minus_random"}, _06),
    "05x_structured_pruning_going_further_pytorch": ({"seed", "dense_accuracy", "dense_val_accuracy",
                                                      "test_difference_points", "test_within_noise",
                                                      "accuracy_after_cut", "accuracy_after_cut_bn_recalibrated",
                                                      "sensitivity_conv1_50_l1_minus_random",
                                                      "sensitivity_conv1_50_bn_scale_minus_random",
                                                      "sensitivity_conv2_50_l1_minus_random",
                                                      "sensitivity_conv2_50_bn_scale_minus_random",
                                                      "final_ft_epochs", "bn_fold_speedup", "blocks_total",
                                                      "blocks_removed", "depth_mac_ratio", "depth_latency_speedup",
                                                      "depth_latency_speedup_batch1", "depth_pruned_accuracy",
                                                      "depth_dense_accuracy", "depth_pruned_val_accuracy",
                                                      "depth_dense_val_accuracy", "depth_val_influence_minus_random",
                                                      "depth_cut_val_accuracy"}, _06x),
}
