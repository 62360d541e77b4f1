"""The course map: read from the notebooks' own metadata (``metadata.course``), so the README, the index notebook,
the instructor guide's workshop plans, the site and nbgrader all follow the notebooks.

Each notebook's top-level metadata holds ``course = {title, summary, objectives, teach, exercises, framework,
level}`` (minutes as integers; ``framework`` "PyTorch", "TensorFlow" or "—"; ``level`` one of ``LEVELS``) and its
header cell shows the same (``nbtools.header_problems`` checks that they agree). A lesson has one number: its two
twins are ``NN_slug_pytorch.ipynb`` and ``NN_slug_tensorflow.ipynb``, and what does not fit its core goes into
going-further notebooks ``NNx_…`` next to it. ``reading_min`` is the honest-minutes model of ``reading_time``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .paths import NOTEBOOK_DIR, REPO_ROOT

#: ``core``: the lessons every learner takes (a core notebook reads in at most 30 minutes); ``going-further``:
#: depth next to a lesson, optional; ``advanced``: lessons after the core for learners who want more.
LEVELS: tuple[str, ...] = ("core", "going-further", "advanced")
FRAMEWORKS: tuple[str, ...] = ("—", "PyTorch", "TensorFlow")
CORE_READING_LIMIT = 30  # minutes: a core notebook reads in at most this, by the model of reading_time
CORE_TRACK_LIMIT = 240  # minutes: a track's core, 00 to the capstone, teaching and exercises included
METADATA_KEYS = ("title", "summary", "objectives", "teach", "exercises", "framework", "level")


@dataclass(frozen=True)
class Lesson:
    stem: str
    title: str
    learn: str
    teaching_min: int
    exercise_min: int
    framework: str  # "—", "PyTorch", "TensorFlow"
    level: str = "core"
    objectives: tuple[str, ...] = field(default=())

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def number(self) -> str:
        """The lesson number as in the file name: ``"02"``, or ``"02x"`` for a going-further notebook."""
        return self.stem.split("_", 1)[0]

    @property
    def lesson_number(self) -> str:
        """The two digits of the lesson this notebook belongs to (``"02"`` for ``02x_…`` too)."""
        return self.stem[:2]

    @property
    def available(self) -> bool:
        return (NOTEBOOK_DIR / self.filename).exists()

    @property
    def reading_min(self) -> float:
        """Reading time of the learner edition, minutes (``reading_time.reading_minutes``)."""
        return _reading_min(NOTEBOOK_DIR / self.filename)

    @property
    def topic(self) -> str:
        """The title without its framework (``"Weight pruning"``): what the two twins share."""
        return re.sub(r" (in|from) (PyTorch|TensorFlow)(?=$|:)", "", self.title)


@cache
def _reading_min(path: Path) -> float:
    from .reading_time import reading_minutes

    return reading_minutes(path)


def metadata_problems(meta: object) -> list[str]:
    """What a notebook's ``metadata.course`` misses or gets wrong (empty list = fine)."""
    if not isinstance(meta, dict):
        return ["notebook metadata needs a 'course' entry (title, summary, objectives, teach, exercises, "
                "framework, level)"]
    problems = [f"metadata.course lacks {k!r}" for k in METADATA_KEYS if k not in meta]
    if problems:
        return problems
    for k in ("teach", "exercises"):
        if not isinstance(meta[k], int) or isinstance(meta[k], bool) or meta[k] < 0:
            problems.append(f"metadata.course.{k} must be a whole number of minutes, got {meta[k]!r}")
    if meta["framework"] not in FRAMEWORKS:
        problems.append(f"metadata.course.framework must be one of {FRAMEWORKS}, got {meta['framework']!r}")
    if meta["level"] not in LEVELS:
        problems.append(f"metadata.course.level must be one of {LEVELS}, got {meta['level']!r}")
    if not (isinstance(meta["objectives"], list) and meta["objectives"]
            and all(isinstance(o, str) and o.strip() for o in meta["objectives"])):
        problems.append("metadata.course.objectives must be a non-empty list of sentences")
    return problems


def lesson_from_notebook(path: Path) -> Lesson:
    """The ``Lesson`` a notebook describes in its ``metadata.course`` (ValueError if it is missing or wrong)."""
    path = Path(path)
    meta = json.loads(path.read_text()).get("metadata", {}).get("course")
    problems = metadata_problems(meta)
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return Lesson(path.stem, meta["title"], meta["summary"], meta["teach"], meta["exercises"], meta["framework"],
                  meta["level"], tuple(meta["objectives"]))


@cache
def _course_map(folder: Path) -> tuple[Lesson, ...]:
    from .runner import notebooks

    if not folder.is_dir():
        return ()
    return tuple(lesson_from_notebook(p) for p in notebooks(directory=folder))


def course_map() -> tuple[Lesson, ...]:
    """Every notebook of ``notebooks/`` as a ``Lesson``, in course order (read from their metadata)."""
    return _course_map(NOTEBOOK_DIR)


def __getattr__(name: str) -> object:  # ``course.COURSE_MAP``: read on first use, not at import
    if name == "COURSE_MAP":
        return course_map()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The two tracks: a learner takes the shared lessons and the notebooks of one framework, never the other's.
TRACKS: tuple[str, ...] = ("PyTorch", "TensorFlow")


def track(framework: str, *, levels: tuple[str, ...] = LEVELS) -> tuple[Lesson, ...]:
    """The notebooks of one track (``"PyTorch"`` or ``"TensorFlow"``), in order: shared lessons plus that
    framework's notebooks, of the given ``levels`` (default: all; ``("core",)`` for the core track)."""
    if framework not in TRACKS:
        raise ValueError(f"framework must be one of {TRACKS}, got {framework!r}")
    return tuple(les for les in course_map() if les.framework in ("—", framework) and les.level in levels)


def track_minutes(framework: str, *, levels: tuple[str, ...] = ("core",)) -> int:
    """Stated minutes (teaching + exercises) of a track's notebooks of ``levels`` (default: the core)."""
    return sum(les.teaching_min + les.exercise_min for les in track(framework, levels=levels))


def twin(stem: str) -> Lesson | None:
    """The other framework's notebook of the same number (``02_…_pytorch`` ↔ ``02_…_tensorflow``), or None."""
    les = lesson(stem)
    if les.framework not in TRACKS:
        return None
    other = [o for o in course_map() if o.number == les.number and o.framework in TRACKS
             and o.framework != les.framework]
    return other[0] if other else None


def twins() -> list[tuple[str, str, str]]:
    """(PyTorch stem, TensorFlow stem, topic) for every notebook taught in both frameworks, in course order: the
    pairs whose results the runner compares (they record the same keys). Twins share their number."""
    out = []
    for les in course_map():
        if les.framework == "PyTorch" and (tf := twin(les.stem)) is not None:
            out.append((les.stem, tf.stem, les.topic))
    return out


def tracks_markdown() -> str:
    """Each track as one line of notebook numbers: the core in order, then the going-further and advanced
    notebooks in brackets. Introduced in 00_index."""
    lines = []
    for fw in TRACKS:
        core = " → ".join(les.number for les in track(fw, levels=("core",)))
        extra = ", ".join(les.number for les in track(fw, levels=("going-further", "advanced")))
        lines.append(f"- *{fw} track:* {core} (core: {track_minutes(fw)} minutes with the exercises)"
                     + (f"; then, as you like: {extra}" if extra else ""))
    return "\n".join(lines)


def lesson(stem: str) -> Lesson:
    for les in course_map():
        if les.stem == stem:
            return les
    raise KeyError(f"{stem!r} is not in the course map")


def course_map_markdown(*, links_relative_to: str = "notebooks/") -> str:
    """The course map as a Markdown table: stated minutes next to the reading time of the model (the README links
    the learner edition, ``learner/``; the index notebook ``""``; the site ``notebooks/``)."""
    rows = [
        "| # | Notebook | What you learn | Level | Minutes (teach + exercises) | Reading (min) | Framework |",
        "|---|---|---|---|---|---:|---|",
    ]
    for les in course_map():
        name = f"[{les.title}]({links_relative_to}{les.filename})"
        rows.append(f"| {les.number} | {name} | {les.learn} | {les.level} | {les.teaching_min} + "
                    f"{les.exercise_min} | {les.reading_min:.0f} | {les.framework} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Block:
    """One block of a workshop plan: a PyTorch or shared notebook (``stem``; its minutes come from the notebook's
    metadata, and a TensorFlow cohort takes its twin) or a break (``minutes``)."""

    label: str
    stem: str | None = None
    minutes: int | None = None  # breaks and lunch only; lessons take theirs from the course map
    teaching_only: bool = False

    def notebook(self, framework: str = "PyTorch") -> Lesson | None:
        """The notebook a cohort on ``framework`` takes in this block (None for a break)."""
        if self.stem is None:
            return None
        les = lesson(self.stem)
        if les.framework in ("—", framework):
            return les
        other = twin(self.stem)
        if other is None or other.framework != framework:
            raise ValueError(f"block {self.label!r}: {self.stem} has no {framework} twin")
        return other

    def length_for(self, framework: str = "PyTorch") -> int:
        """Minutes of this block for a cohort on ``framework``."""
        les = self.notebook(framework)
        if les is None:
            if not self.minutes:
                raise ValueError(f"block {self.label!r} needs minutes")
            return self.minutes
        return les.teaching_min + (0 if self.teaching_only else les.exercise_min)

    @property
    def length(self) -> int:
        """Minutes of this block: the longer of the two cohorts' (a plan must fit both)."""
        return max(self.length_for(fw) for fw in TRACKS)


#: Workshop plans, each block a PyTorch (or shared) notebook: a TensorFlow cohort takes the twins, so neither cohort
#: ever opens the other framework's notebooks. Only core notebooks: going-further ones go home as follow-up.
WORKSHOPS: dict[str, tuple[tuple[Block, ...], str]] = {
    "three-hour": ((
        Block("welcome, set-up check", "00_index", teaching_only=True),
        Block("the formulation, by hand", "01_loss_before_and_after_pytorch"),
        Block("unstructured pruning", "02_weight_pruning_pytorch"),
        Block("break", minutes=10),
        Block("pruning and regularization", "03_regularization_and_early_stopping_pytorch", teaching_only=True),
        Block("real speed-ups: removing neurons", "04_neuron_pruning_pytorch"),
        Block("wrap-up: what pruning buys", "06_measuring_what_pruning_buys_pytorch", teaching_only=True),
    ), "Channels (05), the exercises of 03 and the capstone (07) go home as follow-up."),
    "full-day": ((
        Block("welcome", "00_index"),
        Block("formulation", "01_loss_before_and_after_pytorch"),
        Block("unstructured pruning", "02_weight_pruning_pytorch"),
        Block("break", minutes=15),
        Block("regularization and early stopping", "03_regularization_and_early_stopping_pytorch"),
        Block("lunch", minutes=60),
        Block("neurons", "04_neuron_pruning_pytorch"),
        Block("channels", "05_structured_pruning_pytorch"),
        Block("break", minutes=15),
        Block("honest measurement", "06_measuring_what_pruning_buys_pytorch"),
        Block("capstone", "07_capstone_pytorch"),
    ), "Going-further notebooks (NNx) and lessons 08 to 10 are for after the workshop."),
}
WORKSHOP_LIMITS = {"three-hour": 180, "full-day": 480}  # minutes available, breaks included


def workshop_minutes(name: str, framework: str | None = None) -> int:
    """Total minutes of workshop plan ``name`` for a cohort on ``framework`` (default: block by block the longer
    of the two cohorts' notebooks, the time the plan books)."""
    if framework is None:  # each block as long as the longer cohort's notebook: the plan fits both
        return sum(b.length for b in WORKSHOPS[name][0])
    return sum(b.length_for(framework) for b in WORKSHOPS[name][0])


def workshop_markdown(name: str) -> str:
    """Workshop plan ``name`` as a Markdown table with its total: the instructor guide and the index notebook
    both show this, so they cannot disagree (``python -m course_utils sync-env`` writes the guide's copy)."""
    blocks, note = WORKSHOPS[name]
    rows = ["| block | PyTorch cohort | TensorFlow cohort | minutes |", "|---|---|---|---|"]
    for b in blocks:
        cells = []
        for fw in TRACKS:
            les = b.notebook(fw)
            cells.append("" if les is None else f"{les.number} {les.title}"
                         + (" (teaching part only)" if b.teaching_only else ""))
        rows.append(f"| {b.label} | {cells[0]} | {cells[1]} | {b.length} |")
    pt, tf = (workshop_minutes(name, fw) for fw in TRACKS)
    rows += ["", f"Total: {workshop_minutes(name)} minutes (PyTorch cohort {pt}, TensorFlow cohort {tf}). {note}"]
    return "\n".join(rows)


def sync_instructor_guide(*, check: bool = False) -> bool:
    """Write the workshop plans and the table of launch links (learners: ``learner/``; instructors: the solutions in
    ``notebooks/``) into docs/instructor_guide.md between their markers (``check``: only report whether the guide is
    current)."""
    from .links import launch_links_markdown

    path = REPO_ROOT / "docs" / "instructor_guide.md"
    text = new = path.read_text()
    blocks = {f"workshop:{name}": (f"the {name} workshop", lambda n=name: workshop_markdown(n)) for name in WORKSHOPS}
    blocks["launch-links"] = ("the launch-links", launch_links_markdown)
    for marker, (what, render) in blocks.items():
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        if start not in new or end not in new:
            raise ValueError(f"docs/instructor_guide.md lacks {what} markers")
        head, rest = new.split(start, 1)
        _, tail = rest.split(end, 1)
        new = f"{head}{start}\n{render()}\n{end}{tail}"
    if check:
        return new == text
    path.write_text(new)
    return True


def sync_readme(*, check: bool = False) -> bool:
    """Write the course map into README.md between its markers and re-render its Binder badge
    (``check``: only report whether README.md is current)."""
    path = REPO_ROOT / "README.md"
    text = path.read_text()
    start, end = "<!-- course-map:start -->", "<!-- course-map:end -->"
    if start not in text or end not in text:
        raise ValueError("README.md lacks the course-map markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    from .links import BINDER_BADGE_RE, binder_badge

    rows = course_map_markdown(links_relative_to="learner/")  # a learner reading on GitHub opens learner/
    new = BINDER_BADGE_RE.sub(lambda _: binder_badge(), f"{head}{start}\n{rows}\n{end}{tail}")
    if check:
        return new == text
    path.write_text(new)
    return True
