"""The little that every hand-written layer has in common."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch


class Module:
    """Base class of the hand-written layers, shaped like ``torch.nn.Module``.

    A layer keeps its tensors as plain attributes and lists their names:

    * ``_param_names``: the parameters, trained by the optimiser, each with
      its own ``.grad`` (for example ``("weight", "bias")``);
    * ``_buffer_names``: state that is not trained, such as a running mean.

    The order of each list is torch's, so ``named_parameters()`` and
    ``named_buffers()`` give the same names in the same order as the
    ``torch.nn`` twin. ``training`` says whether the layer is in training
    mode (``train()``) or evaluation mode (``eval()``); only layers whose
    forward pass depends on the batch, such as batch norm, look at it.
    """

    _param_names: tuple[str, ...] = ()
    _buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.training = True

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        raise NotImplementedError

    # ---------------------------------------------------------------- tensors by name

    def named_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name in self._param_names:
            param = getattr(self, name)
            if param is not None:
                yield name, param

    def parameters(self) -> Iterator[torch.Tensor]:
        for _, param in self.named_parameters():
            yield param

    def named_buffers(self) -> Iterator[tuple[str, torch.Tensor]]:
        for name in self._buffer_names:
            buffer = getattr(self, name)
            if buffer is not None:
                yield name, buffer

    def buffers(self) -> Iterator[torch.Tensor]:
        for _, buffer in self.named_buffers():
            yield buffer

    def modules(self) -> Iterator[Module]:
        """This layer and every layer inside it (just itself, for a plain layer)."""
        yield self

    def zero_grad(self) -> None:
        """Forget the accumulated gradients, as torch does by default (``set_to_none``)."""
        for param in self.parameters():
            param.grad = None

    # ---------------------------------------------------------------- modes

    def train(self, mode: bool = True) -> Module:
        """Switch to training mode (or, with ``mode=False``, evaluation mode); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode; returns self. The same as ``train(False)``."""
        return self.train(False)

    # ---------------------------------------------------------------- device and dtype

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Module:
        """Move every parameter and buffer to ``device`` and, if floating point, ``dtype``; returns self.

        Like ``torch.nn.Module.to``: integer buffers (a step counter, say)
        keep their dtype, and the layer object itself stays the same.
        """
        def move(tensor: torch.Tensor) -> torch.Tensor:
            return tensor.to(device=device, dtype=dtype if tensor.is_floating_point() else None)

        return self._apply(move)

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Module:
        # Replace each tensor attribute by fn(tensor); a container applies it to its layers.
        for name in self._param_names + self._buffer_names:
            tensor = getattr(self, name)
            if tensor is not None:
                setattr(self, name, fn(tensor))
        return self

    def _saved(self, value: torch.Tensor | None) -> torch.Tensor:
        # backward needs what forward cached; calling it first is a usage error.
        if value is None:
            raise RuntimeError(f"{self!r}: call forward before backward")
        return value


def accumulate_grad(param: torch.Tensor, grad: torch.Tensor) -> None:
    """param.grad += grad, exactly as autograd does.

    The first backward after ``zero_grad`` stores the gradient; every later
    one adds to it. That is why a training loop must zero the gradients
    before each step. A gradient has its parameter's shape; any other is
    refused (``GradientShapeError``).
    """
    if grad.shape != param.shape:
        raise GradientShapeError("a gradient added into .grad", tuple(grad.shape), tuple(param.shape))
    if param.grad is None:
        param.grad = grad
    else:
        param.grad += grad


def grads_ready(module: Module) -> None:
    """Give every parameter of ``module`` that has no ``.grad`` yet a zero one, before a backward pass.

    Autograd gives a gradient to every parameter that took part in the
    forward pass. Starting from zeros, ``param.grad += g`` works as well as
    ``accumulate_grad(param, g)``, and both leave exactly g.
    """
    for param in module.parameters():
        if param.grad is None:
            param.grad = torch.zeros_like(param)


class GradientShapeError(RuntimeError):
    """A backward that handed on a gradient whose shape is not the shape of what it is the gradient of.

    ``backward``: the function that made it (to find the code to fix);
    ``got``: its shape, or None when it returned no tensor at all.
    """

    def __init__(self, what: str, got: tuple[int, ...] | None, expected: tuple[int, ...], backward=None) -> None:
        self.what, self.got, self.expected, self.backward = what, got, expected, backward
        given = "nothing (None)" if got is None else f"a gradient of shape {got}"
        super().__init__(f"{what}: {given}, where one of shape {expected} belongs")


def handed_on(grad, shape: torch.Size, what: str, backward=None) -> torch.Tensor:
    """``grad``, once checked to have ``shape`` (that of what it is the gradient of): a wrong one is named
    where it was made, not where it no longer fits."""
    if not isinstance(grad, torch.Tensor) or grad.shape != shape:
        got = tuple(grad.shape) if isinstance(grad, torch.Tensor) else None
        raise GradientShapeError(what, got, tuple(shape), backward)
    return grad


def check_last_dim(layer: object, x: torch.Tensor, size: int, what: str = "input") -> None:
    """Raise a ValueError naming the layer, the expected and the given shape."""
    if x.dim() != 2 or x.shape[1] != size:
        raise ValueError(
            f"{layer!r}: expected {what} of shape (N, {size}), got {tuple(x.shape)}"
        )
