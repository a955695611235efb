"""Where real data sets are looked for, checksums, and writing files atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import tempfile

DATA_DIR_ENV = "COURSE_DATA_DIR"
OFFLINE_ENV = "COURSE_OFFLINE"

# Folders where operating-system packages put data sets (Debian's dataset-fashion-mnist uses the first).
SYSTEM_DIRS = [pathlib.Path("/usr/share/datasets"), pathlib.Path("/usr/local/share/datasets")]


def keras_cache_dir() -> pathlib.Path:
    """Keras' download cache: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return pathlib.Path(home) / "datasets"


def search_dirs() -> list[pathlib.Path]:
    """The folders searched for real data, in order: ``$COURSE_DATA_DIR``, Keras' cache, system folders."""
    dirs = []
    if os.environ.get(DATA_DIR_ENV):
        dirs.append(pathlib.Path(os.environ[DATA_DIR_ENV]).expanduser())
    dirs.append(keras_cache_dir())
    dirs.extend(SYSTEM_DIRS)
    return dirs


def offline() -> bool:
    """True when ``$COURSE_OFFLINE`` is set: never try a download."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_write(path: os.PathLike, mode: str = "w", **kwargs):
    """Open a temporary file beside `path`; on success it replaces `path`, on error it is removed.

    Readers never see a half-written file, and a failed write leaves the old file as it was.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
