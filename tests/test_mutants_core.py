"""Behaviours of the cells and traces that mutmut's survivors showed no test pinned down.

Each test fails on the mutant named beside it (tools/mutate.py; docs/mutation.md).
"""

from __future__ import annotations

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab.cells import CELLS
from lstm_lab.cells.base import affine


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_every_variant_is_seeded_and_typed_by_its_arguments(kind):
    """A variant's __init__ passing seed=None or dropping dtype (nfg: __init__ mutants 4, 5,
    9, 10) builds different or float64 weights."""
    cls = CELLS[kind]
    a, b, other = cls(2, 3, seed=5), cls(2, 3, seed=5), cls(2, 3, seed=6)
    for name, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[name], err_msg=name)
    assert any(not np.array_equal(v, other.params[k]) for k, v in a.params.items()
               if v.any()), kind
    c32 = cls(2, 3, seed=5, dtype=np.float32)
    assert {v.dtype for v in c32.params.values()} == {np.dtype(np.float32)}, kind


@pytest.mark.parametrize("kind", [k for k in sorted(CELLS) if not CELLS[k].takes_forget_bias])
def test_a_cell_without_forget_bias_says_none(kind):
    """experiments reads cell.forget_bias; a variant without one holds None (nfg mutant 11)."""
    assert getattr(CELLS[kind](2, 3, seed=0), "forget_bias", None) is None


def test_trace_repr_unbatched_has_no_batch_and_an_rnn_lists_no_gates():
    """Trace.__repr__ mutants 4 (B= on an unbatched trace), 15 and 16 ('none' respelt)."""
    x = np.random.default_rng(0).normal(size=(5, 2))
    rnn = ll.RNNCell(2, 3, seed=0)
    assert repr(rnn.forward(x)) == "Trace(kind='rnn', T=5, D=2, H=3, gates: none)"
    assert repr(rnn.forward(x[:, None, :].repeat(4, axis=1))) == (
        "Trace(kind='rnn', T=5, B=4, D=2, H=3, gates: none)")
    lstm = ll.LSTMCell(2, 3, seed=0).forward(x)
    assert repr(lstm) == "Trace(kind='lstm', T=5, D=2, H=3, gates: f, i, g, o)"


def test_gradcheck_defaults_to_seed_zero_and_checks_in_float64():
    """gradcheck mutants 2 (default seed 1) and 10 (x kept in its own dtype)."""
    cell = ll.LSTMCell(2, 3, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 2))
    assert ll.gradcheck(cell, x) == ll.gradcheck(cell, x, seed=0)
    assert ll.gradcheck(cell, x) != ll.gradcheck(cell, x, seed=1)
    x32 = x.astype(np.float32)
    assert ll.gradcheck(cell, x32) == ll.gradcheck(cell, x32.astype(np.float64))
    ints = [[1, 0], [0, 2], [1, 1]]                  # moved by +-eps: needs a float copy
    assert max(ll.gradcheck(cell, ints).values()) < 1e-7


class _Watched:
    """A cell whose every forward asserts that the caller's arrays still hold their values."""

    def __init__(self, cell, arrays):
        self.cell, self.params = cell, cell.params
        self.arrays = [(a, a.copy()) for a in arrays]

    def forward(self, x, **states):
        for arr, before in self.arrays:
            np.testing.assert_array_equal(arr, before)
        return self.cell.forward(x, **states)

    def backward(self, trace, dh):
        return self.cell.backward(trace, dh)


def test_gradcheck_moves_copies_of_the_inputs_never_the_callers_arrays():
    """gradcheck mutants 11, 14, 15 (x not copied) and 47, 49 (h0, c0 given as integers kept
    as integers, so that +-eps is truncated away)."""
    x = np.random.default_rng(0).normal(size=(4, 2))
    h0, c0 = np.array([0.1, -0.2, 0.3]), np.array([0.5, 0.0, -0.5])
    watched = _Watched(ll.LSTMCell(2, 3, seed=0), [x, h0, c0])
    errors = ll.gradcheck(watched, x, h0=h0, c0=c0)
    assert max(errors.values()) < 1e-7, errors
    errors = ll.gradcheck(ll.LSTMCell(2, 3, seed=0), x, h0=[0, 1, 0], c0=[1, 0, -1])
    assert errors["h0"] < 1e-7 and errors["c0"] < 1e-7, errors


def test_gradcheck_hands_backward_a_gradient_in_the_outputs_dtype():
    """gradcheck mutant 24: R drawn as float64 whatever the model's dtype."""
    seen = []
    cell = ll.GRUCell(2, 3, seed=0, dtype=np.float32)
    watched = _Watched(cell, [])
    watched.backward = lambda trace, dh: seen.append(dh.dtype) or cell.backward(trace, dh)
    ll.gradcheck(watched, np.ones((3, 2)))
    assert seen == [np.dtype(np.float32)]


def test_gradcheck_skips_a_key_it_cannot_check_and_goes_on():
    """gradcheck mutant 72: `continue` -> `break` after a gradient that is neither a parameter
    nor an input stops the check of every key after it."""
    cell = ll.RNNCell(2, 3, seed=0)
    watched = _Watched(cell, [])
    watched.backward = lambda trace, dh: {"note": np.zeros(1), **cell.backward(trace, dh)}
    errors = ll.gradcheck(watched, np.ones((3, 2)))
    assert sorted(errors) == sorted([*cell.params, "x", "h0"])


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_every_variant_stays_in_float32(kind):
    """mgu _run mutants 15, 17 (h allocated as float64) and the like in every variant."""
    cell = CELLS[kind](2, 3, seed=1, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(4, 2, 2)).astype(np.float32)
    trace = cell.forward(x)
    assert trace.h.dtype == np.float32, kind
    for letter, value in trace.gates.items():
        assert value.dtype == np.float32, (kind, letter)
    grads = cell.backward(trace, np.ones_like(trace.h))
    for key, value in grads.items():
        assert value.dtype == np.float32, (kind, key)


@pytest.mark.parametrize("kind", [k for k in sorted(CELLS) if not CELLS[k].has_cell_state])
def test_a_cell_without_cell_state_refuses_a_c_prev(kind):
    """mgu step mutant 4: c_prev passed on as None, so a c_prev given by mistake is ignored."""
    cell = CELLS[kind](2, 3, seed=0)
    with pytest.raises((TypeError, ValueError)):
        cell.step(np.ones(2), np.zeros(3), np.zeros(3))


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_every_weight_and_peephole_is_drawn_from_plus_minus_one_over_root_h(kind):
    """Every W_* and p_* starts uniform in [-1/sqrt(H), 1/sqrt(H)], each entry its own draw
    (peephole _init_weights mutants 3, 4: the range; 11, 14: one number for every peephole;
    12, 13, 15: the wrong ends)."""
    H = 64
    cell = CELLS[kind](3, H, seed=4)
    k = 1 / np.sqrt(H)
    drawn = {n: v for n, v in cell.params.items() if n[:2] in ("W_", "p_")}
    assert any(n.startswith("p_") for n in drawn) == bool(getattr(cell, "peepholes", ()))
    for name, value in drawn.items():
        assert np.abs(value).max() <= k, (kind, name)
        assert value.min() < -k / 2 and value.max() > k / 2, (kind, name)   # both ends reached
        assert len(np.unique(value)) == value.size, (kind, name)            # no shared draw


def _spy_on_allocations(monkeypatch):
    """Record the dtype of every array numpy's creation functions return from now on."""
    made = []

    def spying(name, make):
        def spy(*args, **kwargs):
            out = make(*args, **kwargs)
            made.append((name, out.dtype))
            return out
        return spy

    for name in ("empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like",
                 "full_like"):
        monkeypatch.setattr(np, name, spying(name, getattr(np, name)))
    return made


@pytest.mark.parametrize("kind", [*sorted(CELLS), "gru_reset_after"])
def test_a_float32_cell_allocates_no_float64_scratch(kind, monkeypatch):
    """A float32 cell works in float32 throughout, its scratch buffers too: half the memory and
    bandwidth of float64 is the point of asking for it. A float64 buffer leaves the float32
    results almost or exactly unchanged, so only the allocations show it (lstm _run 28, 30,
    _lstm_loop 7, 9; gru _back 91, 93; cifg and peephole _run/_back np.empty(..., None))."""
    if kind == "gru_reset_after":
        cell = ll.GRUCell(2, 3, seed=1, dtype=np.float32, reset_after=True)
    else:
        cell = CELLS[kind](2, 3, seed=1, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(4, 2, 2)).astype(np.float32)
    made = _spy_on_allocations(monkeypatch)
    trace = cell.forward(x)
    cell.backward(trace, np.ones_like(trace.h))
    assert made, "the spy saw no allocation"
    wide = [name for name, dtype in made if dtype != np.float32]
    assert not wide, (kind, wide)


class _NoInputGateLinearCandidate(CELLS["nig"]):
    """NIG and NIAF at once: c_t = f_t c_{t-1} + g_t with g_t affine (no i_t, no tanh)."""

    kind = "nig+niaf"
    unsquashed = ("g",)

    def step(self, x_t, h_prev=None, c_prev=None):
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = ll.sigmoid(affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        g = affine(p, "g", x_t, h_prev)
        c = f * c_prev + g
        o = ll.sigmoid(affine(p, "o", x_t, h_prev) + p["p_o"] * c)
        return ll.State(o * np.tanh(c), c), {"f": f, "g": g, "o": o}


class _NoOutputGateLinearOutput(CELLS["nog"]):
    """NOG and NOAF at once: h_t = c_t (no o_t, no tanh)."""

    kind = "nog+noaf"
    unsquashed = ("c",)

    def step(self, x_t, h_prev=None, c_prev=None):
        x_t, h_prev, c_prev = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        f = ll.sigmoid(affine(p, "f", x_t, h_prev) + p["p_f"] * c_prev)
        i = ll.sigmoid(affine(p, "i", x_t, h_prev) + p["p_i"] * c_prev)
        g = np.tanh(affine(p, "g", x_t, h_prev))
        c = f * c_prev + i * g
        return ll.State(c, c), {"f": f, "i": i, "g": g}


@pytest.mark.parametrize("cls", [_NoInputGateLinearCandidate, _NoOutputGateLinearOutput])
def test_the_vanilla_family_loops_serve_any_combination_of_its_declarations(cls):
    """The peephole module's loops read a variant's declarations, so two of Greff et al.'s
    removals at once need no new loop: the forward equals the cell's own steps and the backward
    passes gradcheck (peephole _back mutants 69, 70: da_g for an affine g without i_t; 80, 82:
    dh -> dc when there is neither o_t nor tanh(c_t))."""
    rng = np.random.default_rng(3)
    cell = cls(2, 3, seed=0)
    for arr in cell.params.values():
        arr[...] = rng.uniform(-0.8, 0.8, size=arr.shape)
    x, h0, c0 = rng.normal(size=(5, 2)), rng.normal(size=3), rng.normal(size=3)
    trace = cell.forward(x, h0=h0, c0=c0)
    h, c = h0, c0
    for t in range(5):
        (h, c), gates = cell.step(x[t], h, c)
        np.testing.assert_allclose(trace.h[t], h, rtol=0, atol=1e-14)
        np.testing.assert_allclose(trace.c[t], c, rtol=0, atol=1e-14)
        for name, value in gates.items():
            np.testing.assert_allclose(trace.gates[name][t], value, rtol=0, atol=1e-14)
    errors = ll.gradcheck(cell, x, h0, c0)
    assert max(errors.values()) < 1e-7, errors
