"""Contracts as data: how a submission is called, and how its outputs are read back.

A contract is written in an assignment's TOML file (docs/assignments.md) and has three parts:

- ``Conventions``: the network (activations, loss, reduction, regularisation penalty, learning rate)
  and the layout (examples as rows or columns, targets as values or labels 0..K−1 / 1..K, weights
  (n_in, n_out) or (n_out, n_in), biases as vectors, rows, columns or a column of an augmented
  matrix, parameters as lists, a dict or one unrolled vector in C or F order);
- ``Form``s: the entry point (a function, or a class with constructor arguments and attributes to
  set) and its calls, with argument expressions (``x``, ``weights``, ``sizes[0]``, ``reg`` ...) and
  return patterns (``["loss", "d_params"]``, ``["d_biases", "d_weights"]``, or weights read back
  after a training step); a returned name that a later call lists among its arguments (``cache``) is passed
  on inside the sandbox, as the submission made it;
- accepted alternatives: any convention may list other values an assignment accepts.

``Encoder`` turns a probe (reference layout: z = a @ W + b, W (n_in, n_out), rows are examples)
into the submission's arguments; ``decode`` turns what came back into a ``Reading`` in the
reference's layout and convention.  The runner (runner.py) executes the operations and knows
nothing of any of this.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np

from bpcheck.oracles.cases import Case
from bpcheck.reference import Backprop, NetworkSpec, forward
from bpcheck.reference.spec import ACTIVATIONS

from .probes import Convention, Terms

#: A contract's loss: (the reference's loss, the factor s with contract objective = s · reference objective).
LOSSES = {"half_sse": ("half_sse", 1.0), "sse": ("half_sse", 2.0), "mse": ("mse", 1.0), "bce": ("bce", 1.0),
          "softmax_ce": ("softmax_ce", 1.0)}
#: A penalty written with the strength ``reg``, as the l2 of "the objective adds (l2/2)·ΣW²", for batch size m.
PENALTIES = {
    "reg/2*sum(W^2)": lambda reg, m: reg,
    "reg*sum(W^2)": lambda reg, m: 2 * reg,
    "reg/(2m)*sum(W^2)": lambda reg, m: reg / m,
    "reg/m*sum(W^2)": lambda reg, m: 2 * reg / m,
}
BIAS_SHAPES = ("vector", "row", "column")
AUGMENTED = {"first_column": "out_in", "last_column": "out_in", "first_row": "in_out", "last_row": "in_out"}
CHOICES: dict[str, tuple] = {
    "loss": tuple(LOSSES),
    "reduction": ("mean", "sum"),
    "penalty": tuple(PENALTIES),
    "examples": ("rows", "columns"),
    "targets": ("values", "labels", "label_column"),
    "label_base": (0, 1),
    "weights": ("in_out", "out_in"),
    "biases": (*BIAS_SHAPES, *AUGMENTED, "none"),
    "bias_gradients": ("same", *BIAS_SHAPES),
    "parameters": ("lists", "dict", "unrolled"),
    "order": ("C", "F"),
    "upstream": ("batch", "per_example"),
}
#: How many examples one call of the graded function takes: a batch (any number), or one.
PER_CALL = ("batch", "one")
#: Keys an assignment may list alternatives for, in [accept].
ACCEPTABLE = (*CHOICES, "penalise_biases", "learning_rate", "hidden", "output")

INPUT_SYMBOLS = ("x", "y", "weights", "biases", "params", "sizes", "depth", "batch", "reg", "learning_rate",
                 "d_output", "d_scores", "a_last", "z_last")
OUTPUT_SYMBOLS = ("loss", "output", "scores", "d_weights", "d_biases", "d_params", "weights", "biases", "params", "d_scores")
_LAYER = re.compile(r"(d_)?([Wb])(\d+)")
_SIZE = re.compile(r"sizes\[(-?\d+)\]")
_SIZES = re.compile(r"sizes\[(-?\d*):(-?\d*)\]")  # a slice, as Python writes it: CS231n's hidden_dims = sizes[1:-1]


class ContractError(ValueError):
    """A contract that cannot work: the message names the key, what was expected and what was found."""


# --- conventions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conventions:
    """Everything about the network and the layout that two correct submissions may disagree on."""

    hidden: str = "sigmoid"
    output: str = "sigmoid"
    layers: tuple[str, ...] = ()  # one activation per layer, for a contract of fixed depth
    loss: str = "half_sse"
    reduction: str = "mean"
    penalty: str = "reg/2*sum(W^2)"
    penalise_biases: bool = False
    learning_rate: Union[float, str] = 1.0  # "any": fitted from the submission's own step
    depth: Optional[int] = None
    examples: str = "rows"
    targets: str = "values"
    label_base: int = 0
    weights: str = "in_out"
    biases: str = "vector"
    bias_gradients: str = "same"
    parameters: str = "lists"
    order: str = "C"
    weight_key: str = "W{l}"
    bias_key: str = "b{l}"
    d_weight_key: str = ""  # the gradient dict's keys (DLS's dW{l}, db{l}); empty: the parameters' own
    d_bias_key: str = ""
    upstream: str = "batch"  # d_output / d_scores as the objective's gradient, or per example (the callee takes the 1/m)
    examples_per_call: str = "batch"  # "one": each call takes a single example (Nielsen's backprop(x, y))

    def check(self, where: str) -> None:
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ContractError(f"{where}: {key} = {getattr(self, key)!r}; expected one of {list(allowed)}")
        if self.examples_per_call not in PER_CALL:  # not in CHOICES: [accept] has no alternative to it
            raise ContractError(f"{where}: examples_per_call = {self.examples_per_call!r}; expected one of {list(PER_CALL)}")
        for name in (self.hidden, self.output, *self.layers):
            if name not in ACTIVATIONS:
                raise ContractError(f"{where}: activation {name!r}; expected one of {list(ACTIVATIONS)}")
        if self.biases in AUGMENTED and self.weights != AUGMENTED[self.biases]:
            raise ContractError(f"{where}: biases = {self.biases!r} needs weights = {AUGMENTED[self.biases]!r}, "
                                f"got {self.weights!r}")
        if self.layers and self.depth not in (None, len(self.layers)):
            raise ContractError(f"{where}: depth = {self.depth} but {len(self.layers)} activations are listed")
        lr = self.learning_rate
        if not (lr == "any" or (isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0)):
            raise ContractError(f"{where}: learning_rate = {lr!r}; expected a number > 0 or \"any\"")

    @property
    def has_bias(self) -> bool:
        return self.biases != "none"

    @property
    def augmented(self) -> bool:
        return self.biases in AUGMENTED

    @property
    def scale(self) -> float:
        """s: the contract's objective is s times the reference's (Σ(a − y)² is twice ½Σ(a − y)²)."""
        return LOSSES[self.loss][1]

    def l2(self, reg: float, batch: int) -> float:
        """The contract's own l2 (its objective adds (l2/2)·ΣW²) for strength ``reg`` and batch size ``batch``."""
        return PENALTIES[self.penalty](reg, batch)

    def spec(self, sizes: tuple[int, ...], reg: float, batch: int) -> NetworkSpec:
        """The reference's network for these conventions: the contract's objective divided by s."""
        L = len(sizes) - 1
        acts = self.layers or (self.hidden,) * (L - 1) + (self.output,)
        return NetworkSpec(tuple(sizes), acts, LOSSES[self.loss][0], self.reduction, l2=self.l2(reg, batch) / self.scale,
                           bias=self.has_bias)

    def key(self, kind: str, l: int, gradient: bool = False) -> str:
        """The dict key of layer ``l``'s weights (``kind`` "W") or biases ("b"), or of their gradients: a template
        (weight_key, bias_key, d_weight_key, d_bias_key) filled in."""
        template = self.weight_key if kind == "W" else self.bias_key
        if gradient:
            template = (self.d_weight_key if kind == "W" else self.d_bias_key) or template
        return template.format(l=l, i=l - 1)

    # -- shapes in the submission's layout --

    def weight_shape(self, n_in: int, n_out: int) -> tuple[int, int]:
        extra = 1 if self.augmented else 0
        return (n_out, n_in + extra) if self.weights == "out_in" else (n_in + extra, n_out)

    def bias_shape(self, n: int, gradient: bool = False) -> tuple[int, ...]:
        kind = self.bias_gradients if gradient and self.bias_gradients != "same" else self.biases
        return {"vector": (n,), "row": (1, n), "column": (n, 1)}[kind]

    def to_student(self, W: np.ndarray, b: Optional[np.ndarray]) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """One layer's (W, b), reference layout, in the submission's: (weight matrix, bias or None when augmented)."""
        Ws = W.T if self.weights == "out_in" else W
        if b is None:
            return np.array(Ws), None
        if self.augmented:
            first = self.biases.startswith("first")
            if self.weights == "out_in":
                return np.column_stack([b, Ws] if first else [Ws, b]), None
            return np.vstack([b[None, :], Ws] if first else [Ws, b[None, :]]), None
        return np.array(Ws), b.reshape(self.bias_shape(b.size))

    def from_student(self, Ws: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """A weight matrix of the submission's shape back to (W, b or None), reference layout."""
        b = None
        if self.augmented:
            first = self.biases.startswith("first")
            if self.weights == "out_in":
                b, Ws = (Ws[:, 0], Ws[:, 1:]) if first else (Ws[:, -1], Ws[:, :-1])
            else:
                b, Ws = (Ws[0, :], Ws[1:, :]) if first else (Ws[-1, :], Ws[:-1, :])
        return (Ws.T if self.weights == "out_in" else Ws), b


def describe(key: str, value: Any) -> str:
    """A convention in words, for 'correct, with ...'."""
    words = {
        ("label_base", 1): "labels numbered 1..K", ("label_base", 0): "labels numbered 0..K−1",
        ("order", "F"): "parameters unrolled in Fortran (column-major) order", ("order", "C"): "parameters unrolled in C (row-major) order",
        ("targets", "label_column"): "labels as a column (m, 1)", ("targets", "labels"): "labels as a vector (m,)",
        ("targets", "values"): "targets shaped like the output",
        ("examples", "columns"): "examples as columns", ("examples", "rows"): "examples as rows",
        ("weights", "out_in"): "weights shaped (n_out, n_in)", ("weights", "in_out"): "weights shaped (n_in, n_out)",
        ("loss", "sse"): "the loss Σ(a − y)² (no ½)", ("loss", "half_sse"): "the loss ½Σ(a − y)²",
        ("loss", "mse"): "the mean squared error", ("loss", "bce"): "the cross-entropy loss",
        ("loss", "softmax_ce"): "the softmax cross-entropy loss",
        ("reduction", "sum"): "the loss summed over the batch", ("reduction", "mean"): "the loss averaged over the batch",
        ("penalise_biases", True): "biases regularised too", ("penalise_biases", False): "biases not regularised",
        ("upstream", "per_example"): "upstream gradients per example (the 1/m taken by the callee)",
        ("upstream", "batch"): "upstream gradients of the batch's objective",
    }
    if (key, value) in words:
        return words[(key, value)]
    if key == "penalty":
        return "the penalty " + value.replace("*sum(W^2)", "·ΣW²").replace("reg/2", "½·reg")
    if key in ("biases", "bias_gradients"):
        shape = {"vector": "(n,)", "row": "(1, n)", "column": "(n, 1)"}.get(value, value.replace("_", " "))
        return f"{'bias gradients' if key == 'bias_gradients' else 'biases'} shaped {shape}"
    if key == "learning_rate":
        return f"a learning rate of {value:g}" if value != "any" else "its own learning rate"
    if key in ("hidden", "output"):
        return f"{value} on the {key} layer{'s' if key == 'hidden' else ''}"
    return f"{key} = {value}"


# --- conventions the diagnosis names when a submission does not follow any accepted one ---------------------


def _labels_from_one(case: Case) -> Case:
    """Y = eye(K)[y - 1]: every label read one class down, label 0 wrapping round to the last class."""
    return replace(case, y=np.roll(case.y, -1, axis=1))


def _labels_one_to_k(case: Case) -> Case:
    """Y[:, k - 1] = (y == k) for k = 1..K: label j read as class j − 1, label 0 as no class at all."""
    y = np.zeros_like(case.y)
    y[:, :-1] = case.y[:, 1:]
    return replace(case, y=y)


def _half_penalty(case: Case) -> Case:
    return replace(case, spec=replace(case.spec, l2=case.spec.l2 / 2))


def unrolled_in_other_order(conv: "Conventions", case: Case, grads: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What bpcheck reads, in ``conv``'s layout, from gradients unrolled in the other order (C for F, F for C)."""
    unrolled = Encoder(replace(conv, order="F" if conv.order == "C" else "C"), case, 0.0).unroll(grads)
    reading = Reading()
    out = Contract((Form(),), conv)._params("d_params", "", Encoder(conv, case, 0.0), {"d_params": unrolled}, reading)
    return out if not reading.errors else dict(grads)


#: Ways of being differently right that a diagnosis recognises in a submission that follows no accepted combination
#: (an assignment lists those it wants named in [feedback] conventions); each completes "correct if ...".
DIAGNOSED: dict[str, Callable[["Conventions"], Convention]] = {
    "labels-1..K": lambda conv: Convention(
        "labels-1..K", "labels run 1..K (Y = eye(K)[y - 1]); this assignment's run 0..K−1", case=_labels_from_one),
    "labels-y==k": lambda conv: Convention(
        "labels-y==k", "labels run 1..K (Y[:, k-1] = (y == k)); this assignment's run 0..K−1", case=_labels_one_to_k),
    "unroll-columns": lambda conv: Convention(
        "unroll-columns", "grad is read column by column (order='F'); this assignment unrolls row by row (C order)",
        read=lambda case, grads: unrolled_in_other_order(conv, case, grads)),
    "reg-2016": lambda conv: Convention(
        "reg-2016", "the penalty is the 2016 0.5·reg·ΣW²; this assignment's is reg·ΣW²", case=_half_penalty),
}


@dataclass(frozen=True)
class Variant:
    """One combination of accepted conventions; ``choices`` are those that differ from the assignment's own."""

    conventions: Conventions
    choices: tuple[tuple[str, Any], ...] = ()

    @property
    def default(self) -> bool:
        return not self.choices

    def words(self, fitted_lr: Optional[float] = None) -> str:
        parts = [describe(k, fitted_lr if (k == "learning_rate" and v == "any" and fitted_lr) else v) for k, v in self.choices]
        return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 2 else parts)


# --- entry points -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    names: tuple[str, ...]  # the function or method, then its accepted aliases
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    optional: Mapping[str, Any] = field(default_factory=dict)  # keywords passed only when the callee accepts them
    returns: Any = None  # an output pattern
    read: tuple[tuple[tuple[str, ...], Any], ...] = ()  # attributes read after the call: (names, pattern)

    @property
    def shows(self) -> str:
        return f"{self.names[0]}(...)"


@dataclass(frozen=True)
class Form:
    """One accepted shape of the entry point: a class to construct (or none) and the calls to make."""

    cls: tuple[str, ...] = ()
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    optional: Mapping[str, Any] = field(default_factory=dict)
    attributes: tuple[tuple[tuple[str, ...], Any], ...] = ()
    calls: tuple[Call, ...] = ()

    @property
    def requires(self) -> list[tuple[str, ...]]:
        """Top-level names the submission must define for this form (each with its aliases)."""
        return [self.cls] if self.cls else [c.names for c in self.calls]

    def patterns(self) -> list[Any]:
        return [c.returns for c in self.calls] + [p for c in self.calls for _, p in c.read]

    def outputs(self) -> set[str]:
        """Every output symbol the form's patterns name."""
        found: set[str] = set()

        def walk(p: Any) -> None:
            if isinstance(p, str) and is_output(p):
                found.add(p)
            elif isinstance(p, list):
                for q in p:
                    walk(q)

        for p in self.patterns():
            walk(p)
        found.discard("_")
        return found

    def kinds(self) -> set[str]:
        """What the form's outputs carry: some of loss, forward, gradient, update (see ``output_kind``)."""
        return {output_kind(s) for s in self.outputs()}


def is_output(p: str) -> bool:
    """Whether pattern name ``p`` is an output the grader reads (else it names a value a later call receives)."""
    base = p[2:] if p.startswith("d_") else p
    return p in OUTPUT_SYMBOLS or base in ("weights", "biases", "params") or bool(_LAYER.fullmatch(p))


def pattern_names(p: Any) -> set[str]:
    """Every name in an output pattern (a name, or a list of patterns)."""
    if isinstance(p, str):
        return {p} - {"_"}
    return set().union(*map(pattern_names, p)) if isinstance(p, list) else set()


def argument_names(expr: Any) -> set[str]:
    """The bare names in an argument expression (not numbers, not 'quoted strings')."""
    if isinstance(expr, str):
        return set() if expr[:1] == "'" else {expr}
    if isinstance(expr, list):
        return set().union(*map(argument_names, expr))
    if isinstance(expr, dict):
        return set().union(*map(argument_names, expr.values()))
    return set()


def is_input(name: str) -> bool:
    """Whether ``name`` is one of the probe's arguments (x, weights, W1, sizes[0], ...), never an earlier call's value."""
    m = _LAYER.fullmatch(name)
    return name in INPUT_SYMBOLS or bool(m and not m.group(1)) or bool(_SIZE.fullmatch(name) or _SIZES.fullmatch(name))


def output_kind(symbol: str) -> str:
    """What an output symbol carries: loss, forward, gradient or update (weights read after a training step)."""
    if symbol == "loss":
        return "loss"
    if symbol in ("output", "scores"):
        return "forward"
    if symbol.startswith("d_"):
        return "gradient"
    return "update"


@dataclass
class Reading:
    """A submission's outputs on one probe, in the reference's layout."""

    grads: dict[str, np.ndarray] = field(default_factory=dict)
    loss: Optional[float] = None
    forward: Optional[np.ndarray] = None
    steps: Optional[dict[str, np.ndarray]] = None  # parameters after the last training step, reference layout
    mutated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: per array, a bound on the error the reading itself adds (a gradient read off a weight update is
    #: a difference of two rounded weights: |ΔW| carries up to ε(|W_before| + |W_after|)/η)
    uncertainty: dict[str, np.ndarray] = field(default_factory=dict)
    call_error: Optional[str] = None  # an error after every gradient was saved (it costs the loss or forward check only)


@dataclass(frozen=True)
class Contract:
    forms: tuple[Form, ...]
    conventions: Conventions
    accept: Mapping[str, tuple] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)  # the student's name for a symbol, for feedback
    weight_name: str = ""  # feedback templates with {l} (1-based) and {i} (0-based)
    bias_name: str = ""
    diagnosed: tuple[str, ...] = ()  # DIAGNOSED conventions the diagnosis may name

    def terms(self, conv: Optional[Conventions] = None) -> Terms:
        """The student's words for the diagnosis: array names, the regularisation strength as passed, conventions."""
        conv = conv or self.conventions
        reg_name = self.names.get("reg", "reg")
        hyper = (lambda case: {reg_name: self.reg_passed(conv, case)}) if self.passes("reg") else (lambda case: {})
        return Terms(lambda ref: self.display(ref, conv), hyper, reg_name, tuple(DIAGNOSED[c](conv) for c in self.diagnosed))

    def passes(self, symbol: str) -> bool:
        """Whether any call or constructor receives ``symbol`` as an argument."""
        def mentions(e: Any) -> bool:
            return e == symbol or (isinstance(e, list) and any(map(mentions, e))) or (
                isinstance(e, dict) and any(map(mentions, e.values())))
        return any(mentions(list(f.args) + list(f.kwargs.values()) + list(f.optional.values()) + [v for _, v in f.attributes]
                            + [a for c in f.calls for a in (*c.args, *c.kwargs.values(), *c.optional.values())])
                   for f in self.forms)

    @staticmethod
    def reg_passed(conv: Conventions, case: Case) -> float:
        """The strength the submission was passed on ``case`` (the reference's l2 back through s and the penalty)."""
        return case.spec.l2 * conv.scale / conv.l2(1.0, case.batch)

    @property
    def entry(self) -> str:
        """The name a submission defines, as the assignment's first form spells it (a class, or its first function)."""
        return (self.forms[0].cls or self.forms[0].calls[0].names)[0]

    # -- what the contract produces --

    def kinds(self) -> set[str]:
        return self.forms[0].kinds()

    @property
    def has_loss(self) -> bool:
        return "loss" in self.kinds()

    @property
    def forward_symbol(self) -> Optional[str]:
        outs = self.forms[0].outputs()
        return "scores" if "scores" in outs else "output" if "output" in outs else None

    @property
    def reads_updates(self) -> bool:
        return "update" in self.kinds()

    def variants(self) -> list[Variant]:
        """The assignment's own conventions first, then every combination of accepted alternatives, fewest changes first."""
        keys = list(self.accept)
        combos = itertools.product(*[[None, *self.accept[k]] for k in keys])
        out = []
        for combo in combos:
            choices = tuple((k, v) for k, v in zip(keys, combo) if v is not None)
            conv = replace(self.conventions, **dict(choices)) if choices else self.conventions
            out.append(Variant(conv, choices))
        return sorted(out, key=lambda v: (len(v.choices), [keys.index(k) for k, _ in v.choices]))

    # -- feedback names --

    def display(self, ref: str, conv: Optional[Conventions] = None) -> str:
        """The student's own name for reference parameter ``ref`` (W1, b1, ...)."""
        conv = conv or self.conventions
        kind, l = ref[0], int(ref[1:])
        template = self.weight_name if kind == "W" else self.bias_name
        if template:
            return template.format(l=l, i=l - 1)
        for symbol in sorted(self.forms[0].outputs()):
            if output_kind(symbol) not in ("gradient", "update"):
                continue
            base = symbol[2:] if symbol.startswith("d_") else symbol
            name = self._attribute_name(symbol) or self.names.get(symbol, symbol)
            if symbol == "d_scores":  # the student returned ∂J/∂z^L; its dW and db are the grader's own reading of it
                return f"{name} (as the {'weight' if kind == 'W' else 'bias'} gradient of layer {l} it gives)"
            if base == ("weights" if kind == "W" else "biases"):
                return f"{name}[{l - 1}]"
            if base == ref:
                return name
            if base == "params":
                if conv.parameters == "dict":
                    return f"{name}[{conv.key(kind, l, symbol.startswith('d_'))!r}]"
                if conv.parameters == "lists":
                    return f"{name}[{2 * (l - 1) + (kind == 'b')}]" if conv.has_bias and not conv.augmented else f"{name}[{l - 1}]"
                return f"{name} (layer {l} {'weights' if kind == 'W' else 'biases'})"
        if kind == "b" and conv.augmented:
            return f"{self.display('W' + str(l), conv)} bias {'column' if conv.weights == 'out_in' else 'row'}"
        return ref

    def _attribute_name(self, symbol: str) -> Optional[str]:
        for c in self.forms[0].calls:
            for names, pattern in c.read:
                if pattern == symbol:
                    return names[0]
        return None

    def shows(self, pattern: Any) -> str:
        if isinstance(pattern, list):
            return "(" + ", ".join(self.shows(p) for p in pattern) + ")"
        if pattern is None:
            return "None"
        return self._attribute_name(pattern) or self.names.get(pattern, pattern)

    # -- the runner's operations --

    def ops(self, form: Form, enc: "Encoder", steps: int) -> list[dict]:
        """The runner's operations for one probe: construct, set, then every call ``steps`` times (names @k from step 2)."""
        ops: list[dict] = []
        later = [set().union(*(argument_names(a) for a in (*c.args, *c.kwargs.values(), *c.optional.values())))
                 for c in form.calls]
        keep = {n for i, c in enumerate(form.calls) for n in pattern_names([c.returns, *(p for _, p in c.read)])
                if not is_input(n) and n in set().union(set(), *later[i + 1:])}
        if form.cls:
            ops.append({"op": "new", "names": list(form.cls), "shows": f"{form.cls[0]}(...)",
                        "args": [enc.value(a) for a in form.args], "kwargs": {k: enc.value(v) for k, v in form.kwargs.items()},
                        "optional": {k: enc.value(v) for k, v in form.optional.items()}})
            for names, value in form.attributes:
                ops.append({"op": "set", "names": list(names), "value": enc.value(value), "shows": f"setting {names[0]}"})
        for k in range(1, steps + 1):
            suffix = "" if k == 1 else f"@{k}"
            named: set[str] = set()  # the values earlier calls returned, by name
            for c in form.calls:
                op = {"op": "call", "names": list(c.names), "shows": c.shows,
                      "args": [enc.value(a, named) for a in c.args],
                      "kwargs": {key: enc.value(v, named) for key, v in c.kwargs.items()},
                      "optional": {key: enc.value(v, named) for key, v in c.optional.items()},
                      "returns": self._pattern(c.returns, enc, suffix, keep)}
                if c.read:
                    op["read"] = [{"names": list(n), "pattern": self._pattern(p, enc, suffix, keep)} for n, p in c.read]
                ops.append(op)
                named |= keep & pattern_names([c.returns, *(p for _, p in c.read)])
        return ops

    def _pattern(self, p: Any, enc: "Encoder", suffix: str, keep: set[str] = frozenset()) -> Any:
        """The runner's pattern for ``p``; a name in ``keep`` is also kept in the sandbox for a later call."""
        if p is None or p == "_":
            return None
        if isinstance(p, list):
            return {"kind": "tuple", "items": [self._pattern(q, enc, suffix, keep) for q in p], "shows": self.shows(p)}
        if p in keep:
            return {"kind": "keep", "name": p, "save": self._pattern(p, enc, suffix) if is_output(p) else None}
        conv, L = enc.conv, enc.case.spec.depth
        base = p[2:] if p.startswith("d_") else p
        name = p + suffix
        if base in ("weights", "biases"):
            return {"kind": "list", "prefix": name, "length": L, "shows": self.shows(p)}
        if base == "params":
            if conv.parameters == "dict":
                return {"kind": "dict", "shows": self.shows(p),
                        "items": {k: f"{name}.{k}" for k in enc.param_keys(p.startswith("d_"))}}
            if conv.parameters == "lists":
                per = 2 if conv.has_bias and not conv.augmented else 1
                return {"kind": "list", "prefix": name, "length": per * L, "shows": self.shows(p)}
        return name

    # -- reading the outputs back --

    def decode(self, form: Form, enc: "Encoder", arrays: Mapping[str, np.ndarray], lr: Optional[float] = None) -> Reading:
        """The outputs of one probe under ``enc``'s conventions, in the reference's layout and objective.

        ``lr``: the learning rate gradients are read off with (updates only); default the conventions' own.
        """
        conv, case = enc.conv, enc.case
        r = Reading()
        lr = float(lr if lr is not None else conv.learning_rate)
        s = conv.scale
        l2c = conv.l2(enc.reg, case.batch)
        for symbol in sorted(form.outputs()):
            kind = output_kind(symbol)
            if kind == "loss":
                J = arrays.get("loss")
                if J is None:
                    r.errors.append(f"{self.shows('loss')}: missing (not returned, or not a number)")
                elif J.size != 1 or np.iscomplexobj(J):
                    r.errors.append(f"{self.shows('loss')}: expected one real number, got shape {J.shape}"
                                    + (" of complex numbers" if np.iscomplexobj(J) else ""))
                else:
                    bias_pen = 0.5 * l2c * sum(float(np.sum(case.params[f"b{l}"] ** 2)) for l in range(1, case.spec.depth + 1)) \
                        if conv.penalise_biases and conv.has_bias else 0.0
                    r.loss = (float(J.reshape(())) - bias_pen) / s
            elif kind == "forward":
                out = arrays.get(symbol)
                r.forward = out.T if out is not None and conv.examples == "columns" and out.ndim == 2 else out
            elif symbol == "d_scores":
                r.grads.update(_through_scores(enc, arrays.get(symbol), self.shows(symbol), r))
            else:
                got = self._params(symbol, "", enc, arrays, r)
                if kind == "gradient":
                    for ref, g in got.items():
                        r.grads[ref] = self._to_reference(ref, g, enc, l2c, s)
                else:
                    for ref, after in got.items():
                        before = case.params[ref]
                        if after.shape != before.shape:
                            continue
                        g = -(after - before) / lr
                        r.grads[ref] = self._to_reference(ref, g, enc, l2c, s)
                        # a non-finite weight widens nothing: its reading is NaN or inf, which no bound may cover
                        spread = np.where(np.isfinite(after), np.abs(after), 0.0) + np.abs(before)
                        r.uncertainty[ref] = np.finfo(np.float64).eps * spread / (lr * s)
                    step = re.compile(rf"{re.escape(symbol)}@(\d+)(\.|$)")
                    last = max((int(m.group(1)) for k in arrays if (m := step.match(k))), default=1)
                    if last > 1:
                        r.steps = {**(r.steps or {}), **self._params(symbol, f"@{last}", enc, arrays, Reading())}
        for key, arr in arrays.items():
            if key.startswith("after."):
                name = key[len("after."):].rsplit(".", 1)[0]
                sent = enc.arrays.get(name)
                if sent is not None and (arr.shape != sent.shape or not np.array_equal(arr, sent)):
                    base, _, item = name.partition(".")
                    base = self.names.get(base, base)
                    shown = f"{base}[{item if item.isdigit() else repr(item)}]" if item else base
                    if shown not in r.mutated:
                        r.mutated.append(shown)
        return r

    def _to_reference(self, ref: str, g: np.ndarray, enc: "Encoder", l2c: float, s: float) -> np.ndarray:
        if ref.startswith("b") and enc.conv.penalise_biases:
            g = g - l2c * enc.case.params[ref]
        return g / s if s != 1.0 else g

    def _params(self, symbol: str, suffix: str, enc: "Encoder", arrays: Mapping[str, np.ndarray], r: Reading) -> dict[str, np.ndarray]:
        """Parameters (or their gradients) named by ``symbol``, converted to the reference's layout; shape errors to ``r``."""
        conv, L = enc.conv, enc.case.spec.depth
        base = symbol[2:] if symbol.startswith("d_") else symbol
        shown = self.shows(symbol)
        read = _ParamsRead(conv, enc.case.spec.sizes, symbol.startswith("d_"), r)
        if base in ("weights", "biases"):
            for l in range(1, L + 1):
                read.layer("W" if base == "weights" else "b", l, arrays.get(f"{symbol}{suffix}.{l - 1}"), f"{shown}[{l - 1}]")
        elif _LAYER.fullmatch(base):
            read.layer(base[0], int(base[1:]), arrays.get(symbol + suffix), shown)
        elif base == "params" and conv.parameters == "dict":
            for l in range(1, L + 1):
                wk = conv.key("W", l, symbol.startswith("d_"))
                read.weight(l, arrays.get(f"{symbol}{suffix}.{wk}"), f"{shown}[{wk!r}]")
                if conv.has_bias and not conv.augmented:
                    bk = conv.key("b", l, symbol.startswith("d_"))
                    read.bias(l, arrays.get(f"{symbol}{suffix}.{bk}"), f"{shown}[{bk!r}]")
        elif base == "params" and conv.parameters == "lists":
            per = 2 if conv.has_bias and not conv.augmented else 1
            for l in range(1, L + 1):
                read.weight(l, arrays.get(f"{symbol}{suffix}.{per * (l - 1)}"), f"{shown}[{per * (l - 1)}]")
                if per == 2:
                    read.bias(l, arrays.get(f"{symbol}{suffix}.{2 * l - 1}"), f"{shown}[{2 * l - 1}]")
        elif base == "params":  # one unrolled vector: each layer's weight matrix (then bias), in order C or F
            read.unrolled(arrays.get(symbol + suffix), enc.unrolled_sizes(), shown)
        return read.out


class _GivenScores(Backprop):
    """The reference's backprop from a given δᴸ: BP3, BP4 and BP2 with the probe's own weights."""

    def __init__(self, case: Case, delta: np.ndarray):
        super().__init__(case.spec, case.params, forward(case.spec, case.params, case.x, case.y)[1])
        self.delta = delta

    def bp1(self) -> np.ndarray:
        return self.delta


def _through_scores(enc: "Encoder", dz: Optional[np.ndarray], shown: str, r: Reading) -> dict[str, np.ndarray]:
    """The parameter gradients a returned ∂J/∂zᴸ (``d_scores``: relu_backward's dx, softmax_loss's dx) gives, in the
    reference's objective: a wrong dx shows as the dW and db it gives, and the catalog names it as a wrong BP1."""
    conv, case = enc.conv, enc.case
    want = scores_shape(conv, case)
    if dz is None:
        r.errors.append(f"{shown}: missing (not returned, or not an array of numbers)")
        return {}
    if dz.shape != want:
        r.errors.append(f"{shown}: expected shape {want}, got {dz.shape}")
        return {}
    return _GivenScores(case, scores_as_delta(conv, case, dz)).run()


def scores_shape(conv: Conventions, case: Case) -> tuple[int, int]:
    """The shape of a returned ∂J/∂zᴸ: examples by outputs, in the contract's layout."""
    return (case.batch, case.spec.sizes[-1]) if conv.examples == "rows" else (case.spec.sizes[-1], case.batch)


def scores_as_delta(conv: Conventions, case: Case, dz: np.ndarray) -> np.ndarray:
    """A returned ∂J/∂zᴸ of the right shape as the reference's δᴸ: in its layout, objective and batch scaling."""
    delta = (dz if conv.examples == "rows" else dz.T) / conv.scale
    if conv.upstream == "per_example" and case.spec.reduction == "mean":
        delta = delta / case.batch  # each example's own gradient: the mean's 1/m is the reference's
    return delta


class _ParamsRead:
    """A student's parameter arrays read into the reference's layout (``out``); shape errors go to the reading."""

    def __init__(self, conv: Conventions, sizes: Sequence[int], grad: bool, r: Reading):
        self.conv, self.sizes, self.grad, self.r = conv, sizes, grad, r
        self.out: dict[str, np.ndarray] = {}

    def layer(self, what: str, l: int, arr: Optional[np.ndarray], who: str) -> None:
        (self.weight if what == "W" else self.bias)(l, arr, who)

    def weight(self, l: int, arr: Optional[np.ndarray], who: str) -> None:
        if arr is None:
            self.r.errors.append(f"{who}: missing (not returned, or not an array of numbers)")
            return
        want = self.conv.weight_shape(self.sizes[l - 1], self.sizes[l])
        if arr.shape != want:  # kept for the diagnosis, which names a transpose ('bp3-transposed')
            self.r.errors.append(f"{who}: expected shape {want}, got {arr.shape}")
            if arr.ndim == 2 and not self.conv.augmented:
                self.out[f"W{l}"] = self.conv.from_student(arr)[0]
            return
        W, b = self.conv.from_student(arr)
        self.out[f"W{l}"] = W
        if b is not None:
            self.out[f"b{l}"] = b

    def bias(self, l: int, arr: Optional[np.ndarray], who: str) -> None:
        if arr is None:
            self.r.errors.append(f"{who}: missing (not returned, or not an array of numbers)")
            return
        want = self.conv.bias_shape(self.sizes[l], gradient=self.grad)
        if arr.shape != want:  # kept as it came, for the diagnosis ("right values, as a (1, n) row")
            self.r.errors.append(f"{who}: expected shape {want}, got {arr.shape}")
            self.out[f"b{l}"] = arr
            return
        self.out[f"b{l}"] = arr.reshape(-1)

    def unrolled(self, flat: Optional[np.ndarray], sizes_each: Sequence[tuple[str, int, tuple]], shown: str) -> None:
        """One vector holding every layer's weight matrix (then bias) in turn, unrolled in the conventions' order."""
        total = sum(n for _, n, _ in sizes_each)
        if flat is None:
            self.r.errors.append(f"{shown}: missing (not returned, or not an array of numbers)")
        elif flat.size != total:
            layout = ", ".join(f"{what} {'x'.join(map(str, shape))}" for what, _, shape in sizes_each)
            self.r.errors.append(f"{shown}: expected {total} entries ({layout}, unrolled), got shape {flat.shape}")
        else:
            flat, at = flat.reshape(-1), 0
            for what, n, shape in sizes_each:
                piece = flat[at:at + n].reshape(shape, order=self.conv.order)
                at += n
                self.layer(what[0], int(what[1:]), piece, f"{shown} ({what})")


# --- arguments ----------------------------------------------------------------------------------------------


def value_tree(expr: Any, named: set[str], symbol: Callable[[str], Any]) -> Any:
    """An argument expression (docs/assignments.md) as the runner's value tree: numbers, lists, tables and 'quoted
    strings' as written; a name in ``named`` is what an earlier call returned under that name, passed on inside the
    sandbox; any other name is ``symbol``'s (the probe's arrays and numbers)."""
    if isinstance(expr, bool) or isinstance(expr, (int, float)):
        return expr
    if isinstance(expr, list):
        return [value_tree(e, named, symbol) for e in expr]
    if isinstance(expr, dict):
        return {"dict": {k: value_tree(v, named, symbol) for k, v in expr.items()}}
    if isinstance(expr, str) and len(expr) >= 2 and expr[0] == expr[-1] == "'":
        return {"s": expr[1:-1]}
    if isinstance(expr, str) and expr in named:
        return {"v": expr}
    return symbol(expr)


class Encoder:
    """A probe's arguments in one set of conventions; every array it hands out is kept in ``arrays`` by name."""

    def __init__(self, conv: Conventions, case: Case, reg: float):
        self.conv, self.case, self.reg = conv, case, float(reg)
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, value: np.ndarray) -> dict:
        self.arrays[name] = np.array(value)
        return {"a": name}

    def param_keys(self, gradient: bool = False) -> list[str]:
        keys = []
        for l in range(1, self.case.spec.depth + 1):
            keys.append(self.conv.key("W", l, gradient))
            if self.conv.has_bias and not self.conv.augmented:
                keys.append(self.conv.key("b", l, gradient))
        return keys

    def layer(self, l: int) -> tuple[np.ndarray, Optional[np.ndarray]]:
        p = self.case.params
        return self.conv.to_student(p[f"W{l}"], p.get(f"b{l}"))

    def unroll(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """``params`` (reference layout: W1, b1, ...) as one vector in the submission's layout and unroll order."""
        pieces = []
        for l in range(1, self.case.spec.depth + 1):
            W, b = self.conv.to_student(params[f"W{l}"], params.get(f"b{l}"))
            pieces.append(W.ravel(order=self.conv.order))
            if b is not None:
                pieces.append(b.ravel(order=self.conv.order))
        return np.concatenate(pieces)

    def unrolled_sizes(self) -> list[tuple[str, int, tuple[int, ...]]]:
        out = []
        for l in range(1, self.case.spec.depth + 1):
            W, b = self.layer(l)
            out.append((f"W{l}", W.size, W.shape))
            if b is not None:
                out.append((f"b{l}", b.size, b.shape))
        return out

    def value(self, expr: Any, named: set[str] = frozenset()) -> Any:
        """An argument expression as the runner's value tree (``value_tree``), its symbols the probe's (``symbol``)."""
        return value_tree(expr, named, self.symbol)

    def symbol(self, s: str) -> Any:
        conv, case = self.conv, self.case
        L, sizes, N = case.spec.depth, case.spec.sizes, case.batch
        rows = conv.examples == "rows"
        if s == "x":
            return self.array("x", case.x if rows else case.x.T)
        if s == "y":
            if conv.targets == "values":
                return self.array("y", case.y if rows else case.y.T)
            labels = np.argmax(case.y, axis=1).astype(np.int64) + conv.label_base
            return self.array("y", labels if conv.targets == "labels" else labels[:, None])
        if s in ("weights", "biases"):
            if s == "biases" and (not conv.has_bias or conv.augmented):
                raise ContractError(f"argument 'biases': this contract has biases = {conv.biases!r}")
            return [self.array(f"{s}.{l - 1}", self.layer(l)[0 if s == "weights" else 1]) for l in range(1, L + 1)]
        m = _LAYER.fullmatch(s)
        if m and not m.group(1):
            l = int(m.group(3))
            if not 1 <= l <= L:
                raise ContractError(f"argument {s!r}: the network has layers 1..{L}")
            W, b = self.layer(l)
            if m.group(2) == "b" and b is None:
                raise ContractError(f"argument {s!r}: this contract has biases = {conv.biases!r}")
            return self.array(s, W if m.group(2) == "W" else b)
        if s == "params":
            return self.params()
        if s == "sizes":
            return [int(n) for n in sizes]
        m = _SIZE.fullmatch(s)
        if m:
            i = int(m.group(1))
            if not -len(sizes) <= i < len(sizes):
                raise ContractError(f"argument {s!r}: the network has {len(sizes)} layer sizes")
            return int(sizes[i])
        m = _SIZES.fullmatch(s)
        if m:
            start, stop = (int(g) if g else None for g in m.groups())
            return [int(n) for n in sizes[start:stop]]
        if s == "depth":
            return L
        if s == "batch":
            return N
        if s == "reg":
            return self.reg
        if s == "learning_rate":
            if conv.learning_rate == "any":
                raise ContractError("argument 'learning_rate': the learning rate is \"any\", so the grader cannot pass one")
            return float(conv.learning_rate)
        if s in ("d_output", "d_scores"):
            return self.array(s, self.upstream(s))
        if s == "a_last":  # the reference's output, for a function graded apart from the forward pass (compute_cost)
            a = forward(case.spec, case.params, case.x, case.y)[1].a[-1]
            return self.array(s, a if rows else a.T)
        if s == "z_last":  # the reference's last pre-activation, for a layer graded on its own (relu_forward(x))
            z = forward(case.spec, case.params, case.x, case.y)[1].z[-1]
            return self.array(s, z if rows else z.T)
        raise ContractError(f"argument {s!r}: unknown; expected one of {list(INPUT_SYMBOLS)}, W1, b1, ..., sizes[i], sizes[i:j], "
                            "a name an earlier call returns, a number, a 'quoted string', a list or a table")

    def params(self) -> Any:
        """The argument ``params``: a dict keyed by the conventions' names, a list, or one unrolled vector."""
        conv, L = self.conv, self.case.spec.depth
        if conv.parameters == "dict":
            out = {}
            for l in range(1, L + 1):
                W, b = self.layer(l)
                for kind, value in (("W", W), ("b", b)):
                    if value is not None:
                        key = conv.key(kind, l)
                        out[key] = self.array(f"params.{key}", value)
            return {"dict": out}
        if conv.parameters == "lists":
            items = []
            for l in range(1, L + 1):
                W, b = self.layer(l)
                items.append(self.array(f"params.{len(items)}", W))
                if b is not None:
                    items.append(self.array(f"params.{len(items)}", b))
            return items
        return self.array("params", self.unroll(self.case.params))

    def upstream(self, s: str) -> np.ndarray:
        """∂J/∂(output) or ∂J/∂(scores) for ``backward(dout)`` contracts, J the contract's own objective."""
        case, conv = self.case, self.conv
        _, cache = forward(case.spec, case.params, case.x, case.y)
        bp = Backprop(case.spec, case.params, cache)
        if s == "d_scores":
            g = bp.bp1()
        else:
            if bp.loss.grad_a is None:
                raise ContractError(f"argument 'd_output': the loss {conv.loss!r} is written in terms of the scores; use 'd_scores'")
            g = bp.scale * bp.loss.grad_a(cache.a[-1], cache.y)
        g = conv.scale * g
        if conv.upstream == "per_example" and case.spec.reduction == "mean":
            g = g * case.batch  # the course's dZ: each example's own gradient, the mean's 1/m left to the callee
        return g if conv.examples == "rows" else g.T


# --- parsing a contract from its TOML tables ------------------------------------------------------------------


def _names(value: Any, aliases: Mapping[str, list], where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not (isinstance(value, list) and value and all(isinstance(v, str) and v.isidentifier() for v in value)):
        raise ContractError(f"{where}: expected a Python name or a list of them, got {value!r}")
    return tuple(dict.fromkeys([*value, *[a for v in value for a in aliases.get(v, [])]]))


def _check_pattern(p: Any, where: str, later: set[str] = frozenset()) -> None:
    """An output pattern: output names, '_', or names of values that a later call receives (``later``)."""
    if p is None or p == "_":
        return
    if isinstance(p, list):
        for q in p:
            _check_pattern(q, where, later)
        return
    if not isinstance(p, str):
        raise ContractError(f"{where}: expected an output name or a list of them, got {p!r}")
    if is_output(p):
        return
    if p in later and p.isidentifier() and not is_input(p):
        return
    if is_input(p):
        raise ContractError(f"{where}: {p!r} names one of the probe's arguments; give the returned value another name")
    raise ContractError(f"{where}: unknown output {p!r}; expected one of {list(OUTPUT_SYMBOLS)}, W1, d_W1, b1, d_b1, ..., "
                        "'_', or a name a later call receives as an argument (a value such as a cache)")


def parse_form(raw: Mapping[str, Any], where: str, keys: Callable[[Mapping[str, Any], tuple[str, ...], str], None]) -> Form:
    """One [[entry]] table; ``keys`` checks a table's keys strictly (assignment.py's checker)."""
    keys(raw, ("class", "function", "arguments", "keywords", "optional", "returns", "attributes", "aliases", "call"), where)
    aliases = raw.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, list) for v in aliases.values()):
        raise ContractError(f"{where}.aliases: expected a table of name = [aliases]")
    calls_raw = raw.get("call", [])
    if "function" in raw:  # shorthand: one function call described in the entry itself
        if "class" in raw or calls_raw:
            raise ContractError(f"{where}: give either function = ... with its arguments, or class = ... with [[entry.call]] tables")
        calls_raw = [{k: raw[k] for k in ("function", "arguments", "keywords", "optional", "returns") if k in raw}]
    if not calls_raw:
        raise ContractError(f"{where}: needs function = \"name\", or class = \"Name\" with at least one [[entry.call]]")
    cls = _names(raw["class"], aliases, f"{where}.class") if "class" in raw else ()
    calls = []
    for i, c in enumerate(calls_raw):
        cw = f"{where}.call #{i + 1}"
        keys(c, ("method", "function", "arguments", "keywords", "optional", "returns", "read"), cw)
        who = "method" if cls else "function"
        if who not in c:
            raise ContractError(f"{cw}: needs {who} = \"name\" ({'the class' if cls else 'no class'} is given)")
        later = set().union(set(), *(argument_names([d.get("arguments", []), d.get("keywords", {}), d.get("optional", {})])
                                     for d in calls_raw[i + 1:] if isinstance(d, dict)))
        _check_pattern(c.get("returns"), f"{cw}.returns", later)
        read = c.get("read", {})
        if read and not cls:
            raise ContractError(f"{cw}.read: attributes can be read only from an object (give class = ...)")
        for attr, p in read.items():
            _check_pattern(p, f"{cw}.read.{attr}", later)
        calls.append(Call(_names(c[who], aliases, f"{cw}.{who}"), tuple(c.get("arguments", [])), dict(c.get("keywords", {})),
                          dict(c.get("optional", {})), c.get("returns"),
                          tuple((_names(a, aliases, f"{cw}.read"), p) for a, p in read.items())))
    attrs = tuple((_names(a, aliases, f"{where}.attributes"), v) for a, v in raw.get("attributes", {}).items())
    if ("arguments" in raw or "attributes" in raw) and not cls and "function" not in raw:
        raise ContractError(f"{where}: constructor arguments and attributes need class = ...")
    if cls:
        return Form(cls, tuple(raw.get("arguments", [])), dict(raw.get("keywords", {})), dict(raw.get("optional", {})), attrs, tuple(calls))
    return Form((), (), {}, {}, (), tuple(calls))


