"""JAX ``grad`` as an oracle, with 64-bit floats enabled.

Without ``jax_enable_x64`` JAX silently turns float64 arrays into float32; this module
enables it before any array is made and checks the dtype of what comes back.
Imports nothing of the reference's math: only the plain ``NetworkSpec`` and its input checks.
"""

from __future__ import annotations

import functools
from typing import Mapping, Optional

import numpy as np

from bpcheck.reference.spec import NetworkSpec, check_batch, check_params

from .compare import Estimate


def unavailable() -> Optional[str]:
    """None when jax imports; otherwise why not, and how to install it."""
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
    except Exception as exc:
        return f"jax is not installed or does not import ({type(exc).__name__}: {exc}); install it with: pip install 'bpcheck[jax]'"
    return None


def _objective(spec: NetworkSpec, params: dict, x, y):
    import jax
    import jax.numpy as jnp

    a = x
    z = x
    for l, name in enumerate(spec.activations, start=1):
        z = a @ params[f"W{l}"]
        if spec.bias:
            z = z + params[f"b{l}"]
        if name == "identity":
            a = z
        elif name == "sigmoid":
            a = jax.nn.sigmoid(z)
        elif name == "tanh":
            a = jnp.tanh(z)
        elif name == "relu":
            a = jax.nn.relu(z)
        elif name == "leaky_relu":
            a = jnp.where(z > 0, z, spec.leaky_slope * z)
        elif name == "softmax":
            a = jax.nn.softmax(z, axis=1)
        else:
            raise ValueError(f"activation: unknown name {name!r}")
    if spec.loss == "half_sse":
        per = 0.5 * jnp.sum((a - y) ** 2, axis=1)
    elif spec.loss == "mse":
        per = jnp.mean((a - y) ** 2, axis=1)
    elif spec.loss == "bce":
        per = jnp.sum(y * jax.nn.softplus(-z) + (1 - y) * jax.nn.softplus(z), axis=1)
    elif spec.loss == "softmax_ce":
        per = -jnp.sum(y * jax.nn.log_softmax(z, axis=1), axis=1)
    else:
        raise ValueError(f"loss: unknown name {spec.loss!r}")
    data = jnp.mean(per) if spec.reduction == "mean" else jnp.sum(per)
    reg = sum(jnp.sum(params[f"W{l}"] ** 2) for l in range(1, spec.depth + 1))
    return data + 0.5 * spec.l2 * reg


def _inputs(spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y):
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    import jax.numpy as jnp

    checked = check_params(spec, params)
    xs, ys = check_batch(spec, x, y, np.dtype(np.float64))
    jp = {k: jnp.asarray(np.asarray(v, dtype=np.float64)) for k, v in checked.items()}
    if jp["W1"].dtype != jnp.float64:
        raise RuntimeError(f"jax computed in {jp['W1'].dtype}, not float64: jax_enable_x64 did not take effect")
    return jp, jnp.asarray(xs), jnp.asarray(ys)


@functools.lru_cache(maxsize=256)
def _compiled_grad(spec: NetworkSpec):
    """jit(grad(C)) for one spec: one XLA compile per array shape instead of one per primitive."""
    import jax

    return jax.jit(jax.grad(lambda p, x, y: _objective(spec, p, x, y)))


def gradients(spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y) -> Estimate:
    """∂C/∂θ by ``jax.grad``, in float64."""
    jp, xs, ys = _inputs(spec, params, x, y)
    grads = _compiled_grad(spec)(jp, xs, ys)
    out = {}
    for k in jp:
        if grads[k].dtype != np.float64:
            raise RuntimeError(f"jax returned {k} in {grads[k].dtype}, not float64")
        out[k] = np.array(grads[k], dtype=np.float64)
    return Estimate("jax", out, {k: np.zeros_like(v) for k, v in out.items()})


def loss_value(spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y) -> float:
    jp, xs, ys = _inputs(spec, params, x, y)
    return float(_objective(spec, jp, xs, ys))
