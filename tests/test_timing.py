"""course_utils.timing: the timing protocol on a fake clock and synthetic timings (imports no framework).

The races of real models are in test_timing_torch.py and test_timing_tf.py (one framework per file).
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course_utils import metrics, timing
from course_utils.timing import LatencyResult, Race


class FakeClock:
    """A seconds counter that only moves when a fake model "runs"."""

    def __init__(self) -> None:
        self.t = 0.0
        self.log: list[str] = []

    def __call__(self) -> float:
        return self.t

    def model(self, name: str, seconds: float):
        def call() -> None:
            self.log.append(name)
            self.t += seconds
        return call


def test_import_timing_loads_no_framework():
    code = ("import sys, course_utils.timing, course_utils.metrics; "
            "bad = [m for m in ('torch', 'tensorflow', 'tf_keras', 'keras') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_old_names_are_the_new_objects():
    assert metrics.LatencyResult is timing.LatencyResult and metrics.speedup is timing.speedup
    assert metrics.Race is timing.Race
    assert timing._STATISTICS == timing.STATISTICS == ("min", "median", "paired")


# ----------------------------------------------------------------------------- run_rounds on a fake clock
def test_run_rounds_measures_each_call_on_the_clock():
    clock = FakeClock()
    calls = {"dense": clock.model("dense", 4.0), "pruned": clock.model("pruned", 1.0)}
    times = timing.run_rounds(calls, rounds=3, repeats=2, warmup=1, clock=clock)
    assert set(times) == {"dense", "pruned"}
    assert times["dense"].shape == (3, 2) and times["pruned"].shape == (3, 2)
    np.testing.assert_array_equal(times["dense"], 4.0)
    np.testing.assert_array_equal(times["pruned"], 1.0)
    assert len(clock.log) == 2 * 3 * (1 + 2)  # models x rounds x (warm-up + timed)
    race = Race(times, batch_size=8, reference="dense", warmup=1)
    assert race.ratio("pruned") == 0.25 and race.speedup("pruned") == 4.0
    assert race.median_s("dense") == 4.0 and race.iqr_s("dense") == 0.0 and race.fastest_round_s("pruned") == 1.0


def test_run_rounds_rotates_who_goes_first():
    clock = FakeClock()
    calls = {n: clock.model(n, 1.0) for n in "abc"}
    timing.run_rounds(calls, rounds=4, repeats=1, warmup=0, clock=clock)
    rounds = ["".join(clock.log[i:i + 3]) for i in range(0, 12, 3)]
    assert rounds == ["abc", "bca", "cab", "abc"]


def test_run_rounds_warms_up_before_timing():
    clock = FakeClock()
    seen = []

    def slow_first():  # the first call of each round is slow (a cold cache): warm-up must absorb it
        seen.append(1)
        clock.t += 10.0 if len(seen) % 3 == 1 else 1.0

    times = timing.run_rounds({"m": slow_first}, rounds=2, repeats=2, warmup=1, clock=clock)
    np.testing.assert_array_equal(times["m"], 1.0)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(rounds=0), ValueError, "rounds must be an int >= 1"),
    (dict(repeats=0), ValueError, "repeats must be an int >= 1"),
    (dict(warmup=-1), ValueError, "warmup must be an int >= 0"),
    (dict(rounds=1.5), ValueError, "rounds"),
])
def test_run_rounds_rejects_bad_counts(kwargs, exc, match):
    args = dict(rounds=2, repeats=2, warmup=0) | kwargs
    with pytest.raises(exc, match=match):
        timing.run_rounds({"a": lambda: None}, **args)


def test_run_rounds_rejects_bad_calls():
    with pytest.raises(ValueError, match="empty"):
        timing.run_rounds({}, rounds=1, repeats=1, warmup=0)
    with pytest.raises(TypeError, match="not callable"):
        timing.run_rounds({"a": 3}, rounds=1, repeats=1, warmup=0)
    with pytest.raises(TypeError, match="dict"):
        timing.run_rounds([lambda: None], rounds=1, repeats=1, warmup=0)


# ----------------------------------------------------------------------------- Race on synthetic timings
def synthetic_race() -> Race:
    # 4 rounds x 3 calls. Round medians: dense 2, 4, 2, 10; pruned 1, 1, 1.5, 4.
    # Per-round ratios pruned/dense: 0.5, 0.25, 0.75, 0.4 -> median 0.45 (even count: mean of 0.4 and 0.5).
    dense = np.array([[2.0, 1.0, 3.0], [4.0, 4.0, 5.0], [2.0, 2.0, 2.0], [10.0, 9.0, 11.0]])
    pruned = np.array([[1.0, 1.0, 1.0], [1.0, 0.5, 2.0], [1.5, 1.5, 1.5], [4.0, 4.0, 4.0]])
    return Race({"dense": dense, "pruned": pruned}, batch_size=4, reference="dense", warmup=2,
                threads={"dense": 1, "pruned": 1}, frameworks={"dense": "torch", "pruned": "torch"})


def test_race_paired_ratio_is_the_median_of_per_round_ratios():
    race = synthetic_race()
    np.testing.assert_array_equal(race.round_times_s("dense"), [2.0, 4.0, 2.0, 10.0])
    np.testing.assert_array_equal(race.round_times_s("pruned"), [1.0, 1.0, 1.5, 4.0])
    assert race.ratio("pruned") == pytest.approx(0.45)
    # the paired speedup is the median of per-round speedups (2, 4, 1.33, 2.5 -> 2.25), not 1 / 0.45
    assert race.speedup("pruned") == pytest.approx(2.25)
    assert race.ratio("pruned", statistic="min") == pytest.approx(1.0 / 2.0)  # fastest rounds
    assert race.ratio("pruned", statistic="median") == pytest.approx(1.25 / 3.0)  # median rounds
    assert race.ratio("dense", "pruned") == pytest.approx(2.25)
    assert race.ratio("dense") == 1.0 and race.speedup("dense") == 1.0


def test_race_per_model_summaries():
    race = synthetic_race()
    r = race["dense"]
    assert isinstance(r, LatencyResult) and r.repeats == 12 and r.batch_size == 4 and r.framework == "torch"
    assert r.median_s == pytest.approx(np.median(race.times_s["dense"]))
    assert r.iqr_s == pytest.approx(np.subtract(*np.percentile(race.times_s["dense"], [75, 25])))
    assert race.fastest_round_s("dense") == 2.0 and race.fastest_round_s("pruned") == 1.0
    assert race.rounds == 4 and race.repeats == 3 and race.names == ["dense", "pruned"] and len(race) == 2
    assert "pruned" in race and list(race) == ["dense", "pruned"]
    rows = race.rows()
    assert [row["model"] for row in rows] == ["dense", "pruned"]
    assert rows[1]["ratio"] == pytest.approx(0.45) and rows[1]["fastest_round_s"] == 1.0


def test_race_tables_name_the_statistic():
    race = synthetic_race()
    text, md = str(race), race.to_markdown()
    for out in (text, md):
        assert "median over rounds of the per-round time ratio" in out
        assert "time / dense (paired)" in out and "0.450" in out
        assert "4 rounds x 3 timed calls" in out and "IQR" in out and "fastest round" in out
    assert md.startswith("| model | median ms/batch |") and md.count("\n|") >= 3
    assert race._repr_markdown_() == md
    assert "ratio of the fastest rounds" in race.to_markdown("min")


def test_race_rejects_unknown_names_and_bad_times():
    race = synthetic_race()
    with pytest.raises(ValueError, match="'sparse' is not a model of this race"):
        race.ratio("sparse")
    with pytest.raises(ValueError, match="reference 'big'"):
        race.ratio("pruned", "big")
    with pytest.raises(ValueError, match="statistic"):
        race.ratio("pruned", statistic="mean")
    with pytest.raises(ValueError, match="reference 'nope'"):
        Race({"a": np.ones((2, 2))}, batch_size=1, reference="nope")
    with pytest.raises(ValueError, match="at least one"):
        Race({}, batch_size=1, reference="a")
    with pytest.raises(ValueError, match="positive seconds"):
        Race({"a": np.zeros((2, 2))}, batch_size=1, reference="a")
    with pytest.raises(ValueError, match="same"):
        Race({"a": np.ones((2, 2)), "b": np.ones((3, 2))}, batch_size=1, reference="a")
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        Race({"a": np.ones((2, 2))}, batch_size=0, reference="a")


# ----------------------------------------------------------------------------- metrics.race: bad input
@pytest.mark.parametrize("kwargs, match", [
    (dict(batch_size=0), "batch_size must be an int >= 1"),
    (dict(rounds=0), "rounds must be an int >= 1"),
    (dict(repeats=0), "repeats must be an int >= 1"),
    (dict(warmup=-1), "warmup must be an int >= 0"),
    (dict(reference="sparse"), "reference 'sparse' is not one of the models"),
    (dict(input_shape=(0, 28)), "input_shape"),
])
def test_metrics_race_rejects_bad_arguments_before_timing(kwargs, match):
    args = dict(input_shape=(784,)) | kwargs
    with pytest.raises(ValueError, match=match):
        metrics.race({"dense": object()}, **args)


def test_metrics_race_rejects_empty_and_unknown_models():
    with pytest.raises(ValueError, match="empty"):
        metrics.race({}, (784,))
    with pytest.raises(TypeError, match="dict"):
        metrics.race([object()], (784,))
    with pytest.raises(TypeError, match=r"models\['dense'\].*TFLite"):
        metrics.race({"dense": np.zeros(3)}, (784,))


# ----------------------------------------------------------------------------- notebook 06's tools (moved here)
def test_time_ratio_and_paired_ratio_on_synthetic_times():
    t = {"a": np.array([2.0, 9.0, 3.0]), "b": np.array([1.0, 1.0, 10.0])}
    assert timing.time_ratio(t, "a", "b") == 2.0
    assert timing.time_ratio(t, "a", "b", statistic="median") == 3.0
    assert timing.time_ratio(t, "a", "b", statistic="paired") == timing.paired_ratio(t, "a", "b") == 2.0
    lr = {n: LatencyResult.from_times(v, batch_size=1, threads=1, framework="") for n, v in t.items()}
    assert timing.paired_ratio(lr, "a", "b") == 2.0
    with pytest.raises(KeyError):
        timing.paired_ratio(t, "a", "c")


def test_speedup_moved_unchanged():
    a = LatencyResult.from_times([2.0, 2.0], batch_size=8, threads=1, framework="")
    b = LatencyResult.from_times([0.5, 0.5], batch_size=8, threads=1, framework="")
    assert timing.speedup(a, b) == 4.0
    with pytest.raises(ValueError, match="batch sizes differ"):
        timing.speedup(a, LatencyResult.from_times([1.0], batch_size=4, threads=1, framework=""))
