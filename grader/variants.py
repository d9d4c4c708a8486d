"""Accepted conventions, prepared once per grader: for each combination, its probes, expected answers and calls.

An assignment's own conventions come first; every combination of the alternatives it accepts
([accept] in its TOML) follows.  Each combination has its own reference network per probe (the
penalty or the loss may differ), its own expected answers (confirmed by an independent oracle),
and its own arguments; combinations whose arguments are identical share one call in the sandbox,
so accepting a read-only alternative (a bias gradient shaped (1, H)) costs no extra run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from bpcheck import oracles
from bpcheck.oracles.cases import Case
from bpcheck.reference import forward, train

from .assignment import Assignment, ProbeConfig
from .contracts import Encoder, Variant
from .probes import Probe, ProbeSet, confirmed_gradients, global_floor

LARGE = "large-inputs"


@dataclass
class Expected:
    loss: float
    forward: np.ndarray
    grads: dict[str, np.ndarray]
    rtol: float
    scale: float


@dataclass
class VariantState:
    """One combination of conventions: probes, expected answers (built on first use) and the call for each probe."""

    variant: Variant
    configs: list[ProbeConfig]
    large: bool
    forward_symbol: Optional[str]
    updates: bool  # gradients are read off a training step
    calls: dict[str, str] = field(default_factory=dict)  # probe name -> call name in the sandbox
    encoders: dict[str, Encoder] = field(default_factory=dict)
    _expected: dict[str, Expected] = field(default_factory=dict)
    _probe_sets: dict[float, ProbeSet] = field(default_factory=dict)

    @property
    def conventions(self):
        return self.variant.conventions

    def lr(self, fitted: Optional[float] = None) -> Optional[float]:
        """The step size in the reference's objective (the learning rate times s); None unless updates are read.

        ``fitted``: the submission's own learning rate, for conventions that accept any.
        """
        if not self.updates:
            return None
        c = self.conventions
        rate = (fitted if fitted is not None else 1.0) if c.learning_rate == "any" else c.learning_rate
        return float(rate) * c.scale

    def probes(self, lr: Optional[float]) -> list[Probe]:
        """The gradient probes (not the large-input one) under these conventions, read off steps of size ``lr``."""
        return [Probe(pc.probe.name, pc.case(self.variant), lr, pc.probe.purpose) for pc in self.configs]

    def large_probe(self) -> Optional[Probe]:
        if not self.large:
            return None
        c = self.configs[0].case(self.variant)
        return Probe(LARGE, Case(c.spec, c.params, c.x * 1e4, c.y), None, "inputs ×1e4: pre-activations up to ~1e4")

    def expected(self, name: str) -> Expected:
        if name not in self._expected:
            p = self.large_probe() if name == LARGE else next(q for q in self.probes(None) if q.name == name)
            c = p.case
            C, cache = forward(c.spec, c.params, c.x, c.y)
            out = cache.z[-1] if self.forward_symbol == "scores" else cache.a[-1]
            self._expected[name] = Expected(C, out, confirmed_gradients(p), oracles.rtol_for(c.spec, c.batch),
                                            global_floor(c))
        return self._expected[name]

    def probe_set(self, lr: Optional[float]) -> ProbeSet:
        """Expected gradients (those of ``expected``, confirmed once for every lr) and every catalog entry's
        behaviour, per step size ``lr`` (only the catalog entries read it)."""
        key = -1.0 if lr is None else float(lr)
        if key not in self._probe_sets:
            probes = self.probes(lr)
            expected = {p.name: self.expected(p.name).grads for p in probes}
            self._probe_sets[key] = ProbeSet.build(probes, expected=expected)
        return self._probe_sets[key]

    def trajectory(self, name: str, lr: float, steps: int) -> dict[str, np.ndarray]:
        c = next(pc for pc in self.configs if pc.probe.name == name).case(self.variant)
        return train(c.spec, c.params, c.x, c.y, lr=lr, steps=steps)


def build(a: Assignment) -> tuple[list[VariantState], list[tuple[str, Encoder, list[list[dict]]]]]:
    """Every accepted combination's state, and the distinct calls to make (name, arguments, each form's operations)."""
    contract = a.contract
    states: list[VariantState] = []
    calls: list[tuple[str, Encoder, list[list[dict]]]] = []
    seen: dict[str, str] = {}
    for v in contract.variants():
        state = VariantState(v, a.probes, a.large_inputs, contract.forward_symbol, contract.reads_updates)
        items = [(pc.probe.name, pc.case(v), pc.reg) for pc in a.probes]
        if a.large_inputs:
            lp = state.large_probe()
            items.append((LARGE, lp.case, a.probes[0].reg))
        for name, case, reg in items:
            enc = Encoder(v.conventions, case, reg)
            ops = [contract.ops(f, enc, a.steps) for f in contract.forms]
            h = hashlib.sha256(json.dumps(ops, sort_keys=True).encode())
            for k in sorted(enc.arrays):
                arr = np.ascontiguousarray(enc.arrays[k])
                h.update(k.encode() + str(arr.dtype).encode() + str(arr.shape).encode() + arr.tobytes())
            sig = h.hexdigest()
            if sig not in seen:
                seen[sig] = name if not any(c == name for c, _, _ in calls) else f"{name}@v{len(states)}"
                calls.append((seen[sig], enc, ops))
            state.calls[name] = seen[sig]
            state.encoders[name] = enc
        states.append(state)
    return states, calls
