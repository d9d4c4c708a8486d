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
    dtype = params["W1"].dtype
    x, y = check_batch(spec, x, y, dtype)
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


def backward(spec: NetworkSpec, params: Mapping[str, np.ndarray], cache: Cache) -> Params:
    """∂C/∂W{l} (n_{l-1}, n_l) and ∂C/∂b{l} (n_l,) for every layer, by BP1–BP4.

    BP1  δᴸ = ∂C/∂aᴸ ⊙ σ'(zᴸ)              seed 000: (out_o1 − target)·out_o1(1 − out_o1)
         δᴸ = a − y for sigmoid+bce and softmax+softmax_ce (seed 004)
    BP2  δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)          seed 001's Σ_k w_kj δ_k σ'(z_j), seed 003's Wᵀ
    BP3  ∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ  (+ λ Wˡ)         seed 001's δ_j a_k, summed over the batch
    BP4  ∂C/∂bˡ = Σ_n δˡ_n                   seed 001's δ_j, summed over the batch

    The batch reduction enters once, as the factor 1/N on δᴸ for ``mean``.
    Nothing in ``params`` or ``cache`` is modified.
    """
    L = spec.depth
    z, a, y = cache.z, cache.a, cache.y
    acts = [None] + [activations.get(name, spec.leaky_slope) for name in spec.activations]
    loss = losses.get(spec.loss)
    scale = 1.0 / a[0].shape[0] if spec.reduction == "mean" else 1.0

    # BP1
    if loss.delta is not None:
        delta = scale * loss.delta(a[L], y)
    else:
        delta = scale * acts[L].backward(z[L], a[L], loss.grad_a(a[L], y))

    grads: Params = {}
    for l in range(L, 0, -1):
        W = params[f"W{l}"]
        grads[f"W{l}"] = a[l - 1].T @ delta + spec.l2 * W  # BP3
        if spec.bias:
            grads[f"b{l}"] = delta.sum(axis=0)  # BP4
        if l > 1:
            delta = acts[l - 1].backward(z[l - 1], a[l - 1], delta @ W.T)  # BP2
    return {name: grads[name] for name in spec.param_shapes()}


def loss_and_grad(spec: NetworkSpec, params: Mapping[str, Any], x: Any, y: Any) -> tuple[float, Params]:
    """C and ∂C/∂θ for every parameter θ, in one forward and one backward pass."""
    params = check_params(spec, params)
    loss, cache = forward(spec, params, x, y)
    return loss, backward(spec, params, cache)


def sgd_step(
    spec: NetworkSpec,
    params: Mapping[str, Any],
    x: Any,
    y: Any,
    lr: float,
    update_biases: bool = True,
) -> tuple[Params, float, Cache]:
    """One step θ ← θ − η ∂C/∂θ, every gradient taken at the old θ; returns new params (inputs untouched), C, cache."""
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    params = check_params(spec, params)
    loss, cache = forward(spec, params, x, y)
    grads = backward(spec, params, cache)
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
) -> Params:
    """Run ``steps`` SGD steps on the full batch; call ``on_log(step, C, cache)`` before every ``every``-th update."""
    if steps < 0:
        raise ValueError(f"steps: expected an integer >= 0, got {steps!r}")
    current = {k: np.array(v, copy=True) for k, v in params.items()}
    for step in range(steps):
        current, loss, cache = sgd_step(spec, current, x, y, lr, update_biases)
        if every and on_log is not None and step % every == 0:
            on_log(step, loss, cache)
    return current
