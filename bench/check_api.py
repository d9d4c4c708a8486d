"""The public check API (bpcheck.check_function) against torch.autograd.gradcheck and jax.test_util.check_grads.

    python bench/check_api.py                 # full (3 interleaved repeats) + fast (1000 seeds), ~5 minutes on 2 cores
    python bench/check_api.py --quick         # 1 repeat, 100 seeds
    python bench/check_api.py --batch 16,4,64 # the batch sizes N for the full check (the first also for fast)
    python bench/check_api.py --threads 1     # BLAS and torch pinned to one thread each (steadier on a loaded machine)
    python bench/check_api.py --fast-only     # the fast check alone (1000 seeds), ~1 minute

The function is a CS231n-style affine layer and softmax loss, loss(W) = mean_n softmax_ce(X W + b, y),
with W (128, 256) the checked input, X (N, 128), b (256,) and labels y fixed; each library checks
its own implementation of it (NumPy for bpcheck, torch for gradcheck, jax.numpy for check_grads),
all in float64.

- **full**: every element of W.  bpcheck ``mode="full"`` against ``torch.autograd.gradcheck``
  (default full mode), interleaved repeat by repeat so load on the machine hits both alike.
- **fast**: one element of the right gradient changed by 1e-6·max|g| (random place and sign, one
  per seed).  bpcheck ``mode="fast"`` (verdict, then localisation) against ``gradcheck(fast_mode=True)``
  on an autograd.Function returning the planted gradient, and ``check_grads(order=1, modes=["rev"])``
  on a custom_vjp returning it.  False alarms: bpcheck on the right gradient, one direction seed each.

Prints a markdown table; writes JSON (machine, load, every timing) to bench/results/check_api-<UTC>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpcheck  # noqa: E402

try:
    from bench.run import machine, timed
except Exception:  # run as a script: bench/ is not a package
    sys.path.insert(0, str(ROOT / "bench"))
    from run import machine, timed

SHAPE = (128, 256)
ERROR = 1e-6  # times max|g|


def problem(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X, b, y = rng.standard_normal((batch, SHAPE[0])), 0.1 * rng.standard_normal(SHAPE[1]), rng.integers(0, SHAPE[1], batch)
    return 0.05 * rng.standard_normal(SHAPE), {"X": X, "b": b, "y": y}


def loss(W, X, b, y):
    """mean softmax cross-entropy of the scores X @ W + b: the checked function (NumPy)."""
    s = X @ W + b
    s = s - np.max(s.real, axis=1, keepdims=True)
    return np.mean(np.log(np.sum(np.exp(s), axis=1)) - s[np.arange(len(y)), y])


def grad(W, X, b, y):
    s = X @ W + b
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1
    return X.T @ p / len(y)


def torch_loss(static, planted=None):
    import torch

    X, b, y = (torch.tensor(static[k]) for k in ("X", "b", "y"))

    def f(W):
        return torch.nn.functional.cross_entropy(X @ W + b, y)

    if planted is None:
        return f

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx, W):
            with torch.no_grad():
                return f(W)

        @staticmethod
        def backward(ctx, g):
            return g * torch.tensor(planted)

    return Planted.apply


def jax_checker(static):
    try:
        import jax
        import jax.numpy as jnp
        from jax.test_util import check_grads
    except Exception:
        return None
    jax.config.update("jax_enable_x64", True)
    X, b, y = jnp.asarray(static["X"]), jnp.asarray(static["b"]), jnp.asarray(static["y"])

    def f(W):
        s = X @ W + b
        return -jnp.mean(jax.nn.log_softmax(s, axis=1)[jnp.arange(len(static["y"])), y])

    def passes(W, planted) -> bool:
        g = jax.custom_vjp(f)
        g.defvjp(lambda W: (f(W), None), lambda res, ct: (ct * jnp.asarray(planted),))
        try:
            check_grads(g, (jnp.asarray(W),), order=1, modes=["rev"])
            return True
        except AssertionError:
            return False

    return passes


def bench_full(batch: int, repeats: int) -> dict:
    import torch

    W, static = problem(batch)
    Wt = torch.tensor(W, requires_grad=True)
    f = torch_loss(static)
    rows: dict[str, list[float]] = {"torch gradcheck (full)": [], "bpcheck full": []}
    evaluations, ok = 0, True
    for _ in range(repeats):
        t = time.perf_counter()
        torch.autograd.gradcheck(f, (Wt,))
        rows["torch gradcheck (full)"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = bpcheck.check_function(loss, {"W": W}, grad, static=static, mode="full")
        rows["bpcheck full"].append(time.perf_counter() - t)
        evaluations, ok = result.evaluations, ok and result.ok
    med = {k: statistics.median(v) for k, v in rows.items()}
    one = {"numpy loss": [], "torch loss": []}  # one evaluation each: what both full checks repeat twice per element
    with torch.no_grad():
        for _ in range(5):
            one["numpy loss"].append(statistics.mean(timed(lambda: loss(W, **static), 200)))
            one["torch loss"].append(statistics.mean(timed(lambda: f(Wt), 200)))
    return {"batch": batch, "elements": W.size, "median_seconds": med, "all_seconds": rows,
            "one_evaluation_seconds": {k: statistics.median(v) for k, v in one.items()},
            "speedup_vs_torch_full": med["torch gradcheck (full)"] / med["bpcheck full"],
            "bpcheck_evaluations": evaluations, "bpcheck_passed_right_gradient": ok}


def bench_fast(batch: int, seeds: int, jax_seeds: int) -> dict:
    import torch

    W, static = problem(batch)
    g = grad(W, **static)
    rng = np.random.default_rng(1)
    jax_passes = jax_checker(static)
    caught = {"bpcheck fast": 0, "torch gradcheck fast_mode": 0, "jax check_grads": 0}
    ran = {k: 0 for k in caught}
    seconds: dict[str, list[float]] = {k: [] for k in caught}
    verdict_evals, total_evals, named, taylor_failed = [], [], 0, 0
    for seed in range(seeds):
        k = int(rng.integers(g.size))
        bad = g.copy()
        bad.flat[k] += ERROR * np.abs(g).max() * rng.choice([-1.0, 1.0])
        where = f"W[{', '.join(map(str, np.unravel_index(k, g.shape)))}]"
        t = time.perf_counter()
        result = bpcheck.check_function(loss, {"W": W}, lambda W, **_: bad, static=static, mode="fast", seed=seed)
        seconds["bpcheck fast"].append(time.perf_counter() - t)
        ran["bpcheck fast"] += 1
        caught["bpcheck fast"] += not result.ok
        verdict_evals.append(result.fast["evaluations"])
        total_evals.append(result.evaluations)
        named += any(e.where == where for v in result.inputs for e in v.elements)
        taylor_failed += result.taylor is False  # the confirming Taylor test, run on a verdict that did not pass
        Wt = torch.tensor(W, requires_grad=True)
        t = time.perf_counter()
        try:
            passed = torch.autograd.gradcheck(torch_loss(static, bad), (Wt,), fast_mode=True)
        except torch.autograd.gradcheck.GradcheckError:
            passed = False
        seconds["torch gradcheck fast_mode"].append(time.perf_counter() - t)
        ran["torch gradcheck fast_mode"] += 1
        caught["torch gradcheck fast_mode"] += not passed
        if jax_passes is not None and seed < jax_seeds:
            t = time.perf_counter()
            caught["jax check_grads"] += not jax_passes(W, bad)
            seconds["jax check_grads"].append(time.perf_counter() - t)
            ran["jax check_grads"] += 1
    false_alarms, alarm_evals, taylor_ran = 0, [], 0
    for seed in range(seeds):
        result = bpcheck.check_function(loss, {"W": W}, grad, static=static, mode="fast", seed=seed)
        false_alarms += not result.ok
        alarm_evals.append(result.evaluations)
        taylor_ran += result.taylor is not None
    return {"batch": batch, "seeds": ran, "caught": caught, "error": f"{ERROR} * max|g|",
            "median_seconds": {k: statistics.median(v) for k, v in seconds.items() if v},
            "bpcheck_verdict_evaluations_max": max(verdict_evals), "bpcheck_total_evaluations_max": max(total_evals),
            "bpcheck_total_evaluations_median": statistics.median(total_evals), "bpcheck_named_the_element": named,
            "false_alarms": false_alarms, "false_alarm_seeds": seeds, "evaluations_on_right_gradient_max": max(alarm_evals),
            "taylor_failed_on_planted": taylor_failed, "taylor_ran_on_right": taylor_ran}


def markdown(r: dict) -> str:
    lines = ["| measurement | value |", "|---|---|"]
    for f in r["full"]:
        for k, v in f["median_seconds"].items():
            lines.append(f"| full, W {SHAPE}, batch {f['batch']}: {k} | {v:.2f} s (median of {len(f['all_seconds'][k])}) |")
        lines.append(f"| full, batch {f['batch']}: torch time / bpcheck time | {f['speedup_vs_torch_full']:.2f}× "
                     f"({f['bpcheck_evaluations']} evaluations of loss) |")
        one = f["one_evaluation_seconds"]
        lines.append(f"| batch {f['batch']}: one evaluation of the loss, numpy / torch | {1e6 * one['numpy loss']:.0f} µs / "
                     f"{1e6 * one['torch loss']:.0f} µs |")
    f = r["fast"]
    for k in f["caught"]:
        if f["seeds"][k]:
            lines.append(f"| one element off by {f['error']}, batch {f['batch']}: {k} | caught {f['caught'][k]} of {f['seeds'][k]}, "
                         f"{1e3 * f['median_seconds'][k]:.1f} ms per check (median) |")
    lines.append(f"| bpcheck fast: evaluations to the verdict | at most {f['bpcheck_verdict_evaluations_max']} |")
    lines.append(f"| bpcheck fast + localisation: evaluations | at most {f['bpcheck_total_evaluations_max']} "
                 f"(median {f['bpcheck_total_evaluations_median']:.0f}); named the planted element in "
                 f"{f['bpcheck_named_the_element']} of {f['seeds']['bpcheck fast']} |")
    lines.append(f"| bpcheck fast: false alarms on the right gradient | {f['false_alarms']} of {f['false_alarm_seeds']} seeds "
                 f"({f['evaluations_on_right_gradient_max']} evaluations each at most) |")
    lines.append(f"| bpcheck fast: its confirming Taylor test | FAILED on {f['taylor_failed_on_planted']} of "
                 f"{f['seeds']['bpcheck fast']} planted gradients (as the verdict); run on {f['taylor_ran_on_right']} of "
                 f"{f['false_alarm_seeds']} right ones (only verdicts that did not pass get it) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 repeat and 100 seeds")
    parser.add_argument("--batch", default="16,4,64", help="batch sizes N for the full check (the first is used for fast)")
    parser.add_argument("--fast-only", action="store_true", help="skip the full check")
    parser.add_argument("--threads", type=int, default=0, help="pin numpy's BLAS and torch to this many threads (0: their defaults)")
    args = parser.parse_args()
    if args.threads:
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    batches = [int(b) for b in args.batch.split(",")]
    r: dict = {"started": dt.datetime.now(dt.timezone.utc).isoformat(), "load_average_before": os.getloadavg(),
               "threads": args.threads or "defaults"}
    r["machine"] = machine()
    r["full"] = []
    for batch in [] if args.fast_only else batches:
        print(f"full check, batch {batch} ...", file=sys.stderr)
        r["full"].append(bench_full(batch, 1 if args.quick else 3))
    print("fast check ...", file=sys.stderr)
    r["fast"] = bench_fast(batches[0], 100 if args.quick else 1000, 20 if args.quick else 100)
    r["load_average_after"] = os.getloadavg()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("check_api-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".json")
    path.write_text(json.dumps(r, indent=2, default=float))
    print(markdown(r))
    print(f"\nthreads: {r['threads']}; load average before {r['load_average_before']}, after {r['load_average_after']}")
    print(f"(JSON: {path.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
