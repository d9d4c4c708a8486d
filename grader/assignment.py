"""Assignments: one TOML file each, holding the contract (docs/assignments.md), the probes, points and limits.

Bundled assignments (``grader/assignments/*.toml``) are selected by name, case-insensitively, before
any path; any other TOML file works too.  Every key is checked: an unknown one is an error with the
nearest known key, so a typo can neither hide a check nor drop a limit.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import numpy as np

from bpcheck.oracles.cases import Case
from bpcheck.reference import seeds

from .contracts import ACCEPTABLE, DIAGNOSED, Contract, ContractError, Conventions, Encoder, Form, Variant, parse_form
from . import runner
from .layers import LayerPart, parse_part
from .probes import Probe, make_probe
from .sandbox import Limits

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (Ubuntu 22.04, Gradescope's default image): the same parser, from PyPI
    try:
        import tomli as tomllib
    except ImportError:  # a student's pre-check kit reads its assignment as JSON, with numpy alone
        tomllib = None

BUNDLED = Path(__file__).with_name("assignments")
#: Imported by starters of every year, needed by no graded code: stubbed unless an assignment says otherwise.
DEFAULT_STUBS = ("matplotlib",)
#: Python 2 compatibility imports, served as their Python 3 equivalents (the runner's, which builds them).
SHIMS = tuple(runner.SHIMS)
CHECKS = ("loss", "forward", "unmutated", "large_inputs", "steps")
POINTS = {"gradient": 10.0, "loss": 5.0, "forward": 5.0, "unmutated": 5.0, "large_inputs": 5.0, "steps": 10.0}


class AssignmentError(ValueError):
    """An assignment file that cannot be used, with what was wrong, where, and what was expected."""


def _near(word: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """"; did you mean 'x'?" for the one of ``known`` closest to ``word``, or "" when none is close enough."""
    near = difflib.get_close_matches(word, list(known), n=1, cutoff=cutoff)
    return f"; did you mean {near[0]!r}?" if near else ""


@dataclass(frozen=True)
class ProbeConfig:
    probe: Probe  # a template: its lr is None; VariantState.probes gives each combination's probes their step size
    hidden: bool
    reg: float  # the regularisation strength as the submission receives it

    def case(self, variant: Variant) -> Case:
        """This probe's network under ``variant``'s conventions (same parameters and data)."""
        c = self.probe.case
        return Case(variant.conventions.spec(c.spec.sizes, self.reg, c.batch), c.params, c.x, c.y)


#: A module name after ``import`` or ``from`` anywhere in a file (a .py file or a notebook's JSON).
IMPORTED = re.compile(rb"(?:^|[\s\"';])(?:from|import)\s+([A-Za-z_][A-Za-z0-9_]*)")

#: The largest course file an assignment may ship ([environment] files).
MAX_COURSE_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class Environment:
    stub: tuple[str, ...] = ()
    require: tuple[str, ...] = ()
    default_stubs: bool = True
    files: tuple[tuple[str, bytes], ...] = ()  # course files: (file name, content), placed beside every submission
    allow_autodiff: bool = False  # the sandbox shows torch, jax, ... (sandbox.AUTODIFF) to submissions

    def beside(self, submission_files: Mapping[str, bytes], main: str) -> dict[str, bytes]:
        """The course files to place in the folder of the submission's main file: each one whose module the
        submission does not provide itself (a student's own copy of a helper wins), also under each versioned
        name of it the submission imports (``testCases_v4`` for ``testCases.py``: an earlier year's name)."""
        own = {part.removesuffix(".py") for rel in submission_files for part in rel.split("/")}
        imported = {m.decode() for data in submission_files.values() for m in IMPORTED.findall(data)}
        folder = main.rpartition("/")[0]
        placed = {}
        for name, data in self.files:
            stem = name.removesuffix(".py")
            for module in [stem] + sorted(m for m in imported if re.fullmatch(re.escape(stem) + r"_?v\d+", m)):
                if module not in own:
                    placed[f"{folder}/{module}.py" if folder else f"{module}.py"] = data
        return placed

    def stubs(self) -> dict[str, list[str]]:
        inert = [*(DEFAULT_STUBS if self.default_stubs else ()), *self.stub]
        return {"inert": list(dict.fromkeys(inert)), "shim": list(SHIMS) if self.default_stubs else []}


@dataclass
class Assignment:
    name: str
    title: str
    module: str
    contract: Contract
    limits: Limits
    points: dict[str, float]
    penalise_conventions: bool
    alternative_credit: float
    large_inputs: bool
    steps: int
    probes: list[ProbeConfig]
    fingerprint: str
    environment: Environment = field(default_factory=Environment)
    hidden_checks: set[str] = field(default_factory=set)
    solution: Optional[Path] = None
    precision: str = "any"  # [grading] precision: "float64" when float32 arrays are held to float64's bound
    path: Optional[Path] = None
    #: [[part]] tables: one assignment per graded function, graded in turn into one report (empty: one entry point)
    parts: tuple["Assignment", ...] = ()
    #: a part with layer = ...: a layer the reference network does not have, graded through the check API (layers.py)
    layer: Optional[LayerPart] = None


def bundled() -> list[str]:
    return sorted(p.stem for p in BUNDLED.glob("*.toml"))


def resolve(name_or_path: str) -> Path:
    """A bundled assignment by name (case-insensitive), else a TOML file by path.

    A bare name is looked up among the bundled assignments first, so a folder of submissions that happens to
    share the assignment's name never stands in for it; ``name.toml`` is a file when one exists there.
    """
    by_name = {p.stem.lower(): p for p in BUNDLED.glob("*.toml")}
    key = name_or_path.lower().removesuffix(".toml")
    bare = "/" not in name_or_path and os.sep not in name_or_path
    path = Path(name_or_path)
    if bare and key in by_name and not (name_or_path.lower().endswith(".toml") and path.is_file()):
        return by_name[key]
    if path.is_dir():
        raise AssignmentError(f"--assignment: {name_or_path} is a folder; expected a bundled name ({', '.join(bundled())}) "
                              "or a .toml file")
    if path.is_file():
        return path
    near = difflib.get_close_matches(key, list(by_name), n=1, cutoff=0.5)
    hint = f"; did you mean {by_name[near[0]].stem!r}?" if near else ""
    if not bare or path.suffix:
        raise AssignmentError(f"--assignment: file not found: {name_or_path}{hint}")
    raise AssignmentError(f"--assignment: no bundled assignment {name_or_path!r}{hint or '.'} Bundled: {bundled()} "
                          "(or give a path to a .toml file)")


# --- strict reading -------------------------------------------------------------------------------------------


def _keys(table: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    if not isinstance(table, dict):
        raise AssignmentError(f"{where}: expected a table, got {type(table).__name__} {table!r}")
    for key, value in table.items():
        if key not in allowed:
            shown = f"[{key}]" if isinstance(value, dict) else repr(key)
            raise AssignmentError(f"{where}: unknown key {shown}{_near(key, allowed)} "
                                  f"(expected one of: {', '.join(allowed)})")


def _get(table: Mapping[str, Any], key: str, kind: Any, where: str, default: Any = None) -> Any:
    if key not in table:
        return default
    value = table[key]
    ok = isinstance(value, kind) and not (isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)))
    if not ok:
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise AssignmentError(f"{where}: {key} = {value!r}; expected {names}")
    return value


def _conventions(raw: Mapping[str, Any], where: str) -> Conventions:
    network = raw.get("network", {})
    layout = raw.get("layout", {})
    _keys(network, ("activations", "hidden", "output", "loss", "reduction", "penalty", "penalise_biases", "learning_rate", "depth"),
          f"{where} [network]")
    _keys(layout, ("examples", "targets", "label_base", "weights", "biases", "bias_gradients", "parameters", "order",
                   "weight_key", "bias_key", "d_weight_key", "d_bias_key", "upstream", "examples_per_call"), f"{where} [layout]")
    values: dict[str, Any] = {}
    acts = network.get("activations")
    if isinstance(acts, str):
        values["hidden"] = values["output"] = acts
    elif isinstance(acts, list):
        values["layers"] = tuple(acts)
        values["depth"] = len(acts)
    elif acts is not None:
        raise AssignmentError(f"{where} [network]: activations = {acts!r}; expected a name or a list of names")
    for key in ("hidden", "output"):
        if key in network:
            values[key] = _get(network, key, str, f"{where} [network]")
    for key in ("loss", "reduction", "penalty"):
        if key in network:
            values[key] = network[key]
    values["penalise_biases"] = _get(network, "penalise_biases", bool, f"{where} [network]", False)
    if "learning_rate" in network:
        values["learning_rate"] = _get(network, "learning_rate", (int, float, str), f"{where} [network]")
    if "depth" in network:
        values["depth"] = _get(network, "depth", int, f"{where} [network]")
    values.update({k: v for k, v in layout.items()})
    conv = Conventions(**values)
    conv.check(where)
    return conv


def _accept(raw: Mapping[str, Any], base: Conventions, where: str) -> dict[str, tuple]:
    table = raw.get("accept", {})
    _keys(table, ACCEPTABLE, f"{where} [accept]")
    accept = {}
    for key, values in table.items():
        if not isinstance(values, list) or not values:
            raise AssignmentError(f"{where} [accept]: {key} = {values!r}; expected a list of the other values accepted")
        for v in values:
            if v == getattr(base, key):
                raise AssignmentError(f"{where} [accept]: {key} lists {v!r}, which is already the assignment's own convention")
            try:
                Conventions(**{**base.__dict__, key: v}).check(f"{where} [accept] {key}")
            except ContractError as exc:
                raise AssignmentError(str(exc)) from None
        accept[key] = tuple(values)
    return accept


def _contract(raw: Mapping[str, Any], where: str) -> Contract:
    conv = _conventions(raw, where)
    entries = raw.get("entry")
    if not isinstance(entries, list) or not entries:
        raise AssignmentError(f"{where}: needs at least one [[entry]] (the function or class the submission defines)")
    forms = tuple(parse_form(e, f"{where} [[entry]] #{i + 1}", _keys) for i, e in enumerate(entries))
    feedback = raw.get("feedback", {})
    _keys(feedback, ("names", "weight", "bias", "conventions"), f"{where} [feedback]")
    diagnosed = _get(feedback, "conventions", list, f"{where} [feedback]", [])
    for c in diagnosed:
        if c not in DIAGNOSED:
            raise AssignmentError(f"{where} [feedback]: conventions lists {c!r}{_near(str(c), DIAGNOSED)} "
                                  f"(known: {', '.join(DIAGNOSED)})")
    contract = Contract(forms, conv, _accept(raw, conv, where), dict(feedback.get("names", {})),
                        _get(feedback, "weight", str, f"{where} [feedback]", ""), _get(feedback, "bias", str, f"{where} [feedback]", ""),
                        tuple(diagnosed))
    kinds = [f.kinds() for f in forms]
    if any(k != kinds[0] for k in kinds):
        raise AssignmentError(f"{where}: every [[entry]] form must give the same outputs (loss, forward, gradients or updates); "
                              f"got {[sorted(k) for k in kinds]}")
    if not kinds[0]:
        raise AssignmentError(f"{where}: the entry point returns nothing the grader reads (no loss, output, scores, "
                              "gradients such as d_params or d_W1, nor updated weights), so there is nothing to grade")
    return contract


# --- probes -------------------------------------------------------------------------------------------------------


def _seed002_xor(seed: int) -> tuple[tuple[int, ...], dict, np.ndarray, np.ndarray]:
    x = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
    y = np.array([[0], [1], [1], [0]], dtype=np.float64)
    rng = np.random.default_rng(seed)
    return (3, 4, 1), {"W1": rng.random((3, 4)), "W2": rng.random((4, 1))}, x, y


def _published(example: Callable[[], tuple]) -> Callable[[int], tuple]:
    """A worked example of ``reference.seeds`` as a data set (its parameters are fixed: the seed is unused)."""

    def make(seed: int) -> tuple[tuple[int, ...], dict, np.ndarray, np.ndarray]:
        spec, params, x, y = example()
        return spec.sizes, params, x, y

    return make


#: Data sets of published assignments a probe may use (data = "..."): (sizes, parameters, x, y), and what they are.
DATASETS = {
    "cs231n-toy": (_published(seeds.cs231n_toy), "the assignment's toy model and data"),
    "ex4-debug": (_published(seeds.ex4_debug), "checkNNGradients' debug network"),
    "seed002-xor": (_seed002_xor, "seed 002's XOR data"),
}


def _probe(contract: Contract, raw: Mapping[str, Any], where: str, onehot: bool) -> ProbeConfig:
    _keys(raw, ("name", "sizes", "batch", "seed", "gain", "reg", "hidden", "data"), where)
    name = _get(raw, "name", str, where, f"probe-{where.rsplit('#', 1)[-1]}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise AssignmentError(f"{where}: name = {name!r}; expected letters, digits, '.', '_' or '-' (it names a folder)")
    seed = _get(raw, "seed", int, where, 0)
    reg = float(_get(raw, "reg", (int, float), where, 0.0))
    conv = contract.conventions
    try:
        if "data" in raw:
            data = _get(raw, "data", str, where)
            if data not in DATASETS:
                raise AssignmentError(f"{where}: data = {data!r}; expected one of {list(DATASETS)}")
            make, purpose = DATASETS[data]
            sizes, params, x, y = make(seed)
            spec = conv.spec(sizes, reg, x.shape[0])
            kept = {k: v for k, v in params.items() if k in spec.param_shapes()}
            probe = Probe(name, Case(spec, kept, x, y), None, purpose)
        else:
            if "sizes" not in raw:
                raise AssignmentError(f"{where}: a probe needs sizes = [n_0, ..., n_L] (or data = a named data set)")
            sizes = tuple(_get(raw, "sizes", list, where))
            batch = _get(raw, "batch", int, where, 1)
            spec = conv.spec(sizes, reg, batch)
            gain = float(_get(raw, "gain", (int, float), where, 1.0))
            probe = make_probe(name, f"{spec.describe()}, batch {batch}", spec, batch, seed, None,
                               {l: gain for l in range(1, spec.depth + 1)})
            if onehot:  # class labels, sent as integers, held one-hot
                labels = np.random.default_rng(seed + 1).integers(0, sizes[-1], batch)
                y = np.eye(sizes[-1])[labels]
                probe = Probe(name, Case(spec, probe.case.params, probe.case.x, y), None, probe.purpose)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, AssignmentError):
            raise
        raise AssignmentError(f"{where}: {exc}") from None
    if conv.examples_per_call == "one" and probe.case.batch != 1:
        raise AssignmentError(f"{where}: this contract takes one example per call (examples_per_call = 'one'); "
                              f"expected batch = 1, got batch = {probe.case.batch}")
    if conv.depth is not None and probe.case.spec.depth != conv.depth:
        raise AssignmentError(f"{where}: this contract's network has {conv.depth} layers; sizes "
                              f"{list(probe.case.spec.sizes)} has {probe.case.spec.depth}")
    return ProbeConfig(probe, bool(_get(raw, "hidden", bool, where, False)), reg)


#: The tables that make up a contract: what ``contract = "NAME"`` takes from a bundled assignment.
CONTRACT_TABLES = ("network", "layout", "entry", "accept", "feedback", "environment")


def _inherit(raw: dict[str, Any], base: str, where: str) -> dict[str, Any]:
    """``contract = "canonical"``: the bundled assignment's contract tables, unless this file gives its own."""
    if base.lower() not in {b.lower() for b in bundled()}:
        raise AssignmentError(f"{where}: contract = {base!r}; expected a bundled assignment whose contract to use: "
                              f"{bundled()}{_near(base, bundled(), 0.5)}")
    parent_path = resolve(base)
    parent = tomllib.loads(parent_path.read_text(encoding="utf-8"))
    out = {k: v for k, v in raw.items() if k != "contract"}
    for table in CONTRACT_TABLES:
        if table not in out and table in parent:
            out[table] = parent[table]
    if out.get("environment") is parent.get("environment") and isinstance(out.get("environment"), dict) \
            and isinstance(out["environment"].get("files"), list):  # the parent's course files, relative to the parent
        out["environment"] = {**out["environment"], "files": [str((parent_path.parent / f).resolve())
                                                               if isinstance(f, str) else f for f in out["environment"]["files"]]}
    out.setdefault("module", parent.get("module", "submission"))
    return out


def _read_toml(path: Path) -> tuple[bytes, dict]:
    if tomllib is None:
        raise AssignmentError(f"assignment {path}: reading TOML on Python 3.10 needs tomli (pip install tomli)")
    text = path.read_bytes()
    try:
        return text, tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AssignmentError(f"assignment {path}: not valid TOML: {exc}") from None


def _points(raw: dict, where: str) -> dict[str, float]:
    points_raw = raw.get("points", {})
    _keys(points_raw, tuple(POINTS), f"{where} [points]")
    points = dict(POINTS)
    points.update({k: float(_get(points_raw, k, (int, float), f"{where} [points]")) for k in points_raw})
    return points


def _course_files(paths: list, base: Path, where: str) -> tuple[tuple[str, bytes], ...]:
    """[environment] files: each a file relative to the TOML's folder (or absolute), read now, one per file name."""
    out: dict[str, bytes] = {}
    for p in paths:
        if not isinstance(p, str) or not p:
            raise AssignmentError(f"{where}: files lists {p!r}; expected a path relative to the assignment file")
        path = (base / p).resolve()
        if not path.is_file():
            raise AssignmentError(f"{where}: files lists {p!r}, which is not a file (looked for {path})")
        if path.name in out:
            raise AssignmentError(f"{where}: files lists two files named {path.name!r}; each is placed beside the "
                                  "submission under its own name")
        if path.stat().st_size > MAX_COURSE_FILE_BYTES:
            raise AssignmentError(f"{where}: files lists {p!r}, of {path.stat().st_size} bytes; at most "
                                  f"{MAX_COURSE_FILE_BYTES}")
        out[path.name] = path.read_bytes()
    return tuple(out.items())


def _environment(raw: dict, where: str, base: Path) -> Environment:
    env_raw = raw.get("environment", {})
    at = f"{where} [environment]"
    _keys(env_raw, ("stub", "require", "default_stubs", "files", "allow_autodiff"), at)
    environment = Environment(tuple(_get(env_raw, "stub", list, at, [])),
                              tuple(_get(env_raw, "require", list, at, [])),
                              _get(env_raw, "default_stubs", bool, at, True),
                              _course_files(_get(env_raw, "files", list, at, []), base, at),
                              _get(env_raw, "allow_autodiff", bool, at, False))
    for package in environment.require:
        if importlib.util.find_spec(package.split(".")[0]) is None:
            raise AssignmentError(f"{where} [environment]: the assignment requires {package!r}, which is not installed where "
                                  f"bpcheck runs: pip install {package.split('.')[0]}")
    return environment


def _hidden_checks(raw: dict, where: str) -> set[str]:
    hidden_checks = _get(raw, "hidden_checks", list, where, [])
    for h in hidden_checks:
        if h not in CHECKS:
            raise AssignmentError(f"{where}: hidden_checks lists {h!r}{_near(str(h), CHECKS)} "
                                  f"(expected some of {list(CHECKS)}; probes are hidden with hidden = true)")
    return set(hidden_checks)


#: [grading] precision: "any" judges arrays returned in float32 within float32's rounding; "float64" judges
#: them with float64's bound, for an assignment that asks for float64 (the message says so).
PRECISIONS = ("any", "float64")


def _grading(raw: dict, contract: Contract, where: str) -> dict:
    """The [grading] table, every key checked, with its defaults filled in."""
    grading = raw.get("grading", {})
    at = f"{where} [grading]"
    _keys(grading, ("penalise_conventions", "alternative_credit", "large_inputs", "steps", "precision"), at)
    steps = _get(grading, "steps", int, at, 1)
    if steps < 1 or (steps > 1 and not contract.reads_updates):
        raise AssignmentError(f"{at}: steps = {steps}; expected 1, or more only for a contract that reads "
                              "weights back after a training step")
    credit = float(_get(grading, "alternative_credit", (int, float), at, 1.0))
    if not 0 <= credit <= 1:
        raise AssignmentError(f"{at}: alternative_credit = {credit}; expected a fraction in [0, 1]")
    precision = _get(grading, "precision", str, at, "any")
    if precision not in PRECISIONS:
        raise AssignmentError(f"{at}: precision = {precision!r}; expected one of {PRECISIONS}")
    return {"penalise_conventions": _get(grading, "penalise_conventions", bool, at, True), "alternative_credit": credit,
            "large_inputs": _get(grading, "large_inputs", bool, at, False), "steps": steps, "precision": precision}


def _probes(raw: dict, contract: Contract, where: str) -> list[ProbeConfig]:
    probes_raw = _get(raw, "probe", list, where, [])
    if not probes_raw:
        raise AssignmentError(f"{where}: needs at least one [[probe]]")
    variants = contract.variants()
    onehot = any(v.conventions.targets != "values" for v in variants)
    probes = [_probe(contract, p, f"{where} [[probe]] #{i + 1}", onehot) for i, p in enumerate(probes_raw)]
    names = [p.probe.name for p in probes]
    if len(set(names)) != len(names):
        raise AssignmentError(f"{where}: probe names must be unique, got {names}")
    _check_variants(contract, variants, probes, where)
    return probes


def read(name_or_path: str) -> tuple[Path, bytes, dict]:
    """The assignment file's path, bytes and tables, a ``contract = ...`` base's tables merged in."""
    path = resolve(name_or_path)
    text, raw = _read_toml(path)
    _keys(raw, ("name", "title", "module", "solution", "contract", "hidden_checks", "network", "layout", "entry", "part",
                "accept", "feedback", "environment", "grading", "points", "limits", "probe"), path.name)
    if "contract" in raw:
        raw = _inherit(raw, _get(raw, "contract", str, path.name), path.name)
    return path, text, raw


def load(name_or_path: str) -> Assignment:
    """An assignment by bundled name (``canonical``, ...) or by path to a TOML file, every key checked."""
    return from_tables(*read(name_or_path))


def from_tables(path: Path, text: bytes, raw: dict) -> Assignment:
    """An assignment from its tables (as ``read`` gives them; a pre-check kit keeps them as JSON), every key checked;
    ``path``: where relative paths start; ``text``: the bytes its fingerprint is taken of."""
    where = path.name
    _keys(raw, ("name", "title", "module", "solution", "hidden_checks", "network", "layout", "entry", "part", "accept",
                "feedback", "environment", "grading", "points", "limits", "probe"), where)
    if "part" in raw:
        return _with_parts(path, text, raw)
    try:
        contract = _contract(raw, where)
    except ContractError as exc:
        raise AssignmentError(str(exc)) from None
    common = _common(path, text, raw)
    points = _points(raw, where)
    grading = _grading(raw, contract, where)
    if grading["large_inputs"] and not contract.kinds() & {"gradient", "update"}:
        raise AssignmentError(f"{where} [grading]: large_inputs = true checks gradients, and this entry point returns none")
    probes = _probes(raw, contract, where)
    return Assignment(name=str(_get(raw, "name", str, where, path.stem)), contract=contract, points=points, probes=probes,
                      **common, **grading)


def _common(path: Path, text: bytes, raw: dict) -> dict[str, Any]:
    """The fields an assignment and each of its layer parts read alike from the assignment's tables: title, module,
    limits, environment (course files), hidden checks, solution, and the fingerprint results are keyed on."""
    where = path.name
    limits_raw = raw.get("limits", {})
    _keys(limits_raw, tuple(f.name for f in fields(Limits)), f"{where} [limits]")
    environment = _environment(raw, where, path.parent)
    solution = _get(raw, "solution", str, where)
    return {"title": str(_get(raw, "title", str, where, path.stem)),
            "module": str(_get(raw, "module", str, where, "submission")),
            "limits": Limits(**limits_raw), "environment": environment, "hidden_checks": _hidden_checks(raw, where),
            "solution": (path.parent / solution).resolve() if solution else None, "path": path,
            # the assignment's bytes and its course files': with the grader's code, what a result is keyed on
            "fingerprint": hashlib.sha256(text + b"".join(n.encode() + b"\0" + hashlib.sha256(d).digest()
                                                          for n, d in environment.files)).hexdigest()[:16]}


# --- several graded functions ----------------------------------------------------------------------------------

#: What a [[part]] table holds beside the keys of an [[entry]] table (the function, its arguments, what it returns).
PART_KEYS = ("name", "probes", "network", "points")


def _part_tables(raw: dict, i: int, part: Any, probes: dict[str, Any], at: str) -> dict:
    """The tables of part ``i`` as an assignment of its own: the assignment's, with the part's call as its one
    [[entry]], its [network] and [points] keys over the assignment's, and only the probes it lists."""
    _keys(part, (*PART_KEYS, "function", "arguments", "keywords", "optional", "returns", "aliases", "call"), at)
    entry = {k: v for k, v in part.items() if k not in PART_KEYS}
    calls = entry.get("call") or [entry]
    first = calls[0].get("function") if isinstance(calls[0], dict) else None
    chosen = _get(part, "probes", list, at, list(probes))
    unknown = [n for n in chosen if n not in probes]
    if unknown or not chosen:
        raise AssignmentError(f"{at}: probes = {chosen!r}; expected some of the [[probe]] names {list(probes)}")
    return {**{k: v for k, v in raw.items() if k != "part"}, "entry": [entry],
            "name": _get(part, "name", str, at, first if isinstance(first, str) else f"part-{i + 1}"),
            "network": {**raw.get("network", {}), **_get(part, "network", dict, at, {})},
            "points": {**raw.get("points", {}), **_get(part, "points", dict, at, {})},
            "probe": [probes[n] for n in chosen]}


def _with_parts(path: Path, text: bytes, raw: dict) -> Assignment:
    """An assignment of several graded functions ([[part]] tables): each is graded as an assignment of its own, so a
    function that crashes costs its own points only; the one report lists every part's checks under its name."""
    where = path.name
    parts_raw = _get(raw, "part", list, where)
    if "entry" in raw or not parts_raw:
        raise AssignmentError(f"{where}: give one [[entry]] (a single graded entry point) or [[part]] tables (one per "
                              "graded function), not both" if "entry" in raw else f"{where}: part = []; expected [[part]] tables")
    probes = {p.get("name"): p for p in _get(raw, "probe", list, where, []) if isinstance(p, dict)}
    parts: list[Assignment] = []
    for i, part in enumerate(parts_raw):
        at = f"{where} [[part]] #{i + 1}"
        try:
            if isinstance(part, dict) and "layer" in part:
                made = _layer_part(path, text + f"\0part {i}".encode(), raw, i, part, at)
            else:
                made = from_tables(path, text + f"\0part {i}".encode(), _part_tables(raw, i, part, probes, at))
        except AssignmentError as exc:
            raise AssignmentError(str(exc).replace(where, at, 1)) from None
        if made.name in [p.name for p in parts]:
            raise AssignmentError(f"{at}: name = {made.name!r} is another part's; give each part a name of its own")
        parts.append(made)
    # The whole assignment's contract holds every part's calls as one form: what a submission must define.
    calls = {c.names: c for p in parts for c in p.contract.forms[0].calls}
    used = {pc.probe.name: pc for p in parts for pc in p.probes}
    return replace(parts[0], name=str(_get(raw, "name", str, where, path.stem)),
                   title=str(_get(raw, "title", str, where, path.stem)),
                   contract=replace(parts[0].contract, forms=(Form(calls=tuple(calls.values())),)),
                   probes=list(used.values()), parts=tuple(parts), layer=None,
                   fingerprint=hashlib.sha256(text + "".join(p.fingerprint for p in parts).encode()).hexdigest()[:16])


def _layer_part(path: Path, text: bytes, raw: dict, i: int, part: dict, at: str) -> Assignment:
    """A [[part]] with layer = ...: the assignment's limits, environment and points (the part's over them), and the
    part's calls on the layer's cases, judged through the check API (layers.py)."""
    _keys(part, ("name", "points", "layer", "function", "arguments", "keywords", "returns", "call", "case"), at)
    try:
        layer = parse_part(part, at, _keys)
        conventions = _conventions(raw, at)
    except ContractError as exc:
        raise AssignmentError(str(exc)) from None
    first = layer.form.calls[0].names[0]
    tables = {**raw, "points": {**raw.get("points", {}), **_get(part, "points", dict, at, {})}}
    return Assignment(
        name=str(_get(part, "name", str, at, first)), contract=Contract(forms=(layer.form,), conventions=conventions),
        points=_points(tables, at), penalise_conventions=False, alternative_credit=0.0, large_inputs=False, steps=1,
        probes=[], layer=layer, **_common(path, text, raw))


MAX_VARIANTS = 32


def _check_variants(contract: Contract, variants: list[Variant], probes: list[ProbeConfig], where: str) -> None:
    """Every accepted combination must be a valid network on every probe, and every argument must be buildable."""
    if len(variants) > MAX_VARIANTS:
        raise AssignmentError(f"{where} [accept]: {len(variants)} combinations of conventions; at most {MAX_VARIANTS} "
                              "(each is tried on every probe)")
    for v in variants:
        for pc in probes:
            try:
                case = pc.case(v)
                enc = Encoder(v.conventions, case, pc.reg)
                for form in contract.forms:
                    contract.ops(form, enc, 1)
            except (ValueError, ContractError) as exc:
                label = f" (accepted: {v.words()})" if v.choices else ""
                raise AssignmentError(f"{where} [[probe]] {pc.probe.name!r}{label}: {exc}") from None


__all__ = ["Assignment", "AssignmentError", "ProbeConfig", "bundled", "load", "resolve"]
