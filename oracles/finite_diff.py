"""Finite-difference oracles: central differences, Richardson extrapolation, complex step.

Every estimator runs in float64 whatever the candidate's dtype, and returns an
``Estimate``: the gradient and, per element, a bound on its own error, which the
comparison adds to its tolerance (``oracles.compare``).

Steps (ε = 2⁻⁵² ≈ 2.2e-16) are measured in z, not in θ: the objective adds the step's effect
h·aˡ⁻¹ to zˡ directly, so θ + h is never formed or rounded, and what sets the right step is the
curvature of the activations in z (scale 1).  Each parameter's step is the base step divided by
its reach (``Objective.reach``), the most a unit step in it can move any downstream pre-activation.
(Steps scaled by |θ| once moved z by 1.2 for a weight of 400; unscaled steps moved an output
layer with weights ~1e4 by ~7: both past where the error estimates hold, both found by the
thorough profile.)

- central   D(h) = [C(θ + h e_k) − C(θ − h e_k)] / 2h,  h = ε^⅓ / reach ≈ 6.1e-6 / reach.
            Error = truncation h² C'''/6 + rounding ≤ ε_C/h; h ≈ ε^⅓ balances the two, leaving
            ~ε^⅔ ≈ 4e-11 relative (measured here: best near h ≈ 1e-5, ~1e-10 relative).
            Error bound: |D(h) − D(2h)| (three times D(h)'s truncation) + 3 ε_C/h.
- richardson R(h) = [4 D(h) − D(2h)] / 3 cancels the h² term; h = ε^⅕ / reach ≈ 7.4e-4 / reach balances h⁴
            against ε/h.  Error bound: |R(h) − R(2h)| + 5 ε_C/h.
- kinks     a relu / leaky_relu unit closer to its kink than the widest step would move it shrinks the step
            of every parameter upstream of it to half that distance, so no difference straddles the kink
            (a unit 2e-6 above it had central differences off by 4× their bound).
- complex   Im C(θ + ih e_k) / h with h = 1e-20: no subtraction, so no cancellation; exact to
            rounding.  Valid only when C is analytic: refused for relu / leaky_relu.

ε_C, the rounding error of one evaluation of C, is bounded as 2·D·ε·(|C| + M), with D the
op depth (``compare.op_depth``) and M the largest |z| of the output layer times the batch
weight (1 for mean, N for sum), since log-sum-exp and softplus handle numbers that large; for a
one-class softmax (C ≡ 0: a flat objective) the log of the exponentials' sum adds ε·1 per example.
"""

from __future__ import annotations

import concurrent.futures
import os
from typing import Callable, Mapping, Sequence

import numpy as np

from bpcheck.reference.spec import NetworkSpec

from .compare import Estimate, op_depth
from .objective import Objective

EPS = float(np.finfo(np.float64).eps)
CENTRAL_STEP = EPS ** (1 / 3)
RICHARDSON_STEP = EPS ** (1 / 5)
COMPLEX_STEP = 1e-20
#: Elements per intermediate array in a batched sweep: 2^18 float64 = 2 MB.  On the 784-64-10 benchmark,
#: with chunks sized by the layers a perturbation touches, 2^16–2^20 measured within noise of each other
#: (central differences 0.4–1.0 s on a shared machine); 2^18 was at or near the fastest in each run.
CHUNK_ELEMENTS = 1 << 18
WORKERS = max(1, min(4, os.cpu_count() or 1))


class ComplexStepNotValid(ValueError):
    """Complex step was asked for an objective that is not analytic."""


def _float64(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}


def _sweep(obj: Objective, name: str, step_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """C(θ + step_of(k) e_k) for every flat index k of ``name``, in chunks that fit ``CHUNK_ELEMENTS``."""
    size = obj.params[name].size
    per_row = obj.x.shape[0] * obj.widest_after(int(name[1:]))
    chunk = max(1, CHUNK_ELEMENTS // per_row)
    starts = range(0, size, chunk)

    def one(start: int) -> np.ndarray:
        flat = np.arange(start, min(size, start + chunk))
        return obj.perturbed(name, flat, step_of(flat))

    if len(starts) < 4:
        return np.concatenate([one(s) for s in starts])
    # numpy releases the GIL inside its loops, so threads put every core to work on separate chunks
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return np.concatenate(list(pool.map(one, starts)))


def central_bound(d1: np.ndarray, d2: np.ndarray, rounding: float, h: float) -> np.ndarray:
    """The error bound of central difference D(h) = d1, given D(2h) = d2: 3× its truncation plus 3 ε_C/h."""
    return np.abs(d1 - d2) + 3 * rounding / h


def richardson_bound(d1: np.ndarray, d2: np.ndarray, d4: np.ndarray, rounding: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """R(h) = (4D(h) − D(2h))/3 from D(h), D(2h), D(4h), and its error bound |R(h) − R(2h)| + 5 ε_C/h.

    |R(h) − R(2h)| is 15 times R(h)'s h⁴ truncation; the rounding of R(h) is at most (4 + ½)/3 = 1.5 ε_C/h
    and that of R(2h), inside the difference, 0.75 ε_C/h: 5 covers both with room.
    """
    r1 = (4 * d1 - d2) / 3
    return r1, np.abs(r1 - (4 * d2 - d4) / 3) + 5 * rounding / h


def _rounding(obj: Objective) -> float:
    """ε_C: a bound on the rounding error of one evaluation of C (see the module docstring)."""
    weight = 1.0 if obj.spec.reduction == "mean" else float(obj.x.shape[0])
    M = weight * float(np.max(np.abs(obj.z[-1])))
    if obj.spec.loss == "softmax_ce" and obj.spec.sizes[-1] == 1:
        # log-sum-exp takes the log of a sum s ≥ 1 of exponentials, which rounds at ~ε·1 per example.  With two
        # classes or more every example has ℓ + max|z| ≥ log 2, so |C| + M counts that already; one class
        # makes ℓ ≡ 0 (a flat objective), and the term is added.
        M += weight
    return 2 * op_depth(obj.spec, obj.x.shape[0]) * EPS * (abs(obj.value) + M)


def _kink_gap(obj: Objective, l: int) -> float:
    """The smallest |z| of any relu / leaky_relu unit in layer l or later (inf when there is none)."""
    gaps = [float(np.min(np.abs(obj.z[k]))) for k in range(l, obj.spec.depth + 1)
            if obj.spec.activations[k - 1] in ("relu", "leaky_relu") and obj.z[k].size]
    return min(gaps, default=float("inf"))


def _step(obj: Objective, name: str, base: float, widest: int) -> float:
    """The step for parameter ``name``: base / reach, shrunk so that ``widest`` steps move no relu across its kink.

    A step s moves every downstream pre-activation by at most s·reach; half the distance to the nearest kink
    keeps every difference on one side, where C is smooth (a unit exactly at its kink is left to the
    magnitude pass, which reports it: see ``oracles.magnitudes``).
    """
    reach = obj.reach(name)
    gap = _kink_gap(obj, int(name[1:]))
    h = base / reach
    return min(h, gap / (2 * widest * reach)) if gap > 0 else h


def _differences(obj: Objective, base: float, multiples: Sequence[int]) -> dict[str, tuple[float, list[np.ndarray]]]:
    """Per parameter: its step h = base / reach, and the central differences D(m·h) for each multiple m."""
    out: dict[str, tuple[float, list[np.ndarray]]] = {}
    for name, p in obj.params.items():
        h = _step(obj, name, base, max(multiples))
        ds = []
        for m in multiples:
            plus = _sweep(obj, name, lambda k: np.full(len(k), m * h))
            minus = _sweep(obj, name, lambda k: np.full(len(k), -m * h))
            ds.append(((plus - minus) / (2 * m * h)).reshape(p.shape))
        out[name] = (h, ds)
    return out


def central(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Estimate:
    """Central differences with step ε^⅓ / reach, batched per layer."""
    obj = Objective(spec, _float64(params), x, y)
    rounding = _rounding(obj)
    grads, error = {}, {}
    for name, (h, (d1, d2)) in _differences(obj, CENTRAL_STEP, (1, 2)).items():
        grads[name] = d1
        error[name] = central_bound(d1, d2, rounding, h)
    return Estimate("central", grads, error)


def richardson(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Estimate:
    """Richardson extrapolation of central differences, (4D(h) − D(2h))/3, step ε^⅕ / reach."""
    obj = Objective(spec, _float64(params), x, y)
    rounding = _rounding(obj)
    grads, error = {}, {}
    for name, (h, (d1, d2, d4)) in _differences(obj, RICHARDSON_STEP, (1, 2, 4)).items():
        grads[name], error[name] = richardson_bound(d1, d2, d4, rounding, h)
    return Estimate("richardson", grads, error)


def complex_step(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Estimate:
    """Im C(θ + ih e_k)/h, h = 1e-20: derivatives exact to rounding, for analytic objectives only."""
    if not spec.analytic:
        kinks = sorted({a for a in spec.activations if a in ("relu", "leaky_relu")})
        raise ComplexStepNotValid(
            f"complex step needs an analytic objective, but this network uses {', '.join(kinks)} "
            "(not differentiable at 0, and not analytic anywhere); use central or richardson instead"
        )
    obj = Objective(spec, _float64(params), x, y)
    grads, error = {}, {}
    for name, p in obj.params.items():
        values = _sweep(obj, name, lambda k: np.full(len(k), 1j * COMPLEX_STEP))
        grads[name] = (values.imag / COMPLEX_STEP).reshape(p.shape)
        error[name] = np.full(p.shape, complex_step_underflow(spec, np.shape(x)[0]))
    return Estimate("complex_step", grads, error)


def complex_step_underflow(spec: NetworkSpec, batch: int) -> float:
    """The absolute error gradual underflow leaves in Im C(θ + ih e_k)/h.

    The imaginary part is ~h·∂C/∂θ_k, carried through at most D operations (``op_depth``); in the standard model
    with gradual underflow each may add an absolute error of at most 2⁻¹⁰⁷⁵ (half the smallest subnormal), and
    dividing by h = 1e-20 multiplies that by 1e20: at most D·2⁻¹⁰⁷⁴/h, about 5e-304·D.  Only gradients that small
    notice it (a softmax probability of e⁻⁷¹², whose imaginary part falls below the subnormals and reads as 0).
    """
    return op_depth(spec, batch) * float(np.finfo(np.float64).smallest_subnormal) / COMPLEX_STEP


def rademacher(spec: NetworkSpec, passes: int, seed: int) -> dict[str, np.ndarray]:
    """``passes`` random directions with entries ±1, one stack (passes, *shape) per parameter."""
    rng = np.random.default_rng(seed)
    return {name: rng.choice(np.array([-1.0, 1.0]), size=(passes, *shape)) for name, shape in spec.param_shapes().items()}


def directional(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                directions: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """D_v C for each stacked direction v (k of them): complex step when C is analytic, else central differences.

    Returns (values (k,), error bounds (k,)).  Every parameter moves at once, so k directions cost k
    passes instead of one pass per parameter.
    """
    obj = Objective(spec, _float64(params), x, y)
    if spec.analytic:
        moved = {k: obj.params[k] + 1j * COMPLEX_STEP * directions[k] for k in obj.params}
        return (obj.value_at(moved).imag / COMPLEX_STEP,
                np.full(len(next(iter(directions.values()))), complex_step_underflow(spec, np.shape(x)[0])))
    # central differences along v, the step divided by the largest reach times the directions' size, as
    # for the elementwise differences
    h = CENTRAL_STEP / max(obj.reach(k) * max(1.0, float(np.max(np.abs(v)))) for k, v in directions.items())
    d = {}
    for m in (1, 2):
        plus = obj.value_at({k: obj.params[k] + m * h * directions[k] for k in obj.params})
        minus = obj.value_at({k: obj.params[k] - m * h * directions[k] for k in obj.params})
        d[m] = (plus - minus) / (2 * m * h)
    return d[1], central_bound(d[1], d[2], _rounding(obj), h)


def loss_value(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    """C(θ), evaluated in float64 by the independent objective."""
    return Objective(spec, _float64(params), x, y).value


METHODS: dict[str, Callable[..., Estimate]] = {
    "central": central,
    "richardson": richardson,
    "complex_step": complex_step,
}
