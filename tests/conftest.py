"""Hypothesis profiles.

``default``: what the README's test command runs; keeps the whole suite within a few minutes on 2 cores.
``thorough``: many more examples per property, for long runs:
    BPCHECK_PROFILE=thorough pytest        (or: pytest --hypothesis-profile=thorough)
"""

import os

from hypothesis import HealthCheck, settings

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("default", max_examples=40, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.register_profile("ci", max_examples=40, derandomize=False, print_blob=True, **_common)
settings.load_profile(os.environ.get("BPCHECK_PROFILE", "default"))
