"""The diagnosis names mistakes per layer and per array, two bugs as two names, and never calls zeros,
complex or NaN results a convention."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from bpcheck.grader.assignment import load
from bpcheck.grader.contracts import unrolled_in_other_order
from bpcheck.grader.diagnose import CLOSE, diagnose, diagnose_function
from bpcheck.grader.probes import ProbeSet, Terms, default_probes
from bpcheck.grader.probes import run_candidate
from bpcheck.oracles.strategies import Case
from bpcheck.reference import loss_and_grad
from bpcheck.reference.bugs import BUGS, CATALOG, combine, conflict, plan_gradients

THOROUGH = os.environ.get("BPCHECK_PROFILE") == "thorough"
#: The student's terms of two bundled assignments, as their TOML files write them
EX4_TERMS = load("coursera-ex4").contract.terms()
CS231N_TERMS = load("cs231n-two-layer").contract.terms()


@pytest.fixture(scope="module")
def probe_set() -> ProbeSet:
    return ProbeSet.build(default_probes())


def _reference(s, p, x, y, lr):
    return loss_and_grad(s, p, x, y)[1]


def _consistent(d) -> None:
    """A summary cannot call one array both right and wrong, nor a wrong gradient correct."""
    assert not set(d.wrong_arrays) & set(d.right_arrays)
    assert d.correct == (not d.wrong_arrays)
    assert "correct on every probe" not in d.summary or d.correct


# --- two bugs are two names -------------------------------------------------------------------------

#: Entries acting on one layer role: the output delta and its σ', or a hidden delta.
PER_LAYER = [b for b in BUGS if len(b.roles) == 1]
#: Entries in one array's formula (BP3, BP4, the penalty), on every layer.
ARRAY_LEVEL = [b for b in BUGS if len(b.roles) == 2 and set(b.methods) <= {"bp3", "bp4", "reg"}]


def _combinable(a, b) -> bool:
    """Two placements that can be in one submission: not one method on one layer twice, not one mistake's halves."""
    return not conflict((a, b)) and not (a[0].family and a[0].family == b[0].family)


PAIRS = [((a, a.roles), (b, b.roles)) for a, b in itertools.combinations(PER_LAYER, 2)
         if _combinable((a, a.roles), (b, b.roles))]


def _check_pair(plan, ps: ProbeSet) -> str:
    """'' when the diagnosis of the two-bug variant names exactly what is visible of it; else why not."""
    fn = plan_gradients(plan)
    outs = {p.name: run_candidate(fn, p.case, p.lr) for p in ps.probes}
    d = diagnose(outs, ps)
    _consistent(d)
    alone = [ps.agrees(outs, {p.name: ps.outcome((pl,), None, p) for p in ps.probes}) for pl in plan]
    named = {m.id for m in d.matches}
    if all(alone):
        return ""  # neither shows on these probes (cannot happen for catalog entries: each is testable)
    if any(alone):  # one hides the other (no σ' in the hidden layers hides a wrong σ' there): name the visible one
        visible = plan[alone.index(True)][0]
        ok = named == {visible.id} or (visible.family and named == {visible.family})
        return "" if ok else f"masked pair named {sorted(named)}, expected {visible.id}: {d.summary}"
    if d.convention_only and not d.matches:  # ½ on the output delta and ½ on the penalty: ½ of everything
        return "" if _scalar_multiple(outs, ps) else f"called a convention: {d.summary}"
    want = {plan[0][0].id, plan[1][0].id}
    if named != want or not d.explained:
        return f"named {sorted(named)}, expected {sorted(want)}: {d.summary}"
    return ""


def _scalar_multiple(outs, ps: ProbeSet) -> bool:
    """Whether every probe's whole gradient is c times the expected one, for some c per probe."""
    for p in ps.probes:
        got, exp = outs[p.name].grads, ps.expected[p.name].grads
        g, e = (np.concatenate([d[k].ravel() for k in exp]) for d in (got, exp))
        c = float(g @ e) / float(e @ e)
        if not ps.same(p, g, c * e):
            return False
    return True


@pytest.mark.parametrize("a, b", PAIRS, ids=[f"{a[0].id}+{b[0].id}" for a, b in PAIRS])
def test_two_per_layer_bugs_are_named_as_both(a, b, probe_set):
    assert _check_pair((a, b), probe_set) == ""


def test_two_per_layer_bugs_cover_the_issue_example(probe_set):
    """σ'(a) on the output layer and σ' missing on the hidden layer (issue 12): two names, per layer."""
    plan = ((CATALOG["sigma-of-a-output"], frozenset({"output"})), (CATALOG["bp2-no-sigma-prime"], frozenset({"hidden"})))
    d = diagnose_function(plan_gradients(plan), probe_set)
    assert [m.id for m in d.matches] == ["sigma-of-a-output", "bp2-no-sigma-prime"]
    assert d.named[0] == "sigma-of-a-output" and d.explained and not d.convention_only
    assert d.summary.startswith("2 mistakes: (1) σ'(a) = σ(a)(1 − σ(a)) in the output layer only")  # a sigmoid output


def test_array_bugs_with_per_layer_bugs_are_named_as_both(probe_set):
    """An array's own formula (bias sum, transpose, penalty) wrong on every layer, plus a per-layer delta bug."""
    pairs = [((a, a.roles), (b, b.roles)) for a in PER_LAYER for b in ARRAY_LEVEL if _combinable((a, a.roles), (b, b.roles))]
    pairs = pairs if THOROUGH else pairs[::5]
    failures = [f"{a[0].id}+{b[0].id}: {why}" for a, b in pairs if (why := _check_pair((a, b), probe_set))]
    assert not failures, "\n".join(failures)


def test_array_bugs_in_one_layer_are_named_in_that_layer(probe_set):
    """The same array formulas wrong in the output layer only or the hidden layers only."""
    pairs = [((a, a.roles), (b, frozenset({r}))) for a in PER_LAYER for b in ARRAY_LEVEL for r in ("output", "hidden")]
    pairs = [pl for pl in pairs if _combinable(*pl)]
    pairs = pairs if THOROUGH else pairs[1::9]
    failures = [f"{a[0].id}+{b[0].id}@{'/'.join(b[1])}: {why}" for a, b in pairs if (why := _check_pair((a, b), probe_set))]
    assert not failures, "\n".join(failures)


def test_an_entry_in_one_layer_says_which(probe_set):
    d = diagnose_function(plan_gradients(((CATALOG["bias-one-example"], frozenset({"output"})),)), probe_set)
    assert [m.id for m in d.matches] == ["bias-one-example"]
    assert "in the output layer only" in d.summary and d.explained
    assert set(d.wrong_arrays) == {"b2", "b3"}  # the output biases of the 2- and 3-layer probes


# --- what the numbers are, before what they mean ------------------------------------------------------


def test_zeros_are_not_a_convention(probe_set):
    d = diagnose_function(lambda s, p, x, y, lr: {k: np.zeros_like(v) for k, v in p.items()}, probe_set)
    assert d.summary == "returns zeros for every gradient: not implemented, or an exception swallowed?"
    assert not d.convention_only and not d.matches and not d.conventions
    _consistent(d)


def test_complex_results_are_not_a_convention(probe_set):
    d = diagnose_function(lambda s, p, x, y, lr: {k: 1j * v for k, v in _reference(s, p, x, y, lr).items()}, probe_set)
    assert d.summary.startswith("complex numbers in every gradient") and "right values times 1j" in d.summary
    assert not d.convention_only and "c = 0" not in d.summary


def test_nan_is_not_a_convention(probe_set):
    def nan_w1(s, p, x, y, lr):
        g = _reference(s, p, x, y, lr)
        g["W1"] = g["W1"] * np.nan
        return g

    d = diagnose_function(nan_w1, probe_set)
    assert not d.convention_only and not d.explained
    assert "NaN or Inf in W1" in d.summary and "right: b1, W2, b2, W3, b3" in d.summary


def test_some_arrays_zero(probe_set):
    def no_bias_gradients(s, p, x, y, lr):
        return {k: (v if k.startswith("W") else np.zeros_like(v)) for k, v in _reference(s, p, x, y, lr).items()}

    d = diagnose_function(no_bias_gradients, probe_set)
    assert d.summary == "every layer's biases: all zeros (not computed, or an exception swallowed?)"
    assert not d.convention_only and d.wrong_arrays == ["b1", "b2", "b3"]


def test_one_array_scaled_is_not_a_convention(probe_set):
    def biases_doubled(s, p, x, y, lr):
        return {k: (v if k.startswith("W") else 2 * v) for k, v in _reference(s, p, x, y, lr).items()}

    d = diagnose_function(biases_doubled, probe_set)
    assert d.summary == "every layer's biases: twice the right values" and not d.convention_only


def test_finite_differences_are_named_as_such(probe_set):
    """Central differences with h = 1e-5 of the right loss: close (errors ~1e-9), but not analytic."""
    from bpcheck.reference import forward

    def central(s, p, x, y, lr, h=1e-5):
        grads = {}
        for k, v in p.items():
            g = np.zeros_like(v)
            for i in np.ndindex(v.shape):
                up, down = {**p, k: v.copy()}, {**p, k: v.copy()}
                up[k][i] += h
                down[k][i] -= h
                g[i] = (forward(s, up, x, y)[0] - forward(s, down, x, y)[0]) / (2 * h)
            grads[k] = g
        return grads

    d = diagnose_function(central, probe_set)
    assert d.summary.startswith("close, but with finite-difference-sized errors (~")
    assert "must be computed analytically" in d.summary and not d.convention_only
    worst = float(d.summary.split("(~")[1].split(")")[0])
    assert 1e-12 < worst <= CLOSE


def test_a_fault_in_the_regularisation_term_only(probe_set):
    """An L1 gradient λ·sign(W) for an L2 penalty: right whenever λ = 0, wrong otherwise."""
    def l1(s, p, x, y, lr):
        g = _reference(s, p, x, y, lr)
        return {k: (v - s.l2 * p[k] + s.l2 * np.sign(p[k]) if k.startswith("W") else v) for k, v in g.items()}

    d = diagnose_function(l1, probe_set)
    assert d.summary == "every layer's weights: right when l2=0, wrong when l2>0: check the regularisation term"
    assert not d.matches and d.explained


@pytest.mark.parametrize("penalty, words", [
    (lambda s, w: 0 * w, "(no penalty gradient)"),
    (lambda s, w: 2 * s.l2 * w, "(twice the penalty gradient)"),
])
def test_the_regularisation_term_says_how(penalty, words, probe_set):
    def weights_penalised(s, p, x, y, lr):
        g = _reference(s, p, x, y, lr)
        return {k: (v - s.l2 * p[k] + penalty(s, p[k]) if k.startswith("W") else v) for k, v in g.items()}

    d = diagnose_function(weights_penalised, probe_set)
    assert d.summary == f"every layer's weights: right when l2=0, wrong when l2>0: check the regularisation term {words}"


# --- the student's terms --------------------------------------------------------------------------


def test_terms_describe_and_rename():
    case = default_probes()[0].case
    terms = Terms(lambda k: f"grads['{k}']", lambda c: {"reg": c.spec.l2 / 2}, "reg")
    assert terms.describe(case) == "3-4-2 network, 3 examples, reg=0.05"


def test_student_names_in_a_two_bug_summary(probe_set):
    plan = ((CATALOG["sigma-of-a-output"], frozenset({"output"})), (CATALOG["bias-one-example"], frozenset({"hidden"})))
    d = diagnose_function(plan_gradients(plan), probe_set, Terms(lambda k: f"grads['{k}']"))
    assert set(d.attribution) == {f"grads['{k}']" for k in d.wrong_arrays}
    assert all(v for v in d.attribution.values())  # every wrong array has its explanation


# --- the assignment's conventions take part ----------------------------------------------------------


@pytest.fixture(scope="module")
def ex4_probes() -> ProbeSet:
    return ProbeSet.build([pc.probe for pc in load("coursera-ex4").probes])


def _shifted_labels(s, p, x, y, lr):
    return loss_and_grad(s, p, x, np.roll(y, -1, axis=1))[1]


def test_labels_from_one_is_said_even_when_not_accepted(ex4_probes):
    d = diagnose_function(_shifted_labels, ex4_probes, EX4_TERMS)
    assert d.summary.startswith("correct if labels run 1..K (Y = eye(K)[y - 1])")
    assert d.convention_only and not d.matches


def test_a_convention_and_a_bug_are_two_names(ex4_probes):
    bias_reg = CATALOG["reg-on-biases"].backprop

    def both(s, p, x, y, lr):
        return loss_and_grad(s, p, x, np.roll(y, -1, axis=1), bias_reg)[1]

    d = diagnose_function(both, ex4_probes, EX4_TERMS)
    assert [m.id for m in d.matches] == ["reg-on-biases"] and d.named[0] == "labels-1..K"
    assert d.summary.startswith("2 mistakes: (1) computed as if labels run 1..K") and not d.convention_only


def test_unroll_order_is_a_convention(ex4_probes):
    conv = load("coursera-ex4").contract.conventions
    d = diagnose_function(lambda s, p, x, y, lr: unrolled_in_other_order(conv, Case(s, p, x, y), _reference(s, p, x, y, lr)),
                          ex4_probes, EX4_TERMS)
    assert d.summary.startswith("correct if grad is read column by column (order='F')")


def test_the_2016_penalty_is_named_beside_reg_half():
    ps = ProbeSet.build([pc.probe for pc in load("cs231n-two-layer").probes])
    d = diagnose_function(CATALOG["reg-half"].gradients, ps, CS231N_TERMS)
    assert [m.id for m in d.matches] == ["reg-half"] and "if the penalty is the 2016 0.5·reg·ΣW²" in d.summary


def test_the_catalog_variants_are_cached_per_plan():
    """combine() builds one class per set of placements, whatever their order."""
    a, b = (CATALOG["sigma-of-a-output"], frozenset({"output"})), (CATALOG["bp2-no-transpose"], frozenset({"hidden"}))
    assert combine((a, b)) is combine((b, a))
    with pytest.raises(ValueError, match="both replace bp1"):
        combine(((CATALOG["sign-flipped"], frozenset({"output"})), (CATALOG["factor-two"], frozenset({"output"}))))


# --- the network's own words (issue 27) ----------------------------------------------------------------


def _slugs(text: str) -> list[str]:
    """The catalog ids a text names (the instructor's words, never the student's)."""
    return [b.id for b in BUGS if b.id in text]


@pytest.fixture(scope="module")
def cs231n_probes() -> ProbeSet:
    return ProbeSet.build([pc.probe for pc in load("cs231n-two-layer").probes])


def test_a_missing_relu_mask_is_one_mistake_in_relu_words(cs231n_probes):
    """In a ReLU net, BP2 without σ' and a mask a >= 0 are the same numbers and the same fix: said once, as
    the ReLU mask, never as σ or a catalog slug; the instructor's fields keep both entries."""
    d = diagnose_function(CATALOG["bp2-no-sigma-prime"].gradients, cs231n_probes, CS231N_TERMS)
    assert {b.id for b in d.matches} == {"bp2-no-sigma-prime", "relu-mask-a-ge-0"}
    assert "[z > 0]" in d.summary and "ReLU" in d.summary
    assert "σ" not in d.summary and not _slugs(d.summary) and "catalog entr" not in d.summary
    assert "2 " not in d.summary.split(":")[0]  # not "2 catalog entries" / "2 mistakes"


def test_two_mistakes_in_relu_words_name_no_slug(cs231n_probes):
    plan = ((CATALOG["bias-one-example"], frozenset({"output"})), (CATALOG["bp2-no-sigma-prime"], frozenset({"hidden"})))
    d = diagnose_function(plan_gradients(plan), cs231n_probes, CS231N_TERMS)
    assert d.summary.startswith("2 mistakes: ")
    assert "first example only" in d.summary and "[z > 0]" in d.summary
    assert "σ" not in d.summary and not _slugs(d.summary) and "gives the same numbers" not in d.summary
    assert "bias-one-example (output)" in d.named and any("bp2-no-sigma-prime" in n or "relu-mask" in n for n in d.named)


def test_sigmoid_words_stay_sigmoid(probe_set):
    d = diagnose_function(CATALOG["bp2-no-sigma-prime"].gradients, probe_set)
    assert not _slugs(d.summary) and "catalog entr" not in d.summary


def test_a_transpose_only_square_layers_show_is_named(probe_set):
    """Weight gradients transposed (Nielsen's nabla_w with its operands swapped) where the shape cannot tell: right
    on every non-square layer, the transpose on every square one (issue 27)."""
    def square_transposed(s, p, x, y, lr):
        g = _reference(s, p, x, y, lr)
        return {k: (v.T if k.startswith("W") and v.shape[0] == v.shape[1] else v) for k, v in g.items()}

    d = diagnose_function(square_transposed, probe_set)
    assert "transposed" in d.summary and "square" in d.summary, d.summary
    assert "no catalog entry" not in d.summary
