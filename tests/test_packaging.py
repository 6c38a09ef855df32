"""A plain (non-editable) ``pip install .`` copies only the package, not lessons/.

Then the command line finds the lessons in the current folder (a clone of the
project), or says in one line what to do.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.xdist_group(__name__)    # the module fixtures are built once: keep it on one xdist worker


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The package installed with plain ``pip install`` into a folder of its own."""
    root = tmp_path_factory.mktemp("plain-install")
    source = root / "source"
    shutil.copytree(PROJECT, source, ignore=shutil.ignore_patterns(
        ".git", "figures", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    target = root / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                           "--no-compile", "--target", str(target), str(source)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail("pip install failed:\n" + done.stdout[-2000:] + done.stderr[-2000:])
    assert (target / "toolkit" / "cli.py").is_file() and not (target / "lessons").exists()
    # the subpackage and the data files travel too (the digits lesson reads its data from the package)
    assert (target / "toolkit" / "manual" / "linear.py").is_file()
    assert (target / "toolkit" / "datasets" / "digits.csv.gz").is_file()
    return target, {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}


def toolkit(env, cwd, *args):
    return subprocess.run([sys.executable, "-m", "toolkit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_away_from_the_project_folder_it_says_what_to_do(installed, tmp_path):
    _, env = installed
    done = toolkit(env, tmp_path, "list")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no lessons/ folder" in lines[0] and "pip install -e ." in lines[0]


def test_in_the_project_folder_the_installed_package_runs_the_lessons(installed, tmp_path):
    target, env = installed
    clone = tmp_path / "clone"
    shutil.copytree(PROJECT / "lessons", clone / "lessons")
    where = subprocess.run([sys.executable, "-c", "import toolkit; print(toolkit.__file__)"], cwd=clone, env=env,
                           capture_output=True, text=True, timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(target)       # the installed copy, not this checkout
    assert "One weight" in toolkit(env, clone, "list").stdout
    done = toolkit(env, clone, "run", "1", "--steps", "3", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (clone / "figures" / "01_one_weight" / "summary.json").is_file()   # figures/ in the current folder
