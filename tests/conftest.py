"""Shared test set-up: plots off-screen (MPLBACKEND=Agg), and the ``results_tmp`` fixture that sends
``record()`` to a temporary folder."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """``record()`` writes to ``tmp_path`` (not ``build/results``), and no notebook is current."""
    from course_utils import results

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(results, "_current_notebook", None)
    monkeypatch.delenv("COURSE_NOTEBOOK", raising=False)
    return tmp_path
