"""nbgrader-style notebooks: read the cell metadata, make the student version, pick out
the code a submission contributes.

Markers, as in nbgrader::

    ### BEGIN SOLUTION / ### END SOLUTION          the answer; release replaces it by a stub
    ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS  tests the students never see

A cell's ``metadata.nbgrader`` is ``{"grade", "grade_id", "locked", "points",
"schema_version": 3, "solution", "task": false}``. A graded test cell has
``grade=True, solution=False``.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import hashlib
import json
import pathlib
import re

from course_lib.storage import atomic_write

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUB = 'raise NotImplementedError("Replace this line with your code.")'


class NotebookError(ValueError):
    """A notebook that cannot be read or released (bad JSON, unbalanced markers)."""


def cell_source(cell) -> str:
    """A cell's source as one string (nbformat stores a list of lines or a string)."""
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    if isinstance(source, list):
        return "".join(s for s in source if isinstance(s, str))
    return source if isinstance(source, str) else ""


def source_lines(text: str) -> list[str]:
    """A string split the way nbformat writes it: lines keep their '\\n', the last has none."""
    return text.splitlines(keepends=True)


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata") if isinstance(cell, dict) else None
    meta = meta.get("nbgrader") if isinstance(meta, dict) else None
    return meta if isinstance(meta, dict) else {}


def is_graded_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def content_hash(text: str) -> str:
    """Hash of a cell's text, blind to trailing spaces and blank lines at the ends."""
    normal = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def parse_notebook(data: bytes, shown: str = "the notebook") -> dict:
    """Parse a notebook's bytes as plain JSON; NotebookError says what is wrong with it."""
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise NotebookError(f"{shown} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{shown} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (RecursionError, MemoryError):
        raise NotebookError(f"{shown} is JSON nested too deeply to be a notebook") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{shown} is JSON but not a notebook (no list of cells)")
    return nb


def read_notebook(path) -> dict:
    """Read and parse a notebook (a trusted one: the master; submissions go through `submissions`)."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name}: {exc.strerror}") from None
    return parse_notebook(data, path.name)


def write_notebook(nb: dict, path) -> None:
    """Write atomically (a temporary file beside the target, then a rename)."""
    text = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


def _replace_regions(text: str, begin: str, end: str, stub: str | None, where: str) -> str:
    """Replace each begin..end region (marker lines included) by `stub` at the begin line's indent."""
    out, inside, indent = [], False, ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise NotebookError(f"{where}: '{begin}' at line {number} inside another region")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            if stub is not None:
                out.append(indent + stub)
        elif stripped == end:
            if not inside:
                raise NotebookError(f"{where}: '{end}' at line {number} without a '{begin}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise NotebookError(f"{where}: '{begin}' is never closed by '{end}'")
    return "\n".join(out).rstrip("\n")


def release_cell_source(text: str, where: str = "cell") -> str:
    """A cell's text as the students get it: solutions stubbed, hidden tests removed."""
    text = _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, STUB, where)
    return _replace_regions(text, BEGIN_HIDDEN, END_HIDDEN, None, where)


def release_notebook(nb: dict) -> dict:
    """The student version of a master notebook, with outputs and execution counts cleared."""
    nb = copy.deepcopy(nb)
    seen = set()
    for index, cell in enumerate(nb["cells"]):
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        if grade_id:
            if grade_id in seen:
                raise NotebookError(f"cell {index}: grade_id {grade_id!r} is used twice")
            seen.add(grade_id)
        text = cell_source(cell)
        if cell.get("cell_type") == "code":
            text = release_cell_source(text, where=f"cell {index} ({grade_id or 'no grade_id'})")
            cell["outputs"], cell["execution_count"] = [], None
        elif BEGIN_SOLUTION in text:
            text = _replace_regions(text, BEGIN_SOLUTION, END_SOLUTION, "YOUR ANSWER HERE", f"cell {index}")
        cell["source"] = source_lines(text)
        cell.get("metadata", {}).pop("execution", None)
    return nb


@dataclasses.dataclass
class TestCell:
    grade_id: str
    points: int
    index: int
    released_hash: str
    master_hash: str = ""


def graded_tests(master: dict) -> list[TestCell]:
    """The graded test cells of a master notebook, in order, with the hash of their released text."""
    tests = []
    for index, cell in enumerate(master["cells"]):
        if is_graded_test(cell):
            meta = nbgrader_meta(cell)
            released = release_cell_source(cell_source(cell), where=f"cell {index}")
            tests.append(TestCell(str(meta.get("grade_id")), int(meta.get("points", 0)), index,
                                  content_hash(released), content_hash(cell_source(cell))))
    return tests


@dataclasses.dataclass
class LockedCell:
    """A locked code cell of the master that is neither a solution nor a test (setup, helpers)."""

    grade_id: str
    index: int
    text: str   # as released
    hash: str
    followers: tuple = ()  # grade_ids of the master's cells after this one
    names: tuple = ()      # the functions and classes it defines (`defined_names`), captured when it has run


def locked_cells(master: dict) -> list[LockedCell]:
    """The master's locked helper cells, in order. A submission's copy is never used: the
    grader runs the released text, so a student cannot rewrite a helper the grader calls."""
    cells = []
    for index, cell in enumerate(master["cells"]):
        meta = nbgrader_meta(cell)
        if (cell.get("cell_type") == "code" and meta.get("locked") and not meta.get("solution")
                and not meta.get("grade") and meta.get("grade_id")):
            text = release_cell_source(cell_source(cell), where=f"cell {index}")
            later = tuple(str(nbgrader_meta(c).get("grade_id")) for c in master["cells"][index + 1:]
                          if nbgrader_meta(c).get("grade_id"))
            cells.append(LockedCell(str(meta["grade_id"]), index, text, content_hash(text), later, defined_names(text)))
    return cells


_MAGIC = re.compile(r"^(\s*)([%!].*)$", re.MULTILINE)


def strip_magics(text: str) -> str:
    """IPython magics and shell escapes (``%matplotlib``, ``!pip``) become comments; there is no kernel."""
    return _MAGIC.sub(r"\1pass  # \2", text)


@dataclasses.dataclass
class Extracted:
    """A submission's own code cells, where its graded tests stand, and what happened to its test cells.

    Args:
        cells: [(index in the submission, text)]; -1 for a locked cell put back.
        notes: sentences for the feedback.
        positions: grade_id -> how many of `cells` run before that test's hidden calls.
        capture: position in `cells` -> names a locked helper cell defines (see `defined_names`).
    """

    cells: list[tuple[int, str]]
    notes: list[str]
    positions: dict = dataclasses.field(default_factory=dict)
    capture: dict = dataclasses.field(default_factory=dict)


def defined_names(text: str) -> tuple[str, ...]:
    """The functions and classes a cell defines at its top level.

    Call it from one thread at a time: CPython 3.11's `ast.parse` is not safe in concurrent
    threads ("AST constructor recursion depth mismatch"); `locked_cells` calls it for the master."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    return tuple(node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef)))


def master_order(master: dict) -> dict:
    """grade_id -> index of its cell in the master notebook."""
    order = {}
    for index, cell in enumerate(master["cells"]):
        grade_id = nbgrader_meta(cell).get("grade_id")
        if isinstance(grade_id, str):
            order.setdefault(grade_id, index)
    return order


def extract_code(submission: dict, tests: list[TestCell], locked: list[LockedCell] | None = None,
                 order: dict | None = None) -> Extracted:
    """The code cells a submission contributes: every code cell except the graded test cells.

    A test cell is recognised by its grade_id, or by its text when the metadata is gone. Test
    cells are never taken from a submission: the grader uses the source's tests, and the notes
    say which test cells were modified or deleted. A test's hidden calls run where its test cell
    stands (`Extracted.positions`); for a deleted one, after the last cell of the submission that
    comes before it in the master (`order`: `master_order`), or at the end. Locked helper cells
    (`locked_cells`) run as released, in the submission's place for them (or, when deleted,
    before the first later cell of the master that the submission still has); the notes say
    when one was modified or deleted, and the functions they define are captured when they
    have run (`Extracted.capture`).
    """
    locked = locked or []
    order = order or {}
    locked_by_id = {c.grade_id: c for c in locked}
    locked_by_hash = {c.hash: c for c in locked}
    by_id = {t.grade_id: t for t in tests}
    by_hash = {**{t.master_hash: t for t in tests}, **{t.released_hash: t for t in tests}}
    found: set[str] = set()
    notes, cells, positions = [], [], {}
    known = []  # (position after the cell, master index) of the cells whose grade_id the master knows
    for index, cell in enumerate(submission.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = cell_source(cell)
        grade_id = nbgrader_meta(cell).get("grade_id")
        grade_id = grade_id if isinstance(grade_id, str) else None
        test = by_id.get(grade_id) if grade_id else None
        if test is not None:
            if test.grade_id in found:
                notes.append(f"test cell {test.grade_id} appears twice; the copy in cell {index} was ignored")
            elif content_hash(text) not in (test.released_hash, test.master_hash):
                notes.append(f"test cell {test.grade_id} was modified; the original was used")
            if test.grade_id not in found:
                positions[test.grade_id] = len(cells)
            found.add(test.grade_id)
            continue
        test = by_hash.get(content_hash(text))
        if test is not None:
            if test.grade_id not in found:
                positions[test.grade_id] = len(cells)
            found.add(test.grade_id)
            continue
        helper = locked_by_id.get(grade_id) if grade_id else None
        helper = helper or locked_by_hash.get(content_hash(text))
        if helper is not None:
            if helper.grade_id in found:
                notes.append(f"locked cell {helper.grade_id} appears twice; the copy in cell {index} was ignored")
                continue
            if content_hash(text) != helper.hash:
                notes.append(f"locked cell {helper.grade_id} was modified; the original was used")
            found.add(helper.grade_id)
            cells.append((index, strip_magics(helper.text)))
            known.append((len(cells), order.get(helper.grade_id)))
            continue
        cells.append((index, strip_magics(text)))
        if grade_id in order:
            known.append((len(cells), order[grade_id]))
    for helper in locked:
        if helper.grade_id not in found:
            notes.append(f"locked cell {helper.grade_id} was deleted; the original was used")
            later = [k for k, (index, _) in enumerate(cells)
                     if index >= 0 and nbgrader_meta(submission["cells"][index]).get("grade_id") in helper.followers]
            at = later[0] if later else len(cells)
            cells.insert(at, (-1, strip_magics(helper.text)))
            positions = {g: p + (p >= at) for g, p in positions.items()}
            known = [(p + (p > at), i) for p, i in known] + [(at + 1, order.get(helper.grade_id))]
    for test in tests:
        if test.grade_id not in found:
            notes.append(f"test cell {test.grade_id} was deleted; the original was used")
            before = [p for p, i in known if i is not None and i < test.index]
            positions[test.grade_id] = max(before) if before else len(cells)
    capture = {}
    helpers = {strip_magics(c.text): c.names for c in locked}  # parsed once, with the master (not in threads)
    for position, (_, text) in enumerate(cells):
        if helpers.get(text):
            capture[position] = helpers[text]
    return Extracted(cells, notes, positions, capture)
