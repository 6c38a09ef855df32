"""benchmarks/speed.py --quick is a smoke run: every section once, at its smallest.

Its time is measured, not tested (a timed test would fail on a busy
machine); what is tested is that --quick asks for little work: the full run
took over 200 s with --quick, its loss grids alone some 270 s.
"""

import importlib.util
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def load_speed():
    spec = importlib.util.spec_from_file_location("speed", PROJECT / "benchmarks" / "speed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["speed"] = module          # a dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_quick_runs_every_section_once_at_its_smallest():
    speed = load_speed()
    quick, full = speed.plan_for(True), speed.plan_for(False)
    assert (quick.repeats, quick.slow_repeats, quick.warmup) == (1, 1, 1)
    assert quick.grid_points is not None and quick.grid_points ** 2 <= 300        # the loop over a grid is slow
    assert quick.lessons == ["01"] and quick.lesson_flags == ["--no-figures"]      # one child process
    assert quick.imports == []                      # only the matplotlib check starts a process of its own
    assert quick.large_mlp[0] * quick.large_mlp[1] <= 256 * 128
    assert full.grid_points is None and full.lessons is None and full.large_mlp == (1024, 512)
    assert set(full.imports) == set(speed.IMPORT_STATEMENTS) and full.repeats == 15 and full.lesson_flags == []
