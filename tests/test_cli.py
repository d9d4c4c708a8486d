"""The bpcheck command's other subcommands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bpcheck.cli import main
from bpcheck.golden import text
from bpcheck.oracles import exact
from bpcheck.reference.bugs import BUGS, LOOKALIKES

from .golden import as_published


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
def test_golden_writes_the_published_file_byte_for_byte(tmp_path, capsys):
    out = tmp_path / "g.json"
    assert main(["golden", "--out", str(out)]) == 0
    published = Path(__file__).resolve().parents[1] / "docs" / "golden" / "bpcheck-golden.json"
    assert text(as_published(json.loads(out.read_text(encoding="utf-8")))) == published.read_text(encoding="utf-8")
    n = len(json.loads(published.read_text())["entries"])
    lines = capsys.readouterr().err.splitlines()  # not a terminal: progress lines for the log, never silent
    assert lines == [f"exact values: {k} of {n} entries" for k in (*range(10, n, 10), n)] + [f"wrote {out}"], lines


def test_verify_and_kill_matrix_leave_no_blank_line_in_a_log(capsys, monkeypatch):
    assert main(["verify", "--cases", "1", "--oracles", "central"]) == 0
    out, err = capsys.readouterr()
    assert out.lstrip(" ").startswith("reference vs oracles") and err == ""  # the table first, no bar's blank line

    def matrix(on_cell):  # the kill matrix's 50 s of searching, left out: only its progress is under test
        on_cell(None)
        return []
    monkeypatch.setattr("bpcheck.kill_matrix.matrix", matrix)
    main(["kill-matrix"])
    assert capsys.readouterr().err == ""


# -- bpcheck grade's command line and output options ----------------------------------------------------

import contextlib  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402


from bpcheck.grader import grade as grade_module  # noqa: E402

EX = Path(__file__).resolve().parents[1] / "examples"


def _class(tmp_path: Path, names=("ann", "ben", "cai")) -> Path:
    folder = tmp_path / "classfolder"
    for name, source in zip(names, ("solutions/canonical.py", "buggy/canonical_sign.py", "starters/canonical.py")):
        (folder / name).mkdir(parents=True)
        shutil.copy(EX / source, folder / name / "submission.py")
    return folder


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == "bpcheck 0.4.0"


def test_odd_and_missing_paths_never_abort_the_batch(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(EX / "solutions" / "canonical.py", tmp_path / "-rf.py")
    shutil.copy(EX / "buggy" / "canonical_sign.py", tmp_path / "ok.py")
    code = main(["grade", "-rf.py", "gone.py", "ok.py", "--assignment", "canonical", "--state", "st", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and [(d["id"], d["verdict"]) for d in data] == [("-rf.py", "pass"), ("gone.py", "error"), ("ok.py", "fail")]
    assert data[1]["message"] == "not found: gone.py"


def test_a_class_folder_grades_each_student_and_the_table_goes_to_out(tmp_path, capsys):
    folder = _class(tmp_path)
    out = tmp_path / "table.txt"
    assert main(["grade", str(folder), "--assignment", "canonical", "--state", str(tmp_path / "st"), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "holds 3 submissions" in err and f"pass {folder}/* to say so explicitly" in err
    text = out.read_text(encoding="utf-8")
    assert not text.lstrip().startswith(("[", "{")) and "3 graded: 1 pass, 1 fail, 1 error" in text
    assert "checks, in column order" in text and "--format json" in text and "penalise_conventions" in text


def test_only_and_force_regrade_one_student_and_keep_the_class(tmp_path, capsys):
    folder, state = _class(tmp_path), tmp_path / "st"
    assert main(["grade", str(folder), "--assignment", "canonical", "--state", str(state), "--format", "csv"]) == 0
    capsys.readouterr()
    shutil.copy(EX / "solutions" / "canonical.py", folder / "ben" / "submission.py")  # ben fixes his sign
    only = str(folder / "ben")
    assert main(["grade", str(folder), "--only", only, "--assignment", "canonical", "--state", str(state),
                 "--format", "json", "--force"]) == 0
    out = capsys.readouterr()
    assert [(d["id"], d["verdict"]) for d in json.loads(out.out)] == [(only, "pass")] and "reused" not in out.err
    assert main(["report", str(state), "--format", "json"]) == 0  # the whole class, ben's new result in place
    assert [d["verdict"] for d in json.loads(capsys.readouterr().out)] == ["pass", "pass", "error"]
    for fmt in ("gradescope", "prairielearn"):  # one results.json each: a folder is needed, said, never a traceback
        assert main(["report", str(state), "--format", fmt]) == 2
        assert f"--format {fmt} writes one results.json per submission: give --out DIR for these 3" in capsys.readouterr().err
    assert main(["grade", str(folder), "--only", "nobody", "--assignment", "canonical", "--state", str(state)]) == 2
    assert "no submission has the id 'nobody'" in capsys.readouterr().err
    assert main(["grade", str(folder), "--assignment", "canonical", "--state", str(state), "--format", "csv"]) == 0
    assert "3 reused from an earlier run" in capsys.readouterr().err


def test_ctrl_c_saves_what_is_done_and_says_how_to_resume(tmp_path, monkeypatch):
    folder, state = _class(tmp_path, ("ann", "ben")), tmp_path / "st"
    (folder / "dee").mkdir()
    shutil.copy(EX / "buggy" / "canonical_deriv_on_z.py", folder / "dee" / "submission.py")
    real, calls = grade_module.Grader.grade, []

    def grade_then_interrupt(self, path, files=None):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, path, files)

    monkeypatch.setattr(grade_module.Grader, "grade", grade_then_interrupt)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["grade", str(folder), "--assignment", "canonical", "--state", str(state)])
    assert code == 130
    last = err.getvalue().strip().splitlines()[-1]
    assert last == f"interrupted: 2 results saved in {state}/; rerun the same command to resume"
    assert "Traceback" not in err.getvalue()
    monkeypatch.setattr(grade_module.Grader, "grade", real)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["grade", str(folder), "--assignment", "canonical", "--state", str(state)]) == 0
    assert "2 reused from an earlier run" in err.getvalue()


def test_bugs_fits_the_terminal(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["bugs"]) == 0
    assert max(len(line) for line in capsys.readouterr().out.splitlines()) <= 80


def test_per_submission_formats_need_a_folder_for_many(tmp_path, capsys):
    folder = _class(tmp_path)
    args = ["grade", str(folder), "--assignment", "canonical", "--state", str(tmp_path / "st"), "--format", "gradescope"]
    assert main(args) == 2 and "give --out DIR for these 3 submissions" in capsys.readouterr().err
    assert main(args + ["--out", str(tmp_path / "gs")]) == 0
    assert len(list((tmp_path / "gs").glob("*.results.json"))) == 3


def test_titles_name_the_assignment_once(tmp_path, capsys):
    from bpcheck.cli import _title

    assert _title("Backprop (canonical contract)", "canonical") == "Backprop (canonical contract)"  # grade, report
    assert _title("Backpropagation for a sigmoid MLP", "canonical") == "Backpropagation for a sigmoid MLP (canonical)"
    toml = (Path(__file__).resolve().parents[1] / "grader" / "assignments" / "canonical.toml").read_text()
    toml = toml.replace('title = "Backpropagation for a sigmoid MLP"', 'title = "Backprop (canonical contract)"')
    (tmp_path / "mine.toml").write_text("\n".join(line for line in toml.splitlines() if not line.startswith("solution =")))
    assert main(["assignment", "check", str(tmp_path / "mine.toml")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "valid. Backprop (canonical contract): " in first and "(canonical contract) (canonical)" not in first


def test_python_m_bpcheck_is_the_bpcheck_command():
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "bpcheck", "--version"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "bpcheck 0.4.0", run.stderr


def test_jobs_auto_is_one_per_cpu_this_process_may_use(capsys):
    from bpcheck.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["grade", "s.py", "--assignment", "canonical", "--jobs", "auto"]).jobs == len(os.sched_getaffinity(0))
    assert parser.parse_args(["grade", "s.py", "--assignment", "canonical", "--jobs", "3"]).jobs == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["grade", "s.py", "--assignment", "canonical", "--jobs", "all"])
    assert "expected an integer >= 1 or auto, got 'all'" in capsys.readouterr().err


@pytest.mark.parametrize("switch", ["BPCHECK_AFFINITY", "BPCHECK_TMPFS", "BPCHECK_WARM"])
def test_a_switch_set_to_neither_0_nor_1_is_refused_by_name(switch, monkeypatch, capsys, tmp_path):
    """BPCHECK_AFFINITY=off read as on (or as off) would be a silent choice the user did not make."""
    monkeypatch.setenv(switch, "off")
    code = main(["grade", str(Path(__file__).parents[1] / "examples" / "solutions" / "canonical.py"),
                 "--assignment", "canonical", "--sandbox", "none", "--state", str(tmp_path / "state")])
    assert code != 0
    assert f"{switch}: expected 0 (off) or 1 (on), got 'off'" in capsys.readouterr().err


def test_more_jobs_than_cpus_is_said(capsys, tmp_path):
    cpus = len(os.sched_getaffinity(0))
    solution = Path(__file__).parents[1] / "examples" / "solutions" / "canonical.py"
    folder = tmp_path / "class"
    for i in range(cpus + 2):
        (folder / f"s{i}").mkdir(parents=True)
        (folder / f"s{i}" / "canonical.py").write_text(solution.read_text() + f"# {i}\n")
    code = main(["grade", str(folder), "--assignment", "canonical", "--sandbox", "none", "--jobs", str(cpus + 1),
                 "--state", str(tmp_path / "state")])
    assert code == 0
    assert f"note: --jobs {cpus + 1} is more than the {cpus} CPUs this grader may use" in capsys.readouterr().err
