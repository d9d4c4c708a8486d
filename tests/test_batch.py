"""Batch input as instructors receive it: class folders, Gradescope exports, LMS zips; ids that never collide."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from bpcheck.grader.exports import Batch, expand
from bpcheck.grader.report import file_stem
from .extras import needs_report

ROOT = Path(__file__).resolve().parents[1]
CLASS = ROOT / "examples" / "class"
SOLUTION = (ROOT / "examples" / "solutions" / "canonical.py").read_text()

METADATA = """\
submission_101:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.edu
  :created_at: 2024-03-01 12:00:00.000000000 -08:00
  :score: 0.0
  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess
    tests: []
submission_102:
  :submitters:
  - :name: Alan Turing
    :sid: '1912'
  - :name: Grace Hopper
    :sid: '1906'
submission_103:
  :submitters:
  - :name: Nobody Here
    :sid: '0'
"""


def test_a_class_folder_is_a_submission_per_sub_folder(monkeypatch):
    monkeypatch.chdir(ROOT)
    batch = expand(["examples/class"], "submission")
    assert len(batch.items) == 32 and batch.items[0].id == "examples/class/ahmed"
    assert "pass examples/class/* to say so explicitly" in batch.notes[0]
    globbed = expand(sorted(f"examples/class/{p.name}" for p in CLASS.iterdir()), "submission")
    assert [i.id for i in globbed.items] == [i.id for i in batch.items] and not globbed.notes
    single = expand(["examples/class/chen"], "submission")  # a student's own folder stays one submission
    assert [i.id for i in single.items] == ["examples/class/chen"]


def test_missing_paths_are_error_items_and_duplicates_are_graded_once(tmp_path):
    (tmp_path / "a.py").write_text(SOLUTION)
    batch = expand([str(tmp_path / "a.py"), str(tmp_path / "gone.py"), str(tmp_path / "a.py")], "submission")
    assert [(i.path is None, i.error) for i in batch.items] == [(False, ""), (True, f"not found: {tmp_path / 'gone.py'}")]
    assert "given more than once" in batch.notes[0]


def _export(tmp_path: Path) -> Path:
    out = tmp_path / "export.zip"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("assignment_77_export/submission_metadata.yml", METADATA)
        z.writestr("assignment_77_export/submission_101/submission.py", SOLUTION)
        z.writestr("assignment_77_export/submission_102/submission.py", SOLUTION)
        z.writestr("assignment_77_export/submission_104/submission.py", SOLUTION)  # not in the metadata
    return out


@needs_report
def test_gradescope_export_carries_names_and_ids(tmp_path):
    with expand([str(_export(tmp_path))], "submission") as batch:
        by_id = {i.id.rsplit("/", 1)[1]: i for i in batch.items}
        assert set(by_id) == {"submission_101", "submission_102", "submission_103", "submission_104"}
        assert by_id["submission_101"].id == f"{tmp_path}/export.zip/assignment_77_export/submission_101"
        assert [(s.id, s.name, s.email) for s in by_id["submission_101"].students] == [("1815", "Ada Lovelace", "ada@example.edu")]
        assert [s.name for s in by_id["submission_102"].students] == ["Alan Turing", "Grace Hopper"]
        assert by_id["submission_103"].path is None and "its folder is not in the export" in by_id["submission_103"].error
        assert by_id["submission_104"].students == () and (by_id["submission_104"].path / "submission.py").read_text() == SOLUTION
        unpacked = by_id["submission_101"].path
    assert not unpacked.exists()  # the temporary folder goes with the batch


@needs_report
def test_gradescope_export_unpacked_is_read_the_same(tmp_path):
    with zipfile.ZipFile(_export(tmp_path)) as z:
        z.extractall(tmp_path / "unpacked")
    batch = expand([str(tmp_path / "unpacked")], "submission")
    assert sorted(i.id.rsplit("/", 1)[1] for i in batch.items) == ["submission_101", "submission_102", "submission_103",
                                                                    "submission_104"]
    assert [s.name for i in batch.items for s in i.students][:1] == ["Ada Lovelace"]


def test_lms_zip_of_files_named_by_student(tmp_path):
    canvas = tmp_path / "canvas.zip"
    with zipfile.ZipFile(canvas, "w") as z:
        z.writestr("lovelaceada_1815_9001_submission.py", SOLUTION)
        z.writestr("turingalan_LATE_1912_9002_submission-1.py", SOLUTION)  # a late resubmission
        z.writestr("turingalan_LATE_1912_9002_helpers.py", "x = 1\n")
    moodle = tmp_path / "moodle.zip"
    with zipfile.ZipFile(moodle, "w") as z:
        z.writestr("Ada Lovelace_1815_assignsubmission_file_submission.py", SOLUTION)
        z.writestr("Alan Turing_1912_assignsubmission_file_/submission.py", SOLUTION)
    with expand([str(canvas), str(moodle)], "submission", exports=True) as batch:  # two downloads: asked for
        got = {i.id.split("/", 1)[1] if "/" in i.id else i.id: i for i in batch.items}
        names = {(i.id.rsplit("/", 1)[1], tuple((s.id, s.name) for s in i.students)) for i in batch.items}
        assert names == {("lovelaceada_1815", (("1815", "lovelaceada"),)), ("turingalan_1912", (("1912", "turingalan"),)),
                         ("Ada Lovelace_1815", (("1815", "Ada Lovelace"),)), ("Alan Turing_1912", (("1912", "Alan Turing"),))}
        turing = next(i for i in batch.items if i.id.endswith("turingalan_1912"))
        assert sorted(p.name for p in turing.path.iterdir()) == ["helpers.py", "submission.py"]
        assert len(got) == 4


@needs_report
def test_zips_never_write_outside_their_folder(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("assignment_1_export/submission_metadata.yml", "submission_1:\n  :submitters: []\n")
        z.writestr("assignment_1_export/submission_1/submission.py", SOLUTION)
        z.writestr("assignment_1_export/submission_1/../../../escaped.py", "x = 1\n")
        z.writestr("/abs.py", "x = 1\n")
        z.writestr("assignment_1_export\\submission_1\\..\\..\\..\\escaped_too.py", "x = 1\n")
        z.writestr("C:\\drive.py", "x = 1\n")
        link = zipfile.ZipInfo("assignment_1_export/submission_1/link.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "/etc/passwd")
    with expand([str(evil)], "submission") as batch:
        (item,) = batch.items
        assert sorted(p.name for p in item.path.iterdir()) == ["submission.py"]
        assert "5 zip member(s) not unpacked" in " ".join(batch.notes)
    assert not (tmp_path / "escaped.py").exists() and not (tmp_path / "escaped_too.py").exists()
    assert not Path("/abs.py").exists()


def test_a_deep_zip_member_is_left_out_and_a_deep_temporary_tree_is_removed(tmp_path):
    deep = tmp_path / "deep.zip"
    with zipfile.ZipFile(deep, "w") as z:
        z.writestr("assignment_1_export/submission_metadata.yml", "submission_1:\n  :submitters: []\n")
        z.writestr("assignment_1_export/submission_1/submission.py", SOLUTION)
        z.writestr("assignment_1_export/submission_1/" + "d/" * 1400 + "helper.py", "x = 1\n")
    with expand([str(deep)], "submission") as batch:
        (item,) = batch.items
        assert sorted(p.name for p in item.path.iterdir()) == ["submission.py"]
        assert "deeper than 32 folders" in " ".join(batch.notes)
    # a temporary tree nested past Python's recursion limit (as a Moodle folder could be) is still removed
    tree = tmp_path / "staged"
    os.makedirs(tree)
    fd = os.open(tree, os.O_RDONLY)
    for _ in range(1400):  # relative to an open folder: the path itself would pass PATH_MAX
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(old)
    os.close(fd)
    batch = Batch(_tmp=[str(tree)])
    batch.close()
    assert not tree.exists() and batch._tmp == []


def test_file_stems_are_unique_where_names_repeat():
    ids = ["class/a/submission.py", "class/b/submission.py", "class/a_submission.py", "class/a/submission_py",
           "x/\udcff.py", "x/\ud800.py", "-rf.py"]
    stems = [file_stem(i) for i in ids]
    assert len(set(stems)) == len(ids)
    assert all(s == s.encode("ascii").decode() and "/" not in s and not s.startswith(("-", ".")) for s in stems)
    assert stems[0].startswith("class_a_submission.py-") and stems[0] == file_stem(ids[0])  # stable


def test_a_folder_of_loose_files_is_one_submission_with_a_hint(tmp_path):
    for name in ("alice.py", "bob.py"):
        (tmp_path / name).write_text(SOLUTION)
    batch = expand([str(tmp_path)], "submission")
    assert len(batch.items) == 1 and f"pass {tmp_path}/*.py" in batch.notes[0]


@pytest.mark.skipif(os.name != "posix", reason="file names as bytes")
def test_non_utf8_file_names_give_ids_that_every_report_can_write(tmp_path):
    folder = tmp_path / "class"
    (folder / os.fsdecode(b"st\xffudent")).mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "solutions" / "canonical.py", folder / os.fsdecode(b"st\xffudent") / "submission.py")
    (item,) = expand([str(folder)], "submission").items
    assert item.id.endswith("st\udcffudent") and (item.path / "submission.py").exists()


# -- a batch as a hostile student shapes it ---------------------------------------------------------------------

FIELD_CAP, GROUP_CAP = 200, 20  # characters of a name, id or email; students in a group (docs/reports.md)
FORGED = "submission_1:\n  :submitters:\n  - :name: Ada Lovelace\n    :sid: '1815'\n"  # a classmate's id


def _class_with_forgeries(root: Path) -> Path:
    """A class folder: alice's own zip, and three hand-ins shaped as a Gradescope export (zipped, unpacked) and as an
    LMS download, each naming Ada's student id."""
    batch = root / "batch"
    batch.mkdir()
    with zipfile.ZipFile(batch / "alice.zip", "w") as z:
        z.writestr("submission.py", SOLUTION)
    with zipfile.ZipFile(batch / "mallory.zip", "w") as z:
        z.writestr("submission_metadata.yml", FORGED)
        z.writestr("submission_1/submission.py", "def backprop(*a):\n    return None\n")
    (batch / "trudy" / "submission_1").mkdir(parents=True)
    (batch / "trudy" / "submission_metadata.yml").write_text(FORGED)
    (batch / "trudy" / "submission_1" / "submission.py").write_text(SOLUTION)
    with zipfile.ZipFile(batch / "oscar.zip", "w") as z:
        z.writestr("lovelaceada_1815_9001_submission.py", SOLUTION)
    return batch


@needs_report
def test_a_hand_in_shaped_as_an_export_is_one_submission_among_several(tmp_path):
    batch = _class_with_forgeries(tmp_path)
    globbed = expand(sorted(str(p) for p in batch.iterdir()), "submission")  # bpcheck grade batch/*
    assert [i.id.rsplit("/", 1)[1] for i in globbed.items] == ["alice.zip", "mallory.zip", "oscar.zip", "trudy"]
    assert all(i.students == () and i.path is not None for i in globbed.items)  # nobody's id written by a student
    said = " ".join(globbed.notes)
    assert said.count("graded as one student's hand-in") == 3 and "--exports" in said
    whole = expand([str(batch)], "submission")  # the class folder: its members are hand-ins, never exports
    assert [i.id for i in whole.items] == [f"{batch}/{n}" for n in ("alice.zip", "mallory.zip", "oscar.zip", "trudy")]
    assert all(i.students == () for i in whole.items)
    with expand(sorted(str(p) for p in batch.iterdir()), "submission", exports=True) as asked:  # the instructor asked
        assert {s.id for i in asked.items for s in i.students} == {"1815"}


def test_an_lms_member_named_dotdot_costs_only_its_own_student(tmp_path):
    canvas = tmp_path / "canvas.zip"
    with zipfile.ZipFile(canvas, "w") as z:
        z.writestr("lovelaceada_1815_9001_submission.py", SOLUTION)
        z.writestr("mallory_666_9003_..", "x = 1\n")
        z.writestr("oscar_777_9004_a", "x = 1\n")  # a file where oscar's folder member below has a folder
        z.writestr("oscar_777_9005_b/a/submission.py", SOLUTION)
        z.writestr("turingalan_1912_9002_submission.py", SOLUTION)
        z.writestr("trudy_888_9006_c", "x = 1\n")
        z.writestr("trudy_888_9006_c/d.py", "x = 1\n")  # a folder where a file was unpacked: that member left out
    with expand([str(canvas)], "submission") as batch:
        by_student = {i.students[0].id: i for i in batch.items}
        assert sorted(by_student) == ["1815", "1912", "666", "777", "888"]
        for honest in ("1815", "1912"):
            assert (by_student[honest].path / "submission.py").read_text() == SOLUTION
        assert by_student["666"].path is None and by_student["666"].error
        assert by_student["777"].path is None and "could not be unpacked" in by_student["777"].error
        assert "mallory_666_9003_.." in " ".join(batch.notes) and "'..'" in " ".join(batch.notes)
        assert "trudy_888_9006_c/d.py" in " ".join(batch.notes)


def _metadata_export(tmp_path: Path, metadata: str) -> Path:
    out = tmp_path / "export.zip"
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("submission_metadata.yml", metadata)
        z.writestr("submission_1/submission.py", SOLUTION)
    return out


@needs_report
def test_metadata_takes_no_aliases_and_caps_every_field(tmp_path):
    laughs = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefg", "bcdefgh")]
    bomb = "\n".join(laughs) + "\nsubmission_1:\n  :submitters:\n  - :name: *h\n    :sid: '1'\n"
    assert len(bomb) < 600  # 9**8 strings once expanded
    with expand([str(_metadata_export(tmp_path, bomb))], "submission") as batch:
        (item,) = batch.items
        assert item.path is None and "aliases" in item.error and len(item.error) < 2000
    long = "x" * 100_000
    people = "".join(f"  - :name: {long}\n    :sid: '{n}{long}'\n    :email: {long}\n" for n in range(GROUP_CAP + 5))
    with expand([str(_metadata_export(tmp_path, f"submission_1:\n  :submitters:\n{people}? {long}\n: {{}}\n"))],
                "submission") as batch:
        (item,) = batch.items  # the 100,000-character folder name names no folder, and no row
        assert len(item.students) == GROUP_CAP
        assert all(len(f) <= FIELD_CAP for s in item.students for f in (s.id, s.name, s.email))


def _directory_bomb(members: int) -> bytes:
    """A zip whose central directory lists ``members`` one-letter entries and nothing else: 47 bytes each."""
    header = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0)
    directory = (header + b"a") * members
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), 0, 0)  # declares 1 member
    return directory + end


def test_a_zip_directory_bomb_is_refused_before_it_is_parsed(tmp_path):
    import tracemalloc

    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_directory_bomb(200_000))  # 9.4 MB: zipfile would build 200,000 objects (over 60 MB)
    tracemalloc.start()
    try:
        with expand([str(bomb)], "submission") as batch:
            (item,) = batch.items
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert item.path is None and "central directory" in item.error
    assert peak < 16 << 20, peak  # the directory read once (9.4 MB), never parsed
    hand_in = expand([str(bomb), str(tmp_path / "other.py")], "submission").items[0]  # a hand-in: the reader says why
    assert hand_in.path == bomb
