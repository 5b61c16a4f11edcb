"""Behaviours of the networks (ll.Stacked, ll.Bidirectional, build, from_torch) that mutmut's
survivors showed no test pinned down.

Each test fails on the mutants named in its docstring (tools/mutate.py; docs/mutation.md).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab.networks import build


def _sd(kind="lstm", L=2, reverse=True, D=3, H=4):
    """A PyTorch-style state dict of a network built from our cells."""
    extra = {"reset_after": True} if kind == "gru" else {}
    return dict(build(kind, D, H, L, reverse, seed=0, **extra).to_torch())


def _refused(error, message, call, *args, **kwargs):
    """`call` raises `error` whose text is exactly `message`."""
    with pytest.raises(error, match="^" + re.escape(message) + "$"):
        call(*args, **kwargs)


# ----------------------------------------------------------------------------- repr

def _small_stack():
    bi = ll.Bidirectional(ll.GRUCell(3, 2, seed=0), ll.RNNCell(3, 4, seed=1))
    return ll.Stacked([bi, ll.LSTMCell(6, 2, seed=3)])


def test_network_params_repr_lists_every_name_and_shape():
    """NetworkParams.__repr__ mutants 3, 4, 5 (the class name respelt), 7 (the separator) and
    8 (the closing parenthesis)."""
    bi = ll.Bidirectional(ll.GRUCell(3, 2, seed=0), ll.RNNCell(3, 4, seed=1))
    assert repr(bi.params) == (
        "NetworkParams(fwd.W_xr: (2, 3), fwd.W_hr: (2, 2), fwd.b_r: (2,), fwd.W_xz: (2, 3), "
        "fwd.W_hz: (2, 2), fwd.b_z: (2,), fwd.W_xg: (2, 3), fwd.W_hg: (2, 2), fwd.b_g: (2,), "
        "bwd.W_xh: (4, 3), bwd.W_hh: (4, 4), bwd.b_h: (4,))")


def test_network_repr_nests_its_parts_and_closes_every_parenthesis():
    """_Network.__repr__ mutant 15 (the last ')' respelt)."""
    assert repr(_small_stack()) == (
        "Stacked(input_size=3, output_size=2, num_params=140,\n"
        "  l0: Bidirectional(input_size=3, output_size=6, num_params=68,\n"
        "    fwd: GRUCell(input_size=3, hidden_size=2, dtype=float64, num_params=36, "
        "reset_after=False)\n"
        "    bwd: RNNCell(input_size=3, hidden_size=4, dtype=float64, num_params=32))\n"
        "  l1: LSTMCell(input_size=6, hidden_size=2, dtype=float64, num_params=72))")


def test_batched_trace_repr_names_t_b_d_and_h_out():
    """NetworkTrace.__repr__ mutants 2 (B= dropped), 4 (B read from the wrong axis), 6 (D read
    from axis 1), 8 (H_out read from axis 1); Bidirectional.forward mutant 60 (a batched trace
    marked unbatched)."""
    net = _small_stack()
    x = np.random.default_rng(0).normal(size=(5, 7, 3))
    trace = net.forward(x)
    bi = trace.layers[0]
    assert trace.batched is True and bi.batched is True
    assert repr(trace) == "StackedTrace(T=5, B=7, D=3, H_out=2, parts: l0, l1)"
    assert repr(bi) == "BidirectionalTrace(T=5, B=7, D=3, H_out=6, parts: fwd, bwd)"
    alone = net[0].forward(x)
    assert alone.batched is True
    assert repr(alone) == "BidirectionalTrace(T=5, B=7, D=3, H_out=6, parts: fwd, bwd)"
    assert repr(net[0].forward(x[:, 0])) == (
        "BidirectionalTrace(T=5, D=3, H_out=6, parts: fwd, bwd)")


# ----------------------------------------------------------------------------- initial states

def test_bidirectional_names_h0_and_c0_in_its_errors():
    """Bidirectional.forward mutants 5, 10, 11 (h0 checked under another name) and 13, 18, 19
    (c0 checked under another name, so that a GRU pair no longer refuses a c0)."""
    lstm = ll.Bidirectional(ll.LSTMCell(3, 4, seed=0), ll.LSTMCell(3, 4, seed=1))
    x = np.zeros((5, 2, 3))
    with pytest.raises(ValueError, match=r"^h0 must have shape \(N, B, H\) with N=2 cells"):
        lstm.forward(x, h0=np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"^c0 must have shape \(N, B, H\) with N=2 cells"):
        lstm.forward(x, c0=np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="^h0 contains NaN"):
        lstm.forward(x, h0=np.full((2, 2, 4), np.nan))
    with pytest.raises(ValueError, match="^c0 contains NaN"):
        lstm.forward(x, c0=np.full((2, 2, 4), np.nan))
    gru = ll.Bidirectional(ll.GRUCell(3, 4, seed=0), ll.GRUCell(3, 4, seed=1))
    _refused(ValueError, "c0 is only for networks whose every cell has a cell state (the LSTM "
             "family); this one has gru cells", gru.forward, x, c0=np.zeros((2, 2, 4)))


# ----------------------------------------------------------------------------- to_torch

class _Kindless:
    """A cell in all but the `kind` attribute (a user's own cell)."""

    def __init__(self, cell):
        self._cell = cell
        for name in ("params", "forward", "backward", "input_size", "hidden_size",
                     "has_cell_state", "dtype", "to_torch"):
            setattr(self, name, getattr(cell, name))


def test_to_torch_refuses_a_cell_without_a_kind_with_a_value_error():
    """_Network.to_torch mutant 7: getattr(c, 'kind') without a default raises AttributeError
    for a user's cell that has no `kind`, instead of the ValueError about mixed cells."""
    net = ll.Stacked([ll.LSTMCell(2, 3, seed=0), _Kindless(ll.LSTMCell(3, 3, seed=1))])
    _refused(ValueError, "PyTorch's recurrent modules have one kind of cell and one hidden size "
             "for every layer and direction; this network mixes them", net.to_torch)


def test_to_torch_refuses_a_layer_pairing_a_network_with_a_cell():
    """Stacked._torch_layers mutants 4, 5 (`and` -> `or`: a Bidirectional holding a network
    taken for a pair of cells), 9 (no message) and 10 (the layer's type named NoneType)."""
    for pair in (ll.Bidirectional(build("lstm", 2, 3, 2, seed=0), ll.LSTMCell(2, 3, seed=5)),
                 ll.Bidirectional(ll.LSTMCell(2, 3, seed=5), build("lstm", 2, 3, 2, seed=0))):
        net = ll.Stacked([pair])
        _refused(ValueError, "layer l0 is a Bidirectional of networks; PyTorch's layers are "
                 "single cells or Bidirectional pairs of cells", net.to_torch)


# ----------------------------------------------------------------------------- from_torch

def test_from_torch_reads_an_lstm_dict_by_default():
    """from_torch mutants 1, 2 (the default kind respelt, so that kind must be given)."""
    sd = _sd("lstm")
    net = ll.from_torch(sd)
    assert type(net[0].fwd) is ll.LSTMCell
    x = np.random.default_rng(0).normal(size=(4, 3))
    np.testing.assert_array_equal(net.forward(x).h, ll.from_torch(sd, kind="lstm").forward(x).h)


def test_from_torch_messages_name_the_type_and_the_module():
    """from_torch mutants 7 (the type of a non-mapping named NoneType) and 14 (nn.lstm)."""
    _refused(TypeError, "state_dict must be a mapping like module.state_dict(); got list",
             ll.from_torch, [np.zeros(3)])
    sd = _sd("gru")
    sd["rnn.weight_ih_l0"] = sd.pop("weight_ih_l0")
    _refused(ValueError, "unexpected key 'rnn.weight_ih_l0': an nn.GRU state dict has keys like "
             "weight_ih_l0, bias_hh_l1, weight_hh_l0_reverse (strip any module prefix such as "
             "'rnn.' first)", ll.from_torch, sd, kind="gru")


def test_from_torch_refuses_a_projection_of_any_layer_first():
    """from_torch mutants 25, 26 (weight_hr no longer recognised: the layer's cell then names
    it weight_hr_l0, or another check speaks first)."""
    sd = _sd()
    sd["weight_hr_l1"] = np.zeros((4, 2))
    _refused(ValueError, "this state dict has weight_hr_l1: an LSTM with proj_size > 0 projects "
             "h_t to a smaller size, which these cells do not model; use proj_size=0",
             ll.from_torch, sd)
    _refused(ValueError, "this state dict has weight_hr_l0_reverse: an LSTM with proj_size > 0 "
             "projects h_t to a smaller size, which these cells do not model; use proj_size=0",
             ll.from_torch, {"weight_hr_l0_reverse": np.zeros((4, 2))})


def test_from_torch_names_the_first_missing_layers_of_a_far_layer_index():
    """from_torch mutants 56 (one layer too many looked at for gaps), 57 (four gaps named, not
    three) and 61-64 (the top layer's index off by one)."""
    far = {f"weight_ih_l{n}{r}": np.zeros((16, 3)) for n in (50, 60, 1234)
           for r in ("", "_reverse")}
    _refused(ValueError, "state_dict is missing layer(s) l0, l1, l2: its keys name layer l1234, "
             "so a 1,235-layer module would need keys for every layer 0..1234 (it has keys for 6 "
             "layer-direction(s))", ll.from_torch, far)
    two = {"weight_ih_l0": np.zeros((16, 3)), "weight_ih_l5": np.zeros((16, 3))}
    _refused(ValueError, "state_dict is missing layer(s) l1, l2: its keys name layer l5, so a "
             "6-layer module would need keys for every layer 0..5 (it has keys for 2 "
             "layer-direction(s))", ll.from_torch, two)


def test_from_torch_names_a_missing_reverse_layer():
    """from_torch mutants 69, 70 ('_reverse' respelt), 75 (' bidirectional' dropped), 80, 81
    (the top layer's index off by one) and 82 (' in both directions' dropped)."""
    sd = _sd(L=3)
    for key in [k for k in sd if k.endswith("_l1_reverse")]:
        del sd[key]
    _refused(ValueError, "state_dict is missing layer(s) weight_ih_l1_reverse: a 3-layer "
             "bidirectional module needs keys for every layer 0..2 in both directions",
             ll.from_torch, sd)


def test_from_torch_names_the_reverse_keys_it_misses():
    """from_torch mutants 91, 92 (the '_reverse' of the suffix respelt) and 119-122 (the bias
    named as missing when only bias_hh is there)."""
    sd = _sd()
    del sd["weight_hh_l1_reverse"]
    _refused(ValueError, "state_dict is missing weight_hh_l1_reverse", ll.from_torch, sd)
    sd = _sd()
    del sd["bias_ih_l1_reverse"]
    _refused(ValueError, "state_dict has bias_hh_l1_reverse but not bias_ih_l1_reverse: a layer "
             "has both biases or, for bias=False, neither", ll.from_torch, sd)
    sd = _sd(L=1, reverse=False)
    del sd["bias_ih_l0"]
    _refused(ValueError, "state_dict has bias_hh_l0 but not bias_ih_l0: a layer has both biases "
             "or, for bias=False, neither", ll.from_torch, sd)


def test_from_torch_gives_no_hint_for_a_shape_of_no_kind():
    """from_torch mutant 150 (the hint read when there is none: IndexError)."""
    sd = _sd()
    sd["weight_hh_l0"] = np.zeros((7, 4))
    _refused(ValueError, "weight_hh_l0 must have shape (4H, H) for kind='lstm'; got (7, 4)",
             ll.from_torch, sd)


def test_from_torch_says_what_a_deeper_layer_reads():
    """from_torch mutants 178-184 (the layer below respelt, or named wrongly for one
    direction)."""
    sd = _sd()
    sd["weight_ih_l1"] = np.zeros((16, 5))
    _refused(ValueError, "weight_ih_l1 must have shape (4H, 8): layer 1 reads both directions of "
             "the layer below; got (16, 5)", ll.from_torch, sd)
    sd = _sd(reverse=False)
    sd["weight_ih_l1"] = np.zeros((16, 5))
    _refused(ValueError, "weight_ih_l1 must have shape (4H, 4): layer 1 reads the layer below; "
             "got (16, 5)", ll.from_torch, sd)


# ----------------------------------------------------------------------------- backward's checks

def test_backward_refuses_the_trace_of_a_network_of_another_shape():
    """_Network._check_backward mutants 3 (`or` -> `and`: a StackedTrace with other layers let
    through) and 8 (the trace's type named NoneType)."""
    two, three = build("gru", 3, 4, 2, seed=0), build("gru", 3, 4, 3, seed=0)
    trace = three.forward(np.zeros((5, 3)))
    _refused(TypeError, "backward needs the StackedTrace this network's forward returned; got "
             "StackedTrace", two.backward, trace, np.zeros((5, 4)))
    bi = build("gru", 3, 4, 1, True, seed=0)
    _refused(TypeError, "backward needs the BidirectionalTrace this network's forward returned; "
             "got StackedTrace", bi.backward, trace, np.zeros((5, 8)))


class _Recording(_Kindless):
    """A user's cell that writes down the dtype of every dh its backward is handed and of every
    initial state its forward is handed (in `states`)."""

    def __init__(self, cell, seen, states=None):
        super().__init__(cell)
        self.kind = cell.kind
        self.backward = lambda trace, dh: seen.append(np.asarray(dh).dtype) or cell.backward(
            trace, dh)
        if states is not None:
            def forward(x, **given):
                states.extend(np.asarray(v).dtype for v in given.values())
                return cell.forward(x, **given)
            self.forward = forward


def test_backward_converts_dh_to_the_networks_dtype_under_its_name():
    """_Network._check_backward mutants 11 (dh converted under no name) and 12 (dh kept in its
    own dtype, so that the parts of a float32 network are handed a float64 dh)."""
    seen = []
    cells = [_Recording(ll.GRUCell(2, 3, seed=k, dtype=np.float32), seen) for k in range(2)]
    for net in (ll.Bidirectional(*cells), ll.Stacked([cells[0]])):
        trace = net.forward(np.ones((4, 2)))
        net.backward(trace, np.ones(trace.h.shape))                   # float64 dh
    assert seen == [np.dtype(np.float32)] * 3
    net = build("lstm", 2, 3, 2, True, seed=0, dtype=np.float32)
    trace = net.forward(np.ones((4, 2), dtype=np.float32))
    grads = net.backward(trace, np.ones((4, 6)))                   # float64 dh
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    ints = net.backward(trace, np.ones((4, 6), dtype=int).tolist())
    for key, value in grads.items():
        np.testing.assert_array_equal(ints[key], value, err_msg=key)
    _refused(ValueError, "dh has values too large for float32 (|value| > 3.4e+38)",
             net.backward, trace, np.full((4, 6), 1e300))
    _refused(TypeError, "dh must be real; got a complex array (complex128)",
             net.backward, trace, np.ones((4, 6), dtype=complex))


def test_backward_checks_the_shape_of_dh_before_its_values():
    """_Network._check_backward mutants 17, 20 (NaN looked for at conversion, before the shape),
    18, 19 (dh respelt in the message), 32, 36-38 (an unbatched dh's shape spelt wrongly)."""
    net = build("lstm", 3, 4, 2, True, seed=0)
    trace = net.forward(np.zeros((5, 3)))
    for dh in (np.zeros((5, 4)), np.full((5, 4), np.nan)):
        _refused(ValueError, "dh must have shape (T, H_out) like trace.h = (5, 8); got (5, 4)",
                 net.backward, trace, dh)
    _refused(ValueError, "dh contains NaN or inf (first at index (1, 2))", net.backward, trace,
             np.where(np.arange(40).reshape(5, 8) == 10, np.inf, 0.0))


def test_trace_stacks_every_cells_initial_cell_state():
    """NetworkTrace.__init__ mutant 21 (c0 left None for a network of LSTM cells)."""
    net = build("lstm", 2, 3, 2, True, seed=0)
    rng = np.random.default_rng(0)
    h0, c0 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    trace = net.forward(rng.normal(size=(5, 2)), h0=h0, c0=c0)
    np.testing.assert_array_equal(trace.h0, h0)
    np.testing.assert_array_equal(trace.c0, c0)
    np.testing.assert_array_equal(trace.layers[1].c0, c0[2:])
    zeros = net.forward(np.ones((5, 2))).c0
    np.testing.assert_array_equal(zeros, np.zeros((4, 3)))


def test_initial_states_reach_the_cells_in_the_networks_dtype():
    """_Network._split_state mutant 30 (h0 and c0 kept in their own dtype, so that the cells of
    a float32 network are handed float64 states)."""
    seen, states = [], []
    cells = [_Recording(ll.LSTMCell(D, 3, seed=k, dtype=np.float32), seen, states)
             for k, D in enumerate((2, 2, 6))]
    net = ll.Stacked([ll.Bidirectional(cells[0], cells[1]), cells[2]])
    h0 = c0 = np.ones((3, 3))                                       # float64
    trace = net.forward(np.ones((4, 2)), h0=h0, c0=c0)
    assert states == [np.dtype(np.float32)] * 6
    assert trace.x.dtype == trace.h0.dtype == trace.c0.dtype == np.float32


def test_forward_converts_x_to_the_networks_dtype():
    """_Network._check_x mutant 4 (x kept in its own dtype: a float64 x, or a list of ints, in
    the trace of a float32 network)."""
    net = build("gru", 2, 3, 2, True, seed=0, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(4, 2))
    trace = net.forward(x)
    assert trace.x.dtype == trace.h.dtype == np.float32
    np.testing.assert_array_equal(trace.x, x.astype(np.float32))
    ints = net.forward([[1, 0], [0, 2], [1, 1]])
    assert ints.x.dtype == np.float32
    assert ints.x.tolist() == [[1, 0], [0, 2], [1, 1]]


# ----------------------------------------------------------------------------- messages

def test_network_params_name_three_keys_when_one_is_unknown():
    """NetworkParams.__getitem__ mutant 6 (four keys named, not three)."""
    net = build("lstm", 3, 4, 2, True, seed=0)
    with pytest.raises(KeyError) as info:
        net.params["zz"]
    assert info.value.args == ("no parameter named 'zz'; the names look like l0.fwd.W_xf, "
                               "l0.fwd.W_hf, l0.fwd.b_f, ...",)


def test_build_messages_name_kind_layers_and_size():
    """build mutants 14-18, 21-26 (num_layers / hidden_size H respelt in the size checks)."""
    _refused(ValueError, "kind must be one of 'rnn', 'lstm', 'peephole', 'coupled', 'gru', 'nig', "
             "'nfg', 'nog', 'niaf', 'noaf', 'mgu', 'cifg'; got 'x'", build, "x", 3, 4)
    _refused(ValueError, "num_layers must be a positive integer; got 0", build, "lstm", 3, 4, 0)
    _refused(ValueError, "hidden_size H must be a positive integer; got 0", build, "lstm", 3, 0)
    _refused(TypeError, "hidden_size H must be a positive integer; got '4' of type str",
             build, "lstm", 3, "4")


def test_network_construction_messages():
    """Stacked.__init__ mutants 1 (a str taken for a list of layers), 10 (the type named
    NoneType), 30, 31 (the layer below misnumbered); _Network._set_parts mutants 6 (NoneType)
    and 13 (the first position of a doubled cell lost)."""
    _refused(TypeError, "layers must be a list of cells or networks; got str", ll.Stacked, "lstm")
    _refused(TypeError, "layers must be a list of cells or networks; got dict", ll.Stacked,
             {"l0": ll.GRUCell(3, 3)})
    _refused(TypeError, "layers must be a list of cells or networks; got GRUCell", ll.Stacked,
             ll.GRUCell(3, 3))
    _refused(TypeError, "l1 must be a cell (ll.LSTMCell, ll.GRUCell, ...) or a network "
             "(ll.Stacked, ll.Bidirectional); got str", ll.Stacked, [ll.GRUCell(3, 3), "lstm"])
    cell = ll.GRUCell(3, 3)
    _refused(ValueError, "the same cell object appears twice (l1 and l2); every position needs "
             "its own cell and weights", ll.Stacked, [ll.GRUCell(3, 3), cell, cell])
    _refused(ValueError, "the same cell object appears twice (l0 and l1); every position needs "
             "its own cell and weights", ll.Stacked,
             [ll.Bidirectional(ll.GRUCell(3, 3), cell), ll.Bidirectional(ll.GRUCell(3, 3), cell)])
    _refused(ValueError, "every cell must have the same dtype; got ['float32', 'float64']",
             ll.Stacked, [ll.GRUCell(3, 3, dtype=np.float32), ll.GRUCell(3, 3),
                          ll.GRUCell(3, 3, dtype=np.float32)])
    _refused(ValueError, "layer l2 must have input_size 4 (the output size of layer l1); got "
             "input_size 5", ll.Stacked, [ll.LSTMCell(3, 4), ll.LSTMCell(4, 4), ll.LSTMCell(5, 4)])


def test_to_torch_refuses_a_stacked_layer_of_networks():
    """_is_cell mutant 1 (`and` -> `or`: a network taken for a cell) for Stacked and
    Bidirectional layers."""
    net = ll.Stacked([build("lstm", 2, 3, 2, seed=0)])
    _refused(ValueError, "layer l0 is a Stacked of networks; PyTorch's layers are single cells "
             "or Bidirectional pairs of cells", net.to_torch)
    pair = ll.Bidirectional(build("lstm", 2, 3, 2, seed=0), build("lstm", 2, 3, 2, seed=4))
    _refused(ValueError, "PyTorch's bidirectional layers pair two cells; wrap Bidirectional pairs "
             "in ll.Stacked instead of putting networks inside one", pair.to_torch)


def test_forward_messages_for_x():
    """_Network._check_x mutants 11 (X), 12 (NaN looked for before the shape), 17 (a 4-d x let
    through to the cells) and 23, 26, 27 (x respelt in the NaN message)."""
    net = build("lstm", 3, 4, 2, True, seed=0)
    _refused(TypeError, "x must be real; got a complex array (complex128)", net.forward,
             np.zeros((5, 2, 3), complex))
    for x in (np.zeros((5, 2, 2, 3)), np.full((5, 2, 2, 3), np.nan), np.full((5, 4), np.nan)):
        _refused(ValueError, "x must have shape (T, D) or (T, B, D) with D=3; got "
                 f"{x.shape}", net.forward, x)
    _refused(ValueError, "x contains NaN or inf (first at index (0, 0))", net.forward,
             np.full((5, 3), np.nan))


def test_forward_messages_for_h0_and_c0():
    """_Network._split_state mutants 15-23 (the kinds of cells named wrongly), 29 (h0 converted
    under no name), 35, 36 (NaN looked for before the shape), 43, 52 (the shape spelt None), 48
    (B read from the wrong axis of x), 58 (NaN in h0 reported under no name)."""
    net = build("lstm", 3, 4, 2, True, seed=0)
    x1, x2 = np.zeros((5, 3)), np.zeros((5, 2, 3))
    for h0 in (np.zeros((4, 5)), np.full((4, 5), np.nan)):
        _refused(ValueError, "h0 must have shape (N, H) with N=4 cells, for an unbatched x = "
                 "(4, 4); got (4, 5)", net.forward, x1, h0=h0)
    _refused(ValueError, "c0 must have shape (N, B, H) with N=4 cells = (4, 2, 4); got (4, 3, 4)",
             net.forward, x2, c0=np.zeros((4, 3, 4)))
    _refused(ValueError, "h0 contains NaN or inf (first at index (1, 2))", net.forward, x1,
             h0=np.where(np.arange(16).reshape(4, 4) == 6, np.nan, 0.0))
    _refused(TypeError, "h0 must be real; got a complex array (complex128)", net.forward, x1,
             h0=np.zeros((4, 4), complex))
    net = build("lstm", 3, 4, 1, True, seed=0)
    np.testing.assert_array_equal(net.forward(np.zeros((5, 7, 3)), h0=np.ones((2, 7, 4))).h0, 1)
    mixed = ll.Stacked([ll.LSTMCell(3, 4, seed=0), ll.GRUCell(4, 4, seed=1),
                        _Kindless(ll.GRUCell(4, 4, seed=2))])
    _refused(ValueError, "c0 is only for networks whose every cell has a cell state (the LSTM "
             "family); this one has _Kindless, gru, lstm cells", mixed.forward, x1,
             c0=np.zeros((3, 4)))


# ----------------------------------------------------------------------------- build

def _same_weights(a, b):
    return a.params.keys() == b.params.keys() and all(
        np.array_equal(v, b.params[k]) and v.dtype == b.params[k].dtype
        for k, v in a.params.items())


def test_build_defaults_to_one_layer_one_direction_seed_zero():
    """build mutants 1 (num_layers defaults to 2), 2 (bidirectional defaults to True), 3 (seed
    defaults to 1), 70-75 (one layer not returned as the plain cell)."""
    cell = build("gru", 3, 4)
    assert type(cell) is ll.GRUCell and (cell.input_size, cell.hidden_size) == (3, 4)
    assert _same_weights(cell, ll.GRUCell(3, 4, seed=0))
    assert _same_weights(build("gru", 3, 4, 1, False, seed=0), cell)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_build_makes_pytorchs_layout_with_seed_plus_k(bidirectional):
    """build mutants 28-31 (the number of directions), 35 (L / directions), 38-42 (the seed of
    cell k), 43-51 (what each cell is built with), 54-59 (each layer's input size) and 60-69
    (each layer's cells)."""
    net = build("lstm", 3, 5, 3, bidirectional, seed=10, dtype=np.float32, forget_bias=2.5)
    assert type(net) is ll.Stacked and len(net) == 3
    cells = net.cells()
    assert len(cells) == (6 if bidirectional else 3)
    width = 10 if bidirectional else 5
    for k, c in enumerate(cells):
        D = 3 if k < len(cells) // 3 else width
        alone = ll.LSTMCell(D, 5, seed=10 + k, dtype=np.float32, forget_bias=2.5)
        assert _same_weights(c, alone), k
    for layer in net.layers:
        assert type(layer) is (ll.Bidirectional if bidirectional else ll.LSTMCell)
    assert net.output_size == width


def test_build_with_seed_none_draws_fresh_weights():
    """build mutants 39-41 (seed None handled wrongly: a TypeError or fixed seeds)."""
    a, b = build("rnn", 2, 3, 2, True, seed=None), build("rnn", 2, 3, 2, True, seed=None)
    assert not np.array_equal(a.params["l0.fwd.W_xh"], b.params["l0.fwd.W_xh"])
    assert not np.array_equal(a.params["l0.fwd.W_xh"], a.params["l0.bwd.W_xh"])
    gru = build("gru", 2, 3, 2, reset_after=True)
    assert all(c.reset_after for c in gru.cells())
