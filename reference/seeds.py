"""The worked examples the project grew from, as (spec, params, x, y) in the reference's layout.

- ``mazur``: seed 000's 2-2-2 network (Matt Mazur's worked example): i1, i2 = .05, .10;
  w1..w8 = .15 .20 .25 .30 .40 .45 .50 .55; one shared bias per layer b1 = .35, b2 = .60
  (held fixed: the post never updates them); targets .01, .99; E_total = ½Σ(target − out)²; η = .5.
  w1 is i1→h1, w2 i2→h1, w3 i1→h2, w4 i2→h2 (and w5..w8 likewise h→o), so W1 = [[w1, w3], [w2, w4]].
- ``xor_seed000``: seed 000's script: 3-4-1 sigmoid, no b (the bias is x's constant third column),
  ``np.random.seed(22)``, weights ``2*random - 1``, E = ½Σ(y − a)² summed over the 5 rows, η = 1.
- ``cs231n_toy``: CS231n assignment 1's init_toy_model (seed 0, std 0.1, 4-10-3) and init_toy_data
  (seed 1, X = 10·randn(5, 4), y = [0, 1, 2, 2, 1]); ReLU, softmax cross-entropy, reg·ΣW² = (l2/2)ΣW²
  with l2 = 2·reg (the 2017+ convention; the correct loss is 1.30378789133 at reg = 0.05).
- ``ex4_debug``: Coursera ML ex4's checkNNGradients network: 3-5-3 sigmoid, m = 5, every matrix
  ``reshape(sin(1:numel), size)/10`` in column-major order with the bias column first, labels
  y = 1 + mod(1:m, 3) (1-based; here 0-based), J = −(1/m)ΣΣ[y log a + (1−y) log(1−a)] + λ/(2m)Σθ².
  ex4's λ/(2m)Σθ² is our (l2/2)ΣW² with l2 = λ/m.
"""

from __future__ import annotations

import decimal

import numpy as np

from .spec import NetworkSpec

Example = tuple[NetworkSpec, dict[str, np.ndarray], np.ndarray, np.ndarray]


def mazur() -> Example:
    spec = NetworkSpec(sizes=(2, 2, 2), activations=("sigmoid", "sigmoid"), loss="half_sse", reduction="sum")
    w1, w2, w3, w4, w5, w6, w7, w8 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55
    params = {
        "W1": np.array([[w1, w3], [w2, w4]]),
        "b1": np.array([0.35, 0.35]),
        "W2": np.array([[w5, w7], [w6, w8]]),
        "b2": np.array([0.60, 0.60]),
    }
    return spec, params, np.array([[0.05, 0.10]]), np.array([[0.01, 0.99]])


def xor_seed000() -> Example:
    spec = NetworkSpec(sizes=(3, 4, 1), activations=("sigmoid", "sigmoid"), loss="half_sse", reduction="sum", bias=False)
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1], [0, 0, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0], [0]], dtype=np.float64)
    rng = np.random.RandomState(22)  # the legacy stream np.random.seed(22) drives
    params = {"W1": 2 * rng.random_sample((3, 4)) - 1, "W2": 2 * rng.random_sample((4, 1)) - 1}
    return spec, params, x, y


def debug_matrix(rows: int, cols: int) -> np.ndarray:
    """ex4's debugInitializeWeights: reshape(sin(1:rows*cols), rows, cols) / 10, column-major.

    These are golden inputs, so each sin(k) is correctly rounded on every machine (``_sin``): numpy's vectorised
    sin changed between versions by an ulp here and there, and no C library promises correct rounding.
    """
    sines = [_sin(k) for k in range(1, rows * cols + 1)]
    return np.array(sines, dtype=np.float64).reshape((rows, cols), order="F") / 10


def _sin(k: int) -> float:
    """sin(k) for a small integer k, correctly rounded: its Taylor series summed in 80-digit decimal arithmetic
    (terms fall below 1e-70 long before the sum's own rounding matters), then one correctly rounded conversion."""
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        x = term = total = decimal.Decimal(k)
        n = 1
        while abs(term) > decimal.Decimal(10) ** -70:
            term = -term * x * x / ((2 * n) * (2 * n + 1))
            total += term
            n += 1
        return float(total)


def ex4_debug(lam: float = 0.0) -> Example:
    n_in, n_hidden, n_labels, m = 3, 5, 3, 5
    theta1 = debug_matrix(n_hidden, n_in + 1)  # (5, 4), bias column first
    theta2 = debug_matrix(n_labels, n_hidden + 1)  # (3, 6)
    x = debug_matrix(m, n_in)  # (5, 3)
    labels = np.arange(1, m + 1) % n_labels  # 1 + mod(1:m, 3), shifted to 0-based
    spec = NetworkSpec(
        sizes=(n_in, n_hidden, n_labels), activations=("sigmoid", "sigmoid"), loss="bce", reduction="mean", l2=lam / m
    )
    params = {"W1": theta1[:, 1:].T.copy(), "b1": theta1[:, 0].copy(), "W2": theta2[:, 1:].T.copy(), "b2": theta2[:, 0].copy()}
    return spec, params, x, np.eye(n_labels)[labels]


def ex4_unroll(grads: dict[str, np.ndarray]) -> np.ndarray:
    """Gradients in ex4's order: Theta1_grad(:) then Theta2_grad(:), column-major, bias column first."""
    t1 = np.column_stack([grads["b1"], grads["W1"].T])
    t2 = np.column_stack([grads["b2"], grads["W2"].T])
    return np.concatenate([t1.ravel(order="F"), t2.ravel(order="F")])


def cs231n_toy(reg: float = 0.05) -> Example:
    rng = np.random.RandomState(0)
    params = {"W1": 1e-1 * rng.randn(4, 10), "b1": np.zeros(10), "W2": 1e-1 * rng.randn(10, 3), "b2": np.zeros(3)}
    x = 10 * np.random.RandomState(1).randn(5, 4)
    spec = NetworkSpec((4, 10, 3), ("relu", "softmax"), "softmax_ce", "mean", l2=2 * reg)
    return spec, params, x, np.eye(3)[[0, 1, 2, 2, 1]]
