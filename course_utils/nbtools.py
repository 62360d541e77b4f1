"""Notebooks as source code: cleaning and the header convention (used by tests and the CLI)."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

CHECK_OUTPUT = "# NBVAL_CHECK_OUTPUT"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
HEADER_SECTIONS = ("Objectives", "Minutes", "Prerequisites")


def _src(cell: dict[str, Any]) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def is_checked(cell: dict[str, Any]) -> bool:
    """True for a code cell whose output nbval compares: a line that is exactly ``# NBVAL_CHECK_OUTPUT``
    (nbval only honours the marker as a comment line of its own, not at the end of a code line)."""
    return cell["cell_type"] == "code" and any(ln.strip() == CHECK_OUTPUT for ln in _src(cell).splitlines())


def clean_notebook(path: Path, *, check: bool = False) -> bool:
    """Strip execution metadata and outputs, keeping outputs of ``# NBVAL_CHECK_OUTPUT`` cells and the lesson's
    ``metadata.course``.

    Returns True if the file was not clean (and, unless ``check``, rewrites it).
    """
    raw = Path(path).read_text()
    nb = json.loads(raw)
    course = nb.get("metadata", {}).get("course")  # the lesson's metadata (course.py reads it): kept
    nb["metadata"] = {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    if course is not None:
        nb["metadata"]["course"] = course
    n_checked = 0
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i}"  # by position: rebuilding a notebook does not churn random ids
        meta = cell.get("metadata", {})
        cell["metadata"] = {k: v for k, v in meta.items() if k in ("tags",) and v}
        if cell["cell_type"] != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        cell["execution_count"] = None
        if is_checked(cell):
            # nbval skips a cell with outputs but no execution count ("unrun reference cell")
            n_checked += 1
            cell["execution_count"] = n_checked if cell.get("outputs") else None
            kept = []
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stdout":
                    kept.append({"name": "stdout", "output_type": "stream", "text": out["text"]})
                elif out.get("output_type") == "execute_result":
                    data = {k: v for k, v in out.get("data", {}).items() if k == "text/plain"}
                    kept.append({"data": data, "execution_count": n_checked, "metadata": {},
                                 "output_type": "execute_result"})
            cell["outputs"] = kept
        else:
            cell["outputs"] = []
    new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    dirty = new != raw
    if dirty and not check:
        Path(path).write_text(new)
    return dirty


def header_problems(path: Path) -> list[str]:
    """What the notebook misses of the course's header/footer convention (empty list = fine).

    Convention: a first Markdown cell with a ``# `` title, a one-line purpose, a Binder badge,
    Objectives, Minutes (teaching / exercises), Prerequisites; a code cell tagged ``parameters``
    defining ``FAST`` and ``SEED`` (passed on as ``notebook_setup(..., seed=SEED)``); a Setup cell calling
    ``notebook_setup`` with the notebook's own stem; a final Markdown cell with Key points.
    """
    path = Path(path)
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    problems = []
    if not cells or cells[0]["cell_type"] != "markdown":
        return ["first cell must be a Markdown header"]
    head = _src(cells[0])
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("# "):
        problems.append("header must start with a '# ' title")
    if len(lines) < 2 or lines[1].startswith("#") or len(lines[1]) < 20:
        problems.append("second line of the header must be the one-line purpose")
    if "mybinder.org" not in head:
        problems.append("header needs the Binder launch badge")
    for section in HEADER_SECTIONS:
        if not re.search(rf"\*\*{section}|#+ {section}", head):
            problems.append(f"header needs a '{section}' section")
    if not re.search(r"teaching.*exercises", head, re.I | re.S):
        problems.append("Minutes must give teaching and exercise minutes")
    params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(params) != 1 or not {"FAST", "SEED"} <= assigned_names(_src(params[0])):
        problems.append("exactly one code cell tagged 'parameters' must define FAST and SEED")
    setup = [c for c in cells if c["cell_type"] == "code" and "notebook_setup(" in _src(c)]
    if not setup:
        problems.append("a Setup cell must call course_utils.notebook_setup(...)")
    elif "seed=SEED" not in _src(setup[0]).replace(" ", ""):
        problems.append("notebook_setup must be called with seed=SEED (every random choice derives from SEED)")
    elif f'"{path.stem}"' not in _src(setup[0]) and f"'{path.stem}'" not in _src(setup[0]):
        problems.append(f"notebook_setup must be called with this notebook's stem {path.stem!r}")
    if cells[-1]["cell_type"] != "markdown" or "Key points" not in _src(cells[-1]):
        problems.append("last cell must be Markdown with 'Key points'")
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec must be python3")
    return problems + metadata_header_problems(path.stem, nb)


def header_objectives(head: str) -> list[str]:
    """The bullets under ``**Objectives**`` in a header cell, each joined into one line."""
    m = re.search(r"\*\*Objectives\*\*\s*\n((?:[ \t]*-.*\n?|[ \t]+\S.*\n?)+)", head)
    if not m:
        return []
    items: list[str] = []
    for line in m.group(1).splitlines():
        if line.lstrip().startswith("- ") and not line.startswith("  "):
            items.append(line.strip()[2:].strip())
        elif items and line.strip():
            items[-1] += " " + line.strip()
    return items


def metadata_header_problems(stem: str, nb: dict[str, Any]) -> list[str]:
    """Where the header cell disagrees with ``metadata.course`` (the course map reads the metadata): the title line
    ``# NN · <title>``, the line ``**Level:** <level> · **Minutes:** <teach> teaching · <exercises> exercises`` and
    the objective bullets. Empty list = they agree."""
    from .course import metadata_problems

    meta = nb.get("metadata", {}).get("course")
    problems = metadata_problems(meta)
    if problems:
        return problems
    head = _src(nb["cells"][0])
    number = stem.split("_", 1)[0]
    title = next((ln for ln in head.splitlines() if ln.strip()), "")
    if title.strip() != f"# {number} · {meta['title']}":
        problems.append(f"the header title must read '# {number} · {meta['title']}' (metadata.course.title)")
    level = (f"**Level:** {meta['level']} · **Minutes:** {meta['teach']} teaching · {meta['exercises']} "
             "exercises")
    if level not in head:
        problems.append(f"the header must state '{level}' (metadata.course)")
    norm = [" ".join(o.split()) for o in meta["objectives"]]
    if [" ".join(o.split()) for o in header_objectives(head)] != norm:
        problems.append("the header's Objectives bullets must be metadata.course.objectives, in order")
    return problems


def refresh_checked_outputs(path: Path) -> int:
    """Execute ``path`` in FAST mode and store the outputs of its ``# NBVAL_CHECK_OUTPUT`` cells.

    nbval (``pytest --nbval-lax``) compares those stored outputs with a fresh run, so deterministic
    numbers (parameter counts, shapes) are checked on every test run. Returns the number of cells refreshed.
    """
    from .results import REPO_ROOT
    from .runner import run_notebook

    path = Path(path)
    res = run_notebook(path, fast=True, out_dir=REPO_ROOT / "build" / "executed" / "refresh")
    if not res.ok:
        raise RuntimeError(f"{path.name} failed in FAST mode: {res.error}")
    executed = json.loads((REPO_ROOT / "build" / "executed" / "refresh" / path.name).read_text())
    by_source = {_src(c): c.get("outputs", []) for c in executed["cells"] if c["cell_type"] == "code"}
    nb = json.loads(path.read_text())
    n = 0
    for cell in nb["cells"]:
        if is_checked(cell):
            cell["outputs"] = by_source[_src(cell)]
            n += 1
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    clean_notebook(path)
    return n


def _checked_text(outputs: list[dict[str, Any]]) -> tuple[str, list[str]]:
    """What nbval compares in a checked cell, as the course stores it: stdout text and text/plain results."""
    stdout = "".join("".join(o.get("text", "")) for o in outputs
                     if o.get("output_type") == "stream" and o.get("name") == "stdout")
    results = ["".join(o.get("data", {}).get("text/plain", "")) for o in outputs
               if o.get("output_type") == "execute_result"]
    return stdout, results


def checked_output_problems(source: Path, executed: dict[str, Any]) -> list[str]:
    """Differences between the stored outputs of ``source``'s ``# NBVAL_CHECK_OUTPUT`` cells and the same cells
    in an ``executed`` copy (matched by source text, since papermill inserts a parameters cell). Empty = all match.

    This is nbval's check of deterministic outputs, done on the copy the papermill harness already executed, so
    ``make test`` runs each notebook once.
    """
    stored = json.loads(Path(source).read_text())
    ran = {_src(c): c.get("outputs", []) for c in executed["cells"] if c["cell_type"] == "code"}
    problems = []
    for i, cell in enumerate(stored["cells"]):
        if not is_checked(cell):
            continue
        src = _src(cell)
        if src not in ran:
            problems.append(f"cell {i}: not found in the executed copy")
            continue
        want, got = _checked_text(cell.get("outputs", [])), _checked_text(ran[src])
        if want != got:
            problems.append(f"cell {i} ({src.splitlines()[1][:60] if len(src.splitlines()) > 1 else ''}): "
                            f"stored {want!r}, got {got!r} (if the change is intended: "
                            f"python -m course_utils clean --refresh {Path(source).name})")
    return problems


SOLUTION_TAG = "solution"
BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
PLACEHOLDER = "# YOUR CODE HERE"
LEARNER_DIR_NAME = "learner"


def _code_ast(source: str) -> ast.Module | None:
    """The AST of a code cell (IPython magics and shell lines blanked), or None if it does not parse."""
    lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def assigned_names(source: str) -> set[str]:
    """Names a cell binds at top level: assignments, ``for``/``with`` targets, ``def``, ``class``, imports."""
    tree = _code_ast(source)
    if tree is None:
        return set()
    names: set[str] = set()

    def targets(node: ast.AST) -> None:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)

    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for t in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                targets(t)
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.If, ast.While, ast.Try)):
            targets(stmt)  # loop/with targets and assignments inside top-level blocks
    return names


def read_names(source: str) -> set[str]:
    """Every name a cell reads (``ast.Name`` in load context), including inside functions."""
    tree = _code_ast(source)
    if tree is None:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


_CHECK_CALL = re.compile(r"^ex\d\d(?:tf)?$")


def is_self_check(cell: dict[str, Any]) -> bool:
    """True for an exercise's self-check cell: every statement is a call ``exNN.<check>(...)`` (or an assert
    of one); comments (the "stuck?" line) are allowed."""
    if cell["cell_type"] != "code":
        return False
    tree = _code_ast(_src(cell))
    if tree is None or not tree.body:
        return False

    def is_check(expr: ast.AST) -> bool:
        return (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute)
                and isinstance(expr.func.value, ast.Name) and bool(_CHECK_CALL.match(expr.func.value.id)))

    return all((isinstance(st, ast.Expr) and is_check(st.value)) or (isinstance(st, ast.Assert) and is_check(st.test))
               for st in tree.body)


def _is_solution(cell: dict[str, Any]) -> bool:
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def solution_only_names(nb: dict[str, Any]) -> set[str]:
    """Names bound in solution cells and in no other code cell of the notebook."""
    sol, other = set(), set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        (sol if _is_solution(cell) else other).update(assigned_names(_src(cell)))
    return sol - other


def exercise_dependencies(nb: dict[str, Any]) -> list[tuple[int, set[str]]]:
    """``(cell index, names)`` for every lesson cell (not a solution, not a self-check) that reads a name only a
    solution defines. The learner edition fails there when an exercise is left unsolved; the list must be empty."""
    only = solution_only_names(nb)
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or _is_solution(cell) or is_self_check(cell):
            continue
        bad = read_names(_src(cell)) & only
        if bad:
            found.append((i, bad))
    return found


def _placeholder_lines(indent: str, names: list[str]) -> list[str]:
    return [indent + PLACEHOLDER] + [f"{indent}{n} = None  # your answer replaces None" for n in names]


def _strip_solution(source: str, needed: set[str] | frozenset[str] = frozenset()) -> str:
    """Replace solution code by ``# YOUR CODE HERE``.

    With ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers only the code between them goes. Inside a
    function (indented markers) its body becomes ``raise NotImplementedError``, so the signature and docstring
    stay and the self-check reports "not attempted". At top level, and for a cell without markers (all of it
    goes), the placeholder binds each name in ``needed`` that the removed code bound to ``None``, so the
    self-check cell that reads it runs and reports "not attempted" instead of a ``NameError``.
    """
    if BEGIN_SOLUTION not in source:
        return "\n".join(_placeholder_lines("", sorted(assigned_names(source) & set(needed))))
    out, skipping, block, indent = [], False, [], ""
    for line in source.splitlines():
        if line.strip() == BEGIN_SOLUTION:
            if skipping:
                raise ValueError(f"{BEGIN_SOLUTION} twice without {END_SOLUTION}")
            indent = line[: len(line) - len(line.lstrip())]
            skipping, block = True, []
        elif line.strip() == END_SOLUTION:
            if not skipping:
                raise ValueError(f"{END_SOLUTION} without {BEGIN_SOLUTION}")
            skipping = False
            if indent:
                out += [indent + PLACEHOLDER, indent + "raise NotImplementedError"]
            else:
                out += _placeholder_lines("", sorted(assigned_names("\n".join(block)) & set(needed)))
        elif skipping:
            block.append(line)
        else:
            out.append(line)
    if skipping:
        raise ValueError(f"{BEGIN_SOLUTION} without {END_SOLUTION}")
    return "\n".join(out)


def point_badge_at(nb: dict[str, Any], name: str, *, folder: str) -> bool:
    """Re-render the Binder badge in ``nb``'s header cell (in place) so that it opens ``<folder>/<name>``;
    returns True if it changed. A header without a badge is left alone (``header_problems`` reports it)."""
    from .links import BINDER_BADGE_RE, binder_badge

    if not nb.get("cells"):
        return False
    cell = nb["cells"][0]
    head = _src(cell)
    new = BINDER_BADGE_RE.sub(lambda _: binder_badge(name, folder=folder), head)
    if new == head:
        return False
    cell["source"] = new.splitlines(keepends=True) if isinstance(cell.get("source"), list) else new
    return True


def learner_notebook(nb: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """The learner edition of a (clean) notebook: solution code removed, solution Markdown dropped.

    Code cells tagged ``solution`` keep their place (tag ``exercise``) with ``# YOUR CODE HERE``. Given the
    notebook's file ``name``, its Binder badge opens the learner edition (``learner/<name>``), not the solutions.
    """
    import copy

    from .links import LEARNER_FOLDER

    nb = copy.deepcopy(nb)
    if name is not None:
        point_badge_at(nb, name, folder=LEARNER_FOLDER)
    needed = set()  # names that lesson or self-check cells read: the placeholder must bind them
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and not _is_solution(cell):
            needed |= read_names(_src(cell))
    cells = []
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if SOLUTION_TAG in tags:
            if cell["cell_type"] == "markdown":
                continue
            cell["source"] = _strip_solution(_src(cell), needed)
            cell["outputs"] = []
            cell["execution_count"] = None
            cell["metadata"]["tags"] = ["exercise" if t == SOLUTION_TAG else t for t in tags]
        elif is_self_check(cell):
            _expect_not_attempted(cell)
        cells.append(cell)
    nb["cells"] = cells
    n_checked = 0
    for cell in cells:  # number the checked cells as `clean_notebook` does (nbval skips unnumbered ones)
        if is_checked(cell):
            n_checked += 1
            cell["execution_count"] = n_checked if cell.get("outputs") else None
            for out in cell.get("outputs", []):
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = n_checked
    return nb


def self_check_names(cell: dict[str, Any]) -> list[str]:
    """The checker names a self-check cell calls, in order (``ex02.second_amount(...)`` -> ``second_amount``)."""
    tree = _code_ast(_src(cell))
    names = []
    for st in tree.body if tree else []:
        call = st.value if isinstance(st, ast.Expr) else st.test
        names.append(call.func.attr)
    return names


def _expect_not_attempted(cell: dict[str, Any]) -> None:
    """Make a learner self-check cell an nbval-checked cell whose expected output is "not attempted" for every
    check it calls: running the learner edition with exercises unsolved must print exactly that, and no error."""
    from .checks._common import not_attempted_message

    src = _src(cell)
    if not is_checked(cell):
        cell["source"] = CHECK_OUTPUT + "\n" + src
    text = "".join(not_attempted_message(name) + "\n" for name in self_check_names(cell))
    cell["outputs"] = [{"name": "stdout", "output_type": "stream", "text": text}]


def solution_cells(path: Path) -> int:
    """Number of code cells tagged ``solution`` (one per exercise, at least)."""
    nb = json.loads(Path(path).read_text())
    return sum(1 for c in nb["cells"]
               if c["cell_type"] == "code" and SOLUTION_TAG in c.get("metadata", {}).get("tags", []))


def write_learner_edition(paths: list[Path], out_dir: Path, *, check: bool = False,
                          prune_stale: bool = False) -> list[Path]:
    """Write learner editions of ``paths`` into ``out_dir``; return the files that were (or, with
    ``check``, would be) changed. With ``prune_stale`` (pass it only with *all* notebooks), learner
    files whose notebook no longer exists count as changed and are deleted."""
    out_dir = Path(out_dir)
    changed = []
    wanted = set()
    for path in paths:
        nb = json.loads(Path(path).read_text())
        text = json.dumps(learner_notebook(nb, Path(path).name), indent=1, ensure_ascii=False) + "\n"
        target = out_dir / Path(path).name
        wanted.add(target.name)
        if not target.exists() or target.read_text() != text:
            changed.append(target)
            if not check:
                out_dir.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
    for stale in sorted(out_dir.glob("*.ipynb")) if prune_stale and out_dir.exists() else []:
        if stale.name not in wanted:
            changed.append(stale)
            if not check:
                stale.unlink()
    return changed


def sync_badge(path: Path, *, check: bool = False, folder: str = "notebooks") -> bool:
    """Make the Binder badge in the header cell the one ``links.binder_badge`` renders for this notebook.

    Returns True if it was (or, with ``check``, would be) changed. So ``links.GITHUB_REPO`` is the one
    place the repository is named: change it and run ``python -m course_utils sync-env``. The badge of a notebook
    in ``notebooks/`` (the instructors' copy, with solutions) opens that copy; the learner edition's badges open
    ``learner/`` and are written by ``write_learner_edition``.
    """
    from .links import BINDER_BADGE_RE, binder_badge

    path = Path(path)
    nb = json.loads(path.read_text())
    head = _src(nb["cells"][0])
    if not BINDER_BADGE_RE.search(head):
        raise ValueError(f"{path.name}: the header cell has no Binder badge to update")
    new = BINDER_BADGE_RE.sub(lambda _: binder_badge(path.name, folder=folder), head)
    if new == head:
        return False
    if not check:
        nb["cells"][0]["source"] = new
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        clean_notebook(path)
    return True
