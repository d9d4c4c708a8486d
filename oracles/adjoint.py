"""Forward mode and the adjoint (dot-product) test.

    bpcheck.check_jvp(f, jvp, {"x": x, "w": w})                        # jvp(inputs, tangents) -> J·t
    bpcheck.check_adjoint(conv, conv_transpose, ((1, 3, 8, 8), None))  # ⟨A u, v⟩ = ⟨u, Aᵀ v⟩

check_jvp
---------
``jvp`` is called with the inputs and a tangent of the same structure (dicts and lists as given),
then the fixed arguments (a dict by keyword, a tuple by position); it returns the tangent of the
output, J·t, or ``(out, J·t)`` as ``jax.jvp`` does.  For ``tangents`` random standard normal t, J·t is
compared elementwise with the derivative of ``f`` along t (``directional``: complex step where f keeps
the imaginary part, self-tested, else central differences with their bound):

    |(J·t)_k − o_k| ≤ rtol·(|o_k| + G) + e_k,   rtol = 2·D·ε,

G = max |o|, e_k the oracle's bound, D = 32 + every axis length of the inputs, static arrays and
output (the roundings behind one element of J·t, counted from the shapes as ``check_function`` does).

check_adjoint
-------------
For a linear map A (``apply``) and the code claiming to be its transpose (``apply_transpose``), the
dot-product test needs no step at all, so it stays valid at relu and max-pool masks: with u and v
standard normal,

    ⟨A u, v⟩ = ⟨u, Aᵀ v⟩   exactly, in real arithmetic.

The bound, from the sizes and ε: fl(A u) = A u + e with |e| ≤ γ_D |A| |u| elementwise (γ_D ≈ D·ε, D the
depth counted as above from both shapes), so |⟨e, v⟩| ≤ γ_D |v|ᵀ|A||u| ≤ γ_D ‖A‖_F ‖u‖ ‖v‖ (Cauchy–Schwarz,
and ‖ |A| ‖₂ ≤ ‖A‖_F); the m-term inner product adds γ_m ‖A u‖ ‖v‖ ≤ γ_m ‖A‖_F ‖u‖ ‖v‖.  The same holds on
the other side with Aᵀ, so

    |⟨A u, v⟩ − ⟨u, Aᵀ v⟩| ≤ 2·rtol·‖A‖_F·‖u‖·‖v‖,   rtol = 2·D·ε.

‖A‖_F is not known for a black box; for standard normal u, E‖A u‖² = ‖A‖_F², so it is estimated by the
largest ‖A u‖ and ‖Aᵀ v‖ over all trials (2·trials draws of a χ-distributed factor; the bound itself is a
worst case that rounding errors of random sign stay far inside).  A transpose that is wrong by one pixel
is off by O(‖A u‖·‖v‖ / √m), some 1e10 times this bound for a small conv.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from .calls import CheckError, name_of
from .compare import compare
from .directional import CheckReport, Directional, array_verdict, depth_of, fixed_arguments
from .generic import call_once, private_static
from .named import call_with, flatten, static_arrays

TANGENTS = 3
TRIALS = 5
#: Random streams of their own (see ``generic``).
TANGENT_STREAM, ADJOINT_STREAM = 0x62700004, 0x62700005


def _output(value: Any, what: str) -> Any:
    """The output array of ``f``: ``out``, or the first of ``(out, cache)``."""
    out = value[0] if isinstance(value, tuple) and len(value) == 2 else value
    if isinstance(out, (tuple, list, dict)):
        raise CheckError(f"{what} returned {type(value).__name__}; expected an array (or (out, cache))")
    return out


def check_jvp(
    f: Callable[..., Any],
    jvp: Callable[..., Any],
    inputs: Any,
    *,
    static: Any = None,
    seed: int = 0,
    tangents: int = TANGENTS,
    rtol: Optional[float] = None,
    complex_step: bool = True,
) -> CheckReport:
    """Check a forward-mode derivative ``jvp(inputs, tangents, *static) -> J·t`` (or ``(out, J·t)``) against ``f``.

    ``inputs`` as in ``check_function`` (an array, a list or a dict, nested); ``f(**inputs, **static)``
    returns an array (or ``(out, cache)``).  See the module docstring for the bound.
    """
    if not isinstance(tangents, int) or tangents < 1:
        raise CheckError(f"tangents: expected a positive int, got {tangents!r}")
    fixed = private_static(static)
    tree, leaves = flatten(inputs, f)
    fname, jname = name_of(f), name_of(jvp)
    base = [leaf.value.astype(np.float64) for leaf in leaves]
    box = Directional(lambda arrays: _output(call_with(f, tree, arrays, fixed), fname), base, fname, complex_step)
    out = box.y0
    rtol = rtol if rtol is not None else 2 * depth_of(base + static_arrays(fixed) + [out]) * float(np.finfo(np.float64).eps)
    rng = np.random.default_rng([TANGENT_STREAM, seed])
    result = CheckReport(True, f"check_jvp({fname}, {jname})")
    methods = set()
    for j in range(tangents):
        d, bound, t, method = box.derivative([rng.standard_normal(a.shape) for a in base], rtol)
        methods.add(method)
        got = _tangent_out(call_once(_jvp_call, f"{jname}(inputs, tangents)", jvp, tree, base, t, fixed), jname, out.shape)
        name = f"J·t{j + 1}"
        comparison = compare({name: got}, {name: d}, rtol, {name: bound}, method)
        verdict = array_verdict(comparison.arrays[0], got, d, rtol * (np.abs(d) + comparison.scale) + bound, rng)
        result.lines += verdict.lines("expected")
        result.ok = result.ok and verdict.ok
    names = ", ".join(leaf.name for leaf in leaves)
    result.checked = (f"{jname}(inputs, t), the tangent of {fname}'s output {out.shape}, along {tangents} random t "
                      f"(standard normal in every input: {names}; seed {seed})")
    result.oracle = " / ".join(sorted(methods)) + f": the derivative of {fname} along each t"
    result.notes.append(box.complex_note())
    result.tolerance = (f"|got − expected| ≤ rtol·(|expected| + G) + the oracle's error bound; rtol = 2·D·ε = {rtol:.2e} "
                        "(ε = 2⁻⁵², D = 32 + the axis lengths of the inputs, static arrays and output)")
    result.evaluations = f"{box.evaluations} calls of {fname}, {tangents} of {jname}"
    return result


def _jvp_call(jvp: Callable, tree: Any, base: list[np.ndarray], t: list[np.ndarray], fixed: Any) -> Any:
    """jvp(inputs, tangents, *static): both in the structure the inputs were given in, as fresh copies."""
    args, kwargs = fixed_arguments(fixed)
    return jvp(tree.rebuild([a.copy() for a in base]), tree.rebuild([a.copy() for a in t]), *args, **kwargs)


def _tangent_out(value: Any, what: str, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(value, tuple) and len(value) == 2:
        value = value[1]  # (out, J·t), as jax.jvp returns
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise CheckError(f"{what} returned {arr.dtype} values; expected the real tangent of the output")
    if arr.shape != shape:
        raise CheckError(f"{what} returned a tangent of shape {arr.shape}; expected {shape}, the shape of the output")
    return arr.astype(np.float64)


def _shapes(shapes: Any) -> tuple[tuple[int, ...], Optional[tuple[int, ...]]]:
    """(input shape, output shape or None): ``shapes`` is one shape, or a pair (input, output or None)."""
    def is_shape(s: Any) -> bool:
        return isinstance(s, (tuple, list)) and all(isinstance(n, (int, np.integer)) and n >= 0 for n in s)
    if is_shape(shapes):
        return tuple(int(n) for n in shapes), None
    if isinstance(shapes, (tuple, list)) and len(shapes) == 2 and is_shape(shapes[0]) and (shapes[1] is None or is_shape(shapes[1])):
        return tuple(int(n) for n in shapes[0]), None if shapes[1] is None else tuple(int(n) for n in shapes[1])
    raise CheckError(f"shapes: expected the input shape, or (input shape, output shape), got {shapes!r}")


def check_adjoint(
    apply: Callable[..., Any],
    apply_transpose: Callable[..., Any],
    shapes: Any,
    *,
    static: Any = None,
    trials: int = TRIALS,
    seed: int = 0,
    rtol: Optional[float] = None,
) -> CheckReport:
    """The dot-product test: ⟨apply(u), v⟩ = ⟨u, apply_transpose(v)⟩ for ``trials`` standard normal u, v.

    ``shapes``: u's shape, or (u's shape, v's shape); v's shape defaults to that of apply(u).  ``static``
    (fixed arguments, dict by keyword or tuple by position) goes to both.  See the module docstring for the bound.
    """
    if not isinstance(trials, int) or trials < 1:
        raise CheckError(f"trials: expected a positive int, got {trials!r}")
    in_shape, out_shape = _shapes(shapes)
    fixed = private_static(static)
    args, kwargs = fixed_arguments(fixed)
    aname, tname = name_of(apply), name_of(apply_transpose)
    rng = np.random.default_rng([ADJOINT_STREAM, seed])
    rows, norm_A = [], 0.0
    for j in range(trials):
        u = rng.standard_normal(in_shape)
        Au = _linear_out(call_once(apply, f"{aname}(u)", u.copy(), *args, **kwargs), f"{aname}(u)", out_shape)
        out_shape = Au.shape
        v = rng.standard_normal(out_shape)
        Atv = _linear_out(call_once(apply_transpose, f"{tname}(v)", v.copy(), *args, **kwargs), f"{tname}(v)", in_shape)
        rows.append((float(np.vdot(Au, v)), float(np.vdot(u, Atv)), float(np.linalg.norm(u) * np.linalg.norm(v))))
        norm_A = max(norm_A, float(np.linalg.norm(Au)), float(np.linalg.norm(Atv)))
    rtol = rtol if rtol is not None else 2 * depth_of([np.empty(in_shape), np.empty(out_shape), *static_arrays(fixed)]) * \
        float(np.finfo(np.float64).eps)
    result = CheckReport(True, f"check_adjoint({aname}, {tname})")
    for j, (left, right, norms) in enumerate(rows):
        bound = 2 * rtol * norm_A * norms
        diff = abs(left - right)
        ok = bool(diff <= bound)  # NaN or inf anywhere fails
        result.ok = result.ok and ok
        scale = max(abs(left), abs(right))
        result.lines.append(f"  trial {j + 1}: ⟨A u, v⟩ = {left:.12e}, ⟨u, Aᵀ v⟩ = {right:.12e} (|difference| {diff:.2e} "
                            f"{'≤' if ok else '>'} bound {bound:.2e}; relative {diff / scale if scale else diff:.2e})")
    result.checked = (f"⟨{aname}(u), v⟩ against ⟨u, {tname}(v)⟩, u {in_shape} and v {out_shape} standard normal "
                      f"(seed {seed}), {trials} trials")
    result.oracle = "none needed: the two sides are equal in exact arithmetic for a linear map and its transpose"
    result.tolerance = (f"|⟨A u, v⟩ − ⟨u, Aᵀ v⟩| ≤ 2·rtol·‖A‖_F·‖u‖·‖v‖; rtol = 2·D·ε = {rtol:.2e} (ε = 2⁻⁵², D = 32 + the "
                        f"axis lengths of u, v and the static arrays); ‖A‖_F estimated as {norm_A:.3e}, the largest "
                        "‖A u‖ or ‖Aᵀ v‖ over the trials")
    result.evaluations = f"{trials} calls of {aname}, {trials} of {tname}"
    return result


def _linear_out(value: Any, what: str, shape: Optional[tuple[int, ...]]) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu":
        raise CheckError(f"{what} returned {arr.dtype} values; expected real numbers")
    if shape is not None and arr.shape != shape:
        raise CheckError(f"{what} returned shape {arr.shape}; expected {shape}")
    return arr.astype(np.float64)  # non-finite values stay: they fail the comparison (NaN ≤ bound is False)
