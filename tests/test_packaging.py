"""Pins live in pyproject.toml; environment.yml (Binder) must agree; imports stay light; a wheel installs."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

import course_utils
from course_utils import pins
from course_utils.paths import REPO_ROOT


def test_environment_yml_agrees_with_pyproject():
    assert pins.environment_yml_pins() == pins.pyproject_pins(extras=("test",))


def test_environment_yml_is_generated_from_pyproject():
    assert pins.sync_environment_yml(check=True), "run `python -m course_utils sync-env`"


def test_environment_yml_asks_for_python_311_and_cpu_torch():
    text = pins.ENVIRONMENT_YML.read_text()
    assert "- python=3.11" in text
    assert pins.TORCH_CPU_INDEX in text  # PyPI's Linux torch wheel is a multi-GB CUDA build


def test_everything_is_pinned_exactly():
    for name, ver in pins.pyproject_pins(extras=("test",)).items():
        assert ver[0].isdigit(), (name, ver)
    with pytest.raises(ValueError, match="not pinned"):
        pins.parse_pin("torch>=2")


def test_installed_versions_match_pins():
    from importlib.metadata import version

    for name, ver in pins.pyproject_pins(extras=("test",)).items():
        assert version(name).split("+")[0] == ver, name


def test_postbuild_installs_the_package_for_binder():
    text = (REPO_ROOT / "postBuild").read_text()
    assert "set -e" in text and "pip install" in text and "-e ." in text


@pytest.mark.parametrize("module", ["course_utils", "course_utils.data", "course_utils.metrics",
                                    "course_utils.plots", "course_utils.schedules", "course_utils.runner",
                                    "course_utils.checks", "course_utils.capstone", "course_utils.history",
                                    "course_utils.course", "course_utils.nbtools", "course_utils.paths",
                                    "course_utils._data_build", "course_utils.pins", "course_utils.links",
                                    "course_utils.timing", "course_utils._validate"])
def test_import_loads_no_framework(module):
    code = (f"import sys, {module}; "
            "bad = [m for m in ('torch', 'tensorflow', 'keras', 'tf_keras') if m in sys.modules];"
            " print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"importing {module} loaded {proc.stdout.strip()} {proc.stderr[-300:]}"


def test_import_sets_legacy_keras_flag():
    code = ("import os; os.environ.pop('TF_USE_LEGACY_KERAS', None); import course_utils; "
            "print(os.environ['TF_USE_LEGACY_KERAS'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"


# ----------------------------------------------------------------------------------------------
# One version, one command line
# ----------------------------------------------------------------------------------------------
def test_version_is_kept_in_pyproject_only():
    import tomllib

    version = tomllib.loads(pins.PYPROJECT.read_text())["project"]["version"]
    assert course_utils.__version__ == version
    assert f'"{version}"' not in (REPO_ROOT / "course_utils" / "__init__.py").read_text()


def test_one_command_line():
    """`python -m course_utils` is the only CLI: no console script, no `python -m course_utils.data`."""
    import tomllib

    project = tomllib.loads(pins.PYPROJECT.read_text())["project"]
    assert "scripts" not in project
    r = subprocess.run([sys.executable, "-m", "course_utils", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for command in ("run-all", "sync-env", "clean", "learner-edition", "env", "data-check", "data-rebuild",
                    "data-fetch-full"):
        assert command in r.stdout, command


# ----------------------------------------------------------------------------------------------
# A non-editable install (pip install .) has every subpackage, and says when it needs the checkout
# ----------------------------------------------------------------------------------------------
def _package_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / "course_utils").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> tuple[Path, Path]:
    """(python of a scratch venv with the course's wheel installed, the wheel).

    The wheel is built offline from a copy of the sources (the checkout stays untouched). The scratch venv
    sees the project venv's site-packages through a .pth line, for the dependencies only: a plain path in a
    .pth file does not run the editable install's finder, so `course_utils` can only come from the wheel.
    """
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, src / name)
    shutil.copytree(REPO_ROOT / "course_utils", src / "course_utils",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = tmp / "dist"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "--quiet", "-w", str(dist), str(src)], capture_output=True, text=True, timeout=300, cwd=tmp)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (wheel,) = dist.glob("pruning_hands_on-*.whl")

    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    (purelib / "_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                        "--quiet", str(wheel)], capture_output=True, text=True, timeout=300, cwd=tmp)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return py, wheel


def _run_outside(py: Path, code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COURSE_ROOT", "COURSE_RESULTS_DIR")}
    return subprocess.run([str(py), "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**clean, **env})


def test_wheel_ships_every_module(wheel_venv):
    _, wheel = wheel_venv
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n for n in zf.namelist() if n.startswith("course_utils/")}
    missing = _package_files(REPO_ROOT) - shipped
    assert not missing, f"the wheel lacks {sorted(missing)}: check [tool.setuptools.packages.find] in pyproject.toml"
    assert "course_utils/checks/ex02.py" in shipped


def test_wheel_install_imports_the_checkers_outside_the_checkout(wheel_venv, tmp_path):
    py, _ = wheel_venv
    r = _run_outside(py, """
        import course_utils, course_utils.checks.ex02 as ex02
        from course_utils import paths
        print(course_utils.__file__)
        print(paths.CHECKOUT, callable(ex02.global_threshold), ex02.reference_second_amount(0.5, 0.75))
    """, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    location, checkout = r.stdout.splitlines()[:2]
    assert str(REPO_ROOT) not in location, f"course_utils was imported from the checkout, not the wheel: {location}"
    assert checkout.split()[:2] == ["False", "True"]


def test_wheel_install_without_checkout_says_so(wheel_venv, tmp_path):
    py, _ = wheel_venv
    r = _run_outside(py, """
        from course_utils import data, paths, results, runner
        for call in (data.load_mnist, runner.notebooks, lambda: results.set_notebook("00_index")):
            try:
                call()
            except paths.CheckoutNotFoundError as e:
                print("ERROR", e)
            else:
                print("NO ERROR")
    """, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("ERROR") for line in lines), r.stdout
    for line in lines:
        assert "installed without its checkout" in line and "pip install -e ." in line and "COURSE_ROOT" in line
    assert "data/mnist_5k.npz" in lines[0]
    r = _run_outside(py, "import sys; from course_utils.__main__ import main; sys.exit(main(['data-check']))",
                     cwd=tmp_path)
    assert r.returncode == 1 and "installed without its checkout" in r.stderr


def test_wheel_install_finds_the_checkout_through_course_root(wheel_venv, tmp_path):
    py, _ = wheel_venv
    r = _run_outside(py, """
        from course_utils import data, paths, runner
        print(paths.CHECKOUT, paths.REPO_ROOT)
        print(data.load_mnist().sizes()["train"], len(runner.notebooks()) > 0)
    """, cwd=tmp_path, COURSE_ROOT=str(REPO_ROOT), COURSE_RESULTS_DIR=str(tmp_path / "results"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["True", str(REPO_ROOT), "3500", "True"]


def test_every_make_target_says_what_it_does():
    """`make help` lists the targets from the `## ` comment on each rule's line."""
    text = (REPO_ROOT / "Makefile").read_text()
    rules = [line for line in text.splitlines() if re.match(r"^[a-z][a-z-]*:", line)]
    assert {"help", "lint", "format", "test", "lab"} <= {r.split(":")[0] for r in rules}
    undocumented = [r.split(":")[0] for r in rules if "## " not in r]
    assert not undocumented, f"give these Makefile targets a `## what it does` comment: {undocumented}"


def test_readme_and_package_docstring_list_every_module():
    modules = sorted({p.stem for p in (REPO_ROOT / "course_utils").glob("*.py") if p.stem != "__init__"} | {"checks"})
    readme = (REPO_ROOT / "README.md").read_text()
    docstring = course_utils.__doc__ or ""
    assert not [m for m in modules if f"`{m}`" not in readme], "add the module to the README's module table"
    assert not [m for m in modules if m != "__main__" and f"``{m}``" not in docstring], \
        "add the module to course_utils/__init__.py's docstring"
