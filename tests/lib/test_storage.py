"""course_lib.storage: atomic writes keep modes, the cache folder, the inter-process lock."""

import multiprocessing
import os
import stat
import time

import pytest

from course_lib import storage


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_replaces_on_success(tmp_path):
    target = tmp_path / "out" / "page.html"
    with storage.atomic_write(target) as f:
        f.write("new")
    assert target.read_text() == "new"
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "page.html"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with storage.atomic_write(target) as f:
            f.write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


@pytest.mark.parametrize("umask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_honours_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        with storage.atomic_write(tmp_path / "grades.csv") as f:
            f.write("a,b\n")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "grades.csv") == expected


def test_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "notebook.ipynb"
    target.write_text("{}")
    os.chmod(target, 0o640)
    old = os.umask(0o077)          # would give 0600 to a new file; the old file's 0640 wins
    try:
        with storage.atomic_write(target, "wb") as f:
            f.write(b"{ }")
    finally:
        os.umask(old)
    assert _mode(target) == 0o640 and target.read_bytes() == b"{ }"


def test_atomic_write_refuses_append(tmp_path):
    with pytest.raises(ValueError, match="'a'"):
        with storage.atomic_write(tmp_path / "x", "a"):
            pass


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "c"))
    assert storage.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_cache_dir_default_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert storage.cache_dir(create=False) == tmp_path / "keras-vision-course"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_unwritable_cache_dir_names_the_fix(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(locked))
    with pytest.raises(storage.StorageError, match="COURSE_CACHE_DIR"):
        storage.cache_dir()


def test_uncreatable_cache_dir_names_the_fix(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(storage.StorageError, match=r"cannot be created.*COURSE_CACHE_DIR"):
        storage.cache_dir()


def _hold(lock, log, tag):
    with storage.file_lock(lock):
        with open(log, "a") as f:
            f.write(f"{tag} in\n")
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write(f"{tag} out\n")


def test_file_lock_serialises_processes(tmp_path):
    lock, log = tmp_path / "entry.lock", tmp_path / "log"
    procs = [multiprocessing.get_context("fork").Process(target=_hold, args=(lock, log, t)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(10)
    lines = log.read_text().split()
    # each holder's "in" is followed by its own "out": no interleaving
    pairs = [lines[i:i + 4] for i in range(0, len(lines), 4)]
    assert len(lines) == 8
    assert all(lines[i + 1] == "in" and lines[i + 3] == "out" and lines[i] == lines[i + 2]
               for i in (0, 4)), pairs
