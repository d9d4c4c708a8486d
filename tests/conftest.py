"""Hypothesis profiles.

``default``: what the README's test command runs; keeps the whole suite within a few minutes on 2 cores.
``ci``: the same size, derandomized, loaded when CI is set: a landing is judged on a fixed set of examples
(exploration belongs to the thorough profile, whose finds are kept as ``@example``s).
``thorough``: many more examples per property, for long runs:
    BPCHECK_PROFILE=thorough pytest        (or: pytest --hypothesis-profile=thorough)
"""

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("default", max_examples=40, **_common)
settings.register_profile("ci", max_examples=40, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.load_profile(os.environ.get("BPCHECK_PROFILE") or ("ci" if os.environ.get("CI") else "default"))
