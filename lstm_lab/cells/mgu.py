"""The minimal gated unit (Zhou et al. 2016): one gate that both resets and updates."""

import numpy as np

from ..trace import State
from .base import (
    Cell,
    Diagram,
    affine,
    diag_times,
    dsigmoid,
    dtanh,
    eye,
    inputs,
    prev,
    prev_rows,
    project,
    row_view,
    rows,
    sigmoid,
    sigmoid_from_tanh,
    split,
)
from .gru import GRURecord, gru_mix

__all__ = ["MGUCell"]


class MGUCell(Cell):
    r"""The minimal gated unit (MGU; Zhou, Wu, Zhang & Zhou 2016).

    A GRU with its two gates merged into one forget gate f_t, which gates the old state into
    the candidate (like the GRU's reset gate) and mixes the candidate in (like 1 - z_t):

    .. math::
        f_t &= \sigma(W_{xf} x_t + W_{hf} h_{t-1} + b_f)                \quad\text{forget gate} \\
        g_t &= \tanh(W_{xg} x_t + W_{hg} (f_t \odot h_{t-1}) + b_g)      \quad\text{candidate} \\
        h_t &= (1 - f_t) \odot h_{t-1} + f_t \odot g_t

    where x_t (D,) is the input, h_t (H,) the hidden state (no separate cell state), each
    W_x* (H, D), W_h* (H, H), b_* (H,). Note the direction: f_t near 1 *replaces* h_{t-1}
    by the candidate, f_t near 0 keeps it. Fused layout (f | g). Weights are drawn
    U(-1/sqrt(H), 1/sqrt(H)) from `seed`; biases are zero. No PyTorch or Keras layer has it.

    >>> cell = MGUCell(input_size=3, hidden_size=4, seed=0)
    >>> cell.gate_names, cell.num_params
    (('f', 'g'), 64)
    >>> trace = cell.forward(np.ones((5, 3)))
    >>> trace.h.shape, trace.c is None
    ((5, 4), True)
    """

    kind = "mgu"
    gate_names = ("f", "g")
    fused_letters = ("f", "g")
    sigmoid_letters = ("f",)
    color = "#AA3377"
    diagram = Diagram("gru", ("forget", "update", "candidate", "output"), gates=("f", None))

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, None), {'f','g': values})."""
        x_t, h_prev, _ = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(affine(p, "f", x_t, h_prev))
        g = np.tanh(affine(p, "g", x_t, f * h_prev))
        h = (1 - f) * h_prev + f * g
        return State(h, None), {"f": f, "g": g}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        Wx, Wh, b = self._halved(W)                      # f rows halved: see _halved
        Wh_f, Wh_g = Wh[:H], Wh[H:]
        acts = project(x3, Wx, b)                        # (T, 2H, B): W_x* x_t + b_*
        T, _, B = acts.shape
        h = np.empty((T, H, B), self.dtype)
        side = np.empty((T, H, B), self.dtype)           # f_t * h_{t-1}
        tmp = np.empty((H, B), self.dtype)
        half = np.full((H, B), 0.5, self.dtype)
        h_prev = h0
        for (f, g), h_t, side_t in zip(acts.reshape(T, 2, H, B), h, side, strict=True):
            np.dot(Wh_f, h_prev, out=tmp)
            f += tmp                                     # W_xf x_t + W_hf h_{t-1} + b_f (halved)
            np.tanh(f, out=f)
            sigmoid_from_tanh(f, half)                   # f_t
            np.multiply(f, h_prev, out=side_t)           # f_t * h_{t-1}
            np.dot(Wh_g, side_t, out=tmp)
            g += tmp                                     # W_xg x_t + W_hg (f_t * h_{t-1}) + b_g
            np.tanh(g, out=g)                            # g_t
            gru_mix(h_t, h_prev, f, g)                   # h_t = f_t g_t + (1 - f_t) h_{t-1}
            h_prev = h_t
        return GRURecord(x=x3, h=h, h0=h0, gates=self._gate_views(acts), acts=acts, side=side)

    def _back(self, s, dh, W):
        H = self.hidden_size
        f, g = s.gates["f"], s.gates["g"]
        h_prev = prev(s.h, s.h0)
        da = np.empty_like(s.acts)
        T, _, B = da.shape
        da_f, da_g = split(da, self.fused_letters, H, axis=1).values()
        # factors, for every t at once, that the loop multiplies by dL/dh_t (or d(f h_{t-1}))
        dtanh(g, out=da_g)
        da_g *= f                                        # da_g = dh_t * f_t * g'
        f_slope = dsigmoid(f)
        np.subtract(g, h_prev, out=da_f)
        da_f *= f_slope                                  # da_f = dh_t (g_t - h_{t-1}) f' + ...
        side_f = h_prev * f_slope                        # ... + d(f_t h_{t-1}) h_{t-1} f'
        keep = 1.0 - f                                   # dh_{t-1} += dh_t (1 - f_t)
        Wh_fT, Wh_gT = W["Wh"][:H].T, W["Wh"][H:].T
        d_side = np.empty((H, B), self.dtype)
        tmp = np.empty((H, B), self.dtype)
        dh_next = np.zeros((H, B), self.dtype)
        steps = zip(da_f[::-1], da_g[::-1], dh[::-1], side_f[::-1], keep[::-1], f[::-1],
                    strict=True)
        for da_f_t, da_g_t, dh_t, side_f_t, keep_t, f_t in steps:
            dh_t += dh_next                              # dL/dh_t: from the loss at t and step t+1
            da_g_t *= dh_t                               # g_t
            np.dot(Wh_gT, da_g_t, out=d_side)            # back through W_hg to f_t * h_{t-1}
            da_f_t *= dh_t
            np.multiply(d_side, side_f_t, out=tmp)
            da_f_t += tmp                                # f_t, through the mix and the candidate
            np.multiply(dh_t, keep_t, out=dh_next)       # the (1 - f_t) h_{t-1} path
            np.multiply(d_side, f_t, out=tmp)
            dh_next += tmp                               # the f_t * h_{t-1} path
            np.dot(Wh_fT, da_f_t, out=tmp)
            dh_next += tmp                               # through W_hf
        # W_hf reads h_{t-1}; W_hg reads f_t * h_{t-1}
        d = {"Wh": np.concatenate([rows(da_f).T @ prev_rows(s.h, s.h0),
                                   rows(da_g).T @ rows(s.side)]),
             "h0": dh_next}
        return d, da

    def _preacts(self, s, W):
        x, h_prev, _ = inputs(s)
        H = self.hidden_size
        a = x @ W["Wx"].T + W["b"]
        a[..., :H] += h_prev @ W["Wh"][:H].T
        a[..., H:] += row_view(s.side) @ W["Wh"][H:].T
        return split(a, self.fused_letters, H)

    def _step_jacobians(self, s, P):
        _, h_prev, _ = inputs(s)
        f, g = row_view(s.gates["f"]), row_view(s.gates["g"])
        df = diag_times(f * (1.0 - f), P["W_hf"])        # df_t/dh_{t-1}
        d_side = eye(f) + diag_times(h_prev, df)         # d(f_t * h_{t-1})/dh_{t-1}
        dg = diag_times(1.0 - g**2, P["W_hg"] @ d_side)  # dg_t/dh_{t-1}
        # h_t = (1 - f) h_{t-1} + f g
        return eye(1.0 - f) + diag_times(g - h_prev, df) + diag_times(f, dg)
