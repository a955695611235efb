"""Student names as the grader writes them: in the CSV, in feedback file names, on the terminal.

A student is named by an entry of the submissions folder (``STUDENT/`` or ``STUDENT.ipynb``),
which may be any bytes but ``/`` and NUL. Three forms, each a function of those bytes:

- `display(raw)`: the name for people (the CSV's ``student`` column, the feedback's title):
  valid UTF-8 stays as it is, an invalid byte becomes ``\\xe9``, a backslash ``\\\\``, and
  control or invisible characters (a newline, an escape, a bidi override) their ``\\n``,
  ``\\u202e`` escapes. One line, printable, and different names stay different.
- `file_key(raw)`: the feedback file's name (without ``.md``): ASCII letters, digits, ``.``,
  ``_`` and ``-`` stay, every other byte becomes ``%XX`` (``a b`` -> ``a%20b``, ``Zoë`` ->
  ``Zo%C3%AB``), and a leading ``.`` or ``-`` is escaped too. `student_bytes(key)` reverses
  it. With ``upper=True`` capital letters are escaped as well, so that ``Ann`` and ``ann``
  get different files on a case-insensitive file system; the grader asks for that when two
  names of a run differ only in case.
- `csv_cell(text)`: a cell a spreadsheet shows as text: one that begins with ``=``, ``+``,
  ``-``, ``@``, a tab, a carriage return or ``'`` gets a ``'`` in front (OWASP's advice;
  `csv_value` takes it off again).
"""

from __future__ import annotations

import os
import re
import unicodedata

_KEEP = re.compile(rb"[A-Za-z0-9._-]")
_RISKY_START = ("=", "+", "-", "@", "\t", "\r", "'")


def raw_name(name) -> bytes:
    """The bytes of a directory entry's name (str names from os.listdir decode with surrogateescape)."""
    return name if isinstance(name, bytes) else os.fsencode(name)


def display(raw) -> str:
    """The name for people: printable, one line, injective (see the module)."""
    out = []
    for char in raw_name(raw).decode("utf-8", "surrogateescape"):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs") or (char.isspace() and char != " "):
            out.append(f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)


def file_key(raw, upper: bool = False) -> str:
    """The feedback file's name for a student, without ``.md`` (see the module); never empty."""
    raw = raw_name(raw)
    out = []
    for i, byte in enumerate(raw):
        char = bytes([byte])
        keep = _KEEP.fullmatch(char) and not (i == 0 and char in (b".", b"-")) and not (upper and char.isupper())
        out.append(char.decode("ascii") if keep else f"%{byte:02X}")
    return "".join(out) or "%"


def student_bytes(key: str) -> bytes:
    """The student's name (bytes) from a feedback file's name: the inverse of `file_key`."""
    if key == "%":
        return b""
    return re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), key.encode("ascii"))


def csv_cell(text: str) -> str:
    """`text` as a spreadsheet shows it as text (a leading ``'`` before a risky first character)."""
    return "'" + text if text.startswith(_RISKY_START) else text


def csv_value(cell: str) -> str:
    """The text of a cell `csv_cell` wrote."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_RISKY_START) else cell
