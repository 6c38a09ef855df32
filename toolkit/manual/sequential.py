"""A chain of layers: forward runs them in order, backward in reverse."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from toolkit.manual.module import Module, grads_ready, handed_on


class Sequential(Module):
    """The hand-written twin of ``torch.nn.Sequential``.

    Parameter names are ``"<index>.<name>"`` ("0.weight", "0.bias",
    "2.weight", ...), exactly the names torch gives, so the two networks'
    parameters can be matched by name.
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        self.layers = list(layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._shapes = [x.shape]      # every layer's input, then the output: the shapes backward hands on
        for layer in self.layers:
            x = layer(x)
            self._shapes.append(x.shape)
        return x

    def backward(self, dout: torch.Tensor, input_grad: bool = True) -> torch.Tensor | None:
        """Backpropagation: the chain rule applied one layer at a time.

        Each layer turns dL/d(its output) into dL/d(its input), which is
        dL/d(output) of the layer before it. Only the first layer's input
        gradient, dL/dx, leaves the network. With ``input_grad=False`` that
        layer skips it (the data needs no gradient; a Linear first layer
        saves one of its two matrix products) and None is returned; every
        parameter gradient is the same either way.
        """
        if not self.layers:
            return dout  # an empty network is the identity
        grads_ready(self)         # every parameter gets a gradient, as under autograd
        shapes = self._saved(getattr(self, "_shapes", None))
        dout = handed_on(dout, shapes[-1], "the gradient arriving at the network's output")
        for index in reversed(range(1, len(self.layers))):
            layer = self.layers[index]
            dout = handed_on(layer.backward(dout), shapes[index], f"the backward of layer {index} "
                             f"({type(layer).__name__})", type(layer).backward)
        return self.layers[0].backward(dout, input_grad=input_grad)

    def named_parameters(self) -> Iterator[tuple[str, torch.Tensor]]:
        for index, layer in enumerate(self.layers):
            for name, param in layer.named_parameters():
                yield f"{index}.{name}", param

    def named_buffers(self) -> Iterator[tuple[str, torch.Tensor]]:
        for index, layer in enumerate(self.layers):
            for name, buffer in layer.named_buffers():
                yield f"{index}.{name}", buffer

    def modules(self) -> Iterator[Module]:
        yield self
        for layer in self.layers:
            yield from layer.modules()

    def train(self, mode: bool = True) -> Sequential:
        """Switch this network and every layer in it to training (or evaluation) mode."""
        self.training = bool(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Sequential:
        for layer in self.layers:
            layer._apply(fn)
        return self
