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

Promise: published values never change silently.  Any change to the file needs a new
``GOLDEN_VERSION`` and a CHANGELOG.md entry that records the file's SHA-256 (a test enforces both).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
from typing import Any, Callable, Mapping, Optional

import numpy as np

from bpcheck.oracles import exact as ex

from bpcheck.reference import seeds
from bpcheck.reference.network import init_params
from bpcheck.reference.spec import ACTIVATIONS, LOSS_REQUIRES_OUTPUT, LOSSES, NetworkSpec, check_batch

GOLDEN_VERSION = "2.0.0"
#: seed 000's XOR run: the precision it needs (measured: its first 5,000 steps lose ~560 bits of the
#: balls' accuracy, then it contracts); lower precisions are tried first only to fail within a few steps.
XOR_PREC = 1024


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


def _case(inputs: Inputs) -> dict[str, Any]:
    def compute(P: dict, X: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        p = ex.network_pass(inputs.spec, P, X, Y)
        loss = _value(p.loss)
        out: dict[str, Any] = {"loss": loss["value"], "loss_exact": loss["exact"], "grads": {}, "grads_exact": {}}
        for k, g in p.grads.items():
            out["grads"][k], out["grads_exact"][k] = _values(g)
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
        "source": "Matt Mazur, 'A Step by Step Backpropagation Example' (2015), as worked in seed 000",
        "conventions": "E_total = ½Σ(target − out)², sum over the single example; one shared bias per layer, never "
                       "updated; η = 0.5; W1 = [[w1, w3], [w2, w4]], W2 = [[w5, w7], [w6, w8]] (row = input unit)",
        "published": {k: {"printed": v, **step[k]} for k, v in printed.items()},
        "inconsistency": {
            "explanation": "The post's worked step is backpropagation: every gradient taken at the old weights. Its "
                           "later figures come from two algorithms. E_total after 9,999 rounds matches backpropagation's "
                           "exact value; the error after one round and the outputs after 10,000 rounds match only the "
                           "algorithm that updates w5..w8 before back-propagating through them (its script before the "
                           "2015-03-15 fix; bug catalog entry 'stale-weights'). Both algorithms' exact values are "
                           "recorded for each figure, with the one its printed digits match.",
            "figures": {k: {"printed": p, "matches": who, "backprop": backprop[k], "stale_weights": stale[k]}
                        for k, (p, who) in late_printed.items()},
        },
    })
    return entry


def _ex4(lam: float, J: str) -> dict[str, Any]:
    inputs = Inputs(*seeds.ex4_debug(lam))
    entry = _case(inputs)
    unrolled = seeds.ex4_unroll({k: np.array(v) for k, v in entry["grads"].items()})  # a permutation: still exact
    entry.update({
        "id": f"ex4-debug-lambda-{lam:g}",
        "source": "Coursera Machine Learning (Andrew Ng), exercise 4, checkNNGradients' debug network",
        "conventions": "3-5-3 sigmoid, m = 5; Theta = reshape(sin(1:numel), size)/10 column-major with the bias column "
                       "first; labels 1 + mod(1:m, 3) (stored one-hot); J = −(1/m)ΣΣ[y log a + (1−y) log(1−a)] + "
                       f"λ/(2m)Σθ² over non-bias columns; λ = {lam:g} is l2 = λ/m here",
        "published": {"J": {"printed": J, "value": entry["loss"], "exact": entry["loss_exact"]},
                      **{f"grad({i + 1})": {"printed": p, "value": float(unrolled[i])}
                         for i, p in enumerate(["-0.0092782524", "0.0088991196", "-0.0083601076"])}},
        "grad_unrolled_column_major": _arr(unrolled),
    })
    return entry


def _cs231n() -> dict[str, Any]:
    entry = _case(Inputs(*seeds.cs231n_toy(0.05)))
    entry.update({
        "id": "cs231n-two-layer-toy",
        "source": "Stanford CS231n assignment 1, two_layer_net: init_toy_model (seed 0, std 0.1) and init_toy_data (seed 1)",
        "conventions": "ReLU hidden, softmax cross-entropy averaged over N, plus reg·(ΣW1² + ΣW2²) with reg = 0.05 "
                       "(the 2017+ convention), which is l2 = 2·reg here",
        "published": {"loss": {"printed": "1.30378789133", "value": entry["loss"], "exact": entry["loss_exact"]}},
    })
    return entry


def xor_errors() -> list[dict[str, Any]]:
    """Seed 000's printed figure, mean |y − a| before the update at steps 0, 5,000, …, 55,000, exactly."""
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
        "source": "seed 000: the XOR script (np.random.seed(22), 60,000 iterations), run in Python 3",
        "conventions": "3-4-1 sigmoid, no b (x's third column is the bias input); E = ½Σ(y − a)² summed over the "
                       "5 rows; η = 1; mean |y − a| printed before the update at every 5,000th iteration",
        "published": {"first printed error": {"printed": "0.4946899794717"}},
        "printed_errors": xor_errors(),
    })
    entry["published"]["first printed error"].update({k: entry["printed_errors"][0][k] for k in ("value", "exact")})
    return entry


def _pairing(i: int, act: str, loss: str) -> dict[str, Any]:
    hidden = [a for a in ACTIVATIONS if a != "softmax"]
    spec = NetworkSpec((3, 4, 3), (hidden[i % len(hidden)], act), loss, "mean", l2=0.05)
    rng = np.random.default_rng(1000 + i)
    params = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in init_params(spec, seed=i).items()}
    x = rng.uniform(-1, 1, (4, 3))
    y = np.eye(3)[rng.integers(0, 3, 4)] if loss in ("softmax_ce", "bce") else rng.uniform(0, 1, (4, 3))
    entry = _case(Inputs(spec, params, x, y))
    entry.update({"id": f"pairing-{act}-{loss}", "source": "generated by bpcheck (seeded); values from the exact "
                  "oracle, confirmed against the reference and other oracles in tests/test_golden_data.py",
                  "conventions": spec.describe()})
    return entry


def builders() -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """(id, builder) for every entry, in the file's order."""
    out: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("mazur-2-2-2", _mazur),
        ("ex4-debug-lambda-0", lambda: _ex4(0.0, "2.100950569902465")),
        ("ex4-debug-lambda-3", lambda: _ex4(3.0, "2.146359815024358")),
        ("cs231n-two-layer-toy", _cs231n),
        ("seed000-xor", _xor),
    ]
    for i, (act, loss) in enumerate(itertools.product(ACTIVATIONS, LOSSES)):
        if LOSS_REQUIRES_OUTPUT.get(loss, act) == act:
            out.append((f"pairing-{act}-{loss}", functools.partial(_pairing, i, act, loss)))
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
        "layout": "z = a @ W + b, W (n_in, n_out), batch along axis 0; params W1, b1, W2, b2, ...",
        "float_format": "inputs (spec, params, x, y) are float64 numbers written with repr, read back exactly and taken "
                        "as exact reals; every expected value is exact: 'value' (and loss, grads) is the exact value "
                        "correctly rounded to float64, 'exact' (and loss_exact, grads_exact) is [lo, hi], consecutive "
                        f"{ex.DIGITS}-significant-digit decimals with lo <= exact value <= hi; from ball arithmetic "
                        "(python-flint's arb, oracles/exact.py)",
        "entries": entries,
    }


def text(data: Optional[Mapping[str, Any]] = None) -> str:
    """The published file's exact text: ``export()`` (or ``data``) as indented JSON."""
    return json.dumps(export() if data is None else data, indent=1, ensure_ascii=False) + "\n"
