"""Derivatives of a function bpcheck cannot see into: F(θ), a real scalar of named float64 arrays θ.

Two estimators, both from evaluations of F alone:

- **complex step**  Im F(θ + ih·u) / h, h = 1e-20: the directional derivative along u, exact to
  rounding, one evaluation.  Valid only when the code carries complex numbers analytically; many
  NumPy functions do not (``np.var``, ``np.abs`` and ``.real`` drop the imaginary part, ``float()``
  and writes into float buffers refuse or discard it).  So it is **self-tested**: along one random
  ±1 direction its value must agree with central differences within their error bound, and the
  evaluation must neither raise nor warn (ComplexWarning).  Otherwise it is not used, and the
  reason is kept for the report.
- **central differences**  D(h) = [F(θ + h·u) − F(θ − h·u)] / 2h, h = ε^⅓·max(1, |θ|).  Error bound,
  as in ``finite_diff``: |D(h) − D(2h)| (three times D(h)'s truncation) + 3·ε_F / h.

ε_F, the rounding error of one evaluation of F, is measured rather than assumed: ε_F = 6·σ, with
σ the noise of F on the spot (Moré & Wild's ECnoise: from the 4th–6th differences of F at seven
equally spaced points along a random direction; at that spacing the differences of a smooth F are
far below rounding, so what remains is noise, of variance σ²·C(2k, k) for the k-th difference),
floored at 2·ε·|F| (F's own last rounding).  What is not smooth at that spacing is not noise: a relu
input exactly at 0 made σ 1e10 times too large, and logits near 1e5 (step 1.06) let truncation pass
for noise, and every element's bound grew with it.  Rounding noise does not shrink with the spacing,
truncation and kinks do, so σ is measured again at 16× smaller spacings beside θ until it stops
shrinking, and the step follows it down (``NOISE_SHRINK``, ``step_scale``); if it still shrank at the
last level, it is capped by what rounding alone does to F, measured 64 ulps beside θ (``ROUNDING_SPACING``).  F is also evaluated twice
at θ: ``NotRepeatable`` when the two differ (a random mask drawn on every call).  A bound proportional to |F| alone fails a loss near 0,
whose rounding is set by the terms it was computed from (a log-sum-exp of logits ~10 that cancels
to 1e-8), not by |F| (the old bound was 1e3–1e4× too small there); a bound D·ε·|F| with D counted
from the shapes is, elsewhere, 1e2–1e3× too large to see a 1e-6 error in full mode.  Six standard
deviations of the noise, then the 3/h of the central bound: D(h)'s rounding has standard
deviation σ/(√2·h), so the bound sits ~25 of them out.

Every call of the code under check goes through ``value``: counted, warnings recorded, exceptions
kept with where they came from; the arrays it sees are read-only views of private copies (code
that writes into its inputs is detected and then gets fresh copies each call).
"""

from __future__ import annotations

from math import comb
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from .calls import CheckError, Recorder, describe_error
from .finite_diff import CENTRAL_STEP, COMPLEX_STEP, EPS, RICHARDSON_STEP, central_bound, richardson_bound
from .named import element_at

NOISE_SIGMAS = 6.0
#: The noise of F is measured again at spacings 16, 256 … times smaller (at most ``NOISE_LEVELS`` times),
#: on seven points beside θ rather than around it: rounding noise does not shrink with the spacing,
#: truncation (∝ s⁴ in a 4th difference) and a kink on the line (∝ s, and only while it lies inside the
#: window) do.  An estimate sixteen times smaller than the one before is not noise: what was measured
#: before was the shape of F, and the step is divided by the same factor.  (Two estimates of pure noise
#: from seven points each differ that much by chance in 0.2 % of draws, measured on 2·10⁵ pairs; a factor
#: of four did in 6 %, and made the step of a smooth F 16 times smaller for nothing.)
NOISE_DROP = 16.0
NOISE_SHRINK, NOISE_LEVELS = 16.0, 3
#: When σ still shrank at the last level, it is capped at ``NOISE_DROP`` times what rounding alone does to F,
#: measured at spacing 64·ε·max(1, |θ|) (``_rounding_noise``): 64 ulps, so that the rounding of θ + s·u moves
#: each point by at most 1/128 of the spacing, while F's truncation there is ~10⁻⁵⁶ of its value.  The factor
#: is the one that tells two estimates of noise apart, above.
ROUNDING_SPACING = 64.0


class NotRepeatable(Exception):
    """Two evaluations of F at the same point gave different values (``first``, ``second``)."""

    def __init__(self, first: float, second: float):
        super().__init__(f"{first!r} and {second!r}")
        self.first, self.second = first, second


class CodeRaised(Exception):
    """The code under check raised; ``error`` is what it raised."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


def noise(values: Sequence[float]) -> float:
    """σ, the noise of F from values at equally spaced points (ECnoise): the largest of the 4th–6th difference estimates."""
    f = np.asarray(values, dtype=np.float64)
    out = 0.0
    for k in range(4, min(7, len(f))):
        d = np.diff(f, k)
        out = max(out, float(np.sqrt(np.mean(d**2) / comb(2 * k, k))))
    return out


class BlackBox:
    """F(θ) from ``bind(arrays)``, a thunk computing F at ``arrays``; θ starts at ``base`` (copied to float64, never given out writable).

    Binding once and calling many times matters: in the elementwise sweep the arrays are the same
    objects every call (perturbed in place), so the arguments are built once, not 2n times.
    """

    def __init__(self, bind: Callable[[list[np.ndarray]], Callable[[], Any]], base: Sequence[np.ndarray], names: Sequence[str],
                 what: str, rtol: float, allow_complex: bool = True):
        self.bind = bind
        self.base = [np.array(a, dtype=np.float64) for a in base]
        self.names = list(names)
        self.what = what
        self.rtol = rtol
        self.evaluations = 0
        self.copying = False
        self.warnings = Recorder()
        self._views = [_read_only(a) for a in self.base]
        self._complex: Optional[tuple[bool, str]] = None if allow_complex else (False, "not asked for")
        self.rounding_error: Optional[float] = None  # ε_F, set by ``line``
        self.step_scale = 1.0  # set by ``line``: below 1 when F is not smooth at the scale of ε^⅓
        with self.warnings:
            self.f0 = self.real(self._views, "the inputs given")
            again = self.real(self._views, "the inputs given")
        same = again == self.f0 or abs(again - self.f0) <= rtol * abs(self.f0) or (np.isnan(again) and np.isnan(self.f0))
        if not same:  # a nan twice is the same answer (and fails later, as non-finite)
            raise NotRepeatable(self.f0, again)

    @property
    def size(self) -> int:
        return sum(a.size for a in self.base)

    # --- one evaluation -------------------------------------------------------------------------------------

    def value(self, arrays: Sequence[np.ndarray]) -> complex:
        """F at ``arrays`` (real or complex); CodeRaised if the code raises."""
        return self.call(self.bind(list(arrays)), arrays)

    def call(self, thunk: Callable[[], Any], arrays: Sequence[np.ndarray]) -> complex:
        """F by a thunk bound to ``arrays``, as a complex number; CodeRaised if the code raises."""
        if self.copying:
            thunk = self.bind([np.array(a) for a in arrays])
        self.evaluations += 1
        try:
            out = thunk()
        except CheckError:
            raise
        except Exception as e:
            if not self.copying and isinstance(e, ValueError) and "read-only" in str(e):
                self.copying = True  # it writes into its inputs: from now on each call gets its own copies
                self.evaluations -= 1
                return self.call(thunk, arrays)
            raise CodeRaised(e) from e
        if type(out) is float or type(out) is np.float64:
            return complex(out)
        v = np.asarray(out)
        if v.ndim != 0 or v.dtype.kind not in "fciub":
            raise CheckError(f"{self.what} returned {type(out).__name__} of shape {v.shape}; expected a number")
        return complex(v[()])

    def real(self, arrays: Sequence[np.ndarray], where: str) -> float:
        """F at a real point, as a float; CheckError naming the point if the code raises there."""
        try:
            return self.value(arrays).real
        except CodeRaised as e:
            raise CheckError(f"{self.what} raised {describe_error(e.error)} when evaluated at {where}") from e.error

    # --- directions -----------------------------------------------------------------------------------------

    def step(self) -> float:
        return self.step_scale * CENTRAL_STEP * self._size_of_theta()

    def _size_of_theta(self) -> float:
        return max(1.0, max((float(np.max(np.abs(a))) for a in self.base if a.size), default=1.0))

    def _moved(self, u: Sequence[np.ndarray], s: float) -> list[np.ndarray]:
        return [_read_only(a + s * v) for a, v in zip(self.base, u)]

    def line(self, u: Sequence[np.ndarray]) -> tuple[float, float, list[np.ndarray]]:
        """Central differences along u at seven points θ + j·h·u, j = −3…3: (D(h), its error bound, the direction really taken).

        Sets ``rounding_error`` ε_F from the noise of F (``_noise_along``) and ``step_scale``.  The direction
        returned is the displacement θ(+h) − θ(−h) actually realised in floating point, divided by 2h: the
        candidate is compared along that, so the rounding of θ + h·u costs nothing.
        """
        h = self.step()
        points, f = self._along(u, h, (-3, -2, -1, 1, 2, 3), "a random direction")
        f[0] = self.f0
        values = [f[j] for j in range(-3, 4)]
        sigma = self._noise_along(u, h, noise(values)) if np.all(np.isfinite(values)) else 0.0
        self.rounding_error = max(NOISE_SIGMAS * sigma, 2 * EPS * abs(self.f0))
        return self._central(points, f, h)

    def _noise_along(self, u: Sequence[np.ndarray], h: float, sigma: float) -> float:
        """σ, the noise of F: ``sigma`` (measured at spacing h around θ) measured again at smaller spacings beside θ
        until it stops shrinking (``NOISE_SHRINK``); sets ``step_scale`` to the spacing where it stopped, over h."""
        spacing = h
        for _ in range(NOISE_LEVELS):
            spacing /= NOISE_SHRINK
            smaller = self._noise_beside(u, spacing)
            if not (np.isfinite(smaller) and smaller < sigma / NOISE_DROP):
                return sigma
            sigma, self.step_scale = smaller, self.step_scale / NOISE_SHRINK
        return min(sigma, NOISE_DROP * self._rounding_noise(u))  # still shrinking at the last level

    def _noise_beside(self, u: Sequence[np.ndarray], spacing: float, resolved: bool = False) -> float:
        """σ from F at θ + j·spacing·u, j = 4…10 (beside θ, so a kink at θ is outside); with ``resolved``,
        inf when F took fewer than seven distinct values there (it does not resolve that spacing)."""
        _, f = self._along(u, spacing, range(4, 11), "a random direction")
        values = [f[j] for j in range(4, 11)]
        return np.inf if resolved and len(set(values)) < len(values) else noise(values)

    def _rounding_noise(self, u: Sequence[np.ndarray]) -> float:
        """What rounding alone does to F: σ at ``ROUNDING_SPACING``·ε·max(1, |θ|), where truncation (∝ s⁴) is
        gone and a kink shows only if it lies within a few hundred ulps beside θ.  inf (no cap) where F
        does not resolve that spacing, e.g. code that computes in float32 inside."""
        return self._noise_beside(u, ROUNDING_SPACING * EPS * self._size_of_theta(), resolved=True)

    def sides_along(self, u: Sequence[np.ndarray], h: float) -> tuple[np.ndarray, ...]:
        """(F(θ + h·u), F(θ − h·u), h, h) as one-element arrays, for ``kinks`` along a direction."""
        _, f = self._along(u, h, (-1, 1), "a random direction")
        return np.array([f[1]]), np.array([f[-1]]), np.array([h]), np.array([h])

    def central(self, u: Sequence[np.ndarray]) -> tuple[float, float, list[np.ndarray]]:
        """D(h) along u, its bound, and the direction really taken (four evaluations)."""
        h = self.step()
        return self._central(*self._along(u, h, (-2, -1, 1, 2), "a direction"), h)

    def _along(self, u: Sequence[np.ndarray], h: float, steps: Sequence[int],
               direction: str) -> tuple[dict[int, list[np.ndarray]], dict[int, float]]:
        """The points θ + j·h·u for j in ``steps``, and F at each."""
        points = {j: self._moved(u, j * h) for j in steps}
        with self.warnings:
            f = {j: self.real(p, f"the inputs moved by {j}·{h:.1e} along {direction}") for j, p in points.items()}
        return points, f

    def _central(self, points: Mapping[int, list[np.ndarray]], f: Mapping[int, float],
                 h: float) -> tuple[float, float, list[np.ndarray]]:
        """D(h), its bound |D(h) − D(2h)| + 3·ε_F / h, and the direction really taken, from F at ±h and ±2h."""
        d1 = (f[1] - f[-1]) / (2 * h)
        d2 = (f[2] - f[-2]) / (4 * h)
        taken = [(p - m) / (2 * h) for p, m in zip(points[1], points[-1])]
        return d1, float(central_bound(d1, d2, self.rounding_error, h)), taken  # a Python float, as before

    def richardson(self, u: Sequence[np.ndarray]) -> tuple[float, float, list[np.ndarray]]:
        """R(h) = (4D(h) − D(2h))/3 along u, h = ε^⅕·max(1, |θ|) (six evaluations), its bound, and the direction
        really taken, (4t₁ − t₂)/3 with t_m the displacement realised at ±m·h over 2mh.

        Its rounding term is ε_F/h at a step 120 times longer than central's: for a large F (a loss summed
        over 1e5 elements), where central differences cannot see 1e-6 of the largest element, this can.
        """
        h = RICHARDSON_STEP * self._size_of_theta()
        points, f = self._along(u, h, (-4, -2, -1, 1, 2, 4), "a direction")
        d = {m: (f[m] - f[-m]) / (2 * m * h) for m in (1, 2, 4)}
        r, bound = richardson_bound(d[1], d[2], d[4], self.rounding_error, h)
        t = {m: [(p - q) / (2 * m * h) for p, q in zip(points[m], points[-m])] for m in (1, 2)}
        return float(r), float(bound), [(4 * a - b) / 3 for a, b in zip(t[1], t[2])]

    def complex_step(self, u: Sequence[np.ndarray]) -> float:
        """Im F(θ + ih·u) / h; CodeRaised or ``_Discarded`` when the code cannot carry it."""
        arrays = [_read_only(a + (1j * COMPLEX_STEP) * v) for a, v in zip(self.base, u)]
        seen = Recorder()
        with seen:
            v = self.value(arrays)
        if seen.complex_discarded:
            raise _Discarded(seen.summary())
        return v.imag / COMPLEX_STEP

    # --- is complex step valid here? ------------------------------------------------------------------------

    def complex_status(self, u: Sequence[np.ndarray], central: float, bound: float) -> tuple[bool, str, Optional[float]]:
        """(valid, why not, the complex-step value along u): the self-test, given central differences along u."""
        if self._complex is not None and not self._complex[0]:
            return False, self._complex[1], None
        if not (np.isfinite(central) and np.isfinite(bound)):  # nothing to test against: never trust it untested
            self._complex = (False, "its self-test needs central differences, and F is not finite within "
                             f"{3 * self.step():.1e} of the inputs along a random direction")
            return False, self._complex[1], None
        why = f"complex step needs {self.what} to accept complex input and keep the imaginary part, but "
        try:
            cs = self.complex_step(u)
        except CodeRaised as e:
            self._complex = (False, why + f"{self.what} raised {describe_error(e.error)} on complex input")
            return False, self._complex[1], None
        except _Discarded as e:
            self._complex = (False, why + f"{self.what} discarded an imaginary part ({e}): somewhere it turns complex "
                             "values real (float(), .astype(float), or a write into a float array)")
            return False, self._complex[1], None
        if not np.isfinite(cs) or abs(cs - central) > bound + self.rtol * abs(cs):
            self._complex = (False, why + f"along a random direction complex step gives {cs:.10e} and central differences "
                             f"{central:.10e} ± {bound:.1e}, so {self.what} is not analytic in its inputs "
                             "(np.abs, np.var, .real, max/min or comparisons on complex numbers drop the derivative)")
            return False, self._complex[1], cs
        self._complex = (True, "")
        return True, "", cs

    # --- every element --------------------------------------------------------------------------------------

    def central_elements(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """D(h) for every element of input ``i`` (two evaluations each), the steps (exact in floating point),
        and F at θ + h and θ − h for each element (for the kink test of ``sides_at``)."""
        flat = self.base[i].reshape(-1)
        theta = flat.copy()
        up = (theta + self.step_scale * CENTRAL_STEP * np.maximum(1.0, np.abs(theta))) - theta
        down = theta - (theta - up)
        plus, minus = np.empty(flat.size), np.empty(flat.size)
        thunk = self.bind(self._views)
        with self.warnings:
            for k in range(flat.size):
                try:
                    flat[k] = theta[k] + up[k]
                    plus[k] = self.call(thunk, self._views).real
                    flat[k] = theta[k] - down[k]
                    minus[k] = self.call(thunk, self._views).real
                except CodeRaised as e:
                    at = element_at(self.names[i], k, self.base[i].shape)
                    raise CheckError(f"{self.what} raised {describe_error(e.error)} when evaluated at {at} ± {up[k]:.1e}") from e.error
                finally:
                    flat[k] = theta[k]
                if k % 4096 == 4095:
                    self.warnings.flush()
        shape = self.base[i].shape
        return ((plus - minus) / (up + down)).reshape(shape), ((up + down) / 2).reshape(shape), plus, minus

    def sides_at(self, i: int, flat_indices: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """F at θ + h and θ − h for the given flat elements of input ``i``, and the steps really taken up and down."""
        flat = self.base[i].reshape(-1)
        plus, minus, up, down = (np.empty(len(flat_indices)) for _ in range(4))
        with self.warnings:
            for n, (k, hk) in enumerate(zip(flat_indices, h)):
                theta = flat[k]
                at = element_at(self.names[i], k, self.base[i].shape)
                try:
                    flat[k] = theta + hk
                    plus[n], up[n] = self.real(self._views, f"{at} + {hk:.1e}"), flat[k] - theta
                    flat[k] = theta - hk
                    minus[n], down[n] = self.real(self._views, f"{at} - {hk:.1e}"), theta - flat[k]
                finally:
                    flat[k] = theta
        return plus, minus, up, down

    def complex_elements_at(self, i: int, flat_indices: np.ndarray) -> np.ndarray:
        """Complex-step derivatives for the given flat elements of input ``i`` (one evaluation each)."""
        out = np.empty(len(flat_indices))
        for n, k in enumerate(flat_indices):
            u = [np.zeros(a.shape) for a in self.base]
            u[i].reshape(-1)[k] = 1.0
            try:
                out[n] = self.complex_step(u)
            except (CodeRaised, _Discarded) as e:  # valid along a random direction, not here: say so, never guess
                raise CheckError(f"{self.what}: complex step at {element_at(self.names[i], k, self.base[i].shape)} "
                                 f"failed ({e}) although it passed its self-test") from e
        return out


def kinks(f0: float, sides: tuple, halves: tuple, rounding: float, slack: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple]:
    """Where F is not differentiable within the step, from F at θ ± h and θ ± h/2 (``sides``, ``halves``:
    each (F(θ + h), F(θ − h), the step up, the step down), arrays over elements or directions).

    A smooth F gives D(h) − D(h/2) = h²F‴/8, far below the spread of the one-sided slopes, hF″ (hence the
    /16), and a spread that halves with the step; a kink at c moves D by at least 1/10 of that spread where
    0.2h < |c| < h, and breaks the halving where |c| < 0.3h.  Beyond the rounding of each (9 and 20 ε_F/h)
    and ``slack``.  Returns (kink, moved: the kink is off the point, (the lower, the upper one-sided slope at h/2)).
    """
    plus, minus, up, down = sides
    plus2, minus2, up2, down2 = halves
    h = (up + down) / 2
    d1, d2 = (plus - minus) / (up + down), (plus2 - minus2) / (up2 + down2)
    right, left, right2, left2 = (plus - f0) / up, (f0 - minus) / down, (plus2 - f0) / up2, (f0 - minus2) / down2
    moved = np.abs(d1 - d2) > 9 * rounding / h + slack + np.abs(right - left) / 16
    spread = np.abs((right - left) - 2 * (right2 - left2)) > 20 * rounding / h + slack
    side = np.abs(right - right2) > np.abs(left - left2)  # the kink lies above θ: the right slopes disagree
    return moved | spread, np.where(moved, np.where(side, 1, -1), 0), (np.minimum(left2, right2), np.maximum(left2, right2))


class _Discarded(Exception):
    """The code turned a complex value real (numpy's ComplexWarning)."""


def _read_only(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v
