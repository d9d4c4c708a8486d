"""The first wrong line: the student's own arrays, as their code computed them, against the reference's.

The runner traces the smallest probe's call (``runner._Tracer``): each local float array a line of the
submission's own files created or changed, with (file, line, name).  Here each is matched to the
intermediates of the network the probe describes, in the reference's terms (z, a and δ of each layer, each
gradient), up to the layouts and batch conventions assignments use (a transpose, a (n,) for an (n, 1), a
factor N or 1/N), once for the reference and once for the diagnosed mistake's variant.  The first line whose
array is the mistake's value of an intermediate the mistake changes, and none of the reference's, is the
first wrong line.
"""

from __future__ import annotations

import io
import tokenize

from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import numpy as np

from bpcheck.oracles.cases import Case
from bpcheck.reference import forward
from bpcheck.reference.bugs import Placement, combine

from .probes import Terms

#: Relative residual under which a student's array is an intermediate (times 1, N or 1/N): far above float64
#: rounding on arrays this size (~1e-15), far below what any catalog mistake changes (≥ 1e-2).
SAME_RTOL = 1e-6


# --- the intermediates ------------------------------------------------------------------------------------


def intermediates(plan: Sequence[Placement], case: Case) -> dict[str, np.ndarray]:
    """z{l}, a{l}, d{l} (δ) of every layer and every gradient of ``plan``'s variant (the reference for ())."""
    deltas: dict[str, np.ndarray] = {}

    class Recording(combine(tuple(plan))):  # type: ignore[misc, valid-type]
        def bp1(self):
            deltas[f"d{self.L}"] = out = super().bp1()
            return out

        def bp2(self, l, delta_next):
            deltas[f"d{l}"] = out = super().bp2(l, delta_next)
            return out

    _, cache = forward(case.spec, case.params, case.x, case.y)
    grads = Recording(case.spec, case.params, cache).run()
    found = {f"{k}{l}": v for l in range(1, case.spec.depth + 1) for k, v in (("z", cache.z[l]), ("a", cache.a[l]))}
    return {**found, **deltas, **grads}


def _same(v: np.ndarray, t: np.ndarray, batch: int) -> bool:
    """``v`` is ``t`` in some layout, times 1, N or 1/N (where an assignment puts its batch mean)."""
    t = np.asarray(t, dtype=np.float64)
    norm = float(np.linalg.norm(t))
    if norm == 0 or v.size != t.size or not np.all(np.isfinite(v)):
        return False
    for form in (t, t.T):
        if np.squeeze(v).shape != np.squeeze(form).shape:
            continue
        flat = np.squeeze(v).astype(np.float64), np.squeeze(form)
        if any(np.linalg.norm(flat[0] - c * flat[1]) <= SAME_RTOL * abs(c) * norm for c in (1.0, batch, 1.0 / batch)):
            return True
    return False


# --- the first wrong line ---------------------------------------------------------------------------------


@dataclass
class Record:
    file: str
    line: int
    name: str
    value: np.ndarray


def _meaning(key: str, terms: Terms) -> str:
    kind, layer = key[0], key[1:]
    return {"z": f"layer {layer}'s pre-activation z", "a": f"layer {layer}'s activation a",
            "d": f"layer {layer}'s delta δ = ∂loss/∂z"}.get(kind, f"the gradient {terms.array(key)}")


def first_wrong_line(records: Sequence[Record], plan: Sequence[Placement], case: Case, sources: Mapping[str, bytes],
                     terms: Terms, words: Mapping[Placement, str]) -> Optional[str]:
    """Where the student's code first computes the mistake's value, in one sentence; what was compared when no
    line does; None without a trace or a mistake."""
    if not records or not plan:
        return None
    right, wrong = intermediates((), case), intermediates(plan, case)
    n = case.batch
    changed = [k for k in wrong if k in right and not _same(wrong[k], right[k], n)]
    for r in records:
        if any(_same(r.value, t, n) for t in right.values()):
            continue
        key = next((k for k in changed if _same(r.value, wrong[k], n)), None)
        if key is None:
            continue
        why = "; ".join(w for pl, w in words.items() if not _same(intermediates((pl,), case)[key], right[key], n))
        code = _source_line(sources, r.file, r.line)
        return (f"first wrong value: {r.file} line {r.line}" + (f", `{code}`" if code else "")
                + f": `{r.name}` holds {_meaning(key, terms)} as the mistake computes it" + (f" ({why})" if why else ""))
    lines = len({(r.file, r.line) for r in records})
    return (f"no line's value matched the mistake's: compared {len(records)} arrays from {lines} lines of the smallest "
            "probe's run with z, a and δ of each layer and each gradient")


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
