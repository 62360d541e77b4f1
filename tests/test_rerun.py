"""Re-running is safe: running every cell twice gives the numbers of a normal run (no double pruning, no drift).

Notebooks teach with cells a learner re-runs. Each notebook below is executed in FAST mode once normally and
once with every code cell run twice in a row; the results it records must agree, except timings.
"""
from __future__ import annotations

import math

import pytest

from course_utils.runner import notebooks, run_each_cell_twice, run_notebook

# Notebooks whose cells prune, cut or retrain models (where a second run could prune twice or drift): the cores
# and the going-further notebooks that hold their moved pruning loops.
RISKY = ["02_weight_pruning_pytorch", "02x_weight_pruning_going_further_pytorch", "04_neuron_pruning_pytorch",
         "04x_neuron_pruning_going_further_pytorch", "05_structured_pruning_pytorch",
         "05x_structured_pruning_going_further_pytorch"]
TIMING_WORDS = ("latency", "speedup", "seconds", "time", "faster", "break_even", "_vs_dense_ratio")


def _comparable(results: dict) -> dict:
    return {k: v for k, v in results.items() if not any(w in k for w in TIMING_WORDS)}


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("stem", RISKY)
def test_running_every_cell_twice_changes_nothing(stem, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "results"))
    (path,) = [p for p in notebooks(stem)]
    once = run_notebook(path, fast=True, out_dir=tmp_path / "once")
    assert once.ok, once.error
    twice = run_each_cell_twice(path, fast=True, out=tmp_path / "twice" / path.name)
    a, b = _comparable(once.results), _comparable(twice)
    assert a.keys() == b.keys()
    differ = {k: (a[k], b[k]) for k in a if not _same(a[k], b[k])}
    assert not differ, f"re-running cells changed these results (once, twice): {differ}"
