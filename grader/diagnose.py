"""Name the mistake: explain a black box's gradients on a set of probes by the bug catalog.

A candidate's behaviour on each probe is an ``Outcome`` (gradients, or the error it raised, and
whether it changed its inputs).  The diagnosis, in order:

1. what the numbers are before what they mean: no gradients at all, complex values, all zeros.
   None of these is ever a convention or a catalog entry;
2. correct, when every probe agrees with the expected gradients (see ``ProbeSet``);
3. one catalog entry whose outcomes reproduce the candidate's on every probe; entries identical on
   these probes are reported together, with what would tell them apart;
4. one scalar c with g ≈ c·g* for every array, named as the convention it is (−1: sign; 2 or ½: the
   squared-error factor; N or 1/N: the batch reduction);
5. layer by layer, from the output down: the catalog entries acting on the output layer that
   explain its arrays, then those acting on the hidden layers (an output-layer mistake reaches
   every layer below it, a hidden-layer one never the output), then simple transforms of the arrays
   left over (zeros, transposed, reshaped, c×, first example only, the regularisation term).
   The same search runs under each of the assignment's conventions (labels 1..K, unroll order, ...),
   and the explanation with the fewest names wins, so two bugs are two names;
6. what is left: errors the size a finite-difference estimate leaves, or the arrays nothing explains.

Every message speaks the student's terms (``Terms``): their array and parameter names and values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

from bpcheck.oracles import rtol_for
from bpcheck.reference.bugs import BUGS, CATALOG, Bug, Placement, conflict

from .probes import Convention, Outcome, Probe, ProbeSet, Terms, World, as_real, is_nonreal, outcomes_agree, run_candidate

Params = dict[str, np.ndarray]
#: Relative error below which a wrong gradient is "close": what a finite-difference estimate leaves
#: (central differences with h ~ 1e-4 err by ~h² ~ 1e-8; one-sided ones with h ~ 1e-7 by ~1e-7), far
#: above float64 rounding (the derived tolerance, ~1e-13) and far below any catalog bug's effect.
CLOSE = 1e-4


# --- the diagnosis -------------------------------------------------------------------------------------


@dataclass
class Diagnosis:
    """What explains a candidate's gradients.

    ``matches``: the catalog entries named (alone, or in some layers); ``named``: one short label
    per mistake named; ``attribution``: per wrong array (the student's name), the labels explaining
    it; ``convention_only``: the only difference is a convention; ``explained``: every wrong array
    is accounted for.
    """

    correct: bool
    matches: list[Bug]
    conventions: dict[str, str]
    wrong_arrays: list[str]
    right_arrays: list[str]
    summary: str
    failing_probe: Optional[str] = None
    convention_only: bool = False
    explained: bool = False
    named: list[str] = field(default_factory=list)
    attribution: dict[str, list[str]] = field(default_factory=dict)
    #: (the instructor's) other explanations as cheap as this one, by catalog id: the student reads them in words
    alternatives: list[str] = field(default_factory=list)
    #: the network the words were chosen for: its hidden and output activations (``Voice``)
    voice: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "correct": self.correct,
            "matches": [b.id for b in self.matches],
            "named": self.named,
            "conventions": self.conventions,
            "wrong_arrays": self.wrong_arrays,
            "right_arrays": self.right_arrays,
            "attribution": self.attribution,
            "alternatives": self.alternatives,
            "voice": self.voice,
            "convention_only": self.convention_only,
            "explained": self.explained,
            "summary": self.summary,
            "failing_probe": self.failing_probe,
        }


#: The scalars c of g = c·g* that mean something: (c for a batch of N, words for the whole gradient,
#: a convention; words for one array's values, a mistake).
SCALARS: list[tuple[Callable[[int], float], str, str]] = [
    (lambda n: 1.0, "correct", "correct"),
    (lambda n: -1.0, "sign flipped (c = −1)", "the sign flipped (−1×)"),
    (lambda n: 2.0, "factor 2 (c = 2: the derivative of Σ(a−y)² for ½Σ(a−y)²)", "twice the right values"),
    (lambda n: 0.5, "factor ½ (c = ½)", "half the right values"),
    (lambda n: -2.0, "sign flipped and factor 2 (c = −2)", "−2× the right values"),
    (lambda n: float(n), "batch mean missing its 1/N (c = N)", "N× the right values (the batch's 1/N missing)"),
    (lambda n: 1.0 / n, "batch mean applied twice (c = 1/N)", "1/N× the right values (1/N applied twice)"),
]
_SCALARS = [(whole, f) for f, whole, _ in SCALARS]
_ARRAY_SCALARS = [(one, f) for f, _, one in SCALARS]


def _fit(pairs: Iterable[tuple[Sequence[object], Sequence[np.ndarray], Probe]], ps: ProbeSet,
         labels: Sequence[tuple[str, Callable[[int], float]]] = _SCALARS) -> Optional[tuple[str, float]]:
    """(label, c) when g ≈ c·g* on every probe (c constant, N or 1/N), g real and finite; else None.

    ``pairs``: per probe, the candidate's arrays and the base's, taken together as one vector.
    """
    ratios = []
    for cand, base, p in pairs:
        if any(is_nonreal(g) for g in cand) or any(np.shape(g) != np.shape(b) for g, b in zip(cand, base)):
            return None
        g = np.concatenate([as_real(a).ravel() for a in cand]) if cand else np.zeros(0)
        gs = np.concatenate([as_real(b).ravel() for b in base]) if base else np.zeros(0)
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(gs))):
            return None
        denom = float(gs @ gs)
        if denom == 0:
            continue
        c = float(g @ gs) / denom
        if np.linalg.norm(g - c * gs) > 1e3 * ps.rtol[p.name] * (np.linalg.norm(gs) + ps.scale[p.name]):
            return None
        ratios.append((c, p.case.batch))
    if not ratios:
        return None
    for label, f in labels:
        if all(abs(c - f(n)) <= 1e-6 * max(1.0, abs(f(n))) for c, n in ratios):
            return label, ratios[0][0]
    c0 = ratios[0][0]
    if all(abs(c - c0) <= 1e-6 * max(1.0, abs(c0)) for c, _ in ratios):
        return f"off by a constant factor c = {c0:.6g}", c0
    return None


#: A transpose only square layers show: where the shape differs, the contract reads the array in its own layout
#: (a Nielsen nabla_w with its operands swapped, read as it was written)
SQUARE_ONLY = "transposed where the layer is square (right where it is not: there the shape tells the layout)"
#: How a transform that only reshapes right values begins: a bias-shape convention, never a mistake in the numbers.
RESHAPED = "right values, "


def _shape_words(got: tuple, want: tuple) -> str:
    """The shape slip in general terms, the same for every layer: a (1, n) row for (n,), ..."""
    if got == (1, *want):
        return "as a (1, n) row where (n,) is expected (keepdims=True?)"
    if got == (*want, 1):
        return "as an (n, 1) column where (n,) is expected"
    if len(got) == 1 and len(want) == 2 and 1 in want:
        return f"flattened to (n,) where {'(1, n)' if want[0] == 1 else '(n, 1)'} is expected"
    return f"in shape {got} where {want} is expected"


def _role_of(key: str, p: Probe) -> str:
    return "output" if int(key[1:]) == p.case.spec.depth else "hidden"


#: An array group: the weights or the biases of the output layer or of the hidden layers.
Group = tuple[str, str]


def _merged(plan: Sequence[Placement]) -> list[Placement]:
    """One entry on both layer roles is that entry; a family's per-layer halves are the family's entry;
    an all-layer entry on one role is its per-layer family member where there is one."""
    merged: dict[str, Placement] = {}
    for b, r in plan:
        key = b.family or b.id
        if key in merged:
            merged[key] = (CATALOG.get(key, b), merged[key][1] | r)
        else:
            merged[key] = (b, r)
    out = []
    for b, r in merged.values():
        if r != b.roles:
            b = next((x for x in BUGS if x.family == (b.family or b.id) and x.roles == r), b)
        out.append((b, r))
    return out


# --- the network's own words ---------------------------------------------------------------------------

#: Each activation's derivative as a student computes it: the words a catalog entry's σ' becomes.
DERIVATIVES = {"sigmoid": "σ′(z) = a(1 − a)", "tanh": "tanh′(z) = 1 − a²", "relu": "the ReLU mask [z > 0]",
               "leaky_relu": "the leaky-ReLU slope ([z > 0], else the slope)", "identity": "1",
               "softmax": "the softmax Jacobian"}
#: Each activation's derivative from its output a, for the entries that feed it the wrong value.
ON_A = {"sigmoid": "a(1 − a)", "tanh": "1 − a²"}
#: An entry in the student's words: {h}/{o} the hidden/output derivative, {ha}/{oa} the same from a.
WORDS = {
    "deriv-on-z": "the activation derivative {ha} fed the pre-activation z instead of a",
    "deriv-on-z-hidden": "the activation derivative {ha} fed the pre-activation z instead of a, in the hidden layers only",
    "deriv-on-z-output": "the activation derivative {oa} fed the pre-activation z instead of a, in the output layer only",
    "bp2-no-sigma-prime": "hidden delta not multiplied by {h}",
    "output-delta-no-sigma-prime": "output delta a − y under squared error, without the factor {o}",
    "ce-extra-sigma-prime": "an extra factor {o} on top of the cross-entropy delta a − y",
    "bp2-next-derivative": "off-by-one layer index: the hidden delta multiplied by the next layer's activation derivative",
    "sigmoid-everywhere": "every layer differentiated as a sigmoid, sigmoid(z)(1 − sigmoid(z)), where the hidden layers "
                          "need {h}",
}
#: The fix an entry asks for, where two entries can ask for the same one: the same numbers and the same fix
#: are one mistake (a hidden delta without σ' and a ReLU mask a >= 0 are, in a ReLU layer).
FIXES = {"bp2-no-sigma-prime": "multiply the hidden delta by {h}",
         "relu-mask-a-ge-0": "multiply the hidden delta by the ReLU mask [z > 0]"}
#: The sigma-of-a entries as a non-sigmoid layer shows them.
_AT_A = "the activation derivative taken at the already-activated value a instead of z"


@dataclass(frozen=True)
class Voice:
    """The catalog in one network's words: its hidden and output activations (None when the probes mix them)."""

    hidden: Optional[str]
    output: Optional[str]

    @classmethod
    def of(cls, specs: Iterable) -> "Voice":
        specs = list(specs)
        hidden = {a for s in specs for a in s.activations[:-1]}
        output = {s.activations[-1] for s in specs}
        return cls(next(iter(hidden)) if len(hidden) == 1 else None, next(iter(output)) if len(output) == 1 else None)

    def _fill(self, text: str) -> str:
        sigmoid_all = self.hidden in ("sigmoid", None) and self.output in ("sigmoid", None)
        return text.format(h=DERIVATIVES.get(self.hidden or "", "the activation derivative f′(z)"),
                           o=DERIVATIVES.get(self.output or "", "the activation derivative f′(z)"),
                           ha=ON_A.get(self.hidden or "", "a(1 − a)" if sigmoid_all else "f′"),
                           oa=ON_A.get(self.output or "", "a(1 − a)" if sigmoid_all else "f′"))

    def words(self, b: Bug) -> str:
        """``b`` as this network shows it: no slug, no σ for a layer that is not a sigmoid."""
        if (b.family or b.id) == "sigma-of-a":
            role = {"output": self.output, "hidden": self.hidden}.get(b.layers, self.hidden if self.hidden == self.output else None)
            if role not in ("sigmoid", None):  # σ where the layer is one (or the probes mix activations)
                return _AT_A + {"output": ", in the output layer only", "hidden": ", in the hidden layers only"}.get(b.layers, "")
        if b.id == "tanh-as-sigmoid":  # named by the layer it is in: the student knows which activation it has
            role = {"output": self.output, "hidden": self.hidden}.get(b.layers, self.hidden)
            if role in ON_A:
                other = "tanh" if role == "sigmoid" else "sigmoid"
                return f"the {other}'s derivative {ON_A[other]} used for a {role} layer, whose derivative is {ON_A[role]}"
        if b.id in WORDS:
            return self._fill(WORDS[b.id])
        return b.title

    def says(self, text: str) -> bool:
        """Whether this network may be told ``text``: σ only where every layer is (or may be) a sigmoid."""
        return "σ" not in text or all(a in ("sigmoid", None) for a in (self.hidden, self.output))

    def fix(self, b: Bug) -> str:
        return self._fill(FIXES[b.id]) if b.id in FIXES else b.right

    def distinct(self, bugs: Iterable[Bug]) -> list[Bug]:
        """``bugs`` (which give the same numbers) less those asking for a fix an earlier one asks for."""
        first: dict[str, Bug] = {}
        for b in bugs:
            first.setdefault(self.fix(b), b)
        return list(first.values())


@dataclass
class _Explanation:
    world: World
    plan: tuple[Placement, ...]
    transforms: dict[Group, str]
    unexplained: list[Group]

    @property
    def cost(self) -> tuple[int, int]:
        """(names, with 100 per unexplained group; transforms among them): catalog entries win ties."""
        kinds = len(set(self.transforms.values()))  # one transform on several groups is one name
        entries = len(_merged(self.plan))  # one entry on both layer roles is one name
        names = (self.world is not None) + entries + kinds + 100 * len(self.unexplained)
        return names, kinds


class _Diagnoser:
    """One candidate's diagnosis; see the module docstring for the order."""

    def __init__(self, outcomes: Mapping[str, Outcome], ps: ProbeSet, terms: Terms, precision: str = "float64"):
        self.o, self.ps, self.terms, self.precision = outcomes, ps, terms, precision
        self.produced = [p for p in ps.probes if outcomes[p.name].error is None and outcomes[p.name].grads is not None]
        self.keys = list(dict.fromkeys(k for p in ps.probes for k in ps.expected[p.name].grads))
        self.fixed_depth = len({p.case.spec.depth for p in ps.probes}) == 1
        self.voice = Voice.of(p.case.spec for p in ps.probes)

    # -- words -------------------------------------------------------------------------------------------

    def group_keys(self, group: Group, p: Probe) -> list[str]:
        role, kind = group
        return [k for k in self.ps.expected[p.name].grads if k[0] == kind and _role_of(k, p) == role]

    def group_words(self, group: Group) -> str:
        role, kind = group
        if self.fixed_depth:
            keys = self.group_keys(group, self.ps.probes[0])
            return ", ".join(self.terms.array(k) for k in keys)
        whose = {"output": "the output layer's", "hidden": "the hidden layers'"}[role]
        return f"{whose} {'weights' if kind == 'W' else 'biases'}"

    def groups_words(self, groups: Sequence[Group]) -> str:
        kinds = {k for _, k in groups}
        if not self.fixed_depth and len(groups) == 2 and len(kinds) == 1:
            return f"every layer's {'weights' if kinds == {'W'} else 'biases'}"
        return ", ".join(self.group_words(g) for g in groups)

    def arrays(self, keys: Iterable[str]) -> str:
        return ", ".join(self.terms.array(k) for k in keys)

    def where(self, roles: frozenset) -> str:
        if roles == {"output"}:
            return "the output layer"
        return "the hidden layer" + ("" if self.fixed_depth and self.ps.probes[0].case.spec.depth == 2 else "s")

    # -- the steps ---------------------------------------------------------------------------------------

    def run(self) -> Diagnosis:
        ps, o = self.ps, self.o
        if ps.agrees(o, ps.expected):
            return Diagnosis(True, [], {}, [], list(self.keys), "gradients correct on every probe", explained=True)
        failing = next(p.name for p in ps.probes if not ps.agree(p, o[p.name], ps.expected[p.name]))
        wrong, right = self.wrong_and_right()
        base = dict(correct=False, matches=[], conventions={}, wrong_arrays=wrong, right_arrays=right, summary="", failing_probe=failing)
        facts = self.facts()
        if facts:
            return Diagnosis(**{**base, "summary": facts, "named": [facts.split(":")[0]]})
        single = self.single_entry()
        if single:
            return Diagnosis(**{**base, **single})
        scalar = self.whole_scalar()
        if scalar:
            return Diagnosis(**{**base, **scalar})
        close = self.close()
        if close:
            label = "float32 precision" if self.precision == "float32" else "finite-difference-sized errors"
            return Diagnosis(**{**base, "summary": close, "named": [label],
                                "attribution": {self.terms.array(k): [label] for k in wrong}})
        return Diagnosis(**{**base, **self.layered()})

    def close(self) -> str:
        """Every probe ran and every array is within CLOSE of the right one: a numerical estimate."""
        ps, errors = self.ps, []
        if len(self.produced) != len(ps.probes):
            return ""
        for p in self.produced:
            exp, got = ps.expected[p.name].grads, self.o[p.name].grads
            for k, gs in exp.items():
                if k not in got or np.shape(got[k]) != gs.shape or is_nonreal(got[k]):
                    return ""
                floor = ps.scale[p.name] * ps.rtol[p.name]
                errors.append(float(np.linalg.norm(as_real(got[k]) - gs)) / max(float(np.linalg.norm(gs)), floor))
        worst = max(errors, default=np.inf)
        if not (np.isfinite(worst) and worst <= CLOSE):
            return ""
        if self.precision == "float32":
            bound = max(rtol_for(p.case.spec, p.case.batch, np.dtype(np.float32)) for p in self.produced)
            # float32 is judged with float32's bound: close and still wrong is more than its rounding
            within = "within float32's rounding overall, not element by element" if worst <= bound else \
                "beyond float32's rounding"
            return (f"close: the returned arrays are float32, and errors of ~{worst:.0e} are {within} (bound {bound:.0e}): "
                    "more than rounding differs")
        return (f"close, but with finite-difference-sized errors (~{worst:.0e}): the gradient must be computed "
                "analytically")

    def wrong_and_right(self) -> tuple[list[str], list[str]]:
        wrong = []
        for k in self.keys:
            for p in self.ps.probes:
                exp, out = self.ps.expected[p.name].grads, self.o[p.name]
                if k in exp and (out.grads is None or k not in out.grads or not self.ps.same(p, out.grads[k], exp[k])):
                    wrong.append(k)
                    break
        return wrong, [k for k in self.keys if k not in wrong]

    def facts(self) -> str:
        """No gradients, complex values, all zeros: what the numbers are, never a convention."""
        o, ps = self.o, self.ps
        if not self.produced:
            errors = [o[p.name].error for p in ps.probes if o[p.name].error]
            return f"no gradients: failed on every probe: {errors[0] if errors else 'no output'}"
        nonreal = [k for k in self.keys if any(is_nonreal(o[p.name].grads.get(k)) for p in self.produced)]
        if nonreal:
            times_j = all(self.ps.same(p, np.imag(o[p.name].grads[k]), ps.expected[p.name].grads[k]) and
                          not np.any(np.real(o[p.name].grads[k]))
                          for p in self.produced for k in ps.expected[p.name].grads if k in o[p.name].grads)
            where = "every gradient" if len(nonreal) == len(self.keys) else self.arrays(nonreal)
            return (f"complex numbers in {where}: a gradient is real"
                    + (" (these are the right values times 1j)" if times_j else " (a complex step or sqrt left in?)"))
        if all(not np.any(as_real(g)) for p in self.produced for g in o[p.name].grads.values()):
            return "returns zeros for every gradient: not implemented, or an exception swallowed?"
        return ""

    def single_entry(self) -> Optional[dict]:
        ps = self.ps
        matches = [b for b in BUGS if ps.testable(b) and ps.agrees(self.o, ps.entries[b.id])]
        if not matches:
            return None
        too = self.conventions_alone()
        said = self.voice.distinct(matches)
        if len(matches) == 1 and matches[0].convention:
            summary = f"differs only by a convention: {matches[0].convention}"
        elif len(said) == 1:
            summary = self.voice.words(said[0])
        else:
            summary = (f"one of {len(said)} mistakes that give identical results on every probe: "
                       + " or ".join(self.voice.words(b) for b in said)
                       + "; telling them apart needs " + " vs ".join(b.reveals for b in said))
        mutated = sorted({m for p in ps.probes for m in self.o[p.name].mutated})
        if mutated:
            summary += f" ({', '.join(mutated)})"
        if too:
            summary += f"; the same gradients as a correct submission if {too[0].words}"
        conv = len(matches) == 1 and bool(matches[0].convention) or bool(too)
        wrong = self.wrong_and_right()[0]
        return dict(matches=matches, summary=summary, convention_only=conv, explained=True,
                    named=[b.id for b in matches],
                    attribution={self.terms.array(k): [b.id for b in matches] for k in wrong})

    def conventions_alone(self) -> list[Convention]:
        """The assignment's conventions under which the candidate is right."""
        ps = self.ps
        return [c for c in self.terms.conventions
                if all(ps.agree(p, self.o[p.name], ps.outcome((), c, p)) for p in ps.probes)]

    def whole_scalar(self) -> Optional[dict]:
        """g ≈ c·g* for every array with one c: a convention (never c = 0, which is 'zeros')."""
        if len(self.produced) != len(self.ps.probes) or any(self.o[p.name].mutated for p in self.ps.probes):
            return None
        per_key = {}
        for k in self.keys:
            pairs = [([self.o[p.name].grads.get(k, np.zeros(0))], [self.ps.expected[p.name].grads[k]], p)
                     for p in self.ps.probes if k in self.ps.expected[p.name].grads]
            fit = _fit(pairs, self.ps)
            if fit is None or fit[0] == "correct" or fit[1] == 0:
                return None
            per_key[k] = fit[0]
        if len(set(per_key.values())) != 1:
            return None
        label = next(iter(per_key.values()))
        conventions = {self.terms.array(k): v for k, v in per_key.items()}
        return dict(conventions=conventions, summary=f"differs only by a convention: {label}", convention_only=True,
                    explained=True, named=[label], attribution={a: [label] for a in conventions})

    # -- layer by layer ----------------------------------------------------------------------------------

    def group_matches(self, group: Group, base: Callable[[Probe], Outcome]) -> bool:
        for p in self.produced:
            keys = self.group_keys(group, p)
            if not keys:
                continue
            b, got = base(p), self.o[p.name].grads
            if b.error is not None or b.grads is None:
                return False
            if any(k not in got or k not in b.grads or not self.ps.same(p, got[k], b.grads[k]) for k in keys):
                return False
        return True

    def transform(self, group: Group, plan: Sequence[Placement], world: World) -> Optional[str]:
        """The simple transform of ``plan``'s arrays in ``group`` that gives the candidate's, in words."""
        ps = self.ps
        rows = []  # (probe, candidate arrays, base arrays) wherever the group exists
        for p in self.produced:
            keys = self.group_keys(group, p)
            if not keys:
                continue
            b = ps.outcome(plan, world, p)
            got = self.o[p.name].grads
            if b.grads is None or any(k not in got for k in keys):
                return None
            rows.append((p, keys, [got[k] for k in keys], [b.grads[k] for k in keys]))
        if not rows or any(is_nonreal(g) for _, _, c, _ in rows for g in c):
            return None
        if all(not np.any(as_real(g)) for _, _, c, _ in rows for g in c):
            return "all zeros (not computed, or an exception swallowed?)"
        shapes = [(np.shape(g), np.shape(b)) for _, _, c, bs in rows for g, b in zip(c, bs)]
        mismatch = any(s != t for s, t in shapes)
        pairs = [(p, g, b) for p, _, c, bs in rows for g, b in zip(c, bs)]
        if (mismatch or group[1] == "W") and all(ps.same(p, np.transpose(g), b) for p, g, b in pairs):
            return "transposed"
        square = [np.ndim(b) == 2 and np.shape(b)[0] == np.shape(b)[1] for _, _, b in pairs]
        if group[1] == "W" and not mismatch and any(square) and not all(square) and all(
                ps.same(p, np.transpose(g) if sq else g, b) for (p, g, b), sq in zip(pairs, square)):
            return SQUARE_ONLY
        if mismatch:
            if all(np.size(g) == np.size(b) and ps.same(p, np.reshape(as_real(g), np.shape(b)), b) for p, g, b in pairs):
                return RESHAPED + _shape_words(*next((s, t) for s, t in shapes if s != t))
            return None
        first = [ps.outcome(plan, world, p, first=True) for p, *_ in rows]
        if all(f.grads is not None and all(ps.same(p, g, f.grads[k]) for k, g in zip(keys, c))
               for f, (p, keys, c, _) in zip(first, rows)):
            return "from the first example only (not summed over the batch)"
        reg = self.regularisation(group, rows)
        if reg:
            return reg
        fit = _fit([(c, bs, p) for p, _, c, bs in rows], ps, _ARRAY_SCALARS)
        if fit and fit[0] != "correct" and fit[1] != 0:
            return fit[0] if fit[0] in dict(_ARRAY_SCALARS) else f"{fit[1]:.3g}× the right values"
        return None

    def regularisation(self, group: Group, rows: list) -> Optional[str]:
        """Right whenever the penalty is 0, wrong otherwise: the regularisation term, and how."""
        ps, reg = self.ps, self.terms.regulariser
        free = [r for r in rows if r[0].case.spec.l2 == 0]
        paid = [r for r in rows if r[0].case.spec.l2 > 0]
        if not paid or any(not all(ps.same(p, g, b) for g, b in zip(c, bs)) for p, _, c, bs in free):
            return None
        if all(all(ps.same(p, g, b) for g, b in zip(c, bs)) for p, _, c, bs in paid):
            return None
        # the candidate's own penalty gradient, as a multiple β of λθ (the right one is λW, and none for b)
        weights = group[1] == "W"
        penalty = [[p.case.spec.l2 * p.case.params[k] for k in keys] for p, keys, _, _ in paid]
        pairs = [([as_real(g) - as_real(b) + (r if weights else 0.0) for g, b, r in zip(c, bs, pen)], pen, p)
                 for (p, _, c, bs), pen in zip(paid, penalty)]
        beta = _fit(pairs, ps, [("0", lambda n: 0.0), ("1", lambda n: 1.0), ("½", lambda n: 0.5), ("2", lambda n: 2.0),
                                ("1/N", lambda n: 1.0 / n), ("N", lambda n: float(n))])
        how = {("0", True): "no penalty gradient", ("½", True): "half the penalty gradient (0.5·{r}?)",
               ("2", True): "twice the penalty gradient", ("1/N", True): "the penalty gradient divided by N again",
               ("N", True): "the penalty gradient N× too large", ("1", False): "the biases are regularised too",
               ("½", False): "the biases are regularised too, with 0.5·{r}"}
        detail = how.get((beta[0], weights)) if beta else None
        where = "" if not free else f"right when {reg}=0, wrong when {reg}>0: "
        return f"{where}check the regularisation term" + (f" ({detail.format(r=reg)})" if detail else "")

    def role_step(self, role: str, fixed: tuple[Placement, ...], world: World) -> list[_Explanation]:
        """The cheapest ways to explain ``role``'s arrays on top of ``fixed``: placements, then transforms."""
        groups = [(role, "W"), (role, "b")]
        if not any(self.group_keys(g, p) for g in groups for p in self.produced):
            return [_Explanation(world, fixed, {}, [])]
        ps = self.ps

        def base(plan):
            return lambda p: ps.outcome(plan, world, p)

        def score(extra: tuple[Placement, ...], transforms: bool) -> Optional[_Explanation]:
            plan = fixed + extra
            if conflict(plan):
                return None
            present = [g for g in groups if any(self.group_keys(g, p) for p in self.produced)]
            unmatched = [g for g in present if not self.group_matches(g, base(plan))]
            if unmatched and (not transforms or (extra and len(unmatched) == len(present))):
                return None  # an entry that explains none of this role's arrays is no better than none
            found = {g: w for g in unmatched if (w := self.transform(g, plan, world)) is not None}
            return _Explanation(world, plan, found, [g for g in unmatched if g not in found])

        here = [pl for pl in ps.placements() if role in pl[1]]
        options = [e for e in [score((), True)] if e]
        useful = []
        for pl in here:
            if conflict(fixed + (pl,)) or all(self.same_outcome(ps.outcome(fixed + (pl,), world, p), ps.outcome(fixed, world, p), p, groups)
                                              for p in self.produced):
                continue  # acts on nothing this role's arrays show
            useful.append(pl)
            e = score((pl,), True)
            if e is not None:
                options.append(e)
        best = min(e.cost for e in options)
        if best[0] > 1 or best[1]:  # two entries on the same layers, for a full match only
            for i, a in enumerate(useful):
                for b in useful[i + 1:]:
                    if a[0].id == b[0].id:
                        continue
                    e = score((a, b), False)
                    if e is not None:
                        options.append(e)
        return sorted(options, key=lambda e: (e.cost, self.preference(e)))

    def same_outcome(self, a: Outcome, b: Outcome, p: Probe, groups: Sequence[Group]) -> bool:
        if (a.grads is None) != (b.grads is None):
            return False
        if a.grads is None:
            return True
        keys = [k for g in groups for k in self.group_keys(g, p)]
        return all(k in a.grads and k in b.grads and self.ps.same(p, a.grads[k], b.grads[k]) for k in keys)

    def layered(self) -> dict:
        candidates: list[_Explanation] = []
        for world in (None, *self.terms.conventions):
            # a dearer explanation of the output layer may make the hidden layers cheaper: keep a few
            for top in self.role_step("output", (), world)[:4]:
                lows = self.role_step("hidden", top.plan, world)
                for low in lows[:1] + [e for e in lows[1:] if e.cost == lows[0].cost]:
                    candidates.append(_Explanation(world, low.plan, {**top.transforms, **low.transforms},
                                                   top.unexplained + low.unexplained))
        candidates.sort(key=lambda e: (e.cost, self.preference(e)))
        best = candidates[0]
        ties = [e for e in candidates[1:] if e.cost == best.cost and not e.unexplained
                and self.families(e) != self.families(best)]
        ties = [t for t in ties if set(self.said(t)) != set(self.said(best))]  # the same fix in other words is no news
        return self.describe(best, list({self.names_of(e): e for e in ties}.values()))

    @staticmethod
    def families(e: _Explanation) -> tuple[str, ...]:
        """What an explanation names, up to one mistake's per-layer forms (sigma-of-a where only its
        output-layer half shows is sigma-of-a-output): ties that differ only so are no news."""
        return (e.world.id if e.world else "", *sorted({b.family or b.id for b, _ in e.plan}), *sorted(set(e.transforms.values())))

    @staticmethod
    def names_of(e: _Explanation) -> tuple[str, ...]:
        """What an explanation names (the instructor's words): its convention, its entries (merged over layers),
        its transforms."""
        entries = [f"'{b.id}'" + ("" if r == b.roles else f" ({'/'.join(sorted(r))})") for b, r in _merged(e.plan)]
        return (e.world.id if e.world else "", *sorted(entries), *sorted(set(e.transforms.values())))

    def said(self, e: _Explanation) -> dict[str, str]:
        """What an explanation tells the student, each part keyed by the fix it asks for (merged over layers)."""
        out = {e.world.id: f"computed as if {e.world.words}"} if e.world else {}
        for b, r in _merged(e.plan):
            only = "" if r == b.roles else f", in {self.where(r)} only"
            out[f"{self.voice.fix(b)} {sorted(r)}"] = self.voice.words(b) + only
        return {**out, **{w: w for w in e.transforms.values()}}

    @staticmethod
    def preference(e: _Explanation) -> tuple:
        """Among equal costs: fewer placements (none masked by another), entries on their own layers
        before restricted ones, then catalog order."""
        order = {b.id: i for i, b in enumerate(BUGS)}
        return (len(e.plan), sum(r != b.roles for b, r in e.plan), sorted(order[b.id] for b, _ in e.plan))

    # -- words for an explanation ------------------------------------------------------------------------

    def describe(self, e: _Explanation, ties: Sequence[_Explanation] = ()) -> dict:
        items: list[tuple[str, str, list[str]]] = []  # (label, words, arrays it explains)
        matches = []
        wrong = self.wrong_and_right()[0]
        if e.world is not None:
            items.append((e.world.id, f"correct if {e.world.words}" if len(e.plan) + len(e.transforms) == 0
                          else f"computed as if {e.world.words}", wrong))
        for b, r in _merged(e.plan):
            matches.append(b)
            only = "" if r == b.roles else f", in {self.where(r)} only"
            items.append((b.id + (f" ({'/'.join(sorted(r))})" if only else ""),
                          f"{self.voice.words(b)}{only}", self.touched(e, b, wrong)))
        for words in dict.fromkeys(e.transforms.values()):
            groups = [g for g, w in e.transforms.items() if w == words]
            keys = [k for k in self.keys if any(k in self.group_keys(g, p) for g in groups for p in self.ps.probes)]
            who = self.groups_words(sorted(groups, key=lambda g: (g[0] == "output", g[1] == "b")))
            items.append((f"{who}: {words}", f"{who}: {words}", keys))
        notes = self.leftovers(e)
        attribution = {self.terms.array(k): [label for label, _, keys in items if k in keys] for k in wrong}
        explained = not e.unexplained and not notes
        if not items:
            summary = notes or self.unexplained_words(e)
        else:
            body = items[0][1] if len(items) == 1 else f"{len(items)} mistakes: " + "; ".join(
                f"({i}) {w}" for i, (_, w, _) in enumerate(items, 1))
            if e.unexplained:
                body += f"; still wrong, unexplained: {', '.join(self.group_words(g) for g in e.unexplained)}"
            summary = body + (f"; {notes}" if notes else "")
        for t in ties[:2]:
            ours, theirs = self.said(e), self.said(t)
            instead = [w for k, w in theirs.items() if k not in ours], [w for k, w in ours.items() if k not in theirs]
            summary += f"; {' + '.join(instead[0])} instead of {' + '.join(instead[1])} gives the same numbers here"
        # a convention of the assignment, or right values in another shape (the bias shape), and nothing else
        conv_only = explained and not e.plan and (e.world is not None or bool(e.transforms)) and all(
            w.startswith(RESHAPED) for w in e.transforms.values())
        return dict(matches=matches, summary=summary, convention_only=conv_only, explained=explained,
                    named=[label for label, _, _ in items], attribution=attribution,
                    alternatives=[" + ".join(n for n in self.names_of(t) if n) for t in ties[:2]])

    def touched(self, e: _Explanation, bug: Bug, wrong: list[str]) -> list[str]:
        """The wrong arrays ``bug`` changes in plan ``e`` (compared with the plan without it)."""
        without = tuple(pl for pl in e.plan if pl[0].id != bug.id and (pl[0].family or pl[0].id) != (bug.family or bug.id))
        out = []
        for k in wrong:
            for p in self.produced:
                a, b = self.ps.outcome(e.plan, e.world, p), self.ps.outcome(without, e.world, p)
                if a.grads is None or b.grads is None or (k in a.grads and k in b.grads and not self.ps.same(p, a.grads[k], b.grads[k])):
                    out.append(k)
                    break
        return out

    def leftovers(self, e: _Explanation) -> str:
        """Errors and changed inputs the explanation does not account for."""
        notes = []
        for p in self.ps.probes:
            got, want = self.o[p.name], self.ps.outcome(e.plan, e.world, p)
            if got.error and not want.error:
                notes.append(f"failed on probe '{p.name}': {got.error}")
                break
        mutated = sorted({m for p in self.ps.probes for m in self.o[p.name].mutated})
        if mutated and not any(self.ps.outcome(e.plan, e.world, p).mutated for p in self.ps.probes):
            notes.append(f"changes its inputs in place ({', '.join(mutated)})")
        return "; ".join(notes)

    def unexplained_words(self, e: _Explanation) -> str:
        """Nothing names it: how close it is, what is not finite, and which arrays are right."""
        wrong, right = self.wrong_and_right()
        ps = self.ps
        bad = [k for k in self.keys if any(k in self.o[p.name].grads and not np.all(np.isfinite(as_real(self.o[p.name].grads[k])))
                                           for p in self.produced)]
        failed = [p for p in ps.probes if self.o[p.name].error]
        parts = []
        if failed:
            parts.append(f"failed on {len(failed)} of {len(ps.probes)} probes: {self.o[failed[0].name].error}")
        if bad:
            parts.append(f"NaN or Inf in {self.arrays(bad)} (an overflow, or a 0/0?)")
        if wrong:
            parts.append(f"wrong: {self.arrays(wrong)}, and no catalog entry, convention or simple transform explains it")
        if right:
            parts.append(f"right: {self.arrays(right)}")
        return "; ".join(parts) or "wrong, and nothing explains it"


# --- evidence the student can see -------------------------------------------------------------------------

#: Relative residual ‖g − c·g*‖ / ‖g*‖ under which an array is "c times the right one" (or its transpose): far
#: above float64 rounding on arrays this size (~1e-15), far below any mistake's effect (the catalog's are ≥ 1e-2).
PATTERN_RTOL = 1e-6


def array_pattern(got: np.ndarray, want: np.ndarray, batch: int) -> str:
    """The pattern of one wrong array in one phrase (a sign, a factor, 1/N, a transpose, zeros), or ""."""
    g, w = as_real(got), np.asarray(want, dtype=np.float64)
    norm = float(np.linalg.norm(w))
    if not (np.all(np.isfinite(g)) and norm > 0):
        return ""
    if g.ndim == 2 and g.T.shape == w.shape and g.shape != w.shape or g.ndim == 2 and g.shape == w.shape == w.T.shape:
        if np.linalg.norm(g.T - w) <= PATTERN_RTOL * norm:
            return "the transpose of the right values"
    if g.shape != w.shape:
        return ""
    if not np.any(g):
        return "all zeros"
    c = float(np.vdot(g, w)) / norm ** 2
    if np.linalg.norm(g - c * w) > PATTERN_RTOL * norm:
        return ""
    named = next((words for f, _, words in SCALARS if abs(c - f(batch)) <= PATTERN_RTOL * max(1.0, abs(f(batch)))), "")
    return "" if named == "correct" else named or f"{c:.3g}× the right values"


def _apart(got: float, want: float) -> tuple[str, str]:
    """Two numbers with the fewest significant digits (4 to 12) that print them differently."""
    for digits in range(4, 13):
        pair = f"{got:.{digits}g}", f"{want:.{digits}g}"
        if pair[0] != pair[1]:
            return pair
    return pair


def evidence(bad: Sequence, got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray], terms: Terms,
             batch: int, limit: int = 2) -> str:
    """The worst element of a few wrong arrays (``bad``: ``oracles.compare``'s failures) as got vs expected, in
    the student's names, with each array's pattern where one phrase says it; no "; " (a problem's separator)."""
    shown = sorted(bad, key=lambda a: -a.worst_ratio)[:limit]
    phrases = [array_pattern(got[a.name], want[a.name], batch) if a.name in got and a.name in want else "" for a in shown]
    values = [f"{terms.array(a.name)} holds {' where '.join(_apart(a.candidate_at_worst, a.oracle_at_worst))} is expected"
              for a in shown]
    if len(set(phrases)) == 1:  # one pattern for every array shown: said once
        return " and ".join(values) + (f": {phrases[0]}" + (" in both" if len(shown) > 1 else "") if phrases[0] else "")
    return " and ".join(v + (f": {p}" if p else "") for v, p in zip(values, phrases))


def diagnose(outcomes: Mapping[str, Outcome], ps: ProbeSet, terms: Optional[Terms] = None,
             precision: str = "float64") -> Diagnosis:
    """What explains ``outcomes`` (one per probe name), in the order of the module docstring, in ``terms``;
    ``precision``: the dtype the candidate returned its arrays in (float32 is said, not guessed)."""
    with np.errstate(all="ignore"):  # a submission's numbers may be anything: inf − inf is a finding, not a warning
        diagnoser = _Diagnoser(outcomes, ps, terms or Terms(), precision)
        found = diagnoser.run()
    found.voice = asdict(diagnoser.voice)
    return found


def diagnose_function(fn: Callable, ps: ProbeSet, terms: Optional[Terms] = None) -> Diagnosis:
    """Run ``fn(spec, params, x, y, lr)`` on every probe and diagnose it."""
    return diagnose({p.name: run_candidate(fn, p.case, p.lr) for p in ps.probes}, ps, terms)


def explain_probe(outcome: Outcome, probe: Probe, expected: Params, rtol: float, scale: float,
                  terms: Optional[Terms] = None, prefer: Sequence[Bug] = ()) -> str:
    """What is wrong on one extra probe (the grader's large-input probe): the catalog entry that
    reproduces it there (``prefer``: those the diagnosis already named, first), or what the numbers are;
    "" when it is right.  ``rtol``, ``scale``: the probe's tolerances, as ``ProbeSet`` derives them."""
    terms = terms or Terms()
    c = probe.case
    want = Outcome(expected, None, [])
    if outcomes_agree(outcome, want, rtol, scale):
        return ""
    if outcome.grads is not None:
        for b in dict.fromkeys((*prefer, *BUGS)):
            theirs = run_candidate(b.gradients, c, probe.lr)
            if not outcomes_agree(theirs, want, rtol, scale) and outcomes_agree(outcome, theirs, rtol, scale):
                return Voice.of([c.spec]).words(b)
        bad = [k for k, g in outcome.grads.items() if not np.all(np.isfinite(as_real(g)))]
        if bad:
            return f"NaN or Inf in {', '.join(terms.array(k) for k in bad)} (an overflow: exp of a large score unshifted? or a 0/0?)"
    return ""
