"""The exact oracle: its rounding, its derivatives, its conventions at the kink, and every other source held to its bound."""

from __future__ import annotations

import builtins

import numpy as np
import pytest
from hypothesis import given, note

from bpcheck import oracles
from bpcheck.verify import verify, versus_exact
from bpcheck.oracles import exact
from bpcheck.oracles.strategies import Case, cases, network_specs
from bpcheck.reference import NetworkSpec, loss_and_grad
from bpcheck.reference.spec import ACTIVATIONS, LOSS_REQUIRES_OUTPUT, LOSSES

if exact.unavailable():
    pytest.skip(exact.unavailable(), allow_module_level=True)

from flint import arb, ctx  # noqa: E402  (after the skip: python-flint is the optional extra)

#: The sources checked against the exact gradient, each with its own stated bound (oracles.compare).
SOURCES = ("reference", "central", "richardson", "complex_step", "torch", "jax")
#: How loose a bound may be on the median case: measured error / bound ≥ 1 / SHARPNESS.  The bound 2·D·ε is a
#: worst case (every rounding the same sign); typical errors grow like √D·ε, so on these networks (D ≈ 30–60)
#: the median case measured ~1e-3 for every source (`bpcheck verify`); a bound 10⁵ times too loose would fail.
SHARPNESS = 1e4


def test_rounding_is_to_nearest_with_ties_to_even():
    with ctx.workprec(200):
        assert exact.rounded(arb(1) / 3) == 1 / 3
        assert exact.rounded(arb(1) / 10) == 0.1
        assert exact.rounded(1 + arb(2) ** -53) == 1.0  # the midpoint of 1 and 1 + 2⁻⁵²: to the even one
        assert exact.rounded(1 + 3 * arb(2) ** -53) == 1 + 2 * 2.0**-52
        assert exact.rounded(1 + arb(2) ** -53 + arb(2) ** -150) == 1 + 2.0**-52  # just past the midpoint
        with pytest.raises(exact.Imprecise):
            exact.rounded(arb(1, 2.0**-40))  # [1 ± 2⁻⁴⁰] spans many float64 values
        near_tie = 1 + arb(2) ** -53 + (-arb(10) ** 5).exp()  # a midpoint plus e^−10⁵: 200 bits cannot split it
        with pytest.raises(exact.Imprecise):
            exact.rounded(near_tie)
        assert exact._nearest(near_tie, faithful=True) in ((1.0, False), (1 + 2.0**-52, False))


def test_enclosures_are_consecutive_decimals_around_the_exact_value():
    with ctx.workprec(200):
        assert exact.enclosure(arb(1) / 3) == ("3.33333333333333333333e-1", "3.33333333333333333334e-1")
        assert exact.enclosure(-arb(1) / 3) == ("-3.33333333333333333334e-1", "-3.33333333333333333333e-1")
        assert exact.enclosure(arb(0)) == ("0", "0")
        assert exact.enclosure(arb(2) ** -1100) == ("7.36215182902286267543e-332", "7.36215182902286267544e-332")  # below float64's range


def test_precision_is_raised_until_every_value_resolves():
    # 1 − σ(40) ≈ 4e-18 cancels ~58 bits: resolving it to float64 needs more than the first 64 bits
    result, bits = exact.solve(lambda: exact.rounded(1 - 1 / (1 + (-arb(40)).exp())), start=64)
    assert bits == 128
    assert result == pytest.approx(4.248354255291589e-18, rel=1e-15)


def _dq(f, z, h):
    """A central difference quotient in ball arithmetic: exact up to h² ~ 2⁻²⁰⁰."""
    return (f(z + h) - f(z - h)) / (2 * h)


@pytest.mark.parametrize("name", [a for a in ACTIVATIONS if a != "softmax"])
def test_each_activation_derivative_is_its_functions_derivative(name):
    act = exact.activation(name, 0.1)
    with ctx.workprec(600):
        h = arb(2) ** -200
        for t in (-3.5, -0.25, 0.75, 6.0):
            z = np.array([[arb(t)]], dtype=object)
            got = act.backward(z, act.f(z), np.array([[arb(1)]], dtype=object))[0, 0]
            want = _dq(lambda u: act.f(np.array([[u]], dtype=object))[0, 0], arb(t), h)
            assert abs(got - want) < arb(2) ** -150, (name, t, got, want)


@pytest.mark.parametrize("output, loss", [(a, l) for a in ACTIVATIONS for l in LOSSES if LOSS_REQUIRES_OUTPUT.get(l, a) == a])
def test_each_loss_gradient_through_its_output_is_the_derivative_of_the_loss(output, loss):
    """∂ℓ/∂z_j = backward(z, a, ∂ℓ/∂a)_j against a difference quotient of ℓ(z, σ(z), y) in z_j."""
    act, fn = exact.activation(output, 0.1), exact.LOSSES[loss]
    with ctx.workprec(600):
        h = arb(2) ** -200
        z = np.array([[arb(0.3), arb(-1.7), arb(2.2)]], dtype=object)
        y = np.array([[arb(0), arb(1), arb(0)]], dtype=object) if loss in ("bce", "softmax_ce") else \
            np.array([[arb(0.25), arb(-0.5), arb(0.75)]], dtype=object)
        a = act.f(z)
        delta = act.backward(z, a, fn.grad_a(z, a, y))[0]

        def ell(j, u):
            zz = z.copy()
            zz[0, j] = u
            return fn.value(zz, act.f(zz), y)[0]

        for j in range(3):
            want = _dq(lambda u: ell(j, u), z[0, j], h)
            assert abs(delta[j] - want) < arb(2) ** -150, (output, loss, j, delta[j], want)


def _kink_case(activation: str) -> tuple[NetworkSpec, dict, np.ndarray, np.ndarray]:
    """A 2-3-1 network whose hidden unit 1 has z exactly 0 (0.5·1 − 0.5·1 + 0), the others ±0.5."""
    spec = NetworkSpec((2, 3, 1), (activation, "identity"), "half_sse", "sum", leaky_slope=0.125)
    params = {"W1": np.array([[1.0, 0.5, -1.0], [-0.5, -0.5, 0.5]]), "b1": np.zeros(3),
              "W2": np.array([[0.75], [-1.5], [0.25]]), "b2": np.array([0.125])}
    return spec, params, np.array([[1.0, 1.0]]), np.array([[2.0]])


@pytest.mark.parametrize("activation, slope_at_zero", [("relu", 0.0), ("leaky_relu", 0.125)])
def test_kink_convention_relu_prime_0_is_0_leaky_is_the_slope(activation, slope_at_zero):
    """docs/conventions.md: at an exact z = 0, relu' = 0 and leaky_relu' = slope, in the exact oracle and the reference."""
    spec, params, x, y = _kink_case(activation)
    truth = exact.exact(spec, params, x, y).grads
    # every number here is a short dyadic, so float64 holds it exactly; unit 1's δ is W2[1]·δ_out·σ'(0)
    a_hidden = np.array([0.5, 0.0, -0.5 * slope_at_zero])
    delta_out = float(a_hidden @ params["W2"][:, 0] + 0.125 - 2.0)
    assert truth["b1"][1] == -1.5 * delta_out * slope_at_zero
    assert truth["W1"][0, 1] == truth["W1"][1, 1] == -1.5 * delta_out * slope_at_zero
    _, ref = loss_and_grad(spec, params, x, y)
    for k in truth:
        np.testing.assert_array_equal(ref[k], truth[k], err_msg=k)  # small dyadic numbers: exact in float64 too


@pytest.mark.parametrize("framework", ["torch", "jax"])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_torch_and_jax_follow_the_same_kink_convention(framework, activation):
    if oracles.unavailable(framework):
        pytest.skip(oracles.unavailable(framework))
    spec, params, x, y = _kink_case(activation)
    truth = exact.exact(spec, params, x, y).grads
    got = oracles.run_oracle(framework, spec, params, x, y).grads
    for k in truth:
        np.testing.assert_array_equal(got[k], truth[k], err_msg=k)


def test_missing_flint_is_reported_not_raised(monkeypatch):
    real_import = builtins.__import__

    def no_flint(name, *args, **kwargs):
        if name == "flint" or name.startswith("flint."):
            raise ImportError("No module named 'flint'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_flint)
    assert "pip install 'bpcheck[exact]'" in exact.unavailable()
    assert "exact" not in oracles.available()
    spec, params, x, y = _kink_case("relu")
    with pytest.raises(RuntimeError, match="python-flint is not installed"):
        oracles.run_oracle("exact", spec, params, x, y)


def _bounded(case: Case, name: str, truth: dict, scale: float) -> oracles.Comparison:
    """``name``'s gradient against the exact one, under the bound it is checked with everywhere else."""
    if name == "reference":
        grads, error = loss_and_grad(case.spec, case.params, case.x, case.y)[1], None
    else:
        est = oracles.run_oracle(name, case.spec, case.params, case.x, case.y)
        grads, error = est.grads, est.error
    return versus_exact(grads, error, truth, case, scale)


@given(case=cases(specs=network_specs(max_depth=3, max_width=6), max_batch=4))
def test_every_source_is_within_its_stated_bound_of_the_exact_gradient(case: Case) -> None:
    truth = exact.exact(case.spec, case.params, case.x, case.y).grads
    scale = oracles.term_scale(case.spec, case.params, case.x, case.y)
    note(case.describe())
    for name in SOURCES:
        if name != "reference" and oracles.unavailable(name, case.spec):
            continue
        result = _bounded(case, name, truth, scale)
        assert result.ok, f"{name}: {result.message()}"


def test_bounds_are_sharp_on_the_median_case():
    """max error / bound ≤ 1 on every case, and ≥ 1/SHARPNESS on the median one, for every source."""
    tallies: dict = {}
    verify(15, seed=1, names=[n for n in SOURCES if n != "reference"], versus_exact=tallies)
    assert set(tallies) >= {"reference", "central", "richardson", "complex_step"}
    for name, t in tallies.items():
        assert t.within_bound, t.failures[:1]
        assert t.median_ratio >= 1 / SHARPNESS, (name, t.median_ratio, t.ratios)


def test_one_class_softmax_is_exactly_flat():
    """softmax over one class is 1 for every z, so C = −log 1 = 0 and every ∂C/∂θ is exactly 0, not a ball around it.

    A ball [0 ± r] has no decimal enclosure (``enclosure`` needs the sign), so the golden tier's flat entry needs
    the exact zeros; the float64 reference gets them too (its softmax of one class is e⁰/e⁰ = 1).
    """
    spec = NetworkSpec((1, 1, 1), ("tanh", "softmax"), "softmax_ce", "sum")
    params = {"W1": np.array([[0.7]]), "b1": np.array([0.1]), "W2": np.array([[1.3]]), "b2": np.array([0.25])}
    x, y = np.array([[0.3]]), np.array([[1.0]])
    with ctx.workprec(128):
        p = exact._balls_pass(spec, params, x, y)
        assert exact.enclosure(p.loss) == ("0", "0")
        for name, g in p.grads.items():
            assert exact.enclosure(g[0, 0] if g.ndim == 2 else g[0]) == ("0", "0"), name


def test_hvp_of_a_linear_least_squares_layer_is_its_closed_form():
    """C = ½Σ(xW + b − y)² + ½λΣW² has H·(V, v_b) = (xᵀ(xV + v_b) + λV, Σ_n (xV + v_b)_n): written here, not the oracle's."""
    spec = NetworkSpec((3, 2), ("identity",), "half_sse", "sum", l2=0.25)
    rng = np.random.default_rng(5)
    params = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal(2)}
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    v = {"W1": rng.standard_normal((3, 2)), "b1": rng.standard_normal(2)}
    hv = exact.hvp(spec, params, x, y, v)
    moved = x @ v["W1"] + v["b1"]
    np.testing.assert_allclose(hv["W1"], x.T @ moved + 0.25 * v["W1"], rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(hv["b1"], moved.sum(axis=0), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softmax"])
def test_hvp_is_the_derivative_of_the_exact_gradient_in_600_bit_arithmetic(name):
    """H·v against (∇C(θ + hv) − ∇C(θ − hv)) / 2h of the exact oracle's own gradient, h = 2⁻²⁰⁰ at 600 bits."""
    spec = NetworkSpec((2, 3, 2), ("tanh", name), "softmax_ce" if name == "softmax" else "half_sse", "mean", l2=0.1)
    rng = np.random.default_rng(7)
    params = {k: rng.standard_normal(s) for k, s in spec.param_shapes().items()}
    x, y = rng.standard_normal((3, 2)), np.eye(2)[[0, 1, 1]]
    v = {k: rng.choice(np.array([-1.0, 1.0]), size=s) for k, s in spec.param_shapes().items()}
    hv = exact.hvp(spec, params, x, y, v)
    with ctx.workprec(600):
        h = arb(2) ** -200
        P, X, Y = {k: exact.balls(p) for k, p in params.items()}, exact.balls(x), exact.balls(y)
        plus = exact.network_pass(spec, {k: P[k] + h * exact.balls(v[k]) for k in P}, X, Y).grads
        minus = exact.network_pass(spec, {k: P[k] - h * exact.balls(v[k]) for k in P}, X, Y).grads
        for k in hv:
            quotient = np.array([float((p - m) / (2 * h)) for p, m in zip(plus[k].ravel(), minus[k].ravel())])
            np.testing.assert_allclose(hv[k].ravel(), quotient, rtol=2**-50, atol=1e-300)
