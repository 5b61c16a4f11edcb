"""The vanilla (Elman) RNN cell: one tanh layer, no gates."""

from dataclasses import dataclass

import numpy as np

from ..trace import State
from .base import Cell, Diagram, Record, affine, diag_times, dtanh, project, row_view

__all__ = ["RNNCell", "RNNRecord"]


@dataclass
class RNNRecord(Record):
    """The RNN keeps only its hidden states: h (T, H, B), no gates."""


class RNNCell(Cell):
    r"""The vanilla (Elman) RNN cell.

    .. math::
        h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)

    where x_t (D,) is the input at step t, h_t (H,) the hidden state, W_xh (H, D) and W_hh (H, H)
    the input and recurrent weights, b_h (H,) the bias. A readout y_t = W_hy h_t + b_y lives on the
    models that need one (see `lstm_lab.train`).

    Weights are drawn U(-1/sqrt(H), 1/sqrt(H)) from `seed` (PyTorch's scheme); the bias is zero.

    >>> cell = RNNCell(input_size=2, hidden_size=3, seed=0)
    >>> trace = cell.forward(np.ones((5, 2)))
    >>> trace.h.shape, cell.num_params
    ((5, 3), 18)
    """

    kind = "rnn"
    fused_letters = ("h",)
    torch_order = ("h",)
    keras_order = ("h",)
    color = "#D55E00"
    diagram = Diagram("rnn", ("hidden",))

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h); returns (State(h_t, None), {})."""
        x_t, h_prev, _ = self._check_step(x_t, h_prev, c_prev)
        h_t = np.tanh(affine(self.params, "h", x_t, h_prev))
        return State(h_t, None), {}

    def _run(self, x3, h0, c0, W):
        h = project(x3, W["Wx"], W["b"])         # (T, H, B): W_xh x_t + b_h, tanh'd in place below
        Wh = W["Wh"]
        hp = np.empty_like(h0)                   # scratch for W_hh h_{t-1}
        h_prev = h0
        for h_t in h:
            np.dot(Wh, h_prev, out=hp)
            h_t += hp                            # a_t = W_xh x_t + b_h + W_hh h_{t-1}
            np.tanh(h_t, out=h_t)                # h_t = tanh(a_t)
            h_prev = h_t
        return RNNRecord(x=x3, h=h, h0=h0, gates={})

    def _back(self, s, dh, W):
        slope = dtanh(s.h)                       # tanh'(a_t) = 1 - h_t^2, for every t at once
        WhT = W["Wh"].T
        dh_next = np.zeros_like(s.h0)
        for dh_t, slope_t in zip(dh[::-1], slope[::-1], strict=True):
            dh_t += dh_next                      # dL/dh_t: from the loss at t and step t+1
            dh_t *= slope_t                      # da_t = dL/dh_t * tanh'(a_t), written over dh_t
            np.dot(WhT, dh_t, out=dh_next)       # back through W_hh to h_{t-1}
        return {"h0": dh_next}, dh               # dh now holds da

    def _preacts(self, s, W):
        h_prev = np.concatenate([s.h0[None], s.h[:-1]]).swapaxes(1, 2)
        return {"h": s.x @ W["Wx"].T + W["b"] + h_prev @ W["Wh"].T}

    def _step_jacobians(self, s, P):
        # h_t = tanh(a_t): dh_t/dh_{t-1} = diag(1 - h_t^2) W_hh
        h = row_view(s.h)
        return diag_times(1.0 - h**2, P["W_hh"])
