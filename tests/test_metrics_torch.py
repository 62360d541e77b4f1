"""course_utils.metrics with PyTorch models (imports torch only, never TensorFlow)."""
from __future__ import annotations

import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

import course_utils  # noqa: F401  (sets the environment like a notebook would)
from course_utils import metrics as M


def small_mlp(n_in: int = 20, hidden: int = 10, n_out: int = 5) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        flatten=nn.Flatten(), fc1=nn.Linear(n_in, hidden), relu1=nn.ReLU(), fc2=nn.Linear(hidden, n_out),
    ))


def small_cnn(groups: int = 1) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(1, 4, 3, padding=1), bn1=nn.BatchNorm2d(4), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
        conv2=nn.Conv2d(4, 8, 3, padding=1, groups=groups), relu2=nn.ReLU(), pool2=nn.MaxPool2d(2),
        flatten=nn.Flatten(), fc=nn.Linear(8 * 7 * 7, 10),
    ))


def test_import_metrics_imports_no_framework():
    code = ("import sys, course_utils.metrics; "
            "bad = [m for m in ('torch', 'tensorflow', 'tf_keras') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_framework_detection():
    assert M.framework_of(small_mlp()) == "torch"
    with pytest.raises(TypeError, match="torch.nn.Module"):
        M.framework_of(np.zeros(3))
    with pytest.raises(TypeError, match="Keras 2"):
        M.count_params(type("Model", (), {"__module__": "keras.src.models.model"})())


def test_linear_with_known_zeros():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(4, 3)))
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor([[0.0, 1, 0, 2], [3, 0, 0, 4], [0, 5, 6, 0]]))  # 6 of 12 are zero
        model.fc.bias.copy_(torch.tensor([1.0, 0, 2]))
    assert M.count_params(model) == 15
    assert M.count_nonzero(model) == 6 + 2
    assert M.sparsity(model) == 0.5
    assert M.layer_sparsity(model) == {"fc": 0.5}
    assert list(M.prunable_weights(model)) == ["fc"]
    np.testing.assert_array_equal(M.prunable_weights(model)["fc"], model.fc.weight.detach().numpy())
    assert M.macs(model, (4,)) == 12


def test_macs_of_a_conv_net_match_the_hand_formula():
    model = small_cnn()
    expected = {
        "conv1": 28 * 28 * 4 * (1 * 3 * 3),  # output elements × (in_channels × kernel area)
        "conv2": 14 * 14 * 8 * (4 * 3 * 3),
        "fc": 8 * 7 * 7 * 10,
    }
    assert M.layer_macs(model, (1, 28, 28)) == expected
    assert M.macs(model, (1, 28, 28)) == sum(expected.values())
    grouped = M.layer_macs(small_cnn(groups=2), (1, 28, 28))
    assert grouped["conv2"] == 14 * 14 * 8 * (2 * 3 * 3)
    assert model.training  # the dummy pass ran in eval mode and restored the flag
    # BatchNorm scale/shift are parameters (running stats are buffers, not counted).
    assert M.count_params(model) == (4 * 9 + 4) + 2 * 4 + (8 * 4 * 9 + 8) + (392 * 10 + 10)


@pytest.mark.parametrize("shape", [(28, 28), (1, 1, 28, 28), (2, 28, 28)])
def test_macs_wrong_input_shape(shape):
    with pytest.raises(ValueError, match="input_shape"):
        M.macs(small_cnn(), shape)


@pytest.mark.parametrize("shape", [(), (1, 0, 28), (1.5, 28), "abc", None])
def test_macs_invalid_input_shape(shape):
    with pytest.raises((ValueError, TypeError), match="input_shape"):
        M.macs(small_cnn(), shape)


@pytest.mark.parametrize("layer", [nn.LSTM(4, 4), nn.ConvTranspose2d(1, 2, 3), nn.Bilinear(2, 2, 2)])
def test_unsupported_layers_raise_naming_the_layer(layer):
    model = nn.Sequential(OrderedDict(fc=nn.Linear(4, 4), odd=layer))
    for fn in (lambda: M.macs(model, (4,)), lambda: M.sparsity(model), lambda: M.prunable_weights(model)):
        with pytest.raises(NotImplementedError, match="odd"):
            fn()


def test_pruned_module_sparsity_params_and_size():
    model = small_mlp()
    params, dense_size = M.count_params(model), M.serialized_size(model)
    prune.l1_unstructured(model.fc1, "weight", amount=0.5)
    prune.l1_unstructured(model.fc2, "weight", amount=0.5)
    assert M.sparsity(model) == 0.5
    assert M.layer_sparsity(model) == {"fc1": 0.5, "fc2": 0.5}
    assert M.count_params(model) == params  # weight_orig + weight_mask count once
    assert M.count_nonzero(model) == 100 + 25 + int(torch.count_nonzero(model.fc1.bias)) + int(
        torch.count_nonzero(model.fc2.bias))
    assert M.serialized_size(model) > dense_size  # weight_orig AND weight_mask are saved
    # An optimizer step changes weight_orig; module.weight is stale until the next forward,
    # but the metrics apply the mask themselves.
    with torch.no_grad():
        model.fc1.weight_orig.add_(1.0)
    assert M.sparsity(model) == 0.5
    prune.remove(model.fc1, "weight")
    prune.remove(model.fc2, "weight")
    assert M.sparsity(model) == 0.5
    assert M.count_params(model) == params
    assert M.serialized_size(model) == dense_size


def test_gzip_of_sparse_model_is_much_smaller():
    dense = nn.Sequential(OrderedDict(fc=nn.Linear(200, 200, bias=False)))
    sparse = nn.Sequential(OrderedDict(fc=nn.Linear(200, 200, bias=False)))
    prune.l1_unstructured(sparse.fc, "weight", amount=0.9)
    prune.remove(sparse.fc, "weight")
    assert M.sparsity(sparse) == pytest.approx(0.9)
    assert M.serialized_size(sparse) == M.serialized_size(dense)  # zeros cost as much as any float
    assert M.gzip_size(sparse) < 0.35 * M.gzip_size(dense)
    assert M.gzip_size(dense) == M.gzip_bytes(M.serialized_bytes(dense))


def test_gzip_bytes():
    assert M.gzip_bytes(b"\0" * 10_000) < 100
    assert M.gzip_bytes(b"abc") == M.gzip_bytes(b"abc")  # reproducible (fixed mtime)
    with pytest.raises(TypeError):
        M.gzip_bytes("text")


def test_sparse_storage_bytes_by_hand():
    w = np.array([[0.0, 1, 0], [2, 0, 3]])  # nnz = 3, 2 rows
    assert M.sparse_storage_bytes(w) == 3 * 4 + 3 * 4 + (2 + 1) * 4
    assert M.sparse_storage_bytes(w, "csr", index_dtype="int16") == 3 * 4 + 3 * 2 + 3 * 2
    assert M.sparse_storage_bytes(w, "coo") == 3 * 4 + 2 * 3 * 4
    assert M.sparse_storage_bytes(w, "dense") == 6 * 4
    assert M.sparse_storage_bytes(torch.tensor(w)) == 36
    assert M.sparse_storage_bytes({"a": w, "b": w}) == 72
    model = nn.Sequential(OrderedDict(fc=nn.Linear(3, 2)))
    with torch.no_grad():
        model.fc.weight.copy_(torch.tensor(w))
    assert M.sparse_storage_bytes(model) == 36
    with pytest.raises(ValueError, match="fmt"):
        M.sparse_storage_bytes(w, "bsr")
    with pytest.raises(ValueError, match="index_dtype"):
        M.sparse_storage_bytes(w, index_dtype="float32")
    with pytest.raises(ValueError, match="int8"):
        M.sparse_storage_bytes(np.ones((2, 300)), index_dtype="int8")


def test_latency_sanity_and_restores_state():
    model = small_mlp()
    old = torch.get_num_threads()
    r = M.latency(model, (20,), batch_size=8, repeats=5, warmup=1, threads=1)
    assert r.threads == 1 and r.batch_size == 8 and r.repeats == 5 and r.framework == "torch"
    assert 0 < r.p25_s <= r.median_s <= r.p75_s
    assert r.iqr_s == pytest.approx(r.p75_s - r.p25_s)
    assert r.per_sample_s == pytest.approx(r.median_s / 8)
    assert torch.get_num_threads() == old
    assert model.training
    assert M.speedup(r, r) == 1.0
    assert "ms/batch" in str(r)
    r0 = M.latency(model, (20,), batch_size=1, repeats=1, warmup=0)
    with pytest.raises(ValueError, match="batch"):
        M.speedup(r, r0)


@pytest.mark.parametrize("kwargs", [dict(batch_size=0), dict(repeats=0), dict(warmup=-1), dict(threads=0),
                                    dict(batch_size=2.5)])
def test_latency_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        M.latency(small_mlp(), (20,), **{"repeats": 1, "warmup": 0, **kwargs})


def test_latency_wrong_input_shape_and_model_type():
    with pytest.raises(ValueError, match="input_shape"):
        M.latency(small_mlp(), (7,), batch_size=2, repeats=1)
    with pytest.raises(TypeError, match="supported|expected"):
        M.latency(np.zeros((2, 2)), (2,), batch_size=2, repeats=1)
    with pytest.raises(TypeError, match="Keras"):
        M.tflite_size(small_mlp())
    with pytest.raises(TypeError):
        M.speedup(1.0, 2.0)
