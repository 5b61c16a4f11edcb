"""What every cell shares: parameters as named views of fused arrays, checks, the trace, and
the small numpy kernels the variants' loops are written with.

Inside `forward` and `backward` the states are columns, as in the equations: a batch of B
hidden states is an (H, B) array, a step's fused pre-activation W_x* x_t + W_h* h_{t-1} + b_*
is (G*H, B), and each gate is a contiguous block of rows of it. Whole sequences are stored
(T, H, B); the trace shows them as (T, B, H) views. Per time step a loop makes a handful of
numpy calls on small contiguous arrays (at teaching sizes the cost is the calls, not the
arithmetic), writing into preallocated arrays with ``out=``.

A variant is a subclass of `Cell` that declares what it is (class attributes, read by every
module above the cells) and implements four methods:

``step(x_t, h_prev, c_prev)``  the equations for one step, written plainly;
``_run(x3, h0, c0, W)``        the fast forward over a sequence, returning its record;
``_back(record, dh, W)``       the fast reverse loop: the pre-activation gradients;
``_preacts(record, W)``        each gate's pre-activation, for plots;
``_step_jacobians(rec, P)``    ds_t/ds_{t-1} for every t (see `lstm_lab.gradients`).
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from .._checks import (
    as_real_array,
    check_dtype,
    check_finite,
    check_seed,
    check_shape,
    check_size,
)
from ..trace import Trace, as_batched

__all__ = ["Cell", "Diagram", "Params", "sigmoid"]


def sigmoid(a):
    """The logistic function 1 / (1 + exp(-a)), computed as (1 + tanh(a/2)) / 2: it never overflows.

    >>> sigmoid(np.array([-1e6, 0.0, 1e6]))
    array([0. , 0.5, 1. ])
    """
    return 0.5 + 0.5 * np.tanh(0.5 * a)


# -- what a variant declares -----------------------------------------------------------------


@dataclass(frozen=True)
class Diagram:
    """How `lstm_lab.diagram` draws a cell, declared on the cell's class (no drawing here).

    layout    : 'lstm' (cell state along the top), 'gru' (h along the top) or 'rnn'
    steps     : the steps `highlight` brings forward, in teaching order
    peephole  : dashed wires from the cell state into the gates that have a peephole
    coupled   : the forget gate is 1 - i_t (a '1-' node instead of a forget layer)
    absent    : gate letters the variant removed: drawn, but always faded
    linear    : letters whose squashing the variant removed: 'g' (the candidate layer is
                affine), 'c' (no tanh on c_t before the output gate)
    gates     : the 'gru' layout's (reset, update) letters; an absent update gate is tied
                to the reset one (the minimal gated unit)
    """

    layout: str
    steps: tuple
    peephole: tuple = ()
    coupled: bool = False
    absent: tuple = ()
    linear: tuple = ()
    gates: tuple = ("r", "z")


# -- the trace's record ------------------------------------------------------------------------


@dataclass
class Record:
    """What a forward pass keeps for backward: x (T, B, D) rows, the rest columns (T, H, B).

    Each family adds its own fields; `gates` maps a gate letter to its values (columns).
    """

    x: np.ndarray
    h: np.ndarray
    h0: np.ndarray
    gates: dict

    def arrays(self):
        """Every array of the record, gates included."""
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, dict):
                yield from v.values()
            elif isinstance(v, np.ndarray):
                yield v


# -- parameters --------------------------------------------------------------------------------


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


# -- the base class ----------------------------------------------------------------------------


class Cell:
    """What every cell shares: fused weights with named views, checks, the trace, backward.

    Declared by each variant (read by gradients, diagram, experiments, interop, plots):

    kind            : the short name, a key of ``CELLS``
    gate_names      : the letters its trace records, in the symbol table's order
    has_cell_state  : True for the LSTM family (a state c beside h)
    takes_forget_bias : the constructor takes ``forget_bias`` (sets the forget gate's bias)
    takes_reset_after : the constructor takes ``reset_after`` (the GRU's two candidate forms)
    torch_order, keras_order : gate letters in PyTorch's / Keras's fused layout, or None
                      when no framework layer computes this cell
    fused_letters   : the gates' blocks in the fused arrays, in this order
    sigmoid_letters : the fused gates squashed by a sigmoid (the others by tanh or nothing)
    unsquashed      : letters whose usual squashing (symbols.ACTIVATION_OF) the variant drops:
                      'g' (an affine candidate), 'c' (h_t = o_t * c_t, no tanh)
    color           : the cell's colour in plots that compare cells
    diagram         : a `Diagram`: how lstm_lab.diagram draws it
    """

    kind = None
    gate_names = ()
    has_cell_state = False
    takes_forget_bias = False
    takes_reset_after = False
    torch_order = None
    keras_order = None
    fused_letters = ()
    sigmoid_letters = ()
    unsquashed = ()
    color = "#777777"
    diagram = None

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64):
        self.input_size = D = check_size(input_size, "input_size D")
        self.hidden_size = H = check_size(hidden_size, "hidden_size H")
        self.dtype = check_dtype(dtype)
        G = len(self.fused_letters)
        # the fused arrays; `params` hands out per-gate views of them
        self._fused = {"Wx": np.zeros((G * H, D), self.dtype),
                       "Wh": np.zeros((G * H, H), self.dtype),
                       "b": np.zeros(G * H, self.dtype)}
        self._fused.update(self._extra_arrays(H))
        self.params = Params(self.named(self._fused))
        self._init_weights(np.random.default_rng(check_seed(seed)))
        # per fused row: 1/2 for the sigmoid gates' rows, 1 for the others (see _halved)
        self._row_scale = np.repeat([0.5 if L in self.sigmoid_letters else 1.0
                                     for L in self.fused_letters], H).astype(self.dtype)

    # -- layout -------------------------------------------------------------------------------

    def _extra_arrays(self, H):
        """Arrays beyond the fused three (peepholes, the GRU's b_hg)."""
        return {}

    def _param_letters(self):
        """The letters that own a W_x*, W_h*, b_* triple, in `params` order."""
        return self.gate_names or ("h",)

    def named(self, fused):
        """Per-gate views of fused arrays (weights, their copies in a trace, or their gradients)
        under the symbol table's names."""
        H = self.hidden_size
        block = {L: slice(k * H, (k + 1) * H) for k, L in enumerate(self.fused_letters)}
        out = {}
        for L in self._param_letters():
            out["W_x" + L] = fused["Wx"][block[L]]
            out["W_h" + L] = fused["Wh"][block[L]]
            out["b_" + L] = fused["b"][block[L]]
        return out

    def _init_weights(self, rng):
        """Weights U(-1/sqrt(H), 1/sqrt(H)) drawn in `params` order; biases zero."""
        k = 1.0 / np.sqrt(self.hidden_size)
        for name, arr in self.params.items():
            if name.startswith("W_"):
                arr[...] = rng.uniform(-k, k, size=arr.shape)

    def signature(self):
        """What must match for one cell to differentiate another's trace."""
        return (type(self), self.input_size, self.hidden_size, self.dtype)

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

    def _check_trace(self, trace):
        if not isinstance(trace, Trace):
            raise TypeError(f"backward needs the Trace returned by forward; "
                            f"got {type(trace).__name__}")
        if trace.signature != self.signature():
            raise ValueError(f"this trace comes from another kind of cell ({trace.cell!r}); "
                             f"call backward on a cell like the one that made it")

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
        record = self._run(x3, cols(h0), None if c0 is None else cols(c0), weights)
        return Trace(self, x3, h0, c0, batched, record, weights)

    def backward(self, trace, dh):
        """Backpropagation through time: dL/d(everything) given dh = dL/dh_t at every step.

        Returns a dict with every key of `params`, plus 'x', 'h0' (and 'c0' for the LSTM family),
        each shaped like its value. The weights differentiated are those the trace was made with.
        """
        self._check_trace(trace)
        dh = as_real_array(dh, "dh", self.dtype, finite=False)
        what = "(T, B, H) like trace.h" if trace.batched else "(T, H) like trace.h"
        check_shape(dh, trace.h.shape, "dh", what)
        check_finite(dh, "dh")
        # dh as columns (T, H, B): a private array (as_real_array copied it) that the reverse
        # loop adds into. The cell's loop returns the pre-activation gradients da (T, G*H, B)
        # and what only it knows; the sums over time are shared. (The names are dropped as
        # soon as an array is spent, so the peak memory stays near trace + da.)
        dh = cols(as_batched(dh, trace.batched))
        d, da = self._back(trace.record, dh, trace.weights)
        del dh
        da = rows(da)                                            # (T*B, G*H)
        d.update(finish_back(trace.record, da, trace.weights["Wx"], "Wh" not in d))
        grads = self.named(d)
        squeeze = (lambda a: a) if trace.batched else (lambda a: a[..., 0, :])
        grads["x"] = squeeze(d["x"])
        grads["h0"] = squeeze(d["h0"].T)
        if self.has_cell_state:
            grads["c0"] = squeeze(d["c0"].T)
        return grads

    def preacts(self, trace):
        """Each gate's pre-activation (the argument of its sigmoid or tanh) over the trace, as
        batched rows (T, B, H); the RNN's under 'h'. `Trace.preacts` shows these."""
        self._check_trace(trace)
        return self._preacts(trace.record, trace.weights)

    def step_jacobians(self, trace):
        """J_t = ds_t/ds_{t-1} for t = 1..T as batched rows (T, B, S, S), from the trace and the
        weights it was made with; s = h (S = H), or [h; c] (S = 2H) with a cell state."""
        self._check_trace(trace)
        return self._step_jacobians(trace.record, self.named(trace.weights))

    def _halved(self, W):
        """Forward's copies of the fused Wx, Wh, b with every sigmoid gate's rows halved.

        sigmoid(a) = (1 + tanh(a/2)) / 2: with those rows halved, one tanh over a step's whole
        pre-activation gives each tanh gate and tanh(a/2) for each sigmoid gate, and
        `sigmoid_from_tanh` finishes the sigmoids. Halving is exact in floating point, so
        every value is the plain formula's. Backward uses the weights as they are.
        """
        scale = self._row_scale
        return W["Wx"] * scale[:, None], W["Wh"] * scale[:, None], W["b"] * scale

    def _gate_views(self, acts):
        """Each gate's block of the fused column array acts (T, G*H, B), in gate_names order."""
        blocks = split(acts, self.fused_letters, self.hidden_size, axis=1)
        return {L: blocks[L] for L in self.gate_names if L in blocks}

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


# -- kernels shared by the variants' loops -------------------------------------------------------


def affine(p, letter, x, h):
    """W_x{letter} x + W_h{letter} h + b_{letter} for row vectors x (..., D) and h (..., H)."""
    return x @ p["W_x" + letter].T + h @ p["W_h" + letter].T + p["b_" + letter]


def sigmoid_from_tanh(s, half):
    """Turn s = tanh(a/2) into sigmoid(a) = (1 + s) / 2 = s/2 + 1/2, in place.

    `half` is an array of 0.5 shaped like s, made once per forward: a ufunc on two arrays
    skips the conversion a Python scalar costs on every call.
    """
    s *= half
    s += half


def finish_back(record, da, Wx, recurrent):
    """The sums over time, from the pre-activation gradients as rows da (T*B, G*H): the
    gradients of the fused W_x, b and of x and, if `recurrent`, of W_h (when every W_h*
    read h_{t-1}; the GRU's W_hg reads something else, so the GRU sums its own)."""
    T, B, D = record.x.shape
    d = {"Wx": da.T @ record.x.reshape(T * B, D),        # sum_t da_t x_t^T
         "b": da.sum(axis=0),                            # sum_t da_t
         "x": (da @ Wx).reshape(T, B, D)}                # W_x*^T da_t, as rows
    if recurrent:
        d["Wh"] = da.T @ prev_rows(record.h, record.h0)  # sum_t da_t h_{t-1}^T
    return d


def cols(a):
    """Rows (..., B, n) as contiguous columns (..., n, B): the loops' layout (free when B = 1)."""
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


def rows(a):
    """A column sequence (T, n, B) as contiguous rows (T*B, n), for the sums over time."""
    T, n, B = a.shape
    return np.ascontiguousarray(a.swapaxes(1, 2)).reshape(T * B, n)


def prev(seq, first, out=None):
    """The sequence shifted one step later: (first, seq_0, ..., seq_{T-2}), for x_{t-1} reads."""
    out = np.empty_like(seq) if out is None else out
    out[0] = first
    out[1:] = seq[:-1]
    return out


def prev_rows(seq, first):
    """Like `prev` for a column sequence (T, H, B), but laid out as rows (T*B, H)."""
    T, H, B = seq.shape
    out = np.empty((T, B, H), seq.dtype)
    out[0] = first.T
    out[1:] = seq[:-1].swapaxes(1, 2)
    return out.reshape(T * B, H)


def project(x3, Wx, b):
    """Project every input at once: acts[t] = W_x x_t + b for all t, as columns.

    x3 (T, B, D) rows in, acts (T, G*H, B) out: one stack of matrix products, then the bias.
    """
    acts = np.matmul(Wx, x3.swapaxes(1, 2))      # W_x x_t for every t, (T, G*H, B)
    acts += b[:, None]
    return acts


def inputs(record):
    """What each step read, as batched rows: x (T, B, D), h_{t-1} and c_{t-1} (T, B, H; c None
    without a cell state), for pre-activations and Jacobians."""
    h_prev = prev(record.h, record.h0).swapaxes(1, 2)
    c = getattr(record, "c", None)
    c_prev = None if c is None else prev(c, record.c0).swapaxes(1, 2)
    return record.x, h_prev, c_prev


def split(a, letters, H, axis=-1):
    """The per-gate blocks of a fused array along `axis`, by letter."""
    index = [slice(None)] * a.ndim
    out = {}
    for k, L in enumerate(letters):
        index[axis] = slice(k * H, (k + 1) * H)
        out[L] = a[tuple(index)]
    return out


def dsigmoid(y, out=None):
    """A sigmoid's derivative from its value y: y (1 - y), for every t at once."""
    out = np.subtract(1.0, y, out=out)
    out *= y
    return out


def dtanh(y, out=None):
    """A tanh's derivative from its value y: 1 - y^2, for every t at once."""
    out = np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)
    return out


def times_prev(out, seq, first):
    """out_t *= seq_{t-1} for every t, with seq_{-1} = first: a product with the previous step's
    value (c_{t-1}, h_{t-1}) without building the shifted sequence."""
    out[0] *= first
    out[1:] *= seq[:-1]


def sum_prev_products(a, seq, first):
    """sum over t and the batch of a_t * seq_{t-1} (seq_{-1} = first), per unit: (H,) from
    columns a, seq (T, H, B) and first (H, B)."""
    return np.einsum("hb,hb->h", a[0], first) + np.einsum("thb,thb->h", a[1:], seq[:-1])


# -- Jacobian helpers (rows: vectors (..., H), matrices (..., H, K)) ----------------------------


def diag_times(v, M):
    """diag(v) M for vectors v (..., H) and matrices M (..., H, K): scale the rows."""
    return v[..., :, None] * M


def eye(v):
    """diag(v) as a matrix, for v (..., H)."""
    out = np.zeros(v.shape + (v.shape[-1],), dtype=v.dtype)
    idx = np.arange(v.shape[-1])
    out[..., idx, idx] = v
    return out


def row_view(col):
    """A column sequence (T, H, B) viewed as batched rows (T, B, H)."""
    return col.swapaxes(1, 2)
