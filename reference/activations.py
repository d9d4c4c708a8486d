"""Activations, each beside its derivative.

Every activation is a pair:

    f(z) -> a                      z, a: (N, n)
    backward(z, a, g) -> g ⊙ f'(z)  g = ∂C/∂a (N, n); returns ∂C/∂z (N, n)

For elementwise activations ``backward`` is ``g * f'(z)``; softmax mixes a row and
returns the Jacobian-vector product instead.  The derivatives use the output ``a`` where
the seeds do (σ' = a(1 − a), tanh' = 1 − a²) but compute the small factor (1 − a) from z
so they keep full relative precision when a unit saturates (a → 1 rounds 1 − a to 0).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


class Activation(NamedTuple):
    f: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def identity(z: np.ndarray) -> np.ndarray:
    return z.copy()


def identity_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    return g.copy()


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^−z), evaluated without overflow: e^−|z| ≤ 1 always."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """σ'(z) = a(1 − a), with 1 − a = σ(−z) so it does not round to 0 when a ≈ 1."""
    return g * (a * sigmoid(-z))


def tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def tanh_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """tanh'(z) = 1 − a² = sech² z = 4e^−2|z| / (1 + e^−2|z|)², which keeps its digits as |a| → 1."""
    e = np.exp(-2 * np.abs(z))
    return g * (4 * e / (1 + e) ** 2)


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def relu_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """relu'(z) = 1 where z > 0, else 0 (the subgradient 0 at z = 0, as torch and jax)."""
    return g * (z > 0)


def make_leaky_relu(slope: float) -> Activation:
    def leaky_relu(z: np.ndarray) -> np.ndarray:
        return np.where(z > 0, z, slope * z)

    def leaky_relu_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
        """1 where z > 0, else the slope (at z = 0: the slope, as torch and jax)."""
        return g * np.where(z > 0, 1, slope).astype(z.dtype)

    return Activation(leaky_relu, leaky_relu_backward)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row max so e^z never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_backward(z: np.ndarray, a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Jacobian-vector product: ∂a_k/∂z_j = a_k(δ_kj − a_j), so (Jᵀg)_j = a_j (g_j − Σ_k g_k a_k)."""
    return a * (g - np.sum(g * a, axis=1, keepdims=True))


def get(name: str, leaky_slope: float = 0.01) -> Activation:
    """The activation called ``name`` (names as in ``spec.ACTIVATIONS``)."""
    if name == "leaky_relu":
        return make_leaky_relu(leaky_slope)
    table = {
        "identity": Activation(identity, identity_backward),
        "sigmoid": Activation(sigmoid, sigmoid_backward),
        "tanh": Activation(tanh, tanh_backward),
        "relu": Activation(relu, relu_backward),
        "softmax": Activation(softmax, softmax_backward),
    }
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"activation: unknown name {name!r}; expected one of {sorted([*table, 'leaky_relu'])}") from None
