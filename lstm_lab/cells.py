"""The recurrent cells: vanilla RNN, LSTM, peephole LSTM, coupled-gate LSTM and GRU, in numpy.

Every cell keeps its gates' weights fused in three arrays (input weights, recurrent weights,
biases, one block of H rows per gate) and hands out per-gate views under the symbol table's
names. `forward` projects all inputs in one matrix product, then runs a short time loop that
writes into a preallocated trace; `backward` walks the same loop in reverse. `step` is the
same maths for one time step, written plainly for reading and testing.
"""

from collections.abc import Mapping

import numpy as np

from . import interop
from ._checks import as_real_array, check_dtype, check_finite, check_shape, check_size
from .trace import State, Trace, as_batched

__all__ = [
    "CELLS", "CoupledLSTMCell", "GRUCell", "LSTMCell", "Params", "PeepholeLSTMCell", "RNNCell",
    "sigmoid",
]


def sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), computed as (1 + tanh(a/2)) / 2 so it never overflows.

    >>> sigmoid(np.array([-1e6, 0.0, 1e6]))
    array([0. , 0.5, 1. ])
    """
    return 0.5 + 0.5 * np.tanh(0.5 * a)


def _sigmoid_(a):
    """sigmoid(a) written over `a` in place (four numpy calls, no temporaries)."""
    a *= 0.5
    np.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def _affine(p, letter, x, h, b=None):
    """W_x{letter} x + W_h{letter} h + b_{letter} for row vectors x (…, D) and h (…, H)."""
    b = p["b_" + letter] if b is None else b
    return x @ p["W_x" + letter].T + h @ p["W_h" + letter].T + b


class Params(Mapping):
    """The parameters of a cell by name: live arrays the cell computes with.

    Writing into an array (``params['b_f'][0] = 2.0``) changes the next forward pass.
    Assigning to a key copies the value into that array in place, after checking its shape
    and that it is finite; nothing is broadcast and no new key can be added.
    """

    def __init__(self, arrays):
        self._arrays = dict(arrays)

    def __getitem__(self, name):
        return self._arrays[name]

    def __iter__(self):
        return iter(self._arrays)

    def __len__(self):
        return len(self._arrays)

    def __setitem__(self, name, value):
        if name not in self._arrays:
            raise KeyError(f"no parameter named {name!r}; the parameters are {', '.join(self._arrays)}")
        target = self._arrays[name]
        value = as_real_array(value, name, target.dtype)
        words = {"W_x": "(H, D)", "W_h": "(H, H)"}.get(name[:3], "(H,)")
        check_shape(value, target.shape, name, words)
        target[...] = value

    def __repr__(self):
        body = ", ".join(f"{k}: {v.shape}" for k, v in self._arrays.items())
        return f"Params({body})"


class _Cell:
    """What every cell shares: fused weights with named views, checks, the trace, interop."""

    kind = None
    gate_names = ()
    has_cell_state = False
    _letters = ()  # the gates' blocks in the fused arrays, in this order
    _torch_order = None  # gate letters in PyTorch's / Keras's fused layout (None: no twin)
    _keras_order = None

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64):
        self.input_size = D = check_size(input_size, "input_size D")
        self.hidden_size = H = check_size(hidden_size, "hidden_size H")
        self.dtype = check_dtype(dtype)
        G = len(self._letters)
        # the fused arrays; `params` hands out per-gate views of them
        self._fused = {"Wx": np.zeros((G * H, D), self.dtype), "Wh": np.zeros((G * H, H), self.dtype),
                       "b": np.zeros(G * H, self.dtype)}
        self._fused.update(self._extra_arrays(H))
        self.params = Params(self._named(self._fused))
        self._init_weights(np.random.default_rng(seed))

    # -- layout -------------------------------------------------------------------------------

    def _extra_arrays(self, H):
        """Arrays beyond the fused three (peepholes, the GRU's b_hg)."""
        return {}

    def _named(self, fused):
        """Per-gate views of fused arrays (weights or their gradients) under the symbol table's names."""
        H = self.hidden_size
        block = {L: slice(k * H, (k + 1) * H) for k, L in enumerate(self._letters)}
        out = {}
        for L in self._display_letters():
            out["W_x" + L] = fused["Wx"][block[L]]
            out["W_h" + L] = fused["Wh"][block[L]]
            out["b_" + L] = fused["b"][block[L]]
        return out

    def _display_letters(self):
        return self.gate_names or ("h",)

    def _init_weights(self, rng):
        """Weights U(-1/sqrt(H), 1/sqrt(H)) drawn in `params` order; biases zero."""
        k = 1.0 / np.sqrt(self.hidden_size)
        for name, arr in self.params.items():
            if name.startswith("W_"):
                arr[...] = rng.uniform(-k, k, size=arr.shape)

    def _signature(self):
        """What must match for one cell to differentiate another's trace."""
        return (type(self), self.input_size, self.hidden_size, self.dtype, getattr(self, "reset_after", None))

    @property
    def num_params(self):
        return int(sum(a.size for a in self.params.values()))

    def __repr__(self):
        return (f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"dtype={self.dtype.name}, num_params={self.num_params})")

    # -- checks -------------------------------------------------------------------------------

    def _check_x(self, x):
        D = self.input_size
        x = as_real_array(x, "x", self.dtype, finite=False)
        if x.ndim not in (2, 3) or x.shape[-1] != D:
            raise ValueError(f"x must have shape (T, D) or (T, B, D) with D={D}; got {x.shape}")
        if 0 in x.shape:
            raise ValueError(f"x must hold at least one time step and one sequence (T, B >= 1); got shape {x.shape}")
        check_finite(x, "x")
        return x

    def _check_state(self, value, name, B, batched):
        """An initial state: None gives zeros; else (H,) unbatched or (B, H) batched, finite."""
        H = self.hidden_size
        if value is None:
            return np.zeros((B, H), self.dtype)
        arr = as_real_array(value, name, self.dtype, finite=False)
        if batched:
            check_shape(arr, (B, H), name, "(B, H)")
        else:
            check_shape(arr, (H,), name, "(H,) for an unbatched x")
        check_finite(arr, name)
        return as_batched(arr, batched)

    def _check_weights(self):
        for arr in self._fused.values():
            if not np.isfinite(arr).all():
                for name, view in self.params.items():
                    check_finite(view, f"weight {name}")

    def _check_no_c0(self, c0, name="c0"):
        if c0 is not None:
            raise ValueError(f"{name} is only for cells with a cell state (the LSTM family); "
                             f"{type(self).__name__} has none")

    # -- forward and backward -----------------------------------------------------------------

    def forward(self, x, h0=None, c0=None):
        """Run the cell over a sequence and return its Trace.

        x : (T, D) one sequence, or (T, B, D) a batch, time first.
        h0: (H,) or (B, H) initial hidden state (zeros if None).
        c0: (H,) or (B, H) initial cell state, LSTM family only (zeros if None).
        """
        x = self._check_x(x)
        batched = x.ndim == 3
        x3 = as_batched(x, batched)
        B = x3.shape[1]
        h0 = self._check_state(h0, "h0", B, batched)
        if self.has_cell_state:
            c0 = self._check_state(c0, "c0", B, batched)
        else:
            self._check_no_c0(c0)
        self._check_weights()
        weights = {k: v.copy() for k, v in self._fused.items()}
        store = self._run(x3, h0, c0, weights)
        return Trace(self, x3, h0, c0, batched, store, weights)

    def backward(self, trace, dh):
        """Backpropagation through time: dL/d(everything) given dh = dL/dh_t at every step.

        Returns a dict with every key of `params`, plus 'x', 'h0' (and 'c0' for the LSTM family),
        each shaped like its value. The weights differentiated are those the trace was made with.
        """
        if not isinstance(trace, Trace):
            raise TypeError(f"backward needs the Trace returned by forward; got {type(trace).__name__}")
        if trace._cell._signature() != self._signature():
            raise ValueError(f"this trace comes from another kind of cell ({trace._cell!r}); "
                             f"call backward on a cell like the one that made it")
        dh = as_real_array(dh, "dh", self.dtype, finite=False)
        what = "(T, B, H) like trace.h" if trace.batched else "(T, H) like trace.h"
        check_shape(dh, trace.h.shape, "dh", what)
        check_finite(dh, "dh")
        d = self._back(trace._store, as_batched(dh, trace.batched), trace._weights)
        grads = self._named(d)
        squeeze = (lambda a: a) if trace.batched else (lambda a: a[..., 0, :])
        grads["x"] = squeeze(d["x"])
        grads["h0"] = squeeze(d["h0"])
        if self.has_cell_state:
            grads["c0"] = squeeze(d["c0"])
        return grads

    @staticmethod
    def _finish_back(store, da, Wx, dhp, h_prev):
        """The sums over time: gradients of the fused weights and of x, from the pre-activation
        gradients da (T, B, G*H) of the input path and dhp of the recurrent path (the same
        array except in the GRU), where that path read h_prev (T, B, H)."""
        T, B, GH = da.shape
        da2 = da.reshape(T * B, GH)
        return {"Wx": da2.T @ store["x"].reshape(T * B, -1),     # sum_t da_t x_t^T
                "Wh": _outer_sum(dhp, h_prev),                   # sum_t dhp_t h_{t-1}^T
                "b": da2.sum(axis=0),
                "x": (da2 @ Wx).reshape(T, B, -1)}               # W_x*^T da_t

    # -- interop (see interop.py) ---------------------------------------------------------------

    @classmethod
    def from_torch(cls, state_dict, **kwargs):
        """A cell from a PyTorch layer-0 state dict (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0)."""
        return interop.from_torch(cls, state_dict, **kwargs)

    def to_torch(self):
        """This cell's weights as a PyTorch layer-0 state dict of numpy arrays."""
        return interop.to_torch(self)

    @classmethod
    def from_keras(cls, weights, **kwargs):
        """A cell from the list a Keras layer's get_weights() returns."""
        return interop.from_keras(cls, weights, **kwargs)

    def to_keras(self):
        """This cell's weights as the list a Keras layer's set_weights() takes."""
        return interop.to_keras(self)

    # -- one step, plainly ----------------------------------------------------------------------

    def _check_step(self, x_t, h_prev, c_prev):
        x_t = as_real_array(x_t, "x_t", self.dtype)
        if x_t.ndim not in (1, 2) or x_t.shape[-1] != self.input_size:
            raise ValueError(f"x_t must have shape (D,) or (B, D) with D={self.input_size}; got {x_t.shape}")
        batched = x_t.ndim == 2
        B = x_t.shape[0] if batched else 1
        h_prev = self._check_state(h_prev, "h_prev", B, batched)
        if self.has_cell_state:
            c_prev = self._check_state(c_prev, "c_prev", B, batched)
        else:
            self._check_no_c0(c_prev, "c_prev")
        if not batched:
            h_prev = h_prev[0]
            c_prev = None if c_prev is None else c_prev[0]
        return x_t, h_prev, c_prev


def _outer_sum(a, b):
    """sum over t and the batch of the outer products a_t b_t^T, for (T, B, M) and (T, B, N)."""
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def _prev(seq, first):
    """The sequence shifted one step later: (first, seq_0, ..., seq_{T-2}), for x_{t-1}-style reads."""
    out = np.empty_like(seq)
    out[0] = first
    out[1:] = seq[:-1]
    return out


def _project(x3, Wx, b, G_H):
    """Project every input at once: acts[t] = W_x x_t + b for all t, in one matrix product."""
    T, B, D = x3.shape
    acts = np.empty((T, B, G_H), Wx.dtype)
    np.matmul(x3.reshape(T * B, D), Wx.T, out=acts.reshape(T * B, G_H))
    acts += b
    return acts


class RNNCell(_Cell):
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
    _letters = ("h",)
    _torch_order = ("h",)
    _keras_order = ("h",)

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h); returns (State(h_t, None), {})."""
        x_t, h_prev, _ = self._check_step(x_t, h_prev, c_prev)
        h_t = np.tanh(_affine(self.params, "h", x_t, h_prev))
        return State(h_t, None), {}

    def _run(self, x3, h0, c0, W):
        h = _project(x3, W["Wx"], W["b"], self.hidden_size)  # pre-activations, tanh'd in place below
        WhT = W["Wh"].T
        h_prev = h0
        for t in range(len(h)):
            a = h[t]
            a += h_prev @ WhT                    # W_xh x_t + b_h + W_hh h_{t-1}
            np.tanh(a, out=a)                    # h_t
            h_prev = a
        return {"x": x3, "h": h, "h0": h0, "gates": {}}

    def _back(self, s, dh, W):
        h = s["h"]
        da = 1.0 - h * h                         # tanh'(a_t) = 1 - h_t^2, for every t at once
        Wh = W["Wh"]
        dh_next = np.zeros_like(s["h0"])
        for t in reversed(range(len(h))):
            da[t] *= dh[t] + dh_next             # dL/da_t = (dh_t + dh from step t+1) * tanh'
            dh_next = da[t] @ Wh                 # back through W_hh to h_{t-1}
        d = self._finish_back(s, da, W["Wx"], da, _prev(h, s["h0"]))
        d["h0"] = dh_next
        return d

    def _preacts(self, trace):
        s, W = trace._store, trace._weights
        return {"h": _project(s["x"], W["Wx"], W["b"], self.hidden_size) + _prev(s["h"], s["h0"]) @ W["Wh"].T}


class LSTMCell(_Cell):
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
    _letters = ("o", "f", "i", "g")
    _torch_order = ("i", "f", "g", "o")
    _keras_order = ("i", "f", "g", "o")

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64, forget_bias=1.0):
        super().__init__(input_size, hidden_size, seed=seed, dtype=dtype)
        if not isinstance(forget_bias, (int, float, np.integer, np.floating)) or not np.isfinite(forget_bias):
            raise TypeError(f"forget_bias must be a finite real number; got {forget_bias!r}")
        self.forget_bias = float(forget_bias)
        self._set_forget_bias(self.forget_bias)

    def _set_forget_bias(self, value):
        self.params["b_f"][...] = value

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, c_t), {'f','i','g','o': values})."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(_affine(p, "f", x_t, h_prev))
        i = sigmoid(_affine(p, "i", x_t, h_prev))
        g = np.tanh(_affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(_affine(p, "o", x_t, h_prev))
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        acts = _project(x3, W["Wx"], W["b"], 4 * H)      # W_x* x_t + b_* for every t
        T, B, _ = acts.shape
        h, c, tanh_c = (np.empty((T, B, H), self.dtype) for _ in range(3))
        WhT = W["Wh"].T
        h_prev, c_prev = h0, c0
        for t in range(T):
            a = acts[t]
            a += h_prev @ WhT                            # + W_h* h_{t-1}
            _sigmoid_(a[:, :3 * H])                      # o_t, f_t, i_t
            g = a[:, 3 * H:]
            np.tanh(g, out=g)                            # g_t
            o, f, i = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H]
            np.multiply(f, c_prev, out=c[t])
            c[t] += i * g                                # c_t = f_t * c_{t-1} + i_t * g_t
            np.tanh(c[t], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])          # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h[t], c[t]
        gates = {L: acts[..., k * H:(k + 1) * H] for k, L in enumerate(self._letters)}
        return {"x": x3, "h": h, "c": c, "tanh_c": tanh_c, "h0": h0, "c0": c0, "acts": acts,
                "gates": {L: gates[L] for L in self.gate_names}}

    def _back(self, s, dh, W):
        H = self.hidden_size
        g = s["gates"]
        o, f, i, gg, tc = g["o"], g["f"], g["i"], g["g"], s["tanh_c"]
        c_prev = _prev(s["c"], s["c0"])
        # da holds, per gate, the factor that turns dh_t (for o) or dc_t (for f, i, g) into the
        # gradient of that gate's pre-activation; the loop multiplies it in place.
        da = np.empty_like(s["acts"])
        da4 = da.reshape(*da.shape[:2], 4, H)
        np.multiply(tc, o * (1 - o), out=da4[:, :, 0])       # da_o = dh_t * tanh(c_t) * o'(.)
        np.multiply(c_prev, f * (1 - f), out=da4[:, :, 1])   # da_f = dc_t * c_{t-1} * f'(.)
        np.multiply(gg, i * (1 - i), out=da4[:, :, 2])       # da_i = dc_t * g_t * i'(.)
        np.multiply(i, 1 - gg * gg, out=da4[:, :, 3])        # da_g = dc_t * i_t * g'(.)
        dh_to_dc = o * (1 - tc * tc)                          # dc_t += dh_t * o_t * tanh'(c_t)
        dh0, dc0 = _lstm_loop(da, da4, dh, dh_to_dc, f, W["Wh"], s["h0"])
        d = self._finish_back(s, da, W["Wx"], da, _prev(s["h"], s["h0"]))
        d["h0"], d["c0"] = dh0, dc0
        return d

    def _preacts(self, trace):
        s, W = trace._store, trace._weights
        a = _project(s["x"], W["Wx"], W["b"], 4 * self.hidden_size) + _prev(s["h"], s["h0"]) @ W["Wh"].T
        return _split(a, self._letters, self.hidden_size)


def _lstm_loop(da, da4, dh, dh_to_dc, f, Wh, h0):
    """The reverse time loop shared by the LSTM and the coupled LSTM.

    Block 0 of each step's pre-activation gradient takes dh_t (the output gate), the other
    blocks dc_t; the cell state flows back through the forget gate: dc_{t-1} = dc_t * f_t.
    """
    dh_next = np.zeros_like(h0)
    dc_next = np.zeros_like(h0)
    for t in reversed(range(len(da))):
        dh_t = dh[t] + dh_next                       # from the loss at t and from step t+1
        dc_t = dc_next + dh_t * dh_to_dc[t]          # through h_t = o_t * tanh(c_t)
        da4[t, :, 0] *= dh_t                         # output gate
        da4[t, :, 1:] *= dc_t[:, None, :]            # the gates that write c_t
        dc_next = dc_t * f[t]                        # along the cell path
        dh_next = da[t] @ Wh                         # through every W_h* to h_{t-1}
    return dh_next, dc_next


def _split(a, letters, H):
    return {L: a[..., k * H:(k + 1) * H] for k, L in enumerate(letters)}


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
    (f | i | g | o). No PyTorch or Keras layer has this cell.

    >>> cell = PeepholeLSTMCell(input_size=2, hidden_size=3, seed=0)
    >>> sorted(k for k in cell.params if k.startswith('p_')), cell.num_params
    (['p_f', 'p_i', 'p_o'], 81)
    """

    kind = "peephole"
    _letters = ("f", "i", "g", "o")
    _torch_order = None
    _keras_order = None

    def _extra_arrays(self, H):
        return {"p": np.zeros(3 * H, self.dtype)}                # (p_f | p_i | p_o)

    def _named(self, fused):
        out = super()._named(fused)
        p = fused["p"].reshape(3, -1)
        out.update(p_i=p[1], p_f=p[0], p_o=p[2])
        return out

    def _init_weights(self, rng):
        super()._init_weights(rng)
        k = 1.0 / np.sqrt(self.hidden_size)
        self._fused["p"][...] = rng.uniform(-k, k, size=self._fused["p"].shape)

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the peephole equations; returns (State(h_t, c_t), gates)."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = sigmoid(_affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        i = sigmoid(_affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        g = np.tanh(_affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(_affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        acts = _project(x3, W["Wx"], W["b"], 4 * H)
        T, B, _ = acts.shape
        acts4 = acts.reshape(T, B, 4, H)
        h, c, tanh_c = (np.empty((T, B, H), self.dtype) for _ in range(3))
        WhT = W["Wh"].T
        p_fi, p_o = W["p"][:2 * H].reshape(2, H), W["p"][2 * H:]
        h_prev, c_prev = h0, c0
        for t in range(T):
            a = acts[t]
            a += h_prev @ WhT                              # + W_h* h_{t-1}
            acts4[t, :, :2] += p_fi * c_prev[:, None, :]   # + p_f * c_{t-1}, p_i * c_{t-1}
            _sigmoid_(a[:, :2 * H])                        # f_t, i_t
            f, i, g, o = acts4[t, :, 0], acts4[t, :, 1], acts4[t, :, 2], acts4[t, :, 3]
            np.tanh(g, out=g)                              # g_t
            np.multiply(f, c_prev, out=c[t])
            c[t] += i * g                                  # c_t
            o += p_o * c[t]                                # + p_o * c_t
            _sigmoid_(o)                                   # o_t
            np.tanh(c[t], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])            # h_t
            h_prev, c_prev = h[t], c[t]
        gates = _split(acts, self._letters, H)
        return {"x": x3, "h": h, "c": c, "tanh_c": tanh_c, "h0": h0, "c0": c0, "acts": acts,
                "gates": {L: gates[L] for L in self.gate_names}}

    def _back(self, s, dh, W):
        H = self.hidden_size
        g = s["gates"]
        f, i, gg, o, tc, c = g["f"], g["i"], g["g"], g["o"], s["tanh_c"], s["c"]
        c_prev = _prev(c, s["c0"])
        p_f, p_i, p_o = W["p"][:H], W["p"][H:2 * H], W["p"][2 * H:]
        da = np.empty_like(s["acts"])
        T, B, _ = da.shape
        da4 = da.reshape(T, B, 4, H)
        np.multiply(c_prev, f * (1 - f), out=da4[:, :, 0])   # da_f = dc_t * c_{t-1} * f'
        np.multiply(gg, i * (1 - i), out=da4[:, :, 1])       # da_i = dc_t * g_t * i'
        np.multiply(i, 1 - gg * gg, out=da4[:, :, 2])        # da_g = dc_t * i_t * g'
        np.multiply(tc, o * (1 - o), out=da4[:, :, 3])       # da_o = dh_t * tanh(c_t) * o'
        dh_to_dc = o * (1 - tc * tc)
        Wh = W["Wh"]
        dh_next = np.zeros_like(s["h0"])
        dc_next = np.zeros_like(s["h0"])
        for t in reversed(range(T)):
            dh_t = dh[t] + dh_next
            da_o = da4[t, :, 3]
            da_o *= dh_t                                     # output gate
            dc_t = dc_next + dh_t * dh_to_dc[t]              # through h_t = o_t * tanh(c_t)
            dc_t += da_o * p_o                               # and through o_t's peephole on c_t
            da4[t, :, :3] *= dc_t[:, None, :]                # f, i, g write c_t
            dc_next = dc_t * f[t]                            # along the cell path ...
            dc_next += da4[t, :, 0] * p_f                    # ... and through the peepholes
            dc_next += da4[t, :, 1] * p_i                    #     of f_t and i_t on c_{t-1}
            dh_next = da[t] @ Wh
        d = self._finish_back(s, da, W["Wx"], da, _prev(s["h"], s["h0"]))
        d["p"] = np.concatenate([
            (da4[:, :, 0] * c_prev).sum(axis=(0, 1)),         # dp_f
            (da4[:, :, 1] * c_prev).sum(axis=(0, 1)),         # dp_i
            (da4[:, :, 3] * c).sum(axis=(0, 1)),              # dp_o
        ])
        d["h0"], d["c0"] = dh_next, dc_next
        return d

    def _preacts(self, trace):
        s, W = trace._store, trace._weights
        H = self.hidden_size
        a = _project(s["x"], W["Wx"], W["b"], 4 * H) + _prev(s["h"], s["h0"]) @ W["Wh"].T
        c_prev = _prev(s["c"], s["c0"])
        a[..., :H] += W["p"][:H] * c_prev
        a[..., H:2 * H] += W["p"][H:2 * H] * c_prev
        a[..., 3 * H:] += W["p"][2 * H:] * s["c"]
        return _split(a, self._letters, H)


class CoupledLSTMCell(LSTMCell):
    r"""The LSTM with coupled input and forget gates (CIFG; Greff et al. 2015).

    One gate decides both what to forget and what to write: as a change to `LSTMCell`,

    .. math::
        f_t = 1 - i_t, \qquad c_t = (1 - i_t) \odot c_{t-1} + i_t \odot g_t

    so the cell has no W_xf, W_hf, b_f. The trace still records f_t. Since
    1 - sigmoid(a) = sigmoid(-a), `forget_bias` sets b_i = -forget_bias. Fused layout (o | i | g).
    No PyTorch or Keras layer has this cell.

    >>> cell = CoupledLSTMCell(input_size=3, hidden_size=4, seed=0)
    >>> 'W_xf' in cell.params, cell.num_params
    (False, 96)
    """

    kind = "coupled"
    _letters = ("o", "i", "g")
    _torch_order = None
    _keras_order = None

    def _display_letters(self):
        return ("i", "g", "o")

    def _set_forget_bias(self, value):
        self.params["b_i"][...] = -value

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step with f_t = 1 - i_t; returns (State(h_t, c_t), gates including f)."""
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        i = sigmoid(_affine(p, "i", x_t, h_prev))
        f = 1 - i
        g = np.tanh(_affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(_affine(p, "o", x_t, h_prev))
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        acts = _project(x3, W["Wx"], W["b"], 3 * H)
        T, B, _ = acts.shape
        h, c, tanh_c = (np.empty((T, B, H), self.dtype) for _ in range(3))
        WhT = W["Wh"].T
        h_prev, c_prev = h0, c0
        for t in range(T):
            a = acts[t]
            a += h_prev @ WhT
            _sigmoid_(a[:, :2 * H])                      # o_t, i_t
            g = a[:, 2 * H:]
            np.tanh(g, out=g)                            # g_t
            o, i = a[:, :H], a[:, H:2 * H]
            np.subtract(g, c_prev, out=c[t])
            c[t] *= i
            c[t] += c_prev                               # c_t = c_{t-1} + i_t (g_t - c_{t-1})
            np.tanh(c[t], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])
            h_prev, c_prev = h[t], c[t]
        gates = _split(acts, self._letters, H)
        gates["f"] = 1 - gates["i"]
        return {"x": x3, "h": h, "c": c, "tanh_c": tanh_c, "h0": h0, "c0": c0, "acts": acts,
                "gates": {L: gates[L] for L in self.gate_names}}

    def _back(self, s, dh, W):
        H = self.hidden_size
        g = s["gates"]
        o, f, i, gg, tc = g["o"], g["f"], g["i"], g["g"], s["tanh_c"]
        c_prev = _prev(s["c"], s["c0"])
        da = np.empty_like(s["acts"])
        da4 = da.reshape(*da.shape[:2], 3, H)
        np.multiply(tc, o * (1 - o), out=da4[:, :, 0])           # da_o = dh_t * tanh(c_t) * o'
        np.multiply(gg - c_prev, i * (1 - i), out=da4[:, :, 1])  # da_i = dc_t * (g_t - c_{t-1}) * i'
        np.multiply(i, 1 - gg * gg, out=da4[:, :, 2])            # da_g = dc_t * i_t * g'
        dh0, dc0 = _lstm_loop(da, da4, dh, o * (1 - tc * tc), f, W["Wh"], s["h0"])
        d = self._finish_back(s, da, W["Wx"], da, _prev(s["h"], s["h0"]))
        d["h0"], d["c0"] = dh0, dc0
        return d

    def _preacts(self, trace):
        s, W = trace._store, trace._weights
        a = _project(s["x"], W["Wx"], W["b"], 3 * self.hidden_size) + _prev(s["h"], s["h0"]) @ W["Wh"].T
        out = _split(a, self._letters, self.hidden_size)
        out["f"] = -out["i"]                                     # f_t = 1 - sigmoid(a_i) = sigmoid(-a_i)
        return out


class GRUCell(_Cell):
    r"""The gated recurrent unit (Cho et al. 2014).

    .. math::
        r_t &= \sigma(W_{xr} x_t + W_{hr} h_{t-1} + b_r)              \quad\text{reset gate} \\
        z_t &= \sigma(W_{xz} x_t + W_{hz} h_{t-1} + b_z)              \quad\text{update gate} \\
        g_t &= \tanh(W_{xg} x_t + W_{hg} (r_t \odot h_{t-1}) + b_g)   \quad\text{candidate} \\
        h_t &= (1 - z_t) \odot g_t + z_t \odot h_{t-1}

    with ``reset_after=False`` (the source documents' and Cho et al.'s form: reset before the
    matrix product). With ``reset_after=True`` (PyTorch, cuDNN and Keras's default) the reset
    gate scales the recurrent term after the product and the candidate has two biases:

    .. math::
        g_t = \tanh(W_{xg} x_t + b_{xg} + r_t \odot (W_{hg} h_{t-1} + b_{hg}))

    where x_t (D,) is the input, h_t (H,) the hidden state (a GRU has no separate cell state),
    each W_x* (H, D), W_h* (H, H), b_* (H,). Fused layout (r | z | g). PyTorch orders its gates
    r, z, n and Keras z, r, h; interop maps them by name (PyTorch and Keras keep two biases per
    gate; the two add up for r and z).

    Weights are drawn U(-1/sqrt(H), 1/sqrt(H)) from `seed`; biases are zero.

    >>> cell = GRUCell(input_size=3, hidden_size=4, seed=0)
    >>> cell.gate_names, cell.num_params
    (('r', 'z', 'g'), 96)
    >>> GRUCell(3, 4, reset_after=True).num_params    # one more bias vector, b_hg
    100
    """

    kind = "gru"
    gate_names = ("r", "z", "g")
    _letters = ("r", "z", "g")
    _torch_order = ("r", "z", "g")
    _keras_order = ("z", "r", "g")

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64, reset_after=False):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, seed=seed, dtype=dtype)

    def __repr__(self):
        return super().__repr__()[:-1] + f", reset_after={self.reset_after})"

    def _extra_arrays(self, H):
        return {"b_hg": np.zeros(H, self.dtype)} if self.reset_after else {}

    def _named(self, fused):
        out = super()._named(fused)
        if self.reset_after:
            out = {("b_xg" if k == "b_g" else k): v for k, v in out.items()}
            out["b_hg"] = fused["b_hg"]
        return out

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, None), {'r','z','g': values})."""
        x_t, h_prev, _ = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        r = sigmoid(_affine(p, "r", x_t, h_prev))
        z = sigmoid(_affine(p, "z", x_t, h_prev))
        if self.reset_after:
            g = np.tanh(x_t @ p["W_xg"].T + p["b_xg"] + r * (h_prev @ p["W_hg"].T + p["b_hg"]))
        else:
            g = np.tanh(_affine(p, "g", x_t, r * h_prev))
        h = (1 - z) * g + z * h_prev
        return State(h, None), {"r": r, "z": z, "g": g}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        acts = _project(x3, W["Wx"], W["b"], 3 * H)     # W_x* x_t + b_* (b_xg for g)
        T, B, _ = acts.shape
        h = np.empty((T, B, H), self.dtype)
        side = np.empty((T, B, H), self.dtype)          # r_t * h_{t-1}, or W_hg h_{t-1} + b_hg
        Wh = W["Wh"]
        h_prev = h0
        if self.reset_after:
            WhT, b_hg = Wh.T, W["b_hg"]
            for t in range(T):
                a = acts[t]
                hp = h_prev @ WhT                        # W_h* h_{t-1}, all three gates
                a[:, :2 * H] += hp[:, :2 * H]
                _sigmoid_(a[:, :2 * H])                  # r_t, z_t
                r, z, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
                np.add(hp[:, 2 * H:], b_hg, out=side[t])  # W_hg h_{t-1} + b_hg
                g += r * side[t]
                np.tanh(g, out=g)                        # g_t
                _gru_mix(h[t], g, z, h_prev)
                h_prev = h[t]
        else:
            WhT_rz, WhT_g = Wh[:2 * H].T, Wh[2 * H:].T
            for t in range(T):
                a = acts[t]
                a[:, :2 * H] += h_prev @ WhT_rz          # + W_hr h_{t-1}, W_hz h_{t-1}
                _sigmoid_(a[:, :2 * H])                  # r_t, z_t
                r, z, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
                np.multiply(r, h_prev, out=side[t])      # r_t * h_{t-1}
                g += side[t] @ WhT_g
                np.tanh(g, out=g)                        # g_t
                _gru_mix(h[t], g, z, h_prev)
                h_prev = h[t]
        return {"x": x3, "h": h, "h0": h0, "acts": acts, "side": side,
                "gates": _split(acts, self._letters, H)}

    def _back(self, s, dh, W):
        H = self.hidden_size
        r, z, g = (s["gates"][L] for L in self._letters)
        h_prev_all = _prev(s["h"], s["h0"])
        side = s["side"]
        da = np.empty_like(s["acts"])
        T, B, _ = da.shape
        da4 = da.reshape(T, B, 3, H)
        # factors, for every t at once, that the loop multiplies by dh_t (or by the candidate's gradient)
        np.multiply(h_prev_all - g, z * (1 - z), out=da4[:, :, 1])   # da_z = dh_t (h_{t-1} - g_t) z'
        np.multiply(1 - z, 1 - g * g, out=da4[:, :, 2])              # da_g = dh_t (1 - z_t) g'
        Wh = W["Wh"]
        dh_next = np.zeros_like(s["h0"])
        if self.reset_after:
            np.multiply(side, r * (1 - r), out=da4[:, :, 0])         # da_r = da_g (W_hg h + b_hg) r'
            dhp = np.empty_like(da)                                  # grads of W_h* h_{t-1} (+ b_hg)
            dhp4 = dhp.reshape(T, B, 3, H)
            for t in reversed(range(T)):
                dh_t = dh[t] + dh_next
                da4[t, :, 1:] *= dh_t[:, None, :]                    # z_t, g_t
                da4[t, :, 0] *= da4[t, :, 2]                         # r_t (through the candidate)
                dhp4[t, :, :2] = da4[t, :, :2]
                np.multiply(da4[t, :, 2], r[t], out=dhp4[t, :, 2])   # d(W_hg h + b_hg) = da_g * r_t
                dh_next = dh_t * z[t]                                # the z_t * h_{t-1} path
                dh_next += dhp[t] @ Wh                               # through every W_h*
            d = self._finish_back(s, da, W["Wx"], dhp, h_prev_all)
            d["b_hg"] = dhp4[:, :, 2].sum(axis=(0, 1))
        else:
            np.multiply(h_prev_all, r * (1 - r), out=da4[:, :, 0])   # da_r = d(r h) * h_{t-1} * r'
            Wh_rz, Wh_g = Wh[:2 * H], Wh[2 * H:]
            for t in reversed(range(T)):
                dh_t = dh[t] + dh_next
                da4[t, :, 1:] *= dh_t[:, None, :]                    # z_t, g_t
                d_rh = da4[t, :, 2] @ Wh_g                           # back through W_hg to r_t * h_{t-1}
                da4[t, :, 0] *= d_rh                                 # r_t
                dh_next = dh_t * z[t]                                # the z_t * h_{t-1} path
                dh_next += d_rh * r[t]                               # the r_t * h_{t-1} path
                dh_next += da[t, :, :2 * H] @ Wh_rz                  # through W_hr, W_hz
            # W_hr, W_hz read h_{t-1}; W_hg reads r_t * h_{t-1}
            d = self._finish_back(s, da, W["Wx"], da[..., :2 * H], h_prev_all)
            d["Wh"] = np.concatenate([d["Wh"], _outer_sum(da[..., 2 * H:], side)])
        d["h0"] = dh_next
        return d

    def _preacts(self, trace):
        s, W = trace._store, trace._weights
        H = self.hidden_size
        a = _project(s["x"], W["Wx"], W["b"], 3 * H)
        h_prev = _prev(s["h"], s["h0"])
        a[..., :2 * H] += h_prev @ W["Wh"][:2 * H].T
        r = s["gates"]["r"]
        if self.reset_after:
            a[..., 2 * H:] += r * s["side"]
        else:
            a[..., 2 * H:] += s["side"] @ W["Wh"][2 * H:].T
        return _split(a, self._letters, H)


def _gru_mix(out, g, z, h_prev):
    """h_t = (1 - z_t) * g_t + z_t * h_{t-1}, written as g_t + z_t * (h_{t-1} - g_t) into `out`."""
    np.subtract(h_prev, g, out=out)
    out *= z
    out += g


CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "peephole": PeepholeLSTMCell, "coupled": CoupledLSTMCell,
         "gru": GRUCell}
