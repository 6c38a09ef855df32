"""Our optimisers, written out by hand: SGD, Adagrad, RMSprop, Adam and AdamW, and gradient clipping.

Each takes the same options as its torch.optim namesake, with the same
meaning, and computes the same quantities in the same order as torch's
single-tensor code (written as plain products where torch fuses them into
lerp_ or addcmul_), so ours and torch's produce the same numbers: SGD bit
for bit, the others to float64 rounding. g is a parameter's gradient, theta
the parameter, t the number of steps that parameter has taken (from 1).

SGD. One step moves every parameter a little against its gradient:

    theta <- theta - lr * g

with options:

    g  = grad + weight_decay * theta              (L2 penalty folded into g)
    b  = g                          on the first step (momentum buffer)
    b  = momentum * b + (1 - dampening) * g       afterwards
    g  = g + momentum * b   if nesterov,  else  g = b
    theta <- theta - lr * g

Adagrad. Every parameter gets its own step size: lr divided by the root of
the SUM of all its squared gradients so far (s = initial_accumulator_value
at the start). A parameter with large gradients takes small steps, and
every step is smaller than the one before for the same gradient:

    g  = grad + weight_decay * theta
    s  = s + g**2
    lr_t = lr / (1 + (t - 1) * lr_decay)
    theta <- theta - lr_t * g / (sqrt(s) + eps)

RMSprop. Adagrad's sum only grows, so its steps die out. RMSprop replaces it
by a running mean of the squared gradients (v = 0 at the start):

    g  = grad + weight_decay * theta
    v  = alpha * v + (1 - alpha) * g**2
    d  = sqrt(v) + eps
         or, if centered:  gbar = alpha * gbar + (1 - alpha) * g    (gbar = 0 at the start)
                           d = sqrt(v - gbar**2) + eps
    theta <- theta - lr * g / d
         or, if momentum:  b = momentum * b + g / d                 (b = 0 at the start)
                           theta <- theta - lr * b

Adam. A running mean of the gradients (m) over the root of a running mean of
their squares (v), both corrected for starting at zero (m = v = 0 at the start):

    g  = grad + weight_decay * theta              (L2 folded into g)
    m  = beta1 * m + (1 - beta1) * g
    v  = beta2 * v + (1 - beta2) * g**2
    v_max = max(v_max, v)   if amsgrad (v_max = 0 at the start); v_max then takes v's place below
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

    computed, as torch does, as  lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

AdamW. Adam with the decay taken out of the gradient ("decoupled"): theta
shrinks by the same factor whatever its gradients, before Adam's step, and
g = grad:

    theta <- theta * (1 - lr * weight_decay)
    theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)

In Adam the decay term weight_decay * theta passes through the division by
sqrt(v_hat), so it is weakest where the gradients are large; in AdamW every
parameter shrinks by the same factor.

clip_grad_norm_. Before a step, the gradients of all parameters together,
as one long vector, are shrunk to a length of at most max_norm:

    total = ||(g_1, g_2, ...)||_p          (p = norm_type: 2, 1, inf, ...)
    c     = min(max_norm / (total + 1e-6), 1)
    g_i  <- c * g_i                           for every parameter i
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


def _check_number(optimizer: str, name: str, value, *, below: float | None = None) -> None:
    """ValueError unless ``value`` is a finite number >= 0 (and < ``below``, if given)."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
          and (below is None or value < below))
    if not ok:
        limit = f" and < {below:g}" if below is not None else ""
        raise ValueError(f"{optimizer}: {name} must be a finite number >= 0{limit}, got {value!r}")


class Adagrad(torch.optim.Optimizer):
    """Adagrad: each parameter's step divided by the root of the sum of its squared gradients.

    The options are torch.optim.Adagrad's (see the module docstring for the
    update). The state per parameter uses torch's names: ``step`` (t) and
    ``sum`` (s).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
    ) -> None:
        for name, value in (("lr", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value), ("eps", eps)):
            _check_number("Adagrad", name, value)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = group["lr"]
            lr_decay = group["lr_decay"]
            weight_decay = group["weight_decay"]
            eps = group["eps"]
            for param in group["params"]:
                g = param.grad
                if g is None:
                    continue  # no gradient, no step (as torch does)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["sum"] = torch.full_like(param, group["initial_accumulator_value"])
                state["step"] += 1
                t = state["step"]

                if weight_decay != 0:
                    g = g + weight_decay * param
                s = state["sum"] + g * g
                state["sum"] = s
                lr_t = lr / (1 + (t - 1) * lr_decay)
                param.sub_(lr_t * (g / (s.sqrt() + eps)))
        return loss


class RMSprop(torch.optim.Optimizer):
    """RMSprop: each parameter's step divided by the root of its mean squared gradient.

    The options are torch.optim.RMSprop's (see the module docstring for the
    update). The state per parameter uses torch's names: ``step``,
    ``square_avg`` (v), ``momentum_buffer`` (b) and ``grad_avg`` (gbar).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
    ) -> None:
        for name, value in (("lr", lr), ("alpha", alpha), ("eps", eps), ("weight_decay", weight_decay),
                            ("momentum", momentum)):
            _check_number("RMSprop", name, value)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = group["lr"]
            alpha = group["alpha"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            momentum = group["momentum"]
            centered = group["centered"]
            for param in group["params"]:
                g = param.grad
                if g is None:
                    continue  # no gradient, no step (as torch does)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = torch.zeros_like(param)
                    if momentum > 0:
                        state["momentum_buffer"] = torch.zeros_like(param)
                    if centered:
                        state["grad_avg"] = torch.zeros_like(param)
                state["step"] += 1

                if weight_decay != 0:
                    g = g + weight_decay * param
                v = alpha * state["square_avg"] + (1 - alpha) * g * g
                state["square_avg"] = v
                if centered:
                    gbar = alpha * state["grad_avg"] + (1 - alpha) * g
                    state["grad_avg"] = gbar
                    d = (v - gbar * gbar).sqrt() + eps
                else:
                    d = v.sqrt() + eps
                if momentum > 0:
                    b = momentum * state["momentum_buffer"] + g / d
                    state["momentum_buffer"] = b
                    param.sub_(lr * b)
                else:
                    param.sub_(lr * (g / d))
        return loss


class Adam(torch.optim.Optimizer):
    """Adam: a running mean of the gradients over the root of a running mean of their squares.

    The options are torch.optim.Adam's (see the module docstring for the
    update); ``weight_decay`` is an L2 penalty folded into the gradient, as
    in torch's Adam (AdamW below decouples it). The state per parameter uses
    torch's names: ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v) and,
    with amsgrad, ``max_exp_avg_sq`` (v_max).
    """

    decoupled_weight_decay = False     # AdamW: True

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
    ) -> None:
        name = type(self).__name__
        _check_number(name, "lr", lr)
        _check_number(name, "eps", eps)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        _check_number(name, "betas[0]", betas[0], below=1)
        _check_number(name, "betas[1]", betas[1], below=1)
        _check_number(name, "weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            for param in group["params"]:
                g = param.grad
                if g is None:
                    continue  # no gradient, no step (as torch does)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                    if amsgrad:
                        state["max_exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                t = state["step"]

                if weight_decay != 0:
                    if self.decoupled_weight_decay:
                        param.mul_(1 - lr * weight_decay)      # AdamW: shrink theta itself
                    else:
                        g = g + weight_decay * param           # Adam: L2 folded into the gradient
                m = beta1 * state["exp_avg"] + (1 - beta1) * g
                v = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
                state["exp_avg"], state["exp_avg_sq"] = m, v
                if amsgrad:
                    v = torch.maximum(state["max_exp_avg_sq"], v)
                    state["max_exp_avg_sq"] = v

                step_size = lr / (1 - beta1 ** t)                    # lr * (bias correction of m)
                d = v.sqrt() / math.sqrt(1 - beta2 ** t) + eps       # sqrt(v_hat) + eps
                param.sub_(step_size * (m / d))
        return loss


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (torch.optim.AdamW's options and defaults).

    theta shrinks by (1 - lr * weight_decay) before Adam's step, and the
    gradient that Adam averages carries no decay term.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


@torch.no_grad()
def clip_grad_norm_(parameters: Iterable[torch.Tensor] | torch.Tensor, max_norm: float,
                    norm_type: float = 2.0) -> torch.Tensor:
    """Shrink the gradients, all together, to a total norm of at most ``max_norm``; returns the total norm.

    The total norm treats every gradient entry of every parameter as one
    long vector. It is the p-norm of the parameters' own p-norms,

        total = ||(||g_1||_p, ||g_2||_p, ...)||_p = (sum_i sum_j |g_ij|^p)^(1/p),
        inf:    total = max_ij |g_ij|,

    and every gradient is multiplied by the same factor

        c = min(max_norm / (total + 1e-6), 1),

    so the direction of the whole step is kept and only its length is
    capped; a total below max_norm is left as it is (c is never above 1).
    Parameters without a gradient are skipped. Returns ``total``, the norm
    BEFORE clipping, as a 0-d tensor (0.0 when no parameter has a gradient).
    The same computation as ``torch.nn.utils.clip_grad_norm_``, in the same
    order, so the two give the same numbers.
    """
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = grad_norm(grads, norm_type)
    c = torch.clamp(max_norm / (total + 1e-6), max=1.0)                     # never scales up
    for g in grads:
        g.mul_(c.to(g.device))
    return total


def grad_norm(grads: Iterable[torch.Tensor], norm_type: float = 2.0) -> torch.Tensor:
    """The p-norm of all the tensors in ``grads`` together, as one vector: the norm of their norms.

    A 0-d tensor, on the first tensor's device; 0.0 for no tensors. (``clip_grad_norm_`` measures with it.)
    """
    norms = [torch.linalg.vector_norm(g, norm_type) for g in grads]        # one norm per tensor
    if not norms:
        return torch.tensor(0.0)
    return torch.linalg.vector_norm(torch.stack([n.to(norms[0].device) for n in norms]), norm_type)
