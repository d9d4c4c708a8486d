"""How a candidate gradient is compared with an oracle's, and when oracles agree.

Tolerance, derived rather than tuned
------------------------------------
Every gradient element is the end of a chain of floating-point operations: the forward dot
products (n_{l-1} terms per layer), the backward ones (n_{l+1} terms), the batch sum (N terms),
a few roundings per elementwise function, and the loss sum (n_L terms).  The op depth

    D = 2 Σ_l n_l + N + 8 L + n_L

bounds the length of that chain.  Each rounding contributes at most ε (the unit roundoff of
the candidate's dtype, 2⁻⁵² for float64, 2⁻²³ for float32), so to first order each side's
relative error is at most γ_D ≈ D·ε, and candidate and oracle together differ by at most

    rtol = 2 D ε.

Rounding errors are bounded relative to the *terms* a result is summed from, not to the result:
a sum of large terms that cancels, or a σ'(z) = a(1 − a) whose a has rounded to 1, is small
but carries the absolute error of its terms.  So each element k is compared with its own absolute
floor S_k, the magnitude of the terms behind it (``oracles.term_scale``: a magnitude pass through the
forward and the backward computation, ``oracles.magnitudes``), or, given one number S, with the global
floor max(S, G), G = max_k |o_k|:

    |g_k − o_k| ≤ rtol·(|o_k| + S_k) + e_k

where e_k is the oracle's own error bound (zero for autograd and complex step, the Richardson /
central difference estimate for finite differences; see ``finite_diff``), plus, where a gradient is
read indirectly (off a weight update, in the grader), the rounding that reading adds.  Each array also reports
its normwise relative error ‖g − o‖_F / ‖o‖_F, the figure the tables print, and the elements whose bound
exceeds ``COARSE`` of their value: those were checked only coarsely (a zeroed or sign-flipped value
would pass there), which the messages say.

The claim, its assumptions, a proof sketch, its known limits, and what is guaranteed (the exact oracle's
enclosures) against what is tested (this tolerance): docs/tolerance.md.

Consensus: two oracles agree when the same test passes between them with float64's ε and
both error bounds; a candidate's disagreement is only reported as a bug when the oracles agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from bpcheck.reference.spec import NetworkSpec


@dataclass
class Estimate:
    """An oracle's gradient: ``grads[name]`` and an elementwise bound on its own error ``error[name]``."""

    method: str
    grads: dict[str, np.ndarray]
    error: dict[str, np.ndarray]


def op_depth(spec: NetworkSpec, batch: int) -> int:
    """D, the longest chain of roundings behind one gradient element (see the module docstring)."""
    return 2 * sum(spec.sizes) + batch + 8 * spec.depth + spec.sizes[-1]


def rtol_for(spec: NetworkSpec, batch: int, dtype: np.dtype = np.dtype(np.float64)) -> float:
    """rtol = 2·D·ε for a candidate computed in ``dtype``."""
    return 2 * op_depth(spec, batch) * float(np.finfo(dtype).eps)


@dataclass
class ArrayResult:
    """One parameter's comparison: ``bad`` elements out of ``size`` exceed their bound."""

    name: str
    shape: tuple[int, ...]
    normwise: float
    max_abs: float
    worst: tuple[int, ...]
    candidate_at_worst: float
    oracle_at_worst: float
    bound_at_worst: float
    bad: int
    size: int
    worst_ratio: float = 0.0  # max |g − o| / bound: at most 1 when the array agrees
    sq_diff: float = 0.0
    sq_ref: float = 0.0
    floor_at_worst: float = 0.0  # S at the worst element
    coarse: int = 0  # elements whose bound exceeds COARSE × their value: checked only to ±bound
    coarse_at: tuple[int, ...] = ()
    coarse_value: float = 0.0
    coarse_bound: float = 0.0
    out_of_bound: Optional[np.ndarray] = field(default=None, repr=False)  # the elementwise verdict

    @property
    def ok(self) -> bool:
        return self.bad == 0


@dataclass
class Comparison:
    """A candidate against one oracle (or one oracle against another)."""

    oracle: str
    rtol: float
    scale: float
    arrays: list[ArrayResult] = field(default_factory=list)
    per_element: bool = False  # S_k per element (``term_scale``) rather than one global floor

    @property
    def ok(self) -> bool:
        return all(a.ok for a in self.arrays)

    @property
    def max_normwise(self) -> float:
        return max((a.normwise for a in self.arrays), default=0.0)

    @property
    def max_abs(self) -> float:
        return max((a.max_abs for a in self.arrays), default=0.0)

    @property
    def normwise(self) -> float:
        """‖g − o‖ / ‖o‖ over the whole gradient (every array as one vector)."""
        ref = sum(a.sq_ref for a in self.arrays) ** 0.5
        diff = sum(a.sq_diff for a in self.arrays) ** 0.5
        return diff / ref if ref > 0 else diff

    @property
    def worst_ratio(self) -> float:
        """The largest elementwise |error| / bound: at most 1 exactly when the comparison passes."""
        return max((a.worst_ratio for a in self.arrays), default=0.0)

    def failures(self) -> list[ArrayResult]:
        return [a for a in self.arrays if not a.ok]

    def message(self, show_expected: bool = True, coarse: bool = True) -> str:
        """What went wrong, per array: which elements, the worst error, the tolerance and where it came from.

        ``show_expected=False`` leaves the oracle's values out (for messages students or users see);
        ``coarse=False`` leaves out the note on elements checked only coarsely.
        """
        if self.ok:
            return (f"agrees with {self.oracle}: max normwise relative error {self.max_normwise:.2e}"
                    + (f"; but {self.coarse_note()}" if coarse and self.coarse_note() else ""))
        floor = ("per-element floor rtol·S_k, S_k the magnitude of element k's terms" if self.per_element
                 else f"absolute floor rtol·S with S = {self.scale:.3e}")
        lines = [f"disagrees with {self.oracle} (rtol = 2·D·ε = {self.rtol:.2e}, {floor}; docs/tolerance.md):"]
        for a in self.failures():
            lines.append(
                f"  {a.name} {a.shape}: {a.bad} of {a.size} elements out of tolerance; worst at {a.name}{list(a.worst)}: "
                f"got {a.candidate_at_worst:.10e}" + (f", expected {a.oracle_at_worst:.10e}" if show_expected else "") + " "
                f"(|error| {abs(a.candidate_at_worst - a.oracle_at_worst):.2e} > bound {a.bound_at_worst:.2e}"
                + (f", S_k {a.floor_at_worst:.2e}" if self.per_element else "") + f"); normwise relative error {a.normwise:.2e}"
            )
        return "\n".join(lines)

    def coarse_note(self) -> str:
        """'' when every element was checked to within ``COARSE`` of itself; else which were not, and how coarsely."""
        coarse = [a for a in self.arrays if a.coarse]
        if not coarse:
            return ""
        a = max(coarse, key=lambda r: r.coarse)
        return (f"{sum(r.coarse for r in coarse)} elements ({', '.join(f'{r.name}: {r.coarse}' for r in coarse)}) "
                f"were checked only coarsely: their bound exceeds {COARSE:g}× their value (e.g. {a.name}{list(a.coarse_at)}: "
                f"value {a.coarse_value:.2e}, bound {a.coarse_bound:.2e}), so a zeroed or sign-flipped value would pass there")


def _as_float64(name: str, value: object, shape: tuple[int, ...]) -> np.ndarray:
    """A plain float64 copy of ``value``; ValueError naming the array if its shape is not ``shape``."""
    arr = np.array(value, dtype=np.float64, copy=True, subok=False)
    if arr.shape != shape:
        raise ValueError(f"{name}: expected a gradient of shape {shape}, got {arr.shape}")
    return arr


#: An element is checked only coarsely when its bound exceeds this fraction of its value: a zeroed or
#: sign-flipped value would pass there.
COARSE = 0.5
#: The smallest floor: below the smallest normal number 2⁻¹⁰²² a value carries no relative accuracy, since each
#: operation may lose up to 2⁻¹⁰²² absolutely (a subnormal's spacing, or all of it where a library flushes subnormals
#: to zero, as XLA does on CPU).  As a floor, 2⁻¹⁰²²/ε makes that loss one rounding of rtol's budget: an element's
#: bound is never below 2·D·2⁻¹⁰²² (about 4.5e-308·D), which only values in the subnormal range ever notice.
UNDERFLOW_FLOOR = float(np.finfo(np.float64).tiny / np.finfo(np.float64).eps)

Scale = Union[float, Mapping[str, np.ndarray]]


def compare(
    candidate: Mapping[str, object],
    oracle: Mapping[str, np.ndarray],
    rtol: float,
    oracle_error: Optional[Mapping[str, np.ndarray]] = None,
    oracle_name: str = "oracle",
    scale: Scale = 0.0,
) -> Comparison:
    """Compare ``candidate`` with ``oracle`` array by array, under the bound in the module docstring.

    ``scale`` is S: per element, a mapping of arrays shaped like the gradients (``term_scale``), used as it
    is; or one number, the old global floor, used as max(S, G) with G = max_k |o_k|.
    """
    missing = [k for k in oracle if k not in candidate]
    if missing:
        raise ValueError(f"candidate gradients: missing {missing}; expected keys {list(oracle)}")
    ref = {k: np.asarray(v, dtype=np.float64) for k, v in oracle.items()}
    per_element = isinstance(scale, Mapping)
    if per_element:
        floors = {k: np.maximum(f, UNDERFLOW_FLOOR) for k, f in _floors(scale, ref).items()}
        G = max((float(np.max(f)) for f in floors.values() if f.size), default=0.0)
    else:
        G = max((float(np.max(np.abs(v))) for v in ref.values() if v.size), default=0.0)
        G = max(G, float(scale), UNDERFLOW_FLOOR)
        floors = {k: np.full(o.shape, G) for k, o in ref.items()}
    out = Comparison(oracle_name, rtol, G, per_element=per_element)
    for name, o in ref.items():
        g = _as_float64(name, candidate[name], o.shape)
        extra = None if oracle_error is None else oracle_error.get(name)
        e = np.zeros(o.shape) if extra is None else np.asarray(extra, dtype=np.float64)
        out.arrays.append(_array_result(name, g, o, rtol * (np.abs(o) + floors[name]) + e, floors[name]))
    return out


def _floors(scale: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-element floors, one array per gradient shaped like it (or one number); ValueError naming what is wrong."""
    missing = [k for k in ref if k not in scale]
    if missing:
        raise ValueError(f"scale: no floors for {missing}; expected one array per gradient, keys {list(ref)}")
    out = {}
    for k, o in ref.items():
        f = np.asarray(scale[k], dtype=np.float64)
        if f.ndim and f.shape != o.shape:
            raise ValueError(f"scale[{k!r}]: expected floors of shape {o.shape} (or one number), got {f.shape}")
        if not np.all(f >= 0):  # NaN fails this too
            raise ValueError(f"scale[{k!r}]: expected floors >= 0, got {f[~(f >= 0)].ravel()[:3].tolist()}")
        out[k] = np.broadcast_to(f, o.shape)
    return out


def _array_result(name: str, g: np.ndarray, o: np.ndarray, bound: np.ndarray, floor: np.ndarray) -> ArrayResult:
    """One array's comparison under elementwise ``bound``; NaN counts as an infinite error, and a bound that is
    not finite (an overflow in the floors or the oracle's error) checks nothing, so it fails closed."""
    if not o.size:
        return ArrayResult(name, o.shape, 0.0, 0.0, (), 0.0, 0.0, 0.0, 0, 0)
    diff = np.abs(g - o)
    diff = np.where(np.isnan(diff), np.inf, diff)
    bad = (diff > bound) | ~np.isfinite(bound)
    k = np.unravel_index(int(np.argmax(np.where(np.isfinite(bound), diff - bound, np.inf))), o.shape)
    norm_o = float(np.linalg.norm(o))
    norm_d = float(np.linalg.norm(np.where(np.isfinite(diff), diff, np.inf)))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / bound)
        coarse = bound > COARSE * np.abs(o)
        loose = np.where(coarse, bound / np.abs(o), 0.0)
    c = np.unravel_index(int(np.argmax(loose)), o.shape)
    return ArrayResult(
        name=name, shape=o.shape, normwise=norm_d / norm_o if norm_o > 0 else norm_d, max_abs=float(diff.max()),
        worst=tuple(int(i) for i in k), candidate_at_worst=float(g[k]), oracle_at_worst=float(o[k]),
        bound_at_worst=float(bound[k]), bad=int(np.sum(bad)), size=o.size,
        worst_ratio=float(np.max(ratio)), sq_diff=norm_d**2, sq_ref=norm_o**2, floor_at_worst=float(floor[k]),
        coarse=int(np.sum(coarse)), coarse_at=tuple(int(i) for i in c), coarse_value=float(o[c]),
        coarse_bound=float(bound[c]), out_of_bound=bad,
    )


@dataclass
class Consensus:
    """Whether every pair of oracles agrees; ``disagreements`` lists the pairs that do not."""

    names: list[str]
    disagreements: list[tuple[str, str, Comparison]]

    @property
    def ok(self) -> bool:
        return not self.disagreements


def consensus(estimates: Sequence[Estimate], spec: NetworkSpec, batch: int, scale: Scale = 0.0) -> Consensus:
    """Check every pair of oracle estimates against each other (``scale``: S, as in ``compare``)."""
    rtol = rtol_for(spec, batch, np.dtype(np.float64))
    bad = []
    for i, a in enumerate(estimates):
        for b in estimates[i + 1 :]:
            error = {k: a.error[k] + b.error[k] for k in a.grads}
            c = compare(a.grads, b.grads, rtol, error, oracle_name=b.method, scale=scale)
            if not c.ok:
                bad.append((a.method, b.method, c))
    return Consensus([e.method for e in estimates], bad)
