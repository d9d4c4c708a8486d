"""Cases: a network, its parameters and one batch; targets that fit a loss; how far ReLU units keep from the kink.

Plain numpy, no Hypothesis: the grader builds its probes from these, and a student's pre-check kit runs them with
numpy alone.  ``strategies`` draws cases with Hypothesis and re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bpcheck.reference.spec import NON_ANALYTIC, NetworkSpec

from .finite_diff import RICHARDSON_STEP
from .objective import Objective

#: Distance kept between ReLU pre-activations and the kink: larger than the widest FD
#: perturbation (Richardson's 4h ≈ 3e-3 of a unit-scale parameter) times a downstream gain of 8.
KINK_MARGIN = 32 * RICHARDSON_STEP


@dataclass(frozen=True)
class Case:
    """A network, its parameters and one batch: params W{l} (n_{l-1}, n_l), b{l} (n_l,), x (N, n_0), y."""

    spec: NetworkSpec
    params: dict
    x: np.ndarray
    y: np.ndarray

    @property
    def batch(self) -> int:
        return self.x.shape[0]

    def describe(self) -> str:
        return f"{self.spec.describe()}, batch {self.batch}"


def make_targets(spec: NetworkSpec, rng: np.random.Generator, n: int, labels: bool) -> np.ndarray:
    """Targets that fit the loss: labels or one-hot rows for softmax_ce, [0, 1] values otherwise."""
    k = spec.sizes[-1]
    if spec.loss == "softmax_ce":
        lab = rng.integers(0, k, size=n)
        return lab if labels else np.eye(k)[lab]
    if spec.loss == "bce":
        return rng.random((n, k))
    return rng.uniform(-1, 1, (n, k)) if spec.activations[-1] in ("identity", "tanh", "leaky_relu") else rng.random((n, k))


def kink_distance(case: Case) -> float:
    """The smallest |z| over every relu/leaky_relu layer, in units of the layer's input scale (inf when there is none).

    A step h in Wˡ moves zˡ by h·aˡ⁻¹, so the distance that matters is |zˡ| / max(1, max|aˡ⁻¹|).
    """
    obj = Objective(case.spec, case.params, case.x, case.y)
    gaps = [np.min(np.abs(obj.z[l])) / max(1.0, float(np.max(np.abs(obj.a[l - 1]))))
            for l, a in enumerate(case.spec.activations, start=1) if a in NON_ANALYTIC]
    return float(min(gaps)) if gaps else float("inf")
