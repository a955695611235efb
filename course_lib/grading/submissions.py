"""The submissions of a folder, found and read without trusting the folder.

Each entry of the folder is a student: ``STUDENT/`` holding ``NAME.ipynb`` (or a single other
``*.ipynb``), or a file ``STUDENT.ipynb``. Whatever an entry is, it becomes a `Submission`;
one that cannot be graded carries the reason, and the grader gives it a zero with that reason
in its feedback. Nothing is followed or waited for:

- a symbolic link (to the master notebook, to /dev/zero, to another student's folder) is
  refused, as an entry and as the notebook inside a folder (``O_NOFOLLOW``, the folder opened
  by descriptor and the notebook opened relative to it);
- only a regular file is read: a FIFO, a socket or a device is refused without blocking
  (``O_NONBLOCK``, then ``fstat``);
- at most `MAX_NOTEBOOK_BYTES` are read; a larger file is refused;
- names are bytes: a folder name that is not UTF-8 is a student like any other (see `names`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat

from course_lib.grading import names

MAX_NOTEBOOK_BYTES = 32 * 2**20
_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
          stat.S_IFDIR: "a folder", stat.S_IFLNK: "a symbolic link"}


class SubmissionError(ValueError):
    """A submission that cannot be read, with the reason for its feedback."""


@dataclasses.dataclass
class Submission:
    """One entry of the submissions folder.

    Args:
        raw: the entry's name as bytes (a folder, or a file ``STUDENT.ipynb``).
        student: the student's name for people (`names.display`); unique in a run.
        key: the feedback file's name without ``.md`` (`names.file_key`); unique in a run.
        folder: the submissions folder.
        inner: for a folder entry, the notebook's name inside it (bytes), or None.
        problem: why it cannot be graded ("" when it can).
        name: the student's name as bytes (the entry's name, less ``.ipynb`` for a file).
    """

    raw: bytes
    student: str
    key: str
    folder: str
    inner: bytes | None = None
    problem: str = ""
    name: bytes = b""

    @property
    def path(self) -> str:
        parts = [os.fsencode(self.folder), self.raw] + ([self.inner] if self.inner else [])
        return os.fsdecode(os.path.join(*parts))

    def read(self) -> bytes:
        """The notebook's bytes; `SubmissionError` says why they cannot be read."""
        if self.problem:
            raise SubmissionError(self.problem)
        shown = names.display(self.raw + (b"/" + self.inner if self.inner else b""))
        folder = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            parent = folder
            if self.inner is not None:
                try:
                    parent = os.open(self.raw, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=folder)
                except OSError as exc:
                    raise SubmissionError(f"{names.display(self.raw)}/ cannot be opened ({exc.strerror})") from None
            try:
                return _read_regular(self.inner if self.inner is not None else self.raw, parent, shown)
            finally:
                if parent != folder:
                    os.close(parent)
        finally:
            os.close(folder)


def _read_regular(name: bytes, dir_fd: int, shown: str) -> bytes:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=dir_fd)
    except OSError as exc:
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except OSError:
            mode = 0
        if stat.S_ISLNK(mode):
            raise SubmissionError(f"{shown} is a symbolic link; hand in the notebook file itself") from None
        raise SubmissionError(f"{shown} cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise SubmissionError(f"{shown} is {kind}, not a notebook file")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(f"{shown} has {info.st_size / 2**20:,.1f} MB, more than the "
                                  f"{MAX_NOTEBOOK_BYTES // 2**20} MB the grader reads; clear the outputs "
                                  "(Edit > Clear All Outputs) and hand it in again")
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{shown} is larger than the {MAX_NOTEBOOK_BYTES // 2**20} MB the grader reads")
    return data


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def find_submissions(name: str, folder) -> list[Submission]:
    """Every entry of `folder` but hidden ones (``.x``): a folder STUDENT/ or a file STUDENT.ipynb.

    Other files are ignored. A folder and a file that name the same student (``ann/`` and
    ``ann.ipynb``) are two submissions: the file's student is then ``ann.ipynb``. A symbolic
    link named STUDENT.ipynb or pointing to a folder is a submission that `Submission.read` refuses.
    """
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"submissions folder {folder} does not exist")
    wanted = f"{name}.ipynb".encode()
    base = os.fsencode(folder)
    entries = []
    for raw in sorted(os.listdir(base)):
        if raw.startswith(b"."):
            continue
        path = os.path.join(base, raw)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            entries.append((raw, raw, True))
        elif raw.endswith(b".ipynb") and len(raw) > len(b".ipynb"):
            entries.append((raw[:-len(b".ipynb")], raw, False))
        elif stat.S_ISLNK(mode) and os.path.isdir(path):  # a linked folder: a student, refused below
            entries.append((raw, raw, False))
    folders = {student for student, _, is_dir in entries if is_dir}
    found = []
    for student, raw, is_dir in entries:
        if not is_dir and student in folders:
            student = raw
        inner, problem = _inner(folder, raw, wanted) if is_dir else (None, "")
        found.append(Submission(raw, names.display(student), "", folder, inner, problem, student))
    upper = len({names.file_key(s.name).lower() for s in found}) < len(found)
    for s in found:
        s.key = names.file_key(s.name, upper=upper)
    return found


def _inner(folder: str, raw: bytes, wanted: bytes) -> tuple[bytes | None, str]:
    """The notebook inside the student folder `raw`: NAME.ipynb, else its only *.ipynb."""
    shown = names.display(raw)
    try:
        fd = os.open(os.path.join(os.fsencode(folder), raw), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        return None, f"{shown}/ cannot be opened ({exc.strerror})"
    try:
        inside = os.listdir(fd)
    except OSError as exc:
        return None, f"{shown}/ cannot be listed ({exc.strerror})"
    finally:
        os.close(fd)
    inside = [os.fsencode(n) for n in inside]
    if wanted in inside:
        return wanted, ""
    others = sorted(n for n in inside if n.endswith(b".ipynb") and not n.startswith(b"."))
    if len(others) == 1:
        return others[0], ""
    what = f"{len(others)} other notebooks" if others else "no notebook"
    return None, f"no {wanted.decode()} in {shown}/ ({what})"
