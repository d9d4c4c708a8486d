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

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from oracles.strategies import Case
from reference import NetworkSpec

from .diagnose import Convention, Terms


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


def _scalar(arr: Optional[np.ndarray]) -> Optional[float]:
    return float(arr.reshape(-1)[0]) if arr is not None and arr.size == 1 and not np.iscomplexobj(arr) else None


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
    terms: Terms = Terms()  # the student's names, hyperparameters and conventions, for the diagnosis
    large_inputs: bool = False  # whether assignments of this contract probe large inputs unless they say otherwise


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


def _blog_names(ours: str) -> str:
    return {"W1": "weights1", "W2": "weights2"}[ours]


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
    r.loss = _scalar(loss)
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


def _ex4_split(case: Case, flat: np.ndarray) -> dict[str, np.ndarray]:
    """W1, b1, W2, b2 from grad = [Theta1_grad(:), Theta2_grad(:)] unrolled row by row, bias column first."""
    n, h, K = case.spec.sizes
    t1 = flat[: h * (n + 1)].reshape(h, n + 1)
    t2 = flat[h * (n + 1):].reshape(K, h + 1)
    return {"W1": t1[:, 1:].T, "b1": t1[:, 0], "W2": t2[:, 1:].T, "b2": t2[:, 0]}


def _ex4_read(case: Case, arrays: dict[str, np.ndarray]) -> Reading:
    r = Reading()
    n, h, K = case.spec.sizes
    grad = _get(arrays, "grad", "grad", r)
    if grad is not None:
        expected = h * (n + 1) + K * (h + 1)
        if grad.size != expected:
            r.errors.append(f"grad: expected {expected} entries (Theta1 {h}x{n + 1} then Theta2 {K}x{h + 1}, unrolled), got shape {grad.shape}")
        else:
            r.grads = _ex4_split(case, grad.reshape(-1))
    J = _get(arrays, "J", "J", r)
    r.loss = _scalar(J)
    t1, t2 = ex4_thetas(case.params)
    _unchanged(arrays, [("after_nn_params", np.concatenate([t1.ravel(), t2.ravel()]), "nn_params")], r)
    return r


def _ex4_names(ours: str) -> str:
    theta = f"Theta{ours[1:]}_grad"
    return f"{theta}[:, 1:] (weights)" if ours[0] == "W" else f"{theta}[:, 0] (bias column)"


# --- the student's terms and conventions ---------------------------------------------------------------


def _labels_from_one(case: Case) -> Case:
    """Y = eye(K)[y - 1]: every label read one class down, label 0 wrapping round to the last class."""
    return replace(case, y=np.roll(case.y, -1, axis=1))


def _labels_one_to_k(case: Case) -> Case:
    """Y[:, k - 1] = (y == k) for k = 1..K: label j read as class j − 1, label 0 as no class at all."""
    y = np.zeros_like(case.y)
    y[:, :-1] = case.y[:, 1:]
    return replace(case, y=y)


def _ex4_unrolled_by_columns(case: Case, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What bpcheck reads when Theta1_grad and Theta2_grad are unrolled column by column (Octave's (:))."""
    t1, t2 = ex4_thetas(grads)
    return _ex4_split(case, np.concatenate([t1.ravel(order="F"), t2.ravel(order="F")]))


def _half_penalty(case: Case) -> Case:
    return replace(case, spec=replace(case.spec, l2=case.spec.l2 / 2))


EX4_TERMS = Terms(
    _ex4_names, lambda c: {"lambda_": c.spec.l2 * c.batch}, "lambda_",
    (Convention("labels-1..K", "labels run 1..K (Y = eye(K)[y - 1]); this assignment's run 0..K−1", case=_labels_from_one),
     Convention("labels-y==k", "labels run 1..K (Y[:, k-1] = (y == k)); this assignment's run 0..K−1", case=_labels_one_to_k),
     Convention("unroll-columns", "grad is read column by column (order='F'); this assignment unrolls row by row (C order)",
                read=_ex4_unrolled_by_columns)))
CS231N_TERMS = Terms(
    lambda o: f"grads['{o}']", lambda c: {"reg": c.spec.l2 / 2}, "reg",
    (Convention("reg-2016", "the penalty is the 2016 0.5·reg·ΣW²; this assignment's is reg·ΣW²", case=_half_penalty),))


CONTRACTS: dict[str, Contract] = {
    "canonical": Contract("canonical", "backprop", _canonical_names, False, False, _canonical_inputs, _canonical_read,
                          terms=Terms(_canonical_names)),
    "blog-class": Contract("blog-class", "NeuralNetwork", _blog_names, False, True, _blog_inputs, _blog_read, lr=BLOG_LR,
                           terms=Terms(_blog_names)),
    "nielsen": Contract("nielsen", "Network", _nielsen_names, False, True, _nielsen_inputs, _nielsen_read,
                        terms=Terms(_nielsen_names)),
    "cs231n-two-layer": Contract("cs231n-two-layer", "TwoLayerNet", CS231N_TERMS.array, True, True, _cs231n_inputs, _cs231n_read,
                                 terms=CS231N_TERMS, large_inputs=True),
    "coursera-ex4": Contract("coursera-ex4", "nn_cost_function", _ex4_names, True, False, _ex4_inputs, _ex4_read,
                             terms=EX4_TERMS),
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
