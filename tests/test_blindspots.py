"""`bpcheck assignment check --mutants`: the catalog's bugs an assignment's probes cannot see, and what would show each.

The expected blind spots follow from the probes' shapes, not from the code under test: on one example a bias from
"the first example only" is the whole batch and a missing 1/N is ×1; on one-unit layers a matrix is its own transpose
and a sum over every axis is the sum over the batch; with λ = 0 every penalty term is zero.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bpcheck.cli import main
from bpcheck.grader.assignment import AssignmentError, bundled, load
from bpcheck.grader.blindspots import blind_spots

#: Every catalog entry and transform that only a batch of several examples can show (under a mean).
BATCH_ONLY = {"bias-one-example", "first-example", "mean-missing", "mean-twice", "times-batch"}


def _toml(tmp_path: Path, name: str, contract: str, probes: list[tuple[list[int], int, float]]) -> Path:
    lines = [f'name = "{name}"', 'title = "a deliberately weak probe set"', f'contract = "{contract}"']
    for i, (sizes, batch, reg) in enumerate(probes):
        lines += ["", "[[probe]]", f'name = "p{i}"', f"sizes = {sizes}", f"batch = {batch}", f"seed = {i + 5}"]
        lines += [f"reg = {reg}"] if reg else []
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _spots(path: Path) -> dict[str, str]:
    spots, _ = blind_spots(load(str(path)))
    return {s.id: s.feature.name if s.feature else "" for s in spots}


def test_square_batch_1_probes_miss_every_batch_bug_and_say_so(tmp_path, capsys):
    weak = _toml(tmp_path, "weak", "canonical", [([3, 3, 3], 1, 0.0), ([2, 2, 2], 1, 0.0)])
    assert _spots(weak) == {b: "batch" for b in BATCH_ONLY}
    assert main(["assignment", "check", str(weak), "--mutants"]) == 1
    out = capsys.readouterr().out
    assert "batch 1 only: batch mean: the 1/N is missing (mean-missing) passes" in out
    assert "5 of " in out


def test_one_unit_layers_miss_transposes(tmp_path):
    thin = _toml(tmp_path, "thin", "canonical", [([1, 1, 1], 3, 0.0)])
    assert _spots(thin) == {b: "non-square" for b in ("transposed", "bp3-transposed", "bp2-no-transpose", "bias-all-axes")}


def test_probes_without_a_penalty_miss_every_penalty_bug(tmp_path):
    noreg = _toml(tmp_path, "noreg", "cs231n-two-layer", [([4, 5, 3], 4, 0.0)])
    assert _spots(noreg) == {b: "reg" for b in ("reg-half", "reg-on-biases", "reg-over-n", "reg-2016-all-params")}


def test_a_contract_without_a_penalty_is_never_asked_for_one(tmp_path):
    full = _toml(tmp_path, "full", "canonical", [([3, 4, 2], 3, 0.0)])
    assert _spots(full) == {}


@pytest.mark.parametrize("name", bundled())
def test_bundled_assignments_have_no_blind_spot(name):
    """Nielsen's backprop(x, y) takes one column-vector example per call (examples_per_call = "one"): a bug only a
    batch shows cannot be written in it, so it is not applicable there."""
    assert _spots(Path(name)) == {}


def test_a_per_example_contract_still_reports_what_one_unit_layers_hide(tmp_path):
    """One-unit layers (square, 1×1) hide a transpose whatever the batch; the batch-only bugs are not applicable."""
    thin = _toml(tmp_path, "thin-nielsen", "nielsen", [([1, 1, 1], 1, 0.0)])
    assert _spots(thin) == {b: "non-square" for b in ("transposed", "bp3-transposed", "bp2-no-transpose", "bias-all-axes")}


def test_a_per_example_contract_refuses_a_batch_probe(tmp_path):
    batch = _toml(tmp_path, "batch-nielsen", "nielsen", [([3, 4, 2], 3, 0.0)])
    with pytest.raises(AssignmentError, match=r"examples_per_call = 'one'.*batch = 3"):
        load(str(batch))


def test_examples_per_call_is_checked(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\ncontract = "canonical"\n[layout]\nexamples_per_call = "two"\n'
                    '[[probe]]\nsizes = [2, 3, 1]\n')
    with pytest.raises(AssignmentError, match=r"examples_per_call = 'two'; expected one of \['batch', 'one'\]"):
        load(str(path))
