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
        _check_not_empty(self, pred)
        if pred.shape != target.shape:
            raise ValueError(
                f"{self!r}: expected target of shape {tuple(pred.shape)} (like pred), got {tuple(target.shape)}"
            )


def _check_not_empty(loss: _Loss, pred: torch.Tensor) -> None:
    # A mean over nothing is 0/0: refuse it before it becomes a NaN or a ZeroDivisionError.
    if pred.numel() == 0:
        raise ValueError(f"{loss!r}: got an empty batch {tuple(pred.shape)}; the mean needs at least one value")


class MSELoss(_Loss):
    """Mean squared error, L = mean((pred - target)^2).

    pred, target: any shape, the same for both; L is a 0-d tensor.
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        self._check_same_shape(pred, target)
        self._cache = (pred, target)
        return ((pred - target) ** 2).mean()

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        """dpred = dloss * 2 (pred - target) / M, with M = pred.numel().

        Each of the M squared errors counts 1/M in the mean, and the slope of
        e^2 is 2e. ``dloss`` is the upstream gradient (1 when this loss is the
        end of the chain). Shape: like pred. Written (2/M)(pred - target),
        the order autograd multiplies in, so the twins agree bit for bit.
        """
        pred, target = self._saved()
        return 2 / pred.numel() * (pred - target) * dloss


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

        The log of the sigmoid and the sigmoid's own slope cancel, leaving the
        difference between the predicted probability and the target.
        Shape: like the logits.
        """
        logits, target = self._saved()
        return dloss * (torch.sigmoid(logits) - target) / logits.numel()


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy on logits z (N, C) with class indices y (N,):

        L = mean_n( -log softmax(z_n)[y_n] ) = mean_n( logsumexp(z_n) - z_n[y_n] )

    Stable for logits of any size: every row is first shifted so that its
    largest logit is 0 (s = z - max z). A softmax does not change under a
    shift, so nothing is lost, and exp(s) lies in (0, 1]: it can neither
    overflow nor, for the largest logit, underflow to zero. The loss and
    the softmax are both computed from the shifted logits.
    """

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.dim() != 2:
            raise ValueError(f"{self!r}: expected logits of shape (N, C), got {tuple(logits.shape)}")
        _check_not_empty(self, logits)
        n, classes = logits.shape
        if target.shape != (n,):
            raise ValueError(f"{self!r}: expected target of shape ({n},), got {tuple(target.shape)}")
        if target.dtype != torch.long:
            raise ValueError(f"{self!r}: expected target of class indices (torch.long), got {target.dtype}")
        if n and (int(target.min()) < 0 or int(target.max()) >= classes):
            raise ValueError(f"{self!r}: class indices must lie in [0, {classes - 1}]")
        shifted = logits - logits.max(dim=1, keepdim=True).values   # (N, C), each row's largest is 0
        log_sum_exp = torch.log(torch.exp(shifted).sum(dim=1))      # (N,)
        picked = shifted[torch.arange(n, device=logits.device), target]   # s_n[y_n], (N,)
        self._cache = (shifted, target)
        return (log_sum_exp - picked).mean()

    def backward(self, dloss: float | torch.Tensor = 1.0) -> torch.Tensor:
        """dlogits = dloss * (softmax(z) - onehot(y)) / N, shape (N, C).

        The softmax's Jacobian and the log's slope collapse into "the
        predicted probabilities, minus 1 at the true class".
        """
        shifted, target = self._saved()
        n, classes = shifted.shape
        probs = torch.exp(shifted) / torch.exp(shifted).sum(dim=1, keepdim=True)   # softmax, row by row
        onehot = torch.nn.functional.one_hot(target, classes).to(probs.dtype)       # 1 at the true class
        return dloss * (probs - onehot) / n
