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
    """The course map reads the notebook's metadata, and the header states the same minutes."""
    les = course.lesson(path.stem)
    head = "".join(json.loads(path.read_text())["cells"][0]["source"])
    m = re.search(r"\*\*Minutes:\*\*\s*(\d+) teaching\D+(\d+) exercises", head)
    assert m, "header needs '**Minutes:** N teaching · M exercises'"
    assert (int(m.group(1)), int(m.group(2))) == (les.teaching_min, les.exercise_min)


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_stated_minutes_cover_the_reading_time(path):
    """Honest minutes: a notebook's stated teaching minutes are at least its reading time (Markdown at 150 words per
    minute + 6 s per code line, on the learner edition), and a core notebook reads in at most 30 minutes."""
    les = course.lesson(path.stem)
    assert les.teaching_min >= les.reading_min, (
        f"{path.name} reads in {les.reading_min:.1f} min but states {les.teaching_min} teaching minutes")
    if les.level == "core":
        assert les.reading_min <= course.CORE_READING_LIMIT, (
            f"core notebook {path.name} reads in {les.reading_min:.1f} min (limit {course.CORE_READING_LIMIT}): "
            "move depth into its going-further notebook")


def test_reading_time_model():
    from course_utils.reading_time import markdown_words, reading_minutes

    assert markdown_words("See [the guide](https://example.org/a/very/long/url) and ![a plot](x.png) <b>now</b>") == 5
    nb = {"cells": [{"cell_type": "markdown", "source": "word " * 300, "metadata": {}},
                    {"cell_type": "code", "source": "a = 1\n\nb = 2\n", "metadata": {}, "outputs": [],
                     "execution_count": None}]}
    assert reading_minutes(nb) == pytest.approx(300 / 150 + 2 * 6 / 60)


def test_core_track_fits_in_four_hours_and_every_lesson_has_both_twins():
    """Each track's core (00 to the capstone) takes at most 4 hours with its exercises; every lesson number has a
    PyTorch and a TensorFlow notebook (an advanced lesson may be PyTorch-only until its Keras twin lands)."""
    for fw in course.TRACKS:
        core = course.track(fw, levels=("core",))
        assert core[0].stem == "00_index" and "capstone" in core[-1].stem, [les.stem for les in core]
        assert course.track_minutes(fw) <= course.CORE_TRACK_LIMIT, (fw, course.track_minutes(fw))
    by_number: dict[str, set[str]] = {}
    for les in course.course_map():
        by_number.setdefault(les.number, set()).add(les.framework)
        assert les.stem.endswith({"PyTorch": "_pytorch", "TensorFlow": "_tensorflow"}.get(les.framework, "")), les
    for number, fws in by_number.items():
        les = next(le for le in course.course_map() if le.number == number)
        if fws != {"—"} and les.level != "advanced":
            assert fws == {"PyTorch", "TensorFlow"}, f"lesson {number} lacks a twin: {fws}"
    for pt, tf, _ in course.twins():
        assert pt.split("_", 1)[0] == tf.split("_", 1)[0] and pt.endswith("_pytorch") and tf.endswith("_tensorflow")


def test_metadata_problems_flag_a_bad_lesson():
    good = {"title": "T in PyTorch", "summary": "s", "objectives": ["o"], "teach": 20, "exercises": 5,
            "framework": "PyTorch", "level": "core"}
    assert course.metadata_problems(good) == []
    assert course.metadata_problems(None)
    assert any("level" in p for p in course.metadata_problems(dict(good, level="optional")))
    assert any("teach" in p for p in course.metadata_problems(dict(good, teach=12.5)))
    assert any("framework" in p for p in course.metadata_problems(dict(good, framework="JAX")))
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source":
                     "# 02 · T in PyTorch\nx\n\n**Level:** core · **Minutes:** 20 teaching · 5 exercises\n\n"
                     "**Objectives**\n- o\n"}], "metadata": {"course": good}}
    assert nbtools.metadata_header_problems("02_t_pytorch", nb) == []
    assert nbtools.metadata_header_problems("03_t_pytorch", nb)  # the number in the title is the file's
    nb["metadata"]["course"] = dict(good, teach=25)
    assert any("Minutes" in p for p in nbtools.metadata_header_problems("02_t_pytorch", nb))


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
    b.metadata["execution"] = {"iopub.status.busy": "2026-01"}
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
    rows = re.findall(r"^\| [^|]+ \| (\d\d) ([^|]+?) \| (\d\d) ([^|]+?) \| (\d+) \|$", guide, re.M)
    assert len(rows) >= 10
    for num_pt, title_pt, num_tf, title_tf, minutes in rows:
        assert num_pt == num_tf, "a TensorFlow cohort takes the twin of the PyTorch cohort's notebook"
        lengths = []
        for num, title, fw in ((num_pt, title_pt, "PyTorch"), (num_tf, title_tf, "TensorFlow")):
            les = next(le for le in course.track(fw) if le.number == num)
            teaching_only = title.endswith(" (teaching part only)")
            assert title.removesuffix(" (teaching part only)") == les.title, (num, title)
            lengths.append(les.teaching_min + (0 if teaching_only else les.exercise_min))
        assert int(minutes) == max(lengths), f"{num_pt}: {minutes} min vs course map {lengths}"
    for plan in guide.split("\n## ")[2:4]:
        total = re.search(r"Total: (\d+) minutes", plan)
        listed = sum(int(m) for m in re.findall(r"\| (\d+) \|$", plan, re.M))
        assert total and int(total.group(1)) == listed, "workshop total must equal the sum of its blocks"


def test_checks_are_reachable_by_exercise_name():
    import course_utils.checks as checks

    assert callable(checks.ex02_global_threshold) and callable(checks.ex01tf_magnitude_mask)
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
    """The plans fit their slots (breaks included) for both cohorts; a PyTorch cohort never opens a TensorFlow
    notebook (and the reverse); only core notebooks; the index notebook and the instructor guide show the one plan
    generated from course.WORKSHOPS."""
    for name, limit in course.WORKSHOP_LIMITS.items():
        for fw in course.TRACKS:
            assert course.workshop_minutes(name, fw) <= limit, (name, fw, course.workshop_minutes(name, fw))
            for b in course.WORKSHOPS[name][0]:
                les = b.notebook(fw)
                assert les is None or (les.framework in ("—", fw) and les.level == "core"), (name, fw, les)
    assert course.workshop_minutes("three-hour") >= 150  # the slot is used, not left half empty
    guide = (REPO_ROOT / "docs" / "instructor_guide.md").read_text()
    for name in course.WORKSHOPS:
        assert course.workshop_markdown(name) in guide, f"run `python -m course_utils sync-env` ({name})"
    index = (REPO_ROOT / "notebooks" / "00_index.ipynb").read_text()
    assert 'course.workshop_markdown(\\"three-hour\\")' in index


def test_workshop_block_minutes_come_from_the_course_map():
    b = course.Block("x", "02_weight_pruning_pytorch")
    les, tf = course.lesson("02_weight_pruning_pytorch"), course.lesson("02_weight_pruning_tensorflow")
    assert b.length_for("PyTorch") == les.teaching_min + les.exercise_min
    assert b.length_for("TensorFlow") == tf.teaching_min + tf.exercise_min
    assert b.length == max(b.length_for("PyTorch"), b.length_for("TensorFlow"))
    assert course.Block("x", "02_weight_pruning_pytorch", teaching_only=True).length_for("PyTorch") == les.teaching_min
    with pytest.raises(ValueError, match="needs minutes"):
        course.Block("break").length  # noqa: B018


def test_each_track_has_every_lesson_once_in_its_framework():
    for fw in course.TRACKS:
        lessons = course.track(fw)
        assert [les.stem for les in lessons] == sorted(les.stem for les in lessons)
        assert all(les.framework in ("—", fw) for les in lessons)
        numbers = [les.number for les in lessons]
        assert len(numbers) == len(set(numbers)), f"{fw} track has a lesson number twice: {numbers}"
    assert "*TensorFlow track:* 00 → 01" in course.tracks_markdown()
    with pytest.raises(ValueError, match="framework must be one of"):
        course.track("JAX")
