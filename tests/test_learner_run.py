"""The learner edition is the product: Run All with every exercise unsolved finishes with no error output.

Each learner notebook is executed in FAST mode, as a learner who runs everything to read the lesson would.
Every self-check must report "not attempted" (○) and none may raise.
"""
from __future__ import annotations

import json

import pytest

from course_utils import nbtools
from course_utils.results import REPO_ROOT
from course_utils.runner import notebooks, run_notebook

LEARNER = REPO_ROOT / nbtools.LEARNER_DIR_NAME


@pytest.mark.parametrize("path", notebooks(directory=LEARNER), ids=lambda p: p.stem)
def test_learner_notebook_runs_all_with_exercises_unsolved(path, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("COURSE_GRADING", raising=False)
    res = run_notebook(path, fast=True, out_dir=tmp_path)
    executed = json.loads((tmp_path / path.name).read_text())
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(executed["cells"])
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert res.ok and not errors, f"{path.name} fails with exercises unsolved: {res.error} {errors}"
    checks = [c for c in executed["cells"] if nbtools.is_self_check(c)]
    for cell in checks:
        text = "".join("".join(o.get("text", "")) for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        source = "".join(cell["source"])
        assert "not attempted" in text, f"a self-check did not report 'not attempted':\n{source}\n{text}"
