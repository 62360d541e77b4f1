"""What every exercise checker shares: how it reports, how it calls the learner's answer, and what a
self-check does in a notebook.

A self-check cell in a notebook calls a public checker, e.g. ``ex02.second_amount(second_amount)``.
Every public checker is wrapped by :func:`exercise`, which gives the three outcomes a learner sees:

- **not attempted yet** — the answer is ``None`` (the learner edition's placeholder) or the learner's function
  still raises ``NotImplementedError``: one line ``○ … not attempted yet``, no error, so *Run All* goes on;
- **correct** — ``✓ …`` and the checker returns ``True``;
- **wrong** — ``✗ …`` with a hint, then :class:`ExerciseFailed` (an ``AssertionError``) is raised, so a
  wrong answer stops *Run All* and fails autograding and CI.

With the environment variable ``COURSE_GRADING=1`` (set by an autograder) an unattempted exercise raises too.
The unwrapped verdict (``True``/``False``/``None``, never raising) is :func:`verdict`.
"""
from __future__ import annotations

import functools
import os
import traceback
from collections.abc import Callable
from typing import Any


class NotAttempted(Exception):
    """The learner has not answered yet (placeholder ``None`` or ``raise NotImplementedError``)."""


class ExerciseFailed(AssertionError):
    """A self-check found a wrong answer (what and why were printed above the traceback)."""


def ok(msg: str) -> bool:
    """Print a pass line and return True."""
    print(f"✓ {msg}")
    return True


def fail(msg: str, hint: str = "") -> bool:
    """Print what went wrong (and a hint) and return False."""
    print(f"✗ {msg}" + (f"\n  Hint: {hint}" if hint else ""))
    return False


def grading() -> bool:
    """True when an autograder runs the notebook (``COURSE_GRADING=1``): unattempted exercises then fail."""
    return os.environ.get("COURSE_GRADING", "").strip().lower() in {"1", "true", "yes", "on"}


def not_attempted_message(name: str) -> str:
    """The one line a self-check prints for an exercise not attempted yet (the learner edition expects it)."""
    return (f"○ {name}: not attempted yet. Write your answer in the cell above and run both cells "
            "(stuck? the commented line in this cell loads the reference solution).")


def exercise(checker: Callable[..., bool]) -> Callable[..., bool | None]:
    """Wrap a checker ``checker(answer, *context) -> bool`` into a notebook self-check (see the module docstring).

    The wrapped function keeps the checker's name and docstring; ``wrapped.verdict`` is the plain checker
    behind it, wrapped only for "not attempted".
    """
    name = checker.__name__

    @functools.wraps(checker)
    def verdict_of(answer: Any = None, *args: Any, **kwargs: Any) -> bool | None:
        if answer is None:
            raise NotAttempted
        passed = checker(answer, *args, **kwargs)
        if passed is None:  # a twin's checker, called through its .verdict, found the exercise not attempted
            raise NotAttempted
        return passed

    @functools.wraps(checker)
    def self_check(answer: Any = None, *args: Any, **kwargs: Any) -> bool | None:
        try:
            passed = verdict_of(answer, *args, **kwargs)
        except NotAttempted:
            print(not_attempted_message(name))
            if grading():
                raise ExerciseFailed(f"{name}: not attempted") from None
            return None
        if not passed:
            raise ExerciseFailed(f"{name}: not yet right — see the ✗ line and hint above")
        return True

    def verdict(answer: Any = None, *args: Any, **kwargs: Any) -> bool | None:
        try:
            return verdict_of(answer, *args, **kwargs)
        except NotAttempted:
            return None

    self_check.verdict = verdict  # type: ignore[attr-defined]
    return self_check


def verdict(check: Callable[..., Any], *args: Any, **kwargs: Any) -> bool | None:
    """``True``/``False``/``None`` (not attempted) of a self-check, printing its messages but never raising."""
    return check.verdict(*args, **kwargs)


def call(fn: Callable, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Call the learner's ``fn``; on an error report it (not crash the notebook) and return (False, None).

    ``NotImplementedError`` (the learner edition's placeholder body) means "not attempted": it propagates
    as :class:`NotAttempted` to the :func:`exercise` wrapper.
    """
    if not callable(fn):
        fail(f"expected a function, got {type(fn).__name__}")
        return False, None
    try:
        return True, fn(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted from None
    except Exception as e:  # report the learner's error, do not crash the notebook
        fail(f"the function raised {type(e).__name__}: {e}", "read the traceback below")
        traceback.print_exc(limit=3)
        return False, None
