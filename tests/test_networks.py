"""Stacked and Bidirectional networks, ll.from_torch: PyTorch parity, gradients, params, errors."""

import pathlib

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab.networks import BidirectionalTrace, StackedTrace, build

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

# PyTorch's gate blocks, in its order, under our gate letters
TORCH_ORDER = {"lstm": "ifgo", "gru": "rzg", "rnn": "h"}


def torch_grads(kind, grads, prefix):
    """Our gradients of one cell (keys `prefix` + name) in PyTorch's layer-0 layout and names."""
    order = TORCH_ORDER[kind]
    out = {"weight_ih": np.concatenate([grads[prefix + "W_x" + L] for L in order]),
           "weight_hh": np.concatenate([grads[prefix + "W_h" + L] for L in order])}
    if kind == "gru":  # two biases of the candidate stay apart; r and z add theirs
        rz = [grads[prefix + "b_r"], grads[prefix + "b_z"]]
        out["bias_ih"] = np.concatenate([*rz, grads[prefix + "b_xg"]])
        out["bias_hh"] = np.concatenate([*rz, grads[prefix + "b_hg"]])
    else:  # bias_ih and bias_hh are only ever added: both get the merged bias's gradient
        out["bias_ih"] = out["bias_hh"] = np.concatenate([grads[prefix + "b_" + L] for L in order])
    return out


def prefix_of(layer, reverse, num_layers, bidirectional):
    """Where ll.from_torch puts the cell of PyTorch's layer `layer`, direction `reverse`."""
    parts = [f"l{layer}"] if num_layers > 1 else []
    if bidirectional:
        parts.append("bwd" if reverse else "fwd")
    return "".join(p + "." for p in parts)


def compare_with_torch(kind, net, data, num_layers, bidirectional, fwd_tol, grad_tol):
    """Forward outputs, final states and every gradient of `net` against a PyTorch record `data`."""
    has_c = kind == "lstm"
    state = {"h0": data["h0"], **({"c0": data["c0"]} if has_c else {})}
    trace = net.forward(data["x"], **state)
    np.testing.assert_allclose(trace.h, data["h"], rtol=0, atol=fwd_tol, err_msg="output h")
    np.testing.assert_allclose(trace.final.h, data["h_n"], rtol=0, atol=fwd_tol, err_msg="h_n")
    if has_c:
        np.testing.assert_allclose(trace.final.c, data["c_n"], rtol=0, atol=fwd_tol, err_msg="c_n")
    grads = net.backward(trace, data["R"])
    for key in ["x", *state]:
        np.testing.assert_allclose(grads[key], data["grad_" + key], rtol=0, atol=grad_tol,
                                   err_msg=key)
    checked = 0
    for layer in range(num_layers):
        for reverse in ((False, True) if bidirectional else (False,)):
            suffix = f"_l{layer}" + ("_reverse" if reverse else "")
            ours = torch_grads(kind, grads, prefix_of(layer, reverse, num_layers, bidirectional))
            for name, value in ours.items():
                np.testing.assert_allclose(value, data["grad_" + name + suffix], rtol=0,
                                           atol=grad_tol, err_msg=name + suffix)
                checked += 1
    assert checked == 4 * num_layers * (2 if bidirectional else 1)


def torch_state_dict(data):
    return {k: data[k] for k in data.files if k.startswith(("weight_", "bias_"))}


# ----------------------------------------------------------------------------- PyTorch parity

FIXTURE_CASES = [("rnn", "rnn", 2, True), ("lstm", "lstm", 2, True), ("gru", "gru", 2, True),
                 ("lstm_deep", "lstm", 3, False)]


@pytest.mark.parametrize("name, kind, num_layers, bidirectional", FIXTURE_CASES)
def test_fixture_parity(name, kind, num_layers, bidirectional):
    data = np.load(FIXTURES / f"torch_net_{name}.npz")
    net = ll.from_torch(torch_state_dict(data), kind=kind)
    assert isinstance(net, ll.Stacked) and len(net) == num_layers
    layer_type = ll.Bidirectional if bidirectional else ll.CELLS[kind]
    assert all(isinstance(layer, layer_type) for layer in net.layers)
    compare_with_torch(kind, net, data, num_layers, bidirectional, fwd_tol=1e-10, grad_tol=1e-9)


@pytest.mark.parametrize("name, kind, num_layers, bidirectional", FIXTURE_CASES)
def test_fixture_parity_from_zero_states(name, kind, num_layers, bidirectional):
    """With h0 = c0 = None the network starts every cell at zero, as PyTorch does."""
    data = np.load(FIXTURES / f"torch_net_{name}.npz")
    net = ll.from_torch(torch_state_dict(data), kind=kind)
    zeros = {key: np.zeros_like(data[key]) for key in ("h0", "c0") if key in data}
    a, b = net.forward(data["x"]), net.forward(data["x"], **zeros)
    np.testing.assert_array_equal(a.h, b.h)
    np.testing.assert_array_equal(a.h0, zeros["h0"])
    ga, gb = net.backward(a, data["R"]), net.backward(b, data["R"])
    assert ga.keys() == gb.keys()
    for key in ga:
        np.testing.assert_array_equal(ga[key], gb[key], err_msg=key)


def test_live_torch_parity_random_sizes():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2024)
    modules = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    for case in range(10):
        kind = ("rnn", "lstm", "gru")[case % 3]
        num_layers, bidirectional = int(rng.integers(1, 4)), bool(case % 2)
        T, B, D, H = (int(v) for v in rng.integers(1, 6, size=4))
        batched = case % 4 != 3
        torch.manual_seed(case)
        module = modules[kind](D, H, num_layers=num_layers, bidirectional=bidirectional).double()
        N = num_layers * (2 if bidirectional else 1)
        lead = (T, B) if batched else (T,)
        x = torch.tensor(rng.normal(size=(*lead, D)), requires_grad=True)
        h0 = torch.tensor(rng.normal(size=(N, *lead[1:], H)), requires_grad=True)
        c0 = torch.tensor(rng.normal(size=(N, *lead[1:], H)), requires_grad=True)
        out, final = module(x, (h0, c0) if kind == "lstm" else h0)
        R = torch.tensor(rng.normal(size=tuple(out.shape)))
        (out * R).sum().backward()
        data = {"x": x, "h0": h0, "h": out, "R": R, "grad_x": x.grad, "grad_h0": h0.grad,
                "h_n": final[0] if kind == "lstm" else final}
        if kind == "lstm":
            data.update(c0=c0, grad_c0=c0.grad, c_n=final[1])
        for name, p in module.named_parameters():
            data[name], data["grad_" + name] = p, p.grad
        data = {k: v.detach().numpy() for k, v in data.items()}
        net = ll.from_torch(module.state_dict(), kind=kind)
        if num_layers == 1 and not bidirectional:
            assert isinstance(net, ll.CELLS[kind])
            continue  # a plain cell: its parity is the cells' tests' business
        compare_with_torch(kind, net, data, num_layers, bidirectional, fwd_tol=1e-10, grad_tol=1e-9)


def test_to_torch_round_trip_keeps_outputs():
    data = np.load(FIXTURES / "torch_net_gru.npz")
    net = ll.from_torch(torch_state_dict(data), kind="gru")
    sd = net.to_torch()
    assert sorted(sd) == sorted(torch_state_dict(data))
    for key in ("weight_ih_l1_reverse", "weight_hh_l0"):
        np.testing.assert_array_equal(sd[key], data[key], err_msg=key)
    again = ll.from_torch(sd, kind="gru")
    np.testing.assert_allclose(again.forward(data["x"]).h, net.forward(data["x"]).h,
                               rtol=0, atol=1e-14)


def test_to_torch_refuses_what_pytorch_cannot_express():
    mixed = ll.Stacked([ll.LSTMCell(2, 3, seed=0), ll.GRUCell(3, 3, seed=1, reset_after=True)])
    with pytest.raises(ValueError, match="one kind of cell"):
        mixed.to_torch()
    nested = ll.Bidirectional(build("lstm", 2, 3, 2, seed=0), build("lstm", 2, 3, 2, seed=9))
    with pytest.raises(ValueError, match="pair two cells"):
        nested.to_torch()
    half = ll.Stacked([ll.Bidirectional(ll.LSTMCell(2, 3, seed=0), ll.LSTMCell(2, 3, seed=1)),
                       ll.LSTMCell(6, 3, seed=2)])
    with pytest.raises(ValueError, match="bidirectional or none"):
        half.to_torch()


def test_from_torch_one_layer_one_direction_is_a_plain_cell():
    cell = ll.LSTMCell(3, 4, seed=0)
    again = ll.from_torch(cell.to_torch(), kind="lstm")
    assert type(again) is ll.LSTMCell
    x = np.random.default_rng(0).normal(size=(6, 3))
    np.testing.assert_allclose(again.forward(x).h, cell.forward(x).h, rtol=0, atol=1e-14)
    bi = ll.from_torch(build("rnn", 3, 4, 1, True).to_torch(), kind="rnn")
    assert type(bi) is ll.Bidirectional and type(bi.fwd) is ll.RNNCell


def test_from_torch_keeps_float32():
    net = build("gru", 2, 3, 2, True, reset_after=True)
    sd = {k: v.astype(np.float32) for k, v in net.to_torch().items()}
    net = ll.from_torch(sd, kind="gru")
    assert net.dtype == np.float32
    assert all(a.dtype == np.float32 for a in net.params.values())
    assert net.forward(np.ones((4, 2))).h.dtype == np.float32


def _sd(kind="lstm", L=2, reverse=True, D=3, H=4):
    net = build(kind, D, H, L, reverse, **({"reset_after": True} if kind == "gru" else {}))
    return dict(net.to_torch()) if (L > 1 or reverse) else net.to_torch()


@pytest.mark.parametrize("change, message", [
    (lambda sd: sd.update({"lstm.weight_ih_l0": sd.pop("weight_ih_l0")}),
     "unexpected key 'lstm.weight_ih_l0'"),
    (lambda sd: [sd.pop(k) for k in list(sd) if "_l1" in k and "reverse" in k], "missing layer"),
    (lambda sd: sd.pop("weight_hh_l0"), "missing weight_hh_l0"),
    (lambda sd: sd.pop("bias_hh_l1"), "has bias_ih_l1 but not bias_hh_l1"),
    (lambda sd: sd.update(weight_hr_l0=np.zeros((4, 2))), "proj_size"),
    (lambda sd: sd.update(weight_ih_l1=np.zeros((16, 5))), r"must have shape \(4H, 8\)"),
    (lambda sd: sd.update(weight_hh_l1=np.zeros((20, 5))), "same hidden size"),
    (lambda sd: sd.clear(), "empty"),
])
def test_from_torch_refuses_inconsistent_dicts(change, message):
    sd = _sd()
    change(sd)
    with pytest.raises(ValueError, match=message):
        ll.from_torch(sd, kind="lstm")


def test_from_torch_names_the_right_kind():
    with pytest.raises(ValueError, match="looks like kind='gru'"):
        ll.from_torch(_sd("gru"), kind="lstm")
    with pytest.raises(ValueError, match="kind must be"):
        ll.from_torch(_sd(), kind="peephole")
    with pytest.raises(TypeError, match="mapping"):
        ll.from_torch([np.zeros(3)], kind="lstm")


def test_from_torch_accepts_a_torch_state_dict_without_bias():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True, bias=False).double()
    net = ll.from_torch(module.state_dict(), kind="gru")
    x = np.random.default_rng(1).normal(size=(7, 2, 3))
    with torch.no_grad():
        out, _ = module(torch.tensor(x))
    np.testing.assert_allclose(net.forward(x).h, out.numpy(), rtol=0, atol=1e-10)
    assert not np.any(net.params["l1.bwd.b_hg"])


# ----------------------------------------------------------------------------- the networks' maths

def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


def test_stacked_equals_running_the_layers_by_hand():
    cells = [ll.PeepholeLSTMCell(3, 5, seed=0), ll.GRUCell(5, 4, seed=1), ll.RNNCell(4, 2, seed=2)]
    net = ll.Stacked(cells)
    x = _x((7, 3, 3))
    trace = net.forward(x)
    assert isinstance(trace, StackedTrace) and len(trace) == 7
    below = x
    for k, cell in enumerate(cells):
        mine = cell.forward(below)
        np.testing.assert_allclose(trace.layers[k].h, mine.h, rtol=0, atol=0, err_msg=f"layer {k}")
        below = mine.h
    np.testing.assert_array_equal(trace.h, below)
    assert trace.h0 is None and trace.final is None  # hidden sizes differ: no stacked states
    grads = net.backward(trace, np.ones_like(trace.h))
    assert "h0" not in grads and "c0" not in grads and grads["x"].shape == x.shape


def test_bidirectional_equals_two_cells_by_hand():
    f, b = ll.LSTMCell(3, 4, seed=0), ll.CoupledLSTMCell(3, 2, seed=1)
    net = ll.Bidirectional(f, b)
    x = _x((6, 3))
    trace = net.forward(x)
    assert isinstance(trace, BidirectionalTrace) and trace.h.shape == (6, 6)
    np.testing.assert_array_equal(trace.h_fwd, f.forward(x).h)
    np.testing.assert_array_equal(trace.h_bwd, b.forward(x[::-1]).h[::-1])
    # the backward part's state at t has read x_{T-1} .. x_t: changing x_0 leaves h_bwd[1:] alone
    x2 = x.copy()
    x2[0] += 1.0
    other = net.forward(x2)
    np.testing.assert_array_equal(other.h_bwd[1:], trace.h_bwd[1:])
    assert not np.allclose(other.h_fwd[-1], trace.h_fwd[-1])


def test_state_layout_follows_cells_order():
    net = build("lstm", 2, 3, num_layers=2, bidirectional=True, seed=4)
    cells = net.cells()
    assert cells == [net[0].fwd, net[0].bwd, net[1].fwd, net[1].bwd]
    h0, c0 = _x((4, 5, 3), 1), _x((4, 5, 3), 2)
    x = _x((6, 5, 2), 3)
    trace = net.forward(x, h0=h0, c0=c0)
    for k, t in enumerate(trace.cell_traces()):
        np.testing.assert_array_equal(t.h0, h0[k], err_msg=f"h0 row {k}")
        np.testing.assert_array_equal(t.c0, c0[k], err_msg=f"c0 row {k}")
        np.testing.assert_array_equal(trace.final.h[k], t.final.h, err_msg=f"final row {k}")
    # layer 1's reverse cell reads layer 0's output backwards
    np.testing.assert_array_equal(trace.layers[1].bwd.x, trace.layers[0].h[::-1])


NETWORKS = {
    "stacked_lstm": lambda: build("lstm", 3, 4, num_layers=2),
    "bi_gru_after": lambda: build("gru", 3, 4, 1, True, reset_after=True),
    "bi_stacked_lstm": lambda: build("lstm", 3, 3, num_layers=2, bidirectional=True),
    "stacked_rnn_peephole": lambda: ll.Stacked([ll.RNNCell(3, 4, seed=0),
                                                ll.PeepholeLSTMCell(4, 4, seed=1)]),
    "bi_of_stacks": lambda: ll.Bidirectional(build("coupled", 3, 3, 2, seed=0),
                                             build("gru", 3, 3, 2, seed=5)),
    "stacked_of_bi_sizes": lambda: ll.Stacked([
        ll.Bidirectional(ll.GRUCell(3, 2, seed=0), ll.LSTMCell(3, 3, seed=1)),
        ll.LSTMCell(5, 4, seed=2)]),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
@pytest.mark.parametrize("batched", [True, False])
def test_gradcheck_on_networks(name, batched):
    net = NETWORKS[name]()
    x = _x((4, 2, 3) if batched else (4, 3), seed=len(name))
    errors = ll.gradcheck(net, x)
    expected = {*net.params, "x"}
    if net.state_size is not None:
        expected.add("h0")
    if net.has_cell_state:
        expected.add("c0")
    assert set(errors) == expected
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, (worst, errors[worst])


def test_gradcheck_with_given_initial_states():
    net = build("peephole", 2, 2, num_layers=2, bidirectional=True, seed=1)
    shape = (4, 2, 2)
    errors = ll.gradcheck(net, _x((4, 2, 2)), h0=_x(shape, 1), c0=_x(shape, 2))
    assert {"h0", "c0"} <= set(errors)
    assert max(errors.values()) < 1e-6, errors


def test_grads_have_every_key_and_shape():
    net = build("lstm", 3, 4, 2, True)
    x = _x((5, 2, 3))
    trace = net.forward(x)
    grads = net.backward(trace, np.ones_like(trace.h))
    assert list(grads)[: len(net.params)] == list(net.params)
    for key, value in net.params.items():
        assert grads[key].shape == value.shape, key
    assert grads["x"].shape == x.shape
    assert grads["h0"].shape == grads["c0"].shape == trace.h0.shape == (4, 2, 4)


def test_sequence_model_reads_out_a_network():
    from lstm_lab.train import SequenceModel

    model = SequenceModel(build("gru", 2, 3, 1, True), output_size=2, many_to_one=False)
    assert model.params["W_hy"].shape == (2, 6)
    errors = ll.gradcheck(model, _x((4, 2, 2)))
    assert {"fwd.W_xr", "bwd.b_g", "W_hy", "x", "h0"} <= set(errors)
    assert max(errors.values()) < 1e-6, errors


def test_float32_network_stays_float32():
    net = build("lstm", 2, 3, 2, True, dtype=np.float32)
    trace = net.forward(_x((4, 2)))
    assert trace.h.dtype == np.float32
    grads = net.backward(trace, np.ones_like(trace.h))
    assert all(g.dtype == np.float32 for g in grads.values())


# ----------------------------------------------------------------------------- params, repr, sizes

def test_params_are_the_cells_live_arrays():
    f, b = ll.LSTMCell(2, 3, seed=0), ll.LSTMCell(2, 3, seed=1)
    net = ll.Stacked([ll.Bidirectional(f, b), ll.GRUCell(6, 3, seed=2)])
    assert net.params["l0.bwd.W_xf"] is b.params["W_xf"]
    x = _x((5, 2))
    before = net.forward(x).h.copy()
    net.params["l0.fwd.b_o"][0] += 0.5              # writing into the array ...
    assert f.params["b_o"][0] == 0.5
    assert not np.allclose(net.forward(x).h, before)  # ... changes the next forward
    net.params["l1.b_z"] = np.full(3, 2.0)          # assigning copies in place
    np.testing.assert_array_equal(net[1].params["b_z"], 2.0)
    with pytest.raises(ValueError, match="shape"):
        net.params["l1.b_z"] = np.zeros(4)
    with pytest.raises(KeyError, match="no parameter named 'l2.b_z'"):
        net.params["l2.b_z"] = np.zeros(3)
    assert len(net.params) == len(f.params) + len(b.params) + len(net[1].params)


def test_sizes_num_params_and_repr():
    net = build("lstm", 3, 4, num_layers=2, bidirectional=True)
    assert (net.input_size, net.output_size, net.hidden_size, net.state_size) == (3, 8, 8, 4)
    # PyTorch counts two biases per gate: 4 * (4H(D + H) + 2 * 4H) for the first layer pair, etc.
    ours = 2 * (4 * 4 * (3 + 4) + 4 * 4) + 2 * (4 * 4 * (8 + 4) + 4 * 4)
    assert net.num_params == ours == sum(c.num_params for c in net.cells())
    text = repr(net)
    assert text.startswith("Stacked(input_size=3, output_size=8, num_params=672,")
    assert "  l1: Bidirectional(" in text and "    bwd: LSTMCell(input_size=8" in text
    trace = net.forward(np.zeros((5, 3)))
    assert repr(trace) == "StackedTrace(T=5, D=3, H_out=8, parts: l0, l1)"
    assert repr(trace.layers[0]) == "BidirectionalTrace(T=5, D=3, H_out=8, parts: fwd, bwd)"
    assert "0x" not in repr(net.params)


# ----------------------------------------------------------------------------- bad input

def test_building_errors():
    with pytest.raises(ValueError, match="layer l1 must have input_size 4"):
        ll.Stacked([ll.LSTMCell(3, 4), ll.LSTMCell(5, 4)])
    cell = ll.GRUCell(3, 3)
    with pytest.raises(ValueError, match="same cell object appears twice"):
        ll.Stacked([cell, cell])
    with pytest.raises(ValueError, match="same cell object"):
        ll.Bidirectional(cell, cell)
    with pytest.raises(ValueError, match="same dtype"):
        ll.Bidirectional(ll.GRUCell(3, 3), ll.GRUCell(3, 3, dtype=np.float32))
    with pytest.raises(ValueError, match="same x"):
        ll.Bidirectional(ll.GRUCell(3, 3), ll.GRUCell(2, 3))
    with pytest.raises(TypeError, match="l1 must be a cell"):
        ll.Stacked([ll.GRUCell(3, 3), "lstm"])
    with pytest.raises(TypeError, match="list of cells"):
        ll.Stacked(ll.GRUCell(3, 3))
    with pytest.raises(ValueError, match="at least one"):
        ll.Stacked([])
    with pytest.raises(ValueError, match="kind must be one of"):
        build("transformer", 3, 4)


def test_forward_and_backward_errors():
    net = build("lstm", 3, 4, 2, True)
    with pytest.raises(ValueError, match=r"x must have shape \(T, D\) or \(T, B, D\) with D=3; "
                                         r"got \(5, 4\)"):
        net.forward(np.zeros((5, 4)))
    with pytest.raises(ValueError, match="x contains NaN"):
        net.forward(np.full((5, 3), np.nan))
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, B, H\) with N=4 cells = "
                                         r"\(4, 2, 4\)"):
        net.forward(np.zeros((5, 2, 3)), h0=np.zeros((2, 2, 4)))
    with pytest.raises(ValueError, match=r"c0 must have shape \(N, H\)"):
        net.forward(np.zeros((5, 3)), c0=np.zeros((4, 2, 4)))
    trace = net.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dh must have shape \(T, B, H_out\) like trace.h = "
                                         r"\(5, 2, 8\)"):
        net.backward(trace, np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match="dh contains NaN"):
        net.backward(trace, np.full((5, 2, 8), np.inf))
    with pytest.raises(TypeError, match="StackedTrace"):
        net.backward(trace.layers[0], np.zeros((5, 2, 8)))
    gru = build("gru", 3, 4, 2)
    with pytest.raises(ValueError, match="c0 is only for networks whose every cell has a cell"):
        gru.forward(np.zeros((5, 3)), c0=np.zeros((2, 4)))
    uneven = ll.Stacked([ll.LSTMCell(3, 4), ll.LSTMCell(4, 2)])
    with pytest.raises(ValueError, match=r"same hidden_size H; this network's are \(4, 2\)"):
        uneven.forward(np.zeros((5, 3)), h0=np.zeros((2, 4)))
