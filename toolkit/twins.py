"""The twins: a network written by hand and the same network in torch.nn.

``twin_of(manual_net)`` builds the idiomatic torch network for any
hand-written one, with the same parameter and buffer values under the same
names. ``Twins`` bundles both networks and both losses into the one value
that the gradient report, the training loop and the lessons pass around.
``make_twins`` is the short way to build an MLP.

Adding a layer to the toolkit takes one class in ``toolkit/manual/`` and one
line in ``TORCH_TWIN`` below, which says how to build its torch counterpart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from toolkit import manual

# Each hand-written class -> how to build its torch.nn counterpart (the
# structure only: twin_of copies the values). A subclass (a layer of the bug
# zoo, say) uses its parent's line.
TORCH_TWIN: dict[type, Callable[[Any], nn.Module]] = {
    manual.Linear: lambda layer: nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None),
    manual.ReLU: lambda layer: nn.ReLU(),
    manual.Tanh: lambda layer: nn.Tanh(),
    manual.Sigmoid: lambda layer: nn.Sigmoid(),
    manual.BatchNorm1d: lambda layer: nn.BatchNorm1d(layer.num_features, eps=layer.eps, momentum=layer.momentum),
    manual.Dropout: lambda layer: nn.Dropout(layer.p),
    manual.Sequential: lambda net: nn.Sequential(*(torch_counterpart(layer) for layer in net)),
    manual.MSELoss: lambda loss: nn.MSELoss(),
    manual.BCEWithLogitsLoss: lambda loss: nn.BCEWithLogitsLoss(),
    manual.CrossEntropyLoss: lambda loss: nn.CrossEntropyLoss(),
}

ACTIVATIONS = {"relu": manual.ReLU, "tanh": manual.Tanh, "sigmoid": manual.Sigmoid}


def torch_counterpart(thing: Any) -> nn.Module:
    """The torch.nn module that ``TORCH_TWIN`` builds for a hand-written layer, network or loss."""
    for cls in type(thing).__mro__:
        if cls in TORCH_TWIN:
            return TORCH_TWIN[cls](thing)
    raise ValueError(f"twin_of: {type(thing).__name__} has no torch.nn counterpart; "
                     f"add a line for it to toolkit.twins.TORCH_TWIN")


def _named(thing: Any, what: str) -> dict[str, torch.Tensor]:
    """thing.named_parameters() or thing.named_buffers() as a dict (a loss has neither)."""
    if not isinstance(thing, (manual.Module, nn.Module)):
        return {}
    return dict(getattr(thing, f"named_{what}")())


def twin_of(thing: Any) -> nn.Module:
    """The idiomatic torch.nn twin of a hand-written network, layer or loss.

    The twin is built from ``TORCH_TWIN`` without drawing any random numbers
    (on the "meta" device, which holds shapes but no values), then given the
    device and dtype of the hand-written parameters, and every parameter and
    buffer is copied in. Names and order must come out identical to
    torch's ("0.weight", "0.bias", "1.running_mean", ...), else ValueError.
    The twin is put in the same mode (train or eval) as the original.
    """
    with torch.device("meta"):
        twin = torch_counterpart(thing)
    tensors = {**_named(thing, "parameters"), **_named(thing, "buffers")}
    unsupported = sorted({str(t.dtype) for t in tensors.values() if t.is_complex()})
    if unsupported:
        raise ValueError(f"twin_of: {type(thing).__name__} holds {', '.join(unsupported)} tensors; "
                         "the twins are real networks (float64 or float32)")
    floats = [t for t in tensors.values() if t.is_floating_point()]
    twin = twin.to_empty(device=floats[0].device if floats else "cpu")
    if floats:
        twin = twin.to(dtype=floats[0].dtype)   # integer buffers keep their dtype

    for what in ("parameters", "buffers"):
        mine, theirs = _named(thing, what), _named(twin, what)
        if list(mine) != list(theirs):
            raise ValueError(f"twin_of: {type(thing).__name__} has {what} {list(mine)}, "
                             f"but its torch twin has {list(theirs)}")
        with torch.no_grad():
            for name, tensor in theirs.items():
                if tensor.shape != mine[name].shape:
                    raise ValueError(f"twin_of: '{name}' has shape {tuple(mine[name].shape)} by hand "
                                     f"but {tuple(tensor.shape)} in torch")
                tensor.copy_(mine[name])
    return twin.train(getattr(thing, "training", True))


@dataclass
class Twins:
    """The same network twice, and the same loss twice: one value for all four.

    manual_net:  a ``toolkit.manual`` network (gradients by hand)
    torch_net:   its ``torch.nn`` twin (gradients by autograd)
    manual_loss: a ``toolkit.manual`` loss
    torch_loss:  its ``torch.nn`` twin
    """

    manual_net: manual.Module
    torch_net: nn.Module
    manual_loss: Any
    torch_loss: nn.Module

    @classmethod
    def of(cls, manual_net: manual.Module, manual_loss: Any) -> Twins:
        """Twin a hand-written network and loss with ``twin_of``."""
        return cls(manual_net, twin_of(manual_net), manual_loss, twin_of(manual_loss))

    def named_parameters(self) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
        """(name, hand-written parameter, torch parameter) for every parameter, in order."""
        for (name, mine), theirs in zip(self.manual_net.named_parameters(), self.torch_net.parameters()):
            yield name, mine, theirs

    def train(self, mode: bool = True) -> Twins:
        """Switch both networks to training (or evaluation) mode together; returns self."""
        self.manual_net.train(mode)
        self.torch_net.train(mode)
        return self

    def eval(self) -> Twins:
        return self.train(False)

    def zero_grad(self) -> None:
        self.manual_net.zero_grad()
        self.torch_net.zero_grad()

    @property
    def dtype(self) -> torch.dtype:
        return next(self.torch_net.parameters()).dtype

    @property
    def device(self) -> torch.device:
        return next(self.torch_net.parameters()).device


def make_twins(
    sizes: Sequence[int],
    activation: str | None = None,
    loss: Any = None,
    bias: bool = True,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    dropout: float = 0.0,
) -> Twins:
    """An MLP built by hand, its torch.nn twin, and the two losses.

    sizes: layer widths [in, hidden..., out]; a Linear joins each pair and
    ``activation`` ("relu", "tanh", "sigmoid" or None) follows every Linear
    but the last. loss: a ``toolkit.manual`` loss (default ``MSELoss()``).
    dropout: p > 0 puts a ``Dropout(p)`` after every hidden layer (after its
    activation); it has no parameters, so the weights are the same as
    without it.

    The parameters are drawn from ``seed`` on the CPU in float64, exactly as
    ``torch.nn.Linear`` draws them, and then moved to ``device`` and
    ``dtype``, so every device starts from the same numbers. The global
    random state is left as it was.
    """
    if len(sizes) < 2:
        raise ValueError(f"make_twins: need at least [in, out] sizes, got {list(sizes)}")
    if any(isinstance(size, bool) or not isinstance(size, int) or size < 1 for size in sizes):
        raise ValueError(f"make_twins: every size must be a whole number >= 1, got {list(sizes)}")
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(f"make_twins: unknown activation '{activation}', use one of {sorted(ACTIVATIONS)} or None")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"make_twins: dropout must be a number in [0, 1), got {dropout!r}")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"make_twins: dtype must be a real floating-point dtype (torch.float64 or torch.float32), "
                         f"got {dtype}")

    pairs = list(zip(sizes[:-1], sizes[1:]))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[manual.Module] = []
        for index, (fan_in, fan_out) in enumerate(pairs):
            layers.append(manual.Linear(fan_in, fan_out, bias=bias, dtype=torch.float64))
            if activation is not None and index < len(pairs) - 1:
                layers.append(ACTIVATIONS[activation]())
            if dropout > 0 and index < len(pairs) - 1:
                layers.append(manual.Dropout(dropout))
    net = manual.Sequential(*layers).to(device=torch.device(device), dtype=dtype)
    return Twins.of(net, manual.MSELoss() if loss is None else loss)


def linear_twins_at(weight, loss: Any = None, *, seed: int = 0, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float64) -> Twins:
    """Twins of one ``Linear`` without a bias that start at ``weight`` (shape (out, in)), with ``loss``.

    Lesson 07 builds its valley f(w) = 0.1·w1² + 2·w2² this way (a Linear(2, 1)
    whose MSE on two chosen points is f), and later lessons reuse it.
    """
    weight = torch.as_tensor(weight, dtype=dtype, device=device)
    if weight.dim() != 2:
        raise ValueError(f"linear_twins_at: weight must have shape (out, in), got {tuple(weight.shape)}")
    twins = make_twins([weight.shape[1], weight.shape[0]], bias=False, loss=loss, seed=seed, device=device,
                       dtype=dtype)
    with torch.no_grad():
        twins.manual_net[0].weight.copy_(weight)
    return Twins.of(twins.manual_net, twins.manual_loss)      # the torch twin is built from the new weight


def chain_twins_at(w1: float, w2: float, *, device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float64) -> Twins:
    """Twins of lesson 09's chain ŷ = w2·(w1·x): two Linear(1, 1) without a bias, starting at (w1, w2), MSE loss.

    Lesson 09 builds it in the lesson; later lessons reuse it from here.
    """
    net = make_twins([1, 1, 1], bias=False, device=device, dtype=dtype).manual_net
    with torch.no_grad():
        net[0].weight.fill_(w1)
        net[1].weight.fill_(w2)
    return Twins.of(net, manual.MSELoss())
