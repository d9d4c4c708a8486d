"""Hypothesis profiles, and the sandbox the tests grade the project's own examples in.

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


# A machine with no sandbox at all (not root, and bubblewrap unable to start) still runs the tests that grade
# the project's own, trusted examples through the command line: they run with --sandbox none there, said in
# the header. The hostile suite never does: it names its modes and skips those that cannot run.
def _no_sandbox_here():
    from grader import sandbox

    try:
        sandbox.select("auto")
    except sandbox.SandboxUnavailable as exc:
        return str(exc)
    return None


_NO_SANDBOX = _no_sandbox_here()
if _NO_SANDBOX and "BPCHECK_SANDBOX" not in os.environ:
    os.environ["BPCHECK_SANDBOX"] = "none"


def pytest_report_header(config):
    if _NO_SANDBOX:
        return [f"bpcheck: no sandbox on this machine ({_NO_SANDBOX.split('. ')[0]}); trusted examples are graded with "
                "--sandbox none and the hostile suite's modes are skipped"]
    return []
