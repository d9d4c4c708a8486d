"""The public gradient-check API: check anyone's gradient code against the oracles.

    from oracles.gradcheck import assert_gradients
    assert_gradients(spec, params, x, y, my_grads)            # raises AssertionError naming what is wrong

    from oracles.gradcheck import check_function
    result = check_function(loss, grad, [W, b])               # any loss of a list of arrays

Two modes, chosen automatically (``mode="auto"``):

- **full**: every element against finite differences (complex step when the network is analytic,
  central differences otherwise), batched per layer; plus torch and jax when installed.  Used when
  the network has at most ``FULL_CHECK_LIMIT`` parameters.
- **fast**: ``FAST_PASSES`` = 8 directional derivatives along random ±1 directions, each one pass of
  the network (complex step: exact to rounding).  A single wrong element changes every directional
  derivative by its full error, so one pass suffices to see it; eight make cancellation between
  several wrong elements unlikely (2⁻⁸ for two equal errors of opposite effect).  Used beyond the limit.

Tolerances follow from the candidate's dtype (float32 code is checked with float32's ε, and the
result says so); see ``oracles.compare``.  Messages name the array, the elements, the worst error,
the tolerance and where it came from; they show the oracle's values only with ``show_expected=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from reference.spec import NetworkSpec, check_params

from . import finite_diff
from .compare import Comparison, compare, rtol_for
from .objective import Objective

#: Networks with at most this many parameters get the full elementwise check.
FULL_CHECK_LIMIT = 20_000
FAST_PASSES = 8


@dataclass
class GradientCheck:
    """The outcome of a check; ``message()`` explains it."""

    ok: bool
    mode: str
    dtype: str
    comparisons: list[Comparison] = field(default_factory=list)
    fast: Optional[dict] = None
    skipped: dict[str, str] = field(default_factory=dict)

    def message(self, show_expected: bool = False) -> str:
        head = (f"gradient check ({self.mode}, {self.dtype} tolerances"
                + (", ε = 2⁻²³: float32 code is held to float32 accuracy" if self.dtype == "float32" else "") + ")")
        lines = [f"{head}: {'passed' if self.ok else 'FAILED'}"]
        for c in self.comparisons:
            lines.append(c.message(show_expected=show_expected))
        if self.fast is not None:
            f = self.fast
            lines.append(f"fast check along {f['passes']} random ±1 directions ({f['oracle']}): "
                         f"{f['failed']} of {f['passes']} directional derivatives out of tolerance "
                         f"(worst |error| {f['worst']:.3e}, tolerance {f['tolerance']:.3e} = rtol·(‖g‖₁ + n·S) + oracle error)")
        for name, why in self.skipped.items():
            lines.append(f"{name}: not run ({why})")
        return "\n".join(lines)


def _dtype_of(grads: Mapping[str, object]) -> np.dtype:
    kinds = {np.asarray(g).dtype for g in grads.values()}
    return np.dtype(np.float32) if kinds == {np.dtype(np.float32)} else np.dtype(np.float64)


def _fast(spec: NetworkSpec, params, x, y, grads: Mapping[str, np.ndarray], rtol: float, seed: int, passes: int) -> dict:
    v = finite_diff.rademacher(spec, passes, seed)
    expected, oracle_error = finite_diff.directional(spec, params, x, y, v)
    got = sum(v[k].reshape(passes, -1) @ np.asarray(grads[k], dtype=np.float64).ravel() for k in v)
    obj = Objective(spec, {k: np.asarray(p, dtype=np.float64) for k, p in params.items()}, x, y)
    n = sum(np.size(g) for g in grads.values())
    l1 = sum(float(np.sum(np.abs(np.asarray(g, dtype=np.float64)))) for g in grads.values())
    tolerance = rtol * (l1 + n * obj.term_scale()) + oracle_error
    err = np.abs(got - expected)
    err = np.where(np.isnan(err), np.inf, err)
    return {"passes": passes, "oracle": "complex step" if spec.analytic else "central differences",
            "failed": int(np.sum(err > tolerance)), "worst": float(np.max(err)), "tolerance": float(np.max(tolerance))}


def check_gradients(
    spec: NetworkSpec,
    params: Mapping[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    grads: Mapping[str, object],
    mode: str = "auto",
    frameworks: Sequence[str] = ("torch", "jax"),
    seed: int = 0,
) -> GradientCheck:
    """Check claimed gradients ``grads`` (W1, b1, ... like ``params``) of the network ``spec`` at (params, x, y)."""
    from . import run_oracle, term_scale, unavailable

    params = check_params(spec, params)
    missing = [k for k in spec.param_shapes() if k not in grads]
    if missing:
        raise ValueError(f"grads: missing {missing}; expected keys {list(spec.param_shapes())}")
    dtype = _dtype_of(grads)
    batch = np.asarray(x).shape[0]
    rtol = rtol_for(spec, batch, dtype)
    n = sum(int(np.prod(s)) for s in spec.param_shapes().values())
    if mode == "auto":
        mode = "full" if n <= FULL_CHECK_LIMIT or not spec.analytic else "fast"
    if mode not in ("full", "fast"):
        raise ValueError(f"mode: expected 'auto', 'full' or 'fast', got {mode!r}")
    result = GradientCheck(True, mode, str(dtype))
    if mode == "fast":
        result.fast = _fast(spec, params, x, y, grads, rtol, seed, FAST_PASSES)
        result.ok = result.fast["failed"] == 0
        return result
    scale = term_scale(spec, params, x, y)
    names = ["complex_step" if spec.analytic else "central", *frameworks]
    for name in names:
        why = unavailable(name, spec)
        if why:
            result.skipped[name] = why
            continue
        est = run_oracle(name, spec, params, x, y)
        c = compare(grads, est.grads, rtol, est.error, name, scale)
        result.comparisons.append(c)
        result.ok = result.ok and c.ok
    return result


def assert_gradients(spec: NetworkSpec, params, x, y, grads, **kwargs) -> GradientCheck:
    """``check_gradients`` that raises AssertionError with the explanation when the check fails."""
    result = check_gradients(spec, params, x, y, grads, **kwargs)
    if not result.ok:
        raise AssertionError(result.message())
    return result


def check_backward(
    backward: Callable[[NetworkSpec, dict, np.ndarray, np.ndarray], Mapping[str, object]],
    spec: NetworkSpec, params, x, y, **kwargs,
) -> GradientCheck:
    """Check a candidate ``backward(spec, params, x, y) -> grads``; it gets copies, so it cannot change the case."""
    grads = backward(spec, {k: np.array(v, copy=True) for k, v in params.items()}, np.array(x, copy=True), np.array(y, copy=True))
    return check_gradients(spec, params, x, y, grads, **kwargs)


# --- any loss of a list of arrays ------------------------------------------------------------------------


def check_function(
    loss: Callable[[list[np.ndarray]], float],
    grad: Callable[[list[np.ndarray]], Sequence[np.ndarray]],
    arrays: Sequence[np.ndarray],
    analytic: bool = False,
    names: Optional[Sequence[str]] = None,
    rtol: Optional[float] = None,
) -> GradientCheck:
    """Check ``grad(arrays)`` against differences of ``loss(arrays)``, element by element.

    ``analytic=True`` (the loss is built from analytic operations and accepts complex arrays) uses
    complex step, exact to rounding; otherwise central differences with an estimated error bound.
    The loss is called twice (complex: once) per element and step, so this suits small arrays.
    """
    base = [np.array(a, dtype=np.float64) for a in arrays]
    names = list(names) if names else [f"arrays[{i}]" for i in range(len(base))]
    claimed = [np.asarray(g) for g in grad([a.copy() for a in base])]
    if len(claimed) != len(base):
        raise ValueError(f"grad: expected {len(base)} arrays (one per input), got {len(claimed)}")
    dtype = _dtype_of({n: g for n, g in zip(names, claimed)})
    eps = float(np.finfo(np.float64).eps)
    f0 = float(np.real(loss([a.copy() for a in base])))
    est, err = {}, {}
    for i, a in enumerate(base):
        g = np.zeros(a.shape)
        e = np.zeros(a.shape)
        for k in np.ndindex(a.shape):
            def at(step):
                moved = [b.astype(np.complex128 if np.iscomplexobj(step) else np.float64) for b in base]
                moved[i][k] += step
                return loss(moved)
            if analytic:
                g[k] = np.imag(at(1j * finite_diff.COMPLEX_STEP)) / finite_diff.COMPLEX_STEP
            else:
                h = finite_diff.CENTRAL_STEP * max(1.0, abs(a[k]))
                d1 = (float(at(h)) - float(at(-h))) / (2 * h)
                d2 = (float(at(2 * h)) - float(at(-2 * h))) / (4 * h)
                g[k], e[k] = d1, finite_diff._central_bound(d1, d2, 64 * eps * max(abs(f0), 1e-300), h)
        est[names[i]], err[names[i]] = g, e
    if rtol is None:
        # Without a network to count the op depth D from, assume a loss of at most 32 chained roundings per
        # element (2·D·ε with D = 32); pass rtol for longer computations.
        rtol = 64 * float(np.finfo(dtype).eps)
    c = compare({n: g for n, g in zip(names, claimed)}, est, rtol, err, "complex step" if analytic else "central differences")
    return GradientCheck(c.ok, "full", str(dtype), [c])
