"""Shared fixtures: every device this machine has, float64 by default."""

import os

import pytest
import torch

# The tests use tiny tensors, for which a second CPU thread only adds
# synchronisation (and, on a busy machine, waiting). Child processes started
# by the tests inherit the setting through the environment.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(1)


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
