"""NOAF, no output activation function: Greff et al.'s vanilla LSTM with h_t = o_t * c_t."""

import numpy as np

from ..trace import State
from .base import Diagram, affine, sigmoid
from .lstm import LSTM_STEPS
from .peephole import PeepholeLSTMCell

__all__ = ["NOAFCell"]


class NOAFCell(PeepholeLSTMCell):
    r"""No output activation function (NOAF; Greff et al. 2015): h_t = o_t ⊙ c_t, no tanh.

    The cell state reaches the output unsquashed, so h_t is as unbounded as c_t is. As a
    change to `PeepholeLSTMCell`:

    .. math::
        h_t = o_t \odot c_t     \quad (\text{no } \tanh(c_t))

    with f_t, i_t, g_t, c_t and o_t as in the peephole LSTM, where x_t (D,) is the input,
    h_t and c_t (H,) the hidden and cell states, each W_x* (H, D), W_h* (H, H), b_* (H,), and
    p_f, p_i, p_o (H,) the peepholes. Same parameters as the peephole LSTM. Fused layout
    (f | i | g | o).

    >>> cell = NOAFCell(input_size=2, hidden_size=3, seed=0)
    >>> trace = cell.forward(np.ones((4, 2)))
    >>> bool(np.allclose(trace.h, trace.gates['o'] * trace.c)), cell.unsquashed
    (True, ('c',))
    """

    kind = "noaf"
    unsquashed = ("c",)
    color = "#66CCEE"
    diagram = Diagram("lstm", LSTM_STEPS, peephole=("f", "i", "o"), linear=("c",))

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), gates)."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        i = sigmoid(affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        h = o * c
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}
