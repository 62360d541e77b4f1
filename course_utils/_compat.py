"""Old names and old call forms of the twin APIs, kept working while the notebooks move on.

Framework-free (no torch, no TensorFlow). Issue 9 (P1-4) gave the PyTorch and Keras twins one
signature per verb; the helpers here let the previous spellings keep running:

- :func:`alias` — a second name for a function (same object semantics, its own docstring line).
- :func:`deprecated_alias` — a second name that warns (``DeprecationWarning``) on every call site,
  for names whose *meaning* differs from the twin's function of the same name.
- :func:`renamed_keywords` — accept an old keyword (``sparsity=``) for a renamed parameter (``amount=``).
- :func:`xy_positional` — accept the old Keras form ``f(model, x, y, ...)`` beside the course's
  ``f(model, (x, y), ...)``.

The decorated functions keep their own signature (``functools.wraps``), so ``inspect.signature``
and the ``ast`` signature test see the course's form only.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def alias(func: Callable[..., Any], old_name: str) -> Callable[..., Any]:
    """``func`` under ``old_name``: a thin wrapper whose docstring names the new function."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = old_name
    wrapper.__doc__ = f"Old name of :func:`{func.__name__}` (same arguments, same result).\n\n{func.__doc__ or ''}"
    return wrapper


def deprecated_alias(func: Callable[..., Any], old_name: str, reason: str) -> Callable[..., Any]:
    """``func`` under ``old_name``, warning ``DeprecationWarning`` (``reason`` says why) when called."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(f"{old_name} is deprecated: use {func.__name__} ({reason})", DeprecationWarning, stacklevel=2)
        return func(*args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = old_name
    wrapper.__doc__ = f"Deprecated name of :func:`{func.__name__}`: {reason}.\n\n{func.__doc__ or ''}"
    return wrapper


def renamed_keywords(**old_to_new: str) -> Callable[[F], F]:
    """Accept ``old=value`` for a parameter now called ``new`` (``renamed_keywords(sparsity="amount")``).

    Passing both the old and the new keyword is a ``TypeError``.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f"{func.__name__}() got both {new}= and its old name {old}=; pass {new}= only")
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _is_array(a: Any) -> bool:
    """An array-like batch (numpy array, tf/torch tensor), not a tuple/list/loader."""
    return hasattr(a, "shape") and hasattr(a, "dtype") and not isinstance(a, (tuple, list))


def xy_positional(func: F) -> F:
    """Accept the old Keras form ``func(model, x, y, *rest)`` as ``func(model, (x, y), *rest)``.

    The course's form is the tuple: ``fit(model, train, ...)`` with ``train = (x, y)``, as in
    ``train_torch``. The old form is recognised when the second argument is an array and a third
    positional argument follows (or ``x=``/``y=`` keywords are used).
    """

    @functools.wraps(func)
    def wrapper(model: Any, *args: Any, **kwargs: Any) -> Any:
        if "x" in kwargs or "y" in kwargs:
            if args:
                raise TypeError(f"{func.__name__}(): pass the data once, as (x, y) (the course's form) or x=, y=")
            if "x" not in kwargs or "y" not in kwargs:
                raise TypeError(f"{func.__name__}(): the old form needs both x= and y=; better pass (x, y)")
            args = ((kwargs.pop("x"), kwargs.pop("y")),)
        elif len(args) >= 2 and _is_array(args[0]) and _is_array(args[1]):
            args = ((args[0], args[1]), *args[2:])
        return func(model, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
