"""A regular install ships the lessons: the wheel holds them as ``toolkit/lessons/``.

The repository keeps them in lessons/ (pyproject.toml maps that folder into
the package), so after ``pip install .``, or an install from a git URL, every
command works from any folder. The test builds the wheel, installs it into a
fresh virtual environment and runs ``list`` and a lesson from an empty
temporary folder, with PYTHONPATH cleared so that nothing of this checkout
is imported. The environment sees the system's packages (torch is not
installed a second time), but not this checkout.
"""

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.xdist_group(__name__)    # the module fixtures are built once: keep it on one xdist worker


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's python, an environment without PYTHONPATH, the wheel): the wheel built from a copy of this
    checkout and installed into a fresh virtual environment."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(PROJECT, source, ignore=shutil.ignore_patterns(
        ".git", "figures", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "notebooks"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(root / "dist"), str(source)], capture_output=True, text=True,
                           timeout=300)
    if built.returncode != 0:
        pytest.fail("building the wheel failed:\n" + built.stdout[-2000:] + built.stderr[-2000:])
    (wheel,) = (root / "dist").glob("*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--no-index", "--no-compile", str(wheel)], capture_output=True, text=True, env=env,
                          timeout=300)
    if done.returncode != 0:
        pytest.fail("installing the wheel failed:\n" + done.stdout[-2000:] + done.stderr[-2000:])
    return python, env, wheel


def test_the_wheel_holds_the_package_and_every_lesson(installed):
    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    lessons = sorted(p.name for p in (PROJECT / "lessons").glob("[0-9][0-9]_*.py"))
    assert lessons and {f"toolkit/lessons/{name}" for name in lessons} <= names
    assert {"toolkit/cli.py", "toolkit/manual/linear.py"} <= names
    assert "toolkit/datasets/digits.csv.gz" in names         # the digits lesson reads its data from the package


def test_every_package_folder_is_listed_for_the_wheel():
    # setuptools copies only the packages it is told about: a new folder under toolkit/ must be listed
    listed = set(tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {".".join(p.parent.relative_to(PROJECT).parts) for p in (PROJECT / "toolkit").rglob("__init__.py")}
    assert folders <= listed and "toolkit.lessons" in listed


def test_from_any_folder_the_installed_toolkit_lists_and_runs_the_lessons(installed, tmp_path):
    python, env, _ = installed

    def toolkit(*args):
        return subprocess.run([str(python), "-m", "toolkit", *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)

    where = subprocess.run([str(python), "-c", "import toolkit; print(toolkit.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert Path(where.stdout.strip()).is_relative_to(python.parent.parent), where    # the wheel's copy
    listing = toolkit("list")
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[0].split()[:2] == ["1", "01"] and "One weight" in listing.stdout
    done = toolkit("run", "1", "--steps", "3", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "figures" / "01_one_weight" / "summary.json").is_file()    # figures/ in the current folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures"]
