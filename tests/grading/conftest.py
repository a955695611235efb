"""Helpers for the grading tests: submissions made from the master or released notebook of an assignment (A1 by default)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import pathlib

import pytest

from course_lib.grading import notebook, sandbox

ROOT = pathlib.Path(__file__).resolve().parents[2]
ASSIGNMENTS = ROOT / "assignments"
NAME = "a1_backprop"
MASTER = ASSIGNMENTS / "source" / NAME / f"{NAME}.ipynb"
RELEASED = ASSIGNMENTS / "release" / NAME / f"{NAME}.ipynb"
FULL = 18
# Small limits keep the suite fast; the honest work of A1 takes well under a second per call.
LIMITS = sandbox.Limits(load_seconds=8, call_seconds=6, memory_bytes=2 * 2**30, processes=16)

needs_namespaces = pytest.mark.skipif(not sandbox.namespaces_available(),
                                      reason="needs root and Linux namespaces (unshare, setpriv)")

# Code cells of a probing submission: what can a worker read, list, reach, see in its environment?
PROBE = '''
import os, socket

def read(path):
    try:
        with open(path, "rb") as f:
            return "READ " + f.read(200).decode("utf-8", "replace")
    except Exception as exc:
        return "ERR " + type(exc).__name__

def listdir(path):
    try:
        return "READ " + ",".join(sorted(os.listdir(path)))
    except Exception as exc:
        return "ERR " + type(exc).__name__

def environment(name):
    return os.environ.get(name, "")

def connect(host, port):
    try:
        socket.create_connection((host, port), timeout=2).close()
        return "CONNECTED"
    except Exception as exc:
        return "ERR " + type(exc).__name__
'''


def assignment_names() -> list[str]:
    """Every assignment: the folders of assignments/source that hold a master notebook NAME/NAME.ipynb."""
    return sorted(p.name for p in (ASSIGNMENTS / "source").iterdir() if (p / f"{p.name}.ipynb").is_file())


def notebook_path(name: str, which: str = "master") -> pathlib.Path:
    """The master (assignments/source) or released (assignments/release) notebook of assignment `name`."""
    return ASSIGNMENTS / ("source" if which == "master" else "release") / name / f"{name}.ipynb"


def load(which: str = "master", name: str = NAME) -> dict:
    return json.loads(notebook_path(name, which).read_text())


def cell_index(nb: dict, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def set_source(nb: dict, grade_id: str, text: str) -> dict:
    nb = copy.deepcopy(nb)
    nb["cells"][cell_index(nb, grade_id)]["source"] = text
    return nb


def prepend(nb: dict, grade_id: str, text: str) -> dict:
    nb = copy.deepcopy(nb)
    cell = nb["cells"][cell_index(nb, grade_id)]
    cell["source"] = text + "\n" + "".join(cell["source"])
    return nb


def add_cell(nb: dict, text: str, at: int | None = None) -> dict:
    nb = copy.deepcopy(nb)
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": text}
    nb["cells"].insert(len(nb["cells"]) if at is None else at, cell)
    return nb


def write(folder: pathlib.Path, student: str, nb, as_folder: bool = False, name: str = NAME) -> None:
    text = nb if isinstance(nb, str) else json.dumps(nb)
    path = folder / student / f"{name}.ipynb" if as_folder else folder / f"{student}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def read_csv(path: pathlib.Path) -> dict:
    import csv

    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def run_cells(nb: dict) -> dict:
    """Run a notebook's code cells in order, as "Restart & Run All" does: grade_id -> the exception or None."""
    namespace, raised = {"__name__": "__main__"}, {}
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        grade_id = cell["metadata"]["nbgrader"]["grade_id"]
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(notebook.cell_source(cell), f"<cell {index}>", "exec"), namespace)
            raised[grade_id] = None
        except Exception as exc:  # noqa: BLE001 - the test reports what each cell raised
            raised[grade_id] = exc
    return raised
