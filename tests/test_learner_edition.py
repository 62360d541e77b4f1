"""Exercises: solutions live in cells tagged `solution`; learner/ is generated from notebooks/."""
from __future__ import annotations

import json
import re

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
def test_each_notebook_has_one_to_four_exercises(path):
    """A core notebook keeps one or two exercises (its core reads in 30 minutes); its going-further notebook takes
    the others. A solution cell each, some exercises split in two."""
    assert 1 <= nbtools.solution_cells(path) <= 6, "each notebook has 1-4 exercises (a solution cell each)"


def test_two_or_more_exercises_per_lesson_and_framework():
    """A lesson (its core and going-further notebooks) gives a learner on either track at least two exercises, or one
    challenge of 20 minutes or more (the capstone)."""
    from course_utils import course

    per_lesson: dict[tuple[str, str], int] = {}
    challenge: set[tuple[str, str]] = set()  # a lesson whose one exercise is a long challenge (the capstone)
    for path in notebooks():
        if not path.stem.startswith("00"):
            key = (path.stem[:2], path.stem.rsplit("_", 1)[1])
            per_lesson[key] = per_lesson.get(key, 0) + nbtools.solution_cells(path)
            if course.lesson(path.stem).exercise_min >= 20:
                challenge.add(key)
    few = {k: n for k, n in per_lesson.items() if n < 2 and k not in challenge}
    assert not few, f"lessons with fewer than two exercises: {few}"


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
        {"cell_type": "code", "metadata": {"tags": ["solution"]}, "source": "x = 42", "outputs": [],
         "execution_count": 1},
        {"cell_type": "code", "metadata": {}, "source": "print(x)", "outputs": [], "execution_count": None},
    ], "metadata": {}}
    out = nbtools.learner_notebook(nb)
    assert [c["cell_type"] for c in out["cells"]] == ["code", "code"]
    # print(x) reads x, so the placeholder binds it
    assert out["cells"][0]["source"] == nbtools.PLACEHOLDER + "\nx = None  # your answer replaces None"
    assert out["cells"][0]["metadata"]["tags"] == ["exercise"]
    assert nb["cells"][1]["source"] == "x = 42"  # input untouched


def test_partial_learner_edition_keeps_other_files(tmp_path):
    (tmp_path / "99_other.ipynb").write_text("{}")
    nbtools.write_learner_edition(notebooks()[:1], tmp_path)
    assert (tmp_path / "99_other.ipynb").exists()
    nbtools.write_learner_edition(notebooks()[:1], tmp_path, prune_stale=True)
    assert not (tmp_path / "99_other.ipynb").exists()


# ----------------------------------------------------------------------------- unsolved exercises never break a lesson
@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_no_lesson_cell_reads_a_name_only_a_solution_defines(path):
    """The main line of a lesson uses the reference (course_utils), never the learner's answer (AST check)."""
    deps = nbtools.exercise_dependencies(json.loads(path.read_text()))
    assert not deps, ("these cells read names that only a solution cell defines, so they fail while the exercise "
                      f"is unsolved (cell index, names): {deps}")


STUCK = re.compile(r"^#\s*(?:\w+\s*=\s*)?(ex\d\d(?:tf)?)\.(reference_\w+)", re.M)


@pytest.mark.parametrize("path", [p for p in notebooks() if not p.stem.startswith("00")], ids=lambda p: p.stem)
def test_every_self_check_offers_the_reference(path):
    """Each self-check cell has a commented "stuck?" line that loads the reference solution from course_utils.checks."""
    import importlib

    cells = json.loads(path.read_text())["cells"]
    checks = [c for c in cells if nbtools.is_self_check(c)]
    assert len(checks) >= nbtools.solution_cells(path) - 1, "every exercise has a self-check cell"
    for cell in checks:
        src = "".join(cell["source"])
        found = STUCK.findall(src)
        assert found and "Stuck?" in src, f"self-check without a 'Stuck?' reference line:\n{src}"
        for module, name in found:
            assert hasattr(importlib.import_module(f"course_utils.checks.{module}"), name), f"{module}.{name} missing"


def test_top_level_solution_becomes_none_placeholders():
    src = "x = 1\n### BEGIN SOLUTION\nhan = make()\ntmp = 2\n### END SOLUTION\nprint(han)"
    out = nbtools._strip_solution(src, {"han", "print"})
    assert "make()" not in out and "han = None" in out and "tmp = None" not in out
    assert "raise NotImplementedError" not in out  # at top level that would be an error in Run All
    whole = nbtools._strip_solution("model = fit()\nreport = score(model)", {"report"})
    assert whole.splitlines() == [nbtools.PLACEHOLDER, "report = None  # your answer replaces None"]


def test_exercise_dependencies_finds_a_lesson_cell_that_needs_an_answer():
    code = lambda src, tags=(): {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": src}  # noqa: E731
    nb = {"cells": [code("keep = pick(w)", ["solution"]), code("ex05.filters_to_keep(keep)"),
                    code("model = cut(keep)"), code("other = 1")]}
    assert nbtools.exercise_dependencies(nb) == [(2, {"keep"})]
    assert nbtools.is_self_check(nb["cells"][1]) and not nbtools.is_self_check(nb["cells"][2])
