"""Second order, forward mode and adjoints: bpcheck against torch and jax, side by side in one run.

    python bench/second_order.py            # 100 seeds for bpcheck, 20 for torch and jax, ~2 minutes on 2 cores
    python bench/second_order.py --quick    # 20 and 5

The function is the mean logistic loss with L2 of ``examples/api/second_order.py`` (coef = weights and
intercept, X (n, d)), each library checking its own implementation of it, all in float64:

- **hessp, one element off**: the Hessian-vector product of H + Δ, Δ = 1e-6·max|H| at H[1, 1] (linear in p,
  so every checker sees a consistent linear map), the gradient itself right.  bpcheck ``check_hessp``;
  ``torch.autograd.gradgradcheck`` on an autograd.Function whose backward returns the gradient through a
  Function whose backward is the planted product; ``jax.test_util.check_grads(order=2, modes=["rev"])``
  on a custom_vjp loss whose gradient is a custom_vjp with the planted product.
- **hessp without its L2 term**: the same, with the product of the unregularised Hessian (a large error).
- **right**: the right product, for false alarms.
- **conv transpose off by one pixel** (``examples/api/adjoints.py``): bpcheck ``check_adjoint``; torch
  ``gradcheck`` on a Function whose forward is conv2d and backward the buggy transpose; jax ``check_grads``
  (order 1, rev) on a custom_vjp of the same.
- **JVP with a sign error in one output** (the polar map): bpcheck ``check_jvp``; torch ``gradcheck(
  check_forward_ad=True, check_backward_ad=False)`` on a Function with the buggy ``jvp``; jax ``check_grads``
  (order 1, fwd) on a custom_jvp.

Prints a markdown table (caught / seeds and median milliseconds per check); writes JSON to
bench/results/second_order-<UTC>.json.

    python bench/second_order.py --false-alarms 1000   # bpcheck only: the right code and the planted bugs, 1000 seeds

counts, per seed, bpcheck's verdicts on the right code of ``examples/api/second_order.py`` (check_hessp of
scikit-learn-style ``gradient_hessian_product``) and ``examples/api/adjoints.py`` (check_adjoint of the conv
and heat-step pairs, check_jvp of the polar map), by complex step and by central differences where the check
has both, and on the same code with its planted bug; writes JSON to bench/results/false_alarms-<UTC>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bpcheck  # noqa: E402
from tests.test_api_examples import load  # noqa: E402

try:
    from bench.run import machine
except Exception:  # run as a script: bench/ is not a package
    sys.path.insert(0, str(ROOT / "bench"))
    from run import machine

ADJ = load("adjoints")
L2 = 0.1
KINDS = ("one element off", "no L2 term", "right")


def problem(seed: int, n: int = 200, d: int = 16):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return rng.standard_normal(d + 1), X, (rng.random(n) < 0.5).astype(float)


def numpy_pair(X, y, kind: str, plant: float):
    """grad(coef) and hessp(coef, p) in numpy for one planted kind."""
    n = X.shape[0]

    def grad(c):
        z = X @ c[:-1] + c[-1]
        r = (1 / (1 + np.exp(-z)) - y) / n
        return np.concatenate([X.T @ r + L2 * c[:-1], [r.sum()]])

    def hessp(c, p):
        s = 1 / (1 + np.exp(-(X @ c[:-1] + c[-1])))
        ws = s * (1 - s) / n * (X @ p[:-1] + p[-1])
        out = np.concatenate([X.T @ ws + (0.0 if kind == "no L2 term" else L2) * p[:-1], [ws.sum()]])
        if kind == "one element off":
            out[1] += plant * p[1]
        return out

    return grad, hessp


def plant_size(coef, X, y) -> float:
    _, hessp = numpy_pair(X, y, "right", 0.0)
    return 1e-6 * max(float(np.max(np.abs(hessp(coef, e)))) for e in np.eye(coef.size))


def _gradcheck_error() -> type:
    """torch's GradcheckError: ``torch.autograd.gradcheck`` names the function, so the module is read from sys.modules."""
    return sys.modules["torch.autograd.gradcheck"].GradcheckError


def torch_hessp_check(coef, X, y, kind: str, plant: float) -> Callable[[], bool]:
    import torch

    Xt, yt = torch.tensor(X), torch.tensor(y)
    grad_np, hessp_np = numpy_pair(X, y, kind, plant)

    class Grad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w):
            ctx.save_for_backward(w)
            return torch.tensor(grad_np(w.detach().numpy()))

        @staticmethod
        def backward(ctx, v):
            (w,) = ctx.saved_tensors
            return torch.tensor(hessp_np(w.detach().numpy(), v.detach().numpy()))  # H symmetric: Hᵀv = Hv

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, w):
            ctx.save_for_backward(w)
            z = Xt @ w[:-1] + w[-1]
            return torch.mean(torch.nn.functional.softplus(z) - yt * z) + 0.5 * L2 * w[:-1] @ w[:-1]

        @staticmethod
        def backward(ctx, go):
            (w,) = ctx.saved_tensors
            return go * Grad.apply(w)

    def passes() -> bool:
        try:
            return torch.autograd.gradgradcheck(Loss.apply, (torch.tensor(coef, requires_grad=True),))
        except _gradcheck_error():
            return False

    return passes


def jax_hessp_check(coef, X, y, kind: str, plant: float) -> Callable[[], bool]:
    import jax
    import jax.numpy as jnp
    from jax.test_util import check_grads

    jax.config.update("jax_enable_x64", True)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    l2_h = 0.0 if kind == "no L2 term" else L2

    def plain(w):
        z = Xj @ w[:-1] + w[-1]
        return jnp.mean(jax.nn.softplus(z) - yj * z) + 0.5 * L2 * w[:-1] @ w[:-1]

    def data_term(w):
        z = Xj @ w[:-1] + w[-1]
        return jnp.mean(jax.nn.softplus(z) - yj * z)

    @jax.custom_vjp
    def gradient(w):
        return jax.grad(plain)(w)

    def g_bwd(w, v):
        hv = jax.jvp(jax.grad(data_term), (w,), (v,))[1] + jnp.concatenate([l2_h * v[:-1], jnp.zeros(1)])
        return (hv.at[1].add(plant * v[1]) if kind == "one element off" else hv,)

    gradient.defvjp(lambda w: (gradient(w), w), g_bwd)

    @jax.custom_vjp
    def loss(w):
        return plain(w)

    loss.defvjp(lambda w: (plain(w), w), lambda w, ct: (ct * gradient(w),))

    def passes() -> bool:
        try:
            check_grads(loss, (jnp.asarray(coef),), order=2, modes=["rev"])
            return True
        except AssertionError:
            return False

    return passes


def bpcheck_hessp_check(coef, X, y, kind: str, plant: float, seed: int) -> Callable[[], bool]:
    grad, hessp = numpy_pair(X, y, kind, plant)
    return lambda: bool(bpcheck.check_hessp(grad, hessp, coef, seed=seed))


def conv_checks(seed: int) -> dict[str, Callable[[], bool]]:
    import jax
    import jax.numpy as jnp
    import torch
    from jax.test_util import check_grads

    case = ADJ.inputs(seed)
    w, shape = case["w"], case["x_shape"]
    x = np.random.default_rng(seed).standard_normal(shape)

    class Conv(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return torch.tensor(ADJ.conv2d(x.detach().numpy(), w))

        @staticmethod
        def backward(ctx, d):
            return torch.tensor(ADJ.conv_transpose2d(d.detach().numpy(), w, shape, buggy=True))

    jax.config.update("jax_enable_x64", True)

    @jax.custom_vjp
    def conv(x):
        return jax.lax.conv_general_dilated(x, jnp.asarray(w), (1, 1), ((1, 1), (1, 1)))

    conv.defvjp(lambda x: (conv(x), None),
                lambda _, d: (jnp.asarray(ADJ.conv_transpose2d(np.asarray(d), w, shape, buggy=True)),))

    def torch_passes() -> bool:
        try:
            return torch.autograd.gradcheck(Conv.apply, (torch.tensor(x, requires_grad=True),))
        except _gradcheck_error():
            return False

    def jax_passes() -> bool:
        try:
            check_grads(conv, (jnp.asarray(x),), order=1, modes=["rev"])
            return True
        except AssertionError:
            return False

    import functools
    return {"bpcheck": lambda: bool(bpcheck.check_adjoint(functools.partial(ADJ.conv2d, w=w),
                                                         functools.partial(ADJ.conv_transpose2d, w=w, x_shape=shape, buggy=True),
                                                         shape, seed=seed)),
            "torch": torch_passes, "jax": jax_passes}


def jvp_checks(seed: int) -> dict[str, Callable[[], bool]]:
    import jax
    import jax.numpy as jnp
    import torch
    from jax.test_util import check_grads

    p = ADJ.inputs(seed)["polar"]

    class Polar(torch.autograd.Function):
        @staticmethod
        def forward(ctx, r, theta):
            ctx.save_for_forward(r, theta)
            return torch.stack([r * torch.cos(theta), r * torch.sin(theta)])

        @staticmethod
        def jvp(ctx, dr, dtheta):
            r, theta = ctx.saved_tensors
            return torch.tensor(ADJ.polar_jvp({"r": r.detach().numpy(), "theta": theta.detach().numpy()},
                                              {"r": dr.detach().numpy(), "theta": dtheta.detach().numpy()}, buggy=True))

    jax.config.update("jax_enable_x64", True)

    @jax.custom_jvp
    def polar(r, theta):
        return jnp.stack([r * jnp.cos(theta), r * jnp.sin(theta)])

    @polar.defjvp
    def _(primals, tangents):
        r, theta = primals
        dr, dtheta = tangents
        return polar(r, theta), jnp.stack([dr * jnp.cos(theta) - r * jnp.sin(theta) * dtheta,
                                           dr * jnp.sin(theta) - r * jnp.cos(theta) * dtheta])  # the same sign error

    def torch_passes() -> bool:
        args = (torch.tensor(p["r"], requires_grad=True), torch.tensor(p["theta"], requires_grad=True))
        try:
            return torch.autograd.gradcheck(Polar.apply, args, check_forward_ad=True, check_backward_ad=False,
                                            check_undefined_grad=False, check_batched_grad=False)
        except _gradcheck_error():
            return False

    def jax_passes() -> bool:
        try:
            check_grads(polar, (jnp.asarray(p["r"]), jnp.asarray(p["theta"])), order=1, modes=["fwd"])
            return True
        except AssertionError:
            return False

    import functools
    return {"bpcheck": lambda: bool(bpcheck.check_jvp(ADJ.polar, functools.partial(ADJ.polar_jvp, buggy=True), p, seed=seed)),
            "torch": torch_passes, "jax": jax_passes}


SO = load("second_order")


def own_checks(seed: int, buggy: bool) -> dict[str, Callable[[], bool]]:
    """bpcheck's second-order, forward-mode and adjoint checks on the examples' code, right or with its planted bug."""
    import functools

    coef, X, y = SO.data(seed)
    pair = SO.BinaryLogistic(buggy=buggy).gradient_hessian_product
    case = ADJ.inputs(seed)
    w, shape = case["w"], case["x_shape"]
    checks = {}
    for complex_step in (True, False):
        how = "complex step" if complex_step else "central differences"
        checks[f"check_hessp, logistic ({how})"] = functools.partial(
            bpcheck.check_hessp, pair, None, coef, static=(X, y, 0.1), returns="grad_and_hessp", seed=seed,
            complex_step=complex_step)
        checks[f"check_jvp, polar ({how})"] = functools.partial(
            bpcheck.check_jvp, ADJ.polar, functools.partial(ADJ.polar_jvp, buggy=buggy), case["polar"], seed=seed,
            complex_step=complex_step)
    checks["check_adjoint, conv / transposed conv"] = functools.partial(
        bpcheck.check_adjoint, functools.partial(ADJ.conv2d, w=w),
        functools.partial(ADJ.conv_transpose2d, w=w, x_shape=shape, buggy=buggy), shape, seed=seed)
    checks["check_adjoint, heat step"] = functools.partial(
        bpcheck.check_adjoint, ADJ.heat_step, functools.partial(ADJ.heat_step_transpose, buggy=buggy), case["u"], seed=seed)
    return {name: (lambda check=check: bool(check())) for name, check in checks.items()}


def false_alarms(seeds: int) -> None:
    record: dict = {}
    for seed in range(seeds):
        for buggy in (False, True):
            run(own_checks(seed, buggy), record, "planted bug" if buggy else "right code")
    lines = [f"| bpcheck check, {seeds} seeds | right code: flagged (false alarms) | planted bug: flagged |", "|---|---|---|"]
    for name in record["right code"]:
        right, bug = record["right code"][name], record["planted bug"][name]
        lines.append(f"| {name} | {right['flagged']}/{right['seeds']}, {1e3 * statistics.median(right['seconds']):.1f} ms | "
                     f"{bug['flagged']}/{bug['seeds']}, {1e3 * statistics.median(bug['seconds']):.1f} ms |")
    _write("false_alarms", record, lines)


def _write(stem: str, record: dict, lines: list[str]) -> None:
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / (f"{stem}-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + ".json")
    path.write_text(json.dumps({"machine": machine(), "record": record}, indent=2, default=float))
    print("\n".join(lines))
    print(f"\n(JSON: {path.relative_to(ROOT)})")


def run(checks: dict[str, Callable[[], bool]], record: dict, case: str) -> None:
    for lib, passes in checks.items():
        t = time.perf_counter()
        ok = passes()
        row = record.setdefault(case, {}).setdefault(lib, {"seeds": 0, "flagged": 0, "seconds": []})
        row["seconds"].append(time.perf_counter() - t)
        row["seeds"] += 1
        row["flagged"] += not ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 seeds for bpcheck, 5 for torch and jax")
    parser.add_argument("--false-alarms", type=int, metavar="SEEDS", help="bpcheck only: right code and planted bugs")
    args = parser.parse_args()
    if args.false_alarms:
        false_alarms(args.false_alarms)
        return
    ours, peers = (20, 5) if args.quick else (100, 20)
    record: dict = {}
    for seed in range(ours):
        coef, X, y = problem(seed)
        plant = plant_size(coef, X, y)
        for kind in KINDS:
            checks = {"bpcheck": bpcheck_hessp_check(coef, X, y, kind, plant, seed)}
            if seed < peers:
                checks["torch"] = torch_hessp_check(coef, X, y, kind, plant)
                checks["jax"] = jax_hessp_check(coef, X, y, kind, plant)
            run(checks, record, f"hessp: {kind}")
        run({k: v for k, v in conv_checks(seed).items() if k == "bpcheck" or seed < peers}, record, "conv transpose off by one pixel")
        run({k: v for k, v in jvp_checks(seed).items() if k == "bpcheck" or seed < peers}, record, "JVP sign error in one output")
    lines = ["| case (coef 17, X 200×16) | bpcheck | torch | jax |", "|---|---|---|---|"]
    for case, libs in record.items():
        cells = [f"{libs[lib]['flagged']}/{libs[lib]['seeds']} flagged, {1e3 * statistics.median(libs[lib]['seconds']):.1f} ms"
                 if lib in libs else "–" for lib in ("bpcheck", "torch", "jax")]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    _write("second_order", record, lines)


if __name__ == "__main__":
    main()
