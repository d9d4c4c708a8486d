"""Backward hygiene: bpcheck.check_vjp against torch gradcheck and jax check_grads, side by side in one run.

    python bench/backward_hygiene.py            # 20 seeds per case and checker, ~1 minute on 2 cores
    python bench/backward_hygiene.py --quick    # 5 seeds

Four backwards written as CS231n's layers.py writes them (``backward(dout, cache)``, the layers of
tests/test_backward_hygiene.py), each with one hygiene bug, and their correct twins for false alarms:

- **ignores dout**: an affine backward written against a checker that uses dout = 1 (the gradient of
  sum(out), whatever dout is);
- **writes into dout**: a relu backward that zeroes the caller's dout in place and returns it (right values);
- **writes into its cache**: a batchnorm backward that scales x̂ in its cache after use (right values, once);
- **not reentrant**: a class layer whose backward adds dw into ``self.dw``, which only the forward zeroes
  (outside the cache): a second backward on the same forward returns 2·dw.

Each checker checks the same NumPy layer through its own interface: bpcheck ``check_vjp(forward, backward,
inputs)``; torch ``gradcheck`` on an ``autograd.Function`` whose forward calls the layer's forward and
keeps the cache on ctx, and whose backward calls the layer's backward on ``grad_output.numpy()`` (a view,
as a user writes it); jax ``check_grads(order=1, modes=["rev"])`` on a ``custom_vjp`` whose fwd calls the
layer's forward through ``pure_callback`` and keeps the cache as residuals, and whose bwd calls the layer's
backward on ``np.asarray`` of the cotangent and the residuals (read-only views of jax's immutable arrays).

An outcome is what the checker said: bpcheck's verdict (passed, FAILED, refused), with "+ hazard" when it
named a write into dout or the cache; for torch and jax "flagged" (its check failed), "raised" (the layer
raised inside it, e.g. on writing into a read-only array) or "passed".  Beside bpcheck's verdict: the
confirming Taylor test's verdict on the verdicts that did not pass (it must agree).

Prints a markdown table; writes JSON (machine, every outcome and timing) to bench/results/backward_hygiene-<UTC>.json.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpcheck  # noqa: E402
from tests import test_backward_hygiene as layers  # noqa: E402

try:
    from bench.run import machine
except Exception:  # run as a script: bench/ is not a package
    sys.path.insert(0, str(ROOT / "bench"))
    from run import machine


# --- the not-reentrant layer: a gradient buffer on the layer object, zeroed by the forward -------------------


class AffineLayer:
    """A class layer as CS231n's later assignments write them: the gradient kept on ``self``, outside the cache."""

    def __init__(self, accumulate: bool):
        self.accumulate = accumulate
        self.dw: Any = None

    def forward(self, x, w, b):
        self.dw = np.zeros_like(w)  # zero_grad in the forward
        return x @ w + b, (x, w)

    def backward(self, dout, cache):
        x, w = cache
        if self.accumulate:
            self.dw += x.T @ dout  # never zeroed here: a second backward on the same forward returns 2·dw
        else:
            self.dw = x.T @ dout
        return dout @ w.T, self.dw.copy(), dout.sum(axis=0)


def _layer(accumulate: bool) -> tuple[Callable, Callable]:
    layer = AffineLayer(accumulate)
    return layer.forward, layer.backward


class Case(NamedTuple):
    name: str
    forward: Callable
    backward: Callable
    inputs: Callable[[int], dict]


CASES = [
    Case("ignores dout", layers.affine_forward, layers.affine_backward_dout_one, layers._affine),
    Case("writes into dout", layers.relu_forward, layers.relu_backward_in_place, layers._relu),
    Case("writes into its cache", layers.batchnorm_forward, layers.batchnorm_backward_scales_cache, layers._batchnorm),
    Case("not reentrant", *_layer(accumulate=True), layers._affine),
    Case("right: affine", layers.affine_forward, layers.affine_backward, layers._affine),
    Case("right: relu", layers.relu_forward, layers.relu_backward, layers._relu),
    Case("right: batchnorm", layers.batchnorm_forward, layers.batchnorm_backward, layers._batchnorm),
    Case("right: class affine", *_layer(accumulate=False), layers._affine),
]


# --- the three checkers ---------------------------------------------------------------------------------------


def bpcheck_outcome(case: Case, seed: int) -> tuple[str, Any]:
    result = bpcheck.check_vjp(case.forward, case.backward, case.inputs(seed), seed=seed)
    outcome = result.verdict + (" + hazard" if any("hazard:" in n for n in result.notes) else "")
    return outcome, result.taylor


def _as_tuple(grads: Any) -> tuple:
    return grads if isinstance(grads, tuple) else (grads,)


def torch_outcome(case: Case, seed: int) -> str:
    import torch

    inputs = case.inputs(seed)
    names = list(inputs)

    class Layer(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *arrays):
            out, ctx.layer_cache = case.forward(**{k: a.detach().numpy() for k, a in zip(names, arrays)})
            return torch.from_numpy(np.asarray(out))

        @staticmethod
        def backward(ctx, dout):
            return tuple(torch.from_numpy(np.asarray(g)) for g in _as_tuple(case.backward(dout.numpy(), ctx.layer_cache)))

    args = tuple(torch.tensor(v, requires_grad=True) for v in inputs.values())
    try:
        return "passed" if torch.autograd.gradcheck(Layer.apply, args) else "flagged"
    except sys.modules["torch.autograd.gradcheck"].GradcheckError:
        return "flagged"
    except Exception:
        return "raised"


def jax_outcome(case: Case, seed: int) -> str:
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    inputs = case.inputs(seed)
    names = list(inputs)
    shape = np.asarray(case.forward(**inputs)[0]).shape

    def primal(*arrays):
        return np.asarray(case.forward(**{k: np.asarray(a) for k, a in zip(names, arrays)})[0])

    @jax.custom_vjp
    def layer(*arrays):
        return jax.pure_callback(primal, jax.ShapeDtypeStruct(shape, jnp.float64), *arrays)

    def fwd(*arrays):
        out, cache = case.forward(**{k: np.asarray(a) for k, a in zip(names, arrays)})
        return jnp.asarray(out), jax.tree_util.tree_map(jnp.asarray, cache)

    def bwd(cache, dout):
        cache = jax.tree_util.tree_map(np.asarray, cache)
        return tuple(jnp.asarray(g) for g in _as_tuple(case.backward(np.asarray(dout), cache)))

    layer.defvjp(fwd, bwd)
    try:
        check_grads(layer, tuple(jnp.asarray(v) for v in inputs.values()), order=1, modes=["rev"])
        return "passed"
    except AssertionError:
        return "flagged"
    except Exception:
        return "raised"


CHECKERS: dict[str, Callable[[Case, int], Any]] = {"bpcheck": bpcheck_outcome, "torch": torch_outcome, "jax": jax_outcome}


# --- the run ------------------------------------------------------------------------------------------------


def run(seeds: int) -> dict:
    record: dict = {}
    for seed in range(seeds):
        for case in CASES:
            for lib, check in CHECKERS.items():
                t = time.perf_counter()
                outcome = check(case, seed)
                row = record.setdefault(case.name, {}).setdefault(lib, {"outcomes": [], "seconds": [], "taylor": []})
                row["seconds"].append(time.perf_counter() - t)
                if lib == "bpcheck":
                    outcome, taylor = outcome
                    row["taylor"].append(taylor)
                row["outcomes"].append(outcome)
    return record


def _cell(row: dict) -> str:
    counts = collections.Counter(row["outcomes"])
    said = ", ".join(f"{what} {n}/{len(row['outcomes'])}" for what, n in sorted(counts.items()))
    return f"{said}; {1e3 * statistics.median(row['seconds']):.1f} ms"


def _taylor(row: dict) -> str:
    """The confirming Taylor test on the verdicts that did not pass: how often it FAILED too."""
    judged = [(o, t) for o, t in zip(row["outcomes"], row["taylor"]) if t is not None]
    if not judged:
        return "not run (no verdict failed)"
    agree = sum((not t) == o.startswith("FAILED") for o, t in judged)
    return f"agrees {agree}/{len(judged)}"


def markdown(record: dict) -> str:
    lines = ["| backward | bpcheck check_vjp | its Taylor step | torch gradcheck | jax check_grads (rev) |",
             "|---|---|---|---|---|"]
    for case, libs in record.items():
        lines.append(f"| {case} | {_cell(libs['bpcheck'])} | {_taylor(libs['bpcheck'])} | {_cell(libs['torch'])} | "
                     f"{_cell(libs['jax'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 seeds per case and checker")
    args = parser.parse_args()
    record = run(5 if args.quick else 20)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("backward_hygiene-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".json")
    path.write_text(json.dumps({"machine": machine(), "record": record}, indent=2, default=str))
    print(markdown(record))
    print(f"\n(JSON: {path.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
