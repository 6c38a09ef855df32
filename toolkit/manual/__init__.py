"""Layers and losses whose gradients are written by hand.

Every class here mirrors its namesake in ``torch.nn`` (same constructor, same
parameter names and layouts) but computes its backward pass from a formula
written out in its docstring. Nothing in this package uses autograd: the
parameters are plain tensors with ``requires_grad=False``.

The protocol, shared by every layer::

    out = layer(x)                 # forward; caches what backward needs
    dx = layer.backward(dout)      # returns dL/dx and ADDS dL/dparam into param.grad

and by every loss::

    loss = loss_fn(pred, target)   # a 0-d tensor, mean over the batch
    dpred = loss_fn.backward()     # dL/dpred
"""

from toolkit.manual.activations import ReLU, Sigmoid, Tanh
from toolkit.manual.linear import Linear
from toolkit.manual.losses import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from toolkit.manual.module import Module
from toolkit.manual.sequential import Sequential

__all__ = [
    "Module",
    "Linear",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "Sequential",
    "MSELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
]
