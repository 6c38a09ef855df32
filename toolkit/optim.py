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

Two options of torch's own optimisers work in SGD, Adagrad, RMSprop, Adam and
AdamW as in torch's: ``maximize=True`` climbs instead (g = -grad, first of
all), and ``lr`` may be a one-element tensor (a scheduler then changes it in
place); they share ``HandWritten``, where a new optimiser of the kind gets
them too. The step count t is a plain Python number; a state loaded from a
torch optimiser, which keeps it as a float32 tensor, goes on counting in
Python numbers, so that Adam's bias corrections 1 - beta**t and Adagrad's
lr_t are computed in float64 as torch computes them. Their parameters must be
real floating-point tensors (SGD also takes complex ones, which it treats as
torch does); anything else is refused in one line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def _check_number(optimizer: str, name: str, value, *, below: float | None = None) -> None:
    """ValueError unless ``value`` is a finite number >= 0 (and < ``below``, if given)."""
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
          and (below is None or value < below))
    if not ok:
        limit = f" and < {below:g}" if below is not None else ""
        raise ValueError(f"{optimizer}: {name} must be a finite number >= 0{limit}, got {value!r}")


def _check_lr(optimizer: str, lr) -> None:
    """ValueError unless ``lr`` is a finite number >= 0, or a one-element floating-point tensor holding one."""
    if isinstance(lr, torch.Tensor):
        if lr.numel() != 1 or not lr.is_floating_point():
            raise ValueError(f"{optimizer}: a tensor lr must hold one floating-point number, "
                             f"got shape {tuple(lr.shape)} of {lr.dtype}")
        lr = lr.item()
    _check_number(optimizer, "lr", lr)


def _scalar(value):
    """A hyperparameter as the step uses it: a number as it is, a one-element tensor as a 0-d tensor (torch's
    ``_to_scalar``), so that the step reads the value a scheduler last put into it."""
    return value.reshape(()) if isinstance(value, torch.Tensor) else value


class HandWritten(torch.optim.Optimizer):
    """What our optimisers share around their step: the parameters they take, and torch's ``maximize``.

    Parameters must be real floating-point tensors; an optimiser whose
    update handles complex numbers as torch does sets
    ``complex_parameters = True``. Anything else is refused in one line
    when the parameters are given, instead of drifting from torch later.
    """

    complex_parameters = False

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        name = type(self).__name__
        for param in self.param_groups[-1]["params"]:
            if param.is_complex() and not self.complex_parameters:
                raise ValueError(f"{name}: complex parameters are not supported (got {param.dtype}); "
                                 "use real parameters, e.g. torch.view_as_real(param)")
            if not (param.is_floating_point() or param.is_complex()):
                raise ValueError(f"{name}: parameters must be floating-point tensors, got {param.dtype}")

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:      # a state saved before maximize existed
            group.setdefault("maximize", False)


class SGD(HandWritten):
    """SGD with optional momentum, dampening, weight decay and Nesterov.

    Works on any tensors with a ``.grad``: the hand-written network's plain
    tensors and torch.nn's parameters alike (complex ones too, as in torch).
    """

    complex_parameters = True

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        _check_lr("SGD", lr)
        if not math.isfinite(momentum) or momentum < 0:
            raise ValueError(f"SGD: momentum must be a finite number >= 0, got {momentum!r}")
        if not math.isfinite(weight_decay) or weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be a finite number >= 0, got {weight_decay!r}")
        if not math.isfinite(dampening):
            raise ValueError(f"SGD: dampening must be a finite number, got {dampening!r}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
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
            lr = _scalar(group["lr"])
            momentum = group["momentum"]
            dampening = group["dampening"]
            weight_decay = group["weight_decay"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            for param in group["params"]:
                if param.grad is None:
                    continue  # no gradient, no step (as torch does)
                g = param.grad if not maximize else -param.grad
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


class Adagrad(HandWritten):
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
        *,
        maximize: bool = False,
    ) -> None:
        _check_lr("Adagrad", lr)
        for name, value in (("lr_decay", lr_decay), ("weight_decay", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value), ("eps", eps)):
            _check_number("Adagrad", name, value)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = _scalar(group["lr"])
            lr_decay = group["lr_decay"]
            weight_decay = group["weight_decay"]
            eps = group["eps"]
            maximize = group["maximize"]
            for param in group["params"]:
                if param.grad is None:
                    continue  # no gradient, no step (as torch does)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["sum"] = torch.full_like(param, group["initial_accumulator_value"])
                state["step"] = int(state["step"]) + 1      # a plain number, even if torch's state_dict held a tensor
                t = state["step"]

                g = param.grad if not maximize else -param.grad
                if weight_decay != 0:
                    g = g + weight_decay * param
                s = state["sum"] + g * g
                state["sum"] = s
                lr_t = lr / (1 + (t - 1) * lr_decay)
                param.sub_(lr_t * (g / (s.sqrt() + eps)))
        return loss


class RMSprop(HandWritten):
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
        *,
        maximize: bool = False,
    ) -> None:
        _check_lr("RMSprop", lr)
        for name, value in (("alpha", alpha), ("eps", eps), ("weight_decay", weight_decay), ("momentum", momentum)):
            _check_number("RMSprop", name, value)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = _scalar(group["lr"])
            alpha = group["alpha"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            momentum = group["momentum"]
            centered = group["centered"]
            maximize = group["maximize"]
            for param in group["params"]:
                if param.grad is None:
                    continue  # no gradient, no step (as torch does)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = torch.zeros_like(param)
                    if momentum > 0:
                        state["momentum_buffer"] = torch.zeros_like(param)
                    if centered:
                        state["grad_avg"] = torch.zeros_like(param)
                state["step"] = int(state["step"]) + 1      # a plain number, even if torch's state_dict held a tensor

                g = param.grad if not maximize else -param.grad
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


class Adam(HandWritten):
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
        *,
        maximize: bool = False,
    ) -> None:
        name = type(self).__name__
        _check_lr(name, lr)
        _check_number(name, "eps", eps)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        _check_number(name, "betas[0]", betas[0], below=1)
        _check_number(name, "betas[1]", betas[1], below=1)
        _check_number(name, "weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """Take one step for every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = _scalar(group["lr"])
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            for param in group["params"]:
                if param.grad is None:
                    continue  # no gradient, no step (as torch does)
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                    if amsgrad:
                        state["max_exp_avg_sq"] = torch.zeros_like(param)
                state["step"] = int(state["step"]) + 1      # a plain number, even if torch's state_dict held a tensor
                t = state["step"]

                g = param.grad if not maximize else -param.grad
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
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)


class LBFGS(torch.optim.Optimizer):
    """L-BFGS: a quasi-Newton step from the last few steps and gradient changes (torch.optim.LBFGS's algorithm).

    Newton's step is d = −H⁻¹ g. L-BFGS never forms H. It remembers the last
    ``history_size`` pairs

        s_i = θ_{i+1} − θ_i           (a step taken)
        y_i = g_{i+1} − g_i           (how the gradient changed over it)

    and, since H s ≈ y along each of them, builds from these pairs alone the
    product of an inverse-Hessian estimate with −g, by the two-loop recursion
    (Nocedal & Wright, Numerical Optimization, algorithm 7.4), ρ_i = 1 / (y_iᵀ s_i):

        q = −g
        for i = newest .. oldest:   α_i = ρ_i · s_iᵀ q          q = q − α_i · y_i
        r = γ · q                    γ = s_newᵀ y_new / y_newᵀ y_new   (H ≈ I/γ to start from)
        for i = oldest .. newest:   β_i = ρ_i · y_iᵀ r          r = r + (α_i − β_i) · s_i
        d = r

    It costs 4·m·P multiply-adds and 2·m·P numbers of memory for m pairs of
    P parameters, instead of Newton's P² numbers and P³ operations. A pair
    is kept only if y_iᵀ s_i > 1e-10 (the curvature along s_i is positive),
    which keeps the estimate positive definite, so d points downhill.

    One ``step(closure)`` runs up to ``max_iter`` iterations: each finds d,
    moves θ ← θ + t·d and calls ``closure`` again for the loss and gradient
    there (not after the last iteration). The step length t is ``lr``, except
    on the very first iteration, when no curvature is known yet and
    t = min(1, 1/‖g‖₁)·lr. It stops early when

        max |g| ≤ tolerance_grad                   (a stationary point)
        gᵀd > −tolerance_change                    (d no longer points downhill)
        max |t·d| ≤ tolerance_change               (the step is negligible)
        |loss − previous loss| < tolerance_change  (the loss no longer moves)
        the closure was called max_eval times      (default max_iter·5//4)

    ``step`` returns the loss of the closure's first call. The state, kept
    under the first parameter with torch's names, counts ``n_iter``
    (iterations over all steps) and ``func_evals`` (closure calls), and keeps
    the pairs (``old_stps``: the s_i, ``old_dirs``: the y_i, ``ro``: the ρ_i),
    ``H_diag`` (γ), the last direction ``d`` and step length ``t``, and the
    previous gradient and loss. A second ``step`` goes on from there.

    The sums q − α_i·y_i and r + (α_i − β_i)·s_i are computed as torch
    computes them, in one operation, ``q.add(y_i, alpha=-α_i)``, whose rounding
    can differ from a product followed by a sum; every other quantity is
    computed in torch's order too, so this optimiser and torch's take the
    same steps bit for bit.
    (That matters here more than elsewhere: at lr = 1 on a network, a
    rounding difference in one iteration can grow from step to step.)

    ``line_search_fn``: torch's "strong_wolfe" search is not written here and
    is refused (lesson 18 writes a backtracking search by hand and explains
    why); use torch.optim.LBFGS for it. Like torch's, this optimiser takes
    one parameter group.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if line_search_fn is not None:
            raise ValueError(f"LBFGS: line_search_fn={line_search_fn!r} is not supported here; it must be None "
                             "(a fixed step t = lr). The strong Wolfe search is not written by hand in this "
                             "toolkit: use torch.optim.LBFGS(..., line_search_fn='strong_wolfe') for it")
        _check_number("LBFGS", "lr", lr)
        _check_number("LBFGS", "tolerance_grad", tolerance_grad)
        _check_number("LBFGS", "tolerance_change", tolerance_change)
        if max_eval is None:
            max_eval = max_iter * 5 // 4 if _is_count(max_iter) else max_iter
        for name, value in (("max_iter", max_iter), ("max_eval", max_eval), ("history_size", history_size)):
            if not _is_count(value):
                raise ValueError(f"LBFGS: {name} must be a whole number >= 1, got {value!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=None)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: takes one parameter group (as torch.optim.LBFGS), "
                             f"got {len(self.param_groups)}")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self) -> torch.Tensor:
        """Every parameter's gradient in one (P,) vector (zeros where a parameter has none)."""
        return torch.cat([torch.zeros(p.numel(), dtype=p.dtype, device=p.device) if p.grad is None
                          else p.grad.reshape(-1) for p in self._params])

    def _move(self, t, d: torch.Tensor) -> None:
        """θ ← θ + t·d, d being one (P,) vector cut into the parameters' shapes."""
        offset = 0
        for p in self._params:
            p.add_(d[offset:offset + p.numel()].view_as(p), alpha=t)
            offset += p.numel()

    @torch.no_grad()
    def step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` recomputes the loss and gradients and returns the loss."""
        closure = torch.enable_grad()(closure)
        group = self.param_groups[0]
        lr = group["lr"]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if g.abs().max() <= tolerance_grad:
            return first_loss                    # already stationary: no step at all

        d, t = state.get("d"), state.get("t")
        steps, grad_changes, rho = state.get("old_stps"), state.get("old_dirs"), state.get("ro")
        gamma = state.get("H_diag")
        previous_g, previous_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        stationary = False

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # The direction: steepest descent the very first time, then the two-loop recursion.
            if state["n_iter"] == 1:
                d = -g
                steps, grad_changes, rho = [], [], []
                gamma = 1
            else:
                y = g - previous_g                  # y = g_new − g_old
                s = t * d                           # s = θ_new − θ_old, the last move
                ys = y.dot(s)                       # yᵀs: the curvature along s, times |s|²
                if ys > 1e-10:
                    if len(steps) == history_size:  # forget the oldest pair
                        steps.pop(0)
                        grad_changes.pop(0)
                        rho.pop(0)
                    steps.append(s)
                    grad_changes.append(y)
                    rho.append(1.0 / ys)
                    gamma = ys / y.dot(y)           # γ = sᵀy / yᵀy: H ≈ I/γ along the newest pair
                d = self._two_loop(g, steps, grad_changes, rho, gamma)

            previous_g = g.clone()
            previous_loss = loss

            # The step length: lr, but the first step is scaled down to at most lr·(1/‖g‖₁).
            t = min(1.0, 1.0 / g.abs().sum()) * lr if state["n_iter"] == 1 else lr
            slope = g.dot(d)                        # gᵀd, the loss's slope along d
            if slope > -tolerance_change:
                break                               # d does not go downhill (any more)

            self._move(t, d)
            new_evals = 0
            if n_iter != max_iter:                  # after the last iteration the next step() evaluates
                loss = float(closure())
                g = self._flat_grad()
                stationary = bool(g.abs().max() <= tolerance_grad)
                new_evals = 1
            evals += new_evals
            state["func_evals"] += new_evals

            if n_iter == max_iter or evals >= max_eval or stationary:
                break
            if (t * d).abs().max() <= tolerance_change:
                break                               # the step was negligible
            if abs(loss - previous_loss) < tolerance_change:
                break                               # the loss no longer changes

        state.update(d=d, t=t, old_stps=steps, old_dirs=grad_changes, ro=rho, H_diag=gamma,
                     prev_flat_grad=previous_g, prev_loss=previous_loss)
        return first_loss

    @staticmethod
    def _two_loop(g, steps, grad_changes, rho, gamma):
        """d = −H̃ g from the pairs (s_i, y_i), ρ_i = 1/(y_iᵀ s_i), and γ, as in the class docstring."""
        alpha = [None] * len(steps)
        q = -g
        for i in reversed(range(len(steps))):
            alpha[i] = rho[i] * steps[i].dot(q)
            q = q.add(grad_changes[i], alpha=-alpha[i])       # q = q − α_i·y_i
        r = gamma * q
        for i in range(len(steps)):
            beta = rho[i] * grad_changes[i].dot(r)
            r = r.add(steps[i], alpha=alpha[i] - beta)         # r = r + (α_i − β_i)·s_i
        return r


class LineSearchGD(torch.optim.Optimizer):
    """Gradient descent whose step length a line search picks at every step (torch has no namesake).

        d = −g,   t = search(loss_at, θ, L(θ), g, d, t=lr)[0],   θ ← θ + t·d

    ``search`` is lesson 18's ``backtracking``: it returns (t, tried), every (t, L(θ + t·d)) it tried.
    ``step(closure)`` records in ``evaluations`` what each step cost: its gradient and one loss per
    step length tried.
    """

    def __init__(self, params, lr: float = 4.0, *, search):
        super().__init__(params, dict(lr=lr))
        self.search, self.evaluations = search, []

    @torch.no_grad()
    def step(self, closure):
        closure = torch.enable_grad()(closure)        # the closure runs a backward pass
        params = self.param_groups[0]["params"]
        loss = float(closure())
        theta = torch.cat([p.reshape(-1) for p in params])
        g = torch.cat([p.grad.reshape(-1) for p in params])

        def loss_at(point):
            for p, piece in zip(params, point.split([p.numel() for p in params])):
                p.copy_(piece.view_as(p))
            return float(closure())

        t, tried = self.search(loss_at, theta, loss, g, -g, t=self.param_groups[0]["lr"])
        loss_at(theta - t * g)
        self.evaluations.append(1 + len(tried))


def _is_count(value) -> bool:
    """A whole number >= 1 (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


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
