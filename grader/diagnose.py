"""Name the mistake: explain a black box's gradients on a set of probes by the bug catalog.

A candidate's behaviour on each probe is an ``Outcome`` (gradients, or the error it raised, and
whether it changed its inputs).  The diagnosis, in order:

1. correct, when every probe agrees with the expected gradients (see ``ProbeSet``);
2. the catalog entries whose own outcomes reproduce the candidate's on every probe, to the same
   derived tolerance; entries indistinguishable from each other on these probes are reported
   together, with that said;
3. else, per parameter array, a scalar c with g ≈ c·g* on every probe, named as the convention it is
   (c = −1: sign; 2 or ½: the squared-error factor; N or 1/N: the batch reduction);
4. else, which arrays are right and which are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

import oracles
from oracles.strategies import KINK_MARGIN, Case, kink_distance, make_targets
from reference import NetworkSpec, loss_and_grad
from reference.bugs import BUGS, LOOKALIKES, Bug

from .kill_matrix import Outcome, run_candidate


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
        make_probe("large-logits", "logits ~1e3 (past exp overflow at 709) under softmax cross-entropy",
               S((2, 3, 3), ("tanh", "softmax"), "softmax_ce", "sum"), 2, 6, 0.1, gains={2: 5000.0}),
    ]


def _agree(a: Outcome, b: Outcome, probe: Probe, rtol: float, scale: float) -> bool:
    """Same error (or none), same inputs changed, same shapes, and values equal to tolerance (NaN matching NaN)."""
    if (a.error is None) != (b.error is None):
        return False
    if a.error is not None:
        return True
    if bool(a.mutated) != bool(b.mutated):
        return False
    if set(a.grads) != set(b.grads):
        return False
    for k in b.grads:
        ga = np.array(a.grads[k], dtype=np.float64)
        gb = np.array(b.grads[k], dtype=np.float64)
        if ga.shape != gb.shape:
            return False
        both_nan = np.isnan(ga) & np.isnan(gb)
        ga, gb = np.where(both_nan, 0.0, ga), np.where(both_nan, 0.0, gb)
        with np.errstate(invalid="ignore"):
            diff = np.abs(ga - gb)
        if not np.all(diff <= rtol * (np.abs(gb) + scale)):
            return False
    return True


def confirmed_gradients(p: Probe, confirm_with: Sequence[str] = ("complex_step", "central")) -> dict[str, np.ndarray]:
    """The reference's gradients on probe ``p``, after the first valid oracle in ``confirm_with`` agreed with them."""
    c = p.case
    _, grads = loss_and_grad(c.spec, c.params, c.x, c.y)
    oracle = next(o for o in confirm_with if not oracles.unavailable(o, c.spec))
    check = oracles.check(oracle, c.spec, c.params, c.x, c.y, grads)
    if not check.ok:
        raise RuntimeError(f"probe {p.name}: the reference disagrees with {oracle}; no diagnosis is possible.\n{check.message()}")
    return grads


@dataclass
class ProbeSet:
    """Probes with their expected gradients and every catalog entry's outcome, computed once per run."""

    probes: list[Probe]
    expected: dict[str, Outcome] = field(default_factory=dict)
    entries: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    rtol: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, probes: Sequence[Probe], confirm_with: Sequence[str] = ("complex_step", "central")) -> "ProbeSet":
        """Expected gradients from the reference, confirmed by the first valid oracle in ``confirm_with``."""
        ps = cls(list(probes))
        for p in ps.probes:
            c = p.case
            ps.rtol[p.name] = oracles.rtol_for(c.spec, c.batch)
            ps.scale[p.name] = oracles.term_scale(c.spec, c.params, c.x, c.y)
            ps.expected[p.name] = Outcome(confirmed_gradients(p, confirm_with), None, [])
        for bug in (*BUGS, *LOOKALIKES):
            ps.entries[bug.id] = {p.name: run_candidate(bug.gradients, p.case, p.lr) for p in ps.probes}
        return ps

    def agrees(self, a: Mapping[str, Outcome], b: Mapping[str, Outcome]) -> bool:
        return all(_agree(a[p.name], b[p.name], p, self.rtol[p.name], self.scale[p.name]) for p in self.probes)

    def testable(self, bug: Bug) -> bool:
        """Whether these probes can tell ``bug`` from a correct implementation."""
        return not self.agrees(self.entries[bug.id], self.expected)


@dataclass
class Diagnosis:
    correct: bool
    matches: list[Bug]
    conventions: dict[str, str]
    wrong_arrays: list[str]
    right_arrays: list[str]
    summary: str
    failing_probe: Optional[str] = None

    def as_dict(self) -> dict:
        return {
            "correct": self.correct,
            "matches": [b.id for b in self.matches],
            "conventions": self.conventions,
            "wrong_arrays": self.wrong_arrays,
            "right_arrays": self.right_arrays,
            "summary": self.summary,
            "failing_probe": self.failing_probe,
        }


def _fit_scalar(name: str, outcomes: Mapping[str, Outcome], ps: ProbeSet) -> Optional[str]:
    """The convention c with g ≈ c·g* for array ``name`` on every probe, or None."""
    ratios = []
    for p in ps.probes:
        out, exp = outcomes[p.name], ps.expected[p.name]
        if name not in exp.grads:
            continue
        if out.error or name not in out.grads:
            return None
        g = np.array(out.grads[name], dtype=np.float64)
        gs = exp.grads[name]
        if g.shape != gs.shape or not np.all(np.isfinite(g)):
            return None
        denom = float(np.vdot(gs, gs))
        if denom == 0:
            continue
        c = float(np.vdot(g, gs)) / denom
        if np.linalg.norm(g - c * gs) > 1e3 * ps.rtol[p.name] * (np.linalg.norm(gs) + ps.scale[p.name]):
            return None
        ratios.append((c, p.case.batch))
    if not ratios:
        return None

    def all_near(f: Callable[[int], float]) -> bool:
        return all(abs(c - f(n)) <= 1e-6 * max(1.0, abs(f(n))) for c, n in ratios)

    for label, f in [
        ("correct", lambda n: 1.0),
        ("sign flipped (c = −1)", lambda n: -1.0),
        ("factor 2 (c = 2: the derivative of Σ(a−y)² for ½Σ(a−y)²)", lambda n: 2.0),
        ("factor ½ (c = ½)", lambda n: 0.5),
        ("sign flipped and factor 2 (c = −2)", lambda n: -2.0),
        ("batch mean missing its 1/N (c = N)", lambda n: float(n)),
        ("batch mean applied twice (c = 1/N)", lambda n: 1.0 / n),
    ]:
        if all_near(f):
            return label
    cs = {round(c, 6) for c, _ in ratios}
    return f"off by a constant factor c = {ratios[0][0]:.6g}" if len(cs) == 1 else None


def _layer_words(name: str, ps: ProbeSet) -> str:
    """'output layer' when layer l is the last one on every probe that has it, else 'layer l'."""
    l = int(name[1:])
    depths = {p.case.spec.depth for p in ps.probes if name in ps.expected[p.name].grads}
    return "output layer" if depths == {l} else f"layer {l}"


def diagnose(outcomes: Mapping[str, Outcome], ps: ProbeSet, display: Callable[[str], str] = str) -> Diagnosis:
    """What explains ``outcomes`` (one per probe name), in the order of the module docstring.

    ``display`` turns a parameter name (W1, b1, ...) into the one the candidate's author knows.
    """
    if ps.agrees(outcomes, ps.expected):
        names = list(dict.fromkeys(k for p in ps.probes for k in ps.expected[p.name].grads))
        return Diagnosis(True, [], {}, [], names, "correct on every probe")
    failing = next(p.name for p in ps.probes if not _agree(outcomes[p.name], ps.expected[p.name], p, ps.rtol[p.name], ps.scale[p.name]))
    # A catalog entry explains a candidate only through gradients it reproduces: errors alone (a crash on
    # every probe) carry too little to name a mistake, so at least one probe must have produced gradients.
    produced = any(outcomes[p.name].error is None for p in ps.probes)
    matches = [b for b in BUGS if produced and ps.testable(b) and ps.agrees(outcomes, ps.entries[b.id])]
    if matches:
        if len(matches) == 1 and matches[0].convention:
            summary = f"differs only by a convention: {matches[0].convention} (catalog entry {matches[0].number} '{matches[0].id}')"
        elif len(matches) == 1:
            summary = f"matches catalog entry {matches[0].number} '{matches[0].id}': {matches[0].title}"
        else:
            names = ", ".join(f"'{b.id}'" for b in matches)
            summary = (f"matches {len(matches)} catalog entries ({names}), which give identical results on every probe; "
                       "telling them apart needs " + " vs ".join(b.reveals for b in matches))
        return Diagnosis(False, matches, {}, [], [], summary, failing)

    names = list(dict.fromkeys(k for p in ps.probes for k in ps.expected[p.name].grads))
    conventions = {n: c for n in names if (c := _fit_scalar(n, outcomes, ps))}
    wrong = [n for n in names if conventions.get(n) != "correct"]
    right = [n for n in names if conventions.get(n) == "correct"]
    labels = {conventions.get(n) for n in wrong}
    if wrong and len(labels) == 1 and None not in labels:
        summary = f"differs only by a convention: {labels.pop()}"
    else:
        errors = [outcomes[p.name].error for p in ps.probes if outcomes[p.name].error]
        if errors:
            summary = f"failed on {len(errors)} of {len(ps.probes)} probes: {errors[0]}"
        elif any(not np.all(np.isfinite(np.asarray(g, dtype=np.float64)))
                 for p in ps.probes for g in (outcomes[p.name].grads or {}).values()):
            bad = sorted({k for p in ps.probes for k, g in (outcomes[p.name].grads or {}).items()
                          if not np.all(np.isfinite(np.asarray(g, dtype=np.float64)))})
            summary = f"NaN or Inf in {', '.join(display(b) for b in bad)}"
        elif any(outcomes[p.name].mutated for p in ps.probes):
            summary = f"modified its inputs {next(outcomes[p.name].mutated for p in ps.probes if outcomes[p.name].mutated)}"
        else:
            right_layers = sorted({_layer_words(n, ps) for n in right})
            wrong_layers = sorted({_layer_words(n, ps) for n in wrong})
            summary = "; ".join(filter(None, [
                f"{', '.join(right_layers)} correct" if right_layers else "",
                f"{', '.join(wrong_layers)} wrong" if wrong_layers else "",
            ])) or "wrong, and no catalog entry or convention explains it"
    return Diagnosis(False, [], {n: c for n, c in conventions.items() if c != "correct"}, wrong, right, summary, failing)


def diagnose_function(fn: Callable, ps: ProbeSet) -> Diagnosis:
    """Run ``fn(spec, params, x, y, lr)`` on every probe and diagnose it."""
    return diagnose({p.name: run_candidate(fn, p.case, p.lr) for p in ps.probes}, ps)
