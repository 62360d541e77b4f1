"""EXPECTED entries for 02 (core) and 02x (going further), in the format of tests/test_notebooks.py.

The checks of the original _02 are moved to the notebook that now records their keys, unchanged in strictness:
- core 02: the one-shot sweep on validation (tradeoff_oneshot_val), the gradual loop written out == pt.iterative_prune;
  plus two NEW keys for the core's final model (the gradual model at 95 %): gradual_sparsity, gradual_gzip_ratio.
- 02x: everything about the recovery recipes and the chosen final model (final_model, pruned_accuracy, sparsity,
  _recipe_rule), the accounting of that model (gzip_ratio, masked_state_dict_ratio, latency_ratio_masked), the
  trade-off curves, the sensitivity scan, the mask picture and serialization.

TensorFlow twin (02 and 02x in TensorFlow):

The checks of the original `_03` are split by the notebook that now records each key; none is weakened. `_recipe_rule`
(above) serves both twins.
Core 03 records two new keys (`gradual_global_sparsity`, `gradual_global_accuracy`): its final model is the gradual,
global-allocation model; gzip_ratio and the .tflite sizes are measured on it.
"""
from __future__ import annotations


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
    assert 0.1 < r["dense_accuracy"] <= 1
    v = r["tradeoff_oneshot_val"]  # decisions and claims on validation, not on test
    assert len(v["sparsity"]) >= 5 and {"layer-wise", "global", "random"} <= set(v)
    i = v["sparsity"].index(0.9)
    assert v["global"][i] > v["random"][i] + 0.05, v  # magnitude beats the random control
    assert r["gradual_loop_same_masks"] is True  # the loop written out == pt.iterative_prune, mask for mask
    # new keys (the core's final model is the gradual model): >= 95 % sparsity even in FAST mode, and gzip sees it
    assert r["gradual_sparsity"] >= 0.95 - 1e-9
    assert r["gradual_gzip_ratio"] > 3


def _02x(r):
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert r["sparsity"] >= 0.95 - 1e-9  # the final model holds >= 95 % sparsity (issue 11), even in FAST mode
    assert r["best_at_97_sparsity"] >= 0.97 - 1e-9 and 0 <= r["best_at_97_accuracy"] <= 1  # reported, not a target
    assert r["gzip_ratio"] > 3 and r["masked_state_dict_ratio"] > 1.5  # masks double the file until prune.remove
    assert set(r["layer_sparsity"]) == {"fc1", "fc2", "fc3"}
    t, o = r["tradeoff"], r["tradeoff_oneshot"]
    assert len(t["sparsity"]) >= 5 and {"layer-wise", "global", "random"} <= set(t) <= set(o)
    _recipe_rule(r)
    assert r["test_within_1_point"] == (r["test_difference_points"] >= -1)  # the headline, reported (not asserted)
    assert r["serialization_roundtrip_identical"] is True  # prune.remove + save/load, and prune.identity + load


_EXPECTED_PYTORCH = {
    "02_weight_pruning_pytorch": ({"dense_accuracy", "seed", "tradeoff_oneshot_val", "gradual_loop_same_masks",
                                   "gradual_sparsity", "gradual_gzip_ratio"}, _02),
    "02x_weight_pruning_going_further_pytorch": (
        {"dense_accuracy", "pruned_accuracy", "sparsity", "gzip_ratio", "tradeoff", "tradeoff_oneshot",
         "layer_sparsity", "masked_state_dict_ratio", "latency_ratio_masked", "sensitivity_accuracy_at_90", "seed",
         "tradeoff_val", "final_model", "pruned_val_accuracy", "test_within_noise", "tradeoff_gradual",
         "tradeoff_oneshot_ft", "recipe", "mask_kept_border", "mask_kept_centre", "fc1_survivors_near_zero",
         "recovery_val_accuracy", "recovery_val_accuracy_97", "best_at_97_recipe", "best_at_97_accuracy",
         "best_at_97_sparsity", "recovery_best_vs_finetune_within_noise", "recovery_default",
         "recovery_clearly_better", "test_difference_points", "test_within_1_point", "dead_pixel_threshold_margin",
         "serialization_roundtrip_identical"}, _02x),
}

# The original EXPECTED["02_weight_pruning_pytorch"] key set, for the union check below.
ORIGINAL_KEYS = {"dense_accuracy", "pruned_accuracy", "sparsity", "gzip_ratio", "tradeoff", "tradeoff_oneshot",
                 "layer_sparsity", "masked_state_dict_ratio", "latency_ratio_masked", "sensitivity_accuracy_at_90",
                 "seed", "tradeoff_oneshot_val", "tradeoff_val", "final_model", "pruned_val_accuracy",
                 "test_within_noise", "tradeoff_gradual", "tradeoff_oneshot_ft", "recipe", "mask_kept_border",
                 "mask_kept_centre", "fc1_survivors_near_zero", "recovery_val_accuracy", "recovery_val_accuracy_97",
                 "best_at_97_recipe", "best_at_97_accuracy", "best_at_97_sparsity",
                 "recovery_best_vs_finetune_within_noise", "recovery_default", "recovery_clearly_better",
                 "test_difference_points", "test_within_1_point", "dead_pixel_threshold_margin",
                 "serialization_roundtrip_identical"}
assert ORIGINAL_KEYS <= set().union(*(keys for keys, _ in _EXPECTED_PYTORCH.values()))


def _02tf(r):
    assert 0.1 < r["dense_accuracy"] <= 1
    # the core's final model (gradual, global allocation) holds >= 95 % sparsity (issue 11), even in FAST mode
    assert round(r["gradual_global_sparsity"], 3) >= 0.95 and 0 <= r["gradual_global_accuracy"] <= 1
    assert r["gzip_ratio"] > 3
    assert r["tflite_bytes_sparse"] < r["tflite_bytes_pruned"] == r["tflite_bytes_dense"]
    assert r["seed"] == 0


def _02xtf(r):
    assert 0.1 < r["dense_accuracy"] <= 1 and 0.1 < r["pruned_accuracy"] <= 1
    assert round(r["sparsity"], 3) >= 0.95  # the final model holds >= 95 % sparsity (issue 11), even in FAST mode
    assert r["best_at_97_sparsity"] >= 0.96 and 0 <= r["best_at_97_accuracy"] <= 1  # reported, not a target
    _recipe_rule(r)  # the same recipes and the same rule as 02
    assert r["test_within_1_point"] == (r["test_difference_points"] >= -1)  # the headline, reported (not asserted)
    assert r["allocation_choice"] == max(r["allocation_val_accuracy"], key=r["allocation_val_accuracy"].get)
    assert r["wrapped_roundtrip_identical"] is True  # prune_scope load of a wrapped .h5/.keras: same outputs, steps
    assert abs(r["custom_loop_sparsity"] - 0.8) < 1e-3 and abs(r["prunable_layer_sparsity"] - 0.8) < 1e-3
    assert r["block_sparsity_whole_blocks"] is True
    t, o = r["tradeoff"], r["tradeoff_oneshot_val"]
    assert len(t["sparsity"]) >= 5 and {"layer-wise", "global", "random"} <= set(t) <= set(r["tradeoff_val"])
    i = t["sparsity"].index(0.9)
    assert o["global"][i] > o["random"][i] + 0.05, o  # magnitude beats chance (validation)
    assert r["seed"] == 0 and isinstance(r["choice_within_noise"], bool)
    assert abs(r["snippet_fixed_sparsity"] - 0.9) <= 0.01  # end_step computed from the data reaches the target


_EXPECTED_TENSORFLOW = {
    "02_weight_pruning_tensorflow": ({"dense_accuracy", "gzip_ratio", "tflite_bytes_dense", "tflite_bytes_pruned",
                                      "tflite_bytes_sparse", "seed", "gradual_global_sparsity",
                                      "gradual_global_accuracy"}, _02tf),
    "02x_weight_pruning_going_further_tensorflow": ({"dense_accuracy", "pruned_accuracy", "sparsity", "tradeoff",
                                                     "tradeoff_oneshot", "layer_sparsity", "tradeoff_val",
                                                     "tradeoff_oneshot_val", "pruned_val_accuracy",
                                                     "choice_within_noise", "snippet_fixed_sparsity",
                                                     "tradeoff_gradual", "tradeoff_oneshot_ft", "recipe",
                                                     "mask_kept_border", "mask_kept_centre", "fc1_survivors_near_zero",
                                                     "recovery_val_accuracy", "final_model",
                                                     "recovery_val_accuracy_97", "best_at_97_recipe",
                                                     "best_at_97_accuracy", "best_at_97_sparsity",
                                                     "recovery_best_vs_finetune_within_noise",
                                                     "allocation_val_accuracy", "allocation_choice",
                                                     "test_difference_points", "test_within_noise",
                                                     "wrapped_roundtrip_identical", "custom_loop_sparsity",
                                                     "prunable_layer_sparsity", "block_sparsity_whole_blocks",
                                                     "recovery_default", "recovery_clearly_better",
                                                     "test_within_1_point", "mask_kept_inked_frame", "seed"}, _02xtf),
}

EXPECTED = {**_EXPECTED_PYTORCH, **_EXPECTED_TENSORFLOW}


if __name__ == "__main__":  # check recorded results: python weight_pruning.py [results dir]
    import json
    import sys
    from pathlib import Path

    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/main/build/results")
    for stem, (keys, check) in EXPECTED.items():
        r = json.loads((folder / f"{stem}.json").read_text())
        missing = keys - set(r)
        assert not missing, f"{stem} did not record {sorted(missing)}"
        check(r)
        print(f"{stem}: {len(keys)} keys present, checks pass")
