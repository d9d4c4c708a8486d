"""Probes and the student's terms: the cases a submission is run on, and the words its feedback uses.

A ``Probe`` is one generated network and batch with a purpose (what it can reveal).  A ``ProbeSet`` holds
the probes with their expected gradients, confirmed by an independent oracle, and every catalog entry's
``Outcome`` on them, computed once per grading run.  ``Terms`` and ``Convention`` carry the assignment's
names and conventions, so every message speaks the student's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from bpcheck import oracles
from bpcheck.oracles.cases import KINK_MARGIN, Case, kink_distance, make_targets
from bpcheck.reference import NetworkSpec, loss_and_grad
from bpcheck.reference.bugs import BUGS, LOOKALIKES, Bug, Placement, combine
from bpcheck.reference.network import Backprop, Cache, forward

Params = dict[str, np.ndarray]


# --- what a candidate did -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a candidate did on one case: gradients, or the error it raised; and which inputs it changed."""

    grads: Optional[dict[str, np.ndarray]]
    error: Optional[str]
    mutated: list[str]


def run_candidate(fn: Callable[..., Mapping[str, Any]], case: Case, lr: Optional[float]) -> Outcome:
    """Call ``fn(spec, params, x, y, lr)`` on private copies and record what it returned and changed."""
    params = {k: np.array(v, copy=True) for k, v in case.params.items()}
    x, y = np.array(case.x, copy=True), np.array(case.y, copy=True)
    grads, error = None, None
    try:
        with np.errstate(all="ignore"):
            grads = dict(fn(case.spec, params, x, y, lr))
    except Exception as exc:  # a crashing candidate is a detected candidate
        error = f"{type(exc).__name__}: {exc}"
    mutated = [k for k in params if not np.array_equal(params[k], case.params[k])]
    mutated += [n for n, new, old in (("x", x, case.x), ("y", y, case.y)) if not np.array_equal(new, old)]
    return Outcome(grads, error, mutated)



# --- the student's terms ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Convention:
    """A different but consistent way of computing the gradient that an assignment may meet.

    ``case``: the case a submission following it effectively computes on (labels shifted, the
    penalty halved, ...); ``read``: what bpcheck then reads from its gradients (another unroll order).
    ``words`` completes "correct if ...".
    """

    id: str
    words: str
    case: Optional[Callable[[Case], Case]] = None
    read: Optional[Callable[[Case, Params], Params]] = None


def _reference_hyper(case: Case) -> dict[str, float]:
    return {"l2": case.spec.l2} if case.spec.l2 else {}


@dataclass(frozen=True)
class Terms:
    """The student's words for what the reference calls W1, b1, l2, ...

    ``array``: their name for one of our arrays (W1 → ``grads['W1']``); ``hyper``: the hyperparameters
    they were passed on a case, as they were passed (``{"reg": 0.05}``); ``regulariser``: their name
    for the penalty's strength; ``conventions``: the assignment's ways of being differently right.
    """

    array: Callable[[str], str] = str
    hyper: Callable[[Case], Mapping[str, float]] = _reference_hyper
    regulariser: str = "l2"
    conventions: tuple[Convention, ...] = ()

    def describe(self, case: Case) -> str:
        """One probe in the student's terms: ``3-4-2 network, 3 examples, reg=0.05``."""
        n = case.batch
        parts = [f"{'-'.join(map(str, case.spec.sizes))} network", f"{n} example{'s' if n != 1 else ''}"]
        parts += [f"{k}={v:g}" for k, v in self.hyper(case).items()]
        return ", ".join(parts)


# --- probes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One case the candidate is run on; ``lr``: the gradients are read off one training step of that size."""

    name: str
    case: Case
    lr: Optional[float]
    purpose: str


def make_probe(name: str, purpose: str, spec: NetworkSpec, batch: int, seed: int, lr: Optional[float],
               gains: Optional[Mapping[int, float]] = None) -> Probe:
    """A probe from the first seed (counting up from ``seed``) whose relu pre-activations keep off the kink."""
    for attempt in range(seed, seed + 1000):
        rng = np.random.default_rng(attempt)
        params = {}
        for key, shape in spec.param_shapes().items():
            g = (gains or {}).get(int(key[1:]), 1.0)
            if key.startswith("W"):
                params[key] = g * rng.standard_normal(shape) / np.sqrt(shape[0])
            else:
                params[key] = g * rng.uniform(-0.5, 0.5, shape)
        x = rng.uniform(-1, 1, (batch, spec.sizes[0]))
        case = Case(spec, params, x, make_targets(spec, rng, batch, labels=False))
        if kink_distance(case) > KINK_MARGIN:
            return Probe(name, case, lr, purpose)
    raise RuntimeError(f"probe {name}: no seed in [{seed}, {seed + 1000}) keeps relu pre-activations off the kink")


def default_probes() -> list[Probe]:
    """Probes that tell every catalog entry apart (checked by the confusion test)."""
    S = NetworkSpec
    return [
        make_probe("non-square", "non-square layers, batch > 1, λ > 0 with nonzero biases",
                   S((3, 4, 2), ("sigmoid", "sigmoid"), "half_sse", "mean", l2=0.1), 3, 1, 0.5),
        make_probe("square-batch-1", "square layers, batch 1",
                   S((3, 3, 3, 3), ("tanh", "sigmoid", "sigmoid"), "half_sse", "sum"), 1, 2, 0.3),
        make_probe("square-batch-4", "square layers, batch 4, mean",
                   S((2, 2, 2), ("sigmoid", "tanh"), "mse", "mean", l2=0.05), 4, 3, 1.0),
        make_probe("saturated", "saturated sigmoid units under cross-entropy",
                   S((2, 3, 2), ("sigmoid", "sigmoid"), "bce", "mean"), 3, 4, 0.5, gains={1: 8.0}),
        make_probe("relu", "relu and leaky_relu with inactive units, softmax output, λ > 0",
                   S((3, 5, 4, 3), ("relu", "leaky_relu", "softmax"), "softmax_ce", "mean", l2=0.05, leaky_slope=0.1), 5, 5, 0.2),
        make_probe("square-softmax", "square layers under softmax cross-entropy, moderate logits, batch 3",
                   S((3, 3, 3), ("sigmoid", "softmax"), "softmax_ce", "mean"), 3, 7, 0.5),
        make_probe("large-logits", "logits ~1e3 (past exp overflow at 709) under softmax cross-entropy",
                   S((2, 3, 3), ("tanh", "softmax"), "softmax_ce", "sum"), 2, 6, 0.1, gains={2: 5000.0}),
    ]


def confirmed_gradients(p: Probe, confirm_with: Sequence[str] = ("complex_step", "central")) -> dict[str, np.ndarray]:
    """The reference's gradients on probe ``p``, after the first valid oracle in ``confirm_with`` agreed with them."""
    c = p.case
    _, grads = loss_and_grad(c.spec, c.params, c.x, c.y)
    oracle = next(o for o in confirm_with if not oracles.unavailable(o, c.spec))
    check = oracles.check(oracle, c.spec, c.params, c.x, c.y, grads)
    if not check.ok:
        raise RuntimeError(f"probe {p.name}: the reference disagrees with {oracle}; no diagnosis is possible.\n{check.message()}")
    return grads


# --- comparing arrays ---------------------------------------------------------------------------------


def is_nonreal(g: object) -> bool:
    return np.iscomplexobj(g) and bool(np.any(np.imag(g) != 0))


def as_real(g: object) -> np.ndarray:
    return np.asarray(np.real(g) if np.iscomplexobj(g) else g, dtype=np.float64)


def _same(a: object, b: object, rtol: float, scale: float) -> bool:
    """Equal shapes and values to tolerance, NaN matching NaN; a complex value never equals a real one."""
    if (np.iscomplexobj(a) or np.iscomplexobj(b)) and is_nonreal(a) != is_nonreal(b):
        return False
    ga, gb = as_real(a), as_real(b)
    if ga.shape != gb.shape:
        return False
    with np.errstate(invalid="ignore"):
        close = np.abs(ga - gb) <= rtol * (np.abs(gb) + scale)
    return bool(np.all(close) or np.all(close | (np.isnan(ga) & np.isnan(gb))))


def global_floor(case: Case) -> float:
    """The grader's one floor S per probe: the largest per-element floor (``oracles.term_scale``), which counts
    the forward pass's cancellation too.  One number keeps every comparison of the diagnosis (transposed,
    reshaped, ×c, array-agnostic) on the same footing as the grade."""
    floors = oracles.term_scale(case.spec, case.params, case.x, case.y)
    return max((float(np.max(f)) for f in floors.values() if f.size), default=0.0)


def outcomes_agree(a: Outcome, b: Outcome, rtol: float, scale: float) -> bool:
    """Same error (or none), same inputs changed, same arrays, and values equal to tolerance."""
    if (a.error is None) != (b.error is None):
        return False
    if a.error is not None:
        return True
    if bool(a.mutated) != bool(b.mutated) or set(a.grads) != set(b.grads):
        return False
    return all(_same(a.grads[k], b.grads[k], rtol, scale) for k in b.grads)


def _first_example(case: Case) -> Case:
    """The same network on the batch's first example alone, its data term summed, without the penalty."""
    return Case(replace(case.spec, reduction="sum", l2=0.0), case.params, case.x[:1], case.y[:1])


def _plan_key(plan: Sequence[Placement]) -> tuple:
    return tuple(sorted((b.id, tuple(sorted(r))) for b, r in plan))


#: A world is the identity (None) or one of the assignment's conventions.
World = Optional[Convention]


@dataclass
class ProbeSet:
    """Probes with their expected gradients and every catalog entry's outcome, computed once per run.

    Combinations of entries (``outcome``) are run on demand and remembered, so a batch of
    submissions pays for each combination once.
    """

    probes: list[Probe]
    expected: dict[str, Outcome] = field(default_factory=dict)
    entries: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    rtol: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    _runs: dict[tuple, Outcome] = field(default_factory=dict, repr=False)
    _forwards: dict[tuple, Cache] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, probes: Sequence[Probe], confirm_with: Sequence[str] = ("complex_step", "central"),
              expected: Optional[Mapping[str, Params]] = None) -> "ProbeSet":
        """Expected gradients from the reference, confirmed by the first valid oracle in ``confirm_with``
        (``expected``: already confirmed, per probe name; they do not depend on a probe's lr)."""
        ps = cls(list(probes))
        for p in ps.probes:
            c = p.case
            ps.rtol[p.name] = oracles.rtol_for(c.spec, c.batch)
            ps.scale[p.name] = global_floor(c)
            grads = expected[p.name] if expected is not None else confirmed_gradients(p, confirm_with)
            ps.expected[p.name] = Outcome(grads, None, [])
        for bug in (*BUGS, *LOOKALIKES):
            ps.entries[bug.id] = {p.name: run_candidate(bug.gradients, p.case, p.lr) for p in ps.probes}
        return ps

    def agree(self, p: Probe, a: Outcome, b: Outcome) -> bool:
        return outcomes_agree(a, b, self.rtol[p.name], self.scale[p.name])

    def agrees(self, a: Mapping[str, Outcome], b: Mapping[str, Outcome]) -> bool:
        return all(self.agree(p, a[p.name], b[p.name]) for p in self.probes)

    def testable(self, bug: Bug) -> bool:
        """Whether these probes can tell ``bug`` from a correct implementation."""
        return not self.agrees(self.entries[bug.id], self.expected)

    def same(self, p: Probe, a: object, b: object) -> bool:
        return _same(a, b, self.rtol[p.name], self.scale[p.name])

    def outcome(self, plan: Sequence[Placement], world: World, p: Probe, first: bool = False) -> Outcome:
        """What the variant with every placement in ``plan`` gives on ``p`` under ``world``.

        ``first``: on the batch's first example alone, scaled as the batch's data term, plus the
        penalty's right gradient (what "from the first example only" means for each array).
        """
        key = (world.id if world else "", _plan_key(plan), p.name, first)
        if key not in self._runs:
            if not plan and world is None and not first:
                self._runs[key] = self.expected[p.name]
            else:
                self._runs[key] = self._run(plan, world, p, first)
        return self._runs[key]

    def _run(self, plan: Sequence[Placement], world: World, p: Probe, first: bool) -> Outcome:
        """One plan's backward pass over the forward pass of its case, which every plan shares (catalog
        entries change backward only), on private copies so in-place entries change nothing shared."""
        case = world.case(p.case) if world is not None and world.case is not None else p.case
        run_on = _first_example(case) if first else case
        key = (world.id if world else "", p.name, first)
        if key not in self._forwards:
            self._forwards[key] = forward(run_on.spec, run_on.params, run_on.x, run_on.y)[1]
        shared = self._forwards[key]
        params = {k: np.array(v, dtype=np.float64, copy=True) for k, v in run_on.params.items()}
        cache = Cache([None if z is None else z.copy() for z in shared.z], [a.copy() for a in shared.a], shared.y.copy())
        try:
            with np.errstate(all="ignore"):
                grads = (combine(plan) if plan else Backprop)(run_on.spec, params, cache, p.lr).run()
            error = None
        except Exception as exc:  # a variant that crashes on this case (a shape error) is an outcome too
            grads, error = None, f"{type(exc).__name__}: {exc}"
        out = Outcome(grads, error, [k for k in params if not np.array_equal(params[k], run_on.params[k])])
        if grads is not None and first:
            n = case.batch if case.spec.reduction == "mean" else 1
            grads = {k: g / n + (case.spec.l2 * case.params[k] if k.startswith("W") and np.shape(g) == case.params[k].shape else 0.0)
                     for k, g in grads.items()}
        if grads is not None and world is not None and world.read is not None:
            try:
                grads = world.read(p.case, grads)
            except Exception as exc:  # a variant whose arrays the convention cannot reshape
                return Outcome(None, f"{type(exc).__name__}: {exc}", out.mutated)
        return Outcome(grads, out.error, out.mutated)

    def placements(self) -> list[Placement]:
        """Every catalog entry on each layer role it can act on alone; named per-layer entries win
        (deriv-on-z in the hidden layers is deriv-on-z-hidden)."""
        named = {(b.family, b.layers) for b in BUGS if b.family}
        out: list[Placement] = []
        for b in BUGS:
            if "run" in b.methods:
                continue  # the whole pass (mutating the caller's arrays): named as an entry only
            roles = sorted(b.roles)
            if len(roles) == 1:
                out.append((b, frozenset(roles)))
            else:
                out += [(b, frozenset({r})) for r in roles if (b.id, r) not in named]
        return out
