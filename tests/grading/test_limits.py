"""One budget for all of a submission's processes, its own System V IPC, and one wall-clock limit
for the whole submission (issue 18, class 3), each beside an honest submission in the same batch."""

import dataclasses
import os
import subprocess
import sys
import time

import pytest

from course_lib.grading import grader, sandbox
from tests.grading.conftest import (ASSIGNMENTS, FULL, NAME, add_cell, cell_index, load, needs_namespaces,
                                    read_csv, set_source, write)

# 512 MB for all processes together (and per process); room for everything else on a busy machine.
LIMITS = sandbox.Limits(load_seconds=8, call_seconds=30, memory_bytes=512 * 2**20, processes=16,
                        submission_seconds=120)
# 20 s for everything one submission takes: the slow submission is graded with these, beside the master.
SHORT = dataclasses.replace(LIMITS, submission_seconds=20)

# Four children of 250 MB each: every one within the per-process limit, 1 GB together.
CHILDREN = '''
import os, time
import numpy as np

def affine_backward(dout, x, w, b):
    if x.shape[0] == 7:
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                block = np.ones(250 * 2**20 // 8)
                time.sleep(60)  # alive until the budget stops them, however slowly the others allocate
                os._exit(0)
            children.append(pid)
        for pid in children:
            os.waitpid(pid, 0)
    return dout @ w.T, x.T @ dout, dout.sum(0)
'''
IPC_KEY = 0x5EED0018
IPC = f'''
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.shmat.restype = ctypes.c_void_p

def ipc():
    small = libc.shmget({IPC_KEY}, 32 * 2**20, 0o1000 | 0o600)     # IPC_CREAT, never removed
    address = libc.shmat(small, None, 0)
    if address not in (None, ctypes.c_void_p(-1).value):
        ctypes.memset(address, 1, 32 * 2**20)
        libc.shmdt(ctypes.c_void_p(address))
    big = libc.shmget({IPC_KEY + 1}, 256 * 2**20, 0o1000 | 0o600)  # over the sandbox's shmmax
    queue = libc.msgget({IPC_KEY + 2}, 0o1000 | 0o600)
    return [small, big, queue]

ipc()
'''


def slow(nb: dict) -> dict:
    """Every graded function sleeps 2.5 s per call: each call within its limit, 17 calls far beyond 20 s."""
    for grade_id, functions in [("affine_forward", ["affine_forward"]), ("affine_backward", ["affine_backward"]),
                                ("relu", ["relu_forward", "relu_backward"]), ("softmax_loss", ["softmax_loss"]),
                                ("two_layer_loss", ["two_layer_loss"]), ("train_two_layer", ["train_two_layer"])]:
        text = "".join(nb["cells"][cell_index(nb, grade_id)]["source"])
        for f in functions:
            text += (f"\n\nimport time\n_{f} = {f}\n\ndef {f}(*args, **kwargs):\n    time.sleep(2.5)\n"
                     f"    return _{f}(*args, **kwargs)\n")
        nb = set_source(nb, grade_id, text)
    return nb


def _host_keys() -> set:
    keys = set()
    for kind in ("shm", "msg"):
        try:
            lines = open(f"/proc/sysvipc/{kind}").read().splitlines()
        except OSError:
            continue
        for line in lines[1:]:
            keys.add(int(line.split()[0]))
    return keys


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    master = load("master")
    folder = tmp_path_factory.mktemp("subs")
    subs = {"master": master, "children": set_source(master, "affine_backward", CHILDREN),
            "ipc": add_cell(master, IPC, at=2)}
    for student, nb in subs.items():
        write(folder, student, nb)
    write(folder / "short", "master", master)
    write(folder / "short", "slow", slow(master))
    rows, feedback = {}, {}
    start = time.monotonic()
    for subs_folder, limits in ((folder, LIMITS), (folder / "short", SHORT)):
        out = tmp_path_factory.mktemp("out") / "grades.csv"
        report = grader.grade(NAME, subs_folder, out, jobs=2, root=ASSIGNMENTS, limits=limits)
        feedback.update({o.student + ("" if limits is LIMITS else "_short"): (report.feedback_dir / f"{o.key}.md").read_text()
                         for o in report.outcomes})
        rows.update({k + ("" if limits is LIMITS else "_short"): v for k, v in read_csv(out).items()})
    return rows, feedback, time.monotonic() - start


def test_the_honest_submission_keeps_its_exact_score(graded):
    rows, feedback, seconds = graded
    for student in ("master", "master_short"):
        assert int(rows[student]["total"]) == FULL and rows[student]["status"] == "ok", feedback[student]
    assert seconds < 180


def test_children_together_over_the_budget_cost_the_test_that_made_them(graded):
    rows, feedback, _ = graded
    row = rows["children"]
    assert row["test_affine_backward"] == "0" and int(row["total"]) == FULL - 3, feedback["children"]
    assert "memory limit" in row["status"] and "processes together" in feedback["children"], feedback["children"]


def test_ipc_objects_do_not_outlive_the_sandbox(graded):
    rows, feedback, _ = graded
    assert int(rows["ipc"]["total"]) == FULL, feedback["ipc"]
    if sandbox.namespaces_available():
        assert not {IPC_KEY, IPC_KEY + 1, IPC_KEY + 2} & _host_keys()


def test_one_wall_clock_limit_for_the_whole_submission(graded):
    rows, feedback, _ = graded
    row = rows["slow_short"]
    assert "time limit" in row["status"] and int(row["total"]) < FULL, feedback["slow_short"]
    assert "time limit for the whole submission: stopped after 20 s" in feedback["slow_short"]
    assert "did not start" not in feedback["slow_short"]


@needs_namespaces
def test_ipc_in_the_sandbox_is_private_and_capped():
    before = _host_keys()
    run = sandbox.run_submission([(0, IPC.replace("\nipc()\n", "\n"))], [("ipc", (), {})], LIMITS, use_namespaces=True)
    small, big, queue = run.results[0].value
    assert small >= 0 and queue >= 0, run.results[0]
    assert big == -1, "a 256 MB segment is over the sandbox's shmmax"
    assert _host_keys() == before  # the host never saw them


def test_the_fallback_as_root_removes_the_ipc_objects_of_its_uid():
    if os.geteuid() != 0 or not sandbox._others_can_use([sandbox._python(), sys.base_prefix, *sandbox._site_dirs()]):
        pytest.skip("the fallback gives the worker a uid of its own only as root, with a Python installation "
                    "other users can read (else it runs as the grading user and its objects cannot be told apart)")
    before = _host_keys()
    try:
        run = sandbox.run_submission([(0, IPC.replace("\nipc()\n", "\n"))], [("ipc", (), {})], LIMITS,
                                     use_namespaces=False)
        assert run.results[0].ok, run.results[0]
        assert _host_keys() == before
    finally:
        for key in (IPC_KEY, IPC_KEY + 1):
            subprocess.run(["ipcrm", "-M", str(key)], capture_output=True)
        subprocess.run(["ipcrm", "-Q", str(IPC_KEY + 2)], capture_output=True)
