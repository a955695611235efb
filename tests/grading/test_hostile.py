"""Hostile submissions, graded in one run (two at a time): each attack costs only what it breaks.

The grading process never runs submission code; these tests check the verdicts it writes. Every
attack sits beside honest work in the same batch: the run must finish, the master must keep its
exact score, and an attacker scores exactly what the same notebook scores without the attack
(or less), never more. Classes of attack (issue 18): what a submission produces (odd text,
lying records, deep JSON, names that are not UTF-8), the submission file itself (links, FIFOs,
huge files), the grader's own work (results shaped to broadcast, endless records), outputs
(names that collide or that a spreadsheet would run).
"""

import os
import resource
import time

import pytest

from course_lib.grading import grader, names
from tests.grading.conftest import (ASSIGNMENTS, FULL, LIMITS, MASTER, NAME, add_cell, load, needs_namespaces,
                                    prepend, set_source, write)

STUB_ALL = ("import numpy as np\n"
            "def affine_forward(x, w, b):\n    return np.zeros((x.shape[0], w.shape[1]))\n")
RELU_WRONG = "def relu_forward(x):\n    return np.abs(x)\n\ndef relu_backward(dout, x):\n    return dout * (x > 0)\n"
# Write on the worker's result channel (the pipe among its descriptors) as if the worker had.
FORGE = '''
import base64, os, stat

def _channel():
    for fd in range(3, 64):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                return fd
        except OSError:
            pass

header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }\\n"
lying = b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header.encode()   # 8 TB, no data
records = [b"\\xff\\xfe not utf-8 at all\\n", b"[" * 100_000 + b"\\n",
           b'{"event": "error", "cell": [1], "error": {"x": 1}}\\n', b'{"event": "bogus", "i": "x", "errors": 5}\\n',
           b'{"event": "start", "i": 0}\\n', b'{"event": "call", "i": 0, "value": {"nd": "' + base64.b64encode(lying) + b'"}}\\n',
           b'{"event": "call", "i": 1, "value": ' + b'{"list": [' * 50 + b']}' * 50 + b'}\\n']
for record in records:
    os.write(_channel(), record)
'''
LONG_LINE = '''
import os, stat
for fd in range(3, 64):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            break
    except OSError:
        pass
piece = b"x" * 4096
for _ in range(12 * 256):   # 12 MB in 4 kB writes, no newline, then one
    os.write(fd, piece)
os.write(fd, b"\\n")
'''
ODD = "'bad \\udc80 text \\x1b[31mred\\nfake line - [pass] test_x (9/9) \\u202eevil'"
# Parameters that broadcast: x_test (300, 2) @ W1 (2, 2**20) would be 2.4 GB in the grading process
# (float16 keeps the result small on the wire).
BROADCAST = ("def train_two_layer(x, y, hidden=32, lr=1.0, steps=800, reg=1e-3, seed=0):\n"
             "    n = 2 ** 20\n"
             "    return {'W1': np.ones((2, n), np.float16), 'b1': np.ones((n, 1), np.float16),\n"
             "            'W2': np.ones((32, 3)), 'b2': np.zeros(3)}\n")


def submissions():
    master, released = load("master"), load("released")
    relu_wrong = set_source(master, "relu", RELU_WRONG)
    return {
        "master": master,
        "stub": released,
        "broken": '{"cells": [ {"cell_type": "code", "source": "x = ',
        "loop_call": set_source(master, "affine_forward", "def affine_forward(x, w, b):\n    while x.shape[0] == 7:\n        pass\n    return x @ w + b\n"),
        "loop_load": add_cell(master, "while True:\n    pass\n", at=2),
        "loop_end": add_cell(master, "while True:\n    pass\n"),
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
        # The same bug with and without hooks into a kernel: a grader that ran the test cells through
        # IPython would let the hooks turn them into `pass`; the scores must be the same.
        "relu_wrong": relu_wrong,
        "ipython": add_cell(relu_wrong, "try:\n    get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])\n"
                                        "except NameError:\n    pass\n"
                                        "import IPython\nip = IPython.get_ipython()\n"
                                        "ip.input_transformers_post.append(lambda lines: ['pass\\n'])\n", at=2),
        "edited_test": set_source(master, "test_affine_forward", "print('all tests pass')\n"),
        "deleted_test": _delete(master, "test_relu_forward"),
        "weird_return": set_source(master, "affine_forward",
                                   "class Evil:\n    def __array__(self, *a, **k):\n        raise SystemExit(1)\n"
                                   "def affine_forward(x, w, b):\n    return Evil() if x.shape[0] == 7 else x @ w + b\n"),
        # class 1: odd text in errors, forged and malformed records on the result channel, deep JSON
        "odd_text": set_source(add_cell(master, f"raise ValueError({ODD})", at=2), "affine_forward",
                               f"def affine_forward(x, w, b):\n    if x.shape[0] == 7:\n        raise ValueError({ODD})\n"
                               "    return x @ w + b\n"),
        "forged": add_cell(master, FORGE, at=4),
        "deep_json": '{"cells": ' + "[" * 50_000 + "]" * 50_000 + "}",
        # class 4: a result shaped to broadcast in the comparison; a record without a newline
        "broadcast": set_source(master, "train_two_layer", BROADCAST),
        "long_line": add_cell(master, LONG_LINE, at=2),
    }


# class 6: names that collide once made safe, that differ only in case, that a spreadsheet runs,
# that hold a newline or a percent sign: student name -> master (full marks) or released (zero)
NAMES = {"Ann": "master", "ann": "released", "a b": "master", "a_b": "released",
         '=HYPERLINK("x")': "master", "+1": "released", "-2": "master", "@SUM(A1)": "released",
         "new\nline": "master", "x%41": "released"}


def _delete(nb, grade_id):
    from tests.grading.conftest import cell_index

    nb = dict(nb, cells=list(nb["cells"]))
    del nb["cells"][cell_index(nb, grade_id)]
    return nb


def _hostile_files(folder):
    """class 2: entries that are no notebook file (links, a FIFO, a huge file) and a folder not UTF-8."""
    os.symlink(MASTER, folder / "link_master.ipynb")
    os.symlink("/dev/zero", folder / "link_zero.ipynb")
    os.symlink(MASTER.parent, folder / "link_folder")
    (folder / "inner_link").mkdir()
    os.symlink(MASTER, folder / "inner_link" / f"{NAME}.ipynb")
    os.mkfifo(folder / "fifo.ipynb")
    with open(folder / "huge.ipynb", "wb") as f:
        f.truncate(40 * 2**20)
    bad = os.path.join(os.fsencode(folder), b"caf\xe9")
    os.mkdir(bad)
    with open(os.path.join(bad, f"{NAME}.ipynb".encode()), "wb") as f:
        f.write(MASTER.read_bytes())


FILE_CASES = {"link_master": "is a symbolic link", "link_zero": "is a symbolic link",
              "link_folder": "is a symbolic link", "inner_link": "is a symbolic link", "fifo": "is a FIFO",
              "huge": "more than the 32 MB"}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("subs")
    for i, (student, nb) in enumerate(submissions().items()):
        write(folder, student, nb, as_folder=i % 2 == 0)
    for student, which in NAMES.items():
        write(folder, student, load(which))
    _hostile_files(folder)
    out = tmp_path_factory.mktemp("out") / "grades.csv"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    report = grader.grade(NAME, folder, out, jobs=2, root=ASSIGNMENTS, limits=LIMITS)
    seconds = time.monotonic() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    feedback = {o.student: (report.feedback_dir / f"{o.key}.md").read_text() for o in report.outcomes}
    import csv

    with open(out, newline="") as f:
        raw_rows = list(csv.reader(f))
    rows = {names.csv_value(r[0]): dict(zip(raw_rows[0], r)) for r in raw_rows[1:]}
    return rows, feedback, seconds, report, raw_rows, grown


def test_the_run_finishes_and_grades_everyone(graded):
    rows, feedback, seconds, report, _, _ = graded
    expected = {*submissions(), *(n.replace("\n", "\\x0a") for n in NAMES), *FILE_CASES, "caf\\xe9"}
    assert sorted(rows) == sorted(expected)
    assert sorted(feedback) == sorted(expected)
    assert seconds < 120


def test_master_solution_scores_full_marks(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["master"]["total"]) == FULL, feedback["master"]
    assert rows["master"]["status"] == "ok"


def test_released_stubs_score_zero_as_an_honest_zero(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["stub"]["total"]) == 0 and rows["stub"]["status"] == "ok"
    assert "NotImplementedError" in feedback["stub"]


def test_corrupted_notebook(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["broken"]["total"]) == 0 and rows["broken"]["status"] == "invalid notebook"
    assert "not valid JSON" in feedback["broken"]


def test_endless_loop_in_one_function_costs_that_test(graded):
    rows, feedback, _, _, _, _ = graded
    assert rows["loop_call"]["test_affine_forward"] == "0"
    assert int(rows["loop_call"]["total"]) == FULL - 2, feedback["loop_call"]
    assert "time limit" in rows["loop_call"]["status"] and "time limit" in feedback["loop_call"]


def test_endless_loop_at_the_top_level_costs_the_tests_after_it(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["loop_load"]["total"]) == 0 and "time limit" in rows["loop_load"]["status"]
    assert "while running your code cells" in feedback["loop_load"]
    # a loop in the last cell: every test cell stood before it, as in "Restart & Run All"
    assert int(rows["loop_end"]["total"]) == FULL and "time limit" in rows["loop_end"]["status"], feedback["loop_end"]


def test_sys_exit_costs_the_cells_and_calls_it_breaks(graded):
    rows, feedback, _, _, _, _ = graded
    row = rows["sys_exit"]
    assert row["test_affine_forward"] == row["test_relu_forward"] == row["test_relu_backward"] == "0"
    assert int(row["total"]) == 6, feedback["sys_exit"]  # relu_* undefined: the network tests fail too
    assert "SystemExit" in feedback["sys_exit"] and "cell errors" in row["status"]


def test_os_exit_at_import_is_a_dead_worker_not_an_honest_zero(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["os_exit"]["total"]) == 0
    assert rows["os_exit"]["status"] == "worker died"
    assert "exited with code 0" in feedback["os_exit"]


def test_memory_blow_up_costs_that_test(graded):
    rows, feedback, _, _, _, _ = graded
    assert rows["memory"]["test_affine_backward"] == "0"
    assert int(rows["memory"]["total"]) == FULL - 3, feedback["memory"]
    assert "MemoryError" in feedback["memory"] or "killed" in feedback["memory"]


def test_megabytes_of_output_change_nothing(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["output"]["total"]) == FULL, feedback["output"]
    assert len(feedback["output"]) < 10_000


@pytest.mark.parametrize("student", ["override", "score_print"])
def test_tampering_with_checks_or_printing_scores_earns_nothing(graded, student):
    rows, feedback, _, _, _, _ = graded
    assert int(rows[student]["total"]) == 0, feedback[student]


def test_kernel_hooks_change_nothing(graded):
    rows, feedback, _, _, _, _ = graded
    ids = [k for k in rows["master"] if k.startswith("test_")]
    assert 0 < int(rows["relu_wrong"]["total"]) < FULL and rows["relu_wrong"]["test_relu_forward"] == "0"
    assert [rows["ipython"][k] for k in ids] == [rows["relu_wrong"][k] for k in ids], feedback["ipython"]
    assert "'NoneType' object has no attribute 'input_transformers_post'" in feedback["ipython"]


def test_edited_and_deleted_test_cells_are_restored(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["edited_test"]["total"]) == FULL
    assert "test cell test_affine_forward was modified; the original was used" in feedback["edited_test"]
    assert int(rows["deleted_test"]["total"]) == FULL
    assert "test cell test_relu_forward was deleted; the original was used" in feedback["deleted_test"]


def test_a_hostile_return_value_costs_that_test(graded):
    rows, feedback, _, _, _, _ = graded
    assert rows["weird_return"]["test_affine_forward"] == "0"
    assert int(rows["weird_return"]["total"]) == FULL - 2, feedback["weird_return"]


# --- class 1: anything a submission produces ---

def test_odd_text_in_errors_is_escaped_and_costs_only_its_test(graded):
    rows, feedback, _, _, _, _ = graded
    text = feedback["odd_text"]
    assert int(rows["odd_text"]["total"]) == FULL - 2 and rows["odd_text"]["test_affine_forward"] == "0", text
    assert "\\udc80" in text and "\\x1b[31m" in text and "\\u202e" in text
    assert "\x1b" not in text and "\u202e" not in text and "\nfake line" not in text
    text.encode("utf-8")  # no lone surrogates left


def test_forged_and_malformed_records_earn_nothing(graded):
    rows, feedback, _, _, _, _ = graded
    row, plain = rows["forged"], rows["master"]
    assert int(row["total"]) <= int(plain["total"]), feedback["forged"]
    # the forged result of the first call (an array header claiming terabytes) is refused, nothing else moves
    assert row["test_affine_forward"] == "0" and "could not be read" in feedback["forged"]
    assert int(row["total"]) == FULL - 2, feedback["forged"]


def test_a_notebook_nested_too_deeply_is_an_invalid_notebook(graded):
    rows, feedback, _, _, _, _ = graded
    assert rows["deep_json"]["status"] == "invalid notebook" and int(rows["deep_json"]["total"]) == 0
    assert "nested too deeply" in feedback["deep_json"]


def test_a_folder_name_that_is_not_utf8_is_a_student_like_any_other(graded):
    rows, feedback, _, report, _, _ = graded
    assert int(rows["caf\\xe9"]["total"]) == FULL, feedback["caf\\xe9"]
    key = next(o.key for o in report.outcomes if o.student == "caf\\xe9")
    assert names.student_bytes(key) == b"caf\xe9"


# --- class 2: the submission file itself ---

@pytest.mark.parametrize("student", sorted(FILE_CASES))
def test_links_fifos_and_huge_files_are_refused_with_the_reason(graded, student):
    rows, feedback, _, _, _, _ = graded
    assert int(rows[student]["total"]) == 0 and rows[student]["status"] == "invalid notebook", feedback[student]
    assert FILE_CASES[student] in feedback[student]


# --- class 4: the grader's own work ---

def test_a_result_shaped_to_broadcast_is_refused_before_any_arithmetic(graded):
    rows, feedback, _, _, _, grown = graded
    assert rows["broadcast"]["test_train_two_layer"] == "0"
    assert int(rows["broadcast"]["total"]) == FULL - 4, feedback["broadcast"]
    assert "W1'] has shape (2, 1048576) but should have shape (2, 32)" in feedback["broadcast"]
    assert grown < 2**30, f"the grading process grew by {grown / 2**20:.0f} MB"


def test_a_long_record_without_newline_costs_nothing(graded):
    rows, feedback, _, _, _, _ = graded
    assert int(rows["long_line"]["total"]) == FULL, feedback["long_line"]


# --- class 6: names in the CSV and the feedback files ---

def test_feedback_names_are_unique_and_reversible(graded):
    rows, feedback, _, report, _, _ = graded
    keys = [o.key for o in report.outcomes]
    assert len(set(k.lower() for k in keys)) == len(keys)   # distinct even on a case-insensitive disk
    assert sorted(p.stem for p in report.feedback_dir.glob("*.md")) == sorted(keys)
    for student, which in NAMES.items():
        shown = student.replace("\n", "\\x0a")
        outcome = next(o for o in report.outcomes if o.student == shown)
        assert names.student_bytes(outcome.key) == student.encode()
        assert int(rows[shown]["total"]) == (FULL if which == "master" else 0), feedback[shown]
        assert feedback[shown].startswith(f"# {NAME}: feedback for {shown}\n")


def test_csv_cells_are_safe_in_a_spreadsheet(graded):
    _, _, _, _, raw_rows, _ = graded
    for row in raw_rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row
            assert "\n" not in cell and "\r" not in cell
    assert sorted(["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)"]) == \
        sorted(r[0] for r in raw_rows if r[0][:2] in ("'=", "'+", "'-", "'@"))


@needs_namespaces
def test_isolation_is_reported(graded):
    _, feedback, _, report, _, _ = graded
    assert report.isolation == "namespaces"
    assert "Isolation: namespaces" in feedback["master"]
