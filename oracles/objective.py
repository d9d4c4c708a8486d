"""The objective C(θ), written again from the definitions, for the finite-difference oracles.

Independent of ``reference``: only the plain ``NetworkSpec`` is shared.  Two things the
reference does not need are built in here:

- every function is analytic (holomorphic) wherever the math is, so a complex argument
  z + ih carries the exact derivative in its imaginary part (complex step);
- ``perturbed`` evaluates C at many single-parameter perturbations at once.  Changing
  W^l[i, j] by s changes only column j of z^l, by s·a^{l-1}[:, i]; every later layer is
  then one batched matrix product.  The first of those is a rank-1 update when layer l is
  elementwise: only column j of a^l moved, so z^{l+1} moves by Δa_j ⊗ W^{l+1}[j, :].
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from bpcheck.reference.spec import NetworkSpec, check_batch, check_params

from .compare import op_depth
from .magnitudes import Magnitudes, magnitudes


def _sigmoid(z: np.ndarray) -> np.ndarray:
    right = z.real >= 0
    e = np.exp(np.where(right, -z, z))  # |e| <= 1: no overflow for any real part
    return np.where(right, 1 / (1 + e), e / (1 + e))


def _tanh(z: np.ndarray) -> np.ndarray:
    """tanh |z| = −m / (2 + m) with m = expm1(−2|z|): (1 − e^−2|z|)/(1 + e^−2|z|) written with expm1, so small |z|
    keeps its digits (1 − e^−2z loses them: relative error ε/2|z|, 2e-5 at z = 1e-12); analytic, as complex step needs."""
    right = z.real >= 0
    m = np.expm1(np.where(right, -2 * z, 2 * z))
    t = -m / (2 + m)
    return np.where(right, t, -t)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.real.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z), analytic, with the exponent's real part kept <= 0."""
    right = z.real > 0
    return np.where(right, z, 0) + np.log1p(np.exp(np.where(right, -z, z)))


def activation(name: str, z: np.ndarray, slope: float) -> np.ndarray:
    if name == "identity":
        return z
    if name == "sigmoid":
        return _sigmoid(z)
    if name == "tanh":
        return _tanh(z)
    if name == "relu":
        return np.where(z.real > 0, z, 0)
    if name == "leaky_relu":
        return np.where(z.real > 0, z, slope * z)
    if name == "softmax":
        return _softmax(z)
    raise ValueError(f"activation: unknown name {name!r}")


def data_loss(spec: NetworkSpec, z: np.ndarray, a: Optional[np.ndarray], y: np.ndarray,
              shift: Optional[np.ndarray] = None) -> np.ndarray:
    """The reduced data term for arrays (..., N, n_L); returns shape (...).  ``a`` is unused by the cross-entropies.

    ``shift`` (N, 1): the log-sum-exp shift to use instead of each row's own max.  Log-sum-exp is
    exact for any shift; the unperturbed rows' max is safe for the tiny steps of finite differences
    and saves a pass over every perturbed copy.
    """
    if spec.loss == "half_sse":
        per = 0.5 * np.sum((a - y) ** 2, axis=-1)
    elif spec.loss == "mse":
        per = np.sum((a - y) ** 2, axis=-1) / y.shape[-1]
    elif spec.loss == "bce":
        per = np.sum(y * _softplus(-z) + (1 - y) * _softplus(z), axis=-1)
    elif spec.loss == "softmax_ce":
        m = z.real.max(axis=-1, keepdims=True) if shift is None else shift
        yz = np.einsum("...nk,nk->...n", z, y)  # Σ_k y_k z_k without a (..., N, K) temporary
        e = z - m
        np.exp(e, out=e)  # one (..., N, K) temporary, reused: large short-lived arrays are slow to allocate
        lse = m[..., 0] + np.log(e.sum(axis=-1))
        per = lse * y.sum(axis=-1) - yz  # Σ_k y_k (lse − z_k)
    else:
        raise ValueError(f"loss: unknown name {spec.loss!r}")
    return per.mean(axis=-1) if spec.reduction == "mean" else per.sum(axis=-1)


class Objective:
    """C(θ) at fixed (x, y), evaluated at θ and at single-entry perturbations of θ.

    params: W{l} (n_{l-1}, n_l), b{l} (n_l,); x (N, n_0); y (N, n_L) or labels (N,).
    """

    def __init__(self, spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray):
        self.spec = spec
        self.params = check_params(spec, params)
        dtype = self.params["W1"].dtype
        self.x, self.y = check_batch(spec, x, y, dtype)
        self.dtype = dtype
        # the unperturbed pass, kept for every perturbation's prefix
        self.z: list[np.ndarray] = [self.x]
        self.a: list[np.ndarray] = [self.x]
        for l in range(1, spec.depth + 1):
            zl = self._affine(l, self.a[-1])
            self.z.append(zl)
            self.a.append(activation(spec.activations[l - 1], zl, spec.leaky_slope))
        self.reg = 0.5 * spec.l2 * sum(float(np.sum(self.params[f"W{l}"] ** 2)) for l in range(1, spec.depth + 1))
        self.value = float(data_loss(spec, self.z[-1], self.a[-1], self.y)) + self.reg
        self.shift = self.z[-1].max(axis=-1, keepdims=True)

    def magnitudes(self) -> Magnitudes:
        """The per-element floors S_k and the units first-order analysis cannot vouch for (``oracles.magnitudes``).

        Rounding errors are bounded relative to the terms a result is summed from (Higham's
        |fl(Σ) − Σ| ≤ γ_n Σ|terms|), through the forward pass and the backward one, not relative to the
        result, which can be far smaller after cancellation or saturation.
        """
        rounding = op_depth(self.spec, self.x.shape[0]) * float(np.finfo(np.float64).eps)
        return magnitudes(self.spec, self.params, self.z, self.a, self.y, rounding)

    def term_scale(self) -> dict[str, np.ndarray]:
        """S_k per gradient element (``magnitudes().floors``): the comparison's absolute floor."""
        return self.magnitudes().floors

    def _affine(self, l: int, a: np.ndarray) -> np.ndarray:
        z = a @ self.params[f"W{l}"]
        return z + self.params[f"b{l}"] if self.spec.bias else z

    def _finish(self, l: int, z: np.ndarray) -> np.ndarray:
        """C for a stack of layer-l pre-activations z (P, N, n_l), without the regulariser."""
        spec = self.spec
        for k in range(l, spec.depth):
            z = self._affine(k + 1, activation(spec.activations[k - 1], z, spec.leaky_slope))
        # the cross-entropies are computed from the logits: their output activation is never needed
        a = None if spec.loss in ("bce", "softmax_ce") else activation(spec.activations[-1], z, spec.leaky_slope)
        return data_loss(spec, z, a, self.y, shift=self.shift)

    def value_at(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """C at other parameters, real or complex, each with an optional leading stack axis (k, ...); shape (k,) or ()."""
        spec = self.spec
        a = self.x
        z = a
        for l in range(1, spec.depth + 1):
            z = a @ params[f"W{l}"]
            if spec.bias:
                b = params[f"b{l}"]
                z = z + (b[..., None, :] if b.ndim > 1 else b)
            a = activation(spec.activations[l - 1], z, spec.leaky_slope)
        data = data_loss(spec, z, a, self.y)
        reg = sum(np.sum(params[f"W{l}"] ** 2, axis=(-2, -1)) for l in range(1, spec.depth + 1))
        return data + 0.5 * spec.l2 * reg

    def reach(self, name: str) -> float:
        """How far one unit step in parameter ``name`` can move any pre-activation downstream (at least 1).

        A step s in Wˡ[i, j] moves zˡ_j by s·aˡ⁻¹_i (s for a bias), zˡ⁺¹ by at most that times max|Wˡ⁺¹|
        (one column moved, |σ'| ≤ 1), and every later layer by at most its largest column sum of |W|.
        Finite-difference steps are divided by this, so that no pre-activation moves by more than the
        step itself: the activations' curvature is O(1) in z, which keeps the difference quotients in
        their asymptotic regime, where the error estimates hold.
        """
        l = int(name[1:])
        gain = max(1.0, float(np.max(np.abs(self.a[l - 1])))) if name[0] == "W" else 1.0
        for k in range(l + 1, self.spec.depth + 1):
            W = np.abs(self.params[f"W{k}"])
            gain *= max(1.0, float(W.max()) if k == l + 1 else float(W.sum(axis=0).max()))
        return gain

    def rank_one(self, l: int) -> bool:
        """Whether perturbing layer l moves only one column of aˡ (an elementwise hidden activation)."""
        return l < self.spec.depth and self.spec.activations[l - 1] != "softmax"

    def widest_after(self, l: int) -> int:
        """The widest layer a perturbation of layer l materialises per example (for sizing chunks)."""
        return max(self.spec.sizes[l + 1:] if self.rank_one(l) else self.spec.sizes[l:])

    def perturbed(self, name: str, flat: np.ndarray, step: np.ndarray | complex | float) -> np.ndarray:
        """C(θ + step_k·e_k) for every flat index k in ``flat`` (P,) of parameter ``name``; shape (P,).

        ``step`` is one number or one per index (P,), real or complex.
        """
        spec = self.spec
        l = int(name[1:])
        shape = self.params[name].shape
        step = np.broadcast_to(np.asarray(step), (len(flat),))
        if name[0] == "W":
            i, j = np.unravel_index(flat, shape)
            shift = step[:, None] * self.a[l - 1][:, i].T  # (P, N): the change of column j of z^l
        else:
            j = np.asarray(flat)
            shift = np.broadcast_to(step[:, None], (len(j), self.x.shape[0]))
        col = self.z[l][:, j].T + shift  # (P, N)
        if self.rank_one(l):
            moved = activation(spec.activations[l - 1], col, spec.leaky_slope) - self.a[l][:, j].T
            W_next = self.params[f"W{l + 1}"]
            z_next = moved[:, :, None] * W_next[j][:, None, :]
            z_next += self.z[l + 1][None, :, :]  # in place: one (P, N, n) array per chunk
            data = self._finish(l + 1, z_next)
        else:
            z = np.repeat(self.z[l][None, :, :], len(j), axis=0).astype(col.dtype)
            z[np.arange(len(j)), :, j] = col
            data = self._finish(l, z)
        reg = self.reg
        if name[0] == "W" and spec.l2:
            w = self.params[name].ravel()[flat]
            reg = reg + 0.5 * spec.l2 * (2 * step * w + step * step)
        return data + reg
