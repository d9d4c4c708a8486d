"""Linear maps and their hand-written transposes, and a hand-written forward-mode derivative.

    python examples/api/adjoints.py

- ``conv2d`` / ``conv_transpose2d``: a CS231n-style naive convolution of x (N, C, H, W) with fixed
  filters w (F, C, HH, WW), and its transpose in x (the backward pass's dx, col2im by loops).  The
  planted bug crops the padded result one pixel off along the width.
- ``heat_step`` / ``heat_step_transpose``: explicit-Euler steps of the heat equation with a wind,
  u ← u + r·(u[i−1] − 2u[i] + u[i+1]) − a·(u[i] − u[i−1]) with zero boundaries, and the adjoint a
  data-assimilation code needs.  The diffusion stencil is its own transpose; the upwind one is not,
  and the planted bug reuses the forward upwind stencil in the transpose.
- ``polar`` / ``polar_jvp``: (r, θ) → (r·cos θ, r·sin θ) and its tangent map.  The planted bug has a sign
  error in the second output's θ term.
"""

from __future__ import annotations

import functools

import numpy as np

import bpcheck


def conv2d(x, w, stride=1, pad=1):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    out = np.zeros((N, F, Ho, Wo), dtype=np.result_type(x, w))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


def conv_transpose2d(dout, w, x_shape, stride=1, pad=1, buggy=False):
    N, C, H, W = x_shape
    F, _, HH, WW = w.shape
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=np.result_type(dout, w))
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dxp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    shift = 1 if buggy else 0
    return dxp[:, :, pad:pad + H, pad + shift:pad + shift + W]


def _shifted(u, by):
    """u[i − by] with zeros beyond the ends (by = 1: the left neighbour, −1: the right one)."""
    out = np.zeros_like(u)
    if by > 0:
        out[by:] = u[:-by]
    else:
        out[:by] = u[-by:]
    return out


def heat_step(u, r=0.2, a=0.3, steps=10):
    for _ in range(steps):
        u = u + r * (_shifted(u, 1) - 2 * u + _shifted(u, -1)) - a * (u - _shifted(u, 1))
    return u


def heat_step_transpose(v, r=0.2, a=0.3, steps=10, buggy=False):
    for _ in range(steps):
        upwind = (v - _shifted(v, 1)) if buggy else (v - _shifted(v, -1))
        v = v + r * (_shifted(v, 1) - 2 * v + _shifted(v, -1)) - a * upwind
    return v


def polar(r, theta):
    return np.stack([r * np.cos(theta), r * np.sin(theta)])


def polar_jvp(primals, tangents, buggy=False):
    r, theta = primals["r"], primals["theta"]
    dr, dtheta = tangents["r"], tangents["theta"]
    second = dr * np.sin(theta) + (-1 if buggy else 1) * r * np.cos(theta) * dtheta
    return np.stack([dr * np.cos(theta) - r * np.sin(theta) * dtheta, second])


def inputs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((2, 3, 3, 3)), "x_shape": (2, 3, 5, 6), "u": (16,),
            "polar": {"r": rng.random(5) + 0.5, "theta": rng.uniform(-3, 3, 5)}}


def check(buggy: bool = False, seed: int = 0) -> dict:
    """The dot-product test for the conv pair and the heat steps; check_jvp for the polar map."""
    case = inputs(seed)
    w, x_shape = case["w"], case["x_shape"]
    return {"conv": bpcheck.check_adjoint(functools.partial(conv2d, w=w),
                                          functools.partial(conv_transpose2d, w=w, x_shape=x_shape, buggy=buggy), x_shape, seed=seed),
            "heat": bpcheck.check_adjoint(heat_step, functools.partial(heat_step_transpose, buggy=buggy), case["u"], seed=seed),
            "polar": bpcheck.check_jvp(polar, functools.partial(polar_jvp, buggy=buggy), case["polar"], seed=seed)}


if __name__ == "__main__":
    for buggy in (False, True):
        for name, result in check(buggy).items():
            print(f"--- {name} ({'buggy' if buggy else 'correct'})\n{result.message()}\n")
