"""The sandbox itself: what a worker can reach, fork bombs, the fallback mode, determinism, the CLI."""

import argparse
import os
import socket
import sys
import time

import numpy as np
import pytest

from course_lib.grading import cli, grader, sandbox
from tests.grading.conftest import (ASSIGNMENTS, FULL, LIMITS, MASTER, NAME, ROOT, PROBE, add_cell, load,
                                    needs_namespaces, read_csv, set_source, write)

def visible_entries(path) -> str:
    """What listing `path` inside the sandbox should show: the next component of each bind under it."""
    binds, _ = sandbox._binds_and_links()
    names = set()
    for bind in binds:
        rel = os.path.relpath(bind, path)
        if rel != "." and not rel.startswith(".."):
            names.add(rel.split(os.sep)[0])
    return "READ " + ",".join(sorted(names))


@needs_namespaces
def test_worker_cannot_read_sources_hidden_tests_or_reach_the_network():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        calls = [("read", (str(MASTER),), {}), ("read", (str(MASTER.with_name("grading.py")),), {}),
                 ("listdir", (str(ASSIGNMENTS),), {}), ("read", ("/etc/passwd",), {}),
                 ("listdir", (str(ROOT),), {}), ("listdir", ("/tmp",), {}),
                 ("connect", ("1.1.1.1", 53), {}), ("connect", ("127.0.0.1", port), {})]
        run = sandbox.run_submission([(0, PROBE)], calls, LIMITS, use_namespaces=True)
    values = [run.results[k].value for k in range(len(calls))]
    assert all(isinstance(v, str) and v.startswith("ERR") for v in values[:4]), values
    # of the repository only the path to the folder holding NumPy is there (read-only), and /tmp holds
    # nothing but such paths: the visible entries are exactly the first steps towards the bind mounts
    assert values[4] == visible_entries(ROOT) and "assignments" not in values[4], values
    assert values[5] == visible_entries("/tmp"), values
    assert values[6].startswith("ERR") and values[7].startswith("ERR"), values


def test_fallback_mode_without_namespaces_grades_and_limits_time(tmp_path):
    master = load("master")
    write(tmp_path / "subs", "master", master)
    write(tmp_path / "subs", "loop", set_source(master, "relu", "def relu_forward(x):\n    while True:\n        pass\n"))
    report = grader.grade(NAME, tmp_path / "subs", tmp_path / "grades.csv", jobs=2, root=ASSIGNMENTS,
                          limits=sandbox.Limits(load_seconds=8, call_seconds=3), use_namespaces=False,
                          allow_fallback=True)
    rows = read_csv(tmp_path / "grades.csv")
    assert report.isolation == "fallback"
    assert int(rows["master"]["total"]) == FULL
    assert rows["loop"]["test_relu_forward"] == "0" and "time limit" in rows["loop"]["status"]
    assert "Isolation: fallback (no namespaces" in (tmp_path / "feedback" / "master.md").read_text()


@pytest.mark.parametrize("use_namespaces", [False, True])
def test_a_returned_object_is_never_unpickled(tmp_path, use_namespaces):
    """An object whose unpickling runs a command: the worker refuses to send it, and the grading
    process never unpickles anything, so the command runs nowhere."""
    if use_namespaces and not sandbox.namespaces_available():
        pytest.skip("needs root and Linux namespaces")
    marker = tmp_path / "pwned"
    code = (f"import os\nclass Boom:\n    def __reduce__(self):\n        return (os.system, ('touch {marker}',))\n"
            "def f():\n    return Boom()\n")
    run = sandbox.run_submission([(0, code)], [("f", (), {})], LIMITS, use_namespaces=use_namespaces)
    assert not run.results[0].ok and "numbers" in run.results[0].error
    time.sleep(0.2)
    assert not marker.exists()


# --- class 7: the fallback without namespaces runs only when asked for, and does what the README says ---

def test_the_fallback_is_refused_without_an_explicit_flag(tmp_path, monkeypatch, capsys):
    write(tmp_path / "subs", "ann", load("master"))
    with pytest.raises(sandbox.FallbackRefused, match="--allow-fallback"):
        grader.grade(NAME, tmp_path / "subs", tmp_path / "grades.csv", root=ASSIGNMENTS, use_namespaces=False)
    monkeypatch.setattr(sandbox, "namespaces_available", lambda: False)
    with pytest.raises(sandbox.FallbackRefused, match="not available here.*master solution"):
        grader.grade(NAME, tmp_path / "subs", tmp_path / "grades.csv", root=ASSIGNMENTS)
    assert not (tmp_path / "grades.csv").exists() and not (tmp_path / "feedback").exists()
    parser = argparse.ArgumentParser(prog="course")
    cli.add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["grade", NAME, str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"),
                              "--assignments", str(ASSIGNMENTS), "--no-namespaces"])
    assert args.func(args) == 2
    assert "--allow-fallback" in capsys.readouterr().err and not (tmp_path / "g.csv").exists()
    args = parser.parse_args(["grade", NAME, str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"),
                              "--assignments", str(ASSIGNMENTS), "--no-namespaces", "--allow-fallback",
                              "--time-limit", "5", "--load-time-limit", "8"])
    assert args.func(args) == 0
    assert read_csv(tmp_path / "g.csv")["ann"]["total"] == str(FULL)
    assert "master solution" in capsys.readouterr().err  # the warning says what the fallback cannot stop


def test_the_fallback_cannot_hide_the_master_as_the_readme_says():
    """What assignments/README.md says of the fallback: a submission reads what the grading user reads."""
    run = sandbox.run_submission([(0, PROBE)], [("read", (str(MASTER),), {})], LIMITS, use_namespaces=False)
    worker_is_root = not (os.geteuid() == 0 and sandbox._others_can_use([sandbox._python(), *sandbox._site_dirs()]))
    if worker_is_root or os.stat(MASTER).st_mode & 0o004:
        assert run.results[0].value.startswith("READ "), run.results[0]


def test_the_fallback_as_root_kills_what_outlives_the_worker(tmp_path):
    if os.geteuid() != 0 or not sandbox._others_can_use([sandbox._python(), sys.base_prefix, *sandbox._site_dirs()]):
        pytest.skip("the fallback gives the worker a uid of its own only as root, with a Python installation "
                    "other users can read")
    marker = tmp_path / "late"
    tmp_path.chmod(0o777)
    code = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(2)\n"
            f"        open('{marker}', 'w').write('rewritten')\n    os._exit(0)\ndef f():\n    return 1\n")
    run = sandbox.run_submission([(0, code)], [("f", (), {})], LIMITS, use_namespaces=False)
    assert run.results[0].value == 1
    time.sleep(3)
    assert not marker.exists()


@needs_namespaces
def test_fork_bomb_is_contained_and_the_next_submission_is_graded(tmp_path):
    bomb = add_cell(load("master"), "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", at=2)
    write(tmp_path / "subs", "a_bomb", bomb)
    write(tmp_path / "subs", "b_master", load("master"))
    start = time.monotonic()
    grader.grade(NAME, tmp_path / "subs", tmp_path / "grades.csv", jobs=1, root=ASSIGNMENTS,
                 limits=sandbox.Limits(load_seconds=4, call_seconds=6, processes=8))
    rows = read_csv(tmp_path / "grades.csv")
    assert time.monotonic() - start < 30
    assert int(rows["a_bomb"]["total"]) == 0 and "time limit" in rows["a_bomb"]["status"]
    assert int(rows["b_master"]["total"]) == FULL


def test_regrading_gives_identical_csv_and_feedback(tmp_path):
    master = load("master")
    write(tmp_path / "subs", "master", master)
    write(tmp_path / "subs", "stub", load("released"))
    write(tmp_path / "subs", "broken", "not json")
    write(tmp_path / "subs", "wrong", set_source(master, "relu", "def relu_forward(x):\n    return x\n"
                                                   "def relu_backward(dout, x):\n    return dout\n"))
    texts = []
    for run in ("one", "two"):
        out = tmp_path / run / "grades.csv"
        grader.grade(NAME, tmp_path / "subs", out, jobs=2, root=ASSIGNMENTS, limits=LIMITS)
        texts.append([out.read_text()] + [p.read_text() for p in sorted((tmp_path / run / "feedback").iterdir())])
    for one, two in zip(texts[0], texts[1]):
        assert one == two, (one, two)
    rows = read_csv(tmp_path / "one" / "grades.csv")
    assert int(rows["wrong"]["total"]) == FULL - 1 - 2 - 3 - 4
    assert "differs from the expected value at index" in (tmp_path / "one" / "feedback" / "wrong.md").read_text()


def test_cli_release_and_grade(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="course")
    cli.add_subcommands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["release", NAME, "--assignments", str(ASSIGNMENTS), "--out", str(tmp_path / "rel")])
    assert args.func(args) == 0
    released = tmp_path / "rel" / NAME / f"{NAME}.ipynb"
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    (tmp_path / "subs" / "ann" / f"{NAME}.ipynb").write_bytes(released.read_bytes())
    args = parser.parse_args(["grade", NAME, str(tmp_path / "subs"), "--out", str(tmp_path / "g.csv"), "--jobs", "2",
                              "--assignments", str(ASSIGNMENTS), "--time-limit", "5", "--load-time-limit", "8"])
    assert args.func(args) == 0
    assert read_csv(tmp_path / "g.csv")["ann"]["total"] == "0"
    assert (tmp_path / "feedback" / "ann.md").is_file()
    args = parser.parse_args(["grade", "a9_nothing", str(tmp_path / "subs"), "--out", str(tmp_path / "x.csv"),
                              "--assignments", str(ASSIGNMENTS)])
    assert args.func(args) == 2
    assert "a9_nothing" in capsys.readouterr().err


def test_decode_refuses_anything_but_plain_data():
    import base64
    import io
    import pickle

    blob = base64.b64encode(pickle.dumps(object())).decode()
    with pytest.raises(ValueError):
        sandbox.decode({"nd": blob})
    buffer = io.BytesIO()
    np.save(buffer, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        sandbox.decode({"nd": base64.b64encode(buffer.getvalue()).decode()})
    assert sandbox.decode({"list": [{"py": 1}, {"dict": {"a": {"py": "x"}}}]}) == (1, {"a": "x"})
