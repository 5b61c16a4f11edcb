"""The recurrent cells: vanilla RNN, LSTM, peephole LSTM, coupled-gate LSTM and GRU, in numpy.

Every cell keeps its gates' weights fused in three arrays (input weights, recurrent weights,
biases, one block of H rows per gate) and hands out per-gate views under the symbol table's
names. `forward` projects all inputs at once, then runs a short time loop that writes into
a preallocated trace; `backward` walks the same loop in reverse. `step` is the
same maths for one time step, written plainly for reading and testing.

Inside `forward` and `backward` the states are columns, as in the equations: a batch of B
hidden states is an (H, B) array, a step's fused pre-activation W_x* x_t + W_h* h_{t-1} + b_*
is (G*H, B), and each gate is a contiguous block of rows of it. Whole sequences are stored
(T, H, B); the trace shows them as (T, B, H) views. Per time step the loop makes a handful of
numpy calls on small contiguous arrays (at teaching sizes the cost is the calls, not the
arithmetic), writing into preallocated arrays with ``out=``.
"""

from collections.abc import Mapping

import numpy as np

from . import interop
from ._checks import (
    as_real_array,
    check_dtype,
    check_finite,
    check_flag,
    check_seed,
    check_shape,
    check_size,
)
from .trace import State, Trace, as_batched

__all__ = [
    "CELLS", "CoupledLSTMCell", "GRUCell", "LSTMCell", "Params", "PeepholeLSTMCell", "RNNCell",
    "sigmoid",
]


def sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), computed as (1 + tanh(a/2)) / 2: it never overflows.

    >>> sigmoid(np.array([-1e6, 0.0, 1e6]))
    array([0. , 0.5, 1. ])
    """
    return 0.5 + 0.5 * np.tanh(0.5 * a)


def _sigmoid_from_tanh(s, half):
    """Turn s = tanh(a/2) into sigmoid(a) = (1 + s) / 2 = s/2 + 1/2, in place.

    `half` is an array of 0.5 shaped like s, made once per forward: a ufunc on two arrays
    skips the conversion a Python scalar costs on every call.
    """
    s *= half
    s += half


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
            known = ", ".join(self._arrays)
            raise KeyError(f"no parameter named {name!r}; the parameters are {known}")
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
    _sigmoid_letters = ()  # the gates squashed by a sigmoid (the others by tanh)
    _torch_order = None  # gate letters in PyTorch's / Keras's fused layout (None: no twin)
    _keras_order = None

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64):
        self.input_size = D = check_size(input_size, "input_size D")
        self.hidden_size = H = check_size(hidden_size, "hidden_size H")
        self.dtype = check_dtype(dtype)
        G = len(self._letters)
        # the fused arrays; `params` hands out per-gate views of them
        self._fused = {"Wx": np.zeros((G * H, D), self.dtype),
                       "Wh": np.zeros((G * H, H), self.dtype),
                       "b": np.zeros(G * H, self.dtype)}
        self._fused.update(self._extra_arrays(H))
        self.params = Params(self._named(self._fused))
        self._init_weights(np.random.default_rng(check_seed(seed)))
        # per fused row: 1/2 for the sigmoid gates' rows, 1 for the others (see _halved)
        self._row_scale = np.repeat([0.5 if L in self._sigmoid_letters else 1.0
                                     for L in self._letters], H).astype(self.dtype)

    # -- layout -------------------------------------------------------------------------------

    def _extra_arrays(self, H):
        """Arrays beyond the fused three (peepholes, the GRU's b_hg)."""
        return {}

    def _named(self, fused):
        """Per-gate views of fused arrays (weights or their gradients) under the symbol names."""
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
        return (type(self), self.input_size, self.hidden_size, self.dtype,
                getattr(self, "reset_after", None))

    @property
    def num_params(self):
        return int(sum(a.size for a in self.params.values()))

    def __repr__(self):
        return (f"{type(self).__name__}(input_size={self.input_size}, "
                f"hidden_size={self.hidden_size}, "
                f"dtype={self.dtype.name}, num_params={self.num_params})")

    # -- checks -------------------------------------------------------------------------------

    def _check_x(self, x):
        D = self.input_size
        x = as_real_array(x, "x", self.dtype, finite=False)
        if x.ndim not in (2, 3) or x.shape[-1] != D:
            raise ValueError(f"x must have shape (T, D) or (T, B, D) with D={D}; got {x.shape}")
        if 0 in x.shape:
            raise ValueError(f"x must hold at least one time step and one sequence (T, B >= 1); "
                             f"got shape {x.shape}")
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

        The trace keeps k * H + D numbers per step and sequence: k = 1 for the RNN, 5 for the
        GRU, 7 for the LSTM family (see `Trace` for the whole formula and backward's share).
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
        store = self._run(x3, _cols(h0), None if c0 is None else _cols(c0), weights)
        return Trace(self, x3, h0, c0, batched, store, weights)

    def backward(self, trace, dh):
        """Backpropagation through time: dL/d(everything) given dh = dL/dh_t at every step.

        Returns a dict with every key of `params`, plus 'x', 'h0' (and 'c0' for the LSTM family),
        each shaped like its value. The weights differentiated are those the trace was made with.
        """
        if not isinstance(trace, Trace):
            raise TypeError(f"backward needs the Trace returned by forward; "
                            f"got {type(trace).__name__}")
        if trace._cell._signature() != self._signature():
            raise ValueError(f"this trace comes from another kind of cell ({trace._cell!r}); "
                             f"call backward on a cell like the one that made it")
        dh = as_real_array(dh, "dh", self.dtype, finite=False)
        what = "(T, B, H) like trace.h" if trace.batched else "(T, H) like trace.h"
        check_shape(dh, trace.h.shape, "dh", what)
        check_finite(dh, "dh")
        # dh as columns (T, H, B): a private array (as_real_array copied it) that the reverse
        # loop adds into. The cell's loop returns the pre-activation gradients da (T, G*H, B)
        # and what only it knows; the sums over time are shared. (The names are dropped as
        # soon as an array is spent, so the peak memory stays near trace + da.)
        dh = _cols(as_batched(dh, trace.batched))
        d, da = self._back(trace._store, dh, trace._weights)
        del dh
        da = _rows(da)                                           # (T*B, G*H)
        d.update(self._finish_back(trace._store, da, trace._weights["Wx"], "Wh" not in d))
        grads = self._named(d)
        squeeze = (lambda a: a) if trace.batched else (lambda a: a[..., 0, :])
        grads["x"] = squeeze(d["x"])
        grads["h0"] = squeeze(d["h0"].T)
        if self.has_cell_state:
            grads["c0"] = squeeze(d["c0"].T)
        return grads

    def _halved(self, W):
        """Forward's copies of the fused Wx, Wh, b with every sigmoid gate's rows halved.

        sigmoid(a) = (1 + tanh(a/2)) / 2: with those rows halved, one tanh over a step's whole
        pre-activation gives each tanh gate and tanh(a/2) for each sigmoid gate, and
        `_sigmoid_from_tanh` finishes the sigmoids. Halving is exact in floating point, so
        every value is the plain formula's. Backward uses the weights as they are.
        """
        scale = self._row_scale
        return W["Wx"] * scale[:, None], W["Wh"] * scale[:, None], W["b"] * scale

    def _gate_views(self, acts):
        """Each gate's block of the fused column array acts (T, G*H, B), in gate_names order."""
        blocks = _split(acts, self._letters, self.hidden_size, axis=1)
        return {L: blocks[L] for L in self.gate_names if L in blocks}

    @staticmethod
    def _finish_back(store, da, Wx, recurrent):
        """The sums over time, from the pre-activation gradients as rows da (T*B, G*H): the
        gradients of the fused W_x, b and of x and, if `recurrent`, of W_h (when every W_h*
        read h_{t-1}; the GRU's W_hg reads something else, so the GRU sums its own)."""
        T, B, D = store["x"].shape
        d = {"Wx": da.T @ store["x"].reshape(T * B, D),          # sum_t da_t x_t^T
             "b": da.sum(axis=0),                                # sum_t da_t
             "x": (da @ Wx).reshape(T, B, D)}                    # W_x*^T da_t, as rows
        if recurrent:
            d["Wh"] = da.T @ _prev_rows(store["h"], store["h0"])  # sum_t da_t h_{t-1}^T
        return d

    # -- interop (see interop.py) ---------------------------------------------------------------

    @classmethod
    def from_torch(cls, state_dict, **kwargs):
        """A cell from a PyTorch layer-0 state dict (weight_ih_l0, weight_hh_l0, bias_*_l0)."""
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
            raise ValueError(f"x_t must have shape (D,) or (B, D) with D={self.input_size}; "
                             f"got {x_t.shape}")
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


def _cols(a):
    """Rows (..., B, n) as contiguous columns (..., n, B): the loops' layout (free when B = 1)."""
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


def _rows(a):
    """A column sequence (T, n, B) as contiguous rows (T*B, n), for the sums over time."""
    T, n, B = a.shape
    return np.ascontiguousarray(a.swapaxes(1, 2)).reshape(T * B, n)


def _prev(seq, first, out=None):
    """The sequence shifted one step later: (first, seq_0, ..., seq_{T-2}), for x_{t-1} reads."""
    out = np.empty_like(seq) if out is None else out
    out[0] = first
    out[1:] = seq[:-1]
    return out


def _prev_rows(seq, first):
    """Like `_prev` for a column sequence (T, H, B), but laid out as rows (T*B, H)."""
    T, H, B = seq.shape
    out = np.empty((T, B, H), seq.dtype)
    out[0] = first.T
    out[1:] = seq[:-1].swapaxes(1, 2)
    return out.reshape(T * B, H)


def _project(x3, Wx, b):
    """Project every input at once: acts[t] = W_x x_t + b for all t, as columns.

    x3 (T, B, D) rows in, acts (T, G*H, B) out: one stack of matrix products, then the bias.
    """
    acts = np.matmul(Wx, x3.swapaxes(1, 2))      # W_x x_t for every t, (T, G*H, B)
    acts += b[:, None]
    return acts


def _inputs(trace):
    """What each step read, as batched rows: x (T, B, D), h_{t-1} and c_{t-1} (T, B, H; c None
    without a cell state), for the pre-activations a trace shows on demand."""
    s = trace._store
    h_prev = _prev(s["h"], s["h0"]).swapaxes(1, 2)
    c_prev = _prev(s["c"], s["c0"]).swapaxes(1, 2) if "c" in s else None
    return s["x"], h_prev, c_prev


def _split(a, letters, H, axis=-1):
    """The per-gate blocks of a fused array along `axis`, by letter."""
    index = [slice(None)] * a.ndim
    out = {}
    for k, L in enumerate(letters):
        index[axis] = slice(k * H, (k + 1) * H)
        out[L] = a[tuple(index)]
    return out


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
        h = _project(x3, W["Wx"], W["b"])        # (T, H, B): W_xh x_t + b_h, tanh'd in place below
        Wh = W["Wh"]
        hp = np.empty_like(h0)                   # scratch for W_hh h_{t-1}
        h_prev = h0
        for h_t in h:
            np.dot(Wh, h_prev, out=hp)
            h_t += hp                            # a_t = W_xh x_t + b_h + W_hh h_{t-1}
            np.tanh(h_t, out=h_t)                # h_t = tanh(a_t)
            h_prev = h_t
        return {"x": x3, "h": h, "h0": h0, "gates": {}}

    def _back(self, s, dh, W):
        dtanh = _dtanh(s["h"])                   # tanh'(a_t) = 1 - h_t^2, for every t at once
        WhT = W["Wh"].T
        dh_next = np.zeros_like(s["h0"])
        for dh_t, dtanh_t in zip(dh[::-1], dtanh[::-1], strict=True):
            dh_t += dh_next                      # dL/dh_t: from the loss at t and step t+1
            dh_t *= dtanh_t                      # da_t = dL/dh_t * tanh'(a_t), written over dh_t
            np.dot(WhT, dh_t, out=dh_next)       # back through W_hh to h_{t-1}
        return {"h0": dh_next}, dh               # dh now holds da

    def _preacts(self, trace):
        x, h_prev, _ = _inputs(trace)
        W = trace._weights
        return {"h": x @ W["Wx"].T + W["b"] + h_prev @ W["Wh"].T}


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
    _sigmoid_letters = ("o", "f", "i")
    _torch_order = ("i", "f", "g", "o")
    _keras_order = ("i", "f", "g", "o")

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
        f = sigmoid(_affine(p, "f", x_t, h_prev))
        i = sigmoid(_affine(p, "i", x_t, h_prev))
        g = np.tanh(_affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        o = sigmoid(_affine(p, "o", x_t, h_prev))
        h = o * np.tanh(c)
        return State(h, c), {"f": f, "i": i, "g": g, "o": o}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        Wx, Wh, b = self._halved(W)                      # o, f, i rows halved: see _halved
        acts = _project(x3, Wx, b)                       # (T, 4H, B): W_x* x_t + b_* for every t
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
            _sigmoid_from_tanh(a[:3 * H], half)          # o_t, f_t, i_t
            np.multiply(f, c_prev, out=c_t)
            np.multiply(i, g, out=ig)
            c_t += ig                                    # c_t = f_t * c_{t-1} + i_t * g_t
            np.tanh(c_t, out=tanh_c_t)
            np.multiply(o, tanh_c_t, out=h_t)            # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_t, c_t
        return {"x": x3, "h": h, "c": c, "tanh_c": tanh_c, "h0": h0, "c0": c0, "acts": acts,
                "gates": self._gate_views(acts)}

    def _back(self, s, dh, W):
        H = self.hidden_size
        o, f, i, g = (s["gates"][L] for L in self._letters)
        tanh_c = s["tanh_c"]
        # da holds, per gate, the factor that turns dh_t (for o) or dc_t (for f, i, g) into the
        # gradient of that gate's pre-activation; the loop multiplies it in place.
        da = np.empty_like(s["acts"])
        da_o, da_f, da_i, da_g = _split(da, self._letters, H, axis=1).values()
        _dsigmoid(o, out=da_o)
        da_o *= tanh_c                                    # da_o = dh_t * tanh(c_t) * o'
        _dsigmoid(f, out=da_f)
        _times_prev(da_f, s["c"], s["c0"])                # da_f = dc_t * c_{t-1} * f'
        _dsigmoid(i, out=da_i)
        da_i *= g                                         # da_i = dc_t * g_t * i'
        _dtanh(g, out=da_g)
        da_g *= i                                         # da_g = dc_t * i_t * g'
        dh_to_dc = _dtanh(tanh_c)
        dh_to_dc *= o                                     # dc_t += dh_t * o_t * tanh'(c_t)
        dh0, dc0 = _lstm_loop(da, dh, dh_to_dc, f, W["Wh"])
        return {"h0": dh0, "c0": dc0}, da

    def _preacts(self, trace):
        x, h_prev, _ = _inputs(trace)
        W = trace._weights
        a = x @ W["Wx"].T + W["b"] + h_prev @ W["Wh"].T
        return _split(a, self._letters, self.hidden_size)


def _dsigmoid(y, out=None):
    """A sigmoid's derivative from its value y: y (1 - y), for every t at once."""
    out = np.subtract(1.0, y, out=out)
    out *= y
    return out


def _dtanh(y, out=None):
    """A tanh's derivative from its value y: 1 - y^2, for every t at once."""
    out = np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)
    return out


def _times_prev(out, seq, first):
    """out_t *= seq_{t-1} for every t, with seq_{-1} = first: a product with the previous step's
    value (c_{t-1}, h_{t-1}) without building the shifted sequence."""
    out[0] *= first
    out[1:] *= seq[:-1]


def _lstm_loop(da, dh, dh_to_dc, f, Wh):
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
    _sigmoid_letters = ("f", "i", "o")
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

    def _halved(self, W):
        # the peepholes feed sigmoid gates only: halved with them
        return (*super()._halved(W), W["p"] * 0.5)

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        Wx, Wh, b, p = self._halved(W)                   # f, i, o rows and the peepholes halved
        acts = _project(x3, Wx, b)                       # (T, 4H, B)
        T, _, B = acts.shape
        h, c, tanh_c = (np.empty((T, H, B), self.dtype) for _ in range(3))
        p_fi, p_o = p[:2 * H].reshape(2, H, 1), p[2 * H:, None]   # (p_f | p_i), p_o as columns
        hp = np.empty((4 * H, B), self.dtype)            # scratch for W_h* h_{t-1}
        pc = np.empty((2, H, B), self.dtype)             # scratch for the peephole terms
        half = np.full((2 * H, B), 0.5, self.dtype)
        h_prev, c_prev = h0, c0
        steps = zip(acts, acts.reshape(T, 4, H, B), h, c, tanh_c, strict=True)
        for a, (f, i, g, o), h_t, c_t, tanh_c_t in steps:
            np.dot(Wh, h_prev, out=hp)
            a += hp                                      # W_x* x_t + W_h* h_{t-1} + b_*
            np.multiply(p_fi, c_prev, out=pc)
            a[:2 * H] += pc.reshape(2 * H, B)            # + p_f * c_{t-1}, p_i * c_{t-1}
            fig = a[:3 * H]
            np.tanh(fig, out=fig)                        # g_t, and tanh(a/2) for f, i
            _sigmoid_from_tanh(a[:2 * H], half)          # f_t, i_t
            np.multiply(f, c_prev, out=c_t)
            np.multiply(i, g, out=pc[0])
            c_t += pc[0]                                 # c_t = f_t * c_{t-1} + i_t * g_t
            np.multiply(p_o, c_t, out=pc[0])
            o += pc[0]                                   # + p_o * c_t
            np.tanh(o, out=o)
            _sigmoid_from_tanh(o, half[:H])              # o_t
            np.tanh(c_t, out=tanh_c_t)
            np.multiply(o, tanh_c_t, out=h_t)            # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_t, c_t
        return {"x": x3, "h": h, "c": c, "tanh_c": tanh_c, "h0": h0, "c0": c0, "acts": acts,
                "gates": self._gate_views(acts)}

    def _back(self, s, dh, W):
        H = self.hidden_size
        f, i, g, o = (s["gates"][L] for L in self._letters)
        tanh_c, c = s["tanh_c"], s["c"]
        p_f, p_i, p_o = (W["p"][k * H:(k + 1) * H, None] for k in range(3))   # columns (H, 1)
        da = np.empty_like(s["acts"])
        T, _, B = da.shape
        da_f, da_i, da_g, da_o = _split(da, self._letters, H, axis=1).values()
        _dsigmoid(f, out=da_f)
        _times_prev(da_f, c, s["c0"])                    # da_f = dc_t * c_{t-1} * f'
        _dsigmoid(i, out=da_i)
        da_i *= g                                        # da_i = dc_t * g_t * i'
        _dtanh(g, out=da_g)
        da_g *= i                                        # da_g = dc_t * i_t * g'
        _dsigmoid(o, out=da_o)
        da_o *= tanh_c                                   # da_o = dh_t * tanh(c_t) * o'
        dh_to_dc = _dtanh(tanh_c)
        dh_to_dc *= o                                    # dc_t += dh_t * o_t * tanh'(c_t)
        WhT = W["Wh"].T
        dc, tmp = np.empty((H, B), self.dtype), np.empty((H, B), self.dtype)
        dh_next = np.zeros((H, B), self.dtype)
        dc_next = np.zeros((H, B), self.dtype)
        steps = zip(da[::-1], da.reshape(T, 4, H, B)[::-1], dh[::-1], dh_to_dc[::-1], f[::-1],
                    strict=True)
        for da_t, (da_f_t, da_i_t, da_g_t, da_o_t), dh_t, dh_to_dc_t, f_t in steps:
            dh_t += dh_next                              # dL/dh_t: from the loss at t and step t+1
            da_o_t *= dh_t                               # output gate
            np.multiply(dh_t, dh_to_dc_t, out=dc)
            dc += dc_next                                # dc_t: via h_t = o_t tanh(c_t) and c_{t+1}
            np.multiply(da_o_t, p_o, out=tmp)
            dc += tmp                                    # ... and through o_t's peephole on c_t
            da_f_t *= dc                                 # f, i, g write c_t
            da_i_t *= dc
            da_g_t *= dc
            np.multiply(dc, f_t, out=dc_next)            # dc_{t-1}: along the cell path ...
            np.multiply(da_f_t, p_f, out=tmp)
            dc_next += tmp                               # ... and through the peepholes
            np.multiply(da_i_t, p_i, out=tmp)
            dc_next += tmp                               #     of f_t and i_t on c_{t-1}
            np.dot(WhT, da_t, out=dh_next)               # dh_{t-1}: back through every W_h*
        d = {"h0": dh_next, "c0": dc_next}
        d["p"] = np.concatenate([
            _sum_prev_products(da_f, c, s["c0"]),                  # dp_f = sum_t da_f c_{t-1}
            _sum_prev_products(da_i, c, s["c0"]),                  # dp_i = sum_t da_i c_{t-1}
            np.einsum("thb,thb->h", da_o, c),                      # dp_o = sum_t da_o c_t
        ])
        return d, da

    def _preacts(self, trace):
        x, h_prev, c_prev = _inputs(trace)
        W = trace._weights
        H = self.hidden_size
        a = _split(x @ W["Wx"].T + W["b"] + h_prev @ W["Wh"].T, self._letters, H)
        p = W["p"]
        a["f"] += p[:H] * c_prev
        a["i"] += p[H:2 * H] * c_prev
        a["o"] += p[2 * H:] * trace._store["c"].swapaxes(1, 2)
        return a


def _sum_prev_products(a, seq, first):
    """sum over t and the batch of a_t * seq_{t-1} (seq_{-1} = first), per unit: (H,) from
    columns a, seq (T, H, B) and first (H, B)."""
    return np.einsum("hb,hb->h", a[0], first) + np.einsum("thb,thb->h", a[1:], seq[:-1])


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
    _sigmoid_letters = ("o", "i")
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
        Wx, Wh, b = self._halved(W)                      # o, i rows halved: see _halved
        acts = _project(x3, Wx, b)                       # (T, 3H, B)
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
            _sigmoid_from_tanh(a[:2 * H], half)          # o_t, i_t
            np.subtract(g, c_prev, out=c_t)
            c_t *= i
            c_t += c_prev                                # c_t = c_{t-1} + i_t (g_t - c_{t-1})
            np.tanh(c_t, out=tanh_c_t)
            np.multiply(o, tanh_c_t, out=h_t)            # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_t, c_t
        gates = self._gate_views(acts)
        f = 1.0 - gates["i"]                             # f_t = 1 - i_t, for the trace
        return {"x": x3, "h": h, "c": c, "tanh_c": tanh_c, "h0": h0, "c0": c0, "acts": acts,
                "gates": {"f": f, **gates}}

    def _back(self, s, dh, W):
        H = self.hidden_size
        o, f, i, g = (s["gates"][L] for L in "ofig")
        tanh_c = s["tanh_c"]
        da = np.empty_like(s["acts"])
        da_o, da_i, da_g = _split(da, self._letters, H, axis=1).values()
        _dsigmoid(o, out=da_o)
        da_o *= tanh_c                                   # da_o = dh_t * tanh(c_t) * o'
        np.subtract(g, _prev(s["c"], s["c0"], out=da_i), out=da_i)
        da_i *= i
        da_i *= f                                        # da_i = dc_t (g_t - c_{t-1}) i_t (1 - i_t)
        _dtanh(g, out=da_g)
        da_g *= i                                        # da_g = dc_t * i_t * g'
        dh_to_dc = _dtanh(tanh_c)
        dh_to_dc *= o                                    # dc_t += dh_t * o_t * tanh'(c_t)
        dh0, dc0 = _lstm_loop(da, dh, dh_to_dc, f, W["Wh"])
        return {"h0": dh0, "c0": dc0}, da

    def _preacts(self, trace):
        x, h_prev, _ = _inputs(trace)
        W = trace._weights
        a = x @ W["Wx"].T + W["b"] + h_prev @ W["Wh"].T
        out = _split(a, self._letters, self.hidden_size)
        out["f"] = -out["i"]                             # f_t = 1 - sigmoid(a_i) = sigmoid(-a_i)
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
    _sigmoid_letters = ("r", "z")
    _torch_order = ("r", "z", "g")
    _keras_order = ("z", "r", "g")

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64, reset_after=False):
        self.reset_after = check_flag(reset_after, "reset_after")
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
        Wx, Wh, b = self._halved(W)                      # r, z rows halved: see _halved
        acts = _project(x3, Wx, b)                       # (T, 3H, B): W_x* x_t + b_* (b_xg for g)
        T, _, B = acts.shape
        h = np.empty((T, H, B), self.dtype)
        side = np.empty((T, H, B), self.dtype)           # r_t * h_{t-1}, or W_hg h_{t-1} + b_hg
        tmp = np.empty((H, B), self.dtype)               # scratch
        half = np.full((2 * H, B), 0.5, self.dtype)
        h_prev = h0
        steps = zip(acts, acts.reshape(T, 3, H, B), h, side, strict=True)
        if self.reset_after:
            hp = np.empty((3 * H, B), self.dtype)        # scratch for W_h* h_{t-1}
            side[...] = W["b_hg"][:, None]               # b_hg; each step adds W_hg h_{t-1}
            for a, (r, z, g), h_t, side_t in steps:
                np.dot(Wh, h_prev, out=hp)               # W_h* h_{t-1}, all three gates
                rz = a[:2 * H]
                rz += hp[:2 * H]                         # W_xr x_t + W_hr h_{t-1} + b_r; z alike
                np.tanh(rz, out=rz)
                _sigmoid_from_tanh(rz, half)             # r_t, z_t
                side_t += hp[2 * H:]                     # W_hg h_{t-1} + b_hg
                np.multiply(r, side_t, out=tmp)
                g += tmp                                 # + r_t * (W_hg h_{t-1} + b_hg)
                np.tanh(g, out=g)                        # g_t
                _gru_mix(h_t, g, z, h_prev)              # h_t
                h_prev = h_t
        else:
            Wh_rz, Wh_g = Wh[:2 * H], Wh[2 * H:]
            hp = np.empty((2 * H, B), self.dtype)        # scratch for W_hr h_{t-1}, W_hz h_{t-1}
            for a, (r, z, g), h_t, side_t in steps:
                np.dot(Wh_rz, h_prev, out=hp)
                rz = a[:2 * H]
                rz += hp                                 # W_xr x_t + W_hr h_{t-1} + b_r; z alike
                np.tanh(rz, out=rz)
                _sigmoid_from_tanh(rz, half)             # r_t, z_t
                np.multiply(r, h_prev, out=side_t)       # r_t * h_{t-1}
                np.dot(Wh_g, side_t, out=tmp)
                g += tmp                                 # W_xg x_t + W_hg (r_t * h_{t-1}) + b_g
                np.tanh(g, out=g)                        # g_t
                _gru_mix(h_t, g, z, h_prev)              # h_t
                h_prev = h_t
        return {"x": x3, "h": h, "h0": h0, "acts": acts, "side": side,
                "gates": self._gate_views(acts)}

    def _back(self, s, dh, W):
        H = self.hidden_size
        r, z, g = (s["gates"][L] for L in self._letters)
        h, h0, side = s["h"], s["h0"], s["side"]
        da = np.empty_like(s["acts"])
        T, _, B = da.shape
        da_r, da_z, da_g = _split(da, self._letters, H, axis=1).values()
        # factors, for every t at once, that the loop multiplies by dh_t (da_r: by da_g)
        _prev(h, h0, out=da_z)
        da_z -= g
        da_z *= _dsigmoid(z)                             # da_z = dh_t (h_{t-1} - g_t) z'
        _dtanh(g, out=da_g)
        da_g *= 1.0 - z                                  # da_g = dh_t (1 - z_t) g'
        _dsigmoid(r, out=da_r)
        WhT = W["Wh"].T
        tmp = np.empty((H, B), self.dtype)
        dh_next = np.zeros((H, B), self.dtype)
        steps = zip(da[::-1], da.reshape(T, 3, H, B)[::-1], dh[::-1], r[::-1], z[::-1],
                    strict=True)
        if self.reset_after:
            da_r *= side                                 # da_r = da_g (W_hg h_{t-1} + b_hg) r'
            rec = np.empty((3 * H, B), self.dtype)       # the gradient of W_h* h_{t-1} (+ b_hg)
            for da_t, (da_r_t, da_z_t, da_g_t), dh_t, r_t, z_t in steps:
                dh_t += dh_next                          # dL/dh_t: from the loss at t and step t+1
                da_z_t *= dh_t                           # z_t
                da_g_t *= dh_t                           # g_t
                da_r_t *= da_g_t                         # r_t (through the candidate)
                np.copyto(rec[:2 * H], da_t[:2 * H])
                np.multiply(da_g_t, r_t, out=rec[2 * H:])  # d(W_hg h_{t-1} + b_hg) = da_g * r_t
                np.multiply(dh_t, z_t, out=dh_next)      # the z_t * h_{t-1} path
                np.dot(WhT, rec, out=tmp)
                dh_next += tmp                           # through every W_h*
            h_prev = _prev_rows(h, h0)                   # (T*B, H)
            d_side = da_g * r                            # d(W_hg h_{t-1} + b_hg), every t
            d = {"b_hg": d_side.sum(axis=(0, 2))}
            d["Wh"] = np.concatenate([_rows(da[:, :2 * H]).T @ h_prev,   # sum_t da h_{t-1}^T
                                      _rows(d_side).T @ h_prev])
        else:
            _times_prev(da_r, h, h0)                     # da_r = d(r_t h_{t-1}) * h_{t-1} * r'
            Wh_rzT, Wh_gT = W["Wh"][:2 * H].T, W["Wh"][2 * H:].T
            d_rh = np.empty((H, B), self.dtype)
            for da_t, (da_r_t, da_z_t, da_g_t), dh_t, r_t, z_t in steps:
                dh_t += dh_next                          # dL/dh_t: from the loss at t and step t+1
                da_z_t *= dh_t                           # z_t
                da_g_t *= dh_t                           # g_t
                np.dot(Wh_gT, da_g_t, out=d_rh)          # back through W_hg to r_t * h_{t-1}
                da_r_t *= d_rh                           # r_t
                np.multiply(dh_t, z_t, out=dh_next)      # the z_t * h_{t-1} path
                np.multiply(d_rh, r_t, out=tmp)
                dh_next += tmp                           # the r_t * h_{t-1} path
                np.dot(Wh_rzT, da_t[:2 * H], out=tmp)
                dh_next += tmp                           # through W_hr, W_hz
            # W_hr, W_hz read h_{t-1}; W_hg reads r_t * h_{t-1}
            d = {"Wh": np.concatenate([_rows(da[:, :2 * H]).T @ _prev_rows(h, h0),
                                       _rows(da_g).T @ _rows(side)])}
        d["h0"] = dh_next
        return d, da

    def _preacts(self, trace):
        x, h_prev, _ = _inputs(trace)
        W, s = trace._weights, trace._store
        H = self.hidden_size
        a = x @ W["Wx"].T + W["b"]
        a[..., :2 * H] += h_prev @ W["Wh"][:2 * H].T
        r, side = s["gates"]["r"].swapaxes(1, 2), s["side"].swapaxes(1, 2)
        if self.reset_after:
            a[..., 2 * H:] += r * side
        else:
            a[..., 2 * H:] += side @ W["Wh"][2 * H:].T
        return _split(a, self._letters, H)


def _gru_mix(out, g, z, h_prev):
    """h_t = (1 - z_t) * g_t + z_t * h_{t-1}, written as g_t + z_t * (h_{t-1} - g_t) into `out`."""
    np.subtract(h_prev, g, out=out)
    out *= z
    out += g


CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "peephole": PeepholeLSTMCell, "coupled": CoupledLSTMCell,
         "gru": GRUCell}
