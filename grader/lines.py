"""The first wrong line: the student's own arrays, as their code computed them, against the reference's.

The runner traces each probe's call (``runner._Tracer``): each float array (or numpy float) a line of the
submission's own files created or changed, in a local variable, one level inside a dict or list, or on ``self``,
with (file, line, name); the grader reads the smallest failing visible probe's.  Here each is matched to the
intermediates of the network the probe describes (z, a and δ of each layer, each gradient), in the layout the
contract's conventions give them: examples as rows or columns, each gradient in the contract's own orientation (a
square matrix's transpose is then a mistake, not a layout), an augmented gradient with its bias column.  A
derivative may carry the contract's loss factor s, the sign of a step that adds −∂L/∂W (update contracts), and the
batch factor N or 1/N of the mean taken elsewhere; an array matched without that batch factor is matched more
closely than one matched with it.  This is done once for the reference and once for the diagnosed mistake's
variant (a training step's variant with the probe's step size).  The first line whose array is, more closely than
any of the reference's, the mistake's value of an intermediate the mistake changes is the first wrong line.

Without a catalog mistake the wrong intermediates are unknown, but what the run gave back is not: the first line
holding a wrong returned array, the line giving a bias gradient its wrong shape, the first complex value, the line
first holding the wrong loss, the first inf or NaN at large inputs, the line changing the caller's array in place,
or an exception raised and caught.
"""

from __future__ import annotations

import io
import os
import tokenize

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from bpcheck.reference import forward
from bpcheck.reference.bugs import Placement, combine

from .contracts import Conventions
from .probes import Probe, Terms
from .submission import Submission

#: Relative residual under which a student's array is an intermediate (times a factor below): far above float64
#: rounding on arrays this size (~1e-15), far below what any catalog mistake changes (≥ 1e-2).
SAME_RTOL = 1e-6


# --- the intermediates ------------------------------------------------------------------------------------


def intermediates(plan: Sequence[Placement], probe: Probe) -> dict[str, np.ndarray]:
    """z{l}, a{l}, d{l} (δ) of every layer and every gradient of ``plan``'s variant (the reference for ()), in the
    reference's layout; a training step's variant (stale weights) takes the probe's step size."""
    case = probe.case
    deltas: dict[str, np.ndarray] = {}

    class Recording(combine(tuple(plan))):  # type: ignore[misc, valid-type]
        def bp1(self):
            deltas[f"d{self.L}"] = out = super().bp1()
            return out

        def bp2(self, l, delta_next):
            deltas[f"d{l}"] = out = super().bp2(l, delta_next)
            return out

    _, cache = forward(case.spec, case.params, case.x, case.y)
    grads = Recording(case.spec, case.params, cache, probe.lr).run()
    found = {f"{k}{l}": v for l in range(1, case.spec.depth + 1) for k, v in (("z", cache.z[l]), ("a", cache.a[l]))}
    return {**found, **deltas, **grads}


def student_forms(values: Mapping[str, np.ndarray], conv: Conventions) -> dict[str, list[np.ndarray]]:
    """Each intermediate as the student's layout holds it (the first form is the contract's own): z, a and δ with
    examples as rows or columns (either, where the shape tells them apart), weight gradients in the contract's
    orientation only, and for augmented weights (ex4's Theta) also each layer's gradient with its bias column."""
    out: dict[str, list[np.ndarray]] = {}
    for key, t in values.items():
        if np.iscomplexobj(t):  # a complex gradient is wrong whatever its values: there is no real one to place
            continue
        t = np.asarray(t, dtype=np.float64)
        if key[0] in "zad":
            own = t.T if conv.examples == "columns" else t
            out[key] = [own] if own.ndim == 2 and own.shape[0] == own.shape[1] else [own, own.T]
        elif key[0] == "W":
            out[key] = [conv.to_student(t, None)[0]]
            bias = values.get("b" + key[1:])
            if conv.augmented and bias is not None and t.ndim == 2 and t.shape[1] == np.size(bias):
                out["Wb" + key[1:]] = [conv.to_student(t, np.asarray(bias, dtype=np.float64))[0]]
        else:
            out[key] = [t]
    if conv.parameters == "unrolled" and "W1" in out:  # the gradient as one vector: ex4's grad
        out[UNROLLED] = [_unrolled(values, conv)]
    return out


#: The key of every gradient unrolled into one vector, as a contract with ``parameters = "unrolled"`` returns them.
UNROLLED = "θ"


def _unrolled(values: Mapping[str, np.ndarray], conv: Conventions) -> np.ndarray:
    """Each layer's weight gradient (then bias), in the student's layout, unrolled in the contract's order
    (contracts.Encoder.unroll's layout); empty when the arrays do not fit it (a reading with a shape error)."""
    pieces, l = [], 1
    try:
        while f"W{l}" in values:
            W, b = conv.to_student(np.asarray(values[f"W{l}"], dtype=np.float64), values.get(f"b{l}"))
            pieces += [W.ravel(order=conv.order)] + ([np.asarray(b).ravel(order=conv.order)] if b is not None else [])
            l += 1
    except ValueError:
        return np.zeros(0)
    return np.concatenate(pieces)


def factors(key: str, conv: Conventions, batch: int, updates: bool) -> tuple[tuple[float, ...], ...]:
    """The factors a student's array may carry for ``key``, closest match first: a forward value none; a derivative
    the loss factor s (and −s where the step adds −∂L/∂W), then those times N or 1/N (the batch mean taken elsewhere)."""
    if key[0] in "za":
        return ((1.0,),)
    plain = (conv.scale, -conv.scale) if updates else (conv.scale,)
    return plain, tuple(c * f for c in plain for f in (float(batch), 1.0 / batch))


def _closeness(v: np.ndarray, forms: Sequence[np.ndarray], ranks: Sequence[Sequence[float]]) -> Optional[int]:
    """The first rank of factors under which ``v`` is one of ``forms``; None when no factor makes it one (a form of
    zeros never: zeros of a shape are in every initialisation, and would name any of them)."""
    if np.iscomplexobj(v):
        return None
    got = np.squeeze(v).astype(np.float64)
    if not np.all(np.isfinite(got)):
        return None
    for rank, cs in enumerate(ranks):
        for form in forms:
            t = np.squeeze(form)
            norm = float(np.linalg.norm(t))
            if t.shape == got.shape and norm > 0 and any(
                    np.linalg.norm(got - c * t) <= SAME_RTOL * abs(c) * norm for c in cs):
                return rank
    return None


def _differs(wrong: Sequence[np.ndarray], right: Sequence[np.ndarray]) -> bool:
    w, r = np.squeeze(wrong[0]), np.squeeze(right[0])
    return w.shape != r.shape or float(np.linalg.norm(w - r)) > SAME_RTOL * float(np.linalg.norm(r))


# --- the first wrong line ---------------------------------------------------------------------------------


@dataclass
class Record:
    file: str
    line: int
    name: str
    value: np.ndarray


def first_wrong_line(records: Sequence[Record], plan: Sequence[Placement], probe: Probe, sub: Submission,
                     terms: Terms, words: Mapping[Placement, str], conv: Conventions, updates: bool = False) -> Optional[str]:
    """Where the student's code first computes the mistake's value, in one sentence; what was compared when no
    line does; None without a trace or a mistake.  ``updates``: the contract reads a training step."""
    if not records or not plan:
        return None
    right = student_forms(intermediates((), probe), conv)
    ranks = {k: factors(k, conv, probe.case.batch, updates) for k in right}
    found = _first_match(records, right, student_forms(intermediates(plan, probe), conv), ranks)
    if found:
        return _said(*found, probe, sub, terms, words, conv)
    lines = len({(r.file, r.line) for r in records})
    return (f"no line's value matched the mistake's: compared {len(records)} arrays from {lines} lines of the smallest "
            "probe's run with z, a and δ of each layer and each gradient")


def _first_match(records: Sequence[Record], right: Mapping[str, list[np.ndarray]], wrong: Mapping[str, list[np.ndarray]],
                 ranks: Mapping[str, tuple[tuple[float, ...], ...]]) -> Optional[tuple[Record, str]]:
    """The first record that is, more closely than any right intermediate, a wrong value of an intermediate whose
    wrong and right values differ; with that intermediate's key."""
    changed = [k for k in wrong if k in right and _differs(wrong[k], right[k])]
    for r in records:
        close = [c for k in changed if (c := _closeness(r.value, wrong[k], ranks[k])) is not None]
        if not close:
            continue
        rank = min(close)
        key = next(k for k in changed if _closeness(r.value, wrong[k], ranks[k]) == rank)
        if any((c := _closeness(r.value, right[k], ranks[k])) is not None and c <= rank for k in right):
            continue  # as close to a right value: the mistake does not show here
        return r, key
    return None


# --- without a catalog mistake: what the run returned, raised or changed ----------------------------------


def returned_line(records: Sequence[Record], returned: Mapping[str, np.ndarray], probe: Probe, sub: Submission,
                  terms: Terms, conv: Conventions, updates: bool = False) -> Optional[str]:
    """Where a wrong gradient the function returns (``returned``, read in the reference's layout) first sits in a
    variable, when no catalog mistake gives the wrong intermediates: a transform of the right values (N×, the
    sign), or a mistake the catalog lacks, whose earlier values are unknown; None when no line holds one."""
    right = student_forms(intermediates((), probe), conv)
    # the returned array itself, in the student's objective: no batch factor (it is what came back)
    ranks = {k: factors(k, conv, probe.case.batch, updates)[:1] for k in right}
    found = _first_match(records, right, student_forms(returned, conv), ranks) if records else None
    if not found:
        return None
    r, key = found
    meaning = _meaning(key, terms, conv)
    if key[0] == "b" and probe.case.batch == 1:  # Σ over one example: the bias gradient is that layer's δ
        meaning += f", with one example the same numbers as layer {key[1:]}'s delta δ"
    return (f"first line holding a wrong returned value: {_place(r, sub)}: `{r.name}` holds {meaning} as returned "
            "(what it is computed from may be wrong already)")


def shape_line(records: Sequence[Record], misshapen: Mapping[str, tuple[int, ...]], probe: Probe, sub: Submission,
               terms: Terms, conv: Conventions, updates: bool = False) -> Optional[str]:
    """Where a bias gradient that comes back in the wrong shape (``misshapen``: its key → the shape it came in) first
    holds its right values in that shape; None when no line does."""
    right = student_forms(intermediates((), probe), conv)
    for r in records:
        for key, got in misshapen.items():
            if key in right and r.value.shape == got and \
                    _closeness(r.value, right[key], factors(key, conv, probe.case.batch, updates)[:1]) is not None:
                want = conv.bias_shape(probe.case.spec.sizes[int(key[1:])], gradient=True)
                return (f"first line giving the wrong shape: {_place(r, sub)}: `{r.name}` has the right values, shaped "
                        f"{got} as returned, where {terms.array(key)} is to be {want}")
    return None


def loss_line(records: Sequence[Record], returned: float, sub: Submission) -> Optional[str]:
    """Where a wrong loss is first computed: the first line whose value is the loss the function returns (the
    reference has no intermediate of the loss to match); None when no line's is."""
    if not np.isfinite(returned):
        return None
    for r in records:
        v = np.asarray(r.value, dtype=np.float64)
        if v.size == 1 and np.isfinite(v).all() and abs(float(v.reshape(())) - returned) <= SAME_RTOL * abs(returned):
            return f"first wrong value: {_place(r, sub)}: `{r.name}` holds the loss it returns"
    return None


def first_with(records: Sequence[Record], what: str, sub: Submission, when: str = "") -> Optional[str]:
    """The first line whose array is complex (``what`` "complex") or holds inf or NaN ("non-finite"): where a real
    gradient stops being one, or where large inputs first overflow (``when`` says on which run)."""
    for r in records:
        if np.iscomplexobj(r.value) if what == "complex" else not np.all(np.isfinite(r.value)):
            held = "complex numbers" if what == "complex" else "inf or NaN"
            return f"first {what} value{when}: {_place(r, sub)}: `{r.name}` holds {held}"
    return None


def mutation_line(records: Sequence[Record], inputs: Sequence[tuple[np.ndarray, np.ndarray]], sub: Submission) -> Optional[str]:
    """Where the caller's array is first changed in place: the first array of an input's shape that differs from what
    was passed (``inputs``: (passed, as the call left it)) and, wherever it differs, already holds what the call left
    (a copy rebound to new values, ``X = X / 255``, differs elsewhere too); None when no line shows it."""
    for r in records:
        for sent, after in inputs:
            if r.value.shape != sent.shape or np.iscomplexobj(r.value) or np.iscomplexobj(after):
                continue
            moved = r.value != sent
            if np.any(moved) and after.shape == sent.shape and np.array_equal(r.value[moved], after[moved]):
                return f"first line changing the caller's array: {_place(r, sub)}: `{r.name}` is changed in place"
    return None


def caught_line(record: Record, said: str, sub: Submission) -> str:
    """An exception raised at ``record``'s line and caught (the call returned): what it said, clipped."""
    return f"an exception was raised and caught: {_place(record, sub)}: {said[:160]}"


# --- in words ---------------------------------------------------------------------------------------------


def _place(r: Record, sub: Submission) -> str:
    """The file and line (a notebook's code cell and line in it), and the line's code."""
    code = _source_line(sub.files, r.file, r.line)
    place = sub.where(r.file, r.line) if r.file in sub.notebooks else f"{r.file} line {r.line}"
    return place + (f", `{code}`" if code else "")


def _said(r: Record, key: str, probe: Probe, sub: Submission, terms: Terms, words: Mapping[Placement, str],
          conv: Conventions) -> str:
    """The first wrong line in words (a notebook's by code cell and line in it); of several mistakes, those that
    change ``key`` (one mistake is already named: it is not said twice)."""
    right = student_forms(intermediates((), probe), conv)[key]
    why = "; ".join(w for pl, w in words.items() if len(words) > 1
                    and _differs(student_forms(intermediates((pl,), probe), conv)[key], right))
    return (f"first wrong value: {_place(r, sub)}: `{r.name}` holds {_meaning(key, terms, conv)} as the mistake "
            "computes it" + (f" ({why})" if why else ""))


def _meaning(key: str, terms: Terms, conv: Conventions) -> str:
    if key == UNROLLED:
        return "every gradient unrolled into one vector"
    if key.startswith("Wb"):  # one array, two names: their common stem (Theta1_grad), else both
        layer = key[2:]
        names = terms.array("W" + layer), terms.array("b" + layer)
        stem = os.path.commonprefix(names).split("[")[0] if "[" in os.path.commonprefix(names) else ""
        return (f"layer {layer}'s gradient, its bias {'column' if conv.weights == 'out_in' else 'row'} included "
                f"({stem or ' and '.join(names)})")
    kind, layer = key[0], key[1:]
    return {"z": f"layer {layer}'s pre-activation z", "a": f"layer {layer}'s activation a",
            "d": f"layer {layer}'s delta δ = ∂loss/∂z"}.get(kind, f"the gradient {terms.array(key)}")


def _source_line(sources: Mapping[str, bytes], file: str, line: int) -> str:
    text = sources.get(file)
    if text is None:
        return ""
    rows = text.decode("utf-8", errors="replace").splitlines()
    code = rows[line - 1] if 0 < line <= len(rows) else ""
    try:  # the code without its comment (a "#" inside a string is no comment)
        comment = next((t.start[1] for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type == tokenize.COMMENT), None)
    except (tokenize.TokenError, SyntaxError):  # a line that opens a bracket it closes later
        comment = None
    code = code[:comment].strip() if comment is not None else code.strip()
    return code if len(code) <= 80 else code[:77] + "..."
