"""Grading time of A1 for 30 submissions (correct, partly wrong and hostile), `--jobs 2`, of A3 for 4
submissions in the smoke profile (3 masters, 1 released notebook), and of A4 and A5 for 4 submissions
each (3 masters, 1 released notebook).

Prints one JSON line per assignment: seconds, seconds per submission, jobs, isolation mode
("namespaces" or "fallback"), and how many submissions scored full marks, partly, or zero.
An A3 submission starts TensorFlow twice: in the worker that trains and saves the model, and
in the one that evaluates the saved file.

    python benchmarks/grading.py               # 30 A1 submissions, 4 each of A3, A4 and A5, 2 jobs
    python benchmarks/grading.py --n 60 --jobs 4 --a3 0 --others 0
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from course_lib.grading import grader, sandbox  # noqa: E402

NAME = "a1_backprop"
A3 = "a3_resnet"


def _with_cell(nb, grade_id, text=None, extra=None):
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb["cells"]):
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            if text is not None:
                cell["source"] = text
            if extra is not None:
                nb["cells"].insert(i, {"cell_type": "code", "execution_count": None, "metadata": {},
                                       "outputs": [], "source": extra})
            return nb
    raise KeyError(grade_id)


def kinds(master, released):
    """Submission makers by kind: correct, partly wrong (a bug in one function), hostile."""
    wrong = {
        "relu_leaky": ("relu", "def relu_forward(x):\n    return np.maximum(x, 0.01 * x)\n"
                               "def relu_backward(dout, x):\n    return dout * (x > 0)\n"),
        "db_mean": ("affine_backward", "def affine_backward(dout, x, w, b):\n"
                                       "    return dout @ w.T, x.T @ dout, dout.mean(0)\n"),
        "no_shift": ("softmax_loss", "def softmax_loss(scores, y):\n    e = np.exp(scores)\n"
                                     "    p = e / e.sum(1, keepdims=True)\n    n = len(y)\n"
                                     "    loss = -np.log(p[np.arange(n), y]).mean()\n"
                                     "    p[np.arange(n), y] -= 1\n    return loss, p / n\n"),
    }
    hostile = {
        "loop": ("relu", "def relu_forward(x):\n    while True:\n        pass\n"
                         "def relu_backward(dout, x):\n    return dout * (x > 0)\n"),
        "exit": ("setup", None, "import os\nos._exit(0)\n"),
        "output": ("setup", None, "for _ in range(30):\n    print('x' * 10**6)\n"),
        "memory": ("affine_forward", "import numpy as np\ndef affine_forward(x, w, b):\n"
                                     "    np.ones(50 * 10**9 // 8)\n"),
        "probe": ("setup", None, "try:\n    open('/etc/shadow').read()\nexcept Exception:\n    pass\n"),
        "broken": None,
    }
    makers = [("correct", lambda: master)] * 15 + [("stub", lambda: released)] * 2
    makers += [(f"wrong_{k}", lambda g=g, t=t: _with_cell(master, g, t)) for k, (g, t) in wrong.items()] * 2
    for k, spec in hostile.items():
        if spec is None:
            makers.append((f"hostile_{k}", lambda: '{"cells": [ '))
        elif len(spec) == 2:
            makers.append((f"hostile_{k}", lambda g=spec[0], t=spec[1]: _with_cell(master, g, t)))
        else:
            makers.append((f"hostile_{k}", lambda g=spec[0], e=spec[2]: _with_cell(master, g, extra=e)))
    return makers


def _line(name, report, seconds, n, jobs, top, **extra) -> str:
    totals = [o.total for o in report.outcomes]
    return json.dumps({"benchmark": "grading", "assignment": name, **extra, "submissions": n, "jobs": jobs,
                       "isolation": report.isolation, "seconds": round(seconds, 2),
                       "seconds_per_submission": round(seconds / n, 3), "cpus": os.cpu_count(),
                       "full": totals.count(top), "partial": sum(0 < t < top for t in totals),
                       "zero": totals.count(0)})


def bench_masters(name: str, n: int, jobs: int, profile: str = "cpu") -> str:
    """Grade `n` submissions of `name` in `profile`: masters, and one released notebook in four."""
    assignments = ROOT / "assignments"
    master = (assignments / "source" / name / f"{name}.ipynb").read_text()
    released = (assignments / "release" / name / f"{name}.ipynb").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        subs = pathlib.Path(tmp) / "subs"
        subs.mkdir()
        for i in range(n):
            (subs / f"s{i:03d}.ipynb").write_text(released if i % 4 == 3 else master)
        start = time.perf_counter()
        report = grader.grade(name, subs, pathlib.Path(tmp) / "grades.csv", jobs=jobs, root=assignments,
                              profile=profile, allow_fallback=True)
        seconds = time.perf_counter() - start
    top = sum(t.points for t in grader.load_assignment(name, assignments, profile=profile).tests)
    return _line(name, report, seconds, n, jobs, top, profile=profile)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=30, help="A1 submissions (default 30)")
    parser.add_argument("--a3", type=int, default=4, help="A3 submissions in the smoke profile (default 4; 0: none)")
    parser.add_argument("--others", type=int, default=4, help="A4 and A5 submissions each (default 4; 0: none)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--time-limit", type=float, default=5.0, help="seconds per call (default 5)")
    args = parser.parse_args()
    assignments = ROOT / "assignments"
    master = json.loads((assignments / "source" / NAME / f"{NAME}.ipynb").read_text())
    released = json.loads((assignments / "release" / NAME / f"{NAME}.ipynb").read_text())
    makers = kinds(master, released)
    with tempfile.TemporaryDirectory() as tmp:
        subs = pathlib.Path(tmp) / "subs"
        subs.mkdir()
        for i in range(args.n):
            kind, make = makers[i % len(makers)]
            nb = make()
            (subs / f"s{i:03d}_{kind}.ipynb").write_text(nb if isinstance(nb, str) else json.dumps(nb))
        limits = sandbox.Limits(load_seconds=15, call_seconds=args.time_limit)
        start = time.perf_counter()
        report = grader.grade(NAME, subs, pathlib.Path(tmp) / "grades.csv", jobs=args.jobs, root=assignments,
                              limits=limits, allow_fallback=True)
        seconds = time.perf_counter() - start
    top = sum(t.points for t in grader.load_assignment(NAME, assignments).tests)
    print(_line(NAME, report, seconds, args.n, args.jobs, top), flush=True)
    if args.a3 > 0:
        print(bench_masters(A3, args.a3, args.jobs, profile="smoke"), flush=True)
    for name in ("a4_rnn", "a5_generative") if args.others > 0 else ():
        print(bench_masters(name, args.others, args.jobs), flush=True)


if __name__ == "__main__":
    main()
