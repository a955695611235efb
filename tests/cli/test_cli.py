"""The `course` command: list, run, doctor, data; bad input gives a clear error and no file."""

import os
import subprocess
import sys
import tempfile

import nbformat
import pytest

from course_lib import cli, runner
from tests.conftest import write_fashion


def make_notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A test notebook\nfor the runner")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


def test_list_shows_titles(tmp_path, capsys):
    make_notebook(tmp_path / "03_x.ipynb", "1")
    assert cli.main(["list", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "03_x.ipynb" in out and "A test notebook" in out


def test_list_of_course_notebooks(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "00_setup.ipynb" in out and "Setting up" in out
    assert "01_perceptron.ipynb" in out and "perceptron" in out


def test_run_writes_notebook_html_and_index(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "cpu")
    nb = make_notebook(tmp_path / "ok.ipynb", "import os\nprint('profile', os.environ['COURSE_PROFILE'])")
    out = tmp_path / "build"
    assert cli.main(["run", str(nb), "--profile", "smoke", "--out", str(out), "--no-progress"]) == 0
    executed = nbformat.read(out / "ok.ipynb", 4)
    assert executed.cells[1].outputs[0]["text"] == "profile smoke\n"
    assert (out / "ok.html").read_text().count("profile smoke") >= 1
    assert "ok.html" in (out / "index.html").read_text()
    table = capsys.readouterr().out
    assert "ok.ipynb" in table and "peak MB" in table and "seconds" in table
    assert os.environ["COURSE_PROFILE"] == "cpu"   # the runner restored the caller's environment


def test_run_failure_names_the_cell_and_writes_nothing(tmp_path, capsys):
    nb = make_notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError('planted failure')", "print('never')")
    out = tmp_path / "build"
    assert cli.main(["run", str(nb), "--out", str(out), "--no-progress"]) == 1
    text = capsys.readouterr().out
    assert "FAILED" in text and "cell 2" in text and "ValueError: planted failure" in text
    assert not (out / "bad.ipynb").exists() and not (out / "bad.html").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_run_inplace_keeps_source_on_failure(tmp_path):
    nb = make_notebook(tmp_path / "bad.ipynb", "raise RuntimeError('no')")
    before = nb.read_bytes()
    results = runner.run_notebooks([nb], inplace=True, progress=False)
    assert not results[0].ok and nb.read_bytes() == before


def test_run_inplace_writes_outputs(tmp_path):
    nb = make_notebook(tmp_path / "ok.ipynb", "print(6 * 7)")
    results = runner.run_notebooks([nb], inplace=True, progress=False)
    assert results[0].ok and nbformat.read(nb, 4).cells[1].outputs[0]["text"] == "42\n"


def test_run_cell_timeout(tmp_path):
    nb = make_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(30)")
    results = runner.run_notebooks([nb], timeout=2, progress=False)
    assert not results[0].ok and results[0].failed_cell == 1 and results[0].seconds < 25


def test_run_missing_notebook(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "nope.ipynb")]) == 2
    err = capsys.readouterr().err
    assert "notebook not found" in err and "nope.ipynb" in err and "course list" in err


def test_run_unwritable_out(tmp_path, capsys):
    nb = make_notebook(tmp_path / "ok.ipynb", "1")
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert cli.main(["run", str(nb), "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert "cannot write to output folder" in err and "--out" in err


def test_run_rejects_bad_profile_and_timeout(tmp_path):
    nb = make_notebook(tmp_path / "ok.ipynb", "1")
    with pytest.raises(SystemExit):
        cli.main(["run", str(nb), "--profile", "fast"])
    with pytest.raises(runner.RunError, match="timeout must be a positive"):
        runner.run_notebooks([nb], timeout=0)


def test_corrupt_notebook_file_is_reported(tmp_path):
    bad = tmp_path / "broken.ipynb"
    bad.write_text("{not json")
    results = runner.run_notebooks([bad], progress=False)
    assert not results[0].ok and "cannot read notebook" in results[0].error


def test_doctor_reports_real_and_substitute(data_home, monkeypatch, capsys):
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist  missing (substitute used)" in out and "backend" in out and "keras" in out
    write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch)
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist  real" in out and str(data_home) in out


def test_data_list_check_path(data_home, monkeypatch, capsys):
    write_fashion(data_home / "fashion-mnist", monkeypatch=monkeypatch)
    assert cli.main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert "fashion_mnist  real" in out and "shapes" in out and "synthetic" in out
    assert cli.main(["data", "path", "fashion_mnist", "mnist"]) == 0
    out = capsys.readouterr().out
    assert f"fashion_mnist: {data_home / 'fashion-mnist'}" in out and "mnist: not found" in out
    assert cli.main(["data", "check", "fashion_mnist"]) == 0
    (data_home / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    assert cli.main(["data", "check", "fashion_mnist"]) == 1
    assert "corrupt" in capsys.readouterr().out


def test_data_check_unknown_and_generated(capsys):
    assert cli.main(["data", "check", "fashon_mnist"]) == 2
    assert "did you mean 'fashion_mnist'" in capsys.readouterr().err
    assert cli.main(["data", "check", "shapes"]) == 2
    assert "synthetic data" in capsys.readouterr().err


def test_python_dash_m_works_like_course():
    out = subprocess.run([sys.executable, "-m", "course_lib", "--help"], capture_output=True, text=True, check=True)
    assert "doctor" in out.stdout and "run" in out.stdout


def test_run_kernel_over_ipc_prints_no_tcp_warning(tmp_path):
    """The kernels of `course run` use IPC sockets in a private folder that goes away after the run."""
    nb = make_notebook(tmp_path / "tiny.ipynb", "print(6 * 7)")
    with tempfile.TemporaryDirectory(prefix="ipc-", dir="/tmp" if os.path.isdir("/tmp") else None) as scratch:
        env = {**os.environ, "TMPDIR": scratch}
        out = subprocess.run([sys.executable, "-m", "course_lib", "run", str(nb), "--no-progress"],
                             capture_output=True, text=True, env=env, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "tiny.ipynb" in out.stdout and "ok" in out.stdout
        assert "TCP" not in out.stderr and "encryption" not in out.stderr, out.stderr
        assert not os.listdir(scratch), "the folder of the kernel's sockets was left behind"


def test_kernel_transport_is_ipc_in_a_private_folder(monkeypatch, tmp_path):
    if os.name == "nt":
        pytest.skip("Windows has no IPC transport; kernels stay on TCP")
    long = tmp_path / ("long" * 30)              # too long a path for a socket: /tmp instead
    long.mkdir()
    monkeypatch.setenv("TMPDIR", str(long))
    monkeypatch.setattr(tempfile, "tempdir", None)
    with runner.kernel_transport() as config:
        folder = os.path.dirname(config.KernelManager.ip)
        assert config.KernelManager.transport == "ipc" and folder.startswith("/tmp/course-kernel-")
        assert os.stat(folder).st_mode & 0o777 == 0o700
    assert not os.path.exists(folder)
