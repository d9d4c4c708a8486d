"""The exact gradient: ball arithmetic on the float64 inputs taken as exact real numbers.

Every other oracle is a float64 computation that agrees with the truth to within a derived bound.
This one states the truth: C(θ) and every ∂C/∂θ_k of the network the float64 numbers describe, each
enclosed in a ball [m ± r] by python-flint's ``arb`` (Arb: midpoint-radius interval arithmetic whose
every operation, exp and log included, returns a ball guaranteed to contain the exact result).  The
working precision is doubled until every ball lies inside one float64 rounding interval, so each
value's **correctly rounded** float64 is known (round to nearest, ties to even), and with it a
rigorous decimal enclosure.  No result depends on the CPU, the BLAS kernel or the summation order:
only the inputs and exact real arithmetic.

The network is written again from the definitions (reverse mode, each derivative beside its
function); only the plain ``NetworkSpec`` is shared with ``reference``.  Arrays are numpy arrays of
``arb`` objects (dtype object), so the code reads like the float64 one: ``z = a @ W + b``.

Hessian-vector products (``hvp``, ``network_hvp``): the same pass on dual numbers θ + ϵ·v whose two parts
are balls (``Dual``), so the ϵ part of the gradient is H·v, enclosed as rigorously and with no step.

Kinks: relu and leaky_relu branch on the sign of z.  A ball that straddles 0 cannot decide it, so
the precision is raised; a z that is exactly 0 (arb proves it: rad = 0) takes the convention of
docs/conventions.md: relu'(0) = 0, leaky_relu'(0) = slope, as torch and jax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping, NamedTuple, Optional

import numpy as np

from bpcheck.reference.spec import NetworkSpec, check_batch, check_params

from .compare import Estimate

#: First working precision (bits), doubled until every result resolves; past the limit: ExactFailed.
START_PREC = 128
MAX_PREC = 1 << 15
#: Significant decimal digits of the published enclosures (float64 needs 17).
DIGITS = 21


def unavailable() -> Optional[str]:
    """None when python-flint imports; otherwise why not, and how to install it."""
    try:
        import flint  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything else
        return (f"python-flint is not installed or does not import ({type(exc).__name__}: {exc}); "
                "install it with: pip install 'bpcheck[exact]'")
    return None


class Imprecise(ArithmeticError):
    """A ball too wide to decide a branch or a rounding at this precision (the driver raises it)."""


class ExactFailed(ArithmeticError):
    """Even MAX_PREC bits could not resolve a value (an exact tie, or a sign that is 0 but not provably so)."""


# ---------------------------------------------------------------------------------------------------------
# Balls and arrays of balls

def _flint():
    import flint

    return flint


def balls(a: Any) -> np.ndarray:
    """A float64 array as an object array of exact ``arb`` balls (radius 0: float64 numbers are exact reals)."""
    arb = _flint().arb
    a = np.asarray(a, dtype=np.float64)
    out = np.empty(a.shape, dtype=object)
    for k, v in np.ndenumerate(a):
        out[k] = arb(float(v))
    return out


def _map(f: Callable[[Any], Any], a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, dtype=object)
    for k, v in np.ndenumerate(a):
        out[k] = f(v)
    return out


def _sign(v: Any) -> int:
    """The sign of the exact value in ball ``v``: 0 only when arb proves it is exactly 0."""
    if v.is_zero():
        return 0
    if v > 0:
        return 1
    if v < 0:
        return -1
    raise Imprecise(f"the sign of a pre-activation: {v} contains 0")


# ---------------------------------------------------------------------------------------------------------
# Activations and losses, each beside its derivative, from their definitions.
#   f(z) -> a;  backward(z, a, g) -> g ⊙ f'(z) (the Jacobian-vector product for softmax); all (N, n).

class Activation(NamedTuple):
    f: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^−z)."""
    return _map(lambda t: 1 / (1 + (-t).exp()), z)


def _sigmoid_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """σ' = σ(1 − σ), with 1 − σ(z) = σ(−z): the ball of 1 − σ(z) would need ~1.44·z bits to exclude 0."""
    return g * a * _sigmoid(-z)


def _tanh(z: np.ndarray) -> np.ndarray:
    return _map(lambda t: t.tanh(), z)


def _tanh_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """tanh' = 1 − tanh² = sech² (the same number; sech keeps its relative accuracy when tanh → ±1)."""
    return g * _map(lambda t: t.sech() ** 2, z)


def _relu(z: np.ndarray) -> np.ndarray:
    return _map(lambda t: t if _sign(t) > 0 else 0 * t, z)


def _relu_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """relu' = 1 for z > 0, 0 for z < 0, and 0 at z = 0 (docs/conventions.md)."""
    return g * _map(lambda t: 1 if _sign(t) > 0 else 0, z)


def _leaky(slope: float) -> Activation:
    def f(z: np.ndarray) -> np.ndarray:
        return _map(lambda t: t if _sign(t) > 0 else slope * t, z)

    def backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
        """leaky' = 1 for z > 0, the slope for z < 0, and the slope at z = 0 (docs/conventions.md)."""
        return g * _map(lambda t: 1 if _sign(t) > 0 else slope, z)

    return Activation(f, backward)


def _softmax(z: np.ndarray) -> np.ndarray:
    """a_j = e^z_j / Σ_k e^z_k (arb has no overflow: no shift needed).

    One class: a = 1 identically, so it is written as an exact 1 (the ball e^z / e^z is [1 ± r], and a
    loss or gradient that is exactly 0 could then never be resolved to its enclosure ("0", "0")).
    """
    if z.shape[1] == 1:
        return 0 * z + 1
    e = _map(lambda t: t.exp(), z)
    return e / e.sum(axis=1, keepdims=True)


def _softmax_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """∂a_k/∂z_j = a_k(δ_kj − a_j), so (Jᵀg)_j = a_j (g_j − Σ_k g_k a_k); exactly 0 for one class (a ≡ 1)."""
    if a.shape[1] == 1:
        return 0 * g
    return a * (g - (g * a).sum(axis=1, keepdims=True))


def activation(name: str, slope: float) -> Activation:
    if name == "leaky_relu":
        return _leaky(slope)
    return {
        "identity": Activation(lambda z: z, lambda z, a, g: g),
        "sigmoid": Activation(_sigmoid, _sigmoid_backward),
        "tanh": Activation(_tanh, _tanh_backward),
        "relu": Activation(_relu, _relu_backward),
        "softmax": Activation(_softmax, _softmax_backward),
    }[name]


class Loss(NamedTuple):
    """Per-example loss ``value(z, a, y) -> (N,)`` and ``grad_a(z, a, y) = ∂ℓ/∂a`` (N, n_L)."""

    value: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    grad_a: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _log_sigmoid(z: np.ndarray) -> np.ndarray:
    """log σ(z) = −log(1 + e^−z); log(1 − σ(z)) is log σ(−z)."""
    return _map(lambda t: -((-t).exp().log1p()), z)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """log a_j = z_j − log Σ_k e^z_k; exactly 0 for one class (see ``_softmax``)."""
    if z.shape[1] == 1:
        return 0 * z
    return z - _map(lambda t: t.log(), _map(lambda t: t.exp(), z).sum(axis=1, keepdims=True))


LOSSES = {
    # ℓ = ½ Σ_j (a_j − y_j)²                    ∂ℓ/∂a = a − y
    "half_sse": Loss(lambda z, a, y: ((a - y) ** 2).sum(axis=1) / 2, lambda z, a, y: a - y),
    # ℓ = (1/n) Σ_j (a_j − y_j)²                ∂ℓ/∂a = 2(a − y)/n
    "mse": Loss(lambda z, a, y: ((a - y) ** 2).sum(axis=1) / y.shape[1], lambda z, a, y: 2 * (a - y) / y.shape[1]),
    # ℓ = −Σ_j [y log a + (1 − y) log(1 − a)]  ∂ℓ/∂a = −y/a + (1 − y)/(1 − a), a = σ(z), 1 − a = σ(−z)
    "bce": Loss(lambda z, a, y: -(y * _log_sigmoid(z) + (1 - y) * _log_sigmoid(-z)).sum(axis=1),
                lambda z, a, y: -y / a + (1 - y) / _sigmoid(-z)),
    # ℓ = −Σ_j y_j log a_j                      ∂ℓ/∂a = −y/a
    "softmax_ce": Loss(lambda z, a, y: -(y * _log_softmax(z)).sum(axis=1), lambda z, a, y: -y / a),
}


# ---------------------------------------------------------------------------------------------------------
# The network in ball arithmetic

@dataclass
class Pass:
    """One forward and backward pass in balls: loss C, gradients, and every layer's z and a (a[0] = x)."""

    loss: Any
    grads: dict[str, np.ndarray]
    z: list[Optional[np.ndarray]]
    a: list[np.ndarray]


def network_pass(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                 stale_lr: Optional[float] = None) -> Pass:
    """C and ∂C/∂θ in balls at the current precision; ``params``, ``x``, ``y`` are object arrays of balls.

    ``stale_lr``: back-propagate through Wˡ⁺¹ − η∂C/∂Wˡ⁺¹ instead of Wˡ⁺¹ (the stale-weights algorithm
    of Mazur's script before its fix), for explaining the post's later figures; None for backprop.
    """
    acts = [activation(name, spec.leaky_slope) for name in spec.activations]
    a: list[np.ndarray] = [x]
    z: list[Optional[np.ndarray]] = [None]
    for l in range(1, spec.depth + 1):
        zl = a[-1] @ params[f"W{l}"]
        if spec.bias:
            zl = zl + params[f"b{l}"]
        z.append(zl)
        a.append(acts[l - 1].f(zl))
    N = x.shape[0]
    loss = LOSSES[spec.loss]
    per_example = loss.value(z[-1], a[-1], y)
    data = per_example.sum() / N if spec.reduction == "mean" else per_example.sum()
    C = data + spec.l2 * sum((params[f"W{l}"] ** 2).sum() for l in range(1, spec.depth + 1)) / 2
    # reverse mode: δˡ = ∂C/∂zˡ (N, n_l)
    delta = acts[-1].backward(z[-1], a[-1], loss.grad_a(z[-1], a[-1], y))
    if spec.reduction == "mean":
        delta = delta / N
    grads: dict[str, np.ndarray] = {}
    for l in range(spec.depth, 0, -1):
        grads[f"W{l}"] = a[l - 1].T @ delta + spec.l2 * params[f"W{l}"]
        if spec.bias:
            grads[f"b{l}"] = delta.sum(axis=0)
        if l > 1:
            W = params[f"W{l}"] if stale_lr is None else params[f"W{l}"] - stale_lr * grads[f"W{l}"]
            delta = acts[l - 2].backward(z[l - 1], a[l - 1], delta @ W.T)
    return Pass(C, {name: grads[name] for name in spec.param_shapes()}, z, a)


def sgd(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray, lr: float, steps: int,
        update_biases: bool = True, stale: bool = False, every: int = 0,
        observe: Optional[Callable[[int, Pass], None]] = None) -> dict[str, np.ndarray]:
    """``steps`` exact gradient-descent steps θ ← θ − η ∂C/∂θ on balls; the parameters after the last one.

    ``observe(step, pass)`` sees the pass before every ``every``-th update; ``stale``: the stale-weights
    algorithm (see ``network_pass``).  A ball that has lost all but 53 bits stops the run early
    (Imprecise), so too low a precision costs a few steps, not the whole run.
    """
    params = dict(params)
    for step in range(steps):
        p = network_pass(spec, params, x, y, stale_lr=lr if stale else None)
        if not p.loss.is_finite() or p.loss.rel_accuracy_bits() < 53:
            raise Imprecise(f"the loss after {step} steps is only {p.loss}")
        if every and observe is not None and step % every == 0:
            observe(step, p)
        params = {k: v - lr * p.grads[k] if k[0] == "W" or update_biases else v for k, v in params.items()}
    return params


# ---------------------------------------------------------------------------------------------------------
# Hessian-vector products: the same pass in dual numbers over the balls (forward over reverse mode)

class Dual:
    """a + b·ϵ with ϵ² = 0, a and b balls: the value and its derivative along one direction, both enclosed.

    ``network_pass`` on parameters θ + ϵ·v gives ∂C/∂θ + ϵ·H·v: each operation below carries the exact
    derivative of its result (no step, no truncation), so H·v is as rigorous as the gradient.  Branches
    (relu's sign) follow the value part, whose sign ``_sign`` proves as before; at a proven z = 0 the
    Hessian does not exist and the convention's branch is differentiated.
    """

    __slots__ = ("a", "b")

    def __init__(self, a: Any, b: Any):
        self.a, self.b = a, b

    @staticmethod
    def lift(o: Any) -> "Dual":
        return o if isinstance(o, Dual) else Dual(o, _flint().arb(0))

    def __add__(self, o: Any) -> "Dual":
        o = Dual.lift(o)
        return Dual(self.a + o.a, self.b + o.b)

    __radd__ = __add__

    def __neg__(self) -> "Dual":
        return Dual(-self.a, -self.b)

    def __sub__(self, o: Any) -> "Dual":
        return self + (-Dual.lift(o))

    def __rsub__(self, o: Any) -> "Dual":
        return Dual.lift(o) - self

    def __mul__(self, o: Any) -> "Dual":
        o = Dual.lift(o)
        return Dual(self.a * o.a, self.a * o.b + self.b * o.a)

    __rmul__ = __mul__

    def __truediv__(self, o: Any) -> "Dual":
        o = Dual.lift(o)
        q = self.a / o.a
        return Dual(q, (self.b - q * o.b) / o.a)

    def __rtruediv__(self, o: Any) -> "Dual":
        return Dual.lift(o) / self

    def __pow__(self, n: int) -> "Dual":
        return Dual(self.a**n, n * self.a ** (n - 1) * self.b)

    def __gt__(self, o: Any) -> bool:
        return self.a > o

    def __lt__(self, o: Any) -> bool:
        return self.a < o

    def is_zero(self) -> bool:
        return self.a.is_zero()

    def is_finite(self) -> bool:
        return self.a.is_finite() and self.b.is_finite()

    def exp(self) -> "Dual":
        e = self.a.exp()
        return Dual(e, e * self.b)

    def log(self) -> "Dual":
        return Dual(self.a.log(), self.b / self.a)

    def log1p(self) -> "Dual":
        return Dual(self.a.log1p(), self.b / (1 + self.a))

    def tanh(self) -> "Dual":
        return Dual(self.a.tanh(), self.b * self.a.sech() ** 2)

    def sech(self) -> "Dual":
        s = self.a.sech()
        return Dual(s, -self.b * s * self.a.tanh())


def network_hvp(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                direction: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """H·v in balls, per parameter: the derivative of ∂C/∂θ along ``direction`` v (object arrays of balls, as ``params``)."""
    dual = {k: np.vectorize(Dual, otypes=[object])(v, direction[k]) for k, v in params.items()}
    p = network_pass(spec, dual, x, y)
    return {k: _map(lambda d: Dual.lift(d).b, g) for k, g in p.grads.items()}


def hvp(spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any, direction: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """H·v of the network the float64 inputs describe, v = ``direction`` (float64, exact), each element correctly rounded."""
    params, x, y = _exact_inputs(spec, params, x, y)
    v = check_params(spec, direction)

    def compute(faithful: bool) -> dict[str, np.ndarray]:
        hv = network_hvp(spec, {k: balls(p) for k, p in params.items()}, balls(x), balls(y),
                         {k: balls(d) for k, d in v.items()})
        return {k: _map(lambda b: _nearest(b, faithful)[0], h).astype(np.float64) for k, h in hv.items()}

    return _resolved(compute)


# ---------------------------------------------------------------------------------------------------------
# From balls to correctly rounded float64 values and decimal enclosures

def _endpoints(v: Any) -> tuple[Fraction, Fraction]:
    if not v.is_finite():
        raise Imprecise(f"not a finite ball: {v}")
    lo, hi = v.lower().man_exp(), v.upper().man_exp()
    return Fraction(int(lo[0])) * Fraction(2) ** int(lo[1]), Fraction(int(hi[0])) * Fraction(2) ** int(hi[1])


def _to_float(q: Fraction) -> float:
    """q rounded to the nearest float64, ties to even (CPython's int / int is correctly rounded)."""
    return q.numerator / q.denominator


def _nearest(v: Any, faithful: bool = False) -> tuple[float, bool]:
    """(the float64 nearest the exact value in ball ``v``, whether that is proven).

    Imprecise if the ball spans two float64 values, unless ``faithful``: then a ball spanning two adjacent ones
    (a near-tie that no affordable precision splits) gives the one nearer its midpoint, unproven but within
    one ulp of the exact value.
    """
    lo, hi = _endpoints(v)
    a, b = _to_float(lo), _to_float(hi)
    if a == b:
        return a + 0.0, True  # -0.0 -> 0.0: the exact value's sign is not resolved by rounding
    if not faithful or b != float(np.nextafter(a, np.inf)):
        raise Imprecise(f"{v} spans the float64 values {a!r} and {b!r}")
    mid = (lo + hi) / 2
    return (a if abs(mid - Fraction(a)) <= abs(Fraction(b) - mid) else b), False


def rounded(v: Any) -> float:
    """The correctly rounded float64 of the exact value in ball ``v``; Imprecise if the ball spans two."""
    return _nearest(v)[0]


def _floor_digits(q: Fraction, digits: int) -> tuple[int, int]:
    """(m, e) with m·10^e ≤ q < (m + 1)·10^e, where 10^(e + digits − 1) ≤ |q| < 10^(e + digits) (q ≠ 0)."""
    size = abs(q)
    d = math.floor((size.numerator.bit_length() - size.denominator.bit_length()) * math.log10(2))  # within 1
    while Fraction(10) ** d > size:
        d -= 1
    while Fraction(10) ** (d + 1) <= size:
        d += 1
    e = d - digits + 1
    return math.floor(q / Fraction(10) ** e), e


def _decimal(m: int, e: int) -> str:
    sign = "-" if m < 0 else ""
    s = str(abs(m))
    exp = e + len(s) - 1
    return f"{sign}{s[0]}.{s[1:]}e{exp:+d}"


def enclosure(v: Any, digits: int = DIGITS) -> tuple[str, str]:
    """[lo, hi]: consecutive ``digits``-significant-digit decimals around the exact value (lo ≤ x ≤ hi).

    A function of the exact value alone (not of the ball's radius): Imprecise until the ball lies within
    one such step.  An exactly known 0 is ("0", "0").
    """
    lo, hi = _endpoints(v)
    if lo == hi == 0:
        return "0", "0"
    if lo <= 0 <= hi:
        raise Imprecise(f"{v} contains 0")
    (m1, e1), (m2, e2) = _floor_digits(lo, digits), _floor_digits(hi, digits)
    if (m1, e1) != (m2, e2):
        raise Imprecise(f"{v} spans more than one step of {digits} digits")
    return _decimal(m1, e1), _decimal(m1 + 1, e1)


def solve(compute: Callable[[], Any], start: int = START_PREC, limit: int = MAX_PREC) -> tuple[Any, int]:
    """Run ``compute()`` at precisions start, 2·start, … until it stops raising Imprecise; (result, bits).

    ``compute`` does its arithmetic and its rounding (``rounded``, ``enclosure``) inside, so a value too
    wide to round sends the whole computation round again at twice the precision.
    """
    ctx = _flint().ctx
    prec = start
    while True:
        try:
            with ctx.workprec(prec):
                return compute(), prec
        except Imprecise as exc:
            if prec >= limit:
                raise ExactFailed(f"not resolved at {prec} bits: {exc}") from None
            prec *= 2


def _exact_inputs(spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any) -> tuple[dict, np.ndarray, np.ndarray]:
    if unavailable():
        raise RuntimeError(unavailable())
    params = check_params(spec, params)
    x, y = check_batch(spec, x, y, np.dtype(np.float64))
    return {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, x, y


@dataclass
class Exact:
    """The exact loss and gradient rounded to float64, and the bits of precision that took.

    ``unproven``: how many of the values are only faithfully rounded (within one ulp, not provably the nearest):
    near-ties that even MAX_PREC bits cannot split, such as a loss that is a float64 midpoint plus e^−10⁵.
    """

    loss: float
    grads: dict[str, np.ndarray]
    precision: int
    unproven: int = 0


def _balls_pass(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> Pass:
    """``network_pass`` on the float64 inputs as exact balls, at the current precision."""
    return network_pass(spec, {k: balls(v) for k, v in params.items()}, balls(x), balls(y))


def _resolved(compute: Callable[[bool], Any]) -> Any:
    """``compute(faithful)`` at doubling precisions; near-ties still open at MAX_PREC are rounded faithfully there."""
    try:
        return solve(lambda: compute(False))[0]
    except ExactFailed:
        return solve(lambda: compute(True), start=MAX_PREC)[0]


def exact(spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any) -> Exact:
    """C(θ) and ∂C/∂θ of the network the float64 inputs describe, each correctly rounded to float64."""
    params, x, y = _exact_inputs(spec, params, x, y)

    def compute(faithful: bool) -> Exact:
        p = _balls_pass(spec, params, x, y)
        unproven = 0

        def near(v: Any) -> float:
            nonlocal unproven
            value, proven = _nearest(v, faithful)
            unproven += not proven
            return value

        grads = {k: _map(near, g).astype(np.float64) for k, g in p.grads.items()}
        return Exact(near(p.loss), grads, _flint().ctx.prec, unproven)

    return _resolved(compute)


def gradients(spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any) -> Estimate:
    """The oracle interface: the correctly rounded gradient, whose error is at most half an ulp (one if unproven)."""
    result = exact(spec, params, x, y)
    share = 1.0 if result.unproven else 0.5
    return Estimate("exact", result.grads, {k: share * np.spacing(np.abs(g)) for k, g in result.grads.items()})


def loss_value(spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any) -> float:
    """C(θ), correctly rounded (faithfully, for a near-tie: see ``Exact``); the gradient is not rounded."""
    params, x, y = _exact_inputs(spec, params, x, y)
    return _resolved(lambda faithful: _nearest(_balls_pass(spec, params, x, y).loss, faithful)[0])


def ulps(candidate: Mapping[str, Any], truth: Mapping[str, np.ndarray]) -> float:
    """The worst |candidate − exact| over every element, in units in the last place of the exact float64 value."""
    worst = 0.0
    for k, e in truth.items():
        e = np.asarray(e, dtype=np.float64)
        if e.size:
            with np.errstate(over="ignore"):  # an error against an exact 0 (spacing 5e-324) is inf ulps, said as such
                worst = max(worst, float(np.max(np.abs(np.asarray(candidate[k], dtype=np.float64) - e) / np.spacing(np.abs(e)))))
    return worst
