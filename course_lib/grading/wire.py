"""The result channel between a sandboxed worker and the grading process, read as hostile input.

The worker writes JSON lines; values are plain data, arrays travel as base64 ``.npy`` bytes.
Everything here assumes the worker lies: a record may be endless, nested thousands deep, of an
unexpected type or event, an array header may claim terabytes, a string may hold lone
surrogates or terminal escapes. Each of these becomes a `ValueError` (or a record skipped),
never a crash of the grading process, and no reading costs more than linear time.

    reader = RecordReader(max_record=2**26)
    reader.feed(chunk)                 # bytes as read from the pipe
    for record in reader.records():    # dicts, malformed lines skipped
        ...
    decode({"nd": "..."})              # arrays, numbers, strings, tuples and dicts
    clean_text("x\\udc80\\x1b[2J")       # printable text for a feedback file
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import zipfile

import numpy as np

MAX_DEPTH = 8           # nesting of lists and dicts in a decoded value
MAX_NODES = 200_000     # items in one decoded value
MAX_HEADER = 4096       # bytes of an .npy header
ARRAY_KINDS = "biufc"   # bool, signed and unsigned integers, floats, complex

_HEADER = re.compile(r"\{'descr': '([<>|=]?[a-zA-Z][0-9]{0,2})', 'fortran_order': (True|False), "
                     r"'shape': \(([0-9, ]*)\), \}[ ]*\n?\Z")


class MalformedResult(ValueError):
    """A value the worker sent that is not plain data of the kinds the grader reads."""


def clean_text(text, limit: int = 1000, newlines: bool = False) -> str:
    """`text` as printable text: lone surrogates, control and bidi characters escaped, at most `limit` characters.

    With `newlines`, line breaks stay (a multi-line message); otherwise they become ``\\n``.
    """
    if not isinstance(text, str):
        text = repr(text)
    text = text[: 4 * limit + 16]
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates -> \udc80

    def escape(match):
        char = match.group()
        if newlines and char == "\n":
            return char
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or char.encode("unicode_escape").decode("ascii")

    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]", escape, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_npy(data: bytes, max_bytes: int = 2**30) -> np.ndarray:
    """An array from .npy bytes, checked before anything is allocated.

    Only bool, integer, float and complex dtypes of at most 16 bytes; the header must be the
    one `numpy.save` writes, and the shape must account for exactly the bytes that follow it.
    """
    if len(data) < 10 or data[:6] != b"\x93NUMPY":
        raise MalformedResult("not .npy data")
    major = data[6]
    if major == 1:
        size, start = int.from_bytes(data[8:10], "little"), 10
    elif major in (2, 3):
        size, start = int.from_bytes(data[8:12], "little"), 12
    else:
        raise MalformedResult(f".npy version {major} is not read")
    if size > MAX_HEADER or start + size > len(data):
        raise MalformedResult("the .npy header is too long")
    match = _HEADER.match(data[start:start + size].decode("latin-1"))
    if not match:
        raise MalformedResult("the .npy header is not one numpy.save writes")
    descr, fortran, shape_text = match.groups()
    try:
        dtype = np.dtype(descr)
    except TypeError:
        raise MalformedResult(f"unknown dtype {descr!r}") from None
    if dtype.kind not in ARRAY_KINDS or dtype.itemsize > 16 or dtype.fields or dtype.subdtype:
        raise MalformedResult(f"arrays of {dtype} are not read (numbers only)")
    parts = [p.strip() for p in shape_text.split(",")]
    if parts and parts[-1] == "":
        parts.pop()
    if len(parts) > 32 or not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise MalformedResult("the .npy shape is not a tuple of sizes")
    shape = tuple(int(p) for p in parts)
    count = 1
    for n in shape:
        count *= n
    body = len(data) - start - size
    if count * dtype.itemsize != body:
        raise MalformedResult(f"the .npy header claims {count * dtype.itemsize} bytes of data, {body} follow")
    if body > max_bytes:
        raise MalformedResult(f"an array of {body} bytes is over the limit of {max_bytes}")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=start + size)
    return array.reshape(shape, order="F" if fortran == "True" else "C").copy()


def decode(data, max_bytes: int = 2**30):
    """Plain data from the worker's JSON: numbers, strings, tuples, dicts, arrays (never pickle).

    Raises `MalformedResult` (a ValueError) for anything else: unknown kinds, more than
    `MAX_DEPTH` levels, more than `MAX_NODES` items, arrays that `parse_npy` refuses.
    """
    budget = [MAX_NODES, max_bytes]

    def one(node, depth):
        budget[0] -= 1
        if depth > MAX_DEPTH or budget[0] < 0:
            raise MalformedResult("the result is nested too deeply or has too many items")
        if not isinstance(node, dict) or len(node) != 1:
            raise MalformedResult("malformed result")
        (kind, payload), = node.items()
        if kind == "py":
            if payload is not None and type(payload) not in (bool, int, float, str):
                raise MalformedResult("malformed result")
            if type(payload) is int and abs(payload) > 2**63:
                raise MalformedResult("an integer of more than 64 bits")
            return payload
        if kind == "list" and type(payload) is list:
            return tuple(one(v, depth + 1) for v in payload)
        if kind == "dict" and type(payload) is dict:
            return {k: one(v, depth + 1) for k, v in payload.items()}
        if kind == "nd" and type(payload) is str:
            try:
                raw = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                raise MalformedResult("an array that is not base64") from None
            budget[1] -= len(raw)
            if budget[1] < 0:
                raise MalformedResult(f"the arrays of the result are over {max_bytes} bytes")
            return parse_npy(raw, max_bytes)
        raise MalformedResult("malformed result")

    return one(data, 0)


class RecordReader:
    """JSON-line records from a byte stream, in linear time, each at most `max_record` bytes.

    `records` raises OverflowError when a record grows past `max_record` without a newline.
    Lines that are not JSON objects (or nest too deeply for the parser) are skipped and counted.
    """

    def __init__(self, max_record: int):
        self.max_record = max_record
        self.buffer = bytearray()
        self.start = 0      # first byte not yet returned
        self.scanned = 0    # bytes after `start` known to hold no newline
        self.skipped = 0

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk

    def records(self):
        while True:
            newline = self.buffer.find(b"\n", self.start + self.scanned)
            if newline < 0:
                self.scanned = len(self.buffer) - self.start
                if self.scanned > self.max_record:
                    raise OverflowError(f"a result record of more than {self.max_record} bytes")
                self._compact()
                return
            line = bytes(self.buffer[self.start:newline])
            self.start, self.scanned = newline + 1, 0
            if len(line) > self.max_record:
                raise OverflowError(f"a result record of more than {self.max_record} bytes")
            try:
                record = json.loads(line)
            except (ValueError, RecursionError, MemoryError):
                record = None
            if isinstance(record, dict):
                yield record
            else:
                self.skipped += 1

    def _compact(self):
        if self.start > 1 << 20 and self.start * 2 > len(self.buffer):
            del self.buffer[:self.start]
            self.start = 0


def read_npz(data: bytes, max_bytes: int, max_members: int = 64) -> dict:
    """Arrays from the bytes of an ``.npz`` file (`numpy.savez`), without pickle or trust in the archive.

    Every member must be ``NAME.npy`` with a plain name; sizes are checked against `max_bytes`
    before a member is inflated (and again while it is), so a zip bomb costs nothing.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise MalformedResult(f"not an .npz file ({clean_text(str(exc), 100)}); save it with np.savez") from None
    if len(infos) > max_members:
        raise MalformedResult(f"the .npz file holds {len(infos)} members, more than {max_members}")
    if sum(i.file_size for i in infos) > max_bytes:
        raise MalformedResult(f"the .npz file unpacks to more than {max_bytes} bytes")
    arrays = {}
    for info in infos:
        name = info.filename
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}\.npy", name) or name[:-4] in arrays:
            raise MalformedResult(f"the .npz file holds a member {clean_text(name, 80)!r}; "
                                  "expected NAME.npy members written by np.savez")
        try:
            with archive.open(info) as member:
                raw = member.read(info.file_size + 1)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise MalformedResult(f"the member {name} cannot be read ({clean_text(str(exc), 100)})") from None
        if len(raw) != info.file_size:
            raise MalformedResult(f"the member {name} is not the size its header states")
        arrays[name[:-4]] = parse_npy(raw, max_bytes)
    return arrays
