"""Per-example losses ℓ(a, y), each beside its derivative.

Every loss gives ``value(z, a, y) -> (N,)``, one number per example, and one of:

- ``grad_a(a, y) -> ∂ℓ/∂a`` (N, n_L): the general BP1 multiplies it by the output
  activation's derivative, so a squared loss works on any output activation;
- ``delta(a, y) -> ∂ℓ/∂z`` (N, n_L): the cross-entropies, whose only output activation
  is fixed (spec.LOSS_REQUIRES_OUTPUT), have the closed form δ = a − y (seed 004), which
  avoids dividing by a(1 − a) when a unit saturates.

Values are computed from the logits z where a log is involved, so no log(0) ever occurs.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import numpy as np


class Loss(NamedTuple):
    value: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
    grad_a: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    delta: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None


def half_sse(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ℓ = ½ Σ_j (a_j − y_j)², the seeds' E_total."""
    return 0.5 * np.sum((a - y) ** 2, axis=1)


def half_sse_grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂ℓ/∂a = a − y (seed 000: out_o1 − target_o1)."""
    return a - y


def mse(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ℓ = (1/n_L) Σ_j (a_j − y_j)²."""
    return np.mean((a - y) ** 2, axis=1)


def mse_grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂ℓ/∂a = 2(a − y)/n_L."""
    return 2 * (a - y) / a.shape[1]


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = max(z, 0) + log1p(e^−|z|): no overflow, no log(0)."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def bce(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ℓ = −Σ_j [y log a + (1 − y) log(1 − a)] with a = σ(z): −log σ(z) = softplus(−z), −log(1 − σ(z)) = softplus(z)."""
    return np.sum(y * softplus(-z) + (1 - y) * softplus(z), axis=1)


def softmax_ce(z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """ℓ = −Σ_j y_j log a_j with log a_j = z_j − logsumexp(z)."""
    m = z.max(axis=1, keepdims=True)
    log_a = z - (m + np.log(np.sum(np.exp(z - m), axis=1, keepdims=True)))
    return -np.sum(y * log_a, axis=1)


def cross_entropy_delta(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂ℓ/∂z = a − y, for sigmoid + binary and softmax + categorical cross-entropy (rows of y sum to 1)."""
    return a - y


def get(name: str) -> Loss:
    """The loss called ``name`` (names as in ``spec.LOSSES``)."""
    table = {
        "half_sse": Loss(half_sse, grad_a=half_sse_grad),
        "mse": Loss(mse, grad_a=mse_grad),
        "bce": Loss(bce, delta=cross_entropy_delta),
        "softmax_ce": Loss(softmax_ce, delta=cross_entropy_delta),
    }
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"loss: unknown name {name!r}; expected one of {sorted(table)}") from None
