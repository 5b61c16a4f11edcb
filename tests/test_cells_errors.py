"""Bad input gets a clear error that names what was expected, in the symbol table's terms."""

import numpy as np
import pytest

import lstm_lab as ll


@pytest.fixture
def lstm():
    return ll.LSTMCell(input_size=3, hidden_size=4, seed=0)


@pytest.mark.parametrize(
    "size, error, match",
    [
        (0, ValueError, "input_size D must be a positive integer; got 0"),
        (-2, ValueError, "got -2"),
        (2.5, TypeError, "input_size D must be a positive integer; got 2.5 of type float"),
        ("3", TypeError, "of type str"),
        (True, TypeError, "of type bool"),
    ],
)
def test_sizes(size, error, match):
    with pytest.raises(error, match=match):
        ll.LSTMCell(input_size=size, hidden_size=2)
    with pytest.raises(error, match=match.replace("input_size D", "hidden_size H")):
        ll.GRUCell(input_size=2, hidden_size=size)


def test_dtype():
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64; got float16"):
        ll.RNNCell(2, 2, dtype=np.float16)
    with pytest.raises(TypeError, match="dtype must be np.float32 or np.float64; got int64"):
        ll.RNNCell(2, 2, dtype=int)


@pytest.mark.parametrize("shape", [(5, 4), (5, 2, 4), (3,), (2, 2, 2, 3), ()])
def test_x_of_the_wrong_shape(lstm, shape):
    msg = rf"x must have shape \(T, D\) or \(T, B, D\) with D=3; got {re_tuple(shape)}"
    with pytest.raises(ValueError, match=msg):
        lstm.forward(np.zeros(shape))


def re_tuple(shape):
    return str(shape).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("shape", [(0, 3), (0, 2, 3), (4, 0, 3)])
def test_empty_sequence(lstm, shape):
    with pytest.raises(ValueError, match="at least one time step and one sequence"):
        lstm.forward(np.zeros(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x(lstm, bad):
    x = np.zeros((5, 3))
    x[2, 1] = bad
    with pytest.raises(ValueError, match=r"x contains NaN or inf \(first at index \(2, 1\)\)"):
        lstm.forward(x)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.zeros((5, 3), dtype=complex), "x must be real; got a complex array"),
        (np.array([["a", "b", "c"]]), "x must be a real numeric array; got dtype <U1"),
        ([[1, 2, 3], [1, 2]], "x must be a real numeric array"),
        (np.array([[None, 1, 2]]), "got dtype object"),
    ],
)
def test_non_numeric_or_complex_x(lstm, x, match):
    with pytest.raises(TypeError, match=match):
        lstm.forward(x)


def test_integer_and_list_inputs_are_fine(lstm):
    a = lstm.forward([[1, 2, 3], [0, 0, 1]])
    b = lstm.forward(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(a.h, b.h)


def test_initial_states(lstm):
    x1, xb = np.zeros((5, 3)), np.zeros((5, 2, 3))
    with pytest.raises(
        ValueError, match=r"h0 must have shape \(H,\) for an unbatched x = \(4,\); got \(2, 4\)"
    ):
        lstm.forward(x1, h0=np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 4\); got \(4,\)"):
        lstm.forward(xb, h0=np.zeros(4))  # not broadcast over the batch
    with pytest.raises(ValueError, match=r"c0 must have shape \(B, H\) = \(2, 4\); got \(3, 4\)"):
        lstm.forward(xb, c0=np.zeros((3, 4)))  # the wrong batch
    with pytest.raises(
        ValueError, match=r"h0 must have shape \(H,\) for an unbatched x = \(4,\); got \(4, 1\)"
    ):
        lstm.forward(x1, h0=np.zeros((4, 1)))  # column vectors are refused
    with pytest.raises(ValueError, match=r"c0 contains NaN or inf \(first at index \(3,\)\)"):
        lstm.forward(x1, c0=np.array([0, 0, 0, np.nan]))
    with pytest.raises(ValueError, match="h0 contains NaN or inf"):
        lstm.forward(xb, h0=np.full((2, 4), np.inf))
    with pytest.raises(TypeError, match="h0 must be real"):
        lstm.forward(x1, h0=np.zeros(4, dtype=complex))


@pytest.mark.parametrize("cls", [ll.RNNCell, ll.GRUCell])
def test_c0_for_a_cell_without_a_cell_state(cls):
    cell = cls(3, 4)
    with pytest.raises(
        ValueError, match=f"c0 is only for cells with a cell state .*{cls.__name__} has none"
    ):
        cell.forward(np.zeros((2, 3)), c0=np.zeros(4))


def test_non_finite_weights_are_reported(lstm):
    lstm.params["W_hg"][1, 2] = np.nan
    with pytest.raises(
        ValueError, match=r"weight W_hg contains NaN or inf \(first at index \(1, 2\)\)"
    ):
        lstm.forward(np.zeros((2, 3)))


def test_params_assignment_is_checked(lstm):
    with pytest.raises(ValueError, match=r"b_f must have shape \(H,\) = \(4,\); got \(1, 4\)"):
        lstm.params["b_f"] = np.zeros((1, 4))
    with pytest.raises(ValueError, match=r"b_f must have shape \(H,\) = \(4,\); got \(\)"):
        lstm.params["b_f"] = 1.0  # nothing is broadcast
    with pytest.raises(ValueError, match=r"W_xf must have shape \(H, D\) = \(4, 3\); got \(3, 4\)"):
        lstm.params["W_xf"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match="W_hi contains NaN or inf"):
        lstm.params["W_hi"] = np.full((4, 4), np.nan)
    with pytest.raises(KeyError, match="no parameter named 'W_xz'; the parameters are W_xf, W_hf"):
        lstm.params["W_xz"] = np.zeros((4, 3))
    with pytest.raises(TypeError, match="b_o must be real"):
        lstm.params["b_o"] = np.zeros(4, dtype=complex)


def test_backward_checks_dh_and_trace(lstm):
    tr = lstm.forward(np.zeros((5, 2, 3)))
    with pytest.raises(
        ValueError, match=r"dh must have shape \(T, B, H\) like trace.h = \(5, 2, 4\); got \(5, 4\)"
    ):
        lstm.backward(tr, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"dh must have shape .* got \(5, 1, 4\)"):
        lstm.backward(tr, np.zeros((5, 1, 4)))  # not broadcast over the batch
    dh = np.zeros((5, 2, 4))
    dh[4, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"dh contains NaN or inf \(first at index \(4, 1, 0\)\)"):
        lstm.backward(tr, dh)
    with pytest.raises(
        TypeError, match="backward needs the Trace returned by forward; got ndarray"
    ):
        lstm.backward(np.zeros((5, 4)), dh)
    other = ll.GRUCell(3, 4).forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match="this trace comes from another kind of cell"):
        lstm.backward(other, np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match="another kind of cell"):
        ll.GRUCell(3, 4, reset_after=True).backward(other, np.zeros((5, 2, 4)))


def test_step_checks_its_inputs(lstm):
    with pytest.raises(
        ValueError, match=r"x_t must have shape \(D,\) or \(B, D\) with D=3; got \(4,\)"
    ):
        lstm.step(np.zeros(4), np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"h_prev must have shape \(B, H\) = \(2, 4\); got \(4,\)"):
        lstm.step(np.zeros((2, 3)), np.zeros(4), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="c_prev is only for cells with a cell state"):
        ll.RNNCell(3, 4).step(np.zeros(3), np.zeros(4), np.zeros(4))


@pytest.mark.parametrize("bias", ["1", np.nan, None])
def test_forget_bias(bias):
    with pytest.raises(TypeError, match="forget_bias must be a finite real number"):
        ll.LSTMCell(2, 2, forget_bias=bias)


@pytest.mark.parametrize(
    "seed, error", [(-1, ValueError), ("x", TypeError), (1.5, TypeError), (True, TypeError)]
)
def test_seed(seed, error):
    with pytest.raises(error, match="seed must be None or a non-negative integer"):
        ll.LSTMCell(2, 2, seed=seed)


def test_reset_after_must_be_a_bool():
    with pytest.raises(TypeError, match="reset_after must be True or False; got 'no'"):
        ll.GRUCell(2, 2, reset_after="no")


def test_values_beyond_float32_are_reported_not_turned_into_inf():
    cell = ll.RNNCell(2, 2, dtype=np.float32)
    with pytest.raises(
        ValueError, match=r"x has values too large for float32 \(\|value\| > 3.4e\+38\)"
    ):
        cell.forward(np.full((3, 2), 1e300))
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        cell.forward(np.array([[np.inf, 0.0]]))


# -- every registered cell --------------------------------------------------------------------


@pytest.mark.parametrize("kind", ll.CELLS)
def test_every_cell_reports_bad_input(kind):
    cell = ll.CELLS[kind](3, 4, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(T, D\) or \(T, B, D\) with D=3"):
        cell.forward(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"x contains NaN or inf"):
        cell.forward(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match=r"h0 must have shape \(B, H\) = \(2, 4\)"):
        cell.forward(np.zeros((5, 2, 3)), h0=np.zeros(4))
    if cell.has_cell_state:
        with pytest.raises(ValueError, match=r"c0 must have shape \(B, H\) = \(2, 4\)"):
            cell.forward(np.zeros((5, 2, 3)), c0=np.zeros(4))
    else:
        with pytest.raises(ValueError, match="c0 is only for cells with a cell state"):
            cell.forward(np.zeros((2, 3)), c0=np.zeros(4))
    trace = cell.forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match=r"dh must have shape \(T, B, H\) like trace.h"):
        cell.backward(trace, np.zeros((5, 4)))
    with pytest.raises(TypeError, match="backward needs the Trace returned by forward"):
        cell.backward(trace.h, np.zeros((5, 2, 4)))
    other = (ll.RNNCell if kind != "rnn" else ll.LSTMCell)(3, 4).forward(np.zeros((5, 2, 3)))
    with pytest.raises(ValueError, match="this trace comes from another kind of cell"):
        cell.backward(other, np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match=r"x_t must have shape \(D,\) or \(B, D\) with D=3"):
        cell.step(np.zeros(2))
    name = next(iter(cell.params))
    with pytest.raises(KeyError, match="no parameter named 'W_nope'"):
        cell.params["W_nope"] = np.zeros(4)
    cell.params[name][...] = np.nan
    with pytest.raises(ValueError, match=f"weight {name} contains NaN or inf"):
        cell.forward(np.zeros((2, 3)))
