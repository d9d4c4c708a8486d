"""The kill matrix: does the property suite, driven by each oracle family, catch each catalog bug?

For every (bug, oracle) pair Hypothesis searches the public ``cases()`` strategy, the same one
the property tests draw from, for a network on which the bug's gradients disagree with the
oracle (or raise, or change the caller's arrays), then shrinks it to the smallest such network.
Nothing is hand-picked: a bug that needs square layers, batch > 1, saturated units, λ > 0 or
large logits has to be found by the generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from bpcheck import oracles
from bpcheck.grader.probes import Outcome, run_candidate
from bpcheck.oracles.strategies import Case, cases, network_specs
from bpcheck.reference import loss_and_grad
from bpcheck.reference.bugs import BUGS, Bug

#: The four oracle families of the matrix's columns.
FAMILIES = ("central", "complex_step", "torch", "jax")
#: Learning rates for the training-step probe (the stale-weights bug only shows inside a step).
LEARNING_RATES = (0.1, 0.5, 2.0)


def disagreement(outcome: Outcome, oracle: str, case: Case) -> Optional[str]:
    """Why ``outcome`` fails against ``oracle`` on ``case``, or None when it passes."""
    if outcome.error:
        return f"raised {outcome.error}"
    if outcome.mutated:
        return f"modified its inputs {outcome.mutated}"
    try:
        result = oracles.check(oracle, case.spec, case.params, case.x, case.y, outcome.grads)
    except ValueError as exc:  # wrong shape or missing array
        return str(exc)
    return None if result.ok else result.message()


def shows(outcome: Outcome, case: Case) -> bool:
    """Whether ``outcome`` differs from the reference's on ``case`` at all: a case where the bug changes nothing
    cannot reveal it, and an oracle flagging it there flags its own error (a 1-unit softmax's zero gradient
    read by central differences as ~1e-12), not the bug."""
    if outcome.error or outcome.mutated:
        return True
    right = loss_and_grad(case.spec, case.params, case.x, case.y)[1]
    rtol = oracles.rtol_for(case.spec, case.batch)
    return set(outcome.grads) != set(right) or any(
        np.shape(outcome.grads[k]) != right[k].shape or not np.allclose(outcome.grads[k], right[k], rtol=rtol, atol=0)
        for k in right)


def kill_strategy(oracle: str) -> st.SearchStrategy[tuple[Case, float]]:
    """The property suite's cases (analytic ones only for complex step) with a learning rate."""
    specs = network_specs(analytic=True) if oracle == "complex_step" else network_specs()
    return st.tuples(cases(specs=specs), st.sampled_from(LEARNING_RATES))


def _smallness(case: Case) -> str:
    return f"{case.spec.describe()}, batch {case.batch}"


@dataclass
class Cell:
    """One cell of the matrix."""

    bug: str
    oracle: str
    detected: Optional[bool]  # None: not applicable or oracle unavailable
    smallest: Optional[str] = None
    why: Optional[str] = None
    case: Optional[Case] = None
    lr: Optional[float] = None

    def as_dict(self) -> dict[str, Any]:
        return {"bug": self.bug, "oracle": self.oracle, "detected": self.detected, "smallest": self.smallest, "why": self.why}


#: Bugs that live only in relu/leaky_relu code: complex step cannot run on such networks.
KINK_ONLY = frozenset({"relu-mask-a-ge-0", "relu-deriv-is-a"})


def kill(bug: Bug, oracle: str, max_examples: int = 2000) -> Cell:
    """Search for, and shrink, the smallest generated case on which ``oracle`` catches ``bug``."""
    reason = oracles.unavailable(oracle)
    if reason:
        return Cell(bug.id, oracle, None, why=reason)
    if oracle == "complex_step" and bug.id in KINK_ONLY:
        return Cell(bug.id, oracle, None, why="needs a relu network, where complex step is not valid")

    def caught(example: tuple[Case, float]) -> bool:
        case, lr = example
        outcome = run_candidate(bug.gradients, case, lr)
        return shows(outcome, case) and disagreement(outcome, oracle, case) is not None

    config = settings(max_examples=max_examples, database=None, derandomize=True, deadline=None,
                      suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
    try:
        case, lr = find(kill_strategy(oracle), caught, settings=config)
    except (NoSuchExample, Unsatisfiable):
        return Cell(bug.id, oracle, False, why=f"not caught in {max_examples} generated cases")
    why = disagreement(run_candidate(bug.gradients, case, lr), oracle, case)
    return Cell(bug.id, oracle, True, smallest=_smallness(case), why=why, case=case, lr=lr)


def matrix(bugs: tuple[Bug, ...] = BUGS, families: tuple[str, ...] = FAMILIES,
           on_cell: Optional[Callable[[Cell], None]] = None) -> list[Cell]:
    cells = []
    for bug in bugs:
        for oracle in families:
            cell = kill(bug, oracle)
            cells.append(cell)
            if on_cell:
                on_cell(cell)
    return cells
