"""Exercises: solutions live in cells tagged `solution`; learner/ is generated from notebooks/."""
from __future__ import annotations

import json

import pytest

from course_utils import nbtools
from course_utils.results import REPO_ROOT
from course_utils.runner import notebooks

LEARNER = REPO_ROOT / nbtools.LEARNER_DIR_NAME


def test_learner_edition_is_up_to_date():
    changed = nbtools.write_learner_edition(notebooks(), LEARNER, check=True, prune_stale=True)
    assert not changed, f"run `python -m course_utils learner-edition`: {[p.name for p in changed]}"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_learner_edition_hides_every_solution(path):
    source = json.loads(path.read_text())
    learner = json.loads((LEARNER / path.name).read_text())
    solutions = [c for c in source["cells"] if "solution" in c.get("metadata", {}).get("tags", [])]
    assert solutions, "every notebook has at least one exercise with a solution cell"
    learner_code = "\n".join("".join(c["source"]) for c in learner["cells"])
    for cell in solutions:
        body = [ln for ln in "".join(cell["source"]).splitlines()
                if ln.strip() and not ln.lstrip().startswith(("#", "def ", '"""')) and "BEGIN SOLUTION" not in ln]
        assert not any(ln in learner_code.splitlines() for ln in body if len(ln.strip()) > 25 and "check" not in ln), \
            "solution code leaked into the learner edition"
    assert learner_code.count(nbtools.PLACEHOLDER) >= len([c for c in solutions if c["cell_type"] == "code"])


@pytest.mark.parametrize("path", [p for p in notebooks() if not p.stem.startswith("00")], ids=lambda p: p.stem)
def test_two_to_four_exercises_per_lesson(path):
    assert 2 <= nbtools.solution_cells(path) <= 6, "each lesson has 2-4 exercises (a solution cell each, some split in two)"


def test_strip_solution_keeps_signature():
    src = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\nprint(f(1))'
    out = nbtools._strip_solution(src)
    assert "return x + 1" not in out and "def f(x):" in out and "    raise NotImplementedError" in out
    assert nbtools._strip_solution("y = 2") == nbtools.PLACEHOLDER
    with pytest.raises(ValueError):
        nbtools._strip_solution("### BEGIN SOLUTION\nx = 1")


def test_learner_notebook_drops_solution_markdown():
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {"tags": ["solution"]}, "source": "answer: 42"},
        {"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": "x = 42", "outputs": [], "execution_count": 1},
        {"cell_type": "code", "metadata": {}, "source": "print(x)", "outputs": [], "execution_count": None},
    ], "metadata": {}}
    out = nbtools.learner_notebook(nb)
    assert [c["cell_type"] for c in out["cells"]] == ["code", "code"]
    assert out["cells"][0]["source"] == nbtools.PLACEHOLDER
    assert out["cells"][0]["metadata"]["tags"] == ["exercise"]
    assert nb["cells"][1]["source"] == "x = 42"  # input untouched


def test_partial_learner_edition_keeps_other_files(tmp_path):
    (tmp_path / "99_other.ipynb").write_text("{}")
    nbtools.write_learner_edition(notebooks()[:1], tmp_path)
    assert (tmp_path / "99_other.ipynb").exists()
    nbtools.write_learner_edition(notebooks()[:1], tmp_path, prune_stale=True)
    assert not (tmp_path / "99_other.ipynb").exists()
