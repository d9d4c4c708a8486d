"""Independent sources of truth for the reference's gradients.

    from bpcheck.oracles import run_oracle, available
    estimate = run_oracle("jax", spec, params, x, y)   # estimate.grads["W1"], estimate.error["W1"]

Families: finite differences (``central``, ``richardson``, ``complex_step``), PyTorch
autograd (``torch``) and JAX ``grad`` (``jax``), all in float64, and the exact gradient
(``exact``: ball arithmetic, correctly rounded).  None of them imports the reference's math;
they share only the plain ``NetworkSpec``.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

import numpy as np

from bpcheck.reference.spec import NetworkSpec

from . import exact, finite_diff, jax_oracle, torch_oracle
from .compare import Comparison, Consensus, Estimate, compare, consensus, op_depth, rtol_for
from .finite_diff import ComplexStepNotValid

ORACLES: dict[str, Callable[..., Estimate]] = {
    "central": finite_diff.central,
    "richardson": finite_diff.richardson,
    "complex_step": finite_diff.complex_step,
    "torch": torch_oracle.gradients,
    "jax": jax_oracle.gradients,
    "exact": exact.gradients,
}

LOSS_VALUES: dict[str, Callable[..., float]] = {
    "numpy": finite_diff.loss_value,
    "torch": torch_oracle.loss_value,
    "jax": jax_oracle.loss_value,
    "exact": exact.loss_value,
}

_MISSING: dict[str, Callable[[], Optional[str]]] = {
    "torch": torch_oracle.unavailable,
    "jax": jax_oracle.unavailable,
    "exact": exact.unavailable,
}


def unavailable(name: str, spec: Optional[NetworkSpec] = None) -> Optional[str]:
    """None when oracle ``name`` can check ``spec``; otherwise the reason it cannot."""
    if name not in ORACLES:
        raise ValueError(f"oracle: unknown name {name!r}; expected one of {list(ORACLES)}")
    if name in _MISSING:
        return _MISSING[name]()
    if name == "complex_step" and spec is not None and not spec.analytic:
        return "complex step needs an analytic network (relu / leaky_relu are not)"
    return None


def available(spec: Optional[NetworkSpec] = None) -> list[str]:
    """The oracles that can run here (and, given ``spec``, that are valid for it)."""
    return [name for name in ORACLES if unavailable(name, spec) is None]


def run_oracle(name: str, spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y) -> Estimate:
    """The gradient estimate of oracle ``name``; RuntimeError / ComplexStepNotValid with the reason when it cannot run."""
    if name not in ORACLES:
        raise ValueError(f"oracle: unknown name {name!r}; expected one of {list(ORACLES)}")
    return ORACLES[name](spec, params, x, y)


def term_scale(spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y) -> dict[str, np.ndarray]:
    """S_k per gradient element, shaped like the gradients: the comparison's absolute floor (docs/tolerance.md).

    A magnitude pass through the forward and backward computations (``oracles.magnitudes``): the terms each
    element is summed from, forward cancellation included.  ``compare(..., scale=term_scale(...))`` uses it as it is.
    """
    from .objective import Objective

    return Objective(spec, {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, x, y).term_scale()


def check(
    name: str, spec: NetworkSpec, params: Mapping[str, np.ndarray], x, y, candidate: Mapping[str, object],
    dtype: np.dtype = np.dtype(np.float64),
) -> Comparison:
    """``candidate`` against oracle ``name`` on one case, with the derived tolerance for ``dtype``."""
    est = run_oracle(name, spec, params, x, y)
    rtol = rtol_for(spec, np.asarray(x).shape[0], np.dtype(dtype))
    return compare(candidate, est.grads, rtol, est.error, name, scale=term_scale(spec, params, x, y))


__all__ = [
    "check",
    "term_scale",
    "ORACLES",
    "LOSS_VALUES",
    "Comparison",
    "ComplexStepNotValid",
    "Consensus",
    "Estimate",
    "available",
    "compare",
    "consensus",
    "op_depth",
    "rtol_for",
    "run_oracle",
    "unavailable",
]
