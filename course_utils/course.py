"""The course map: one list that the README, the index notebook and the tests share."""
from __future__ import annotations

from dataclasses import dataclass

from .paths import NOTEBOOK_DIR, REPO_ROOT


@dataclass(frozen=True)
class Lesson:
    stem: str
    title: str
    learn: str
    teaching_min: int
    exercise_min: int
    framework: str  # "—", "PyTorch", "TensorFlow", "both"

    @property
    def filename(self) -> str:
        return f"{self.stem}.ipynb"

    @property
    def available(self) -> bool:
        return (NOTEBOOK_DIR / self.filename).exists()


COURSE_MAP: tuple[Lesson, ...] = (
    Lesson("00_index", "Course map and set-up",
           "how the course runs; the data; checking your environment",
           10, 5, "—"),
    Lesson("01_loss_before_and_after_pytorch", "Loss before and after in PyTorch",
           "L_before vs L_after for magnitude, random and largest-weight removal; the Taylor view of why "
           "magnitude works",
           25, 10, "PyTorch"),
    Lesson("01_loss_before_and_after_tensorflow", "Loss before and after in TensorFlow",
           "the same formulation in Keras: L_before vs L_after, magnitude vs random vs largest-weight removal",
           25, 10, "TensorFlow"),
    Lesson("02_weight_pruning_pytorch", "Weight pruning in PyTorch",
           "torch.nn.utils.prune, masks and hooks, global vs layer-wise, iterative pruning with the cubic "
           "schedule, honest size accounting, recovering accuracy at 95 % sparsity",
           35, 15, "PyTorch"),
    Lesson("03_weight_pruning_tensorflow", "Weight pruning in TensorFlow",
           "TFMOT prune_low_magnitude, schedules, UpdatePruningStep, strip_pruning, gzip and TFLite size, "
           "recovering accuracy at 95 % sparsity",
           35, 15, "TensorFlow"),
    Lesson("04_neuron_pruning_pytorch", "Neuron pruning in PyTorch",
           "ranking hidden units, masking vs real removal, measured speed-up",
           30, 15, "PyTorch"),
    Lesson("05_neuron_pruning_tensorflow", "Neuron pruning in TensorFlow",
           "Keras model surgery: smaller Dense layers with the kept weights",
           25, 15, "TensorFlow"),
    Lesson("06_structured_pruning_pytorch", "Structured (channel and layer) pruning in PyTorch",
           "L1 and BN-scale filter ranking, BatchNorm and flatten surgery, torch-pruning's dependency graph, "
           "removing whole residual blocks",
           45, 15, "PyTorch"),
    Lesson("07_structured_pruning_tensorflow", "Structured (channel and layer) pruning in TensorFlow",
           "Keras channel surgery, BN-scale ranking, removing whole residual blocks, TFLite latency, 2:4 "
           "sparsity and XNNPACK",
           45, 15, "TensorFlow"),
    Lesson("08_measuring_what_pruning_buys_pytorch", "Measuring what pruning buys in PyTorch",
           "parameters vs nonzeros vs bytes vs MACs vs latency; when sparse storage pays off",
           30, 15, "PyTorch"),
    Lesson("08_measuring_what_pruning_buys_tensorflow", "Measuring what pruning buys in TensorFlow",
           "Keras and TFLite: dense vs stripped vs sparse TFLite vs removed units and channels; size, MACs, "
           "latency",
           30, 15, "TensorFlow"),
    Lesson("09_pruning_regularization_and_early_stopping_pytorch",
           "Pruning, regularization and early stopping in PyTorch",
           "L1/L2, dropout and early stopping next to magnitude pruning; large-sparse vs small-dense",
           25, 15, "PyTorch"),
    Lesson("09_pruning_regularization_and_early_stopping_tensorflow",
           "Pruning, regularization and early stopping in TensorFlow",
           "Keras kernel_regularizer L1/L2, Dropout and EarlyStopping next to TFMOT pruning; large-sparse vs "
           "small-dense",
           25, 15, "TensorFlow"),
    Lesson("10_capstone_pytorch", "Capstone in PyTorch",
           "meet a size/latency budget with the least accuracy loss; the lottery ticket hypothesis",
           20, 40, "PyTorch"),
    Lesson("10_capstone_tensorflow", "Capstone in TensorFlow",
           "the same budget, scored by the same checker, in Keras; the lottery ticket hypothesis in Keras",
           20, 40, "TensorFlow"),
    Lesson("11_pruning_a_transformer_pytorch", "Advanced: pruning a transformer the way LLMs are pruned",
           "magnitude vs Wanda vs SparseGPT-style one-shot pruning at 50 % and 2:4; removing heads, FFN "
           "neurons and blocks",
           35, 15, "PyTorch"),
    Lesson("12_shipping_a_pruned_model_pytorch", "Advanced: shipping a pruned model from PyTorch",
           "saving and reloading pruned models, ONNX export and ONNX Runtime, pruning plus int8 quantization",
           30, 15, "PyTorch"),
    Lesson("12_shipping_a_pruned_model_tensorflow", "Advanced: shipping a pruned model from TensorFlow",
           "strip_pruning and .keras files, LiteRT export, pruning plus int8 quantization",
           30, 15, "TensorFlow"),
)

#: The two tracks: a learner takes the shared lessons and the notebooks of one framework, never the other's.
TRACKS: tuple[str, ...] = ("PyTorch", "TensorFlow")


def track(framework: str) -> tuple[Lesson, ...]:
    """The lessons of one track (``"PyTorch"`` or ``"TensorFlow"``), in order: shared lessons plus that
    framework's notebooks."""
    if framework not in TRACKS:
        raise ValueError(f"framework must be one of {TRACKS}, got {framework!r}")
    return tuple(les for les in COURSE_MAP if les.framework in ("—", "both", framework))


def twins() -> list[tuple[str, str, str]]:
    """(PyTorch stem, TensorFlow stem, lesson) for every lesson taught in both frameworks, in course order: the
    pairs whose results the runner compares (they record the same keys). Lessons pair by title, which ends in
    "in PyTorch"/"in TensorFlow" (or "from …")."""
    import re

    def topic(les: Lesson) -> str:
        return re.sub(r" (in|from) (PyTorch|TensorFlow)$", "", les.title)

    tf = {topic(les): les for les in COURSE_MAP if les.framework == "TensorFlow"}
    return [(les.stem, tf[topic(les)].stem, topic(les)) for les in COURSE_MAP
            if les.framework == "PyTorch" and topic(les) in tf]


def tracks_markdown() -> str:
    """Each track as one line of notebook numbers, ``*`` marking those in preparation. Introduced in 00_index."""
    lines = []
    for fw in TRACKS:
        steps = " → ".join(les.stem[:2] + ("" if les.available else "*") for les in track(fw))
        lines.append(f"- *{fw} track:* {steps}")
    if not all(les.available for les in COURSE_MAP):
        lines.append("- (* in preparation)")
    return "\n".join(lines)


def lesson(stem: str) -> Lesson:
    for les in COURSE_MAP:
        if les.stem == stem:
            return les
    raise KeyError(f"{stem!r} is not in the course map")


def course_map_markdown(*, links_relative_to: str = "notebooks/") -> str:
    """The course map as a Markdown table (the README links the learner edition, ``learner/``; the index notebook
    ``""``; the site ``notebooks/``)."""
    rows = [
        "| # | Notebook | What you learn | Minutes (teach + exercises) | Framework |",
        "|---|---|---|---|---|",
    ]
    for les in COURSE_MAP:
        num = les.stem[:2]
        if les.available:
            name = f"[{les.title}]({links_relative_to}{les.filename})"
        else:
            name = f"{les.title} *(in preparation)*"
        rows.append(f"| {num} | {name} | {les.learn} | {les.teaching_min} + {les.exercise_min} | {les.framework} |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Block:
    """One block of a workshop plan: a lesson (``stem``; its minutes come from the course map) or a break."""

    label: str
    stem: str | None = None
    minutes: int | None = None  # breaks and lunch only; lessons take theirs from the course map
    teaching_only: bool = False
    alternative: str = ""  # e.g. "or 03 in TensorFlow"

    @property
    def length(self) -> int:
        if self.stem is None:
            if not self.minutes:
                raise ValueError(f"block {self.label!r} needs minutes")
            return self.minutes
        les = lesson(self.stem)
        return les.teaching_min + (0 if self.teaching_only else les.exercise_min)


WORKSHOPS: dict[str, tuple[tuple[Block, ...], str]] = {
    "three-hour": ((
        Block("welcome, set-up check", "00_index", teaching_only=True),
        Block("the formulation, by hand", "01_loss_before_and_after_pytorch", alternative="or 01 in TensorFlow"),
        Block("unstructured pruning", "02_weight_pruning_pytorch", alternative="or 03 in TensorFlow"),
        Block("break", minutes=10),
        Block("real speed-ups", "04_neuron_pruning_pytorch", alternative="or 05 in TensorFlow"),
        Block("wrap-up: what pruning buys", "08_measuring_what_pruning_buys_pytorch", teaching_only=True,
              alternative="or 08 in TensorFlow"),
    ), "Structured (channel) pruning (06/07) and the capstone go home as follow-up."),
    "full-day": ((
        Block("welcome", "00_index"),
        Block("formulation", "01_loss_before_and_after_pytorch"),
        Block("unstructured, PyTorch", "02_weight_pruning_pytorch"),
        Block("unstructured, TensorFlow", "03_weight_pruning_tensorflow"),
        Block("lunch", minutes=60),
        Block("neurons", "04_neuron_pruning_pytorch", alternative="or 05"),
        Block("channels", "06_structured_pruning_pytorch", alternative="or 07"),
        Block("honest measurement", "08_measuring_what_pruning_buys_pytorch"),
        Block("regularization", "09_pruning_regularization_and_early_stopping_pytorch"),
        Block("capstone", "10_capstone_pytorch"),
    ), "Add short breaks between blocks."),
}
WORKSHOP_LIMITS = {"three-hour": 180, "full-day": 480}  # minutes available, breaks included


def workshop_minutes(name: str) -> int:
    """Total minutes of workshop plan ``name`` (lessons from the course map, plus breaks)."""
    return sum(b.length for b in WORKSHOPS[name][0])


def workshop_markdown(name: str) -> str:
    """Workshop plan ``name`` as a Markdown table with its total: the instructor guide and the index notebook
    both show this, so they cannot disagree (``python -m course_utils sync-env`` writes the guide's copy)."""
    blocks, note = WORKSHOPS[name]
    rows = ["| block | notebook | minutes |", "|---|---|---|"]
    for b in blocks:
        if b.stem is None:
            nb = ""
        else:
            les = lesson(b.stem)
            nb = f"{b.stem[:2]} {les.title}" + (f" ({b.alternative})" if b.alternative else "")
            nb += " (teaching part only)" if b.teaching_only else ""
        rows.append(f"| {b.label} | {nb} | {b.length} |")
    total = workshop_minutes(name)
    rows += ["", f"Total: {total} minutes. {note}"]
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
