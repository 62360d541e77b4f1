"""Every learner door opens the learner edition (``learner/``); the solutions (``notebooks/``) have separate links,
labelled for instructors (issue 18, item 5).

The doors: ``make lab``; ``links.binder_url`` / ``links.nbgitpuller_url`` / ``links.raw_url`` and their defaults;
the README's Binder badge and nbgitpuller example; the Binder badge inside every learner notebook (written by the
learner-edition writer) and every nbgrader assignment; the website's launch links (the box on each page, the
landing page and the theme's launch buttons); the instructor guide's table of links.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from course_utils import book, classroom, course, links, nbtools, paths
from course_utils.results import REPO_ROOT
from course_utils.runner import notebooks

LEARNER = REPO_ROOT / nbtools.LEARNER_DIR_NAME
README = (REPO_ROOT / "README.md").read_text()
GUIDE = REPO_ROOT / "docs" / "instructor_guide.md"
CLONE = links.GITHUB_REPO.split("/")[1]  # the folder nbgitpuller clones into


def _binder_path(url: str) -> str:
    """The file a mybinder.org link opens (``learner/00_index.ipynb``)."""
    parsed = urlparse(url)
    assert parsed.netloc == "mybinder.org" and parsed.path == f"/v2/gh/{links.GITHUB_REPO}/{links.BRANCH}", url
    (urlpath,) = parse_qs(parsed.query)["urlpath"]
    assert urlpath.startswith("lab/tree/"), url
    return urlpath.removeprefix("lab/tree/")


def _puller_path(url: str) -> str:
    """The file an nbgitpuller link opens, relative to the clone."""
    q = parse_qs(urlparse(url).query)
    assert q["repo"] == [links.repo_url()] and q["branch"] == [links.BRANCH], url
    (urlpath,) = q["urlpath"]
    assert urlpath.startswith(f"lab/tree/{CLONE}/"), url
    return urlpath.removeprefix(f"lab/tree/{CLONE}/")


def _header(nb: dict) -> str:
    return nbtools._src(nb["cells"][0])


def _badge_urls(text: str) -> list[str]:
    return [re.search(r"\]\((https://mybinder\.org/[^)]*)\)$", m.group(0)).group(1)
            for m in links.BINDER_BADGE_RE.finditer(text)]


# ------------------------------------------------------------------------------------------------------ the links
def test_folder_names_agree_with_the_checkout():
    assert links.LEARNER_FOLDER == nbtools.LEARNER_DIR_NAME == paths.LEARNER_DIR.name
    assert links.SOLUTIONS_FOLDER == paths.NOTEBOOK_DIR.name


def test_links_open_the_learner_edition_unless_asked_for_the_solutions():
    hub = "https://hub.example.edu/"
    assert _binder_path(links.binder_url()) == "learner/00_index.ipynb"
    lesson = "02_weight_pruning_pytorch.ipynb"
    assert _binder_path(links.binder_url(lesson)) == f"learner/{lesson}"
    assert _puller_path(links.nbgitpuller_url(hub)) == "learner/00_index.ipynb"
    assert _puller_path(links.nbgitpuller_url(hub, "02_weight_pruning_tensorflow.ipynb")) == \
        "learner/02_weight_pruning_tensorflow.ipynb"
    assert links.raw_url(lesson) == f"{links.repo_url()}/raw/{links.BRANCH}/learner/{lesson}"
    assert links.binder_badge().endswith(f"({links.binder_url()})")
    # instructors ask for the solutions explicitly
    assert _binder_path(links.binder_url(folder="notebooks")) == "notebooks/00_index.ipynb"
    assert _puller_path(links.nbgitpuller_url(hub, "02_weight_pruning_pytorch.ipynb", folder="notebooks")) == \
        "notebooks/02_weight_pruning_pytorch.ipynb"
    assert links.binder_badge(folder="notebooks").endswith(f"({links.binder_url(folder='notebooks')})")
    for bad in ("build", "learner/", "", "../notebooks"):
        with pytest.raises(ValueError, match="folder must be one of"):
            links.binder_url(folder=bad)
        with pytest.raises(ValueError, match="folder must be one of"):
            links.nbgitpuller_url(hub, folder=bad)
    with pytest.raises(ValueError):
        links.nbgitpuller_url(hub, "learner/00_index.ipynb")  # a file name, not a path


# ------------------------------------------------------------------------------------------------------- make lab
def _make_lab_recipe() -> str:
    makefile = (REPO_ROOT / "Makefile").read_text()
    m = re.search(r"^lab:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)
    assert m, "the Makefile has no `lab:` target with a recipe"
    return m.group(1)


def test_make_lab_opens_the_learner_index():
    recipe = _make_lab_recipe()
    opened = re.findall(r"jupyter lab (\S+\.ipynb)", recipe)
    assert opened == ["learner/00_index.ipynb"], recipe
    assert "notebooks/" not in recipe
    assert (REPO_ROOT / opened[0]).is_file()


# --------------------------------------------------------------------------------------------------- the badges
@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.stem)
def test_learner_notebook_badge_opens_its_learner_copy(path):
    """Fails until ``python -m course_utils learner-edition`` has rewritten learner/."""
    urls = _badge_urls(_header(json.loads((LEARNER / path.name).read_text())))
    assert urls == [links.binder_url(path.name)], "run `python -m course_utils learner-edition`"
    assert _binder_path(urls[0]) == f"learner/{path.name}"


def test_learner_edition_writer_points_the_badge_at_learner(tmp_path):
    sources = [p for p in notebooks() if p.stem.startswith(("00", "02"))]
    before = {p: p.read_text() for p in sources}
    nbtools.write_learner_edition(sources, tmp_path)
    for src in sources:
        learner_head = _header(json.loads((tmp_path / src.name).read_text()))
        assert [_binder_path(u) for u in _badge_urls(learner_head)] == [f"learner/{src.name}"]
        # only the badge differs from the instructors' header, which keeps its own badge and format
        source_nb = json.loads(src.read_text())
        assert learner_head == _header(source_nb).replace(links.binder_url(src.name, folder="notebooks"),
                                                          links.binder_url(src.name))
        assert isinstance(json.loads((tmp_path / src.name).read_text())["cells"][0]["source"],
                          type(source_nb["cells"][0]["source"]))
        assert src.read_text() == before[src], "the writer must not touch notebooks/"


def test_point_badge_at_rewrites_only_the_badge():
    head = ["# T\n", "A purpose that is long enough.\n", "\n", links.binder_badge("x.ipynb", folder="notebooks") + "\n"]
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": head}]}
    assert nbtools.point_badge_at(nb, "x.ipynb", folder="learner") is True
    assert nb["cells"][0]["source"][:3] == head[:3]
    assert nb["cells"][0]["source"][3] == links.binder_badge("x.ipynb") + "\n"
    assert nbtools.point_badge_at(nb, "x.ipynb", folder="learner") is False
    assert nbtools.point_badge_at({"cells": [{"cell_type": "markdown", "source": "# no badge"}]}, "x.ipynb",
                                  folder="learner") is False


def test_nbgrader_assignments_open_the_learner_edition():
    """Students of the nbgrader flow get the assignment: its badge opens learner/, not the solutions."""
    src = next(p for p in notebooks() if p.stem.startswith("02"))
    nb, _ = classroom.nbgrader_notebook(json.loads(src.read_text()), src.stem)
    assert [_binder_path(u) for u in _badge_urls(_header(nb))] == [f"learner/{src.name}"]


def test_instructors_copies_keep_their_own_badge():
    """notebooks/ are the instructors' copies: their badge opens that copy (sync-env keeps it so)."""
    for path in notebooks():
        urls = _badge_urls(_header(json.loads(path.read_text())))
        assert [_binder_path(u) for u in urls] == [f"notebooks/{path.name}"], path.name
        assert not nbtools.sync_badge(path, check=True), path.name


# --------------------------------------------------------------------------------------------------------- README
def test_readme_binder_badge_opens_the_learner_index():
    """Fails until ``python -m course_utils sync-env`` has re-rendered the README."""
    urls = _badge_urls(README)
    assert urls and [_binder_path(u) for u in urls] == ["learner/00_index.ipynb"] * len(urls), \
        "run `python -m course_utils sync-env`"
    assert links.binder_badge() in README


def test_readme_sync_renders_the_learner_badge(tmp_path, monkeypatch):
    """The generator itself (``course.sync_readme``, run by ``sync-env``) writes the learner badge."""
    stale = README.replace(links.binder_url(), links.binder_url(folder="notebooks"))
    monkeypatch.setattr(course, "REPO_ROOT", tmp_path)
    (tmp_path / "README.md").write_text(stale)
    assert course.sync_readme() is True
    assert [_binder_path(u) for u in _badge_urls((tmp_path / "README.md").read_text())] == ["learner/00_index.ipynb"]


def test_readme_nbgitpuller_example_opens_the_learner_index():
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if "nbgitpuller_url" in b]
    assert len(blocks) == 1, "the README has one nbgitpuller example"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(blocks[0], {})  # noqa: S102 (the README's own two lines)
    (url,) = out.getvalue().split()
    assert _puller_path(url) == "learner/00_index.ipynb"


# --------------------------------------------------------------------------------------------- instructor guide
def test_instructor_guide_labels_a_separate_solutions_link():
    guide = GUIDE.read_text()
    assert links.launch_links_markdown() in guide, "run `python -m course_utils sync-env`"
    assert course.sync_instructor_guide(check=True)
    rows = {ln.split("|")[1].strip(): ln for ln in links.launch_links_markdown().splitlines()[2:]}
    learners = next(r for k, r in rows.items() if k.startswith("**learners"))
    solutions = next(r for k, r in rows.items() if "instructors only" in k and "solutions" in k)
    assert links.binder_url() in learners and "notebooks/" not in learners
    assert links.binder_url(folder="notebooks") in solutions and 'folder="notebooks"' in solutions
    (label,) = re.findall(r"\[([^\]]+)\]\(" + re.escape(links.binder_url(folder="notebooks")) + r"\)", solutions)
    assert "solutions" in label
    assert "Hand out the **learner edition**" in guide


# ------------------------------------------------------------------------------------------------------ the website
def _all_links(markdown: str) -> list[str]:
    return re.findall(r"\]\((https?://[^)]+)\)", markdown)


def test_site_lesson_box_launches_the_learner_edition(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_HUB_URL", "https://hub.example.edu")
    executed = tmp_path / "02_weight_pruning_pytorch.ipynb"
    executed.write_text("{}")
    box = book._banner("02_weight_pruning_pytorch", "FAST", executed)["source"]
    urls = _all_links(box)
    assert len(urls) == 3, box
    binder, hub, download = urls
    assert _binder_path(binder) == "learner/02_weight_pruning_pytorch.ipynb"
    assert _puller_path(hub) == "learner/02_weight_pruning_pytorch.ipynb"
    assert download == links.raw_url("02_weight_pruning_pytorch.ipynb") and "/learner/" in download


def test_site_landing_page_launches_the_learner_index():
    page = book._index([book.Page("00_index", REPO_ROOT / "README.md", "FAST")])
    binder = [u for u in _all_links(page) if "mybinder.org" in u]
    assert binder and all(_binder_path(u) == "learner/00_index.ipynb" for u in binder)


def test_site_theme_launch_buttons_are_rewritten_to_the_learner_edition():
    """The theme builds its buttons from the page path (notebooks/...); the site's handler points them at learner/."""
    theme = [{"label": "launch-buttons", "buttons": [
        {"text": "Binder", "url": "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/notebooks/02_x.ipynb"},
        {"text": "JupyterHub", "url": "https://hub.example.edu/hub/user-redirect/git-pull?repo=x&urlpath="
                                      "lab/tree/r/notebooks/02_x.ipynb&branch=main"},
    ]}, {"label": "download-buttons", "buttons": [{"text": ".ipynb", "url": "../_sources/notebooks/02_x.ipynb"}]}]
    context = {"header_buttons": theme}
    book.learner_launch_buttons(None, "notebooks/02_x", "page.html", context, None)
    binder, hub = (b["url"] for b in theme[0]["buttons"])
    assert binder == links.binder_url("02_x.ipynb")
    assert hub == links.nbgitpuller_url("https://hub.example.edu", "02_x.ipynb")
    assert theme[1]["buttons"][0]["url"] == "../_sources/notebooks/02_x.ipynb"  # not a launch button
    unknown = {"header_buttons": [{"label": "launch-buttons", "buttons": [{"text": "Colab", "url": "https://colab"}]}]}
    with pytest.raises(ValueError, match="unknown launch button"):
        book.learner_launch_buttons(None, "notebooks/02_x", "page.html", unknown, None)
    assert "learner_launch_buttons" in book.conf_py() and f"priority={book.LAUNCH_BUTTONS_PRIORITY}" in book.conf_py()


def test_site_build_launch_buttons_open_the_learner_edition(tmp_path):
    """A real Sphinx build of a one-page site with the course's conf.py: the theme's Binder and JupyterHub buttons
    open learner/ (without the handler they open notebooks/)."""
    pytest.importorskip("myst_nb", reason="the site extra (make test installs it)")
    pytest.importorskip("sphinx_book_theme", reason="the site extra (make test installs it)")
    import html

    src = tmp_path / "src"
    (src / "notebooks").mkdir(parents=True)
    (src / "conf.py").write_text(book.conf_py(hub="https://hub.example.edu"))
    (src / "index.md").write_text("# Site\n\n```{toctree}\nnotebooks/02_weight_pruning_pytorch\n```\n")
    nb = {"cells": [{"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Weight pruning\n"},
                    {"cell_type": "code", "id": "b", "metadata": {}, "source": "x = 1", "outputs": [],
                     "execution_count": None}],
          "metadata": {"kernelspec": nbtools.KERNELSPEC}, "nbformat": 4, "nbformat_minor": 5}
    (src / "notebooks" / "02_weight_pruning_pytorch.ipynb").write_text(json.dumps(nb))
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", "1", str(src), str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = (tmp_path / "out" / "notebooks" / "02_weight_pruning_pytorch.html").read_text()
    urls = {html.unescape(u) for u in re.findall(r'href="([^"]*(?:mybinder\.org|git-pull)[^"]*)"', page)}
    assert {u for u in urls if "mybinder.org" in u} == {links.binder_url("02_weight_pruning_pytorch.ipynb")}
    assert {u for u in urls if "git-pull" in u} == \
        {links.nbgitpuller_url("https://hub.example.edu", "02_weight_pruning_pytorch.ipynb")}
    assert not any("notebooks/" in unquote(u) for u in urls), urls
