"""Behaviours of the PyTorch/Keras weight interop that mutmut's survivors showed unpinned.

Each test fails on the mutant named beside it (tools/mutate.py; docs/mutation.md). Neither torch
nor keras is needed: the weights are plain numpy arrays and lists in the frameworks' layouts.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_interop import sd_of  # the state-dict builder of the interop tests

import lstm_lab as ll


def keras_of(G, D=3, H=2, seed=0, bias_shape=None):
    """A Keras get_weights() list with G gate blocks: [kernel (D, GH), recurrent (H, GH), bias]."""
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(D, G * H)), rng.normal(size=(H, G * H)),
            rng.normal(size=bias_shape or G * H)]


class FakeTensor:
    """The least of a torch tensor: a shape, and detach().cpu().numpy(); numpy cannot read it."""

    def __init__(self, arr):
        self.shape = tuple(arr.shape)
        self._arr = arr

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._arr


# -- _array: what a weight may be given as ------------------------------------------------------


def test_nested_lists_and_integer_arrays_are_read_as_float64():
    """Lists (no .shape) and int/bool arrays are accepted and become float64 (_array mutants 6, 9
    (no getattr default / `or`: lists crash), 27 (copy=False refuses a list), 32, 33 ('iub'
    respelt: ints refused), 34 (arr=None))."""
    sd = sd_of(4)
    cell = ll.LSTMCell.from_torch({k: v.tolist() for k, v in sd.items()})
    ref = ll.LSTMCell.from_torch(sd)
    for name, value in ref.params.items():
        np.testing.assert_array_equal(cell.params[name], value, err_msg=name)
    ints = {k: np.round(v * 3).astype(np.int64) for k, v in sd.items()}
    cell = ll.LSTMCell.from_torch(ints)
    assert cell.dtype == np.float64
    np.testing.assert_array_equal(cell.params["W_xi"], ints["weight_ih_l0"][:2].astype(float))
    bools = {k: v > 0 for k, v in sd.items()}
    assert ll.LSTMCell.from_torch(bools).dtype == np.float64
    w = keras_of(4)
    k = ll.LSTMCell.from_keras([a.tolist() for a in w])
    np.testing.assert_array_equal(k.params["W_xf"], w[0][:, 2:4].T)


def test_a_tensor_like_object_is_detached_and_read():
    """An object with .detach() (a torch tensor) is read through detach().cpu().numpy()
    (_array mutants 15, 19, 20 (detach never called: numpy sees an opaque object), 21)."""
    sd = sd_of(4)
    cell = ll.LSTMCell.from_torch({k: FakeTensor(v) for k, v in sd.items()})
    ref = ll.LSTMCell.from_torch(sd)
    for name, value in ref.params.items():
        np.testing.assert_array_equal(cell.params[name], value, err_msg=name)


def test_an_unconvertible_weight_is_named_with_its_type():
    """A ragged list raises a TypeError naming the key and the type given (_array mutants 28,
    29)."""
    sd = sd_of(4)
    sd["weight_ih_l0"] = [[1.0, 2.0], [3.0]]
    with pytest.raises(TypeError, match=r"^weight_ih_l0 must be an array; could not convert list"):
        ll.LSTMCell.from_torch(sd)


def test_a_huge_broadcast_view_is_refused_by_name_before_copying():
    """A broadcast view too big to copy is refused naming the key (_array mutant 11)."""
    sd = sd_of(4)
    sd["weight_ih_l0"] = np.broadcast_to(np.zeros((1, 1)), (8, 10**8))
    with pytest.raises(ValueError, match=r"^weight_ih_l0 would hold axis 0=8 \* axis 1="):
        ll.LSTMCell.from_torch(sd)


@pytest.mark.parametrize(
    "cls, make, key, name",
    [
        (ll.LSTMCell, lambda: sd_of(4), "weight_hh_l0", "weight_hh_l0"),
        (ll.LSTMCell, lambda: sd_of(4), "bias_hh_l0", "bias_hh_l0"),
        (ll.LSTMCell, lambda: sd_of(4), "bias_ih_l0", "bias_ih_l0"),
        (ll.LSTMCell, lambda: keras_of(4), 0, "kernel"),
        (ll.LSTMCell, lambda: keras_of(4), 1, "recurrent_kernel"),
        (ll.LSTMCell, lambda: keras_of(4), 2, "bias"),
    ],
)
def test_a_nan_is_reported_under_the_frameworks_name(cls, make, key, name):
    """NaN in any weight names that weight as the framework calls it (from_torch mutants 111,
    116, 117, 175; from_keras mutants 20, 24, 25, 29, 33, 34, 100, 104, 105)."""
    weights = make()
    weights[key] = weights[key].copy()
    weights[key].flat[1] = np.nan
    load = cls.from_torch if isinstance(weights, dict) else cls.from_keras
    with pytest.raises(ValueError, match=rf"^{name} contains NaN or inf \(first at index"):
        load(weights)


# -- _shape_error: the message and the framework hint ---------------------------------------------


def test_shape_error_counts_gate_blocks_in_words():
    """'1 gate block' for an RNN, '4 gate blocks' for an LSTM (_shape_error mutants 5, 6, 7,
    8)."""
    with pytest.raises(ValueError, match=r"\(1 gate block of H=2\) for RNNCell; got \(8, 2\)\."):
        ll.RNNCell.from_torch(sd_of(4))
    with pytest.raises(ValueError, match=r"\(4 gate blocks of H=2\) for LSTMCell; got \(6, 2\)\."):
        ll.LSTMCell.from_torch(sd_of(3))
    with pytest.raises(ValueError, match=r"\(3 gate blocks of H=2\) for GRUCell; got \(2, 8\)\."):
        ll.GRUCell.from_keras(keras_of(4))


def test_no_framework_hint_when_the_rows_are_not_blocks_of_h():
    """Rows that are no multiple of H give no 'is it from' guess (_shape_error mutants 12, 14,
    19 (a wrong guess or a KeyError))."""
    sd = sd_of(4)
    sd["weight_hh_l0"] = np.zeros((7, 2))
    with pytest.raises(ValueError) as err:
        ll.LSTMCell.from_torch(sd)
    assert str(err.value).endswith("for LSTMCell; got (7, 2).")
    w = keras_of(4)
    w[0] = np.zeros((3, 7))
    with pytest.raises(ValueError) as err:
        ll.LSTMCell.from_keras(w)
    assert str(err.value).endswith("for LSTMCell; got (3, 7).")


def test_keras_kernel_shape_errors():
    """A 1-D or empty kernel is a shape error, and a GRU kernel under an LSTM recurrent kernel
    is recognised by its columns (_shape_error mutant 15; from_keras mutants 69, 83, 87)."""
    w = keras_of(4)
    with pytest.raises(ValueError, match=r"^kernel must have shape \(D, 4H\) .*got \(8,\)\.$"):
        ll.LSTMCell.from_keras([np.zeros(8), w[1], w[2]])
    with pytest.raises(ValueError, match=r"^kernel must have shape \(D, 4H\) .*got \(0, 8\)\.$"):
        ll.LSTMCell.from_keras([np.zeros((0, 8)), w[1], w[2]])
    with pytest.raises(ValueError, match=r"\(3, 6\)\. It holds 3 blocks of H: is it from nn.GRU"):
        ll.LSTMCell.from_keras([np.zeros((3, 6)), w[1], w[2]])


# -- from_torch -----------------------------------------------------------------------------------


def test_torch_weight_shape_errors():
    """A 1-D weight_hh_l0 gets the (G*H, H) message; weight_ih_l0's message spells G*H as an
    integer (from_torch mutants 118, 124, 164)."""
    sd = sd_of(4)
    sd["weight_hh_l0"] = np.zeros(8)
    with pytest.raises(ValueError, match=r"^weight_hh_l0 must have shape \(G\*H, H\); got \(8,\)$"):
        ll.LSTMCell.from_torch(sd)
    sd = sd_of(4)
    sd["weight_ih_l0"] = np.zeros((6, 3))
    with pytest.raises(ValueError, match=r"^weight_ih_l0 must have shape \(4H, D\) = \(8, D\) "):
        ll.LSTMCell.from_torch(sd)


@pytest.mark.parametrize("D, H", [(1, 3), (3, 1), (1, 1)])
def test_one_input_or_one_hidden_unit_loads(D, H):
    """D=1 and H=1 are legal sizes in both layouts (from_torch mutants 123, 151; from_keras
    mutants 40, 71)."""
    sd = sd_of(4, D=D, H=H)
    cell = ll.LSTMCell.from_torch(sd)
    assert (cell.input_size, cell.hidden_size) == (D, H)
    np.testing.assert_array_equal(cell.params["W_hf"], sd["weight_hh_l0"][H : 2 * H])
    w = keras_of(3, D=D, H=H, bias_shape=(2, 3 * H))
    cell = ll.GRUCell.from_keras(w)
    assert (cell.input_size, cell.hidden_size) == (D, H)
    np.testing.assert_array_equal(cell.params["W_xg"], w[0][:, 2 * H :].T)


def test_torch_missing_weight_without_biases_names_only_the_weight():
    """bias=False state dict missing weight_hh_l0: the biases are not reported missing
    (from_torch mutant 77)."""
    sd = sd_of(4, bias=False)
    del sd["weight_hh_l0"]
    with pytest.raises(ValueError, match=r"^state_dict is missing weight_hh_l0 \(needs"):
        ll.LSTMCell.from_torch(sd)


def test_torch_biases_are_cast_to_the_weights_dtype_before_merging():
    """float32 weights with float64 biases: each bias is rounded to float32 and then the two are
    added, as float32 PyTorch would (from_torch mutant 173)."""
    sd = sd_of(4, seed=3)
    sd["weight_ih_l0"] = sd["weight_ih_l0"].astype(np.float32)
    cell = ll.LSTMCell.from_torch(sd)
    assert cell.dtype == np.float32
    b = sd["bias_ih_l0"].astype(np.float32) + sd["bias_hh_l0"].astype(np.float32)
    got = np.concatenate([cell.params["b_" + L] for L in "ifgo"])
    np.testing.assert_array_equal(got, b)


# -- from_keras -----------------------------------------------------------------------------------


def test_keras_float32_weights_make_a_float32_cell():
    """The kernel's dtype is the cell's (from_keras mutant 150)."""
    w = [a.astype(np.float32) for a in keras_of(4)]
    cell = ll.LSTMCell.from_keras(w)
    assert cell.dtype == np.float32
    assert {v.dtype for v in cell.params.values()} == {np.dtype(np.float32)}


def test_keras_gru_bias_rows_are_cast_before_merging():
    """A reset_after GRU's two bias rows are rounded to the kernel's float32, then added
    (from_keras mutant 98)."""
    w = keras_of(3, seed=3, bias_shape=(2, 6))
    w[0] = w[0].astype(np.float32)
    cell = ll.GRUCell.from_keras(w)
    b = w[2].astype(np.float32)
    np.testing.assert_array_equal(cell.params["b_z"], b[0, :2] + b[1, :2])
    np.testing.assert_array_equal(cell.params["b_r"], b[0, 2:4] + b[1, 2:4])


def test_keras_recurrent_kernel_shape_errors():
    """A 1-D or row-less recurrent kernel gets the (H, G*H) message (from_keras mutants 35, 38,
    41)."""
    w = keras_of(4)
    for bad in (np.zeros(8), np.zeros((0, 8))):
        with pytest.raises(
            ValueError,
            match=rf"^recurrent_kernel must have shape \(H, G\*H\); got \({bad.shape[0]},",
        ):
            ll.LSTMCell.from_keras([w[0], bad, w[2]])


def test_keras_single_row_gru_bias_is_reset_before():
    """A (3H,) GRU bias is a reset_after=False layer: asking for reset_after=True is refused
    (from_keras mutant 117)."""
    with pytest.raises(
        ValueError, match=r"^these Keras weights are a reset_after=False GRU; got reset_after=True$"
    ):
        ll.GRUCell.from_keras(keras_of(3), reset_after=True)


def test_keras_weights_must_be_a_list():
    """A generator or a dict is refused with the get_weights() message naming the type
    (from_keras mutants 10, 13)."""
    w = keras_of(4)
    with pytest.raises(TypeError, match=r"got generator$"):
        ll.LSTMCell.from_keras(a for a in w)
    with pytest.raises(TypeError, match=r"got dict$"):
        ll.LSTMCell.from_keras(dict(enumerate(w)))
    with pytest.raises(TypeError, match=r"^state_dict must be a mapping .*; got list$"):
        ll.LSTMCell.from_torch(w)


# -- reset_after and unexpected arguments ---------------------------------------------------------


def test_unexpected_arguments_are_named_with_the_framework():
    """Unknown keyword arguments are listed, with the framework named (_gru_flag mutants 2, 3,
    8, 9, 10, 11; from_torch mutants 90, 96, 97, 98; from_keras mutants 139, 144, 145, 146)."""
    msg = r"^unexpected arguments \['foo'\] for LSTMCell\.from_PyTorch"
    with pytest.raises(TypeError, match=msg):
        ll.LSTMCell.from_torch(sd_of(4), foo=1)
    with pytest.raises(TypeError, match=r"^unexpected arguments \['foo'\] for RNNCell\.from_Keras"):
        ll.RNNCell.from_keras(keras_of(1), foo=1)
    with pytest.raises(TypeError, match=r"^unexpected arguments \['foo'\]$"):
        ll.GRUCell.from_torch(sd_of(3), foo=1, reset_after=True)
    with pytest.raises(
        ValueError, match=r"^these PyTorch weights are a reset_after=True GRU; got reset_after=Fa"
    ):
        ll.GRUCell.from_torch(sd_of(3), reset_after=False)


def test_no_twin_names_the_framework():
    """The refusal names PyTorch or Keras (from_torch mutant 4, to_torch 4, from_keras 4,
    to_keras 4)."""
    cls = ll.PeepholeLSTMCell
    for call, fw in (
        (lambda: cls.from_torch(sd_of(4)), "PyTorch"),
        (lambda: cls(2, 2).to_torch(), "PyTorch"),
        (lambda: cls.from_keras(keras_of(4)), "Keras"),
        (lambda: cls(2, 2).to_keras(), "Keras"),
    ):
        with pytest.raises(TypeError, match=rf"^PeepholeLSTMCell has no {fw} twin: no {fw} layer"):
            call()


def test_shape_error_plural_for_a_two_gate_layout():
    """A cell class declaring two gate blocks is told '2 gate blocks' (_shape_error mutant 8)."""

    class TwoBlocks(ll.LSTMCell):
        torch_order = ("i", "f")

    with pytest.raises(ValueError, match=r"\(2 gate blocks of H=2\) for TwoBlocks; got \(8, 2\)\. "
                       r"It holds 4 blocks of H: is it from nn.LSTM"):
        TwoBlocks.from_torch(sd_of(4))


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_float64_recurrent_weights_beyond_float32_range_are_refused(framework):
    """Recurrent weights are cast into the input weights' float32 on loading; a value float32
    cannot hold is refused as too large, not first made inf by an astype (the astype that
    from_torch mutant 109 and from_keras mutant 27 changed is gone: Params does the cast)."""
    if framework == "torch":
        sd = sd_of(4)
        sd["weight_ih_l0"] = sd["weight_ih_l0"].astype(np.float32)
        sd["weight_hh_l0"][1, 1] = 1e300
        load = lambda: ll.LSTMCell.from_torch(sd)  # noqa: E731
    else:
        w = keras_of(4)
        w[0] = w[0].astype(np.float32)
        w[1][1, 1] = 1e300
        load = lambda: ll.LSTMCell.from_keras(w)  # noqa: E731
    with pytest.raises(ValueError, match=r"too large for float32"):
        load()
    if framework == "torch":
        sd["weight_hh_l0"][1, 1] = 0.5
    else:
        w[1][1, 1] = 0.5
    cell = load()
    assert {v.dtype for v in cell.params.values()} == {np.dtype(np.float32)}
