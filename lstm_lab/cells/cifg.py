"""CIFG as Greff et al. define it: coupled input and forget gates, with the peepholes kept."""

import numpy as np

from ..trace import State
from .base import (
    Diagram,
    affine,
    dsigmoid,
    dtanh,
    prev,
    project,
    sigmoid,
    sigmoid_from_tanh,
    split,
    sum_prev_products,
)
from .coupled import CoupledLSTMCell
from .lstm import LSTM_STEPS
from .peephole import PeepholeLSTMCell

__all__ = ["PeepholeCIFGCell"]


class PeepholeCIFGCell(CoupledLSTMCell, PeepholeLSTMCell):
    r"""Coupled input and forget gates with peepholes (CIFG; Greff et al. 2015).

    Greff et al.'s CIFG is their vanilla (peephole) LSTM with f_t = 1 - i_t; `CoupledLSTMCell`
    couples the gates of the LSTM without peepholes (CIFG + NP). As a change to
    `PeepholeLSTMCell`:

    .. math::
        i_t &= \sigma(W_{xi} x_t + W_{hi} h_{t-1} + p_i \odot c_{t-1} + b_i) \\
        f_t &= 1 - i_t \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        o_t &= \sigma(W_{xo} x_t + W_{ho} h_{t-1} + p_o \odot c_t + b_o)

    with g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g) and h_t = o_t ⊙ tanh(c_t), where x_t (D,) is
    the input, h_t and c_t (H,) the hidden and cell states, each W_x* (H, D), W_h* (H, H),
    b_* (H,), and p_i, p_o (H,) the peepholes (no W_xf, W_hf, b_f, p_f). The trace still
    records f_t. `forget_bias` sets b_i = -forget_bias. Fused layout (i | g | o).

    >>> cell = PeepholeCIFGCell(input_size=2, hidden_size=3, seed=0)
    >>> sorted(k for k in cell.params if k.startswith('p_')), cell.num_params
    (['p_i', 'p_o'], 60)
    >>> trace = cell.forward(np.ones((4, 2)))
    >>> bool(np.allclose(trace.gates['f'], 1 - trace.gates['i']))
    True
    """

    kind = "cifg"
    fused_letters = ("i", "g", "o")
    sigmoid_letters = ("i", "o")
    peepholes = ("i", "o")
    color = "#661100"
    diagram = Diagram("lstm", LSTM_STEPS, peephole=("i", "o"), coupled=True)

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), gates including f)."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        i = sigmoid(affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        f = 1 - i
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        Wx, Wh, b, p = self._halved(W)                   # i, o rows and the peepholes halved
        p_i, p_o = p[:H, None], p[H:, None]
        acts = project(x3, Wx, b)                        # (T, 3H, B)
        T, _, B = acts.shape
        h, c, tanh_c = (np.empty((T, H, B), self.dtype) for _ in range(3))
        hp = np.empty((3 * H, B), self.dtype)            # scratch for W_h* h_{t-1}
        tmp = np.empty((H, B), self.dtype)
        half = np.full((H, B), 0.5, self.dtype)
        h_prev, c_prev = h0, c0
        steps = zip(acts, acts.reshape(T, 3, H, B), h, c, tanh_c, strict=True)
        for a, (i, g, o), h_t, c_t, tanh_c_t in steps:
            np.dot(Wh, h_prev, out=hp)
            a += hp                                      # W_x* x_t + W_h* h_{t-1} + b_*
            np.multiply(p_i, c_prev, out=tmp)
            i += tmp                                     # + p_i * c_{t-1}
            np.tanh(a[:2 * H], out=a[:2 * H])            # g_t, and tanh(a/2) for i
            sigmoid_from_tanh(i, half)                   # i_t
            np.subtract(g, c_prev, out=c_t)
            c_t *= i
            c_t += c_prev                                # c_t = c_{t-1} + i_t (g_t - c_{t-1})
            np.multiply(p_o, c_t, out=tmp)
            o += tmp                                     # + p_o * c_t
            np.tanh(o, out=o)
            sigmoid_from_tanh(o, half)                   # o_t
            np.tanh(c_t, out=tanh_c_t)
            np.multiply(o, tanh_c_t, out=h_t)            # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_t, c_t
        return self._record(x3, h, h0, c, c0, tanh_c, acts)   # with f_t = 1 - i_t

    def _back(self, s, dh, W):
        H = self.hidden_size
        f, i, g, o = (s.gates[L] for L in "figo")
        tanh_c, c = s.tanh_c, s.c
        p_i, p_o = W["p"][:H, None], W["p"][H:, None]
        da = np.empty_like(s.acts)
        T, _, B = da.shape
        da_i, da_g, da_o = split(da, self.fused_letters, H, axis=1).values()
        np.subtract(g, prev(c, s.c0, out=da_i), out=da_i)
        da_i *= dsigmoid(i)                              # da_i = dc_t (g_t - c_{t-1}) i'
        dtanh(g, out=da_g)
        da_g *= i                                        # da_g = dc_t * i_t * g'
        dsigmoid(o, out=da_o)
        da_o *= tanh_c                                   # da_o = dh_t * tanh(c_t) * o'
        dh_to_dc = dtanh(tanh_c)
        dh_to_dc *= o                                    # dc_t += dh_t * o_t * tanh'(c_t)
        WhT = W["Wh"].T
        dc, tmp = np.empty((H, B), self.dtype), np.empty((H, B), self.dtype)
        dh_next = np.zeros((H, B), self.dtype)
        dc_next = np.zeros((H, B), self.dtype)
        steps = zip(da[::-1], da.reshape(T, 3, H, B)[::-1], dh[::-1], dh_to_dc[::-1], f[::-1],
                    strict=True)
        for da_t, (da_i_t, da_g_t, da_o_t), dh_t, dh_to_dc_t, f_t in steps:
            dh_t += dh_next                              # dL/dh_t: from the loss at t and step t+1
            da_o_t *= dh_t                               # output gate
            np.multiply(dh_t, dh_to_dc_t, out=dc)
            dc += dc_next                                # dc_t: via h_t = o_t tanh(c_t) and c_{t+1}
            np.multiply(da_o_t, p_o, out=tmp)
            dc += tmp                                    # ... and through o_t's peephole on c_t
            da_i_t *= dc                                 # i and g write c_t
            da_g_t *= dc
            np.multiply(dc, f_t, out=dc_next)            # dc_{t-1}: along the cell path ...
            np.multiply(da_i_t, p_i, out=tmp)
            dc_next += tmp                               # ... and through i_t's peephole
            np.dot(WhT, da_t, out=dh_next)               # dh_{t-1}: back through every W_h*
        d = {"h0": dh_next, "c0": dc_next}
        d["p"] = np.concatenate([sum_prev_products(da_i, c, s.c0),   # dp_i = sum_t da_i c_{t-1}
                                 np.einsum("thb,thb->h", da_o, c)])  # dp_o = sum_t da_o c_t
        return d, da
