"""EXPECTED entries for the 08 split (issue 18): the checks of tests/test_notebooks.py `_08` and `_08tf`, moved to the
notebook that now records each key (none weakened, none dropped)."""
from __future__ import annotations


def _08(r):
    models = ("MLP dense", "MLP 90% masked", "MLP 90% zeros", "MLP 90% CSR", "MLP ½ neurons", "CNN dense",
              "CNN ½ channels")
    assert set(r["summary"]) == set(models)
    assert r["summary"]["MLP dense"]["params"] == 266_610 and r["summary"]["MLP ½ neurons"]["params"] == 125_810
    assert r["summary"]["MLP 90% zeros"]["nonzero_macs"] == 26_620  # exactly 10 % of 266,200 weights kept
    assert 0.5 < r["csr_storage_break_even_int32"] < r["csr_storage_break_even_int64"] < 0.7
    assert r["gzip_ratio_90"] < 1 and r["masked_file_ratio"] > 1.5
    assert r["gzip_ratio_masks_attached"] > 1  # weight_orig keeps the dense values until prune.remove
    assert 0.7 <= r["zeros90_latency_ratio_b256"] <= 1.4
    assert r["neuron_speedup_b256"] > 1 and r["channel_speedup_b256"] > 1


def _08x(r):
    assert r["csr_vs_dense_ratio_at_50_b1"] > 1 and r["csr_vs_dense_ratio_at_50_b256"] > 1  # CSR slower at 50 %
    for k in ("csr_break_even_sparsity_b1", "csr_break_even_sparsity_b256"):
        assert r[k] is None or 0.5 < r[k] < 1, (k, r[k])
    assert r["csr_break_even_sparsity"] == r["csr_break_even_sparsity_b256"]
    assert -1 <= r["per_class_max_drop"] <= 1
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


def _08xtf(r):
    assert -1 <= r["per_class_max_drop"] <= 1 and len(r["per_class_accuracy_change"]) == 10
    assert r["tflite_sparse_vs_dense_latency_ratio"] > 0 and isinstance(r["x86_avx"], bool)
    assert set(r["latency_ratio_by_statistic_b256"]["CNN ½ channels"]) == {"min", "median", "paired"}


EXPECTED = {
    "06_measuring_what_pruning_buys_pytorch": ({"summary", "gzip_ratio_90", "masked_file_ratio",
                                                "zeros90_latency_ratio_b256", "masked90_latency_ratio_b256",
                                                "neuron_speedup_b256", "channel_speedup_b256",
                                                "csr_storage_break_even_int32", "csr_storage_break_even_int64",
                                                "seed", "gzip_ratio_masks_attached"}, _08),
    "06x_measuring_what_pruning_buys_going_further_pytorch": ({"csr_break_even_sparsity", "csr_break_even_sparsity_b1",
                                                               "csr_break_even_sparsity_b256",
                                                               "csr_vs_dense_ratio_at_50_b1",
                                                               "csr_vs_dense_ratio_at_50_b256", "operating_points",
                                                               "chosen_sparsity", "seed", "control_val_difference",
                                                               "dense_val_accuracy_mean", "per_class_max_drop"}, _08x),
    "06_measuring_what_pruning_buys_tensorflow": ({"summary", "masked_file_ratio", "gzip_ratio_masks_attached",
                                                   "gzip_ratio_90", "tflite_sparse_file_ratio",
                                                   "masked90_latency_ratio_b256", "zeros90_latency_ratio_b256",
                                                   "neuron_speedup_b256", "channel_speedup_b256",
                                                   "csr_storage_break_even_int32", "csr_storage_break_even_int64",
                                                   "seed"}, _08tf),
    "06x_measuring_what_pruning_buys_going_further_tensorflow": ({"per_class_max_drop", "per_class_accuracy_change",
                                                                  "tflite_sparse_vs_dense_latency_ratio",
                                                                  "tflite_sparse_vs_dense_latency_ratio_b1", "x86_avx",
                                                                  "latency_ratio_by_statistic_b256", "seed"}, _08xtf),
}
