"""NFG, no forget gate: Greff et al.'s vanilla LSTM with f_t = 1."""

import numpy as np

from ..trace import State
from .base import Cell, Diagram, affine, sigmoid
from .lstm import LSTM_STEPS
from .peephole import PeepholeLSTMCell

__all__ = ["NFGCell"]


class NFGCell(PeepholeLSTMCell):
    r"""No forget gate (NFG; Greff et al. 2015): the peephole LSTM with f_t = 1.

    The cell state only ever adds: nothing is forgotten, so c_t is the running sum of
    everything written (the LSTM of Hochreiter & Schmidhuber 1997, before Gers et al. added
    the forget gate in 2000). As a change to `PeepholeLSTMCell`:

    .. math::
        i_t &= \sigma(W_{xi} x_t + W_{hi} h_{t-1} + p_i \odot c_{t-1} + b_i) \\
        g_t &= \tanh(W_{xg} x_t + W_{hg} h_{t-1} + b_g) \\
        c_t &= c_{t-1} + i_t \odot g_t            \quad (f_t = 1) \\
        o_t &= \sigma(W_{xo} x_t + W_{ho} h_{t-1} + p_o \odot c_t + b_o) \\
        h_t &= o_t \odot \tanh(c_t)

    where x_t (D,) is the input, h_t and c_t (H,) the hidden and cell states, each W_x* (H, D),
    W_h* (H, H), b_* (H,), and p_i, p_o (H,) the peepholes. There is no W_xf, W_hf, b_f or p_f,
    and so no `forget_bias`; the trace records i, g and o. Fused layout (i | g | o).

    >>> cell = NFGCell(input_size=2, hidden_size=3, seed=0)
    >>> cell.gate_names, 'W_xf' in cell.params, cell.num_params, cell.forget_bias
    (('i', 'g', 'o'), False, 60, None)
    >>> trace = cell.forward(np.ones((4, 2)))
    >>> added = trace.gates['i'] * trace.gates['g']
    >>> bool(np.allclose(np.diff(trace.c, axis=0), added[1:]))   # c only ever adds i_t g_t
    True
    """

    kind = "nfg"
    gate_names = ("i", "g", "o")
    takes_forget_bias = False
    fused_letters = ("i", "g", "o")
    sigmoid_letters = ("i", "o")
    peepholes = ("i", "o")
    color = "#EE6677"
    diagram = Diagram("lstm", LSTM_STEPS, peephole=("i", "o"), absent=("f",))

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64):
        # no forget gate, so no forget_bias to set: built as every cell is
        Cell.__init__(self, input_size, hidden_size, seed=seed, dtype=dtype)
        self.forget_bias = None

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), {'i','g','o': values})."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        i = sigmoid(affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = c_prev + i * g
        o = sigmoid(affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        h = o * np.tanh(c)
        return State(h, c), {"i": i, "g": g, "o": o}
