"""The LSTM with peepholes: Greff et al.'s vanilla LSTM, from which their variants remove one part.

The fast forward and backward here serve the whole vanilla family: a variant declares which
gates it keeps (`gate_names`, `fused_letters`), which of them read the cell state
(`peepholes`) and which squashings it drops (`unsquashed`: 'g', 'c'); the
loops read those declarations, so a variant module holds its equations, its plain `step`
and the declarations, and nothing else.
"""

import numpy as np

from ..trace import State
from .base import (
    Diagram,
    affine,
    dsigmoid,
    dtanh,
    project,
    sigmoid,
    sigmoid_from_tanh,
    sum_prev_products,
    times_prev,
)
from .lstm import LSTM_STEPS, LSTMCell

__all__ = ["PeepholeLSTMCell"]


class PeepholeLSTMCell(LSTMCell):
    r"""The LSTM with diagonal peephole connections (Gers & Schmidhuber 2000; Greff et al. 2015).

    The gates also look at the cell state: the input and forget gates at c_{t-1}, the output gate
    at the new c_t. As changes to `LSTMCell`:

    .. math::
        f_t &= \sigma(W_{xf} x_t + W_{hf} h_{t-1} + p_f \odot c_{t-1} + b_f) \\
        i_t &= \sigma(W_{xi} x_t + W_{hi} h_{t-1} + p_i \odot c_{t-1} + b_i) \\
        o_t &= \sigma(W_{xo} x_t + W_{ho} h_{t-1} + p_o \odot c_t + b_o)

    where p_i, p_f, p_o (H,) are the peephole weights (diagonal, so each unit sees only its own
    cell), drawn like the other weights. g_t, c_t and h_t are as in the LSTM. Fused layout
    (f | i | g | o). No PyTorch or Keras layer has this cell. This is the "vanilla" LSTM of
    Greff et al.'s "LSTM: A Search Space Odyssey": each of their variants changes one part of it.

    >>> cell = PeepholeLSTMCell(input_size=2, hidden_size=3, seed=0)
    >>> sorted(k for k in cell.params if k.startswith('p_')), cell.num_params
    (['p_f', 'p_i', 'p_o'], 81)
    """

    kind = "peephole"
    # the gates that write the cell state come first (the sigmoid ones before g), o last
    fused_letters = ("f", "i", "g", "o")
    sigmoid_letters = ("f", "i", "o")
    torch_order = None
    keras_order = None
    color = "#CC79A7"
    peepholes = ("f", "i", "o")
    diagram = Diagram("lstm", LSTM_STEPS, peephole=("f", "i", "o"))

    def _extra_arrays(self, H):
        return {"p": np.zeros(len(self.peepholes) * H, self.dtype)}   # (p_f | p_i | p_o)

    def named(self, fused):
        out = super().named(fused)
        p = fused["p"].reshape(len(self.peepholes), -1)
        views = dict(zip(self.peepholes, p, strict=True))
        out.update({"p_" + L: views[L] for L in "ifo" if L in views})
        return out

    def _init_weights(self, rng):
        super()._init_weights(rng)
        k = 1.0 / np.sqrt(self.hidden_size)
        self._fused["p"][...] = rng.uniform(-k, k, size=self._fused["p"].shape)

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the peephole equations; returns (State(h_t, c_t), gates)."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        i = sigmoid(affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _halved(self, W):
        # the peepholes feed sigmoid gates only: halved with them
        return (*super()._halved(W), W["p"] * 0.5)

    def _layout(self):
        """Where things sit: the number of f, i blocks (first), g's block, o's block (or None)."""
        L = self.fused_letters
        n_fi = sum(k in L for k in "fi")
        return n_fi, n_fi, (n_fi + 1 if "o" in L else None)

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        n_fi, kg, ko = self._layout()
        has_f, has_i = "f" in self.fused_letters, "i" in self.fused_letters
        squash_g, squash_c = "g" not in self.unsquashed, "c" not in self.unsquashed
        Wx, Wh, b, p = self._halved(W)                   # sigmoid rows and peepholes halved
        acts = project(x3, Wx, b)                        # (T, G*H, B)
        T, G, B = acts.shape[0], acts.shape[1] // H, acts.shape[2]
        h, c = (np.empty((T, H, B), self.dtype) for _ in range(2))
        tanh_c = np.empty((T, H, B), self.dtype) if squash_c else c     # h_t = o_t * c_t: c
        p_fi = p[:n_fi * H].reshape(n_fi, H, 1)          # (p_f | p_i) as columns
        p_o = p[n_fi * H:, None] if ko is not None else None
        squashed = (n_fi + squash_g) * H                 # rows that one tanh squashes
        hp = np.empty((G * H, B), self.dtype)            # scratch for W_h* h_{t-1}
        pc = np.empty((max(n_fi, 1), H, B), self.dtype)  # scratch for the peephole terms
        tmp = np.empty((H, B), self.dtype)
        half = np.full((max(n_fi, 1) * H, B), 0.5, self.dtype)
        h_prev, c_prev = h0, c0
        steps = zip(acts, acts.reshape(T, G, H, B), h, c, tanh_c, strict=True)
        for a, blocks, h_t, c_t, tanh_c_t in steps:
            np.dot(Wh, h_prev, out=hp)
            a += hp                                      # W_x* x_t + W_h* h_{t-1} + b_*
            if n_fi:
                np.multiply(p_fi, c_prev, out=pc[:n_fi])
                a[:n_fi * H] += pc[:n_fi].reshape(n_fi * H, B)   # + p_f * c_{t-1}, p_i * c_{t-1}
            np.tanh(a[:squashed], out=a[:squashed])      # g_t, and tanh(a/2) for f, i
            if n_fi:
                sigmoid_from_tanh(a[:n_fi * H], half)    # f_t, i_t
            g = blocks[kg]
            if has_f:
                np.multiply(blocks[0], c_prev, out=c_t)  # f_t * c_{t-1}
            else:
                np.copyto(c_t, c_prev)                   # f_t = 1
            if has_i:
                np.multiply(blocks[n_fi - 1], g, out=tmp)
                c_t += tmp                               # c_t = f_t * c_{t-1} + i_t * g_t
            else:
                c_t += g                                 # i_t = 1
            if squash_c:
                np.tanh(c_t, out=tanh_c_t)
            if ko is None:
                np.copyto(h_t, tanh_c_t)                 # o_t = 1
                h_prev, c_prev = h_t, c_t
                continue
            o = blocks[ko]
            np.multiply(p_o, c_t, out=tmp)
            o += tmp                                     # + p_o * c_t
            np.tanh(o, out=o)
            sigmoid_from_tanh(o, half[:H])               # o_t
            np.multiply(o, tanh_c_t, out=h_t)            # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_t, c_t
        return self._record(x3, h, h0, c, c0, tanh_c, acts)

    def _back(self, s, dh, W):
        H = self.hidden_size
        n_fi, kg, ko = self._layout()
        gate = s.gates
        f, i, g, o = (gate.get(L) for L in "figo")
        tanh_c, c = s.tanh_c, s.c
        p = {L: W["p"][k * H:(k + 1) * H, None] for k, L in enumerate(self.peepholes)}
        da = np.empty_like(s.acts)
        T, GH, B = da.shape
        blocks = da.reshape(T, GH // H, H, B)
        if f is not None:
            da_f = blocks[:, 0]
            dsigmoid(f, out=da_f)
            times_prev(da_f, c, s.c0)                    # da_f = dc_t * c_{t-1} * f'
        if i is not None:
            da_i = blocks[:, n_fi - 1]
            dsigmoid(i, out=da_i)
            da_i *= g                                    # da_i = dc_t * g_t * i'
        da_g = blocks[:, kg]
        if "g" not in self.unsquashed:
            dtanh(g, out=da_g)                           # da_g = dc_t * g' (* i_t)
            if i is not None:
                da_g *= i
        elif i is not None:
            np.copyto(da_g, i)                           # g_t is affine: da_g = dc_t (* i_t)
        else:
            da_g.fill(1.0)
        if "c" not in self.unsquashed:
            dh_to_dc = dtanh(tanh_c)                     # dc_t += dh_t * o_t * tanh'(c_t)
            if o is not None:
                dh_to_dc *= o
        else:
            dh_to_dc = np.ones_like(c) if o is None else o.copy()   # dc_t += dh_t * o_t
        if o is not None:
            da_o = blocks[:, ko]
            dsigmoid(o, out=da_o)
            da_o *= tanh_c                               # da_o = dh_t * tanh(c_t) * o'
        WhT = W["Wh"].T
        dc, tmp = np.empty((H, B), self.dtype), np.empty((H, B), self.dtype)
        dh_next = np.zeros((H, B), self.dtype)
        dc_next = np.zeros((H, B), self.dtype)
        f_rev = f[::-1] if f is not None else [None] * T
        steps = zip(da[::-1], blocks[::-1], dh[::-1], dh_to_dc[::-1], f_rev, strict=True)
        for da_t, blocks_t, dh_t, dh_to_dc_t, f_t in steps:
            dh_t += dh_next                              # dL/dh_t: from the loss at t and step t+1
            np.multiply(dh_t, dh_to_dc_t, out=dc)
            dc += dc_next                                # dc_t: via h_t = o_t tanh(c_t) and c_{t+1}
            if ko is not None:
                da_o_t = blocks_t[ko]
                da_o_t *= dh_t                           # output gate
                np.multiply(da_o_t, p["o"], out=tmp)
                dc += tmp                                # ... and through o_t's peephole on c_t
            blocks_t[:kg + 1] *= dc                      # f, i, g write c_t
            if f_t is not None:
                np.multiply(dc, f_t, out=dc_next)        # dc_{t-1}: along the cell path ...
            else:
                np.copyto(dc_next, dc)
            for k in range(n_fi):                        # ... and through the peepholes
                np.multiply(blocks_t[k], p[self.fused_letters[k]], out=tmp)
                dc_next += tmp                           #     of f_t and i_t on c_{t-1}
            np.dot(WhT, da_t, out=dh_next)               # dh_{t-1}: back through every W_h*
        d = {"h0": dh_next, "c0": dc_next}
        pos = {L: k for k, L in enumerate(self.fused_letters)}
        d["p"] = np.concatenate([                        # dp_f, dp_i = sum_t da c_{t-1};
            np.einsum("thb,thb->h", blocks[:, pos[L]], c) if L == "o"   # dp_o = sum_t da_o c_t
            else sum_prev_products(blocks[:, pos[L]], c, s.c0)
            for L in self.peepholes])
        return d, da
