"""Runs one submission inside the sandbox.  Standalone: only the standard library and numpy.

    python -I runner.py JOB_DIR SUBMISSION_DIR OUT_DIR
    python -I runner.py --serve FD      # a warm interpreter: forks a fresh child per run (``serve``)
    python -I runner.py --serve-sweeps FD   # the same without numpy, for the sweeps' children

JOB_DIR/job.json says which file to load, which statements of it to run, which modules to stub,
and the calls to make; <inputs>/<call>/<name>.npy hold their input arrays, in the folder job.json names
("inputs", shared by every submission of a grader and read-only to them), else JOB_DIR.  The runner knows no
contract: each call is a list of operations (construct a class, set an attribute, call a function
or method, read an attribute) whose arguments are value trees and whose results are matched
against patterns that name the arrays to keep (and the values, such as a student's cache, that a later call of the
same run receives: they stay in this process).  Every array is appended to OUT_DIR/arrays.bin (``_save``: raw
numbers and a JSON header, nothing a parser could run) the moment it exists, so a submission that dies later loses
nothing already computed.  OUT_DIR/status.json collects what went wrong, as plain data.  The grader trusts none of
it: it only reads numbers of a few plain dtypes, and compares them in its own process.
"""

import ast
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import json
import os
import resource
import sys
import traceback
import types


def _drop_privileges(uid, processes, groups=()):
    """Under bubblewrap as root, the runner starts as root: become the submission's own uid (with only ``groups``
    besides its own: the group that reads the autodiff libraries, when the assignment allows them), then cap
    processes."""
    if os.getuid() == 0 and uid is not None:
        os.setgroups([int(g) for g in groups])
        os.setgid(uid)
        os.setuid(uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _fresh_keyrings():
    """A new, empty session keyring (not the grader's inherited one), and this uid's user keyrings cleared.

    Kernel keyrings outlive processes: without this a submission could read what an earlier one left, or the
    keys of the session it was started from.  Where keyctl is forbidden (Docker's seccomp) there is nothing to do.
    """
    import ctypes
    import platform

    nr = {"x86_64": 250, "aarch64": 219, "i686": 288, "ppc64le": 289, "s390x": 280}.get(platform.machine())
    if nr is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall(nr, 1, None)  # KEYCTL_JOIN_SESSION_KEYRING, anonymous
    for ring in (-4, -5):  # KEYCTL_CLEAR the user and user-session keyrings
        libc.syscall(nr, 7, ring)


# --- stubs: modules that starters import but graded code never needs --------------------------------------


class _Inert:
    """Stands for anything from a stubbed module (plt.plot, plt.rcParams[...] = ..., fig.savefig): does nothing."""

    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Inert(self._name + "." + attr)

    def __setattr__(self, attr, value):
        pass

    def __call__(self, *args, **kwargs):
        return _Inert(self._name + "()")

    def __getitem__(self, key):
        return _Inert(self._name + "[]")

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        raise TypeError(f"{self._name} comes from a module the grader stubs (it is not available while grading)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __bool__(self):
        return False

    def __repr__(self):
        return f"<stub {self._name}>"


class _InertModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Inert(self.__name__ + "." + attr)


def _past_builtins(module):
    """The Python 2 names ``from past.builtins import xrange`` and friends expect, as their Python 3 equivalents."""
    import functools

    module.__dict__.update(xrange=range, basestring=str, unicode=str, long=int, unichr=chr, raw_input=input,
                           reduce=functools.reduce, intern=sys.intern, str=str, range=range)


SHIMS = {"past": lambda module: None, "past.builtins": _past_builtins}


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the stubbed modules (and their submodules) before any real finder is asked; a blocked module (an
    autodiff library the assignment does not allow) fails to import by its own name.  The sandbox already hides
    those libraries' files: this only makes the import say so, at once."""

    def __init__(self, inert, shims, blocked=()):
        self.inert, self.shims, self.blocked = set(inert), set(shims), set(blocked)

    def _kind(self, name):
        if name in self.shims:
            return "shim"
        if any(name == s or name.startswith(s + ".") for s in self.inert):
            return "inert"
        if name.split(".")[0] in self.blocked:
            return "blocked"
        return None

    def find_spec(self, name, path=None, target=None):
        kind = self._kind(name)
        if kind == "blocked":
            raise ModuleNotFoundError(f"No module named {name!r} (autodiff libraries are not available while grading)",
                                      name=name)
        if kind is None:
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        if self._kind(spec.name) == "inert":
            return _InertModule(spec.name)
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        module.__path__ = []
        if module.__name__ in SHIMS:
            SHIMS[module.__name__](module)


# --- loading the submission -------------------------------------------------------------------------------


def _future_flags(tree):
    import __future__

    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                flags |= getattr(feature, "compiler_flag", 0)
    return flags


def _load_main(main, submission_dir, status):
    """The submission's main module; with a statement plan, only the statements the grader chose are run."""
    path = os.path.join(submission_dir, main["path"])
    name = main["name"]
    parent = name.rpartition(".")[0]
    if parent:
        try:
            importlib.import_module(parent)
        except Exception as exc:  # a package whose __init__ needs files that were not handed in: load the file alone
            status["notes"].append(f"package {parent} could not be imported ({type(exc).__name__}: {exc}); "
                                   f"loaded {main['path']} on its own")
            name = name.rpartition(".")[2]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    plan = main.get("statements")
    if plan is None:
        spec.loader.exec_module(module)
        return module
    with open(path, "rb") as fh:
        source = fh.read()
    tree = ast.parse(source, path)
    flags = _future_flags(tree)
    for stmt in tree.body:
        mode = plan.get(str(stmt.lineno))
        if mode is None:
            continue
        code = compile(ast.Module(body=[stmt], type_ignores=[]), path, "exec", flags=flags, dont_inherit=True)
        if mode == "run":
            exec(code, module.__dict__)
            continue
        try:  # "tolerate": top-level code the entry point does not need; its failure is only noted
            exec(code, module.__dict__)
        except Exception as exc:
            status["skipped"].append({"line": stmt.lineno, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return module


def _reload_main(main, submission_dir, status):
    """The main module imported afresh, with every module of the submission's own: no global a graded function set
    reaches the next one (as separate runs would have it)."""
    root = os.path.join(submission_dir, "")
    for key, mod in list(sys.modules.items()):
        if (getattr(mod, "__file__", None) or "").startswith(root):
            del sys.modules[key]
    return _load_main(main, submission_dir, status)


# --- values in, patterns out ------------------------------------------------------------------------------


def _value(tree, arrays, passed, track, kept):
    """Build an argument from its description; arrays are fresh copies, remembered when ``track`` (mutation check).

    ``{"v": name}`` is what an earlier call of the same run returned, kept in ``kept`` as the submission made it
    (a cache the grader never needs to understand): it never leaves this process.
    """
    if isinstance(tree, list):
        return [_value(t, arrays, passed, track, kept) for t in tree]
    if not isinstance(tree, dict):
        return tree
    if "v" in tree:
        if tree["v"] not in kept:
            raise LookupError(f"{tree['v']!r} was to come from an earlier call, which did not return it")
        return kept[tree["v"]]
    if "a" in tree:
        arr = arrays[tree["a"]].copy()
        if track:
            passed.append((tree["a"], arr))
        return arr
    if "s" in tree:
        return tree["s"]
    if "dict" in tree:
        return {k: _value(v, arrays, passed, track, kept) for k, v in tree["dict"].items()}
    raise ValueError(f"job.json: unknown value {tree!r}")


def _store(value, pattern, save, what, kept):
    """Match ``value`` against ``pattern``, save the arrays it names and keep the values later calls receive."""
    if pattern is None:
        return
    if isinstance(value, _Inert):
        raise TypeError(f"{what}: got {value!r}, a stand-in from a module the assignment stubs; "
                        "the graded code needs the real module")
    if isinstance(pattern, str):
        if value is None:  # a starter's `out = None ... return out, cache`: unanswered, never a NaN to compare
            raise NotImplementedError(f"{what} is None")
        save(pattern, value)
        return
    kind = pattern["kind"]
    if kind == "keep":
        kept[pattern["name"]] = value
        _store(value, pattern.get("save"), save, what, kept)
    elif kind == "tuple":
        items = pattern["items"]
        if not isinstance(value, (tuple, list)) or len(value) != len(items):
            got = type(value).__name__ + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else "")
            raise TypeError(f"{what}: expected {'a pair' if len(items) == 2 else f'a {len(items)}-tuple'} {pattern['shows']}, got {got}")
        for i, (v, p) in enumerate(zip(value, items)):
            _store(v, p, save, f"{what}[{i}]", kept)
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{what}: expected {pattern['shows']}, a list of {pattern['length']} arrays, got {type(value).__name__}")
        if len(value) != pattern["length"]:
            raise ValueError(f"{what}: expected {pattern['length']} arrays in {pattern['shows']}, got {len(value)}")
        for i, v in enumerate(value):
            save(f"{pattern['prefix']}.{i}", v)
    elif kind == "dict":
        if not hasattr(value, "keys") or not hasattr(value, "__getitem__"):
            raise TypeError(f"{what}: expected {pattern['shows']}, a dict, got {type(value).__name__}")
        keys = [str(k) for k in list(value.keys())[:50]]
        for key, p in pattern["items"].items():
            if key not in value:
                raise KeyError(f"{what}: {pattern['shows']} has no key {key!r}; it has {sorted(keys)}")
            _store(value[key], p, save, f"{what}[{key!r}]", kept)
    else:
        raise ValueError(f"job.json: unknown pattern {pattern!r}")


def _resolve(owner, names, what):
    for n in names:
        if hasattr(owner, n):
            return n
    raise AttributeError(f"{what} {names[0]!r} not found" + (f" (nor {', '.join(map(repr, names[1:]))})" if names[1:] else ""))


def _invoke(fn, op, arrays, passed, kept):
    args = [_value(a, arrays, passed, True, kept) for a in op.get("args", [])]
    kwargs = {k: _value(v, arrays, passed, True, kept) for k, v in op.get("kwargs", {}).items()}
    optional = op.get("optional", {})
    if optional:
        try:
            accepted = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            accepted = {}
        kwargs.update({k: _value(v, arrays, passed, True, kept) for k, v in optional.items() if k in accepted})
    return fn(*args, **kwargs)


def _run_ops(module, ops, arrays, save):
    """One form's operations, in order; arrays passed as arguments are saved afterwards, for the mutation check."""
    obj, passed, kept = None, [], {}
    for op in ops:
        status_op = op["shows"]
        try:
            if op["op"] == "new":
                cls = _resolve(module, op["names"], "class")
                status_op = status_op.replace(op["names"][0], cls, 1)
                obj = _invoke(getattr(module, cls), op, arrays, passed, kept)
            elif op["op"] == "set":
                names = op["names"]
                name = next((n for n in names if hasattr(obj, n)), names[0])
                setattr(obj, name, _value(op["value"], arrays, passed, False, kept))
            elif op["op"] == "call":
                owner = obj if obj is not None else module
                name = _resolve(owner, op["names"], "method" if obj is not None else "function")
                status_op = status_op.replace(op["names"][0], name, 1)
                fn = getattr(owner, name)
                _store(_invoke(fn, op, arrays, passed, kept), op.get("returns"), save, status_op, kept)
                for attr in op.get("read", []):
                    _store(getattr(obj, _resolve(obj, attr["names"], "attribute")), attr["pattern"], save,
                           f"{attr['names'][0]} after {status_op}", kept)
        except BaseException as exc:
            exc._bpcheck_op = status_op
            raise
    for k, (name, arr) in enumerate(passed):
        save(f"after.{name}.{k}", arr)


class _Tracer:
    """The submission's own arrays as its lines compute them (issue 27: the first wrong line): for each line of a file
    under the submission's folder, each local float ndarray it created or changed, saved as ``trace.K`` with
    (file, line, name) in ``index``.  Bounded in count, size and time; numpy's own frames, the runner's and those of
    the course files placed beside the submission (``course``: not the student's lines) are never traced."""

    MAX_RECORDS, MAX_ELEMENTS, MAX_TOTAL, SECONDS = 150, 100_000, 500_000, 1.0
    MAX_SCALARS = 30  # numpy float scalars (a loss): a loop of them must not crowd out the arrays
    FLOW = (StopIteration, StopAsyncIteration, GeneratorExit)  # exceptions that are control flow, not errors

    def __init__(self, submission_dir, save, course=()):
        import time

        self.root, self.save, self.index, self.total = submission_dir + os.sep, save, [], 0
        self.seen, self.last, self.deadline, self.clock = {}, {}, time.monotonic() + self.SECONDS, time.monotonic
        self.stopped, self.scalars, self.caught = False, 0, None
        self.course = {os.path.join(submission_dir, c) for c in course}

    def __call__(self, frame, event, arg):
        name = frame.f_code.co_filename
        if self.stopped or not name.startswith(self.root) or name in self.course:
            return None
        return self.local

    def local(self, frame, event, arg):
        if self.stopped:  # over a bound: frames already traced stop too, not only new ones
            frame.f_trace = None
            return None
        if event in ("line", "return"):
            line = self.last.get(id(frame))
            if line is not None:
                self.record(frame, line)
            self.last[id(frame)] = frame.f_lineno if event == "line" else None
        elif event == "exception" and self.caught is None and not issubclass(arg[0], self.FLOW):
            # the first raised (a call that returns had it caught); a loop's StopIteration is no error
            kind = str(getattr(arg[0], "__name__", "exception"))[:60]
            try:
                said = f"{kind}: {arg[1]}"[:200]
            except Exception:  # the submission's own exception, whose __str__ fails
                said = kind
            self.caught = [os.path.relpath(frame.f_code.co_filename, self.root), frame.f_lineno, said]
        return self.local

    def report(self, status, name):
        """What the trace of call ``name`` found, into the runner's status: the lines' index, the first exception."""
        status.setdefault("trace", {})[name] = self.index
        if self.caught is not None:
            status.setdefault("caught", {})[name] = self.caught

    def record(self, frame, line):
        import numpy as np

        if len(self.index) >= self.MAX_RECORDS or self.clock() > self.deadline:
            self.stopped = True
            sys.settrace(None)
            return
        local = frame.f_locals
        owner = local.get("self")
        named = list(local.items()) + [(f"self.{k}", v) for k, v in self.attributes(owner)]  # a class's own arrays
        named += [(f"{var}[{k!r}]", v) for var, d in named if type(d) is dict for k, v in list(d.items())[:50]
                  if type(k) is str]  # a grads dict, one level deep
        named += [(f"{var}[{i}]", v) for var, seq in named if type(seq) is list for i, v in enumerate(seq[:50])]
        for var, value in named:
            ident, scalar = id(value), type(value) in (np.float64, np.float32)
            if scalar and self.scalars < self.MAX_SCALARS:
                value = np.asarray(value)
            elif type(value) is not np.ndarray or value.dtype.kind not in "fc" or not 0 < value.size <= self.MAX_ELEMENTS:
                continue
            # an attribute is the object's, whichever method's frame sees it: recorded again only when it changed
            key = (id(owner) if var.startswith("self.") else id(frame), var)
            digest = hash(value.tobytes())
            if self.seen.get(key) == (ident, digest) or self.total + value.size > self.MAX_TOTAL:
                continue
            self.seen[key], self.total, self.scalars = (ident, digest), self.total + value.size, self.scalars + scalar
            self.save(f"trace.{len(self.index)}", value)
            self.index.append([os.path.relpath(frame.f_code.co_filename, self.root), line, var])

    @staticmethod
    def attributes(obj):
        """The instance attributes of a method's ``self`` (its __dict__ read directly: no property or __getattr__ of
        the submission's runs inside the tracer), the first 50 by name."""
        try:
            found = object.__getattribute__(obj, "__dict__") if obj is not None else None
        except Exception:  # no __dict__ (slots, builtins)
            return []
        return [(k, v) for k, v in list(found.items())[:50] if type(k) is str] if type(found) is dict else []


def _choose_form(module, forms):
    for i, form in enumerate(forms):
        if all(any(hasattr(module, n) for n in group) for group in form["requires"]):
            return i
    wanted = " or ".join("/".join(g[0] for g in f["requires"]) for f in forms)
    shown = os.path.basename(getattr(module, "__file__", None) or "") or "the submission"
    raise NotDefined(f"{shown} does not define {wanted}")


class NotDefined(AttributeError):
    """The submission lacks a graded function: that function's part earns nothing, the others are graded."""


def _load(job_dir, call, names):
    return {n: _input(os.path.join(job_dir, call, n + ".npy")) for n in names}


#: The header ``np.save`` writes for a plain C-ordered array (format 1.0), after its magic and length.
_NPY_HEADER = rb"\{'descr': '([<>|][fciub]\d+)', 'fortran_order': False, 'shape': \(([\d, ]*)\), \} *\n"


def _input(path):
    """An input array the grader saved (read-only: every call receives a copy): the header ``np.save`` writes read
    by one pattern, a quarter of ``np.load``'s time (about 30 arrays a run); anything else by ``np.load``."""
    import math
    import re

    import numpy as np

    with open(path, "rb") as fh:
        data = fh.read()
    end = 10 + int.from_bytes(data[8:10], "little")
    found = data[:8] == b"\x93NUMPY\x01\x00" and re.fullmatch(_NPY_HEADER, data[10:end])
    if not found:
        return np.load(path, allow_pickle=False)
    shape = tuple(int(n) for n in found[2].split(b",") if n.strip())
    return np.frombuffer(data, found[1].decode(), math.prod(shape), end).reshape(shape)


#: OUT_DIR/arrays.bin: every array of the run, one record each, appended the moment it exists: MAGIC, the header's
#: length (4 bytes, little-endian), the header (JSON: call, name, dtype, shape), then the array's bytes in C order.
#: One file per run instead of one .npy per array: creating files was most of a run's own cost.
ARRAYS_FILE, MAGIC = "arrays.bin", b"BPA1"


def _save(out_dir, call, name, value):
    import numpy as np

    # anything that is not numbers fails here, as an error of this call; complex numbers are kept, to be named, and
    # float32 stays float32: the grader reads the precision from the record's dtype
    raw = np.asarray(value)
    kind = np.complex128 if np.iscomplexobj(raw) else np.float32 if raw.dtype == np.float32 else np.float64
    arr = np.ascontiguousarray(np.asarray(raw, dtype=kind))
    header = json.dumps({"call": call, "name": name, "dtype": arr.dtype.str, "shape": list(arr.shape)}).encode()
    record = memoryview(b"".join([MAGIC, len(header).to_bytes(4, "little"), header, arr.tobytes()]))
    # opened per array: a submission that closed this process's descriptors loses nothing saved before; one that
    # replaced the file by a link or a FIFO makes this call fail (never written through, never blocking)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    fd = os.open(os.path.join(out_dir, ARRAYS_FILE), flags, 0o600)
    try:
        while record:
            record = record[os.write(fd, record):]
    finally:
        os.close(fd)


def _error(exc, submission_dir, course=()):
    """An exception as plain data: its type, message, the submission's own file and line, and a missing module.

    ``course``: files the assignment placed beside the submission; a line of theirs is never the student's.
    """
    tb = traceback.extract_tb(exc.__traceback__)
    course = {os.path.join(submission_dir, c) for c in course}
    where = next((f for f in reversed(tb) if f.filename.startswith(submission_dir + os.sep) and f.filename not in course), None)
    if where is None and isinstance(exc, SyntaxError) and exc.filename and str(exc.filename).startswith(submission_dir + os.sep):
        where = types.SimpleNamespace(filename=exc.filename, lineno=exc.lineno)
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:1500],
        "file": os.path.relpath(where.filename, submission_dir) if where else None,
        "line": where.lineno if where else None,
        "op": getattr(exc, "_bpcheck_op", None),
        "missing_module": getattr(exc, "name", None) if isinstance(exc, ImportError) else None,
    }


def main(job_dir, submission_dir, out_dir):
    with open(os.path.join(job_dir, "job.json")) as fh:
        job = json.load(fh)
    _drop_privileges(job.get("uid"), int(job.get("processes", 64)), job.get("groups", []))
    _fresh_keyrings()
    status = {"phase": "import", "import": None, "calls": {}, "forms": {}, "skipped": [], "notes": []}
    status_path = os.path.join(out_dir, "status.json")

    def write_status():
        with open(status_path, "w") as fh:
            json.dump(status, fh)

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    import numpy  # noqa: F401  (before the submission's folders are on the path: a student's numpy.py shadows nothing)

    submission_dir = os.path.abspath(submission_dir)
    main_spec = job["main"]
    for rel in reversed(main_spec["sys_path"]):
        sys.path.insert(0, os.path.normpath(os.path.join(submission_dir, rel)))
    stubs = job.get("stubs", {})
    sys.meta_path.insert(0, _StubFinder(stubs.get("inert", []), stubs.get("shim", []), job.get("blocked", [])))
    os.chdir(out_dir)
    write_status()
    try:
        module = _load_main(main_spec, submission_dir, status)
    except BaseException as exc:  # SyntaxError, SystemExit at import, anything
        status["import"] = _error(exc, submission_dir, job.get("course_files", []))
        write_status()
        return
    for item in job["calls"]:
        name = item["name"]
        status["phase"] = name
        write_status()
        try:
            if item.get("fresh"):  # another graded function's calls begin: its module as a fresh import leaves it
                module = _reload_main(main_spec, submission_dir, status)
            arrays = _load(job.get("inputs", job_dir), name, item["inputs"])
            form = _choose_form(module, item["forms"])
            status["forms"][name] = form
            save = lambda key, value, _n=name: _save(out_dir, _n, key, value)  # noqa: E731
            # the trace has a folder of its own (CALL.trace), read after every call's: it never crowds out their arrays
            trace = lambda key, value, _n=name + ".trace": _save(out_dir, _n, key, value)  # noqa: E731
            tracer = _Tracer(submission_dir, trace, job.get("course_files", [])) if item.get("trace") else None
            sys.settrace(tracer)
            try:
                _run_ops(module, item["forms"][form]["ops"], arrays, save)
            finally:
                sys.settrace(None)
                if tracer is not None:
                    tracer.report(status, name)
            status["calls"][name] = None
        except BaseException as exc:
            status["calls"][name] = _error(exc, submission_dir, job.get("course_files", []))
        write_status()
    status["phase"] = "done"
    write_status()


# --- a warm interpreter: numpy imported once, a fresh child per submission -----------------------------------


def _exit_code(exc):
    """The status a Python exiting with ``exc`` (SystemExit or any other) returns."""
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    traceback.print_exception(exc)
    return 1


def _become_in_child(req):
    """What ``python -I runner.py`` started by the sandbox gets from prlimit, unshare and setpriv, done in this forked
    child before any submission code: a new session, its limits, its namespaces, its environment, its uid and groups
    with no_new_privs, and none of the server's descriptors."""
    import ctypes

    os.setsid()
    os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    libc = ctypes.CDLL(None, use_errno=True)
    if req.get("isolate"):
        _isolate(libc, req["isolate"])
    if req["namespaces"]:
        _sys(libc, "unshare(network, IPC)", libc.unshare(CLONE_NEWNET | CLONE_NEWIPC))
    for name, value in req["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    if req["uid"] is not None:
        os.setgroups(req["groups"])
        os.setresgid(req["uid"], req["uid"], req["uid"])
        os.setresuid(req["uid"], req["uid"], req["uid"])
    _sys(libc, "prctl(PR_SET_NO_NEW_PRIVS)", libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))  # no setuid program gives root back


# mount(2), unshare(2) and prctl(2) flags, from <sys/mount.h>, <sched.h> and <linux/prctl.h>
PR_SET_NO_NEW_PRIVS = 38
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x4000000, 0x8000000, 0x20000000, 0x40000000


def _sys(libc, what, result):
    if result != 0:
        import ctypes

        raise OSError(ctypes.get_errno(), f"{what} failed")


def _mount(libc, source, target, fstype, flags, data=None):
    source, target_b, fstype, data = (v.encode() if isinstance(v, str) else v for v in (source, target, fstype, data))
    _sys(libc, f"mount {target}", libc.mount(source, target_b, fstype, flags, data))


def _isolate(libc, spec):
    """Under the warm bubblewrap interpreter (root, inside bubblewrap), in the first process of the run's own PID
    namespace (``_PidNamespaces``), before anything of the run: mount, IPC, network and UTS namespaces of its own; its
    job (read-only), scratch and shared folder bound where a cold bubblewrap run has them, a fresh /tmp and /dev/shm
    (tmpfs of ``tmp_bytes``), the runs folder unmounted (no other run's files), a /proc of its PID namespace; then
    this first process only waits for the run and dies with it, which kills whatever the run left.  Returns in the
    run's process only; the first exits with its status."""
    _sys(libc, "unshare", libc.unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET))
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)  # nothing of this run's mounts propagates back
    for target, source, writable in (("/job", spec["job"], False), ("/sandbox", spec["scratch"], True),
                                     ("/shared", spec["shared"], False)):
        _mount(libc, source, target, None, MS_BIND | MS_REC)
        if not writable:
            _mount(libc, None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for target in ("/tmp", "/dev/shm"):
        _mount(libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={spec['tmp_bytes']},mode=1777")
    _sys(libc, "umount /runs", libc.umount2(spec["runs"].encode(), 2))  # MNT_DETACH
    _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # this namespace's processes only
    _wait_and_exit_as(os.fork())  # the first process only waits: the run is its child, never PID 1 itself
    os.setsid()  # a session of its own in its namespace, as bubblewrap's --new-session gives


class _PidNamespaces:
    """The server's side of ``_isolate``: the child forked for an isolated run is the first process of a new PID
    namespace (unshare before the fork, this server's own namespace back for its later children after it), one fork
    fewer than a child that makes the namespace and forks its first process.  That first process exits as 128 + the
    signal that killed the run (PID 1 cannot raise it on itself): told back as the signal, as a run's status says."""

    def __init__(self):
        import ctypes

        self.libc = ctypes.CDLL(None, use_errno=True)
        self.own = None

    def fork(self, isolated):
        if not isolated:
            return os.fork()
        if self.own is None:
            self.own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        _sys(self.libc, "unshare(PID)", self.libc.unshare(CLONE_NEWPID))
        pid = -1
        try:
            pid = os.fork()
            return pid
        finally:
            if pid != 0:  # the server (the child is in the new namespace, and may not leave it)
                _sys(self.libc, "setns(PID)", self.libc.setns(self.own, CLONE_NEWPID))

    @staticmethod
    def status(isolated, code):
        import signal

        return 128 - code if isolated and 128 < code < 128 + signal.NSIG else code


def _wait_and_exit_as(pid):
    """In the parent (``pid`` > 0): wait for ``pid`` and exit as it did (killed by a signal: 128 + the signal, which
    the outer level turns back into that signal); in the child, return."""
    if pid == 0:
        return
    import signal

    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0 or code > 128:
        sig = -code if code < 0 else code - 128
        if os.getpid() != 1 and 0 < sig < signal.NSIG:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        code = 128 + sig
    os._exit(code)


def _child(req, out_fd, err_fd):
    """A forked child: takes the run's descriptors and containment, then runs ``req`` (the runner, or the sweep's
    code); never returns."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((null, 0), (out_fd, 1), (err_fd, 2)):
            os.dup2(fd, target)
        _become_in_child(req)
        if "numpy" in sys.modules:  # a run's server: a fresh interpreter's unseeded state, never the server's
            sys.modules["numpy"].random.seed()
        sys.argv = [req["argv0"], *req["args"]]
        if req.get("code") is not None:
            exec(compile(req["code"], "<sweep>", "exec"), {"__name__": "__sweep__"})
        else:
            main(*req["args"])
        code = 0
    except BaseException as exc:  # noqa: B036 -- exiting as a fresh Python would
        code = _exit_code(exc)
    finally:
        _finalize()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: B036 -- a closed or broken stream: nothing more to say
                pass
        os._exit(code)


def _finalize():
    """What a Python does as it exits, before its streams are flushed: wait for the threads the run started, then run
    its atexit functions (what a submission leaves then still counts, as in a run started anew)."""
    import atexit

    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
    except BaseException:  # noqa: B036 -- as at exit: nothing more to wait for
        pass
    atexit._run_exitfuncs()


def serve(sock_fd, runs=True):
    """Serve the grader on ``sock_fd`` (a SOCK_SEQPACKET socket): each request, a JSON object with the run's stdout and
    stderr descriptors attached, is run in a child forked from here; this process replies with the child's pid, then
    with its exit status (negative: the signal that killed it).  It holds numpy (``runs``; a server of sweeps only
    does not: its children fork faster and cost less) and this file, nothing of the grader's.  Ends when the grader
    closes its end."""
    import socket

    import ctypes  # noqa: F401  (what every child needs before it runs anything: imported once, here)
    import platform  # noqa: F401  (the sweep's)

    if runs:
        import numpy  # noqa: F401  (the point of the server: imported once, before any submission)
        import numpy.random  # noqa: F401  (numpy 2 imports it lazily: 20 ms in every child that reseeds it, ``_child``)

    sock, namespaces = socket.socket(fileno=sock_fd), _PidNamespaces()
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 2)
        if not msg:
            return
        req = json.loads(msg)
        isolated = bool(req.get("isolate"))
        pid = namespaces.fork(isolated)
        if pid == 0:
            sock.close()
            _child(req, *fds)
        for fd in fds:
            os.close(fd)
        sock.sendall(b"%d" % pid)
        _, status = os.waitpid(pid, 0)
        sock.sendall(b"%d" % namespaces.status(isolated, os.waitstatus_to_exitcode(status)))


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.argv[1:2] in (["--serve"], ["--serve-sweeps"]):
        serve(int(sys.argv[2]), runs=sys.argv[1] == "--serve")
    else:
        main(*sys.argv[1:4])
