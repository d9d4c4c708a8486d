"""pytest plugin (entry point ``pytest11``): the ``gradcheck`` fixture, imported only when a test asks for it.

pytest loads every installed plugin at every start, so this module imports nothing but pytest: numpy,
Hypothesis's strategies and bpcheck's oracles load the first time a test requests ``gradcheck``
(``bpcheck.oracles.properties`` holds the fixture's code and its documentation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from bpcheck.oracles.properties import GradCheck


@pytest.fixture
def gradcheck() -> "GradCheck":
    """Call as ``gradcheck(my_backward, spec=...)`` or ``gradcheck.vjp(forward, backward, shapes=..., dims=...)``
    (see ``bpcheck.oracles.properties``)."""
    from bpcheck.oracles.properties import GradCheck

    return GradCheck()
