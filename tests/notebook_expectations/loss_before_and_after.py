"""EXPECTED entries for the loss group (issue 18 split of 01): the format of tests/test_notebooks.py's EXPECTED.

The checks of the original _01 / _01tf are moved, unchanged, to the notebook that now records their keys.
"""
from __future__ import annotations


def _01(r):
    assert r["loss_after_magnitude_50"] < r["loss_after_random_50"] < r["loss_after_largest_50"]
    assert r["loss_before"] <= r["loss_after_magnitude_50"] + 0.05
    assert r["fractions"][0] == 0.0 and r["fractions"][-1] == 0.99
    assert set(r["loss_curve"]) == {"smallest", "random", "largest"}


def _01x(r):
    assert r["taylor_median_rel_error_second_order"] <= r["taylor_median_rel_error_first_order"]
    assert 0 <= r["obd_magnitude_overlap_50"] <= 1  # OBD vs |w| on fc3 (Ex. 3), ranked in full mode
    assert all(abs(r[k]) < 10 for k in ("obd_fc3_delta_loss_50", "magnitude_fc3_delta_loss_50",
                                        "random_fc3_delta_loss_50"))


def _01tf(r):
    assert r["loss_after_magnitude_50"] < r["loss_after_random_50"] < r["loss_after_largest_50"]
    assert r["loss_before"] <= r["loss_after_magnitude_50"] + 0.05
    assert r["fractions"][0] == 0.0 and r["fractions"][-1] == 0.99
    assert set(r["loss_curve"]) == {"smallest", "random", "largest"}  # the same keys as the PyTorch twin


def _01xtf(r):
    assert r["forward_diff_over_float32_bound"] <= 1  # the three matmuls are the Keras model, up to float32 rounding
    assert r["taylor_median_rel_error_second_order"] <= r["taylor_median_rel_error_first_order"]  # as the twin


EXPECTED = {
    "01_loss_before_and_after_pytorch": ({"loss_before", "loss_after_magnitude_50", "loss_after_random_50",
                                          "loss_after_largest_50", "fractions", "loss_curve"}, _01),
    "01x_loss_before_and_after_going_further_pytorch": ({"taylor_median_rel_error_first_order",
                                                         "taylor_median_rel_error_second_order",
                                                         "obd_fc3_delta_loss_50", "magnitude_fc3_delta_loss_50",
                                                         "random_fc3_delta_loss_50", "obd_magnitude_overlap_50"},
                                                        _01x),
    "01_loss_before_and_after_tensorflow": ({"loss_before", "accuracy_before", "loss_after_magnitude_50",
                                             "loss_after_random_50", "loss_after_largest_50",
                                             "accuracy_after_magnitude_50", "accuracy_after_random_50",
                                             "fractions", "loss_curve", "max_fraction_within_1pt_magnitude"},
                                            _01tf),
    "01x_loss_before_and_after_going_further_tensorflow": ({"forward_matches_keras_max_diff",
                                                            "forward_diff_over_float32_bound",
                                                            "gradient_norm_val_over_train",
                                                            "taylor_median_rel_error_first_order",
                                                            "taylor_median_rel_error_second_order"}, _01xtf),
}
