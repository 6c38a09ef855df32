"""Stochastic gradient descent, written out by hand.

One step moves every parameter a little against its gradient:

    theta <- theta - lr * g

The options are torch.optim.SGD's, with the same meaning and the same order
of operations, so our SGD and torch's produce the same numbers:

    g  = grad + weight_decay * theta              (L2 penalty folded into g)
    b  = g                          on the first step (momentum buffer)
    b  = momentum * b + (1 - dampening) * g       afterwards
    g  = g + momentum * b   if nesterov,  else  g = b
    theta <- theta - lr * g
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class SGD(torch.optim.Optimizer):
    """SGD with optional momentum, dampening, weight decay and Nesterov.

    Works on any tensors with a ``.grad``: the hand-written network's plain
    tensors and torch.nn's parameters alike.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr < 0:
            raise ValueError(f"SGD: lr must be a finite number >= 0, got {lr!r}")
        if not math.isfinite(momentum) or momentum < 0:
            raise ValueError(f"SGD: momentum must be a finite number >= 0, got {momentum!r}")
        if not math.isfinite(weight_decay) or weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be a finite number >= 0, got {weight_decay!r}")
        if not math.isfinite(dampening):
            raise ValueError(f"SGD: dampening must be a finite number, got {dampening!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient.

        Plain SGD (no momentum, no weight decay) is one in-place update per
        parameter, theta.add_(g, alpha=-lr): no temporaries, and nothing
        but a few dictionary reads in Python around it.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = group["lr"]
            momentum = group["momentum"]
            dampening = group["dampening"]
            weight_decay = group["weight_decay"]
            nesterov = group["nesterov"]
            for param in group["params"]:
                g = param.grad
                if g is None:
                    continue  # no gradient, no step (as torch does)
                if weight_decay != 0:
                    g = g.add(param, alpha=weight_decay)
                if momentum != 0:
                    state = self.state[param]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        # The first step starts the velocity at the gradient itself.
                        buf = g.clone()
                        state["momentum_buffer"] = buf
                    else:
                        buf.mul_(momentum).add_(g, alpha=1 - dampening)
                    g = g.add(buf, alpha=momentum) if nesterov else buf
                param.add_(g, alpha=-lr)
        return loss
