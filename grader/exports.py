"""A batch as instructors receive it → a list of submissions, each with a stable id and its students.

Accepted on the command line, in any mix:

- submission paths (``a.py``, ``student42/``, a single student's ``.zip``), passed through as they are;
- a class folder: no submission file at its top level, one sub-folder (or zip) per student;
- a Gradescope "Export Submissions" zip, or that zip unpacked: ``submission_metadata.yml`` beside one
  ``submission_NNN/`` folder per submission; the students' names and ids come from the metadata;
- an LMS download: a zip of files named by student (Canvas ``doejane_1234_5678_backprop.py``, Moodle
  ``Jane Doe_1234_assignsubmission_file_backprop.py``), one submission per student.

An export or LMS download is expanded only when it is the one path on the command line, or when the
instructor asks (``exports=True``, ``bpcheck grade --exports``); never inside a class folder, and never
when it is one of several paths (``bpcheck grade batch/*``): there, a student's own zip or folder that
looks like an export is that student's hand-in, graded as one, and a note says so.  Otherwise a
student could hand in a forged export and write rows under classmates' ids.

Every submission's id is derived from its path as given (``class/alice``, ``export.zip/submission_123``):
unique in the batch, the same on every run, and the key of every report.  Zips are unpacked into a
temporary folder (no links, no paths out of it, bounded sizes) that lives as long as the ``Batch``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Optional, Sequence

from . import untrusted

SUBMISSION_SUFFIXES = (".py", ".ipynb")
METADATA = "submission_metadata.yml"
MAX_MEMBERS = 20000
MAX_MEMBER_BYTES = 16 << 20
MAX_ZIP_BYTES = 1 << 30
MAX_MEMBER_DEPTH = 32  # folders: a submission's own files are read 12 deep at most, plus the export's wrappers
MAX_METADATA_BYTES = 32 << 20
MAX_FIELD_CHARS = 200  # a student's name, id or email as read from the metadata
MAX_SUBMITTERS = 20  # students in one group submission
MAX_FOLDER_CHARS = 255  # a submission folder's name (no file system holds a longer one)
GRADESCOPE, LMS = "a Gradescope export", "an LMS download"  # what an input is, in the notes' words

CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sub>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>[^/]+?)_(?P<uid>\d+)_assignsubmission_[a-z]+_(?P<file>.*)$")


@dataclass(frozen=True)
class Student:
    id: str = ""
    name: str = ""
    email: str = ""

    def as_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "email": self.email}


@dataclass
class Item:
    """One submission of the batch: ``path`` is what the grader reads; ``error`` says why there is nothing to read."""

    id: str
    path: Optional[Path]
    students: tuple[Student, ...] = ()
    error: str = ""


@dataclass
class Batch:
    items: list[Item] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _tmp: list[str] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for d in self._tmp:
            try:
                untrusted.remove_tree(d)  # flat: an uploaded zip's folders may nest thousands deep
            except OSError:
                pass  # a temporary folder left behind must not lose the batch's results
        self._tmp.clear()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _id(arg: str) -> str:
    return PurePosixPath(os.path.normpath(arg).replace(os.sep, "/")).as_posix()


def expand(args: Sequence[str], module: str, single: bool = False,
           is_submission: Optional[Callable[[Path], bool]] = None, exports: Optional[bool] = None) -> Batch:
    """The submissions that ``args`` name; a missing or unreadable input is an item with an ``error``, never an abort.

    ``single``: each argument is one submission as it is (an autograder's submission folder), never a class.
    ``is_submission``: whether a folder or zip holds a submission (defines the entry point somewhere); with it, a
    folder whose code sits in sub-folders (``cs231n/classifiers/neural_net.py``, ``ex2/`` beside ``ex4/``) is one
    submission unless two of its sub-folders, or every one of them, are submissions.
    ``exports``: whether Gradescope exports and LMS downloads among ``args`` are expanded; None (the default) expands
    one only when it is the one argument, since among several paths it may be a student's own hand-in.
    """
    batch = Batch()
    seen: set[str] = set()
    expand_exports = len(args) == 1 if exports is None else exports
    for arg in args:
        try:
            if single:
                found = [Item(_id(arg), Path(arg)) if os.path.lexists(arg) else Item(_id(arg), None, (), f"not found: {arg}")]
            else:
                found = _expand_one(arg, module, batch, is_submission, expand_exports)
        except (OSError, zipfile.BadZipFile, ValueError, RecursionError, untrusted.Refused) as exc:
            found = [Item(_id(arg), None, (), f"cannot read {arg}: {exc}")]
        for item in found:
            if item.id in seen:
                batch.notes.append(f"{item.id} was given more than once; graded once")
                continue
            seen.add(item.id)
            batch.items.append(item)
    return batch


def _expand_one(arg: str, module: str, batch: Batch, is_submission: Optional[Callable[[Path], bool]] = None,
                expand_exports: bool = True) -> list[Item]:
    path, sid = Path(arg), _id(arg)
    if not os.path.lexists(path):
        return [Item(sid, None, (), f"not found: {arg}")]
    if path.is_file() and path.suffix.lower() == ".zip":
        return _expand_zip(path, sid, batch, expand_exports)
    if path.is_dir() and not path.is_symlink():
        kind = _export_kind(path)
        if kind and not expand_exports:
            batch.notes.append(_not_expanded(sid, kind))
            return [Item(sid, path)]
        if kind == GRADESCOPE:
            return _gradescope(sid, path, batch)
        if kind == LMS:
            return _lms(sid, path, batch)
        names = [p.name for p in path.iterdir()]
        members = _class_members(path, is_submission)
        if members:
            batch.notes.append(f"{sid}/ holds {len(members)} submissions (no submission file at its top level): "
                               f"each sub-folder is graded as one (pass {sid}/* to say so explicitly)")
            return [Item(f"{sid}/{m.name}", m) for m in members]
        loose = sorted(n for n in names if n.endswith(".py"))
        if len(loose) > 1 and f"{module}.py" not in loose:
            batch.notes.append(f"{sid}/ holds {len(loose)} .py files and no {module}.py: graded as one submission; "
                               f"if each file is a different student's, pass {sid}/*.py")
    return [Item(sid, path)]


def _not_expanded(sid: str, kind: str) -> str:
    return (f"{sid} looks like {kind}, but it is one of several paths given: graded as one student's hand-in "
            f"(an export is expanded only when it is the one path given, or with --exports)")


def _expand_zip(path: Path, sid: str, batch: Batch, expand_exports: bool) -> list[Item]:
    """A zip given on the command line: an export or LMS download expanded, when allowed; else one hand-in."""
    with open(path, "rb") as fh:
        try:
            untrusted.check_zip_directory(fh, MAX_MEMBERS)  # before zipfile builds an object per member
        except untrusted.ZipRefused as exc:
            if not expand_exports:
                return [Item(sid, path)]  # a hand-in: reading it says what is wrong, as the student's error
            raise ValueError(str(exc)) from None
        with zipfile.ZipFile(fh) as zf:
            names = [i.filename for i in zf.infolist()]
            kind = GRADESCOPE if _metadata_name(names) is not None else LMS if _lms_groups(names) else ""
            if kind and not expand_exports:
                batch.notes.append(_not_expanded(sid, kind))
            elif kind == GRADESCOPE:
                return _gradescope(sid, _unpack(zf, batch), batch)
            elif kind == LMS:
                return _lms(sid, _unpack(zf, batch), batch)
    return [Item(sid, path)]


def _export_kind(path: Path) -> str:
    """Whether a folder is an unpacked Gradescope export (its metadata at the top, or in its one sub-folder), an
    unpacked LMS download, or neither (""): a class folder holding a student's export-like folder is neither."""
    if (path / METADATA).is_file():
        return GRADESCOPE
    entries = [p for p in path.iterdir() if not p.name.startswith((".", "__"))]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink() and (entries[0] / METADATA).is_file():
        return GRADESCOPE
    return LMS if _lms_groups([p.name for p in entries]) else ""


def _class_members(path: Path, is_submission: Optional[Callable[[Path], bool]] = None) -> list[Path]:
    """The sub-folders and zips of a folder that has no submission file at its top level; else [].

    With ``is_submission``, only when at least two members are submissions, or every member is and none is a
    Python package, regular or namespace (a package is a submission's code, not a student's folder).
    """
    entries = sorted((p for p in path.iterdir() if not p.name.startswith((".", "__"))), key=lambda p: p.name)
    if any(p.is_file() and p.suffix.lower() in SUBMISSION_SUFFIXES for p in entries):
        return []
    members = [p for p in entries if (p.is_dir() and not p.is_symlink()) or (p.is_file() and p.suffix.lower() == ".zip")]
    if is_submission is None or not members:
        return members
    packages = [m for m in members if m.is_dir() and _is_package(m)]
    found = 0
    for m in members:  # each test reads a member's files: two submissions settle it
        if m not in packages and is_submission(m):
            found += 1
            if found == 2:
                return members
    return members if found == len(members) and not packages else []


PACKAGE_SCAN_FILES = 200  # .py files read to tell a package from a student's folder: a package shows it in its first few
PACKAGE_SCAN_BYTES = 64 << 10


def _is_package(folder: Path) -> bool:
    """Whether a folder is a Python package, a submission's code rather than a student's folder: it has an
    ``__init__.py``, or (a namespace package, as Python 3 imports one) its files import it by name, or relatively
    from within it (``from ..layers import`` in cs231n/classifiers/ reaches cs231n/, never the folder above it)."""
    if (folder / "__init__.py").is_file():
        return True
    if not folder.name.isidentifier():
        return False
    by_name = re.compile(rb"^[ \t]*(?:from|import)[ \t]+" + re.escape(folder.name.encode()) + rb"\b", re.M)
    relative = re.compile(rb"^[ \t]*from[ \t]+(\.+)", re.M)
    files = ((root, n) for root, _, names in os.walk(folder) for n in sorted(names) if n.endswith(".py"))
    regular = ((r, n) for r, n in files if stat.S_ISREG(os.lstat(os.path.join(r, n)).st_mode))  # no link, no FIFO
    for root, name in itertools.islice(regular, PACKAGE_SCAN_FILES):
        depth = len(Path(root).relative_to(folder).parts)  # folders between ``folder`` and the file
        with open(os.path.join(root, name), "rb") as fh:
            text = fh.read(PACKAGE_SCAN_BYTES)
        if by_name.search(text) or any(len(dots) > depth for dots in relative.findall(text)):
            return True
    return False


# -- zips ------------------------------------------------------------------------------------------------


def _unpack(zf: zipfile.ZipFile, batch: Batch) -> Path:
    """The zip's regular files under a fresh temporary folder; links, paths out of it and oversized members are left out."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ValueError(f"{len(infos)} members; at most {MAX_MEMBERS} are read")
    root = Path(tempfile.mkdtemp(prefix="bpcheck-batch-"))
    batch._tmp.append(str(root))
    total, skipped = 0, []
    for info in infos:
        mode = info.external_attr >> 16
        parts = untrusted.zip_member_parts(info.filename)
        if info.is_dir() or not parts or stat.S_IFMT(mode) not in (0, stat.S_IFREG):  # links, devices, FIFOs
            if not info.is_dir():
                skipped.append(info.filename)
            continue
        too_big = info.file_size > MAX_MEMBER_BYTES or total + info.file_size > MAX_ZIP_BYTES
        if too_big or len(parts) > MAX_MEMBER_DEPTH:
            skipped.append(info.filename)
            continue
        total += info.file_size
        target = root.joinpath(*parts)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                dst.write(src.read(MAX_MEMBER_BYTES + 1)[:MAX_MEMBER_BYTES])
        except (OSError, zipfile.BadZipFile, NotImplementedError, EOFError):  # a file where a folder is, a bad member
            skipped.append(info.filename)
    if skipped:
        batch.notes.append(f"{len(skipped)} zip member(s) not unpacked (links, special files, paths outside the zip, "
                           f"over {MAX_MEMBER_BYTES >> 20} MiB, deeper than {MAX_MEMBER_DEPTH} folders, or unreadable): "
                           f"{', '.join(skipped[:5])}")
    return root


def _metadata_name(names: Sequence[str]) -> Optional[str]:
    """The export's metadata member: at the zip's top, or in the one folder that holds every member unpacked."""
    safe = [parts for n in names if (parts := untrusted.zip_member_parts(n))]
    tops = {parts[0] for parts in safe if not parts[0].startswith(("__MACOSX", "."))}
    for n in names:
        parts = PurePosixPath(n).parts
        if parts and parts[-1] == METADATA and (len(parts) == 1 or (len(parts) == 2 and tops == {parts[0]})):
            return n
    return None


# -- Gradescope "Export Submissions" -----------------------------------------------------------------------


def _yaml_loader():
    try:
        import yaml
    except ImportError:  # pragma: no cover - the report extra installs it
        raise ValueError(f"reading {METADATA} needs PyYAML: pip install 'bpcheck[report]'") from None

    class Loader(yaml.SafeLoader):
        """Safe loading, with Ruby's tags (``!ruby/hash:...``) read as the plain mappings they hold, and no anchors or
        aliases: Gradescope writes none, and 400 bytes of nested aliases expand to megabytes (a "billion laughs")."""

        def compose_node(self, parent, index):
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                raise yaml.composer.ComposerError(None, None, "anchors and aliases (&, *) are not accepted here",
                                                  event.start_mark)
            return super().compose_node(parent, index)

    def plain(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)

    Loader.add_multi_constructor("!", plain)
    return yaml, Loader


def _field(value: Any) -> str:
    """A name, id or email from the metadata: text, at most ``MAX_FIELD_CHARS`` characters."""
    text = "" if value is None or isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS - 1] + "…"


def read_metadata(path: Path) -> dict[str, tuple[Student, ...]]:
    """Gradescope's submission_metadata.yml: submission folder name → its submitters (names, ids and emails capped)."""
    if path.stat().st_size > MAX_METADATA_BYTES:
        raise ValueError(f"{path.name} is over {MAX_METADATA_BYTES >> 20} MiB")
    yaml, Loader = _yaml_loader()
    try:
        raw = yaml.load(path.read_bytes().decode("utf-8", errors="replace"), Loader=Loader)
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path.name} is nested too deeply to be Gradescope's metadata") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: expected a mapping of submission folders, got {type(raw).__name__}")
    if len(raw) > MAX_MEMBERS:
        raise ValueError(f"{path.name} lists {len(raw)} submissions; at most {MAX_MEMBERS} are read")

    def get(d: Any, key: str) -> Any:
        return d.get(f":{key}", d.get(key)) if isinstance(d, dict) else None

    out = {}
    for folder, entry in raw.items():
        folder = str(folder)
        if len(folder) > MAX_FOLDER_CHARS or "/" in folder:
            continue  # no submission folder can have this name: nothing to grade, and no id to write
        people = get(entry, "submitters")
        people = people[:MAX_SUBMITTERS] if isinstance(people, list) else []
        out[folder] = tuple(Student(_field(get(p, "sid")), _field(get(p, "name")), _field(get(p, "email")))
                            for p in people if isinstance(p, dict))
    return out


def _gradescope(sid: str, root: Path, batch: Batch) -> list[Item]:
    base = root if (root / METADATA).is_file() else next(
        p for p in root.iterdir() if not p.name.startswith((".", "__")) and (p / METADATA).is_file())
    metadata = read_metadata(base / METADATA)
    prefix = sid if base == root else f"{sid}/{base.name}"
    folders = sorted(p.name for p in base.iterdir() if p.is_dir() and not p.is_symlink())
    items = [Item(f"{prefix}/{name}", base / name, metadata.get(name, ())) for name in folders]
    missing = sorted(set(metadata) - set(folders))
    items += [Item(f"{prefix}/{name}", None, metadata[name], f"listed in {METADATA} but its folder is not in the export")
              for name in missing]
    batch.notes.append(f"{sid}: Gradescope export, {len(folders)} submissions, names and ids from {METADATA}")
    return sorted(items, key=lambda i: i.id)


# -- LMS downloads (Canvas, Moodle) ------------------------------------------------------------------------


def _lms_match(name: str) -> Optional[tuple[str, Student, str]]:
    """(group key, student, original file name) for a file named by the LMS, else None."""
    m = MOODLE.match(name)
    if m:
        return f"{m['name']}_{m['uid']}", Student(m["uid"], m["name"]), m["file"]
    m = CANVAS.match(name)
    if m:
        original = re.sub(r"-\d+(\.[A-Za-z0-9]+)$", r"\1", m["file"])  # Canvas marks resubmissions file-1.py
        return f"{m['name']}_{m['uid']}", Student(m["uid"], m["name"]), original
    return None


def _lms_groups(names: Sequence[str]) -> bool:
    top = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts}
    top = {t for t in top if not t.startswith((".", "__"))}
    return bool(top) and all(_lms_match(t) for t in top)


def _lms(sid: str, root: Path, batch: Batch) -> list[Item]:
    """One folder per student, holding their files under their original names; a member that cannot be staged
    costs its own student a result that says why, never the download."""
    staged = Path(tempfile.mkdtemp(prefix="bpcheck-lms-"))
    batch._tmp.append(str(staged))
    students: dict[str, Student] = {}
    failed: dict[str, str] = {}
    skipped = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        match = _lms_match(entry.name)
        if match is None or entry.is_symlink():
            continue
        key, student, original = match
        students[key] = student
        if original in (".", "..") or "/" in original or "\\" in original:
            skipped.append(entry.name)  # a name that would land outside the student's folder
            continue
        try:
            _stage(entry, staged / key, original)
        except (OSError, shutil.Error) as exc:
            failed[key] = f"{entry.name} could not be unpacked: {exc}"
    if skipped:
        batch.notes.append(f"{sid}: {len(skipped)} member(s) skipped, named '.' or '..' after the student's prefix: "
                           f"{', '.join(skipped[:5])}")
    batch.notes.append(f"{sid}: LMS download, {len(students)} students (files named by student)")
    return [Item(f"{sid}/{key}", None, (students[key],), failed[key]) if key in failed else
            Item(f"{sid}/{key}", staged / key, (students[key],)) if (staged / key).is_dir() else
            Item(f"{sid}/{key}", None, (students[key],), "nothing of theirs could be unpacked (see the notes)")
            for key in sorted(students)]


def _stage(entry: Path, dest: Path, original: str) -> None:
    """One LMS member into its student's folder: a file under its original name, or a folder's contents."""
    dest.mkdir(exist_ok=True)
    if entry.is_dir():  # Moodle's "download submissions in folders"
        shutil.copytree(entry, dest, dirs_exist_ok=True, symlinks=True)
    elif original:
        shutil.copyfile(entry, dest / original)
