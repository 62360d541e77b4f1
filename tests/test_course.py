"""The course's conventions: notebook headers, course map, README, links, clean notebooks."""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest

from course_utils import course, links, nbtools
from course_utils.results import REPO_ROOT
from course_utils.runner import notebooks

README = (REPO_ROOT / "README.md").read_text()


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_header_convention(path):
    assert nbtools.header_problems(path) == []


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_header_badge_points_at_this_notebook(path):
    """The badge of an instructors' copy (notebooks/) opens that copy; the learner edition's open learner/
    (tests/test_learner_doors.py)."""
    head = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert links.binder_url(path.name, folder="notebooks") in head


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_is_clean(path):
    assert not nbtools.clean_notebook(path, check=True), "run `python -m course_utils clean`"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_minutes_match_course_map(path):
    les = course.lesson(path.stem)
    head = "".join(json.loads(path.read_text())["cells"][0]["source"])
    m = re.search(r"\*\*Minutes:\*\*\s*(\d+) teaching\D+(\d+) exercises", head)
    assert m, "header needs '**Minutes:** N teaching · M exercises'"
    assert (int(m.group(1)), int(m.group(2))) == (les.teaching_min, les.exercise_min)


def test_every_notebook_is_in_the_course_map():
    stems = [les.stem for les in course.COURSE_MAP]
    assert stems == sorted(stems)
    for path in notebooks():
        assert path.stem in stems


def test_readme_course_map_is_current():
    """The README's course map links the learner edition (a learner reading on GitHub opens learner/)."""
    rows = course.course_map_markdown(links_relative_to="learner/")
    assert rows in README, "README course map is stale: run python -m course_utils sync-env"
    assert "](notebooks/" not in rows.split("<!-- course-map:end")[0]


def test_readme_has_binder_badge_and_two_commands():
    assert links.binder_badge() in README
    assert "make lab" in README and "make test" in README


def test_ci_runs_the_readme_test_command():
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "```\nmake test\n```" in README or "`make test`" in README


def test_binder_and_nbgitpuller_links_are_well_formed():
    url = urlparse(links.binder_url())
    assert url.netloc == "mybinder.org" and links.GITHUB_REPO in url.path
    assert parse_qs(url.query)["urlpath"] == ["lab/tree/learner/00_index.ipynb"]
    pull = urlparse(links.nbgitpuller_url("https://hub.example.edu/"))
    q = parse_qs(pull.query)
    assert pull.path == "/hub/user-redirect/git-pull"
    assert q["repo"] == [links.repo_url()] and q["branch"] == [links.BRANCH]
    assert q["urlpath"] == [f"lab/tree/{links.GITHUB_REPO.split('/')[1]}/learner/00_index.ipynb"]
    with pytest.raises(ValueError):
        links.nbgitpuller_url("hub.example.edu")
    with pytest.raises(ValueError):
        links.binder_url("notebooks/00_index.ipynb")


def test_header_problems_flags_a_bad_notebook(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Just text"), nbformat.v4.new_code_cell("x = 1")]
    p = tmp_path / "99_bad.ipynb"
    nbformat.write(nb, p)
    problems = nbtools.header_problems(p)
    assert any("title" in s for s in problems)
    assert any("parameters" in s for s in problems)
    assert any("Key points" in s for s in problems)


def test_clean_keeps_checked_outputs_and_drops_others(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    a = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")])
    b = nbformat.v4.new_code_cell("print(2)", execution_count=4,
                                  outputs=[nbformat.v4.new_output("stream", name="stdout", text="2\n")])
    b.metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    nb.cells = [a, b]
    nb.metadata["papermill"] = {"duration": 1}
    p = tmp_path / "x.ipynb"
    nbformat.write(nb, p)
    assert nbtools.clean_notebook(p) is True
    assert nbtools.clean_notebook(p, check=True) is False
    out = json.loads(p.read_text())
    assert "".join(out["cells"][0]["outputs"][0]["text"]) == "1\n"
    assert out["cells"][1]["outputs"] == [] and out["cells"][1]["metadata"] == {}
    assert "papermill" not in out["metadata"]


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_notebook_has_checked_outputs(path):
    """Deterministic outputs (shapes, parameter counts) are stored and compared on every test run."""
    cells = [c for c in json.loads(path.read_text())["cells"] if nbtools.is_checked(c)]
    assert cells, "mark at least one deterministic cell with a '# NBVAL_CHECK_OUTPUT' line"
    for c in cells:
        assert c["outputs"] and c["execution_count"], "run `python -m course_utils clean --refresh` to store outputs"


def test_cli_sync_env_check_passes():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "course_utils", "sync-env", "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_cli_data_check_passes():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "course_utils", "data-check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout


def test_instructor_guide_minutes_match_course_map():
    guide = (REPO_ROOT / "docs" / "instructor_guide.md").read_text()
    rows = re.findall(r"^\| [^|]+ \| (\d\d) ([^|(]+?)(?: \(or \d\d[^)]*\))? \| (\d+) \|$", guide, re.M)
    assert len(rows) >= 10
    for num, title, minutes in rows:
        les = next(le for le in course.COURSE_MAP if le.stem.startswith(num))
        assert title.strip() == les.title, (num, title)
        full = les.teaching_min + les.exercise_min
        assert int(minutes) in (full, les.teaching_min), f"{num}: {minutes} min vs course map {full}"
    for plan in guide.split("\n## ")[2:4]:
        total = re.search(r"Total: (\d+) minutes", plan)
        listed = sum(int(m) for m in re.findall(r"\| (\d+) \|$", plan, re.M))
        assert total and int(total.group(1)) == listed, "workshop total must equal the sum of its blocks"


def test_checks_are_reachable_by_exercise_name():
    import course_utils.checks as checks

    assert callable(checks.ex02_global_threshold) and callable(checks.ex10_rewind)
    with pytest.raises(AttributeError):
        checks.not_a_check  # noqa: B018
    with pytest.raises(ModuleNotFoundError):
        checks.ex99_nothing  # noqa: B018


def test_sync_badge_rewrites_a_stale_badge(tmp_path, monkeypatch):
    import shutil

    src = notebooks()[0]
    p = tmp_path / src.name
    shutil.copy(src, p)
    assert nbtools.sync_badge(p, check=True) is False
    monkeypatch.setattr(links, "GITHUB_REPO", "someone/else")
    assert nbtools.sync_badge(p, check=True) is True
    assert nbtools.sync_badge(p) is True
    head = "".join(json.loads(p.read_text())["cells"][0]["source"])
    assert "mybinder.org/v2/gh/someone/else/main" in head and head.count("mybinder.org/v2/gh") == 1
    assert nbtools.sync_badge(p, check=True) is False


def test_sync_readme_rerenders_the_badge(monkeypatch):
    assert course.sync_readme(check=True)
    monkeypatch.setattr(links, "GITHUB_REPO", "someone/else")
    assert not course.sync_readme(check=True)


def test_checked_output_problems_finds_a_changed_output(tmp_path):
    """The harness compares stored outputs of checked cells with its own execution (what nbval would do)."""
    cell = {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": "# NBVAL_CHECK_OUTPUT\nprint(1)",
            "outputs": [{"name": "stdout", "output_type": "stream", "text": ["1\n"]}]}
    src = tmp_path / "nb.ipynb"
    src.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    same = {"cells": [{"cell_type": "code", "source": "x = 1", "outputs": []}, dict(cell)]}
    assert nbtools.checked_output_problems(src, same) == []
    other = {"cells": [dict(cell, outputs=[{"name": "stdout", "output_type": "stream", "text": "2\n"},
                                           {"name": "stderr", "output_type": "stream", "text": "warning"}])]}
    (problem,) = nbtools.checked_output_problems(src, other)
    assert "'1\\n'" in problem and "'2\\n'" in problem and "--refresh" in problem
    assert nbtools.checked_output_problems(src, {"cells": []}) == ["cell 0: not found in the executed copy"]


def test_workshop_plans_fit_and_both_places_show_the_generated_plan():
    """M9: the three-hour plan fits in 180 minutes (welcome and break included), and the index notebook and the
    instructor guide show the one plan generated from course.WORKSHOPS."""
    for name, limit in course.WORKSHOP_LIMITS.items():
        assert course.workshop_minutes(name) <= limit, (name, course.workshop_minutes(name))
    assert course.workshop_minutes("three-hour") == 180
    guide = (REPO_ROOT / "docs" / "instructor_guide.md").read_text()
    for name in course.WORKSHOPS:
        assert course.workshop_markdown(name) in guide, f"run `python -m course_utils sync-env` ({name})"
    index = (REPO_ROOT / "notebooks" / "00_index.ipynb").read_text()
    assert 'course.workshop_markdown(\\"three-hour\\")' in index


def test_workshop_block_minutes_come_from_the_course_map():
    b = course.Block("x", "02_weight_pruning_pytorch")
    les = course.lesson("02_weight_pruning_pytorch")
    assert b.length == les.teaching_min + les.exercise_min
    assert course.Block("x", "02_weight_pruning_pytorch", teaching_only=True).length == les.teaching_min
    with pytest.raises(ValueError, match="needs minutes"):
        course.Block("break").length  # noqa: B018


def test_each_track_has_every_lesson_once_in_its_framework():
    for fw in course.TRACKS:
        lessons = course.track(fw)
        assert [les.stem for les in lessons] == sorted(les.stem for les in lessons)
        assert all(les.framework in ("—", "both", fw) for les in lessons)
        numbers = [les.stem[:2] for les in lessons]
        assert len(numbers) == len(set(numbers)), f"{fw} track has a lesson number twice: {numbers}"
    assert "*TensorFlow track:* 00 → 01" in course.tracks_markdown()
    with pytest.raises(ValueError, match="framework must be one of"):
        course.track("JAX")
