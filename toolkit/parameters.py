"""A network's state as values: its parameters as one vector, its buffers kept.

An optimiser sees a network as a list of tensors; a loss landscape, a
Hessian or a recorded descent path sees it as ONE point theta in R^P, the
concatenation of every parameter in ``named_parameters()`` order.
``flatten`` and ``unflatten`` convert between the two forms.

``buffers_kept`` makes forward passes that only measure (finite
differences, landscapes) leave running statistics exactly as they were, and
``vmap_or_loop`` evaluates a function at many parameter vectors at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import Tensor
from torch.func import vmap


def flatten(named: dict[str, Tensor] | Iterable[tuple[str, Tensor]]) -> Tensor:
    """Concatenate parameters, in the given order, into one vector.

    named: a dict name -> tensor, or pairs such as ``model.named_parameters()``
    returns: (P,) with P = the total number of entries

    The result is a snapshot: a new tensor, detached from autograd, so
    recording ``flatten(model.named_parameters())`` after every step keeps
    each step's values (later steps do not change it) and does not hold on
    to any graph.
    """
    pairs = named.items() if isinstance(named, dict) else named
    pieces = [tensor.detach().reshape(-1) for _, tensor in pairs]
    if not pieces:
        raise ValueError("flatten: no tensors given")
    return torch.cat(pieces)


def unflatten(vector: Tensor, like: dict[str, Tensor]) -> dict[str, Tensor]:
    """Split a flat vector back into named tensors shaped like ``like``.

    vector: (P,)    -> each tensor has its own shape
            (K, P)  -> each tensor is (K, *shape): K parameter settings at once
    like:   name -> tensor; only the names, order and shapes are used

    The pieces are views of (or copies from) ``vector``, so autograd sees
    through them; the Hessian relies on that.
    """
    shapes = [tensor.shape for tensor in like.values()]
    sizes = [math.prod(shape) for shape in shapes]
    if vector.shape[-1] != sum(sizes):
        raise ValueError(f"unflatten: vector has {vector.shape[-1]} entries, the tensors need {sum(sizes)}")
    lead = vector.shape[:-1]  # () or (K,)
    pieces = torch.split(vector, sizes, dim=-1)
    return {name: piece.reshape(*lead, *shape)
            for name, piece, shape in zip(like.keys(), pieces, shapes)}


@contextmanager
def buffers_kept(*nets) -> Iterator[None]:
    """Inside this block, forward passes may change buffers; afterwards they are as before.

    A layer with batch statistics (batch norm) updates its running mean and
    variance on every forward pass in training mode. A finite difference or
    a loss landscape runs hundreds of forward passes that are measurements,
    not training, so they must leave no trace: every buffer of every given
    network (hand-written or torch.nn) is copied on entry and put back on
    exit, even if the block raises.
    """
    saved = []
    for net in nets:
        for module in net.modules():
            names = (module._buffer_names if not isinstance(module, torch.nn.Module)
                     else [name for name, _ in module.named_buffers(recurse=False)])
            for name in names:
                value = getattr(module, name)
                if value is not None:
                    saved.append((module, name, value.clone()))
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def vmap_or_loop(fn: Callable[[Tensor], Tensor], batch: Tensor) -> Tensor:
    """[fn(item) for item in batch], stacked: vectorised by ``torch.func.vmap`` where it applies.

    vmap runs fn once on the whole batch, which is much faster for small
    networks. It cannot batch every operation: a layer with batch statistics
    updates its (unbatched) running mean in place, for one. Then the same
    items go through fn one at a time, which gives the same numbers.

    A random layer (dropout in training mode) draws once for the whole
    batch (vmap's ``randomness="same"``): every item sees the same draws,
    the ones fn makes on its own from the same generator state. Each item
    is one point of a measurement, and a measurement holds the mask fixed.
    """
    try:
        return vmap(fn, randomness="same")(batch)
    except RuntimeError:
        return torch.stack([fn(item) for item in batch])
