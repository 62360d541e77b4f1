"""``record()``: the results a notebook commits to (introduced in 00_index).

Every notebook records its headline numbers with ``record(name, value)``. They land in
``build/results/<notebook-stem>.json`` (override the folder with the environment variable
``COURSE_RESULTS_DIR``). The runner (``python -m course_utils run-all``) and the test
harness read them back, so a lesson whose numbers drift fails its tests.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT, RESULTS_DIR, require_checkout

__all__ = ["REPO_ROOT", "current_notebook", "load_results", "record", "results_dir", "set_notebook"]
_current_notebook: str | None = None


def results_dir() -> Path:
    """Folder that holds one ``<stem>.json`` per notebook (created on demand).

    ``$COURSE_RESULTS_DIR`` if set, else ``build/results`` in the checkout (``paths.RESULTS_DIR``).
    """
    env = os.environ.get("COURSE_RESULTS_DIR")
    if env:
        d = Path(env)
    else:
        require_checkout("record() writes build/results/ (or set COURSE_RESULTS_DIR)")
        d = RESULTS_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def set_notebook(stem: str, *, reset: bool = True) -> Path:
    """Make ``stem`` (e.g. ``"02_weight_pruning_pytorch"``) the notebook ``record`` writes for.

    With ``reset`` (the default) the notebook's old results are deleted, so a re-run never
    reports a stale number. Returns the path of the results file.
    """
    global _current_notebook
    if not stem or "/" in stem or stem.endswith(".ipynb"):
        raise ValueError(f"notebook stem must be a bare name like '02_weight_pruning_pytorch', got {stem!r}")
    _current_notebook = stem
    path = results_dir() / f"{stem}.json"
    if reset and path.exists():
        path.unlink()
    return path


def current_notebook() -> str:
    """The stem set by ``set_notebook``/``notebook_setup``, else ``$COURSE_NOTEBOOK``."""
    stem = _current_notebook or os.environ.get("COURSE_NOTEBOOK")
    if not stem:
        raise RuntimeError(
            "record() does not know which notebook is running: call "
            "course_utils.notebook_setup('<notebook stem>') in the Setup cell first."
        )
    return stem


def _to_jsonable(value: Any) -> Any:
    """numpy/torch scalars and arrays → plain Python; NaN/inf are refused (they hide bugs)."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"refusing to record a non-finite number ({value})")
        return value
    raise TypeError(f"cannot record a value of type {type(value).__name__}; use numbers, strings, lists or dicts")


def record(name: str, value: Any) -> Any:
    """Record a headline result of the running notebook and return ``value`` unchanged.

    ``name`` is a short key (``"pruned_accuracy"``); ``value`` a number, string, list or dict
    of those (numpy scalars are converted). Recording the same name twice overwrites it.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"result names are identifiers like 'pruned_accuracy', got {name!r}")
    path = results_dir() / f"{current_notebook()}.json"
    data = load_results(path.stem)
    data[name] = _to_jsonable(value)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)
    return value


def load_results(stem: str) -> dict[str, Any]:
    """Results recorded by notebook ``stem`` (an empty dict if it recorded none)."""
    path = results_dir() / f"{stem}.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())
