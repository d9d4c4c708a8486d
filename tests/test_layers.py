"""The layers the reference network does not have (grader/layers.py): each forward pass the grader holds against values
worked by hand, the inputs drawn clear of every kink, and the judge on arrays written as students write them: right ones
pass (every correct look-alike), wrong ones fail with their mistake named, and nothing unjudgeable earns a point."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bpcheck.grader.assignment import AssignmentError, _keys, load
from bpcheck.grader.contracts import ContractError
from bpcheck.grader.layers import (GAP, LAYERS, _distinct, _scores_clear_of_margins, batchnorm, conv, forward_problem,
                                   gradient_problem, max_pool, mistakes_in, parse_part, svm_loss)

from .test_api_honesty import max_pool_backward_naive as pool_backward

ROOT = Path(__file__).resolve().parents[1]


def _source(path: Path) -> SimpleNamespace:
    """A file's functions, run from its text: no import, so no __pycache__ beside the solution (which the grader keeps
    closed to submissions, and refuses to grade beside when it is not)."""
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return SimpleNamespace(**namespace)


solution = _source(ROOT / "examples" / "solutions" / "cs231n_assignment2" / "cs231n" / "layers.py")  # a student's style


# --- the forward passes, against values worked by hand --------------------------------------------------------------


def test_batchnorm_normalises_each_column_with_the_biased_variance():
    x = np.array([[1.0, 10.0], [3.0, 14.0]])  # means 2, 12; biased variances 1, 4
    out = batchnorm(x, np.array([1.0, 2.0]), np.array([0.0, 1.0]), eps=0.0)
    assert np.array_equal(out, [[-1.0, -1.0], [1.0, 3.0]])


def test_conv_sums_each_window_and_adds_the_bias():
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    out = conv(x, np.ones((1, 1, 2, 2)), np.array([1.0]), stride=1, pad=0)
    assert np.array_equal(out, [[[[9.0, 13.0], [21.0, 25.0]]]])  # 0+1+3+4 + 1, ...
    # pad 1, stride 2: the windows at (-1, -1), (-1, 1), (1, -1), (1, 1) of the padded image
    out = conv(x, np.ones((1, 1, 2, 2)), np.array([0.0]), stride=2, pad=1)
    assert np.array_equal(out, [[[[0.0, 3.0], [9.0, 24.0]]]])


def test_max_pool_takes_each_windows_largest():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert np.array_equal(max_pool(x, 2, 2, 2), [[[[5.0, 7.0], [13.0, 15.0]]]])


def test_svm_loss_averages_the_positive_margins():
    x = np.array([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    # row 0, y = 0: margins 2 and max(0, 0) = 0; row 1, y = 2: margins max(0, -2) twice = 0
    assert svm_loss(x, np.array([0, 2])) == 1.0


@pytest.mark.parametrize("seed", range(20))
def test_inputs_are_drawn_clear_of_every_kink(seed):
    rng = np.random.default_rng(seed)
    v = np.sort(_distinct(rng, (2, 3, 4, 4)).ravel())
    assert np.min(np.diff(v)) >= GAP
    x, y = _scores_clear_of_margins(rng, 5, 4)
    margins = x - x[np.arange(5), y][:, None] + 1.0
    margins[np.arange(5), y] = np.inf
    assert np.min(np.abs(margins)) >= GAP


# --- the judge on arrays: one part per layer ---------------------------------------------------------------------------

CALLS = {
    "batchnorm": [{"function": "batchnorm_forward", "arguments": ["x", "gamma", "beta", "bn_param"], "returns": ["out", "cache"]},
                  {"function": "batchnorm_backward", "arguments": ["dout", "cache"], "returns": ["dx", "dgamma", "dbeta"]}],
    "dropout": [{"function": "dropout_forward", "arguments": ["x", "dropout_param"], "returns": ["out", "cache"]},
                {"function": "dropout_backward", "arguments": ["dout", "cache"], "returns": "dx"}],
    "conv": [{"function": "conv_forward_naive", "arguments": ["x", "w", "b", "conv_param"], "returns": ["out", "cache"]},
             {"function": "conv_backward_naive", "arguments": ["dout", "cache"], "returns": ["dx", "dw", "db"]}],
    "max_pool": [{"function": "max_pool_forward_naive", "arguments": ["x", "pool_param"], "returns": ["out", "cache"]},
                 {"function": "max_pool_backward_naive", "arguments": ["dout", "cache"], "returns": "dx"}],
    "svm_loss": [{"function": "svm_loss", "arguments": ["x", "y"], "returns": ["loss", "dx"]}],
}


def part_of(layer: str):
    return parse_part({"layer": layer, "call": CALLS[layer]}, "t", _keys)


def run(layer: str, module, case) -> dict:
    """The part's calls made in this process on ``case`` (the sandbox's work, for trusted code), outputs by name."""
    i, s = case.inputs, dict(case.settings)
    if layer == "svm_loss":
        loss, dx = module.svm_loss(i["x"], i["y"])
        return {"loss": np.asarray(loss), "dx": dx}
    fwd, bwd = (getattr(module, c["function"]) for c in CALLS[layer])
    args = [i[a] for a in CALLS[layer][0]["arguments"][:-1]]
    out, cache = fwd(*args, s)
    grads = bwd(case.dout, cache)
    names = CALLS[layer][1]["returns"]
    return {"out": out, **(dict(zip(names, grads)) if isinstance(names, list) else {names: grads})}


def judged(layer: str, module) -> list[tuple]:
    part = part_of(layer)
    out = []
    for case in part.build():
        got = run(layer, module, case)
        out.append((case.name, forward_problem(part, case, got, None), gradient_problem(part, case, got, None)))
    return out


@pytest.mark.parametrize("layer", sorted(CALLS))
def test_the_bundled_solution_passes_every_case(layer):
    assert all(f is None and g is None for _, f, g in judged(layer, solution)), judged(layer, solution)


class Vectorised:
    """Correct look-alikes, written as other students do: a vectorised conv (one einsum per window offset), a pool
    backward that compares with the max instead of argmax, batchnorm_backward_alt as batchnorm_backward, dropout whose
    cache keeps the boolean mask and p, an SVM gradient built with np.where; and float32 never."""

    @staticmethod
    def conv_forward_naive(x, w, b, conv_param):
        s, p = conv_param["stride"], conv_param["pad"]
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        F, C, HH, WW = w.shape
        Ho, Wo = 1 + (xp.shape[2] - HH) // s, 1 + (xp.shape[3] - WW) // s
        out = np.zeros((x.shape[0], F, Ho, Wo))
        for i in range(HH):
            for j in range(WW):
                patch = xp[:, :, i:i + s * Ho:s, j:j + s * Wo:s]  # (N, C, Ho, Wo)
                out += np.einsum("nchw,fc->nfhw", patch, w[:, :, i, j])
        return out + b[None, :, None, None], (x, w, b, conv_param)

    @staticmethod
    def conv_backward_naive(dout, cache):
        x, w, b, conv_param = cache
        s, p = conv_param["stride"], conv_param["pad"]
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        dxp, dw = np.zeros_like(xp), np.zeros_like(w)
        Ho, Wo = dout.shape[2:]
        for i in range(w.shape[2]):
            for j in range(w.shape[3]):
                patch = xp[:, :, i:i + s * Ho:s, j:j + s * Wo:s]
                dw[:, :, i, j] = np.einsum("nchw,nfhw->fc", patch, dout)
                dxp[:, :, i:i + s * Ho:s, j:j + s * Wo:s] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
        return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))

    max_pool_forward_naive = staticmethod(solution.max_pool_forward_naive)
    max_pool_backward_naive = staticmethod(pool_backward)  # the window's max found by ==, the API tests' student

    batchnorm_forward = staticmethod(solution.batchnorm_forward)
    batchnorm_backward = staticmethod(solution.batchnorm_backward_alt)

    @staticmethod
    def dropout_forward(x, dropout_param):
        np.random.seed(dropout_param["seed"])
        p = dropout_param["p"]
        if dropout_param["mode"] == "test":
            return x, (p, None)
        keep = np.random.random_sample(x.shape) < p
        return x * keep / p, (p, keep)

    @staticmethod
    def dropout_backward(dout, cache):
        p, keep = cache
        return dout if keep is None else np.where(keep, dout / p, 0.0)

    @staticmethod
    def svm_loss(x, y):
        n = x.shape[0]
        m = x - x[np.arange(n), y][:, None] + 1
        m[np.arange(n), y] = 0
        pos = np.where(m > 0, 1.0, 0.0)
        pos[np.arange(n), y] = -pos.sum(axis=1)
        return np.maximum(m, 0).sum() / n, pos / n


@pytest.mark.parametrize("layer", sorted(CALLS))
def test_correct_look_alikes_pass(layer):
    assert all(f is None and g is None for _, f, g in judged(layer, Vectorised)), judged(layer, Vectorised)


class Wrong(Vectorised):
    """The historic mistakes, each written out here by hand (never by the grader's catalog)."""

    @staticmethod
    def batchnorm_backward(dout, cache):
        xhat, gamma, std = cache
        return dout * gamma / std, (dout * xhat).sum(axis=0), dout.sum(axis=0)

    @staticmethod
    def max_pool_backward_naive(dout, cache):
        return pool_backward(dout, cache, whole_window=True)

    @staticmethod
    def dropout_backward(dout, cache):
        p, keep = cache
        return dout if keep is None else dout * keep

    @staticmethod
    def svm_loss(x, y):
        loss, dx = Vectorised.svm_loss(x, y)
        return loss, dx * x.shape[0]


@pytest.mark.parametrize("layer, slug, words", [
    ("batchnorm", "bn-constant-statistics", "dx: dx = dout · gamma / std, as if the batch mean and variance were constants"),
    ("max_pool", "pool-whole-window", "dx: each window's dout given to every element of the window"),
    ("dropout", "dropout-unscaled-backward", "dx: dx = dout · [kept], without the 1/p of inverted dropout"),
    ("svm_loss", "svm-no-mean", "dx: dx is N× the right values"),
])
def test_a_historic_mistake_fails_and_is_named(layer, slug, words):
    results = judged(layer, Wrong)
    failed = [g for _, _, g in results if g]
    assert failed and words in failed[0] and mistakes_in(failed[0]) == [slug], results


def test_dropout_in_test_mode_is_the_identity_and_its_mistake_not_named_there():
    (_, f1, g1), (_, f2, g2) = judged("dropout", Wrong)
    assert g1 and f1 is None  # train mode: the backward's missing 1/p
    assert f2 is None and g2 is None  # test mode: dout passes through, right in both


# --- failing closed, and the shapes courses accept -----------------------------------------------------------------


def _one_case(layer):
    part = part_of(layer)
    case = part.build()[0]
    return part, case, run(layer, solution, case)


@pytest.mark.parametrize("bad, said", [(np.nan, "holds NaN or inf"), (np.inf, "holds NaN or inf")])
def test_a_non_finite_gradient_never_passes(bad, said):
    part, case, got = _one_case("batchnorm")
    got["dgamma"] = got["dgamma"].copy()
    got["dgamma"][0] = bad
    assert said in gradient_problem(part, case, got, None)


def test_a_keepdims_gradient_is_read_in_the_inputs_shape_and_a_wrong_shape_is_named():
    part, case, got = _one_case("batchnorm")
    assert gradient_problem(part, case, {**got, "dgamma": got["dgamma"][None, :], "dbeta": got["dbeta"][None, :]}, None) is None
    problem = gradient_problem(part, case, {**got, "dgamma": got["dgamma"][:3]}, None)
    assert problem == "dgamma: shape (3,), expected (4,)"


def test_a_missing_output_names_the_error_that_cut_it_short():
    part, case, got = _one_case("conv")
    del got["dw"]
    problem = gradient_problem(part, case, got, "conv_backward_naive(...) raised ValueError: boom")
    assert problem == "dw: missing (conv_backward_naive(...) raised ValueError: boom)"


def test_a_wrong_forward_output_is_caught_to_the_rounding_bound():
    """eps outside the square root moves out by about 1e-6 here: far above 2Dε·(|out| + S) ≈ 1e-13, so it fails."""
    part, case, got = _one_case("batchnorm")
    x, g, b = (case.inputs[k] for k in ("x", "gamma", "beta"))
    xc = x - x.mean(axis=0)
    wrong = g * xc / (np.sqrt((xc ** 2).mean(axis=0)) + 1e-5) + b
    problem = forward_problem(part, case, {**got, "out": wrong}, None)
    assert problem and mistakes_in(problem) == ["bn-eps-outside-sqrt"]


def test_a_dropout_fraction_kept_far_from_p_is_named():
    part, case, got = _one_case("dropout")
    x = case.inputs["x"]
    everything = x / case.settings["p"]  # every unit kept, and scaled
    assert "of the elements kept, expected p = 30%" in forward_problem(part, case, {"out": everything}, None)


# --- the TOML: a wrong layer part is an error naming it ---------------------------------------------------------------


@pytest.mark.parametrize("raw, message", [
    ({"layer": "layernorm", "call": CALLS["batchnorm"]}, r"layer = 'layernorm'; expected one of \['batchnorm'"),
    ({"layer": "conv", "call": [{**CALLS["conv"][0], "arguments": ["x", "W", "b", "conv_param"]}]},
     r"argument 'W' unknown; layer 'conv' passes \['b', 'conv_param', 'dout', 'w', 'x'\]"),
    ({"layer": "conv", "call": [{**CALLS["conv"][0], "returns": ["output", "cache"]}]}, r"unknown output 'output'"),
    ({"layer": "dropout", "call": [{**CALLS["dropout"][0], "returns": ["_", "cache"]}, CALLS["dropout"][1]]},
     r"save the forward's output as out"),
    ({"layer": "max_pool", "call": [{**CALLS["max_pool"][0], "returns": ["_", "_"]}]}, r"nothing to grade"),
    ({"layer": "conv", "call": CALLS["conv"], "case": [{"shapes": {"x": [2, 0, 5, 5]}}]}, r"expected lists of positive integers"),
    ({"layer": "conv", "call": CALLS["conv"], "case": [{"shapes": {"x": [2, 4, 5, 5]}}]},  # 4 channels, w has 3
     r"its cases cannot be built for layer 'conv' \(ValueError: "),
    ({"layer": "max_pool", "call": CALLS["max_pool"], "case": [{"settings": {"stride": "2"}}]}, r"its cases cannot be built"),
])
def test_a_wrong_layer_part_is_an_error_naming_it(raw, message):
    with pytest.raises(ContractError, match=message):
        parse_part(raw, "t", _keys)


def test_the_bundled_assignment_loads_with_a_layer_per_part(tmp_path):
    a = load("cs231n-bn-dropout-conv")
    assert [p.layer.layer.name for p in a.parts] == ["batchnorm"] * 3 + ["dropout"] * 2 + ["conv"] * 2 + ["max_pool"] * 2 + ["svm_loss"]
    text = (ROOT / "grader" / "assignments" / "cs231n-bn-dropout-conv.toml").read_text()
    bad = tmp_path / "a.toml"
    bad.write_text(text.replace('layer = "svm_loss"', 'layer = "svm"').replace("../../examples", str(ROOT / "examples")))
    with pytest.raises(AssignmentError, match=r"\[\[part\]\] #10: layer = 'svm'"):
        load(str(bad))


def test_every_layer_has_default_cases():
    assert all(layer.defaults for layer in LAYERS.values())


def test_a_backward_consistent_with_a_forward_that_drops_nothing_earns_nothing():
    """`return dout / p` beside a forward that keeps (and scales) every unit: consistent, and no dropout at all."""
    part, case, got = _one_case("dropout")
    p = case.settings["p"]
    problem = gradient_problem(part, case, {"out": case.inputs["x"] / p, "dx": case.dout / p}, None)
    assert problem and "this forward did not draw one" in problem and "of the elements kept, expected p = 30%" in problem
