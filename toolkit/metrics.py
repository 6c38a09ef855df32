"""How good a classifier is on data it was or was not trained on: its loss and its accuracy.

``accuracy(logits, y)`` is the share of rows whose largest logit sits at the
label. ``scores_along_path`` measures both numbers at points of a recorded
training path (every epoch, say) on any data, training or held out, without
touching the network: each point's parameters are swapped in for one call
(``toolkit.landscape.loss_along_path``). Measurements are taken in
evaluation mode, where dropout is switched off: a held-out score is the
score of the network as it will be used.
"""

from __future__ import annotations

import torch

from toolkit.landscape import loss_along_path
from toolkit.twins import Twins


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The share of rows whose largest logit is at the target class: a 0-d tensor in [0, 1].

    logits: (N, C); target: (N,) class indices. (Ties go to the first largest logit, as ``argmax``.)
    """
    return (logits.argmax(dim=1) == target).to(logits.dtype).mean()


def scores_along_path(twins: Twins, x: torch.Tensor, y: torch.Tensor, path: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """(losses, accuracies) of the torch twin on (x, y) at every point of ``path``, each (T,).

    path: (T, P) parameter vectors, e.g. ``history.path_manual[::steps_per_epoch]``.
    The twins are put in evaluation mode for the measurement and back in
    the mode they were in afterwards; their parameters are not touched.
    """
    was_training = twins.torch_net.training
    twins.eval()
    try:
        losses = loss_along_path(twins.torch_net, twins.torch_loss, x, y, path)
        accuracies = loss_along_path(twins.torch_net, accuracy, x, y, path)
    finally:
        twins.train(was_training)
    return losses, accuracies
