"""The result channel and the names, read as hostile input (issue 18, classes 1, 4 and 6), without a sandbox."""

import base64
import io
import json
import time
import zipfile

import numpy as np
import pytest

from course_lib.grading import names, spec, wire


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def header(text: str, body: bytes = b"") -> bytes:
    text = text + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode() + body


@pytest.mark.parametrize("array", [np.arange(12.0).reshape(3, 4), np.float64(2.5), np.array([True, False]),
                                   np.arange(6, dtype=np.uint8), np.asfortranarray(np.ones((2, 3), np.float32)),
                                   np.zeros((0, 5)), np.array([1 + 2j])])
def test_arrays_numpy_writes_come_back_equal(array):
    back = wire.parse_npy(npy(array))
    assert back.dtype == np.asarray(array).dtype and np.array_equal(back, array)


@pytest.mark.parametrize("data, message", [
    (header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"), "claims 8000000000000 bytes"),
    (header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", b"\0" * 24), "claims 16 bytes of data, 24 follow"),
    (header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8), "numbers only"),
    (header("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", b"\0" * 8), "not one numpy.save"),
    (header("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", b"\0" * 16), "numbers only"),
    (header("{'descr': '<f8', 'fortran_order': False, 'shape': " + "(" * 1000 + ")" * 1000 + ", }"), "not one"),
    (b"\x93NUMPY\x01\x00\xff\xff" + b" " * 70000, "too long"),
    (b"PK\x03\x04 a zip", "not .npy"),
])
def test_lying_or_odd_array_headers_are_refused_before_anything_is_allocated(data, message):
    start = time.monotonic()
    with pytest.raises(wire.MalformedResult, match=message):
        wire.parse_npy(data)
    assert time.monotonic() - start < 0.5


def test_decode_refuses_deep_large_or_odd_values():
    deep = {"py": 1}
    for _ in range(wire.MAX_DEPTH + 2):
        deep = {"list": [deep]}
    for value in (deep, {"list": [{"py": 1}] * (wire.MAX_NODES + 1)}, {"nd": "not base64!"}, {"nd": 5},
                  {"py": [1]}, {"py": 2**70}, {"dict": [1, 2]}, {"list": {"a": 1}}, {"what": 1}, [1], "x"):
        with pytest.raises(ValueError):
            wire.decode(value)
    value = {"dict": {"a": {"list": [{"py": 1.5}, {"nd": base64.b64encode(npy(np.eye(2))).decode()}]}}}
    decoded = wire.decode(value)
    assert decoded["a"][0] == 1.5 and np.array_equal(decoded["a"][1], np.eye(2))


def test_records_are_read_in_linear_time_with_a_cap():
    reader = wire.RecordReader(max_record=64 * 2**20)
    start = time.monotonic()
    piece = b"x" * 4096
    for _ in range(24 * 256):  # a 24 MB line in 4 kB pieces
        reader.feed(piece)
        assert list(reader.records()) == []
    reader.feed(b"\n" + b'{"event": "ready"}\n' * 100_000)
    records = list(reader.records())
    assert len(records) == 100_000 and reader.skipped == 1
    assert time.monotonic() - start < 30  # quadratic reading would scan some 70 GB here
    capped = wire.RecordReader(max_record=2**20)
    with pytest.raises(OverflowError):
        for _ in range(300):
            capped.feed(piece)
            list(capped.records())


def test_malformed_lines_are_skipped():
    reader = wire.RecordReader(max_record=2**20)
    reader.feed(b"[" * 100_000 + b"\n\xff\xfe\n[1, 2]\n" + json.dumps({"event": "x", "s": "\udc80"}).encode() + b"\n")
    assert [r["event"] for r in reader.records()] == ["x"] and reader.skipped == 3


def test_text_from_a_submission_is_printable_and_short():
    text = wire.clean_text("a\udc80b\x1b[2J\u202e\nnext\x00" + "z" * 5000, limit=100)
    assert text.startswith("a\\udc80b\\x1b[2J\\u202e\\nnext\\x00") and len(text) == 100
    text.encode("utf-8")
    assert wire.clean_text("two\nlines", newlines=True) == "two\nlines"


def test_npz_files_are_read_without_pickle_and_with_a_size_cap():
    buffer = io.BytesIO()
    np.savez(buffer, W=np.ones((3, 4)), b=np.zeros(4))
    arrays = wire.read_npz(buffer.getvalue(), max_bytes=2**20)
    assert sorted(arrays) == ["W", "b"] and arrays["W"].shape == (3, 4)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("W.npy", npy(np.zeros(40 * 2**20, np.uint8)))  # 40 MB of zeros, 40 kB packed
    assert len(bomb.getvalue()) < 2**20
    with pytest.raises(wire.MalformedResult, match="unpacks to more than"):
        wire.read_npz(bomb.getvalue(), max_bytes=2**20)
    odd = io.BytesIO()
    with zipfile.ZipFile(odd, "w") as archive:
        archive.writestr("../x.npy", npy(np.zeros(2)))
    with pytest.raises(wire.MalformedResult, match="member"):
        wire.read_npz(odd.getvalue(), max_bytes=2**20)
    with pytest.raises(wire.MalformedResult, match="not an .npz"):
        wire.read_npz(b"plain bytes", max_bytes=2**20)


def test_a_result_is_checked_against_the_reference_before_any_comparison():
    call = spec.Call("f", names=("dx", "dw"))
    expected = (np.zeros((3, 2)), np.zeros(4))
    assert spec.structure_mismatch((np.zeros((3, 2)), np.zeros(4)), expected, call) is None
    assert "dw has shape (1, 1000000) but should have shape (4,)" in \
        spec.structure_mismatch((np.zeros((3, 2)), np.zeros((1, 10**6))), expected, call)
    assert "should return 2 values" in spec.structure_mismatch(np.zeros((3, 2)), expected, call)
    assert "real numbers" in spec.structure_mismatch((np.zeros((3, 2)), np.zeros(4, complex)), expected, call)
    assert spec.structure_mismatch(((1.0, 2.0), np.zeros(4)), (np.zeros(2), np.zeros(4)), call) is None
    assert spec.structure_mismatch(3, 3.0, spec.Call("g")) is None
    assert "has no key 'W1'" in spec.structure_mismatch({"b": 1}, {"W1": np.zeros(2)}, spec.Call("g"))


RAW = [b"ann", b"Ann", b"a b", b"a_b", b"a%20b", b"caf\xe9", b"caf\\xe9", b"caf\xc3\xa9", b"new\nline", b"\xe2\x80\xaex",
       b".hidden", b"-x", b"=1+1", b"x" * 200] + [bytes([i]) for i in range(1, 256) if i != 0x2F]


def test_names_are_unique_reversible_and_printable():
    shown = [names.display(r) for r in RAW]
    assert len(set(shown)) == len(RAW)
    assert all(s.isprintable() for s in shown)
    for upper in (False, True):
        keys = [names.file_key(r, upper=upper) for r in RAW]
        assert len(set(keys)) == len(RAW)
        assert all(names.student_bytes(k) == r for k, r in zip(keys, RAW))
        assert all(k.isascii() and "/" not in k and not k.startswith((".", "-")) for k in keys)
    lower = [names.file_key(r, upper=True).lower() for r in RAW]
    assert len(set(lower)) == len(RAW)  # distinct on a case-insensitive file system too


def test_csv_cells_keep_their_text():
    for text in ["=1+1", "+1", "-2", "@A", "\tx", "'quoted", "plain", "''x"]:
        cell = names.csv_cell(text)
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) and names.csv_value(cell) == text
