"""Self-checks for the exercises: ``from course_utils.checks import ex02`` then ``ex02.global_threshold(fn)``.

Each module ``exNN`` belongs to notebook ``NN`` (its PyTorch notebook where a lesson number has two), and
``exNNtf`` to the TensorFlow notebook of a lesson number that has both (``01_…_tensorflow`` uses ``ex01tf``).
Every checker runs the learner's function on hidden cases, prints what was expected and what came back (with a
hint), and returns True or False. Checkers import only
the framework of their own notebook.

``course_utils.checks.ex02_global_threshold`` also works: names ``exNN_<check>`` are looked up lazily in
module ``exNN``.
"""
from __future__ import annotations

import importlib
import re
from typing import Any


def __getattr__(name: str) -> Any:
    m = re.fullmatch(r"(ex\d\d(?:tf)?)(?:_(\w+))?", name)
    if not m:
        raise AttributeError(f"course_utils.checks has no {name!r}")
    module = importlib.import_module(f"{__name__}.{m.group(1)}")
    return getattr(module, m.group(2)) if m.group(2) else module
