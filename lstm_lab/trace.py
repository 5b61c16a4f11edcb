"""The record of one forward pass: every gate, c and h at every step, as plain arrays."""

from collections import namedtuple

import numpy as np

State = namedtuple("State", ["h", "c"])
State.__doc__ = """A recurrent state: hidden state h and cell state c (None if there is none)."""


class Trace:
    """Everything a cell computed in one forward pass; backward and the plots read it.

    Attributes (time first; an unbatched forward drops the B axis):

    x      : (T, D) or (T, B, D), a copy of the input sequence
    h      : (T, H) or (T, B, H), hidden states h_1 .. h_T
    c      : like h, cell states c_1 .. c_T (LSTM family), else None
    gates  : dict gate letter -> array shaped like h ('f', 'i', 'g', 'o' or 'r', 'z', 'g')
    h0, c0 : the initial states, (H,) or (B, H) (zeros when not given; c0 None without a cell state)
    final  : State(h_T, c_T)
    preacts: dict gate letter -> pre-activation (the argument of the gate's sigmoid or tanh),
             shaped like h; the RNN's is under 'h'. Computed on first use.

    nbytes : bytes held by the trace's arrays (see Size).
    params : the weights this forward used, by name (copies: later changes to the cell's
             weights do not reach them)
    cell   : the cell that made it; record: its typed record of the loop's arrays (what
             backward reads); weights: the fused copies of the weights it used

    A trace owns its arrays: a later forward, or a change to the cell's weights, never alters
    it, and backward differentiates the weights the trace was computed with. h, c and the
    gates are views of arrays the cell's loop keeps as columns (T, H, B), so for B > 1 they
    are not C-contiguous (np.ascontiguousarray copies one when that matters).

    Size. The trace is the main memory cost of a forward pass: per time step and per sequence
    it holds k * H + D numbers (D for x_t), with

    =========================  ====  =====================================================
    cell                       k     what is kept per step
    =========================  ====  =====================================================
    RNN                        1     h_t
    GRU                        5     r_t, z_t, g_t, h_t and r_t * h_{t-1} (or
                                     W_hg h_{t-1} + b_hg with reset_after=True)
    LSTM, peephole LSTM        7     f_t, i_t, g_t, o_t, c_t, tanh(c_t), h_t
    coupled LSTM               7     the same, f_t = 1 - i_t included
    NIG, NFG, NOG              6     one gate fewer
    NIAF / NOAF                7 / 6 as the peephole LSTM / no separate tanh(c_t)
    MGU                        4     f_t, g_t, h_t and f_t * h_{t-1}
    =========================  ====  =====================================================

    plus a copy of the weights and the initial states: in all
    ``itemsize * (T * B * (k * H + D) + num_params + B * H * (2 if c0 else 1))`` bytes, which
    is `nbytes`. An LSTM with H = 64 over T = 10 000 steps of D = 1 in float64 keeps
    8 * 10 000 * 449 bytes, about 36 MB. Backward's working memory, freed when it returns, is
    about 2 * G * H more numbers per step, G the number of fused gate blocks (1 for the RNN,
    4 for the LSTM and the peephole LSTM, 3 for the coupled LSTM); the GRU (G = 3) needs up
    to 3 * G * H. So forward + backward of that LSTM peaks below 8 * 10 000 * (15 * 64 + 2)
    bytes, 77 MB (about 67 MB measured).

    >>> import lstm_lab as ll
    >>> cell = ll.LSTMCell(input_size=1, hidden_size=64)
    >>> trace = cell.forward(np.zeros((10_000, 1)))
    >>> trace.nbytes == 8 * (10_000 * (7 * 64 + 1) + cell.num_params + 2 * 64)
    True
    """

    def __init__(self, cell, x, h0, c0, batched, record, weights):
        self.kind = cell.kind
        self.batched = batched
        self.cell = cell  # the cell that made it
        self.signature = cell.signature()  # what a cell must match to differentiate it
        self.record = record  # the arrays backward reads: x (T, B, D), the rest columns (T, H, B)
        self.weights = weights  # the fused weights this forward used (copies)
        self._preacts = None
        pick = (lambda a: a) if batched else (lambda a: None if a is None else a[:, 0])
        first = (lambda a: a) if batched else (lambda a: None if a is None else a[0])
        self.x = pick(x)
        self.h = pick(_as_rows(record.h))
        self.c = pick(_as_rows(getattr(record, "c", None)))
        self.gates = {k: pick(_as_rows(v)) for k, v in record.gates.items()}
        self.h0 = first(h0)
        self.c0 = first(c0)
        self.final = State(self.h[-1], None if self.c is None else self.c[-1])

    @property
    def params(self):
        """The weights this forward used, under the symbol table's names (read-only copies)."""
        return self.cell.named(self.weights)

    def __len__(self):
        return self.h.shape[0]

    @property
    def nbytes(self):
        """Bytes held by the trace's arrays (each buffer counted once; see the size formula)."""
        seen = {}
        for arr in self.record.arrays():
            while isinstance(arr.base, np.ndarray):
                arr = arr.base
            seen[id(arr)] = arr.nbytes
        for arr in self.weights.values():
            seen[id(arr)] = arr.nbytes
        return sum(seen.values())

    @property
    def preacts(self):
        if self._preacts is None:
            pick = (lambda a: a) if self.batched else (lambda a: a[:, 0])
            self._preacts = {k: pick(v) for k, v in self.cell.preacts(self).items()}
        return self._preacts

    def __repr__(self):
        T = len(self)
        shape = f"T={T}, B={self.h.shape[1]}" if self.batched else f"T={T}"
        D, H = self.x.shape[-1], self.h.shape[-1]
        gates = ", ".join(self.gates) or "none"
        return f"Trace(kind={self.kind!r}, {shape}, D={D}, H={H}, gates: {gates})"


def _as_rows(col):
    """A column sequence (T, H, B), as the cells' loops store it, viewed as rows (T, B, H)."""
    return None if col is None else col.swapaxes(1, 2)


def as_batched(arr, batched):
    """Give an unbatched (T, ...) or state (H,) array the B axis of size 1; batched arrays pass."""
    return arr if batched else np.expand_dims(arr, -2)
