"""Golden data people can cite: inputs, parameters and expected values, each with its provenance.

``export()`` builds the data set; ``bpcheck golden`` writes it; ``docs/golden/bpcheck-golden.json`` is the
published copy.  Every float is written with repr (the shortest decimal that reads back to the same
float64), so the file round-trips exactly.  Published digits sit beside the float64 values they
were checked against.

Promise: published values never change silently.  Any change to the file needs a new
``GOLDEN_VERSION`` and a CHANGELOG.md entry that records the file's SHA-256 (a test enforces both).
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from . import seeds
from .bugs import get as get_bug
from .network import forward, init_params, loss_and_grad, sgd_step, train
from .spec import ACTIVATIONS, LOSS_REQUIRES_OUTPUT, LOSSES, NetworkSpec

GOLDEN_VERSION = "1.0.0"


def _arr(a: Any) -> Any:
    return np.asarray(a, dtype=np.float64).tolist()


def _case(spec: NetworkSpec, params: dict, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    C, grads = loss_and_grad(spec, params, x, y)
    return {
        "spec": spec.to_dict(),
        "params": {k: _arr(v) for k, v in params.items()},
        "x": _arr(x),
        "y": _arr(y),
        "loss": C,
        "grads": {k: _arr(v) for k, v in grads.items()},
    }


def _mazur() -> dict[str, Any]:
    spec, params, x, y = seeds.mazur()
    entry = _case(spec, params, x, y)
    _, cache = forward(spec, params, x, y)
    one, _, _ = sgd_step(spec, params, x, y, lr=0.5, update_biases=False)
    stale = get_bug("stale-weights").backprop
    stale_one = train(spec, params, x, y, lr=0.5, steps=1, update_biases=False, backprop=stale)
    stale_many = train(spec, params, x, y, lr=0.5, steps=10000, update_biases=False, backprop=stale)
    fixed_many = train(spec, params, x, y, lr=0.5, steps=9999, update_biases=False)
    entry.update({
        "id": "mazur-2-2-2",
        "source": "Matt Mazur, 'A Step by Step Backpropagation Example' (2015), as worked in seed 000",
        "conventions": "E_total = ½Σ(target − out)², sum over the single example; one shared bias per layer, never "
                       "updated; η = 0.5; W1 = [[w1, w3], [w2, w4]], W2 = [[w5, w7], [w6, w8]] (row = input unit)",
        "published": {
            "out_h1": ["0.593269992", float(cache.a[1][0, 0])],
            "out_h2": ["0.596884378", float(cache.a[1][0, 1])],
            "out_o1": ["0.75136507", float(cache.a[2][0, 0])],
            "out_o2": ["0.772928465", float(cache.a[2][0, 1])],
            "E_total": ["0.298371109", entry["loss"]],
            "dE/dw5": ["0.082167041", entry["grads"]["W2"][0][0]],
            "dE/dw1": ["0.000438568", entry["grads"]["W1"][0][0]],
            "w5+": ["0.35891648", float(one["W2"][0, 0])],
            "w6+": ["0.408666186", float(one["W2"][1, 0])],
            "w7+": ["0.511301270", float(one["W2"][0, 1])],
            "w8+": ["0.561370121", float(one["W2"][1, 1])],
            "w1+": ["0.149780716", float(one["W1"][0, 0])],
            "w2+": ["0.19956143", float(one["W1"][1, 0])],
            "w3+": ["0.24975114", float(one["W1"][0, 1])],
            "w4+": ["0.29950229", float(one["W1"][1, 1])],
            "E_total after 9,999 rounds (old-weights algorithm)": ["0.0000351085", forward(spec, fixed_many, x, y)[0]],
        },
        "inconsistency": {
            "explanation": "The post's later figures come from a different algorithm than its worked step: they match "
                           "updating w5..w8 before back-propagating through them (its script before the 2015-03-15 fix; "
                           "bug catalog entry 'stale-weights'). The worked step, and the 9,999-round error, use the old "
                           "weights, which is backpropagation. Both are recorded here.",
            "E_total after one round (w5..w8 updated first)": ["0.291027924", forward(spec, stale_one, x, y)[0]],
            "out_o1 after 10,000 rounds (w5..w8 updated first)": ["0.015912196", float(forward(spec, stale_many, x, y)[1].a[2][0, 0])],
            "out_o2 after 10,000 rounds (w5..w8 updated first)": ["0.984065734", float(forward(spec, stale_many, x, y)[1].a[2][0, 1])],
        },
    })
    return entry


def _ex4(lam: float, J: str) -> dict[str, Any]:
    spec, params, x, y = seeds.ex4_debug(lam)
    entry = _case(spec, params, x, y)
    unrolled = seeds.ex4_unroll(loss_and_grad(spec, params, x, y)[1])
    entry.update({
        "id": f"ex4-debug-lambda-{lam:g}",
        "source": "Coursera Machine Learning (Andrew Ng), exercise 4, checkNNGradients' debug network",
        "conventions": "3-5-3 sigmoid, m = 5; Theta = reshape(sin(1:numel), size)/10 column-major with the bias column "
                       "first; labels 1 + mod(1:m, 3) (stored one-hot); J = −(1/m)ΣΣ[y log a + (1−y) log(1−a)] + "
                       f"λ/(2m)Σθ² over non-bias columns; λ = {lam:g} is l2 = λ/m here",
        "published": {"J": [J, entry["loss"]],
                      "grad(1)": ["-0.0092782524", float(unrolled[0])],
                      "grad(2)": ["0.0088991196", float(unrolled[1])],
                      "grad(3)": ["-0.0083601076", float(unrolled[2])]},
        "grad_unrolled_column_major": _arr(unrolled),
    })
    return entry


def _cs231n() -> dict[str, Any]:
    entry = _case(*seeds.cs231n_toy(0.05))
    entry.update({
        "id": "cs231n-two-layer-toy",
        "source": "Stanford CS231n assignment 1, two_layer_net: init_toy_model (seed 0, std 0.1) and init_toy_data (seed 1)",
        "conventions": "ReLU hidden, softmax cross-entropy averaged over N, plus reg·(ΣW1² + ΣW2²) with reg = 0.05 "
                       "(the 2017+ convention), which is l2 = 2·reg here",
        "published": {"loss": ["1.30378789133", entry["loss"]]},
    })
    return entry


def _xor() -> dict[str, Any]:
    spec, params, x, y = seeds.xor_seed000()
    errors: list[float] = []
    train(spec, params, x, y, lr=1.0, steps=60000, every=5000,
          on_log=lambda step, C, cache: errors.append(float(np.mean(np.abs(cache.y - cache.a[-1])))))
    entry = _case(spec, params, x, y)
    entry.update({
        "id": "seed000-xor",
        "source": "seed 000: the XOR script (np.random.seed(22), 60,000 iterations), run in Python 3",
        "conventions": "3-4-1 sigmoid, no b (x's third column is the bias input); E = ½Σ(y − a)² summed over the "
                       "5 rows; η = 1; mean |y − a| printed before the update at every 5,000th iteration",
        "printed_errors": errors,
    })
    return entry


def _pairings() -> list[dict[str, Any]]:
    out = []
    hidden = [a for a in ACTIVATIONS if a != "softmax"]
    for i, (act, loss) in enumerate(itertools.product(ACTIVATIONS, LOSSES)):
        if LOSS_REQUIRES_OUTPUT.get(loss, act) != act:
            continue
        spec = NetworkSpec((3, 4, 3), (hidden[i % len(hidden)], act), loss, "mean", l2=0.05)
        rng = np.random.default_rng(1000 + i)
        params = {k: v + 0.5 * rng.standard_normal(v.shape) for k, v in init_params(spec, seed=i).items()}
        x = rng.uniform(-1, 1, (4, 3))
        y = np.eye(3)[rng.integers(0, 3, 4)] if loss in ("softmax_ce", "bce") else rng.uniform(0, 1, (4, 3))
        entry = _case(spec, params, x, y)
        entry.update({"id": f"pairing-{act}-{loss}", "source": "generated by bpcheck (seeded); values confirmed by the "
                      "oracles in tests/test_golden_data.py", "conventions": spec.describe()})
        out.append(entry)
    return out


def export() -> dict[str, Any]:
    return {
        "name": "bpcheck golden backpropagation data",
        "version": GOLDEN_VERSION,
        "layout": "z = a @ W + b, W (n_in, n_out), batch along axis 0; params W1, b1, W2, b2, ...",
        "float_format": "JSON numbers written with repr: each reads back to the exact float64",
        "entries": [_mazur(), _ex4(0.0, "2.100950569902465"), _ex4(3.0, "2.146359815024358"), _cs231n(), _xor(), *_pairings()],
    }
