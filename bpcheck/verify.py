"""``bpcheck verify``: the reference against every installed oracle on generated networks.

With the exact oracle installed, every gradient (the reference's and each oracle's) is also measured against
the exact one: its worst error in ulps of the exact value, and as a share of its own derived bound
(2·D·ε·(|exact| + S), plus the oracle's own error estimate for finite differences).  Over every case that
share must stay ≤ 1: the tolerance is shown to be a bound, not assumed.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from bpcheck import oracles
from bpcheck.oracles import exact
from bpcheck.oracles.strategies import Case, cases
from bpcheck.reference import loss_and_grad


@dataclass
class OracleTally:
    """One oracle's results over the generated cases."""

    name: str
    cases: int = 0
    skipped: int = 0
    max_normwise: float = 0.0
    max_abs: float = 0.0
    worst_ratio: float = 0.0
    failures: list[str] = field(default_factory=list)
    unavailable: Optional[str] = None

    @property
    def agrees(self) -> bool:
        return self.unavailable is None and self.cases > 0 and not self.failures

    def as_dict(self) -> dict:
        return {
            "oracle": self.name,
            "cases": self.cases,
            "skipped": self.skipped,
            "max_normwise_relative_error": self.max_normwise,
            "max_elementwise_error": self.max_abs,
            "worst_error_over_bound": self.worst_ratio,
            "agrees": self.agrees,
            "failures": self.failures,
            "unavailable": self.unavailable,
        }


@dataclass
class ExactTally:
    """One gradient source (``reference`` or an oracle) against the exact gradient over the generated cases.

    ratios: per case, the worst elementwise |error| / bound (the bound as in ``oracles.compare``).
    """

    name: str
    cases: int = 0
    max_ulps: float = 0.0
    ratios: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def worst_ratio(self) -> float:
        return max(self.ratios, default=0.0)

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def within_bound(self) -> bool:
        return self.cases > 0 and not self.failures

    def as_dict(self) -> dict:
        return {
            "source": self.name,
            "cases": self.cases,
            "max_error_ulps": self.max_ulps,
            "worst_error_over_bound": self.worst_ratio,
            "median_error_over_bound": self.median_ratio,
            "within_bound": self.within_bound,
            "failures": self.failures,
        }


def versus_exact(grads: Mapping[str, np.ndarray], error: Optional[Mapping[str, np.ndarray]],
                 truth: Mapping[str, np.ndarray], case: Case, scale: float) -> oracles.Comparison:
    """``grads`` (with its own error estimate ``error``) against the exact ``truth``, under the derived bound."""
    # the exact values are correctly rounded: within half an ulp of the truth, which the bound allows for
    half_ulp = {k: np.spacing(np.abs(t)) / 2 + (0 if error is None else error[k]) for k, t in truth.items()}
    return oracles.compare(grads, truth, oracles.rtol_for(case.spec, case.batch), half_ulp, "exact", scale=scale)


def against_exact(name: str, grads: Mapping[str, np.ndarray], truth: Mapping[str, np.ndarray], case: Case,
                  error: Optional[Mapping[str, np.ndarray]], tally: ExactTally, scale: float) -> None:
    """Add one case to ``tally``: ``grads`` (with its own error estimate ``error``) against the exact ``truth``."""
    result = versus_exact(grads, error, truth, case, scale)
    tally.cases += 1
    tally.max_ulps = max(tally.max_ulps, exact.ulps(grads, truth))
    tally.ratios.append(result.worst_ratio)
    if not result.ok:
        tally.failures.append(f"{name} on {case.describe()}: {result.message()}")


def verify(
    n_cases: int,
    seed: int = 0,
    names: Sequence[str] = tuple(oracles.ORACLES),
    on_case: Optional[Callable[[], None]] = None,
    versus_exact: Optional[dict[str, ExactTally]] = None,
) -> list[OracleTally]:
    """Compare the reference with each oracle in ``names`` on ``n_cases`` networks drawn by the public strategies.

    ``versus_exact``: a dict filled, when the exact oracle is installed, with one ``ExactTally`` for the reference
    and for each oracle of ``names`` (the exact oracle aside).
    """
    tallies = {n: OracleTally(n, unavailable=oracles.unavailable(n)) for n in names}
    use_exact = versus_exact is not None and not exact.unavailable()
    if use_exact:
        for n in ["reference", *(n for n in names if n != "exact" and tallies[n].unavailable is None)]:
            versus_exact[n] = ExactTally(n)
    seen = 0

    @hypothesis_seed(seed)
    @settings(max_examples=n_cases, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=cases())
    def run(case: Case) -> None:
        nonlocal seen
        if seen >= n_cases:
            return
        seen += 1
        _, grads = loss_and_grad(case.spec, case.params, case.x, case.y)
        rtol = oracles.rtol_for(case.spec, case.batch)
        scale = oracles.term_scale(case.spec, case.params, case.x, case.y)
        exact_est = exact.gradients(case.spec, case.params, case.x, case.y) if use_exact else None
        truth = exact_est.grads if exact_est else None
        if use_exact:
            against_exact("reference", grads, truth, case, None, versus_exact["reference"], scale)
        for name, tally in tallies.items():
            if tally.unavailable is not None:
                continue
            if oracles.unavailable(name, case.spec):
                tally.skipped += 1
                continue
            if name == "exact" and exact_est:  # already computed as the truth
                est = exact_est
            else:
                est = oracles.run_oracle(name, case.spec, case.params, case.x, case.y)
            if use_exact and name in versus_exact:
                against_exact(name, est.grads, truth, case, est.error, versus_exact[name], scale)
            result = oracles.compare(grads, est.grads, rtol, est.error, name, scale=scale)
            tally.cases += 1
            tally.max_normwise = max(tally.max_normwise, result.normwise)
            tally.max_abs = max(tally.max_abs, result.max_abs)
            tally.worst_ratio = max(tally.worst_ratio, result.worst_ratio)
            if not result.ok:
                tally.failures.append(f"{case.describe()}: {result.message()}")
        if on_case:
            on_case()

    run()
    return list(tallies.values())
