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
        super().__init__()
        self._x: torch.Tensor | None = None

    def __repr__(self) -> str:
        return "ReLU()"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._x = x
        return torch.relu(x)

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """dx = dout * [x > 0]

        The slope is 1 where the unit was active and 0 elsewhere; at the
        kink x = 0 torch takes 0, and so does ``x > 0``.
        Shapes: dout and dx like x.
        """
        x = self._saved(self._x)
        _check_same_shape(self, dout, x)
        if not input_grad:
            return None
        return dout * (x > 0)


class Tanh(Module):
    """out = tanh(x), element-wise. Any shape."""

    def __init__(self) -> None:
        super().__init__()
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
        return dout * (1 - out**2)


class Sigmoid(Module):
    """out = 1 / (1 + exp(-x)), element-wise. Any shape."""

    def __init__(self) -> None:
        super().__init__()
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
        return dout * out * (1 - out)
