"""The cells against their equations: gradients, step loops, independent implementations, params."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstm_lab as ll
from lstm_lab.symbols import ACTIVATION_OF

# every registered cell variant by its kind, and the GRU's second form
VARIANTS = {
    **{kind: (lambda D, H, cls=cls, **kw: cls(D, H, **kw)) for kind, cls in ll.CELLS.items()},
    "gru_reset_after": lambda D, H, **kw: ll.GRUCell(D, H, reset_after=True, **kw),
}
# the five cells of the core-engine issue, which `reference` below writes out independently
FIVE = ("rnn", "lstm", "peephole", "coupled", "gru", "gru_reset_after")


def randomize(cell, rng, scale=0.8):
    """Give every parameter (biases and peepholes included) a random nonzero value."""
    for arr in cell.params.values():
        arr[...] = rng.uniform(-scale, scale, size=arr.shape)
    return cell


def sample(cell, rng, T, B):
    """A random input and random initial states for `cell` (B None: unbatched)."""
    lead = () if B is None else (B,)
    x = rng.normal(size=(T, *lead, cell.input_size))
    # keep |x| >= 0.05: a gradient W_x* ~ x of 1e-12 is below what finite differences resolve
    # (hypothesis found x = -1.6e-10, where the relative error measures only rounding noise)
    x = np.where(np.abs(x) < 0.05, np.copysign(0.05, x), x)
    h0 = rng.normal(size=(*lead, cell.hidden_size))
    c0 = rng.normal(size=(*lead, cell.hidden_size)) if cell.has_cell_state else None
    return x, h0, c0


# -- gradients ---------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(1, 4),
    B=st.one_of(st.none(), st.integers(1, 3)),
    D=st.integers(1, 3),
    H=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_gradcheck_every_parameter_and_state(variant, T, B, D, H, seed):
    rng = np.random.default_rng(seed)
    cell = randomize(VARIANTS[variant](D, H, seed=seed), rng)
    x, h0, c0 = sample(cell, rng, T, B)
    errors = ll.gradcheck(cell, x, h0=h0, c0=c0)
    expected = set(cell.params) | {"x", "h0"} | ({"c0"} if cell.has_cell_state else set())
    assert set(errors) == expected
    for name, err in errors.items():
        assert err <= 1e-6, f"{variant} {name}: relative error {err:.2e}"


def test_gradcheck_catches_a_wrong_backward():
    """gradcheck must be able to fail: a backward that drops one term is reported."""
    cell = randomize(ll.LSTMCell(2, 3, seed=0), np.random.default_rng(0))

    class Broken:
        params = cell.params

        def forward(self, x, **kw):
            return cell.forward(x, **kw)

        def backward(self, trace, dh):
            grads = cell.backward(trace, dh)
            grads["W_hf"] = grads["W_hf"] * 0.5
            return grads

    errors = ll.gradcheck(Broken(), np.random.default_rng(1).normal(size=(5, 2)))
    assert errors["W_hf"] > 0.1
    assert errors["W_xf"] < 1e-7


def test_gradcheck_leaves_parameters_unchanged():
    cell = randomize(ll.GRUCell(2, 3, seed=0), np.random.default_rng(0))
    before = {k: v.copy() for k, v in cell.params.items()}
    ll.gradcheck(cell, np.ones((3, 2)))
    for k, v in cell.params.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


# -- forward equals a loop of one-step calls ------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("B", [None, 3])
def test_sequence_equals_manual_loop_of_steps(variant, B):
    rng = np.random.default_rng(1)
    cell = randomize(VARIANTS[variant](3, 4, seed=0), rng)
    x, h0, c0 = sample(cell, rng, 7, B)
    trace = cell.forward(x, h0=h0, c0=c0)
    h, c = h0, c0
    for t in range(7):
        (h, c), gates = cell.step(x[t], h, c)
        np.testing.assert_allclose(trace.h[t], h, rtol=0, atol=1e-14, err_msg=f"h at t={t}")
        if cell.has_cell_state:
            np.testing.assert_allclose(trace.c[t], c, rtol=0, atol=1e-14, err_msg=f"c at t={t}")
        assert set(gates) == set(cell.gate_names)
        for name, value in gates.items():
            np.testing.assert_allclose(
                trace.gates[name][t], value, rtol=0, atol=1e-14, err_msg=name
            )
    np.testing.assert_array_equal(trace.final.h, trace.h[-1])


# -- independent implementations of DESIGN.md's equations ------------------------------------------


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference(cell, x, h, c):
    """The symbol table's equations for one unbatched sequence, written without the package."""
    p = {k: np.array(v) for k, v in cell.params.items()}

    def lin(L, h_in=None):
        h_in = h if h_in is None else h_in
        return p["W_x" + L] @ xt + p["W_h" + L] @ h_in + p.get("b_" + L, 0)

    hs, cs, gs = [], [], []
    for xt in x:
        if cell.kind == "rnn":
            h = np.tanh(lin("h"))
            gates = {}
        elif cell.kind == "gru":
            r, z = _sig(lin("r")), _sig(lin("z"))
            if cell.reset_after:
                g = np.tanh(p["W_xg"] @ xt + p["b_xg"] + r * (p["W_hg"] @ h + p["b_hg"]))
            else:
                g = np.tanh(lin("g", r * h))
            h = (1 - z) * g + z * h
            gates = {"r": r, "z": z, "g": g}
        else:
            if cell.kind == "peephole":
                i = _sig(lin("i") + p["p_i"] * c)
                f = _sig(lin("f") + p["p_f"] * c)
            elif cell.kind == "coupled":
                i = _sig(lin("i"))
                f = 1 - i
            else:
                i, f = _sig(lin("i")), _sig(lin("f"))
            g = np.tanh(lin("g"))
            c = f * c + i * g
            o = _sig(lin("o") + (p["p_o"] * c if cell.kind == "peephole" else 0))
            h = o * np.tanh(c)
            gates = {"f": f, "i": i, "g": g, "o": o}
        hs.append(h)
        cs.append(c)
        gs.append(gates)
    return np.array(hs), np.array(cs), gs


@pytest.mark.parametrize("variant", FIVE)
def test_forward_matches_independent_equations(variant):
    rng = np.random.default_rng(2)
    cell = randomize(VARIANTS[variant](2, 5, seed=3), rng, scale=1.5)
    x, h0, c0 = sample(cell, rng, 9, None)
    trace = cell.forward(x, h0=h0, c0=c0)
    hs, cs, gs = reference(cell, x, h0, c0)
    np.testing.assert_allclose(trace.h, hs, rtol=0, atol=1e-13, err_msg="h")
    if cell.has_cell_state:
        np.testing.assert_allclose(trace.c, cs, rtol=0, atol=1e-13, err_msg="c")
    for name in cell.gate_names:
        np.testing.assert_allclose(
            trace.gates[name], [g[name] for g in gs], rtol=0, atol=1e-13, err_msg=name
        )


@pytest.mark.parametrize("variant", VARIANTS)
def test_preacts_are_the_arguments_of_each_gate(variant):
    rng = np.random.default_rng(4)
    cell = randomize(VARIANTS[variant](2, 3, seed=0), rng)
    x, h0, c0 = sample(cell, rng, 5, 2)
    trace = cell.forward(x, h0=h0, c0=c0)
    pre = trace.preacts
    if cell.kind == "rnn":
        np.testing.assert_allclose(np.tanh(pre["h"]), trace.h, atol=1e-14)
        return
    squash = {"sigmoid": ll.sigmoid, "tanh": np.tanh}
    for name in cell.gate_names:
        f = (lambda a: a) if name in cell.unsquashed else squash[ACTIVATION_OF[name]]
        np.testing.assert_allclose(f(pre[name]), trace.gates[name], atol=1e-14, err_msg=name)


def test_batch_equals_each_sequence_alone():
    rng = np.random.default_rng(5)
    cell = randomize(ll.PeepholeLSTMCell(3, 4, seed=0), rng)
    x, h0, c0 = sample(cell, rng, 6, 3)
    trace = cell.forward(x, h0=h0, c0=c0)
    dh = rng.normal(size=trace.h.shape)
    grads = cell.backward(trace, dh)
    total = {k: 0 for k in cell.params}
    for b in range(3):
        one = cell.forward(x[:, b], h0=h0[b], c0=c0[b])
        np.testing.assert_allclose(one.h, trace.h[:, b], atol=1e-14)
        g1 = cell.backward(one, dh[:, b])
        np.testing.assert_allclose(g1["x"], grads["x"][:, b], atol=1e-13)
        np.testing.assert_allclose(g1["c0"], grads["c0"][b], atol=1e-13)
        for k in cell.params:
            total[k] = total[k] + g1[k]
    for k in cell.params:
        np.testing.assert_allclose(grads[k], total[k], atol=1e-12, err_msg=k)


# -- the trace and the params ---------------------------------------------------------------------


def test_trace_shapes_and_contents():
    cell = ll.LSTMCell(input_size=3, hidden_size=4, seed=0)
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    tr = cell.forward(x)
    assert tr.h.shape == tr.c.shape == (5, 2, 4)
    assert all(tr.gates[k].shape == (5, 2, 4) for k in "figo")
    np.testing.assert_array_equal(tr.x, x)
    np.testing.assert_array_equal(tr.h0, np.zeros((2, 4)))
    np.testing.assert_array_equal(tr.c0, np.zeros((2, 4)))
    assert isinstance(tr.final, ll.State)
    np.testing.assert_array_equal(tr.final.c, tr.c[-1])
    assert len(tr) == 5 and tr.batched
    assert repr(tr) == "Trace(kind='lstm', T=5, B=2, D=3, H=4, gates: f, i, g, o)"
    gru = ll.GRUCell(3, 4, seed=0).forward(x[:, 0])
    assert (
        gru.c is None
        and gru.c0 is None
        and gru.final.c is None
        and tuple(gru.gates) == ("r", "z", "g")
    )
    rnn = ll.RNNCell(3, 4, seed=0).forward(x[:, 0])
    assert rnn.gates == {} and rnn.h.shape == (5, 4)


@pytest.mark.parametrize("kind", ll.CELLS)
@pytest.mark.parametrize("B", [None, 2])
def test_trace_shapes_of_every_cell(kind, B):
    cls = ll.CELLS[kind]
    cell = cls(3, 4, seed=0)
    assert cell.kind == kind and cls.diagram.steps
    lead = () if B is None else (B,)
    x = np.random.default_rng(0).normal(size=(5, *lead, 3))
    tr = cell.forward(x)
    assert tr.h.shape == (5, *lead, 4) and tr.x.shape == x.shape and len(tr) == 5
    assert tuple(tr.gates) == cell.gate_names
    assert all(v.shape == tr.h.shape for v in tr.gates.values())
    assert tr.h0.shape == (*lead, 4)
    if cell.has_cell_state:
        assert tr.c.shape == tr.h.shape and tr.c0.shape == tr.h0.shape
        np.testing.assert_array_equal(tr.final.c, tr.c[-1])
    else:
        assert tr.c is None and tr.c0 is None and tr.final.c is None
    assert set(tr.preacts) == (set(cell.gate_names) or {"h"})
    # every parameter belongs to a gate the cell has (a removed gate has no weights)
    letters = set(cell.gate_names) or {"h"}
    for name, arr in cell.params.items():
        assert name.split("_")[-1][-1] in letters, name
        assert arr.shape in ((4, 3), (4, 4), (4,)), name
    grads = cell.backward(tr, np.ones_like(tr.h))
    assert all(grads[k].shape == v.shape for k, v in cell.params.items())
    assert grads["x"].shape == x.shape and grads["h0"].shape == tr.h0.shape


def test_a_later_forward_never_changes_an_earlier_trace():
    cell = ll.LSTMCell(2, 3, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 2))
    first = cell.forward(x)
    h, f = first.h.copy(), first.gates["f"].copy()
    dh = np.ones_like(h)
    g_before = cell.backward(first, dh)
    x[...] = 7.0  # the caller's array changes
    cell.params["b_f"][...] = -3.0  # the weights change
    cell.forward(np.zeros((4, 2)))
    np.testing.assert_array_equal(first.h, h)
    np.testing.assert_array_equal(first.gates["f"], f)
    g_after = cell.backward(first, dh)  # backward uses the weights the trace was made with
    for k in g_before:
        np.testing.assert_array_equal(g_after[k], g_before[k], err_msg=k)


def test_params_are_live_views():
    cell = ll.LSTMCell(1, 1, seed=0)
    x = np.ones((3, 1))
    f_before = cell.forward(x).gates["f"][0, 0]
    cell.params["b_f"][0] = 5.0  # writing into the array
    f_after = cell.forward(x).gates["f"][0, 0]
    assert f_after > f_before
    arr = cell.params["b_f"]
    cell.params["b_f"] = np.array([-5.0])  # assigning copies in place
    assert cell.params["b_f"] is arr and arr[0] == -5.0
    assert cell.forward(x).gates["f"][0, 0] < f_before


def test_params_names_shapes_and_counts():
    D, H = 3, 5
    lstm = ll.LSTMCell(D, H, seed=0)
    assert list(lstm.params) == [
        "W_xf",
        "W_hf",
        "b_f",
        "W_xi",
        "W_hi",
        "b_i",
        "W_xg",
        "W_hg",
        "b_g",
        "W_xo",
        "W_ho",
        "b_o",
    ]
    assert lstm.params["W_xf"].shape == (H, D) and lstm.params["W_hf"].shape == (H, H)
    assert lstm.params["b_f"].shape == (H,)
    assert lstm.num_params == 4 * (H * D + H * H + H)
    assert ll.RNNCell(D, H).num_params == H * D + H * H + H
    assert set(ll.RNNCell(D, H).params) == {"W_xh", "W_hh", "b_h"}
    assert ll.PeepholeLSTMCell(D, H).num_params == lstm.num_params + 3 * H
    assert ll.CoupledLSTMCell(D, H).num_params == 3 * (H * D + H * H + H)
    assert ll.GRUCell(D, H).num_params == 3 * (H * D + H * H + H)
    gru = ll.GRUCell(D, H, reset_after=True)
    assert gru.num_params == 3 * (H * D + H * H + H) + H
    assert {"b_xg", "b_hg"} <= set(gru.params) and "b_g" not in gru.params
    assert lstm.gate_names == ("f", "i", "g", "o") and gru.gate_names == ("r", "z", "g")
    assert ll.RNNCell(D, H).gate_names == ()


def test_initialisation_is_seeded_and_documented():
    a, b = ll.LSTMCell(3, 4, seed=7), ll.LSTMCell(3, 4, seed=7)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    assert not np.array_equal(a.params["W_xf"], ll.LSTMCell(3, 4, seed=8).params["W_xf"])
    k = 1 / np.sqrt(4)
    assert all(np.abs(v).max() <= k for n, v in a.params.items() if n.startswith("W_"))
    np.testing.assert_array_equal(a.params["b_f"], np.ones(4))
    np.testing.assert_array_equal(a.params["b_i"], np.zeros(4))
    np.testing.assert_array_equal(ll.LSTMCell(3, 4, forget_bias=0.0).params["b_f"], np.zeros(4))
    coupled = ll.CoupledLSTMCell(3, 4, forget_bias=2.0)
    np.testing.assert_array_equal(coupled.params["b_i"], -2 * np.ones(4))
    tr = coupled.forward(np.zeros((1, 3)))
    np.testing.assert_allclose(tr.gates["f"][0], ll.sigmoid(2.0) * np.ones(4))


def test_float32_throughout():
    cell = ll.GRUCell(3, 4, seed=0, dtype=np.float32)
    assert all(v.dtype == np.float32 for v in cell.params.values())
    x = np.random.default_rng(0).normal(size=(5, 2, 3))
    tr = cell.forward(x)
    assert tr.h.dtype == np.float32 and tr.x.dtype == np.float32
    grads = cell.backward(tr, np.ones_like(tr.h))
    assert all(g.dtype == np.float32 for g in grads.values())
    ref = ll.GRUCell(3, 4, seed=0).forward(x)
    np.testing.assert_allclose(tr.h, ref.h, atol=1e-6)
    for cls in (ll.LSTMCell, ll.PeepholeLSTMCell, ll.CoupledLSTMCell, ll.RNNCell):
        c32 = cls(2, 3, seed=1, dtype=np.float32)
        out = c32.forward(x[..., :2])
        assert out.h.dtype == np.float32
        assert all(g.dtype == np.float32 for g in c32.backward(out, np.ones_like(out.h)).values())


@pytest.mark.parametrize("variant", VARIANTS)
def test_extreme_inputs_stay_finite_without_warnings(variant):
    rng = np.random.default_rng(0)
    cell = randomize(VARIANTS[variant](2, 3, seed=0), rng)
    x = np.array([[1e6, -1e6], [-1e6, 1e6], [1e6, 1e6]])
    with np.errstate(all="raise"):
        tr = cell.forward(x)
        grads = cell.backward(tr, np.ones_like(tr.h))
    assert np.isfinite(tr.h).all()
    assert all(np.isfinite(g).all() for g in grads.values())


def test_sigmoid_is_stable_and_exact():
    a = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(
        ll.sigmoid(a), 1 / (1 + np.exp(-a)), rtol=1e-12, atol=3e-16
    )  # absolute accuracy near 0 and 1
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(ll.sigmoid(np.array([-1e6, 1e6])), [0.0, 1.0])


def test_reprs_tell_what_the_object_is():
    assert (
        repr(ll.LSTMCell(3, 4))
        == "LSTMCell(input_size=3, hidden_size=4, dtype=float64, num_params=128)"
    )
    assert repr(ll.GRUCell(3, 4, dtype=np.float32)).endswith(
        "dtype=float32, num_params=96, reset_after=False)"
    )
    assert repr(ll.RNNCell(1, 1).params) == "Params(W_xh: (1, 1), W_hh: (1, 1), b_h: (1,))"
    assert {"coupled", "gru", "lstm", "peephole", "rnn"} <= set(ll.CELLS)
    assert all(cls(1, 1).kind == name for name, cls in ll.CELLS.items())


def test_import_is_light():
    import subprocess
    import sys

    code = (
        "import sys, lstm_lab; "
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
