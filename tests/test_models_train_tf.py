"""Keras (tf_keras) models and training loop, parity with the PyTorch twins, and the cubic
schedule against TFMOT's PolynomialDecay. Tiny synthetic data only."""
from __future__ import annotations

import math

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()
tfmot = pytest.importorskip("tensorflow_model_optimization")

from course_utils import models_tf as mk  # noqa: E402
from course_utils import train_tf as tk  # noqa: E402
from course_utils.schedules import cubic_sparsity, should_prune  # noqa: E402


def quadrant_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 28x28 images; class k (0-3) has a bright quadrant k. Easy to learn."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n).astype(np.int64)
    x = rng.random((n, 28, 28), dtype=np.float32) * 0.5
    for k in range(4):
        r, c = divmod(k, 2)
        x[y == k, r * 14 : r * 14 + 14, c * 14 : c * 14 + 14] += 0.5
    return x, y


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def mlp_formula(hidden) -> int:
    sizes = [784, *hidden, 10]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def cnn_formula(c1: int, c2: int) -> int:
    return (9 * c1 + c1) + 2 * c1 + (9 * c1 * c2 + c2) + 2 * c2 + (c2 * 49 * 10 + 10)


# --------------------------------------------------------------------------- models
def test_mlp_architecture_and_param_count():
    m = mk.mlp()
    assert [layer.name for layer in m.layers] == ["flatten", "fc1", "fc2", "fc3"]
    assert m.count_params() == trainable(m) == 266_610 == mlp_formula((300, 100))
    assert mk.mlp((50, 40, 30)).count_params() == mlp_formula((50, 40, 30))
    assert m.input_shape == (None, 28, 28) and m.output_shape == (None, 10)


def test_cnn_architecture_and_param_count():
    m = mk.small_cnn()
    names = [layer.name for layer in m.layers]
    assert names[0] == "reshape"
    for name in ("conv1", "bn1", "conv2", "bn2", "flatten", "fc"):
        assert name in names
    assert trainable(m) == cnn_formula(32, 64) == 50_378
    # count_params also counts BatchNorm's moving mean/variance (2 per channel, not trainable)
    assert m.count_params() == cnn_formula(32, 64) + 2 * (32 + 64)
    assert m.get_layer("fc").input_shape == (None, 64 * 7 * 7)


@pytest.mark.parametrize("hidden", [(300, 100), (64,), (20, 10, 5)])
def test_mlp_param_count_equals_torch(hidden):
    mt = pytest.importorskip("course_utils.models_torch")
    torch_count = sum(p.numel() for p in mt.mlp(hidden).parameters())
    assert mk.mlp(hidden).count_params() == torch_count


@pytest.mark.parametrize("channels", [(32, 64), (4, 8)])
def test_cnn_trainable_params_equal_torch(channels):
    mt = pytest.importorskip("course_utils.models_torch")
    tm = mt.small_cnn(channels)
    km = mk.small_cnn(channels)
    assert trainable(km) == sum(p.numel() for p in tm.parameters())
    # per layer too (Keras kernel HWIO vs torch OIHW: same element count)
    for name in ("conv1", "conv2", "fc", "bn1", "bn2"):
        k_layer = km.get_layer(name)
        t_layer = getattr(tm, name)
        assert sum(int(np.prod(w.shape)) for w in k_layer.trainable_weights) == sum(
            p.numel() for p in t_layer.parameters()
        )
    # same BatchNorm hyper-parameters as torch
    assert km.get_layer("bn1").momentum == pytest.approx(1 - tm.bn1.momentum)
    assert km.get_layer("bn1").epsilon == pytest.approx(tm.bn1.eps)


def test_input_shapes():
    x = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    for model in (mk.mlp((8,)), mk.small_cnn((4, 8))):
        a = model(x, training=False).numpy()
        b = model(x[..., None], training=False).numpy()
        assert a.shape == (3, 10)
        np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("build", [lambda s: mk.mlp(seed=s), lambda s: mk.small_cnn(seed=s)])
def test_init_bounds_and_zero_bias(build):
    model = build(0)
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            w = layer.kernel.numpy()
            fan_in = int(np.prod(w.shape[:-1]))
            bound = math.sqrt(6.0 / fan_in)
            assert np.abs(w).max() <= bound + 1e-7
            assert np.abs(w).max() > 0.8 * bound
            if w.size > 1000:
                assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
            assert np.all(layer.bias.numpy() == 0)
        if isinstance(layer, keras.layers.BatchNormalization):
            assert np.all(layer.gamma.numpy() == 1) and np.all(layer.beta.numpy() == 0)


def test_seeding_reproducible():
    a, b, c = mk.mlp((16, 8), seed=1), mk.mlp((16, 8), seed=1), mk.mlp((16, 8), seed=2)
    for wa, wb, wc in zip(a.get_weights(), b.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wb)
        if wa.ndim == 2:
            assert not np.array_equal(wa, wc)
    # each layer draws its own numbers (not one seed reused): fc2 and fc3 have the same shape
    same_shape = mk.mlp((10, 10), seed=0)
    assert not np.array_equal(same_shape.get_layer("fc2").kernel.numpy(), same_shape.get_layer("fc3").kernel.numpy())
    cnn = mk.small_cnn((4, 8), seed=3)

    def conv2_kernel(model):
        return model.get_layer("conv2").kernel.numpy()

    np.testing.assert_array_equal(conv2_kernel(cnn), conv2_kernel(mk.small_cnn((4, 8), seed=3)))
    assert not np.array_equal(conv2_kernel(cnn), conv2_kernel(mk.small_cnn((4, 8), seed=4)))


def test_builders_reject_bad_arguments():
    for call, err in [
        (lambda: mk.mlp(()), ValueError),
        (lambda: mk.mlp((0,)), ValueError),
        (lambda: mk.mlp(300), TypeError),
        (lambda: mk.mlp(seed=-1), ValueError),
        (lambda: mk.small_cnn((32,)), ValueError),
    ]:
        with pytest.raises(err):
            call()


# --------------------------------------------------------------------------- training
def test_fit_learns_and_evaluate_is_a_fraction():
    x, y = quadrant_data(512)
    xv, yv = quadrant_data(128, seed=1)
    m = mk.mlp((32,), seed=0)
    before = tk.evaluate(m, (xv, yv))  # works on an uncompiled model
    hist = tk.fit(m, (x, y), epochs=3, batch_size=64, val=(xv, yv), progress=True)
    after = tk.evaluate(m, (xv, yv))
    assert 0.0 <= before["accuracy"] <= 1.0 and 0.0 <= after["accuracy"] <= 1.0
    assert after["accuracy"] > max(0.9, before["accuracy"])
    assert after["loss"] < before["loss"]
    assert hist.epochs == 3 and len(hist.val_loss) == 3 and len(hist.seconds) == 3 and hist.steps == 24
    assert hist.val_accuracy[-1] == pytest.approx(after["accuracy"])
    keras_eval = m.evaluate(xv, yv, verbose=0, return_dict=True)
    assert after["loss"] == pytest.approx(keras_eval["loss"], rel=1e-4)


def test_fit_cnn_and_predict_logits():
    x, y = quadrant_data(128)
    c = mk.small_cnn((4, 8), seed=0)
    h = tk.fit(c, (x[..., None], y), epochs=1, batch_size=64, progress=False)
    assert h.steps == 2 and len(h.accuracy) == 1
    logits = tk.predict_logits(c, x[:5])
    assert logits.shape == (5, 10) and logits.dtype == np.float32


def test_fit_same_seed_same_weights():
    x, y = quadrant_data(128)
    a, b = mk.mlp((8,), seed=0), mk.mlp((8,), seed=0)
    tk.fit(a, (x, y), epochs=1, batch_size=32, seed=7, progress=False)
    tk.fit(b, (x, y), epochs=1, batch_size=32, seed=7, progress=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-6)


def test_compile_false_keeps_compiled_state():
    x, y = quadrant_data(64)
    m = mk.mlp((8,))
    with pytest.raises(ValueError, match="not compiled"):
        tk.fit(m, (x, y), epochs=1, compile=False, progress=False)
    opt = keras.optimizers.SGD(learning_rate=0.01)
    tk.compile(m, optimizer=opt)
    tk.fit(m, (x, y), epochs=1, compile=False, progress=False)
    assert m.optimizer is opt
    tk.fit(m, (x, y), epochs=1, progress=False)  # compile=True builds a fresh Adam
    assert m.optimizer is not opt


def test_fit_with_tfmot_pruning_wrappers():
    x, y = quadrant_data(256)
    m = mk.mlp((16,), seed=0)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=4, frequency=1
    )
    pruned = tfmot.sparsity.keras.prune_low_magnitude(m, pruning_schedule=schedule)
    tk.compile(pruned)
    hist = tk.fit(
        pruned, (x, y), epochs=2, batch_size=64, compile=False, progress=False,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep()],
    )
    assert hist.steps == 8
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    kernel = stripped.get_layer("fc1").kernel.numpy()
    assert (kernel == 0).mean() == pytest.approx(0.5, abs=0.01)
    assert 0.0 <= tk.evaluate(stripped, (x, y))["accuracy"] <= 1.0



def test_distillation_from_a_teacher():
    """teacher= adds Hinton et al.'s soft-target term; kd_weight=0 is plain training, the teacher is untouched."""
    x, y = quadrant_data(256)
    xv, yv = quadrant_data(64, seed=1)
    teacher = mk.mlp((32,), seed=1)
    tk.fit(teacher, (x, y), epochs=3, batch_size=64, progress=False)
    before = [w.copy() for w in teacher.get_weights()]
    plain, zero, kd = (mk.mlp((16,), seed=0) for _ in range(3))
    h_plain = tk.fit(plain, (x, y), epochs=2, batch_size=64, seed=3, progress=False)
    h_zero = tk.fit(zero, (x, y), epochs=2, batch_size=64, seed=3, teacher=teacher, kd_weight=0.0, val=(xv, yv),
                    progress=False)
    assert h_zero.loss == pytest.approx(h_plain.loss, rel=1e-4)  # weight 0: the labels alone, same batches
    for a, b in zip(plain.get_weights(), zero.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert len(h_zero.val_accuracy) == 2
    assert h_zero.val_accuracy[-1] == pytest.approx(tk.evaluate(zero, (xv, yv))["accuracy"])
    assert h_zero.steps == 8 and len(h_zero.accuracy) == 2
    tk.fit(kd, (x, y), epochs=8, batch_size=64, seed=3, teacher=teacher, kd_weight=1.0, kd_temperature=1.0,
           progress=False)
    assert not all(np.array_equal(a, b) for a, b in zip(plain.get_weights(), kd.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights()))  # teacher not trained
    # the model is left compiled with the course's loss: evaluate and a plain fit work as before
    assert kd.loss.__class__.__name__ == "SparseCategoricalCrossentropy"
    # weight 1 learns from the teacher's soft targets alone: it agrees with the teacher
    agree = np.mean(tk.predict_logits(kd, x).argmax(1) == tk.predict_logits(teacher, x).argmax(1))
    assert agree > 0.8


def test_distillation_keeps_the_optimizer_and_works_with_pruning_wrappers():
    x, y = quadrant_data(128)
    teacher = mk.mlp((16,), seed=1)
    tk.fit(teacher, (x, y), epochs=1, batch_size=64, progress=False)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(
        mk.mlp((16,), seed=0), pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=1, end_step=1,
                                                                                         frequency=1))
    opt = keras.optimizers.Adam(1e-3)
    tk.compile(pruned, optimizer=opt)
    tk.fit(pruned, (x, y), epochs=1, batch_size=64, compile=False, teacher=teacher, progress=False,
           callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    assert pruned.optimizer is opt and int(opt.iterations.numpy()) == 2  # the caller's optimizer, its state kept
    kernel = tfmot.sparsity.keras.strip_pruning(pruned).get_layer("fc1").kernel.numpy()
    assert (kernel == 0).mean() == pytest.approx(0.5, abs=0.01)


def test_distillation_rejects_bad_arguments():
    x, y = quadrant_data(32)
    m = mk.mlp((8,))
    with pytest.raises(TypeError, match="teacher must be a tf_keras Model"):
        tk.fit(m, (x, y), epochs=1, teacher="dense", progress=False)
    with pytest.raises(ValueError, match="separate"):
        tk.fit(m, (x, y), epochs=1, teacher=m, progress=False)
    with pytest.raises(ValueError, match="kd_temperature"):
        tk.fit(m, (x, y), epochs=1, teacher=mk.mlp((8,)), kd_temperature=0, progress=False)
    with pytest.raises(ValueError, match="kd_weight"):
        tk.fit(m, (x, y), epochs=1, teacher=mk.mlp((8,)), kd_weight=1.5, progress=False)
    twelve = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(12)])
    with pytest.raises(ValueError, match="classes"):
        tk.fit(m, (x, y), epochs=1, teacher=twelve, progress=False)

def test_bad_inputs_raise_clear_errors():
    x, y = quadrant_data(64)
    m = mk.mlp((8,))
    with pytest.raises(ValueError, match="different lengths"):
        tk.fit(m, (x, y[:-1]), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"class ids in \[0, 9\]"):
        tk.fit(m, (x, y + 10), epochs=1, progress=False)
    with pytest.raises(ValueError, match="class ids"):
        tk.evaluate(m, (x, y - 5))
    with pytest.raises(TypeError, match="integer class ids"):
        tk.fit(m, (x, y.astype(np.float32)), epochs=1, progress=False)
    with pytest.raises(TypeError, match="uint8"):
        tk.fit(m, ((x * 255).astype(np.uint8), y), epochs=1, progress=False)
    with pytest.raises(ValueError, match="per-sample shape"):
        tk.fit(mk.small_cnn((4, 8)), (x.reshape(64, 784), y), epochs=1, progress=False)
    with pytest.raises(ValueError, match="per-sample shape"):
        tk.predict_logits(m, np.zeros((2, 27, 27), np.float32))
    with pytest.raises(ValueError, match="optimizer"):
        tk.compile(m, optimizer="rmsprop")
    with pytest.raises(TypeError, match="tf_keras Model"):
        tk.evaluate(object(), (x, y))
    with pytest.raises(TypeError, match="callbacks"):
        tk.fit(m, (x, y), epochs=1, callbacks=tfmot.sparsity.keras.UpdatePruningStep(), progress=False)


# --------------------------------------------------------------------------- twin signatures (issue 9, P1-4)
def test_fit_and_evaluate_read_like_train_torch():
    """The course's form fit(model, train, epochs=..., val=val, seed=...) with the same keywords as
    train_torch.fit; the same History and the same {"loss", "accuracy"} dict."""
    import inspect

    from course_utils.history import History

    x, y = quadrant_data(128)
    xv, yv = quadrant_data(64, seed=1)
    steps = []
    m = mk.mlp((8,), seed=0)
    hist = tk.fit(m, (x, y), epochs=2, lr=1e-3, optimizer="adam", val=(xv, yv), batch_size=32, seed=3,
                  progress=False, on_step=steps.append)
    assert isinstance(hist, History) and hist.epochs == 2 and len(hist.val_accuracy) == 2
    assert steps == list(range(1, 9)) and hist.steps == 8  # on_step counts optimizer steps, as in torch
    ev = tk.evaluate(m, (xv, yv), batch_size=16)
    assert set(ev) == {"loss", "accuracy"} and all(isinstance(v, float) for v in ev.values())
    fit_params = inspect.signature(tk.fit).parameters
    assert list(fit_params)[:2] == ["model", "train"]
    for kw in ("epochs", "lr", "optimizer", "val", "batch_size", "seed", "progress", "on_step"):
        assert fit_params[kw].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(tk.evaluate).parameters) == ["model", "data", "batch_size"]


def test_old_keras_form_fit_model_x_y_still_works_and_matches():
    x, y = quadrant_data(128)
    a, b, c = mk.mlp((8,), seed=0), mk.mlp((8,), seed=0), mk.mlp((8,), seed=0)
    ha = tk.fit(a, (x, y), epochs=1, batch_size=32, seed=7, progress=False)
    hb = tk.fit(b, x, y, epochs=1, batch_size=32, seed=7, progress=False)  # the old positional form
    hc = tk.fit(c, x=x, y=y, epochs=1, batch_size=32, seed=7, progress=False)  # old keywords
    assert hb.loss == pytest.approx(ha.loss) and hc.loss == pytest.approx(ha.loss)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-6)
    assert tk.evaluate(a, x, y) == tk.evaluate(a, (x, y))
    assert tk.evaluate(a, x, y, 16) == pytest.approx(tk.evaluate(a, (x, y), batch_size=16))


def test_fit_and_evaluate_reject_data_that_is_not_a_pair():
    x, y = quadrant_data(32)
    m = mk.mlp((8,))
    with pytest.raises(TypeError, match=r"tuple \(x, y\)"):
        tk.fit(m, x, epochs=1, progress=False)  # images without labels
    with pytest.raises(TypeError, match=r"tuple \(x, y\)"):
        tk.evaluate(m, (x, y, y))
    with pytest.raises(TypeError, match="x= and y="):
        tk.fit(m, x=x, epochs=1, progress=False)
    with pytest.raises(TypeError, match="on_step"):
        tk.fit(m, (x, y), epochs=1, progress=False, on_step=3)


# --------------------------------------------------------------------------- schedule parity
@pytest.mark.parametrize(
    "cfg",
    [
        dict(initial_sparsity=0.0, final_sparsity=0.9, begin_step=0, end_step=100, frequency=1),
        dict(initial_sparsity=0.2, final_sparsity=0.8, begin_step=10, end_step=110, frequency=10),
        dict(initial_sparsity=0.0, final_sparsity=0.75, begin_step=5, end_step=905, frequency=100),
    ],
)
def test_cubic_schedule_matches_tfmot_polynomial_decay(cfg):
    ref = tfmot.sparsity.keras.PolynomialDecay(power=3, **cfg)
    steps = sorted({0, 1, 2, 3, 7, 10, 33, 55, 99, 100, 105, 110, 111, 150, 504, 505, 900, 905, 1000})
    last_tfmot = None
    for t in steps:
        prune_now, s_ref = ref(tf.constant(t, dtype=tf.int64))
        ours = cubic_sparsity(t, **cfg)
        assert bool(prune_now) == should_prune(t, **{k: cfg[k] for k in ("begin_step", "end_step", "frequency")})
        if bool(prune_now):
            assert ours == pytest.approx(float(s_ref), abs=1e-6), t
            last_tfmot = float(s_ref)
        elif t > cfg["begin_step"] and last_tfmot is not None:
            # between/after updates the mask keeps the sparsity of the last pruning step
            begin, freq = cfg["begin_step"], cfg["frequency"]
            last_step = begin + (min(t, cfg["end_step"]) - begin) // freq * freq
            _, s_last = ref(tf.constant(last_step, dtype=tf.int64))
            assert ours == pytest.approx(float(s_last), abs=1e-6), t
    if cfg["frequency"] == 1:
        for t in range(cfg["begin_step"], cfg["end_step"] + 1, 7):
            assert cubic_sparsity(t, **cfg) == pytest.approx(float(ref(tf.constant(t, tf.int64))[1]), abs=1e-6)


# --------------------------------------------------------------------------- residual MLP (07, depth pruning)
def test_residual_mlp_architecture_names_and_params():
    m = mk.residual_mlp(32, 3, seed=0)
    names = [layer.name for layer in m.layers]
    assert names == ["image", "flatten", "stem", *(f"block{i}_{p}" for i in range(3) for p in ("fc1", "fc2", "add")),
                     "head"]
    assert trainable(m) == (784 * 32 + 32) + 3 * 2 * (32 * 32 + 32) + (32 * 10 + 10)
    assert m(np.zeros((2, 28, 28), np.float32)).shape == (2, 10)
    assert mk.residual_mlp(16, 0).count_params() == 784 * 16 + 16 + 16 * 10 + 10  # no blocks: stem -> head


def test_residual_mlp_block_is_exactly_identity_when_its_branch_is_zero():
    m = mk.residual_mlp(16, 2, seed=1)
    x = quadrant_data(8)[0]
    h = keras.Model(m.inputs, m.get_layer("block0_add").output)
    stem = keras.Model(m.inputs, m.get_layer("stem").output)
    fc2 = m.get_layer("block0_fc2")
    fc2.set_weights([np.zeros_like(w) for w in fc2.get_weights()])
    np.testing.assert_array_equal(h(x).numpy(), stem(x).numpy())  # no activation after the add


def test_residual_mlp_seeding_and_bad_arguments():
    a, b = mk.residual_mlp(16, 2, seed=3), mk.residual_mlp(16, 2, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
    assert not np.array_equal(a.get_weights()[0], mk.residual_mlp(16, 2, seed=4).get_weights()[0])
    for kwargs in ({"width": 0}, {"blocks": -1}, {"width": 2.5}, {"seed": -1}):
        with pytest.raises(ValueError):
            mk.residual_mlp(**kwargs)
