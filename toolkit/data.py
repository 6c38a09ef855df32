"""Small, seeded data sets for the lessons.

Data is drawn on the CPU from its own generator and then moved to the
device, so the same seed gives the same numbers on every machine and device.
The one real data set, ``digits``, is read from a file shipped inside the
package (``toolkit/datasets/``), so it needs no download.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

import torch


def noisy_line(
    n: int = 40,
    slope: float = 2.0,
    intercept: float = 1.0,
    noise: float = 0.5,
    x_range: tuple[float, float] = (-2.0, 2.0),
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points scattered around the line y = slope * x + intercept.

    Returns x: (n, 1) with x ~ U(x_range), and y: (n, 1) = slope x + intercept + noise * N(0, 1).
    """
    generator = torch.Generator().manual_seed(seed)
    low, high = x_range
    x = low + (high - low) * torch.rand(n, 1, generator=generator, dtype=torch.float64)
    y = slope * x + intercept + noise * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


def held_out_split(
    x: torch.Tensor, y: torch.Tensor, held_out: int, seed: int = 0
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Split a data set at random into a training part and a held-out part, the split fixed by ``seed``.

    x: (n, ...), y: (n, ...). One permutation of the n points is drawn on
    the CPU from ``seed`` (the same split on every device); its first
    n - held_out points are for training and the last ``held_out`` are held
    out, never trained on. Lesson 05 splits its 400 moons this way, 200 and 200.

    Returns ((x_train, y_train), (x_held_out, y_held_out)).
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"held_out_split: x and y must hold the same number of points, got {n} and {len(y)}")
    if isinstance(held_out, bool) or not isinstance(held_out, int) or not 0 < held_out < n:
        raise ValueError(f"held_out_split: held_out must be a whole number from 1 to {n - 1}, got {held_out!r}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(x.device)
    train, held = order[:n - held_out], order[n - held_out:]
    return (x[train], y[train]), (x[held], y[held])


def two_moons(
    n: int = 200,
    noise: float = 0.15,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved half circles, a classic task no straight line can solve.

    Returns x: (n, 2) points and y: (n,) class indices (0 or 1, torch.long),
    half of each class.
    """
    generator = torch.Generator().manual_seed(seed)
    half = n // 2
    angle = torch.pi * torch.rand(n, generator=generator, dtype=torch.float64)
    upper = torch.stack([torch.cos(angle[:half]), torch.sin(angle[:half])], dim=1)
    lower = torch.stack([1 - torch.cos(angle[half:]), 0.5 - torch.sin(angle[half:])], dim=1)
    x = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    x = (x - x.mean(dim=0)) / x.std(dim=0)          # centred and scaled: easier to train
    y = torch.cat([torch.zeros(half, dtype=torch.long), torch.ones(n - half, dtype=torch.long)])
    return x.to(device=device, dtype=dtype), y.to(device)


def spiral(
    n: int = 300,
    classes: int = 3,
    noise: float = 0.2,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Interleaved spiral arms, one per class (the classic of Stanford's CS231n notes).

    Arm k holds its points at radius r from 0 to 1 and angle
    t = 4k + 4r + noise * N(0, 1) (radians), at (r sin t, r cos t): each arm
    winds 4 radians (about two thirds of a turn), starting 4 radians after
    the one before. ``noise`` jitters the angle, so the arms blur into each
    other near the centre, where they are close.

    Returns x: (n, 2) points inside the unit disc and y: (n,) class indices
    0 .. classes - 1 (torch.long), n // classes per class (the first
    n % classes classes get one point more), class by class.
    """
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"spiral: classes must be a whole number >= 2, got {classes!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < classes:
        raise ValueError(f"spiral: n must be a whole number >= classes ({classes}), got {n!r}")
    generator = torch.Generator().manual_seed(seed)
    points, labels = [], []
    for k in range(classes):
        count = n // classes + (1 if k < n % classes else 0)
        radius = torch.linspace(0.0, 1.0, count, dtype=torch.float64)
        angle = 4.0 * k + 4.0 * radius + noise * torch.randn(count, generator=generator, dtype=torch.float64)
        points.append(torch.stack([radius * torch.sin(angle), radius * torch.cos(angle)], dim=1))
        labels.append(torch.full((count,), k, dtype=torch.long))
    x, y = torch.cat(points), torch.cat(labels)
    return x.to(device=device, dtype=dtype), y.to(device)


def noisy_sine(
    n: int = 40,
    frequency: float = 2.0,
    noise: float = 0.1,
    x_range: tuple[float, float] = (-2.0, 2.0),
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points scattered around the curve y = sin(frequency * x): a small regression a line cannot fit.

    Returns x: (n, 1) with x ~ U(x_range), and y: (n, 1) = sin(frequency x) + noise * N(0, 1).
    """
    generator = torch.Generator().manual_seed(seed)
    low, high = x_range
    x = low + (high - low) * torch.rand(n, 1, generator=generator, dtype=torch.float64)
    y = torch.sin(frequency * x) + noise * torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)


# --------------------------------------------------------------------------- real data: handwritten digits

DIGITS_FILE = "digits.csv.gz"          # in toolkit/datasets/, with its provenance and licence (README.md there)
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
DIGITS_COUNT = 1797


class Split(NamedTuple):
    """One part of a data set: inputs x (n, 64) and class indices y (n,)."""

    x: torch.Tensor
    y: torch.Tensor


class Digits(NamedTuple):
    """The three parts of ``digits``: train on one, choose with the second, report the third once."""

    train: Split
    validation: Split
    test: Split


@lru_cache(maxsize=1)
def _digits_table() -> torch.Tensor:
    """The shipped file as a (1797, 65) integer tensor on the CPU: 64 pixels, then the label, per row.

    The file's SHA-256 is checked first, so a damaged or replaced copy is refused in one line.
    """
    raw = (resources.files("toolkit") / "datasets" / DIGITS_FILE).read_bytes()
    if hashlib.sha256(raw).hexdigest() != DIGITS_SHA256:
        raise ValueError(f"toolkit/datasets/{DIGITS_FILE} is not the file the toolkit ships (its SHA-256 "
                         "differs); reinstall the package")
    rows = gzip.decompress(raw).decode("ascii").split()
    return torch.tensor([[int(value) for value in row.split(",")] for row in rows], dtype=torch.long)


def digits(
    validation: int = 400,
    test: int = 397,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
) -> Digits:
    """Handwritten digits, 8 x 8 pixels, split at random into train, validation and test parts.

    The 1,797 images of the UCI optical-recognition digits (Alpaydin and
    Kaynak 1998; the copy scikit-learn ships, CC BY 4.0: see
    toolkit/datasets/README.md), about 180 of each digit 0 to 9. Every image
    is 64 pixel counts from 0 to 16, row by row from the top left; x holds
    them divided by 16, so every input lies in [0, 1].

    One seeded permutation of all images, drawn on the CPU, deals them out:
    the first ``test`` go to the test part, the next ``validation`` to the
    validation part, and the rest (1,000 with the defaults) to training.
    The same seed gives the same parts on every device, and the test part
    depends only on the seed and its own size.

    Returns ``Digits(train, validation, test)``, each a ``Split(x, y)`` with
    x: (n, 64) in ``dtype`` and y: (n,) class indices (torch.long), on ``device``.
    """
    for name, count in (("validation", validation), ("test", test)):
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"digits: {name} must be a whole number >= 1, got {count!r}")
    if validation + test >= DIGITS_COUNT:
        raise ValueError(f"digits: validation + test must leave images to train on: {validation} + {test} "
                         f">= {DIGITS_COUNT}")
    table = _digits_table()
    order = torch.randperm(DIGITS_COUNT, generator=torch.Generator().manual_seed(seed))
    parts = (order[:test], order[test:test + validation], order[test + validation:])
    test_part, validation_part, train_part = (
        Split((table[index, :64].to(torch.float64) / 16).to(device=device, dtype=dtype),
              table[index, 64].to(device))
        for index in parts)
    return Digits(train=train_part, validation=validation_part, test=test_part)
