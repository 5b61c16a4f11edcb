"""The long short-term memory cell, and what its whole family shares: the record, the reverse
loop and the step Jacobians."""

from dataclasses import dataclass

import numpy as np

from ..trace import State
from .base import (
    Cell,
    Diagram,
    Record,
    affine,
    diag_times,
    dsigmoid,
    dtanh,
    eye,
    inputs,
    project,
    row_view,
    sigmoid,
    sigmoid_from_tanh,
    split,
    times_prev,
)

__all__ = ["LSTMCell", "LSTMRecord", "lstm_loop"]

LSTM_STEPS = ("forget", "input", "update", "output")


@dataclass
class LSTMRecord(Record):
    """The LSTM family's record: besides x, h, h0 and the gates, the cell states c (T, H, B),
    c0 (H, B), tanh(c_t) (the same array as c when the cell does not squash c_t) and acts
    (T, G*H, B), the fused gate values the gates are views of."""

    c: np.ndarray
    c0: np.ndarray
    tanh_c: np.ndarray
    acts: np.ndarray


class LSTMCell(Cell):
    r"""The long short-term memory cell (Hochreiter & Schmidhuber 1997, with a forget gate).

    .. math::
        f_t &= \sigma(W_{xf} x_t + W_{hf} h_{t-1} + b_f)   \quad\text{forget gate} \\
        i_t &= \sigma(W_{xi} x_t + W_{hi} h_{t-1} + b_i)   \quad\text{input gate} \\
        g_t &= \tanh(W_{xg} x_t + W_{hg} h_{t-1} + b_g)    \quad\text{candidate } (\tilde C_t) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t           \quad\text{cell state} \\
        o_t &= \sigma(W_{xo} x_t + W_{ho} h_{t-1} + b_o)   \quad\text{output gate} \\
        h_t &= o_t \odot \tanh(c_t)                        \quad\text{hidden state}

    where sigma is the sigmoid, odot the Hadamard (element-wise) product, x_t (D,) the input,
    h_t and c_t (H,) the hidden and cell states, each W_x* (H, D), each W_h* (H, H), each b_* (H,).
    In Greff et al.'s "LSTM: A Search Space Odyssey" this is the NP variant: the vanilla LSTM
    (`PeepholeLSTMCell`) without peepholes.

    Fused layout: the rows of the input weights are (W_xo | W_xf | W_xi | W_xg), likewise the
    recurrent weights and biases, so the three sigmoid gates sit side by side. PyTorch orders
    them i, f, g, o and Keras i, f, c, o; interop maps them by name.

    Weights are drawn U(-1/sqrt(H), 1/sqrt(H)) from `seed`; biases are zero except
    b_f = forget_bias (1.0 by default, as Jozefowicz et al. 2015 recommend).

    >>> cell = LSTMCell(input_size=3, hidden_size=4, seed=0)
    >>> trace = cell.forward(np.zeros((6, 3)))
    >>> trace.gates['f'].shape, trace.c.shape, cell.num_params
    ((6, 4), (6, 4), 128)
    >>> round(float(trace.gates['f'][0, 0]), 4)   # sigmoid(b_f) with b_f = 1
    0.7311
    """

    kind = "lstm"
    gate_names = ("f", "i", "g", "o")
    has_cell_state = True
    takes_forget_bias = True
    fused_letters = ("o", "f", "i", "g")
    sigmoid_letters = ("o", "f", "i")
    torch_order = ("i", "f", "g", "o")
    keras_order = ("i", "f", "g", "o")
    color = "#0072B2"
    diagram = Diagram("lstm", LSTM_STEPS)
    # what the family's step Jacobians read (see `_step_jacobians`)
    peepholes = ()              # gates reading the cell state (f, i: c_{t-1}; o: c_t)
    coupled = False             # f_t = 1 - i_t

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64, forget_bias=1.0):
        super().__init__(input_size, hidden_size, seed=seed, dtype=dtype)
        real = isinstance(forget_bias, (int, float, np.integer, np.floating))
        if not real or not np.isfinite(forget_bias):
            raise TypeError(f"forget_bias must be a finite real number; got {forget_bias!r}")
        self.forget_bias = float(forget_bias)
        self._set_forget_bias(self.forget_bias)

    def _set_forget_bias(self, value):
        self.params["b_f"][...] = value

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), {'f','i','g','o': values})."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(affine(p, "f", x_t, h_prev))
        i = sigmoid(affine(p, "i", x_t, h_prev))
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(affine(p, "o", x_t, h_prev))
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        Wx, Wh, b = self._halved(W)                      # o, f, i rows halved: see _halved
        acts = project(x3, Wx, b)                        # (T, 4H, B): W_x* x_t + b_* for every t
        T, _, B = acts.shape
        h, c, tanh_c = (np.empty((T, H, B), self.dtype) for _ in range(3))
        hp = np.empty((4 * H, B), self.dtype)            # scratch for W_h* h_{t-1}
        ig = np.empty((H, B), self.dtype)                # scratch for i_t * g_t
        half = np.full((3 * H, B), 0.5, self.dtype)
        h_prev, c_prev = h0, c0
        steps = zip(acts, acts.reshape(T, 4, H, B), h, c, tanh_c, strict=True)
        for a, (o, f, i, g), h_t, c_t, tanh_c_t in steps:
            np.dot(Wh, h_prev, out=hp)
            a += hp                                      # a_t = W_x* x_t + W_h* h_{t-1} + b_*
            np.tanh(a, out=a)                            # g_t, and tanh(a/2) for o, f, i
            sigmoid_from_tanh(a[:3 * H], half)           # o_t, f_t, i_t
            np.multiply(f, c_prev, out=c_t)
            np.multiply(i, g, out=ig)
            c_t += ig                                    # c_t = f_t * c_{t-1} + i_t * g_t
            np.tanh(c_t, out=tanh_c_t)
            np.multiply(o, tanh_c_t, out=h_t)            # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_t, c_t
        return self._record(x3, h, h0, c, c0, tanh_c, acts)

    def _record(self, x3, h, h0, c, c0, tanh_c, acts):
        """The forward's LSTMRecord; the gates are views of acts (a coupled cell's f_t = 1 - i_t
        is computed here, for the trace)."""
        gates = self._gate_views(acts)
        if self.coupled:
            gates = {"f": 1.0 - gates["i"], **gates}
        return LSTMRecord(x=x3, h=h, h0=h0, gates=gates, c=c, c0=c0, tanh_c=tanh_c, acts=acts)

    def _back(self, s, dh, W):
        H = self.hidden_size
        o, f, i, g = (s.gates[L] for L in self.fused_letters)
        tanh_c = s.tanh_c
        # da holds, per gate, the factor that turns dh_t (for o) or dc_t (for f, i, g) into the
        # gradient of that gate's pre-activation; the loop multiplies it in place.
        da = np.empty_like(s.acts)
        da_o, da_f, da_i, da_g = split(da, self.fused_letters, H, axis=1).values()
        dsigmoid(o, out=da_o)
        da_o *= tanh_c                                    # da_o = dh_t * tanh(c_t) * o'
        dsigmoid(f, out=da_f)
        times_prev(da_f, s.c, s.c0)                       # da_f = dc_t * c_{t-1} * f'
        dsigmoid(i, out=da_i)
        da_i *= g                                         # da_i = dc_t * g_t * i'
        dtanh(g, out=da_g)
        da_g *= i                                         # da_g = dc_t * i_t * g'
        dh_to_dc = dtanh(tanh_c)
        dh_to_dc *= o                                     # dc_t += dh_t * o_t * tanh'(c_t)
        dh0, dc0 = lstm_loop(da, dh, dh_to_dc, f, W["Wh"])
        return {"h0": dh0, "c0": dc0}, da

    def _preacts(self, s, W):
        x, h_prev, c_prev = inputs(s)
        a = split(x @ W["Wx"].T + W["b"] + h_prev @ W["Wh"].T, self.fused_letters,
                  self.hidden_size)
        if self.peepholes:
            P = self.named(W)
            for L in self.peepholes:      # p_f, p_i read c_{t-1}; p_o reads c_t
                a[L] += P["p_" + L] * (row_view(s.c) if L == "o" else c_prev)
        if self.coupled:
            a["f"] = -a["i"]              # f_t = 1 - sigmoid(a_i) = sigmoid(-a_i)
        return a

    def _step_jacobians(self, s, P):
        """ds_t/ds_{t-1} with s = [h; c], for every member of the family: each declares which
        gates it has, which read the cell state, and which squashings it drops."""
        _, h_prev, c_prev = inputs(s)
        one = np.ones_like(c_prev)
        gate = {L: row_view(v) for L, v in s.gates.items()}
        f, i, g, o = (gate.get(L, one) for L in "figo")
        c = row_view(s.c)
        names = self.gate_names

        def through(L, v):
            """d(gate L)/dh_{t-1} and /dc_{t-1} (None: zero) for a sigmoid gate with value v."""
            slope = v * (1.0 - v)
            d_h = diag_times(slope, P["W_h" + L])
            d_c = eye(slope * P["p_" + L]) if L in self.peepholes and L != "o" else None
            return d_h, d_c

        di_h, di_c = through("i", i) if "i" in names else (None, None)
        if self.coupled:                                 # f = 1 - i
            df_h, df_c = -di_h, None if di_c is None else -di_c
        elif "f" in names:
            df_h, df_c = through("f", f)
        else:
            df_h = df_c = None
        g_slope = 1.0 - g**2 if "g" not in self.unsquashed else one
        dg_h = diag_times(g_slope, P["W_hg"])            # dg_t/dh_{t-1}
        # c_t = f c_{t-1} + i g
        dc_h = diag_times(i, dg_h)
        dc_c = eye(f)
        for gate_h, gate_c, factor in ((df_h, df_c, c_prev), (di_h, di_c, g)):
            if gate_h is not None:
                dc_h = dc_h + diag_times(factor, gate_h)
            if gate_c is not None:
                dc_c = dc_c + diag_times(factor, gate_c)
        # o_t = sigmoid(W_xo x + W_ho h_{t-1} [+ p_o * c_t] + b_o)
        if "o" in names:
            so = o * (1.0 - o)
            do_h = diag_times(so, P["W_ho"])
            do_c = None
            if "o" in self.peepholes:
                do_h = do_h + diag_times(so * P["p_o"], dc_h)
                do_c = diag_times(so * P["p_o"], dc_c)
        else:
            do_h = do_c = None
        # h_t = o tanh(c_t), or o c_t without the squashing
        tc = np.tanh(c) if "c" not in self.unsquashed else c
        dtc = o * (1.0 - tc**2) if "c" not in self.unsquashed else o
        dh_h = diag_times(dtc, dc_h)
        dh_c = diag_times(dtc, dc_c)
        if do_h is not None:
            dh_h = dh_h + diag_times(tc, do_h)
        if do_c is not None:
            dh_c = dh_c + diag_times(tc, do_c)
        top = np.concatenate([dh_h, dh_c], axis=-1)
        bottom = np.concatenate([dc_h, dc_c], axis=-1)
        return np.concatenate([top, bottom], axis=-2)


def lstm_loop(da, dh, dh_to_dc, f, Wh):
    """The reverse time loop shared by the LSTM and the coupled LSTM, on columns.

    da (T, G*H, B) holds per-gate factors (see `LSTMCell._back`); block 0 is the output gate,
    which takes dh_t, the other blocks take dc_t. dh (T, H, B) is dL/dh_t from the loss (a
    private array: the gradient from step t+1 is added into it). The cell state flows back
    through the forget gate: dc_{t-1} = dc_t * f_t. Returns dL/dh_0 and dL/dc_0, (H, B).
    """
    T, GH, B = da.shape
    H = dh.shape[1]
    WhT = Wh.T
    dc = np.empty((H, B), da.dtype)
    dh_next = np.zeros((H, B), da.dtype)
    dc_next = np.zeros((H, B), da.dtype)
    steps = zip(da[::-1], da.reshape(T, GH // H, H, B)[::-1], dh[::-1], dh_to_dc[::-1], f[::-1],
                strict=True)
    for da_t, blocks, dh_t, dh_to_dc_t, f_t in steps:
        dh_t += dh_next                              # dL/dh_t: from the loss at t and step t+1
        np.multiply(dh_t, dh_to_dc_t, out=dc)
        dc += dc_next                                # dc_t: via h_t = o_t tanh(c_t) and c_{t+1}
        blocks[0] *= dh_t                            # output gate
        blocks[1:] *= dc                             # the gates that write c_t
        np.multiply(dc, f_t, out=dc_next)            # dc_{t-1} = dc_t * f_t, along the cell path
        np.dot(WhT, da_t, out=dh_next)               # dh_{t-1}: back through every W_h*
    return dh_next, dc_next
