"""The exact oracle's cost: the golden networks, and networks growing up to 784-64-10 with batch 1.

    python bench/exact.py            # about a minute and a half on 2 cores
    python bench/exact.py --budget 60

Times ``oracles.exact.exact`` (ball arithmetic, precision raised until every value is correctly rounded)
beside the float64 reference's ``loss_and_grad`` on the same case, in the same run, and reports the ratio,
the bits of precision each case needed and the worst error of the reference against the exact values in
ulps.  The growing networks stop at the first one past ``--budget`` seconds.  Writes JSON to
bench/results/exact-<UTC timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpcheck.oracles import exact  # noqa: E402
from bpcheck.reference import NetworkSpec, init_params, loss_and_grad  # noqa: E402

try:
    from bench.run import machine
except Exception:  # run as a script: bench/ is not a package
    sys.path.insert(0, str(ROOT / "bench"))
    from run import machine

GOLDEN = ROOT / "docs" / "golden" / "bpcheck-golden.json"
#: 784-64-10 as in bench/run.py (the MNIST-sized network), shrunk in its input width on the way up to it
GROWING = [(16, 8, 10), (64, 16, 10), (196, 32, 10), (392, 64, 10), (784, 64, 10)]


def _time(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def measure(name: str, spec: NetworkSpec, params: dict, x: np.ndarray, y: np.ndarray, repeats: int) -> dict:
    t_exact, result = _time(lambda: exact.exact(spec, params, x, y), repeats)
    t_ref, (_, grads) = _time(lambda: loss_and_grad(spec, params, x, y), max(3, repeats))
    n = sum(g.size for g in grads.values())
    return {"case": name, "network": spec.describe(), "batch": int(np.asarray(x).shape[0]), "parameters": n,
            "exact_s": t_exact, "reference_s": t_ref, "ratio": t_exact / t_ref, "bits": result.precision,
            "unproven": result.unproven, "reference_max_ulps": exact.ulps(grads, result.grads)}


def golden_cases():
    for entry in json.loads(GOLDEN.read_text())["entries"]:
        params = {k: np.array(v) for k, v in entry["params"].items()}
        yield entry["id"], NetworkSpec.from_dict(entry["spec"]), params, np.array(entry["x"]), np.array(entry["y"])


def growing_case(sizes: tuple[int, ...]):
    spec = NetworkSpec(sizes, ("sigmoid", "softmax"), "softmax_ce", "mean")
    rng = np.random.default_rng(0)
    return spec, init_params(spec, 0), rng.random((1, sizes[0])), rng.integers(0, sizes[-1], 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds one growing case may take (default 60)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per golden case (default 3)")
    args = parser.parse_args()
    rows = [measure(*case, repeats=args.repeats) for case in golden_cases()]
    largest = None
    for sizes in GROWING:
        row = measure("growing", *growing_case(sizes), repeats=1)
        rows.append(row)
        if row["exact_s"] > args.budget:
            break
        largest = row["network"]
    print("| case | network | batch | params | exact | reference | ratio | bits | ref. max ulps |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['network']} | {r['batch']} | {r['parameters']} | {r['exact_s'] * 1e3:.1f} ms | "
              f"{r['reference_s'] * 1e6:.0f} µs | {r['ratio']:.0f}× | {r['bits']} | {r['reference_max_ulps']:.3g} |")
    print(f"\nlargest network within {args.budget:g} s: {largest}")
    out = ROOT / "bench" / "results" / f"exact-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine(), "budget_s": args.budget, "largest_within_budget": largest,
                               "rows": rows}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
