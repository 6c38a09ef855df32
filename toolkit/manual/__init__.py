"""Layers and losses whose gradients are written by hand.

Every class here mirrors its namesake in ``torch.nn`` (same constructor, same
parameter names and layouts) but computes its backward pass from a formula
written out in its docstring; each backward body is that formula. Nothing in
this package uses autograd: the parameters are plain tensors with
``requires_grad=False``.

The protocol, shared by every layer::

    out = layer(x)                 # forward; caches what backward needs
    dx = layer.backward(dout)      # returns dL/dx and ADDS dL/dparam into param.grad
    layer.train() / layer.eval()   # the mode, for layers that use batch statistics or draw at random
    layer.named_parameters()       # trained tensors, by torch's names ("0.weight")
    layer.named_buffers()          # state that is not trained ("1.running_mean")

and by every loss::

    loss = loss_fn(pred, target)   # a 0-d tensor, mean over the batch
    dpred = loss_fn.backward()     # dL/dpred

A new layer is one class here (a ``Module`` subclass with ``forward`` and
``backward``) plus one line in ``toolkit.twins.TORCH_TWIN`` naming its
``torch.nn`` counterpart.
"""

from toolkit.manual.activations import ReLU, Sigmoid, Tanh
from toolkit.manual.batchnorm import BatchNorm1d
from toolkit.manual.dropout import Dropout
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
    "BatchNorm1d",
    "Dropout",
    "Sequential",
    "MSELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
]
