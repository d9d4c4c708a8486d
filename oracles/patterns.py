"""One-line diagnoses of a wrong gradient array: × 2.000, / N, sign flipped, all zeros, transposed.

A factor equal to an axis length is named with that axis only when, run again with that axis one
longer, the factor follows it (``confirmed``): one size cannot tell a missing / N from a coincidence.

Each is tested on directional values, so one test serves both modes: along k random ±1
directions v_j, the candidate's c_j = ⟨v_j, g⟩ against the expected d_j = ⟨v_j, o⟩ (computed from
the expected array in full mode, measured by complex step or central differences in fast mode),
each within tolerance t_j.  "× α" means c_j = α·d_j for every j, within (1 + |α|)·t_j: a gradient
off by one constant factor, which a single wrong element or a mix of errors does not fake.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    return {n: ", ".join(w[:2]) for n, w in where.items()}


@dataclass(frozen=True)
class Pattern:
    """A diagnosis in words, and the factor α when the error is one constant factor (else None)."""

    text: str
    factor: Optional[float] = None

    def length_it_matches(self, sizes: Mapping[int, str]) -> Optional[tuple[int, bool]]:
        """(n, True) when α = n, (n, False) when α = 1/n, for an axis length n in ``sizes``; else None."""
        for n in sorted(sizes):
            if self.factor is not None and abs(self.factor / n - 1) <= FACTOR_MATCH:
                return n, True
            if self.factor is not None and abs(self.factor * n - 1) <= FACTOR_MATCH:
                return n, False
        return None


def factor_text(alpha: float) -> str:
    return "sign flipped (× −1)" if abs(alpha + 1) <= FACTOR_MATCH else f"× {alpha:.3f}"


def confirmed(n: int, times: bool, where: str, m: int, alpha_there: Optional[float]) -> Optional[str]:
    """The factor named with its axis, when with that axis m long it became m (``times``) or 1/m: a missing
    or extra / N, not a coincidence of one size (deeplearning.ai's ``db1 = 4./m`` with X of 4 rows is
    × 4 at every size, and was once reported as "× 4 (4 is the length of axis 0 of X)")."""
    if alpha_there is None or abs((alpha_there / m if times else alpha_there * m) - 1) > FACTOR_MATCH:
        return None
    sign = "×" if times else "/"
    return f"{sign} {n} ({n} is the length of {where}; at length {m} it is {sign} {m}: a / N {'missing' if times else 'too many'})"


def describe(got: np.ndarray, expected: np.ndarray, tolerance: np.ndarray, *, transposed: Optional[np.ndarray] = None,
             all_zero: bool = False) -> Optional[Pattern]:
    """The pattern behind c_j (``got``) vs d_j (``expected``), or None; ``transposed``: c_j of the candidate's transpose."""
    got, expected, tolerance = (np.asarray(a, dtype=np.float64) for a in (got, expected, tolerance))
    visible = np.abs(expected) > tolerance
    if all_zero and visible.any():
        return Pattern("all zeros")
    if transposed is not None and np.all(np.abs(transposed - expected) <= tolerance):
        return Pattern("transposed (it equals the transpose of the expected gradient)")
    if not visible.any():
        return None
    j = int(np.argmax(np.abs(expected) / np.maximum(tolerance, np.finfo(float).tiny)))
    alpha = got[j] / expected[j]
    if not np.all(np.abs(got - alpha * expected) <= (1 + abs(alpha)) * tolerance) or abs(alpha - 1) <= FACTOR_MATCH:
        return None
    return Pattern(factor_text(alpha), float(alpha))


def of_arrays(got: np.ndarray, expected: np.ndarray, bound: np.ndarray, rng: np.random.Generator,
              directions: int = 3) -> Optional[Pattern]:
    """``describe`` for a whole candidate array against the whole expected one (elementwise ``bound``)."""
    v = rng.choice(np.array([-1.0, 1.0]), size=(directions, got.size))
    g, o = got.reshape(-1).astype(np.float64), expected.reshape(-1)
    square = got.ndim == 2 and got.shape[0] == got.shape[1]
    return describe(v @ g, v @ o, np.full(directions, float(np.sum(bound))),
                    transposed=v @ got.T.reshape(-1).astype(np.float64) if square else None,
                    all_zero=not np.any(got))
