"""An interrupted class run loses nothing (issue 18, class 8): `course grade` killed with SIGKILL or
stopped with Ctrl-C half-way keeps every finished submission's feedback and record, never leaves
a half-written grades.csv, and the same command run again grades only what is left."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from course_lib.grading import grader, names
from tests.grading.conftest import ASSIGNMENTS, FULL, NAME, ROOT, load, read_csv, set_source, write

STUDENTS = [f"s{i}" for i in range(6)]


def _expected(student: str) -> int:
    return FULL if int(student[1:]) % 2 == 0 else 0


@pytest.fixture
def folder(tmp_path):
    master, released = load("master"), load("released")
    for student in STUDENTS:
        write(tmp_path / "subs", student, master if _expected(student) else released)
    (tmp_path / "scratch").mkdir()
    return tmp_path


def _command(folder, *extra):
    return [sys.executable, "-m", "course_lib", "grade", NAME, str(folder / "subs"), "--out",
            str(folder / "out" / "grades.csv"), "--assignments", str(ASSIGNMENTS), "--jobs", "1",
            "--time-limit", "6", "--load-time-limit", "8", *extra]


def _start(folder, *extra):
    env = dict(os.environ, TMPDIR=str(folder / "scratch"))
    return subprocess.Popen(_command(folder, *extra), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _records(folder) -> dict:
    found = {}
    for path in (folder / "out" / "grades.csv.results").glob("*.json"):
        record = json.loads(path.read_text())
        found[record["student"]] = record
    return found


def _wait_for_records(folder, proc, count: int, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while len(_records(folder)) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run finished no submission in time"
        time.sleep(0.05)


def _sandboxes_left(folder) -> list:
    """Processes whose working folder is in the run's temporary folder (the sandboxes' scratch)."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(folder / "scratch")):
                left.append(pid)
        except OSError:
            pass
    return left


def _check_what_was_kept(folder, done: dict):
    out = folder / "out"
    assert not (out / "grades.csv").exists(), "no grades.csv until every submission is graded"
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] in ([], [p.name for p in out.glob(".grades.csv.*.tmp")])
    for student, record in done.items():
        key = names.file_key(student)
        assert (out / "feedback" / f"{key}.md").read_text() == record["feedback"]
        assert record["total"] == _expected(student)


def _finish(folder, done: dict, *extra):
    result = subprocess.run(_command(folder, *extra), cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    graded_now = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("s")]
    assert sorted(graded_now) == sorted(set(STUDENTS) - set(done)), result.stdout
    rows = read_csv(folder / "out" / "grades.csv")
    assert {s: int(r["total"]) for s, r in rows.items()} == {s: _expected(s) for s in STUDENTS}
    return result


def test_a_run_killed_half_way_keeps_what_it_finished_and_the_same_command_grades_the_rest(folder):
    proc = _start(folder)
    _wait_for_records(folder, proc, 2)
    proc.kill()
    proc.communicate()
    done = _records(folder)
    assert 2 <= len(done) < len(STUDENTS)
    _check_what_was_kept(folder, done)
    time.sleep(1)
    assert _sandboxes_left(folder) == [], "a sandbox outlived the grader that was killed"
    result = _finish(folder, done)
    assert f"{len(STUDENTS) - len(done)} graded now, {len(done)} kept from an earlier run" in result.stdout
    # nothing left: the same command again grades nothing and writes the same CSV
    before = (folder / "out" / "grades.csv").read_text()
    again = _finish(folder, {s: None for s in STUDENTS}, "--resume")
    assert "0 graded now" in again.stdout and (folder / "out" / "grades.csv").read_text() == before


def test_ctrl_c_stops_at_once_keeps_what_it_finished_and_resume_grades_the_rest(folder):
    proc = _start(folder)
    _wait_for_records(folder, proc, 1)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in stderr, stderr
    assert time.monotonic() - start < 20
    done = _records(folder)
    _check_what_was_kept(folder, done)
    _finish(folder, done, "--resume")


def test_a_changed_submission_or_setting_is_graded_again(tmp_path):
    write(tmp_path / "subs", "ann", load("released"))
    write(tmp_path / "subs", "bob", load("master"))
    out = tmp_path / "out" / "grades.csv"
    first = grader.grade(NAME, tmp_path / "subs", out, root=ASSIGNMENTS)
    assert (first.graded, first.resumed) == (2, 0)
    write(tmp_path / "subs", "ann", load("master"))  # a new hand-in
    second = grader.grade(NAME, tmp_path / "subs", out, root=ASSIGNMENTS)
    assert (second.graded, second.resumed) == (1, 1)
    assert read_csv(out)["ann"]["total"] == str(FULL)
    with pytest.raises(grader.AssignmentError, match="other settings"):  # other limits: not the same run
        grader.grade(NAME, tmp_path / "subs", out, root=ASSIGNMENTS, limit_overrides={"call_seconds": 7}, resume=True)
    third = grader.grade(NAME, tmp_path / "subs", out, root=ASSIGNMENTS, resume=False)
    assert (third.graded, third.resumed) == (2, 0)
    wrong = set_source(load("master"), "relu", "def relu_forward(x):\n    return x\n"
                                               "def relu_backward(dout, x):\n    return dout\n")
    write(tmp_path / "subs", "bob", wrong)
    fourth = grader.grade(NAME, tmp_path / "subs", out, root=ASSIGNMENTS)
    assert (fourth.graded, fourth.resumed) == (1, 1) and int(read_csv(out)["bob"]["total"]) < FULL


def test_a_sandbox_the_machine_cannot_start_is_not_stored_and_is_graded_again(tmp_path, monkeypatch):
    from course_lib.grading import sandbox

    write(tmp_path / "subs", "ann", load("master"))
    out = tmp_path / "out" / "grades.csv"

    def no_fork(*args, **kwargs):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    with monkeypatch.context() as patch:
        patch.setattr(sandbox, "_Worker", no_fork)
        patch.setattr(sandbox.time, "sleep", lambda seconds: None)
        first = grader.grade(NAME, tmp_path / "subs", out, root=ASSIGNMENTS)
    assert first.outcomes[0].status == "sandbox error" and first.outcomes[0].total == 0
    assert "no fault of yours" in (first.feedback_dir / "ann.md").read_text()
    second = grader.grade(NAME, tmp_path / "subs", out, root=ASSIGNMENTS)
    assert (second.graded, second.resumed) == (1, 0) and read_csv(out)["ann"]["total"] == str(FULL)
