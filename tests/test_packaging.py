"""Pins live in pyproject.toml; environment.yml (Binder) must agree; imports stay light."""
from __future__ import annotations

import subprocess
import sys

import pytest

from course_utils import pins
from course_utils.results import REPO_ROOT


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
                                    "course_utils.course", "course_utils.nbtools",
                                    "course_utils.timing", "course_utils._validate"])
def test_import_loads_no_framework(module):
    code = (f"import sys, {module}; bad = [m for m in ('torch', 'tensorflow', 'keras', 'tf_keras') if m in sys.modules];"
            " print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"importing {module} loaded {proc.stdout.strip()} {proc.stderr[-300:]}"


def test_import_sets_legacy_keras_flag():
    code = "import os; os.environ.pop('TF_USE_LEGACY_KERAS', None); import course_utils; print(os.environ['TF_USE_LEGACY_KERAS'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
