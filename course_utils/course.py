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
    Lesson("01_loss_before_and_after", "Loss before and after",
           "L_before vs L_after for magnitude, random and largest-weight removal; the Taylor view of why "
           "magnitude works",
           25, 10, "PyTorch"),
    Lesson("02_weight_pruning_pytorch", "Weight pruning in PyTorch",
           "torch.nn.utils.prune, masks and hooks, global vs layer-wise, iterative pruning with the cubic "
           "schedule, honest size accounting",
           35, 15, "PyTorch"),
    Lesson("03_weight_pruning_tensorflow", "Weight pruning in TensorFlow",
           "TFMOT prune_low_magnitude, schedules, UpdatePruningStep, strip_pruning, gzip and TFLite size",
           35, 15, "TensorFlow"),
    Lesson("04_neuron_pruning_pytorch", "Neuron pruning in PyTorch",
           "ranking hidden units, masking vs real removal, measured speed-up",
           30, 15, "PyTorch"),
    Lesson("05_neuron_pruning_tensorflow", "Neuron pruning in TensorFlow",
           "Keras model surgery: smaller Dense layers with the kept weights",
           25, 15, "TensorFlow"),
    Lesson("06_structured_pruning_pytorch", "Structured (channel) pruning in PyTorch",
           "L1 filter ranking, BatchNorm and flatten surgery, torch-pruning's dependency graph",
           35, 15, "PyTorch"),
    Lesson("07_structured_pruning_tensorflow", "Structured (channel) pruning in TensorFlow",
           "Keras channel surgery, TFLite latency, 2:4 sparsity and XNNPACK",
           30, 15, "TensorFlow"),
    Lesson("08_measuring_what_pruning_buys", "Measuring what pruning buys",
           "parameters vs nonzeros vs bytes vs MACs vs latency; when sparse storage pays off",
           30, 15, "PyTorch"),
    Lesson("09_pruning_regularization_and_early_stopping", "Pruning, regularization and early stopping",
           "L1/L2, dropout and early stopping next to magnitude pruning; large-sparse vs small-dense",
           25, 15, "PyTorch"),
    Lesson("10_capstone", "Capstone",
           "meet a size/latency budget with the least accuracy loss; the lottery ticket hypothesis",
           20, 40, "either"),
)


def lesson(stem: str) -> Lesson:
    for les in COURSE_MAP:
        if les.stem == stem:
            return les
    raise KeyError(f"{stem!r} is not in the course map")


def course_map_markdown(*, links_relative_to: str = "notebooks/") -> str:
    """The course map as a Markdown table (README uses ``notebooks/``, the index notebook ``""``)."""
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

    new = BINDER_BADGE_RE.sub(lambda _: binder_badge(), f"{head}{start}\n{course_map_markdown()}\n{end}{tail}")
    if check:
        return new == text
    path.write_text(new)
    return True
