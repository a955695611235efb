"""`course release`: stubs, hidden tests gone, outputs cleared; the committed release is in step."""

import json

import pytest

from course_lib.grading import cli, notebook
from tests.grading.conftest import ASSIGNMENTS, NAME, RELEASED, assignment_names, load, notebook_path, run_cells


@pytest.mark.parametrize("name", assignment_names())
def test_committed_release_matches_a_fresh_release(tmp_path, name):
    target = cli.release(name, ASSIGNMENTS, out_root=tmp_path)
    assert json.loads(target.read_text()) == json.loads(notebook_path(name, "released").read_text()), \
        f"assignments/release is out of step with the source: run `course release {name}`"


def _hidden_only_lines(master: dict) -> set[str]:
    """Lines of the master's hidden tests that appear nowhere else in the master."""
    hidden, visible = set(), set()
    for cell in master["cells"]:
        inside = False
        for line in notebook.cell_source(cell).splitlines():
            stripped = line.strip()
            if stripped in (notebook.BEGIN_HIDDEN, notebook.END_HIDDEN):
                inside = stripped == notebook.BEGIN_HIDDEN
            elif stripped:
                (hidden if inside else visible).add(stripped)
    return hidden - visible


@pytest.mark.parametrize("name", assignment_names())
def test_released_notebook_has_no_solutions_or_hidden_tests(name):
    text = notebook_path(name, "released").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS", "np.einsum(\"nd,dm->nm\""):
        assert marker not in text
    nb = json.loads(text)
    released_lines = {line.strip() for cell in nb["cells"] for line in notebook.cell_source(cell).splitlines()}
    leaked = _hidden_only_lines(json.loads(notebook_path(name, "master").read_text())) & released_lines
    assert not leaked, f"hidden test lines in the release of {name}: {sorted(leaked)[:3]}"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_stub_keeps_the_indentation_and_whole_cell_regions():
    text = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    y = x * 2\n    ### END SOLUTION\n    return y"
    assert notebook.release_cell_source(text) == f"def f(x):\n    y = 1\n    {notebook.STUB}\n    return y"
    assert notebook.release_cell_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION") == notebook.STUB
    hidden = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS"
    assert notebook.release_cell_source(hidden) == "assert f(1) == 2"


@pytest.mark.parametrize("text", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                  "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])
def test_unbalanced_markers_are_reported(text):
    with pytest.raises(notebook.NotebookError, match="cell"):
        notebook.release_cell_source(text, where="cell 3")


def test_release_is_atomic_and_reports_unknown_assignments(tmp_path):
    with pytest.raises(FileNotFoundError, match="a1_backprop"):
        cli.release("a9_nothing", ASSIGNMENTS, out_root=tmp_path)
    cli.release(NAME, ASSIGNMENTS, out_root=tmp_path)
    assert sorted(p.name for p in (tmp_path / NAME).iterdir()) == [f"{NAME}.ipynb"]  # no temporary files left


def test_checks_messages_say_what_is_wrong():
    import numpy as np

    from course_lib.grading.checks import check_array

    with pytest.raises(AssertionError, match=r"shape \(2, 5\) but should have shape \(2, 3\)"):
        check_array("out", np.zeros((2, 5)), np.zeros((2, 3)))
    with pytest.raises(AssertionError, match=r"at index \(1, 0\): got 5, expected 0.*Hint: add b"):
        check_array("out", np.array([[0.0], [5.0]]), np.zeros((2, 1)), hint="add b")
    with pytest.raises(AssertionError, match="None"):
        check_array("dx", None, np.zeros(3))
    check_array("out", np.ones(3), np.ones(3))


def test_a1_master_runs_top_to_bottom_and_its_release_stops_at_every_stub():
    raised = run_cells(load("master"))
    assert not any(raised.values()), {k: repr(e) for k, e in raised.items() if e}
    released = run_cells(load("released"))
    tests = {t.grade_id for t in notebook.graded_tests(load("master"))}
    assert tests and all(isinstance(released[k], NotImplementedError) for k in tests), \
        {k: repr(released[k]) for k in tests}
