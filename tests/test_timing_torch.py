"""metrics.race with PyTorch models (imports torch only, never TensorFlow)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import course_utils  # noqa: F401  (sets the environment like a notebook would)
from course_utils import capstone, metrics, sparse_bench, timing


def tower(layers: int, width: int = 256) -> nn.Sequential:
    """``layers`` Linear(width, width) + ReLU blocks: the work grows linearly with ``layers``."""
    torch.manual_seed(0)
    return nn.Sequential(*[m for _ in range(layers) for m in (nn.Linear(width, width), nn.ReLU())])


def test_race_measures_four_times_the_work_as_slower():
    one, four = tower(1), tower(4)
    four.train()
    before = torch.get_num_threads()
    race = metrics.race({"one": one, "four": four}, (256,), 64, rounds=5, repeats=5, warmup=2, threads=1)
    assert torch.get_num_threads() == before and four.training and one.training  # state restored
    assert isinstance(race, timing.Race) and race.names == ["one", "four"] and race.reference == "one"
    assert race.rounds == 5 and race.repeats == 5 and race.batch_size == 64
    r = race["four"]
    assert r.framework == "torch" and r.threads == 1 and r.repeats == 25 and r.batch_size == 64
    assert r.median_s > 0 and r.iqr_s >= 0 and race.fastest_round_s("four") <= r.p75_s
    # 4x the multiply-accumulates: clearly slower on any machine (ideal: ~4x), whatever the statistic
    assert race.ratio("four") > 1.5 and race.speedup("four") < 1 / 1.5
    assert race.ratio("four", statistic="min") > 1.5
    assert race.ratio("one", reference="four") < 0.6
    assert "time / one (paired)" in str(race)


def test_race_reference_and_errors():
    a, b = tower(1, 16), tower(1, 16)
    race = metrics.race({"a": a, "b": b}, (16,), 2, rounds=2, repeats=2, warmup=0, reference="b")
    assert race.reference == "b" and race.ratio("b") == 1.0
    with pytest.raises(ValueError, match="reference 'c'"):
        metrics.race({"a": a}, (16,), 2, reference="c")
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        metrics.race({"a": a}, (16,), 0)
    with pytest.raises(ValueError, match="input_shape"):
        metrics.race({"a": a}, (17,), 2, rounds=1, repeats=1)  # wrong shape: the model fails, clearly
    assert a.training  # restored after the failure, too


def test_latency_still_works_and_uses_the_same_timer():
    r = metrics.latency(tower(1, 32), (32,), 8, repeats=4, warmup=1, threads=1)
    assert isinstance(r, timing.LatencyResult) and r.repeats == 4 and r.threads == 1 and r.framework == "torch"


def test_sparse_bench_re_exports_the_timing_tools():
    for name in ("time_interleaved", "paired_ratio", "time_ratio", "interleaved_latency", "_STATISTICS"):
        assert getattr(sparse_bench, name) is getattr(timing, name), name
    res = timing.interleaved_latency({"one": tower(1, 64), "four": tower(4, 64)}, torch.rand(32, 64), repeats=5,
                                     warmup=1, threads=1)
    assert isinstance(res["one"], metrics.LatencyResult) and timing.paired_ratio(res, "four", "one") > 1


def test_capstone_score_uses_the_race():
    big = nn.Sequential(nn.Flatten(), *tower(3, 784), nn.Linear(784, 10))
    small = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    x = np.random.default_rng(0).random((32, 1, 28, 28), dtype=np.float32)
    y = np.zeros(32, dtype=np.int64)
    budget = capstone.Budget(max_latency_ratio=0.9)
    rep = capstone.score(small, (x, y), budget, big, verbose=False, latency_rounds=3, latency_repeats=3)
    assert rep.latency_ratio < 0.9 and rep.check("latency_ratio").passed
    assert rep.latency_statistic == timing.PAIRED and timing.PAIRED in rep.table()
    assert "latency @256 (paired)" in rep.table()
