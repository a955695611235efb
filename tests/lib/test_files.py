import pytest

from course_lib.data import files


def test_search_dirs_order(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "k"))
    dirs = files.search_dirs()
    assert dirs[0] == tmp_path / "mine" and dirs[1] == tmp_path / "k" / "datasets"
    assert dirs[2:] == files.SYSTEM_DIRS


@pytest.mark.parametrize("value,expected", [("", False), ("0", False), ("1", True), ("yes", True)])
def test_offline_flag(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_OFFLINE", value)
    assert files.offline() is expected
