"""How long a notebook takes to read: the honest-minutes model of the course map (issue 18).

Reading time = Markdown words at 150 words per minute + 6 seconds per non-blank line of code, measured on the
**learner edition** (solutions removed), before any exercise or compute. Link targets and image addresses are not
words a learner reads, so ``[text](url)`` counts as ``text``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

WORDS_PER_MINUTE = 150
SECONDS_PER_CODE_LINE = 6

_LINK = re.compile(r"(!?)\[([^\]]*)\]\([^)]*\)")
_HTML_TAG = re.compile(r"<[^>]+>")


def markdown_words(text: str) -> int:
    """Words a reader reads in a Markdown cell: link and image targets and HTML tags are not counted."""
    text = _LINK.sub(lambda m: "" if m.group(1) else m.group(2), text)
    text = _HTML_TAG.sub(" ", text)
    return len(re.findall(r"\S+", text))


def code_lines(text: str) -> int:
    """Non-blank lines of a code cell."""
    return sum(1 for line in text.splitlines() if line.strip())


def reading_minutes(nb: dict[str, Any] | str | Path, *, learner: bool = True) -> float:
    """Minutes a first-time learner needs to read notebook ``nb`` (a path or a loaded notebook): Markdown at
    150 words per minute plus 6 seconds per non-blank code line. ``learner`` (default): measured on the learner
    edition, as a learner sees it."""
    if not isinstance(nb, dict):
        nb = json.loads(Path(nb).read_text())
    if learner:
        from .nbtools import learner_notebook

        nb = learner_notebook(nb)
    words = lines = 0
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            words += markdown_words(src)
        elif cell["cell_type"] == "code":
            lines += code_lines(src)
    return words / WORDS_PER_MINUTE + lines * SECONDS_PER_CODE_LINE / 60


def main(paths: list[Path]) -> None:
    """Print the reading time of each notebook."""
    for p in paths:
        print(f"{reading_minutes(p):6.1f} min  {Path(p).name}")


if __name__ == "__main__":
    import sys

    main([Path(a) for a in sys.argv[1:]])
