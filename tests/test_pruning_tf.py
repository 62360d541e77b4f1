"""course_utils.pruning_tf: TFMOT helpers and hand-made masks. Tiny models and synthetic data only."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()
tfmot = pytest.importorskip("tensorflow_model_optimization")
sk = tfmot.sparsity.keras

from course_utils import metrics, models_tf, train_tf  # noqa: E402
from course_utils import pruning_tf as pt  # noqa: E402


def data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n).astype(np.int64)
    x = rng.random((n, 28, 28), dtype=np.float32) * 0.5
    for k in range(4):
        r, c = divmod(k, 2)
        x[y == k, r * 14 : r * 14 + 14, c * 14 : c * 14 + 14] += 0.5
    return x, y


@pytest.fixture(scope="module")
def dense():
    m = models_tf.mlp((16, 8), seed=0)
    x, y = data()
    train_tf.fit(m, (x, y), epochs=1, batch_size=32, progress=False)
    return m


def fit_pruned(model, epochs=1, batch_size=32, extra=()):
    x, y = data()
    train_tf.compile(model)
    return train_tf.fit(model, (x, y), epochs=epochs, batch_size=batch_size, compile=False, progress=False,
                        callbacks=pt.pruning_callbacks() + list(extra))


# ----------------------------------------------------------------------------- prune_model / strip
def test_prune_model_wraps_a_copy_not_the_original(dense):
    before = [w.copy() for w in dense.get_weights()]
    pruned = pt.wrap_for_pruning(dense, sk.ConstantSparsity(0.5, begin_step=0, frequency=1))
    wrapped = [layer.layer.name for layer in pruned.layers if pt.is_pruned(layer)]
    assert wrapped == ["fc1", "fc2", "fc3"]
    assert pruned.get_layer("prune_low_magnitude_fc1").layer is not dense.get_layer("fc1")
    fit_pruned(pruned)
    assert metrics.sparsity(pruned) == pytest.approx(0.5, abs=0.01)
    assert all(np.array_equal(a, b) for a, b in zip(before, dense.get_weights())), "the dense model was modified"
    assert metrics.sparsity(dense) < 0.01


def test_prune_model_some_layers_and_schedule_dict(dense):
    only = pt.wrap_for_pruning(dense, sk.ConstantSparsity(0.5, begin_step=0), layers=["fc2"])
    assert [layer.layer.name for layer in only.layers if pt.is_pruned(layer)] == ["fc2"]
    per = pt.wrap_for_pruning(dense, {"fc1": sk.ConstantSparsity(0.25, 0, frequency=1),
                                 "fc3": sk.ConstantSparsity(0.75, 0, frequency=1)})
    assert [layer.layer.name for layer in per.layers if pt.is_pruned(layer)] == ["fc1", "fc3"]
    fit_pruned(per)
    s = metrics.layer_sparsity(pt.strip(per))
    assert s["fc1"] == pytest.approx(0.25, abs=0.01) and s["fc3"] == pytest.approx(0.75, abs=0.01)
    assert s["fc2"] == 0.0


def test_step_counter_starts_at_one(dense):
    # default frequency=100 with begin_step=0 first prunes at step 100, not at the first batch
    m = pt.wrap_for_pruning(dense, {"fc1": sk.ConstantSparsity(0.5, begin_step=0),
                               "fc2": sk.ConstantSparsity(0.5, begin_step=0, frequency=1)})
    fit_pruned(m)  # 2 steps
    s = metrics.layer_sparsity(m)
    assert s["fc1"] == 0.0 and s["fc2"] == pytest.approx(0.5, abs=0.01)
    # PolynomialDecay: the first batch is step 1, so after one batch the sparsity is the target at t=1
    sched = sk.PolynomialDecay(0.0, 0.8, begin_step=0, end_step=4, frequency=1)
    m2 = pt.wrap_for_pruning(dense, sched, layers=["fc1"])
    x, y = data(32)
    train_tf.compile(m2)
    train_tf.fit(m2, (x, y), epochs=1, batch_size=32, compile=False, progress=False, callbacks=pt.pruning_callbacks())
    assert metrics.layer_sparsity(m2)["fc1"] == pytest.approx(pt.schedule_value(sched, 1)[1], abs=0.01)


def test_prune_model_bad_inputs(dense):
    sched = sk.ConstantSparsity(0.5, 0)
    with pytest.raises(ValueError, match="no layer named"):
        pt.wrap_for_pruning(dense, sched, layers=["fc9"])
    with pytest.raises(ValueError, match="no prunable kernel"):
        pt.wrap_for_pruning(dense, sched, layers=["flatten"])
    with pytest.raises(ValueError, match="empty"):
        pt.wrap_for_pruning(dense, sched, layers=[])
    with pytest.raises(TypeError, match="PruningSchedule"):
        pt.wrap_for_pruning(dense, keras.optimizers.schedules.PolynomialDecay(1e-3, 100))
    with pytest.raises(ValueError, match="no schedule"):
        pt.wrap_for_pruning(dense, {"fc1": sched}, layers=["fc1", "fc2"])
    with pytest.raises(TypeError, match="tf_keras"):
        pt.wrap_for_pruning(object(), sched)
    with pytest.raises(ValueError, match="already holds pruning wrappers"):
        pt.wrap_for_pruning(pt.wrap_for_pruning(dense, sched), sched)

    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.d = keras.layers.Dense(2)

        def call(self, x):
            return self.d(x)

    sub = Sub()
    sub(np.zeros((1, 3), np.float32))
    with pytest.raises(TypeError, match="subclassed"):
        pt.wrap_for_pruning(sub, sched)


@pytest.mark.skipif("keras" not in sys.modules, reason="Keras 3 not loaded by TensorFlow here")
def test_keras3_model_gets_a_clear_error():
    k3 = sys.modules["keras"]
    if not str(getattr(k3, "__version__", "")).startswith("3."):
        pytest.skip("the loaded `keras` is not Keras 3")
    m = k3.Sequential([k3.Input((4,)), k3.layers.Dense(2)])
    with pytest.raises(TypeError, match="Keras 3"):
        pt.wrap_for_pruning(m, sk.ConstantSparsity(0.5, 0))


def test_strip_removes_wrappers_and_keeps_zeros(dense):
    m = pt.wrap_for_pruning(dense, sk.ConstantSparsity(0.6, begin_step=0, frequency=1))
    fit_pruned(m)
    s = pt.strip(m)
    assert not any(pt.is_pruned(layer) for layer in s.layers)
    assert [layer.name for layer in s.layers] == ["flatten", "fc1", "fc2", "fc3"]
    assert metrics.sparsity(s) == pytest.approx(0.6, abs=0.01)
    x, _ = data(16)
    np.testing.assert_allclose(train_tf.predict_logits(s, x), train_tf.predict_logits(m, x), atol=1e-5)
    # a wrapped model stores masks too: its weights file is bigger; stripped is the dense size
    assert metrics.serialized_size(m) > metrics.serialized_size(s)
    assert metrics.gzip_size(s) < metrics.gzip_size(dense)


# ----------------------------------------------------------------------------- callbacks & schedules
def test_pruning_callbacks(monkeypatch, tmp_path):
    cbs = pt.pruning_callbacks()
    assert len(cbs) == 1 and isinstance(cbs[0], sk.UpdatePruningStep)
    with pytest.raises(ValueError, match="logdir"):
        pt.pruning_callbacks("")
    monkeypatch.setattr(pt, "tensorboard_available", lambda: False)
    with pytest.raises(ModuleNotFoundError, match="tensorboard"):
        pt.pruning_callbacks(str(tmp_path))


@pytest.mark.skipif(not pt.tensorboard_available(), reason="tensorboard not installed")
def test_pruning_summaries_round_trip(dense, tmp_path):
    m = pt.wrap_for_pruning(dense, sk.ConstantSparsity(0.5, begin_step=0, frequency=1))
    x, y = data()
    train_tf.compile(m)
    train_tf.fit(m, (x, y), epochs=2, batch_size=32, compile=False, progress=False,
                 callbacks=pt.pruning_callbacks(str(tmp_path)))
    logs = pt.read_pruning_summaries(tmp_path)
    series = logs["prune_low_magnitude_fc1/mask:0/sparsity"]
    assert series[0] == (0, 0.0) and series[-1][1] == pytest.approx(0.5, abs=0.01)


def test_read_pruning_summaries_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="PruningSummaries"):
        pt.read_pruning_summaries(tmp_path)


def test_sparsity_log_records_masks(dense):
    log = pt.SparsityLog()
    m = pt.wrap_for_pruning(dense, sk.ConstantSparsity(0.5, begin_step=0, frequency=1), layers=["fc1", "fc2"])
    fit_pruned(m, epochs=2, extra=[log])
    assert log.steps == [0, 2, 4]
    assert set(log.per_layer) == {"fc1", "fc2"}
    assert log.overall[0] == 0.0 and log.overall[-1] == pytest.approx(0.5, abs=0.01)


def test_schedule_value():
    sched = sk.PolynomialDecay(0.0, 0.9, begin_step=0, end_step=100, frequency=10)
    assert pt.schedule_value(sched, 0) == (True, pytest.approx(0.0))
    prunes, s = pt.schedule_value(sched, 37)
    assert not prunes and s == pytest.approx(0.9 * (1 - (1 - 0.37) ** 3), abs=1e-6)
    assert pt.schedule_value(sched, 500) == (False, pytest.approx(0.9))
    with pytest.raises(ValueError):
        pt.schedule_value(sched, -1)
    with pytest.raises(TypeError):
        pt.schedule_value(lambda t: t, 3)


# ----------------------------------------------------------------------------- masks by hand
def test_magnitude_and_random_masks(dense):
    k = pt.kernels(dense)
    lw = pt.magnitude_masks(dense, 0.7, scope="layer")
    for name, m in lw.items():
        assert m.shape == k[name].shape and m.dtype == bool  # keep-masks: True = kept, as in pruning_torch
        assert 1 - m.mean() == pytest.approx(round(0.7 * m.size) / m.size)
        assert np.abs(k[name][m == 1]).min() >= np.abs(k[name][m == 0]).max()  # keeps the largest
    gl = pt.magnitude_masks(dense, 0.7, scope="global")
    total = sum(m.size for m in gl.values())
    assert sum(int((m == 0).sum()) for m in gl.values()) == round(0.7 * total)
    kept = np.concatenate([np.abs(k[n][gl[n] == 1]) for n in gl])
    gone = np.concatenate([np.abs(k[n][gl[n] == 0]) for n in gl])
    assert kept.min() >= gone.max()
    gs = pt.global_sparsities(dense, 0.7)
    assert gs == {n: pytest.approx(1 - gl[n].mean()) for n in gl}
    r1, r2 = pt.random_masks(dense, 0.7, seed=1), pt.random_masks(dense, 0.7, seed=1)
    assert all(np.array_equal(r1[n], r2[n]) for n in r1)
    assert all(1 - r1[n].mean() == pytest.approx(1 - lw[n].mean()) for n in r1)
    assert not np.array_equal(r1["fc1"], lw["fc1"])
    only = pt.magnitude_masks(dense, 0.5, layers=["fc2"])
    assert list(only) == ["fc2"]
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError):
            pt.magnitude_masks(dense, bad)
    with pytest.raises(TypeError):
        pt.magnitude_masks(dense, "0.5")
    with pytest.raises(ValueError, match="scope"):
        pt.magnitude_masks(dense, 0.5, scope="neuron")
    with pytest.raises(ValueError, match="seed"):
        pt.random_masks(dense, 0.5, seed=-1)


def test_apply_masks_and_keep_masks(dense):
    work = keras.models.clone_model(dense)
    work.set_weights(dense.get_weights())
    masks = pt.random_masks(work, 0.8, seed=0)
    pt.multiply_masks(work, masks)
    assert metrics.sparsity(work) == pytest.approx(0.8, abs=0.01)
    x, y = data()
    train_tf.fit(work, (x, y), epochs=2, batch_size=32, progress=False, callbacks=[pt.KeepMasks(masks)])
    for name, m in masks.items():
        assert np.all(work.get_layer(name).kernel.numpy()[m == 0] == 0)
    with pytest.raises(ValueError, match="shape"):
        pt.multiply_masks(work, {"fc1": np.ones((3, 3))})
    with pytest.raises(ValueError, match="only 0 and 1"):
        pt.multiply_masks(work, {"fc1": np.full(work.get_layer("fc1").kernel.shape, 0.5)})
    with pytest.raises(TypeError):
        pt.multiply_masks(work, {})
    with pytest.raises(ValueError, match="wrappers"):
        pt.kernels(pt.wrap_for_pruning(dense, sk.ConstantSparsity(0.5, 0)))


# ----------------------------------------------------------------------------- twin names (issue 9, P1-4)
def test_magnitude_masks_reads_like_pruning_torch(dense):
    """Same argument (amount), same default scope ("global"), bool keep-masks; sparsity= still accepted."""
    default = pt.magnitude_masks(dense, 0.6)
    explicit = pt.magnitude_masks(dense, amount=0.6, scope="global", method="l1", layers=None, seed=0)
    old = pt.magnitude_masks(dense, sparsity=0.6)
    for n in default:
        assert default[n].dtype == bool
        np.testing.assert_array_equal(default[n], explicit[n])
        np.testing.assert_array_equal(default[n], old[n])
    assert pt.global_sparsities(dense, sparsity=0.6) == pt.global_sparsities(dense, 0.6)
    with pytest.raises(TypeError, match="both amount= and its old name sparsity="):
        pt.magnitude_masks(dense, amount=0.6, sparsity=0.6)
    per = pt.magnitude_masks(dense, {"fc1": 0.5, "fc2": 0.25}, scope="layer")
    assert list(per) == ["fc1", "fc2"]
    assert 1 - per["fc2"].mean() == pytest.approx(round(0.25 * per["fc2"].size) / per["fc2"].size)
    with pytest.raises(ValueError, match="scope='layer'"):
        pt.magnitude_masks(dense, {"fc1": 0.5})
    with pytest.raises(ValueError, match="method"):
        pt.magnitude_masks(dense, 0.5, method="l2")


def test_random_method_is_random_masks_and_grows_masks(dense):
    r = pt.magnitude_masks(dense, 0.7, scope="layer", method="random", seed=4)
    old = pt.random_masks(dense, sparsity=0.7, seed=4)
    assert all(np.array_equal(r[n], old[n]) for n in r)
    work = keras.models.clone_model(dense)
    work.set_weights(dense.get_weights())
    first = pt.magnitude_masks(work, 0.5, method="random", seed=1)
    pt.multiply_masks(work, first)
    more = pt.magnitude_masks(work, 0.8, method="random", seed=2)
    for n in first:
        assert not (more[n] & ~first[n]).any(), "already-zero weights must stay pruned"


def test_old_tf_names_warn_and_do_the_same(dense):
    """prune_model/apply_masks meant something else in pruning_torch: the old names still work, and warn."""
    with pytest.warns(DeprecationWarning, match="wrap_for_pruning"):
        old = pt.prune_model(dense, sk.ConstantSparsity(0.5, begin_step=0), layers=["fc2"])
    assert [layer.layer.name for layer in old.layers if pt.is_pruned(layer)] == ["fc2"]
    masks = pt.magnitude_masks(dense, 0.5)
    a = keras.models.clone_model(dense)
    a.set_weights(dense.get_weights())
    b = keras.models.clone_model(dense)
    b.set_weights(dense.get_weights())
    with pytest.warns(DeprecationWarning, match="multiply_masks"):
        pt.apply_masks(a, masks)
    pt.multiply_masks(b, {n: m.astype(np.float32) for n, m in masks.items()})  # 0/1 floats still accepted
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert pt.prune_model.__name__ == "prune_model" and "wrap_for_pruning" in pt.prune_model.__doc__


def test_reset_optimizer_equals_fresh_compile(dense):
    x, y = data()
    a = keras.models.clone_model(dense)
    a.set_weights(dense.get_weights())
    train_tf.compile(a, lr=1e-2)
    train_tf.fit(a, (x, y), epochs=1, batch_size=16, compile=False, progress=False, seed=3)  # Adam state now nonzero
    a.set_weights(dense.get_weights())
    pt.reset_optimizer(a)
    train_tf.fit(a, (x, y), epochs=1, batch_size=16, compile=False, progress=False, seed=3)
    b = keras.models.clone_model(dense)
    b.set_weights(dense.get_weights())
    train_tf.fit(b, (x, y), epochs=1, batch_size=16, lr=1e-2, progress=False, seed=3)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="not compiled"):
        pt.reset_optimizer(models_tf.mlp((4,)))


def test_tflite_predict_matches_keras(dense):
    x, _ = data(8)
    b = metrics.tflite_bytes(dense)
    np.testing.assert_allclose(pt.tflite_predict(b, x), train_tf.predict_logits(dense, x), atol=1e-5)
    with pytest.raises(ValueError, match="per-sample shape"):
        pt.tflite_predict(b, np.zeros((2, 27, 27), np.float32))
    with pytest.raises(TypeError):
        pt.tflite_predict("model.tflite", x)
