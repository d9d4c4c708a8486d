"""The oracles themselves: accuracy, refusal where invalid, float64, independence, clear reports."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import numpy as np
import pytest

from bpcheck import oracles
from bpcheck.oracles import finite_diff, jax_oracle, torch_oracle
from bpcheck.reference import NetworkSpec, init_params, loss_and_grad, seeds

ROOT = Path(__file__).resolve().parents[1]
EPS = np.finfo(np.float64).eps


def _case():
    spec = NetworkSpec(sizes=(3, 4, 2), activations=("tanh", "softmax"), loss="softmax_ce", l2=0.1)
    rng = np.random.default_rng(7)
    params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in init_params(spec, 1).items()}
    return spec, params, rng.standard_normal((4, 3)), np.array([0, 1, 1, 0])


def test_oracles_import_no_reference_math():
    """Only the plain description (reference.spec) may cross from reference/ into oracles/."""
    for path in sorted((ROOT / "oracles").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and "reference" in node.module.split("."):
                assert node.module == "bpcheck.reference.spec", f"{path.name} imports {node.module}"
            if isinstance(node, ast.ImportFrom) and node.module == "bpcheck":
                assert "reference" not in {a.name for a in node.names}, f"{path.name} imports bpcheck.reference"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert "reference" not in alias.name.split("."), f"{path.name} imports {alias.name}"


@pytest.mark.parametrize("method, bound", [("central", 1e-8), ("richardson", 1e-10), ("complex_step", 4 * EPS)])
def test_finite_differences_reach_their_documented_accuracy(method, bound):
    """Against the exact gradient of the Mazur network (exact up to float64 rounding: the reference agrees with torch and jax to ~1e-16)."""
    spec, params, x, y = seeds.mazur()
    exact = oracles.run_oracle("torch", spec, params, x, y).grads if not oracles.unavailable("torch") else loss_and_grad(spec, params, x, y)[1]
    est = oracles.run_oracle(method, spec, params, x, y)
    for k in exact:
        err = np.linalg.norm(est.grads[k] - exact[k]) / np.linalg.norm(exact[k])
        assert err <= bound, (k, err)
        # the oracle's own error bound covers its actual error
        assert np.all(np.abs(est.grads[k] - exact[k]) <= est.error[k] + 16 * EPS * np.abs(exact[k]).max())


def test_complex_step_refuses_relu():
    spec = NetworkSpec(sizes=(2, 3, 1), activations=("relu", "sigmoid"), loss="half_sse")
    with pytest.raises(oracles.ComplexStepNotValid, match="relu"):
        finite_diff.complex_step(spec, init_params(spec), np.ones((1, 2)), np.ones((1, 1)))
    assert "analytic" in oracles.unavailable("complex_step", spec)
    assert "complex_step" not in oracles.available(spec)


@pytest.mark.parametrize("oracle", ["central", "richardson", "complex_step", "torch", "jax"])
def test_each_oracle_flags_one_element_off_by_a_millionth(oracle):
    if oracles.unavailable(oracle):
        pytest.skip(oracles.unavailable(oracle))
    spec, params, x, y = _case()
    _, g = loss_and_grad(spec, params, x, y)
    est = oracles.run_oracle(oracle, spec, params, x, y)
    rtol = oracles.rtol_for(spec, 4)
    assert oracles.compare(g, est.grads, rtol, est.error, oracle).ok
    bad = {k: v.copy() for k, v in g.items()}
    bad["W1"][2, 1] += 1e-6 * max(np.abs(v).max() for v in g.values())
    result = oracles.compare(bad, est.grads, rtol, est.error, oracle)
    assert not result.ok
    assert [a.name for a in result.failures()] == ["W1"]
    assert result.failures()[0].worst == (2, 1)
    assert "W1[2, 1]" in result.message()


def test_jax_computes_in_float64():
    if oracles.unavailable("jax"):
        pytest.skip(oracles.unavailable("jax"))
    spec, params, x, y = seeds.ex4_debug(0.0)
    # float32 would get at most ~7 of these 16 digits
    assert abs(jax_oracle.loss_value(spec, params, x, y) - 2.100950569902465) <= 4 * EPS * 2.1
    assert all(v.dtype == np.float64 for v in jax_oracle.gradients(spec, params, x, y).grads.values())


def test_missing_torch_is_reported_not_raised(monkeypatch):
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    reason = torch_oracle.unavailable()
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in reason  # the CPU build, not PyPI's CUDA one
    assert "torch" not in oracles.available()
    spec, params, x, y = _case()
    with pytest.raises(RuntimeError, match=r"torch is not installed"):
        oracles.run_oracle("torch", spec, params, x, y)


def test_consensus_catches_an_oracle_that_disagrees():
    spec, params, x, y = _case()
    a = oracles.run_oracle("central", spec, params, x, y)
    b = oracles.run_oracle("complex_step", spec, params, x, y)
    assert oracles.consensus([a, b], spec, 4).ok
    b.grads["b2"] = -b.grads["b2"]
    result = oracles.consensus([a, b], spec, 4)
    assert not result.ok and result.disagreements[0][:2] == ("central", "complex_step")


def test_candidate_with_wrong_shape_is_named():
    spec, params, x, y = _case()
    est = oracles.run_oracle("complex_step", spec, params, x, y)
    bad = {k: v for k, v in est.grads.items()}
    bad["W2"] = bad["W2"].T
    with pytest.raises(ValueError, match=r"W2: expected a gradient of shape \(4, 2\), got \(2, 4\)"):
        oracles.compare(bad, est.grads, 1e-12)
