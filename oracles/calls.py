"""Calling the code under check: its warnings are recorded, its exceptions become bpcheck messages.

The checker calls someone else's function thousands of times, at points it chose itself.  Whatever
that function raises or warns must reach the developer as a sentence about *their* code: which
function, at which point, raising what, on which line of their file, never a raw traceback from
inside numpy or a RuntimeWarning turned error by the caller's pytest configuration.
"""

from __future__ import annotations

import functools
import os
import traceback
import warnings
from typing import Any, Callable

import numpy as np

_OURS = os.path.dirname(os.path.abspath(__file__))
_NUMPY = os.path.dirname(os.path.abspath(np.__file__))
_STDLIB = os.path.dirname(os.path.abspath(os.__file__))


class CheckError(ValueError):
    """bpcheck could not run the check as asked; the message says what was wrong and what to do."""


def name_of(fn: Callable) -> str:
    if isinstance(fn, functools.partial):
        return f"{name_of(fn.func)} (partial)"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return name.rsplit("<locals>.", 1)[-1]  # Layer.forward, not test_x.<locals>.Layer.forward


def where_raised(error: BaseException) -> str:
    """' (at file.py:12, in fn)': the deepest frame of the caller's code, not numpy's nor bpcheck's."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not os.path.abspath(f.filename).startswith((_OURS, _NUMPY))
              and os.path.dirname(os.path.abspath(f.filename)) != _STDLIB]
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {os.path.basename(f.filename)}:{f.lineno}, in {f.name})"


def describe_error(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}{': ' + text if text else ''}{where_raised(error)}"


class Recorder:
    """``with Recorder() as seen:`` every warning raised inside is counted here, none reaches the caller's filters.

    Keeps the count, the first few distinct messages, and whether numpy discarded an imaginary part
    (ComplexWarning: the code under check cannot carry a complex step).
    """

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []
        self.complex_discarded = False

    def __enter__(self) -> "Recorder":
        self._catch = warnings.catch_warnings(record=True)
        self._list = self._catch.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc: Any) -> None:
        self.flush()
        self._catch.__exit__(*exc)

    def flush(self) -> None:
        """Take in the warnings collected so far (keeps memory flat in long loops)."""
        for m in self._list:
            self.count += 1
            if issubclass(m.category, np.exceptions.ComplexWarning):
                self.complex_discarded = True
            text = f"{m.category.__name__}: {m.message}"
            if len(self.first) < 3 and text not in self.first:
                self.first.append(text)
        del self._list[:]

    def summary(self) -> str:
        return "; ".join(self.first)
