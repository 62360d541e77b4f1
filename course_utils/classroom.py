"""The classroom flow: an nbgrader source course made from the notebooks, for instructors who grade on a JupyterHub.

``python -m course_utils nbgrader-source [--out DIR] [NOTEBOOK ...]`` writes ``DIR/nbgrader_config.py`` and
``DIR/source/<stem>/<stem>.ipynb``, one assignment per notebook:

- a code cell tagged ``solution`` becomes an nbgrader **solution cell** (its ``### BEGIN SOLUTION`` /
  ``### END SOLUTION`` region, or the whole cell, is what ``nbgrader generate_assignment`` removes). At top level the
  names later cells read are first bound to ``None``, as in the learner edition, so the lesson after it still runs;
- a self-check cell (only ``exNN.<check>(...)`` calls) becomes an **autograded test cell**, one point per check;
- every other cell is **read-only** (locked), except the ``parameters`` cell (``FAST``, ``SEED``);
- Markdown tagged ``solution`` (answers to reflective questions) is dropped, as in the learner edition.

The generated ``nbgrader_config.py`` sets ``COURSE_GRADING=1`` for the kernels nbgrader starts, so an unanswered
exercise scores 0 instead of printing "not attempted" (see ``checks._common``), and gives each cell time to train.
Nothing here imports nbgrader: it is needed only to run ``nbgrader`` itself (the ``classroom`` extra).
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from . import links, nbtools

SCHEMA_VERSION = 3
CELL_TIMEOUT_S = 1800  # seconds per cell; nbgrader's default (30 s) is shorter than a training cell

CONFIG = '''"""nbgrader configuration of the Pruning, Hands-On course.

Written by `python -m course_utils nbgrader-source`."""
import os

# Unanswered exercises must score 0 when nbgrader runs a notebook (they print "not attempted" otherwise).
os.environ["COURSE_GRADING"] = "1"

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")
c.ExecutePreprocessor.timeout = {timeout}  # seconds per cell: training cells take longer than nbgrader's 30 s
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
'''


def _meta(cell: dict[str, Any], grade_id: str, *, solution: bool = False, points: int = 0,
          locked: bool = False) -> None:
    cell.setdefault("metadata", {})["nbgrader"] = {
        "grade": points > 0, "grade_id": grade_id, "locked": locked, "schema_version": SCHEMA_VERSION,
        "solution": solution, **({"points": points} if points > 0 else {}),
    }


def _top_level_solution(source: str, needed: set[str]) -> str:
    """A top-level solution cell for nbgrader: its names bound to ``None`` first, then the solution region."""
    if nbtools.BEGIN_SOLUTION in source:
        head, rest = source.split(nbtools.BEGIN_SOLUTION, 1)
        body = rest.split(nbtools.END_SOLUTION, 1)[0]
        bound = sorted(nbtools.assigned_names(body) & needed)
    else:
        head, rest, bound = "", f"\n{source}\n{nbtools.END_SOLUTION}", sorted(nbtools.assigned_names(source) & needed)
    placeholders = "".join(f"{n} = None  # your answer replaces None\n" for n in bound)
    return f"{head}{placeholders}{nbtools.BEGIN_SOLUTION}{rest}".rstrip("\n")


def _indented_markers(source: str) -> bool:
    return any(ln.strip() == nbtools.BEGIN_SOLUTION and ln != ln.lstrip() for ln in source.splitlines())


def nbgrader_notebook(nb: dict[str, Any], stem: str) -> tuple[dict[str, Any], int]:
    """The nbgrader source version of a (clean) course notebook, and its total points. Its Binder badge opens the
    learner edition (``learner/``), as in the learner edition: students get this notebook."""
    nb = copy.deepcopy(nb)
    nbtools.point_badge_at(nb, f"{stem}.ipynb", folder=links.LEARNER_FOLDER)
    needed: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and not nbtools._is_solution(cell):
            needed |= nbtools.read_names(nbtools._src(cell))
    cells, total, n_ex, n_test = [], 0, 0, 0
    for i, cell in enumerate(nb["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        src = nbtools._src(cell)
        if nbtools._is_solution(cell):
            if cell["cell_type"] == "markdown":
                continue
            n_ex += 1
            if not _indented_markers(src):
                cell["source"] = _top_level_solution(src, needed)
            _meta(cell, f"{stem[:2]}_answer_{n_ex}", solution=True)
        elif nbtools.is_self_check(cell):
            n_test += 1
            # graded cells are read-only: the "Stuck? uncomment …" line of the self-study edition does not apply
            cell["source"] = "\n".join(ln for ln in src.splitlines()
                                       if not (ln.startswith("#") and ("Stuck?" in ln or ".reference_" in ln)))
            points = len(nbtools.self_check_names(cell))
            total += points
            _meta(cell, f"{stem[:2]}_check_{n_test}", points=points, locked=True)
        elif "parameters" in tags:
            pass  # FAST and SEED stay editable
        else:
            _meta(cell, f"{stem[:2]}_cell_{i}", locked=True)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    nb["cells"] = cells
    return nb, total


def write_source_course(out: Path, notebooks: list[Path] | None = None) -> dict[str, int]:
    """Write an nbgrader course into ``out``: ``nbgrader_config.py`` and ``source/<stem>/<stem>.ipynb`` per
    notebook (default: every course notebook). Returns the points of each assignment, by stem."""
    out = Path(out)
    if notebooks is None:
        from .runner import notebooks as course_notebooks

        notebooks = course_notebooks()
    paths = notebooks
    points = {}
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no notebook {path}")
        if not re.fullmatch(r"\d\dx?_\w+", path.stem):
            raise ValueError(f"expected a course notebook named NN_<name>.ipynb or NNx_<name>.ipynb, "
                             f"got {path.name}")
        nb, points[path.stem] = nbgrader_notebook(json.loads(path.read_text()), path.stem)
        target = out / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    (out / "nbgrader_config.py").write_text(CONFIG.format(timeout=CELL_TIMEOUT_S))
    return points
