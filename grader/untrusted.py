"""Reading and removing what a submission left behind, without trusting any of it.

Everything under a submission's scratch directory may be a trap: a FIFO or socket named like a
result file (opening it blocks), a link to ``/proc/self/fd/0`` or ``/etc/shadow`` (reading it
leaks or hangs), a file of gigabytes, folders nested thousands deep (``shutil.rmtree`` and
path-based calls fail with RecursionError or ENAMETOOLONG).  So, here:

- every open is relative to an already-open directory, with ``O_NOFOLLOW | O_NONBLOCK``: a link is
  never followed and a FIFO never blocks;
- only regular files are read (``fstat`` after opening, so what is checked is what is read), and
  only when their size is within the caller's bound, which is checked before reading;
- ``remove_tree`` never recurses and never builds long paths: it lifts each sub-directory's entries
  up to the top directory, so any depth is removed with two open directories.

The submission's processes are all dead before any of this runs (see ``sandbox``), so what is
checked cannot change before it is read.
"""

from __future__ import annotations

import errno
import itertools
import math
import os
import stat
import struct
import time
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator, Optional, Sequence

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_DIR_FLAGS = _OPEN_FLAGS | os.O_DIRECTORY


class Refused(Exception):
    """A file the grader will not read, with the reason (a link, a FIFO, too large, ...)."""


class Missing(Refused):
    """Nothing there at all (ENOENT)."""


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


@contextmanager
def open_dir(path: str, dir_fd: Optional[int] = None) -> Iterator[int]:
    """A directory descriptor for ``path`` (relative to ``dir_fd``), refusing links and non-directories."""
    try:
        fd = os.open(path, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise Refused(f"{path}: not a folder that can be opened ({exc.strerror})") from None
    try:
        yield fd
    finally:
        os.close(fd)


def read_regular(name: str, limit: int, dir_fd: Optional[int] = None) -> bytes:
    """The bytes of regular file ``name`` (relative to ``dir_fd``), at most ``limit`` of them, or Refused."""
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        why = {errno.ELOOP: "a symbolic link (never followed)", errno.ENXIO: "a socket or device"}.get(exc.errno, exc.strerror)
        raise (Missing if exc.errno == errno.ENOENT else Refused)(f"{name}: cannot be read: {why}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Refused(f"{name}: {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise Refused(f"{name}: {st.st_size} bytes; at most {limit} are read")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # grew after fstat (impossible once its writers are dead, checked anyway)
            raise Refused(f"{name}: more than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def entries(dir_fd: int, limit: int) -> list[tuple[str, os.stat_result]]:
    """Up to ``limit`` (name, lstat) pairs of an open directory, sorted by name; links reported as links."""
    out = []
    with os.scandir(dir_fd) as it:
        for e in itertools.islice(it, limit):
            try:
                out.append((e.name, e.stat(follow_symlinks=False)))
            except OSError:
                continue
    return sorted(out, key=lambda pair: pair[0])


_lifted = itertools.count()


def _lift(name: str, src: int, top: int) -> None:
    """Rename ``name`` from directory ``src`` into ``top`` under a fresh name (names the submission took are skipped)."""
    for _ in range(1000):
        try:
            os.rename(name, f".bpcheck-lifted-{next(_lifted)}", src_dir_fd=src, dst_dir_fd=top)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                raise
    raise OSError(f"no free name to lift {name!r} into")


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything below it, whatever its depth, modes or links (a link is removed, never followed).

    Each sub-directory's entries are renamed up into ``path`` itself before the sub-directory is removed,
    so the walk is flat: no recursion, no long paths, two directory descriptors open at a time.
    OSError only if a pass over ``path`` removes nothing (an entry this process may not remove).
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    os.chmod(path, 0o700)
    top = os.open(path, _DIR_FLAGS)
    try:
        while names := [e.name for e in os.scandir(top)]:
            progress = False
            for name in names:
                try:
                    mode = os.stat(name, dir_fd=top, follow_symlinks=False).st_mode
                    if stat.S_ISDIR(mode):
                        os.chmod(name, 0o700, dir_fd=top)  # a folder its owner made unreadable; a dir, so no link is followed
                        sub = os.open(name, _DIR_FLAGS, dir_fd=top)
                        try:
                            for child in [e.name for e in os.scandir(sub)]:
                                _lift(child, sub, top)
                        finally:
                            os.close(sub)
                        os.rmdir(name, dir_fd=top)
                    else:
                        os.unlink(name, dir_fd=top)
                    progress = True
                except FileNotFoundError:
                    progress = True
                except OSError:
                    continue
            if not progress:
                raise OSError(f"cannot remove {path}: {len(names)} entries resist removal, e.g. {names[0]!r}")
    finally:
        os.close(top)
    os.rmdir(path)


# --- a submission's own files ------------------------------------------------------------------------------


def zip_member_parts(name: str) -> Optional[tuple[str, ...]]:
    """A zip member's path as folder parts, or None when it could land outside the folder it is unpacked into:
    absolute, with a drive (``C:``), or climbing with ``..``.  Backslashes count as separators, as Windows zips use them."""
    parts = PurePosixPath(name.replace("\\", "/")).parts  # "./" gives (): nothing to unpack, and harmless
    if parts and (parts[0] == "/" or ":" in parts[0] or ".." in parts):
        return None
    return parts


#: The zip format's end records (APPNOTE 4.3.14-16): signature, fixed size, struct layout.
_EOCD = (b"PK\x05\x06", 22, "<4s4H2LH")
_EOCD64_LOCATOR = (b"PK\x06\x07", 20, "<4sLQL")
_EOCD64 = (b"PK\x06\x06", 56, "<4sQ2H2L4Q")
_CENTRAL_HEADER = (b"PK\x01\x02", 46)


class ZipRefused(Refused):
    """A zip whose central directory is over the caller's bounds, or whose end records do not hold together."""


def _end_record(fh: BinaryIO, size: int) -> tuple[int, int, int]:
    """(declared entries, central directory size, where the directory ends) from the end records, found as the
    standard library's zipfile finds them, so that the directory checked is the directory it then parses."""
    sig, length, layout = _EOCD
    tail_start = max(0, size - length - (1 << 16))
    fh.seek(tail_start)
    tail = fh.read(size - tail_start)  # at most 64 KiB + 22 bytes
    at = len(tail) - length if tail[-length:][:4] == sig and tail[-2:] == b"\0\0" else tail.rfind(sig)
    if at < 0 or len(tail) - at < length:
        raise ZipRefused("not a zip file (no end of central directory record)")
    _, _, _, _, entries, cd_size, _, _ = struct.unpack(layout, tail[at:at + length])
    end = tail_start + at
    lsig, llength, llayout = _EOCD64_LOCATOR
    if end >= llength + _EOCD64[1]:
        fh.seek(end - llength)
        locator = fh.read(llength)
        if locator[:4] == lsig:
            fh.seek(end - llength - _EOCD64[1])
            record = fh.read(_EOCD64[1])
            if record[:4] == _EOCD64[0]:
                fields = struct.unpack(_EOCD64[2], record)
                entries, cd_size, end = fields[7], fields[8], end - llength - _EOCD64[1]
    return entries, cd_size, end


#: What a member may take of a zip's central directory on average: a 46-byte header, a path, a timestamp extra.
DIRECTORY_BYTES_PER_MEMBER = 1024


def check_zip_directory(fh: BinaryIO, max_entries: int, max_directory_bytes: Optional[int] = None) -> int:
    """The number of members of the zip open as ``fh`` (binary, seekable), or ZipRefused, read before any zip parser
    sees it: a central directory of a million tiny entries costs ``zipfile`` over a gigabyte of objects.

    The end record is read (at most 64 KiB), its declared size bounded, then the directory itself (at most
    ``max_directory_bytes``, by default ``DIRECTORY_BYTES_PER_MEMBER`` per member allowed) walked header by header,
    so a declared count that lies changes nothing.
    """
    if max_directory_bytes is None:
        max_directory_bytes = max_entries * DIRECTORY_BYTES_PER_MEMBER
    size = fh.seek(0, os.SEEK_END)
    entries, cd_size, end = _end_record(fh, size)
    if entries > max_entries:
        raise ZipRefused(f"its directory declares {entries} members; at most {max_entries} are read")
    if cd_size > max_directory_bytes:
        raise ZipRefused(f"its central directory is {cd_size} bytes; at most {max_directory_bytes} are read")
    if cd_size > end:
        raise ZipRefused(f"its central directory ({cd_size} bytes) is larger than what precedes its end record")
    fh.seek(end - cd_size)
    directory = fh.read(cd_size)
    sig, length = _CENTRAL_HEADER
    count, at = 0, 0
    while at < len(directory):  # as zipfile walks it: by the sizes each header declares
        if directory[at:at + 4] != sig or len(directory) - at < length:
            raise ZipRefused(f"its central directory is damaged at byte {at}")
        name, extra, comment = struct.unpack("<3H", directory[at + 28:at + 34])
        at += length + name + extra + comment
        count += 1
        if count > max_entries:
            raise ZipRefused(f"its central directory holds more than {max_entries} members")
    fh.seek(0)
    return count


def read_tree(root: str, wanted: Callable[[str], bool], *, max_files: int, file_cap: Callable[[str], int],
              max_total_bytes: int, max_depth: int = 32) -> dict[str, bytes]:
    """Every regular file below folder ``root`` whose relative path ``wanted`` accepts, read without following links.

    Refused: a link where a wanted file or a folder would be (named, with where it points), a special file,
    a file over its ``file_cap(path)`` bytes or a total over ``max_total_bytes`` (both checked before reading), more than
    ``max_files`` wanted files, folders deeper than ``max_depth``.  Hidden entries and __pycache__ are skipped.
    """
    files: dict[str, bytes] = {}
    total = 0
    with open_dir(root) as top:
        stack: list[tuple[str, int]] = [("", os.dup(top))]
        try:
            while stack:
                rel, fd = stack.pop()
                try:
                    for name, st in entries(fd, 10 * max_files + 100):
                        path = f"{rel}{name}"
                        if name.startswith(".") or name == "__pycache__":
                            continue
                        if stat.S_ISLNK(st.st_mode):
                            if wanted(path) or _is_dir_link(name, fd):
                                target = os.readlink(name, dir_fd=fd)
                                raise Refused(f"{path} is a symbolic link (to {target}); links are never followed: "
                                              "hand in the file itself")
                            continue
                        if stat.S_ISDIR(st.st_mode):
                            if path.count("/") + 1 > max_depth:
                                raise Refused(f"{path}: folders nested more than {max_depth} deep")
                            stack.append((path + "/", os.open(name, _DIR_FLAGS, dir_fd=fd)))
                            continue
                        if not wanted(path):
                            continue
                        if not stat.S_ISREG(st.st_mode):
                            raise Refused(f"{path}: {_kind(st.st_mode)}, not a regular file")
                        if len(files) >= max_files:
                            raise Refused(f"more than {max_files} files to read in {root}")
                        cap = file_cap(path)
                        if st.st_size > cap:
                            raise Refused(f"{path} is {st.st_size} bytes; at most {cap} are accepted")
                        if total + st.st_size > max_total_bytes:
                            raise Refused(f"the files in {root} add up to more than {max_total_bytes} bytes")
                        files[path] = read_regular(name, cap, fd)
                        total += len(files[path])
                finally:
                    os.close(fd)
        finally:
            for _, fd in stack:
                os.close(fd)
    return files


def _is_dir_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISDIR(os.stat(name, dir_fd=dir_fd).st_mode)  # where it points, only to name the refusal
    except OSError:
        return False


# --- the runner's outputs: OUT/status.json, OUT/arrays.bin (and any OUT/<call>/<name>.npy) ---------------

#: Bounds on what one submission's outputs may cost the grader, whatever they claim to be.
MAX_STATUS_BYTES = 64 << 10
MAX_ARRAY_FILE_BYTES = 8 << 20
MAX_ARRAYS_PER_CALL = 200
MAX_FLOAT64_BYTES = 32 << 20  # all arrays of one submission, once widened to float64
READ_SECONDS = 10.0
#: OUT/arrays.bin, as runner.py writes it (its own ARRAYS_FILE and MAGIC: the runner imports nothing of bpcheck):
#: records of MAGIC, a 4-byte little-endian header length, a JSON header {call, name, dtype, shape}, the raw numbers.
ARRAYS_FILE, MAGIC = "arrays.bin", b"BPA1"
#: What the runner writes (float64, float32, complex128) in either byte order: nothing else is ever parsed.
ARRAY_DTYPES = frozenset(f"{order}{kind}" for order in "<>" for kind in ("f8", "f4", "c16"))
MAX_HEADER_BYTES = 1024
MAX_DIMENSIONS = 32
#: The container holds at most the float64 budget's worth of numbers, and room for records refused as too large.
MAX_ARRAYS_BYTES = MAX_FLOAT64_BYTES + MAX_ARRAY_FILE_BYTES


def _within_budget(dtype, shape: tuple, budget: int) -> None:
    """ValueError unless ``dtype`` is plain numbers and ``shape`` of it, widened to float64, fits in ``budget`` bytes."""
    if dtype.kind not in "biufc" or dtype.hasobject:
        raise ValueError(f"dtype {dtype.str!r}: not an array of real numbers")
    widened = (16 if dtype.kind == "c" else 8) * math.prod(shape)  # Python ints: a shape of 2**70 cannot wrap around
    if widened > budget:
        raise ValueError(f"shape {shape}: {widened} bytes as float64, over what is left of this submission's "
                         f"{MAX_FLOAT64_BYTES >> 20} MiB")


def _widened(raw):
    """(a base float64 copy of ``raw`` (complex128 when it holds non-real numbers, so the diagnosis can say so), the
    dtype it was written in)."""
    import numpy as np

    if np.iscomplexobj(raw) and np.any(np.imag(raw)):
        return np.array(raw, dtype=np.complex128, copy=True, subok=False), raw.dtype.name
    return np.array(np.real(raw), dtype=np.float64, copy=True, subok=False), raw.dtype.name


def _array(data: bytes, budget: int):
    """``_widened`` of the .npy in ``data``; ValueError if its header is not a plain numeric array within ``budget``."""
    import io

    import numpy as np

    buf = io.BytesIO(data)
    version = np.lib.format.read_magic(buf)
    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = header(buf)
    _within_budget(dtype, shape, budget)
    return _widened(np.load(io.BytesIO(data), allow_pickle=False))


def _status(out_fd: int, refused: dict[str, str]) -> dict:
    """status.json as the runner wrote it: untrusted text, for feedback only; {} when missing or malformed."""
    import json

    try:
        data = json.loads(read_regular("status.json", MAX_STATUS_BYTES, out_fd).decode("utf-8", errors="replace"))
    except Missing:
        return {}
    except Refused as exc:
        refused["status.json"] = str(exc)
        return {}
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        refused["status.json"] = "not valid JSON, or nested too deep"
        return {}
    return data if isinstance(data, dict) else {}


class _Outputs:
    """What ``read_outputs`` gathers: arrays and their dtypes per call, a note per refusal, what is left of the budget."""

    def __init__(self, calls: Sequence[str]) -> None:
        self.arrays: dict[str, dict] = {name: {} for name in calls}
        self.dtypes: dict[str, dict] = {name: {} for name in calls}
        self.refused: dict[str, str] = {}
        self.budget = MAX_FLOAT64_BYTES
        self.deadline = time.monotonic() + READ_SECONDS

    def late(self, key: str) -> bool:
        """Past the time allowed for reading (then ``key`` is noted as not read)."""
        if time.monotonic() <= self.deadline:
            return False
        self.refused[key] = f"not read: reading this submission's outputs took over {READ_SECONDS:g} s"
        return True

    def keep(self, call: str, name: str, widened: tuple) -> None:
        arr, self.dtypes[call][name] = widened
        self.budget -= arr.nbytes
        self.arrays[call][name] = arr


def _record(data: bytes, at: int) -> tuple[str, str, str, tuple[int, ...], int]:
    """(call, name, dtype, shape, where its numbers start) of the record at byte ``at``; ValueError, naming what was
    expected and found, when its frame does not hold together (then nothing after it can be found)."""
    import json

    if data[at:at + 4] != MAGIC:
        raise ValueError(f"expected the record mark {MAGIC!r}, found {bytes(data[at:at + 4])!r}")
    size = int.from_bytes(data[at + 4:at + 8], "little")
    if len(data) < at + 8 or size > MAX_HEADER_BYTES:
        raise ValueError(f"a header of at most {MAX_HEADER_BYTES} bytes expected, found {size} (or the file ends)")
    try:
        header = json.loads(bytes(data[at + 8:at + 8 + size]).decode("utf-8"))
    except (ValueError, RecursionError):
        raise ValueError("its header is not valid JSON") from None
    shape = header.get("shape") if isinstance(header, dict) else None
    if (not isinstance(shape, list) or len(shape) > MAX_DIMENSIONS
            or not all(type(n) is int and n >= 0 for n in shape)):
        raise ValueError(f"a shape of at most {MAX_DIMENSIONS} sizes >= 0 expected, found {str(shape)[:80]}")
    call, name, dtype = (header.get(k) for k in ("call", "name", "dtype"))
    if not (isinstance(call, str) and isinstance(name, str) and isinstance(dtype, str) and dtype in ARRAY_DTYPES):
        raise ValueError(f"a call, a name and a dtype among {sorted(ARRAY_DTYPES)} expected, found "
                         f"{str(call)[:60]!r}, {str(name)[:60]!r}, {str(dtype)[:20]!r}")
    return call, name, dtype, tuple(shape), at + 8 + size


def _frames(data: memoryview, found: _Outputs) -> list[tuple]:
    """(call's position in ``found``, call, name, dtype, shape, where its numbers start) of each record of a call
    ``found`` waits for, in file order.  A damaged record ends the walk, and so does one past the most arrays that
    could ever be read (each walked record costs a JSON parse); both noted, as are records of other calls and names
    written twice."""
    import numpy as np

    order = {call: i for i, call in enumerate(found.arrays)}
    records, seen, at, most = [], set(), 0, MAX_ARRAYS_PER_CALL * len(order)
    while at < len(data):
        if len(records) + len(found.refused) > most:
            found.refused[ARRAYS_FILE] = f"more than {most} records; the {len(data) - at} bytes from byte {at} are not read"
            break
        try:
            call, name, dtype, shape, start = _record(data, at)
        except ValueError as exc:
            found.refused[ARRAYS_FILE] = f"record at byte {at}: {exc}; the {len(data) - at} bytes from there are not read"
            break
        at = start + np.dtype(dtype).itemsize * math.prod(shape)
        if at > len(data):
            found.refused[f"{call}/{name}"] = f"{ARRAYS_FILE} ends {at - len(data)} bytes before this array's numbers do"
            break
        if call not in order:
            found.refused[f"{call[:60]}/{name[:60]}"] = "a call this grader never made"
            continue
        if (call, name) in seen:
            found.refused[f"{call}/{name}"] = "written more than once; the last one is read"
        seen.add((call, name))
        records.append((order[call], call, name, np.dtype(dtype), shape, start))
    return records


def _read_container(out_fd: int, found: _Outputs) -> None:
    """Every array of OUT/arrays.bin: each record's frame checked before its numbers are looked at (``_frames``),
    calls in the order ``found`` lists them (a trace, listed last, crowds out nothing)."""
    import numpy as np

    try:
        data = memoryview(read_regular(ARRAYS_FILE, MAX_ARRAYS_BYTES, out_fd))
    except Missing:
        return
    except Refused as exc:
        found.refused[ARRAYS_FILE] = str(exc)
        return
    counts: dict[str, int] = {}
    for _, call, name, dtype, shape, start in sorted(_frames(data, found), key=lambda r: r[0]):  # stable: file order
        counts[call] = counts.get(call, 0) + 1
        if found.late(f"{call}/{name}"):
            continue
        try:
            if counts[call] > MAX_ARRAYS_PER_CALL:
                raise ValueError(f"more than {MAX_ARRAYS_PER_CALL} arrays for this call; the rest are not read")
            if dtype.itemsize * math.prod(shape) > MAX_ARRAY_FILE_BYTES:
                raise ValueError(f"{dtype.itemsize * math.prod(shape)} bytes; at most {MAX_ARRAY_FILE_BYTES} are read")
            _within_budget(dtype, shape, found.budget)
        except ValueError as exc:
            found.refused[f"{call}/{name}"] = str(exc)[:300]
            continue
        found.keep(call, name, _widened(np.frombuffer(data, dtype, math.prod(shape), start).reshape(shape)))


def _read_call_folders(out_fd: int, found: _Outputs) -> None:
    """What a submission left as OUT/<call>/<name>.npy (its working folder is OUT): read with the same bounds, links
    never followed, none of it replacing an array of arrays.bin.  No folder (the usual case) costs one failed open."""
    for name in found.arrays:
        try:
            with open_dir(name, out_fd) as call_fd:
                files = [(n, st) for n, st in entries(call_fd, 4 * MAX_ARRAYS_PER_CALL) if n.endswith(".npy")]
                for fname, _ in files[:MAX_ARRAYS_PER_CALL]:
                    if fname[:-4] in found.arrays[name] or found.late(f"{name}/{fname}"):
                        continue
                    try:
                        found.keep(name, fname[:-4], _array(read_regular(fname, MAX_ARRAY_FILE_BYTES, call_fd),
                                                            found.budget))
                    except (Refused, ValueError, OSError, EOFError, OverflowError) as exc:  # links, FIFOs, pickles, garbage
                        found.refused[f"{name}/{fname}"] = str(exc)[:300]
        except Refused:
            continue  # nothing there (or something that is not a folder)


def read_outputs(out: Path, calls: Sequence[str]) -> tuple[dict[str, dict], dict[str, str], dict, dict[str, dict]]:
    """(arrays per call as base float64 copies, a note per file or record refused, status.json, the dtype each array
    was written in per call: float32 is judged as such) from the runner's OUT folder.

    Only regular files are read, links never followed; every read and the float64 total are bounded,
    and so is the time spent.  Nothing is unpickled: arrays.bin holds raw numbers of ``ARRAY_DTYPES`` only.
    """
    found = _Outputs(calls)
    try:
        with open_dir(str(out)) as out_fd:
            status = _status(out_fd, found.refused)
            _read_container(out_fd, found)
            _read_call_folders(out_fd, found)
    except Refused:
        status = {}
    return found.arrays, found.refused, status, found.dtypes
