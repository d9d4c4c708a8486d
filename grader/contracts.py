"""The five assignment contracts, seen from the grader: what to send in, and how to read what comes back.

Each contract translates between the student's layout and conventions and the reference's
(``z = a @ W + b``, W (n_in, n_out), ½Σ(a − y)² or the named loss, l2 = λ with (λ/2)ΣW²):

- ``inputs(case)``: the arrays the runner passes to the student's entry points;
- ``read(case, arrays)``: the student's outputs as a ``Reading`` in the reference's layout and
  convention (its ``errors`` name the student's array, the expected and the actual shape);
- ``names``: the student's own name for each of our parameter arrays, for feedback.

The calls themselves live in ``runner.py``, which runs inside the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from oracles.strategies import Case
from reference import NetworkSpec


@dataclass
class Reading:
    """A submission's outputs on one probe, in the reference's layout."""

    grads: dict[str, np.ndarray] = field(default_factory=dict)
    loss: Optional[float] = None
    forward: Optional[np.ndarray] = None
    steps: Optional[dict[str, np.ndarray]] = None  # blog-class: weights after k steps, our layout
    mutated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: per array, a bound on the error the reading itself adds (a gradient read off a weight update is
    #: a difference of two rounded weights: |ΔW| carries up to ε(|W_before| + |W_after|)/η)
    uncertainty: dict[str, np.ndarray] = field(default_factory=dict)


def _get(arrays: dict[str, np.ndarray], key: str, student: str, reading: Reading) -> Optional[np.ndarray]:
    if key not in arrays:
        reading.errors.append(f"{student}: missing (not returned, or not an array of numbers)")
        return None
    return arrays[key]


def _shaped(arr: Optional[np.ndarray], shape: tuple, student: str, reading: Reading) -> Optional[np.ndarray]:
    if arr is None:
        return None
    if arr.shape != shape:
        reading.errors.append(f"{student}: expected shape {shape}, got {arr.shape}")
    return arr


def _unchanged(arrays: dict[str, np.ndarray], pairs: list[tuple[str, np.ndarray, str]], reading: Reading) -> None:
    for key, before, student in pairs:
        after = arrays.get(key)
        if after is not None and (after.shape != before.shape or not np.array_equal(after, before)):
            reading.mutated.append(student)


@dataclass(frozen=True)
class Contract:
    name: str
    entry: str  # the module-level name the submission must define
    names: Callable[[str], str]
    has_loss: bool
    has_forward: bool
    inputs: Callable[..., dict[str, np.ndarray]]  # (case, steps) -> arrays
    read: Callable[[Case, dict[str, np.ndarray]], Reading]
    lr: Optional[float] = None  # gradients are read off a training step of this size (our convention)


# --- canonical -----------------------------------------------------------------------------------


def _canonical_inputs(case: Case, steps: int = 1) -> dict[str, np.ndarray]:
    L = case.spec.depth
    out = {"depth": np.array(L), "x": case.x, "y": case.y}
    for l in range(L):
        out[f"W{l}"] = case.params[f"W{l + 1}"]
        out[f"b{l}"] = case.params[f"b{l + 1}"]
    return out


def _canonical_read(case: Case, arrays: dict[str, np.ndarray]) -> Reading:
    r = Reading()
    for l in range(case.spec.depth):
        for ours, key, student in ((f"W{l + 1}", f"gW{l}", f"grad_weights[{l}]"), (f"b{l + 1}", f"gb{l}", f"grad_biases[{l}]")):
            g = _shaped(_get(arrays, key, student, r), case.params[ours].shape, student, r)
            if g is not None:
                r.grads[ours] = g
    _unchanged(arrays, [(f"after_W{l}", case.params[f"W{l + 1}"], f"weights[{l}]") for l in range(case.spec.depth)]
               + [(f"after_b{l}", case.params[f"b{l + 1}"], f"biases[{l}]") for l in range(case.spec.depth)], r)
    return r


def _canonical_names(ours: str) -> str:
    l = int(ours[1:]) - 1
    return f"grad_weights[{l}]" if ours[0] == "W" else f"grad_biases[{l}]"


# --- blog-class (seed 002) ------------------------------------------------------------------------

#: backprop() adds −∂L/∂W for L = Σ(y − ŷ)² = 2·(½Σ(y − ŷ)²), so in our convention the step is lr = 2.
BLOG_LR = 2.0


def _blog_inputs(case: Case, steps: int = 5) -> dict[str, np.ndarray]:
    return {"x": case.x, "y": case.y, "W1": case.params["W1"], "W2": case.params["W2"], "steps": np.array(steps)}


def _blog_read(case: Case, arrays: dict[str, np.ndarray]) -> Reading:
    r = Reading()
    for ours, student in (("W1", "weights1"), ("W2", "weights2")):
        after = _shaped(_get(arrays, f"{ours}_step1", f"{student} after backprop()", r), case.params[ours].shape, student, r)
        if after is not None and after.shape == case.params[ours].shape:
            r.grads[ours] = -(after - case.params[ours]) / BLOG_LR
            r.uncertainty[ours] = np.finfo(np.float64).eps * (np.abs(after) + np.abs(case.params[ours])) / BLOG_LR
    out = _get(arrays, "output", "self.output after feedforward()", r)
    r.forward = out
    k = max((int(key.split("step")[1]) for key in arrays if "_step" in key), default=0)
    if k > 1:
        r.steps = {ours: arrays[f"{ours}_step{k}"] for ours in ("W1", "W2") if f"{ours}_step{k}" in arrays}
    _unchanged(arrays, [("after_x", case.x, "x"), ("after_y", case.y, "y")], r)
    return r


# --- nielsen ------------------------------------------------------------------------------------------


def _nielsen_inputs(case: Case, steps: int = 1) -> dict[str, np.ndarray]:
    L = case.spec.depth
    out = {"depth": np.array(L), "sizes": np.array(case.spec.sizes), "x": case.x.T, "y": case.y.T}
    for l in range(L):
        out[f"W{l}"] = case.params[f"W{l + 1}"].T
        out[f"b{l}"] = case.params[f"b{l + 1}"][:, None]
    return out


def _nielsen_read(case: Case, arrays: dict[str, np.ndarray]) -> Reading:
    r = Reading()
    for l in range(case.spec.depth):
        W, b = case.params[f"W{l + 1}"], case.params[f"b{l + 1}"]
        gw = _shaped(_get(arrays, f"nabla_w{l}", f"nabla_w[{l}]", r), W.T.shape, f"nabla_w[{l}]", r)
        gb = _shaped(_get(arrays, f"nabla_b{l}", f"nabla_b[{l}]", r), b[:, None].shape, f"nabla_b[{l}]", r)
        if gw is not None:
            r.grads[f"W{l + 1}"] = gw.T if gw.ndim == 2 else gw
        if gb is not None:
            r.grads[f"b{l + 1}"] = gb.reshape(-1) if gb.size == b.size else gb
    out = arrays.get("output")
    r.forward = out.T if out is not None and out.ndim == 2 else out
    return r


def _nielsen_names(ours: str) -> str:
    l = int(ours[1:]) - 1
    return f"nabla_w[{l}]" if ours[0] == "W" else f"nabla_b[{l}]"


# --- cs231n two-layer ---------------------------------------------------------------------------------


def _cs231n_inputs(case: Case, steps: int = 1) -> dict[str, np.ndarray]:
    labels = np.argmax(case.y, axis=1)
    out = {"sizes": np.array(case.spec.sizes), "X": case.x, "y": labels, "reg": np.array(case.spec.l2 / 2)}
    out.update({k: case.params[k] for k in ("W1", "b1", "W2", "b2")})
    return out


def _cs231n_read(case: Case, arrays: dict[str, np.ndarray]) -> Reading:
    r = Reading()
    for k in ("W1", "b1", "W2", "b2"):
        g = _shaped(_get(arrays, f"g{k}", f"grads['{k}']", r), case.params[k].shape, f"grads['{k}']", r)
        if g is not None:
            r.grads[k] = g
    loss = _get(arrays, "loss", "loss", r)
    r.loss = float(loss) if loss is not None and loss.size == 1 else None
    r.forward = arrays.get("scores")
    _unchanged(arrays, [("after_X", case.x, "X")], r)
    return r


# --- coursera ex4 -------------------------------------------------------------------------------------


def ex4_thetas(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Theta1 (h, n+1), Theta2 (K, h+1), bias column first, from W1, b1, W2, b2."""
    return (np.column_stack([params["b1"], params["W1"].T]), np.column_stack([params["b2"], params["W2"].T]))


def _ex4_inputs(case: Case, steps: int = 1) -> dict[str, np.ndarray]:
    t1, t2 = ex4_thetas(case.params)
    m = case.batch
    return {"sizes": np.array(case.spec.sizes), "nn_params": np.concatenate([t1.ravel(), t2.ravel()]),
            "X": case.x, "y": np.argmax(case.y, axis=1), "lambda_": np.array(case.spec.l2 * m)}


def _ex4_read(case: Case, arrays: dict[str, np.ndarray]) -> Reading:
    r = Reading()
    n, h, K = case.spec.sizes
    grad = _get(arrays, "grad", "grad", r)
    if grad is not None:
        expected = h * (n + 1) + K * (h + 1)
        if grad.size != expected:
            r.errors.append(f"grad: expected {expected} entries (Theta1 {h}x{n + 1} then Theta2 {K}x{h + 1}, unrolled), got shape {grad.shape}")
        else:
            flat = grad.reshape(-1)
            t1 = flat[: h * (n + 1)].reshape(h, n + 1)
            t2 = flat[h * (n + 1):].reshape(K, h + 1)
            r.grads = {"W1": t1[:, 1:].T, "b1": t1[:, 0], "W2": t2[:, 1:].T, "b2": t2[:, 0]}
    J = _get(arrays, "J", "J", r)
    r.loss = float(J) if J is not None and J.size == 1 else None
    t1, t2 = ex4_thetas(case.params)
    _unchanged(arrays, [("after_nn_params", np.concatenate([t1.ravel(), t2.ravel()]), "nn_params")], r)
    return r


def _ex4_names(ours: str) -> str:
    theta = f"Theta{ours[1:]}_grad"
    return f"{theta}[:, 1:] (weights)" if ours[0] == "W" else f"{theta}[:, 0] (bias column)"


CONTRACTS: dict[str, Contract] = {
    "canonical": Contract("canonical", "backprop", _canonical_names, False, False, _canonical_inputs, _canonical_read),
    "blog-class": Contract("blog-class", "NeuralNetwork", lambda o: {"W1": "weights1", "W2": "weights2"}[o], False, True,
                           _blog_inputs, _blog_read, lr=BLOG_LR),
    "nielsen": Contract("nielsen", "Network", _nielsen_names, False, True, _nielsen_inputs, _nielsen_read),
    "cs231n-two-layer": Contract("cs231n-two-layer", "TwoLayerNet", lambda o: f"grads['{o}']", True, True, _cs231n_inputs, _cs231n_read),
    "coursera-ex4": Contract("coursera-ex4", "nn_cost_function", _ex4_names, True, False, _ex4_inputs, _ex4_read),
}


def spec_for(contract: str, sizes: tuple[int, ...], reg: float = 0.0, batch: int = 1) -> NetworkSpec:
    """The reference's description of what a contract computes, for one probe architecture."""
    L = len(sizes) - 1
    if contract == "canonical":
        return NetworkSpec(sizes, ("sigmoid",) * L, "half_sse", "mean")
    if contract == "blog-class":
        return NetworkSpec(sizes, ("sigmoid",) * L, "half_sse", "sum", bias=False)
    if contract == "nielsen":
        return NetworkSpec(sizes, ("sigmoid",) * L, "half_sse", "sum")
    if contract == "cs231n-two-layer":
        return NetworkSpec(sizes, ("relu", "softmax"), "softmax_ce", "mean", l2=2 * reg)
    if contract == "coursera-ex4":
        return NetworkSpec(sizes, ("sigmoid", "sigmoid"), "bce", "mean", l2=reg / batch)
    raise ValueError(f"contract: unknown name {contract!r}; expected one of {list(CONTRACTS)}")
