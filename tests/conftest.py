"""Hypothesis profiles, the sandbox the tests grade the project's own examples in, and shared long runs.

``default``: what the README's test command runs; keeps the whole suite within a few minutes on 2 cores.
``ci``: the same size, derandomized, loaded when CI is set: a landing is judged on a fixed set of examples
(exploration belongs to the thorough profile, whose finds are kept as ``@example``s).
``thorough``: many more examples per property, for long runs:
    BPCHECK_PROFILE=thorough pytest        (or: pytest --hypothesis-profile=thorough)
``mutation``: the ci examples without shrinking (a failure kills the mutant; its smallest form is not needed),
loaded under mutmut (CONTRIBUTING.md, "Mutation testing").
"""

from __future__ import annotations

import os
import sys

# Under mutmut (it sets MUTANT_UNDER_TEST), torch and jax are kept out: mutmut forks a worker per mutant
# from a process that has run the tests, and a forked process waits forever (0 % CPU) on the threads jax
# started in its parent.  They then report themselves unavailable, and the numpy oracles (central,
# Richardson, complex step) and the exact one check the reference.  Before anything imports them.
MUTATION_RUN = "MUTANT_UNDER_TEST" in os.environ
if MUTATION_RUN:
    sys.modules.update({"torch": None, "jax": None})


def _use_mutmuts_copy_of_the_reference() -> None:
    """mutmut runs the tests from its folder of mutants, where the mutated reference is the top-level package
    ``reference`` (mutmut names mutants after the file's path); the installed bpcheck would import the unmutated
    ``bpcheck.reference``.  So the mutated modules stand in for ``bpcheck.reference.*`` before anything imports them."""
    import importlib
    import pkgutil

    import bpcheck

    mutated = importlib.import_module("reference")
    sys.modules["bpcheck.reference"] = bpcheck.reference = mutated
    for module in pkgutil.iter_modules(mutated.__path__):
        sys.modules[f"bpcheck.reference.{module.name}"] = importlib.import_module(f"reference.{module.name}")


if MUTATION_RUN:
    _use_mutmuts_copy_of_the_reference()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, settings  # noqa: E402

from bpcheck.reference import Backprop, seeds, train  # noqa: E402
from bpcheck.reference.bugs import get as get_bug  # noqa: E402

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
settings.register_profile("default", max_examples=40, **_common)
settings.register_profile("ci", max_examples=40, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.register_profile("mutation", parent=settings.get_profile("ci"), phases=[Phase.explicit, Phase.generate])
settings.load_profile(os.environ.get("BPCHECK_PROFILE")
                      or ("mutation" if MUTATION_RUN else "ci" if os.environ.get("CI") else "default"))


# A machine with no sandbox at all (not root, and bubblewrap unable to start) still runs the tests that grade
# the project's own, trusted examples through the command line: they run with --sandbox none there, said in
# the header. The hostile suite never does: it names its modes and skips those that cannot run.
def _no_sandbox_here():
    from bpcheck.grader import sandbox

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


# -- Long float64 training runs, shared by tests/test_golden.py and tests/test_golden_data.py -------------
# Each is a few seconds of the reference's own training loop; the published figures and the exact
# trajectories are checked against the same runs, so each runs once per session.

@pytest.fixture(scope="session")
def xor_run() -> tuple[list[tuple[int, float]], dict[str, np.ndarray]]:
    """Seed 000's XOR run by ``train`` (η = 1, 60,000 steps): ([(step, mean |y − a| before its update) at steps
    0, 5,000, …, 55,000], the parameters after the last step)."""
    spec, params, x, y = seeds.xor_seed000()
    errors: list[tuple[int, float]] = []
    trained = train(spec, params, x, y, lr=1.0, steps=60000, every=5000,
                    on_log=lambda step, C, cache: errors.append((step, float(np.mean(np.abs(cache.y - cache.a[-1]))))))
    return errors, trained


@pytest.fixture(scope="session")
def mazur_runs() -> dict[str, dict[int, dict[str, np.ndarray]]]:
    """Mazur's network trained with η = 0.5 and fixed biases, by backprop and by the stale-weights algorithm:
    {algorithm: {steps: parameters}} after 1, 9,999 and 10,000 rounds (the post's figures)."""
    spec, params, x, y = seeds.mazur()

    def rounds(start: dict, steps: int, backprop: type[Backprop]) -> dict[str, np.ndarray]:
        return train(spec, start, x, y, lr=0.5, steps=steps, update_biases=False, backprop=backprop)

    runs = {}
    for algorithm, backprop in (("backprop", Backprop), ("stale_weights", get_bug("stale-weights").backprop)):
        many = rounds(params, 9999, backprop)
        runs[algorithm] = {1: rounds(params, 1, backprop), 9999: many, 10000: rounds(many, 1, backprop)}
    return runs
