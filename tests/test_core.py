"""course_utils core: record/results, env (FAST, seeding, setup, Keras-2 guard), plots, runner table."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import course_utils as cu
from course_utils import env, plots, results, runner


def test_record_writes_json_and_converts_numpy(results_tmp):
    results.set_notebook("99_test")
    assert cu.record("acc", np.float32(0.5)) == np.float32(0.5)
    cu.record("curve", {"x": np.array([0.1, 0.2]), "n": np.int64(3)})
    data = json.loads((results_tmp / "99_test.json").read_text())
    assert data == {"acc": 0.5, "curve": {"x": [0.1, 0.2], "n": 3}}
    cu.record("acc", 0.75)
    assert cu.load_results("99_test")["acc"] == 0.75


def test_set_notebook_resets_stale_results(results_tmp):
    results.set_notebook("99_test")
    cu.record("old", 1)
    results.set_notebook("99_test")
    assert cu.load_results("99_test") == {}


def test_record_refuses_bad_input(results_tmp):
    with pytest.raises(RuntimeError, match="notebook_setup"):
        cu.record("x", 1)
    results.set_notebook("99_test")
    with pytest.raises(ValueError, match="non-finite"):
        cu.record("x", math.nan)
    with pytest.raises(ValueError, match="identifier"):
        cu.record("bad name", 1)
    with pytest.raises(TypeError):
        cu.record("obj", object())
    with pytest.raises(ValueError):
        results.set_notebook("notebooks/01.ipynb")


def test_env_var_names_notebook(results_tmp, monkeypatch):
    monkeypatch.setenv("COURSE_NOTEBOOK", "98_env")
    cu.record("x", 2)
    assert cu.load_results("98_env") == {"x": 2}


@pytest.mark.parametrize("raw,default,want", [(None, False, False), (None, True, True), ("1", False, True),
                                              ("true", False, True), ("0", True, False), ("no", True, False)])
def test_fast_mode(monkeypatch, raw, default, want):
    if raw is None:
        monkeypatch.delenv("COURSE_FAST", raising=False)
    else:
        monkeypatch.setenv("COURSE_FAST", raw)
    assert cu.fast_mode(default) is want


def test_fast_mode_rejects_garbage(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST"):
        cu.fast_mode()


def test_seed_everything_is_reproducible_and_validates():
    cu.seed_everything(3)
    a = np.random.rand(3)
    cu.seed_everything(3)
    assert np.array_equal(a, np.random.rand(3))
    with pytest.raises(ValueError):
        cu.seed_everything(-1)


def test_notebook_setup_without_framework(results_tmp, capsys):
    out = cu.notebook_setup("97_setup", fast=True)
    assert out["fast"] in (True, False) and out["threads"] >= 1
    assert "CPU threads" in capsys.readouterr().out
    with pytest.raises(ValueError, match="framework"):
        cu.notebook_setup("97_setup", framework="jax")


def test_version_report_reads_pins():
    rows = {r[0]: r for r in env.version_report(["numpy", "not-a-package"])}
    assert rows["numpy"][1] == "2.4.6" and rows["numpy"][3] is True
    assert rows["not-a-package"][2] is None and rows["not-a-package"][3] is False


def test_keras3_loaded_first_gives_clear_error():
    code = ("import os; os.environ['TF_USE_LEGACY_KERAS'] = '0'; import tensorflow;"
            "import course_utils.env as e; e.load_tensorflow()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "needs Keras 2" in proc.stderr


def test_plots_return_figures_and_validate():
    rng = np.random.default_rng(0)
    assert plots.digit_grid(rng.random((12, 28, 28)), list(range(12))) is not None
    assert plots.digit_grid(rng.random((3, 784))) is not None
    with pytest.raises(ValueError):
        plots.digit_grid(rng.random((3, 10)))
    with pytest.raises(ValueError):
        plots.digit_grid(rng.random((3, 28, 28)), [1, 2])
    assert plots.class_counts({"train": np.full(10, 350)}) is not None
    w = {"fc1": np.where(rng.random((30, 20)) < 0.5, 0, rng.normal(size=(30, 20)))}
    fig = plots.weight_histograms(w)
    assert "50%" in fig.axes[0].get_title() or "zero" in fig.axes[0].get_title()
    assert plots.sparsity_bars({"fc1": 0.9, "fc2": 0.5}) is not None
    assert plots.sparsity_bars({"global": {"fc1": 0.9}, "layer": {"fc1": 0.8}}) is not None
    with pytest.raises(ValueError, match="fraction"):
        plots.sparsity_bars({"fc1": 90})
    fig = plots.tradeoff_curve({"m": {"x": [0, 0.5], "y": [[0.9, 0.8], [0.92, 0.78]]}}, reference=0.95)
    assert len(fig.axes[0].lines) == 2
    with pytest.raises(ValueError):
        plots.tradeoff_curve({"m": {"x": [0, 0.5, 0.9], "mean": [1, 2]}})
    assert plots.loss_before_after({"magnitude": (0.1, 0.2)}) is not None
    assert plots.mask_image(rng.random((10, 20)) > 0.5) is not None
    with pytest.raises(ValueError):
        plots.mask_image(np.ones(5))
    with pytest.raises(ValueError):
        plots.mask_pixels(np.ones((3, 10)))
    assert plots.bars({"a": 1.0, "b": 2.0}, ylabel="ms") is not None
    import matplotlib.pyplot as plt

    plt.close("all")


def test_runner_table_and_order():
    paths = runner.notebooks()
    assert [p.name for p in paths] == sorted(p.name for p in paths)
    rows = [runner.RunResult("01_x", True, 12.34, 900.0, {"acc": 0.98123, "curve": [1, 2]}),
            runner.RunResult("02_y", False, 1.0, 100.0, {}, "ValueError: boom")]
    table = runner.format_table(rows, mode="FAST")
    assert "| 01_x | ok | 12.3 | 900 | acc=0.9812 |" in table
    assert "FAILED: ValueError: boom" in table and "1/2 ok" in table
    assert "track" not in table  # a partial run has no track totals


def test_runner_table_totals_each_track():
    from course_utils import course

    pt = [les.stem for les in course.track("PyTorch") if les.available]
    tf = [les.stem for les in course.track("TensorFlow") if les.available]
    stems = list(dict.fromkeys(pt + tf))
    rows = [runner.RunResult(s, True, 10.0 * (i + 1), 100.0 + i, {}) for i, s in enumerate(stems)]
    table = runner.format_table(rows, mode="full")
    secs = {r.notebook: r.seconds for r in rows}
    for fw, sel in (("PyTorch", pt), ("TensorFlow", tf)):
        n = len(sel)
        assert f"| **{fw} track** ({n} notebooks) | {n}/{n} ok | {sum(secs[s] for s in sel):.1f} |" in table
    assert "00_index" in pt and "00_index" in tf and not set(pt) & {s for s in tf if s.endswith("tensorflow")}
    seeded = runner.format_seed_table({0: rows, 1: rows}, mode="full")
    assert "**PyTorch track, seed 1**" in seeded and "**TensorFlow track, seed 0**" in seeded


def test_twin_table_compares_shared_keys_of_each_framework_pair():
    from course_utils import course

    pairs = course.twins()
    assert ("02_weight_pruning_pytorch", "02_weight_pruning_tensorflow", "Weight pruning") in pairs
    assert ("01_loss_before_and_after_pytorch", "01_loss_before_and_after_tensorflow", "Loss before and after") in pairs
    pt, tf, topic = pairs[0]
    runs = {0: [runner.RunResult(pt, True, 1.0, 1.0, {"sparsity": 0.95, "pt_only": 1, "curve": [1]}),
                runner.RunResult(tf, True, 1.0, 1.0, {"sparsity": 0.96, "tf_only": 2})],
            1: [runner.RunResult(pt, True, 1.0, 1.0, {"sparsity": 0.97}),
                runner.RunResult(tf, True, 1.0, 1.0, {"sparsity": 0.96})]}
    table = runner.format_twin_table(runs)
    assert f"| {topic} | sparsity | 0.96 | 0.96 |" in table and "(mean of 2 seeds)" in table
    assert "pt_only" not in table and "tf_only" not in table and "curve" not in table
    assert runner.format_twin_table({None: [runner.RunResult(pt, True, 1.0, 1.0, {"a": 1})]}) == ""


def test_current_env_kernel_uses_this_python():
    kdir = runner.current_env_kernel_dir()
    spec = json.loads((kdir / "kernels" / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    assert runner.kernel_env(True)["COURSE_FAST"] == "1"


def test_plots_table_renders_markdown_and_checks_rows():
    import pytest

    from course_utils import plots

    t = plots.table(["model", "params", "acc", "note"],
                    [["dense", 266610, 0.9434, "a|b"], ["pruned", 21000, 0.94, None]])
    md = t._repr_markdown_()
    assert md.splitlines()[0] == "| model | params | acc | note |"
    assert "| dense | 266,610 | 0.943 | a\\|b |" in md and "| pruned | 21,000 | 0.940 | — |" in md
    assert str(t) == md
    with pytest.raises(ValueError, match="row 1 has 2 cells"):
        plots.table(["a", "b", "c"], [[1, 2, 3], [1, 2]])


def test_other_kernels_env_steps_down_from_the_cpus_own_kernels():
    """On an AVX-512 CPU the other kernels are AVX2 (what an AMD EPYC runs); on an AVX2 one, the non-vector ones."""
    assert runner.other_kernels_env("fpu sse2 avx avx2 avx512f avx512bw")["ATEN_CPU_CAPABILITY"] == "avx2"
    assert runner.other_kernels_env("fpu sse2 avx avx2 fma")["ATEN_CPU_CAPABILITY"] == "default"
    env = runner.other_kernels_env("avx2")
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0" and env["ONEDNN_MAX_CPU_ISA"] == "AVX2"


def test_other_kernels_env_changes_the_kernels_a_fresh_process_takes():
    """The settings reach a notebook's kernel: PyTorch in a fresh process reports another CPU capability."""
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    mine = {k: v for k, v in os.environ.items() if k not in runner.other_kernels_env()}  # this CPU's own kernels
    own = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=mine).stdout.strip()
    if own == "DEFAULT":
        pytest.skip("this CPU already runs PyTorch's non-vector kernels: there is no other path to force")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env=runner.kernel_env(True, runner.other_kernels_env())).stdout.strip()
    expected = {"avx2": "AVX2", "default": "DEFAULT"}[runner.other_kernels_env()["ATEN_CPU_CAPABILITY"]]
    assert other == expected and other != own, (own, other)


def test_cli_other_kernels_prints_env_assignments(capsys):
    from course_utils.__main__ import main

    assert main(["other-kernels"]) == 0
    pairs = dict(p.split("=", 1) for p in capsys.readouterr().out.split())
    assert pairs == runner.other_kernels_env()


def test_run_all_ends_with_a_passed_failed_line(monkeypatch, tmp_path, capsys):
    """The last line of run-all counts the notebooks that passed and failed (CI reads it)."""
    calls = []

    def fake_run(path, *, fast, out_dir, timeout, seed, env):
        calls.append(env)
        return runner.RunResult(path.stem, not path.stem.startswith("01_"), 1.0, 10.0, {})

    monkeypatch.setattr(runner, "run_notebook", fake_run)
    rows = runner.run_all(fast=True, pattern="_pytorch", out_dir=tmp_path, env={"X": "1"})
    failed = sum(not r.ok for r in rows)
    assert failed == 1 and all(e == {"X": "1"} for e in calls)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"notebooks: {len(rows) - 1} passed, 1 failed"
