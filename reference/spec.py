"""The network description: plain data that every part of bpcheck shares.

A ``NetworkSpec`` says *what* network to build, never *how* to differentiate it, so the
oracles may read it without borrowing the reference's math.

Layout (as in the seeds): ``z = a @ W + b`` with ``W`` of shape ``(n_in, n_out)`` and the
batch along axis 0.  Parameters travel as a plain ``dict`` keyed ``W1, b1, W2, b2, ...``
(layer numbers start at 1, as in the seeds' w1..w8 and Nielsen's l).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "softmax")
#: Activations whose graph has a kink: complex step and FD near 0 are not valid there.
NON_ANALYTIC = frozenset({"relu", "leaky_relu"})
LOSSES = ("half_sse", "mse", "bce", "softmax_ce")
#: Cross-entropy losses are defined on one output activation only.
LOSS_REQUIRES_OUTPUT = {"bce": "sigmoid", "softmax_ce": "softmax"}
REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class NetworkSpec:
    """A dense MLP and its training objective.

    sizes:        (n_0, n_1, ..., n_L); n_0 inputs, n_L outputs.
    activations:  one name per layer (L names); ``softmax`` only on the output layer.
    loss:         per-example loss ℓ(a_L, y):
                  ``half_sse``   ½ Σ_j (a_j − y_j)²        (the seeds' E_total, Nielsen's C)
                  ``mse``        (1/n_L) Σ_j (a_j − y_j)²  (torch's MSELoss per example)
                  ``bce``        −Σ_j [y_j log a_j + (1 − y_j) log(1 − a_j)], sigmoid outputs (seed 004)
                  ``softmax_ce`` −Σ_j y_j log a_j, softmax outputs; y integer labels or rows of probabilities
    reduction:    ``mean`` (1/N Σ_n ℓ_n) or ``sum`` (Σ_n ℓ_n) over the batch of N examples.
    l2:           λ ≥ 0; the objective adds (λ/2) Σ_l ‖W_l‖²_F, on weights only, never divided by N.
    bias:         whether layers have a bias vector b_l.
    leaky_slope:  the negative-side slope of ``leaky_relu``.
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str = "half_sse"
    reduction: str = "mean"
    l2: float = 0.0
    bias: bool = True
    leaky_slope: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(self.sizes))
        object.__setattr__(self, "activations", tuple(self.activations))
        _check_spec(self)

    @property
    def depth(self) -> int:
        """L, the number of weight layers."""
        return len(self.sizes) - 1

    @property
    def analytic(self) -> bool:
        """True when the objective is analytic in every parameter (complex step is valid)."""
        return not any(a in NON_ANALYTIC for a in self.activations)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every parameter's name and shape, in order W1, b1, W2, b2, ..."""
        shapes: dict[str, tuple[int, ...]] = {}
        for l in range(1, self.depth + 1):
            shapes[f"W{l}"] = (self.sizes[l - 1], self.sizes[l])
            if self.bias:
                shapes[f"b{l}"] = (self.sizes[l],)
        return shapes

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["sizes"] = list(self.sizes)
        d["activations"] = list(self.activations)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "NetworkSpec":
        known = {"sizes", "activations", "loss", "reduction", "l2", "bias", "leaky_slope"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"spec: unknown field(s) {sorted(unknown)}; expected a subset of {sorted(known)}")
        return cls(**dict(d))

    def describe(self) -> str:
        """A one-line summary, e.g. ``3-4-1 sigmoid,sigmoid half_sse/mean``."""
        extras = []
        if self.l2:
            extras.append(f"l2={self.l2:g}")
        if not self.bias:
            extras.append("no bias")
        tail = (" " + " ".join(extras)) if extras else ""
        return f"{'-'.join(map(str, self.sizes))} {','.join(self.activations)} {self.loss}/{self.reduction}{tail}"


def _check_spec(spec: NetworkSpec) -> None:
    sizes = spec.sizes
    if len(sizes) < 2:
        raise ValueError(f"sizes: expected at least 2 layer sizes (inputs and outputs), got {list(sizes)}")
    for i, n in enumerate(sizes):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"sizes[{i}]: expected a positive integer, got {n!r}")
    if len(spec.activations) != len(sizes) - 1:
        raise ValueError(
            f"activations: expected {len(sizes) - 1} names (one per layer of sizes {list(sizes)}), "
            f"got {len(spec.activations)}: {list(spec.activations)}"
        )
    for l, name in enumerate(spec.activations, start=1):
        if name not in ACTIVATIONS:
            raise ValueError(f"activations[{l - 1}]: unknown activation {name!r}; expected one of {list(ACTIVATIONS)}")
        if name == "softmax" and l != len(sizes) - 1:
            raise ValueError(f"activations[{l - 1}]: softmax is allowed on the output layer only, got it on hidden layer {l}")
    if spec.loss not in LOSSES:
        raise ValueError(f"loss: unknown loss {spec.loss!r}; expected one of {list(LOSSES)}")
    needed = LOSS_REQUIRES_OUTPUT.get(spec.loss)
    if needed and spec.activations[-1] != needed:
        raise ValueError(f"loss: {spec.loss!r} needs a {needed!r} output layer, got {spec.activations[-1]!r}")
    if spec.reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {list(REDUCTIONS)}, got {spec.reduction!r}")
    if not (isinstance(spec.l2, (int, float, np.floating)) and math.isfinite(spec.l2) and spec.l2 >= 0):
        raise ValueError(f"l2: expected a finite number >= 0, got {spec.l2!r}")
    if not isinstance(spec.bias, (bool, np.bool_)):
        raise ValueError(f"bias: expected True or False, got {spec.bias!r}")
    if not (math.isfinite(spec.leaky_slope) and 0 <= spec.leaky_slope < 1):
        raise ValueError(f"leaky_slope: expected a number in [0, 1), got {spec.leaky_slope!r}")


FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_params(spec: NetworkSpec, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Validate ``params`` against ``spec``; return them as ndarrays of one float dtype.

    Raises ValueError naming the parameter, the expected and the actual shape or dtype.
    The arrays are not copied when they are already valid ndarrays.
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"params: expected a mapping of name -> array, got {type(params).__name__}")
    shapes = spec.param_shapes()
    missing = [k for k in shapes if k not in params]
    extra = [k for k in params if k not in shapes]
    if missing or extra:
        raise ValueError(f"params: expected keys {list(shapes)}, missing {missing}, unexpected {extra}")
    out: dict[str, np.ndarray] = {}
    dtype = None
    for name, shape in shapes.items():
        arr = np.asarray(params[name])
        if arr.dtype not in FLOAT_DTYPES:
            raise ValueError(f"{name}: expected dtype float32 or float64, got {arr.dtype}")
        if dtype is None:
            dtype = arr.dtype
        elif arr.dtype != dtype:
            raise ValueError(f"{name}: expected dtype {dtype} like the other parameters, got {arr.dtype}")
        if arr.shape != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name}: expected finite values, got {int(np.sum(~np.isfinite(arr)))} NaN/Inf")
        out[name] = arr
    return out


def check_batch(spec: NetworkSpec, x: Any, y: Any, dtype: np.dtype = np.dtype(np.float64)) -> tuple[np.ndarray, np.ndarray]:
    """Validate inputs ``x`` (N, n_0) and targets ``y``; return them in ``dtype``.

    Targets: (N, n_L) for every loss; ``softmax_ce`` also takes integer labels (N,) in [0, n_L),
    which are returned one-hot.  Targets of ``bce`` must lie in [0, 1]; rows of ``softmax_ce``
    targets must be probabilities (non-negative, summing to 1).
    """
    x = np.asarray(x)
    n0, nL = spec.sizes[0], spec.sizes[-1]
    if x.ndim != 2:
        raise ValueError(f"x: expected a 2-D array of shape (N, {n0}), got shape {x.shape}")
    if x.shape[0] < 1:
        raise ValueError(f"x: expected at least one example, got an empty batch of shape {x.shape}")
    if x.shape[1] != n0:
        raise ValueError(f"x: expected shape (N, {n0}), got {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"x: expected real numbers, got dtype {x.dtype}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"x: expected finite values, got {int(np.sum(~np.isfinite(x)))} NaN/Inf")
    N = x.shape[0]
    y = np.asarray(y)
    if spec.loss == "softmax_ce" and y.ndim == 1:
        if y.shape != (N,):
            raise ValueError(f"y: expected integer labels of shape ({N},), got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if not (np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y))):
                raise ValueError(f"y: expected integer class labels, got dtype {y.dtype}")
        if np.any((y < 0) | (y >= nL)):
            bad = y[(y < 0) | (y >= nL)]
            raise ValueError(f"y: labels must lie in [0, {nL}), got {bad.tolist()[:5]}")
        onehot = np.zeros((N, nL), dtype=dtype)
        onehot[np.arange(N), y.astype(np.int64)] = 1
        return x.astype(dtype, copy=False), onehot
    if y.shape != (N, nL):
        hint = f" or integer labels of shape ({N},)" if spec.loss == "softmax_ce" else ""
        raise ValueError(f"y: expected shape ({N}, {nL}){hint}, got {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or np.iscomplexobj(y):
        raise ValueError(f"y: expected real numbers, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise ValueError(f"y: expected finite values, got {int(np.sum(~np.isfinite(y)))} NaN/Inf")
    if spec.loss == "bce" and np.any((y < 0) | (y > 1)):
        raise ValueError("y: binary cross-entropy targets must lie in [0, 1]")
    if spec.loss == "softmax_ce":
        sums = y.sum(axis=1)
        if np.any(y < 0) or not np.allclose(sums, 1.0, rtol=0, atol=64 * np.finfo(dtype).eps * nL):
            raise ValueError(f"y: softmax cross-entropy targets must be probability rows (>= 0, summing to 1), got row sums {sums[:5].tolist()}")
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)
