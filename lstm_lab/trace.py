"""The record of one forward pass: every gate, c and h at every step, as plain arrays."""

from collections import namedtuple

import numpy as np

State = namedtuple("State", ["h", "c"])
State.__doc__ = """A recurrent state: hidden state h and cell state c (None for cells without one)."""


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

    A trace owns its arrays: a later forward, or a change to the cell's weights, never alters
    it, and backward differentiates the weights the trace was computed with.
    """

    def __init__(self, cell, x, h0, c0, batched, store, weights):
        self.kind = cell.kind
        self.batched = batched
        self._cell = cell
        self._store = store  # batched (T, B, ...) arrays the cell's backward reads
        self._weights = weights  # the fused weights this forward used (copies)
        self._preacts = None
        pick = (lambda a: a) if batched else (lambda a: None if a is None else a[:, 0])
        first = (lambda a: a) if batched else (lambda a: None if a is None else a[0])
        self.x = pick(x)
        self.h = pick(store["h"])
        self.c = pick(store.get("c"))
        self.gates = {k: pick(v) for k, v in store["gates"].items()}
        self.h0 = first(h0)
        self.c0 = first(c0)
        self.final = State(self.h[-1], None if self.c is None else self.c[-1])

    def __len__(self):
        return self.h.shape[0]

    @property
    def preacts(self):
        if self._preacts is None:
            pick = (lambda a: a) if self.batched else (lambda a: a[:, 0])
            self._preacts = {k: pick(v) for k, v in self._cell._preacts(self).items()}
        return self._preacts

    def __repr__(self):
        T = len(self)
        shape = f"T={T}, B={self.h.shape[1]}" if self.batched else f"T={T}"
        D, H = self.x.shape[-1], self.h.shape[-1]
        gates = ", ".join(self.gates) or "none"
        return f"Trace(kind={self.kind!r}, {shape}, D={D}, H={H}, gates: {gates})"


def as_batched(arr, batched):
    """Give an unbatched (T, ...) or state (H,) array the B axis of size 1; batched arrays pass."""
    return arr if batched else np.expand_dims(arr, -2)
