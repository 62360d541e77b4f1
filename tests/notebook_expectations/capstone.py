"""EXPECTED entries for the capstone (07, core) and the lottery ticket (08, after the core).

The original `_10` / `_10tf` checks and key sets of tests/test_notebooks.py, split by the notebook that now records
the keys (nothing dropped, nothing loosened):
- 07_capstone_*: the capstone budget keys (reference solution scored).
- 08_lottery_ticket_*: the lottery-ticket keys, and the two checks of the reference capstone that moved with the
  control (`small_dense_val_accuracy`) and the per-class one-line report (`per_class_*`).
"""
from __future__ import annotations


def _10(r):
    assert isinstance(r["budget_met"], bool)
    assert r["capstone_mac_ratio"] <= 0.25 and r["capstone_gzip_ratio"] <= 0.2  # size limits hold even in FAST mode
    for k in ("capstone_accuracy",):
        assert 0.1 < r[k] <= 1, (k, r[k])
    lo, hi = r["capstone_drop_interval"]  # the paired 95% interval of the test drop brackets the drop
    assert lo - 1e-9 <= r["capstone_accuracy_drop"] <= hi + 1e-9


def _10x(r):
    for k in ("lottery_ticket_accuracy", "random_reinit_accuracy"):
        assert 0.1 < r[k] <= 1, (k, r[k])
    w = r["weights_remaining"]
    assert w[0] == 1.0 and len(w) >= 3 and all(abs(b / a - 0.8) < 0.01 for a, b in zip(w, w[1:]))  # 20% per round
    assert len(r["lottery_ticket_accuracies"]) == len(r["random_reinit_accuracies"]) == len(w)
    assert r["lottery_ticket_accuracy"] == r["lottery_ticket_accuracies"][-1]
    lo, hi = r["lottery_ticket_late_val_interval"]  # pooled late rounds, ticket − random: brackets the mean gap
    assert lo - 1e-4 <= r["lottery_ticket_late_val_gap"] <= hi + 1e-4  # (the interval is rounded to 4 decimals)
    assert 0.1 < r["late_rewind_accuracy"] <= 1 and 0.1 < r["late_rewind_val_accuracy"] <= 1
    change = r["per_class_accuracy_change"]  # one per digit, pruned − dense on test
    assert len(change) == 10 and abs(r["per_class_max_drop"] + min(change)) < 1e-9


def _10tf(r):
    _10(r)  # the same lesson and the same keys as the PyTorch capstone
    assert r["capstone_latency_ratio"] > 0


def _10xtf(r):
    _10x(r)  # the same lesson and the same keys as the PyTorch notebook
    assert 0 <= r["per_class_max_drop"] <= 1


EXPECTED = {
    "07_capstone_pytorch": ({"budget_met", "capstone_accuracy", "capstone_mac_ratio", "capstone_gzip_ratio",
                             "capstone_drop_interval", "capstone_val_accuracy"}, _10),
    "08_lottery_ticket_pytorch": ({"lottery_ticket_accuracy", "random_reinit_accuracy", "weights_remaining",
                                    "lottery_ticket_accuracies", "random_reinit_accuracies",
                                    "lottery_ticket_late_val_gap", "late_rewind_accuracy", "late_rewind_val_accuracy",
                                    "per_class_max_drop", "per_class_accuracy_change",
                                    "lottery_ticket_late_val_interval"}, _10x),
    "07_capstone_tensorflow": ({"budget_met", "capstone_accuracy", "capstone_mac_ratio", "capstone_gzip_ratio",
                                "capstone_latency_ratio", "capstone_drop_interval", "capstone_val_accuracy"}, _10tf),
    "08_lottery_ticket_tensorflow": ({"lottery_ticket_accuracy", "random_reinit_accuracy", "weights_remaining",
                                       "lottery_ticket_accuracies", "random_reinit_accuracies",
                                       "lottery_ticket_late_val_gap", "late_rewind_accuracy",
                                       "late_rewind_val_accuracy", "per_class_max_drop", "per_class_accuracy_change",
                                       "lottery_ticket_late_val_interval"}, _10xtf),
}
