"""A toolkit for learning how a neural network is optimised.

Each lesson builds the same network twice, once with hand-written gradients
(``toolkit.manual``) and once with ``torch.nn`` and autograd (``toolkit.twins``:
``twin_of``, ``Twins``, ``make_twins``), and trains both side by side with our
own optimisers (``toolkit.optim``) in one recorded loop (``toolkit.train``).

Importing the toolkit does not import matplotlib: plotting modules load it
when they are first used.
"""

__version__ = "0.1.0"
