"""lstm_lab: exact, traced numpy recurrent cells (RNN, LSTM, peephole, coupled, GRU) for teaching.

>>> import lstm_lab as ll
>>> cell = ll.LSTMCell(input_size=3, hidden_size=4, seed=0)
>>> cell
LSTMCell(input_size=3, hidden_size=4, dtype=float64, num_params=128)
"""

from . import interop  # noqa: F401  (gives every cell class from_torch/to_torch/from_keras/to_keras)
from .cells import (
    CELLS,
    CoupledLSTMCell,
    GRUCell,
    LSTMCell,
    Params,
    PeepholeLSTMCell,
    RNNCell,
    sigmoid,
)
from .gradcheck import gradcheck
from .networks import Bidirectional, Stacked, from_torch
from .trace import State, Trace

__all__ = [
    "Bidirectional",
    "Stacked",
    "from_torch",
    "CELLS",
    "CoupledLSTMCell",
    "GRUCell",
    "LSTMCell",
    "Params",
    "PeepholeLSTMCell",
    "RNNCell",
    "State",
    "Trace",
    "gradcheck",
    "sigmoid",
]
__version__ = "0.1.0"
