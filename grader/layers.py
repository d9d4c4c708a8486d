"""Layers the reference network does not have, graded one function at a time: ``[[part]]`` tables with ``layer = ...``.

CS231n's assignment 2 has students write batch normalisation, dropout, a naive convolution, max pooling and the
SVM loss beside the affine and ReLU layers that the reference network grades.  For these the grader holds each
layer's **forward pass only**, written plainly in NumPy (``LAYERS``); every derivative comes from the check API,
``bpcheck.check_function`` (complex step where its self-test passes, else central differences and Richardson), on

    F(inputs) = ⟨dout, forward(inputs)⟩        (a loss layer: F = its loss)

at the probe's inputs, against the gradients the student's backward returned.  So the expected gradients borrow
no one's backward math, and a wrong one is named as ``check_vjp`` names it (its elements, a pattern such as ``× 4``).

The student's backward runs on the cache the student's own forward made, inside the sandbox; only arrays come back.

Inputs are drawn away from every kink of the layer (no two values of a pooling window within ``GAP``, no SVM margin
within ``GAP`` of zero, no dropout input within ``GAP`` of zero), so each function is differentiable where it is
checked, and finite differences there have no kink to trip on.

Forward outputs are compared with the rule of ``oracles.compare``: |got − expected| ≤ 2Dε·(|expected| + S), D the
longest chain of roundings behind one output (``Layer.depth``) and S the magnitude of the terms it is summed from
(``Layer.terms``): a result that cancels carries the rounding of its terms, not of itself.

Dropout's mask is random.  The grader takes the mask the student's own forward drew (out / x at a train-mode call),
checks that each element is dropped or kept and scaled by 1/p, with a plausible fraction kept, and grades the backward
against that draw: dx = dout · mask.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .contracts import Call, ContractError, Form, argument_names, pattern_names, value_tree

EPS = float(np.finfo(np.float64).eps)
#: The least distance from a kink of any input drawn (a max's runner-up, an SVM margin, a dropout input from zero):
#: far beyond any finite-difference step (≤ 1e-4 of the values here), so no check meets a kink.
GAP = 0.05
#: The most forward values a case keeps for the next submission (about 5 MB; see ``gradient_problem``).
MEMO_ENTRIES = 100_000
#: A dropout fraction kept is plausible within this many standard deviations of the binomial (5σ: a false alarm
#: once in 1.7 million draws).
KEPT_SIGMAS = 5.0


# --- the forward passes the grader holds ------------------------------------------------------------------------------
# x (N, D) for batchnorm, dropout and the SVM's scores (with y (N,) labels); x (N, C, H, W) for conv and pooling,
# w (F, C, HH, WW), b (F,).  Each is complex-safe (no abs, no comparison on imaginary parts), for the complex step.


def batchnorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5, **_: Any) -> np.ndarray:
    """gamma · (x − mean) / sqrt(var + eps) + beta over the batch axis 0, var the biased (1/N) variance: (N, D)."""
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def _windows(x: np.ndarray, hh: int, ww: int, stride: int) -> np.ndarray:
    """Every (hh, ww) window of x (N, C, H, W) at ``stride``: (N, C, H', W', hh, ww)."""
    return sliding_window_view(x, (hh, ww), axis=(2, 3))[:, :, ::stride, ::stride]


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0, **_: Any) -> np.ndarray:
    """out[n, f] = Σ_c,i,j x_padded[n, c, s·h + i, s·w + j] · w[f, c, i, j] + b[f]: (N, F, H', W')."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return np.einsum("nchwij,fcij->nfhw", _windows(xp, w.shape[2], w.shape[3], stride), w) + b[None, :, None, None]


def max_pool(x: np.ndarray, pool_height: int = 2, pool_width: int = 2, stride: int = 2, **_: Any) -> np.ndarray:
    """The largest value of each window: (N, C, H', W').  Windows hold distinct values (drawn so), so the max is one element."""
    return _windows(x, pool_height, pool_width, stride).max(axis=(4, 5))


def svm_loss(x: np.ndarray, y: np.ndarray) -> Any:
    """The multiclass hinge loss, averaged over N: Σ_i Σ_{j≠y_i} max(0, x_ij − x_iy_i + 1) / N."""
    n = x.shape[0]
    margins = np.maximum(0.0, x - x[np.arange(n), y][:, None] + 1.0)
    margins[np.arange(n), y] = 0.0
    return margins.sum() / n


def dropout(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Inverted dropout with a drawn mask: x · mask, mask = kept / p (the student's own draw)."""
    return x * mask


# --- the magnitudes of the terms behind each output (the tolerance's S) -----------------------------------------------


def _batchnorm_terms(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5, **_: Any) -> np.ndarray:
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return np.abs(gamma) * (np.abs(x) + np.abs(mu)) / np.sqrt(var + eps) + np.abs(beta)


def _conv_terms(x: np.ndarray, w: np.ndarray, b: np.ndarray, **settings: Any) -> np.ndarray:
    return conv(np.abs(x), np.abs(w), np.abs(b), **settings)


def _svm_terms(x: np.ndarray, y: np.ndarray) -> Any:
    n = x.shape[0]
    return (np.abs(x) + np.abs(x[np.arange(n), y])[:, None] + 1.0).sum() / n


# --- inputs drawn away from the kinks -------------------------------------------------------------------------------


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal values moved at least GAP from zero (dropout's out / x reads the mask)."""
    v = rng.standard_normal(shape)
    return np.sign(v) * (GAP + np.abs(v))


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least GAP apart from each other: every pooling window's max is one element, clear of the rest."""
    n = int(np.prod(shape))
    grid = rng.permutation(n) * (2 * GAP) - GAP * n
    return (grid + rng.uniform(-GAP / 2, GAP / 2, n)).reshape(shape)


def _scores_clear_of_margins(rng: np.random.Generator, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """SVM scores (n, c) and labels (n,) with every margin x_ij − x_iy + 1 at least GAP from zero (redrawn row by row)."""
    y = rng.integers(0, c, n)
    x = np.empty((n, c))
    for i in range(n):
        while True:
            row = rng.standard_normal(c)
            margins = np.delete(row - row[y[i]] + 1.0, y[i])
            if np.all(np.abs(margins) >= GAP):
                x[i] = row
                break
    return x, y


@dataclass(frozen=True)
class Layer:
    """A layer the grader can grade: its forward pass, its inputs and its settings (a CS231n ``*_param`` dict)."""

    name: str
    arrays: tuple[str, ...]  # the differentiable inputs, in the forward's order
    settings: str  # the name of its settings dict argument ("" for none)
    defaults: tuple[dict, ...]  # its default cases: {"shapes": {...}, "settings": {...}}
    draw: Callable[[np.random.Generator, Mapping[str, list]], dict[str, np.ndarray]]
    forward: Callable[..., Any]
    terms: Callable[..., Any]
    depth: Callable[[Mapping[str, np.ndarray]], int]
    static: tuple[str, ...] = ()  # inputs passed but never differentiated (labels)
    loss: bool = False  # a loss layer: F is its value, its outputs "loss" and "dx"


def _draw_normal(names: tuple[str, ...]) -> Callable:
    """Standard normal arrays of the given names, each in its case's shape (a linear layer has no kink to avoid)."""
    def draw(rng: np.random.Generator, shapes: Mapping[str, list]) -> dict[str, np.ndarray]:
        return {n: rng.standard_normal(tuple(shapes[n])) for n in names}
    return draw


def _draw_bn(rng: np.random.Generator, shapes: Mapping[str, list]) -> dict[str, np.ndarray]:
    """CS231n's own test: x with a shift and a spread far from 0 and 1 (5·N(0,1) + 12), so a missing mean or variance shows."""
    n, d = shapes["x"]
    return {"x": 12.0 + 5.0 * rng.standard_normal((n, d)), "gamma": rng.uniform(0.5, 2.0, d), "beta": rng.standard_normal(d)}


def _draw_svm(rng: np.random.Generator, shapes: Mapping[str, list]) -> dict[str, np.ndarray]:
    x, y = _scores_clear_of_margins(rng, *shapes["x"])
    return {"x": x, "y": y}


LAYERS: dict[str, Layer] = {
    "batchnorm": Layer(
        "batchnorm", ("x", "gamma", "beta"), "bn_param",
        ({"shapes": {"x": [6, 4]}, "settings": {"mode": "train", "eps": 1e-5, "momentum": 0.9}},),
        _draw_bn, batchnorm, _batchnorm_terms, lambda a: 2 * a["x"].shape[0] + 8),
    "dropout": Layer(
        "dropout", ("x",), "dropout_param",
        ({"shapes": {"x": [20, 25]}, "settings": {"mode": "train", "p": 0.3, "seed": 123}},
         {"shapes": {"x": [4, 5]}, "settings": {"mode": "test", "p": 0.3, "seed": 123}}),
        lambda rng, s: {"x": _away_from_zero(rng, tuple(s["x"]))}, dropout, lambda x, mask: np.abs(x * mask),
        lambda a: 4),
    "conv": Layer(
        "conv", ("x", "w", "b"), "conv_param",
        ({"shapes": {"x": [2, 3, 5, 5], "w": [3, 3, 3, 3], "b": [3]}, "settings": {"stride": 1, "pad": 1}},
         {"shapes": {"x": [2, 3, 6, 5], "w": [2, 3, 3, 3], "b": [2]}, "settings": {"stride": 2, "pad": 1}}),
        _draw_normal(("x", "w", "b")), conv, _conv_terms, lambda a: int(np.prod(a["w"].shape[1:])) + 2),
    "max_pool": Layer(
        "max_pool", ("x",), "pool_param",
        ({"shapes": {"x": [2, 3, 4, 4]}, "settings": {"pool_height": 2, "pool_width": 2, "stride": 2}},
         {"shapes": {"x": [1, 2, 6, 4]}, "settings": {"pool_height": 2, "pool_width": 2, "stride": 2}}),
        lambda rng, s: {"x": _distinct(rng, tuple(s["x"]))}, max_pool, lambda x, **_: np.abs(max_pool(x, **_)),
        lambda a: 1),
    "svm_loss": Layer(
        "svm_loss", ("x",), "", ({"shapes": {"x": [5, 4]}, "settings": {}},),
        _draw_svm, svm_loss, _svm_terms, lambda a: int(a["x"].size) + 4, static=("y",), loss=True),
}


@dataclass
class LayerCase:
    """One probe of a layer part: its inputs (drawn from ``seed``), its settings and the upstream gradient dout."""

    name: str
    layer: Layer
    settings: dict
    inputs: dict[str, np.ndarray]  # the differentiable arrays and the static ones, by name
    dout: Optional[np.ndarray] = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # what the runner reads, by name (Grader._write_inputs)
    ops: list[dict] = field(default_factory=list)  # the runner's operations (job.json)
    #: F's values by its arguments' digest, for every submission graded on this case (``gradient_problem``)
    memo: dict[bytes, Any] = field(default_factory=dict, repr=False)

    def forward_args(self) -> dict[str, Any]:
        return {**self.inputs, **self.settings}

    def describe(self) -> str:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in self.inputs.items())
        knobs = ", ".join(f"{k}={v!r}" for k, v in self.settings.items() if k not in ("momentum", "seed"))
        return f"{shapes}" + (f"; {knobs}" if knobs else "")


# --- a [[part]] with layer = ...: its calls and cases ------------------------------------------------------------------

#: The keys of a [[part.case]] table: its inputs' seed, their shapes by argument, the settings over the layer's defaults.
CASE_KEYS = ("seed", "shapes", "settings")


@dataclass(frozen=True)
class LayerPart:
    """What a layer part grades: ``layer``'s calls (``form``) on each of its cases (dicts of CASE_KEYS)."""

    layer: Layer
    form: Form
    cases: tuple[dict, ...]

    @property
    def outputs(self) -> set[str]:
        return _outputs(self.form)

    @property
    def gradients(self) -> list[str]:
        """The inputs whose gradients a call returns (``dx`` → x), in the layer's order."""
        return [a for a in self.layer.arrays if "d" + a in self.outputs]

    @property
    def forward_symbol(self) -> Optional[str]:
        return "loss" if self.layer.loss and "loss" in self.outputs else "out" if "out" in self.outputs else None

    def build(self) -> list[LayerCase]:
        """Every case's inputs, drawn from its seed, with the runner's operations (``LayerCase.ops``)."""
        out = []
        for i, raw in enumerate(self.cases):
            rng = np.random.default_rng(int(raw["seed"]))
            inputs = self.layer.draw(rng, raw["shapes"])
            case = LayerCase(f"case {i + 1}", self.layer, dict(raw["settings"]), inputs)
            if not self.layer.loss:
                case.dout = rng.standard_normal(np.shape(self.layer.forward(**_forward_inputs(case))))
            case.ops = _ops(self.form, case)
            out.append(case)
        return out


def _outputs(form: Form) -> set[str]:
    names: set[str] = set()
    for c in form.calls:
        names |= pattern_names(c.returns)
    return {n for n in names if is_layer_output(n)}


def is_layer_output(name: str) -> bool:
    """The names a layer part's calls return for grading: out, loss, and d<input> (dx, dw, dgamma, ...)."""
    return name in ("out", "loss") or (name.startswith("d") and name != "dout" and name[1:].isidentifier())


def parse_part(raw: Mapping[str, Any], where: str, keys: Callable[[Mapping[str, Any], tuple[str, ...], str], None]) -> LayerPart:
    """A [[part]] table with ``layer = "..."`` (its name, points and calls are read by assignment.py's caller)."""
    name = raw["layer"]
    if name not in LAYERS:
        raise ContractError(f"{where}: layer = {name!r}; expected one of {sorted(LAYERS)}")
    layer = LAYERS[name]
    calls_raw = raw.get("call") or [{k: raw[k] for k in ("function", "arguments", "keywords", "returns") if k in raw}]
    if not isinstance(calls_raw, list) or not all(isinstance(c, dict) and "function" in c for c in calls_raw):
        raise ContractError(f"{where}: needs function = \"name\" with its arguments, or [[part.call]] tables, each with function")
    known = {*layer.arrays, *layer.static, *([layer.settings] if layer.settings else []), *([] if layer.loss else ["dout"])}
    calls = []
    for i, c in enumerate(calls_raw):
        cw = f"{where}.call #{i + 1}"
        keys(c, ("function", "arguments", "keywords", "returns"), cw)
        later = set().union(set(), *(argument_names([d.get("arguments", []), d.get("keywords", {})]) for d in calls_raw[i + 1:]))
        earlier = set().union(set(), *(pattern_names(d.get("returns")) for d in calls_raw[:i]))
        for arg in argument_names([c.get("arguments", []), c.get("keywords", {})]):
            if arg not in known | earlier:
                raise ContractError(f"{cw}: argument {arg!r} unknown; layer {name!r} passes {sorted(known)} "
                                    "or a name an earlier call returns")
        _check_layer_pattern(c.get("returns"), f"{cw}.returns", later, layer)
        calls.append(Call((c["function"],), tuple(c.get("arguments", [])), dict(c.get("keywords", {})), {}, c.get("returns")))
    part = LayerPart(layer, Form(calls=tuple(calls)), _cases(raw, where, keys, layer))
    try:
        part.build()
    except (ValueError, IndexError, KeyError, TypeError) as exc:  # shapes that do not fit each other, a setting missing
        raise ContractError(f"{where}: its cases cannot be built for layer {name!r} ({type(exc).__name__}: {exc}); "
                            f"check shapes and settings against its defaults {[c['shapes'] for c in layer.defaults]}") from None
    if not part.outputs:
        raise ContractError(f"{where}: nothing to grade; return out{', loss' if layer.loss else ''} or d<input> "
                            f"({', '.join('d' + a for a in layer.arrays)})")
    if layer.name == "dropout" and part.gradients and "out" not in part.outputs:
        raise ContractError(f"{where}: dropout's gradient is judged against the mask the student's forward drew: "
                            "save the forward's output as out")
    return part


def _check_layer_pattern(p: Any, where: str, later: set[str], layer: Layer) -> None:
    """A layer call's returns: out, loss, d<input> of the layer, '_', or a name a later call receives (a cache)."""
    if p is None or p == "_":
        return
    if isinstance(p, list):
        for q in p:
            _check_layer_pattern(q, where, later, layer)
        return
    grads = ["d" + a for a in layer.arrays]
    if p in ("out", *grads) or (p == "loss" and layer.loss) or (isinstance(p, str) and p.isidentifier() and p in later):
        return
    raise ContractError(f"{where}: unknown output {p!r}; expected out{', loss' if layer.loss else ''}, "
                        f"{', '.join(grads)}, '_', or a name a later call receives (a cache)")


def _cases(raw: Mapping[str, Any], where: str, keys: Callable, layer: Layer) -> tuple[dict, ...]:
    """The part's cases: its [[part.case]] tables over the layer's defaults (shapes, settings), each with a seed."""
    given = raw.get("case", [])
    if not isinstance(given, list) or not all(isinstance(c, dict) for c in given):
        raise ContractError(f"{where}.case: expected [[part.case]] tables")
    cases = []
    for i, c in enumerate(given or [{} for _ in layer.defaults]):
        keys(c, CASE_KEYS, f"{where}.case #{i + 1}")
        base = layer.defaults[min(i, len(layer.defaults) - 1)]
        shapes = {**base["shapes"], **c.get("shapes", {})}
        if not all(isinstance(v, list) and v and all(isinstance(n, int) and n > 0 for n in v) for v in shapes.values()):
            raise ContractError(f"{where}.case #{i + 1}.shapes: expected lists of positive integers, got {shapes!r}")
        seed = c.get("seed", 1000 + i)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ContractError(f"{where}.case #{i + 1}.seed: expected an integer, got {seed!r}")
        cases.append({"seed": seed, "shapes": shapes, "settings": {**base["settings"], **c.get("settings", {})}})
    return tuple(cases)


def _digest(args: Mapping[str, Any]) -> bytes:
    """A key for a forward pass's arguments: every array's dtype, shape and bytes, every setting's value."""
    h = hashlib.blake2b(digest_size=16)
    for k in sorted(args):
        v = args[k]
        if isinstance(v, np.ndarray):
            h.update(f"{k}:{v.dtype.str}{v.shape}".encode() + np.ascontiguousarray(v).tobytes())
        else:
            h.update(f"{k}={v!r}".encode())
    return h.digest()


def _forward_inputs(case: LayerCase, mask: Optional[np.ndarray] = None) -> dict[str, Any]:
    """The grader's forward pass's arguments on ``case`` (dropout: the mask, all kept, unless given)."""
    if case.layer.name == "dropout":
        return {"x": case.inputs["x"], "mask": np.ones_like(case.inputs["x"]) if mask is None else mask}
    return case.forward_args() if case.layer.settings else dict(case.inputs)


def _ops(form: Form, case: LayerCase) -> list[dict]:
    """The runner's operations for ``case``: each call, its arguments as value trees, what it returns kept or saved."""
    later = [set().union(set(), *(argument_names([*c.args, *c.kwargs.values()]) for c in form.calls[i + 1:]))
             for i in range(len(form.calls))]
    ops, named = [], set()
    for c, keep in zip(form.calls, later):
        symbol = functools.partial(_symbol, case=case)
        ops.append({"op": "call", "names": list(c.names), "shows": c.shows, "optional": {},
                    "args": [value_tree(a, named, symbol) for a in c.args],
                    "kwargs": {k: value_tree(v, named, symbol) for k, v in c.kwargs.items()},
                    "returns": _pattern(c.returns, keep)})
        named |= pattern_names(c.returns) & keep
    return ops


def _symbol(expr: str, case: LayerCase) -> Any:
    """A layer case's argument by name: its settings table, dout, or one of its arrays (kept for the runner)."""
    if expr == case.layer.settings:
        return {"dict": {k: {"s": v} if isinstance(v, str) else v for k, v in case.settings.items()}}
    case.arrays[expr] = case.dout if expr == "dout" else case.inputs[expr]
    return {"a": expr}


def _pattern(p: Any, keep: set[str]) -> Any:
    if p is None or p == "_":
        return None
    if isinstance(p, list):
        return {"kind": "tuple", "items": [_pattern(q, keep) for q in p], "shows": "(" + ", ".join(map(str, p)) + ")"}
    if p in keep:
        return {"kind": "keep", "name": p, "save": p if is_layer_output(p) else None}
    return p


# --- judging one case ---------------------------------------------------------------------------------------------


def _bound(depth: int, expected: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """2Dε·(|expected| + S): the rounding two correct computations of the same output may differ by."""
    return 2 * depth * EPS * (np.abs(expected) + np.abs(terms))


def _elements(name: str, got: np.ndarray, expected: np.ndarray, bound: np.ndarray) -> Optional[str]:
    """Why ``got`` is not ``expected`` within ``bound`` elementwise, or None (NaN and inf fail: the test fails closed)."""
    bad = ~(np.abs(got - expected) <= bound)
    if not bad.any():
        return None
    k = np.unravel_index(int(np.argmax(np.where(bad, np.abs(got - expected), -1.0))), got.shape) if got.ndim else ()
    at = f"{name}[{', '.join(map(str, k))}]" if got.ndim else name
    head = f"{name}: {int(bad.sum())} of {bad.size} elements wrong, e.g. " if got.size > 1 else ""
    return f"{head}{at} = {got[k]:.10g}, expected {expected[k]:.10g} (|error| {abs(got[k] - expected[k]):.2e} > bound {bound[k]:.2e})"


def returned(name: str, got: Mapping[str, np.ndarray], shape: tuple[int, ...], error: Optional[str]) -> tuple[Optional[np.ndarray], Optional[str]]:
    """The array a call returned as ``name``, float64 in ``shape``, or why it cannot be judged.  A shape that differs
    only by axes of length one (CS231n's keepdims db (1, M) for (M,)) is read in ``shape``: the values decide."""
    if name not in got:
        return None, f"{name}: missing" + (f" ({error})" if error else "")
    a = got[name]
    if np.iscomplexobj(a):
        return None, f"{name}: complex values (dtype {a.dtype}); expected real numbers"
    if a.shape != shape and not (a.size == int(np.prod(shape)) and np.squeeze(a).shape == tuple(n for n in shape if n != 1)):
        return None, f"{name}: shape {a.shape}, expected {shape}"
    a = np.asarray(a, dtype=np.float64).reshape(shape)
    if not np.all(np.isfinite(a)):
        return None, f"{name}: holds NaN or inf"
    return a, None


def forward_problem(part: LayerPart, case: LayerCase, got: Mapping[str, np.ndarray], error: Optional[str]) -> Optional[str]:
    """Why the forward output (out, or loss) on ``case`` is wrong, or None."""
    sym = part.forward_symbol
    layer = case.layer
    if layer.name == "dropout":
        return _mask(case, got, error)[1]
    args = _forward_inputs(case)
    expected = np.asarray(layer.forward(**args), dtype=np.float64)
    value, problem = returned(sym, got, expected.shape, error)
    if problem:
        return problem
    terms = np.asarray(layer.terms(**args), dtype=np.float64)
    problem = _elements(sym, value, expected, _bound(layer.depth(case.inputs), expected, terms))
    return problem and "; ".join([*named_mistakes(case, {sym: value}, None), problem])


def _mask(case: LayerCase, got: Mapping[str, np.ndarray], error: Optional[str]) -> tuple[Optional[np.ndarray], Optional[str]]:
    """The mask dropout's forward drew on ``case`` (kept / p) and what is wrong with its output, or None.

    In train mode each element of out must be 0 (dropped) or x / p (kept, inverted dropout) to within the rounding of
    one division and one product (4ε), and the fraction kept must lie within KEPT_SIGMAS binomial standard deviations
    of p.  In test mode out must be x.  The mask returned is the student's draw (which elements were kept), scaled by
    1/p: the backward is judged against the draw, never against the forward's scaling."""
    x, p = case.inputs["x"], float(case.settings["p"])
    out, problem = returned("out", got, x.shape, error)
    if out is None:
        return None, problem
    tol = 2 * 4 * EPS * np.abs(x) / p
    if case.settings.get("mode") == "test":
        return np.ones_like(x), _elements("out", out, x, 2 * 4 * EPS * np.abs(x))
    kept = np.abs(out) > tol
    mask = kept / p
    wrong = ~(np.abs(out - x * mask) <= tol)
    if wrong.any():
        for m, scale in zip(DROPOUT_SCALES, (1 / (1 - p), 1.0)):
            if np.all(np.abs(out[kept] - x[kept] * scale) <= 2 * 4 * EPS * np.abs(x[kept]) * max(scale, 1 / p)):
                return mask, f"out: {m.words}"
        k = np.unravel_index(int(np.argmax(wrong)), x.shape)
        return mask, (f"out: {int(wrong.sum())} of {wrong.size} elements neither 0 nor x / p, e.g. out[{', '.join(map(str, k))}] "
                      f"= {out[k]:.10g} where x = {x[k]:.10g}, p = {p} (x / p = {x[k] / p:.10g})")
    sigma = np.sqrt(p * (1 - p) / x.size)
    if abs(kept.mean() - p) > KEPT_SIGMAS * sigma:
        return mask, (f"out: {kept.mean():.1%} of the elements kept, expected p = {p:.0%} (± {KEPT_SIGMAS * sigma:.1%} "
                      "at 5σ); p is the probability of keeping a unit")
    return mask, None


def gradient_problem(part: LayerPart, case: LayerCase, got: Mapping[str, np.ndarray], error: Optional[str]) -> Optional[str]:
    """Why the gradients returned on ``case`` are wrong, or None: checked by ``bpcheck.check_function`` on
    F = ⟨dout, forward⟩ (a loss layer: F = the loss), against the arrays the student's backward returned."""
    from bpcheck.oracles.generic import check_function  # the check API: imported when a layer is graded

    layer, names = case.layer, part.gradients
    mask = None
    if layer.name == "dropout":
        mask, wrong = _mask(case, got, error)
        if mask is None or wrong:  # `return dout / p` beside a forward that keeps every unit earns nothing
            return (f"{wrong or 'out: missing'}; dropout's backward is judged against the mask its forward drew, and this "
                    "forward did not draw one")
    claimed, problems = {}, []
    for a in names:
        claimed["d" + a], problem = returned("d" + a, got, case.inputs[a].shape, error)
        problems += [problem] if problem else []
    if problems:
        return "; ".join(problems)
    base = _forward_inputs(case, mask)

    def F(**arrays: np.ndarray) -> Any:
        args = {**base, **{a: arrays["d" + a] for a in names}}
        key = _digest(args)
        if key not in case.memo:  # the oracle's points are the same for every submission: each is evaluated once
            if len(case.memo) >= MEMO_ENTRIES:  # dropout's points follow each student's mask: bounded, never growing
                case.memo.clear()
            value = layer.forward(**args)
            case.memo[key] = value if layer.loss else np.sum(case.dout * value)
        return case.memo[key]

    result = check_function(F, {"d" + a: case.inputs[a] for a in names}, lambda **_: claimed)
    if result.ok:
        return None
    lines = [v.lines("expected")[:2] for v in result.inputs if not v.ok]
    said = [" ".join(s.strip() for s in pair) for pair in lines] or [*result.problems, result.refused or result.coverage]
    return "; ".join([*named_mistakes(case, claimed, mask), *(s for s in said if s)]) or f"check_function: {result.verdict}"


# --- the historic mistakes of these layers, named -------------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    """A known mistake of a layer, as the array it gives on a case (``mask``: dropout's draw), named when a student's
    array is that one; ``gives`` None: recognised by a test of its own (dropout's scalings, in ``_mask``)."""

    slug: str
    returned: str  # the array it gets wrong, as the part returns it: out, dx, dgamma, ...
    words: str
    gives: Optional[Callable[[LayerCase, Optional[np.ndarray]], np.ndarray]]


def _std(case: LayerCase) -> np.ndarray:
    x = case.inputs["x"]
    return np.sqrt(((x - x.mean(axis=0)) ** 2).mean(axis=0) + case.settings.get("eps", 1e-5))


def _svm_dx(case: LayerCase, subtract: bool) -> np.ndarray:
    """The hinge loss's gradient written out (a catalog behaviour; the check itself never uses it)."""
    x, y = case.inputs["x"], case.inputs["y"]
    rows = np.arange(x.shape[0])
    positive = (x - x[rows, y][:, None] + 1.0 > 0).astype(float)
    positive[rows, y] = 0.0
    if subtract:
        positive[rows, y] = -positive.sum(axis=1)
    return positive / x.shape[0]


def _whole_window(case: LayerCase, mask: Optional[np.ndarray]) -> np.ndarray:
    ph, pw, s = (case.settings[k] for k in ("pool_height", "pool_width", "stride"))
    dx = np.zeros_like(case.inputs["x"])
    for i in range(case.dout.shape[2]):
        for j in range(case.dout.shape[3]):
            dx[:, :, i * s:i * s + ph, j * s:j * s + pw] += case.dout[:, :, i, j, None, None]
    return dx


def _bn_variant(case: LayerCase, unbiased: bool = False, eps_outside: bool = False) -> np.ndarray:
    x, gamma, beta = case.inputs["x"], case.inputs["gamma"], case.inputs["beta"]
    eps = case.settings.get("eps", 1e-5)
    xc = x - x.mean(axis=0)
    var = (xc ** 2).sum(axis=0) / (x.shape[0] - unbiased)
    return gamma * xc / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)) + beta


#: Dropout forward passes that scale the kept units wrongly: by 1/(1 − p), by 1 (recognised in ``_mask``).
DROPOUT_SCALES = (
    Mistake("dropout-p-drops", "out", "p taken as the probability of dropping a unit: kept units are scaled by "
            "1/(1 − p); here, as in CS231n since 2017, p is the probability of keeping one", None),
    Mistake("dropout-not-inverted", "out", "kept units not scaled by 1/p: inverted dropout scales at train time, so "
            "that test time is the identity", None),
)

MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "batchnorm": (
        Mistake("bn-unbiased-variance", "out", "normalised with the unbiased variance (1/(N − 1)); batch normalisation "
                "uses the biased one, 1/N (np.var's default)", lambda c, m: _bn_variant(c, unbiased=True)),
        Mistake("bn-eps-outside-sqrt", "out", "eps added outside the square root, (x − mean) / (sqrt(var) + eps); it "
                "belongs inside: sqrt(var + eps)", lambda c, m: _bn_variant(c, eps_outside=True)),
        Mistake("bn-constant-statistics", "dx", "dx = dout · gamma / std, as if the batch mean and variance were "
                "constants: the terms through the mean and the variance are missing",
                lambda c, m: c.dout * c.inputs["gamma"] / _std(c)),
        Mistake("bn-dgamma-without-xhat", "dgamma", "dgamma = Σ dout, without the normalised x̂ it multiplies",
                lambda c, m: c.dout.sum(axis=0)),
    ),
    "dropout": (
        Mistake("dropout-unscaled-backward", "dx", "dx = dout · [kept], without the 1/p of inverted dropout that the "
                "forward pass applied", lambda c, m: c.dout * (m != 0)),
    ),
    "max_pool": (
        Mistake("pool-whole-window", "dx", "each window's dout given to every element of the window; only the largest "
                "element (the one the forward pass took) receives it", _whole_window),
    ),
    "svm_loss": (
        Mistake("svm-no-mean", "dx", "dx is N× the right values: the 1/N of the averaged loss is missing from dx",
                lambda c, m: _svm_dx(c, True) * c.inputs["x"].shape[0]),
        Mistake("svm-correct-class-not-subtracted", "dx", "the correct class's column is left at 0: each example's "
                "x[i, y[i]] receives −(its number of positive margins) / N", lambda c, m: _svm_dx(c, False)),
    ),
}


def named_mistakes(case: LayerCase, claimed: Mapping[str, np.ndarray], mask: Optional[np.ndarray]) -> list[str]:
    """The catalogued mistakes that ``claimed`` (arrays by the names the part returns: out, dx, ...) shows, in words.

    A match is to within 2Dε·(|w| + max|w|), w the mistake's array and D = 32 + the axis lengths of the case's arrays,
    the rule the check API applies (oracles/generic.py): two computations of the same wrong formula agree that well."""
    depth = 32 + sum(sum(a.shape) for a in [*case.inputs.values(), *([case.dout] if case.dout is not None else [])])
    found = []
    for m in MISTAKES.get(case.layer.name, ()):
        got = claimed.get(m.returned)
        if got is None or m.gives is None:
            continue
        wrong = np.asarray(m.gives(case, mask), dtype=np.float64)
        if wrong.shape == got.shape and np.all(np.abs(got - wrong) <= 2 * depth * EPS * (np.abs(wrong) + np.abs(wrong).max())):
            found.append(f"{m.returned}: {m.words}")
    return found


def mistakes_in(text: str) -> list[str]:
    """The ids of the catalogued mistakes a problem's text names (the instructor's words; the student reads the words)."""
    every = [*DROPOUT_SCALES, *(m for ms in MISTAKES.values() for m in ms)]
    return [m.slug for m in every if m.words in text]
