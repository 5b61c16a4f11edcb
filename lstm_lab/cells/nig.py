"""NIG, no input gate: Greff et al.'s vanilla LSTM with i_t = 1."""

import numpy as np

from ..trace import State
from .base import Diagram, affine, sigmoid
from .lstm import LSTM_STEPS
from .peephole import PeepholeLSTMCell

__all__ = ["NIGCell"]


class NIGCell(PeepholeLSTMCell):
    r"""No input gate (NIG; Greff et al. 2015): the peephole LSTM with i_t = 1.

    Every candidate is written into the cell state in full; only the forget gate decides
    how much of the old state stays. As a change to `PeepholeLSTMCell`:

    .. math::
        f_t &= \sigma(W_{xf} x_t + W_{hf} h_{t-1} + p_f \odot c_{t-1} + b_f) \\
        g_t &= \tanh(W_{xg} x_t + W_{hg} h_{t-1} + b_g) \\
        c_t &= f_t \odot c_{t-1} + g_t           \quad (i_t = 1) \\
        o_t &= \sigma(W_{xo} x_t + W_{ho} h_{t-1} + p_o \odot c_t + b_o) \\
        h_t &= o_t \odot \tanh(c_t)

    where x_t (D,) is the input, h_t and c_t (H,) the hidden and cell states, each W_x* (H, D),
    W_h* (H, H), b_* (H,), and p_f, p_o (H,) the peepholes. There is no W_xi, W_hi, b_i or p_i;
    the trace records f, g and o. Fused layout (f | g | o). `forget_bias` sets b_f.

    >>> cell = NIGCell(input_size=2, hidden_size=3, seed=0)
    >>> cell.gate_names, 'W_xi' in cell.params, cell.num_params
    (('f', 'g', 'o'), False, 60)
    >>> trace = cell.forward(np.ones((4, 2)))
    >>> sorted(trace.gates), trace.c.shape
    (['f', 'g', 'o'], (4, 3))
    """

    kind = "nig"
    gate_names = ("f", "g", "o")
    fused_letters = ("f", "g", "o")
    sigmoid_letters = ("f", "o")
    peepholes = ("f", "o")
    color = "#4477AA"
    diagram = Diagram("lstm", LSTM_STEPS, peephole=("f", "o"), absent=("i",))

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), {'f','g','o': values})."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + g
        o = sigmoid(affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "g": g, "o": o}
