"""What every exercise checker shares: how it reports, and how it calls the learner's function.

A checker never raises for a wrong answer: it prints what it expected and a hint, and returns False.
"""
from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any


def ok(msg: str) -> bool:
    """Print a pass line and return True."""
    print(f"✓ {msg}")
    return True


def fail(msg: str, hint: str = "") -> bool:
    """Print what went wrong (and a hint) and return False."""
    print(f"✗ {msg}" + (f"\n  Hint: {hint}" if hint else ""))
    return False


def call(fn: Callable, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Call the learner's ``fn``; on any error report it (not crash the notebook) and return (False, None)."""
    if not callable(fn):
        fail(f"expected a function, got {type(fn).__name__}")
        return False, None
    try:
        return True, fn(*args, **kwargs)
    except NotImplementedError:
        fail("the function raised NotImplementedError", "replace `raise NotImplementedError` with your code")
        return False, None
    except Exception as e:  # report the learner's error, do not crash the notebook
        fail(f"the function raised {type(e).__name__}: {e}", "read the traceback below")
        traceback.print_exc(limit=3)
        return False, None


def check_callable(fn: Any, name: str, module: str) -> bool:
    """False (with a message) unless ``fn`` is callable; ``module`` is e.g. ``"ex05"`` for the hint."""
    if not callable(fn):
        print(f"✗ {name}: pass your function itself, e.g. {module}.{name}({name}); got {type(fn).__name__}.")
        return False
    return True


def call_named(fn: Callable, name: str, *args: Any) -> tuple[bool, Any]:
    """Like :func:`call`, with messages that name the exercise function ``name``."""
    try:
        return True, fn(*args)
    except NotImplementedError:
        print(f"✗ {name}: not implemented yet (replace `raise NotImplementedError` with your code).")
    except Exception as e:  # the learner's code may raise anything
        print(f"✗ {name} raised {type(e).__name__}: {e}")
    return False, None
