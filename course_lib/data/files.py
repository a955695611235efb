"""Where real data sets are looked for, and whether downloads are allowed (checksums and atomic
writes live in `course_lib.storage`)."""

from __future__ import annotations

import os
import pathlib

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
