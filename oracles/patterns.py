"""One-line diagnoses of a wrong gradient array: × 2.000, / N, sign flipped, all zeros, transposed.

A factor equal to an axis length is named with that axis, and with the caveat that one size cannot
tell a missing / N from a coincidence (``ONE_SIZE``).

Each is tested on directional values, so one test serves both modes: along k random ±1
directions v_j, the candidate's c_j = ⟨v_j, g⟩ against the expected d_j = ⟨v_j, o⟩ (computed from
the expected array in full mode, measured by complex step or central differences in fast mode),
each within tolerance t_j.  "× α" means c_j = α·d_j for every j, within (1 + |α|)·t_j: a gradient
off by one constant factor, which a single wrong element or a mix of errors does not fake.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

#: A factor is named (−1, N, 1/N) when it matches to this relative accuracy.
FACTOR_MATCH = 1e-3


def sizes_of(arrays: Mapping[str, np.ndarray]) -> dict[int, str]:
    """Axis lengths that a factor might be (batch size, number of outputs …), each with where it comes from (two at most)."""
    where: dict[int, list[str]] = {}
    for name, a in arrays.items():
        for axis, n in enumerate(np.shape(a)):
            if n >= 2:
                where.setdefault(n, []).append(f"axis {axis} of {name}")
    return {n: f"{n} is the length of {', '.join(w[:2])}" for n, w in where.items()}


#: One check sees one size: a factor equal to an axis length there is a cause (a missing or extra / N) only
#: if it stays equal to it at other sizes.  deeplearning.ai's ``db1 = 4./m`` typo is × 4 because of the 4,
#: not because X has 4 rows, and was once reported as "× 4 (4 is the length of axis 0 of X)".
ONE_SIZE = "at this one size; it may be a coincidence, so check at another size to tell"


def describe(got: np.ndarray, expected: np.ndarray, tolerance: np.ndarray, *, transposed: Optional[np.ndarray] = None,
             all_zero: bool = False, sizes: Optional[Mapping[int, str]] = None) -> Optional[str]:
    """The pattern behind c_j (``got``) vs d_j (``expected``), or None; ``transposed``: c_j of the candidate's transpose."""
    got, expected, tolerance = (np.asarray(a, dtype=np.float64) for a in (got, expected, tolerance))
    visible = np.abs(expected) > tolerance
    if all_zero and visible.any():
        return "all zeros"
    if transposed is not None and np.all(np.abs(transposed - expected) <= tolerance):
        return "transposed (it equals the transpose of the expected gradient)"
    if not visible.any():
        return None
    j = int(np.argmax(np.abs(expected) / np.maximum(tolerance, np.finfo(float).tiny)))
    alpha = got[j] / expected[j]
    if not np.all(np.abs(got - alpha * expected) <= (1 + abs(alpha)) * tolerance) or abs(alpha - 1) <= FACTOR_MATCH:
        return None
    if abs(alpha + 1) <= FACTOR_MATCH:
        return "sign flipped (× −1)"
    for n, where in (sizes or {}).items():
        if abs(alpha * n - 1) <= FACTOR_MATCH:
            return f"/ {n} ({where} {ONE_SIZE})"
        if abs(alpha / n - 1) <= FACTOR_MATCH:
            return f"× {n} ({where} {ONE_SIZE})"
    return f"× {alpha:.3f}"


def of_arrays(got: np.ndarray, expected: np.ndarray, bound: np.ndarray, rng: np.random.Generator,
              sizes: Optional[Mapping[int, str]] = None, directions: int = 3) -> Optional[str]:
    """``describe`` for a whole candidate array against the whole expected one (elementwise ``bound``)."""
    v = rng.choice(np.array([-1.0, 1.0]), size=(directions, got.size))
    g, o = got.reshape(-1).astype(np.float64), expected.reshape(-1)
    square = got.ndim == 2 and got.shape[0] == got.shape[1]
    return describe(v @ g, v @ o, np.full(directions, float(np.sum(bound))),
                    transposed=v @ got.T.reshape(-1).astype(np.float64) if square else None,
                    all_zero=not np.any(got), sizes=sizes)
