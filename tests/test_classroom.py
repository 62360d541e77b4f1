"""The classroom flow: `python -m course_utils nbgrader-source`, then nbgrader's own generate_assignment and
autograde on three submissions (reference solutions, the unsolved release, one known-wrong answer)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import classroom, nbtools
from course_utils.paths import NOTEBOOK_DIR

STEM = "01_loss_before_and_after_pytorch"  # fast in FAST mode, several graded exercises


def test_source_notebook_marks_solutions_checks_and_read_only_cells():
    nb = json.loads((NOTEBOOK_DIR / f"{STEM}.ipynb").read_text())
    src, points = classroom.nbgrader_notebook(nb, STEM)
    kinds = [c["metadata"].get("nbgrader", {}) for c in src["cells"]]
    solutions = [k for k in kinds if k.get("solution")]
    tests = [k for k in kinds if k.get("grade")]
    assert len(solutions) == nbtools.solution_cells(NOTEBOOK_DIR / f"{STEM}.ipynb") >= 1
    assert points == sum(k["points"] for k in tests) == len(tests) >= 1
    assert all(k["locked"] for k in tests) and not any(k["locked"] for k in solutions)
    ids = [k["grade_id"] for k in kinds if k]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    params = [c for c in src["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert params and "nbgrader" not in params[0]["metadata"], "FAST/SEED stay editable"
    graded = [c for c in src["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert not any("Stuck?" in "".join(c["source"]) for c in graded)


def test_top_level_solution_binds_its_names_before_the_region():
    out = classroom._top_level_solution("x = 1\ny = x + 1", {"y"})
    assert out.startswith("y = None  # your answer replaces None\n### BEGIN SOLUTION")
    assert out.rstrip().endswith("### END SOLUTION")


def test_rejects_files_that_are_not_course_notebooks(tmp_path):
    bad = tmp_path / "notes.ipynb"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="NN_<name>"):
        classroom.write_source_course(tmp_path / "course", [bad])
    with pytest.raises(FileNotFoundError):
        classroom.write_source_course(tmp_path / "course", [tmp_path / "99_missing.ipynb"])


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COURSE_FAST": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _wrong(source_nb: dict) -> tuple[dict, str]:
    """The reference submission with the last function exercise answered wrongly (its function returns None).
    The last one: an earlier answer may be used by later exercises (01's Ex2 calls Ex1's function), and then a
    wrong answer rightly costs those points too."""
    nb = json.loads(json.dumps(source_nb))
    for cell in reversed(nb["cells"]):
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and classroom._indented_markers(nbtools._src(cell)):
            lines, out, skip = nbtools._src(cell).splitlines(), [], False
            for ln in lines:
                if ln.strip() == nbtools.BEGIN_SOLUTION:
                    skip = True
                    out.append(ln[: len(ln) - len(ln.lstrip())] + "return None  # a wrong answer")
                elif ln.strip() == nbtools.END_SOLUTION:
                    skip = False
                elif not skip:
                    out.append(ln)
            cell["source"] = "\n".join(out)
            return nb, meta["grade_id"].replace("answer", "check")
    raise AssertionError("no function exercise to answer wrongly")


@pytest.mark.notebooks
def test_nbgrader_round_trip_scores_reference_full_unsolved_zero_wrong_loses_one_exercise(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is in the classroom extra (make test installs it)")
    course = tmp_path / "course"
    points = classroom.write_source_course(course, [NOTEBOOK_DIR / f"{STEM}.ipynb"])[STEM]
    _nbgrader(course, "generate_assignment", STEM, "--force")
    name = f"{STEM}.ipynb"
    source_nb = json.loads((course / "source" / STEM / name).read_text())
    release = course / "release" / STEM / name
    assert "raise NotImplementedError()" in release.read_text() and "BEGIN SOLUTION" not in release.read_text()
    wrong_nb, wrong_test = _wrong(source_nb)
    submissions = {"reference": json.dumps(source_nb), "unsolved": release.read_text(), "wrong": json.dumps(wrong_nb)}
    for student, text in submissions.items():
        target = course / "submitted" / student / STEM / name
        target.parent.mkdir(parents=True)
        target.write_text(text)
    _nbgrader(course, "autograde", STEM, "--create", "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        score = {s: gb.find_submission(STEM, s).score for s in submissions}
        wrong_points = gb.find_grade(wrong_test, STEM, STEM, "wrong").max_score
        lost = gb.find_grade(wrong_test, STEM, STEM, "wrong").score
    print(f"autograde scores of {STEM} (of {points}): {score}")
    assert score["reference"] == points, score
    assert score["unsolved"] == 0, score
    assert lost == 0 and score["wrong"] == points - wrong_points, score
    shutil.rmtree(course / "autograded", ignore_errors=True)
