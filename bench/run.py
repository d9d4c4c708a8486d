"""bpcheck's benchmarks: one command, everything measured side by side in one run.

    python bench/run.py                 # everything (about 10 minutes on 2 cores)
    python bench/run.py --quick         # fewer repeats and trials, no test-suite timing
    python bench/run.py --only fullcheck,fastcheck,step,grader,realstyle,startup,tests
    python bench/run.py --only grader --against main   # the grader against main's, interleaved
    python bench/run.py --only mooc                     # 2,000 distinct submissions per mode (never by default)

Prints a markdown table and writes JSON (machine info, medians over repeats, ratios) to
bench/results/<UTC timestamp>.json.  These machines are shared and noisy, so the figures that
matter are ratios of things timed in the same run, interleaved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bpcheck.oracles import finite_diff  # noqa: E402
from bpcheck.oracles.gradcheck import check_gradients  # noqa: E402
from bpcheck.reference import NetworkSpec, init_params, loss_and_grad  # noqa: E402
from bpcheck.reference.network import Backprop, _forward  # noqa: E402
from tests.real_style_table import EXPECTED  # noqa: E402

SPEC = NetworkSpec((784, 64, 10), ("sigmoid", "softmax"), "softmax_ce", "mean")
BATCH = 32


def case():
    rng = np.random.default_rng(0)
    return init_params(SPEC, 0), rng.random((BATCH, 784)), rng.integers(0, 10, BATCH)


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _torch_setup(params, x, labels, planted=None):
    """The same network in torch; ``planted`` replaces its backward with given gradients (a wrong autograd)."""
    import torch

    names = list(params)
    xt, yt = torch.tensor(x), torch.tensor(labels)

    def loss(W1, b1, W2, b2):
        return torch.nn.functional.cross_entropy(torch.sigmoid(xt @ W1 + b1) @ W2 + b2, yt)

    if planted is None:
        return loss, names

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *ps):
            with torch.no_grad():
                return loss(*ps)

        @staticmethod
        def backward(ctx, g):
            return tuple(g * torch.tensor(planted[k]) for k in names)

    return (lambda *ps: Planted.apply(*ps)), names


def bench_fullcheck(repeats: int) -> dict:
    import torch

    params, x, labels = case()
    _, grads = loss_and_grad(SPEC, params, x, labels)
    loss, names = _torch_setup(params, x, labels)
    tp = [torch.tensor(params[k], requires_grad=True) for k in names]
    rows = {"torch gradcheck (full)": [], "bpcheck central (full)": [], "bpcheck complex step (full)": []}
    errors = {}
    for _ in range(repeats):  # interleaved, so load on the machine hits all three alike
        rows["torch gradcheck (full)"] += timed(lambda: torch.autograd.gradcheck(loss, tp), 1)
        t = time.perf_counter()
        est = finite_diff.central(SPEC, params, x, labels)
        rows["bpcheck central (full)"].append(time.perf_counter() - t)
        errors["central"] = max(np.linalg.norm(est.grads[k] - grads[k]) / np.linalg.norm(grads[k]) for k in grads)
        t = time.perf_counter()
        est = finite_diff.complex_step(SPEC, params, x, labels)
        rows["bpcheck complex step (full)"].append(time.perf_counter() - t)
        errors["complex_step"] = max(np.linalg.norm(est.grads[k] - grads[k]) / np.linalg.norm(grads[k]) for k in grads)
    med = {k: statistics.median(v) for k, v in rows.items()}
    base = med["torch gradcheck (full)"]
    return {"median_seconds": med, "all_seconds": rows, "speedup_vs_torch_full": {k: base / v for k, v in med.items()},
            "normwise_error_vs_reference": errors, "parameters": sum(int(np.prod(s)) for s in SPEC.param_shapes().values())}


def bench_fastcheck(trials: int, jax_trials: int) -> dict:
    """Single wrong elements of size 1e-6·max|g| at random places: who catches them, and false alarms on right gradients."""
    import torch

    params, x, labels = case()
    _, grads = loss_and_grad(SPEC, params, x, labels)
    biggest = max(float(np.abs(g).max()) for g in grads.values())
    names = list(grads)
    sizes = [grads[k].size for k in names]
    rng = np.random.default_rng(1)
    caught = {"bpcheck fast (8 passes)": 0, "torch gradcheck fast_mode": 0, "jax check_grads": 0}
    ran = {k: 0 for k in caught}
    seconds = {k: [] for k in caught}
    jax_check = _jax_checker(params, x, labels)
    for trial in range(trials):
        which = rng.choice(len(names), p=np.array(sizes) / sum(sizes))
        bad = {k: v.copy() for k, v in grads.items()}
        bad[names[which]].flat[rng.integers(sizes[which])] += 1e-6 * biggest * rng.choice([-1, 1])
        t = time.perf_counter()
        ok = check_gradients(SPEC, params, x, labels, bad, mode="fast", seed=trial).ok
        seconds["bpcheck fast (8 passes)"].append(time.perf_counter() - t)
        caught["bpcheck fast (8 passes)"] += not ok
        ran["bpcheck fast (8 passes)"] += 1
        if trial < trials:
            fn, tnames = _torch_setup(params, x, labels, planted=bad)
            tp = [torch.tensor(params[k], requires_grad=True) for k in tnames]
            t = time.perf_counter()
            try:
                passed = torch.autograd.gradcheck(fn, tp, fast_mode=True)
            except torch.autograd.gradcheck.GradcheckError:
                passed = False
            seconds["torch gradcheck fast_mode"].append(time.perf_counter() - t)
            caught["torch gradcheck fast_mode"] += not passed
            ran["torch gradcheck fast_mode"] += 1
        if jax_check is not None and trial < jax_trials:
            t = time.perf_counter()
            caught["jax check_grads"] += not jax_check(bad)
            seconds["jax check_grads"].append(time.perf_counter() - t)
            ran["jax check_grads"] += 1
    false_alarms = sum(not check_gradients(SPEC, params, x, labels, grads, mode="fast", seed=s).ok for s in range(trials))
    return {"trials": ran, "caught": caught, "detection_rate": {k: caught[k] / ran[k] for k in caught if ran[k]},
            "median_seconds": {k: statistics.median(v) for k, v in seconds.items() if v},
            "error_size": "1e-6 * max|g|", "false_alarms_on_correct_gradients": false_alarms, "false_alarm_seeds": trials}


def _jax_checker(params, x, labels):
    try:
        import jax
        import jax.numpy as jnp
        from jax.test_util import check_grads
    except Exception:
        return None
    jax.config.update("jax_enable_x64", True)
    xj, yj = jnp.asarray(x), jnp.asarray(np.eye(10)[labels])
    names = list(params)

    def loss(*ps):
        W1, b1, W2, b2 = ps
        z = jax.nn.sigmoid(xj @ W1 + b1) @ W2 + b2
        return -jnp.mean(jnp.sum(yj * jax.nn.log_softmax(z, axis=1), axis=1))

    def run(planted) -> bool:
        f = jax.custom_vjp(loss)
        f.defvjp(lambda *ps: (loss(*ps), None), lambda res, g: tuple(g * jnp.asarray(planted[k]) for k in names))
        try:
            check_grads(f, tuple(jnp.asarray(params[k]) for k in names), order=1, modes=["rev"])
            return True
        except AssertionError:
            return False

    return run


def bench_step(repeats: int) -> dict:
    import torch

    from bpcheck.oracles.torch_oracle import _objective

    params, x, labels = case()
    y = np.eye(10)[labels]

    def ours():
        C, cache = _forward(SPEC, params, x, y)
        return Backprop(SPEC, params, cache).run()

    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt, yt = torch.tensor(x), torch.tensor(y)

    def theirs():
        for v in tp.values():
            v.grad = None
        _objective(SPEC, tp, xt, yt).backward()

    ours(), theirs()
    a, b, c = [], [], []
    for _ in range(repeats):
        a += timed(ours, 20)
        b += timed(theirs, 20)
        c += timed(lambda: loss_and_grad(SPEC, params, x, labels), 20)
    med = {"reference forward+backward": statistics.median(a), "torch eager forward+backward": statistics.median(b),
           "reference loss_and_grad (with input checks)": statistics.median(c)}
    return {"median_seconds": med, "torch_over_reference": med["torch eager forward+backward"] / med["reference forward+backward"]}


#: examples/real-style, by assignment, from the table tests/test_real_style.py checks them against
REAL_STYLE = {a: [s for a2, s, *_ in EXPECTED if a2 == a] for a in dict.fromkeys(a for a, *_ in EXPECTED)}


def _distinct_copy(src: Path, dst: Path, i: int) -> None:
    """A copy of a submission whose files differ from every other copy's, so nothing is deduplicated or reused."""
    import shutil

    import nbformat

    shutil.copytree(src, dst) if src.is_dir() else (dst.parent.mkdir(parents=True, exist_ok=True), shutil.copy(src, dst))
    for f in ([dst] if dst.is_file() else sorted(dst.rglob("*"))):
        if f.suffix == ".py":
            f.write_text(f.read_text() + f"\n# copy {i}\n")
        elif f.suffix == ".ipynb":
            nb = nbformat.read(str(f), as_version=4)
            nb.cells.append(nbformat.v4.new_code_cell(f"# copy {i}"))
            nbformat.write(nb, str(f))


def bench_realstyle(copies: int) -> dict:
    """Submissions per second on the real-style files as found (folders, notebooks, Python 2, ...), --jobs 2."""
    from bpcheck.grader.assignment import load
    from bpcheck.grader.batch import grade_batch
    from bpcheck.grader.grade import Grader

    real = ROOT / "examples" / "real-style"
    out: dict = {"copies": copies, "by_assignment": {}}
    total_n, total_s = 0, 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for assignment, items in REAL_STYLE.items():
            grader = Grader(load(assignment))
            paths = []
            for i in range(copies):
                for item in items:
                    dst = Path(tmp) / assignment / f"copy{i}" / item
                    _distinct_copy(real / item, dst, i)
                    paths.append(dst)
            t = time.perf_counter()
            results = grade_batch(grader, paths, 2, Path(tmp) / f"state-{assignment}")
            seconds = time.perf_counter() - t
            out["by_assignment"][assignment] = {"submissions": len(paths), "seconds": seconds,
                                                "submissions_per_second": len(paths) / seconds,
                                                "verdicts": {v: sum(r.verdict == v for r in results) for v in ("pass", "fail", "error")}}
            total_n += len(paths)
            total_s += seconds
        out["sandbox"] = grader.sandbox_message
    out["submissions"], out["seconds"], out["jobs=2 submissions_per_second"] = total_n, total_s, total_n / total_s
    return out


def bench_startup(repeats: int) -> dict:
    """pytest's start-up in a folder of one trivial test, with bpcheck's plugin and without it (``-p no:bpcheck``,
    what an environment without bpcheck loads), interleaved; and ``import bpcheck`` alone."""
    runs = {"pytest, bpcheck plugin loaded": [], "pytest, plugin off (-p no:bpcheck)": [], "python -c 'import bpcheck'": []}
    with tempfile.TemporaryDirectory() as d:
        Path(d, "test_one.py").write_text("def test_one():\n    assert True\n")
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"]
        commands = {"pytest, bpcheck plugin loaded": base, "pytest, plugin off (-p no:bpcheck)": [*base, "-p", "no:bpcheck"],
                    "python -c 'import bpcheck'": [sys.executable, "-c", "import bpcheck"]}
        for _ in range(repeats):
            for name, cmd in commands.items():
                t = time.perf_counter()
                subprocess.run(cmd, cwd=d, capture_output=True, check=True)
                runs[name].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {"median_seconds": med, "repeats": repeats,
            "plugin_cost_seconds": med["pytest, bpcheck plugin loaded"] - med["pytest, plugin off (-p no:bpcheck)"]}


def bench_tests() -> dict:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT, capture_output=True, text=True)
    return {"seconds": time.perf_counter() - t, "exit_code": proc.returncode, "summary": proc.stdout.strip().splitlines()[-1:]}


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "numpy": np.__version__, "processor": platform.processor()}
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except Exception:
        pass
    try:
        import jax

        info["jax"] = jax.__version__
    except Exception:
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [(d.get("internal_api"), d.get("num_threads")) for d in threadpool_info()]
    except Exception:
        pass
    return info


def markdown(r: dict) -> str:
    lines = ["| measurement | value |", "|---|---|"]
    if "fullcheck" in r:
        f = r["fullcheck"]
        for k, v in f["median_seconds"].items():
            lines.append(f"| full check, {f['parameters']} parameters: {k} | {v:.3f} s (median); {f['speedup_vs_torch_full'][k]:.1f}× torch full |")
        for k, v in f["normwise_error_vs_reference"].items():
            lines.append(f"| full check normwise error, {k} | {v:.2e} |")
    if "fastcheck" in r:
        f = r["fastcheck"]
        for k, v in f["detection_rate"].items():
            lines.append(f"| single wrong element of 1e-6·max\\|g\\|: {k} | caught {f['caught'][k]} of {f['trials'][k]} ({100 * v:.1f} %), "
                         f"{f['median_seconds'][k] * 1e3:.1f} ms per check |")
        lines.append(f"| fast check false alarms on correct gradients | {f['false_alarms_on_correct_gradients']} of {f['false_alarm_seeds']} seeds |")
    if "step" in r:
        s = r["step"]
        for k, v in s["median_seconds"].items():
            lines.append(f"| 784-64-10 batch 32 step: {k} | {v * 1e6:.0f} µs (median) |")
        lines.append(f"| torch eager time / reference time | {s['torch_over_reference']:.2f} |")
    for part in ("grader", "mooc"):
        if part in r:
            from bench import grader

            g = r[part]
            lines += ["", f"{g['submissions']} distinct {g['kind']} submissions, modes and trees interleaved:", "",
                      *grader.markdown(g), ""]
    if "realstyle" in r:
        g = r["realstyle"]
        for a, v in g["by_assignment"].items():
            lines.append(f"| grader, real-style {a}, {v['submissions']} submissions, jobs=2 | {v['submissions_per_second']:.2f} "
                         f"submissions/s ({v['verdicts']['pass']} pass, {v['verdicts']['fail']} fail, {v['verdicts']['error']} error) |")
        lines.append(f"| grader, all real-style files (notebooks, folders, Python 2 included), {g['submissions']} submissions, "
                     f"jobs=2 | {g['jobs=2 submissions_per_second']:.2f} submissions/s |")
    if "startup" in r:
        for k, v in r["startup"]["median_seconds"].items():
            lines.append(f"| start-up: {k} | {v:.3f} s (median of {r['startup']['repeats']}) |")
        lines.append(f"| start-up: what bpcheck's plugin adds to pytest | {r['startup']['plugin_cost_seconds'] * 1e3:+.0f} ms |")
    if "tests" in r:
        lines.append(f"| README test command wall time | {r['tests']['seconds']:.0f} s ({' '.join(r['tests']['summary'])}) |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and trials, and no test-suite timing")
    parser.add_argument("--only", default="fullcheck,fastcheck,step,grader,realstyle,startup,tests",
                        help="parts to run; also mooc (2,000 distinct submissions per mode, never by default)")
    parser.add_argument("--against", default="", metavar="REV",
                        help="grader and mooc: also measure the grader of git revisions REV[,REV...], interleaved with this tree's")
    parser.add_argument("--without-this-tree", action="store_true", help="grader and mooc: only the --against revisions")
    parser.add_argument("--submissions", type=int, default=0, help="grader and mooc: how many (default 60 / 2000)")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if args.quick:
        parts.discard("tests")
    r: dict = {"machine": machine(), "started": dt.datetime.now(dt.timezone.utc).isoformat()}
    if "fullcheck" in parts:
        print("full check ...", file=sys.stderr)
        r["fullcheck"] = bench_fullcheck(1 if args.quick else 3)
    if "fastcheck" in parts:
        print("fast check ...", file=sys.stderr)
        r["fastcheck"] = bench_fastcheck(100 if args.quick else 1000, 20 if args.quick else 100)
    if "step" in parts:
        print("reference step ...", file=sys.stderr)
        r["step"] = bench_step(5 if args.quick else 25)
    from bench import grader

    if "grader" in parts:
        print("grader throughput ...", file=sys.stderr)
        r["grader"] = grader.run(args.submissions or (20 if args.quick else 60), args.against,
                                 this_tree=not args.without_this_tree)
    if "mooc" in parts:
        print("grader on a MOOC-sized batch ...", file=sys.stderr)
        r["mooc"] = grader.run(args.submissions or 2000, args.against, "mooc", "2", this_tree=not args.without_this_tree)
    if "realstyle" in parts:
        print("grader throughput on real-style submissions ...", file=sys.stderr)
        r["realstyle"] = bench_realstyle(1 if args.quick else 3)
    if "startup" in parts:
        print("start-up ...", file=sys.stderr)
        r["startup"] = bench_startup(5 if args.quick else 21)
    if "tests" in parts:
        print("README test command ...", file=sys.stderr)
        r["tests"] = bench_tests()
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / (dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".json")
    path.write_text(json.dumps(r, indent=2, default=float))
    print(markdown(r))
    print(f"\n(JSON: {path.relative_to(ROOT)})")


if __name__ == "__main__":
    main()
