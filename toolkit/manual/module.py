"""The little that every hand-written layer has in common."""

from __future__ import annotations

from collections.abc import Iterator

import torch


class Module:
    """Base class of the hand-written layers.

    A layer stores its parameters as plain tensor attributes and lists their
    names in ``_param_names``, so ``named_parameters`` can find them in the
    same order as ``torch.nn`` does (weight before bias).
    """

    _param_names: tuple[str, ...] = ()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        raise NotImplementedError

    def named_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name in self._param_names:
            param = getattr(self, name)
            if param is not None:
                yield name, param

    def parameters(self) -> Iterator[torch.Tensor]:
        for _, param in self.named_parameters():
            yield param

    def zero_grad(self) -> None:
        """Forget the accumulated gradients, as torch does by default (``set_to_none``)."""
        for param in self.parameters():
            param.grad = None

    def _saved(self, value: torch.Tensor | None) -> torch.Tensor:
        # backward needs what forward cached; calling it first is a usage error.
        if value is None:
            raise RuntimeError(f"{self!r}: call forward before backward")
        return value


def accumulate_grad(param: torch.Tensor, grad: torch.Tensor) -> None:
    """Add ``grad`` into ``param.grad``, exactly as autograd does.

    The first backward after ``zero_grad`` stores the gradient; every later
    one adds to it. That is why a training loop must zero the gradients
    before each step.
    """
    if param.grad is None:
        param.grad = grad
    else:
        param.grad.add_(grad)


def check_last_dim(layer: object, x: torch.Tensor, size: int, what: str = "input") -> None:
    """Raise a ValueError naming the layer, the expected and the given shape."""
    if x.dim() != 2 or x.shape[1] != size:
        raise ValueError(
            f"{layer!r}: expected {what} of shape (N, {size}), got {tuple(x.shape)}"
        )
