"""Submissions as students hand them in: a .py file, a Jupyter notebook, a folder at any depth, or a zip of one.

Collection runs in the grader's own process (often as root) on files nobody has checked.  A folder
is read by ``untrusted.read_tree``: every open relative to an open folder with O_NOFOLLOW, a link or
special file refused by name, each file's size checked before it is read, files, depth and bytes
capped (a link given on the command line as the submission itself is resolved once; nothing inside
it is).  A zip is read in memory under the same caps: no absolute or ``..`` member path, no link
member, and no member read past its cap whatever its header declares.  Notebooks keep their code
cells only (outputs are dropped unread).

The file that defines the entry point is found by parsing (never running) every Python file.  A
driver script that only imports the entry point is never loaded.  Of the file itself only what
the entry point needs is run (``Submission.statements``): top-level training loops, plots and
data loading after the definition are skipped; notebooks run only the statements the entry point
depends on, and the cells they come from are reported.
"""

from __future__ import annotations

import ast
import bisect
import difflib
import io
import json
import os
import re
import stat
import symtable
import threading
import tokenize
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Optional, Sequence

from . import untrusted

MAX_ENTRIES = 5000  # members of a zip
MAX_FILES = 200  # .py and .ipynb files kept
MAX_DEPTH = 12
MAX_PY_BYTES = 1 << 20
MAX_NOTEBOOK_BYTES = 16 << 20  # notebooks carry outputs (images): their code is bounded separately, below
MAX_CODE_BYTES = 1 << 20  # the code of one notebook, outputs stripped
MAX_TOTAL_BYTES = 64 << 20  # everything read from one submission
MAX_ZIP_BYTES = 64 << 20
SKIP_DIRS = {"__pycache__", "__MACOSX"}  # skipped in zips, as hidden entries are (read_tree skips them in folders)
NOTEBOOK_SUFFIX = ".ipynb.py"  # a notebook's code cells, as the module the runner loads


class SubmissionError(Exception):
    """The submission cannot be run at all (its files, its syntax, its entry point)."""

    def __init__(self, message: str, kind: str = ""):
        super().__init__(message)
        self.kind = kind  # "python2" for Python 2 code, else ""


@dataclass
class Notebook:
    """A notebook's code cells as one module: ``cells`` maps generated line ranges to code-cell numbers."""

    source: str
    cells: list[tuple[int, int, int]]  # (first line, last line, code cell number), generated lines, 1-based
    unparsed: dict[int, str] = field(default_factory=dict)  # code cell number -> its SyntaxError
    _firsts: list[int] = field(default_factory=list, repr=False, compare=False)  # each cell's first line, for cell_of

    def cell_of(self, line: int) -> Optional[tuple[int, int]]:
        """(code cell number, line in it) of a generated line: a binary search, as the notebook's cells are in order
        (a scan per line made a notebook of many cells quadratic: 15,000 cells took 25 s)."""
        if len(self._firsts) != len(self.cells):
            self._firsts = [first for first, _, _ in self.cells]
        at = bisect.bisect_right(self._firsts, line) - 1
        if at < 0:
            return None
        first, last, number = self.cells[at]
        return (number, line - first + 1) if line <= last else None


@dataclass
class Submission:
    path: Path
    files: dict[str, bytes]  # what the sandbox receives: relative path -> bytes
    main: str  # relative path of the file that defines the entry point
    module: str  # the name it is loaded as
    sys_path: list[str]  # folders (relative) searched for its imports, first first
    statements: Optional[dict[str, str]]  # top-level statement line -> "run" | "tolerate"; absent lines are skipped
    notebooks: dict[str, Notebook] = field(default_factory=dict)  # generated module -> its notebook
    notes: list[str] = field(default_factory=list)
    cells_used: str = ""  # for a notebook: "hw.ipynb: ran code cells 2, 5"

    @property
    def shown(self) -> str:
        """The student's own name for the main file."""
        return self.main[: -len(".py")] if self.main.endswith(NOTEBOOK_SUFFIX) else self.main

    def where(self, rel: Optional[str], line: Optional[int]) -> str:
        """A place in the student's own files: ``neural_net.py:23`` or ``ex4.ipynb, code cell 7, line 3``."""
        if not rel:
            return ""
        nb = self.notebooks.get(rel)
        if nb is not None and line:
            cell = nb.cell_of(int(line))
            name = rel[: -len(".py")]
            return f"{name}, code cell {cell[0]}, line {cell[1]}" if cell else name
        return f"{rel}:{line}" if line else rel


# --- reading files safely -------------------------------------------------------------------------------------


def _wanted(name: str) -> bool:
    return name.endswith((".py", ".ipynb"))


def _cap(name: str) -> int:
    """The most bytes accepted of one file: code is capped tighter than notebooks (which carry their outputs)."""
    return MAX_ZIP_BYTES if name.endswith(".zip") else MAX_NOTEBOOK_BYTES if name.endswith(".ipynb") else MAX_PY_BYTES


def _read_zip(data: bytes, shown: str, notes: list[str]) -> dict[str, bytes]:
    """The .py and .ipynb members of a zip, each bounded whatever its header says; unsafe paths and links refused."""
    try:
        buf = io.BytesIO(data)
        untrusted.check_zip_directory(buf, MAX_ENTRIES)  # before zipfile builds an object per member
        zf = zipfile.ZipFile(buf)
        infos = zf.infolist()
    except untrusted.ZipRefused as exc:
        raise SubmissionError(f"{shown}: {exc}") from None
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError) as exc:
        raise SubmissionError(f"{shown}: not a readable zip ({exc})") from None
    files: dict[str, bytes] = {}
    total = 0
    for info in infos:
        parts = untrusted.zip_member_parts(info.filename)
        if parts is None:
            raise SubmissionError(f"{shown}: member {info.filename!r} has an unsafe path (absolute, with a drive, or with ..)")
        name = "/".join(parts)
        if info.is_dir() or not _wanted(name) or any(p in SKIP_DIRS or p.startswith(".") for p in parts):
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            raise SubmissionError(f"{shown}: {name} is a symbolic link; links are never followed: hand in the file itself")
        if len(parts) > MAX_DEPTH + 1:
            notes.append(f"ignored {name} in {shown}: deeper than {MAX_DEPTH} folders")
            continue
        cap = _cap(name)
        if info.file_size > cap:
            raise SubmissionError(f"{shown}: {name} is {info.file_size} bytes; at most {cap} are accepted")
        if len(files) >= MAX_FILES:
            raise SubmissionError(f"{shown}: more than {MAX_FILES} .py/.ipynb files")
        try:
            with zf.open(info) as fh:
                content = fh.read(cap + 1)  # never more than the cap, whatever the header declared
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
            raise SubmissionError(f"{shown}: cannot read {name} ({exc})") from None
        if len(content) > cap:
            raise SubmissionError(f"{shown}: {name} expands past {cap} bytes")
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            raise SubmissionError(f"{shown}: its files add up to more than {MAX_TOTAL_BYTES} bytes")
        files[name] = content
    return files


def read_files(path: Path, notes: list[str]) -> tuple[dict[str, bytes], bool]:
    """The submission's .py/.ipynb files by relative path, and whether it is a single file.

    A link anywhere a file or folder would be read is refused, naming it (``untrusted.read_tree``); the path given
    on the command line may itself be a link, resolved once here.
    """
    real = Path(os.path.realpath(path))
    try:
        st = os.stat(real)
    except OSError:
        raise SubmissionError(f"not found: {path}") from None
    try:
        if stat.S_ISDIR(st.st_mode):
            files = untrusted.read_tree(str(real), _wanted, max_files=MAX_FILES, file_cap=_cap,
                                        max_total_bytes=MAX_TOTAL_BYTES, max_depth=MAX_DEPTH)
            if not files:
                raise SubmissionError(f"no .py or .ipynb file in the folder {path}")
            return files, False
        if not stat.S_ISREG(st.st_mode):
            raise SubmissionError(f"{path}: not a regular file or a folder")
        name = real.name
        if not (_wanted(name) or name.endswith(".zip")):
            raise SubmissionError(f"expected a .py file, a .ipynb notebook, a .zip or a folder; got {Path(path).name}")
        cap = _cap(name)
        if st.st_size > cap:
            raise SubmissionError(f"{Path(path).name} is {st.st_size} bytes; at most {cap} are accepted")
        with untrusted.open_dir(str(real.parent)) as d:
            data = untrusted.read_regular(name, cap, d)
    except untrusted.Refused as exc:
        raise SubmissionError(str(exc)) from None
    if name.endswith(".zip"):
        files = _read_zip(data, Path(path).name, notes)
        if not files:
            raise SubmissionError(f"no .py or .ipynb file in the zip {path}")
        return files, False
    return {Path(path).name: data}, True


# --- notebooks ----------------------------------------------------------------------------------------------------

_CELL_MAGICS_WITH_PYTHON = {"time", "timeit", "capture", "prun"}
_SHELL_ASSIGN = re.compile(r"^\s*[\w.,\s\[\]]+=\s*[!%]")


def _clean_line(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith(("%", "!")) or _SHELL_ASSIGN.match(line) or (stripped.endswith("?") and not stripped.startswith("#")):
        return line[: len(line) - len(stripped)] + "pass"
    return line


def _commented(line: str) -> str:
    """A line that is not run, as a comment that always parses: a NUL byte or a lone surrogate escaped."""
    return "# " + line.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def notebook(data: bytes, shown: str) -> Notebook:
    """A notebook's code cells as one module: IPython magics and shell lines become ``pass``, outputs are dropped."""
    import nbformat

    try:
        raw = json.loads(data.decode("utf-8"))
        nb = nbformat.convert(nbformat.from_dict(raw), 4) if raw.get("nbformat", 4) != 4 else nbformat.from_dict(raw)
        # a cell that is not a table, or a source list holding anything but strings, is a malformed notebook too
        sources = [_source(cell) for cell in nb["cells"] if cell.get("cell_type") == "code"]
    except (RecursionError, MemoryError) as exc:  # JSON nested thousands deep: the notebook's fault, not the machine's
        raise SubmissionError(f"{shown}: not a readable Jupyter notebook ({type(exc).__name__}: nested too deeply)") from None
    except Exception as exc:  # whatever nbformat raises on a malformed notebook: the notebook's fault, said as such
        raise SubmissionError(f"{shown}: not a readable Jupyter notebook ({type(exc).__name__}: {str(exc)[:200]})") from None
    lines: list[str] = []
    spans: list[tuple[int, int, int]] = []
    unparsed: dict[int, str] = {}
    size = 0  # bytes of the module so far, kept as it grows: summing every line again per cell is quadratic
    for number, src in enumerate(sources, 1):
        body = src.splitlines()
        if body and body[0].lstrip().startswith("%%"):
            magic = body[0].lstrip()[2:].split()[0] if body[0].lstrip()[2:].split() else ""
            body = ["pass"] + body[1:] if magic in _CELL_MAGICS_WITH_PYTHON else [_commented(b) for b in body]
        body = [_clean_line(b) for b in body]
        text = "\n".join(body)
        try:
            parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            unparsed[number] = f"{type(exc).__name__}: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})"
            body = [_commented(b) for b in body]
        lines.append(f"# --- code cell {number} ---")
        first = len(lines) + 1
        lines.extend(body)
        spans.append((first, len(lines), number))
        size += sum(len(line) + 1 for line in lines[first - 2:])
        if size > MAX_CODE_BYTES:
            raise SubmissionError(f"{shown}: more than {MAX_CODE_BYTES} bytes of code")
    return Notebook("\n".join(lines) + "\n", spans, unparsed)


# --- the entry point, and what it needs --------------------------------------------------------------------------


def _bound(node: ast.AST) -> set[str]:
    """Names a top-level statement binds at module level (not inside functions or classes)."""
    out: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
            out.add(child.id)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
            out |= _bound(child)
        elif not isinstance(child, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
            out |= _bound(child)
    return out


def _touched(node: ast.AST) -> set[str]:
    """Names whose attributes or items a top-level statement assigns (Network.backprop = f, CACHE[k] = v)."""
    out: set[str] = set()
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else []
    for t in targets:
        while isinstance(t, (ast.Attribute, ast.Subscript)):
            t = t.value
            if isinstance(t, ast.Name):
                out.add(t.id)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name) \
            and node.value.func.id == "setattr" and node.value.args and isinstance(node.value.args[0], ast.Name):
        out.add(node.value.args[0].id)
    return out


_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # lines as ast splits them: \r\n, \r or \n


def _segment(lines: list[str], node: ast.stmt) -> str:
    """``ast.get_source_segment`` over lines split once: it splits the whole source again at every call, which made
    planning a file quadratic in its length (a 250 KB file took 90 s)."""
    first, last = node.lineno - 1, node.end_lineno - 1
    if first == last:
        return lines[first].encode()[node.col_offset:node.end_col_offset].decode()
    return (lines[first].encode()[node.col_offset:].decode() + "".join(lines[first + 1:last])
            + lines[last].encode()[:node.end_col_offset].decode())


def _used(node: ast.stmt, lines: list[str]) -> set[str]:
    """The global names a top-level statement refers to: a function's parameters and locals are not among them."""
    text = _segment(lines, node) or ast.unparse(node)
    try:
        table = symtable.symtable(text, "<statement>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    names: set[str] = set()
    stack = [(table, True)]
    while stack:
        t, top = stack.pop()
        for sym in t.get_symbols():
            if (top and sym.is_referenced()) or (not top and sym.is_global() and (sym.is_referenced() or sym.is_assigned())):
                names.add(sym.get_name())
        stack.extend((child, False) for child in t.get_children())
    return names


def defined_names(tree: ast.Module) -> dict[str, int]:
    """Top-level names a module defines by def, class or assignment, with the line of their first definition."""
    out: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)):
            for name in _bound(node):
                out.setdefault(name, node.lineno)
    return out


def plan(tree: ast.Module, source: str, roots: set[str], notebook_mode: bool) -> dict[str, str]:
    """Which top-level statements to run: those the entry point needs ("run"); in a .py file, also the other
    statements before its definition, whose failure is only noted ("tolerate").  The rest is driver code."""
    body = tree.body
    lines = _LINES.findall(source)
    used = [_used(s, lines) for s in body]
    bound = [_bound(s) for s in body]
    by_name: dict[str, list[int]] = {}  # a name -> the statements that bind or modify it
    for i, s in enumerate(body):
        for name in bound[i] | _touched(s):
            by_name.setdefault(name, []).append(i)
    pending = [i for i, s in enumerate(body)
               if isinstance(s, ast.ImportFrom) and (s.module == "__future__" or any(a.name == "*" for a in s.names))]
    names: set[str] = set()
    needed: set[int] = set()

    def need(new: set[str]) -> None:
        for name in new - names:
            names.add(name)
            pending.extend(by_name.get(name, ()))

    need(roots)
    while pending:  # a worklist: each statement and each name is taken once, so planning stays linear
        i = pending.pop()
        if i not in needed:
            needed.add(i)
            need(used[i])
    first = min((s.lineno for s, b in zip(body, bound) if b & roots), default=None)
    out = {}
    for i, s in enumerate(body):
        if i in needed:
            out[str(s.lineno)] = "run"
        elif not notebook_mode and first is not None and s.lineno < first:
            out[str(s.lineno)] = "tolerate"
    return out


#: Python 2 constructs, matched against the line Python 3 could not parse (never against the whole file:
#: backquotes in a docstring or a "print x" in a comment mark nothing).
_PY2 = [
    (re.compile(r"^\s*print\b\s*[^\s(=.]"), "a print statement"),
    (re.compile(r"^\s*print\s*$"), "a print statement"),
    (re.compile(r"^\s*except\s+[\w.]+\s*,\s*\w+\s*:"), "except E, e:"),
    (re.compile(r"^\s*raise\s+[\w.]+\s*,"), "raise E, \"message\""),
    (re.compile(r"^\s*exec\s+[\"'\w]"), "an exec statement"),
    (re.compile(r"`[^`]+`"), "backquotes"),
    (re.compile(r"<>"), "the <> operator"),
    (re.compile(r"\b[uU][rR][\"']"), "a ur'' string"),
]


def python2(exc: SyntaxError) -> Optional[str]:
    """What marks the line Python 3 could not parse as Python 2, if anything does."""
    text, msg = exc.text or "", str(exc.msg)
    if "Missing parentheses in call to 'print'" in msg or "Missing parentheses in call to 'exec'" in msg:
        return f"{'a print' if 'print' in msg else 'an exec'} statement at line {exc.lineno}"
    if "leading zeros in decimal integer literals" in msg:
        return f"an octal literal like 0777 at line {exc.lineno}"
    for pattern, what in _PY2:
        if pattern.search(text):
            return f"{what} at line {exc.lineno}"
    return None


def syntax_error(shown: str, exc: BaseException) -> SubmissionError:
    if not isinstance(exc, SyntaxError):  # RecursionError, MemoryError; a NUL byte is a ValueError on Python 3.10
        why = "too deeply nested" if isinstance(exc, (RecursionError, MemoryError)) else str(exc)[:200]
        return SubmissionError(f"{shown} cannot be compiled ({type(exc).__name__}: {why})")
    where = f"{shown} line {exc.lineno}" if exc.lineno else shown  # a NUL byte's SyntaxError has no line
    py2 = python2(exc)
    if py2:
        return SubmissionError(
            f"SyntaxError in {where}: this is Python 2 code ({py2}); bpcheck runs Python 3. "
            "Port it: print(...) as a function, range for xrange, 'except E as e', items() for iteritems(); "
            f"'futurize --stage1 -w {Path(shown).name}' (pip install future) does most of it", "python2")
    return SubmissionError(f"SyntaxError in {where}: {exc.msg}")


@dataclass
class _Candidate:
    rel: str  # the file the sandbox loads (a notebook's generated module)
    shown: str
    source: str
    tree: Optional[ast.Module]
    error: Optional[BaseException]
    notebook: Optional[Notebook]


# Python 3.11 keeps the AST builder's recursion depth in one shared place (CPython gh-106905): two threads parsing at
# once (grade_batch's --jobs) fail with a spurious "SystemError: AST constructor recursion depth mismatch".
_PARSING = threading.Lock()


def parse(source: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, one thread at a time."""
    with _PARSING:
        return ast.parse(source, filename=filename)


def _parse(rel: str, data: bytes) -> _Candidate:
    shown, nb = rel, None
    if rel.endswith(".ipynb"):
        nb = notebook(data, rel)
        rel, source = rel + ".py", nb.source  # the generated module the sandbox loads
    else:
        try:
            encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
            source = data.decode(encoding, errors="replace")
        except (SyntaxError, LookupError):  # an unknown coding cookie
            source = data.decode("utf-8", errors="replace")
    try:
        return _Candidate(rel, shown, source, parse(source, filename=rel), None, nb)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return _Candidate(rel, shown, source, None, exc, nb)


def mentions_entry(path: Path, forms: Sequence[Sequence[tuple[str, ...]]]) -> bool:
    """Whether a folder or zip holds a file that defines (or, in Python 2 or broken code, seems to define) the entry
    point: what tells a student's folder from a helper folder when a class folder is expanded."""
    names = {n for groups in forms for g in groups for n in g}
    pattern = re.compile(rb"\b(?:def|class)\s+(?:" + b"|".join(re.escape(n.encode()) for n in sorted(names)) + rb")\b")
    try:
        files, _ = read_files(path, [])
    except SubmissionError:
        return False
    return any(pattern.search(data) for data in files.values())


def collect(path: Path, forms: Sequence[Sequence[tuple[str, ...]]], module_hint: str = "", parts: bool = False) -> Submission:
    """Read a submission and find the file that defines the entry point.

    ``forms``: for each accepted form of the entry point, the top-level names it needs, each with its aliases.
    ``parts``: the forms are graded functions of one file ([[part]] tables): the file defining most of them is graded,
    with every one of them it defines.
    """
    path = Path(path)
    notes: list[str] = []
    raw, single = read_files(path, notes)
    candidates: list[_Candidate] = []
    for rel in sorted(raw):
        try:
            candidates.append(_parse(rel, raw[rel]))
        except SubmissionError as exc:
            if single:
                raise
            notes.append(str(exc))
    defined = {c.rel: defined_names(c.tree) for c in candidates if c.tree is not None}
    matching = _matching(candidates, defined, forms, notes)
    if not matching:
        raise _no_entry(candidates, defined, forms[:1] if parts else forms, path, single, parts)
    hint = module_hint.lower()
    primary = {n.lower() for groups in forms for g in groups for n in g}

    def rank(item: tuple[int, _Candidate]) -> tuple:
        form, c = item
        stem = Path(c.shown).name.split(".")[0].lower()
        return (form, stem not in (hint, *primary), c.notebook is not None, c.shown.count("/"), c.shown)

    matching.sort(key=rank)
    form, main = matching[0]
    ported = _imported_python2(main, candidates)
    if ported:
        raise ported
    others = [c.shown for _, c in matching[1:]]
    if others:
        notes.append(f"graded {main.shown}; also defined in {', '.join(others)}")
    files = {rel: data for rel, data in raw.items() if rel.endswith(".py")}
    notebooks = {}
    if main.rel not in raw:  # a generated module: a notebook's code cells, or the imports of a split form
        files[main.rel] = main.source.encode("utf-8")
    if main.notebook is not None:
        notebooks[main.rel] = main.notebook
    roots = {n for f in (forms if parts else [forms[form]]) for g in f for n in g if n in defined[main.rel]}
    statements = plan(main.tree, main.source, roots, main.notebook is not None)
    cells_used = ""
    if main.notebook is not None:
        used = sorted({cell[0] for line in map(int, statements) if (cell := main.notebook.cell_of(line))})
        cells_used = f"{main.shown}: ran code cells {', '.join(map(str, used))}"
        notes.append(f"{cells_used} (what the entry point needs); skipped the other "
                     f"{len(main.notebook.cells) - len(used)} (data loading, training, plots)")
    module, sys_path = _module_and_path(main.rel, files, _relative_depth(main.tree))
    return Submission(path, files, main.rel, module, sys_path, statements, notebooks, notes, cells_used)


def _imported(tree: ast.Module) -> set[str]:
    """Every dotted part of the modules a file imports, and the names it imports from them (a name may be a module)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(part for alias in node.names for part in alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            out.update((node.module or "").split("."), (alias.name for alias in node.names))
    return out


def _imported_python2(main: _Candidate, candidates: list[_Candidate]) -> Optional[SubmissionError]:
    """Python 2 in a file the entry file imports, directly or through others: the porting message, naming that file
    (the sandbox would only say SyntaxError). A file nothing imports (an old driver) blocks nothing."""
    by_stem: dict[str, list[_Candidate]] = {}
    for c in candidates:
        if c.notebook is None:
            by_stem.setdefault(PurePosixPath(c.rel).stem, []).append(c)
    seen, todo = {main.rel}, [main]
    while todo:
        c = todo.pop()
        if c.tree is None:
            if isinstance(c.error, SyntaxError) and python2(c.error):
                return syntax_error(c.shown, c.error)
            continue
        for d in (d for name in sorted(_imported(c.tree)) for d in by_stem.get(name, ()) if d.rel not in seen):
            seen.add(d.rel)
            todo.append(d)
    return None


SPLIT_MODULE = "bpcheck_split_form.py"  # generated beside the files of a form split over several files


def _split_form(candidates: list[_Candidate], defined: dict[str, dict[str, int]],
                forms: Sequence[Sequence[tuple[str, ...]]]) -> Optional[tuple[int, _Candidate, dict[str, int]]]:
    """The best form whose functions sit in several .py files of one folder (one function per file, as Octave ports
    have them): a generated module there that imports each function from its file, and the names it binds."""
    folders: dict[str, list[_Candidate]] = {}
    for c in candidates:
        if c.tree is not None and c.notebook is None and PurePosixPath(c.rel).stem.isidentifier():
            folders.setdefault(str(PurePosixPath(c.rel).parent), []).append(c)
    for form, groups in enumerate(forms):
        for folder, members in sorted(folders.items()):
            found = [next(((n, c) for c in members for n in g if n in defined[c.rel]), None) for g in groups]
            if None in found or len({c.rel for _, c in found}) < 2:
                continue
            source = "".join(f"from {PurePosixPath(c.rel).stem} import {n}\n" for n, c in found)
            rel = SPLIT_MODULE if folder == "." else f"{folder}/{SPLIT_MODULE}"
            shown = f"{folder}/" if folder != "." else "the submission"
            joined = _Candidate(rel, shown, source, parse(source, rel), None, None)
            return form, joined, {n: line for line, (n, _) in enumerate(found, 1)}
    return None


def _relative_depth(tree: ast.Module) -> int:
    """How many packages a module's relative imports climb through: ``from ..layers import *`` needs two."""
    return max((n.level for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), default=0)


def _matching(candidates: list[_Candidate], defined: dict[str, dict[str, int]], forms: Sequence[Sequence[tuple[str, ...]]],
              notes: list[str]) -> list[tuple[int, _Candidate]]:
    """Each file defining a form, with the form's index; and a folder whose files define one together, when no
    single file defines it or a better one (the generated module joins ``defined``)."""

    def form_of(c: _Candidate) -> Optional[int]:
        names = defined.get(c.rel, {})
        return next((i for i, groups in enumerate(forms) if all(any(n in names for n in g) for g in groups)), None)

    matching = [(form_of(c), c) for c in candidates if form_of(c) is not None]
    split = _split_form(candidates, defined, forms)
    if split and split[0] < min((f for f, _ in matching), default=len(forms)):
        form, joined, names = split
        defined[joined.rel] = names
        matching.append((form, joined))
        notes.append(f"{joined.shown} defines the functions of the entry point in {len(names)} files: graded together")
    return matching


def _module_and_path(rel: str, files: dict[str, bytes], depth: int = 0) -> tuple[str, list[str]]:
    """The name to load ``rel`` as (dotted inside packages) and the folders its imports search: its own, then each parent.

    A folder is a package when it has an ``__init__.py``, or, as Python 3 imports a namespace package, when the
    file's relative imports (``depth``) climb through it.
    """
    parts = PurePosixPath(rel).parts
    folders = ["/".join(parts[:i]) for i in range(len(parts) - 1, -1, -1)]
    stem = parts[-1][: -len(NOTEBOOK_SUFFIX)] if rel.endswith(NOTEBOOK_SUFFIX) else parts[-1][:-3]
    name = stem if stem.isidentifier() else re.sub(r"\W", "_", stem) or "submission"
    if name[0].isdigit():
        name = "_" + name
    package = []
    for i in range(len(parts) - 1, 0, -1):
        folder = "/".join(parts[:i])
        regular = f"{folder}/__init__.py" in files
        if (regular or len(package) < depth) and parts[i - 1].isidentifier() and stem.isidentifier():
            package.insert(0, parts[i - 1])
        else:
            break
    return (".".join([*package, name]) if package else name), folders


def _partly_defined(candidates: list[_Candidate], defined: dict[str, dict[str, int]],
                    forms: Sequence[Sequence[tuple[str, ...]]]) -> Optional[str]:
    """For a form of several functions of which a file defines some: which it defines, which are missing (with the
    file's nearest names); None when no file defines any part of a form."""
    shown = {c.rel: c.shown for c in candidates}
    found = [(sum(any(n in names for n in g) for g in groups), rel, groups) for rel, names in defined.items() for groups in forms]
    count, rel, groups = max(found, key=lambda f: f[0], default=(0, "", ()))
    if not 0 < count < len(groups):
        return None
    names = defined[rel]
    have = [next(n for n in g if n in names) for g in groups if any(n in names for n in g)]
    missing = [g for g in groups if not any(n in names for n in g)]
    said = "; ".join(f"{g[0]!r}" + (f" (or {', '.join(map(repr, g[1:]))})" if g[1:] else "") for g in missing)
    near = [n for g in missing for n in difflib.get_close_matches(g[0], list(names), n=2, cutoff=0.6) if n not in have]
    return (f"{shown[rel]} defines {', '.join(map(repr, have))} but not {said}, which the contract also calls"
            + (f"; did you mean {', '.join(map(repr, dict.fromkeys(near)))}?" if near else ""))


def _no_entry(candidates: list[_Candidate], defined: dict[str, dict[str, int]], forms: Sequence[Sequence[tuple[str, ...]]],
              path: Path, single: bool, parts: bool = False) -> SubmissionError:
    wanted = [n for groups in forms for g in groups for n in g]
    first = forms[0][0][0]
    aliases = [n for n in dict.fromkeys(n for groups in forms for g in groups if g[0] == first for n in g) if n != first]
    # a form of several functions is named as such, never as aliases of the first
    pairs = "".join(f", or {' with '.join(repr(g[0]) for g in groups)}" for groups in forms if len(groups) > 1)
    what = f"{first!r}" + (f" (or {', '.join(map(repr, aliases))})" if aliases else "")
    broken = [c for c in candidates if c.tree is None and c.error is not None]
    mentions = [c for c in broken if any(re.search(rf"^\s*(def|class)\s+{re.escape(n)}\b", c.source, re.M) for n in wanted)]
    if single and broken:
        return syntax_error(broken[0].shown, broken[0].error)
    if mentions:
        return syntax_error(mentions[0].shown, mentions[0].error)
    for c in candidates:  # a notebook whose defining cell does not parse
        if c.notebook is not None and c.notebook.unparsed:
            for number, err in c.notebook.unparsed.items():
                return SubmissionError(f"{c.shown}: code cell {number} does not parse ({err}); it may define {first!r}")
    if parts:  # graded function by function: any one of them is enough to grade
        graded = ", ".join(dict.fromkeys(g[0] for g in forms[0]))
        return SubmissionError(f"{candidates[0].shown if single else 'no file in ' + path.name} defines none of the graded "
                               f"functions ({graded})")
    partly = _partly_defined(candidates, defined, forms)
    if partly:
        return SubmissionError(partly)
    names = sorted({n for d in defined.values() for n in d})
    near = difflib.get_close_matches(first, names, n=3, cutoff=0.5)
    near += [n for n in names if n.lower() in {w.lower() for w in wanted} and n not in near]
    if single:
        where = f"{candidates[0].shown} does not define {what}, the contract's entry point{pairs}"
        return SubmissionError(where + (f"; did you mean {', '.join(repr(n) for n in near)}?" if near else
                                        f"; it defines {names or 'nothing'}"))
    files = ", ".join(c.shown for c in candidates[:20])
    return SubmissionError(f"no file in {path.name} defines {what}, the contract's entry point{pairs}"
                           + (f"; did you mean {', '.join(repr(n) for n in near)}?" if near else "") + f" (files: {files})")
