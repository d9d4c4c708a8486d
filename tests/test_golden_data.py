"""The published golden data: reproduced by the reference, confirmed by the oracles, never changed silently."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

import oracles
from reference import NetworkSpec, loss_and_grad
from reference.golden import GOLDEN_VERSION, export

from .golden import assert_printed

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "docs" / "golden" / "bpcheck-golden.json"
DATA = json.loads(FILE.read_text())


def test_published_file_is_what_the_code_exports():
    assert DATA == json.loads(json.dumps(export())), "regenerate with `bpcheck golden --out docs/golden/bpcheck-golden.json`, bump GOLDEN_VERSION and add a CHANGELOG entry"


def test_version_and_changelog_record_this_exact_file():
    assert DATA["version"] == GOLDEN_VERSION
    sha = hashlib.sha256(FILE.read_bytes()).hexdigest()
    entries = re.findall(r"golden (\S+) — sha256 ([0-9a-f]{64})", (ROOT / "CHANGELOG.md").read_text())
    assert (GOLDEN_VERSION, sha) in entries, f"CHANGELOG.md needs 'golden {GOLDEN_VERSION} — sha256 {sha}'"


@pytest.mark.parametrize("entry", DATA["entries"], ids=lambda e: e["id"])
def test_reference_reproduces_entry(entry):
    spec = NetworkSpec.from_dict(entry["spec"])
    params = {k: np.array(v) for k, v in entry["params"].items()}
    C, grads = loss_and_grad(spec, params, np.array(entry["x"]), np.array(entry["y"]))
    assert C == entry["loss"]
    for k, g in grads.items():
        np.testing.assert_array_equal(g, np.array(entry["grads"][k]))  # same machine arithmetic: bit for bit


@pytest.mark.parametrize("entry", DATA["entries"], ids=lambda e: e["id"])
def test_entry_is_confirmed_by_an_independent_oracle(entry):
    spec = NetworkSpec.from_dict(entry["spec"])
    params = {k: np.array(v) for k, v in entry["params"].items()}
    x, y = np.array(entry["x"]), np.array(entry["y"])
    for name in ("complex_step" if spec.analytic else "central", "torch"):
        if oracles.unavailable(name, spec):
            continue
        result = oracles.check(name, spec, params, x, y, {k: np.array(v) for k, v in entry["grads"].items()})
        assert result.ok, result.message()


@pytest.mark.parametrize("entry", [e for e in DATA["entries"] if "published" in e], ids=lambda e: e["id"])
def test_published_digits_match(entry):
    for what, (printed, value) in {**entry["published"], **{k: v for k, v in entry.get("inconsistency", {}).items()
                                                            if isinstance(v, list)}}.items():
        assert_printed(value, printed, f"{entry['id']}: {what}")


def test_seed000_run_is_recorded():
    entry = next(e for e in DATA["entries"] if e["id"] == "seed000-xor")
    assert len(entry["printed_errors"]) == 12
    assert_printed(entry["printed_errors"][0], "0.4946899794717", "first printed error")
