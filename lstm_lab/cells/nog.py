"""NOG, no output gate: Greff et al.'s vanilla LSTM with o_t = 1."""

import numpy as np

from ..trace import State
from .base import Diagram, affine, sigmoid
from .lstm import LSTM_STEPS
from .peephole import PeepholeLSTMCell

__all__ = ["NOGCell"]


class NOGCell(PeepholeLSTMCell):
    r"""No output gate (NOG; Greff et al. 2015): the peephole LSTM with o_t = 1.

    The whole squashed cell state is shown at every step. As a change to `PeepholeLSTMCell`:

    .. math::
        f_t &= \sigma(W_{xf} x_t + W_{hf} h_{t-1} + p_f \odot c_{t-1} + b_f) \\
        i_t &= \sigma(W_{xi} x_t + W_{hi} h_{t-1} + p_i \odot c_{t-1} + b_i) \\
        g_t &= \tanh(W_{xg} x_t + W_{hg} h_{t-1} + b_g) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= \tanh(c_t)                        \quad (o_t = 1)

    where x_t (D,) is the input, h_t and c_t (H,) the hidden and cell states, each W_x* (H, D),
    W_h* (H, H), b_* (H,), and p_f, p_i (H,) the peepholes. There is no W_xo, W_ho, b_o or p_o;
    the trace records f, i and g. Fused layout (f | i | g). `forget_bias` sets b_f.

    >>> cell = NOGCell(input_size=2, hidden_size=3, seed=0)
    >>> cell.gate_names, 'W_xo' in cell.params, cell.num_params
    (('f', 'i', 'g'), False, 60)
    >>> trace = cell.forward(np.ones((4, 2)))
    >>> bool(np.allclose(trace.h, np.tanh(trace.c)))
    True
    """

    kind = "nog"
    gate_names = ("f", "i", "g")
    fused_letters = ("f", "i", "g")
    sigmoid_letters = ("f", "i")
    peepholes = ("f", "i")
    color = "#228833"
    diagram = Diagram("lstm", LSTM_STEPS, peephole=("f", "i"), absent=("o",))

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), {'f','i','g': values})."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        i = sigmoid(affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        h = np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g}
