"""Build the wheel, install it in a fresh virtual environment, import it and run `course --help`.

The fresh environment borrows the already-installed dependencies through a .pth file
(nothing is downloaded) but not the editable course_lib: the import must come from the wheel.
"""

import pathlib
import site
import subprocess
import sys
import sysconfig
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging


def test_wheel_installs_and_runs(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, cwd=tmp_path)
    wheel = next(dist.glob("keras_vision_course-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "course_lib/data/real.py" in names and "course_lib/cli.py" in names
    assert not [n for n in names if n.startswith(("tests/", "notebooks/"))]

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    target_site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 check=True, capture_output=True, text=True).stdout.strip()
    deps = [p for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}]
    (pathlib.Path(target_site) / "course_deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
                   check=True, capture_output=True)
    where = subprocess.run([str(py), "-c", "import course_lib; print(course_lib.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout.strip()
    assert where.startswith(str(venv)), f"course_lib imported from {where}, not from the wheel"
    helptext = subprocess.run([str(venv / "bin" / "course"), "--help"], check=True, capture_output=True,
                              text=True, cwd=tmp_path).stdout
    assert "doctor" in helptext and "run" in helptext and "data" in helptext
