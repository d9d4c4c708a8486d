"""Golden data people can cite: inputs, parameters and exact expected values, each with its provenance.

``export()`` builds the data set; ``bpcheck golden`` writes it; ``docs/golden/bpcheck-golden.json`` is the
published copy.  Inputs are float64 numbers (written with repr, so they read back exactly) taken as exact
reals.  Every expected value comes from the exact oracle (``oracles.exact``: ball arithmetic), never from
float64 arithmetic, so no digit depends on the CPU or its BLAS kernel:

- ``value``: the exact value correctly rounded to float64 (round to nearest, ties to even);
- ``exact``: ``[lo, hi]``, consecutive 21-significant-digit decimals with lo ≤ exact value ≤ hi.

Training runs (Mazur's rounds, seed 000's XOR run) are recorded as exact real-arithmetic trajectories:
every step θ ← θ − η ∂C/∂θ is taken exactly, so they too are facts about the inputs, not about a machine.
A float64 run follows them to within its accumulated rounding (tests/test_golden_data.py).

Entries come in NIST StRD-style difficulty levels ("lower", "average", "higher"), each with its condition
described; the "higher" tier holds ill-conditioned networks (cancellation, vanishing and exploding chains,
saturated units, a near-kink relu, a flat objective) and names, per entry, the float64 sources whose derived
bound does not claim to hold there (``ill_conditioned_for``).  Every figure a source printed carries the
source's id (``SOURCES``: address, edition, retrieval date); a value computed here is kept apart, under
``computed``.  docs/golden/README.md describes every field.

Promise: published values never change silently.  Any change to the file needs a new
``GOLDEN_VERSION`` and a CHANGELOG.md entry that records the file's SHA-256 (a test enforces both).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from typing import Any, Callable, Mapping, NamedTuple, Optional

import numpy as np

from bpcheck import __version__
from bpcheck.oracles import exact as ex

from bpcheck.reference import seeds
from bpcheck.reference.network import init_params
from bpcheck.reference.spec import ACTIVATIONS, LOSS_REQUIRES_OUTPUT, LOSSES, NetworkSpec, check_batch

GOLDEN_VERSION = "2.2.1"
#: The seed of every entry's Hessian-vector product direction (``hvp_direction``: ±1, drawn per parameter in order).
HVP_SEED = 24
#: seed 000's XOR run: the precision it needs (measured: its first 5,000 steps lose ~560 bits of the
#: balls' accuracy, then it contracts); lower precisions are tried first only to fail within a few steps.
XOR_PREC = 1024


# ---------------------------------------------------------------------------------------------------------
# Provenance: where each printed figure was printed, and what generated the file

#: The day the sources' addresses were looked up (in stored copies of public pages and repositories; the
#: live pages were not fetched).  A constant, not the clock: the file must rebuild byte for byte.
RETRIEVED = "2026-12-06"
#: Every source a published figure comes from.  ``url`` is null where no address could be found; ``found``
#: says where the address and the figures were seen, so a reader can follow them.
SOURCES: dict[str, dict[str, Any]] = {
    "mazur-post": {
        "title": "A Step by Step Backpropagation Example", "author": "Matt Mazur",
        "url": "https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/",
        "edition": "the blog post dated 2015-03-17 (the date in its address); its script: "
                   "https://github.com/mattm/simple-neural-network",
        "found": "the address as cited by copies of the post (a 2019 repost, and the README of andoorve/Neural-Net); the "
                 "printed figures as reproduced in those copies and in public code that tests against them",
    },
    "seed-000": {
        "title": "神经网络前向传播和后向传播解读 (a CSDN blog post working Mazur's network, with an XOR script)",
        "author": "unknown (a CSDN blogger)", "url": None,
        "edition": "the copy in the project's shared/seeds/000_f1660c343b5195d9.txt",
        "found": "the copy holds no address of its own and none was found; it names "
                 "https://blog.csdn.net/cc514981717/article/details/73832119 as its main reference. Its XOR script "
                 "prints errors when run, but the post shows no output: no figure here is printed by it",
    },
    "coursera-ex4": {
        "title": "Machine Learning (Andrew Ng), programming exercise 4: Neural Networks Learning",
        "author": "Stanford / Coursera", "url": "https://www.coursera.org/learn/machine-learning",
        "edition": "the Octave/MATLAB edition (ex4.m, checkNNGradients.m, debugInitializeWeights.m)",
        "found": "grad(1..3) are what checkNNGradients prints (10 decimals) for a correct nnCostFunction, as "
                 "transcribed from runs in public repositories, not in the course handout. No printed J at the debug "
                 "network was found: the course prints J only at ex4weights (0.287629, 0.383770, 0.576051)",
    },
    "cs231n-a1": {
        "title": "CS231n: Convolutional Neural Networks for Visual Recognition, assignment 1, two_layer_net.ipynb",
        "author": "Stanford CS231n", "url": "http://cs231n.github.io/assignments2017/assignment1/",
        "edition": "Spring 2017 (reg = 0.05, loss + reg·ΣW²); the 2016 notebook prints the same correct_loss at reg = 0.1 "
                   "with 0.5·reg·ΣW²",
        "found": "the address as listed by public solution repositories; correct_loss = 1.30378789133 in copies of the "
                 "notebook in public repositories",
    },
}


def _source(key: str) -> dict[str, Any]:
    return {"id": key, **SOURCES[key], "retrieved": RETRIEVED}


def _printed(digits: str, source: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """A figure the source printed (its digits, its source's id) beside the exact value computed here."""
    return {"printed": digits, "printed_by": source, **value}


def _generator() -> dict[str, Any]:
    """What made the file: the program and the versions its values and format depend on.

    No commit: the file is committed inside the tree it would name (a commit cannot record its own hash), and
    a commit read from git at export time would make ``bpcheck golden`` give other bytes from an sdist, a
    wheel or a dirty tree.  The package version names the release; its tag (v<version>) names the commit.
    """
    import flint

    return {"program": "bpcheck golden", "bpcheck": __version__, "python_flint": flint.__version__, "commit": None,
            "commit_note": "not recorded, so the export is reproducible: the release tag v" + __version__ +
                           " names the commit; python_flint is the version installed when the file was made "
                           "(the values do not depend on it: they are exact)"}


def _arr(a: Any) -> Any:
    return np.asarray(a, dtype=np.float64).tolist()


def _value(ball: Any) -> dict[str, Any]:
    lo, hi = ex.enclosure(ball)
    return {"value": ex.rounded(ball), "exact": [lo, hi]}


def _values(balls: np.ndarray) -> tuple[Any, Any]:
    """(correctly rounded values, enclosures) as nested lists of the array's shape."""
    values = ex._map(_value, balls)
    return ex._map(lambda v: v["value"], values).tolist(), ex._map(lambda v: v["exact"], values).tolist()


class Inputs:
    """One case's float64 inputs, and the same numbers as exact balls (built at the working precision)."""

    def __init__(self, spec: NetworkSpec, params: Mapping[str, np.ndarray], x: Any, y: Any):
        self.spec = spec
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
        self.x, self.y = check_batch(spec, x, y)

    def balls(self) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        return {k: ex.balls(v) for k, v in self.params.items()}, ex.balls(self.x), ex.balls(self.y)

    def solve(self, compute: Callable[..., Any], start: int = ex.START_PREC) -> Any:
        """``compute(params, x, y)`` on balls, at doubling precisions until every value in it resolves."""
        return ex.solve(lambda: compute(*self.balls()), start)[0]


def _about(difficulty: str, condition: str, ill_conditioned_for: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
    """An entry's difficulty level (NIST StRD's lower / average / higher), its condition, and the float64 sources
    whose derived bound does not claim to hold on it, each with why ("float64": every float64 computation)."""
    return {"difficulty": difficulty, "condition": condition, "ill_conditioned_for": dict(ill_conditioned_for or {})}


WELL_CONDITIONED = ("well conditioned: a few layers, moderate weights, no cancellation, no unit near a kink or "
                    "saturated; every float64 source's derived bound claims to hold")


def hvp_direction(spec: NetworkSpec) -> dict[str, np.ndarray]:
    """The direction v of an entry's Hessian-vector product: ±1 per element, from ``HVP_SEED`` (stored in the file too)."""
    rng = np.random.default_rng(HVP_SEED)
    return {k: rng.choice(np.array([-1.0, 1.0]), size=shape) for k, shape in spec.param_shapes().items()}


def _case(inputs: Inputs) -> dict[str, Any]:
    direction = hvp_direction(inputs.spec)

    def compute(P: dict, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        p = ex.network_pass(inputs.spec, P, X, Y)
        loss = _value(p.loss)
        out: dict[str, Any] = {"loss": loss["value"], "loss_exact": loss["exact"], "grads": {}, "grads_exact": {},
                               "hvp_direction": {k: _arr(v) for k, v in direction.items()}, "hvp": {}, "hvp_exact": {}}
        for k, g in p.grads.items():
            out["grads"][k], out["grads_exact"][k] = _values(g)
        hv = ex.network_hvp(inputs.spec, P, X, Y, {k: ex.balls(v) for k, v in direction.items()})
        for k, h in hv.items():
            out["hvp"][k], out["hvp_exact"][k] = _values(h)
        return out

    return {
        "spec": inputs.spec.to_dict(),
        "params": {k: _arr(v) for k, v in inputs.params.items()},
        "x": _arr(inputs.x),
        "y": _arr(inputs.y),
        **inputs.solve(compute),
    }


def _mazur() -> dict[str, Any]:
    inputs = Inputs(*seeds.mazur())
    spec = inputs.spec
    entry = _case(inputs)
    run = functools.partial(ex.sgd, spec, lr=0.5, update_biases=False)

    def worked_step(P: dict, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        p = ex.network_pass(spec, P, X, Y)
        one = run(P, X, Y, steps=1)
        figures = {"out_h1": p.a[1][0, 0], "out_h2": p.a[1][0, 1], "out_o1": p.a[2][0, 0], "out_o2": p.a[2][0, 1],
                   "E_total": p.loss, "dE/dw5": p.grads["W2"][0, 0], "dE/dw1": p.grads["W1"][0, 0],
                   "w5+": one["W2"][0, 0], "w6+": one["W2"][1, 0], "w7+": one["W2"][0, 1], "w8+": one["W2"][1, 1],
                   "w1+": one["W1"][0, 0], "w2+": one["W1"][1, 0], "w3+": one["W1"][0, 1], "w4+": one["W1"][1, 1]}
        return {k: _value(v) for k, v in figures.items()}

    def late(stale: bool) -> Callable[..., dict[str, Any]]:
        """The post's later figures, as the exact values of one algorithm (backprop, or stale weights)."""
        def compute(P: dict, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
            one = run(P, X, Y, steps=1, stale=stale)
            many = run(P, X, Y, steps=9999, stale=stale)
            last = run(many, X, Y, steps=1, stale=stale)
            at_last = ex.network_pass(spec, last, X, Y)
            return {"E_total after one round": _value(ex.network_pass(spec, one, X, Y).loss),
                    "E_total after 9,999 rounds": _value(ex.network_pass(spec, many, X, Y).loss),
                    "out_o1 after 10,000 rounds": _value(at_last.a[2][0, 0]),
                    "out_o2 after 10,000 rounds": _value(at_last.a[2][0, 1])}
        return compute

    printed = {"out_h1": "0.593269992", "out_h2": "0.596884378", "out_o1": "0.75136507", "out_o2": "0.772928465",
               "E_total": "0.298371109", "dE/dw5": "0.082167041", "dE/dw1": "0.000438568",
               "w5+": "0.35891648", "w6+": "0.408666186", "w7+": "0.511301270", "w8+": "0.561370121",
               "w1+": "0.149780716", "w2+": "0.19956143", "w3+": "0.24975114", "w4+": "0.29950229"}
    step = inputs.solve(worked_step)
    backprop, stale = inputs.solve(late(False)), inputs.solve(late(True))
    late_printed = {"E_total after one round": ("0.291027924", "stale_weights"),
                    "E_total after 9,999 rounds": ("0.0000351085", "backprop"),
                    "out_o1 after 10,000 rounds": ("0.015912196", "stale_weights"),
                    "out_o2 after 10,000 rounds": ("0.984065734", "stale_weights")}
    entry.update({
        "id": "mazur-2-2-2",
        "origin": "Matt Mazur, 'A Step by Step Backpropagation Example' (2015), as worked in seed 000",
        "sources": [_source("mazur-post"), _source("seed-000")],
        **_about("lower", WELL_CONDITIONED),
        "conventions": "E_total = ½Σ(target − out)², sum over the single example; one shared bias per layer, never "
                       "updated; η = 0.5; W1 = [[w1, w3], [w2, w4]], W2 = [[w5, w7], [w6, w8]] (row = input unit)",
        "published": {k: _printed(v, "mazur-post", step[k]) for k, v in printed.items()},
        "inconsistency": {
            "explanation": "The post's worked step is backpropagation: every gradient taken at the old weights. Its "
                           "later figures come from two algorithms. E_total after 9,999 rounds matches backpropagation's "
                           "exact value; the error after one round and the outputs after 10,000 rounds match only the "
                           "algorithm that updates w5..w8 before back-propagating through them (its script before the "
                           "2015-03-15 fix; bug catalog entry 'stale-weights'). Both algorithms' exact values are "
                           "recorded for each figure, with the one its printed digits match.",
            "figures": {k: {"printed": p, "printed_by": "mazur-post", "matches": who, "backprop": backprop[k], "stale_weights": stale[k]}
                        for k, (p, who) in late_printed.items()},
        },
    })
    return entry


def _ex4(lam: float) -> dict[str, Any]:
    inputs = Inputs(*seeds.ex4_debug(lam))
    entry = _case(inputs)
    unrolled = seeds.ex4_unroll({k: np.array(v) for k, v in entry["grads"].items()})  # a permutation: still exact
    entry.update({
        "id": f"ex4-debug-lambda-{lam:g}",
        "origin": "Coursera Machine Learning (Andrew Ng), exercise 4, checkNNGradients' debug network",
        "sources": [_source("coursera-ex4")],
        **_about("lower", WELL_CONDITIONED),
        "conventions": "3-5-3 sigmoid, m = 5; Theta = reshape(sin(1:numel), size)/10 column-major with the bias column "
                       "first; labels 1 + mod(1:m, 3) (stored one-hot); J = −(1/m)ΣΣ[y log a + (1−y) log(1−a)] + "
                       f"λ/(2m)Σθ² over non-bias columns; λ = {lam:g} is l2 = λ/m here",
        "published": {f"grad({i + 1})": _printed(p, "coursera-ex4", {"value": float(unrolled[i])})
                      for i, p in enumerate(["-0.0092782524", "0.0088991196", "-0.0083601076"])},
        "computed": {"J": {"value": entry["loss"], "exact": entry["loss_exact"],
                           "note": "computed here by the exact oracle; no source printing J at this network was found "
                                   "(golden 2.0.0 and before labelled bpcheck's own float64 digits as printed)"}},
        "grad_unrolled_column_major": _arr(unrolled),
    })
    return entry


def _cs231n() -> dict[str, Any]:
    entry = _case(Inputs(*seeds.cs231n_toy(0.05)))
    entry.update({
        "id": "cs231n-two-layer-toy",
        "origin": "Stanford CS231n assignment 1, two_layer_net: init_toy_model (seed 0, std 0.1) and init_toy_data (seed 1)",
        "sources": [_source("cs231n-a1")],
        **_about("lower", WELL_CONDITIONED),
        "conventions": "ReLU hidden, softmax cross-entropy averaged over N, plus reg·(ΣW1² + ΣW2²) with reg = 0.05 "
                       "(the 2017+ convention), which is l2 = 2·reg here",
        "published": {"loss": _printed("1.30378789133", "cs231n-a1", {"value": entry["loss"], "exact": entry["loss_exact"]})},
    })
    return entry


def xor_errors() -> list[dict[str, Any]]:
    """What seed 000's script logs, mean |y − a| before the update at steps 0, 5,000, …, 55,000, exactly (computed here)."""
    inputs = Inputs(*seeds.xor_seed000())

    def compute(P: dict, X: np.ndarray, Y: np.ndarray) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []

        def observe(step: int, p: ex.Pass) -> None:
            residual = Y - p.a[-1]
            errors.append({"step": step, **_value(sum(abs(r) for r in residual.ravel()) / residual.size)})

        ex.sgd(inputs.spec, P, X, Y, lr=1.0, steps=55001, every=5000, observe=observe)
        return errors

    return inputs.solve(compute, start=XOR_PREC)


def _xor() -> dict[str, Any]:
    entry = _case(Inputs(*seeds.xor_seed000()))
    entry.update({
        "id": "seed000-xor",
        "origin": "seed 000: the XOR script (np.random.seed(22), 60,000 iterations), run in Python 3",
        "sources": [_source("seed-000")],
        **_about("average", "well conditioned at each step, but a 55,001-step exact trajectory: the balls lose ~560 "
                            "bits over the first 5,000 steps, so it is computed at 1,024 bits"),
        "conventions": "3-4-1 sigmoid, no b (x's third column is the bias input); E = ½Σ(y − a)² summed over the "
                       "5 rows; η = 1; mean |y − a| printed before the update at every 5,000th iteration",
        "logged_errors": xor_errors(),
    })
    return entry


def _pairing(i: int, act: str, loss: str) -> dict[str, Any]:
    hidden = [a for a in ACTIVATIONS if a != "softmax"]
    spec = NetworkSpec((3, 4, 3), (hidden[i % len(hidden)], act), loss, "mean", l2=0.05)
    rng = np.random.default_rng(1000 + i)
    params = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in init_params(spec, seed=i).items()}
    x = rng.uniform(-1, 1, (4, 3))
    y = np.eye(3)[rng.integers(0, 3, 4)] if loss in ("softmax_ce", "bce") else rng.uniform(0, 1, (4, 3))
    entry = _case(Inputs(spec, params, x, y))
    entry.update({"id": f"pairing-{act}-{loss}", "origin": "generated by bpcheck (seeded); values from the exact "
                  "oracle, confirmed against the reference and other oracles in tests/test_golden_data.py",
                  "sources": [], **_about("lower", WELL_CONDITIONED), "conventions": spec.describe()})
    return entry


# ---------------------------------------------------------------------------------------------------------
# The higher tier: ill-conditioned networks, exact all the same

DIFFICULTY_LEVELS = {
    "lower": "well conditioned: every float64 source's derived bound claims to hold",
    "average": "well conditioned at each step, but long: a training run whose exact trajectory needs high precision",
    "higher": "ill conditioned: cancellation, vanishing or exploding chains, saturation, a kink or a flat objective; "
              "the exact values hold all the same, and ill_conditioned_for names the float64 sources whose derived "
              "bound does not claim to hold",
}


#: Why the exploding chain defeats the finite-difference oracles: not the network (its condition number is ~1) but
#: their shared objective's tanh, measured on 2026-12-06 (a defect to fix there; docs/golden/README.md).
class Hard(NamedTuple):
    """One ill-conditioned network: its id, its inputs, its condition, and the sources it is ill-conditioned for."""

    id: str
    inputs: Callable[[], tuple[NetworkSpec, dict[str, np.ndarray], np.ndarray, np.ndarray]]
    condition: str
    ill_conditioned_for: Mapping[str, str]


def _chain(layers: int, act: str, w: float, b: float, loss: str = "half_sse") -> tuple[NetworkSpec, dict[str, np.ndarray]]:
    """A 1-1-…-1 chain of ``layers`` units, every weight ``w`` and every bias ``b``."""
    spec = NetworkSpec((1,) * (layers + 1), (act,) * layers, loss, "sum")
    params = {k: np.full(shape, w if k[0] == "W" else b) for k, shape in spec.param_shapes().items()}
    return spec, params


def _cancellation() -> tuple:
    spec = NetworkSpec((2, 1), ("identity",), "half_sse", "sum")
    return spec, {"W1": np.array([[3e16], [-1e16]]), "b1": np.array([0.0])}, np.array([[1 / 3, 1.0]]), np.array([[0.0]])


def _saturated() -> tuple:
    spec = NetworkSpec((2, 3, 1), ("sigmoid", "sigmoid"), "bce", "sum")
    params = {"W1": np.array([[20.0, -15.0, 0.5], [20.0, -15.0, -0.25]]), "b1": np.array([0.0, 0.0, 0.1]),
              "W2": np.array([[2.0], [-3.0], [1.5]]), "b2": np.array([-0.5])}
    return spec, params, np.array([[1.0, 1.0]]), np.array([[1.0]])


def _near_kink() -> tuple:
    spec = NetworkSpec((2, 3, 1), ("relu", "identity"), "half_sse", "sum")
    params = {"W1": np.array([[0.5, 1.0, -0.75], [-0.5, 0.25, 0.5]]), "b1": np.array([2e-6, 0.1, -0.2]),
              "W2": np.array([[1.5], [-0.5], [0.75]]), "b2": np.array([0.1])}
    return spec, params, np.array([[1.0, 1.0]]), np.array([[2.0]])


def _flat() -> tuple:
    spec = NetworkSpec((1, 1, 1, 1, 1), ("sigmoid", "tanh", "relu", "softmax"), "softmax_ce", "sum")
    params = {"W1": np.array([[0.5]]), "b1": np.array([0.1]), "W2": np.array([[1.5]]), "b2": np.array([-0.2]),
              "W3": np.array([[2.0]]), "b3": np.array([0.3]), "W4": np.array([[0.7]]), "b4": np.array([0.25])}
    return spec, params, np.array([[0.3]]), np.array([[1.0]])


HARD = [
    Hard("hard-cancellation", _cancellation,
         "cancellation in the forward pass: z = x₁·3e16 − 1e16 with x₁ = fl(1/3) is exactly −1e16·2⁻⁵⁴ ≈ −0.555, but "
         "x₁·3e16 rounds to 1e16, so float64 computes z = 0 and every gradient 0: the error is the whole value",
         {"float64": "the forward pass cancels 16 digits: float64 gives C = 0 and zero gradients; the per-element "
                     "floors count forward rounding (docs/tolerance.md), so the gradients are covered, only coarsely, "
                     "but no bound covers the loss"}),
    Hard("hard-vanishing-chain", lambda: (*_chain(24, "sigmoid", 1.0, -0.5), np.array([[1.0]]), np.array([[1.0]])),
         "vanishing gradient: a 24-layer 1-1-…-1 sigmoid chain, W = 1, b = −0.5 (every σ' ≈ 0.25): ∂C/∂W1 ≈ −1.7e-15 "
         "against ∂C/∂b24 ≈ −0.125; a bound with one global floor allows W1 an error of ~1e-14, larger than W1 "
         "itself (issue 28)", {}),
    Hard("hard-exploding-chain", lambda: (*_chain(20, "tanh", 3.0, 0.0), np.array([[1e-12]]), np.array([[1.0]])),
         "exploding gradient: a 20-layer 1-1-…-1 tanh chain, W = 3, b = 0, x = 1e-12: each layer multiplies by "
         "~3 while tanh' ≈ 1, so ∂C/∂b1 ≈ −1.2e9 while ∂C/∂b20 ≈ −1",
         {}),
    Hard("hard-saturated-units", _saturated,
         "saturated units: hidden units at z = 40 and z = −30 (σ' ≈ 4e-18 and 9e-14) beside one at z = 0.35; their "
         "W1 columns are ~2e-17 and ~8e-13 of the third's", {}),
    Hard("hard-near-kink-relu", _near_kink,
         "near a kink: relu unit 1 has z = 2e-6 (its bias), 2e-6 above the kink; any difference step larger than "
         "2e-6 crosses it",
         {"central": "its steps cross the kink 2e-6 away, so its error estimate does not hold there "
                     "(measured error/bound 2.0, 2026-12-06)",
          "richardson": "its steps cross the kink 2e-6 away (issue 28: it fails even at h = 1e-4)"}),
    Hard("hard-flat-objective", _flat,
         "flat objective: a 1-1-1-1-1 network with a one-class softmax: a = 1 for every input, so C = 0 and every "
         "gradient is exactly 0 (the reference's float64 gets exact zeros as well)", {}),
]


def _hard(case: Hard) -> dict[str, Any]:
    spec, params, x, y = case.inputs()
    entry = _case(Inputs(spec, params, x, y))
    entry.update({"id": case.id, "origin": "built by bpcheck for the higher tier (issue 28); values from the exact "
                  "oracle, confirmed by an independent mpmath computation in tests/test_golden_data.py",
                  "sources": [], **_about("higher", case.condition, case.ill_conditioned_for),
                  "conventions": spec.describe()})
    return entry


def builders() -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """(id, builder) for every entry, in the file's order."""
    out: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("mazur-2-2-2", _mazur),
        ("ex4-debug-lambda-0", lambda: _ex4(0.0)),
        ("ex4-debug-lambda-3", lambda: _ex4(3.0)),
        ("cs231n-two-layer-toy", _cs231n),
        ("seed000-xor", _xor),
    ]
    for i, (act, loss) in enumerate(itertools.product(ACTIVATIONS, LOSSES)):
        if LOSS_REQUIRES_OUTPUT.get(loss, act) == act:
            out.append((f"pairing-{act}-{loss}", functools.partial(_pairing, i, act, loss)))
    out += [(case.id, functools.partial(_hard, case)) for case in HARD]
    return out


#: Entries already built in this process, by id.  An entry's inputs are fixed by the code (``seeds``, the
#: pairings' seeds), so its exact values are too: a second export (the test suite makes two) reuses them
#: instead of repeating the exact XOR run (~10 s).
_BUILT: dict[str, dict[str, Any]] = {}


def export(on_entry: Optional[Callable[[str], None]] = None) -> dict[str, Any]:
    """The data set; ``on_entry(id)`` is called as each entry is done (for progress)."""
    entries = []
    for name, build in builders():
        if name not in _BUILT:
            _BUILT[name] = build()
        entries.append(copy.deepcopy(_BUILT[name]))  # a copy: callers may edit what they get
        if on_entry:
            on_entry(name)
    return {
        "name": "bpcheck golden backpropagation data",
        "version": GOLDEN_VERSION,
        "generator": _generator(),
        "difficulty_levels": DIFFICULTY_LEVELS,
        "layout": "z = a @ W + b, W (n_in, n_out), batch along axis 0; params W1, b1, W2, b2, ...",
        "float_format": "inputs (spec, params, x, y) are float64 numbers written with repr, read back exactly and taken "
                        "as exact reals; every expected value is exact: 'value' (and loss, grads) is the exact value "
                        "correctly rounded to float64, 'exact' (and loss_exact, grads_exact) is [lo, hi], consecutive "
                        f"{ex.DIGITS}-significant-digit decimals with lo <= exact value <= hi; from ball arithmetic "
                        "(python-flint's arb, oracles/exact.py); 'hvp' (and 'hvp_exact') is H·v, the Hessian of C times "
                        "'hvp_direction' v, exact the same way (dual numbers over the balls: the derivative of the exact "
                        f"gradient along v); v is ±1 per element, drawn by numpy.random.default_rng({HVP_SEED}).choice([-1.0, 1.0]) "
                        "per parameter in order, and stored: read it from the file",
        "entries": entries,
    }


def text(data: Optional[Mapping[str, Any]] = None) -> str:
    """The published file's exact text: ``export()`` (or ``data``) as indented JSON."""
    return json.dumps(export() if data is None else data, indent=1, ensure_ascii=False) + "\n"
