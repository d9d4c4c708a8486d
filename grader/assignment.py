"""Assignments: a TOML file per assignment, turned into probe cases with the contract's conventions.

Bundled assignments (``grader/assignments/*.toml``) are selected by name; any other path works too.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from oracles.strategies import Case
from reference import seeds

from .contracts import CONTRACTS, Contract, spec_for
from .diagnose import Probe, make_probe
from .sandbox import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (Ubuntu 22.04, Gradescope's default image): the same parser, from PyPI
    import tomli as tomllib

BUNDLED = Path(__file__).with_name("assignments")


@dataclass(frozen=True)
class ProbeConfig:
    probe: Probe
    hidden: bool


@dataclass
class Assignment:
    name: str
    contract: Contract
    title: str
    module: str
    limits: Limits
    points: dict[str, float]
    penalise_conventions: bool
    large_inputs: bool
    steps: int
    probes: list[ProbeConfig]
    fingerprint: str
    hidden_checks: set[str] = field(default_factory=set)


def bundled() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.toml"))


def _fail(where: str, message: str) -> ValueError:
    return ValueError(f"assignment {where}: {message}")


def _probe(contract: str, raw: dict[str, Any], where: str, lr: Optional[float]) -> Probe:
    name = raw.get("name") or where
    seed = int(raw.get("seed", 0))
    gain = float(raw.get("gain", 1.0))
    if contract == "cs231n-two-layer" and raw.get("toy"):
        spec, params, X, Y = seeds.cs231n_toy(float(raw.get("reg", 0.05)))
        return Probe(name, Case(spec, params, X, Y), lr, "the assignment's toy model and data")
    if contract == "coursera-ex4" and raw.get("debug"):
        spec, params, X, Y = seeds.ex4_debug(float(raw.get("lambda_", 0.0)))
        return Probe(name, Case(spec, params, X, Y), lr, "checkNNGradients' debug network")
    if contract == "blog-class":
        n_in = int(raw.get("n_in", 3))
        sizes, batch = (n_in, 4, 1), int(raw.get("batch", 4))
        if raw.get("xor"):
            x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
            y = np.array([[0], [1], [1], [0]], dtype=np.float64)
            rng = np.random.default_rng(seed)
            params = {"W1": rng.random((3, 4)), "W2": rng.random((4, 1))}
            return Probe(name, Case(spec_for(contract, (3, 4, 1)), params, x, y), lr, "seed 002's XOR data")
    else:
        if "sizes" not in raw:
            raise _fail(where, "a probe needs sizes = [n_0, ..., n_L]")
        sizes = tuple(int(s) for s in raw["sizes"])
        batch = 1 if contract == "nielsen" else int(raw.get("batch", 1))
    reg = float(raw.get("reg", raw.get("lambda_", 0.0)))
    spec = spec_for(contract, sizes, reg=reg, batch=batch)
    gains = {l: gain for l in range(1, spec.depth + 1)}
    probe = make_probe(name, f"{spec.describe()}, batch {batch}", spec, batch, seed, lr, gains)
    if contract in ("cs231n-two-layer", "coursera-ex4"):  # class labels, sent as integers, held one-hot
        labels = np.random.default_rng(seed + 1).integers(0, sizes[-1], batch)
        probe = Probe(name, Case(spec, probe.case.params, probe.case.x, np.eye(sizes[-1])[labels]), lr, probe.purpose)
    return probe


def load(name_or_path: str) -> Assignment:
    """An assignment by bundled name (``canonical``, ...) or by path to a TOML file."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = BUNDLED / f"{name_or_path}.toml"
        if not path.exists():
            raise ValueError(f"--assignment: no bundled assignment {name_or_path!r}; bundled: {bundled()} (or give a path to a .toml file)")
    if not path.exists():
        raise ValueError(f"--assignment: file not found: {name_or_path}")
    text = path.read_bytes()
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(str(path), f"not valid TOML: {exc}") from None
    contract_name = raw.get("contract")
    if contract_name not in CONTRACTS:
        raise _fail(str(path), f"contract: expected one of {list(CONTRACTS)}, got {contract_name!r}")
    contract = CONTRACTS[contract_name]
    limits_raw = raw.get("limits", {})
    unknown = set(limits_raw) - set(Limits.__dataclass_fields__)
    if unknown:
        raise _fail(str(path), f"[limits]: unknown keys {sorted(unknown)}; expected {sorted(Limits.__dataclass_fields__)}")
    grading = raw.get("grading", {})
    probes_raw = raw.get("probe", [])
    if not probes_raw:
        raise _fail(str(path), "needs at least one [[probe]]")
    probes = [ProbeConfig(_probe(contract_name, p, f"[[probe]] #{i + 1}", contract.lr), bool(p.get("hidden", False)))
              for i, p in enumerate(probes_raw)]
    names = [p.probe.name for p in probes]
    if len(set(names)) != len(names):
        raise _fail(str(path), f"probe names must be unique, got {names}")
    points = {"gradient": 10.0, "loss": 5.0, "forward": 5.0, "unmutated": 5.0, "large_inputs": 5.0, "steps": 10.0}
    points.update({k: float(v) for k, v in raw.get("points", {}).items()})
    return Assignment(
        name=str(raw.get("name", path.stem)),
        contract=contract,
        title=str(raw.get("title", path.stem)),
        module=str(raw.get("module", "submission")),
        limits=Limits(**limits_raw),
        points=points,
        penalise_conventions=bool(grading.get("penalise_conventions", True)),
        large_inputs=bool(grading.get("large_inputs", contract.large_inputs)),
        steps=int(grading.get("steps", 1)),
        probes=probes,
        fingerprint=hashlib.sha256(text).hexdigest()[:16],
        hidden_checks=set(raw.get("hidden_checks", [])),
    )
