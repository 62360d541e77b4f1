"""PyTorch models and training loop, on tiny synthetic data (no dataset needed)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune
from torch.utils.data import DataLoader, TensorDataset

from course_utils import models_torch as mt
from course_utils import train_torch as tt
from course_utils.schedules import cubic_sparsity, should_prune


def quadrant_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy 28x28 images; class k (0-3) has a bright quadrant k. Easy to learn."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n).astype(np.int64)
    x = rng.random((n, 28, 28), dtype=np.float32) * 0.5
    for k in range(4):
        r, c = divmod(k, 2)
        x[y == k, r * 14 : r * 14 + 14, c * 14 : c * 14 + 14] += 0.5
    return x, y


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def mlp_formula(hidden) -> int:
    sizes = [784, *hidden, 10]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def cnn_formula(c1: int, c2: int) -> int:
    # conv (9*in*out + out) + BN (gamma, beta) ; fc (c2*7*7*10 + 10)
    return (9 * c1 + c1) + 2 * c1 + (9 * c1 * c2 + c2) + 2 * c2 + (c2 * 49 * 10 + 10)


# --------------------------------------------------------------------------- models
def test_mlp_architecture_and_param_count():
    m = mt.mlp()
    assert [n for n, _ in m.named_children()] == ["flatten", "fc1", "relu1", "fc2", "relu2", "fc3"]
    assert n_params(m) == 266_610 == mlp_formula((300, 100))
    assert n_params(mt.mlp((64,))) == mlp_formula((64,))
    assert n_params(mt.mlp((50, 40, 30))) == mlp_formula((50, 40, 30))


def test_cnn_architecture_and_param_count():
    m = mt.small_cnn()
    names = [n for n, _ in m.named_children()]
    for name in ("conv1", "bn1", "conv2", "bn2", "fc"):
        assert name in names
    assert names.index("conv1") < names.index("bn1") < names.index("conv2") < names.index("bn2") < names.index("fc")
    assert n_params(m) == cnn_formula(32, 64) == 50_378
    assert n_params(mt.small_cnn((4, 8))) == cnn_formula(4, 8)
    assert m.fc.in_features == 64 * 7 * 7


def test_input_shapes():
    m = mt.mlp((16,))
    for shape in [(3, 784), (3, 28, 28), (3, 1, 28, 28)]:
        assert m(torch.rand(shape)).shape == (3, 10)
    c = mt.small_cnn((4, 8)).eval()
    assert c(torch.rand(3, 1, 28, 28)).shape == (3, 10)


@pytest.mark.parametrize("build", [lambda s: mt.mlp(seed=s), lambda s: mt.small_cnn(seed=s)])
def test_init_bounds_and_zero_bias(build):
    model = build(0)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            w = module.weight.detach()
            fan_in = w[0].numel()
            bound = math.sqrt(6.0 / fan_in)
            assert w.abs().max() <= bound + 1e-7
            assert w.abs().max() > 0.8 * bound  # actually uses the range
            if w.numel() > 1000:  # uniform on [-b, b]: std = b / sqrt(3)
                assert w.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)
            assert torch.all(module.bias == 0)
        if isinstance(module, nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)


def test_seeding_is_local_and_reproducible():
    state = torch.random.get_rng_state()
    a, b, c = mt.mlp(seed=1), mt.mlp(seed=1), mt.mlp(seed=2)
    assert torch.equal(torch.random.get_rng_state(), state), "builders must not consume the global RNG"
    for (na, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        if "weight" in na:
            assert not torch.equal(pa, pc)
    assert torch.equal(mt.small_cnn(seed=3).conv2.weight, mt.small_cnn(seed=3).conv2.weight)
    assert not torch.equal(mt.small_cnn(seed=3).conv2.weight, mt.small_cnn(seed=4).conv2.weight)


@pytest.mark.parametrize(
    "call, err",
    [
        (lambda: mt.mlp(()), ValueError),
        (lambda: mt.mlp((0,)), ValueError),
        (lambda: mt.mlp((3.5,)), ValueError),
        (lambda: mt.mlp(300), TypeError),
        (lambda: mt.mlp("300"), TypeError),
        (lambda: mt.mlp(seed=-1), ValueError),
        (lambda: mt.small_cnn((32,)), ValueError),
        (lambda: mt.small_cnn((32, 0)), ValueError),
    ],
)
def test_builders_reject_bad_arguments(call, err):
    with pytest.raises(err):
        call()


# --------------------------------------------------------------------------- training
def test_fit_learns_and_evaluate_is_a_fraction():
    x, y = quadrant_data(512)
    xv, yv = quadrant_data(128, seed=1)
    m = mt.mlp((32,), seed=0)
    before = tt.evaluate(m, (xv, yv))
    hist = tt.fit(m, (x, y), epochs=3, batch_size=64, val=(xv, yv), progress=False)
    after = tt.evaluate(m, (xv, yv))
    assert 0.0 <= before["accuracy"] <= 1.0 and 0.0 <= after["accuracy"] <= 1.0
    assert after["accuracy"] > max(0.9, before["accuracy"])
    assert after["loss"] < before["loss"]
    assert hist.epochs == 3 and len(hist.val_accuracy) == 3 and len(hist.seconds) == 3
    assert hist.steps == 3 * 8
    assert hist.val_accuracy[-1] == pytest.approx(after["accuracy"])
    assert all(s > 0 for s in hist.seconds)
    assert m.training, "fit restores the model's mode"


def test_evaluate_loss_is_mean_cross_entropy():
    x, y = quadrant_data(100)
    m = mt.mlp((8,), seed=0)
    logits = tt.predict_logits(m, x)
    assert logits.shape == (100, 10) and logits.dtype == np.float32
    ce = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)).item()
    res = tt.evaluate(m, (x, y), batch_size=7)
    assert res["loss"] == pytest.approx(ce, rel=1e-5)
    assert res["accuracy"] == pytest.approx(float((logits.argmax(1) == y).mean()))


def test_fit_cnn_with_numpy_and_dataloader():
    x, y = quadrant_data(256)
    c = mt.small_cnn((4, 8), seed=0)
    h = tt.fit(c, (x, y), epochs=2, batch_size=64, progress=True)  # (N, 28, 28) gets a channel axis
    assert h.epochs == 2
    loader = DataLoader(TensorDataset(torch.from_numpy(x)[:, None], torch.from_numpy(y)), batch_size=64)
    h2 = tt.fit(c, loader, epochs=1, progress=False)
    assert h2.steps == 4
    assert 0.0 <= tt.evaluate(c, loader)["accuracy"] <= 1.0


def test_fit_is_reproducible_with_same_seed():
    x, y = quadrant_data(256)
    a, b = mt.mlp((16,), seed=0), mt.mlp((16,), seed=0)
    tt.fit(a, (x, y), epochs=1, batch_size=32, seed=5, progress=False)
    tt.fit(b, (x, y), epochs=1, batch_size=32, seed=5, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_on_step_called_once_per_optimizer_step():
    x, y = quadrant_data(300)
    steps: list[int] = []
    h = tt.fit(mt.mlp((8,)), (x, y), epochs=2, batch_size=64, on_step=steps.append, progress=False)
    assert steps == list(range(1, 11))  # ceil(300 / 64) = 5 batches x 2 epochs
    assert h.steps == 10


def test_fit_keeps_pruned_weights_zero():
    x, y = quadrant_data(256)
    m = mt.mlp((32,), seed=0)
    prune.l1_unstructured(m.fc1, "weight", amount=0.5)
    prune.l1_unstructured(m.fc2, "weight", amount=0.3)
    masks = {name: getattr(m, name).weight_mask.clone() for name in ("fc1", "fc2")}
    tt.fit(m, (x, y), epochs=3, batch_size=32, weight_decay=1e-4, progress=False)
    for name, mask in masks.items():
        layer = getattr(m, name)
        assert torch.all(layer.weight[mask == 0] == 0)
        # weight is refreshed after the last step: equal to weight_orig * mask, not one step stale
        assert torch.equal(layer.weight, layer.weight_orig * mask)
    assert (m.fc1.weight == 0).float().mean().item() == pytest.approx(0.5, abs=0.01)
    assert tt.evaluate(m, (x, y))["accuracy"] > 0.8


def test_gradual_pruning_through_on_step():
    x, y = quadrant_data(256)
    m = mt.mlp((32,), seed=0)
    kw = dict(initial_sparsity=0.0, final_sparsity=0.8, begin_step=2, end_step=10, frequency=2)

    def on_step(step: int) -> None:
        if should_prune(step, begin_step=2, end_step=10, frequency=2):
            target = cubic_sparsity(step, **kw)
            # global magnitude pruning of fc1 to the *total* target sparsity
            w = m.fc1.weight.detach()
            k = int(round(target * w.numel()))
            if k:
                thresh = w.abs().flatten().kthvalue(k).values
                prune.custom_from_mask(m.fc1, "weight", (w.abs() > thresh).float())

    tt.fit(m, (x, y), epochs=4, batch_size=64, on_step=on_step, progress=False)  # 16 steps
    assert (m.fc1.weight == 0).float().mean().item() == pytest.approx(0.8, abs=0.01)


def test_l1_shrinks_weights():
    x, y = quadrant_data(256)
    a, b = mt.mlp((32,), seed=0), mt.mlp((32,), seed=0)
    tt.fit(a, (x, y), epochs=2, batch_size=64, progress=False)
    tt.fit(b, (x, y), epochs=2, batch_size=64, l1=1e-3, progress=False)
    assert b.fc1.weight.abs().sum() < a.fc1.weight.abs().sum()


def test_distillation_from_a_teacher():
    """teacher= adds Hinton et al.'s soft-target term; kd_weight=0 is plain training, the teacher is untouched."""
    x, y = quadrant_data(256)
    teacher = mt.mlp((32,), seed=1)
    tt.fit(teacher, (x, y), epochs=3, batch_size=64, progress=False)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    plain, zero, kd = (mt.mlp((16,), seed=0) for _ in range(3))
    h_plain = tt.fit(plain, (x, y), epochs=2, batch_size=64, progress=False)
    h_zero = tt.fit(zero, (x, y), epochs=2, batch_size=64, teacher=teacher, kd_weight=0.0, progress=False)
    assert h_zero.loss == pytest.approx(h_plain.loss)  # weight 0: the labels alone
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), zero.parameters()))
    tt.fit(kd, (x, y), epochs=2, batch_size=64, teacher=teacher, kd_weight=1.0, kd_temperature=2.0, progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(plain.parameters(), kd.parameters()))
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in before.items())  # teacher not trained
    assert teacher.training  # its mode restored
    # weight 1 learns from the teacher's soft targets alone: it agrees with the teacher
    with torch.no_grad():
        agree = (kd(torch.from_numpy(x)).argmax(1) == teacher(torch.from_numpy(x)).argmax(1)).float().mean()
    assert agree > 0.8


def test_distillation_rejects_bad_arguments():
    x, y = quadrant_data(32)
    m = mt.mlp((8,))
    with pytest.raises(TypeError, match="teacher must be a torch nn.Module"):
        tt.fit(m, (x, y), epochs=1, teacher="dense", progress=False)
    with pytest.raises(ValueError, match="separate copy"):
        tt.fit(m, (x, y), epochs=1, teacher=m, progress=False)
    with pytest.raises(ValueError, match="kd_temperature"):
        tt.fit(m, (x, y), epochs=1, teacher=mt.mlp((8,)), kd_temperature=0, progress=False)
    with pytest.raises(ValueError, match="kd_weight"):
        tt.fit(m, (x, y), epochs=1, teacher=mt.mlp((8,)), kd_weight=1.5, progress=False)
    with pytest.raises(ValueError, match="same classes"):
        tt.fit(m, (x, y), epochs=1, teacher=nn.Sequential(nn.Flatten(), nn.Linear(784, 12)), progress=False)


def test_optimizer_instances_and_surgery():
    x, y = quadrant_data(128)
    m = mt.mlp((16,), seed=0)
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    tt.fit(m, (x, y), epochs=1, optimizer=opt, progress=False)
    # structured surgery replaces parameters: the old optimizer is stale
    m.fc2 = nn.Linear(16, 10)
    with pytest.raises(ValueError, match="structured pruning"):
        tt.fit(m, (x, y), epochs=1, optimizer=opt, progress=False)
    tt.fit(m, (x, y), epochs=1, optimizer="sgd", progress=False)  # a fresh one is fine
    with pytest.raises(ValueError, match="optimizer"):
        tt.fit(m, (x, y), epochs=1, optimizer="rmsprop", progress=False)


def test_bad_inputs_raise_clear_errors():
    x, y = quadrant_data(64)
    m = mt.mlp((8,))
    with pytest.raises(ValueError, match="different lengths"):
        tt.fit(m, (x, y[:-1]), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"class ids in \[0, 9\]"):
        tt.fit(m, (x, y + 10), epochs=1, progress=False)
    with pytest.raises(ValueError, match=">= 0"):
        tt.evaluate(m, (x, y - 5))
    with pytest.raises(TypeError, match="integer class ids"):
        tt.fit(m, (x, y.astype(np.float32)), epochs=1, progress=False)
    with pytest.raises(TypeError, match="uint8"):
        tt.fit(m, ((x * 255).astype(np.uint8), y), epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        tt.fit(mt.small_cnn((4, 8)), (x.reshape(64, 784), y), epochs=1, progress=False)
    with pytest.raises(ValueError, match="could not process"):
        tt.predict_logits(m, np.zeros((2, 27, 27), np.float32))
    with pytest.raises(TypeError, match="DataLoader"):
        tt.fit(m, x, epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        tt.fit(m, (x, y), epochs=0, progress=False)
    with pytest.raises(ValueError, match="lr"):
        tt.fit(m, (x, y), lr=-1.0, progress=False)
    with pytest.raises(ValueError, match="NaN"):
        tt.fit(m, (np.full_like(x, np.nan), y), epochs=1, progress=False)
    with pytest.raises(FloatingPointError, match="lr"):
        tt.fit(mt.mlp((8,)), (x, y), epochs=3, lr=1e12, optimizer="sgd", batch_size=8, progress=False)


# --------------------------------------------------------------------------- twin signatures (issue 9, P1-4)
def test_fit_and_evaluate_read_like_train_tf():
    """fit(model, train, epochs=..., val=val, seed=...) with the keywords train_tf.fit shares; History back;
    evaluate(model, data) -> {"loss", "accuracy"} floats."""
    import inspect

    from course_utils.history import History

    x, y = quadrant_data(128)
    xv, yv = quadrant_data(64, seed=1)
    steps = []
    m = mt.mlp((8,), seed=0)
    hist = tt.fit(m, (x, y), epochs=2, lr=1e-3, optimizer="adam", val=(xv, yv), batch_size=32, seed=3,
                  progress=False, on_step=steps.append)
    assert isinstance(hist, History) and hist.epochs == 2 and len(hist.val_accuracy) == 2
    assert steps == list(range(1, 9)) and hist.steps == 8
    ev = tt.evaluate(m, (xv, yv), batch_size=16)
    assert set(ev) == {"loss", "accuracy"} and all(isinstance(v, float) for v in ev.values())
    fit_params = inspect.signature(tt.fit).parameters
    assert list(fit_params)[:2] == ["model", "train"]
    for kw in ("epochs", "lr", "optimizer", "val", "batch_size", "seed", "progress", "on_step"):
        assert fit_params[kw].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(tt.evaluate).parameters) == ["model", "data", "batch_size"]


def test_fit_rejects_the_keras_x_y_form_with_a_clear_error():
    x, y = quadrant_data(32)
    m = mt.mlp((8,))
    with pytest.raises(TypeError):
        tt.fit(m, x, y, epochs=1, progress=False)  # y would be epochs: torch never had the (x, y) positional form
    with pytest.raises(TypeError, match=r"tuple \(x, y\)"):
        tt.evaluate(m, x)


def test_residual_mlp_shapes_names_and_zero_branches():
    m = mt.residual_mlp(width=32, blocks=3, seed=0)
    assert [n for n, _ in m.named_children()] == ["flatten", "stem", "blocks", "head"]
    assert len(m.blocks) == 3 and m.blocks[0].fc1.in_features == 32 and m.head.out_features == 10
    assert n_params(m) == 784 * 32 + 32 + 3 * 2 * (32 * 32 + 32) + 32 * 10 + 10
    x = torch.rand(5, 1, 28, 28)
    assert m(x).shape == (5, 10) and m(x.reshape(5, 784)).shape == (5, 10)
    assert all(float(b.fc2.weight.detach().abs().sum()) == 0 for b in m.blocks)  # untrained: stem -> head
    with torch.no_grad():
        torch.testing.assert_close(m(x), m.head(torch.relu(m.stem(x.flatten(1)))))
    assert torch.equal(mt.residual_mlp(32, 3, seed=1).stem.weight, mt.residual_mlp(32, 3, seed=1).stem.weight)
    assert not torch.equal(mt.residual_mlp(32, 3, seed=1).stem.weight, m.stem.weight)
    assert len(mt.residual_mlp(8, 0).blocks) == 0


def test_residual_mlp_trains_and_rejects_bad_arguments():
    x, y = quadrant_data(256)
    m = mt.residual_mlp(width=16, blocks=2, seed=0)
    h = tt.fit(m, (x, y), epochs=3, batch_size=64, progress=False)
    assert h.loss[-1] < h.loss[0] and float(m.blocks[0].fc2.weight.detach().abs().sum()) > 0
    with pytest.raises(ValueError, match="blocks"):
        mt.residual_mlp(16, -1)
    with pytest.raises(ValueError, match="width"):
        mt.residual_mlp(0, 2)
    with pytest.raises(ValueError, match="seed"):
        mt.residual_mlp(16, 2, seed=-1)
