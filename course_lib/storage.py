"""Where the course keeps files, and how it writes them: atomic writes, checksums, the
cache folder and an inter-process lock.

- `atomic_write(path)`: readers never see a half-written file, a failed write leaves the
  old file as it was, and the new file gets the old file's permissions (or, for a new
  file, the permissions the umask allows), not the 0600 of a temporary file.
- `cache_dir()`: ``$COURSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/keras-vision-course``,
  else ``~/.cache/keras-vision-course``; the trained-model cache and converted weights live there.
- `file_lock(path)`: an exclusive lock on ``path`` (``fcntl.flock``), so that two notebooks
  filling the same cache entry at once do the work once and never interleave their writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import stat
import tempfile
import time

CACHE_ENV = "COURSE_CACHE_DIR"


class StorageError(OSError):
    """A folder or file the course cannot use: the message names the path and the fix."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _target_mode(path: pathlib.Path) -> int:
    """The old file's permission bits, else 0666 less the umask (what `open()` would give)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_current_umask()


@contextlib.contextmanager
def atomic_write(path: os.PathLike, mode: str = "w", **kwargs):
    """Open a temporary file beside `path`; on success it replaces `path`, on error it is removed.

    Readers never see a half-written file, a failed write leaves the old file as it was, and
    the result keeps the old file's mode (a new file honours the umask).

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "grades.csv"
        >>> with atomic_write(target) as f:
        ...     _ = f.write("name,score\\n")
        >>> target.read_text()
        'name,score\\n'
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_write writes whole files; mode must be 'w' or 'wb', got {mode!r}")
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _target_mode(path))
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def cache_dir(create: bool = True) -> pathlib.Path:
    """The course's cache folder (trained models, converted weights).

    ``$COURSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/keras-vision-course``, else
    ``~/.cache/keras-vision-course``. With `create`, the folder is made and checked writable;
    a folder that cannot be written raises a `StorageError` that says how to choose another.
    """
    if os.environ.get(CACHE_ENV):
        folder = pathlib.Path(os.environ[CACHE_ENV]).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = pathlib.Path(base) / "keras-vision-course"
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cache folder {folder} cannot be created ({exc.strerror}); "
                               f"set {CACHE_ENV} to a writable folder, e.g. {CACHE_ENV}=/tmp/course-cache") from exc
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StorageError(f"cache folder {folder} is not writable; "
                               f"set {CACHE_ENV} to a writable folder, e.g. {CACHE_ENV}=/tmp/course-cache")
    return folder


@contextlib.contextmanager
def file_lock(path: os.PathLike, timeout: float = 1800.0, poll: float = 0.2):
    """Hold an exclusive lock on the file `path` (created if missing) for the ``with`` block.

    Another process asking for the same lock waits (up to `timeout` seconds, then a
    `TimeoutError` naming the lock file). The lock goes with the process, so a crash never
    leaves a stale lock behind. On systems without ``fcntl`` the block runs unlocked.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the atomic writes still keep entries whole
        yield
        return
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"waited {timeout:.0f} s for the lock {path}; another process holds it. "
                                       f"If none should, delete the file and try again.") from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


__all__ = ["atomic_write", "cache_dir", "file_lock", "sha256_bytes", "sha256_file", "StorageError", "CACHE_ENV"]
