"""Grade submissions of an assignment: sandboxed runs, comparison with the master solution,
a CSV of points and a feedback file per student.

    from course_lib.grading import grader
    report = grader.grade("a1_backprop", "submissions/", "grades.csv", jobs=2)

Nothing a submission does runs in this process: its code cells run in `sandbox`, and only
plain data (arrays, numbers, strings) comes back to be compared with the reference. A spec
may ask for a Keras sandbox with data (`spec.Sandbox`) and build its tests per profile
(``course grade --profile smoke|cpu|gpu``); see `spec`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import csv
import dataclasses
import hashlib
import importlib.util
import io
import pathlib
import re
import zlib

import numpy as np

from course_lib.config import PROFILES
from course_lib.storage import atomic_write
from course_lib.grading import datasets, notebook, sandbox
from course_lib.grading.spec import Call, Passed, Setting


class AssignmentError(ValueError):
    """An assignment whose source, spec or reference solution is broken (the course's fault, not a student's)."""


def assignments_dir() -> pathlib.Path:
    """``./assignments`` when it exists, else the folder beside the package (an editable install)."""
    here = pathlib.Path("assignments")
    if here.is_dir():
        return here
    return pathlib.Path(__file__).resolve().parents[2] / "assignments"


@dataclasses.dataclass
class GradedTest:
    grade_id: str
    points: int
    description: str
    calls: list
    compare: object
    references: list


@dataclasses.dataclass
class Assignment:
    name: str
    master: dict
    test_cells: list
    tests: list  # GradedTest, in notebook order
    setting: Setting | None = None
    locked: list = dataclasses.field(default_factory=list)  # notebook.LockedCell: helpers run as released

    @property
    def sandbox(self) -> sandbox.Sandbox:
        return self.setting.sandbox if self.setting else sandbox.Sandbox()

    @property
    def max_points(self) -> int:
        return sum(t.points for t in self.tests)


def _load_spec(path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(f"course_grading_spec_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _seed(seed: int, grade_id: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(grade_id.encode())])


def _setting(spec, spec_path, profile: str, use_namespaces: bool) -> Setting:
    """The spec's sandbox for `profile`, with the data it asks for resolved (real or substitute)."""
    profiles = getattr(spec, "PROFILES", PROFILES)
    if profile not in profiles:
        raise AssignmentError(f"{spec_path.parent.name} is graded in the profiles {', '.join(profiles)}, "
                              f"not {profile!r}" + (" (the sandbox has no GPU)" if profile == "gpu" else ""))
    box = spec.sandbox(profile) if callable(getattr(spec, "sandbox", None)) else getattr(spec, "SANDBOX", None)
    box = box or sandbox.Sandbox()
    if not isinstance(box, sandbox.Sandbox):
        raise AssignmentError(f"{spec_path}: SANDBOX should be a Sandbox, got {type(box).__name__}")
    try:
        data = datasets.plan(box.data, profile)
    except datasets.DataPlanError as exc:
        raise AssignmentError(f"{spec_path}: {exc}") from None
    files = {inside: outside for plan in data.values() for inside, outside in plan.files.items()}
    box = dataclasses.replace(box, profile=profile, files={**box.files, **files})
    return Setting(profile, use_namespaces, data, box)


def load_assignment(name: str, root=None, profile: str = "cpu", use_namespaces: bool | None = None) -> Assignment:
    """Read the master notebook and grader spec of `name`, and compute the reference results.

    `profile` is the one the submissions run in (COURSE_PROFILE in the sandbox); the spec may
    build its tests and sandbox for it. The master solution runs here only when a test
    compares with its results.
    """
    folder = pathlib.Path(root or assignments_dir()) / "source" / name
    master_path, spec_path = folder / f"{name}.ipynb", folder / "grading.py"
    if not master_path.is_file():
        known = sorted(p.name for p in folder.parent.iterdir()) if folder.parent.is_dir() else []
        raise AssignmentError(f"no master notebook {master_path}; assignments: {', '.join(known) or 'none'}")
    if not spec_path.is_file():
        raise AssignmentError(f"no grader spec {spec_path}: it maps each graded test cell to hidden calls")
    master = notebook.read_notebook(master_path)
    test_cells = notebook.graded_tests(master)
    locked = notebook.locked_cells(master)
    spec = _load_spec(spec_path)
    setting = _setting(spec, spec_path, profile, sandbox.isolation_mode(use_namespaces) == "namespaces")
    entries = spec.tests(setting) if callable(getattr(spec, "tests", None)) else spec.TESTS
    missing = [t.grade_id for t in test_cells if t.grade_id not in entries]
    if missing:
        raise AssignmentError(f"{spec_path} has no entry for the graded test cells {missing}")
    reference = {"__name__": "__main__"}
    if any(entries[cell.grade_id].reference for cell in test_cells):
        own = notebook.extract_code(master, test_cells, locked).cells
        with contextlib.redirect_stdout(io.StringIO()):
            for index, text in own:
                try:
                    exec(compile(text, f"<master cell {index}>", "exec"), reference)
                except Exception as exc:
                    raise AssignmentError(f"master solution of {name}, cell {index}: {type(exc).__name__}: {exc}") from exc
    tests = []
    for cell in test_cells:
        entry = entries[cell.grade_id]
        calls = entry.calls(_seed(spec.SEED, cell.grade_id))
        references = []
        with contextlib.redirect_stdout(io.StringIO()):
            for call in calls:
                if not entry.reference:
                    references.append(None)
                    continue
                function = reference.get(call.function)
                if function is None:
                    raise AssignmentError(f"{cell.grade_id}: the master solution defines no {call.function}")
                value = function(*copy.deepcopy(call.args), **copy.deepcopy(call.kwargs))
                references.append(sandbox.decode(_plain(value)))
        tests.append(GradedTest(cell.grade_id, cell.points, entry.description, calls, entry.compare, references))
    return Assignment(name, master, test_cells, tests, setting, locked)


def _plain(value):
    """The reference value in the worker's encoding, so both sides are compared as the same kind of data."""
    import base64

    if value is None or type(value) in (bool, int, float, str):
        return {"py": value}
    if isinstance(value, (tuple, list)):
        return {"list": [_plain(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): _plain(v) for k, v in value.items()}}
    buffer = io.BytesIO()
    np.save(buffer, np.array(value), allow_pickle=False)
    return {"nd": base64.b64encode(buffer.getvalue()).decode("ascii")}


@dataclasses.dataclass
class Submission:
    student: str
    path: pathlib.Path | None
    problem: str = ""


def find_submissions(name: str, folder) -> list[Submission]:
    """Each entry of `folder`: a folder STUDENT/ holding NAME.ipynb, or a file STUDENT.ipynb."""
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise AssignmentError(f"submissions folder {folder} does not exist")
    found, seen = [], set()
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            student, path = entry.name, entry / f"{name}.ipynb"
            if not path.is_file():
                others = sorted(entry.glob("*.ipynb"))
                path = others[0] if len(others) == 1 else None
        elif entry.suffix == ".ipynb":
            student, path = entry.stem, entry
        else:
            continue
        while student in seen:
            student += "_"
        seen.add(student)
        problem = "" if path else f"no {name}.ipynb in {entry.name}/"
        found.append(Submission(student, path, problem))
    return found


@dataclasses.dataclass
class Outcome:
    student: str
    scores: dict
    total: int
    status: str
    feedback: str


def _status_of(run: sandbox.RunResult | None, problem: str) -> str:
    if problem:
        return problem
    order = ["sandbox error", "worker died", "time limit", "cell errors"]
    found = [s for s in order if s in run.status]
    return "; ".join(found) if found else "ok"


class _Then:
    """The `then` steps of one submission's calls, each run once per distinct returned value."""

    def __init__(self):
        self.done: dict = {}

    def __call__(self, call: Call, value):
        if call.then is None:
            return value
        try:
            digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest() \
                if isinstance(value, np.ndarray) else repr(value)
        except (TypeError, ValueError):
            digest = repr(value)
        key = (id(call.then), digest)
        if key not in self.done:
            try:
                self.done[key] = (True, call.then(value))
            except ValueError as exc:
                self.done[key] = (False, str(exc))
        ok, result = self.done[key]
        if not ok:
            raise _ThenFailed(result)
        return result


class _ThenFailed(Exception):
    pass


def grade_one(assignment: Assignment, submission: Submission, limits: sandbox.Limits,
              use_namespaces: bool | None) -> Outcome:
    """Grade one submission; never raises for anything the submission contains."""
    notes, run, problem = [], None, submission.problem
    if not problem:
        try:
            nb = notebook.read_notebook(submission.path)
        except notebook.NotebookError as exc:
            problem, notes = "invalid notebook", [str(exc)]
    if not problem:
        extracted = notebook.extract_code(nb, assignment.test_cells, assignment.locked)
        notes += extracted.notes
        calls, groups = [], []
        for g, test in enumerate(assignment.tests):
            for call in test.calls:
                calls.append((call.function, call.args, call.kwargs))
                groups.append(g)
        run = sandbox.run_submission(extracted.cells, calls, limits, use_namespaces, groups, assignment.sandbox)
    scores, lines, k = {}, [], 0
    then = _Then()
    for test in assignment.tests:
        verdict, passed = None, []
        for call, expected in zip(test.calls, test.references):
            result = run.results.get(k) if run else None
            k += 1
            if verdict is not None:
                continue
            if result is None:
                verdict = problem or "not run"
            elif not result.ok:
                verdict = f"{call.describe()}: {result.error}"
            else:
                try:
                    message = test.compare(then(call, result.value), expected, call)
                except _ThenFailed as exc:
                    message = str(exc)
                except Exception as exc:  # a comparator meeting a value it did not expect
                    message = f"the result could not be compared ({type(exc).__name__}: {exc})"
                if isinstance(message, Passed):
                    passed.append(str(message))
                elif message:
                    verdict = f"{call.describe()}: {message}"
        scores[test.grade_id] = 0 if verdict else test.points
        mark = "pass" if not verdict else "FAIL"
        lines.append(f"- [{mark}] {test.grade_id} ({scores[test.grade_id]}/{test.points})"
                     + (f": {test.description}" if not verdict and test.description else "")
                     + (f" ({'; '.join(passed)})" if not verdict and passed else "")
                     + (f"\n    {verdict}" if verdict else ""))
    total = sum(scores.values())
    status = _status_of(run, problem)
    mode = run.isolation if run else sandbox.isolation_mode(use_namespaces)
    text = [f"# {assignment.name}: feedback for {submission.student}", "",
            f"Total: {total} / {assignment.max_points}", f"Status: {status}",
            f"Isolation: {mode}" + ("" if mode == "namespaces" else
                                    " (no namespaces: the code could read files and use the network)")]
    if assignment.setting and assignment.sandbox.keras:
        text.append(f"Profile: {assignment.setting.profile}")
    if assignment.setting:
        text += [f"Data: {plan.describe()}" for plan in assignment.setting.data.values()]
    text.append("")
    if notes:
        text += ["## Notes", *[f"- {n}" for n in notes], ""]
    text += ["## Tests", *lines, ""]
    if run and run.cell_errors:
        text += ["## Errors in your code cells (the grader ran every cell, in order)",
                 *[f"- cell {i}: {e}" for i, e in run.cell_errors], ""]
    return Outcome(submission.student, scores, total, status, "\n".join(text))


def _safe_name(student: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", student).lstrip(".") or "_"


def _write_atomic(path: pathlib.Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


@dataclasses.dataclass
class Report:
    outcomes: list
    csv_path: pathlib.Path
    feedback_dir: pathlib.Path
    isolation: str


def grade(name: str, submissions, out, jobs: int = 1, root=None, feedback_dir=None,
          limits: sandbox.Limits | None = None, use_namespaces: bool | None = None, progress=None,
          profile: str = "cpu", limit_overrides: dict | None = None) -> Report:
    """Grade every submission in `submissions`; write the CSV `out` and feedback/STUDENT.md beside it.

    Args:
        profile: the profile the notebooks run in (COURSE_PROFILE in the sandbox).
        limits: the limits of every worker, instead of the spec's.
        limit_overrides: fields of `sandbox.Limits` replacing the spec's (the command line's options).
    """
    mode = sandbox.isolation_mode(use_namespaces)
    assignment = load_assignment(name, root, profile, mode == "namespaces")
    submissions = find_submissions(name, submissions)
    limits = dataclasses.replace(limits or assignment.sandbox.effective_limits(), **(limit_overrides or {}))
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir = pathlib.Path(feedback_dir) if feedback_dir else out.parent / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_one, assignment, s, limits, mode == "namespaces") for s in submissions]
        outcomes = []
        for future in futures:
            outcomes.append(future.result())
            if progress:
                progress(outcomes[-1])
    ids = [t.grade_id for t in assignment.tests]
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student", *ids, "total", "status"])
    for o in outcomes:
        writer.writerow([o.student, *[o.scores[i] for i in ids], o.total, o.status])
        _write_atomic(feedback_dir / f"{_safe_name(o.student)}.md", o.feedback)
    _write_atomic(out, table.getvalue())
    return Report(outcomes, out, feedback_dir, mode)
