"""Tests for lstm_lab.gradients: exact Jacobians against the cells' backward and finite differences,
and the two measured claims of the vanishing-gradient story (0.9-orthogonal RNN, forget gates)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstm_lab as ll
from lstm_lab import gradients

KINDS = [*ll.CELLS, "gru_after"]  # every registered cell, and the GRU's second form


def make_cell(kind, D, H, seed=0):
    if kind == "gru_after":
        return ll.GRUCell(D, H, seed=seed, reset_after=True)
    return ll.CELLS[kind](D, H, seed=seed)


def random_cell(kind, D=2, H=3, seed=0, scale=0.7):
    """A cell with every parameter (biases, peepholes) random: no term of a Jacobian vanishes."""
    cell = make_cell(kind, D, H)
    rng = np.random.default_rng(seed)
    for name in cell.params:
        cell.params[name] = rng.normal(scale=scale, size=cell.params[name].shape)
    return cell


def initial_states(cell, rng, batch=None):
    shape = (cell.hidden_size,) if batch is None else (batch, cell.hidden_size)
    h0 = rng.normal(scale=0.5, size=shape)
    c0 = rng.normal(scale=0.5, size=shape) if cell.has_cell_state else None
    return h0, c0


def final_state(cell, x, h0, c0):
    """s_T as one vector: h_T, or [h_T; c_T] for the LSTM family (one unbatched sequence)."""
    trace = cell.forward(x, h0=h0, c0=c0) if c0 is not None else cell.forward(x, h0=h0)
    return trace.h[-1] if c0 is None else np.concatenate([trace.h[-1], trace.c[-1]])


def numeric_state_jacobian(cell, x, h0, c0, eps=1e-6):
    """ds_T/ds_0 by central differences through cell.forward."""
    s0 = h0 if c0 is None else np.concatenate([h0, c0])
    H = cell.hidden_size
    cols = []
    for k in range(s0.size):
        up, down = s0.copy(), s0.copy()
        up[k] += eps
        down[k] -= eps
        split = (lambda s: (s, None)) if c0 is None else (lambda s: (s[:H], s[H:]))
        cols.append(
            (final_state(cell, x, *split(up)) - final_state(cell, x, *split(down))) / (2 * eps)
        )
    return np.stack(cols, axis=-1)


# ----------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("kind", KINDS)
def test_state_jacobian_matches_backward_and_finite_differences(kind):
    """ds_T/ds_0: h rows against backward with one-hot dh_T, all rows against finite differences."""
    cell = random_cell(kind)
    rng = np.random.default_rng(1)
    H, T = cell.hidden_size, 6
    x = rng.normal(size=(T, cell.input_size))
    h0, c0 = initial_states(cell, rng)
    trace = cell.forward(x, h0=h0, c0=c0) if c0 is not None else cell.forward(x, h0=h0)
    P = gradients.state_jacobians(cell, trace)
    assert P.shape == (T + 1,) + (2 * H if c0 is not None else H,) * 2
    # rows of dh_T/d(h_0, c_0) from the core's backward: a batch of H copies, one-hot dh at step T
    xb = np.repeat(x[:, None], H, axis=1)
    hb = np.tile(h0, (H, 1))
    dh = np.zeros((T, H, H))
    dh[-1] = np.eye(H)
    if c0 is None:
        grads = cell.backward(cell.forward(xb, h0=hb), dh)
        rows = grads["h0"]
    else:
        grads = cell.backward(cell.forward(xb, h0=hb, c0=np.tile(c0, (H, 1))), dh)
        rows = np.concatenate([grads["h0"], grads["c0"]], axis=1)
    np.testing.assert_allclose(P[0][:H], rows, rtol=1e-10, atol=1e-13, err_msg=f"{kind} h rows")
    numeric = numeric_state_jacobian(cell, x, h0, c0)
    np.testing.assert_allclose(P[0], numeric, rtol=1e-6, atol=1e-9, err_msg=f"{kind} all rows")


@pytest.mark.parametrize("kind", KINDS)
def test_jacobians_use_the_weights_the_trace_was_made_with(kind):
    """After a weight change, state_grads and the Jacobians still describe the old trace, as
    backward does: they read the trace's weights, not the cell's current ones."""
    cell = random_cell(kind, seed=6)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, cell.input_size))
    h0, c0 = initial_states(cell, rng)
    trace = cell.forward(x, h0=h0, c0=c0) if c0 is not None else cell.forward(x, h0=h0)
    J_before = gradients.step_jacobians(cell, trace)
    dh = rng.normal(size=trace.h.shape)
    for arr in cell.params.values():  # every weight moves, after the forward pass
        arr += rng.normal(scale=0.5, size=arr.shape)
    grads = cell.backward(trace, dh)
    dL_dh, dL_dc = gradients.state_grads(cell, trace, dh)
    np.testing.assert_allclose(dL_dh[0], grads["h0"], rtol=1e-10, atol=1e-13, err_msg=kind)
    if c0 is not None:
        np.testing.assert_allclose(dL_dc[0], grads["c0"], rtol=1e-10, atol=1e-13, err_msg=kind)
    np.testing.assert_array_equal(gradients.step_jacobians(cell, trace), J_before)


@pytest.mark.parametrize("kind", KINDS)
def test_batched_jacobians_equal_one_sequence_at_a_time(kind):
    cell = random_cell(kind, seed=2)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 3, cell.input_size))
    h0, c0 = initial_states(cell, rng, batch=3)
    kw = {"h0": h0} if c0 is None else {"h0": h0, "c0": c0}
    J = gradients.step_jacobians(cell, cell.forward(x, **kw))
    for b in range(3):
        kw_b = {k: v[b] for k, v in kw.items()}
        J_b = gradients.step_jacobians(cell, cell.forward(x[:, b], **kw_b))
        np.testing.assert_allclose(
            J[:, b], J_b, rtol=1e-13, atol=1e-15, err_msg=f"{kind} batch {b}"
        )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batched", [False, True])
def test_state_grads_end_where_backward_ends(kind, batched):
    """BPTT run on the explicit Jacobians reaches h_0 (and c_0) with backward's 'h0' (and 'c0')."""
    cell = random_cell(kind, seed=4)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 2, cell.input_size) if batched else (7, cell.input_size))
    h0, c0 = initial_states(cell, rng, batch=2 if batched else None)
    kw = {"h0": h0} if c0 is None else {"h0": h0, "c0": c0}
    trace = cell.forward(x, **kw)
    dh = rng.normal(size=trace.h.shape)
    grads = cell.backward(trace, dh)
    dL_dh, dL_dc = gradients.state_grads(cell, trace, dh)
    assert dL_dh.shape == (8,) + trace.h.shape[1:]
    np.testing.assert_allclose(dL_dh[0], grads["h0"], rtol=1e-10, atol=1e-13, err_msg=f"{kind} h0")
    np.testing.assert_allclose(dL_dh[-1], dh[-1], rtol=0, atol=0, err_msg=f"{kind} h_T")
    if c0 is not None:
        np.testing.assert_allclose(
            dL_dc[0], grads["c0"], rtol=1e-10, atol=1e-13, err_msg=f"{kind} c0"
        )
    else:
        assert dL_dc is None
    norms = gradients.grad_norms(cell, trace, dh)
    np.testing.assert_allclose(norms, np.linalg.norm(dL_dh, axis=-1), rtol=1e-14)


def test_state_grads_use_intermediate_states():
    """dL/dh_t at a middle step: the loss on h_T only, checked by restarting the forward at h_t."""
    cell = random_cell("lstm", seed=6)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 2))
    trace = cell.forward(x)
    dh = np.zeros_like(trace.h)
    dh[-1] = rng.normal(size=3)
    dL_dh, dL_dc = gradients.state_grads(cell, trace, dh)
    t = 3  # h_3 = trace.h[2]; the rest of the sequence is x[3:]
    rest = cell.forward(x[t:], h0=trace.h[t - 1], c0=trace.c[t - 1])
    grads = cell.backward(rest, dh[t:])
    np.testing.assert_allclose(dL_dh[t], grads["h0"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dL_dc[t], grads["c0"], rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------------------- the two claims


def orthogonal_rnn(H=8, scale=0.9, seed=0):
    cell = ll.RNNCell(1, H, seed=seed)
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(H, H)))
    cell.params["W_hh"] = scale * q * np.sign(np.diag(r))
    cell.params["b_h"] = np.zeros(H)
    return cell


def dh50_dh0_by_backward(cell, h0, T=50):
    """dh_50/dh_0 from the core's backward alone: a batch of H one-hot gradients on h_50."""
    H = cell.hidden_size
    trace = cell.forward(np.zeros((T, H, 1)), h0=np.tile(h0, (H, 1)))
    dh = np.zeros((T, H, H))
    dh[-1] = np.eye(H)
    return cell.backward(trace, dh)["h0"]


def test_rnn_orthogonal_at_zero_state_shrinks_exactly_like_0_9_to_the_50():
    cell = orthogonal_rnn()
    h0 = np.zeros(8)
    expected = 0.9**50
    J = dh50_dh0_by_backward(cell, h0)
    assert np.linalg.norm(J, ord=2) == pytest.approx(expected, rel=1e-9)
    trace = cell.forward(np.zeros((50, 1)), h0=h0)
    norms = gradients.jacobian_norms(cell, trace)
    assert norms[0] == pytest.approx(expected, rel=1e-9)
    # every distance k: exactly 0.9^k
    np.testing.assert_allclose(norms[::-1], 0.9 ** np.arange(51), rtol=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 3.0))
def test_rnn_orthogonal_elsewhere_shrinks_faster(seed, scale):
    """Away from h = 0, tanh' < 1 on every unit that moves, so the norm falls below 0.9^50."""
    cell = orthogonal_rnn()
    h0 = np.random.default_rng(seed).normal(scale=scale, size=8)
    J = dh50_dh0_by_backward(cell, h0)
    assert np.linalg.norm(J, ord=2) < 0.9**50


@pytest.mark.parametrize("forget_bias", [-1.0, 0.0, 1.0, 3.0])
def test_lstm_cell_path_is_the_product_of_forget_gates(forget_bias):
    """Zero input, W_h* = 0: c reaches c_T only along the cell path: dc_T/dc_0 = diag(prod f_t)."""
    H, T = 4, 30
    cell = ll.LSTMCell(2, H, seed=0, forget_bias=forget_bias)
    rng = np.random.default_rng(8)
    for letter in "figo":
        cell.params["W_h" + letter] = np.zeros((H, H))
        cell.params["b_" + letter] = cell.params["b_" + letter] + rng.normal(scale=0.5, size=H)
    trace = cell.forward(np.zeros((T, 2)), h0=rng.normal(size=H), c0=rng.normal(size=H))
    P = gradients.state_jacobians(cell, trace)
    products = gradients.forget_gate_products(trace)
    f = trace.gates["f"]
    np.testing.assert_allclose(products[0], np.prod(f, axis=0), rtol=1e-12)
    for t in (0, 10, 29, 30):
        np.testing.assert_allclose(
            P[t][H:, H:], np.diag(products[t]), rtol=1e-12, atol=1e-300, err_msg=f"dc_T/dc_{t}"
        )
    # and the same number from finite differences through the cell itself
    numeric = numeric_state_jacobian(cell, np.zeros((T, 2)), trace.h0, trace.c0)
    np.testing.assert_allclose(numeric[H:, H:], np.diag(products[0]), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        gradients.jacobian_norms(cell, trace, wrt="c")[0], products[0].max(), rtol=1e-12
    )


# ------------------------------------------------------------------ the contrast and the errors


def test_lstm_keeps_gradient_where_rnn_loses_it():
    """Same input, same size: at distance 40 the LSTM (forget bias 3) keeps far more gradient."""
    rng = np.random.default_rng(9)
    x = rng.normal(size=(41, 2))
    rnn = ll.RNNCell(2, 16, seed=0)
    lstm = ll.LSTMCell(2, 16, seed=0, forget_bias=3.0)
    r = gradients.jacobian_norms(rnn, rnn.forward(x))
    c = gradients.jacobian_norms(lstm, lstm.forward(x), wrt="c")
    assert c[0] > 1e3 * r[0], (c[0], r[0])


def test_errors():
    rnn = ll.RNNCell(2, 3)
    trace = rnn.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="no cell state"):
        gradients.jacobian_norms(rnn, trace, wrt="c")
    with pytest.raises(ValueError, match="wrt must be"):
        gradients.jacobian_norms(rnn, trace, wrt="x")
    with pytest.raises(ValueError, match="dh must have the shape"):
        gradients.state_grads(rnn, trace, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="LSTM family"):
        gradients.forget_gate_products(trace)
    with pytest.raises(ValueError, match="trace is from a 'rnn' cell"):
        gradients.step_jacobians(ll.GRUCell(2, 3), trace)
    with pytest.raises(ValueError, match="hidden_size"):
        gradients.step_jacobians(ll.RNNCell(2, 5), trace)
    with pytest.raises(TypeError, match="cell trace"):
        gradients.step_jacobians(rnn, np.zeros(3))
