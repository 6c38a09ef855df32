"""Losses with mean reduction. Each backward returns dL/dpred."""

from __future__ import annotations

import torch


class _Loss:
    """Shared bookkeeping: calling the loss runs forward, backward needs it first."""

    def __init__(self) -> None:
        self._cache: tuple[torch.Tensor, ...] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __call__(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.forward(pred, target)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        raise NotImplementedError

    def _saved(self) -> tuple[torch.Tensor, ...]:
        if self._cache is None:
            raise RuntimeError(f"{self!r}: call the loss before backward")
        return self._cache

    def _check_same_shape(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        if pred.shape != target.shape:
            raise ValueError(
                f"{self!r}: expected target of shape {tuple(pred.shape)} (like pred), got {tuple(target.shape)}"
            )


class MSELoss(_Loss):
    """Mean squared error, L = mean((pred - target)^2).

    pred, target: any shape, the same for both; L is a 0-d tensor.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check_same_shape(pred, target)
        diff = pred - target
        self._cache = (diff,)
        return (diff * diff).mean()

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        """dpred = dloss * 2 (pred - target) / M, with M = pred.numel().

        Each of the M squared errors contributes 1/M of the mean, and the
        slope of e^2 is 2e. ``dloss`` is the upstream gradient (1 when this
        loss is the end of the chain).

        The factors are applied in autograd's order, (2/M) e first and then
        dloss, so the two agree bit for bit. The first product is a fresh
        tensor of our own, so dloss is multiplied into it in place.
        """
        (diff,) = self._saved()
        return (diff * (2.0 / diff.numel())).mul_(dloss)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits z with targets y in [0, 1]:

        L = mean( -y log sigma(z) - (1 - y) log(1 - sigma(z)) )
          = mean( max(z, 0) - z y + log(1 + exp(-|z|)) )

    The second form is the same number but never exponentiates a large
    positive value, so it stays finite for logits in the thousands.
    logits, target: any shape, the same for both.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check_same_shape(logits, target)
        self._cache = (logits, target)
        per_item = logits.clamp_min(0) - logits * target + torch.log1p(torch.exp(-logits.abs()))
        return per_item.mean()

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        """dlogits = dloss * (sigma(z) - y) / M, with M = logits.numel().

        The log of the sigmoid and the sigmoid's own slope cancel, leaving
        the difference between the predicted probability and the target.
        sigma(z) is a fresh tensor of our own, so the rest happens in place.
        """
        logits, target = self._saved()
        return torch.sigmoid(logits).sub_(target).mul_(dloss / logits.numel())


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits z (N, C) with class indices y (N,):

        L = mean_n( logsumexp(z_n) - z_n[y_n] )

    logsumexp subtracts the row maximum before exponentiating, so huge
    logits neither overflow nor lose the answer.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 2:
            raise ValueError(f"{self!r}: expected logits of shape (N, C), got {tuple(logits.shape)}")
        n, classes = logits.shape
        if target.shape != (n,):
            raise ValueError(f"{self!r}: expected target of shape ({n},), got {tuple(target.shape)}")
        if target.dtype != torch.long:
            raise ValueError(f"{self!r}: expected target of class indices (torch.long), got {target.dtype}")
        if n:
            smallest, largest = torch.aminmax(target)  # one pass for both ends
            if int(smallest) < 0 or int(largest) >= classes:
                raise ValueError(f"{self!r}: class indices must lie in [0, {classes - 1}]")
        lse = torch.logsumexp(logits, dim=1)
        self._cache = (logits, target, lse)
        picked = logits.gather(1, target.unsqueeze(1)).squeeze(1)
        return (lse - picked).mean()

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        """dlogits = dloss * (softmax(z) - onehot(y)) / N

        shape (N, C). The fused form: the softmax's Jacobian and the log's
        slope collapse into "probabilities minus the one-hot target".
        softmax(z_n) = exp(z_n - logsumexp(z_n)) reuses the forward pass's
        logsumexp. Every step after the subtraction works in place on that
        fresh (N, C) tensor of our own; the cached logits are only read.
        The one-hot target is never built: row n gets -1 added in column
        y_n (``scatter_add_``, the same as ``dlogits[n, y[n]] -= 1`` for
        every n, in a single call).
        """
        logits, target, lse = self._saved()
        n = logits.shape[0]
        dlogits = (logits - lse.unsqueeze(1)).exp_()  # softmax(z), row by row
        columns = target.unsqueeze(1)                 # (N, 1): y_n for row n
        minus_one = torch.full((n, 1), -1.0, dtype=dlogits.dtype, device=dlogits.device)
        dlogits.scatter_add_(1, columns, minus_one)   # softmax(z) - onehot(y)
        return dlogits.mul_(dloss / n)
