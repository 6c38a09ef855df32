"""A fully connected layer, y = x W^T + b, with its gradient written by hand."""

from __future__ import annotations

import math

import torch

from toolkit.manual.module import Module, accumulate_grad, check_last_dim


class Linear(Module):
    """Affine map, the hand-written twin of ``torch.nn.Linear``.

    Parameters (the same layout as torch):
        weight: (out_features, in_features)
        bias:   (out_features,)   or None when ``bias=False``

    Initialisation is torch's: every entry is drawn from U(-k, k) with
    k = 1 / sqrt(in_features), weight first, then bias, from the global
    random generator. For the weight, torch works k out inside
    ``kaiming_uniform_(a=sqrt(5))``, which can differ from 1 / sqrt(in) in
    the last bit; we call that same function, so that a seed gives both
    twins the same numbers bit for bit.
    """

    _param_names = ("weight", "bias")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, size in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"Linear: {name} must be a whole number >= 1, got {size!r}")
        self.in_features = in_features
        self.out_features = out_features
        k = 1.0 / math.sqrt(in_features)
        self.weight = torch.empty(out_features, in_features, device=device, dtype=dtype)
        torch.nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # U(-k, k)
        self.bias = None
        if bias:
            self.bias = torch.empty(out_features, device=device, dtype=dtype).uniform_(-k, k)
        self._x: torch.Tensor | None = None

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """out = x W^T + b

        x:   (N, in_features)
        out: (N, out_features)
        """
        check_last_dim(self, x, self.in_features)
        if x.dtype != self.weight.dtype or x.device != self.weight.device:
            raise ValueError(f"{self!r}: input is {x.dtype} on {x.device}, but the weight is "
                             f"{self.weight.dtype} on {self.weight.device}; convert one to match")
        self._x = x  # backward needs the input
        out = x @ self.weight.T
        if self.bias is not None:
            out = out + self.bias
        return out

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """Chain rule through out = x W^T + b.

        dout:    (N, out_features)              dL/dout
        dweight: (out_features, in_features) = dout^T x       added into weight.grad
        dbias:   (out_features,)             = sum_n dout[n]  added into bias.grad
        dx:      (N, in_features)            = dout W          returned

        Every sample in the batch uses the same W and b, so their gradients
        are sums over the batch (the matrix product sums for W). The first
        layer of a network is called with ``input_grad=False``: nothing
        upstream of the data has parameters, so dx would be thrown away, and
        autograd does not compute it either.
        """
        x = self._saved(self._x)
        check_last_dim(self, dout, self.out_features, what="dout")
        if dout.shape[0] != x.shape[0]:
            raise ValueError(f"{self!r}: dout has {dout.shape[0]} rows, but the input had {x.shape[0]}")
        if dout.dtype != x.dtype or dout.device != x.device:
            raise ValueError(f"{self!r}: dout is {dout.dtype} on {dout.device}, but the input was "
                             f"{x.dtype} on {x.device}; convert one to match")
        accumulate_grad(self.weight, dout.T @ x)
        if self.bias is not None:
            accumulate_grad(self.bias, dout.sum(dim=0))
        if not input_grad:
            return None
        return dout @ self.weight
