"""Networks of cells: stacked layers, bidirectional pairs, and multi-layer PyTorch state dicts.

A network keeps the cells' contract: ``params`` (live arrays under prefixed names),
``forward(x, h0=None, c0=None)`` returning a trace whose ``h`` is the network's output,
and ``backward(trace, dh)`` returning the gradient of every parameter, of 'x' and of the
initial states. ``lstm_lab.gradcheck`` and ``lstm_lab.train.SequenceModel`` accept it
like a cell.

Names and shapes (N is the number of cells in the network, H their common hidden size):

=====================  ==================================================================
``Stacked`` keys        ``'l0.W_xf'``, ``'l1.W_xf'``, ... (layer l reads layer l-1's h)
``Bidirectional`` keys  ``'fwd.W_xf'``, ``'bwd.W_xf'``; nested: ``'l1.bwd.W_xf'``
output ``trace.h``      (T, H_out) or (T, B, H_out); a Bidirectional's H_out = H_fwd + H_bwd
``h0``, ``c0``          (N, H) or (N, B, H): one row per cell, in the order of
                        ``network.cells()`` (layer by layer, fwd before bwd), which is
                        PyTorch's order for ``h_0``; needs one H for every cell
``grads``               every params key, 'x', 'h0' (and 'c0' if every cell has a cell state)
=====================  ==================================================================
"""

import re
from collections.abc import Mapping

import numpy as np

from ._checks import as_real_array, check_finite, check_shape, check_size
from .cells import CELLS
from .trace import State

__all__ = [
    "Bidirectional", "BidirectionalTrace", "NetworkParams", "NetworkTrace", "Stacked",
    "StackedTrace", "build", "from_torch",
]

# the cells with a PyTorch twin, and the number of gate blocks of its fused weights
_TORCH_GATES = {kind: len(cls.torch_order) for kind, cls in CELLS.items() if cls.torch_order}
_TORCH_KINDS = tuple(_TORCH_GATES)
_TORCH_KEY = re.compile(r"(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)_l(\d+)(_reverse)?")


# ----------------------------------------------------------------------------- parameters

class NetworkParams(Mapping):
    """A network's parameters under prefixed names ('l0.W_xf', 'fwd.b_g', 'l1.bwd.W_hi', ...).

    Each entry is the very array its cell computes with, so writing into it changes the next
    forward pass; assigning to a key hands the value to the cell's own params, which copies
    it in place after checking its shape. No key can be added or removed.
    """

    def __init__(self, parts):
        self._index = {}
        for prefix, module in parts:
            for key in module.params:
                self._index[f"{prefix}.{key}"] = (module.params, key)

    def __getitem__(self, name):
        try:
            params, key = self._index[name]
        except KeyError:
            raise KeyError(f"no parameter named {name!r}; the names look like "
                           f"{', '.join(list(self._index)[:3])}, ...") from None
        return params[key]

    def __setitem__(self, name, value):
        self[name]  # a clear KeyError for an unknown name
        params, key = self._index[name]
        params[key] = value

    def __iter__(self):
        return iter(self._index)

    def __len__(self):
        return len(self._index)

    def __repr__(self):
        return "NetworkParams(" + ", ".join(f"{k}: {v.shape}" for k, v in self.items()) + ")"


# ----------------------------------------------------------------------------- traces

class NetworkTrace:
    """One forward pass of a network.

    x      : (T, D) or (T, B, D), the input
    h      : (T, H_out) or (T, B, H_out), the network's output
    parts  : dict part name ('l0', 'fwd', ...) -> that part's trace (a cell's Trace or a
             NetworkTrace)
    h0, c0 : (N, H) or (N, B, H), the initial states of the N cells (zeros when not given);
             None when the cells' hidden sizes differ (h0, c0) or some cell has no cell state (c0)
    final  : State(h, c), each (N, H) or (N, B, H): every cell's last state (PyTorch's h_n, c_n);
             None when the cells' hidden sizes differ
    """

    kind = None

    def __init__(self, x, h, parts, batched):
        self.x = x
        self.h = h
        self.parts = dict(parts)
        self.batched = batched
        leaves = self.cell_traces()
        sizes = {t.h.shape[-1] for t in leaves}
        same = len(sizes) == 1
        self.h0 = np.stack([t.h0 for t in leaves]) if same else None
        with_c = same and all(t.c0 is not None for t in leaves)
        self.c0 = np.stack([t.c0 for t in leaves]) if with_c else None
        self.final = None
        if same:
            c_n = np.stack([t.final.c for t in leaves]) if with_c else None
            self.final = State(np.stack([t.final.h for t in leaves]), c_n)

    def cell_traces(self):
        """The cells' own traces, in the order of ``network.cells()``."""
        out = []
        for part in self.parts.values():
            out.extend(part.cell_traces() if isinstance(part, NetworkTrace) else [part])
        return out

    def __len__(self):
        return self.h.shape[0]

    def __repr__(self):
        shape = f"T={len(self)}, B={self.h.shape[1]}" if self.batched else f"T={len(self)}"
        return (f"{type(self).__name__}({shape}, D={self.x.shape[-1]}, H_out={self.h.shape[-1]}, "
                f"parts: {', '.join(self.parts)})")


class StackedTrace(NetworkTrace):
    """A ``Stacked`` network's trace: ``layers[l]`` is layer l's trace, ``h`` the top one's h."""

    kind = "stacked"

    @property
    def layers(self):
        return tuple(self.parts.values())


class BidirectionalTrace(NetworkTrace):
    """The trace of a ``Bidirectional`` network.

    ``fwd`` is the forward part's trace; ``bwd`` the backward part's, in the order it read
    the input (its step s read x[T-1-s]). ``h_fwd`` and ``h_bwd`` are the two halves of ``h``,
    both in input time order: h_bwd[t] is the backward part's state after reading x[T-1] .. x[t].
    """

    kind = "bidirectional"

    @property
    def fwd(self):
        return self.parts["fwd"]

    @property
    def bwd(self):
        return self.parts["bwd"]

    @property
    def h_fwd(self):
        return self.h[..., :self.fwd.h.shape[-1]]

    @property
    def h_bwd(self):
        return self.h[..., self.fwd.h.shape[-1]:]


# ----------------------------------------------------------------------------- networks

def _is_cell(module):
    return not isinstance(module, _Network) and all(
        hasattr(module, a) for a in ("params", "forward", "backward", "input_size", "hidden_size",
                                     "has_cell_state", "dtype"))


def _out_size(module):
    return module.output_size if isinstance(module, _Network) else module.hidden_size


def _state_kwargs(h0, c0):
    return {k: v for k, v in (("h0", h0), ("c0", c0)) if v is not None}


class _Network:
    """What Stacked and Bidirectional share: parts, params, state layout, checks, repr."""

    kind = None
    _trace_class = NetworkTrace

    def _set_parts(self, parts):
        seen = {}
        for name, module in parts:
            if not (_is_cell(module) or isinstance(module, _Network)):
                raise TypeError(f"{name} must be a cell (ll.LSTMCell, ll.GRUCell, ...) or a "
                                f"network (ll.Stacked, ll.Bidirectional); got "
                                f"{type(module).__name__}")
            for cell in (module.cells() if isinstance(module, _Network) else [module]):
                if id(cell) in seen:
                    raise ValueError(f"the same cell object appears twice ({seen[id(cell)]} and "
                                     f"{name}); every position needs its own cell and weights")
                seen[id(cell)] = name
        self._parts = tuple(parts)
        dtypes = {np.dtype(c.dtype) for c in self.cells()}
        if len(dtypes) > 1:
            names = sorted(d.name for d in dtypes)
            raise ValueError(f"every cell must have the same dtype; got {names}")
        self.dtype = dtypes.pop()
        self.params = NetworkParams(self._parts)

    # -- sizes -------------------------------------------------------------------------------

    def cells(self):
        """Every cell in the network, layer by layer, fwd before bwd (PyTorch's h_0 order)."""
        out = []
        for _, module in self._parts:
            out.extend(module.cells() if isinstance(module, _Network) else [module])
        return out

    @property
    def input_size(self):
        """D, the size of each input x_t."""
        return self._parts[0][1].input_size

    @property
    def hidden_size(self):
        """H_out, the size of the network's output h_t, so a readout W_hy (K, H_out) fits on top."""
        return self.output_size

    @property
    def state_size(self):
        """H, the hidden size every cell shares, or None when they differ (h0, c0 then refused)."""
        sizes = {c.hidden_size for c in self.cells()}
        return sizes.pop() if len(sizes) == 1 else None

    @property
    def has_cell_state(self):
        """True if every cell has a cell state (the LSTM family): then c0 and grads['c0'] exist."""
        return self.state_size is not None and all(c.has_cell_state for c in self.cells())

    @property
    def num_params(self):
        return int(sum(a.size for a in self.params.values()))

    def __repr__(self):
        lines = [f"{type(self).__name__}(input_size={self.input_size}, "
                 f"output_size={self.output_size}, num_params={self.num_params},"]
        for name, module in self._parts:
            lines.append(f"  {name}: " + repr(module).replace("\n", "\n  "))
        return "\n".join(lines) + ")"

    # -- checks and the state layout -----------------------------------------------------------

    def _check_x(self, x):
        x = as_real_array(x, "x", self.dtype, finite=False)
        D = self.input_size
        if x.ndim not in (2, 3) or x.shape[-1] != D:
            raise ValueError(f"x must have shape (T, D) or (T, B, D) with D={D}; got {x.shape}")
        check_finite(x, "x")
        return x

    def _split_state(self, value, name, x):
        """An initial state (N, H) / (N, B, H) cut into one piece per part (None stays None)."""
        if value is None:
            return [None] * len(self._parts)
        cells = self.cells()
        if self.state_size is None:
            sizes = tuple(c.hidden_size for c in cells)
            raise ValueError(f"{name} needs every cell to have the same hidden_size H; this "
                             f"network's are {sizes}. Leave {name}=None to start every cell "
                             f"from zeros")
        if name == "c0" and not self.has_cell_state:
            kinds = sorted({getattr(c, "kind", type(c).__name__) for c in cells})
            raise ValueError(f"c0 is only for networks whose every cell has a cell state (the LSTM "
                             f"family); this one has {', '.join(kinds)} cells")
        arr = as_real_array(value, name, self.dtype, finite=False)
        N, H = len(cells), self.state_size
        if x.ndim == 3:
            check_shape(arr, (N, x.shape[1], H), name, f"(N, B, H) with N={N} cells")
        else:
            check_shape(arr, (N, H), name, f"(N, H) with N={N} cells, for an unbatched x")
        check_finite(arr, name)
        pieces, start = [], 0
        for _, module in self._parts:
            if isinstance(module, _Network):
                n = len(module.cells())
                pieces.append(arr[start:start + n])
            else:
                n = 1
                pieces.append(arr[start])
            start += n
        return pieces

    def _check_backward(self, trace, dh):
        names = tuple(n for n, _ in self._parts)
        if not isinstance(trace, self._trace_class) or tuple(trace.parts) != names:
            raise TypeError(f"backward needs the {self._trace_class.__name__} this network's "
                            f"forward returned; got {type(trace).__name__}")
        dh = as_real_array(dh, "dh", self.dtype, finite=False)
        check_shape(dh, trace.h.shape, "dh", "(T, B, H_out) like trace.h" if trace.batched
                    else "(T, H_out) like trace.h")
        check_finite(dh, "dh")
        return dh

    def _collect(self, part_grads, dx):
        """The parts' gradients under prefixed names, then 'x', 'h0' (and 'c0') in cells() order."""
        grads = {}
        for name, module in self._parts:
            for key in module.params:
                grads[f"{name}.{key}"] = part_grads[name][key]
        grads["x"] = dx
        states = ("h0", "c0") if self.has_cell_state else ("h0",)
        if self.state_size is not None:
            for key in states:
                rows = []
                for name, module in self._parts:
                    g = part_grads[name][key]
                    rows.extend(g if isinstance(module, _Network) else [g])
                grads[key] = np.stack(rows)
        return grads

    # -- PyTorch -----------------------------------------------------------------------------

    def to_torch(self):
        """The weights as an nn.RNN / nn.LSTM / nn.GRU(num_layers, bidirectional) state dict of
        numpy arrays (weight_ih_l0, weight_ih_l0_reverse, weight_ih_l1, ...), merged biases in
        bias_ih.

        Only networks PyTorch can express: layers of plain cells, or of Bidirectional pairs of
        cells, all of one kind with one hidden size.
        """
        layers = self._torch_layers()
        kinds = {getattr(c, "kind", None) for c in self.cells()}
        if len(kinds) != 1 or self.state_size is None:
            raise ValueError("PyTorch's recurrent modules have one kind of cell and one hidden "
                             "size for every layer and direction; this network mixes them")
        out = {}
        for layer, cells in enumerate(layers):
            for direction, cell in enumerate(cells):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for key, value in cell.to_torch().items():
                    out[key[: -len("_l0")] + suffix] = value
        return out

    def _torch_layers(self):
        raise NotImplementedError


class Stacked(_Network):
    """Cells stacked in layers: layer l reads the hidden states of layer l-1.

    .. math::
        h^{(0)}_t = x_t, \\qquad h^{(l+1)}_t = \\mathrm{cell}_l(h^{(l)}_t, h^{(l+1)}_{t-1})

    Layers may be cells or networks (e.g. ``Bidirectional`` pairs, as in PyTorch's
    ``nn.LSTM(num_layers=2, bidirectional=True)``). Layer l's input_size must equal layer
    l-1's output size. Parameters are named ``'l{l}.' + the layer's own name``.

    Parameters
    ----------
    layers : sequence of cells or networks, bottom layer first.

    Examples
    --------
    >>> import numpy as np
    >>> import lstm_lab as ll
    >>> net = ll.Stacked([ll.LSTMCell(3, 8, seed=0), ll.LSTMCell(8, 8, seed=1)])
    >>> trace = net.forward(np.ones((5, 2, 3)))          # T=5, B=2, D=3
    >>> trace.h.shape, len(trace.layers), trace.final.h.shape
    ((5, 2, 8), 2, (2, 2, 8))
    >>> np.array_equal(trace.h, trace.layers[1].h)
    True
    >>> grads = net.backward(trace, np.ones_like(trace.h))
    >>> grads['l0.W_xf'].shape, grads['x'].shape, grads['h0'].shape
    ((8, 3), (5, 2, 3), (2, 2, 8))
    """

    kind = "stacked"
    _trace_class = StackedTrace

    def __init__(self, layers):
        if isinstance(layers, (str, bytes, Mapping)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of cells or networks; got "
                            f"{type(layers).__name__}")
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one cell or network")
        self._set_parts([(f"l{k}", m) for k, m in enumerate(layers)])
        for k in range(1, len(layers)):
            below, above = _out_size(layers[k - 1]), layers[k].input_size
            if above != below:
                raise ValueError(f"layer l{k} must have input_size {below} (the output size of "
                                 f"layer l{k - 1}); got input_size {above}")

    @property
    def layers(self):
        """The layers, bottom first."""
        return tuple(m for _, m in self._parts)

    @property
    def output_size(self):
        """H_out, the size of the top layer's output."""
        return _out_size(self._parts[-1][1])

    def __len__(self):
        return len(self._parts)

    def __getitem__(self, index):
        return self.layers[index]

    def forward(self, x, h0=None, c0=None):
        """Run every layer in turn; returns a ``StackedTrace``.

        x : (T, D) or (T, B, D). h0, c0 : None (zeros) or (N, H) / (N, B, H), one row per cell.
        """
        x = self._check_x(x)
        h0s, c0s = self._split_state(h0, "h0", x), self._split_state(c0, "c0", x)
        parts, below = [], x
        for (name, layer), h, c in zip(self._parts, h0s, c0s, strict=True):
            trace = layer.forward(below, **_state_kwargs(h, c))
            parts.append((name, trace))
            below = trace.h                      # the next layer reads these hidden states
        return StackedTrace(x, below, parts, x.ndim == 3)

    def backward(self, trace, dh):
        """Backpropagate dh = dL/dh_t (shaped like trace.h) from the top layer down.

        Returns every params key, 'x', 'h0' (and 'c0'); see the module docstring for shapes.
        """
        dh = self._check_backward(trace, dh)
        part_grads = {}
        for (name, layer), part in reversed(list(zip(self._parts, trace.layers, strict=True))):
            part_grads[name] = layer.backward(part, dh)
            dh = part_grads[name]["x"]   # dL/d(this layer's input) = dL/dh of the layer below
        return self._collect(part_grads, dh)

    def _torch_layers(self):
        out = []
        for name, layer in self._parts:
            if _is_cell(layer):
                out.append([layer])
            elif isinstance(layer, Bidirectional) and _is_cell(layer.fwd) and _is_cell(layer.bwd):
                out.append([layer.fwd, layer.bwd])
            else:
                raise ValueError(f"layer {name} is a {type(layer).__name__} of networks; PyTorch's "
                                 f"layers are single cells or Bidirectional pairs of cells")
        if len({len(cells) for cells in out}) > 1:
            raise ValueError("PyTorch makes every layer bidirectional or none; this network mixes "
                             "them")
        return out


class Bidirectional(_Network):
    """Two cells (or networks) reading the sequence in opposite directions, outputs side by side.

    .. math::
        \\overrightarrow{h}_t = \\mathrm{fwd}(x_t, \\overrightarrow{h}_{t-1}), \\qquad
        \\overleftarrow{h}_t = \\mathrm{bwd}(x_t, \\overleftarrow{h}_{t+1}), \\qquad
        h_t = [\\overrightarrow{h}_t ; \\overleftarrow{h}_t]

    so h_t knows the whole past through the forward part and the whole future through the
    backward part (양방향 RNN). Output size H_fwd + H_bwd; parameters ``'fwd.*'`` and ``'bwd.*'``.

    Parameters
    ----------
    forward_cell, backward_cell : cells or networks with the same input_size.

    Examples
    --------
    >>> import numpy as np
    >>> import lstm_lab as ll
    >>> net = ll.Bidirectional(ll.GRUCell(3, 4, seed=0), ll.GRUCell(3, 4, seed=1))
    >>> trace = net.forward(np.ones((6, 3)))
    >>> trace.h.shape, net.output_size, net.num_params == 2 * ll.GRUCell(3, 4).num_params
    ((6, 8), 8, True)
    >>> np.allclose(trace.h_bwd[0], trace.bwd.h[-1])   # the backward part sees x_0 last
    True
    """

    kind = "bidirectional"
    _trace_class = BidirectionalTrace

    def __init__(self, forward_cell, backward_cell):
        self._set_parts([("fwd", forward_cell), ("bwd", backward_cell)])
        if forward_cell.input_size != backward_cell.input_size:
            raise ValueError(f"both directions read the same x: forward_cell has input_size "
                             f"{forward_cell.input_size}, backward_cell {backward_cell.input_size}")

    @property
    def fwd(self):
        """The part that reads x_0, x_1, ..., x_{T-1}."""
        return self._parts[0][1]

    @property
    def bwd(self):
        """The part that reads x_{T-1}, ..., x_0."""
        return self._parts[1][1]

    @property
    def output_size(self):
        """H_fwd + H_bwd."""
        return _out_size(self.fwd) + _out_size(self.bwd)

    def forward(self, x, h0=None, c0=None):
        """Run fwd on x and bwd on x reversed in time; returns a ``BidirectionalTrace``.

        x : (T, D) or (T, B, D). h0, c0 : None (zeros) or (N, H) / (N, B, H), fwd's rows first.
        """
        x = self._check_x(x)
        (hf, hb), (cf, cb) = self._split_state(h0, "h0", x), self._split_state(c0, "c0", x)
        tf = self.fwd.forward(x, **_state_kwargs(hf, cf))
        tb = self.bwd.forward(x[::-1], **_state_kwargs(hb, cb))
        h = np.concatenate([tf.h, tb.h[::-1]], axis=-1)   # bwd's states flipped back to input time
        return BidirectionalTrace(x, h, [("fwd", tf), ("bwd", tb)], x.ndim == 3)

    def backward(self, trace, dh):
        """Backpropagate dh = dL/dh_t (shaped like trace.h) through both directions.

        Returns every params key, 'x', 'h0' (and 'c0'); see the module docstring for shapes.
        """
        dh = self._check_backward(trace, dh)
        split = _out_size(self.fwd)
        gf = self.fwd.backward(trace.fwd, dh[..., :split])
        gb = self.bwd.backward(trace.bwd, dh[..., split:][::-1])   # in the order bwd read x
        dx = gf["x"] + gb["x"][::-1]                               # x_t fed both directions
        return self._collect({"fwd": gf, "bwd": gb}, dx)

    def _torch_layers(self):
        if not all(_is_cell(m) for m in (self.fwd, self.bwd)):
            raise ValueError("PyTorch's bidirectional layers pair two cells; wrap Bidirectional "
                             "pairs in ll.Stacked instead of putting networks inside one")
        return [[self.fwd, self.bwd]]


# ----------------------------------------------------------------------------- building

def build(kind, input_size, hidden_size, num_layers=1, bidirectional=False, *, seed=0,
          dtype=np.float64, **cell_kwargs):
    """What PyTorch's ``nn.LSTM(D, H, num_layers, bidirectional=...)`` would be, made of our cells.

    One layer in one direction gives a plain cell; else a ``Stacked`` network of cells or of
    ``Bidirectional`` pairs. The k-th cell in ``cells()`` order is seeded with seed + k.

    Parameters
    ----------
    kind : 'rnn', 'lstm', 'peephole', 'coupled' or 'gru' (a key of ``ll.CELLS``).
    input_size, hidden_size : D and H.
    num_layers : L >= 1. bidirectional : pair every layer with a backward cell.
    cell_kwargs : passed to every cell (forget_bias, reset_after).

    >>> from lstm_lab.networks import build
    >>> net = build('lstm', 3, 4, num_layers=2, bidirectional=True)
    >>> [c.input_size for c in net.cells()], net.output_size
    ([3, 3, 8, 8], 8)
    >>> build('gru', 3, 4)
    GRUCell(input_size=3, hidden_size=4, dtype=float64, num_params=96, reset_after=False)
    """
    if kind not in CELLS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, CELLS))}; got {kind!r}")
    L = check_size(num_layers, "num_layers")
    H = check_size(hidden_size, "hidden_size H")
    directions = 2 if bidirectional else 1
    counter = iter(range(L * directions))

    def cell(D):
        k = next(counter)
        k_seed = None if seed is None else seed + k
        return CELLS[kind](D, H, seed=k_seed, dtype=dtype, **cell_kwargs)

    layers = []
    for layer in range(L):
        D = input_size if layer == 0 else directions * H
        layers.append(Bidirectional(cell(D), cell(D)) if bidirectional else cell(D))
    return layers[0] if L == 1 else Stacked(layers)


def from_torch(state_dict, kind="lstm"):
    """A cell or network from an nn.RNN / nn.LSTM / nn.GRU state dict with any num_layers and
    bidirectional setting.

    Keys weight_ih_l{l}, weight_hh_l{l}, bias_ih_l{l}, bias_hh_l{l}, and for bidirectional modules
    the same with '_reverse' (values: tensors or arrays; the dtype is kept). One layer in one
    direction gives a plain cell (``ll.LSTMCell.from_torch``); more give a ``Stacked`` network, each
    layer a ``Bidirectional`` pair if the dict has '_reverse' keys. Its trace's ``h`` is what the
    module returns as output, and its ``h0``/``c0``/``final`` rows follow PyTorch's h_0 layout.

    Parameters
    ----------
    state_dict : mapping, e.g. ``module.state_dict()``.
    kind : 'lstm', 'gru' (the reset_after=True GRU) or 'rnn' (nonlinearity='tanh').

    >>> import numpy as np
    >>> import lstm_lab as ll
    >>> rng = np.random.default_rng(0)
    >>> sd = {}
    >>> for l, D in enumerate([3, 8]):
    ...     for s in ('', '_reverse'):
    ...         sd[f'weight_ih_l{l}{s}'] = rng.normal(size=(16, D))
    ...         sd[f'weight_hh_l{l}{s}'] = rng.normal(size=(16, 4))
    >>> net = ll.from_torch(sd, kind='lstm')
    >>> [type(layer).__name__ for layer in net.layers], net.output_size
    (['Bidirectional', 'Bidirectional'], 8)
    """
    if kind not in _TORCH_KINDS:
        raise ValueError(f"kind must be 'lstm', 'gru' or 'rnn' (the PyTorch modules); got {kind!r}")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping like module.state_dict(); got "
                        f"{type(state_dict).__name__}")
    found = {}
    for key in state_dict:
        match = _TORCH_KEY.fullmatch(str(key))
        if match is None:
            raise ValueError(f"unexpected key {key!r}: an nn.{kind.upper()} state dict has keys "
                             f"like weight_ih_l0, bias_hh_l1, weight_hh_l0_reverse (strip any "
                             f"module prefix such as 'rnn.' first)")
        name, layer, reverse = match.group(1), int(match.group(2)), bool(match.group(3))
        if name == "weight_hr":
            raise ValueError(f"this state dict has {key}: an LSTM with proj_size > 0 projects h_t "
                             f"to a smaller size, which these cells do not model; use proj_size=0")
        found.setdefault((layer, reverse), {})[f"{name}_l0"] = state_dict[key]
    if not found:
        raise ValueError("state_dict is empty; expected weight_ih_l0, weight_hh_l0, ...")
    L = max(layer for layer, _ in found) + 1
    reverse = any(rev for _, rev in found)
    directions = (False, True) if reverse else (False,)
    if L > len(found):
        # a layer index beyond the keys given (l99999999): name the first gaps without
        # building a list of every layer in between
        gaps = sorted(set(range(len(found) + 1)) - {layer for layer, _ in found})[:3]
        raise ValueError(f"state_dict is missing layer(s) {', '.join(f'l{g}' for g in gaps)}: "
                         f"its keys name layer l{L - 1}, so a {L:,}-layer module would need keys "
                         f"for every layer 0..{L - 1} (it has keys for {len(found)} "
                         f"layer-direction(s))")
    wanted = [(layer, rev) for layer in range(L) for rev in directions]
    missing = [f"weight_ih_l{layer}{'_reverse' * rev}" for layer, rev in wanted
               if (layer, rev) not in found]
    if missing:
        raise ValueError(f"state_dict is missing layer(s) {', '.join(missing)}: a {L}-layer"
                         f"{' bidirectional' if reverse else ''} module needs keys for every layer "
                         f"0..{L - 1}{' in both directions' if reverse else ''}")

    G = _TORCH_GATES[kind]
    H = None
    for layer, rev in wanted:
        suffix = f"_l{layer}{'_reverse' * rev}"
        sub = found[(layer, rev)]
        for need in ("weight_ih_l0", "weight_hh_l0"):
            if need not in sub:
                raise ValueError(f"state_dict is missing {need[:-3] + suffix}")
        biases = [b for b in ("bias_ih", "bias_hh") if b + "_l0" in sub]
        if len(biases) == 1:
            other = {"bias_ih": "bias_hh", "bias_hh": "bias_ih"}[biases[0]]
            raise ValueError(f"state_dict has {biases[0] + suffix} but not {other + suffix}: a "
                             f"layer has both biases or, for bias=False, neither")
        shape = np.shape(sub["weight_hh_l0"])
        if len(shape) != 2 or shape[0] != G * shape[1]:
            hint = [k for k, g in _TORCH_GATES.items()
                    if len(shape) == 2 and shape[0] == g * shape[1]]
            raise ValueError(f"weight_hh{suffix} must have shape ({G}H, H) for kind={kind!r}; got "
                             f"{shape}" + (f". It looks like kind={hint[0]!r}" if hint else ""))
        if H is None:
            H = shape[1]
        elif shape[1] != H:
            raise ValueError(f"every layer must have the same hidden size: weight_hh_l0 says "
                             f"H={H}, weight_hh{suffix} says H={shape[1]}")
        D = np.shape(sub["weight_ih_l0"])
        expected = (2 if reverse else 1) * H
        if layer > 0 and (len(D) != 2 or D[1] != expected):
            below = "both directions of the layer below" if reverse else "the layer below"
            raise ValueError(f"weight_ih{suffix} must have shape ({G}H, {expected}): layer {layer} "
                             f"reads {below}; got {D}")

    cls = CELLS[kind]

    def cell(layer, rev):
        return cls.from_torch(found[(layer, rev)])

    layers = [Bidirectional(cell(layer, False), cell(layer, True)) if reverse
              else cell(layer, False) for layer in range(L)]
    return layers[0] if L == 1 else Stacked(layers)
