"""The self-checks of 01_loss_before_and_after_tensorflow accept the reference solutions and reject plausible
mistakes."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from course_utils.checks import ex01tf
from course_utils.checks._common import verdict


def magnitude_mask(w, fraction):
    k = round(fraction * w.size)
    keep = np.ones(w.size, dtype=bool)
    keep[np.argsort(np.abs(w).ravel(), kind="stable")[:k]] = False
    return keep.reshape(w.shape)


def test_magnitude_mask_accepts_reference(capsys):
    assert ex01tf.magnitude_mask(magnitude_mask) is True
    assert ex01tf.magnitude_mask(ex01tf.reference_magnitude_mask) is True
    assert "✓" in capsys.readouterr().out


def test_magnitude_mask_rejects_mistakes(capsys):
    def by_value(w, fraction):  # forgets the absolute value
        k = round(fraction * w.size)
        keep = np.ones(w.size, dtype=bool)
        keep[np.argsort(w.ravel(), kind="stable")[:k]] = False
        return keep.reshape(w.shape)

    def inverted(w, fraction):
        return ~magnitude_mask(w, fraction)

    def float_mask(w, fraction):
        return magnitude_mask(w, fraction).astype(np.float32)

    def in_place(w, fraction):
        m = magnitude_mask(w, fraction)
        w[~m] = 0
        return m

    def quantile(w, fraction):  # a threshold test cannot split ties (weights that are already zero)
        if not 0 < fraction < 1:
            return magnitude_mask(w, fraction)
        return np.abs(w) > np.quantile(np.abs(w), fraction)

    def todo(w, fraction):
        raise NotImplementedError

    for wrong, words in [(by_value, "absolute"), (inverted, "inverted"), (float_mask, "bool"),
                         (in_place, "changed"), (quantile, "ties")]:
        assert verdict(ex01tf.magnitude_mask, wrong) is False
        assert words in capsys.readouterr().out
    assert ex01tf.magnitude_mask(todo) is None  # the learner edition's placeholder: not attempted, no error
    assert "not attempted" in capsys.readouterr().out
    assert verdict(ex01tf.magnitude_mask, "magnitude_mask") is False


def test_layerwise_masks(capsys):
    def reference(weights, fraction):
        return {name: magnitude_mask(w, fraction) for name, w in weights.items()}

    def global_threshold(weights, fraction):
        every = np.concatenate([np.abs(w).ravel() for w in weights.values()])
        t = np.sort(every)[round(fraction * every.size) - 1]
        return {name: np.abs(w) > t for name, w in weights.items()}

    assert ex01tf.layerwise_masks(reference) is True
    assert ex01tf.layerwise_masks(ex01tf.reference_layerwise_masks) is True
    capsys.readouterr()
    assert verdict(ex01tf.layerwise_masks, global_threshold) is False
    assert "global" in capsys.readouterr().out
    as_list = lambda weights, fraction: [magnitude_mask(w, fraction) for w in weights.values()]  # noqa: E731
    assert verdict(ex01tf.layerwise_masks, as_list) is False


def test_kernel_gradients_accepts_reference_and_variants(capsys):
    from course_utils.env import load_tensorflow

    tf, keras = load_tensorflow()

    def list_then_dict(model, x, y):  # a learner's variant: loss object, trainable variables filtered
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        grads = tape.gradient(loss, [layer.kernel for layer in dense])
        return {layer.name: g for layer, g in zip(dense, grads)}  # tf tensors are fine

    assert ex01tf.kernel_gradients(ex01tf.reference_kernel_gradients) is True
    assert ex01tf.kernel_gradients(list_then_dict) is True
    assert capsys.readouterr().out.count("✓") == 2


@pytest.mark.parametrize("mistake, words", [
    ("probabilities", "from_logits"),
    ("sum", "summed"),
    ("bias", "bias"),
    ("outside", "inside"),
    ("list", "dict"),
    ("train", "changed"),
])
def test_kernel_gradients_rejects_mistakes(mistake, words, capsys):
    from course_utils.env import load_tensorflow

    tf, keras = load_tensorflow()

    def wrong(model, x, y):
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        logits = model(x) if mistake == "outside" else None
        with tf.GradientTape() as tape:
            if logits is None:
                logits = model(x)
            per_image = keras.losses.sparse_categorical_crossentropy(y, logits,
                                                                     from_logits=mistake != "probabilities")
            loss = tf.reduce_sum(per_image) if mistake == "sum" else tf.reduce_mean(per_image)
        targets = [layer.bias if mistake == "bias" else layer.kernel for layer in dense]
        grads = tape.gradient(loss, targets)
        if mistake == "list":
            return grads
        if mistake == "train":
            for layer, g in zip(dense, grads):
                layer.kernel.assign_sub(0.1 * g)
        return {layer.name: g for layer, g in zip(dense, grads)}

    assert verdict(ex01tf.kernel_gradients, wrong) is False
    out = capsys.readouterr().out
    assert "✗" in out and words in out


def test_kernel_gradients_placeholder_is_not_attempted(capsys):
    def todo(model, x, y):
        raise NotImplementedError

    assert ex01tf.kernel_gradients(todo) is None
    assert "not attempted" in capsys.readouterr().out


def test_checks_lookup_by_name():
    from course_utils import checks

    assert checks.ex01tf_magnitude_mask is ex01tf.magnitude_mask


def test_references_are_documented_and_not_exported():
    for name in ("reference_magnitude_mask", "reference_layerwise_masks", "reference_kernel_gradients"):
        assert name not in ex01tf.__all__ and getattr(ex01tf, name).__doc__


def test_ex01tf_imports_no_torch():
    code = "import sys; import course_utils.checks.ex01tf; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _float64_kernel_gradients(model, x, y):
    """dL/dkernel of the mean cross-entropy, backpropagated by hand in float64 through the Dense layers."""
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
    kernels = [layer.kernel.numpy().astype(np.float64) for layer in dense]
    h, pre = [x.reshape(len(x), -1).astype(np.float64)], []
    for i, (layer, k) in enumerate(zip(dense, kernels)):
        pre.append(h[-1] @ k + layer.bias.numpy().astype(np.float64))
        h.append(np.maximum(pre[-1], 0.0) if i < len(dense) - 1 else pre[-1])
    p = np.exp(h[-1] - h[-1].max(axis=1, keepdims=True))
    d = p / p.sum(axis=1, keepdims=True)
    d[np.arange(len(y)), y] -= 1.0
    d /= len(y)  # dL/dlogits of the mean loss
    grads = {}
    for i in reversed(range(len(dense))):
        grads[dense[i].name] = h[i].T @ d
        if i:
            d = (d @ kernels[i].T) * (pre[i - 1] > 0)
    return grads


def test_kernel_gradients_tolerance_follows_from_float32():
    """The checker's tolerance is wide against float32 rounding: the float32 reference uses under a tenth of it
    against the exact (float64) gradient, so any float32 route to the right gradient passes."""
    for seed in (3, 4):
        model, x, y = ex01tf._grad_case(seed)
        got = ex01tf.reference_kernel_gradients(model, x, y)
        exact = _float64_kernel_gradients(model, x, y)
        for name, g in exact.items():
            tol = ex01tf._GRAD_ATOL + ex01tf._GRAD_RTOL * np.abs(g)
            assert np.all(np.abs(got[name] - g) <= 0.1 * tol), (seed, name)
            assert np.abs(g).max() > 100 * ex01tf._GRAD_ATOL  # atol is small next to the gradient itself
