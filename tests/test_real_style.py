"""Real-looking student files, graded as found (examples/real-style/README.md says what each one is).

Every family an instructor meets: CS231n's neural_net.py of 2016, 2017 and 2019 (with matplotlib and
past.builtins imports, 0.5·reg, keepdims bias gradients, a package layout), Nielsen's network.py and
network2.py and students' rewrites of them, the ex4 notebook and .py ports in folders with helper
modules and driver scripts, the blog class with its variants, and Python 2 files.  One batch per
assignment, two jobs at a time, as an instructor would run them.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bpcheck.grader.assignment import load
from bpcheck.grader.batch import grade_batch
from bpcheck.grader.grade import Grader

from .real_style_table import EXPECTED
from .sandboxes import for_trusted_code
from .verdicts import assert_graded

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "examples" / "real-style"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every real-style submission, one batch per assignment with --jobs 2; ex4-port is graded a second time as a zip."""
    tmp = tmp_path_factory.mktemp("real")
    archive = tmp / "ex4-port.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted((REAL / "ex4-port").rglob("*.py")):
            z.write(f, "student-1234/ex4-port/" + str(f.relative_to(REAL / "ex4-port")))
    results = {}
    for assignment in dict.fromkeys(a for a, *_ in EXPECTED):
        paths = [REAL / s for a, s, *_ in EXPECTED if a == assignment] + ([archive] if assignment == "coursera-ex4" else [])
        for r in grade_batch(Grader(load(assignment), for_trusted_code()), paths, jobs=2, state=tmp / assignment):
            where = Path(r.submission).relative_to(REAL).as_posix() if REAL in Path(r.submission).parents else "zip"
            results[where] = results[(assignment, where)] = r  # one submission may be graded by two assignments
    return results


@pytest.mark.parametrize("assignment, submission, verdict, words", EXPECTED, ids=[s for _, s, *_ in EXPECTED])
def test_real_style_submission_gets_the_right_verdict(graded, assignment, submission, verdict, words):
    assert_graded(graded[(assignment, submission)], verdict, words)


def test_a_zip_of_a_folder_grades_like_the_folder(graded):
    assert graded["zip"].verdict == graded["ex4-port"].verdict == "pass"
    assert graded["zip"].convention == graded["ex4-port"].convention != ""


def test_a_driver_script_beside_the_entry_point_is_never_imported(graded):
    """ex4.py loads data files and trains at import; nielsen-src-layout/main.py appends to sys.path and trains."""
    for name in ("ex4-port", "nielsen-src-layout"):
        assert graded[name].verdict == "pass"
        assert not any("skipped top-level code" in n for n in graded[name].notes), graded[name].notes


def test_driver_code_after_the_entry_point_is_skipped(graded):
    """nielsen-rewrite trains on MNIST at module level after the class; blog/learning_rate.py trains and plots."""
    for name in ("nielsen-rewrite", "blog/learning_rate.py"):
        assert graded[name].verdict == "pass" and graded[name].seconds < 10


def test_notebooks_report_the_cells_they_ran(graded):
    note = next(n for n in graded["ex4-notebook"].notes if "ran code cells" in n)
    assert note.startswith("exercise4.ipynb: ran code cells 1, 5, 8 ") and "skipped the other 11" in note


def test_a_folder_whose_code_sits_in_sub_folders_is_one_submission_not_a_class(tmp_path):
    """cs231n-2019 holds only cs231n/ (a package); ex4-port-packages holds ex2/ (helpers) beside ex4/."""
    from bpcheck.grader.exports import expand
    from bpcheck.grader.submission import mentions_entry

    def items(assignment: str, *paths: Path) -> list[str]:
        forms = [f.requires for f in load(assignment).contract.forms]
        with expand([str(p) for p in paths], "x", is_submission=lambda p: mentions_entry(p, forms)) as batch:
            return [i.id for i in batch.items]

    assert items("cs231n-two-layer", REAL / "cs231n-2019") == [(REAL / "cs231n-2019").as_posix()]
    assert items("coursera-ex4", REAL / "ex4-port-packages") == [(REAL / "ex4-port-packages").as_posix()]
    for student in ("alice", "bob"):  # a class folder: every sub-folder a student's
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "hw.py").write_text("def backprop(weights, biases, x, y):\n    pass\n")
    assert items("canonical", tmp_path / "class") == [f"{(tmp_path / 'class').as_posix()}/{s}" for s in ("alice", "bob")]


def _cs231n_copy(dest: Path, init_files: bool, relative: bool) -> Path:
    """The cs231n-2019 hand-in copied under ``dest``, with or without its ``__init__.py`` files (no repository since
    2021 has them: Python 3 imports the folders as namespace packages); ``relative``: neural_net.py imports layers as
    ``from ..layers import ...``, as the fc_net.py of later years does."""
    for source in (REAL / "cs231n-2019").rglob("*.py"):
        rel = source.relative_to(REAL / "cs231n-2019")
        if rel.name == "__init__.py" and not init_files:
            continue
        text = source.read_text()
        if relative:
            text = text.replace("from cs231n.layers import", "from ..layers import")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    return dest


@pytest.mark.parametrize("init_files", [True, False])
def test_a_students_folder_holding_only_a_package_is_one_submission(tmp_path, init_files):
    """alice/ holds only cs231n/: a package, with or without __init__.py, never a class folder of one student."""
    from bpcheck.grader.exports import expand
    from bpcheck.grader.submission import mentions_entry

    alice = _cs231n_copy(tmp_path / "alice", init_files, relative=False)
    forms = [f.requires for f in load("cs231n-two-layer").contract.forms]
    with expand([str(alice)], "neural_net", is_submission=lambda p: mentions_entry(p, forms)) as batch:
        assert [i.id for i in batch.items] == [alice.as_posix()]
    # a class folder of such students stays one: their packages' relative imports never climb to the student's folder
    for student in ("bob", "chen"):
        _cs231n_copy(tmp_path / "class" / student, init_files, relative=True)
    with expand([str(tmp_path / "class")], "neural_net", is_submission=lambda p: mentions_entry(p, forms)) as batch:
        assert [i.id for i in batch.items] == [f"{(tmp_path / 'class').as_posix()}/{s}" for s in ("bob", "chen")]


def test_namespace_packages_import_as_python_3_imports_them(tmp_path):
    """neural_net.py's ``from ..layers import`` inside cs231n/classifiers/ with no __init__.py anywhere."""
    sub = _cs231n_copy(tmp_path / "bob", init_files=False, relative=True)
    r = Grader(load("cs231n-two-layer"), for_trusted_code()).grade(sub)
    assert r.verdict == "pass", r.message
    assert "relative import" not in r.message
