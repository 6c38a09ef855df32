"""Batch normalisation over the batch of (N, C) inputs, with its gradient written by hand."""

from __future__ import annotations

import math

import torch

from toolkit.manual.module import Module, accumulate_grad, check_last_dim


class BatchNorm1d(Module):
    """Normalise every feature over the batch, then scale and shift it: the twin of ``torch.nn.BatchNorm1d``.

    For each feature (column) c, over the N rows of the batch::

        mu      = (1/N) sum_i x_i                     batch mean
        var     = (1/N) sum_i (x_i - mu)^2            batch variance (biased: 1/N)
        std     = sqrt(var + eps)
        x_hat_i = (x_i - mu) / std                    mean 0, variance about 1
        y_i     = gamma * x_hat_i + beta

    x, y: (N, C) with C = num_features.

    Parameters (torch's names): ``weight`` = gamma, starting at ones, and
    ``bias`` = beta, starting at zeros, both (C,). Buffers: ``running_mean``
    (zeros) and ``running_var`` (ones), both (C,), and ``num_batches_tracked``
    (a 0-d integer count of training batches).

    Training mode normalises with the batch's own mean and variance and
    updates the running statistics, as torch does::

        running_mean = (1 - momentum) running_mean + momentum mu
        running_var  = (1 - momentum) running_var  + momentum var * N / (N - 1)

    (the running variance takes the UNBIASED batch variance; with
    ``momentum=None`` both become plain averages over all batches so far).
    Evaluation mode normalises with the running statistics instead, so each
    row's output no longer depends on the rest of the batch. Training needs
    N >= 2: the variance of a single value is 0 and tells nothing.
    """

    _param_names = ("weight", "bias")
    _buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"BatchNorm1d: num_features must be a whole number >= 1, got {num_features!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (math.isfinite(eps) and eps >= 0):
            raise ValueError(f"BatchNorm1d: eps must be a finite number >= 0, got {eps!r}")
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, (int, float))
                                     or not 0 <= momentum <= 1):
            raise ValueError(f"BatchNorm1d: momentum must be a number in [0, 1] or None, got {momentum!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.weight = torch.ones(num_features, device=device, dtype=dtype)
        self.bias = torch.zeros(num_features, device=device, dtype=dtype)
        self.running_mean = torch.zeros(num_features, device=device, dtype=dtype)
        self.running_var = torch.ones(num_features, device=device, dtype=dtype)
        self.num_batches_tracked = torch.tensor(0, dtype=torch.long, device=device)
        # What forward leaves for backward: the normalised input, the std it was divided by, and the mode.
        self._x_hat: torch.Tensor | None = None
        self._std: torch.Tensor | None = None
        self._training_pass: bool | None = None

    def __repr__(self) -> str:
        return f"BatchNorm1d({self.num_features}, eps={self.eps}, momentum={self.momentum})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y = gamma * (x - mu) / sqrt(var + eps) + beta, with the batch's or the running statistics.

        x: (N, C) -> y: (N, C)
        """
        check_last_dim(self, x, self.num_features)
        if x.dtype != self.weight.dtype or x.device != self.weight.device:
            raise ValueError(f"{self!r}: input is {x.dtype} on {x.device}, but the weight is "
                             f"{self.weight.dtype} on {self.weight.device}; convert one to match")
        n = x.shape[0]
        if self.training:
            if n < 2:
                raise ValueError(f"{self!r}: training mode needs more than 1 value per feature to take a "
                                 f"variance, got input of shape {tuple(x.shape)}")
            mean = x.mean(dim=0)                                  # (C,)
            var = ((x - mean) ** 2).mean(dim=0)                   # (C,), biased: divided by N
            self._update_running_stats(mean, var * n / (n - 1))   # the running variance is unbiased
        else:
            mean, var = self.running_mean, self.running_var
        std = torch.sqrt(var + self.eps)
        x_hat = (x - mean) / std
        self._x_hat, self._std, self._training_pass = x_hat, std, self.training
        return self.weight * x_hat + self.bias

    def _update_running_stats(self, mean: torch.Tensor, unbiased_var: torch.Tensor) -> None:
        self.num_batches_tracked = self.num_batches_tracked + 1
        # momentum=None: a cumulative average, each batch weighted 1/(number of batches so far).
        m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * mean
        self.running_var = (1 - m) * self.running_var + m * unbiased_var

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """Chain rule through batch normalisation, per feature, in its compact closed form.

        dout = dy: (N, C). Added into the parameters' .grad, returned dx: (N, C)::

            dbeta  = sum_i dy_i
            dgamma = sum_i dy_i * x_hat_i
            dx_i   = (1/N) (gamma/std) (N dy_i - sum_j dy_j - x_hat_i sum_j dy_j x_hat_j)   (training)
            dx_i   = (gamma/std) dy_i                                                     (evaluation)

        Derivation (training mode, one feature; sums over the batch j = 1..N).
        beta and gamma enter y_i = gamma x_hat_i + beta directly, which gives
        dbeta and dgamma, and dL/dx_hat_i = gamma dy_i =: g_i. Each x_i
        reaches every x_hat_j = (x_j - mu) / std three ways: directly (j = i),
        through the mean mu and through the variance var (std = sqrt(var + eps)).

        1. Through the variance: d x_hat_j / d var = -(x_j - mu) / (2 std^3), so
               dvar = sum_j g_j * (-(x_j - mu) / (2 std^3)) = -(1/(2 std^2)) sum_j g_j x_hat_j.
        2. Through the mean: d x_hat_j / d mu = -1/std; var depends on mu too,
           but d var / d mu = -(2/N) sum_j (x_j - mu) = 0, so
               dmu = -(1/std) sum_j g_j.
        3. Collect the three paths, with d mu / d x_i = 1/N and
           d var / d x_i = 2 (x_i - mu) / N = 2 std x_hat_i / N:
               dx_i = g_i / std + dvar * 2 std x_hat_i / N + dmu / N
                    = g_i / std - x_hat_i sum_j g_j x_hat_j / (N std) - sum_j g_j / (N std)
                    = (1/N) (1/std) (N g_i - sum_j g_j - x_hat_i sum_j g_j x_hat_j).
        4. gamma is the same for every row, so g = gamma dy can give it up
           front, which is the formula above.

        Two checks on the result: sum_i dx_i = 0 and sum_i x_hat_i dx_i = 0,
        because shifting or scaling a feature's whole batch does not change
        x_hat (the second holds exactly for eps = 0, when sum_i x_hat_i^2 = N).
        In evaluation mode mu and std are fixed numbers (the running
        statistics), so only the direct path is left.
        """
        x_hat, std = self._saved(self._x_hat), self._saved(self._std)
        if dout.shape != x_hat.shape:
            raise ValueError(f"{self!r}: expected dout of shape {tuple(x_hat.shape)}, got {tuple(dout.shape)}")
        if dout.dtype != x_hat.dtype or dout.device != x_hat.device:
            raise ValueError(f"{self!r}: dout is {dout.dtype} on {dout.device}, but the input was "
                             f"{x_hat.dtype} on {x_hat.device}; convert one to match")
        accumulate_grad(self.weight, (dout * x_hat).sum(dim=0))
        accumulate_grad(self.bias, dout.sum(dim=0))
        if not input_grad:
            return None
        if not self._training_pass:
            return self.weight / std * dout
        n = dout.shape[0]
        return (1 / n) * (self.weight / std) * (n * dout - dout.sum(dim=0) - x_hat * (dout * x_hat).sum(dim=0))
