"""The LSTM with coupled input and forget gates (CIFG + NP in Greff et al.'s naming)."""

import numpy as np

from ..trace import State
from .base import Diagram, affine, dsigmoid, dtanh, prev, project, sigmoid, sigmoid_from_tanh, split
from .lstm import LSTM_STEPS, LSTMCell, lstm_loop

__all__ = ["CoupledLSTMCell"]


class CoupledLSTMCell(LSTMCell):
    r"""The LSTM with coupled input and forget gates (CIFG; Greff et al. 2015).

    One gate decides both what to forget and what to write: as a change to `LSTMCell`,

    .. math::
        f_t = 1 - i_t, \qquad c_t = (1 - i_t) \odot c_{t-1} + i_t \odot g_t

    so the cell has no W_xf, W_hf, b_f. The trace still records f_t. Since
    1 - sigmoid(a) = sigmoid(-a), `forget_bias` sets b_i = -forget_bias. Fused layout (o | i | g).
    No PyTorch or Keras layer has this cell.

    It couples the gates of the LSTM *without* peepholes: in Greff et al.'s naming it is
    CIFG + NP (their CIFG keeps the peepholes; see `PeepholeCIFGCell`).

    >>> cell = CoupledLSTMCell(input_size=3, hidden_size=4, seed=0)
    >>> 'W_xf' in cell.params, cell.num_params
    (False, 96)
    """

    kind = "coupled"
    fused_letters = ("o", "i", "g")
    sigmoid_letters = ("o", "i")
    torch_order = None
    keras_order = None
    color = "#E69F00"
    coupled = True
    diagram = Diagram("lstm", LSTM_STEPS, coupled=True)

    def _param_letters(self):
        return ("i", "g", "o")

    def _set_forget_bias(self, value):
        self.params["b_i"][...] = -value

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step with f_t = 1 - i_t; returns (State(h_t, c_t), gates including f)."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        i = sigmoid(affine(p, "i", x_t, h_prev))
        f = 1 - i
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(affine(p, "o", x_t, h_prev))
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        Wx, Wh, b = self._halved(W)                      # o, i rows halved: see _halved
        acts = project(x3, Wx, b)                        # (T, 3H, B)
        T, _, B = acts.shape
        h, c, tanh_c = (np.empty((T, H, B), self.dtype) for _ in range(3))
        hp = np.empty((3 * H, B), self.dtype)            # scratch for W_h* h_{t-1}
        half = np.full((2 * H, B), 0.5, self.dtype)
        h_prev, c_prev = h0, c0
        steps = zip(acts, acts.reshape(T, 3, H, B), h, c, tanh_c, strict=True)
        for a, (o, i, g), h_t, c_t, tanh_c_t in steps:
            np.dot(Wh, h_prev, out=hp)
            a += hp                                      # a_t = W_x* x_t + W_h* h_{t-1} + b_*
            np.tanh(a, out=a)                            # g_t, and tanh(a/2) for o, i
            sigmoid_from_tanh(a[:2 * H], half)           # o_t, i_t
            np.subtract(g, c_prev, out=c_t)
            c_t *= i
            c_t += c_prev                                # c_t = c_{t-1} + i_t (g_t - c_{t-1})
            np.tanh(c_t, out=tanh_c_t)
            np.multiply(o, tanh_c_t, out=h_t)            # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_t, c_t
        return self._record(x3, h, h0, c, c0, tanh_c, acts)   # with f_t = 1 - i_t

    def _back(self, s, dh, W):
        H = self.hidden_size
        o, f, i, g = (s.gates[L] for L in "ofig")
        tanh_c = s.tanh_c
        da = np.empty_like(s.acts)
        da_o, da_i, da_g = split(da, self.fused_letters, H, axis=1).values()
        dsigmoid(o, out=da_o)
        da_o *= tanh_c                                   # da_o = dh_t * tanh(c_t) * o'
        np.subtract(g, prev(s.c, s.c0, out=da_i), out=da_i)
        da_i *= i
        da_i *= f                                        # da_i = dc_t (g_t - c_{t-1}) i_t (1 - i_t)
        dtanh(g, out=da_g)
        da_g *= i                                        # da_g = dc_t * i_t * g'
        dh_to_dc = dtanh(tanh_c)
        dh_to_dc *= o                                    # dc_t += dh_t * o_t * tanh'(c_t)
        dh0, dc0 = lstm_loop(da, dh, dh_to_dc, f, W["Wh"])
        return {"h0": dh0, "c0": dc0}, da
