"""Directional derivatives of vector-valued code bpcheck cannot see into, and the report the newer checks return.

    d = Directional(lambda xs: grad(*xs), [x], "grad")     # y = grad(x), a real array
    t = d.tangent([p])                                      # p as realised by x ± s·p in floating point
    value, bound, method = d.derivative(t)                  # J(x)·t elementwise, with its own error bound

Used by ``check_hessp`` (y is the user's gradient, so J·t is a Hessian-vector product) and by
``check_jvp`` (y is the user's forward output).  Two estimators, as ``blackbox`` has for a scalar F:

- **complex step**  Im y(x + i·h·t) / h with h = 1e-20: exact to rounding, no subtraction.  Valid only
  when the code carries complex numbers analytically, so it is self-tested once: along the first
  tangent every element must agree with central differences within their bound plus rtol·(|value| + G),
  and the evaluation must neither raise nor discard an imaginary part (ComplexWarning).
- **central differences**  D(s) = [y(x + s·t) − y(x − s·t)] / 2s with s = ε^⅓·max(1, |x|) / max|t|,
  rounded down to a power of two.  Elementwise bound, as in ``finite_diff``:

      |D(s) − D(2s)| + 3·ε_k / s

  |D(s) − D(2s)| is three times D(s)'s truncation error (the h² terms: D(2s) − D(s) = 3·c·s²); ε_k, the
  rounding error of one evaluation of y_k, is measured: six standard deviations of y_k's noise from the
  4th–6th differences at seven points x + j·s·t, j = −3…3 (``blackbox.noise``, Moré & Wild's ECnoise),
  floored at 2ε|y_k|.  D(s)'s rounding is at most 2ε_k / 2s, so 3ε_k / s leaves a factor three.

The tangent handed to the code under check is the one realised in floating point: t_r = (x⁺ − x⁻) / 2s
with x^± = fl(x ± s·t) (s a power of two, so the division is exact); the central difference at
x^± is then a difference quotient along t_r exactly, and complex step at x + i·h·t_r is exact too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import patterns
from .blackbox import NOISE_SIGMAS, noise
from .calls import CheckError, Recorder, describe_error
from .compare import ArrayResult
from .finite_diff import CENTRAL_STEP, COMPLEX_STEP, EPS, central_bound
from .generic import ElementVerdict, InputVerdict
from .named import element_at

SHOWN_ELEMENTS = 5


# --- the report -------------------------------------------------------------------------------------------


@dataclass
class CheckReport:
    """The outcome of ``check_taylor``, ``check_hessp``, ``check_jvp`` or ``check_adjoint``: truthy when it passed.

    ``message()`` (also ``str(result)``) lists what was compared, the numbers, the oracle and the bound.
    """

    ok: bool
    title: str
    lines: list[str] = field(default_factory=list)
    checked: str = ""
    oracle: str = ""
    tolerance: str = ""
    notes: list[str] = field(default_factory=list)
    evaluations: str = ""
    table: list[dict] = field(default_factory=list)  # check_taylor: one row per step, for plotting

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message()

    __repr__ = __str__

    def message(self) -> str:
        out = [f"{self.title}: {'passed' if self.ok else 'FAILED'}", *self.lines]
        out += [f"checked: {self.checked}"] * bool(self.checked) + [f"oracle: {self.oracle}"] * bool(self.oracle)
        out += self.notes
        out += [f"tolerance: {self.tolerance}"] * bool(self.tolerance)
        out += [f"evaluations: {self.evaluations}"] * bool(self.evaluations)
        return "\n".join(out)


def array_verdict(a: ArrayResult, got: np.ndarray, expected: np.ndarray, bound: np.ndarray,
                  rng: np.random.Generator) -> InputVerdict:
    """One compared array as check_vjp words it: the worst elements by |error| / bound, and the pattern when wrong."""
    diff = np.where(np.isfinite(expected), np.abs(got - expected), np.inf)
    order = np.argsort(-(diff / np.maximum(bound, np.finfo(float).tiny)), axis=None)[: min(SHOWN_ELEMENTS, a.bad)]
    shown = [ElementVerdict(element_at(a.name, k, expected.shape), float(got.flat[k]), float(expected.flat[k]),
                            float(bound.flat[k])) for k in order]
    return InputVerdict(a.name, a.shape, a.ok, a.size, a.bad, False, shown, a.normwise,
                        None if a.ok else patterns.of_arrays(got, expected, bound, rng))


def depth_of(arrays: Sequence[Any]) -> int:
    """D counted from the shapes, as ``check_function`` counts it: 32 for elementwise work plus every axis length."""
    return 32 + sum(int(n) for a in arrays for n in np.shape(a))


def fixed_arguments(fixed: Any) -> tuple[tuple, dict]:
    """(args, kwargs) for the fixed arguments: a tuple goes by position after the inputs (scipy's ``args``), a dict by keyword."""
    return ((), fixed) if isinstance(fixed, dict) else (tuple(fixed), {})


# --- directional derivatives of y(x) ------------------------------------------------------------------------


class Directional:
    """y = ``fn(arrays)``, a real array of fixed shape, and its derivative along tangents (see the module docstring)."""

    def __init__(self, fn: Callable[[list[np.ndarray]], Any], base: Sequence[np.ndarray], what: str,
                 allow_complex: bool = True):
        self.fn = fn
        self.base = [np.array(a, dtype=np.float64) for a in base]
        self.what = what
        self.evaluations = 0
        self.warnings = Recorder()
        self.y0: Optional[np.ndarray] = None  # set just below; ``value`` checks later shapes against it
        self.complex_valid: Optional[bool] = None if allow_complex else False
        self.why_not = "" if allow_complex else "complex_step=False"
        with self.warnings:
            y0 = self.value(self.base, "the inputs given")
        if np.iscomplexobj(y0) or y0.dtype.kind not in "fiu":
            raise CheckError(f"{what} returned {y0.dtype} values at real inputs; expected real numbers")
        self.y0 = y0.real.astype(np.float64)
        self.step = CENTRAL_STEP * max(1.0, max((float(np.max(np.abs(a))) for a in self.base if a.size), default=1.0))

    def value(self, arrays: Sequence[np.ndarray], where: str) -> np.ndarray:
        """y at ``arrays`` (fresh copies each call); CheckError naming the point when the code raises."""
        self.evaluations += 1
        try:
            out = np.asarray(self.fn([np.array(a) for a in arrays]))
        except CheckError:
            raise
        except Exception as e:
            raise CheckError(f"{self.what} raised {describe_error(e)} when evaluated at {where}") from e
        if self.y0 is not None and out.shape != self.y0.shape:
            raise CheckError(f"{self.what} returned shape {out.shape} at {where}, but {self.y0.shape} at the inputs given")
        return out

    def tangent(self, t: Sequence[np.ndarray]) -> tuple[list[np.ndarray], float, list[np.ndarray], list[np.ndarray]]:
        """(t_r, s, x⁺, x⁻): the tangent as realised in floating point by x ± s·t, s a power of two."""
        biggest = max((float(np.max(np.abs(a))) for a in t if a.size), default=0.0)
        if not biggest > 0:
            raise CheckError("tangent: all zeros; a derivative along it checks nothing")
        s = 2.0 ** np.floor(np.log2(self.step / biggest))
        plus = [a + s * v for a, v in zip(self.base, t)]
        minus = [a - s * v for a, v in zip(self.base, t)]
        return [(p - m) / (2 * s) for p, m in zip(plus, minus)], s, plus, minus

    def central(self, t: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(D(s), its elementwise bound, t_r) along t: six evaluations (j = ±1, ±2, ±3)."""
        t_r, s, plus, minus = self.tangent(t)
        f = {}
        with self.warnings:
            for j in (-3, -2, 2, 3):
                f[j] = self.value([a + j * s * v for a, v in zip(self.base, t_r)], f"the inputs moved by {j}·{s:.1e} along a tangent")
            f[1] = self.value(plus, f"the inputs moved by {s:.1e} along a tangent")
            f[-1] = self.value(minus, f"the inputs moved by -{s:.1e} along a tangent")
        f = {j: np.asarray(v, dtype=np.float64) for j, v in f.items()}
        seven = np.stack([f[-3], f[-2], f[-1], self.y0, f[1], f[2], f[3]]).reshape(7, -1)
        sigma = np.array([noise(col) if np.all(np.isfinite(col)) else 0.0 for col in seven.T]).reshape(self.y0.shape)
        rounding = np.maximum(NOISE_SIGMAS * sigma, 2 * EPS * np.abs(self.y0))
        d1 = (f[1] - f[-1]) / (2 * s)
        d2 = (f[2] - f[-2]) / (4 * s)
        return d1, central_bound(d1, d2, rounding, s), t_r

    def complex_step(self, t: Sequence[np.ndarray]) -> Optional[np.ndarray]:
        """Im y(x + i·h·t) / h, or None (with ``why_not`` set) when the code raises or discards the imaginary part."""
        seen = Recorder()
        try:
            with seen:
                out = self.fn([a + (1j * COMPLEX_STEP) * v for a, v in zip(self.base, t)])
            self.evaluations += 1
        except Exception as e:
            self.why_not = f"{self.what} raised {describe_error(e)} on complex input"
            return None
        if seen.complex_discarded:
            self.why_not = f"{self.what} discarded an imaginary part ({seen.summary()})"
            return None
        out = np.asarray(out)
        if out.shape != self.y0.shape or not np.iscomplexobj(out):
            self.why_not = f"{self.what} returned {out.dtype} values of shape {out.shape} on complex input"
            return None
        return out.imag / COMPLEX_STEP

    def derivative(self, t: Sequence[np.ndarray], rtol: float) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], str]:
        """(J·t_r, elementwise bound, t_r, method): complex step once its self-test has passed, else central differences."""
        if self.complex_valid is None:
            d, bound, t_r = self.central(t)
            cs = self.complex_step(t_r)
            agree = False
            if cs is not None:
                G = float(np.max(np.abs(cs))) if cs.size else 0.0
                agree = bool(np.all(np.abs(cs - d) <= bound + rtol * (np.abs(cs) + G)))
                if not agree:
                    k = int(np.argmax(np.abs(cs - d) - bound))
                    self.why_not = (f"along a random tangent complex step gives {cs.flat[k]:.10e} and central differences "
                                    f"{d.flat[k]:.10e} ± {bound.flat[k]:.1e}, so {self.what} is not analytic in its inputs")
            self.complex_valid = cs is not None and agree
            return (cs, np.zeros_like(cs), t_r, "complex step") if self.complex_valid else (d, bound, t_r, "central differences")
        if self.complex_valid:
            t_r = self.tangent(t)[0]
            cs = self.complex_step(t_r)
            if cs is None:
                raise CheckError(f"{self.what}: complex step failed along a later tangent ({self.why_not}) "
                                 "although it passed its self-test")
            return cs, np.zeros_like(cs), t_r, "complex step"
        d, bound, t_r = self.central(t)
        return d, bound, t_r, "central differences"

    def complex_note(self) -> str:
        if self.complex_valid:
            return "complex step: valid here (self-tested against central differences along the first tangent)"
        if self.why_not == "complex_step=False":
            return "complex step not used (complex_step=False): central differences"
        return (f"complex step not used: it needs {self.what} to accept complex input and keep the imaginary part, "
                f"but {self.why_not}; central differences instead")
