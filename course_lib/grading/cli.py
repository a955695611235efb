"""The ``course release`` and ``course grade`` subcommands.

    course release NAME [--assignments DIR]
    course grade NAME SUBMISSIONS_DIR --out grades.csv [--jobs N] [--feedback DIR] [--profile P]
                 [--time-limit S] [--load-time-limit S] [--memory-gb G] [--no-namespaces]

Wire them into a parser with ``add_subcommands(subparsers)``; each sets ``func(args) -> exit code``.
"""

from __future__ import annotations

import pathlib
import sys

from course_lib.config import PROFILES
from course_lib.grading import notebook


def release(name: str, root=None, out_root=None) -> pathlib.Path:
    """Write the student version of assignment `name`: ROOT/release/NAME/NAME.ipynb."""
    from course_lib.grading.grader import assignments_dir

    root = pathlib.Path(root) if root else assignments_dir()
    source = root / "source" / name / f"{name}.ipynb"
    if not source.is_file():
        folder = root / "source"
        known = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        raise FileNotFoundError(f"no master notebook {source}; assignments: {', '.join(known) or 'none'}")
    target = pathlib.Path(out_root or root / "release") / name / f"{name}.ipynb"
    notebook.write_notebook(notebook.release_notebook(notebook.read_notebook(source)), target)
    return target


def cmd_release(args) -> int:
    try:
        target = release(args.name, args.assignments, args.out)
    except (FileNotFoundError, notebook.NotebookError) as exc:
        print(f"course release: error: {exc}", file=sys.stderr)
        return 2
    print(f"released {args.name}: {target}")
    return 0


def cmd_grade(args) -> int:
    from course_lib.grading import grader

    overrides = {"load_seconds": args.load_time_limit, "call_seconds": args.time_limit,
                 "memory_bytes": None if args.memory_gb is None else int(args.memory_gb * 2**30)}
    try:
        report = grader.grade(args.name, args.submissions, args.out, jobs=args.jobs, root=args.assignments,
                              feedback_dir=args.feedback, profile=args.profile,
                              limit_overrides={k: v for k, v in overrides.items() if v is not None},
                              use_namespaces=False if args.no_namespaces else None,
                              progress=lambda o: print(f"{o.student:<24} {o.total:>4}  {o.status}", flush=True))
    except (grader.AssignmentError, notebook.NotebookError, RuntimeError) as exc:
        print(f"course grade: error: {exc}", file=sys.stderr)
        return 2
    if report.isolation != "namespaces":
        print("warning: no Linux namespaces (needs root and util-linux): submissions ran as plain subprocesses "
              "with rlimits; they could read files and use the network", file=sys.stderr)
    print(f"{len(report.outcomes)} submissions graded ({report.isolation}); "
          f"grades in {report.csv_path}, feedback in {report.feedback_dir}")
    return 0


def add_subcommands(subparsers) -> None:
    """Add ``release`` and ``grade`` to an argparse subparsers object."""
    p = subparsers.add_parser("release", help="write the student version of an assignment")
    p.add_argument("name", help="assignment, e.g. a1_backprop")
    p.add_argument("--assignments", help="folder holding source/ and release/ (default ./assignments)")
    p.add_argument("--out", help="release folder (default ASSIGNMENTS/release)")
    p.set_defaults(func=cmd_release)

    g = subparsers.add_parser("grade", help="grade submissions in a sandbox; write a CSV and feedback files")
    g.add_argument("name", help="assignment, e.g. a1_backprop")
    g.add_argument("submissions", help="folder of STUDENT/NAME.ipynb folders or STUDENT.ipynb files")
    g.add_argument("--out", required=True, help="CSV to write (student, points per test, total, status)")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time")
    g.add_argument("--feedback", help="feedback folder (default: feedback/ beside the CSV)")
    g.add_argument("--assignments", help="folder holding source/ (default ./assignments)")
    g.add_argument("--profile", choices=PROFILES, default="cpu",
                   help="profile the notebooks run in (COURSE_PROFILE); the spec's targets follow it (default cpu)")
    g.add_argument("--time-limit", type=float, help="seconds per function call (default: the spec's; 10 for NumPy)")
    g.add_argument("--load-time-limit", type=float,
                   help="seconds for the code cells, i.e. the time budget of training (default: the spec's; 30 for NumPy)")
    g.add_argument("--memory-gb", type=float,
                   help="address-space limit per worker (default: the spec's; 3 for NumPy, 8 for Keras)")
    g.add_argument("--no-namespaces", action="store_true", help="plain subprocesses even where namespaces work")
    g.set_defaults(func=cmd_grade)
