"""Second order: Hessian-vector products and dense Hessians, checked against the user's own gradient.

    bpcheck.check_hessp(grad, hessp, x, static=(X, y))                                  # scipy's jac= / hessp=
    bpcheck.check_hessp(grad, None, x, hess=hess, static=(X, y))                        # a dense Hessian
    bpcheck.check_hessp(loss.gradient_hessian_product, None, coef, static=(X, y),
                        returns="grad_and_hessp")                                       # scikit-learn's (grad, hessp)

What is checked: H·p = J_g(x)·p, the derivative of the user's gradient g(x) along p, for ``tangents``
random standard normal p (the dense variant: every column H·e_j).  The oracle differentiates **the
user's gradient**, not a second difference of the loss: a second difference of F with step √ε has
error ~ε/h² ~ 1 (the failure of PatWie/CppNumericalSolvers#175), while a first difference of g is as
accurate as a first-order check.  So the first-order gradient must be right first (``check_function``):
a wrong g is differentiated faithfully and its wrong Hessian agrees with a wrong hessp of the same mistake.

Oracle (``directional``): complex step on g, Im g(x + i·h·p)/h with h = 1e-20, where g accepts complex
input and keeps the imaginary part (self-tested against central differences along the first p); else
central differences of g with the elementwise bound |D(s) − D(2s)| + 3·ε_k/s, ε_k g_k's measured noise.

Bound, derived as in ``oracles.compare``: each element of H·p is the end of a chain of at most D
roundings in the user's code (the products and sums behind g_k, then the n-term sum over p), so

    |(H·p)_k − o_k| ≤ rtol·(|o_k| + G) + e_k,   rtol = 2·D·ε,

G = max_k |o_k| (the absolute floor for elements that cancel), e_k the oracle's own bound (zero for
complex step), D = 32 + every axis length of x, the static arrays and g, as ``check_function`` counts it.
A Hessian-vector product off in one element by 1e-6 of the largest is ~1e7 times this bound in float64.

``check_function(..., hessp=...)`` (or ``hess=``, or ``returns="loss_grad_hessp"``) runs this check after
the first-order one, in one call for both orders.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .calls import CheckError, name_of
from .compare import compare
from .directional import CheckReport, Directional, array_verdict, depth_of, fixed_arguments
from .generic import call_once, private_static
from .named import static_arrays

TANGENTS = 3
#: Random streams of their own (see ``generic``): a tangent never repeats the caller's default_rng(seed) draws.
TANGENT_STREAM = 0x62700003
RETURNS = ("grad", "loss_and_grad", "grad_and_hessp")


def _gradient_of(grad: Callable, returns: str, x: np.ndarray, args: tuple, kwargs: dict) -> tuple[np.ndarray, Any]:
    """(g, the hessp function when ``returns="grad_and_hessp"``) from one call of ``grad`` at x."""
    value = call_once(grad, f"{name_of(grad)} at the inputs given", x, *args, **kwargs)
    g, own = _unpack(value, returns, name_of(grad))
    if own is not None and not callable(own):
        raise CheckError(f"{name_of(grad)} returned (grad, {type(own).__name__}); the second must be hessp(p) -> H·p")
    return _real_array(g, name_of(grad), x.shape), own


def _unpack(value: Any, returns: str, what: str) -> tuple[Any, Any]:
    """(the gradient as returned, hessp or None) from what ``grad`` returned."""
    if returns == "grad":
        return value, None
    if not (isinstance(value, tuple) and len(value) == 2):
        want = "(loss, grad)" if returns == "loss_and_grad" else "(grad, hessp)"
        raise CheckError(f"{what} returned {type(value).__name__}; with returns={returns!r} it must return {want}")
    return (value[1], None) if returns == "loss_and_grad" else value


def _real_array(value: Any, what: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise CheckError(f"{what} returned {arr.dtype} values; expected real numbers")
    if arr.size != int(np.prod(shape)):
        raise CheckError(f"{what} returned {arr.size} values of shape {arr.shape}; expected {int(np.prod(shape))}, "
                         f"the size of x {shape}")
    return arr.astype(np.float64).reshape(shape)


def check_hessp(
    grad: Callable[..., Any],
    hessp: Optional[Callable[..., Any]],
    x: Any,
    *,
    hess: Optional[Callable[..., Any]] = None,
    returns: str = "grad",
    static: Any = None,
    seed: int = 0,
    tangents: int = TANGENTS,
    rtol: Optional[float] = None,
    complex_step: bool = True,
) -> CheckReport:
    """Check ``hessp(x, p, *static) -> H·p`` (or ``hess(x, *static) -> H``) against derivatives of ``grad(x, *static)``.

    ``returns``: what ``grad`` returns: ``"grad"``, ``"loss_and_grad"`` (scipy's ``jac=True``), or
    ``"grad_and_hessp"`` (scikit-learn's ``gradient_hessian_product``: ``(g, hessp)`` with ``hessp(p)``;
    then pass ``hessp=None``).  ``static``: fixed arguments, a tuple by position after x or a dict by keyword.
    ``tangents``: how many random p (standard normal, from ``seed``).  See the module docstring for the bound.
    """
    if returns not in RETURNS:
        raise CheckError(f"returns: expected one of {list(RETURNS)}, got {returns!r}")
    given = [n for n, v in (("hessp", hessp), ("hess", hess)) if v is not None]
    if len(given) + (returns == "grad_and_hessp") != 1:
        raise CheckError("give exactly one of hessp=, hess= or returns='grad_and_hessp' (whose grad returns its own hessp); "
                         f"got {given or 'none'}" + (" and returns='grad_and_hessp'" if returns == "grad_and_hessp" else ""))
    if not isinstance(tangents, int) or tangents < 1:
        raise CheckError(f"tangents: expected a positive int, got {tangents!r}")
    if isinstance(x, (dict, list, tuple)):
        raise CheckError(f"x: expected one array (a flat vector, as scipy's x0 and scikit-learn's coef), got {type(x).__name__}")
    x0 = np.array(x, dtype=np.float64)
    if not np.all(np.isfinite(x0)):
        raise CheckError("x has non-finite elements")
    fixed = private_static(static)
    args, kwargs = fixed_arguments(fixed)
    g0, own_hessp = _gradient_of(grad, returns, x0.copy(), args, kwargs)
    gname = name_of(grad)
    rtol = rtol if rtol is not None else 2 * depth_of([x0, g0, *static_arrays(fixed)]) * float(np.finfo(np.float64).eps)
    box = Directional(lambda xs: np.reshape(_unpack(grad(xs[0], *args, **kwargs), returns, gname)[0], x0.shape),
                      [x0], gname, complex_step)
    if hess is not None:
        candidate = f"{name_of(hess)}(x) columns H·e_j"
        result = _dense(box, call_once(hess, f"{name_of(hess)} at the inputs given", x0.copy(), *args, **kwargs), x0, rtol, seed)
    else:
        def product(p: np.ndarray) -> Any:
            if own_hessp is not None:
                return own_hessp(p.copy())
            return hessp(x0.copy(), p.copy(), *args, **kwargs)
        candidate = f"H·p from the hessp that {gname} returns" if own_hessp is not None else f"{name_of(hessp)}(x, p)"
        result = _products(box, product, x0, rtol, seed, tangents)
    result.title = f"check_hessp({gname}, {name_of(hessp or hess) if own_hessp is None else 'its own hessp'})"
    result.checked = (f"{candidate} against the derivative of the gradient {gname}(x) returns "
                      f"{'along each basis vector e_j' if hess is not None else f'along {tangents} random p (standard normal, seed {seed})'}")
    result.notes.append(box.complex_note())
    result.tolerance = (f"|got − expected| ≤ rtol·(|expected| + G) + the oracle's error bound; rtol = 2·D·ε = {rtol:.2e} "
                        "(ε = 2⁻⁵², D = 32 + the axis lengths of x, static arrays and the gradient; G the largest expected element)")
    result.evaluations = f"{box.evaluations} calls of {gname}"
    return result


def _products(box: Directional, product: Callable[[np.ndarray], Any], x: np.ndarray, rtol: float, seed: int,
              tangents: int) -> CheckReport:
    rng = np.random.default_rng([TANGENT_STREAM, seed])
    result = CheckReport(True, "")
    methods = set()
    for j in range(tangents):
        d, bound, (p,), method = box.derivative([rng.standard_normal(x.shape)], rtol)
        methods.add(method)
        what = f"hessp(p{j + 1})"
        got = _real_array(call_once(product, what, p), what, x.shape)
        comparison = compare({f"H·p{j + 1}": got}, {f"H·p{j + 1}": d}, rtol, {f"H·p{j + 1}": bound}, method)
        row = comparison.arrays[0]
        verdict = array_verdict(row, got, d, rtol * (np.abs(d) + comparison.scale) + bound, rng)
        result.lines += verdict.lines("expected")
        result.ok = result.ok and verdict.ok
    result.oracle = " / ".join(sorted(methods)) + " on the gradient, along each p (the derivative of g along p is H·p)"
    return result


def _dense(box: Directional, H: Any, x: np.ndarray, rtol: float, seed: int) -> CheckReport:
    n = x.size
    Hm = np.asarray(H)
    if Hm.dtype.kind not in "fiu" or Hm.size != n * n:
        raise CheckError(f"hess returned {Hm.dtype} values of shape {Hm.shape}; expected real numbers of shape ({n}, {n})")
    Hm = Hm.astype(np.float64).reshape(n, n)
    got, expected, bounds = np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
    method = ""
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        d, bound, (t,), method = box.derivative([e.reshape(x.shape)], rtol)
        got[:, j], expected[:, j], bounds[:, j] = Hm @ t.reshape(-1), d.reshape(-1), bound.reshape(-1)
    comparison = compare({"H": got}, {"H": expected}, rtol, {"H": bounds}, method)
    verdict = array_verdict(comparison.arrays[0], got, expected, rtol * (np.abs(expected) + comparison.scale) + bounds,
                            np.random.default_rng([TANGENT_STREAM, seed]))
    result = CheckReport(verdict.ok, "", verdict.lines("expected"))
    result.oracle = f"{method} on the gradient along every basis vector e_j (column j of H)"
    return result
