"""Element-wise activations. Each backward is dout times the local slope."""

from __future__ import annotations

import torch

from toolkit.manual.module import Module


def _check_same_shape(layer: Module, dout: torch.Tensor, out: torch.Tensor) -> None:
    if dout.shape != out.shape:
        raise ValueError(f"{layer!r}: expected dout of shape {tuple(out.shape)}, got {tuple(dout.shape)}")


class ReLU(Module):
    """out = max(x, 0), element-wise. Any shape."""

    def __init__(self) -> None:
        self._out: torch.Tensor | None = None

    def __repr__(self) -> str:
        return "ReLU()"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(x)
        self._out = out
        return out

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dx = dout * [x > 0]

        The slope is 1 where the unit was active and 0 elsewhere (torch also
        takes 0 at the kink x = 0). ``out > 0`` exactly when ``x > 0``, so the
        cached output is enough. Shapes: dout and dx like x.

        How: out = max(x, 0) is never negative, so sign(out) is exactly that
        0/1 slope, as a float tensor (a NaN gives 0, as ``out > 0`` would).
        This saves the bool mask and its conversion, and the fresh sign
        tensor then takes the product in place; ``dout`` is only read.
        """
        out = self._saved(self._out)
        _check_same_shape(self, dout, out)
        if not input_grad:
            return None
        return torch.sign(out).mul_(dout)


class Tanh(Module):
    """out = tanh(x), element-wise. Any shape."""

    def __init__(self) -> None:
        self._out: torch.Tensor | None = None

    def __repr__(self) -> str:
        return "Tanh()"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.tanh(x)
        self._out = out
        return out

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dx = dout * (1 - out^2)

        tanh'(x) = 1 - tanh(x)^2: the slope comes from the OUTPUT, which the
        forward pass already computed. Shapes: dout and dx like x.
        """
        out = self._saved(self._out)
        _check_same_shape(self, dout, out)
        if not input_grad:
            return None
        slope = 1 - out * out  # a fresh tensor of our own: multiply into it in place
        return slope.mul_(dout)


class Sigmoid(Module):
    """out = 1 / (1 + exp(-x)), element-wise. Any shape."""

    def __init__(self) -> None:
        self._out: torch.Tensor | None = None

    def __repr__(self) -> str:
        return "Sigmoid()"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.sigmoid(x)
        self._out = out
        return out

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dx = dout * out * (1 - out)

        sigma'(x) = sigma(x) (1 - sigma(x)), again from the output alone.
        Shapes: dout and dx like x.
        """
        out = self._saved(self._out)
        _check_same_shape(self, dout, out)
        if not input_grad:
            return None
        # (1 - out) is a fresh tensor of our own, so both products go into it
        # in place: (dout * (1 - out)) * out, autograd's order of operations.
        return (1 - out).mul_(dout).mul_(out)
