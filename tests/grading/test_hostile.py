"""Hostile submissions, graded in one run (two at a time): each attack costs only what it breaks.

The grading process never runs submission code; these tests check the verdicts it writes.
"""

import time

import pytest

from course_lib.grading import grader
from tests.grading.conftest import (ASSIGNMENTS, FULL, LIMITS, NAME, add_cell, load, needs_namespaces, prepend,
                                    read_csv, set_source, write)

STUB_ALL = ("import numpy as np\n"
            "def affine_forward(x, w, b):\n    return np.zeros((x.shape[0], w.shape[1]))\n")


def submissions():
    master, released = load("master"), load("released")
    return {
        "master": master,
        "stub": released,
        "broken": '{"cells": [ {"cell_type": "code", "source": "x = ',
        "loop_call": set_source(master, "affine_forward", "def affine_forward(x, w, b):\n    while x.shape[0] == 7:\n        pass\n    return x @ w + b\n"),
        "loop_load": add_cell(master, "while True:\n    pass\n"),
        "sys_exit": set_source(prepend(master, "relu", "import sys\nsys.exit(0)\n"), "affine_forward",
                               "import sys\ndef affine_forward(x, w, b):\n    if x.shape[0] == 7:\n        sys.exit(3)\n    return x @ w + b\n"),
        "os_exit": add_cell(master, "import os\nos._exit(0)\n", at=2),
        "memory": set_source(master, "affine_backward",
                             "import numpy as np\ndef affine_backward(dout, x, w, b):\n"
                             "    if x.shape[0] == 7:\n        np.ones(50 * 10**9 // 8)\n"
                             "    return dout @ w.T, x.T @ dout, dout.sum(0)\n"),
        "output": add_cell(master, "import os, sys\nfor _ in range(20):\n    print('x' * 10**6)\n"
                                   "    sys.stderr.write('y' * 10**6)\n    os.write(1, b'z' * 10**6)\n"
                                   "    os.write(2, b'w' * 10**6)\n", at=2),
        "override": add_cell(released, "import builtins, numpy as np\nnp.allclose = lambda *a, **k: True\n"
                                       "np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n"
                                       "np.testing.assert_allclose = lambda *a, **k: None\n"
                                       "builtins.AssertionError = type('Nope', (Exception,), {})\n" + STUB_ALL),
        "score_print": add_cell(released, "print('score: 100')\nprint('total: 18/18')\n"
                                          "open('grades.csv', 'w').write('score_print,2,3,1,2,3,3,4,18,ok\\n')\n"),
        "ipython": add_cell(released, "try:\n    get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"
                                      "except NameError:\n    pass\n"
                                      "import IPython\nip = IPython.get_ipython()\n"
                                      "ip.input_transformers_post.append(lambda lines: ['pass\\n'])\n"),
        "edited_test": set_source(master, "test_affine_forward", "print('all tests pass')\n"),
        "deleted_test": _delete(master, "test_relu_forward"),
        "weird_return": set_source(master, "affine_forward",
                                   "class Evil:\n    def __array__(self, *a, **k):\n        raise SystemExit(1)\n"
                                   "def affine_forward(x, w, b):\n    return Evil() if x.shape[0] == 7 else x @ w + b\n"),
    }


def _delete(nb, grade_id):
    from tests.grading.conftest import cell_index

    nb = dict(nb, cells=list(nb["cells"]))
    del nb["cells"][cell_index(nb, grade_id)]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("subs")
    for i, (student, nb) in enumerate(submissions().items()):
        write(folder, student, nb, as_folder=i % 2 == 0)
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    start = time.monotonic()
    report = grader.grade(NAME, folder, out, jobs=2, root=ASSIGNMENTS, limits=LIMITS)
    seconds = time.monotonic() - start
    feedback = {p.stem: p.read_text() for p in report.feedback_dir.glob("*.md")}
    return read_csv(out), feedback, seconds, report


def test_the_run_finishes_and_grades_everyone(graded):
    rows, feedback, seconds, _ = graded
    assert sorted(rows) == sorted(submissions())
    assert sorted(feedback) == sorted(submissions())
    assert seconds < 60


def test_master_solution_scores_full_marks(graded):
    rows, feedback, _, _ = graded
    assert int(rows["master"]["total"]) == FULL, feedback["master"]
    assert rows["master"]["status"] == "ok"


def test_released_stubs_score_zero_as_an_honest_zero(graded):
    rows, feedback, _, _ = graded
    assert int(rows["stub"]["total"]) == 0 and rows["stub"]["status"] == "ok"
    assert "NotImplementedError" in feedback["stub"]


def test_corrupted_notebook(graded):
    rows, feedback, _, _ = graded
    assert int(rows["broken"]["total"]) == 0 and rows["broken"]["status"] == "invalid notebook"
    assert "not valid JSON" in feedback["broken"]


def test_endless_loop_in_one_function_costs_that_test(graded):
    rows, feedback, _, _ = graded
    assert rows["loop_call"]["test_affine_forward"] == "0"
    assert int(rows["loop_call"]["total"]) == FULL - 2, feedback["loop_call"]
    assert "time limit" in rows["loop_call"]["status"] and "time limit" in feedback["loop_call"]


def test_endless_loop_at_the_top_level_costs_everything(graded):
    rows, feedback, _, _ = graded
    assert int(rows["loop_load"]["total"]) == 0 and "time limit" in rows["loop_load"]["status"]
    assert "while running your code cells" in feedback["loop_load"]


def test_sys_exit_costs_the_cells_and_calls_it_breaks(graded):
    rows, feedback, _, _ = graded
    row = rows["sys_exit"]
    assert row["test_affine_forward"] == row["test_relu_forward"] == row["test_relu_backward"] == "0"
    assert int(row["total"]) == 6, feedback["sys_exit"]  # relu_* undefined: the network tests fail too
    assert "SystemExit" in feedback["sys_exit"] and "cell errors" in row["status"]


def test_os_exit_at_import_is_a_dead_worker_not_an_honest_zero(graded):
    rows, feedback, _, _ = graded
    assert int(rows["os_exit"]["total"]) == 0
    assert rows["os_exit"]["status"] == "worker died"
    assert "exited with code 0" in feedback["os_exit"]


def test_memory_blow_up_costs_that_test(graded):
    rows, feedback, _, _ = graded
    assert rows["memory"]["test_affine_backward"] == "0"
    assert int(rows["memory"]["total"]) == FULL - 3, feedback["memory"]
    assert "MemoryError" in feedback["memory"] or "killed" in feedback["memory"]


def test_megabytes_of_output_change_nothing(graded):
    rows, feedback, _, _ = graded
    assert int(rows["output"]["total"]) == FULL, feedback["output"]
    assert len(feedback["output"]) < 10_000


@pytest.mark.parametrize("student", ["override", "score_print", "ipython"])
def test_tampering_with_checks_printing_or_kernel_hooks_earns_nothing(graded, student):
    rows, feedback, _, _ = graded
    assert int(rows[student]["total"]) == 0, feedback[student]


def test_ipython_hooks_do_not_exist(graded):
    _, feedback, _, _ = graded
    assert "'NoneType' object has no attribute 'input_transformers_post'" in feedback["ipython"]


def test_edited_and_deleted_test_cells_are_restored(graded):
    rows, feedback, _, _ = graded
    assert int(rows["edited_test"]["total"]) == FULL
    assert "test cell test_affine_forward was modified; the original was used" in feedback["edited_test"]
    assert int(rows["deleted_test"]["total"]) == FULL
    assert "test cell test_relu_forward was deleted; the original was used" in feedback["deleted_test"]


def test_a_hostile_return_value_costs_that_test(graded):
    rows, feedback, _, _ = graded
    assert rows["weird_return"]["test_affine_forward"] == "0"
    assert int(rows["weird_return"]["total"]) == FULL - 2, feedback["weird_return"]


@needs_namespaces
def test_isolation_is_reported(graded):
    _, feedback, _, report = graded
    assert report.isolation == "namespaces"
    assert "Isolation: namespaces" in feedback["master"]
