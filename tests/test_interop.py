"""Parity with PyTorch and Keras: committed fixtures (no framework needed), live tests (torch)."""

import pathlib

import numpy as np
import pytest

import lstm_lab as ll

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
CLASSES = {"rnn": ll.RNNCell, "lstm": ll.LSTMCell, "gru": ll.GRUCell}
TORCH_KEYS = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def load(name):
    with np.load(FIXTURES / name) as f:
        return dict(f)


def torch_grads_in_our_names(cls, data):
    """Map PyTorch's gradients onto our parameter names (merged biases share one gradient)."""
    gb_ih, gb_hh = data["grad_bias_ih_l0"], data["grad_bias_hh_l0"]
    H = data["weight_hh_l0"].shape[1]
    merged = slice(0, 2 * H) if cls is ll.GRUCell else slice(None)
    # a bias that is only ever added gets the same gradient through either copy
    np.testing.assert_allclose(gb_ih[merged], gb_hh[merged], atol=1e-12)
    only_hh = np.zeros_like(gb_hh)
    if cls is ll.GRUCell:
        only_hh[2 * H :] = gb_hh[2 * H :]  # the candidate's b_hg, scaled by r_t
    sd = {
        "weight_ih_l0": data["grad_weight_ih_l0"],
        "weight_hh_l0": data["grad_weight_hh_l0"],
        "bias_ih_l0": gb_ih,
        "bias_hh_l0": only_hh,
    }
    return dict(cls.from_torch(sd).params)


def keras_grads_in_our_names(cls, data):
    bias = data["grad_bias"]
    H = data["recurrent_kernel"].shape[0]
    if bias.ndim == 2:  # GRU reset_after=True: (input row, recurrent row)
        np.testing.assert_allclose(bias[0, : 2 * H], bias[1, : 2 * H], atol=1e-12)
        bias = np.stack([bias[0], np.concatenate([np.zeros(2 * H), bias[1, 2 * H :]])])
    return dict(cls.from_keras([data["grad_kernel"], data["grad_recurrent_kernel"], bias]).params)


def check_against(cell, data, expected_grads):
    kw = {"c0": data["c0"]} if "c0" in data else {}
    trace = cell.forward(data["x"], h0=data["h0"], **kw)
    np.testing.assert_allclose(trace.h, data["h"], rtol=0, atol=1e-10, err_msg="h")
    grads = cell.backward(trace, data["R"])
    for key in ("x", "h0", "c0"):
        if "grad_" + key in data:
            np.testing.assert_allclose(
                grads[key], data["grad_" + key], rtol=0, atol=1e-9, err_msg=key
            )
    assert set(expected_grads) == set(cell.params)
    for name, value in expected_grads.items():
        np.testing.assert_allclose(grads[name], value, rtol=0, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_torch_fixture(kind):
    data = load(f"torch_cell_{kind}.npz")
    cls = CLASSES[kind]
    cell = cls.from_torch({k: data[k] for k in TORCH_KEYS})
    assert cell.dtype == np.float64 and cell.hidden_size == 4 and cell.input_size == 3
    check_against(cell, data, torch_grads_in_our_names(cls, data))


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru_reset_after", "gru_reset_before"])
def test_keras_fixture(name):
    data = load(f"keras_cell_{name}.npz")
    cls = CLASSES[name.split("_")[0]]
    cell = cls.from_keras([data["kernel"], data["recurrent_kernel"], data["bias"]])
    if cls is ll.GRUCell:
        assert cell.reset_after == (name == "gru_reset_after")
    check_against(cell, data, keras_grads_in_our_names(cls, data))


# -- round trips ----------------------------------------------------------------------------------


def random_cell(cls, rng, **kw):
    cell = cls(int(rng.integers(1, 5)), int(rng.integers(1, 6)), seed=int(rng.integers(1000)), **kw)
    for arr in cell.params.values():
        arr[...] = rng.uniform(-1, 1, size=arr.shape)
    return cell


@pytest.mark.parametrize(
    "cls, kw", [(ll.RNNCell, {}), (ll.LSTMCell, {}), (ll.GRUCell, {"reset_after": True})]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_round_trip(cls, kw, dtype):
    rng = np.random.default_rng(0)
    cell = random_cell(cls, rng, dtype=dtype, **kw)
    sd = cell.to_torch()
    assert set(sd) == set(TORCH_KEYS) and all(v.dtype == dtype for v in sd.values())
    G = max(1, len(cell.gate_names))
    assert sd["weight_ih_l0"].shape == (G * cell.hidden_size, cell.input_size)
    back = cls.from_torch(sd)
    assert back.dtype == dtype
    x = rng.normal(size=(5, 2, cell.input_size))
    np.testing.assert_array_equal(back.forward(x).h, cell.forward(x).h)


@pytest.mark.parametrize(
    "cls, kw",
    [
        (ll.RNNCell, {}),
        (ll.LSTMCell, {}),
        (ll.GRUCell, {"reset_after": True}),
        (ll.GRUCell, {"reset_after": False}),
    ],
)
def test_keras_round_trip(cls, kw):
    rng = np.random.default_rng(1)
    cell = random_cell(cls, rng, **kw)
    weights = cell.to_keras()
    back = cls.from_keras(weights)
    assert getattr(back, "reset_after", None) == kw.get("reset_after")
    x = rng.normal(size=(4, cell.input_size))
    np.testing.assert_allclose(back.forward(x).h, cell.forward(x).h, rtol=0, atol=1e-15)


def test_torch_without_biases_means_zero_biases():
    rng = np.random.default_rng(2)
    sd = {"weight_ih_l0": rng.normal(size=(8, 3)), "weight_hh_l0": rng.normal(size=(8, 2))}
    cell = ll.LSTMCell.from_torch(sd)
    assert all(
        not cell.params[k].any() for k in ("b_f", "b_i", "b_g", "b_o")
    )  # no forget_bias sneaks in


def test_torch_tensors_and_lists_are_accepted():
    torch = pytest.importorskip("torch")
    module = torch.nn.LSTM(2, 3)
    cell = ll.LSTMCell.from_torch(module.state_dict())
    assert cell.dtype == np.float32  # the dtype is kept
    lists = {k: v.tolist() for k, v in module.state_dict().items()}
    np.testing.assert_allclose(
        ll.LSTMCell.from_torch(lists).params["W_xi"], cell.params["W_xi"], atol=1e-7
    )
    params = dict(module.named_parameters())  # tensors that require grad
    assert ll.LSTMCell.from_torch(params).num_params == cell.num_params


# -- refusals -------------------------------------------------------------------------------------


def sd_of(G, D=3, H=2, bias=True, seed=0):
    """A PyTorch layer-0 state dict with G gate blocks (1 nn.RNN, 3 nn.GRU, 4 nn.LSTM)."""
    rng = np.random.default_rng(seed)
    sd = {"weight_ih_l0": rng.normal(size=(G * H, D)), "weight_hh_l0": rng.normal(size=(G * H, H))}
    if bias:
        sd.update(bias_ih_l0=rng.normal(size=G * H), bias_hh_l0=rng.normal(size=G * H))
    return sd


def test_torch_refusals():
    with pytest.raises(
        ValueError,
        match=r"weight_hh_l0 must have shape \(4H, H\) = \(8, 2\) .*got \(6, 2\)\. "
        r"It holds 3 blocks of H: is it from nn.GRU",
    ):
        ll.LSTMCell.from_torch(sd_of(3))  # an nn.GRU state dict
    with pytest.raises(ValueError, match="is it from nn.LSTM"):
        ll.GRUCell.from_torch(sd_of(4))
    with pytest.raises(ValueError, match="is it from nn.LSTM"):
        ll.RNNCell.from_torch(sd_of(4))
    sd = sd_of(4)
    del sd["weight_hh_l0"]
    with pytest.raises(ValueError, match="state_dict is missing weight_hh_l0"):
        ll.LSTMCell.from_torch(sd)
    sd = sd_of(4)
    del sd["bias_hh_l0"]
    with pytest.raises(
        ValueError, match="missing bias_hh_l0 .*either both biases or, for bias=False, neither"
    ):
        ll.LSTMCell.from_torch(sd)
    with pytest.raises(ValueError, match="weight_hr_l0: an LSTM with proj_size > 0"):
        ll.LSTMCell.from_torch({**sd_of(4), "weight_hr_l0": np.zeros((1, 2))})
    with pytest.raises(
        ValueError, match=r"more layers or directions \(weight_ih_l1\).*ll.from_torch"
    ):
        ll.LSTMCell.from_torch({**sd_of(4), "weight_ih_l1": np.zeros((8, 2))})
    with pytest.raises(ValueError, match="more layers or directions"):
        ll.LSTMCell.from_torch({**sd_of(4), "weight_ih_l0_reverse": np.zeros((8, 3))})
    with pytest.raises(ValueError, match=r"unexpected keys \['lstm.weight_ih_l0'\]"):
        ll.LSTMCell.from_torch({**sd_of(4), "lstm.weight_ih_l0": np.zeros((8, 3))})
    sd = sd_of(4)
    sd["bias_ih_l0"] = np.zeros(6)
    with pytest.raises(ValueError, match=r"bias_ih_l0 must have shape \(4H,\) = \(8,\)"):
        ll.LSTMCell.from_torch(sd)
    sd = sd_of(4)
    sd["weight_ih_l0"] = np.zeros((6, 3))
    with pytest.raises(ValueError, match=r"weight_ih_l0 must have shape \(4H, D\)"):
        ll.LSTMCell.from_torch(sd)
    sd = sd_of(4)
    sd["weight_ih_l0"][0, 0] = np.nan
    with pytest.raises(ValueError, match="weight_ih_l0 contains NaN or inf"):
        ll.LSTMCell.from_torch(sd)
    sd = sd_of(4)
    sd["weight_ih_l0"] = sd["weight_ih_l0"].astype(np.float16)
    with pytest.raises(
        TypeError, match="weight_ih_l0 must hold float32 or float64 numbers; got dtype float16"
    ):
        ll.LSTMCell.from_torch(sd)
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        ll.LSTMCell.from_torch([np.zeros((8, 3))])
    with pytest.raises(ValueError, match="reset_after=True GRU; got reset_after=False"):
        ll.GRUCell.from_torch(sd_of(3), reset_after=False)
    with pytest.raises(ValueError, match="nn.GRU computes the reset_after=True form"):
        ll.GRUCell(2, 3).to_torch()


@pytest.mark.parametrize("cls", [ll.PeepholeLSTMCell, ll.CoupledLSTMCell])
def test_no_framework_twin(cls):
    for call in (
        lambda: cls.from_torch(sd_of(4)),
        lambda: cls(2, 2).to_torch(),
        lambda: cls.from_keras([np.zeros((3, 8)), np.zeros((2, 8))]),
        lambda: cls(2, 2).to_keras(),
    ):
        with pytest.raises(TypeError, match=f"{cls.__name__} has no .* twin"):
            call()


def test_keras_refusals():
    rng = np.random.default_rng(0)
    lstm_w = [rng.normal(size=(3, 8)), rng.normal(size=(2, 8)), rng.normal(size=8)]
    gru_w = [rng.normal(size=(3, 6)), rng.normal(size=(2, 6)), rng.normal(size=(2, 6))]
    with pytest.raises(
        ValueError,
        match=r"recurrent_kernel must have shape \(H, 4H\) = \(2, 8\) .*got \(2, 6\)\. "
        r"It holds 3 blocks of H: is it from nn.GRU / GRU",
    ):
        ll.LSTMCell.from_keras(gru_w)
    with pytest.raises(ValueError, match="is it from nn.LSTM / LSTM"):
        ll.GRUCell.from_keras(lstm_w)
    with pytest.raises(
        ValueError,
        match=r"weights must hold \[kernel, recurrent_kernel\] and optionally bias; got 1",
    ):
        ll.LSTMCell.from_keras(lstm_w[:1])
    with pytest.raises(TypeError, match="weights must be the list layer.get_weights"):
        ll.LSTMCell.from_keras({"kernel": lstm_w[0]})
    with pytest.raises(ValueError, match=r"bias must have shape \(8,\) for LSTMCell; got \(2, 8\)"):
        ll.LSTMCell.from_keras([lstm_w[0], lstm_w[1], np.zeros((2, 8))])
    with pytest.raises(
        ValueError, match=r"bias must have shape \(6,\) or \(2, 6\) for GRUCell; got \(5,\)"
    ):
        ll.GRUCell.from_keras([gru_w[0], gru_w[1], np.zeros(5)])
    with pytest.raises(ValueError, match=r"kernel must have shape \(D, 4H\) = \(D, 8\)"):
        ll.LSTMCell.from_keras([np.zeros((3, 6)), lstm_w[1], lstm_w[2]])
    with pytest.raises(ValueError, match="reset_after=True GRU; got reset_after=False"):
        ll.GRUCell.from_keras(gru_w, reset_after=False)
    assert ll.GRUCell.from_keras(gru_w[:2]).reset_after  # no bias: Keras's default
    assert not ll.GRUCell.from_keras(gru_w[:2], reset_after=False).reset_after


# -- live parity (torch) --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("seed", range(3))
def test_live_torch_parity_random_sizes(kind, seed):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    T, B, D, H = (int(v) for v in rng.integers(1, 7, size=4))
    torch.manual_seed(seed)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](D, H).double()
    cell = CLASSES[kind].from_torch(module.state_dict())
    x = torch.tensor(rng.normal(size=(T, B, D)), requires_grad=True)
    h0 = torch.tensor(rng.normal(size=(1, B, H)), requires_grad=True)
    c0 = torch.tensor(rng.normal(size=(1, B, H)), requires_grad=True)
    out, _ = module(x, (h0, c0) if kind == "lstm" else h0)
    R = torch.tensor(rng.normal(size=(T, B, H)))
    (out * R).sum().backward()
    data = {
        "x": x.detach().numpy(),
        "h0": h0.detach().numpy()[0],
        "h": out.detach().numpy(),
        "R": R.numpy(),
        "grad_x": x.grad.numpy(),
        "grad_h0": h0.grad.numpy()[0],
    }
    if kind == "lstm":
        data.update(c0=c0.detach().numpy()[0], grad_c0=c0.grad.numpy()[0])
    for name, p in module.named_parameters():
        data[name] = p.detach().numpy()
        data["grad_" + name] = p.grad.numpy()
    check_against(cell, data, torch_grads_in_our_names(CLASSES[kind], data))
    # and back: our weights loaded into torch give the same outputs
    module2 = type(module)(D, H).double()
    module2.load_state_dict({k: torch.tensor(v) for k, v in cell.to_torch().items()})
    np.testing.assert_allclose(
        module2(x, (h0, c0) if kind == "lstm" else h0)[0].detach().numpy(),
        data["h"],
        rtol=0,
        atol=1e-12,
    )
