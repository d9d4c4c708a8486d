"""Forward pass, backpropagation (BP1–BP4) and SGD for a dense MLP.

Notation, mapped onto the seeds:

    layer l = 1..L,  a⁰ = x                           (N, n_0)
    zˡ = aˡ⁻¹ Wˡ + bˡ                                 (N, n_l)   seed 000's net_h1, net_o1
    aˡ = σ(zˡ)                                        (N, n_l)   seed 000's out_h1, out_o1
    δˡ = ∂C/∂zˡ                                       (N, n_l)   seed 001's δ_j^l, one row per example
    C  = reduce_n ℓ(a^L_n, y_n) + (λ/2) Σ_l ‖Wˡ‖²      reduce = mean (1/N Σ) or sum

Seed 001 writes one example as a column with z = W a; our rows are examples and W is its
transpose, (n_in, n_out), so its ∑_k w_kj δ_k becomes ``δ @ W.T`` (seed 003's "error sent back
through Wᵀ").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import numpy as np

from . import activations, losses
from .spec import NetworkSpec, check_batch, check_params

Params = dict[str, np.ndarray]


@dataclass
class Cache:
    """What backward needs from forward.

    z[l], a[l]: (N, n_l) for l = 1..L; a[0] is x (N, n_0); z[0] is None.
    y: the targets as (N, n_L) floats (integer labels arrive one-hot).
    """

    z: list[Optional[np.ndarray]]
    a: list[np.ndarray]
    y: np.ndarray


def init_params(spec: NetworkSpec, seed: int = 0, dtype: Any = np.float64) -> Params:
    """Weights N(0, 1/n_in) and zero biases, from ``numpy.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    params: Params = {}
    for name, shape in spec.param_shapes().items():
        if name.startswith("W"):
            params[name] = (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)
        else:
            params[name] = np.zeros(shape, dtype=dtype)
    return params


def forward(spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any) -> tuple[float, Cache]:
    """The objective C and the cache of every layer's z and a.

    params: W{l} (n_{l-1}, n_l), b{l} (n_l,); x: (N, n_0); y: (N, n_L), or labels (N,) for softmax_ce.
    Computations run in the parameters' dtype (float64 or float32); x and y are cast to it.
    """
    params = check_params(spec, params)
    x, y = check_batch(spec, x, y, params["W1"].dtype)
    return _forward(spec, params, x, y)


def _forward(spec: NetworkSpec, params: Mapping[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> tuple[float, Cache]:
    """``forward`` on inputs already checked and cast (training loops check once, not every step)."""
    a: list[np.ndarray] = [x]
    z: list[Optional[np.ndarray]] = [None]
    for l, name in enumerate(spec.activations, start=1):
        zl = a[l - 1] @ params[f"W{l}"]
        if spec.bias:
            zl = zl + params[f"b{l}"]
        z.append(zl)
        a.append(activations.get(name, spec.leaky_slope).f(zl))
    per_example = losses.get(spec.loss).value(z[-1], a[-1], y)
    data = per_example.mean() if spec.reduction == "mean" else per_example.sum()
    reg = 0.5 * spec.l2 * sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, spec.depth + 1))
    return float(data + reg), Cache(z, a, y)


class Backprop:
    """BP1–BP4 as one method each, over one forward pass.

    ``run`` applies them layer by layer; the bug catalog (``reference.bugs``) builds each of its
    mistakes by replacing one of these methods, so every variant shares the rest of this code.
    Shapes: δˡ (N, n_l); ∂C/∂Wˡ (n_{l-1}, n_l); ∂C/∂bˡ (n_l,).
    """

    def __init__(self, spec: NetworkSpec, params: Mapping[str, np.ndarray], cache: Cache, lr: Optional[float] = None):
        self.spec, self.params, self.cache, self.lr = spec, params, cache, lr
        self.z, self.a, self.y = cache.z, cache.a, cache.y
        self.L = spec.depth
        self.acts = [None] + [activations.get(name, spec.leaky_slope) for name in spec.activations]
        self.loss = losses.get(spec.loss)
        #: the batch reduction enters once, as the factor 1/N on δᴸ for ``mean``
        self.scale = 1.0 / self.a[0].shape[0] if spec.reduction == "mean" else 1.0
        self.grads: Params = {}

    def sigma_prime(self, l: int, g: np.ndarray) -> np.ndarray:
        """g ⊙ σ'(zˡ) (the Jacobian-vector product for softmax)."""
        return self.acts[l].backward(self.z[l], self.a[l], g)

    def bp1(self) -> np.ndarray:
        """BP1  δᴸ = ∂C/∂aᴸ ⊙ σ'(zᴸ);  δᴸ = a − y for sigmoid+bce and softmax+softmax_ce (seed 004)."""
        L, loss = self.L, self.loss
        if loss.delta is not None:
            return self.scale * loss.delta(self.a[L], self.y)
        return self.scale * self.sigma_prime(L, loss.grad_a(self.a[L], self.y))

    def bp2(self, l: int, delta_next: np.ndarray) -> np.ndarray:
        """BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)."""
        return self.sigma_prime(l, delta_next @ self.params[f"W{l + 1}"].T)

    def bp3(self, l: int, delta: np.ndarray) -> np.ndarray:
        """BP3  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ + λ Wˡ."""
        return self.a[l - 1].T @ delta + self.reg(l)

    def reg(self, l: int) -> np.ndarray:
        """∂/∂Wˡ of (λ/2)‖Wˡ‖² = λ Wˡ."""
        return self.spec.l2 * self.params[f"W{l}"]

    def bp4(self, l: int, delta: np.ndarray) -> np.ndarray:
        """BP4  ∂C/∂bˡ = Σ_n δˡ_n."""
        return delta.sum(axis=0)

    def run(self) -> Params:
        delta = self.bp1()
        for l in range(self.L, 0, -1):
            self.grads[f"W{l}"] = self.bp3(l, delta)
            if self.spec.bias:
                self.grads[f"b{l}"] = self.bp4(l, delta)
            if l > 1:
                delta = self.bp2(l - 1, delta)
        return {name: self.grads[name] for name in self.spec.param_shapes()}


def backward(spec: NetworkSpec, params: Mapping[str, np.ndarray], cache: Cache) -> Params:
    """∂C/∂W{l} (n_{l-1}, n_l) and ∂C/∂b{l} (n_l,) for every layer, by BP1–BP4.

    BP1  δᴸ = ∂C/∂aᴸ ⊙ σ'(zᴸ)              seed 000: (out_o1 − target)·out_o1(1 − out_o1)
         δᴸ = a − y for sigmoid+bce and softmax+softmax_ce (seed 004)
    BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)          seed 001's Σ_k w_kj δ_k σ'(z_j), seed 003's Wᵀ
    BP3  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ  (+ λ Wˡ)         seed 001's δ_j a_k, summed over the batch
    BP4  ∂C/∂bˡ = Σ_n δˡ_n                   seed 001's δ_j, summed over the batch

    Nothing in ``params`` or ``cache`` is modified.
    """
    return Backprop(spec, params, cache).run()


def loss_and_grad(
    spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any, backprop: type[Backprop] = Backprop,
    lr: Optional[float] = None,
) -> tuple[float, Params]:
    """C and ∂C/∂θ for every parameter θ, in one forward and one backward pass.

    ``backprop``: a catalog variant; ``lr``: the step size of the training step the gradients are taken in
    (only the stale-weights variant looks at it).
    """
    params = check_params(spec, params)
    loss, cache = forward(spec, params, x, y)
    return loss, backprop(spec, params, cache, lr).run()


def sgd_step(
    spec: NetworkSpec,
    params: Mapping[str, Any],
    x: Any,
    y: Any,
    lr: float,
    update_biases: bool = True,
    backprop: type[Backprop] = Backprop,
) -> tuple[Params, float, Cache]:
    """One step θ ← θ − η ∂C/∂θ, every gradient taken at the old θ; returns new params (inputs untouched), C, cache."""
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    params = check_params(spec, params)
    x, y = check_batch(spec, x, y, params["W1"].dtype)
    return _step(spec, params, x, y, lr, update_biases, backprop)


def _step(spec: NetworkSpec, params: Params, x: np.ndarray, y: np.ndarray, lr: float,
          update_biases: bool, backprop: type[Backprop]) -> tuple[Params, float, Cache]:
    loss, cache = _forward(spec, params, x, y)
    grads = backprop(spec, params, cache, lr).run()
    new = {}
    for name, p in params.items():
        step = name.startswith("W") or update_biases
        new[name] = p - lr * grads[name] if step else np.array(p, copy=True)
    return new, loss, cache


def train(
    spec: NetworkSpec,
    params: Mapping[str, Any],
    x: Any,
    y: Any,
    lr: float,
    steps: int,
    update_biases: bool = True,
    every: int = 0,
    on_log: Optional[Callable[[int, float, Cache], None]] = None,
    backprop: type[Backprop] = Backprop,
) -> Params:
    """Run ``steps`` SGD steps on the full batch; call ``on_log(step, C, cache)`` before every ``every``-th update."""
    if steps < 0:
        raise ValueError(f"steps: expected an integer >= 0, got {steps!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    current = {k: np.array(v, copy=True) for k, v in check_params(spec, params).items()}
    x, y = check_batch(spec, x, y, current["W1"].dtype)
    for step in range(steps):
        current, loss, cache = _step(spec, current, x, y, lr, update_biases, backprop)
        if every and on_log is not None and step % every == 0:
            on_log(step, loss, cache)
    return current
