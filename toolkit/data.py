"""Small, seeded data sets for the lessons.

Data is drawn on the CPU from its own generator and then moved to the
device, so the same seed gives the same numbers on every machine and device.
"""

from __future__ import annotations

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


def split(x: torch.Tensor, y: torch.Tensor, *, held_out: int, seed: int = 0):
    """A random split of the samples (x, y) into a training part and a held-out part, fixed by ``seed``.

    The order is a random permutation of the N samples, drawn on the CPU from its own generator (the
    same split on every device); the first N - held_out samples are for training, the rest are held
    out. x: (N, ...), y: (N, ...). Returns ((x_train, y_train), (x_held, y_held)).

    Split a data set drawn once, rather than drawing a second set: ``two_moons`` centres and scales
    the points it draws, so a second draw would be in slightly different coordinates.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"split: x and y must hold the same number of samples, got {n} and {len(y)}")
    if isinstance(held_out, bool) or not isinstance(held_out, int) or not 0 < held_out < n:
        raise ValueError(f"split: held_out must be a whole number between 1 and {n - 1}, got {held_out!r}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(x.device)
    train, held = order[:n - held_out], order[n - held_out:]
    return (x[train], y[train]), (x[held], y[held])
