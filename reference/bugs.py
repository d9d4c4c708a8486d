"""The catalog of known backprop bugs, each a variant of the reference's own ``Backprop``.

Every entry replaces one or two BP steps of ``reference.network.Backprop`` and inherits the
rest, so a bug is exactly its wrong line and nothing else.  Entries carry the wrong formula
beside the right one in the seeds' notation (z = net, a = out, δ, Wᵀ), where the bug comes from,
what it looks like numerically, and which probe feature reveals it.

An entry's ``layers`` says where its wrong line acts: every layer, the output layer only, or the
hidden layers only.  ``combine`` puts entries (or one entry restricted to some layers) into one
variant, so a submission with two mistakes is two entries, each in the layers it affects.

``LOOKALIKES`` are correct rewrites that resemble bugs; a checker must not flag them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from .activations import sigmoid
from .network import Backprop, Params, loss_and_grad

#: Where a wrong line can act: the output layer L, or the hidden layers l < L.
ROLES = frozenset({"output", "hidden"})
#: The layers each replaceable method acts on: BP1 is the output delta, BP2 a hidden one; the others
#: take the layer as their first argument.  ``run`` is the whole pass.
METHOD_ROLES = {"bp1": frozenset({"output"}), "bp2": frozenset({"hidden"}), "sigma_prime": ROLES, "bp3": ROLES,
                "bp4": ROLES, "reg": ROLES, "run": ROLES}


@dataclass(frozen=True)
class Bug:
    """One catalog entry: ``backprop`` is the variant class; ``number`` follows the catalog's numbering.

    ``layers``: "all", "output" or "hidden", where the wrong line acts; ``family``: the id of the
    all-layer entry this one restricts (deriv-on-z-hidden is deriv-on-z in the hidden layers).
    """

    id: str
    number: int
    title: str
    wrong: str
    right: str
    source: str
    symptom: str
    reveals: str
    methods: Mapping[str, Callable[..., Any]] = field(repr=False, compare=False, default_factory=dict)
    correct: bool = False
    #: Non-empty for a bug that is only a different convention (sign, factor, 1/N): a grader may accept it.
    convention: str = ""
    layers: str = "all"
    family: str = ""

    @property
    def roles(self) -> frozenset[str]:
        """The layer roles the wrong line acts on: its ``layers`` within those its methods can reach."""
        reach = frozenset().union(*(METHOD_ROLES[m] for m in self.methods)) if self.methods else frozenset()
        return reach if self.layers == "all" else reach & {self.layers}

    @property
    def backprop(self) -> type[Backprop]:
        return combine(((self, self.roles),))

    def gradients(self, spec, params, x, y, lr: Optional[float] = None) -> Params:
        """This variant's gradients; with ``lr``, as they come out of one training step of size lr."""
        return loss_and_grad(spec, params, x, y, self.backprop, lr)[1]

    def as_dict(self) -> dict[str, Any]:
        keys = ("id", "number", "title", "wrong", "right", "source", "symptom", "reveals", "correct", "convention", "layers")
        return {k: getattr(self, k) for k in keys}


#: One entry acting on some of its roles.
Placement = tuple[Bug, frozenset]

_VARIANTS: dict[tuple, type[Backprop]] = {}


def _role(self: Backprop, l: int) -> str:
    return "output" if l == self.L else "hidden"


def _dispatch(method: str, options: Sequence[tuple[frozenset, Callable[..., Any]]]):
    """``method`` as the placement covering the layer it is called for has it, else the reference's."""
    base = getattr(Backprop, method)

    def dispatch(self: Backprop, *args: Any) -> Any:
        role = "output" if method == "bp1" else "hidden" if method == "bp2" else _role(self, args[0])
        for roles, fn in options:
            if role in roles:
                return fn(self, *args)
        return base(self, *args)

    return dispatch


def conflict(placements: Sequence[Placement]) -> Optional[str]:
    """Why ``placements`` cannot act together (two of them replace one method on one layer), or None."""
    seen: dict[str, list[tuple[str, frozenset]]] = {}
    for bug, roles in placements:
        for m in bug.methods:
            for other, theirs in seen.get(m, []):
                if theirs & roles & METHOD_ROLES[m] or m == "run":
                    return f"{bug.id} and {other} both replace {m} on the same layers"
            seen.setdefault(m, []).append((bug.id, roles))
    return None


def combine(placements: Sequence[Placement]) -> type[Backprop]:
    """One ``Backprop`` variant with every placement's wrong lines, each on its roles only."""
    key = tuple(sorted((b.id, tuple(sorted(r))) for b, r in placements))
    if key not in _VARIANTS:
        why = conflict(placements)
        if why:
            raise ValueError(f"combine: {why}")
        by_method: dict[str, list[tuple[frozenset, Callable[..., Any]]]] = {}
        for bug, roles in placements:
            for m, fn in bug.methods.items():
                by_method.setdefault(m, []).append((frozenset(roles), fn))
        ns = {m: (opts[0][1] if m == "run" else _dispatch(m, opts)) for m, opts in by_method.items()}
        name = "Backprop_" + "__".join(f"{i}_{'_'.join(r)}" for i, r in key).replace("-", "_")
        _VARIANTS[key] = type(name, (Backprop,), ns)
    return _VARIANTS[key]


def plan_gradients(placements: Sequence[Placement]) -> Callable[..., Params]:
    """``fn(spec, params, x, y, lr)``: the gradients of the variant with every placement."""
    variant = combine(placements)
    return lambda spec, params, x, y, lr=None: loss_and_grad(spec, params, x, y, variant, lr)[1]


# --- the wrong lines ----------------------------------------------------------------------------

SMOOTH = ("sigmoid", "tanh")


def _derivative_of(formula: Callable[[Backprop, int, str], np.ndarray]):
    """A sigma_prime that evaluates ``formula`` instead of σ'(zˡ) on sigmoid/tanh layers."""

    def sigma_prime(self: Backprop, l: int, g: np.ndarray) -> np.ndarray:
        name = self.spec.activations[l - 1]
        if name in SMOOTH:
            return g * formula(self, l, name)
        return Backprop.sigma_prime(self, l, g)

    return sigma_prime


def _output_formula_on_z(self: Backprop, l: int, name: str) -> np.ndarray:
    z = self.z[l]
    return z * (1 - z) if name == "sigmoid" else 1 - z**2


def _derivative_of_activated(self: Backprop, l: int, name: str) -> np.ndarray:
    s = sigmoid(self.a[l]) if name == "sigmoid" else np.tanh(self.a[l])
    return s * (1 - s) if name == "sigmoid" else 1 - s**2


def _output_formula_on_a(self: Backprop, l: int, name: str) -> np.ndarray:
    a = self.a[l]
    return a * (1 - a) if name == "sigmoid" else 1 - a**2


def _other_squashing(self: Backprop, l: int, name: str) -> np.ndarray:
    a = self.a[l]
    return 1 - a**2 if name == "sigmoid" else a * (1 - a)  # tanh's derivative for a sigmoid, the sigmoid's for a tanh


def _sigmoid_everywhere(self: Backprop, l: int, g: np.ndarray) -> np.ndarray:
    """g ⊙ σ(zˡ)(1 − σ(zˡ)) whatever layer l's activation: DLS's sigmoid_backward(dA, cache) called for every layer."""
    if self.spec.activations[l - 1] == "softmax":
        return Backprop.sigma_prime(self, l, g)
    s = sigmoid(self.z[l])
    return g * s * (1 - s)


def _bp1_no_sigma_prime(self: Backprop) -> np.ndarray:
    if self.loss.delta is not None:
        return Backprop.bp1(self)
    return self.scale * self.loss.grad_a(self.a[self.L], self.y)


def _bp1_ce_extra_sigma_prime(self: Backprop) -> np.ndarray:
    delta = Backprop.bp1(self)
    return self.sigma_prime(self.L, delta) if self.loss.delta is not None else delta


def _bp1_ce_extra_softmax_diagonal(self: Backprop) -> np.ndarray:
    delta = Backprop.bp1(self)
    if self.spec.loss != "softmax_ce":
        return delta
    a = self.a[self.L]
    return delta * a * (1 - a)  # softmax's derivative taken elementwise, p(1 − p), as if it were a sigmoid


def _scaled_bp1(factor: float):
    def bp1(self: Backprop) -> np.ndarray:
        return factor * Backprop.bp1(self)

    return bp1


def _bp1_batch_factor(power: int):
    """Multiply δᴸ by N**power: +1 drops the mean's 1/N, −1 applies it a second time."""

    def bp1(self: Backprop) -> np.ndarray:
        n = self.a[0].shape[0]
        if power > 0 and self.spec.reduction != "mean":
            return Backprop.bp1(self)
        return Backprop.bp1(self) * float(n) ** power

    return bp1


def _bp2_with(weights: Callable[[Backprop, int], np.ndarray], next_derivative: bool = False, sigma: bool = True):
    def bp2(self: Backprop, l: int, delta_next: np.ndarray) -> np.ndarray:
        back = delta_next @ weights(self, l)
        if not sigma:
            return back
        return self.sigma_prime(l + 1 if next_derivative else l, back)

    return bp2


def _bp2_bias_slice(self: Backprop, l: int, delta_next: np.ndarray) -> np.ndarray:
    if not self.spec.bias:
        return Backprop.bp2(self, l, delta_next)
    theta = np.column_stack([self.params[f"b{l + 1}"], self.params[f"W{l + 1}"].T])  # ex4's Θ, bias column first
    return self.sigma_prime(l, (delta_next @ theta)[:, :-1])  # the last column dropped instead of the bias column


def _bp2_stale(self: Backprop, l: int, delta_next: np.ndarray) -> np.ndarray:
    W = self.params[f"W{l + 1}"]
    if self.lr is not None:
        W = W - self.lr * self.grads[f"W{l + 1}"]  # the update already applied, then used to back-propagate
    return self.sigma_prime(l, delta_next @ W.T)


def _bp3_transposed(self: Backprop, l: int, delta: np.ndarray) -> np.ndarray:
    return (self.a[l - 1].T @ delta + self.reg(l)).T  # δᵀa: the whole gradient comes back (n_l, n_{l-1})


def _bp3_inplace(self: Backprop, l: int, delta: np.ndarray) -> np.ndarray:
    a = self.a[l - 1]
    if l > 1 and self.spec.activations[l - 2] == "sigmoid":
        a *= 1 - a  # "a = sigmoid_derivative(a)" written in place: the cache now holds σ', not a
    return a.T @ delta + self.reg(l)


def _run_then_update_caller(self: Backprop) -> Params:
    grads = Backprop.run(self)
    for l in range(1, self.L + 1):
        self.params[f"W{l}"] -= 0.1 * grads[f"W{l}"]  # the caller's own arrays, changed in place
    return grads


def _relu_backward(rule: Callable[[np.ndarray, np.ndarray, float], np.ndarray], relu_only: bool = False):
    def sigma_prime(self: Backprop, l: int, g: np.ndarray) -> np.ndarray:
        name = self.spec.activations[l - 1]
        if name == "relu" or (name == "leaky_relu" and not relu_only):
            slope = 0.0 if name == "relu" else self.spec.leaky_slope
            return g * rule(self.z[l], self.a[l], slope)
        return Backprop.sigma_prime(self, l, g)

    return sigma_prime


def _bp1_unstable(self: Backprop) -> np.ndarray:
    z, a, y = self.z[self.L], self.a[self.L], self.y
    with np.errstate(all="ignore"):
        if self.spec.loss == "softmax_ce":
            e = np.exp(z)  # no max-shift: inf/inf = NaN once a logit passes ~709
            return self.scale * (e / e.sum(axis=1, keepdims=True) - y)
        if self.spec.loss == "bce":
            s = a * (1 - a)  # ∂ℓ/∂a · σ'(z) = (a − y)/(a(1 − a)) · a(1 − a): 0/0 once a rounds to 0 or 1
            return self.scale * ((a - y) / s) * s
    return Backprop.bp1(self)


def _proportional_bp2(self: Backprop, l: int, delta_next: np.ndarray) -> np.ndarray:
    W = self.params[f"W{l + 1}"]
    with np.errstate(all="ignore"):
        share = W / W.sum(axis=0, keepdims=True)  # each unit's error split in proportion to its incoming weights
    return self.sigma_prime(l, delta_next @ share.T)


BUGS: tuple[Bug, ...] = (
    Bug("deriv-on-z", 1, "activation derivative a(1−a) fed the pre-activation z, in every layer",
        "σ'(z) = z(1 − z)  [tanh: 1 − z²]", "σ'(z) = a(1 − a), a = σ(z)  [tanh: 1 − a²]",
        "seed 000 sigmoid(x, deriv=True) and seed 002 sigmoid_derivative(x), called on net instead of out",
        "O(1) relative error wherever z is not small; grows with |z|", "any sigmoid/tanh layer",
        {"sigma_prime": _derivative_of(_output_formula_on_z)}),
    Bug("deriv-on-z-hidden", 1, "activation derivative a(1−a) fed z, in hidden layers only",
        "δˡ = (δˡ⁺¹Wˡ⁺¹ᵀ) ⊙ zˡ(1 − zˡ) for l < L", "δˡ = (δˡ⁺¹Wˡ⁺¹ᵀ) ⊙ aˡ(1 − aˡ)",
        "seed 000 / 002 derivative helper called on the hidden layer's net",
        "output-layer gradients right, every hidden-layer gradient wrong", "a sigmoid/tanh hidden layer",
        {"sigma_prime": _derivative_of(_output_formula_on_z)}, layers="hidden", family="deriv-on-z"),
    Bug("deriv-on-z-output", 1, "activation derivative a(1−a) fed z, in the output layer only",
        "δᴸ = (a − y) ⊙ zᴸ(1 − zᴸ)", "δᴸ = (a − y) ⊙ aᴸ(1 − aᴸ)",
        "seed 000 / 002 derivative helper called on the output layer's net",
        "every gradient wrong by a per-output factor", "a sigmoid/tanh output under a squared loss",
        {"sigma_prime": _derivative_of(_output_formula_on_z)}, layers="output", family="deriv-on-z"),
    Bug("sigma-of-a", 2, "σ'(a) = σ(a)(1 − σ(a)): the derivative of σ taken at the already-activated value",
        "σ'(z) ≈ σ(a)(1 − σ(a))", "σ'(z) = a(1 − a)",
        "sigmoid_derivative(x) written as sigmoid(x)*(1-sigmoid(x)) and called on out",
        "≈ a constant factor 0.2–0.25 near initialisation; grossly wrong when units saturate", "any sigmoid/tanh layer",
        {"sigma_prime": _derivative_of(_derivative_of_activated)}),
    Bug("sigma-of-a-output", 2, "σ'(a) = σ(a)(1 − σ(a)) in the output layer only",
        "δᴸ = (a − y) ⊙ σ(aᴸ)(1 − σ(aᴸ))", "δᴸ = (a − y) ⊙ aᴸ(1 − aᴸ)",
        "sigmoid_derivative(sigmoid(z)) written for the output delta, the hidden layers using a(1 − a) or nothing",
        "output-layer gradients ≈ 0.2–0.25× near initialisation, and every layer below with them", "a sigmoid/tanh output under a squared loss",
        {"sigma_prime": _derivative_of(_derivative_of_activated)}, layers="output", family="sigma-of-a"),
    Bug("sigma-of-a-hidden", 2, "σ'(a) = σ(a)(1 − σ(a)) in the hidden layers only",
        "δˡ = (δˡ⁺¹Wˡ⁺¹ᵀ) ⊙ σ(aˡ)(1 − σ(aˡ)) for l < L", "δˡ = (δˡ⁺¹Wˡ⁺¹ᵀ) ⊙ aˡ(1 − aˡ)",
        "sigmoid_derivative(sigmoid(z)) applied to a hidden layer's cached output",
        "output-layer gradients right, hidden-layer gradients ≈ 0.2–0.25× near initialisation", "a sigmoid/tanh hidden layer",
        {"sigma_prime": _derivative_of(_derivative_of_activated)}, layers="hidden", family="sigma-of-a"),
    Bug("bp2-no-sigma-prime", 3, "hidden delta without the factor σ'(z)",
        "δˡ = δˡ⁺¹ Wˡ⁺¹ᵀ", "δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)", "seed 001 BP2 with its last factor dropped",
        "hidden-layer gradients too large by 1/σ'(z) (≥ 4× for sigmoid)", "a hidden layer that is not identity",
        {"bp2": _bp2_with(lambda self, l: self.params[f"W{l + 1}"].T, sigma=False)}),
    Bug("output-delta-no-sigma-prime", 4, "output delta a − y under squared error (the cross-entropy shortcut with the wrong loss)",
        "δᴸ = a − y", "δᴸ = (a − y) ⊙ σ'(zᴸ) for ½Σ(a − y)²", "seed 004's δ = a − y reused with E_total",
        "every gradient off by the output σ'", "a non-identity output under a squared loss",
        {"bp1": _bp1_no_sigma_prime}),
    Bug("ce-extra-sigma-prime", 5, "an extra σ' (or softmax Jacobian) on top of the cross-entropy delta",
        "δᴸ = (a − y) ⊙ σ'(zᴸ)", "δᴸ = a − y", "seed 004's derivation applied twice",
        "gradients shrink by a(1 − a) ≤ ¼, vanishing when outputs saturate", "a cross-entropy loss",
        {"bp1": _bp1_ce_extra_sigma_prime}),
    Bug("ce-extra-softmax-diag", 5, "an extra elementwise p(1 − p) on top of the softmax cross-entropy delta",
        "δᴸ = (p − y) ⊙ p(1 − p)", "δᴸ = p − y",
        "CS231n two-layer net: dscores *= probs * (1 - probs) after probs − y, the sigmoid's derivative reused for softmax",
        "gradients shrink by p(1 − p) ≤ ¼ and vanish for confident classes", "a softmax output under cross-entropy",
        {"bp1": _bp1_ce_extra_softmax_diagonal}),
    Bug("bp2-no-transpose", 6, "missing transpose in BP2",
        "δˡ = (δˡ⁺¹ Wˡ⁺¹) ⊙ σ'(zˡ)", "δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)", "seed 003's Wᵀ forgotten",
        "a shape error for non-square layers; silent wrong values for square ones", "square hidden layers (n_l = n_l+1)",
        {"bp2": _bp2_with(lambda self, l: self.params[f"W{l + 1}"])}),
    Bug("bp2-wrong-layer", 7, "BP2 with the wrong layer's weights",
        "δˡ = (δˡ⁺¹ Wˡᵀ) ⊙ σ'(zˡ)", "δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)", "an off-by-one in the weight list",
        "a shape error unless consecutive layers have equal widths; then wrong values", "equal consecutive widths",
        {"bp2": _bp2_with(lambda self, l: self.params[f"W{l}"].T)}),
    Bug("bp3-transposed", 8, "weight gradient transposed (operands of BP3 in the wrong order)",
        "∂C/∂Wˡ = δˡᵀ aˡ⁻¹", "∂C/∂Wˡ = aˡ⁻¹ᵀ δˡ", "seed 001's column layout (W a) mixed with the row layout (a W)",
        "a shape error for non-square W; the transpose of the gradient for square W", "a square weight matrix",
        {"bp3": _bp3_transposed}),
    Bug("sign-flipped", 9, "sign: y − a used as the gradient",
        "δᴸ = y − a", "δᴸ = a − y", "seed 000 / 002 compute y − a and add the update; as a gradient it is negated",
        "every data gradient is exactly −1 times the right one", "anything",
        {"bp1": _scaled_bp1(-1.0)}, convention="sign (gradient of −C: y − a instead of a − y)"),
    Bug("factor-two", 10, "factor 2: the derivative of Σ(a − y)² used for ½Σ(a − y)²",
        "∂C/∂a = 2(a − y)", "∂C/∂a = a − y", "seed 002's 2*(y - output) under the seeds' ½ convention",
        "every data gradient exactly 2×", "anything",
        {"bp1": _scaled_bp1(2.0)}, convention="factor 2: twice the expected gradient (the derivative of Σ(a − y)² where the loss is ½Σ(a − y)²)"),
    Bug("factor-half", 10, "factor ½: the ½ of E_total applied to the derivative again",
        "∂C/∂a = ½(a − y)", "∂C/∂a = a − y", "½ kept after differentiating ½Σ(a − y)²",
        "every data gradient exactly ½×", "anything",
        {"bp1": _scaled_bp1(0.5)}, convention="factor ½: half the expected gradient (the derivative of ½Σ(a − y)² where the loss is Σ(a − y)²)"),
    Bug("mean-missing", 11, "batch mean: the 1/N is missing",
        "∂C/∂θ = Σ_n ∂ℓ_n/∂θ", "∂C/∂θ = (1/N) Σ_n ∂ℓ_n/∂θ", "a sum over the batch where the contract averages",
        "data gradients exactly N×", "batch > 1 with mean reduction",
        {"bp1": _bp1_batch_factor(+1)}, convention="batch sum instead of batch mean (no 1/N)"),
    Bug("mean-twice", 11, "batch mean: the 1/N applied twice",
        "∂C/∂θ = (1/N²) Σ_n ∂ℓ_n/∂θ", "∂C/∂θ = (1/N) Σ_n ∂ℓ_n/∂θ", "1/N in both the loss and the update",
        "data gradients exactly 1/N×", "batch > 1",
        {"bp1": _bp1_batch_factor(-1)}, convention="1/N applied twice"),
    Bug("bias-one-example", 12, "bias gradient from the first example only",
        "∂C/∂bˡ = δˡ₁", "∂C/∂bˡ = Σ_n δˡ_n", "the per-example formula BP4 applied to a batch",
        "bias gradients right for batch 1, wrong for batch > 1", "batch > 1 with biases",
        {"bp4": lambda self, l, delta: delta[0].copy()}),
    Bug("bias-not-reduced", 12, "bias gradient not reduced over the batch",
        "∂C/∂bˡ = δˡ  (N, n_l)", "∂C/∂bˡ = Σ_n δˡ_n  (n_l,)", "BP4 without its sum",
        "a bias gradient of shape (N, n_l) instead of (n_l,)", "biases",
        {"bp4": lambda self, l, delta: delta.copy()}),
    Bug("bias-all-axes", 12, "bias gradient reduced over every axis",
        "∂C/∂bˡ_j = Σ_n Σ_k δˡ_nk", "∂C/∂bˡ_j = Σ_n δˡ_nj", "np.sum(delta) without axis=0",
        "every bias entry of a layer equal", "layers with 2+ units and biases",
        {"bp4": lambda self, l, delta: np.full(delta.shape[1], delta.sum())}),
    Bug("relu-mask-a-ge-0", 13, "ReLU derivative from the mask a >= 0, which is always true",
        "relu'(z) = [a ≥ 0] = 1", "relu'(z) = [z > 0]", "a mask on the output, with ≥",
        "inactive units pass gradient as if linear", "a relu layer with inactive units",
        {"sigma_prime": _relu_backward(lambda z, a, s: (a >= 0).astype(z.dtype), relu_only=True)}),
    Bug("relu-deriv-is-a", 13, "ReLU derivative returned as the activation itself",
        "relu'(z) = a", "relu'(z) = [z > 0]", "relu_derivative(x) returning x where it should return 1",
        "active units scaled by their activation", "a relu / leaky_relu layer",
        {"sigma_prime": _relu_backward(lambda z, a, s: a)}),
    Bug("stale-weights", 14, "weights updated before the error is propagated through them",
        "δˡ = (δˡ⁺¹ (Wˡ⁺¹ − η∂C/∂Wˡ⁺¹)ᵀ) ⊙ σ'(zˡ)", "δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ), all updates after",
        "Mazur's worked-example script before its 2015-03-15 fix (seed 000's 2-2-2 network)",
        "only in a training step; the hidden-layer error grows with the learning rate", "a training step with a hidden layer",
        {"bp2": _bp2_stale}),
    Bug("inplace-cache", 15, "in-place mutation of the cached activations",
        "a *= (1 − a) before aˡ⁻¹ᵀ δˡ", "σ' computed into a new array", "sigmoid_derivative written with *= on out",
        "weight gradients use σ' where they need a", "a sigmoid hidden layer",
        {"bp3": _bp3_inplace}),
    Bug("mutates-params", 15, "in-place mutation of the caller's arrays",
        "W -= η ∂C/∂W inside backward", "backward leaves W untouched", "seed 002's backprop() updating weights itself",
        "right gradients, but the caller's weights changed", "any call (checked by comparing inputs before and after)",
        {"run": _run_then_update_caller}),
    Bug("reg-on-biases", 16, "L2 regularisation applied to the biases too",
        "∂C/∂bˡ = Σ_n δˡ_n + λ bˡ", "∂C/∂bˡ = Σ_n δˡ_n", "a loop over every parameter adding λθ",
        "bias gradients off by λb", "λ > 0 with nonzero biases",
        {"bp4": lambda self, l, delta: delta.sum(axis=0) + self.spec.l2 * self.params[f"b{l}"]}),
    Bug("reg-half", 16, "L2 gradient missing its factor 2 (λ/2·W)",
        "∂/∂W (λ/2)‖W‖² = (λ/2) W", "= λ W", "the ½ of the penalty kept after differentiating",
        "weight gradients off by (λ/2)W", "λ > 0",
        {"reg": lambda self, l: 0.5 * self.spec.l2 * self.params[f"W{l}"]}),
    Bug("reg-over-n", 16, "L2 gradient divided by N a second time",
        "λ W / N", "λ W", "ex4's λ/m applied to a λ that already includes it",
        "weight gradients off by λW(1 − 1/N)", "λ > 0 with batch > 1",
        {"reg": lambda self, l: self.spec.l2 * self.params[f"W{l}"] / self.a[0].shape[0]}),
    Bug("reg-2016-all-params", 16, "every parameter, biases too, regularised with the 2016 0.5·reg·Σθ² where the loss has reg·ΣW²",
        "∂C/∂W += (λ/2) W;  ∂C/∂b += (λ/2) b", "∂C/∂W += λ W;  ∂C/∂b unregularised",
        "CS231n 2016's 0.5·reg·ΣW² (gradient reg·W) applied in a loop over self.params, biases included; 2017+ uses reg·ΣW²",
        "right whenever λ = 0; with λ > 0 weights off by (λ/2)W and biases by (λ/2)b", "λ > 0 with nonzero biases",
        {"reg": lambda self, l: 0.5 * self.spec.l2 * self.params[f"W{l}"],
         "bp4": lambda self, l, delta: delta.sum(axis=0) + 0.5 * self.spec.l2 * self.params[f"b{l}"]}),
    Bug("proportional-split", 17, "error split in proportion to the weights (seed 003's normalised form)",
        "δˡ = (δˡ⁺¹ (Wˡ⁺¹ / Σ_j Wˡ⁺¹_jk)ᵀ) ⊙ σ'(zˡ)", "δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)",
        "seed 003: each output error shared out by w_jk / Σ_j w_jk before the denominator is dropped",
        "hidden gradients wrong by the column sums of W (and unbounded when a column sums to ~0)", "a hidden layer with 2+ inputs to the next layer",
        {"bp2": _proportional_bp2}),
    Bug("unstable-output", 18, "numerically unstable softmax / cross-entropy delta",
        "softmax = e^z / Σe^z;  δ = (a − y)/(a(1 − a)) · a(1 − a)", "shifted softmax; δ = a − y",
        "the textbook formulas evaluated literally", "NaN once a logit passes ~709 (softmax) or an output rounds to 0 or 1 (bce)",
        "large logits with a cross-entropy loss",
        {"bp1": _bp1_unstable}),
    Bug("ex4-bias-slice", 20, "ex4: the wrong column of Θ dropped in the hidden delta (the last, not the bias column)",
        "δ⁽²⁾ = (δ⁽³⁾ Θ⁽²⁾)[:, :-1] ⊙ g'(z⁽²⁾)", "δ⁽²⁾ = (δ⁽³⁾ Θ⁽²⁾)[:, 1:] ⊙ g'(z⁽²⁾)",
        "Coursera ML ex4, step 4: 'skip or remove δ₀⁽²⁾', sliced from the wrong end of Θ⁽²⁾ = [b | W]",
        "output-layer gradients right; every hidden unit gets its neighbour's error, the first unit the bias's",
        "a hidden layer feeding a layer with biases",
        {"bp2": _bp2_bias_slice}),
    Bug("bp2-next-derivative", 19, "off-by-one layer index: BP2 multiplies by the next layer's σ'",
        "δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ⁺¹)", "δˡ = (δˡ⁺¹ Wˡ⁺¹ᵀ) ⊙ σ'(zˡ)", "deltas indexed one layer off in a loop",
        "a shape error unless consecutive widths are equal; then wrong values", "equal consecutive widths",
        {"bp2": _bp2_with(lambda self, l: self.params[f"W{l + 1}"].T, next_derivative=True)}),
    Bug("tanh-as-sigmoid", 21, "the other squashing function's derivative: 1 − a² on a sigmoid layer, a(1 − a) on a tanh one",
        "σ'(z) = 1 − a²  [tanh: a(1 − a)]", "σ'(z) = a(1 − a)  [tanh: 1 − a²]",
        "DLS C1W3: dZ1 = dA1 * A1 * (1 - A1) for the tanh layer; a tanh_derivative helper reused for a sigmoid",
        "O(1) relative error in every gradient at and below the layer", "a sigmoid/tanh layer whose σ' is used",
        {"sigma_prime": _derivative_of(_other_squashing)}),
    Bug("sigmoid-everywhere", 22, "every layer differentiated as a sigmoid, σ(z)(1 − σ(z)), whatever its activation",
        "f'(zˡ) = σ(zˡ)(1 − σ(zˡ)) for relu, tanh, identity layers", "f'(zˡ) of layer l's own activation",
        "DLS C1W4: sigmoid_backward(dA, activation_cache) in L_model_backward's loop over the relu layers",
        "every gradient below a non-sigmoid layer wrong; near 0.25× where z is small", "a relu/tanh/identity layer",
        {"sigma_prime": _sigmoid_everywhere}),
)


LOOKALIKES: tuple[Bug, ...] = (
    Bug("output-formula-on-a", 0, "x(1 − x) applied to the outputs, as seeds 000 and 002 publish it",
        "σ'(z) = a(1 − a) from a", "the same", "seeds 000, 002 (public issues wrongly call this a bug)",
        "equal to σ'(z) up to rounding", "-",
        {"sigma_prime": _derivative_of(_output_formula_on_a)}, correct=True),
    Bug("ce-shortcut", 0, "δ = a − y with sigmoid + bce or softmax + softmax_ce",
        "δᴸ = a − y", "the same", "seed 004", "exact: σ' cancels against the cross-entropy's 1/(a(1 − a))", "-",
        {}, correct=True),
    Bug("relu-mask-from-a", 0, "ReLU mask taken from the outputs (a > 0)",
        "relu'(z) = [a > 0]", "[z > 0]", "common in course code", "identical: a > 0 exactly when z > 0", "-",
        {"sigma_prime": _relu_backward(lambda z, a, s: np.where(a > 0, 1.0, s).astype(z.dtype))}, correct=True),
    Bug("relu-mask-z-ge-0", 0, "ReLU mask z >= 0 instead of z > 0",
        "relu'(0) = 1", "relu'(0) = 0", "common in course code", "differs only at z = 0 exactly, where any value in [0, 1] is a subgradient", "-",
        {"sigma_prime": _relu_backward(lambda z, a, s: np.where(z >= 0, 1.0, s).astype(z.dtype))}, correct=True),
)

CATALOG: dict[str, Bug] = {b.id: b for b in (*BUGS, *LOOKALIKES)}


def get(bug_id: str) -> Bug:
    try:
        return CATALOG[bug_id]
    except KeyError:
        raise ValueError(f"bug: unknown id {bug_id!r}; expected one of {list(CATALOG)}") from None
