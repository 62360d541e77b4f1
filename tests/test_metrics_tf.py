"""course_utils.metrics with Keras 2 (tf_keras) models (imports TensorFlow only, never torch)."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS=1 before TensorFlow is imported)
from course_utils import metrics as M
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()
import tensorflow_model_optimization as tfmot  # noqa: E402

L = keras.layers


def small_mlp(n_in: int = 8, hidden: int = 16, n_out: int = 4) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((n_in,)), L.Dense(hidden, activation="relu", name="fc1"),
                             L.Dense(n_out, name="fc2")], name="mlp")


def small_cnn(groups: int = 1) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((28, 28)), L.Reshape((28, 28, 1)),
        L.Conv2D(4, 3, padding="same", name="conv1"), L.BatchNormalization(name="bn1"), L.ReLU(),
        L.MaxPooling2D(2),
        L.Conv2D(8, 3, padding="same", groups=groups, name="conv2"), L.ReLU(), L.MaxPooling2D(2),
        L.Flatten(name="flatten"), L.Dense(10, name="fc"),
    ], name="cnn")


def test_framework_detection():
    assert M.framework_of(small_mlp()) == "keras"
    with pytest.raises(TypeError, match="Keras 3"):
        M.sparsity(type("Model", (), {"__module__": "keras.src.models.model"})())
    with pytest.raises(TypeError, match="not a Model"):
        M.count_params(L.Dense(3))
    with pytest.raises(TypeError, match="torch.nn.Module"):
        M.count_params(np.zeros(3))


def test_dense_with_known_zeros():
    model = keras.Sequential([keras.Input((4,)), L.Dense(3, name="fc")])
    kernel = np.array([[0.0, 1, 0], [2, 0, 3], [0, 0, 4], [5, 6, 0]], np.float32)  # 6 of 12 are zero
    model.get_layer("fc").set_weights([kernel, np.array([1.0, 0, 2], np.float32)])
    assert M.count_params(model) == 15
    assert M.count_nonzero(model) == 6 + 2
    assert M.sparsity(model) == 0.5
    assert M.layer_sparsity(model) == {"fc": 0.5}
    np.testing.assert_array_equal(M.prunable_weights(model)["fc"], kernel)
    assert M.macs(model, (4,)) == 12


def test_macs_of_a_conv_net_match_the_hand_formula():
    model = small_cnn()
    expected = {
        "conv1": 28 * 28 * 4 * (1 * 3 * 3),  # output elements × (in_channels × kernel area)
        "conv2": 14 * 14 * 8 * (4 * 3 * 3),
        "fc": 8 * 7 * 7 * 10,
    }
    assert M.layer_macs(model, (28, 28)) == expected
    assert M.macs(model, (28, 28)) == sum(expected.values())
    assert M.layer_macs(small_cnn(groups=2), (28, 28))["conv2"] == 14 * 14 * 8 * (2 * 3 * 3)
    # Same parameter count as the torch twin: BatchNorm moving mean/variance are not parameters.
    assert M.count_params(model) == (4 * 9 + 4) + 2 * 4 + (8 * 4 * 9 + 8) + (392 * 10 + 10)
    depthwise = keras.Sequential([keras.Input((6, 6, 3)), L.DepthwiseConv2D(3, depth_multiplier=2, name="dw")])
    assert M.layer_macs(depthwise, (6, 6, 3)) == {"dw": 4 * 4 * 6 * 9}


def test_macs_builds_an_unbuilt_sequential():
    model = keras.Sequential([L.Flatten(), L.Dense(5, name="fc1")])
    assert M.macs(model, (4, 4)) == 16 * 5


@pytest.mark.parametrize("shape", [(1, 28, 28), (28,), (28, 29)])
def test_macs_wrong_input_shape(shape):
    with pytest.raises(ValueError, match="input_shape"):
        M.macs(small_cnn(), shape)


def test_unsupported_layer_raises_naming_it():
    model = keras.Sequential([keras.Input((5, 3)), L.LSTM(4, name="rnn"), L.Dense(2, name="fc")])
    for fn in (lambda: M.macs(model, (5, 3)), lambda: M.sparsity(model), lambda: M.count_params(model)):
        with pytest.raises(NotImplementedError, match="rnn"):
            fn()
    with pytest.raises(ValueError, match="not built"):
        M.sparsity(keras.Sequential([L.Dense(3)]))


@pytest.fixture(scope="module")
def pruned():
    """A TFMOT-wrapped MLP trained for a few steps at ConstantSparsity(0.5), and its dense twin."""
    dense = small_mlp()
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(
        small_mlp(), pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1))
    wrapped.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 8), dtype=np.float32), rng.integers(0, 4, 64)
    wrapped.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return dense, wrapped


def test_tfmot_wrapped_model(pruned):
    dense, wrapped = pruned
    assert set(M.prunable_weights(wrapped)) == {"fc1", "fc2"}  # inner layer names
    assert M.sparsity(wrapped) == pytest.approx(0.5, abs=0.02)
    assert all(s == pytest.approx(0.5, abs=0.02) for s in M.layer_sparsity(wrapped).values())
    assert M.count_params(wrapped) == M.count_params(dense) == 8 * 16 + 16 + 16 * 4 + 4
    assert M.count_nonzero(wrapped) <= 64 + 32 + 20
    assert M.layer_macs(wrapped, (8,)) == M.layer_macs(dense, (8,)) == {"fc1": 128, "fc2": 64}
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    assert M.sparsity(stripped) == pytest.approx(M.sparsity(wrapped))
    assert M.serialized_size(wrapped) > M.serialized_size(stripped)  # masks, thresholds, steps are saved
    with pytest.raises(ValueError, match="strip_pruning"):
        M.tflite_size(wrapped)
    blob = M.tflite_bytes(stripped)
    assert len(blob) == M.tflite_size(stripped) > 0
    r = M.tflite_latency(blob, (8,), batch_size=4, repeats=3, warmup=1, threads=1)
    assert r.framework == "tflite" and r.threads == 1 and 0 < r.p25_s <= r.median_s <= r.p75_s
    with pytest.raises(ValueError, match="input_shape"):
        M.tflite_latency(blob, (9,), batch_size=4, repeats=1)
    with pytest.raises(TypeError, match="bytes"):
        M.tflite_latency(stripped, (8,), repeats=1)


def test_gzip_of_sparse_model_is_much_smaller():
    def model(sparse: bool) -> keras.Model:
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((200,)), L.Dense(200, use_bias=False, name="fc")])
        if sparse:
            k = m.get_layer("fc").kernel.numpy()
            k[np.abs(k) < np.quantile(np.abs(k), 0.9)] = 0.0
            m.get_layer("fc").set_weights([k])
        return m

    dense, sparse = model(False), model(True)
    assert M.sparsity(sparse) == pytest.approx(0.9)
    assert M.serialized_size(sparse) == M.serialized_size(dense)
    assert M.gzip_size(sparse) < 0.35 * M.gzip_size(dense)
    assert M.sparse_storage_bytes(sparse) == 4000 * 4 + 4000 * 4 + 201 * 4


def test_latency_sanity():
    model = small_mlp()
    r = M.latency(model, (8,), batch_size=4, repeats=3, warmup=1)
    assert r.framework == "keras" and r.batch_size == 4 and r.repeats == 3 and r.threads >= 1
    assert r.threads == (tf.config.threading.get_intra_op_parallelism_threads() or r.threads)
    assert 0 < r.p25_s <= r.median_s <= r.p75_s
    assert M.speedup(r, r) == 1.0


@pytest.mark.parametrize("kwargs", [dict(batch_size=0), dict(repeats=0), dict(input_shape=(1, 8)),
                                    dict(input_shape=())])
def test_latency_bad_arguments(kwargs):
    args = {"input_shape": (8,), "batch_size": 2, "repeats": 1, "warmup": 0, **kwargs}
    with pytest.raises(ValueError):
        M.latency(small_mlp(), args.pop("input_shape"), **args)


def test_macs_of_nested_shared_and_reused_layers():
    enc = keras.Sequential([keras.Input((4,)), L.Dense(3, name="a")], name="enc")
    inp = keras.Input((4,))
    twice = keras.Model(inp, L.Add()([enc(inp), enc(inp)]))
    assert M.layer_macs(twice, (4,)) == {"enc/a": 2 * 12}  # a nested model called twice counts twice
    assert set(M.prunable_weights(twice)) == {"enc/a"}
    # Surgery-style reuse: d1 now also lives in another model's graph; each model counts its own calls.
    base = keras.Sequential([keras.Input((4,)), L.Dense(3, name="d1"), L.Dense(2, name="d2")])
    new = keras.Sequential([keras.Input((4,)), base.get_layer("d1"), L.Dense(5, name="d3")])
    assert M.layer_macs(base, (4,)) == {"d1": 12, "d2": 6}
    assert M.layer_macs(new, (4,)) == {"d1": 12, "d3": 15}


def test_latency_threads_cannot_change_after_tf_started():
    tf.constant(1.0)  # TensorFlow is initialised now
    current = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.warns(RuntimeWarning, match="already initialised"):
        r = M.latency(small_mlp(), (8,), batch_size=2, repeats=1, warmup=0, threads=64)
    assert r.threads == (current or r.threads) and r.threads != 64


# ----------------------------------------------------------------------------- LiteRT (issue 12)
def _tiny_tflite() -> bytes:
    from course_utils import models_tf

    model = models_tf.mlp(hidden=(8, 4), seed=0)
    return M.tflite_bytes(model)


def test_litert_interpreter_is_ai_edge_litert_and_matches_tf_lite():
    """The course runs .tflite files with LiteRT's interpreter; tf.lite.Interpreter (the fallback) gives the same."""
    import warnings

    from course_utils import metrics_tf
    from course_utils.pruning_tf import tflite_predict

    blob = _tiny_tflite()
    interp = metrics_tf.litert_interpreter(blob, num_threads=1)
    assert type(interp).__module__.startswith("ai_edge_litert")
    x = np.random.default_rng(0).random((5, 28, 28), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy = tf.lite.Interpreter(model_content=blob, num_threads=1)
    inp, out = legacy.get_input_details()[0], legacy.get_output_details()[0]
    legacy.resize_tensor_input(inp["index"], x.shape)
    legacy.allocate_tensors()
    legacy.set_tensor(inp["index"], x)
    legacy.invoke()
    np.testing.assert_array_equal(tflite_predict(blob, x), legacy.get_tensor(out["index"]))
    with metrics_tf.tflite_timer(blob, (28, 28), 4, threads=1) as (call, used):
        call()
    assert used == 1


def test_litert_interpreter_falls_back_to_tf_lite(monkeypatch):
    import builtins

    from course_utils import metrics_tf

    real_import = builtins.__import__

    def no_litert(name, *args, **kwargs):
        if name.startswith("ai_edge_litert"):
            raise ImportError("no ai_edge_litert")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_litert)
    interp = metrics_tf.litert_interpreter(_tiny_tflite())
    assert isinstance(interp, tf.lite.Interpreter)
