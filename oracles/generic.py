"""Check anyone's NumPy gradient code: layers, (loss, grad) functions, an old version against a new one.

    import bpcheck
    bpcheck.check_vjp(affine_forward, affine_backward, {"x": x, "w": w, "b": b})
    bpcheck.check_function(softmax_loss, {"x": scores}, returns="loss_and_grad", static={"y": y})
    bpcheck.assert_same_gradients(old_loss_and_grad, new_loss_and_grad, params, returns="loss_and_grad")

What is checked is one scalar F of the inputs: the loss (summed when it comes per example), or for
a layer ⟨dout, forward(inputs)⟩ with a random cotangent dout, whose gradient is backward(dout, cache).

Before anything else, the code must repeat itself: F is evaluated twice at the inputs and the gradients
asked for twice (a backward twice on the same cotangent and a copy of the cache); different values
(a fresh dropout mask, random negative samples) make the verdict **refused**, with both values.

A layer's backward is also watched (``_written``, ``_dout_patterns``): writes into dout or into the
cache are **hazards** (notes naming the element; the verdict stays with the values), a backward that
returns the same gradients for an independent dout ("ignores dout") or is not linear in dout fails.
``check_function`` also takes ``hessp=`` / ``hess=`` / ``returns="loss_grad_hessp"`` (``second_order``)
and ``mode="taylor"`` (``taylor``); a FAILED or inconclusive verdict (here and in ``check_vjp``) gets the
Taylor test on the same F as notes beside it (``_confirm_by_taylor``), a passed one costs nothing more.

Modes (``mode="auto"`` picks ``full`` up to ``AUTO_FULL_LIMIT`` elements, ``fast`` beyond):

- **full**: where complex step passed its self-test, every element by complex step (exact, one
  evaluation each); otherwise, or beyond ``AUTO_FULL_LIMIT`` elements (a complex evaluation costs more
  than two real ones), by central differences (two evaluations each).  An element that disagrees is
  measured again at ±h and ±h/2: when those disagree beyond rounding (D(h) against D(h/2), or the
  spread of the one-sided slopes not halving with the step), F has a **kink** within the step there,
  and the element is judged against the one-sided slopes (any subgradient between them is right) and
  named in a note; otherwise it is measured by complex step, or bounded through D(2h) (``blackbox``).
- **fast**: ``FAST_PASSES`` directional derivatives along random ±1 directions, one evaluation each
  by complex step (``FAST_PASSES_CENTRAL`` by central differences, four evaluations each).  A
  single wrong element shifts every one of them by its whole error.  When one fails, group testing
  (``localise``) names the wrong elements, and ``patterns`` names the kind of error.

A check says **passed** only when every element was checked to within ``COVERED_FRACTION`` of itself
(its allowance below that share of its expected value; an element measured as exactly 0 counts as
checked); otherwise, with nothing found wrong, the verdict is **inconclusive**, naming the elements and
whether their allowance comes from the largest element's scale (rtol·G) or from the oracle's own error.
In fast mode the same holds for the smallest single-element error the check is sure to catch.

Tolerance: |g_k − o_k| ≤ rtol·(|o_k| + G) + e_k, as in ``oracles.compare``: G the largest expected
element, e_k the oracle's own bound, rtol = 2·D·ε for the candidate's dtype (float32 code is held to
float32's ε, against a float64 oracle: give ``reference=``, a float64 version, when the code computes
in float32 whatever its input).  D cannot be counted in code bpcheck cannot see, so it is bounded
from the shapes: 32 roundings for elementwise work plus every axis length of the inputs, the static
arrays and the output, since every reduction a layer does runs along one of those axes.  Pass
``rtol=`` for longer computations.  Directionally: |⟨u, g⟩ − D_u F| ≤ rtol'·Σ|u_k|(|g_k| + G) + e, with
rtol' from a D that counts an axis as long as one of a differentiated input's as log₂ of its length
(``_directional_depth``): counted whole, D grew with n and the tolerance like n², hiding one element off by
1e-6·max|g| at n = 1e5.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from . import patterns
from .blackbox import BlackBox, CodeRaised, NotRepeatable, _Discarded, kinks
from .calls import CheckError, Recorder, describe_error, name_of
from .compare import ArrayResult, compare
from .finite_diff import CENTRAL_STEP, central_bound
from .localise import Found, localise, ratio, unresolved_text
from .named import Leaf, Tree, arguments, call_with, element, element_at, flatten, static_arrays

AUTO_FULL_LIMIT = 1024
FAST_PASSES = 8
FAST_PASSES_CENTRAL = 4
#: Evaluations that localisation may spend after a failed fast check (a single wrong element among
#: 2¹⁵ needs 17: one per input array, then one per halving).
LOCALISE_BUDGET = 40
PATTERN_DIRECTIONS = 3
#: Fast mode's documented sensitivity, as a fraction of the largest element: one element off by this much is
#: caught.  Central differences along a direction reach it unless F is large (its rounding ε_F/h grows with
#: it); then Richardson extrapolation, at a step 120 times longer, is measured too (``_sharpened``).
FAST_SENSITIVITY = 1e-6
#: Elements measured one by one when kinks blur fast mode's directions (two evaluations each).
SAMPLED_ELEMENTS = 8
SHOWN_ELEMENTS = 5
#: A check passes only when every element was checked to within this fraction of itself: an element
#: whose allowance is larger (small against G, or measured through noise) makes the verdict "inconclusive".
COVERED_FRACTION = 0.1
#: Random streams of their own, so a cotangent or a direction never repeats the caller's
#: ``default_rng(seed)`` draws (a cotangent equal to x made x.T @ dout symmetric and hid a transposed dw).
COTANGENT_STREAM, DIRECTION_STREAM = 0x62700001, 0x62700002


def _rng(stream: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([stream, seed])


@dataclass
class ElementVerdict:
    where: str
    got: float
    expected: float
    bound: float

    def line(self, expected_word: str = "expected") -> str:
        return (f"{self.where}: got {self.got:.10e}, {expected_word} {self.expected:.10e} "
                f"(|error| {abs(self.got - self.expected):.2e} > bound {self.bound:.2e})")


@dataclass
class InputVerdict:
    name: str
    shape: tuple[int, ...]
    ok: bool
    size: int
    bad: Optional[int] = None  # None: not counted (fast mode)
    at_least: bool = False
    elements: list[ElementVerdict] = field(default_factory=list)
    normwise: Optional[float] = None
    pattern: Optional[patterns.Pattern] = None
    unresolved: list[str] = field(default_factory=list)

    def lines(self, expected_word: str) -> list[str]:
        head = f"  {self.name} {self.shape}: "
        if self.ok:
            return [head + "ok" + (f", normwise relative error {self.normwise:.2e}" if self.normwise is not None else "")]
        count = (f"{'at least ' if self.at_least else ''}{self.bad} of {self.size} elements wrong" if self.bad
                 else "wrong (found along a random direction)")
        out = [head + count + (f"; pattern: {self.pattern.text}" if self.pattern else "")
               + (f"; normwise relative error {self.normwise:.2e}" if self.normwise is not None else "")]
        out += ["    " + e.line(expected_word) for e in self.elements]
        if self.unresolved:
            out.append(f"    not narrowed down (localisation budget spent): {'; '.join(self.unresolved[:3])}")
        return out


@dataclass
class CheckResult:
    """The outcome: ``ok``, and ``message()`` (also ``str(result)``) explaining it.  Truthy when ok."""

    ok: bool
    title: str
    mode: str
    dtype: str
    rtol: float
    depth: int
    oracle: str = ""
    evaluations: int = 0
    evaluated: str = ""
    checked: str = ""
    inputs: list[InputVerdict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fast: Optional[dict] = None
    expected_word: str = "expected"
    coverage: str = ""  # why some elements were not checked to within COVERED_FRACTION of themselves
    refused: str = ""  # why the check could not be made at all (F or the gradients not repeatable)
    taylor: Optional[bool] = None  # the confirming Taylor test's verdict (True: passed), on a verdict that did not pass

    @property
    def verdict(self) -> str:
        """"passed", "FAILED", "inconclusive" (nothing wrong found, but not every element checked closely
        enough) or "refused" (the code gives different values for the same inputs)."""
        if self.refused:
            return "refused"
        if self.ok:
            return "passed"
        return "inconclusive" if self.coverage and not self.problems and all(v.ok for v in self.inputs) else "FAILED"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message()

    def __repr__(self) -> str:
        return self.message()

    def message(self) -> str:
        lines = [f"{self.title}: {self.verdict}"]
        if self.refused:
            return "\n".join(lines + [f"  {self.refused}"])
        lines += [f"  {p}" for p in self.problems]
        if self.coverage:
            lines.append(f"  {self.coverage}")
        for v in self.inputs:
            lines += v.lines(self.expected_word)
        if self.fast is not None:
            f = self.fast
            lines.append(f"fast mode: {f['passes']} directional derivatives along random ±1 directions, "
                         f"{f['failed']} out of tolerance (worst |error| / tolerance {f['worst']:.2e}; "
                         f"{f['evaluations']} evaluations to this verdict); directionally rtol = {f['rtol']:.2e}, "
                         "D counting each axis as long as a differentiated input's axis as log₂ of its length")
            lines.append(f"sensitivity: one element off by more than {f['sensitivity']:.1e} "
                         f"({f['sensitivity'] / f['G'] if f['G'] else np.inf:.1e}·max|g|) fails this check for sure")
        if self.checked:
            lines.append(f"checked: {self.checked}")
        if self.oracle:
            lines.append(f"oracle: {self.oracle}")
        lines += self.notes
        eps = "2⁻²³, float32" if self.dtype == "float32" else ("2⁻¹⁰, float16" if self.dtype == "float16" else "2⁻⁵², float64")
        lines.append(f"tolerance: |got − {self.expected_word}| ≤ rtol·(|{self.expected_word}| + G) + the oracle's error bound; "
                     f"rtol = 2·D·ε = {self.rtol:.2e} (ε = {eps}; D = {self.depth}: 32 + the axis lengths of the "
                     "inputs, static arrays and output; pass rtol= for longer computations)")
        if self.evaluated:
            lines.append(f"evaluations: {self.evaluations} calls of {self.evaluated}")
        return "\n".join(lines)


# --- the pieces every entry point shares --------------------------------------------------------------


def private_static(static: Any) -> Any:
    """A private deep copy of the fixed arguments: nothing the code does to them reaches the caller's objects."""
    if static is None:
        return {}
    if not isinstance(static, (dict, tuple, list)):
        raise CheckError(f"static: expected a dict (passed by keyword) or a tuple (passed by position), got {type(static).__name__}")
    try:
        return copy.deepcopy(static)
    except Exception as e:
        raise CheckError(f"static: bpcheck copies the fixed arguments so the code under check cannot change yours, "
                         f"but copy.deepcopy failed: {describe_error(e)}; pass what can be copied") from e


def call_once(fn: Callable, what: str, *args: Any, **kwargs: Any) -> Any:
    """Call the code under check once; its exceptions become CheckError naming the call."""
    with Recorder():
        try:
            return fn(*args, **kwargs)
        except CheckError:
            raise
        except Exception as e:
            raise CheckError(f"{what} raised {describe_error(e)}") from e


def _depth(arrays: Sequence[np.ndarray]) -> int:
    return 32 + sum(int(n) for a in arrays for n in np.shape(a))


def _dtype(arrays: Sequence[np.ndarray]) -> np.dtype:
    floats = [np.dtype(a.dtype) for a in arrays if np.dtype(a.dtype).kind == "f"]
    return max(floats, key=lambda d: np.finfo(d).eps) if floats else np.dtype(np.float64)  # the least precise


def _non_finite(name: str, a: np.ndarray) -> Optional[str]:
    bad = ~np.isfinite(np.asarray(a, dtype=np.float64))
    if not bad.any():
        return None
    shown = ", ".join(f"{element(name, tuple(int(i) for i in k))} = {a[tuple(k)]}" for k in np.argwhere(bad)[:3])
    return f"{name} has {int(bad.sum())} non-finite elements ({shown})"


def _rademacher(rng: np.random.Generator, base: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [rng.choice(np.array([-1.0, 1.0]), size=a.shape) for a in base]


def scalar_of(result: Any, what: str) -> Any:
    """A loss from ``result``: a number, or per-example losses (summed); refuses reduced precision."""
    v = np.asarray(result)
    if v.dtype.kind not in "fciub":
        raise CheckError(f"{what} returned {type(result).__name__}; expected a number or an array of per-example losses")
    if v.dtype in (np.float32, np.float16, np.complex64):
        raise CheckError(f"{what} returns {v.dtype} for float64 inputs, so bpcheck cannot differentiate it beyond "
                         f"{v.dtype}'s precision; pass reference=, a float64 version of the same function")
    return v.sum() if v.ndim else v


@dataclass
class _Case:
    """What a check needs: the inputs, the candidate's gradients, and F for the oracle."""

    title: str
    evaluated: str
    tree: Tree
    leaves: list[Leaf]
    grads: list[np.ndarray]
    bind: Callable[[list[np.ndarray]], Callable[[], Any]]
    shapes_for_depth: list[np.ndarray]
    named_for_sizes: dict[str, np.ndarray]
    allow_complex: bool = True
    checked: str = ""  # what F is, in words
    notes: list[str] = field(default_factory=list)  # from reading the gradients
    rerun: Optional[Callable[[int], CheckResult]] = None  # the same check with every axis of length n one longer


def _run(case: _Case, mode: str, seed: int, rtol: Optional[float]) -> CheckResult:
    if mode not in ("auto", "full", "fast"):
        raise CheckError(f"mode: expected 'auto', 'full' or 'fast', got {mode!r}")
    dtype = _dtype([leaf.value for leaf in case.leaves] + case.grads)
    depth = _depth(case.shapes_for_depth)
    directional = rtol  # fast mode's rtol, below
    if rtol is None:
        rtol = 2 * depth * float(np.finfo(dtype).eps)
        directional = 2 * _directional_depth(case) * float(np.finfo(dtype).eps)
    n = sum(leaf.value.size for leaf in case.leaves)
    mode = ("full" if n <= AUTO_FULL_LIMIT else "fast") if mode == "auto" else mode
    result = CheckResult(True, case.title, mode, str(dtype), rtol, depth, evaluated=case.evaluated)
    result.checked = case.checked
    result.notes += case.notes
    names = [leaf.name for leaf in case.leaves]
    bad = [p for p in (_non_finite(f"the gradient for {leaf.name}", g) for leaf, g in zip(case.leaves, case.grads)) if p]
    if bad:
        result.ok, result.problems = False, bad
        return result
    try:
        box = BlackBox(case.bind, [leaf.value for leaf in case.leaves], names, case.evaluated,
                       2 * depth * float(np.finfo(np.float64).eps), allow_complex=case.allow_complex)
    except NotRepeatable as e:
        result.ok, result.refused = False, _not_repeatable(f"F (computed by {case.evaluated})", f"{e.first:.10e}",
                                                           f"{e.second:.10e}")
        return result
    result.evaluations = box.evaluations
    if not np.isfinite(box.f0):
        seen = box.warnings.summary()
        result.ok = False
        result.problems.append(f"the checked value F is {box.f0} at the inputs given, so no gradient can pass"
                               + (f" (numpy warned: {seen})" if seen else ""))
        return result
    grads = [np.asarray(g, dtype=np.float64) for g in case.grads]
    rng = _rng(DIRECTION_STREAM, seed)
    if mode == "full":
        _full(box, case, grads, rtol, rng, result)
    else:
        _fast(box, case, grads, directional, rng, result)
    if case.rerun is not None:
        confirm_factors(result, patterns.sizes_of(case.named_for_sizes), case.rerun)
    result.evaluations = box.evaluations
    if box.copying:
        result.notes.append(f"note: {case.evaluated} writes into its input arrays, so every call got fresh copies")
    result.ok = result.ok and all(v.ok for v in result.inputs) and not result.problems and not result.coverage
    return result


# --- a factor that is an axis length, at a second size ------------------------------------------------------

def grown(value: Any, n: int) -> Any:
    """``value`` (arrays nested in dicts, lists, tuples) with every axis of length n made n + 1 by repeating its
    first slice: a batch with one example twice, a layer with one unit twice, still a valid problem."""
    if isinstance(value, np.ndarray):
        for axis, length in enumerate(value.shape):
            if length == n:
                value = np.concatenate([value, value.take([0], axis=axis)], axis=axis)
        return value
    if isinstance(value, dict):
        return {k: grown(v, n) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(grown(v, n) for v in value)
    return value


def confirm_factors(result: CheckResult, sizes: dict[int, str], rerun: Callable[[int], CheckResult]) -> None:
    """Name the axis behind a factor α = n (or 1/n) only when, rerun with that axis n + 1 long, α follows it.

    One size cannot tell a missing / N from a constant that happens to equal an axis length; the rerun is
    the same check at a second size.  Code that cannot run at that size (shapes fixed inside) keeps the
    bare factor: said as a number, never as a cause.
    """
    there: dict[int, Optional[CheckResult]] = {}
    for v in result.inputs:
        match = v.pattern.length_it_matches(sizes) if v.pattern else None
        if match is None:
            continue
        n, times = match
        if n not in there:
            try:
                there[n] = rerun(n)
            except Exception:  # the code's own error at a size it was not written for: no second size, no claim
                there[n] = None
        rerun_inputs = there[n].inputs if there[n] is not None else []  # a CheckResult is falsy when it failed
        same = next((w for w in rerun_inputs if w.name == v.name and w.pattern), None)
        text = patterns.confirmed(n, times, sizes[n], n + 1, same.pattern.factor if same else None)
        if text:
            v.pattern = replace(v.pattern, text=text)


def _directional_depth(case: _Case) -> int:
    """D for fast mode: an axis as long as an axis of a differentiated input counted as log₂ of its length.

    Along such an axis (the input's own, or a target or output aligned with it) a gradient element is
    reduced only in sums numpy does pairwise or BLAS does in blocks, log₂ n roundings deep, as in
    F = Σ loss(x_k, t_k) or (Σx)²; the other axes (a batch the input does not have, the classes of a
    static matrix) still count whole.  Counting n there made the directional tolerance grow like n²
    and hid one element off by 1e-6·max|g| at n = 1e5.
    """
    own = {int(n) for leaf in case.leaves for n in leaf.value.shape}
    axes = [int(n) for a in case.shapes_for_depth for n in np.shape(a)]
    return 32 + sum((int(np.ceil(np.log2(n))) if n > 1 else 0) if n in own else n for n in axes)


def _not_repeatable(what: str, first: str, second: str) -> str:
    return (f"refused: {what} is not repeatable: two calls at the same inputs gave {first} and {second}: "
            "a random mask or sample? fix the seed (np.random.seed inside, or a seeded Generator in static=), "
            "then check again")


def _complex_note(valid: bool, why: str) -> str:
    return "complex step: valid here (self-tested against central differences along a random direction)" if valid \
        else f"complex step not used: {why}; central differences instead"


def _full(box: BlackBox, case: _Case, grads: list[np.ndarray], rtol: float, rng: np.random.Generator,
          result: CheckResult) -> None:
    d1, bound, taken = box.line(_rademacher(rng, box.base))
    valid, why, _ = box.complex_status(taken, d1, bound)
    exact = valid and box.size <= AUTO_FULL_LIMIT  # beyond, one complex evaluation costs more than the two real ones
    if exact:
        est = [box.complex_elements_at(i, np.arange(a.size)).reshape(a.shape) for i, a in enumerate(box.base)]
        steps = [box.step_scale * CENTRAL_STEP * np.maximum(1.0, np.abs(a)) for a in box.base]
        err = [np.zeros(a.shape) for a in box.base]
    else:
        sweeps = [box.central_elements(i) for i in range(len(box.base))]
        est, steps = [s[0].copy() for s in sweeps], [s[1] for s in sweeps]
        err = [3 * box.rounding_error / h for h in steps]
    finite = [e[np.isfinite(e)] for e in est]
    G = max((float(np.max(np.abs(e))) for e in finite if e.size), default=0.0)
    at_kinks: list[Kink] = []
    for i, (g, o) in enumerate(zip(grads, est)):
        suspect = np.flatnonzero(~(np.abs(g - o) <= rtol * (np.abs(o) + G) + err[i]))
        if not suspect.size:
            continue
        if exact:
            h = steps[i].reshape(-1)[suspect]
            plus, minus, up, down = box.sides_at(i, suspect, h)
            h = (up + down) / 2
            sides = ((plus - minus) / (up + down), h, plus, minus)
        else:
            sides = (sweeps[i][0].reshape(-1)[suspect], sweeps[i][1].reshape(-1)[suspect],
                     sweeps[i][2][suspect], sweeps[i][3][suspect])
        at_kinks += _remeasure(box, i, suspect, sides, g, est[i], err[i], valid and not exact, rtol, G)
    _non_finite_steps(box, est, steps, result)
    names = box.names
    comparison = compare(dict(zip(names, grads)), dict(zip(names, est)), rtol, dict(zip(names, err)),
                         "complex step" if valid else "central differences")
    for a, g, o, e in zip(comparison.arrays, grads, est, err):
        result.inputs.append(_verdict(a, g, o, rtol * (np.abs(o) + comparison.scale) + e, rng))
    _judge_coverage(result, names, grads, est, err, rtol, comparison.scale, at_kinks)
    result.oracle = ("every element by complex step (exact, one evaluation each)" if exact else
                     f"every element by central differences, step {box.step_scale:.3g}·ε^⅓·max(1, |θ|)") + \
        ("; elements that disagree measured again at ±h and ±h/2 (a kink test)" +
         ("" if exact else ", then " + ("by complex step" if valid else "at 2h for the truncation bound")))
    if box.step_scale < 1:
        result.notes.append(f"note: F is not smooth at the scale of ε^⅓ along a random direction (its higher differences "
                            f"shrank with the spacing: truncation or a kink), so the step is {box.step_scale:.3g}·ε^⅓")
    if case.allow_complex:
        result.notes.append(_complex_note(valid, why))


def _non_finite_steps(box: BlackBox, est: list[np.ndarray], steps: list[np.ndarray], result: CheckResult) -> None:
    for i, (name, o) in enumerate(zip(box.names, est)):
        if not np.all(np.isfinite(o)):
            k = np.argwhere(~np.isfinite(o))[0]
            seen = box.warnings.summary()
            result.problems.append(f"F is not finite when {element(name, tuple(int(j) for j in k))} moves by "
                                   f"{float(steps[i][tuple(k)]):.1e}" + (f" (numpy warned: {seen})" if seen else ""))


# --- kinks: elements where F is not differentiable within the step ----------------------------------------


@dataclass
class Kink:
    array: int
    flat: int
    low: float  # the one-sided slopes at half the step, in order
    high: float
    where: str  # where the kink lies, in words


def _remeasure(box: BlackBox, i: int, suspect: np.ndarray, sides: tuple, g: np.ndarray, est: np.ndarray,
               err: np.ndarray, valid: bool, rtol: float, G: float) -> list[Kink]:
    """Elements of input i that disagree with D(h): measured again at h/2 (two evaluations each).

    A smooth F gives D(h/2) ≈ D(h) and one-sided slopes whose spread halves with the step; a kink within
    the step breaks one or the other (a kink exactly at θ leaves D alone but not the spread, one elsewhere
    moves D).  Kinks are judged against the one-sided slopes (any subgradient between them is right); the
    rest by complex step when ``valid``, else by D(h) with its truncation bound through D(2h) (exact values stay).
    ``sides``: D(h), h, F(θ + h), F(θ − h) for the suspects.  ``est`` and ``err`` are updated in place.
    """
    d1, h, plus, minus = sides
    halves = box.sides_at(i, suspect, h / 2)
    eps_f = box.rounding_error
    kink, off, (lows, highs) = kinks(box.f0, (plus, minus, h, h), halves, eps_f, rtol * (np.abs(d1) + G))
    found = []
    flat_est, flat_err = est.reshape(-1), err.reshape(-1)
    for n in np.flatnonzero(kink):
        where = {0: "at the point", 1: f"within {h[n]:.1e} above it", -1: f"within {h[n]:.1e} below it"}[int(off[n])]
        found.append(Kink(i, int(suspect[n]), float(lows[n]), float(highs[n]), where))
        gk = float(g.reshape(-1)[suspect[n]])
        flat_est[suspect[n]] = min(max(gk, lows[n]), highs[n])  # the nearest value that is still right there
        flat_err[suspect[n]] = 4 * eps_f / (h[n] / 2)  # the rounding of a one-sided slope at h/2
    smooth = suspect[~kink]
    if smooth.size and valid:
        flat_est[smooth] = box.complex_elements_at(i, smooth)
        flat_err[smooth] = 0.0
    elif smooth.size and np.any(flat_err[smooth]):  # D(h) as it was, bounded through D(2h) (D(h/2) is noisier)
        p4, m4, u4, w4 = box.sides_at(i, smooth, 2 * h[~kink])
        flat_err[smooth] = central_bound(d1[~kink], (p4 - m4) / (u4 + w4), eps_f, h[~kink])
    return found


def _kink_notes(result: CheckResult, names: list[str], shapes: list[tuple[int, ...]], grads: list[np.ndarray],
                kinks: list[Kink]) -> None:
    for k in kinks[:SHOWN_ELEMENTS]:
        at = element_at(names[k.array], k.flat, shapes[k.array])
        result.notes.append(f"kink: F is not differentiable within the step at {at} (a kink {k.where}); one-sided "
                            f"slopes {k.low:.6e} and {k.high:.6e}, so any value between them was accepted "
                            f"(got {float(grads[k.array].flat[k.flat]):.6e})")
    if len(kinks) > SHOWN_ELEMENTS:
        result.notes.append(f"kink: {len(kinks) - SHOWN_ELEMENTS} more elements judged the same way")


# --- coverage: was every element checked to within a fraction of itself? ---------------------------------


def _judge_coverage(result: CheckResult, names: list[str], grads: list[np.ndarray], est: list[np.ndarray],
                    err: list[np.ndarray], rtol: float, G: float, kinks: list[Kink]) -> None:
    """Notes on the kinks, and the verdict "inconclusive" when an element's allowance exceeds
    ``COVERED_FRACTION`` of its expected value (an element that is exactly 0 on both sides is checked)."""
    at_kink = {(k.array, k.flat) for k in kinks}
    _kink_notes(result, names, [o.shape for o in est], grads, kinks)
    loose = []
    for i, (g, o, e) in enumerate(zip(grads, est, err)):
        allowance = rtol * (np.abs(o) + G) + e
        bad = (allowance > COVERED_FRACTION * np.abs(o)) & (o != 0)  # measured exactly 0: F does not move at all
        loose += [(i, int(k), float(allowance.flat[k]), float(o.flat[k])) for k in np.flatnonzero(bad)
                  if (i, int(k)) not in at_kink]
    if not loose or not all(v.ok for v in result.inputs) or result.problems:
        return  # a wrong element is the verdict already
    by_scale = sum(1 for i, k, a, o in loose if rtol * G > COVERED_FRACTION * abs(o))
    shown = "; ".join(f"{element_at(names[i], k, est[i].shape)} expected {o:.3e} ± {a:.1e}" for i, k, a, o in loose[:SHOWN_ELEMENTS])
    result.coverage = (f"{len(loose)} elements not checked to within {COVERED_FRACTION:.0%} of themselves: {shown}"
                       + (f"; {by_scale} of them are small against the largest element, G = {G:.3e}, whose rounding "
                          f"scale rtol·G = {rtol * G:.1e} sets their allowance" if by_scale else "")
                       + ("; the rest carry the oracle's own error (noise or truncation of F at the step)"
                          if by_scale < len(loose) else ""))


def _verdict(a: ArrayResult, g: np.ndarray, o: np.ndarray, bound: np.ndarray, rng: np.random.Generator) -> InputVerdict:
    """One input's verdict from its ``compare`` row ``a``: the worst elements by |error| / bound, and the pattern
    of the error when it is wrong (``g`` the candidate's gradient, ``o`` the expected one)."""
    diff = np.where(np.isfinite(o), np.abs(g - o), np.inf)
    order = np.argsort(-(diff / np.maximum(bound, np.finfo(float).tiny)), axis=None)[: min(SHOWN_ELEMENTS, a.bad)]
    shown = [ElementVerdict(element_at(a.name, k, o.shape), float(g.flat[k]), float(o.flat[k]), float(bound.flat[k]))
             for k in order]
    return InputVerdict(a.name, a.shape, a.ok, a.size, a.bad, False, shown, a.normwise,
                        None if a.ok else patterns.of_arrays(g, o, bound, rng))


def _tolerance(pairs: Iterable[tuple[np.ndarray, np.ndarray]], G: float, rtol: float, error: float) -> float:
    """rtol·Σ|u_k|(|g_k| + G) + error over (u, g) pairs of arrays: the allowed |⟨u, g⟩ − D_u F|."""
    return rtol * sum(float(np.sum(np.abs(a) * (np.abs(g) + G))) for a, g in pairs) + error


def _fast(box: BlackBox, case: _Case, grads: list[np.ndarray], rtol: float, rng: np.random.Generator,
          result: CheckResult) -> None:
    G = max((float(np.max(np.abs(g))) for g in grads if g.size), default=0.0)
    measured, valid, why, sharp = _directional(box, grads, G, rtol, rng)
    if not all(np.isfinite(d) and np.isfinite(e) for d, e, _ in measured):
        seen = box.warnings.summary()
        result.problems.append(f"F is not finite within {3 * box.step():.1e} of the inputs along a random direction, "
                               "so no directional derivative can be checked" + (f" (numpy warned: {seen})" if seen else ""))
        result.ok = False
        return
    tolerances = [_tolerance(zip(u, grads), G, rtol, e) for _, e, u in measured]
    ratios = [ratio(sum(float(np.sum(a * g)) for a, g in zip(u, grads)), d, t) for (d, _, u), t in zip(measured, tolerances)]
    failed = [j for j, r in enumerate(ratios) if not r <= 1]
    # one element off by δ moves every directional derivative by |δ|: beyond twice a tolerance it fails for sure
    sensitivity = 2 * min(tolerances)
    result.fast = {"passes": len(measured), "failed": len(failed), "worst": float(max(ratios)), "evaluations": box.evaluations,
                   "rtol": rtol, "sensitivity": sensitivity, "G": G}
    if not sensitivity <= COVERED_FRACTION * G and not failed:
        result.coverage = (f"fast mode could only catch an element off by more than {sensitivity:.1e}, over "
                           f"{COVERED_FRACTION:.0%} of the largest element ({G:.3e}): the directional derivatives carry "
                           "too large an error bound (noise or truncation of F); use mode='full'")
    method = "complex step" if valid else "Richardson extrapolation of central differences" if sharp else "central differences"
    result.oracle = f"{method} along {len(measured)} random ±1 directions (n = {box.size} elements)"
    if case.allow_complex:
        result.notes.append(_complex_note(valid, why))
    if not failed:
        result.inputs = [InputVerdict(name, a.shape, True, a.size) for name, a in zip(box.names, box.base)]
        return
    result.ok = False
    j = max(failed, key=lambda k: ratios[k])
    _localised(box, grads, G, rtol, rng, result, measured[j], tolerances[j], _along(box, valid, sharp), exact=valid)


Measured = tuple[float, float, list[np.ndarray]]  # a directional derivative, its error bound, the direction taken


def _directional(box: BlackBox, grads: list[np.ndarray], G: float, rtol: float,
                 rng: np.random.Generator) -> tuple[list[Measured], bool, str, bool]:
    """F's derivative along ``FAST_PASSES`` random ±1 directions: by complex step where it passes its self-test,
    else by central differences (sharpened by Richardson where that helps); also whether complex step was valid,
    why (not), and whether Richardson's estimates were used."""
    directions = [_rademacher(rng, box.base) for _ in range(FAST_PASSES)]
    d1, bound, taken = box.line(directions[0])
    valid, why, cs = box.complex_status(taken, d1, bound)
    if valid:
        try:
            return [(cs, 0.0, taken)] + [(box.complex_step(u), 0.0, u) for u in directions[1:]], True, why, False
        except (CodeRaised, _Discarded) as e:
            why = f"it failed along a later direction ({e})"
    measured = [(d1, bound, taken)] + [box.central(u) for u in directions[1:FAST_PASSES_CENTRAL]]
    measured, sharp = _sharpened(box, measured, directions, grads, G, rtol)
    return measured, False, why, sharp


def _along(box: BlackBox, valid: bool, sharp: bool) -> Callable[[list[np.ndarray]], tuple[float, float]]:
    """A directional derivative and its error bound, measured as the verdict measured them: complex step (exact),
    else Richardson's extrapolation where it sharpened the verdict, else central differences."""
    if valid:
        return lambda u: (box.complex_step(u), 0.0)
    estimate = box.richardson if sharp else box.central
    return lambda u: estimate(u)[:2]


def _localised(box: BlackBox, grads: list[np.ndarray], G: float, rtol: float, rng: np.random.Generator,
               result: CheckResult, worst: Measured, worst_tolerance: float,
               along: Callable[[list[np.ndarray]], tuple[float, float]], exact: bool) -> None:
    """The wrong elements, found by group testing along the failing direction ``worst``, set on ``result``."""
    d, e, u = worst
    flat_u = [a.reshape(-1) for a in u]
    flat_g = [g.reshape(-1) for g in grads]

    def restricted(i: int, lo: int, hi: int) -> list[np.ndarray]:
        w = [np.zeros(a.shape) for a in box.base]
        w[i].reshape(-1)[lo:hi] = flat_u[i][lo:hi]
        return w

    def measure(i: int, lo: int, hi: int) -> tuple[float, float]:
        try:
            return along(restricted(i, lo, hi))
        except (CodeRaised, _Discarded) as exc:
            if not exact:
                raise
            raise CheckError(f"{box.what}: complex step failed on part of {box.names[i]} ({exc}) "
                             "although it passed its self-test") from exc

    def sets(i: int, lo: int, hi: int) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(a, g) for a, g in zip(flat_u, flat_g)] if i < 0 else [(flat_u[i][lo:hi], flat_g[i][lo:hi])]

    def candidate(i: int, lo: int, hi: int) -> float:
        return sum(float(np.dot(a, g)) for a, g in sets(i, lo, hi))

    def tolerance(i: int, lo: int, hi: int, error: float) -> float:
        return _tolerance(sets(i, lo, hi), G, rtol, error)

    kinked = _kinked_along(box, u, worst_tolerance)
    found = localise(measure, candidate, tolerance, flat_u, flat_g, (d, e), exact=exact, budget=LOCALISE_BUDGET)
    if kinked:
        found.found, at_kinks = _drop_kinks(box, found.found + _sampled(box, grads, rtol, G, rng), rtol, G)
        _kink_notes(result, box.names, [a.shape for a in box.base], grads, at_kinks)
        if not found.found:  # every element found sits on a kink, and what is left may be more of them
            result.inputs = [InputVerdict(name, a.shape, True, a.size) for name, a in zip(box.names, box.base)]
            result.coverage = ("fast mode could not tell a wrong element from a kink: F is not differentiable within "
                               "the step along the failing direction (relu at 0, a tie in a max), and a directional "
                               "derivative through a kink is one-sided; use mode='full', which judges each element "
                               "at a kink by its one-sided slopes")
            return
    # the pattern sums a whole input along each direction, where central differences' smaller rounding term beats
    # Richardson's: on 1e5 elements a gradient × 1.001 was named by central differences only
    result.inputs += _located(box, grads, found, G, rtol, rng, _along(box, exact, sharp=False))
    result.notes.append(f"localisation: group testing along the worst direction, {found.evaluations} evaluations")


def _located(box: BlackBox, grads: list[np.ndarray], found: Any, G: float, rtol: float, rng: np.random.Generator,
             along: Callable[[list[np.ndarray]], tuple[float, float]]) -> list[InputVerdict]:
    """Each input's verdict from what localisation ``found``: its wrong elements, what it could not resolve, and the
    pattern of a wrong input's error."""
    verdicts = []
    for i, (name, a) in enumerate(zip(box.names, box.base)):
        mine = sorted((f for f in found.found if f.array == i), key=lambda f: -ratio(f.got, f.expected, f.bound))
        wrong = i in found.failing_arrays or bool(mine)
        shown = [ElementVerdict(element_at(name, f.flat, a.shape), f.got, f.expected, f.bound) for f in mine[:SHOWN_ELEMENTS]]
        unresolved = [unresolved_text(name, lo, hi, a.shape) for k, lo, hi in found.unresolved if k == i]
        pattern = _fast_pattern(box, i, grads[i], G, rtol, rng, along) if wrong else None
        verdicts.append(InputVerdict(name, a.shape, not wrong, a.size, len(mine) or None, bool(unresolved),
                                     shown, None, pattern, unresolved))
    return verdicts


def _sharpened(box: BlackBox, measured: list[tuple[float, float, list[np.ndarray]]], directions: list[list[np.ndarray]],
               grads: list[np.ndarray], G: float, rtol: float) -> tuple[list[tuple[float, float, list[np.ndarray]]], bool]:
    """Central differences along each direction, or Richardson's where its tolerance is smaller, when central's
    sensitivity misses ``FAST_SENSITIVITY`` and F is smooth at the scale of ε^⅓ (so of ε^⅕ too, unless its
    bound says otherwise: each estimate carries its own truncation term, and the smaller bound is kept).
    Also whether Richardson was used, so that localisation measures the same way."""
    def tolerance(m: tuple[float, float, list[np.ndarray]]) -> float:
        return _tolerance(zip(m[2], grads), G, rtol, m[1])

    if box.step_scale < 1 or 2 * min(tolerance(m) for m in measured) <= FAST_SENSITIVITY * G:
        return measured, False
    sharper = [box.richardson(u) for u in directions[:len(measured)]]
    chosen = [r if np.isfinite(r[0]) and tolerance(r) < tolerance(m) else m for m, r in zip(measured, sharper)]
    return chosen, any(c is r for c, r in zip(chosen, sharper))


def _kinked_along(box: BlackBox, u: list[np.ndarray], slack: float) -> bool:
    """Is F not differentiable within the step along u?  (F at θ ± h·u and θ ± h/2·u: four evaluations.)"""
    h = box.step()
    kink, _, _ = kinks(box.f0, box.sides_along(u, h), box.sides_along(u, h / 2), box.rounding_error, np.array([slack]))
    return bool(kink[0])


def _sampled(box: BlackBox, grads: list[np.ndarray], rtol: float, G: float, rng: np.random.Generator) -> list[Found]:
    """``SAMPLED_ELEMENTS`` elements drawn at random and measured one by one (two evaluations each), those that
    disagree: where kinks blur the directions, an error on many elements (× 2 everywhere) still shows here."""
    sizes = np.array([a.size for a in box.base], dtype=np.float64)
    out = []
    for i in rng.choice(len(box.base), size=SAMPLED_ELEMENTS, p=sizes / sizes.sum()):
        k = int(rng.integers(box.base[i].size))
        theta = float(box.base[i].reshape(-1)[k])
        h = box.step_scale * CENTRAL_STEP * max(1.0, abs(theta))
        plus, minus, up, down = box.sides_at(int(i), np.array([k]), np.array([h]))
        o, g = float((plus[0] - minus[0]) / (up[0] + down[0])), float(grads[i].reshape(-1)[k])
        bound = rtol * (abs(o) + G) + 3 * box.rounding_error / h
        if not abs(g - o) <= bound:
            out.append(Found(int(i), k, g, o, bound))
    return out


def _drop_kinks(box: BlackBox, found: list, rtol: float, G: float) -> tuple[list, list[Kink]]:
    """The elements localisation found, less those at a kink whose value lies between its one-sided slopes
    (four evaluations each), and those as ``Kink``s."""
    kept, at_kinks = [], []
    for f in found:
        theta = float(box.base[f.array].reshape(-1)[f.flat])
        h = np.array([box.step_scale * CENTRAL_STEP * max(1.0, abs(theta))])
        where = np.array([f.flat])
        slack = rtol * (abs(f.got) + G)
        kink, off, (low, high) = kinks(box.f0, box.sides_at(f.array, where, h), box.sides_at(f.array, where, h / 2),
                                       box.rounding_error, np.array([slack]))
        tol = slack + 8 * box.rounding_error / h[0]
        if kink[0] and low[0] - tol <= f.got <= high[0] + tol:
            side = {0: "at the point", 1: "above it", -1: "below it"}[int(off[0])]
            at_kinks.append(Kink(f.array, f.flat, float(low[0]), float(high[0]), side))
        else:
            kept.append(f)
    return kept, at_kinks


def _fast_pattern(box: BlackBox, i: int, g: np.ndarray, G: float, rtol: float, rng: np.random.Generator,
                  along: Callable[[list[np.ndarray]], tuple[float, float]]) -> Optional[patterns.Pattern]:
    """The pattern of input i's error, from ``PATTERN_DIRECTIONS`` fresh directions restricted to it, each measured by
    ``along``."""
    got, expected, tol, transposed = [], [], [], []
    square = g.ndim == 2 and g.shape[0] == g.shape[1]
    for _ in range(PATTERN_DIRECTIONS):
        u = [np.zeros(a.shape) for a in box.base]
        u[i] = rng.choice(np.array([-1.0, 1.0]), size=g.shape)
        d, e = along(u)
        got.append(float(np.sum(u[i] * g)))
        expected.append(d)
        tol.append(rtol * float(np.sum(np.abs(g) + G)) + e)
        if square:
            transposed.append(float(np.sum(u[i] * g.T)))
    return patterns.describe(np.array(got), np.array(expected), np.array(tol),
                             transposed=np.array(transposed) if square else None, all_zero=not np.any(g))


# --- backward hygiene: what a backward does besides returning gradients --------------------------------------
#: dout's combination in the linearity test: exact in binary, far from 1 so a backward that ignores dout
#: (g(a·d1 + b·d2) = g(d1)) or squares it cannot agree by chance.
LINEAR_A, LINEAR_B = 2.0, -3.0
CACHE_DEPTH = 4  # how deep nested tuples, lists, dicts and objects of a cache are searched for arrays


def _cache_arrays(cache: Any, path: str, depth: int = CACHE_DEPTH) -> list[tuple[str, np.ndarray]]:
    """Copies of the arrays in ``cache`` (nested tuples, lists, dicts, objects' attributes), each with its path."""
    if isinstance(cache, np.ndarray):
        return [(path, cache.copy())]
    if depth == 0:
        return []
    if isinstance(cache, (tuple, list)):
        items = [(f"{path}[{i}]", v) for i, v in enumerate(cache)]
    elif isinstance(cache, dict):
        items = [(f"{path}[{k!r}]", v) for k, v in cache.items()]
    elif hasattr(cache, "__dict__") and not callable(cache):
        items = [(f"{path}.{k}", v) for k, v in vars(cache).items()]
    else:
        return []
    return [found for p, v in items for found in _cache_arrays(v, p, depth - 1)]


def _written(backward: str, pairs: list[tuple[str, np.ndarray, np.ndarray]]) -> list[str]:
    """A hazard for each array that changed during the call: (its name, before, after)."""
    out = []
    for name, before, after in pairs:
        if before.shape != after.shape or before.dtype != after.dtype:
            out.append(f"hazard: {backward} replaced {name} ({before.dtype}{before.shape} became {after.dtype}{after.shape})")
            continue
        changed = ~((before == after) | (np.isnan(before) & np.isnan(after)) if before.dtype.kind in "fc" else before == after)
        if changed.any():
            k = tuple(int(i) for i in np.argwhere(changed)[0])
            out.append(f"hazard: {backward} writes into {name}: {int(changed.sum())} of {before.size} elements changed "
                       f"during the call, first {element(name, k)}: {_shown(before[k])} before, {_shown(after[k])} after "
                       "(a caller that uses it again, a second branch or a second backward, gets wrong values)")
    return out


def _shown(value: Any) -> str:
    return f"{float(value):.10e}" if np.ndim(value) == 0 and np.asarray(value).dtype.kind in "fiub" else str(value)


def _dout_patterns(forward: Callable, backward: Callable, tree: Tree, leaves: list[Leaf], fixed: Any, seed: int,
                   out: np.ndarray, g1: list[np.ndarray], rtol: Optional[float]) -> list[str]:
    """Problems: backward ignores dout (the same gradients for an independent d2), or is not linear in it.

    A VJP is linear in dout: g(a·d1 + b·d2) = a·g(d1) + b·g(d2).  Each g carries at most rtol·(|g_k| + G)
    of rounding (the bound the check itself allows one gradient), so the three together allow
    rtol·(|g3_k| + |a||g1_k| + |b||g2_k| + (1 + |a| + |b|)·G), G the largest element of the three;
    a·d1 + b·d2 itself rounds once, within the 32 elementwise roundings D counts.  Each call gets a fresh
    forward's cache, so a backward that writes into its cache cannot fake either pattern.  Two independent
    douts giving gradients within rtol·G of each other everywhere (G > 0) is "ignores dout".
    """
    shapes = [leaf.value.shape for leaf in leaves]
    names, bname = [leaf.name for leaf in leaves], name_of(backward)
    if rtol is None:  # as _run derives it, for the gradients' dtype
        rtol = 2 * _depth([leaf.value for leaf in leaves] + static_arrays(fixed) + [out]) * float(np.finfo(_dtype(g1 + [out])).eps)

    def gradients(dout: np.ndarray, which: str) -> list[np.ndarray]:
        result = call_once(call_with, f"{name_of(forward)} at the inputs given", forward, tree,
                           [leaf.value.copy() for leaf in leaves], copy.deepcopy(fixed))  # the check's state untouched
        out, cache = _split_forward(result, name_of(forward))
        value = call_once(backward, f"{bname}({which}, cache)", dout.astype(out.dtype), cache)
        return [np.asarray(g, dtype=np.float64) for g in tree.match(value, bname, shapes, None)]

    d1 = _cotangent(out, seed).astype(np.float64)  # the dout g1 came from
    d2 = _rng(COTANGENT_STREAM, seed + 1).standard_normal(d1.shape)
    g1 = [np.asarray(g, dtype=np.float64) for g in g1]
    g2 = gradients(d2, "a second dout")
    g3 = gradients(LINEAR_A * d1 + LINEAR_B * d2, f"{LINEAR_A:g}·dout + {LINEAR_B:g}·(a second dout)")
    problems = []
    for name, a, b, c in zip(names, g1, g2, g3):
        G = max(float(np.max(np.abs(x), initial=0.0)) for x in (a, b, c))
        if G > 0 and np.all(np.abs(a - b) <= rtol * G):  # independent douts: equal only if dout is not used
            problems.append(f"{bname} ignores dout: for {name} it returned the same gradient for two independent "
                            f"standard normal douts (largest element {G:.3e}); a VJP multiplies dout by the Jacobian")
            continue
        combined = LINEAR_A * a + LINEAR_B * b
        bound = rtol * (np.abs(c) + abs(LINEAR_A) * np.abs(a) + abs(LINEAR_B) * np.abs(b)
                        + (1 + abs(LINEAR_A) + abs(LINEAR_B)) * G)
        off = ~(np.abs(c - combined) <= bound)
        if off.any():
            k = int(np.argmax(np.where(off, np.abs(c - combined) / np.maximum(bound, np.finfo(float).tiny), -1)))
            problems.append(f"{bname} is not linear in dout: for {element_at(name, k, a.shape)}, "
                            f"g({LINEAR_A:g}·d1 − {-LINEAR_B:g}·d2) = {c.flat[k]:.10e} but {LINEAR_A:g}·g(d1) "
                            f"− {-LINEAR_B:g}·g(d2) = {combined.flat[k]:.10e} (|error| {abs(c.flat[k] - combined.flat[k]):.2e} > "
                            f"bound {bound.flat[k]:.2e}; {int(off.sum())} of {a.size} elements): a VJP is J·dout, "
                            "linear in dout (a mask or branch taken on dout's sign?)")
    return problems


# --- the public entry points ----------------------------------------------------------------------------


def _split_forward(result: Any, what: str, kinds: str = "fiu") -> tuple[np.ndarray, Any]:
    out, cache = (result[0], result[1]) if isinstance(result, tuple) and len(result) == 2 else (result, None)
    if isinstance(out, (tuple, list, dict)):
        raise CheckError(f"{what} returned {type(result).__name__}; expected out or (out, cache) with out an array")
    arr = np.asarray(out)
    if arr.dtype.kind not in kinds:
        raise CheckError(f"{what} returned an output of dtype {arr.dtype}; expected real numbers")
    return arr, cache


def _cotangent(out: np.ndarray, seed: int) -> np.ndarray:
    """dout: standard normal, in the output's float dtype."""
    return _rng(COTANGENT_STREAM, seed).standard_normal(out.shape).astype(out.dtype if out.dtype.kind == "f" else np.float64)


def check_vjp(
    forward: Callable[..., Any],
    backward: Callable[[np.ndarray, Any], Any],
    inputs: Any,
    *,
    static: Any = None,
    mode: str = "auto",
    seed: int = 0,
    reference: Optional[Callable[..., Any]] = None,
    rtol: Optional[float] = None,
    complex_step: bool = True,
) -> CheckResult:
    """Check a layer written as ``forward(**inputs, **static) -> out or (out, cache)`` and ``backward(dout, cache)``.

    ``backward`` returns the gradients for ``inputs``: a tuple in their order, a dict by name, or a bare
    array for a single input.  bpcheck picks the cotangent ``dout`` (standard normal, from ``seed``) and
    checks ∂⟨dout, out⟩/∂inputs.  ``reference``: a float64 version of ``forward``, for float32 code.
    ``complex_step=False``: central differences only (complex step is otherwise used where its self-test passes).
    """
    return _vjp(forward, backward, inputs, static, mode, seed, reference, rtol, complex_step, second_size=True)


def _vjp(forward: Callable, backward: Callable, inputs: Any, static: Any, mode: str, seed: int, reference: Optional[Callable],
         rtol: Optional[float], complex_step: bool, second_size: bool) -> CheckResult:
    title = f"check_vjp({name_of(forward)}, {name_of(backward)})"
    fixed = private_static(static)
    tree, leaves = flatten(inputs, forward)
    fwd = name_of(forward)
    try:
        notes: list[str] = []
        grads, out, _ = gradients_of((forward, backward), "grad", tree, leaves, fixed, seed, at=" at the inputs given",
                                      backward_args="(dout, cache)", notes=notes, hazards=notes)
    except _Refused as e:
        return CheckResult(False, title, mode, "", 0.0, 0, refused=str(e))
    hygiene = _dout_patterns(forward, backward, tree, leaves, fixed, seed, out, grads, rtol)
    problem = _non_finite(f"{fwd}'s output", out)
    weights = _cotangent(out, seed).astype(np.float64)  # the dout backward was given: the same draw
    oracle = reference or forward
    oname = name_of(oracle)  # once, not in every evaluation of F

    def bind(arrays: list[np.ndarray]) -> Callable[[], Any]:
        args, kwargs = arguments(tree, arrays, fixed)

        def F() -> Any:
            o, _ = _split_forward(oracle(*args, **kwargs), oname, "fciu")
            if o.shape != out.shape:
                raise CheckError(f"{oname} returned an output of shape {o.shape}, but {out.shape} at the inputs given")
            return np.vdot(weights, _scalar_of_array(o, oname))
        return F

    case = _Case(title, oname, tree, leaves, grads, bind,
                 [leaf.value for leaf in leaves] + static_arrays(fixed) + [out],
                 {**_named_arrays(fixed, leaves), "the output": out}, complex_step,
                 f"F = ⟨dout, {oname}(inputs)⟩ with dout standard normal (seed {seed}); its gradient is "
                 f"{name_of(backward)}(dout, cache)", notes)
    if second_size:
        case.rerun = lambda n: _vjp(forward, backward, grown(inputs, n), grown(static, n), mode, seed, reference, rtol,
                                    complex_step, second_size=False)
    if problem:
        result = CheckResult(False, title, mode, str(_dtype([leaf.value for leaf in leaves])), 0.0, _depth(case.shapes_for_depth))
        result.problems.append(problem)
        return result
    result = _with_dout_findings(_run(case, mode, seed, rtol), hygiene, name_of(backward))
    if reference is None and second_size:  # the rerun at a second size needs only its pattern
        _confirm_by_taylor(result, case, seed)
    return result


def _with_dout_findings(result: CheckResult, problems: list[str], backward: str) -> CheckResult:
    """``_dout_patterns``' problems fail the check (writes into dout or the cache are hazards, notes: docs/api.md)."""
    if not result.refused:
        result.problems += problems
        result.ok = result.ok and not problems
        result.notes.append(f"dout: {backward} also given a second, independent dout and {LINEAR_A:g}·dout "
                            f"− {-LINEAR_B:g}·(the second), on fresh caches: the gradients must change and combine "
                            "the same way (a VJP is J·dout)")
    return result


def _scalar_of_array(o: np.ndarray, what: str) -> np.ndarray:
    if o.dtype in (np.float32, np.float16, np.complex64):
        scalar_of(o, what)  # raises the reduced-precision explanation
    return o


def _named_arrays(fixed: Any, leaves: Sequence[Leaf]) -> dict[str, np.ndarray]:
    """The static arrays and the inputs, by the names messages use: the axis lengths a factor may be (``patterns``)."""
    static = fixed.items() if isinstance(fixed, dict) else ((f"static[{i}]", v) for i, v in enumerate(fixed))
    return {**{k: v for k, v in static if isinstance(v, np.ndarray)}, **{leaf.name: leaf.value for leaf in leaves}}


#: What ``f`` returns: the loss; (loss, grad); or (loss, grad, hessp) with hessp(p) -> H·p (scikit-learn style).
LOSS_RETURNS = ("loss", "loss_and_grad", "loss_grad_hessp")


def loss_arguments(returns: str, grad: Optional[Callable]) -> None:
    """CheckError unless ``returns`` is one of ``LOSS_RETURNS`` and ``grad`` is given exactly when f returns the loss only."""
    if returns not in LOSS_RETURNS:
        raise CheckError(f"returns: expected 'loss' or 'loss_and_grad', got {returns!r} (or 'loss_grad_hessp', when f "
                         "returns (loss, grad, hessp))")
    if (grad is None) == (returns == "loss"):
        others = " or ".join(repr(r) for r in LOSS_RETURNS if r != "loss")
        raise CheckError(f"grad: give grad= when f returns the loss only, and leave it out with returns={others}")


def unpack_loss(value: Any, returns: str, what: str) -> tuple[Any, Any]:
    """(loss, grad) from what f returns (grad None with ``returns="loss"``); CheckError when the tuple is wrong."""
    if returns == "loss":
        return value, None
    n = 3 if returns == "loss_grad_hessp" else 2
    if not (isinstance(value, tuple) and len(value) == n):
        raise CheckError(f"{what} returned {type(value).__name__}; with returns={returns!r} it must return "
                         + ("(loss, grad, hessp)" if n == 3 else "(loss, grad)"))
    return value[0], value[1]


def loss_binder(oracle: Callable, returns: str, tree: Tree, fixed: Any) -> Callable[[list[np.ndarray]], Callable[[], Any]]:
    """``bind`` for a BlackBox: F at given arrays is the loss ``oracle`` returns (summed when per example)."""
    oname = name_of(oracle)  # once, not in every evaluation of F

    def bind(arrays: list[np.ndarray]) -> Callable[[], Any]:
        args, kwargs = arguments(tree, arrays, fixed)

        def F() -> Any:
            value = unpack_loss(oracle(*args, **kwargs), returns, oname)[0]
            return value if type(value) is np.float64 or type(value) is float else scalar_of(value, oname)
        return F
    return bind


def check_function(
    f: Callable[..., Any],
    inputs: Any,
    grad: Optional[Callable[..., Any]] = None,
    *,
    returns: str = "loss",
    static: Any = None,
    mode: str = "auto",
    reference: Optional[Callable[..., Any]] = None,
    seed: int = 0,
    rtol: Optional[float] = None,
    complex_step: bool = True,
    hessp: Optional[Callable[..., Any]] = None,
    hess: Optional[Callable[..., Any]] = None,
) -> Any:
    """Check the gradient of a loss ``f``: given by ``grad`` (same arguments as f), or by f itself with ``returns="loss_and_grad"``.

    ``inputs``: an array (``f(x, ...)``), a list (``f(*inputs, ...)``) or a dict (``f(**inputs, ...)``),
    nested lists and dicts allowed; names in messages come from the dict keys or f's parameters.
    ``static``: fixed arguments, a dict (by keyword) or a tuple (by position, as scipy's ``args``).
    A loss returned per example (an array) is summed.  ``reference``: a float64 version of f, for float32 code.
    ``complex_step=False``: central differences only.
    ``hessp(x, p, *static) -> H·p`` or ``hess(x, *static) -> H``, or ``returns="loss_grad_hessp"`` (f returns
    (loss, grad, hessp) with ``hessp(p)``): the second order too, by ``check_hessp`` (x one array), after the gradient.
    ``mode="taylor"``: the Taylor test instead (``check_taylor``, a CheckReport).  A FAILED or inconclusive
    verdict gets the Taylor test's verdict and observed orders in its message (``result.taylor``), as a confirming step.
    """
    loss_arguments(returns, grad)
    if mode == "taylor":
        if hessp is not None or hess is not None or returns == "loss_grad_hessp":
            raise CheckError("mode='taylor' checks the gradient only; check hessp=, hess= or returns='loss_grad_hessp' "
                             "with mode='auto', 'full' or 'fast'")
        from .taylor import check_taylor  # taylor builds on this module
        return check_taylor(f, inputs, grad, returns=returns, static=static, seed=seed, complex_step=complex_step)
    if hessp is not None and hess is not None:
        raise CheckError("give hessp= or hess=, not both")
    if returns == "loss_grad_hessp" and (hessp is not None or hess is not None):
        raise CheckError("returns='loss_grad_hessp': f returns its own hessp, so leave out hessp= and hess=")
    result, case = _first_order(f, inputs, grad, returns, static, mode, reference, seed, rtol, complex_step)
    if reference is None:
        _confirm_by_taylor(result, case, seed)
    if hessp is not None or hess is not None or returns == "loss_grad_hessp":
        _second_order(result, f, inputs, grad, returns, static, seed, rtol, complex_step, hessp, hess)
    return result


def _first_order(f: Callable, inputs: Any, grad: Optional[Callable], returns: str, static: Any, mode: str,
                 reference: Optional[Callable], seed: int, rtol: Optional[float], complex_step: bool,
                 second_size: bool = True) -> tuple[CheckResult, Optional[_Case]]:
    fixed = private_static(static)
    tree, leaves = flatten(inputs, f)
    fname = name_of(f)
    try:
        notes: list[str] = []
        grads, _, loss = gradients_of(f if grad is None else grad, returns, tree, leaves, fixed, seed,
                                       at=" at the inputs given", notes=notes)
    except _Refused as e:
        return CheckResult(False, f"check_function({fname})", mode, "", 0.0, 0, refused=str(e)), None
    oname = name_of(reference or f)
    case = _Case(f"check_function({fname})", oname, tree, leaves, grads, loss_binder(reference or f, returns, tree, fixed),
                 [leaf.value for leaf in leaves] + static_arrays(fixed),
                 _named_arrays(fixed, leaves), complex_step,
                 f"F = what {oname} returns as the loss (summed, when it is one loss per example)", notes)
    if second_size:
        case.rerun = lambda n: _first_order(f, grown(inputs, n), grad, returns, grown(static, n), mode, reference, seed, rtol,
                                            complex_step, second_size=False)[0]
    if returns != "loss" and not np.all(np.isfinite(np.asarray(loss, dtype=np.float64))):
        return CheckResult(False, case.title, mode, str(_dtype([leaf.value for leaf in leaves])), 0.0,
                           _depth(case.shapes_for_depth),
                           problems=[f"{fname} returned the loss {loss} at the inputs given, so no gradient can pass"]), None
    return _run(case, mode, seed, rtol), case


def _confirm_by_taylor(result: CheckResult, case: Optional[_Case], seed: int) -> None:
    """A verdict that did not pass (FAILED or inconclusive) gets the Taylor test on the same F, as notes beside it.

    Only then: a passed verdict costs nothing more.  The tolerance verdict stands; the note says whether the
    tolerance-free one agrees (an error below the Taylor test's printed sensitivity passes it).
    """
    if case is None or result.verdict not in ("FAILED", "inconclusive"):
        return
    from .taylor import taylor_of  # taylor builds on this module
    try:
        taylor = taylor_of(case.bind, [leaf.value for leaf in case.leaves], [leaf.name for leaf in case.leaves],
                           case.evaluated, [np.asarray(g, dtype=np.float64) for g in case.grads],
                           _depth(case.shapes_for_depth), seed, "the Taylor test", case.allow_complex)
    except (CheckError, NotRepeatable) as e:
        result.notes.append(f"confirming step, the Taylor test: not made ({e})")
        return
    verdict = "passed" if taylor.ok else "FAILED"
    if result.verdict == "FAILED":
        verdict += (", as the tolerance verdict" if not taylor.ok else
                    ", where the tolerance verdict FAILED: the error is below its sensitivity (below), or not in the gradient")
    result.notes.append(f"confirming step, the Taylor test (no tolerance on the gradient): {verdict} ({taylor.evaluations})")
    result.notes += [line for line in taylor.lines if "observed orders" in line or "sensitivity" in line]
    result.taylor = taylor.ok


def _second_order(result: CheckResult, f: Callable, inputs: Any, grad: Optional[Callable], returns: str, static: Any,
                  seed: int, rtol: Optional[float], complex_step: bool, hessp: Optional[Callable],
                  hess: Optional[Callable]) -> None:
    """``check_hessp`` on the gradient just checked: its verdict fails the result, its lines are added."""
    from .second_order import check_hessp  # second_order builds on this module
    if result.verdict not in ("passed", "inconclusive"):
        result.notes.append("second order: not checked, since the gradient it differentiates is not known to be right")
        return
    if returns == "loss_grad_hessp":
        def grad_and_hessp(*args: Any, **kwargs: Any) -> Any:
            value = f(*args, **kwargs)
            return unpack_loss(value, returns, name_of(f))[1], value[2]
        grad_and_hessp.__name__ = grad_and_hessp.__qualname__ = name_of(f)  # messages name the user's f
        report = check_hessp(grad_and_hessp, None, inputs, returns="grad_and_hessp", static=static, seed=seed,
                             rtol=rtol, complex_step=complex_step)
    else:
        report = check_hessp(f if grad is None else grad, hessp, inputs, hess=hess, returns=returns if grad is None else "grad",
                             static=static, seed=seed, rtol=rtol, complex_step=complex_step)
    if not report.ok:
        result.ok = False
        result.problems.append(f"second order: {report.title} FAILED (below)")
    result.notes += [f"second order: {report.title}: {'passed' if report.ok else 'FAILED'}"] + \
        [f"  {line}" for line in report.message().splitlines()[1:]]


class _Refused(Exception):
    """The code under check gave different gradients for the same inputs; the message says which."""


def gradients_of(impl: Any, returns: str, tree: Tree, leaves: list[Leaf], fixed: Any, seed: int, prefix: str = "",
                  at: str = "", backward_args: str = "",
                  notes: Optional[list[str]] = None,
                  hazards: Optional[list[str]] = None) -> tuple[list[np.ndarray], Optional[np.ndarray], Any]:
    """The gradients ``impl`` returns at the inputs, with the pair's forward output or the loss as returned.

    ``impl``: a (forward, backward) pair, given the cotangent drawn from ``seed``; or a function returning
    the gradients, or (loss, grad) with ``returns="loss_and_grad"``.  Messages name the code ``prefix`` + its
    name, with ``at`` after the first call's name and ``backward_args`` after backward's.  The gradients are
    asked for twice (a backward twice on the same cotangent and a copy of the same cache): _Refused if they differ.
    ``notes`` receives what ``Tree.match`` notes (a gradient with kept unit axes); ``hazards``, for a pair,
    the backward's writes into dout or into the cache (``_written``).
    """
    shapes = [leaf.value.shape for leaf in leaves]
    if isinstance(impl, tuple):
        forward, backward = impl
        result = call_once(call_with, f"{prefix}{name_of(forward)}{at}", forward, tree, [leaf.value.copy() for leaf in leaves], fixed)
        out, cache = _split_forward(result, name_of(forward))
        seen = out.copy()  # the output as returned: a backward may write into the one it kept in its cache
        try:
            spare = copy.deepcopy(cache)
        except Exception:  # a cache that cannot be copied: a second forward makes the second one
            spare = _split_forward(call_with(forward, tree, [leaf.value.copy() for leaf in leaves], fixed), "")[1]
        what = f"{prefix}{name_of(backward)}{backward_args}"
        runs = []
        for c in (cache, spare):
            dout = _cotangent(out, seed)
            before = _cache_arrays(c, "cache") if hazards is not None and c is cache else None
            grads = call_once(backward, what, dout, c)
            runs.append(tree.match(grads, f"{prefix}{name_of(backward)}", shapes, notes if c is cache else None))
            if before is not None:
                after = dict(_cache_arrays(c, "cache"))
                hazards += _written(name_of(backward), [("dout", _cotangent(out, seed), dout)] +
                                    [(k, a, after[k]) for k, a in before if k in after])
        _same_twice(runs, [leaf.name for leaf in leaves], f"{what} on the same dout and cache")
        return runs[0], seen, None
    what = f"{prefix}{name_of(impl)}"
    runs, losses = [], []
    for run in range(2):
        value = call_once(call_with, f"{what}{at}", impl, tree, [leaf.value.copy() for leaf in leaves], fixed)
        if returns not in ("grad", "loss"):  # with "loss", impl is the separate grad=
            loss, value = unpack_loss(value, returns, what)
            losses.append(loss)
        runs.append(tree.match(value, what, shapes, notes if run == 0 else None))
    _same_twice(runs, [leaf.name for leaf in leaves], f"{what}{at}")
    return runs[0], None, losses[0] if losses else None


def _same_twice(runs: list[list[np.ndarray]], names: list[str], what: str) -> None:
    """_Refused naming the first element where two runs' gradients differ by more than the rounding of their
    largest element (2·D·ε with D the element count: code that repeats itself gives the same bits)."""
    first, second = runs
    for name, a, b in zip(names, first, second):
        a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a64.shape != b64.shape:
            raise _Refused(_not_repeatable(f"the gradient for {name} from {what}", f"shape {a64.shape}", f"shape {b64.shape}"))
        scale = float(np.max(np.abs(a64), initial=0.0))
        tol = 2 * max(a64.size, 1) * float(np.finfo(a.dtype if a.dtype.kind == "f" else np.float64).eps) * scale
        off = ~(np.abs(a64 - b64) <= tol) & ~((a64 == b64) | (np.isnan(a64) & np.isnan(b64)))
        if off.any():
            k = int(np.flatnonzero(off)[0])
            raise _Refused(_not_repeatable(f"{what} ({element_at(name, k, a64.shape)})",
                                           f"{a64.flat[k]:.10e}", f"{b64.flat[k]:.10e}"))


def assert_same_gradients(
    old: Any,
    new: Any,
    inputs: Any,
    *,
    static: Any = None,
    returns: str = "grad",
    seed: int = 0,
    rtol: Optional[float] = None,
) -> CheckResult:
    """Assert that a refactor kept the gradients: ``new`` against ``old``, elementwise, no finite differences.

    Each of ``old`` and ``new`` is a function of the inputs returning the gradients (``returns="grad"``)
    or ``(loss, grad)`` (``returns="loss_and_grad"``), or a pair ``(forward, backward)`` as in check_vjp,
    given the same cotangent.  The tolerance is rtol·(|old| + G) with rtol = 2·D·ε for each side's
    rounding: the two compute the same numbers in different orders.  Raises AssertionError explaining
    the difference; returns the result when they agree.
    """
    result = _same_gradients(old, new, inputs, static, returns, seed, rtol, second_size=True)
    if not result.ok:
        raise AssertionError(result.message())
    return result


def _same_gradients(old: Any, new: Any, inputs: Any, static: Any, returns: str, seed: int, rtol: Optional[float],
                    second_size: bool) -> CheckResult:
    pair = [isinstance(x, tuple) and len(x) == 2 and all(callable(c) for c in x) for x in (old, new)]
    if pair[0] != pair[1]:
        raise CheckError("old and new: give both as functions or both as (forward, backward) pairs")
    if returns not in ("grad", "loss_and_grad"):
        raise CheckError(f"returns: expected 'grad' or 'loss_and_grad', got {returns!r}")
    fixed = private_static(static)
    tree, leaves = flatten(inputs, old[0] if pair[0] else old)
    losses = returns == "loss_and_grad" and not pair[0]
    try:
        notes: list[str] = []
        g_old, out_old, loss_old = gradients_of(old, returns, tree, leaves, copy.deepcopy(fixed), seed, "old ", notes=notes)
        g_new, out_new, loss_new = gradients_of(new, returns, tree, leaves, copy.deepcopy(fixed), seed, "new ", notes=notes)
    except _Refused as e:
        if not second_size:
            raise CheckError(str(e)) from None
        raise AssertionError(f"assert_same_gradients: refused\n  {e}") from None
    loss_old = float(np.sum(loss_old)) if losses else None
    loss_new = float(np.sum(loss_new)) if losses else None
    arrays = [leaf.value for leaf in leaves] + static_arrays(fixed) + ([out_old] if out_old is not None else [])
    dtype = _dtype([leaf.value for leaf in leaves] + g_old + g_new)
    depth = _depth(arrays)
    rtol = 2 * depth * float(np.finfo(dtype).eps) if rtol is None else rtol
    label = (lambda x: f"({name_of(x[0])}, {name_of(x[1])})") if pair[0] else name_of
    result = CheckResult(True, f"assert_same_gradients(old={label(old)}, new={label(new)})", "old vs new", str(dtype), rtol, depth,
                         oracle="the old implementation's gradients (no finite differences)", expected_word="old", notes=notes)
    names = [leaf.name for leaf in leaves]
    for side, gs in (("old", g_old), ("new", g_new)):
        result.problems += [p for p in (_non_finite(f"{side}'s gradient for {n}", g) for n, g in zip(names, gs)) if p]
    if out_old is not None and out_new is not None and out_old.shape != out_new.shape:
        result.problems.append(f"the forward outputs differ in shape: old {out_old.shape}, new {out_new.shape}")
    if loss_old is not None and loss_new is not None and abs(loss_new - loss_old) > rtol * abs(loss_old):
        result.problems.append(f"the losses differ: old {loss_old:.10e}, new {loss_new:.10e}")
    if not result.problems:
        comparison = compare(dict(zip(names, g_new)), dict(zip(names, [g.astype(np.float64) for g in g_old])), rtol, None, "old")
        rng = _rng(DIRECTION_STREAM, seed)
        for a, g, o in zip(comparison.arrays, g_new, g_old):
            g, o = g.astype(np.float64), o.astype(np.float64)
            result.inputs.append(_verdict(a, g, o, rtol * (np.abs(o) + comparison.scale), rng))
        small = sum(int(np.sum((rtol * comparison.scale > COVERED_FRACTION * np.abs(o)) & (o != 0))) for o in g_old)
        if small:  # a refactor of the same computation: said, not refused (each side rounds at the largest's scale)
            result.notes.append(f"note: {small} elements are small against the largest, G = {comparison.scale:.3e}: they "
                                f"were compared only to within rtol·G = {rtol * comparison.scale:.1e}, not to "
                                f"{COVERED_FRACTION:.0%} of themselves")
    result.ok = not result.problems and all(v.ok for v in result.inputs)
    if second_size and not result.ok:
        confirm_factors(result, patterns.sizes_of(_named_arrays(fixed, leaves)),
                        lambda n: _same_gradients(old, new, grown(inputs, n), grown(static, n), returns, seed, rtol, False))
    return result
