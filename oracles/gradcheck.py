"""The public gradient-check API: check anyone's gradient code against the oracles.

    from bpcheck.oracles.gradcheck import assert_gradients
    assert_gradients(spec, params, x, y, my_grads)            # raises AssertionError naming what is wrong

    import bpcheck                                            # any gradient code, not only networks:
    bpcheck.check_function(loss, {"W": W, "b": b}, grad)      # see oracles.generic

Two modes, chosen automatically (``mode="auto"``):

- **full**: every element against finite differences (complex step when the network is analytic,
  central differences otherwise), batched per layer; plus torch and jax when installed.  Used when
  the network has at most ``NETWORK_FULL_LIMIT`` parameters.
- **fast**: ``generic.FAST_PASSES`` = 8 directional derivatives along random ±1 directions, each one pass of
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

from bpcheck.reference.spec import NetworkSpec, check_params

from . import finite_diff, generic
from .compare import Comparison, compare, consensus, rtol_for
from .generic import CheckResult
from .objective import Objective

#: Networks with at most this many parameters get the full elementwise check.  Higher than the generic
#: route's ``AUTO_FULL_LIMIT`` (1024 elements) because this route knows the network: finite differences
#: run batched per layer, one vectorised pass for many elements, where a black box costs a call each.
NETWORK_FULL_LIMIT = 20_000


ILL_CONDITIONED = "ill-conditioned here: no verdict"


@dataclass
class GradientCheck:
    """The outcome of a check; ``message()`` explains it.

    ``verdict``: "passed", "FAILED", or ``ILL_CONDITIONED`` when the candidate differs from an oracle only
    where the oracles disagree among themselves, or where a unit sits within rounding of a kink (``ok`` is
    then False: nothing was confirmed).  ``notes``: the reasons, and the elements checked only coarsely.
    """

    ok: bool
    mode: str
    dtype: str
    comparisons: list[Comparison] = field(default_factory=list)
    fast: Optional[dict] = None
    skipped: dict[str, str] = field(default_factory=dict)
    verdict: str = ""
    notes: list[str] = field(default_factory=list)

    def message(self, show_expected: bool = False) -> str:
        head = (f"gradient check ({self.mode}, {self.dtype} tolerances"
                + (", ε = 2⁻²³: float32 code is held to float32 accuracy" if self.dtype == "float32" else "") + ")")
        verdict = self.verdict or ("passed" if self.ok else "FAILED")
        lines = [f"{head}: {verdict}" + (" (with the notes below)" if verdict == "passed" and self.notes else "")]
        for c in self.comparisons:
            lines.append(c.message(show_expected=show_expected, coarse=False))
        lines += self.notes
        if self.fast is not None:
            f = self.fast
            lines.append(f"fast check along {f['passes']} random ±1 directions ({f['oracle']}): "
                         f"{f['failed']} of {f['passes']} directional derivatives out of tolerance "
                         f"(worst |error| {f['worst']:.3e}, tolerance {f['tolerance']:.3e} = rtol·(‖g‖₁ + Σ S_k) + oracle error)")
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
    l1 = sum(float(np.sum(np.abs(np.asarray(g, dtype=np.float64)))) for g in grads.values())
    floors = sum(float(np.sum(f)) for f in obj.term_scale().values())
    tolerance = rtol * (l1 + floors) + oracle_error
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
    params = check_params(spec, params)
    missing = [k for k in spec.param_shapes() if k not in grads]
    if missing:
        raise ValueError(f"grads: missing {missing}; expected keys {list(spec.param_shapes())}")
    dtype = _dtype_of(grads)
    batch = np.asarray(x).shape[0]
    rtol = rtol_for(spec, batch, dtype)
    n = sum(int(np.prod(s)) for s in spec.param_shapes().values())
    if mode == "auto":
        mode = "full" if n <= NETWORK_FULL_LIMIT or not spec.analytic else "fast"
    if mode not in ("full", "fast"):
        raise ValueError(f"mode: expected 'auto', 'full' or 'fast', got {mode!r}")
    result = GradientCheck(True, mode, str(dtype))
    if mode == "fast":
        result.fast = _fast(spec, params, x, y, grads, rtol, seed, generic.FAST_PASSES)
        result.ok = result.fast["failed"] == 0
        return result
    _full(result, spec, params, x, y, grads, rtol, ["complex_step" if spec.analytic else "central", *frameworks])
    return result


def _full(result: GradientCheck, spec: NetworkSpec, params, x, y, grads, rtol: float, names: Sequence[str]) -> None:
    """Every element against each oracle in ``names``, under the per-element floors; the verdict and its notes."""
    from . import run_oracle, unavailable

    mags = Objective(spec, {k: np.asarray(p, dtype=np.float64) for k, p in params.items()}, x, y).magnitudes()
    estimates = []
    for name in names:
        why = unavailable(name, spec)
        if why:
            result.skipped[name] = why
            continue
        est = run_oracle(name, spec, params, x, y)
        estimates.append(est)
        result.comparisons.append(compare(grads, est.grads, rtol, est.error, name, mags.floors))
    unsure = {k: m.copy() for k, m in mags.unsure.items()}
    reasons = list(mags.reasons)
    for a, b, c in consensus(estimates, spec, np.asarray(x).shape[0], mags.floors).disagreements:
        reasons.append(f"the oracles {a} and {b} disagree beyond their bounds on "
                       + ", ".join(f"{r.name} ({r.bad} elements)" for r in c.failures()))
        for r in c.failures():
            unsure[r.name] |= r.out_of_bound
    _verdict(result, unsure, reasons)


def _verdict(result: GradientCheck, unsure: Mapping[str, np.ndarray], reasons: Sequence[str]) -> None:
    """FAILED when the candidate is out of bound where the case is well-conditioned; ill-conditioned when only elsewhere."""
    outside = inside = False
    for c in result.comparisons:
        for r in c.arrays:
            if r.bad:
                outside |= bool(np.any(r.out_of_bound & ~unsure[r.name]))
                inside |= bool(np.any(r.out_of_bound & unsure[r.name]))
    result.verdict = "FAILED" if outside else ILL_CONDITIONED if inside else "passed"
    result.ok = result.verdict == "passed"
    if reasons:
        named = ", ".join(f"{k} ({int(m.sum())} of {m.size})" for k, m in unsure.items() if m.any())
        result.notes.append(f"ill-conditioned here: {'; '.join(reasons)}; elements concerned: {named}"
                            + ("; every oracle agrees with the candidate there all the same" if result.verdict == "passed" else ""))
    if result.comparisons:
        finest = min(result.comparisons, key=lambda c: sum(r.coarse for r in c.arrays))
        note = finest.coarse_note()
        if note:
            result.notes.append(f"against {finest.oracle}, the finest check here, {note}")


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


def check_loss_of_list(
    loss: Callable[[list[np.ndarray]], float],
    grad: Callable[[list[np.ndarray]], Sequence[np.ndarray]],
    arrays: Sequence[np.ndarray],
    analytic: bool = False,
    names: Optional[Sequence[str]] = None,
    rtol: Optional[float] = None,
) -> CheckResult:
    """Check ``grad(arrays)`` against ``loss(arrays)``, both taking the list of arrays, every element.

    ``bpcheck.check_function`` (the one public check of any function) in full mode, for a loss written over a
    list of arrays (see ``oracles.generic``).
    ``analytic=True`` allows complex step where its self-test passes (the loss must accept complex
    arrays); ``analytic=False`` uses central differences only.
    """
    names = list(names) if names else [f"arrays[{i}]" for i in range(len(arrays))]
    if len(names) != len(arrays):
        raise ValueError(f"names: expected {len(arrays)} names (one per array), got {len(names)}")

    def as_list(fn: Callable) -> Callable:
        def called(**named: np.ndarray) -> object:
            return fn([named[n] for n in names])
        called.__qualname__ = getattr(fn, "__qualname__", "loss")
        return called

    return generic.check_function(as_list(loss), dict(zip(names, arrays)), as_list(grad), mode="full", rtol=rtol,
                                  complex_step=analytic)
