"""course_utils.paths: one place for the checkout's folders; old names still importable; a clear error
when the package is used without its checkout."""
from __future__ import annotations

import pytest

from course_utils import data, paths, results, runner


def test_folders_of_the_checkout():
    assert paths.CHECKOUT and paths.is_checkout(paths.REPO_ROOT)
    assert (paths.REPO_ROOT / "pyproject.toml").is_file()
    assert (paths.NOTEBOOK_DIR / "00_index.ipynb").is_file()
    assert (paths.LEARNER_DIR / "00_index.ipynb").is_file()
    assert (paths.DATA_DIR / "mnist_5k.npz").is_file()
    assert paths.RESULTS_DIR.parent == paths.EXECUTED_DIR.parent == paths.BUILD_DIR == paths.REPO_ROOT / "build"
    assert paths.require_checkout("a test") == paths.REPO_ROOT


def test_old_names_are_the_same_paths():
    assert results.REPO_ROOT == paths.REPO_ROOT
    assert runner.NOTEBOOK_DIR == paths.NOTEBOOK_DIR
    assert data.DATA_DIR == paths.DATA_DIR
    assert runner.notebooks()[0] == paths.NOTEBOOK_DIR / "00_index.ipynb"


def test_find_root(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    assert paths.find_root(tmp_path) == paths.REPO_ROOT  # an editable install finds its own checkout first
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    assert paths.find_root() == tmp_path.resolve()  # $COURSE_ROOT wins, checkout or not
    assert not paths.is_checkout(tmp_path)
    for name in ("notebooks", "data", "course_utils"):
        (tmp_path / name).mkdir()
    assert paths.is_checkout(tmp_path)


def test_search_upwards_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    monkeypatch.setattr(paths, "PACKAGE_DIR", tmp_path / "site-packages" / "course_utils")  # as after pip install .
    clone = tmp_path / "clone"
    for name in ("notebooks", "data", "course_utils"):
        (clone / name).mkdir(parents=True)
    assert paths.find_root(clone / "notebooks") == clone.resolve()  # a notebook opened from a clone
    assert paths.find_root(tmp_path) is None


@pytest.fixture
def no_checkout(monkeypatch):
    """As if the package were installed with `pip install .` and used outside a clone."""
    monkeypatch.setattr(paths, "CHECKOUT", False)
    monkeypatch.setattr(paths, "_ROOT", None)
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)


def test_without_checkout_the_error_says_how_to_fix_it(no_checkout):
    with pytest.raises(paths.CheckoutNotFoundError, match=r"installed without its checkout: run from a clone "
                                                          r"\(pip install -e \.\) or set COURSE_ROOT") as e:
        data.load_mnist()
    assert "load_mnist() reads data/mnist_5k.npz" in str(e.value)
    assert isinstance(e.value, FileNotFoundError)
    with pytest.raises(paths.CheckoutNotFoundError, match="notebooks/"):
        runner.notebooks()
    with pytest.raises(paths.CheckoutNotFoundError, match="COURSE_RESULTS_DIR"):
        results.results_dir()


def test_without_checkout_explicit_paths_still_work(no_checkout, results_tmp):
    assert data.load_mnist(paths.DATA_DIR / "mnist_5k.npz").sizes()["test"] == 1000
    assert results.results_dir() == results_tmp
    assert runner.notebooks(directory=paths.NOTEBOOK_DIR)


def test_a_wrong_course_root_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "CHECKOUT", False)
    monkeypatch.setattr(paths, "_ROOT", tmp_path)
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path))
    with pytest.raises(paths.CheckoutNotFoundError, match="is not a checkout of the course"):
        data.load_mnist()
