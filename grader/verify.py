"""``bpcheck verify``: the reference against every installed oracle on generated networks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

import oracles
from oracles.strategies import Case, cases
from reference import loss_and_grad


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


def verify(
    n_cases: int,
    seed: int = 0,
    names: Sequence[str] = tuple(oracles.ORACLES),
    on_case: Optional[Callable[[], None]] = None,
) -> list[OracleTally]:
    """Compare the reference with each oracle in ``names`` on ``n_cases`` networks drawn by the public strategies."""
    tallies = {n: OracleTally(n, unavailable=oracles.unavailable(n)) for n in names}
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
        for name, tally in tallies.items():
            if tally.unavailable is not None:
                continue
            if oracles.unavailable(name, case.spec):
                tally.skipped += 1
                continue
            est = oracles.run_oracle(name, case.spec, case.params, case.x, case.y)
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
