"""course_utils.capstone: Budget validation, score() pass/fail with clear messages, both frameworks."""
from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch.nn.utils import prune

from course_utils import capstone, metrics
from course_utils.capstone import Budget, score
from course_utils.models_torch import mlp
from course_utils.results import REPO_ROOT


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.random((200, 28, 28), dtype=np.float32)
    return x, rng.integers(0, 10, 200).astype(np.int64)


@pytest.fixture(scope="module")
def dense():
    return mlp(seed=0)


# ----------------------------------------------------------------------------- Budget
def test_budget_needs_a_constraint():
    with pytest.raises(ValueError, match="no constraints"):
        Budget()
    with pytest.raises(ValueError, match="no constraints"):
        Budget(max_accuracy_drop=0.01)


@pytest.mark.parametrize("kwargs", [dict(max_macs=-5), dict(max_gzip_bytes=0), dict(max_params=-1),
                                    dict(max_latency_ratio=-0.5), dict(max_latency_ratio=0.0),
                                    dict(max_macs=10, max_accuracy_drop=-0.01),
                                    dict(max_macs=10, max_accuracy_drop=1.5)])
def test_budget_rejects_bad_values(kwargs):
    with pytest.raises(ValueError, match="Budget.max_"):
        Budget(**kwargs)


@pytest.mark.parametrize("kwargs", [dict(max_macs=1.5), dict(max_params="100"), dict(max_nonzeros=True),
                                    dict(max_latency_ratio=float("nan")), dict(max_latency_ratio="fast")])
def test_budget_rejects_bad_types(kwargs):
    with pytest.raises(TypeError, match="Budget.max_"):
        Budget(**kwargs)


def test_budget_relative_to_reference(dense):
    b = Budget.relative_to(dense, macs=0.25, gzip=0.2, params=0.5, latency=0.5, max_accuracy_drop=0.015)
    assert b.max_macs == int(0.25 * 266_200)
    assert b.max_params == int(0.5 * 266_610)
    assert b.max_gzip_bytes == int(0.2 * metrics.gzip_size(dense))
    assert b.max_latency_ratio == 0.5 and b.max_accuracy_drop == 0.015 and b.max_nonzeros is None
    assert set(b.constraints()) == {"max_macs", "max_gzip_bytes", "max_params", "max_latency_ratio",
                                    "max_accuracy_drop"}
    assert capstone.challenge_budget(dense).max_macs == b.max_macs
    with pytest.raises(ValueError, match="positive fraction"):
        Budget.relative_to(dense, macs=-0.25)
    with pytest.raises(TypeError):
        Budget.relative_to(np.zeros(3), macs=0.25)
    with pytest.raises(ValueError, match="no constraints"):
        Budget.relative_to(dense)


# ----------------------------------------------------------------------------- score
def test_model_meeting_the_budget_passes(data, dense):
    small = mlp((64, 32), seed=0)
    budget = Budget.relative_to(dense, macs=0.25, gzip=0.2, params=0.25)
    r = score(small, data, budget, dense, verbose=False)
    assert r.passed and r.failed == []
    assert r.macs == 784 * 64 + 64 * 32 + 32 * 10 and r.reference_macs == 266_200
    assert r.mac_ratio == pytest.approx(r.macs / 266_200)
    assert r.latency_s is None and r.latency_ratio is None  # not measured unless the budget limits it
    assert 0 <= r.accuracy <= 1 and r.accuracy_drop == pytest.approx(r.reference_accuracy - r.accuracy)
    assert "budget MET" in str(r)


def test_model_over_budget_fails_naming_the_constraint(data, dense, capsys):
    budget = Budget.relative_to(dense, macs=0.25, gzip=0.2)
    r = score(dense, data, budget, dense)
    out = capsys.readouterr().out
    assert not r.passed and r.failed == ["gzip_bytes", "macs"]
    assert "NOT MET (gzip_bytes, macs)" in out
    assert "FAIL macs: macs is 266,200, over the limit of 66,550" in out
    assert "remove" in r.check("macs").message
    assert r.check("gzip_bytes").measured == metrics.gzip_size(dense)
    with pytest.raises(KeyError, match="latency_ratio"):
        r.check("latency_ratio")


def test_masks_do_not_reduce_macs_and_leftover_masks_are_flagged(data, dense):
    pruned = copy.deepcopy(dense)
    params = [(pruned.fc1, "weight"), (pruned.fc2, "weight"), (pruned.fc3, "weight")]
    prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=0.9)
    budget = Budget.relative_to(dense, macs=0.25, gzip=0.2, nonzeros=0.2)
    r = score(pruned, data, budget, dense, verbose=False)
    assert r.check("nonzeros").passed and not r.check("macs").passed
    assert not r.check("gzip_bytes").passed  # weight_orig + weight_mask are saved too
    assert any("prune.remove" in n for n in r.notes) and "masks" in r.check("gzip_bytes").message
    for m, name in params:
        prune.remove(m, name)
    r2 = score(pruned, data, budget, dense, verbose=False)
    assert r2.check("gzip_bytes").passed and not r2.notes and r2.failed == ["macs"]


def test_accuracy_and_latency_constraints(data, dense):
    small = mlp((32, 16), seed=0)
    budget = Budget(max_latency_ratio=50.0, max_accuracy_drop=1.0)
    r = score(small, data, budget, dense, verbose=False, latency_rounds=1, latency_repeats=3)
    assert r.latency_s > 0 and r.reference_latency_s > 0
    assert r.latency_ratio > 0  # paired: the median of per-round ratios (metrics.race), not latency_s / reference
    assert r.passed and "latency @256 (paired)" in r.table() and "per-round time ratio" in r.table()
    strict = Budget(max_macs=10**9, max_accuracy_drop=0.0)
    worse = copy.deepcopy(dense)
    with torch.no_grad():
        worse.fc3.bias[:] = torch.arange(10.0) * 100  # always predicts class 9
    acc_ref = capstone.accuracy(dense, *data)
    r2 = score(worse, data, strict, dense, verbose=False)
    assert r2.accuracy == pytest.approx(np.mean(data[1] == 9))
    if r2.accuracy < acc_ref:
        assert r2.failed == ["accuracy_drop"] and "points" in r2.check("accuracy_drop").message
    with pytest.raises(ValueError, match="measure_latency"):
        score(small, data, budget, dense, measure_latency=False)


def test_bad_input_raises(data, dense):
    b = Budget(max_macs=1000)
    with pytest.raises(TypeError, match="cannot measure `model`.*unsupported model"):
        score("my model", data, b, dense)
    with pytest.raises(TypeError, match="cannot measure `reference`"):
        score(dense, data, b, object())
    with pytest.raises(TypeError, match="Budget"):
        score(dense, data, {"max_macs": 1000}, dense)
    with pytest.raises(TypeError, match="tuple"):
        score(dense, data[0], b, dense)
    with pytest.raises(TypeError, match="float"):
        score(dense, ((data[0] * 255).astype(np.uint8), data[1]), b, dense)
    with pytest.raises(ValueError, match="as many images as labels"):
        score(dense, (data[0], data[1][:10]), b, dense)
    with pytest.raises(ValueError, match="input_shape"):
        score(dense, data, b, dense, input_shape=(0, 28))


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


def test_torch_scoring_does_not_import_tensorflow():
    res = _run("""
        import sys, numpy as np
        from course_utils import capstone
        from course_utils.models_torch import mlp
        x = np.random.default_rng(0).random((20, 28, 28), dtype=np.float32); y = np.zeros(20, dtype=np.int64)
        r = capstone.score(mlp((16, 8)), (x, y), capstone.Budget(max_macs=20_000), mlp(), verbose=False)
        assert r.passed and "tensorflow" not in sys.modules, sorted(m for m in sys.modules if "tensorflow" in m)
        print("OK")
    """)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-2000:]


def test_keras_models_are_scored_without_torch():
    res = _run("""
        import sys, numpy as np
        from course_utils import capstone
        from course_utils.models_tf import mlp
        x = np.random.default_rng(0).random((20, 28, 28), dtype=np.float32); y = np.zeros(20, dtype=np.int64)
        dense, small = mlp(), mlp((16, 8))
        b = capstone.challenge_budget(dense)
        assert b.max_macs == 266_200 // 4, b
        r = capstone.score(small, (x, y), b, dense, latency_rounds=1, latency_repeats=3, verbose=False)
        assert r.framework == "keras" and r.macs == 784 * 16 + 16 * 8 + 80
        assert r.check("macs").passed and r.check("gzip_bytes").passed and r.latency_ratio > 0
        r2 = capstone.score(dense, (x, y), b, dense, latency_rounds=1, latency_repeats=3, verbose=False)
        assert "macs" in r2.failed and "gzip_bytes" in r2.failed
        assert "torch" not in sys.modules
        from course_utils.models_torch import mlp as torch_mlp  # mixing frameworks is refused
        try:
            capstone.score(torch_mlp(), (x, y), b, dense, verbose=False)
        except ValueError as e:
            assert "compare like with like" in str(e)
        else:
            raise AssertionError("mixed frameworks accepted")
        print("OK")
    """)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]


def test_keras_pruning_wrappers_are_flagged_and_cost_bytes():
    res = _run("""
        import numpy as np
        import tensorflow_model_optimization as tfmot
        from course_utils import capstone, metrics
        from course_utils import pruning_tf as pt
        from course_utils.models_tf import mlp
        x = np.random.default_rng(0).random((20, 28, 28), dtype=np.float32); y = np.zeros(20, dtype=np.int64)
        dense = mlp()
        small = mlp((64, 32))
        pt.multiply_masks(small, pt.magnitude_masks(small, 0.9))
        wrapped = pt.wrap_for_pruning(small, tfmot.sparsity.keras.ConstantSparsity(0.9, begin_step=0))
        assert capstone.pruning_leftovers(wrapped) == ["prune_low_magnitude_fc1", "prune_low_magnitude_fc2",
                                                       "prune_low_magnitude_fc3"], capstone.pruning_leftovers(wrapped)
        assert capstone.pruning_leftovers(small) == []
        b = capstone.Budget(max_gzip_bytes=10**9, max_macs=10**9)
        rw = capstone.score(wrapped, (x, y), b, dense, verbose=False)
        rs = capstone.score(pt.strip(wrapped), (x, y), b, dense, verbose=False)
        assert rw.notes and "strip_pruning" in rw.notes[0] and not rs.notes
        assert rw.gzip_bytes > rs.gzip_bytes and rw.macs == rs.macs  # masks are saved; MACs are shape-based
        assert rw.nonzeros == rs.nonzeros and rw.accuracy == rs.accuracy
        print("OK")
    """)
    assert res.returncode == 0 and "OK" in res.stdout, res.stderr[-3000:]
