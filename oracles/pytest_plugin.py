"""pytest plugin (entry point ``pytest11``): the ``gradcheck`` fixture.

    def test_my_backprop(gradcheck):
        gradcheck(my_backward, spec=NetworkSpec((3, 4, 2), ("tanh", "softmax"), "softmax_ce"))

``my_backward(spec, params, x, y) -> {"W1": ..., "b1": ..., ...}`` is checked on Hypothesis-generated
parameters and batches for that spec (or, with ``specs=``, on generated networks too).  A failure is
shrunk to the smallest batch (and network) that shows it and reported with the check's explanation.
"""

from __future__ import annotations

from typing import Callable, Optional

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from reference.spec import NetworkSpec

from .gradcheck import check_backward
from .strategies import Case, cases, network_specs


def run_gradcheck(
    backward: Callable,
    spec: Optional[NetworkSpec] = None,
    specs: Optional[st.SearchStrategy[NetworkSpec]] = None,
    max_examples: int = 50,
    mode: str = "auto",
    frameworks: tuple[str, ...] = (),
) -> None:
    """Run the property "backward agrees with the oracles" over generated cases; raise on the shrunk failure."""
    if spec is not None and specs is not None:
        raise ValueError("gradcheck: give spec= (one network) or specs= (a strategy of networks), not both")
    strategy = cases(specs=st.just(spec) if spec is not None else (specs or network_specs()))

    @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def agrees_with_oracles(case: Case) -> None:
        result = check_backward(backward, case.spec, case.params, case.x, case.y, mode=mode, frameworks=frameworks)
        note(f"network: {case.describe()}")
        if not result.ok:
            raise AssertionError(f"{backward.__name__} is wrong on {case.describe()}:\n{result.message()}")

    agrees_with_oracles()


@pytest.fixture
def gradcheck() -> Callable[..., None]:
    """Call as ``gradcheck(my_backward, spec=...)``; see ``run_gradcheck`` for the options."""
    return run_gradcheck
