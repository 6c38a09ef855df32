"""The noise floor of mini-batch SGD, exactly, on the simplest problem that has one (lesson 12).

The averages problem: D quantities, N noisy readings y[n, k] of each. The model's D weights are
its predictions, ŷ = w (a ``Linear(1, D)`` without bias fed the input 1), and the MSE over all
readings is

    L(w) = 1/(N·D) Σₙ Σₖ (wₖ − yₙₖ)² = L* + 1/D · ‖w − ȳ‖²

with ȳ the average reading (the minimum) and L* the readings' spread. The Hessian is (2/D)·I: the
curvature λ = 2/D in every direction, on every batch.

One SGD step at rate η on a batch of B readings, per coordinate, with the error e = w − ȳ, the
batch's error u = ȳ_B − ȳ and a = η·λ:

    e ← (1 − a)·e + a·u

Over the shuffles, u has mean 0 and variance V = s²/B · (N − B)/(N − 1) (s² the coordinate's
spread: sampling without replacement). If every batch were drawn independently of the others,

    E[e²] ← (1 − a)²·E[e²] + a²·V,    which settles at a·V/(2 − a), about a·V/2:

the noise floor of a constant rate, proportional to the rate. ``toolkit.train`` draws batches as
shuffled epochs instead: each epoch shuffles the N readings and cuts ⌊N/B⌋ batches, so the batches of
one epoch never share a reading, and two of them have covariance C = −s²/(N − 1). The error at the
start of an epoch depends on earlier epochs only; within the epoch, e carries the batches already used
with the weight q = Σⱼ a(1 − a)^(k−1−j), so E[e·u] = C·q for the next batch u, and

    E[e²] ← (1 − a)²·E[e²] + 2a(1 − a)·C·q + a²·V,    q ← (1 − a)·q + a    (q = 0 as an epoch starts)

(each step with its own a when the rate changes). This is exact for any schedule, and the expected
gap E[L − L*] is the average of E[e²] over the D coordinates. The anti-correlated batches lower the
floor; for small rates it falls with the square of the rate instead of the rate.

``AveragesSGD(readings, batch_size)`` holds the problem; ``expected_gap`` runs the recursion for the
rates of a run, ``floor`` gives the level a constant rate settles at.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


class AveragesSGD:
    """Mini-batch SGD on the averages problem: its loss gap, and the gap expected over the shuffles.

    readings: (N, D), N ≥ 2 readings of each of D quantities; batch_size: B, 1 ≤ B ≤ N.
    Attributes: ``mean`` ȳ (D,), ``best_loss`` L*, ``curvature`` λ = 2/D, ``variance`` V (D,),
    ``covariance`` C (D,), ``epoch`` = ⌊N/B⌋ steps (one shuffle).
    """

    def __init__(self, readings: Tensor, batch_size: int) -> None:
        if readings.dim() != 2 or readings.shape[0] < 2:
            raise ValueError(f"readings must be (N, D) with N >= 2, got shape {tuple(readings.shape)}")
        n, d = readings.shape
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must be a whole number from 1 to N = {n}, got {batch_size!r}")
        self.mean = readings.mean(dim=0)                                 # ȳ
        spread = ((readings - self.mean) ** 2).mean(dim=0)              # s², (D,)
        self.best_loss = spread.mean().item()                            # L*
        self.curvature = 2 / d                                           # λ
        self.variance = spread / batch_size * (n - batch_size) / (n - 1)   # V
        self.covariance = -spread / (n - 1)                              # C
        self.epoch = n // batch_size

    def gap(self, weights: Tensor) -> Tensor:
        """L − L* = 1/D · ‖w − ȳ‖² for weights (..., D): shape (...), e.g. one per step of a path (K, D)."""
        return ((weights - self.mean) ** 2).mean(dim=-1)

    def expected_squares(self, squares: Tensor, rates: Sequence[float]) -> list[Tensor]:
        """E[e²] per coordinate (D,) at steps 0 .. len(rates), by the recursion above, from ``squares`` at step 0.

        Step t uses the rate ``rates[t]``; step 0 starts an epoch.
        """
        weight = 0.0                                                     # q
        expected = [squares]
        for t, rate in enumerate(rates):
            if t % self.epoch == 0:
                weight = 0.0                                             # a new shuffle
            a = rate * self.curvature
            squares = (1 - a) ** 2 * squares + 2 * a * (1 - a) * self.covariance * weight + a ** 2 * self.variance
            weight = (1 - a) * weight + a
            expected.append(squares)
        return expected

    def expected_gap(self, start: Tensor, rates: Sequence[float]) -> list[float]:
        """E[L − L*] at steps 0 .. len(rates) for SGD from the weights ``start`` (D,) at the rates ηₜ."""
        return [squares.mean().item() for squares in self.expected_squares((start - self.mean) ** 2, rates)]

    def floor(self, rate: float, *, shuffled: bool = True) -> float | None:
        """The expected gap a constant ``rate`` settles at, averaged over an epoch's steps and the coordinates.

        ``shuffled=False``: the floor if every batch were drawn independently, a·V/(2 − a).
        None where the rate diverges (a = η·λ outside (0, 2): the error grows by |1 − a| ≥ 1 a step).
        """
        a = rate * self.curvature
        if not 0 < a < 2:
            return None
        if not shuffled:
            return (a * self.variance / (2 - a)).mean().item()
        # An epoch maps E[e²] to (1 − a)^(2n)·E[e²] + b: the floor is the E[e²] it maps to itself.
        added = self.expected_squares(torch.zeros_like(self.mean), [rate] * self.epoch)[-1]     # b
        settled = self.expected_squares(added / (1 - (1 - a) ** (2 * self.epoch)), [rate] * self.epoch)[:-1]
        return torch.stack(settled).mean().item()
