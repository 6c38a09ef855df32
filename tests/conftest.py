"""Shared fixtures: every device this machine has, float64 by default, one run of each lesson.

The default ``python -m pytest`` spreads the tests over pytest-xdist workers (see
``pytest_cmdline_main`` below); ``-n 0`` or ``-p no:xdist`` runs them in this process.
"""

import os

import pytest
import torch

from helpers import run_lesson_once
from toolkit import catalogue

# The tests use tiny tensors, for which a second CPU thread only adds
# synchronisation (and, on a busy machine, waiting). Child processes started
# by the tests inherit the setting through the environment.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    # The default run spreads the tests over one pytest-xdist worker per core (``-n auto``), keeping
    # the tests of one lesson together (``--dist loadgroup``, see helpers.lesson_group). This is set
    # here rather than in addopts so that ``-p no:xdist`` still runs; ``-n 0`` runs in this process.
    if not config.pluginmanager.hasplugin("xdist"):
        return
    if hasattr(config, "workerinput"):      # a worker reads the command line again: the mode comes from the main process
        config.option.loadgroup = config.workerinput.get("loadgroup", config.option.loadgroup)
        return
    if config.getoption("numprocesses") is None:
        config.option.numprocesses = "auto"
    if config.getoption("dist") == "no" and config.getoption("numprocesses") != 0:
        config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    # pytest-xdist, in the main process, before a worker starts: tell it whether tests are grouped.
    node.workerinput["loadgroup"] = node.config.getoption("dist") == "loadgroup"


def pytest_generate_tests(metafunc):
    # Tests that take a ``device`` argument run once per device; CUDA cases are
    # listed (and skipped) even without a GPU, so a report shows they exist.
    if "device" in metafunc.fixturenames:
        params = [
            "cpu",
            pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
        ]
        metafunc.parametrize("device", params)


@pytest.fixture(autouse=True)
def _float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="session")
def lesson_runs(tmp_path_factory):
    """``lesson_runs("5")`` (a number or a lesson's stem): that lesson run once with its defaults, a LessonRun.

    Each lesson runs at most once per test process, the first time a test asks for it, and
    every test module shares that run (read-only). Mark the tests that use a lesson with
    ``helpers.lesson_group(stem)``, so that pytest-xdist keeps them on one worker.
    """
    out = tmp_path_factory.mktemp("lessons")
    runs, failures = {}, {}

    def get(key: str):
        path = catalogue.find_lesson(str(key))
        if path.stem in failures:          # a lesson that failed once is not run again for every test
            raise failures[path.stem]
        if path.stem not in runs:
            try:
                runs[path.stem] = run_lesson_once(path, out)
            except Exception as error:
                failures[path.stem] = error
                raise
        return runs[path.stem]

    return get
