"""The ``course release`` and ``course grade`` subcommands.

    course release NAME [--assignments DIR]
    course grade NAME SUBMISSIONS_DIR --out grades.csv [--jobs N] [--feedback DIR] [--profile P]
                 [--time-limit S] [--load-time-limit S] [--submission-time-limit S] [--memory-gb G]
                 [--resume | --regrade] [--no-namespaces] [--allow-fallback]

Wire them into a parser with ``add_subcommands(subparsers)``; each sets ``func(args) -> exit code``.
"""

from __future__ import annotations

import pathlib
import signal
import sys
import threading

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


def _say(text: str, file=None) -> None:
    """Print whatever the terminal's encoding can show (student names are any Unicode)."""
    file = file or sys.stdout
    encoding = getattr(file, "encoding", None) or "utf-8"
    print(text.encode(encoding, "backslashreplace").decode(encoding), file=file, flush=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_grade(args) -> int:
    from course_lib.grading import grader, sandbox

    overrides = {"load_seconds": args.load_time_limit, "call_seconds": args.time_limit,
                 "submission_seconds": args.submission_time_limit,
                 "memory_bytes": None if args.memory_gb is None else int(args.memory_gb * 2**30)}
    main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, _interrupt) for s in (signal.SIGTERM, signal.SIGHUP)} if main else {}
    try:
        report = grader.grade(args.name, args.submissions, args.out, jobs=args.jobs, root=args.assignments,
                              feedback_dir=args.feedback, profile=args.profile,
                              limit_overrides={k: v for k, v in overrides.items() if v is not None},
                              use_namespaces=False if args.no_namespaces else None,
                              allow_fallback=args.allow_fallback,
                              resume=False if args.regrade else (True if args.resume else None),
                              progress=lambda o: _say(f"{o.student:<24} {o.total:>4}  {o.status}"))
    except (grader.AssignmentError, notebook.NotebookError, RuntimeError) as exc:
        _say(f"course grade: error: {exc}", sys.stderr)
        return 2
    except KeyboardInterrupt:
        _say(f"course grade: interrupted; finished submissions are kept in {grader.results_dir(args.out)}: run the "
             "same command again to grade the rest", sys.stderr)
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if report.isolation != "namespaces":
        _say(f"warning: no Linux namespaces: {sandbox.FALLBACK_RISK}", sys.stderr)
    kept = f", {report.resumed} kept from an earlier run" if report.resumed else ""
    _say(f"{len(report.outcomes)} submissions ({report.graded} graded now{kept}; {report.isolation}); "
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
    g.add_argument("--submission-time-limit", type=float,
                   help="seconds for everything one submission takes (default: 2 x load + 8 x call limit)")
    g.add_argument("--memory-gb", type=float,
                   help="memory of all of a submission's processes together (default: the spec's; 3 for NumPy, 8 for Keras)")
    again = g.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="grade only what an interrupted run left (the default does that too), and stop if the "
                            "stored results were made with other settings")
    again.add_argument("--regrade", action="store_true", help="forget stored results and grade every submission")
    g.add_argument("--no-namespaces", action="store_true",
                   help="plain subprocesses even where namespaces work (needs --allow-fallback)")
    g.add_argument("--allow-fallback", action="store_true",
                   help="grade without Linux namespaces: submissions can then read the master solution and use the "
                        "network (see assignments/README.md); only for trusted work or inside a throwaway VM")
    g.set_defaults(func=cmd_grade)
