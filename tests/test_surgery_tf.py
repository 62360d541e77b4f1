"""Keras model surgery (course_utils.surgery_tf): the smaller model computes what the masked model
computes, weights land in the right places (NHWC flatten!), the original is untouched, bad input
raises. Tiny models and random data only."""
from __future__ import annotations

import numpy as np
import pytest

import course_utils  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from course_utils.env import load_tensorflow

tf, keras = load_tensorflow()

from course_utils import metrics  # noqa: E402
from course_utils import models_tf as mk  # noqa: E402
from course_utils import surgery_tf as s  # noqa: E402

L = keras.layers
X = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)


def randomize(model, seed: int = 1):
    """Nonzero biases and non-trivial BatchNorm statistics, so that a wrong slice shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = ws
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, beta.shape),
                               rng.normal(0, 0.3, mean.shape), rng.uniform(0.5, 1.5, var.shape)])
        else:
            layer.set_weights([ws[0], *(rng.normal(0, 0.1, w.shape) for w in ws[1:])])
    return model


def logits(model, x=X):
    return model(x, training=False).numpy()


@pytest.fixture(scope="module")
def mlp():
    return randomize(mk.mlp((12, 8), seed=0))


@pytest.fixture(scope="module")
def cnn():
    return randomize(mk.small_cnn((6, 8), seed=0))


# --------------------------------------------------------------------------- ranking
def test_unit_l2_norms_are_column_norms(mlp):
    k = mlp.get_layer("fc1").get_weights()[0]
    np.testing.assert_allclose(s.unit_l2_norms(mlp, "fc1"), np.linalg.norm(k, axis=0), rtol=1e-6)
    assert s.unit_l2_norms(mlp, "fc1").shape == (12,)


def test_filter_l1_norms_sum_over_kernel_and_inputs(cnn):
    k = cnn.get_layer("conv2").get_weights()[0]  # (3, 3, 6, 8)
    got = s.filter_l1_norms(cnn, "conv2")
    assert got.shape == (8,)
    np.testing.assert_allclose(got, np.abs(k).sum(axis=(0, 1, 2)), rtol=1e-6)


def test_mean_activations_match_a_direct_computation(mlp):
    probe = keras.Model(mlp.inputs, mlp.get_layer("fc1").output)
    want = probe(X, training=False).numpy().mean(axis=0)
    np.testing.assert_allclose(s.mean_activations(mlp, "fc1", X, batch_size=5), want, rtol=1e-5, atol=1e-7)
    assert (s.mean_activations(mlp, "fc1", X) >= 0).all()  # after ReLU


def test_mean_activations_of_a_feature_map_average_over_positions(cnn):
    probe = keras.Model(cnn.inputs, cnn.get_layer("relu1").output)
    want = probe(X, training=False).numpy().mean(axis=(0, 1, 2))
    np.testing.assert_allclose(s.mean_activations(cnn, "relu1", X), want, rtol=1e-5, atol=1e-7)


def test_keep_indices_semantics():
    scores = np.array([0.5, 0.1, 0.9, 0.1, 0.7])
    np.testing.assert_array_equal(s.keep_indices(scores, 0.4), [0, 2, 4])  # the two 0.1s go
    np.testing.assert_array_equal(s.keep_indices(scores, 0.0), np.arange(5))
    np.testing.assert_array_equal(s.keep_indices([1.0, 1.0, 1.0, 1.0], 0.5), [2, 3])  # ties: lower index first
    assert len(s.keep_indices(np.arange(300.0), 0.7)) == 90
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError):
            s.keep_indices(scores, bad)
    with pytest.raises(TypeError):
        s.keep_indices(scores, "half")
    with pytest.raises(ValueError, match="NaN"):
        s.keep_indices([1.0, np.nan], 0.5)
    with pytest.raises(ValueError):
        s.keep_indices(np.ones((2, 2)), 0.5)


def test_random_scores_are_seeded():
    np.testing.assert_array_equal(s.random_scores(10, seed=3), s.random_scores(10, seed=3))
    assert not np.array_equal(s.random_scores(10, seed=3), s.random_scores(10, seed=4))
    with pytest.raises(ValueError):
        s.random_scores(0)


# --------------------------------------------------------------------------- twin names (issue 9, P1-4)
def test_unit_scores_reads_like_surgery_torch(mlp, cnn):
    """unit_scores(model, layer, criterion, data=None, *, batch_size, seed): float64, one score per unit."""
    k = mlp.get_layer("fc1").get_weights()[0]
    l2 = s.unit_scores(mlp, "fc1", "l2")
    assert l2.dtype == np.float64 and l2.shape == (12,)
    np.testing.assert_allclose(l2, np.linalg.norm(k.astype(np.float64), axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.unit_scores(mlp, "fc1", "l1"), np.abs(k).sum(axis=0), rtol=1e-6)
    np.testing.assert_allclose(s.unit_l2_norms(mlp, "fc1"), l2, rtol=1e-6)  # old name
    # the MLP's Dense has its ReLU built in: the activation is fc1's own output
    np.testing.assert_allclose(s.unit_scores(mlp, "fc1", "mean_activation", X, batch_size=5),
                               s.mean_activations(mlp, "fc1", X), rtol=1e-5, atol=1e-7)
    y = np.arange(len(X)) % 10
    np.testing.assert_allclose(s.unit_scores(mlp, "fc1", "mean_activation", (X, y)),
                               s.mean_activations(mlp, "fc1", X), rtol=1e-5, atol=1e-7)
    # a conv block: the activation is the ReLU after BatchNorm, found from the conv's name (as in torch)
    np.testing.assert_allclose(s.unit_scores(cnn, "conv1", "mean_activation", X),
                               s.mean_activations(cnn, "relu1", X), rtol=1e-5, atol=1e-7)
    r = s.unit_scores(cnn, "conv2", "random", seed=3)
    np.testing.assert_array_equal(r, s.random_scores(8, seed=3))
    assert r.dtype == np.float64
    assert s.CRITERIA == ("l2", "l1", "mean_activation", "random")


def test_unit_scores_bad_input_is_explained(mlp):
    with pytest.raises(ValueError, match="surgery_torch only"):
        s.unit_scores(mlp, "fc1", "taylor", X)
    with pytest.raises(ValueError, match="criterion must be one of"):
        s.unit_scores(mlp, "fc1", "l3")
    with pytest.raises(ValueError, match="pass data="):
        s.unit_scores(mlp, "fc1", "mean_activation")
    with pytest.raises(TypeError, match="Dense or Conv2D"):
        s.unit_scores(mlp, "flatten", "l2")
    with pytest.raises(ValueError, match="no activation follows"):
        s.unit_scores(mlp, "fc3", "mean_activation", X)  # the logits layer
    with pytest.raises(ValueError, match="no layer"):
        s.unit_scores(mlp, "fc9", "l2")


def test_filter_norms_and_layer_widths_read_like_surgery_torch(mlp, cnn):
    k = cnn.get_layer("conv2").get_weights()[0].astype(np.float64)
    np.testing.assert_allclose(s.filter_norms(cnn, "conv2"), np.abs(k).sum(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(s.filter_norms(cnn, "conv2", p=2), np.sqrt((k**2).sum(axis=(0, 1, 2))), rtol=1e-12)
    np.testing.assert_allclose(s.filter_l1_norms(cnn, "conv2"), s.filter_norms(cnn, "conv2", p=1))  # old name
    np.testing.assert_allclose(s.filter_norms(mlp, "fc1", p=2), s.unit_scores(mlp, "fc1", "l2"))  # Dense too
    with pytest.raises(ValueError, match="p must be 1"):
        s.filter_norms(cnn, "conv2", p=3)
    with pytest.raises(TypeError, match="Dense or Conv2D"):
        s.filter_norms(cnn, "bn1")
    with pytest.raises(TypeError, match="not a Conv2D"):
        s.filter_l1_norms(mlp, "fc1")  # the old name keeps its old contract
    assert s.layer_widths(mlp) == {"fc1": 12, "fc2": 8, "fc3": 10}
    assert s.structure(cnn) == s.layer_widths(cnn) == {"conv1": 6, "conv2": 8, "fc": 10}


# --------------------------------------------------------------------------- units
def test_remove_units_matches_masked_model_and_copies_the_right_weights(mlp):
    keep = np.array([0, 3, 4, 9, 11])
    small = s.remove_units(mlp, "fc1", keep)
    assert s.layer_widths(small) == {"fc1": 5, "fc2": 8, "fc3": 10}
    assert [layer.name for layer in small.layers] == [layer.name for layer in mlp.layers]
    k1, b1 = mlp.get_layer("fc1").get_weights()
    k2, b2 = mlp.get_layer("fc2").get_weights()
    np.testing.assert_array_equal(small.get_layer("fc1").get_weights()[0], k1[:, keep])
    np.testing.assert_array_equal(small.get_layer("fc1").get_weights()[1], b1[keep])
    np.testing.assert_array_equal(small.get_layer("fc2").get_weights()[0], k2[keep, :])
    np.testing.assert_array_equal(small.get_layer("fc2").get_weights()[1], b2)
    np.testing.assert_allclose(logits(small), logits(s.mask_units(mlp, "fc1", keep)), atol=1e-5)
    assert metrics.count_params(small) == 784 * 5 + 5 + 5 * 8 + 8 + 8 * 10 + 10


def test_remove_units_leaves_the_original_alone_and_accepts_masks(mlp):
    before = [w.copy() for w in mlp.get_weights()]
    out_before = logits(mlp)
    mask = np.zeros(8, dtype=bool)
    mask[[1, 5]] = True
    small = s.remove_units(mlp, "fc2", mask)
    assert s.layer_widths(small)["fc2"] == 2
    for a, b in zip(before, mlp.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out_before, logits(mlp))
    np.testing.assert_allclose(logits(small), logits(s.mask_units(mlp, "fc2", [5, 1])), atol=1e-5)


def test_mask_units_keeps_shapes_and_zeroes_columns(mlp):
    masked = s.mask_units(mlp, "fc1", [2, 7])
    assert s.layer_widths(masked) == s.layer_widths(mlp)
    k, b = masked.get_layer("fc1").get_weights()
    assert np.count_nonzero(k.any(axis=0)) == 2 and np.count_nonzero(b) <= 2


def test_units_through_batchnorm_and_dropout():
    model = keras.Sequential([
        keras.Input((28, 28)), L.Flatten(), L.Dense(10, name="a"), L.BatchNormalization(name="bn"),
        L.ReLU(), L.Dropout(0.5), L.Dense(4, name="b"),
    ])
    randomize(model)
    keep = [0, 2, 3, 8]
    small = s.remove_units(model, "a", keep)
    assert small.get_layer("bn").get_weights()[0].shape == (4,)
    np.testing.assert_array_equal(small.get_layer("bn").get_weights()[2], model.get_layer("bn").get_weights()[2][keep])
    np.testing.assert_allclose(logits(small), logits(s.mask_units(model, "a", keep)), atol=1e-5)


def test_smaller_model_trains(mlp):
    from course_utils import train_tf

    small = s.remove_units(mlp, "fc1", [0, 1, 2])
    y = np.arange(len(X)) % 10
    h = train_tf.fit(small, (X, y), epochs=1, batch_size=8, progress=False)
    assert h.epochs == 1 and np.isfinite(h.loss[0])


# --------------------------------------------------------------------------- channels
def test_remove_channels_conv1_touches_bn1_and_conv2(cnn):
    keep = np.array([1, 2, 5])
    small = s.remove_channels(cnn, "conv1", keep)
    assert s.layer_widths(small) == {"conv1": 3, "conv2": 8, "fc": 10}
    np.testing.assert_array_equal(small.get_layer("conv1").get_weights()[0],
                                  cnn.get_layer("conv1").get_weights()[0][..., keep])
    for got, want in zip(small.get_layer("bn1").get_weights(), cnn.get_layer("bn1").get_weights()):
        np.testing.assert_array_equal(got, want[keep])
    np.testing.assert_array_equal(small.get_layer("conv2").get_weights()[0],
                                  cnn.get_layer("conv2").get_weights()[0][:, :, keep, :])
    np.testing.assert_allclose(logits(small), logits(s.mask_channels(cnn, "conv1", keep)), atol=1e-4)


def test_remove_channels_conv2_slices_fc_rows_in_nhwc_order(cnn):
    keep = np.array([0, 3, 6])
    small = s.remove_channels(cnn, "conv2", keep)
    fc_old = cnn.get_layer("fc").get_weights()[0]  # (7 * 7 * 8, 10)
    rows = (np.arange(49)[:, None] * 8 + keep[None, :]).ravel()  # position * C + c
    np.testing.assert_array_equal(small.get_layer("fc").get_weights()[0], fc_old[rows])
    np.testing.assert_allclose(logits(small), logits(s.mask_channels(cnn, "conv2", keep)), atol=1e-4)
    # the NCHW (PyTorch) rows would be a different model
    nchw = (keep[:, None] * 49 + np.arange(49)[None, :]).ravel()
    assert not np.array_equal(np.sort(rows), np.sort(nchw))


def test_both_convs_halved_cut_macs_almost_four_times():
    cnn = randomize(mk.small_cnn(seed=0))
    small = s.remove_channels(cnn, "conv1", np.arange(0, 32, 2))
    small = s.remove_channels(small, "conv2", np.arange(0, 64, 2))
    ratio = metrics.macs(cnn, (28, 28)) / metrics.macs(small, (28, 28))
    assert 3.7 < ratio < 3.8
    masked = s.mask_channels(s.mask_channels(cnn, "conv1", np.arange(0, 32, 2)), "conv2", np.arange(0, 64, 2))
    np.testing.assert_allclose(logits(small), logits(masked), atol=1e-4)


def test_zeroing_filters_alone_is_not_masking(cnn):
    keep = [0, 1, 2]
    clone = keras.models.clone_model(cnn)
    clone.set_weights(cnn.get_weights())
    k, b = clone.get_layer("conv1").get_weights()
    k[..., 3:], b[3:] = 0, 0
    clone.get_layer("conv1").set_weights([k, b])
    assert np.abs(logits(clone) - logits(s.mask_channels(cnn, "conv1", keep))).max() > 1e-3


def test_channels_before_global_pooling():
    model = keras.Sequential([
        keras.Input((28, 28)), L.Reshape((28, 28, 1)), L.Conv2D(5, 3, name="c"), L.ReLU(),
        L.GlobalAveragePooling2D(), L.Dense(3, name="d"),
    ])
    randomize(model)
    small = s.remove_channels(model, "c", [0, 4])
    np.testing.assert_array_equal(small.get_layer("d").get_weights()[0], model.get_layer("d").get_weights()[0][[0, 4]])
    np.testing.assert_allclose(logits(small), logits(s.mask_channels(model, "c", [0, 4])), atol=1e-5)


# --------------------------------------------------------------------------- errors
def test_bad_input_raises_clear_errors(mlp, cnn):
    with pytest.raises(ValueError, match="no layer"):
        s.remove_units(mlp, "fc9", [0])
    with pytest.raises(TypeError, match="Dense"):
        s.remove_units(cnn, "conv1", [0])
    with pytest.raises(TypeError, match="Conv2D"):
        s.remove_channels(mlp, "fc1", [0])
    with pytest.raises(ValueError, match="output layer"):
        s.remove_units(mlp, "fc3", [0, 1])
    with pytest.raises(ValueError, match="empty"):
        s.remove_units(mlp, "fc1", [])
    with pytest.raises(ValueError, match=r"\[0, 11\]"):
        s.remove_units(mlp, "fc1", [0, 12])
    with pytest.raises(ValueError, match="repeated"):
        s.remove_units(mlp, "fc1", [1, 1])
    with pytest.raises(TypeError, match="integer"):
        s.remove_units(mlp, "fc1", [0.5, 1.5])
    with pytest.raises(TypeError):
        s.remove_units(np.zeros(3), "fc1", [0])


def test_unsupported_models_and_layers_are_refused():
    inp = keras.Input((28, 28))
    functional = keras.Model(inp, L.Dense(3, name="d")(L.Dense(4, name="h")(L.Flatten()(inp))))
    with pytest.raises(NotImplementedError, match="Sequential"):
        s.remove_units(functional, "h", [0])
    odd = keras.Sequential([keras.Input((28, 28)), L.Flatten(), L.Dense(6, name="h"), L.LayerNormalization(),
                            L.Dense(3, name="o")])
    with pytest.raises(NotImplementedError, match="LayerNormalization"):
        s.remove_units(odd, "h", [0, 1])


def test_tfmot_wrapped_model_is_refused(mlp):
    tfmot = pytest.importorskip("tensorflow_model_optimization")
    clone = keras.models.clone_model(mlp)
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(clone)
    with pytest.raises(ValueError, match="strip_pruning"):
        s.remove_units(wrapped, "fc1", [0])


# --------------------------------------------------------------------------- BN scale and recalibration (07)
def test_bn_scale_scores_are_abs_gamma_of_the_following_bn(cnn):
    gamma = cnn.get_layer("bn2").get_weights()[0]
    np.testing.assert_array_equal(s.bn_scale_scores(cnn, "conv2"), np.abs(gamma))
    np.testing.assert_array_equal(s.bn_scale_scores(cnn, "bn2"), np.abs(gamma))
    assert s.bn_scale_scores(cnn, "conv1").shape == (6,)
    with pytest.raises(ValueError, match="no BatchNormalization follows"):
        s.bn_scale_scores(mk.mlp((12, 8)), "fc1")
    with pytest.raises(ValueError, match="has no layer"):
        s.bn_scale_scores(cnn, "conv9")


def test_recalibrate_bn_sets_moving_stats_to_the_calibration_average(cnn):
    before = [w.copy() for w in cnn.get_weights()]
    x = np.random.default_rng(3).random((64, 28, 28), dtype=np.float32)
    new = s.recalibrate_bn(cnn, x, batch_size=64)  # one batch: the moving stats are that batch's stats
    assert all(np.array_equal(a, b) for a, b in zip(before, cnn.get_weights()))  # the input is untouched
    conv1 = keras.Model(cnn.inputs, cnn.get_layer("conv1").output)(x).numpy()
    bn1 = new.get_layer("bn1")
    np.testing.assert_allclose(bn1.moving_mean.numpy(), conv1.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    n = conv1.size / conv1.shape[-1]
    var = conv1.var(axis=(0, 1, 2))
    assert np.allclose(bn1.moving_variance.numpy(), var, rtol=1e-3) or \
        np.allclose(bn1.moving_variance.numpy(), var * n / (n - 1), rtol=1e-3)
    assert bn1.momentum == cnn.get_layer("bn1").momentum  # restored
    # two batches: the plain average of the two batches' means
    two = s.recalibrate_bn(cnn, x, batch_size=32)
    expected = (conv1[:32].mean(axis=(0, 1, 2)) + conv1[32:].mean(axis=(0, 1, 2))) / 2
    np.testing.assert_allclose(two.get_layer("bn1").moving_mean.numpy(), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="no BatchNormalization"):
        s.recalibrate_bn(mk.mlp((12, 8)), x)
    with pytest.raises(ValueError, match="batch_size"):
        s.recalibrate_bn(cnn, x, batch_size=0)
    with pytest.raises(TypeError, match="float"):
        s.recalibrate_bn(cnn, (x * 255).astype(np.uint8))


# --------------------------------------------------------------------------- depth: residual blocks (07)
@pytest.fixture(scope="module")
def resnet():
    m = mk.residual_mlp(16, 4, seed=0)
    rng = np.random.default_rng(2)
    for layer in m.layers:
        ws = layer.get_weights()
        if ws:
            layer.set_weights([ws[0], rng.normal(0, 0.1, ws[1].shape)])
    return m


@pytest.mark.parametrize("k", [0, 2, 3])
def test_removing_a_block_equals_zeroing_its_residual_branch(resnet, k):
    removed = s.remove_blocks(resnet, [k])
    zeroed = keras.models.clone_model(resnet)
    zeroed.set_weights(resnet.get_weights())
    fc2 = zeroed.get_layer(f"block{k}_fc2")
    fc2.set_weights([np.zeros_like(w) for w in fc2.get_weights()])
    np.testing.assert_allclose(logits(removed), logits(zeroed), atol=1e-5)
    assert metrics.macs(resnet, (28, 28)) - metrics.macs(removed, (28, 28)) == 2 * 16 * 16  # the block's MACs
    assert [layer.name for layer in removed.layers if layer.name.endswith("_add")] == \
        ["block0_add", "block1_add", "block2_add"]  # renumbered


def test_remove_blocks_copies_weights_and_leaves_the_input_alone(resnet):
    before = [w.copy() for w in resnet.get_weights()]
    new = s.remove_blocks(resnet, [1, 3])
    assert all(np.array_equal(a, b) for a, b in zip(before, resnet.get_weights()))
    np.testing.assert_array_equal(new.get_layer("block1_fc1").get_weights()[0],
                                  resnet.get_layer("block2_fc1").get_weights()[0])
    everything = s.remove_blocks(resnet, [0, 1, 2, 3])  # allowed: stem -> head
    assert metrics.macs(everything, (28, 28)) == 784 * 16 + 16 * 10
    assert s.remove_blocks(resnet, []).count_params() == resnet.count_params()


def test_remove_blocks_bad_input(resnet, cnn):
    with pytest.raises(ValueError, match="out of range"):
        s.remove_blocks(resnet, [4])
    with pytest.raises(ValueError, match="repeated"):
        s.remove_blocks(resnet, [1, 1])
    with pytest.raises(TypeError):
        s.remove_blocks(resnet, 1)
    with pytest.raises(ValueError, match="residual_mlp"):
        s.remove_blocks(cnn, [0])
    with pytest.raises(ValueError, match="residual_mlp"):
        s.block_influence(cnn, X)


def test_block_influence_is_one_minus_cosine(resnet):
    infl = s.block_influence(resnet, (X, np.zeros(len(X))), batch_size=5)
    assert infl.shape == (4,) and np.all(infl >= 0) and np.all(infl <= 2)
    k = 2
    h_in = keras.Model(resnet.inputs, resnet.get_layer(f"block{k - 1}_add").output)(X).numpy()
    h_out = keras.Model(resnet.inputs, resnet.get_layer(f"block{k}_add").output)(X).numpy()
    cos = (h_in * h_out).sum(1) / np.linalg.norm(h_in, axis=1) / np.linalg.norm(h_out, axis=1)
    assert infl[k] == pytest.approx(float(np.mean(1 - cos)), rel=1e-5)
    zeroed = keras.models.clone_model(resnet)
    zeroed.set_weights(resnet.get_weights())
    fc2 = zeroed.get_layer("block1_fc2")
    fc2.set_weights([np.zeros_like(w) for w in fc2.get_weights()])
    assert s.block_influence(zeroed, X)[1] == pytest.approx(0.0, abs=1e-6)  # identity block: no influence


def test_untrained_residual_mlp_blocks_are_identities():
    m = mk.residual_mlp(16, 3, seed=5)  # each block's fc2 starts at zero (zero-init residual)
    assert np.allclose(s.block_influence(m, X), 0.0, atol=1e-6)
    np.testing.assert_allclose(logits(s.remove_blocks(m, [0, 1, 2])), logits(m), atol=1e-6)
