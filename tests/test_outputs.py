"""OUT/arrays.bin, the one file a run's arrays come back in: read back exactly, and refused, named and unread when it is
anything but the records the runner writes (a link, a FIFO, too large, a damaged frame, a dtype that is not plain
numbers, a shape that overflows or lies).  Everything fails closed: a refused record is never an array."""

from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np
import pytest

from bpcheck.grader import runner, untrusted
from bpcheck.grader.untrusted import ARRAYS_FILE, MAX_ARRAYS_BYTES, MAX_FLOAT64_BYTES, MAX_HEADER_BYTES, read_outputs


def record(call: str, name: str, arr: np.ndarray, header: Optional[dict] = None) -> bytes:
    """One record as the format is documented (written here, not by the runner): mark, length, JSON header, numbers;
    ``header``: fields that replace the true ones."""
    head = json.dumps({"call": call, "name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), **(header or {})}).encode()
    return b"BPA1" + len(head).to_bytes(4, "little") + head + np.ascontiguousarray(arr).tobytes()


def out_with(tmp_path, data: bytes, folder: str = "out"):
    out = tmp_path / folder
    out.mkdir()
    (out / ARRAYS_FILE).write_bytes(data)
    return out


def test_the_runner_and_the_grader_agree_on_the_format():
    assert (runner.ARRAYS_FILE, runner.MAGIC) == (untrusted.ARRAYS_FILE, untrusted.MAGIC)


def test_what_the_runner_saves_is_read_back_exactly(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    w = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    half = np.linspace(-1, 1, 5, dtype=np.float32)
    z = np.array([1 + 2j, 3 - 1j])
    for call, name, value in (("small", "gW0", w), ("small", "gb0", half), ("small", "z", z), ("small.trace", "trace.0", [1.5, 2.5])):
        runner._save(str(out), call, name, value)
    arrays, refused, _, dtypes = read_outputs(out, ["small", "small.trace"])
    assert refused == {}
    assert np.array_equal(arrays["small"]["gW0"], w) and arrays["small"]["gW0"].dtype == np.float64
    assert np.array_equal(arrays["small"]["gb0"], half.astype(np.float64))
    assert np.array_equal(arrays["small"]["z"], z) and arrays["small"]["z"].dtype == np.complex128
    assert np.array_equal(arrays["small.trace"]["trace.0"], [1.5, 2.5])
    assert dtypes["small"] == {"gW0": "float64", "gb0": "float32", "z": "complex128"}


def test_a_linked_container_is_refused_and_never_followed(tmp_path):
    real = tmp_path / "elsewhere.bin"
    real.write_bytes(record("small", "gW0", np.ones(3)))
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(real, out / ARRAYS_FILE)
    arrays, refused, _, _ = read_outputs(out, ["small"])
    assert arrays == {"small": {}}
    assert "symbolic link" in refused[ARRAYS_FILE]


def test_a_fifo_as_container_is_refused_without_blocking(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / ARRAYS_FILE)
    arrays, refused, _, _ = read_outputs(out, ["small"])
    assert arrays == {"small": {}} and "FIFO" in refused[ARRAYS_FILE]


def test_an_oversized_container_is_refused_before_reading(tmp_path):
    out = out_with(tmp_path, b"")
    os.truncate(out / ARRAYS_FILE, MAX_ARRAYS_BYTES + 1)  # sparse: costs no disk
    arrays, refused, _, _ = read_outputs(out, ["small"])
    assert arrays == {"small": {}}
    assert f"{MAX_ARRAYS_BYTES + 1} bytes; at most {MAX_ARRAYS_BYTES}" in refused[ARRAYS_FILE]


def test_a_damaged_frame_ends_the_walk_and_names_its_byte(tmp_path):
    good = record("small", "gW0", np.ones(3))
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, good + b"JUNKJUNKJUNK" + good), ["small"])
    assert np.array_equal(arrays["small"]["gW0"], np.ones(3)) and list(arrays["small"]) == ["gW0"]
    assert f"record at byte {len(good)}" in refused[ARRAYS_FILE] and "record mark" in refused[ARRAYS_FILE]


@pytest.mark.parametrize("header, said", [
    ({"dtype": "|O"}, "dtype"),  # objects: what a pickle would be made of
    ({"dtype": "<i8"}, "dtype"),  # numbers, but not what the runner writes
    ({"dtype": ["<f8"]}, "dtype"),  # not even a string (and no hashable one)
    ({"shape": "3"}, "shape"),
    ({"shape": [-3]}, "shape"),
    ({"shape": [1] * 33}, "shape"),
    ({"name": 7}, "name"),
])
def test_a_header_out_of_the_format_is_refused(tmp_path, header, said):
    data = record("small", "gW0", np.ones(3), header)
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, data), ["small"])
    assert arrays == {"small": {}}
    assert said in refused[ARRAYS_FILE] and "expected" in refused[ARRAYS_FILE]


def test_headers_that_are_too_long_or_not_json_are_refused(tmp_path):
    long = b"BPA1" + (MAX_HEADER_BYTES + 1).to_bytes(4, "little") + b"{" * (MAX_HEADER_BYTES + 1)
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, long), ["small"])
    assert arrays == {"small": {}} and f"at most {MAX_HEADER_BYTES} bytes" in refused[ARRAYS_FILE]
    broken = b"BPA1" + (5).to_bytes(4, "little") + b"{'a':"
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, broken, "out2"), ["small"])
    assert arrays == {"small": {}} and "not valid JSON" in refused[ARRAYS_FILE]


@pytest.mark.parametrize("shape", [[2**70], [2**32, 2**32], [10**6]])
def test_a_shape_that_overflows_or_lies_is_refused(tmp_path, shape):
    """The numbers a header announces must be in the file: a shape past int64, or wrapping to 0 in it, never is."""
    data = record("small", "gW0", np.ones(3), {"shape": shape})
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, data), ["small"])
    assert arrays == {"small": {}}
    assert "ends" in refused["small/gW0"] and "before this array's numbers do" in refused["small/gW0"]


def test_the_float64_budget_holds_and_traces_crowd_out_nothing(tmp_path):
    """float32 records that fit the file bound but not, widened, the budget; a trace written first is read last."""
    big = np.zeros((7 << 20) // 4, np.float32)  # 7 MiB as written, 14 MiB as float64
    data = record("small.trace", "trace.0", big) + b"".join(record("small", f"a{i}", big) for i in range(3))
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, data), ["small", "small.trace"])
    assert sorted(arrays["small"]) == ["a0", "a1"] and arrays["small.trace"] == {}
    assert "as float64" in refused["small/a2"] and "as float64" in refused["small.trace/trace.0"]
    assert sum(a.nbytes for a in arrays["small"].values()) <= MAX_FLOAT64_BYTES


def test_arrays_past_the_per_call_count_are_refused(tmp_path):
    data = b"".join(record("small", f"a{i}", np.full(1, float(i))) for i in range(untrusted.MAX_ARRAYS_PER_CALL + 1))
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, data), ["small"])
    assert len(arrays["small"]) == untrusted.MAX_ARRAYS_PER_CALL and arrays["small"]["a0"][0] == 0.0
    assert f"more than {untrusted.MAX_ARRAYS_PER_CALL}" in refused[f"small/a{untrusted.MAX_ARRAYS_PER_CALL}"]


def test_the_runner_never_writes_through_a_link_or_into_a_fifo(tmp_path):
    """A submission runs in the runner's process and may replace arrays.bin before the next array is saved: a link is
    not followed (the file it names is left as it was) and a FIFO never blocks; the save fails, as an error of its
    call."""
    target = tmp_path / "elsewhere"
    target.write_bytes(b"theirs")
    for made in ("link", "fifo"):
        out = tmp_path / made
        out.mkdir()
        if made == "link":
            os.symlink(target, out / ARRAYS_FILE)
        else:
            os.mkfifo(out / ARRAYS_FILE)
        with pytest.raises(OSError):
            runner._save(str(out), "small", "gW0", np.ones(3))
    assert target.read_bytes() == b"theirs"


@pytest.mark.parametrize("value", [np.arange(20.0).reshape(5, 4) / 3, np.float64(3.5), np.zeros((0, 3)),
                                   np.ones((2, 3), np.float32), np.asfortranarray(np.arange(6.0).reshape(3, 2)),
                                   np.array([1 + 2j, -1j]), np.arange(4, dtype=">f8")])
def test_the_runner_reads_its_inputs_as_saved(tmp_path, value):
    """The runner's own reading of the inputs the grader saves (np.save's plain header by one pattern, anything
    else, such as a Fortran-ordered array, by np.load) gives the array saved, never a view a call could change."""
    np.save(tmp_path / "x.npy", value)
    got = runner._input(str(tmp_path / "x.npy"))
    assert got.shape == np.shape(value) and got.dtype == np.asarray(value).dtype
    assert np.array_equal(got, value)
    assert not got.flags.writeable or np.isfortran(np.asarray(value))


def test_damaged_containers_never_crash_the_reading(tmp_path):
    """Bytes of a valid container changed at random (a fixed seed, so every machine tries the same 400): the reading
    always returns, with only float64 or complex128 arrays, within the budget, and a note wherever it stopped."""
    rng = np.random.default_rng(25)
    good = b"".join(record("small", f"g{i}", rng.standard_normal((3, 2)).astype(t))
                    for i, t in enumerate((np.float64, np.float32, np.complex128)))
    for k in range(400):
        data = bytearray(good)
        for at in rng.integers(0, len(data), rng.integers(1, 6)):
            data[at] = int(rng.integers(0, 256))
        arrays, refused, _, _ = read_outputs(out_with(tmp_path, bytes(data), f"out{k}"), ["small"])
        assert all(a.dtype in (np.float64, np.complex128) for a in arrays["small"].values())
        assert sum(a.nbytes for a in arrays["small"].values()) <= MAX_FLOAT64_BYTES
        assert len(arrays["small"]) == 3 or refused


def test_records_of_other_calls_twice_written_names_and_floods_are_noted(tmp_path):
    one = np.ones(2)
    data = record("other", "x", one) + record("small", "g", one) + record("small", "g", 2 * one)
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, data), ["small"])
    assert np.array_equal(arrays["small"]["g"], 2 * one)  # the last one written
    assert "never made" in refused["other/x"] and "more than once" in refused["small/g"]
    flood = b"".join(record("small", f"e{i}", np.zeros(0)) for i in range(3 * untrusted.MAX_ARRAYS_PER_CALL))
    arrays, refused, _, _ = read_outputs(out_with(tmp_path, flood, "out2"), ["small"])
    assert len(arrays["small"]) == untrusted.MAX_ARRAYS_PER_CALL
    assert f"more than {untrusted.MAX_ARRAYS_PER_CALL} records" in refused[ARRAYS_FILE]
