"""The same random draws for both twins: a layer that draws (dropout) must drop the same units in each.

A random layer draws from torch's global generator of its device. The
hand-written twin and the torch twin run one after the other, so the second
would see the generator where the first left it, and drop other units.
``random_state_kept`` remembers the generator's state and puts it back:

    with random_state_kept(device):            # the manual twin draws ...
        loss_m = manual_loss(manual_net(x), y)
    loss_t = torch_loss(torch_net(x), y)       # ... and the torch twin draws the same numbers again

(the training loop does this at every step), and for measurements that must
all see one draw (the gradient report's three witnesses, every finite
difference), ``rewind()`` returns to that state as often as needed:

    with random_state_kept(device) as rewind:
        for theta in points:
            rewind()
            measure(theta)

On leaving the block the generator is back where it was, as if nothing had
drawn. A network without random layers draws nothing, and none of this
changes a single number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


def _get_and_set(device: torch.device) -> tuple[Callable[[], torch.Tensor], Callable[[torch.Tensor], None]]:
    """How to read and restore the state of the generator that random layers on ``device`` draw from."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return (lambda: torch.cuda.get_rng_state(index)), (lambda state: torch.cuda.set_rng_state(state, index))
    if device.type == "mps":
        return torch.mps.get_rng_state, torch.mps.set_rng_state
    return torch.get_rng_state, torch.set_rng_state


@contextmanager
def random_state_kept(device: torch.device | str) -> Iterator[Callable[[], None]]:
    """Inside the block, ``rewind()`` puts ``device``'s random generator back to its state on entry;
    on exit it is put back too, even after an error. Yields ``rewind``."""
    get_state, set_state = _get_and_set(torch.device(device))
    state = get_state()

    def rewind() -> None:
        set_state(state)

    try:
        yield rewind
    finally:
        set_state(state)
