"""Blind spots: the catalog's bugs an assignment's own probes cannot see, and the probe feature that would show each.

Every catalog entry (``reference/bugs.py``) and the diagnosis's simple transforms of the right answer (a transposed
weight gradient, the 1/N missing, the first example only, the sign) are run on the assignment's probes.  A mutant is
*applicable* when probes of the assignment's kind of network (its activations, loss and depth) with every feature
added (non-square layers, a batch of several examples, λ > 0 when the contract passes one) can tell it from the right
answer; it is a *blind spot* when the assignment's own probes cannot.  For each blind spot the first single feature
that shows it, added to the assignment's probes, is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from bpcheck.reference.bugs import BUGS

from .assignment import Assignment
from .probes import Outcome, Probe, ProbeSet, make_probe
from .variants import VariantState, build

#: (sizes, batch, reg) of one probe: what a feature changes.
Shape = tuple[tuple[int, ...], int, float]


# --- the mutants ---------------------------------------------------------------------------------------


def _mapped(out: Outcome, fn: Callable[[str, np.ndarray], np.ndarray]) -> Outcome:
    if out.grads is None:
        return out
    return Outcome({k: fn(k, np.asarray(g)) for k, g in out.grads.items()}, out.error, out.mutated)


def _transposed(p: Probe, ps: ProbeSet) -> Outcome:
    return _mapped(ps.expected[p.name], lambda k, g: g.T if k.startswith("W") else g)


def _times_batch(p: Probe, ps: ProbeSet) -> Outcome:
    n = p.case.batch if p.case.spec.reduction == "mean" else 1
    return _mapped(ps.expected[p.name], lambda k, g: n * g)


def _negated(p: Probe, ps: ProbeSet) -> Outcome:
    return _mapped(ps.expected[p.name], lambda k, g: -g)


def _first_example(p: Probe, ps: ProbeSet) -> Outcome:
    return ps.outcome([], None, p, first=True)


#: The simple transforms of the right answer the diagnosis names: id → (words, the transform on one probe).
TRANSFORMS: dict[str, tuple[str, Callable[[Probe, ProbeSet], Outcome]]] = {
    "transposed": ("every weight gradient transposed", _transposed),
    "times-batch": ("every gradient N× (the 1/N missing everywhere)", _times_batch),
    "first-example": ("every gradient from the batch's first example only", _first_example),
    "sign": ("every gradient with its sign flipped", _negated),
}


def mutants(ps: ProbeSet) -> dict[str, tuple[str, dict[str, Outcome]]]:
    """Every catalog entry's and transform's outcome on each probe of ``ps``: id → (title, outcomes)."""
    out = {b.id: (b.title, ps.entries[b.id]) for b in BUGS}
    for tid, (words, fn) in TRANSFORMS.items():
        out[tid] = (words, {p.name: fn(p, ps) for p in ps.probes})
    return out


def visible(ps: ProbeSet) -> set[str]:
    """The mutants some probe of ``ps`` tells from the right answer."""
    return {mid for mid, (_, outs) in mutants(ps).items() if not ps.agrees(outs, ps.expected)}


# --- probe features ------------------------------------------------------------------------------------


def _non_square(shape: Shape) -> Shape:
    """Every weight matrix non-square: each layer but the output grows until it differs from its neighbours."""
    sizes, batch, reg = shape
    new = list(sizes)
    for i in range(len(new) - 1):
        while new[i] == new[i + 1] or (i > 0 and new[i] == new[i - 1]):
            new[i] += 1
    return tuple(new), batch, reg


@dataclass(frozen=True)
class Feature:
    """What a probe can have; ``missing`` completes "no probe with ...: <bug> passes"."""

    name: str
    missing: str
    add: Callable[[Shape], Shape]


FEATURES = (
    Feature("non-square", "no non-square layer", _non_square),
    Feature("batch", "batch 1 only", lambda s: (s[0], max(s[1], 3), s[2])),
    Feature("reg", "no probe with λ > 0", lambda s: (s[0], s[1], s[2] or 0.1)),
)


@dataclass(frozen=True)
class BlindSpot:
    """A mutant the assignment's probes cannot see, and the missing feature that would show it (None: no single one)."""

    id: str
    title: str
    feature: Optional[Feature]

    def words(self) -> str:
        lead = self.feature.missing if self.feature else "no single probe feature shows it"
        return f"{lead}: {self.title} ({self.id}) passes"


def _applies(f: Feature, a: Assignment) -> bool:
    """A probe of ``a`` can have ``f``: λ > 0 only when its contract passes one, a batch only when a call takes one."""
    if f.name == "reg":
        return a.contract.passes("reg")
    return f.name != "batch" or a.contract.conventions.examples_per_call == "batch"


class _Probes:
    """The assignment's default probes, and the same probes with features added, as probe sets (built once each)."""

    def __init__(self, a: Assignment, state: VariantState):
        self.state, self.lr = state, state.lr()
        self.configs = state.configs
        self.own = state.probe_set(self.lr)
        self.features = [f for f in FEATURES if _applies(f, a)]

    def _probe(self, i: int, shape: Shape, tag: str) -> Probe:
        sizes, batch, reg = shape
        spec = self.state.conventions.spec(sizes, reg, batch)
        return make_probe(f"{self.configs[i].probe.name}+{tag}", tag, spec, batch, 1000 * (i + 1), self.lr)

    def added(self, features: tuple[Feature, ...]) -> ProbeSet:
        """The own probes plus, for each, a probe with every one of ``features`` added."""
        extra = []
        for i, pc in enumerate(self.configs):
            shape: Shape = (pc.case(self.state.variant).spec.sizes, pc.probe.case.batch, pc.reg)
            for f in features:
                shape = f.add(shape)
            extra.append(self._probe(i, shape, "+".join(f.name for f in features)))
        return ProbeSet.build([*self.own.probes, *extra])


def blind_spots(a: Assignment) -> tuple[list[BlindSpot], int]:
    """The mutants ``a``'s probes cannot see although probes of its kind could; and how many mutants apply.

    An assignment of several graded functions sees a mutant when any function that returns gradients sees it."""
    if not a.parts:
        spots, applicable = _blind_spots(a)
        return spots, len(applicable)
    each = [_blind_spots(p) for p in a.parts if p.contract.kinds() & {"gradient", "update"}]
    seen = set().union(*(applicable - {s.id for s in spots} for spots, applicable in each))
    missed = {s.id: s for spots, _ in each for s in spots if s.id not in seen}
    return [missed[m] for m in sorted(missed)], len(set().union(*(applicable for _, applicable in each)))


def _blind_spots(a: Assignment) -> tuple[list[BlindSpot], set[str]]:
    states, _ = build(a)
    probes = _Probes(a, states[0])
    seen = visible(probes.own)
    applicable = visible(probes.added(tuple(probes.features))) | seen
    missed = sorted(applicable - seen)
    shown_by: dict[str, Feature] = {}
    for f in probes.features:
        if any(m not in shown_by for m in missed):
            now = visible(probes.added((f,)))
            shown_by.update({m: f for m in missed if m in now and m not in shown_by})
    titles = {mid: title for mid, (title, _) in mutants(probes.own).items()}
    return [BlindSpot(m, titles[m], shown_by.get(m)) for m in missed], set(applicable)
