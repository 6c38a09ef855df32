"""Importing the toolkit must not import matplotlib.

matplotlib is slow to import and only the figures need it, so only
``toolkit.plots`` loads it (and the lessons import plots when they draw).
Everything else, the package itself, the hand-written layers, the optimiser,
the training loop, the landscapes, the gradient report and the command line,
must stay usable without it. Checked in a fresh interpreter, since this test
process may have loaded matplotlib already.
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import toolkit

ROOT = Path(__file__).resolve().parent.parent

# The modules that need matplotlib (the figures and their animation), and the one that runs the command line.
PLOTTING = {"toolkit.plots", "toolkit.animation"}
NOT_IMPORTABLE = {"toolkit.__main__"}

# Named explicitly, so a renamed module cannot silently drop out of the check.
REQUIRED = ["toolkit", "toolkit.manual", "toolkit.optim", "toolkit.train", "toolkit.twins",
            "toolkit.landscape", "toolkit.gradient_check", "toolkit.cli"]

# Runs in the fresh interpreter: import the modules one at a time and record,
# after each, whether matplotlib has been loaded by then.
PROBE = """
import importlib, json, sys
seen = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    seen[name] = "matplotlib" in sys.modules
print(json.dumps(seen))
"""


def non_plotting_modules() -> list[str]:
    found = [f"toolkit.{info.name}" for info in pkgutil.iter_modules(toolkit.__path__)]
    others = sorted(set(found) - PLOTTING - NOT_IMPORTABLE - set(REQUIRED))
    return REQUIRED + others


def probe(modules: list[str]) -> dict[str, bool]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_toolkit_does_not_import_matplotlib():
    modules = non_plotting_modules()
    seen = probe(modules + sorted(PLOTTING))
    # The first module after which matplotlib is loaded is the one that imported it.
    culprits = [name for name in modules if seen[name]]
    assert not culprits, f"{culprits[0]} imports matplotlib; import toolkit.plots only where a figure is drawn"
    # The probe can tell: the plotting module does load it.
    assert all(seen[name] for name in PLOTTING)
