"""Dropout: in training, every unit is silenced at random; its gradient written by hand."""

from __future__ import annotations

import torch

from toolkit.manual.module import Module

# Devices on which torch does dropout in one fused kernel with random draws of its own (see keep_mask).
FUSED_DROPOUT_DEVICES = ("cuda", "xpu")


def keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """1 where a unit of ``x`` is kept (probability 1 - p), 0 where it is dropped; shaped like x, x's dtype.

    Drawn exactly as ``torch.nn.Dropout`` draws it, so that from the same
    state of the random generator both twins drop the same units:

    * on the CPU (and MPS) torch fills a tensor like x with
      ``bernoulli_(1 - p)``, and so do we;
    * on CUDA (and XPU) torch runs one fused kernel, ``native_dropout``,
      whose random numbers come in a different order; there we take the
      mask that kernel draws.
    """
    if x.device.type in FUSED_DROPOUT_DEVICES:
        _, kept = torch.native_dropout(x, p, True)
        return kept.to(x.dtype)
    return torch.empty_like(x).bernoulli_(1 - p)


class Dropout(Module):
    """Randomly zero each unit with probability p in training; the twin of ``torch.nn.Dropout``.

    Training mode, for input x of any shape::

        mask = bernoulli(1 - p)          one draw per entry: 1 (kept) or 0 (dropped)
        out  = x * mask / (1 - p)        the kept units scaled up by 1/(1 - p)

    Scaling by 1/(1 - p) keeps every unit's expected value: E[out] = x. So
    the network needs no change at evaluation, where dropout is the
    identity (out = x) and draws no random numbers. With p = 0 nothing is
    dropped and nothing is drawn, as in torch.

    The mask comes from torch's global random generator (``keep_mask``), in
    the same way as torch's own layer draws it: two forward passes that
    start from the same generator state drop the same units. The training
    loop and the gradient report start both twins from the same state.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be a number in [0, 1), the probability of dropping a unit; "
                             f"got {p!r}")
        self.p = float(p)
        # What forward leaves for backward: the mask it drew and the p it used (evaluation: all ones and 0).
        self._mask: torch.Tensor | None = None
        self._p_used = 0.0

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """out = x * mask / (1 - p) in training mode (with p > 0), else out = x. Any shape."""
        if not self.training or self.p == 0 or x.numel() == 0:
            self._mask, self._p_used = torch.ones_like(x), 0.0
            return x
        mask = keep_mask(x, self.p)
        self._mask, self._p_used = mask, self.p
        return x * (mask / (1 - self.p))       # torch divides the mask first, then multiplies x by it

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dx = dout * mask / (1 - p)

        out = x * mask / (1 - p) is, entry by entry, x times a number fixed
        by the draw: a dropped unit passes no gradient, a kept one passes
        dout scaled by the same 1/(1 - p) as its value. The mask must be
        the one the forward pass drew: a new draw would send the gradient
        through units that never took part. Evaluation mode (and p = 0):
        the forward pass used mask = 1 and p = 0, so dx = dout.
        Shapes: dout and dx like x. (The mask is divided by 1 - p first, as
        in the forward pass and in torch, so the twins agree bit for bit.)
        """
        mask, p = self._saved(self._mask), self._p_used
        if dout.shape != mask.shape:
            raise ValueError(f"{self!r}: expected dout of shape {tuple(mask.shape)}, got {tuple(dout.shape)}")
        if not input_grad:
            return None
        return dout * (mask / (1 - p))
