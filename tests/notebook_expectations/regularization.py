"""Harness checks for group `reg` (issue 18): lesson 03 split into a core and a going-further notebook per framework.

Same format as ``EXPECTED`` in tests/test_notebooks.py. The original ``_09`` check is split by where the keys are now
recorded; every assertion of ``_09`` is kept, as strict as before. ``_09`` was shared by both twins; so are ``_09`` and
``_09x`` here.
"""


def _09(r):
    for k in ("l1_near_zero_fraction", "baseline_near_zero_fraction", "l2_near_zero_fraction",
              "dropout_near_zero_fraction"):
        assert 0 <= r[k] <= 1, (k, r[k])
    assert r["l1_abs_sum_ratio"] < 1  # the L1 penalty shrinks sum|w| even in a few FAST steps
    assert r["l1_near_zero_fraction"] >= r["baseline_near_zero_fraction"]
    assert 1 <= r["early_stopping_epoch"] <= r["epochs"]
    free = r["free_sparsity"]  # Exercise 1's measure, per model: a fraction 0-1
    assert {"none", "L1", "L2", "dropout"} <= set(free) and all(0 <= v <= 1 for v in free.values()), free


def _09x(r):
    assert r["l1_thresholded_gzip_bytes"] <= r["baseline_thresholded_gzip_bytes"]
    assert 1 <= r["early_stopping_epoch"] <= r["epochs"]  # 09x rebuilds the early-stopped baseline
    assert abs(r["magnitude_pruned_sparsity"] - 0.9) < 1e-3
    for k in ("magnitude_pruned_accuracy", "large_sparse_accuracy", "small_dense_accuracy", "l1_finetuned_accuracy",
              "l2_finetuned_accuracy", "l1_finetuned_val_accuracy", "l2_finetuned_val_accuracy"):
        assert 0.1 < r[k] <= 1, (k, r[k])
    assert r["l1_fate_crossing_step"] >= 1  # Exercise 3: the framework's SGD crossed 0 at the predicted step


_CORE_KEYS = {"l1_near_zero_fraction", "baseline_near_zero_fraction", "l2_near_zero_fraction",
              "dropout_near_zero_fraction", "early_stopping_epoch", "epochs", "l1_abs_sum_ratio", "seed",
              "free_sparsity"}
_X_KEYS = {"magnitude_pruned_accuracy", "large_sparse_accuracy", "small_dense_accuracy", "early_stopping_epoch",
           "epochs", "magnitude_pruned_sparsity", "l1_thresholded_gzip_bytes", "baseline_thresholded_gzip_bytes",
           "seed", "large_vs_small_val", "l1_finetuned_accuracy", "l2_finetuned_accuracy",
           "l1_finetuned_val_accuracy", "l2_finetuned_val_accuracy", "l1_fate_crossing_step"}

EXPECTED = {
    "03_regularization_and_early_stopping_pytorch": (set(_CORE_KEYS), _09),
    "03_regularization_and_early_stopping_tensorflow": (set(_CORE_KEYS), _09),
    "03x_regularization_and_early_stopping_going_further_pytorch": (set(_X_KEYS), _09x),
    "03x_regularization_and_early_stopping_going_further_tensorflow": (set(_X_KEYS), _09x),
}
