"""A float32 layer, as in a library that trains in single precision, checked at float32 tolerances.

    python examples/api/float32_layer.py

``dense_tanh_forward`` casts every input to its ``dtype`` (float32 by default), so it computes in
float32 whatever it is given: finite differences of it would be float32 noise.  bpcheck therefore
takes ``reference=``, the same layer in float64, as the oracle, and holds the float32 gradients to
float32's ε.  ``dense_tanh_backward_wrong_derivative`` uses 1 − a for tanh' instead of 1 − a².
"""

from __future__ import annotations

from functools import partial

import numpy as np

import bpcheck


def dense_tanh_forward(x, w, b, dtype=np.float32):
    """x (N, D), w (D, M), b (M,) -> a = tanh(x @ w + b) (N, M), computed in ``dtype``."""
    x, w, b = (np.asarray(v).astype(dtype) for v in (x, w, b))
    a = np.tanh(x @ w + b)
    return a, (x, w, a)


def dense_tanh_backward(dout, cache):
    """dout (N, M) -> dx (N, D), dw (D, M), db (M,), in the forward's dtype."""
    x, w, a = cache
    dz = dout.astype(a.dtype) * (1 - a * a)
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)


def dense_tanh_backward_wrong_derivative(dout, cache):
    x, w, a = cache
    dz = dout.astype(a.dtype) * (1 - a)
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)


def inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((8, 16)).astype(np.float32),
            "w": (0.3 * rng.standard_normal((16, 10))).astype(np.float32),
            "b": rng.standard_normal(10).astype(np.float32)}


def check(buggy: bool = False, seed: int = 0) -> bpcheck.CheckResult:
    backward = dense_tanh_backward_wrong_derivative if buggy else dense_tanh_backward
    return bpcheck.check_vjp(dense_tanh_forward, backward, inputs(seed), reference=partial(dense_tanh_forward, dtype=np.float64))


if __name__ == "__main__":
    print(check().message(), "\n")
    print(check(buggy=True).message())
