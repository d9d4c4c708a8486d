"""The bpcheck command's other subcommands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.cli import main
from oracles import exact
from reference.bugs import BUGS, LOOKALIKES


def test_verify_json_reports_agreement_for_every_available_oracle(capsys):
    assert main(["verify", "--cases", "8", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ran = [o for o in data["oracles"] if o["unavailable"] is None]
    assert {o["oracle"] for o in ran} >= {"central", "richardson", "complex_step"}
    for o in ran:
        assert o["agrees"] and o["cases"] + o["skipped"] == 8 and 0 <= o["worst_error_over_bound"] <= 1
    if not exact.unavailable():  # every source measured against the exact gradient, in ulps and error/bound
        rows = {r["source"]: r for r in data["versus_exact"]}
        assert set(rows) == {"reference"} | {o["oracle"] for o in ran} - {"exact"}
        for r in rows.values():
            assert r["within_bound"] and r["cases"] >= 1 and 0 <= r["worst_error_over_bound"] <= 1, r
            assert r["max_error_ulps"] >= 0


def test_verify_rejects_nonpositive_cases(capsys):
    try:
        main(["verify", "--cases", "0"])
    except SystemExit as exc:
        assert exc.code == 2
    assert "--cases: expected an integer >= 1, got 0" in capsys.readouterr().err


def test_bugs_lists_the_catalog(capsys):
    assert main(["bugs", "--format", "json"]) == 0
    ids = [b["id"] for b in json.loads(capsys.readouterr().out)]
    assert ids == [b.id for b in BUGS]
    assert main(["bugs", "--format", "json", "--lookalikes"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(BUGS) + len(LOOKALIKES)
    assert main(["bugs"]) == 0
    assert "deriv-on-z" in capsys.readouterr().out


@pytest.mark.skipif(bool(exact.unavailable()), reason=str(exact.unavailable()))
def test_golden_writes_the_published_file_byte_for_byte(tmp_path):
    out = tmp_path / "g.json"
    assert main(["golden", "--out", str(out)]) == 0
    assert out.read_bytes() == (Path(__file__).resolve().parents[1] / "docs" / "golden" / "bpcheck-golden.json").read_bytes()
