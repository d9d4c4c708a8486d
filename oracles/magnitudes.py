"""Per-element floors S_k: a running error analysis of backprop, through the forward and the backward pass.

Every computed quantity v carries a magnitude M(v) with |fl(v) − v| ≤ γ_k·M(v) to first order, k the
number of roundings behind v (at most the op depth D, ``compare.op_depth``).  The rules (docs/tolerance.md):

- an input (x, W, b, y): M = |v|;
- a sum: the sum of its terms' M (Higham: a sum rounds relative to Σ|terms|, not to |Σ|);
- a product uv: M(u)·|v| + |u|·M(v);
- an elementwise f(z): |f(z)| + |f'(z)|·M(z); a derivative σ'(z) as the formulas compute it from a
  (sigmoid a(1 − a), tanh 1 − a²), whose terms 1 and a count, so a saturated unit's σ' is small but
  carries an absolute error of order ε;
- softmax: each exponent z_j − max z carries E_j = M(z_j) + |z_j − max z|, which the softmax's Jacobian
  a_j(δ_jk − a_k) turns into a relative error (1 − a_j)E_j + Σ_{k≠j} a_k E_k of a_j, plus three roundings.

So S_k = M(g_k) counts the forward pass's cancellation (z = 3e16·x₁ − 1e16 rounding to 0 has M(z) ≈ 2e16)
and the backward pass's own terms, element by element: a vanishing layer's gradients get a floor of
their own size, not the largest element's.

Units this first-order analysis cannot vouch for are reported, with the gradient elements behind them:
a relu / leaky_relu pre-activation within its own rounding of the kink (its slope may be either side's),
and a smooth unit whose pre-activation is uncertain by more than ``FIRST_ORDER_LIMIT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from bpcheck.reference.spec import NetworkSpec

#: Uncertainty of a smooth unit's z (D·ε·M(z)) past which first-order propagation is not trusted.
FIRST_ORDER_LIMIT = 1e-2


@dataclass
class Magnitudes:
    """``floors[name]``: S_k per element; ``unsure[name]``: elements behind a unit listed in ``reasons``."""

    floors: dict[str, np.ndarray]
    unsure: dict[str, np.ndarray]
    reasons: list[str] = field(default_factory=list)


# --- the activations' values, slopes and magnitudes -------------------------------------------------------


def _slope(name: str, z: np.ndarray, leaky: float) -> np.ndarray:
    """|σ'(z)|, from z (a saturated unit's slope keeps its digits)."""
    if name == "sigmoid":
        e = np.exp(-np.abs(z))
        return e / (1 + e) ** 2
    if name == "tanh":
        return 1 / np.cosh(np.minimum(np.abs(z), 350.0)) ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, leaky)
    return np.ones_like(z)  # identity


def _act(name: str, z: np.ndarray, a: np.ndarray, Mz: np.ndarray, leaky: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(M(a), |σ'(z)|, M(σ'(z))) for an elementwise activation."""
    d = _slope(name, z, leaky)
    if name == "identity":
        return Mz, d, np.zeros_like(z)
    Ma = np.abs(a) + d * Mz
    if name == "sigmoid":  # a(1 − a): M(a)(1 − a) + a(1 + M(a)) = M(a) + a
        return Ma, d, Ma + a
    if name == "tanh":  # 1 − a²: 1 + 2|a|M(a)
        return Ma, d, 1 + 2 * np.abs(a) * Ma
    return Ma, d, np.zeros_like(z)  # relu, leaky_relu: slopes are exact constants


def _softmax(z: np.ndarray, a: np.ndarray, Mz: np.ndarray) -> np.ndarray:
    """M(a) of softmax rows: a_j's relative error is (1 − a_j)·E_j + Σ_{k≠j} a_k·E_k (the softmax Jacobian
    a_j(δ_jk − a_k) applied to exponent errors E_k = M(z_k) + |z_k − max z|, the shift's own error cancelling
    between numerator and denominator), plus three roundings: a_j's exponential, the sum's, the division."""
    E = Mz + np.abs(z - np.max(z, axis=-1, keepdims=True))
    others = np.sum(a * E, axis=-1, keepdims=True) - a * E
    return a * (3 + (1 - a) * E + others)


# --- the pass ---------------------------------------------------------------------------------------------


def _output_delta(spec: NetworkSpec, z, a, Ma, y, slope, Mslope) -> tuple[np.ndarray, np.ndarray]:
    """(δᴸ = ∂C/∂zᴸ, M(δᴸ)), the batch weight included."""
    w = 1.0 / z.shape[0] if spec.reduction == "mean" else 1.0
    if spec.loss == "softmax_ce":
        total = y.sum(axis=-1, keepdims=True)
        return w * (a * total - y), w * (Ma * np.abs(total) + np.abs(y))
    if spec.loss == "bce":
        return w * (a - y), w * (Ma + np.abs(y))
    c = 2.0 / y.shape[1] if spec.loss == "mse" else 1.0
    u, Mu = c * (a - y), c * (Ma + np.abs(y))
    if spec.activations[-1] == "softmax":
        s = np.sum(a * u, axis=-1, keepdims=True)
        Ms = np.sum(Ma * np.abs(u) + a * Mu, axis=-1, keepdims=True)
        return w * a * (u - s), w * (Ma * np.abs(u - s) + a * (Mu + Ms))
    return w * u * slope, w * (Mu * slope + np.abs(u) * Mslope)


def _flag(name: str, l: int, z: np.ndarray, Mz: np.ndarray, rounding: float) -> tuple[np.ndarray, list[str]]:
    """Units of layer l (a mask over its n_l units) that first-order analysis cannot vouch for, with the reason."""
    doubt = rounding * Mz
    if name in ("relu", "leaky_relu"):
        bad = np.abs(z) <= doubt
        why = "within rounding of the kink at 0"
    elif name in ("sigmoid", "tanh", "softmax"):
        bad = doubt > FIRST_ORDER_LIMIT
        why = f"pre-activation uncertain by more than {FIRST_ORDER_LIMIT:g} (the forward pass cancels)"
    else:
        return np.zeros(z.shape[1], dtype=bool), []
    units = np.any(bad, axis=0)
    reasons = [f"layer {l} unit {j} ({name}): z = {z[np.argmax(bad[:, j]), j]:.3e} {why}"
               for j in np.flatnonzero(units)]
    return units, reasons


def magnitudes(spec: NetworkSpec, params: Mapping[str, np.ndarray], zs: Sequence[np.ndarray],
               acts: Sequence[np.ndarray], y: np.ndarray, rounding: float) -> Magnitudes:
    """S_k for every gradient element, from the forward values ``zs``, ``acts`` (index 0: x) and one-hot ``y``.

    ``rounding`` is one side's first-order error factor D·ε, used only to flag units (``_flag``).
    """
    L = spec.depth
    Ms, slopes, Mslopes = [np.abs(acts[0])], [None], [None]
    units: list[np.ndarray] = [np.zeros(0, dtype=bool)]
    reasons: list[str] = []
    for l in range(1, L + 1):
        name = spec.activations[l - 1]
        Mz = Ms[-1] @ np.abs(params[f"W{l}"]) + (np.abs(params[f"b{l}"]) if spec.bias else 0.0)
        if name == "softmax":
            Ma, d, Md = _softmax(zs[l], acts[l], Mz), None, None
        else:
            Ma, d, Md = _act(name, zs[l], acts[l], Mz, spec.leaky_slope)
        flagged, why = _flag(name, l, zs[l], Mz, rounding)
        Ms.append(Ma), slopes.append(d), Mslopes.append(Md), units.append(flagged)
        reasons += why
    delta, Mdelta = _output_delta(spec, zs[L], acts[L], Ms[L], y, slopes[L], Mslopes[L])
    floors: dict[str, np.ndarray] = {}
    for l in range(L, 0, -1):
        W = params[f"W{l}"]
        floors[f"W{l}"] = Ms[l - 1].T @ np.abs(delta) + np.abs(acts[l - 1]).T @ Mdelta + spec.l2 * np.abs(W)
        if spec.bias:
            floors[f"b{l}"] = Mdelta.sum(axis=0)
        if l > 1:
            u, Mu = delta @ W.T, Mdelta @ np.abs(W).T
            delta, Mdelta = u * slopes[l - 1], Mu * slopes[l - 1] + np.abs(u) * Mslopes[l - 1]
    return Magnitudes({k: floors[k] for k in spec.param_shapes()}, _unsure(spec, units), reasons)


def _unsure(spec: NetworkSpec, units: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """The gradient elements behind flagged units: their own columns, and every earlier layer's parameters."""
    out = {k: np.zeros(s, dtype=bool) for k, s in spec.param_shapes().items()}
    for l in range(spec.depth, 0, -1):
        if not units[l].any():
            continue
        out[f"W{l}"][:, units[l]] = True
        if spec.bias:
            out[f"b{l}"][units[l]] = True
        for k in range(1, l):
            out[f"W{k}"][:] = True
            if spec.bias:
                out[f"b{k}"][:] = True
    return out
