"""Grade submissions of an assignment: sandboxed runs, comparison with the master solution,
a CSV of points and a feedback file per student.

    from course_lib.grading import grader
    report = grader.grade("a1_backprop", "submissions/", "grades.csv", jobs=2)

Nothing a submission does runs in this process: its code cells run in `sandbox`, and only
plain data (arrays, numbers, strings) comes back to be compared with the reference. A spec
may ask for a Keras sandbox with data (`spec.Sandbox`) and build its tests per profile
(``course grade --profile smoke|cpu|gpu``); see `spec`.

One submission's failure is that submission's zero with a reason in its feedback, never the
run's: a submission that cannot be read, a result that cannot be decoded or compared, even an
error of the grader's own on a strange value, ends in that submission's row. A run can be
interrupted at any moment (Ctrl-C, SIGKILL, a reboot): every finished submission's feedback
and a record of its scores are on disk (``grades.csv.results/``) before the next one counts
as done, grades.csv is only ever replaced whole, and the same command run again grades what
is left (and what changed), then writes the whole CSV.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import csv
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import os
import pathlib
import sys
import threading
import time
import zlib

import numpy as np

from course_lib.config import PROFILES
from course_lib.storage import atomic_write, file_lock
from course_lib.grading import datasets, names, notebook, sandbox, wire
from course_lib.grading.spec import Call, Passed, Setting, structure_mismatch
from course_lib.grading.submissions import Submission, SubmissionError, digest, find_submissions  # noqa: F401


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
    check_structure: bool = True


@dataclasses.dataclass
class Assignment:
    name: str
    master: dict
    test_cells: list
    tests: list  # GradedTest, in notebook order
    setting: Setting | None = None
    locked: list = dataclasses.field(default_factory=list)  # notebook.LockedCell: helpers run as released
    order: dict = dataclasses.field(default_factory=dict)   # grade_id -> index of its cell in the master
    sources: tuple = ()  # (master notebook, grading.py) paths, for the fingerprint of a run

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
        # the master's code cells but those the spec leaves out (training, saving: REFERENCE_SKIP)
        skip = set(getattr(spec, "REFERENCE_SKIP", ()))
        own = [(index, text) for index, text in
               notebook.extract_code(master, test_cells, locked, notebook.master_order(master)).cells
               if index < 0 or notebook.nbgrader_meta(master["cells"][index]).get("grade_id") not in skip]
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
        tests.append(GradedTest(cell.grade_id, cell.points, entry.description, calls, entry.compare, references,
                                getattr(entry, "check_structure", True)))
    return Assignment(name, master, test_cells, tests, setting, locked, notebook.master_order(master),
                      (master_path, spec_path))


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
class Outcome:
    student: str
    scores: dict
    total: int
    status: str
    feedback: str
    key: str = ""        # the feedback file's name without .md (`names.file_key`)
    digest: str = ""     # sha256 of the notebook that was graded ("" when it could not be read)


STATUS_ORDER = ["grader error", "sandbox error", "worker died", "memory limit", "time limit", "cell errors"]


def _status_of(run: sandbox.RunResult | None, problem: str) -> str:
    if problem:
        return problem
    found = [s for s in STATUS_ORDER if s in run.status]
    return "; ".join(found) if found else "ok"


class _Then:
    """The `then` steps of one submission's calls, each run once per distinct returned value."""

    def __init__(self):
        self.done: dict = {}

    def __call__(self, call: Call, value):
        if call.then is None:
            return value
        try:
            digest_ = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest() \
                if isinstance(value, np.ndarray) else repr(value)
        except (TypeError, ValueError):
            digest_ = repr(value)
        key = (id(call.then), digest_)
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


def _calls(assignment: Assignment, extracted: notebook.Extracted) -> tuple[list, list]:
    """The calls to make for a submission, and for each call of each test (in order) which one it is.

    A test's calls run where its test cell stands, a call marked ``at_end`` (a saved file) after
    every cell; identical calls of the worker's own functions (``course:read_file`` of one file)
    are made once, so that every test judges the same bytes.

    Returns:
        made: [(function, args, kwargs, test number, position)].
        refs: for each call of each test, its index in `made`.
    """
    made, refs, shared = [], [], {}
    for g, test in enumerate(assignment.tests):
        for call in test.calls:
            position = len(extracted.cells) if call.at_end else extracted.positions.get(test.grade_id,
                                                                                       len(extracted.cells))
            key = None
            if call.function.startswith("course:"):
                key = (call.function, position, repr(call.args), repr(sorted(call.kwargs.items())))
                if key in shared:
                    refs.append(shared[key])
                    continue
                shared[key] = len(made)
            refs.append(len(made))
            made.append((call.function, call.args, call.kwargs, g, position))
    return made, refs


def grade_one(assignment: Assignment, submission: Submission, limits: sandbox.Limits,
              use_namespaces: bool | None, cancel: threading.Event | None = None) -> Outcome:
    """Grade one submission; never raises for anything the submission contains.

    `sandbox.Cancelled` passes through when `cancel` is set (the run was interrupted)."""
    seconds = limits.total_seconds()
    token = sandbox.RUN.set(sandbox.RunContext(time.monotonic() + seconds, seconds, cancel))
    try:
        return _grade_one(assignment, submission, limits, use_namespaces)
    except sandbox.Cancelled:
        raise
    except sandbox.Unavailable as exc:
        return _outcome(assignment, submission, {t.grade_id: 0 for t in assignment.tests}, "sandbox error",
                        [f"- [FAIL] {t.grade_id} (0/{t.points})" for t in assignment.tests],
                        notes=[f"the grader's own sandbox could not start ({wire.clean_text(str(exc), 300)}); this "
                               "is no fault of yours: the course staff will grade it again"],
                        mode=sandbox.isolation_mode(use_namespaces))
    except Exception as exc:  # noqa: BLE001 - the grader's own failure on this submission stays in its row
        why = wire.clean_text(f"{type(exc).__name__}: {exc}", 300)
        return _outcome(assignment, submission, {t.grade_id: 0 for t in assignment.tests}, "grader error",
                        [f"- [FAIL] {t.grade_id} (0/{t.points})" for t in assignment.tests],
                        notes=[f"the grader failed on this submission ({why}); this is the course's fault, not "
                               "yours: tell the course staff"],
                        mode=sandbox.isolation_mode(use_namespaces))
    finally:
        sandbox.RUN.reset(token)


def _grade_one(assignment: Assignment, submission: Submission, limits: sandbox.Limits,
               use_namespaces: bool | None) -> Outcome:
    notes, run, problem, found = [], None, submission.problem and "no notebook", ""
    if submission.problem:
        notes = [submission.problem]
    else:
        try:
            data = submission.read()
            found = digest(data)
            nb = notebook.parse_notebook(data, names.display(submission.inner or submission.raw))
        except (SubmissionError, notebook.NotebookError) as exc:
            problem, notes = "invalid notebook", [str(exc)]
    if not problem:
        extracted = notebook.extract_code(nb, assignment.test_cells, assignment.locked, assignment.order)
        notes += extracted.notes
        made, refs = _calls(assignment, extracted)
        run = sandbox.run_submission(extracted.cells, [m[:3] for m in made], limits, use_namespaces,
                                     [m[3] for m in made], assignment.sandbox, [m[4] for m in made],
                                     extracted.capture)
        results = [run.results.get(j) for j in refs]
        replaced = sorted({made[j][0] for j, r in run.results.items() if r.replaced})
        notes += [f"{name} was redefined after its locked cell; the hidden tests called the locked version"
                  for name in replaced]
    scores, lines, k = {}, [], 0
    then = _Then()
    for test in assignment.tests:
        verdict, passed = None, []
        for call, expected in zip(test.calls, test.references):
            result = results[k] if run else None
            k += 1
            if verdict is not None:
                continue
            if result is None:
                verdict = problem or "not run"
            elif not result.ok:
                verdict = f"{call.describe()}: {result.error}"
            else:
                verdict, note = _judge(test, call, result.value, expected, then)
                if note:
                    passed.append(note)
        scores[test.grade_id] = 0 if verdict else test.points
        mark = "pass" if not verdict else "FAIL"
        lines.append(f"- [{mark}] {test.grade_id} ({scores[test.grade_id]}/{test.points})"
                     + (f": {test.description}" if not verdict and test.description else "")
                     + (f" ({'; '.join(passed)})" if not verdict and passed else "")
                     + (f"\n    {wire.clean_text(verdict, 1500)}" if verdict else ""))
    status = _status_of(run, problem)
    return _outcome(assignment, submission, scores, status, lines, notes, run,
                    run.isolation if run else sandbox.isolation_mode(use_namespaces), found)


def _judge(test: GradedTest, call: Call, value, expected, then) -> tuple[str | None, str]:
    """(why the value is wrong or None, a note of a passed check)."""
    try:
        if expected is not None and test.check_structure:
            message = structure_mismatch(value, expected, call)
            if message:
                return f"{call.describe()}: {message}", ""
        message = test.compare(then(call, value), expected, call)
    except _ThenFailed as exc:
        message = str(exc)
    except (sandbox.Cancelled, sandbox.Unavailable):
        raise
    except Exception as exc:  # a comparator meeting a value it did not expect
        message = f"the result could not be compared ({type(exc).__name__}: {wire.clean_text(str(exc), 300)})"
    if isinstance(message, Passed):
        return None, str(message)
    return (f"{call.describe()}: {message}" if message else None), ""


def _outcome(assignment, submission, scores, status, lines, notes=(), run=None, mode="", found="") -> Outcome:
    total = sum(scores.values())
    text = [f"# {assignment.name}: feedback for {submission.student}", "",
            f"Total: {total} / {assignment.max_points}", f"Status: {status}",
            f"Isolation: {mode}" + ("" if mode == "namespaces" else
                                    " (no namespaces: the code could read files and use the network)")]
    if run is not None and run.budget:
        text.append(f"Memory budget: {run.budget.split(' (')[0]}")
    if assignment.setting and assignment.sandbox.keras:
        text.append(f"Profile: {assignment.setting.profile}")
    if assignment.setting:
        text += [f"Data: {plan.describe()}" for plan in assignment.setting.data.values()]
    text.append("")
    if notes:
        text += ["## Notes", *[f"- {wire.clean_text(n, 1500)}" for n in notes], ""]
    text += ["## Tests", *lines, ""]
    if run and run.cell_errors:
        text += ["## Errors in your code cells (the grader ran every cell, in order)",
                 *[f"- cell {i}: {e}" for i, e in run.cell_errors], ""]
    return Outcome(submission.student, scores, total, status, "\n".join(text), submission.key, found)


def _write_atomic(path: pathlib.Path, text: str) -> None:
    """Replace `path` whole, on disk before this returns (a crash leaves the old file or the new one)."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    _sync_folder(path.parent)


def _sync_folder(folder: pathlib.Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fingerprint(assignment: Assignment, limits: sandbox.Limits, mode: str) -> str:
    """What a stored result depends on besides the notebook: the master, the spec, the grader's
    own code, the profile, the limits, the isolation, the data and the numeric libraries."""
    h = hashlib.sha256()
    for path in assignment.sources:
        h.update(pathlib.Path(path).read_bytes())
    for path in sorted(pathlib.Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    versions = {"numpy": np.__version__, "python": sys.version.split()[0]}
    if assignment.sandbox.keras:
        for package in ("keras", "tensorflow", "jax", "torch"):
            try:
                versions[package] = importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                pass
        versions["backend"] = sandbox.keras_backend()
    setting = assignment.setting
    h.update(json.dumps({"limits": dataclasses.asdict(limits), "mode": mode, "versions": versions,
                         "profile": setting.profile if setting else None,
                         "data": {k: [p.kind, sorted(p.files)] for k, p in (setting.data if setting else {}).items()}},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


class Progress:
    """The finished submissions of a run, one JSON record each in ``CSV.results/``.

    A record holds the scores, the status and the feedback of one submission together with
    the digest of the notebook that was graded and the run's `fingerprint`; it is written
    (atomically, synced) after the feedback file, so a record on disk always has its
    feedback. A later run takes a record as it is when both digests agree.
    """

    FORMAT = 1

    def __init__(self, folder: pathlib.Path, fingerprint_: str):
        self.folder, self.fingerprint = pathlib.Path(folder), fingerprint_

    def path(self, key: str) -> pathlib.Path:
        return self.folder / f"{key}.json"

    def load(self, key: str, digest_: str) -> dict | None:
        try:
            record = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(record, dict) or record.get("format") != self.FORMAT:
            return None
        if record.get("fingerprint") != self.fingerprint or record.get("digest") != digest_ or not digest_:
            return None
        return record

    def others(self) -> int:
        """How many records were made by a run with another fingerprint."""
        count = 0
        for path in self.folder.glob("*.json"):
            try:
                if json.loads(path.read_text(encoding="utf-8")).get("fingerprint") != self.fingerprint:
                    count += 1
            except (OSError, ValueError, AttributeError, RecursionError):
                count += 1
        return count

    def save(self, outcome: Outcome) -> None:
        record = {"format": self.FORMAT, "fingerprint": self.fingerprint, "key": outcome.key,
                  "student": outcome.student, "digest": outcome.digest, "scores": outcome.scores,
                  "total": outcome.total, "status": outcome.status, "feedback": outcome.feedback}
        _write_atomic(self.path(outcome.key), json.dumps(record, ensure_ascii=True, sort_keys=True))

    def clear(self) -> None:
        for path in self.folder.glob("*.json"):
            path.unlink()


def _remove_temporaries(out: pathlib.Path, feedback_dir: pathlib.Path, state: pathlib.Path) -> None:
    """Temporary files a killed run left beside its targets (`atomic_write` names them .NAME.XXXX.tmp)."""
    for folder, pattern in ((out.parent, f".{out.name}.*.tmp"), (feedback_dir, ".*.md.*.tmp"), (state, ".*.json.*.tmp")):
        for path in folder.glob(pattern) if folder.is_dir() else []:
            with contextlib.suppress(OSError):
                path.unlink()


@dataclasses.dataclass
class Report:
    outcomes: list
    csv_path: pathlib.Path
    feedback_dir: pathlib.Path
    isolation: str
    graded: int = 0    # submissions graded by this run (the others came from stored results)
    resumed: int = 0


def results_dir(out) -> pathlib.Path:
    """Where a run keeps the record of each finished submission: ``grades.csv.results/`` beside the CSV."""
    out = pathlib.Path(out)
    return out.with_name(out.name + ".results")


def grade(name: str, submissions, out, jobs: int = 1, root=None, feedback_dir=None,
          limits: sandbox.Limits | None = None, use_namespaces: bool | None = None, progress=None,
          profile: str = "cpu", limit_overrides: dict | None = None, allow_fallback: bool = False,
          resume: bool | None = None) -> Report:
    """Grade every submission in `submissions`; write the CSV `out` and feedback/KEY.md beside it.

    Args:
        profile: the profile the notebooks run in (COURSE_PROFILE in the sandbox).
        limits: the limits of every worker, instead of the spec's.
        limit_overrides: fields of `sandbox.Limits` replacing the spec's (the command line's options).
        allow_fallback: grade without Linux namespaces where they are not available (or
            `use_namespaces` is False); otherwise that raises `sandbox.FallbackRefused`.
        resume: None (default): take the stored result of every submission whose notebook and
            run settings are unchanged, grade the rest; True: the same, but raise
            `AssignmentError` when stored results were made with other settings; False: grade
            everything again.
    """
    mode = sandbox.isolation_mode(use_namespaces, allow_fallback=allow_fallback)
    assignment = load_assignment(name, root, profile, mode == "namespaces")
    try:
        found = find_submissions(name, submissions)
    except FileNotFoundError as exc:
        raise AssignmentError(str(exc)) from None
    limits = dataclasses.replace(limits or assignment.sandbox.effective_limits(), **(limit_overrides or {}))
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    feedback_dir = pathlib.Path(feedback_dir) if feedback_dir else out.parent / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    state = Progress(results_dir(out), fingerprint(assignment, limits, mode))
    state.folder.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(state.folder / ".lock", timeout=2.0))
        except TimeoutError:
            raise AssignmentError(f"another `course grade` is writing {out} (it holds {state.folder / '.lock'})") \
                from None
        _remove_temporaries(out, feedback_dir, state.folder)
        if resume is False:
            state.clear()
        elif resume and state.others():
            raise AssignmentError(f"{state.folder} holds results of a run with other settings (the assignment, its "
                                  "spec, the grader, the profile or the limits changed); run without --resume to "
                                  "grade every submission again")
        outcomes, todo = {}, []
        for s in found:
            try:
                record = state.load(s.key, digest(s.read())) if not s.problem else None
            except SubmissionError:
                record = None
            if record is None:
                todo.append(s)
                continue
            outcome = Outcome(s.student, record["scores"], record["total"], record["status"], record["feedback"],
                              s.key, record["digest"])
            if not (feedback_dir / f"{s.key}.md").is_file():
                _write_atomic(feedback_dir / f"{s.key}.md", outcome.feedback)
            outcomes[s.key] = outcome
        _grade_all(assignment, todo, limits, mode, jobs, state, feedback_dir, outcomes, progress)
        ids = [t.grade_id for t in assignment.tests]
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["student", *ids, "total", "status"])
        for s in found:
            o = outcomes[s.key]
            writer.writerow([names.csv_cell(o.student), *[o.scores.get(i, 0) for i in ids], o.total,
                             names.csv_cell(o.status)])
        _write_atomic(out, table.getvalue())
    return Report([outcomes[s.key] for s in found], out, feedback_dir, mode, len(todo), len(found) - len(todo))


def _grade_all(assignment, todo, limits, mode, jobs, state, feedback_dir, outcomes, progress) -> None:
    """Grade `todo` with `jobs` threads; each finished submission goes to disk at once. On an
    interruption (KeyboardInterrupt, SystemExit) the running sandboxes are stopped, their
    submissions are left for the next run, and the interruption goes on."""
    cancel = threading.Event()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = {}
    try:
        futures = {pool.submit(grade_one, assignment, s, limits, mode == "namespaces", cancel): s for s in todo}
        for future in concurrent.futures.as_completed(futures):
            outcome = future.result()
            _write_atomic(feedback_dir / f"{outcome.key}.md", outcome.feedback)
            if not any(s in outcome.status for s in ("grader error", "sandbox error")):
                state.save(outcome)  # a failure of the grading machine is graded again by the next run
            outcomes[outcome.key] = outcome
            if progress:
                progress(outcome)
    except BaseException:
        cancel.set()
        for future in futures:
            future.cancel()
        raise
    finally:
        pool.shutdown(wait=True)
