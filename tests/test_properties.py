"""The reference agrees with every oracle on generated networks, and keeps the invariants of a gradient."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, note
from hypothesis import strategies as st

from bpcheck import oracles
from bpcheck.oracles.strategies import Case, cases, network_specs
from bpcheck.reference import NetworkSpec, forward, loss_and_grad

GOLDEN = Path(__file__).resolve().parents[1] / "docs" / "golden" / "bpcheck-golden.json"


def _needs(name: str, case: Case | None = None) -> None:
    reason = oracles.unavailable(name, case.spec if case else None)
    if reason:
        pytest.skip(reason)


def _agrees(case: Case, oracle: str) -> oracles.Comparison:
    _, grads = loss_and_grad(case.spec, case.params, case.x, case.y)
    result = oracles.check(oracle, case.spec, case.params, case.x, case.y, grads)
    note(case.describe())
    note(result.message())
    return result


@pytest.mark.parametrize("oracle", ["central", "richardson", "torch", "jax"])
@given(case=cases())
def test_reference_matches_oracle(oracle: str, case: Case) -> None:
    _needs(oracle)
    assert _agrees(case, oracle).ok


# Found by the thorough profile: a confident correct softmax class (a_y ≈ 1 − 2e-3) makes δ = a − y
# small, but its rounding error is that of its terms a and y, ~1 — the absolute floor must use those.
CONFIDENT_SOFTMAX = Case(
    NetworkSpec(sizes=(6, 1, 5), activations=("identity", "softmax"), loss="softmax_ce", bias=False),
    {"W1": np.array([[-0.79101752], [-3.89916217], [-0.40066567], [1.88265681], [1.4303217], [4.91512512]]),
     "W2": np.array([[-0.32468478, -0.68145271, -2.34953106, 0.55418477, 0.01809416]])},
    np.array([[-0.28827609, 0.73236153, 0.0446107, 0.64589702, 0.19046887, -0.74641968]]),
    np.array([[0.0, 0.0, 1.0, 0.0, 0.0]]),
)


@example(case=CONFIDENT_SOFTMAX)
@given(case=cases(specs=network_specs(analytic=True)))
def test_reference_matches_complex_step(case: Case) -> None:
    assert _agrees(case, "complex_step").ok


@given(case=cases())
def test_oracles_agree_with_each_other(case: Case) -> None:
    names = [n for n in oracles.available(case.spec)]
    estimates = [oracles.run_oracle(n, case.spec, case.params, case.x, case.y) for n in names]
    result = oracles.consensus(estimates, case.spec, case.batch, oracles.term_scale(case.spec, case.params, case.x, case.y))
    for a, b, c in result.disagreements:
        note(f"{a} vs {b}: {c.message()}")
    assert result.ok


def _loss_values_agree(case: Case, names) -> None:
    C, _ = forward(case.spec, case.params, case.x, case.y)
    rtol = oracles.rtol_for(case.spec, case.batch)
    for name in names:
        if name in oracles.ORACLES and oracles.unavailable(name):
            continue
        other = oracles.LOSS_VALUES[name](case.spec, case.params, case.x, case.y)
        assert abs(C - other) <= rtol * max(abs(other), 1.0), (name, C, other)


#: jax's loss value runs eagerly, op by op, and XLA compiles every operation once per array shape: on
#: generated networks, whose shapes rarely repeat, that is ~0.5 s a case.  jax is checked on the golden
#: networks instead (below), whose shapes repeat; the other sources on generated ones.
@given(case=cases())
def test_loss_values_agree(case: Case) -> None:
    _loss_values_agree(case, [name for name in oracles.LOSS_VALUES if name != "jax"])


def _golden_cases():
    """Every network of the golden data (every output/loss pairing among them), as it is and with logits ~1e3,
    with the loss sources to compare: those the entry is not marked ill-conditioned for (``ill_conditioned_for``)."""
    for entry in json.loads(GOLDEN.read_text())["entries"]:
        marks = entry.get("ill_conditioned_for", {})
        if "float64" in marks or "reference" in marks:
            continue  # the reference's own float64 loss makes no claim there
        spec = NetworkSpec.from_dict(entry["spec"])
        params = {k: np.array(v) for k, v in entry["params"].items()}
        huge = {k: 1000.0 * v if k == f"W{spec.depth}" else v for k, v in params.items()}
        names = [n for n in oracles.LOSS_VALUES if n not in marks]
        for tag, p in (("", params), ("-huge", huge)):
            yield pytest.param(Case(spec, p, np.array(entry["x"]), np.array(entry["y"])), names, id=entry["id"] + tag)


@pytest.mark.parametrize("case, names", list(_golden_cases()))
def test_loss_values_agree_on_the_golden_networks(case: Case, names: list) -> None:
    _loss_values_agree(case, names)


@given(case=cases(min_batch=2), data=st.data())
def test_gradients_invariant_to_batch_order(case: Case, data: st.DataObject) -> None:
    perm = data.draw(st.permutations(range(case.batch)))
    _, g = loss_and_grad(case.spec, case.params, case.x, case.y)
    _, gp = loss_and_grad(case.spec, case.params, case.x[perm], case.y[perm])
    rtol = oracles.rtol_for(case.spec, case.batch)
    assert oracles.compare(gp, g, rtol, scale=oracles.term_scale(case.spec, case.params, case.x, case.y)).ok


@given(case=cases())
def test_mean_reduction_is_sum_divided_by_batch(case: Case) -> None:
    spec = case.spec
    mean_spec = type(spec)(**{**spec.to_dict(), "reduction": "mean", "l2": 0.0})
    sum_spec = type(spec)(**{**spec.to_dict(), "reduction": "sum", "l2": 0.0})
    _, gm = loss_and_grad(mean_spec, case.params, case.x, case.y)
    _, gs = loss_and_grad(sum_spec, case.params, case.x, case.y)
    rtol = oracles.rtol_for(spec, case.batch)
    scale = oracles.term_scale(mean_spec, case.params, case.x, case.y)
    assert oracles.compare(gm, {k: v / case.batch for k, v in gs.items()}, rtol, scale=scale).ok


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@given(case=cases())
def test_gradients_have_parameter_shapes_and_dtype(dtype, case: Case) -> None:
    params = {k: v.astype(dtype) for k, v in case.params.items()}
    C, grads = loss_and_grad(case.spec, params, case.x, case.y)
    assert list(grads) == list(case.spec.param_shapes())
    for name, g in grads.items():
        assert g.shape == params[name].shape, name
        assert g.dtype == np.dtype(dtype), (name, g.dtype)
    if dtype is np.float32:
        assert oracles.check("central", case.spec, params, case.x, case.y, grads, np.dtype(np.float32)).ok
