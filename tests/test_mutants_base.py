"""Behaviours of the shared Cell machinery (lstm_lab.cells.base) that mutmut's survivors showed
no test pinned down.

Each test fails on the mutant named beside it (tools/mutate.py; docs/mutation.md).
"""

from __future__ import annotations

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab.cells import CELLS


def test_assigning_a_recurrent_weight_of_the_wrong_shape_names_h_by_h():
    """Params.__setitem__ spells a W_h* shape as (H, H) (mutants 24-28: the 'W_h' key or its
    words respelt, giving '(H,)' or other words)."""
    cell = ll.LSTMCell(3, 4, seed=0)
    with pytest.raises(ValueError, match=r"W_hf must have shape \(H, H\) = \(4, 4\); got \(4, 3\)"):
        cell.params["W_hf"] = np.zeros((4, 3))
    gru = ll.GRUCell(2, 3, seed=0)
    with pytest.raises(ValueError, match=r"W_hz must have shape \(H, H\) = \(3, 3\); got \(3,\)"):
        gru.params["W_hz"] = np.zeros(3)


def test_assigning_values_beyond_float32_to_a_float32_cell_is_refused():
    """Params.__setitem__ converts to the parameter's dtype before checking (mutant 10: no dtype,
    so 1e39 passes the finiteness check as float64 and becomes inf in the float32 array)."""
    cell = ll.LSTMCell(3, 4, seed=0, dtype=np.float32)
    before = cell.params["b_f"].copy()
    with pytest.raises(ValueError, match="b_f has values too large for float32"):
        cell.params["b_f"] = np.full(4, 1e39)
    np.testing.assert_array_equal(cell.params["b_f"], before)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_step_names_x_t_in_its_errors(kind):
    """Cell._check_step converts x_t under its own name (mutants 3, 8, 9: the name None or
    respelt)."""
    cell = CELLS[kind](3, 4, seed=0)
    with pytest.raises(TypeError, match="x_t must be real; got a complex array"):
        cell.step(np.zeros(3, dtype=complex))
    with pytest.raises(ValueError, match=r"x_t contains NaN or inf \(first at index \(1,\)\)"):
        cell.step(np.array([0.0, np.nan, 0.0]))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_step_computes_in_the_cells_dtype(kind):
    """Cell._check_step converts x_t to the cell's dtype (mutant 4: dtype None keeps float64 x_t,
    so a float32 cell's step returns float64 and accepts values beyond float32's range)."""
    cell = CELLS[kind](3, 4, seed=0, dtype=np.float32)
    state, gates = cell.step(np.array([0.5, -1.0, 2.0]))
    assert state.h.dtype == np.float32, kind
    assert all(v.dtype == np.float32 for v in gates.values()), kind
    with pytest.raises(ValueError, match="x_t has values too large for float32"):
        cell.step(np.array([1e39, 0.0, 0.0]))


def test_step_names_c_prev_in_its_errors():
    """Cell._check_step checks c_prev under its own name (mutants 39, 46, 47)."""
    cell = ll.LSTMCell(3, 4, seed=0)
    with pytest.raises(ValueError, match=r"c_prev must have shape \(B, H\) = \(2, 4\); got \(4,\)"):
        cell.step(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros(4))
    with pytest.raises(
        ValueError, match=r"c_prev must have shape \(H,\) for an unbatched x = \(4,\)"
    ):
        cell.step(np.zeros(3), np.zeros(4), np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"c_prev contains NaN or inf \(first at index \(2,\)\)"):
        cell.step(np.zeros(3), np.zeros(4), np.array([0.0, 0.0, np.inf, 0.0]))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_step_jacobians_keep_a_float32_cells_dtype(kind):
    """eye() builds diag(v) in v's dtype (eye mutants 3, 5: float64), so a float32 cell's
    Jacobians stay float32 (the LSTM family, the GRU and the MGU use eye)."""
    cell = CELLS[kind](2, 3, seed=0, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(4, 2, 2))
    J = cell.step_jacobians(cell.forward(x))
    assert J.dtype == np.float32, kind


def test_backward_names_dh_and_spells_an_unbatched_shape():
    """Cell.backward converts dh under its name (mutants 4, 11, 12), spells an unbatched dh's
    shape as (T, H) and a batched one's as (T, B, H) (mutants 14-22) and checks the shape before
    finiteness (mutants 10, 13: a wrongly shaped dh holding NaN is reported as NaN)."""
    cell = ll.LSTMCell(3, 4, seed=0)
    tr = cell.forward(np.zeros((5, 3)))
    with pytest.raises(TypeError, match="dh must be real; got a complex array"):
        cell.backward(tr, np.zeros((5, 4), dtype=complex))
    with pytest.raises(
        ValueError, match=r"dh must have shape \(T, H\) like trace.h = \(5, 4\); got \(5, 1, 4\)"
    ):
        cell.backward(tr, np.zeros((5, 1, 4)))
    batched = cell.forward(np.zeros((5, 2, 3)))
    with pytest.raises(
        ValueError, match=r"dh must have shape \(T, B, H\) like trace.h = \(5, 2, 4\)"
    ):
        cell.backward(batched, np.zeros((5, 4)))
    bad = np.zeros((4, 4))
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"dh must have shape \(T, H\) .* got \(4, 4\)"):
        cell.backward(tr, bad)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_backward_of_a_float32_cell_converts_dh_to_float32(kind):
    """Cell.backward converts dh to the cell's dtype (mutant 5: dtype None keeps a float64 dh,
    so 1e39 is not refused)."""
    cell = CELLS[kind](2, 3, seed=0, dtype=np.float32)
    tr = cell.forward(np.ones((4, 2)))
    grads = cell.backward(tr, np.ones((4, 3)))
    assert all(g.dtype == np.float32 for g in grads.values()), kind
    with pytest.raises(ValueError, match="dh has values too large for float32"):
        cell.backward(tr, np.full((4, 3), 1e39))


def test_forward_checks_shapes_before_finiteness():
    """_check_x and _check_state report a wrong shape even when the value also holds NaN
    (_check_x mutants 10, 13; _check_state mutant 16: finite=True checks NaN first)."""
    cell = ll.LSTMCell(3, 4, seed=0)
    x = np.full((5, 2), np.nan)
    with pytest.raises(ValueError, match=r"x must have shape \(T, D\) or \(T, B, D\) with D=3"):
        cell.forward(x)
    with pytest.raises(ValueError, match=r"h0 must have shape \(H,\) for an unbatched x"):
        cell.forward(np.zeros((5, 3)), h0=np.full(3, np.nan))
    with pytest.raises(ValueError, match=r"c0 must have shape \(B, H\) = \(2, 4\); got \(4,\)"):
        cell.forward(np.zeros((5, 2, 3)), c0=np.full(4, np.nan))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_forward_of_a_float32_cell_converts_x_and_states(kind):
    """_check_x and _check_state convert to the cell's dtype (_check_x mutant 5, _check_state
    mutants 4, 6, 10: a float64 x or state or default zeros kept in float64; __init__ mutant 53:
    float64 row scales)."""
    cell = CELLS[kind](2, 3, seed=0, dtype=np.float32)
    x = np.random.default_rng(1).normal(size=(4, 2))
    tr = cell.forward(x)
    assert tr.h0.dtype == np.float32 and tr.h.dtype == np.float32, kind
    assert all(a.dtype == np.float32 for a in tr.record.arrays()), kind
    if cell.has_cell_state:
        assert tr.c0.dtype == np.float32
        tr2 = cell.forward(x, h0=np.zeros(3), c0=np.ones(3))
        assert tr2.c0.dtype == np.float32
    tr3 = cell.forward(x, h0=np.ones(3))
    assert tr3.h0.dtype == np.float32
    with pytest.raises(ValueError, match="x has values too large for float32"):
        cell.forward(np.full((4, 2), 1e39))
    with pytest.raises(ValueError, match="h0 has values too large for float32"):
        cell.forward(x, h0=np.full(3, 1e39))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_weights_start_uniform_within_one_over_sqrt_h(kind):
    """_init_weights draws W_x*, W_h* from U(-1/sqrt(H), 1/sqrt(H)) (mutants 3, 15)."""
    H = 16
    cell = CELLS[kind](8, H, seed=0)
    k = 1.0 / np.sqrt(H)
    W = np.concatenate([v.ravel() for n, v in cell.params.items() if n.startswith("W_")])
    assert np.abs(W).max() <= k
    assert W.max() > 0.9 * k and W.min() < -0.9 * k


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_forward_matches_the_step_equations_with_nonzero_biases(kind):
    """forward's fused projection adds every bias (project mutants 12, 13) and halves exactly
    the sigmoid gates' rows (__init__ mutants 58-62): each step equals `step`."""
    cell = CELLS[kind](2, 3, seed=0)
    rng = np.random.default_rng(2)
    for name, value in cell.params.items():
        cell.params[name] = rng.normal(size=value.shape)
    x = rng.normal(size=(4, 2, 2))
    tr = cell.forward(x)
    h = np.zeros((2, 3))
    c = np.zeros((2, 3)) if cell.has_cell_state else None
    for t in range(4):
        state, _ = cell.step(x[t], h, c)
        h, c = state.h, state.c
        np.testing.assert_allclose(tr.h[t], h, rtol=1e-12, atol=1e-12, err_msg=kind)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_forward_refuses_weights_made_nan_in_place_and_names_one(kind):
    """Cell._check_weights (mutant 1: the fast all-finite test inverted, so that only a fused
    array that is all finite gets the per-name check; with a NaN in every one of them, in W_x*,
    W_h* and b_*, nothing is checked and forward computes with NaN)."""
    cell = CELLS[kind](2, 3, seed=0)
    for prefix in ("W_x", "W_h", "b_"):              # the live arrays: no assignment check
        name = next(n for n in cell.params if n.startswith(prefix))
        cell.params[name].flat[0] = np.nan
    with pytest.raises(ValueError, match=r"^weight W_x\w+ contains NaN or inf"):
        cell.forward(np.ones((2, 2)))
