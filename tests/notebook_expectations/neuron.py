"""Expected recorded keys and checks for the neuron group's notebooks (issue 18 split of 04 and 05).

Same format as ``EXPECTED`` in tests/test_notebooks.py: stem -> (keys that must be recorded, check function).
The checks are the original ``_04`` and ``_05`` checks, each moved to the notebook that now records its keys.
"""


def _04(r):
    assert r["hand_vs_surgery_identical"] is True  # fc1 sliced by hand == surgery.remove_units, same logits
    assert r["units_removed_fraction"] >= 0.5 and r["param_ratio"] >= 2.0 and r["mac_ratio"] >= 2.0
    assert r["latency_speedup"] > r["masked_speedup"]  # removal is faster than masking, even in FAST mode
    assert r["no_ft_accuracy_l2_50"] > r["no_ft_accuracy_random_50"] - 0.1, r  # no catastrophic L2 ranking
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1


def _04x(r):
    assert r["masked_vs_removed_diff_over_bound"] <= 1  # real removal computes what the mask computes (float64)
    assert r["no_ft_accuracy_l2_50"] > r["no_ft_accuracy_random_50"] - 0.1, r  # the same numbers as notebook 04
    assert 0.1 < r["dense_accuracy"] <= 1


def _05(r):
    assert r["units_removed_fraction"] >= 0.5 and r["param_ratio"] >= 2.0 and r["mac_ratio"] >= 2.0
    assert 0.5 <= r["amount_chosen_on_val"] < 1
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1


def _05x(r):
    assert r["masked_vs_removed_diff_over_bound"] <= 1  # Keras surgery computes what the mask computes (float64)
    assert 0.1 < r["dense_accuracy"] <= 1
    assert 0 <= r["no_ft_accuracy_taylor_50"] <= 1  # the GradientTape Taylor score of Exercise 1, on validation
    assert 0.05 <= r["taylor_top5pct_images_share"] <= 1  # the top 5 % of images carry at least their share
    plan = r["mac_budget_plan"]  # the fewest units that meet half the dense MACs (notebook 04's Exercise 1)
    assert plan["macs"] <= plan["budget"] and plan["removed_fc1"] > plan["removed_fc2"]


EXPECTED = {
    "04_neuron_pruning_pytorch": ({"dense_accuracy", "pruned_accuracy", "units_removed_fraction", "param_ratio",
                                   "latency_speedup", "latency_speedup_batch1", "mac_ratio", "masked_speedup",
                                   "masked_vs_removed_max_diff", "no_ft_accuracy_l2_50",
                                   "no_ft_accuracy_random_50", "hand_vs_surgery_identical"}, _04),
    "04x_neuron_pruning_going_further_pytorch": ({"dense_accuracy", "masked_vs_removed_diff_over_bound",
                                                  "masked_vs_removed_max_diff", "no_ft_accuracy_l2_50",
                                                  "no_ft_accuracy_random_50", "no_ft_accuracy_taylor_50",
                                                  "no_ft_accuracy_apoz_50", "no_ft_accuracy_mean_activation_50",
                                                  "criteria_beat_random_networks", "criteria_best_on_validation"},
                                                 _04x),
    "04_neuron_pruning_tensorflow": ({"dense_accuracy", "pruned_accuracy", "units_removed_fraction", "param_ratio",
                                      "latency_speedup", "latency_speedup_batch1", "mac_ratio", "masked_speedup",
                                      "masked_vs_removed_max_diff", "no_ft_accuracy_l2_50",
                                      "no_ft_accuracy_random_50", "amount_chosen_on_val"}, _05),
    "04x_neuron_pruning_going_further_tensorflow": ({"dense_accuracy", "masked_vs_removed_diff_over_bound",
                                                     "masked_vs_removed_max_diff", "no_ft_accuracy_l2_50",
                                                     "no_ft_accuracy_random_50", "no_ft_accuracy_taylor_50",
                                                     "mac_budget_plan", "taylor_top5pct_images_share",
                                                     "speedup_vs_mac_ratio"}, _05x),
}
