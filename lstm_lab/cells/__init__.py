"""The recurrent cells, one module per variant, and ``CELLS``: every registered cell by kind.

Each module holds one variant: its equations (the class docstring), its plain `step`, its
fast forward and backward, and what it declares about itself (gates, diagram, framework gate
orders, whether it takes a forget bias). `base` holds what they share. Adding a variant is
one new module plus one line in ``VARIANTS`` below; the test suite then runs every generic
test on it (gradients, step loop, bad input, trace shapes, diagram, explorers, Jacobians).

>>> from lstm_lab import cells
>>> cells.CELLS['lstm'] is cells.LSTMCell
True
"""

from importlib import import_module

from .base import Cell, Diagram, Params, sigmoid
from .coupled import CoupledLSTMCell
from .gru import GRUCell
from .lstm import LSTMCell
from .peephole import PeepholeLSTMCell
from .rnn import RNNCell

# The registered variants: (module in this package, class in it), one line each.
VARIANTS = (
    ("rnn", "RNNCell"),
    ("lstm", "LSTMCell"),
    ("peephole", "PeepholeLSTMCell"),
    ("coupled", "CoupledLSTMCell"),
    ("gru", "GRUCell"),
    ("nig", "NIGCell"),
    ("nfg", "NFGCell"),
    ("nog", "NOGCell"),
    ("niaf", "NIAFCell"),
    ("noaf", "NOAFCell"),
    ("mgu", "MGUCell"),
    ("cifg", "PeepholeCIFGCell"),
)


def _load(module, name):
    cls = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = cls          # lstm_lab.cells.NAME for every registered variant
    return cls


CELLS = {cls.kind: cls for cls in (_load(m, n) for m, n in VARIANTS)}

__all__ = [
    "CELLS", "Cell", "CoupledLSTMCell", "Diagram", "GRUCell", "LSTMCell", "Params",
    "PeepholeLSTMCell", "RNNCell", "VARIANTS", "sigmoid",
]
