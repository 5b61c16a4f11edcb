"""NIAF, no input activation function: Greff et al.'s vanilla LSTM with an affine candidate."""

import numpy as np

from ..trace import State
from .base import Diagram, affine, sigmoid
from .lstm import LSTM_STEPS
from .peephole import PeepholeLSTMCell

__all__ = ["NIAFCell"]


class NIAFCell(PeepholeLSTMCell):
    r"""No input activation function (NIAF; Greff et al. 2015): g_t without its tanh.

    The candidate is written unsquashed, so one step can move the cell state by any amount.
    As a change to `PeepholeLSTMCell`:

    .. math::
        g_t = W_{xg} x_t + W_{hg} h_{t-1} + b_g     \quad (\text{no } \tanh)

    with f_t, i_t, c_t, o_t and h_t = o_t ⊙ tanh(c_t) as in the peephole LSTM, where x_t (D,)
    is the input, h_t and c_t (H,) the hidden and cell states, each W_x* (H, D), W_h* (H, H),
    b_* (H,), and p_f, p_i, p_o (H,) the peepholes. Same parameters as the peephole LSTM.
    Fused layout (f | i | g | o).

    >>> cell = NIAFCell(input_size=2, hidden_size=3, seed=0)
    >>> cell.gate_names, cell.unsquashed, cell.num_params
    (('f', 'i', 'g', 'o'), ('g',), 81)
    >>> trace = cell.forward(np.full((3, 2), 100.0))
    >>> bool(abs(trace.gates['g']).max() > 1)      # a tanh would keep it inside (-1, 1)
    True
    """

    kind = "niaf"
    unsquashed = ("g",)
    color = "#CCBB44"
    diagram = Diagram("lstm", LSTM_STEPS, peephole=("f", "i", "o"), linear=("g",))

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), gates)."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        i = sigmoid(affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        g = affine(p, "g", x_t, h_prev)
        c = f * c_prev + i * g
        o = sigmoid(affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}
