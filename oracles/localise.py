"""Which elements are wrong, found by group testing on one failing directional derivative.

A directional check along v failed: r = ⟨v, g⟩ − D_v F exceeds its tolerance.  Restricting v to a
set S of elements gives r(S), which is the sum of v_k·(g_k − ∂_k F) over S: splitting S in two
splits r, so bisection follows the error down to single elements, one evaluation per level when
the estimator is exact (complex step: r of the second half is r(S) minus r of the first).  The
first split is by input array, so every array gets its own verdict; then halves of flat index
ranges.  A single wrong element among n costs about log₂ n evaluations (15 for 128×256).

The most suspicious set (largest |r|/tolerance) is split first, so within ``budget`` evaluations the
worst elements are found first; sets left when the budget runs out are reported as unresolved.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np


@dataclass
class Found:
    array: int
    flat: int
    got: float
    expected: float
    bound: float


@dataclass
class Localised:
    found: list[Found] = field(default_factory=list)
    failing_arrays: list[int] = field(default_factory=list)
    unresolved: list[tuple[int, int, int]] = field(default_factory=list)  # (array, first, last + 1)
    evaluations: int = 0


@dataclass(order=True)
class _Set:
    priority: float
    array: int = field(compare=False)  # -1: every array
    lo: int = field(compare=False)
    hi: int = field(compare=False)
    expected: float = field(compare=False)  # D along v restricted to the set
    error: float = field(compare=False)  # its error bound


def ratio(got: float, expected: float, tolerance: float) -> float:
    """|got − expected| / tolerance, the share of the tolerance used; with no tolerance at all (a constant F),
    0 when they agree exactly and inf otherwise, never a division by zero."""
    if not np.isfinite(expected):
        return np.inf
    if tolerance > 0:
        return abs(got - expected) / tolerance
    return np.inf if got != expected else 0.0


def localise(
    measure: Callable[[int, int, int], tuple[float, float]],
    candidate: Callable[[int, int, int], float],
    tolerance: Callable[[int, int, int, float], float],
    direction: Sequence[np.ndarray],
    got: Sequence[np.ndarray],
    total: tuple[float, float],
    exact: bool,
    budget: int,
) -> Localised:
    """Bisect the failing direction ``direction`` (one flat array per input) down to wrong elements.

    ``measure(i, lo, hi)``: the oracle's directional derivative along the direction restricted to flat
    elements lo:hi of input i, and its error bound (one evaluation, or a few).  ``candidate(i, lo, hi)``:
    the candidate's.  ``tolerance(i, lo, hi, error)``: the allowed |difference| (i = −1: every element).  ``total``: the whole
    direction's (value, error).  ``exact``: the second half may be had by subtraction.
    """
    out = Localised()
    sizes = [len(d) for d in direction]
    root = _Set(0.0, -1, 0, 0, *total)
    queue: list[_Set] = [root]
    while queue:
        s = heapq.heappop(queue)
        parts = [(i, 0, n) for i, n in enumerate(sizes) if n] if s.array < 0 else _halves(s)
        cost = len(parts) - (1 if exact else 0)
        if out.evaluations + cost > budget:
            out.unresolved.extend((p.array, p.lo, p.hi) for p in [s, *queue] if p.array >= 0)
            break
        measured = []
        for i, lo, hi in parts[:-1] if exact else parts:
            out.evaluations += 1
            measured.append((i, lo, hi, *measure(i, lo, hi)))
        if exact:
            i, lo, hi = parts[-1]
            others = sum(m[3] for m in measured)
            slack = tolerance(s.array, s.lo, s.hi, s.error)
            slack += sum(tolerance(m[0], m[1], m[2], m[4]) for m in measured)
            measured.append((i, lo, hi, s.expected - others, slack))
        ratios = []
        for i, lo, hi, d, e in measured:
            tol = tolerance(i, lo, hi, e)
            share = ratio(candidate(i, lo, hi), d, tol)
            ratios.append((share, i, lo, hi, d, e, tol))
            if s.array < 0 and share > 1:
                out.failing_arrays.append(i)
        suspects = [r for r in ratios if r[0] > 1] or [max(ratios, key=lambda r: r[0])]
        for share, i, lo, hi, d, e, tol in suspects:
            if hi - lo == 1 and share > 1:
                v = float(direction[i][lo])
                out.found.append(Found(i, lo, float(got[i][lo]), d / v, tol / abs(v)))
            elif hi - lo > 1:
                heapq.heappush(queue, _Set(-share, i, lo, hi, d, e))
    return out


def _halves(s: _Set) -> list[tuple[int, int, int]]:
    mid = (s.lo + s.hi) // 2
    return [(s.array, s.lo, mid), (s.array, mid, s.hi)]


def unresolved_text(name: str, lo: int, hi: int, shape: tuple[int, ...]) -> str:
    first = np.unravel_index(lo, shape)
    last = np.unravel_index(hi - 1, shape)
    return f"{name} flat elements {lo}–{hi - 1} ({list(map(int, first))} to {list(map(int, last))})"
