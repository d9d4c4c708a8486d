"""PyTorch autograd as an oracle: the network rebuilt from its description in torch float64.

Imports nothing of the reference's math: only the plain ``NetworkSpec`` and its input checks.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np

from bpcheck.reference.spec import NetworkSpec, check_batch, check_params

from .compare import Estimate

#: PyTorch's own index of CPU-only wheels (on PyPI the Linux torch wheels are CUDA builds).
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def unavailable() -> Optional[str]:
    """None when torch imports; otherwise why not, and how to install it."""
    try:
        import torch  # noqa: F401
    except Exception as exc:  # ImportError, or a broken install raising anything else
        return (f"torch is not installed or does not import ({type(exc).__name__}: {exc}); install its CPU build with: "
                f"pip install torch --index-url {CPU_INDEX} (any torch >= 2.0; a plain 'pip install torch' on Linux "
                "is a CUDA build of several GB)")
    return None


def _objective(spec: NetworkSpec, params: dict, x, y):
    import torch
    import torch.nn.functional as F

    a = x
    z = x
    for l, name in enumerate(spec.activations, start=1):
        z = a @ params[f"W{l}"]
        if spec.bias:
            z = z + params[f"b{l}"]
        if name == "identity":
            a = z
        elif name == "sigmoid":
            a = torch.sigmoid(z)
        elif name == "tanh":
            a = torch.tanh(z)
        elif name == "relu":
            a = torch.relu(z)
        elif name == "leaky_relu":
            a = F.leaky_relu(z, spec.leaky_slope)
        elif name == "softmax":
            a = torch.softmax(z, dim=1)
        else:
            raise ValueError(f"activation: unknown name {name!r}")
    if spec.loss == "half_sse":
        per = 0.5 * ((a - y) ** 2).sum(dim=1)
    elif spec.loss == "mse":
        per = F.mse_loss(a, y, reduction="none").mean(dim=1)
    elif spec.loss == "bce":
        per = F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(dim=1)
    elif spec.loss == "softmax_ce":
        per = -(y * F.log_softmax(z, dim=1)).sum(dim=1)
    else:
        raise ValueError(f"loss: unknown name {spec.loss!r}")
    data = per.mean() if spec.reduction == "mean" else per.sum()
    reg = sum((params[f"W{l}"] ** 2).sum() for l in range(1, spec.depth + 1))
    return data + 0.5 * spec.l2 * reg


def _inputs(spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y, requires_grad: bool):
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    import torch

    checked = check_params(spec, params)
    xs, ys = check_batch(spec, x, y, np.dtype(np.float64))
    tp = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=requires_grad) for k, v in checked.items()}
    return tp, torch.from_numpy(np.array(xs)), torch.from_numpy(np.array(ys))


def gradients(spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y) -> Estimate:
    """∂C/∂θ by torch autograd, in float64 whatever the parameters' dtype."""
    tp, xs, ys = _inputs(spec, params, x, y, requires_grad=True)
    import torch

    C = _objective(spec, tp, xs, ys)
    names = list(tp)
    grads = torch.autograd.grad(C, [tp[k] for k in names])
    out = {k: g.detach().numpy().astype(np.float64) for k, g in zip(names, grads)}
    return Estimate("torch", out, {k: np.zeros_like(v) for k, v in out.items()})


def loss_value(spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y) -> float:
    """C(θ) in torch float64."""
    return float(_objective(spec, *_inputs(spec, params, x, y, requires_grad=False)))
