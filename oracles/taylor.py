"""The Taylor test: a verdict on a gradient from the order at which a remainder shrinks, with no tolerance on g.

    bpcheck.check_taylor(loss, {"W": W, "b": b}, grad)
    bpcheck.check_taylor(fun, theta, returns="loss_and_grad", static=(X, y))

For a direction u and a step h, the remainder of F's first-order Taylor model with the candidate g,

    classic   r₁(h) = |F(θ + h·u) − F(θ) − h⟨g, u⟩|           = |h·δ + ½·c·h² + …|
    central   r₃(h) = |F(θ + h·u) − F(θ − h·u) − 2h⟨g, u⟩|    = |2h·δ + ⅓·t·h³ + …|
    complex   r₃(h) = |Im F(θ + i·h·u) − h⟨g, u⟩|             = |h·δ − ⅙·t·h³ + …|

(δ = ⟨g − ∇F, u⟩, c and t F's second and third derivatives along u) shrinks like h² (classic) or h³
(central, complex) when g is right, and like h when it is wrong.  So the verdict is the observed order
log₂(r(2h) / r(h)): a right gradient gives 3, a wrong one 1, and the decision is the midpoint, 2.
No tolerance on g enters; what the test cannot do is see an error whose h·δ stays below F's noise and
the remainder at every step, and the message says how small that is.

The verdict uses the complex remainder where complex step is valid (self-tested as in ``blackbox``),
else the central one; the classic column is printed beside it.  Every implementation of this test
uses a fixed list of steps, and users give up on it because a working window is hard to find (400
of 400 false failures on right gradients in tesseract-core#706).  Here the window is derived:

- the noise N(h) of the remainder: 2·ε_F for the central one, ε_F the measured rounding error of one
  evaluation of F (``blackbox``: six standard deviations of F's ECnoise); ρ·h for the complex one,
  ρ = rtol·Σ_k |u_k|(|g_k| + G), the rounding of Im F relative to its terms, as ``check_function`` bounds it;
- the remainder's coefficient C (⅓|t| central, ⅙|t| complex), measured: t from F's third difference
  at a pilot step (central), or from Im F at a pilot step against complex step at h = 1e-20 (complex),
  the pilot halved until two successive estimates agree within a factor 2;
- the smallest step h₀ where C·h³ = K·N(h₀), K = 8, and ``STEPS`` steps h₀·2^j above it (kept below
  the pilot step).  With the noise within N, a right gradient's first pair has r(h₀) ≤ (K + 1)·N and
  r(2h₀) ≥ (8K − 2)·N (central; complex: N doubles with h, so ≥ (8K − 2)·N(h₀) too), a ratio ≥ 6.2,
  order ≥ 2.6; with C over-estimated 2×, r(h₀) ≤ (K/2 + 1)·N and r(2h₀) ≥ (4K − 2)·N, order ≥ 2.5;
  later pairs only gain.  A pair whose smaller residual is under 2·N(h) is noise, and gives no order.
- A wrong gradient shows order below 2 at the first pair once |δ| > 2·C·h₀² (central: C·h₀²): that is
  the test's sensitivity, printed with the verdict; errors below it pass, as they must for a test
  without a tolerance.

Each input array gets its own random ±1 direction (zero elsewhere), so the verdict names the input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .blackbox import BlackBox, CodeRaised, _Discarded
from .calls import CheckError, name_of
from .directional import CheckReport, depth_of
from .generic import gradients_of, loss_arguments, loss_binder, private_static
from .named import flatten, static_arrays

STEPS = 5
#: The smallest step's remainder is K times the noise (see the module docstring).
K = 8.0
PILOT = 2.0**-6
PILOT_HALVINGS = 4
DIRECTION_STREAM = 0x62700006


@dataclass
class Window:
    """One input's Taylor table: the steps, the remainders and their noise, for the verdict and the classic column."""

    name: str
    method: str  # "complex" or "central"
    steps: list[float]
    residual: list[float]
    noise: list[float]
    classic: list[float]
    coefficient: float
    sensitivity: float

    def orders(self) -> list[Optional[float]]:
        """log₂ r(2h)/r(h) for each pair; None where the smaller residual is within twice its noise."""
        return [math.log2(b / a) if a > 2 * n and np.isfinite(b) else None
                for a, b, n in zip(self.residual, self.residual[1:], self.noise)]

    def classic_orders(self) -> list[Optional[float]]:
        return [math.log2(b / a) if a > 0 and np.isfinite(a) and np.isfinite(b) else None
                for a, b in zip(self.classic, self.classic[1:])]

    @property
    def ok(self) -> bool:
        measured = [o for o in self.orders() if o is not None]
        return all(np.isfinite(r) for r in self.residual) and all(o >= 2 for o in measured)

    def lines(self) -> list[str]:
        orders, classic = self.orders(), self.classic_orders()
        measured = [o for o in orders if o is not None]
        head = (f"  {self.name}: " + ("ok" if self.ok else "wrong") + "; observed orders "
                + (", ".join(f"{o:.2f}" for o in measured) if measured else "none above the noise")
                + " (3 for a right gradient, 1 for a wrong one: wrong when any is below 2)")
        r_name = "|Im F(θ+ihu) − h⟨g,u⟩|" if self.method == "complex" else "|F(θ+hu) − F(θ−hu) − 2h⟨g,u⟩|"
        out = [head, f"    {'h':>9}  {r_name:>30}  order  {'|F(θ+hu) − F(θ) − h⟨g,u⟩|':>26}  order"]
        for j, h in enumerate(self.steps):
            o = orders[j - 1] if j else None
            c = classic[j - 1] if j else None
            out.append(f"    {h:9.2e}  {self.residual[j]:30.3e}  {_order(o, j):>5}  {self.classic[j]:26.3e}  {_order(c, j):>5}")
        out.append(f"    sensitivity: an error |⟨g − ∇F, u⟩| above {self.sensitivity:.1e} shows as order 1 "
                   f"(remainder coefficient {self.coefficient:.2e}, noise {self.noise[0]:.1e} at the smallest step)")
        return out


def _order(o: Optional[float], j: int) -> str:
    return "" if j == 0 else ("noise" if o is None else f"{o:.2f}")


def check_taylor(
    f: Callable[..., Any],
    inputs: Any,
    grad: Optional[Callable[..., Any]] = None,
    *,
    returns: str = "loss",
    static: Any = None,
    seed: int = 0,
    complex_step: bool = True,
    plot: Optional[str] = None,
) -> CheckReport:
    """The Taylor test of ``grad`` (or ``f`` itself with ``returns="loss_and_grad"`` or ``"loss_grad_hessp"``), one verdict per input.

    Arguments as in ``check_function``.  ``result.table`` holds every step, remainder and noise;
    ``plot="taylor.png"`` (or .svg, .pdf) also draws them, log-log, with slopes 1 and 3 (needs matplotlib).
    """
    loss_arguments(returns, grad)
    fixed = private_static(static)
    tree, leaves = flatten(inputs, f)
    fname = name_of(f)
    grads, _, _ = gradients_of(f if grad is None else grad, returns, tree, leaves, fixed, seed, at=" at the inputs given")
    grads = [np.asarray(g, dtype=np.float64) for g in grads]
    title = f"check_taylor({fname}{'' if grad is None else ', ' + name_of(grad)})"
    base = [leaf.value for leaf in leaves]
    result = taylor_of(loss_binder(f, returns, tree, fixed), base, [leaf.name for leaf in leaves], fname, grads,
                       depth_of(base + static_arrays(fixed)), seed, title, complex_step)
    if plot is not None:
        draw(result, plot)
    return result


def taylor_of(bind: Callable[[list[np.ndarray]], Callable[[], Any]], base: list[np.ndarray], names: list[str], what: str,
              grads: list[np.ndarray], depth: int, seed: int, title: str, complex_step: bool = True) -> CheckReport:
    """The Taylor test of ``grads`` (float64, one per input) for F = ``bind(arrays)()`` at ``base``: the report.

    ``depth``: D as ``check_function`` counts it (the rounding of Im F is bounded by 2·D·ε).  Also the confirming
    step of ``check_function`` and ``check_vjp`` verdicts that did not pass, on the F they checked.
    """
    if not all(np.all(np.isfinite(g)) for g in grads):
        return CheckReport(False, title, ["  the gradient has non-finite elements, so no Taylor remainder can shrink"])
    rtol = 2 * depth * float(np.finfo(np.float64).eps)
    box = BlackBox(bind, base, names, what, rtol, allow_complex=complex_step)
    if not np.isfinite(box.f0):
        return CheckReport(False, title, [f"  F is {box.f0} at the inputs given, so no gradient can pass"])
    with box.warnings:  # the code's warnings are counted, never raised through the caller's filters
        return _verdicts(box, grads, rtol, seed, title, complex_step)


def _verdicts(box: BlackBox, grads: list[np.ndarray], rtol: float, seed: int, title: str, allow_complex: bool) -> CheckReport:
    rng = np.random.default_rng([DIRECTION_STREAM, seed])
    whole = [rng.choice(np.array([-1.0, 1.0]), size=a.shape) for a in box.base]
    d1, bound, taken = box.line(whole)  # measures ε_F
    valid = False
    why = "complex_step=False"
    if allow_complex:
        valid, why, _ = box.complex_status(taken, d1, bound)
    G = max((float(np.max(np.abs(g))) for g in grads if g.size), default=0.0)
    result = CheckReport(True, title)
    for i, name in enumerate(box.names):
        u = [np.zeros(a.shape) for a in box.base]
        u[i] = rng.choice(np.array([-1.0, 1.0]), size=box.base[i].shape)
        rho = rtol * float(np.sum(np.abs(u[i]) * (np.abs(grads[i]) + G)))
        label = f"{name} {box.base[i].shape}"
        window = _complex_window(box, u, grads, rho, label) if valid else _central_window(box, u, grads, label)
        result.lines += window.lines()
        result.ok = result.ok and window.ok
        result.table += [{"input": name, "method": window.method, "h": h, "residual": r, "noise": n, "classic": c}
                         for h, r, n, c in zip(window.steps, window.residual, window.noise, window.classic)]
    result.checked = (f"the remainder of F's first-order Taylor model with your gradient, along a random ±1 direction u "
                      f"per input (seed {seed}), at {STEPS} steps h chosen from F's noise and third derivative")
    result.oracle = ("none: the verdict is the order the remainder shrinks at (" +
                     ("complex step Im F(θ + ihu), valid here" if valid else f"central; complex step not used: {why}") + ")")
    result.notes.append(f"noise: ε_F = {box.rounding_error:.2e} (one evaluation of F, measured); window: the smallest step's "
                        f"remainder is {K:.0f}× the noise, then steps ×2")
    result.evaluations = f"{box.evaluations} calls of {box.what}"
    return result


def _points(box: BlackBox, u: list[np.ndarray], h: float) -> list[np.ndarray]:
    return [a + h * v for a, v in zip(box.base, u)]


def _along(grads: list[np.ndarray], point: list[np.ndarray], other: list[np.ndarray]) -> float:
    """⟨g, point − other⟩ over the displacement realised in floating point."""
    return sum(float(np.sum(g * (p - q))) for g, p, q in zip(grads, point, other))


def _classic(box: BlackBox, grads: list[np.ndarray], u: list[np.ndarray], h: float, plus: Optional[float] = None) -> float:
    point = _points(box, u, h)
    value = box.real(point, f"the inputs moved by {h:.1e} along u") if plus is None else plus
    return abs(value - box.f0 - _along(grads, point, box.base))


def _pilot(estimate: Callable[[float], float], start: float) -> tuple[float, float]:
    """(C, the pilot step): C estimated at halving steps until two successive estimates agree within a factor 2."""
    h, previous = start, estimate(start)
    for _ in range(PILOT_HALVINGS):
        current = estimate(h / 2)
        if previous > 0 and current > 0 and 0.5 <= current / previous <= 2:
            return max(current, previous), h
        h, previous = h / 2, current
    return max(previous, 0.0), h


def _steps(h0: float, top: float) -> list[float]:
    """STEPS steps h₀·2^j, moved down so the largest stays within the pilot step where C was measured."""
    h0 = min(h0, top / 2 ** (STEPS - 1)) if np.isfinite(h0) and h0 > 0 else top / 2 ** (STEPS - 1)
    return [h0 * 2.0**j for j in range(STEPS)]


def _central_window(box: BlackBox, u: list[np.ndarray], grads: list[np.ndarray], name: str) -> Window:
    scale = max(1.0, max(float(np.max(np.abs(a))) for a in box.base if a.size))
    noise = 2 * box.rounding_error

    def third(h: float) -> float:
        f = {j: box.real(_points(box, u, j * h), f"the inputs moved by {j}·{h:.1e} along u") for j in (-2, -1, 1, 2)}
        return abs((f[2] - f[-2]) - 2 * (f[1] - f[-1])) / (2 * h**3) / 3

    C, top = _pilot(third, PILOT * scale)
    steps = _steps((K * noise / C) ** (1 / 3) if C > 0 else math.inf, top)
    residual, classic = [], []
    for h in steps:
        plus, minus = _points(box, u, h), _points(box, u, -h)
        fp = box.real(plus, f"the inputs moved by {h:.1e} along u")
        fm = box.real(minus, f"the inputs moved by -{h:.1e} along u")
        residual.append(abs(fp - fm - _along(grads, plus, minus)))
        classic.append(_classic(box, grads, u, h, fp))
    return Window(name, "central", steps, residual, [noise] * STEPS, classic, C, 2 * C * steps[0] ** 2 / 2)


def _complex_window(box: BlackBox, u: list[np.ndarray], grads: list[np.ndarray], rho: float, name: str) -> Window:
    scale = max(1.0, max(float(np.max(np.abs(a))) for a in box.base if a.size))
    exact = box.complex_step(u)
    slope = _along(grads, u, [np.zeros(a.shape) for a in u])

    def imaginary(h: float) -> float:
        try:
            return box.value([a + 1j * h * v for a, v in zip(box.base, u)]).imag
        except (CodeRaised, _Discarded) as e:
            raise CheckError(f"{box.what}: complex step at h = {h:.1e} failed ({e}) although it passed its self-test") from e

    C, top = _pilot(lambda h: abs(exact - imaginary(h) / h) / h**2, PILOT * scale)
    steps = _steps(math.sqrt(K * rho / C) if C > 0 else math.inf, top)
    residual = [abs(imaginary(h) - h * slope) for h in steps]
    classic = [_classic(box, grads, u, h) for h in steps]
    return Window(name, "complex", steps, residual, [rho * h for h in steps], classic, C, 2 * C * steps[0] ** 2)


def draw(result: CheckReport, path: str) -> None:
    """The remainders of ``result.table`` against h, log-log, one colour per input, with slopes 1 and 3 and the noise."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import NullFormatter
    except ImportError:
        raise CheckError("plot= needs matplotlib: pip install 'bpcheck[report]'") from None
    fig = Figure(figsize=(6.0, 4.0))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name in dict.fromkeys(row["input"] for row in result.table):
        rows = [row for row in result.table if row["input"] == name]
        h = np.array([row["h"] for row in rows])
        r = np.array([row["residual"] for row in rows])
        line, = ax.loglog(h, np.maximum(r, np.finfo(float).tiny), "o-", label=f"{name} ({rows[0]['method']})")
        ax.loglog(h, [row["noise"] for row in rows], ":", color=line.get_color(), label=f"{name}: noise")
        top = r[-1] if r[-1] > 0 else 1.0
        for order, style in ((3, "--"), (1, "-.")):
            ax.loglog(h, top * (h / h[-1]) ** order, style, color="grey", linewidth=0.8,
                      label=f"slope {order}" if name == rows[0]["input"] == result.table[0]["input"] else None)
    ax.xaxis.set_minor_formatter(NullFormatter())  # the steps span a factor 16: minor labels overlap
    ax.set_xlabel("step h")
    ax.set_ylabel("Taylor remainder")
    ax.set_title(f"{result.title}: {'passed' if result.ok else 'FAILED'}", fontsize=9)
    ax.legend(fontsize=7)
    fig.savefig(path, bbox_inches="tight")
