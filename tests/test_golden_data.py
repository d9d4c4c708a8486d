"""The published golden data: exact values, reproduced by the reference within its derived bound, never changed silently.

Nothing here compares floats bit for bit across machines: the file's values are exact (ball arithmetic,
correctly rounded), and every float64 computation is held to its derived error bound around them.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from bpcheck import oracles
from bpcheck.oracles import exact
from bpcheck.reference import NetworkSpec, forward, loss_and_grad, seeds
from bpcheck.golden import GOLDEN_VERSION, export, text

from .golden import assert_printed

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "docs" / "golden" / "bpcheck-golden.json"
DATA = json.loads(FILE.read_text())
ENTRIES = {e["id"]: e for e in DATA["entries"]}
needs_exact = pytest.mark.skipif(bool(exact.unavailable()), reason=f"exact oracle missing: {exact.unavailable()}")


def _inputs(entry):
    params = {k: np.array(v) for k, v in entry["params"].items()}
    return NetworkSpec.from_dict(entry["spec"]), params, np.array(entry["x"]), np.array(entry["y"])


@needs_exact
def test_published_file_is_what_the_code_exports():
    """Byte for byte: the exact values do not depend on the machine, so neither does the file."""
    assert text() == FILE.read_text(encoding="utf-8"), (
        "regenerate with `bpcheck golden --out docs/golden/bpcheck-golden.json`, bump GOLDEN_VERSION and add a CHANGELOG entry")
    # export() keeps what it built for the next call (bpcheck.golden._BUILT): what a caller does to its copy stays there
    data = export()
    data["entries"][0]["loss"] = None
    data["entries"][0]["grads"].clear()
    assert text() == FILE.read_text(encoding="utf-8")


def test_version_and_changelog_record_this_exact_file():
    assert DATA["version"] == GOLDEN_VERSION
    sha = hashlib.sha256(FILE.read_bytes()).hexdigest()
    entries = re.findall(r"golden (\S+) — sha256 ([0-9a-f]{64})", (ROOT / "CHANGELOG.md").read_text())
    assert (GOLDEN_VERSION, sha) in entries, f"CHANGELOG.md needs 'golden {GOLDEN_VERSION} — sha256 {sha}'"


def _pairs(value, enclosure):
    """(value, [lo, hi]) for every element of nested lists."""
    if isinstance(value, list):
        for v, e in zip(value, enclosure, strict=True):
            yield from _pairs(v, e)
    else:
        yield value, enclosure


def _exact_values(entry):
    yield "loss", entry["loss"], entry["loss_exact"]
    for k in entry["grads"]:
        for v, e in _pairs(entry["grads"][k], entry["grads_exact"][k]):
            yield k, v, e
    figures = [*entry.get("published", {}).values(), *entry.get("printed_errors", [])]
    for f in entry.get("inconsistency", {}).get("figures", {}).values():
        figures += [f["backprop"], f["stale_weights"]]
    for f in figures:
        if "exact" in f:
            yield "figure", f["value"], f["exact"]


@pytest.mark.parametrize("entry", DATA["entries"], ids=lambda e: e["id"])
def test_every_value_is_the_correctly_rounded_enclosure(entry):
    """lo ≤ exact ≤ hi, and lo and hi round to the same float64: so the exact value does too, and it is ``value``."""
    count = 0
    for what, value, (lo, hi) in _exact_values(entry):
        assert Decimal(lo) <= Decimal(hi), (what, lo, hi)
        assert float(lo) == float(hi) == value, f"{entry['id']} {what}: {value!r} is not the rounding of [{lo}, {hi}]"
        count += 1
    assert count >= 1 + sum(np.size(v) for v in entry["grads"].values())


@pytest.mark.parametrize("entry", DATA["entries"], ids=lambda e: e["id"])
def test_reference_is_within_its_derived_bound_of_the_exact_values(entry):
    """|g − exact| ≤ 2·D·ε·(|exact| + S) elementwise (oracles.compare), the loss likewise with its own term scale."""
    spec, params, x, y = _inputs(entry)
    C, grads = loss_and_grad(spec, params, x, y)
    rtol = oracles.rtol_for(spec, x.shape[0])
    result = oracles.compare(grads, {k: np.array(v) for k, v in entry["grads"].items()}, rtol, oracle_name="exact",
                             scale=oracles.term_scale(spec, params, x, y))
    assert result.ok, result.message()
    # C's terms: the per-example losses, whose own terms are at most the output's |z| (log-sum-exp, softplus)
    _, cache = forward(spec, params, x, y)
    weight = 1.0 if spec.reduction == "mean" else x.shape[0]
    assert abs(C - entry["loss"]) <= rtol * (abs(entry["loss"]) + weight * float(np.max(np.abs(cache.z[-1])))), (C, entry["loss"])


@pytest.mark.parametrize("entry", DATA["entries"], ids=lambda e: e["id"])
def test_entry_is_confirmed_by_an_independent_oracle(entry):
    spec, params, x, y = _inputs(entry)
    for name in ("complex_step" if spec.analytic else "central", "torch"):
        if oracles.unavailable(name, spec):
            continue
        result = oracles.check(name, spec, params, x, y, {k: np.array(v) for k, v in entry["grads"].items()})
        assert result.ok, result.message()


def _printed_figures():
    for entry in DATA["entries"]:
        for what, figure in entry.get("published", {}).items():
            yield pytest.param(figure, id=f"{entry['id']}: {what}")


@pytest.mark.parametrize("figure", list(_printed_figures()))
def test_published_digits_match_the_exact_values(figure):
    assert_printed(figure["value"], figure["printed"])


@pytest.mark.parametrize("what", list(ENTRIES["mazur-2-2-2"]["inconsistency"]["figures"]))
def test_mazur_inconsistency_each_late_figure_fits_one_algorithm_only(what):
    """The post's late figures: each printed value is one algorithm's exact value, and not the other's."""
    figure = ENTRIES["mazur-2-2-2"]["inconsistency"]["figures"][what]
    other = {"backprop": "stale_weights", "stale_weights": "backprop"}[figure["matches"]]
    assert_printed(figure[figure["matches"]]["value"], figure["printed"], what)
    half_unit = 0.5 * 10.0 ** Decimal(figure["printed"]).as_tuple().exponent
    assert abs(figure[other]["value"] - float(figure["printed"])) > 100 * half_unit, (what, figure)


def _float64_run_bound(spec: NetworkSpec, steps: int, batch: int, value: float) -> float:
    """How far a float64 run may drift from the exact one: steps · rtol · (|value| + 1).

    Each step's gradient is within rtol = 2·D·ε of exact relative to its terms, and the figures here (E,
    |y − a|, a sigmoid output) are made of terms at most 1 in size.  While the step map does not expand
    errors (gradient descent with a small enough step), per-step errors add up, at most ``steps`` of them.
    """
    return steps * oracles.rtol_for(spec, batch) * (abs(value) + 1)


def test_float64_mazur_runs_follow_the_exact_trajectories(mazur_runs):
    spec, _, x, y = seeds.mazur()
    figures = ENTRIES["mazur-2-2-2"]["inconsistency"]["figures"]
    for algorithm in ("backprop", "stale_weights"):
        run = mazur_runs[algorithm]  # train(η = 0.5, biases fixed) by each algorithm: tests/conftest.py
        a_last = forward(spec, run[10000], x, y)[1].a[2][0]
        for what, got, steps in (("E_total after one round", forward(spec, run[1], x, y)[0], 1),
                                 ("E_total after 9,999 rounds", forward(spec, run[9999], x, y)[0], 9999),
                                 ("out_o1 after 10,000 rounds", a_last[0], 10000),
                                 ("out_o2 after 10,000 rounds", a_last[1], 10000)):
            want = figures[what][algorithm]["value"]
            assert abs(got - want) <= _float64_run_bound(spec, steps, 1, want), (algorithm, what, got, want)


def test_float64_xor_run_follows_the_exact_trajectory(xor_run):
    entry = ENTRIES["seed000-xor"]
    spec = seeds.xor_seed000()[0]
    ours, _ = xor_run  # train(η = 1, every = 5,000): tests/conftest.py
    exact_errors = [(e["step"], e["value"]) for e in entry["printed_errors"]]
    assert [s for s, _ in ours] == [s for s, _ in exact_errors] == list(range(0, 60000, 5000))
    for (step, got), (_, want) in zip(ours, exact_errors):
        assert abs(got - want) <= _float64_run_bound(spec, step, 5, want), (step, got, want)


@pytest.mark.skipif(bool(exact.unavailable()), reason=str(exact.unavailable()))
def test_ex4_debug_inputs_are_correctly_rounded_sines():
    """The golden ex4 inputs must not move with numpy's own vectorised sin (it changed between versions by an ulp)."""
    import flint

    from bpcheck.reference.seeds import debug_matrix

    flint.ctx.prec = 200
    sines = [float(flint.arb(k).sin()) for k in range(1, 5 * 4 + 1)]  # arb's enclosure, far narrower than an ulp
    # / 10 is IEEE division: the same bits everywhere
    np.testing.assert_array_equal(debug_matrix(5, 4), np.array(sines).reshape((5, 4), order="F") / 10)
