"""Tests for lstm_lab.exercises: right answers pass, planted mistakes get the right diagnosis,
and no learner code, however broken, makes a checker raise."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab import exercises as ex


def sig(a):
    """The sigmoid written the textbook way (the package computes it through tanh)."""
    return 1.0 / (1.0 + np.exp(-a))


def sig_exp(a):
    return np.exp(a) / (1.0 + np.exp(a))


def tanh_exp(a):
    return (np.exp(a) - np.exp(-a)) / (np.exp(a) + np.exp(-a))


# ----------------------------------------------------------------------------- right answers

def gate_ref(act):
    def fn(x_t, h_prev, W_x, W_h, b):
        return act(W_x @ x_t + W_h @ h_prev + b)
    return fn


def gate_einsum(act):
    def fn(x_t, h_prev, W_x, W_h, b):
        return act(np.einsum("hd,d->h", W_x, x_t) + np.einsum("hk,k->h", W_h, h_prev) + b)
    return fn


def gate_rows(act):
    def fn(x_t, h_prev, W_x, W_h, b):          # row-vector style, transposes done right
        return act(x_t @ W_x.T + h_prev @ W_h.T + b)
    return fn


def gate_concat(act):
    def fn(x_t, h_prev, W_x, W_h, b):          # W [x_t, h_{t-1}] + b, as the source documents do
        return act(np.concatenate([W_x, W_h], axis=1) @ np.concatenate([x_t, h_prev]) + b)
    return fn


def gate_loops(act):
    def fn(x_t, h_prev, W_x, W_h, b):          # plain Python, returns a list
        out = []
        for k in range(len(b)):
            a = b[k] + sum(W_x[k, j] * x_t[j] for j in range(len(x_t)))
            a += sum(W_h[k, j] * h_prev[j] for j in range(len(h_prev)))
            out.append(float(act(np.float64(a))))
        return out
    return fn


def gate_float32(act):
    def fn(x_t, h_prev, W_x, W_h, b):
        f32 = np.float32
        x_t, h_prev, W_x, W_h, b = (v.astype(f32) for v in (x_t, h_prev, W_x, W_h, b))
        return act(W_x @ x_t + W_h @ h_prev + b)
    return fn


SIGMOID_GATES = [ex.check_forget_gate, ex.check_input_gate, ex.check_output_gate]
GATE_STYLES = [gate_ref, gate_einsum, gate_rows, gate_concat, gate_loops, gate_float32]


@pytest.mark.parametrize("style", GATE_STYLES, ids=lambda s: s.__name__)
@pytest.mark.parametrize("act", [sig, sig_exp, ll.cells.sigmoid],
                         ids=["1/(1+exp(-a))", "exp/(1+exp)", "package"])
@pytest.mark.parametrize("check", SIGMOID_GATES, ids=lambda c: c.__name__)
def test_sigmoid_gates_pass_right_answers(check, act, style):
    result = check(style(act))
    assert result.passed, result.message
    assert bool(result) is True
    assert "passed" in result.message


@pytest.mark.parametrize("style", GATE_STYLES, ids=lambda s: s.__name__)
@pytest.mark.parametrize("act", [np.tanh, tanh_exp], ids=["np.tanh", "exp formula"])
def test_candidate_passes_right_answers(act, style):
    result = ex.check_candidate(style(act))
    assert result.passed, result.message


CELL_UPDATES = [
    lambda c_prev, f_t, i_t, g_t: f_t * c_prev + i_t * g_t,
    lambda c_prev, f_t, i_t, g_t: np.add(np.multiply(c_prev, f_t), np.multiply(g_t, i_t)),
    lambda c_prev, f_t, i_t, g_t: [f * c + i * g
                                   for c, f, i, g in zip(c_prev, f_t, i_t, g_t, strict=True)],
    lambda c_prev, f_t, i_t, g_t: c_prev + (f_t - 1) * c_prev + i_t * g_t,
    lambda c_prev, f_t, i_t, g_t: np.diag(f_t) @ c_prev + np.diag(i_t) @ g_t,
]


@pytest.mark.parametrize("fn", CELL_UPDATES)
def test_cell_update_passes_right_answers(fn):
    result = ex.check_cell_update(fn)
    assert result.passed, result.message


HIDDEN_STATES = [
    lambda o_t, c_t: o_t * np.tanh(c_t),
    lambda o_t, c_t: o_t * tanh_exp(c_t),
    lambda o_t, c_t: o_t * (2 * sig(2 * c_t) - 1),
    lambda o_t, c_t: np.array([o * np.tanh(c) for o, c in zip(o_t, c_t, strict=True)],
                              dtype=np.float32),
]


@pytest.mark.parametrize("fn", HIDDEN_STATES)
def test_hidden_state_passes_right_answers(fn):
    result = ex.check_hidden_state(fn)
    assert result.passed, result.message


def lstm_step_ref(x_t, h_prev, c_prev, P):
    def pre(L):
        return P[f"W_x{L}"] @ x_t + P[f"W_h{L}"] @ h_prev + P[f"b_{L}"]
    f, i, g, o = sig(pre("f")), sig(pre("i")), np.tanh(pre("g")), sig(pre("o"))
    c_t = f * c_prev + i * g
    return o * np.tanh(c_t), c_t


def lstm_step_fused(x_t, h_prev, c_prev, P):
    """One fused matrix over [x_t, h_{t-1}], split into four gates; returns a list."""
    W = np.vstack([np.hstack([P[f"W_x{L}"], P[f"W_h{L}"]]) for L in "ifgo"])
    b = np.concatenate([P[f"b_{L}"] for L in "ifgo"])
    a = W @ np.concatenate([x_t, h_prev]) + b
    i, f, g, o = np.split(a, 4)
    c_t = sig(f) * c_prev + sig(i) * np.tanh(g)
    return [sig_exp(o) * np.tanh(c_t), c_t]


@pytest.mark.parametrize("fn", [lstm_step_ref, lstm_step_fused])
def test_lstm_step_passes_right_answers(fn):
    result = ex.check_lstm_step(fn)
    assert result.passed, result.message


def gru_step_ref(x_t, h_prev, P):
    r = sig(P["W_xr"] @ x_t + P["W_hr"] @ h_prev + P["b_r"])
    z = sig(P["W_xz"] @ x_t + P["W_hz"] @ h_prev + P["b_z"])
    g = np.tanh(P["W_xg"] @ x_t + P["W_hg"] @ (r * h_prev) + P["b_g"])
    return (1 - z) * g + z * h_prev


def gru_step_other(x_t, h_prev, P):
    """Row vectors, einsum for the candidate, and h_t = g_t + z_t (h_{t-1} - g_t)."""
    r = sig_exp(x_t @ P["W_xr"].T + h_prev @ P["W_hr"].T + P["b_r"])
    z = sig(x_t @ P["W_xz"].T + h_prev @ P["W_hz"].T + P["b_z"])
    g = tanh_exp(np.einsum("hd,d->h", P["W_xg"], x_t) + np.einsum("hk,k->h", P["W_hg"], r * h_prev)
                 + P["b_g"])
    return g + z * (h_prev - g)


@pytest.mark.parametrize("fn", [gru_step_ref, gru_step_other])
def test_gru_step_passes_right_answers(fn):
    result = ex.check_gru_step(fn)
    assert result.passed, result.message


def lstm_backward_ref(dh_t, dc_t, cache):
    P = cache["params"]
    x, hp, cp = cache["x_t"], cache["h_prev"], cache["c_prev"]
    f, i, g, o, c = (cache[k] for k in ("f_t", "i_t", "g_t", "o_t", "c_t"))
    tc = np.tanh(c)
    do = dh_t * tc
    dc = dc_t + dh_t * o * (1 - tc**2)
    da = {"f": dc * cp * f * (1 - f), "i": dc * g * i * (1 - i), "g": dc * i * (1 - g**2),
          "o": do * o * (1 - o)}
    grads = {}
    for L in "figo":
        grads[f"W_x{L}"] = np.outer(da[L], x)
        grads[f"W_h{L}"] = np.outer(da[L], hp)
        grads[f"b_{L}"] = da[L]
    grads["x_t"] = sum(P[f"W_x{L}"].T @ da[L] for L in "figo")
    grads["h_prev"] = sum(P[f"W_h{L}"].T @ da[L] for L in "figo")
    grads["c_prev"] = dc * f
    return grads


def lstm_backward_stacked(dh_t, dc_t, cache):
    """Stacked pre-activation gradients, 'd'-prefixed keys, sigmoid' written as s - s**2."""
    P = cache["params"]
    s = {L: cache[f"{L}_t"] for L in "figo"}
    tc = np.tanh(cache["c_t"])
    dc = dh_t * s["o"] * (1 - tc * tc) + dc_t
    local = {"f": dc * cache["c_prev"], "i": dc * s["g"], "g": dc * s["i"], "o": dh_t * tc}
    slope = {L: (1 - s[L] ** 2) if L == "g" else (s[L] - s[L] ** 2) for L in "figo"}
    da = np.stack([local[L] * slope[L] for L in "figo"])
    Wx = np.stack([P[f"W_x{L}"] for L in "figo"])
    Wh = np.stack([P[f"W_h{L}"] for L in "figo"])
    out = {"dx_t": np.einsum("ghd,gh->d", Wx, da), "dh_prev": np.einsum("ghk,gh->k", Wh, da),
           "dc_prev": dc * s["f"]}
    for k, L in enumerate("figo"):
        out[f"dW_x{L}"] = da[k][:, None] * cache["x_t"][None, :]
        out[f"dW_h{L}"] = da[k][:, None] * cache["h_prev"][None, :]
        out[f"db_{L}"] = da[k]
    return out


@pytest.mark.parametrize("fn", [lstm_backward_ref, lstm_backward_stacked], ids=["ref", "stacked"])
def test_lstm_step_backward_passes_right_answers(fn):
    result = ex.check_lstm_step_backward(fn)
    assert result.passed, result.message


# ----------------------------------------------------------------------------- planted mistakes


def with_act(act):
    return gate_ref(act)


def relu(a):
    return np.maximum(a, 0)


def no_bias(x_t, h_prev, W_x, W_h, b):
    return sig(W_x @ x_t + W_h @ h_prev)


def no_h(x_t, h_prev, W_x, W_h, b):
    return sig(W_x @ x_t + b)


def no_x(x_t, h_prev, W_x, W_h, b):
    return sig(W_h @ h_prev + b)


def x_transposed(x_t, h_prev, W_x, W_h, b):
    return sig(x_t @ W_x + W_h @ h_prev + b)


def h_transposed(x_t, h_prev, W_x, W_h, b):
    return sig(W_x @ x_t + h_prev @ W_h + b)


def all_transposed_tanh(x_t, h_prev, W_x, W_h, b):
    return np.tanh(x_t @ W_x + h_prev @ W_h + b)


def swapped_tanh(x_t, h_prev, W_x, W_h, b):
    return np.tanh(W_h @ x_t + W_x @ h_prev + b)


def column_out(x_t, h_prev, W_x, W_h, b):
    return sig(W_x @ x_t.reshape(-1, 1) + W_h @ h_prev.reshape(-1, 1) + b.reshape(-1, 1))


def broadcast_matrix(x_t, h_prev, W_x, W_h, b):
    return sig(W_x @ x_t + W_h @ h_prev + b[:, None])


def flipped_sign(x_t, h_prev, W_x, W_h, b):
    return 1 / (1 + np.exp(W_x @ x_t + W_h @ h_prev + b))


def tanh_no_bias(x_t, h_prev, W_x, W_h, b):
    return np.tanh(W_x @ x_t + W_h @ h_prev)


FORGET_EQ = "f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + b_f)"
GATE_MISTAKES = [
    (ex.check_forget_gate, with_act(np.tanh), ["uses tanh where the sigmoid belongs", FORGET_EQ]),
    (ex.check_input_gate, with_act(np.tanh),
     ["input gate i_t uses tanh where the sigmoid belongs"]),
    (ex.check_output_gate, with_act(relu), ["output gate o_t uses ReLU where the sigmoid belongs"]),
    (ex.check_forget_gate, with_act(lambda a: a), ["has no activation"]),
    (ex.check_candidate, with_act(sig), ["uses the sigmoid where tanh belongs",
                                         "g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)"]),
    (ex.check_candidate, with_act(relu), ["uses ReLU where tanh belongs"]),
    (ex.check_forget_gate, no_bias,
     ["The bias b_f is missing", "only the bias acts", "expected", "got"]),
    (ex.check_input_gate, no_h, ["recurrent term W_hi h_{t-1} is missing"]),
    (ex.check_output_gate, no_x, ["input term W_xo x_t is missing"]),
    (ex.check_forget_gate, x_transposed, ["W_xf is used transposed", "W_xf @ x_t", "ValueError"]),
    (ex.check_forget_gate, h_transposed, ["W_hf is used transposed"]),
    (ex.check_candidate, swapped_tanh, ["W_xg and W_hg are swapped"]),
    (ex.check_forget_gate, column_out,
     ["shape (H,) = (4,); got shape (4, 1)", "only the shape is wrong"]),
    (ex.check_forget_gate, broadcast_matrix, ["got shape (4, 4)", "a matrix"]),
    (ex.check_output_gate, flipped_sign, ["sign slip in the sigmoid", "1 / (1 + exp(-a))"]),
    # two mistakes at once: both named
    (ex.check_input_gate, tanh_no_bias, ["two things", "uses tanh where the sigmoid belongs",
                                         "The bias b_i is missing"]),
    (ex.check_forget_gate, all_transposed_tanh,
     ["uses tanh", "W_xf is used transposed", "W_hf is used transposed"]),
]

CELL_UPDATE_MISTAKES = [
    (lambda c, f, i, g: i * c + f * g,
     ["f_t and i_t are swapped", "c_t = f_t * c_{t-1} + i_t * g_t",
      "the forget gate is open and the input gate closed"]),
    (lambda c, f, i, g: i * g, ["c_{t-1} is left out"]),
    (lambda c, f, i, g: f + i * g, ["c_{t-1} is left out", "f_t itself"]),
    (lambda c, f, i, g: c + i * g, ["added without the forget gate"]),
    (lambda c, f, i, g: f @ c + i * g, ["matrix (dot) product", "element by element"]),
    (lambda c, f, i, g: np.dot(f, c) + np.dot(i, g), ["a single number", "element by element"]),
    (lambda c, f, i, g: np.tanh(f * c + i * g), ["tanh is applied to the new cell state"]),
    (lambda c, f, i, g: f * c + i + g, ["i_t and g_t are added"]),
    (lambda c, f, i, g: f * c + g, ["without the input gate"]),
]

HIDDEN_MISTAKES = [
    (lambda o, c: o * c, ["The tanh on c_t is missing", "h_t = o_t * tanh(c_t)"]),
    (lambda o, c: np.tanh(o * c), ["tanh is put around the whole product"]),
    (lambda o, c: o @ np.tanh(c), ["a single number", "element by element"]),
    (lambda o, c: np.tanh(c), ["output gate o_t is left out"]),
    (lambda o, c: np.outer(o, np.tanh(c)), ["a matrix"]),
]


def lstm_step_variant(**changes):
    """A learner's LSTM step written by hand, with one slip chosen by keyword."""
    def fn(x_t, h_prev, c_prev, P):
        def pre(L):
            a = P[f"W_x{L}"] @ x_t + P[f"W_h{L}"] @ h_prev
            return a if changes.get("no_bias") == L else a + P[f"b_{L}"]
        f = (np.tanh if changes.get("tanh_f") else sig)(pre("f"))
        i, g, o = sig(pre("i")), np.tanh(pre("g")), sig(pre("o"))
        c_t = i * c_prev + f * g if changes.get("swap_fi") else f * c_prev + i * g
        h_t = o * np.tanh(c_prev if changes.get("old_c") else c_t)
        return (c_t, h_t) if changes.get("order") else (h_t, c_t)
    return fn


def lstm_rows(x_t, h_prev, c_prev, P):
    """Every weight used from the right (x_t @ W): fails with D != H, wrong numbers with D == H."""
    def pre(L):
        return x_t @ P[f"W_x{L}"] + h_prev @ P[f"W_h{L}"] + P[f"b_{L}"]
    f, i, g, o = sig(pre("f")), sig(pre("i")), np.tanh(pre("g")), sig(pre("o"))
    c_t = f * c_prev + i * g
    return o * np.tanh(c_t), c_t


LSTM_STEP_MISTAKES = [
    (lstm_step_variant(tanh_f=True), ["forget gate f_t uses tanh where the sigmoid belongs"]),
    (lstm_step_variant(no_bias="o"), ["The bias b_o is missing in the output gate o_t"]),
    (lstm_step_variant(swap_fi=True), ["f_t and i_t are swapped"]),
    (lstm_step_variant(order=True), ["returned as (c_t, h_t)"]),
    (lstm_step_variant(old_c=True), ["old cell state c_{t-1}"]),
    (lstm_step_variant(tanh_f=True, swap_fi=True), ["two things", "f_t uses tanh", "f_t and i_t "
                                                                                   "are swapped"]),
    (lstm_rows, ["Every weight is used transposed", "raised ValueError"]),
]


def gru_variant(**changes):
    def fn(x_t, h_prev, P):
        r = sig(P["W_xr"] @ x_t + P["W_hr"] @ h_prev + P["b_r"])
        z_pre = P["W_xz"] @ x_t + P["W_hz"] @ h_prev
        z = sig(z_pre if changes.get("no_bz") else z_pre + P["b_z"])
        if changes.get("no_reset"):
            rec = P["W_hg"] @ h_prev
        elif changes.get("reset_after"):
            rec = r * (P["W_hg"] @ h_prev)
        else:
            rec = P["W_hg"] @ (r * h_prev)
        g = np.tanh(P["W_xg"] @ x_t + rec + P["b_g"])
        return (1 - z) * h_prev + z * g if changes.get("swap_z") else (1 - z) * g + z * h_prev
    return fn


GRU_MISTAKES = [
    (gru_variant(swap_z=True), ["z_t and 1 - z_t are swapped", "h_t = (1 - z_t) * g_t + z_t * "
                                                               "h_{t-1}"]),
    (gru_variant(no_reset=True), ["reset gate r_t is left out", "W_hg (r_t * h_{t-1})"]),
    (gru_variant(reset_after=True), ["reset_after=True"]),
    (gru_variant(no_bz=True), ["The bias b_z is missing in the update gate z_t"]),
    (gru_variant(swap_z=True, no_reset=True), ["two things", "swapped", "left out"]),
]


def backward_variant(**slip):
    """A learner's one-step LSTM backward written by hand, with the slips named by keyword."""
    def fn(dh_t, dc_t, cache):
        P = cache["params"]
        x, hp, cp = cache["x_t"], cache["h_prev"], cache["c_prev"]
        f, i, g, o, c = (cache[k] for k in ("f_t", "i_t", "g_t", "o_t", "c_t"))
        tc = np.tanh(c)
        tanh_grad = 1 if slip.get("no_tanh_grad") else 1 - tc**2
        dc = (0 if slip.get("no_dc_t") else dc_t) + dh_t * o * tanh_grad
        da = {"f": dc * cp * (1 if slip.get("no_sig_f") else f * (1 - f)),
              "i": dc * g * i * (1 - i),
              "g": dc * i * (1 - g**2), "o": dh_t * tc * o * (1 - o)}
        grads = {"x_t": sum(P[f"W_x{L}"].T @ da[L] for L in "figo"),
                 "h_prev": sum(P[f"W_h{L}"].T @ da[L] for L in "figo"),
                 "c_prev": dc if slip.get("dc_prev_no_f") else dc * f}
        for L in "figo":
            dW_x = np.outer(x, da[L]) if slip.get("dW_T") else np.outer(da[L], x)
            grads.update({f"W_x{L}": dW_x, f"W_h{L}": np.outer(da[L], hp), f"b_{L}": da[L]})
        return grads
    return fn


BACKWARD_MISTAKES = [
    (backward_variant(no_dc_t=True), ["incoming dc_t is left out", "dc = dc_t + dh_t * o_t",
                                      "only dc_t flows in", "db_f"]),
    (backward_variant(no_tanh_grad=True), ["tanh's derivative is missing"]),
    (backward_variant(dc_prev_no_f=True), ["dc_{t-1} misses the forget gate"]),
    (backward_variant(no_sig_f=True), ["sigmoid's derivative is missing in gate f"]),
    (backward_variant(dW_T=True), ["gradient of W_xf transposed", "np.outer(da_*, x_t)"]),
]

ALL_MISTAKES = (
    [(c, fn, subs) for c, fn, subs in GATE_MISTAKES]
    + [(ex.check_cell_update, fn, subs) for fn, subs in CELL_UPDATE_MISTAKES]
    + [(ex.check_hidden_state, fn, subs) for fn, subs in HIDDEN_MISTAKES]
    + [(ex.check_lstm_step, fn, subs) for fn, subs in LSTM_STEP_MISTAKES]
    + [(ex.check_gru_step, fn, subs) for fn, subs in GRU_MISTAKES]
    + [(ex.check_lstm_step_backward, fn, subs) for fn, subs in BACKWARD_MISTAKES]
)


@pytest.mark.parametrize("check, fn, expected", ALL_MISTAKES,
                         ids=[f"{c.__name__}-{k}" for k, (c, _, _) in enumerate(ALL_MISTAKES)])
def test_planted_mistake_is_named(check, fn, expected):
    result = check(fn)
    assert not result.passed
    assert not bool(result)
    for text in expected:
        assert text in result.message, f"{text!r} not in:\n{result.message}"
    assert "not right yet" in result.message
    assert "0x" not in repr(result)


EXERCISES = {
    "forget": lambda: ex._gate_exercise("f"), "input": lambda: ex._gate_exercise("i"),
    "candidate": lambda: ex._gate_exercise("g"), "output": lambda: ex._gate_exercise("o"),
    "cell_update": ex._cell_update_exercise, "hidden": ex._hidden_state_exercise,
    "lstm_step": ex._lstm_step_exercise, "gru_step": ex._gru_step_exercise,
    "backward": ex._backward_exercise,
}

# mistakes that give exactly the same numbers as another, likelier one (which is named instead)
EQUIVALENT = {
    ("lstm_step", ((("f", "src"), "i"),)): "c_{t-1} is scaled by i_t",
    ("lstm_step", ((("i", "src"), "f"),)): "The candidate g_t is scaled by f_t",
    ("gru_step", ((("r", "src"), "z"),)): "The candidate uses z_t where the reset gate r_t belongs",
    ("gru_step", ((("z", "act"), "flipped"),)): "z_t and 1 - z_t are swapped",
}


@pytest.mark.parametrize("name", list(EXERCISES))
def test_every_catalogued_mistake_is_diagnosed(name):
    """Plant each catalogued mistake (through the exercise's own variant) and ask the checker."""
    exercise = EXERCISES[name]()
    for mistake in exercise.mistakes:
        cfg = dict(mistake.changes)

        def fn(*args, cfg=cfg):
            return exercise.variant(cfg, *args)

        result = ex._check(exercise, fn)
        assert not result.passed, mistake.changes
        want = EQUIVALENT.get((name, mistake.changes), mistake.cause)
        assert want in result.message, f"{mistake.changes}: {result.message}"


@pytest.mark.parametrize("name", list(EXERCISES))
def test_variant_without_mistakes_is_the_package_maths(name):
    """The catalogue's maths with every switch off equals the cells' answers on every case."""
    exercise = EXERCISES[name]()
    for case in exercise.cases:
        got = exercise.variant({}, *case.args.values())
        if isinstance(case.expected, dict):
            for key, want in case.expected.items():
                np.testing.assert_allclose(got[key], want, rtol=1e-6, atol=1e-9,
                                           err_msg=f"{case.label}: {key}")
        elif isinstance(case.expected, tuple):
            for k, want in enumerate(case.expected):
                np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-14, err_msg=case.label)
        else:
            np.testing.assert_allclose(got, case.expected, rtol=1e-12, atol=1e-14,
                                       err_msg=case.label)


@pytest.mark.parametrize("name", list(EXERCISES))
def test_isolation_cases_are_what_their_labels_say(name):
    """A case labelled "x = 0" has x = 0, and so on, so that the hints drawn from it hold."""
    zero_when = {"only the bias acts": ("x_t", "h_prev"), "only the biases act": ("x_t", "h_prev"),
                 "only the input acts": ("h_prev", "b_"), "no memory yet": ("h_prev", "c_prev"),
                 "only the previous hidden state acts": ("x_t", "b_"),
                 "only dh_t flows in": ("dc_t",), "only dc_t flows in": ("dh_t",)}
    exercise = EXERCISES[name]()
    found = 0
    for case in exercise.cases:
        short = case.label.split(" (")[0]
        for prefix in zero_when.get(short, ()):
            for key, value in case.args.items():
                if key.startswith(prefix):
                    found += 1
                    assert not np.any(value), f"{case.label}: {key} = {value}"
        if short not in zero_when:
            assert short.startswith(("random", "the forget gate", "the output gate",
                                     "the cell state")), short
    assert found or name in ("cell_update", "hidden")
    assert len({case.label for case in exercise.cases}) == len(exercise.cases)


def test_backward_reference_agrees_with_the_cells_backward():
    """With dc_t = 0 the finite-difference reference equals LSTMCell.backward on one step."""
    case = ex._backward_exercise().cases[0]
    dh, dc, cache = case.args["dh_t"], case.args["dc_t"], case.args["cache"]
    assert not dc.any()
    cell = ll.LSTMCell(input_size=3, hidden_size=4, seed=0)
    for name, value in cache["params"].items():
        cell.params[name] = value
    trace = cell.forward(cache["x_t"][None], h0=cache["h_prev"], c0=cache["c_prev"])
    np.testing.assert_allclose(trace.h[0], cache["h_t"], rtol=1e-12, err_msg="h_t")
    grads = cell.backward(trace, dh[None])
    names = {"x_t": "x", "h_prev": "h0", "c_prev": "c0"}
    for key, want in case.expected.items():
        got = grads[names.get(key, key)]
        got = got[0] if key == "x_t" else got
        np.testing.assert_allclose(want, got, rtol=1e-6, atol=1e-9, err_msg=key)


def test_lstm_step_cache_matches_the_cell():
    rng = np.random.default_rng(0)
    cell = ll.LSTMCell(input_size=3, hidden_size=2, seed=1)
    x, h, c = rng.normal(size=3), rng.normal(size=2), rng.normal(size=2)
    cache = ex.lstm_step_cache(x, h, c, cell.params)
    state, gates = cell.step(x, h, c)
    for L in "figo":
        np.testing.assert_allclose(cache[f"{L}_t"], gates[L], rtol=1e-14, err_msg=L)
    np.testing.assert_allclose(cache["c_t"], state.c, rtol=1e-14, err_msg="c_t")
    np.testing.assert_allclose(cache["h_t"], state.h, rtol=1e-14, err_msg="h_t")
    assert cache["params"]["W_xf"] is not cell.params["W_xf"]


# ----------------------------------------------------------------------------- never raises


class LearnerError(Exception):
    pass


def _raise(err):
    def fn(*args):
        raise err
    return fn


BROKEN = {
    "zero division": (lambda *a: 1 / 0, "ZeroDivisionError"),
    "own exception": (_raise(LearnerError("my bad")), "LearnerError: my bad"),
    "name error": (lambda *a: undefined_name, "NameError"),  # noqa: F821
    "no arguments": (lambda: 0, "Check the signature"),
    "returns None": (lambda *a: None, "returned None"),
    "returns a string": (lambda *a: "f_t", "not"),
    "returns an object": (lambda *a: object(), "not"),
    "returns a generator": (lambda *a: (v for v in a), "not"),
    "returns a ragged list": (lambda *a: [[1.0], [1.0, 2.0]], "not"),
    "returns nan": (lambda *a: np.full(4, np.nan), ""),
    "returns too many values": (lambda *a: np.zeros(7), ""),
    "returns a scalar": (lambda *a: 0.5, ""),
    "returns a dict": (lambda *a: {"h": np.zeros(4)}, ""),
    "returns complex": (lambda *a: np.zeros(4, complex), ""),
}
CHECKS = list(ex.CHECKS.values())


@pytest.mark.parametrize("broken", list(BROKEN))
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_broken_learner_code_is_reported_not_raised(check, broken):
    fn, text = BROKEN[broken]
    result = check(fn)
    assert isinstance(result, ex.CheckResult)
    assert not result.passed
    assert text in result.message, result.message
    assert result.message.startswith(check.__name__)
    assert "0x" not in repr(result) and "0x" not in result._repr_html_()


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_not_implemented_is_friendly(check):
    def fn(*args):
        raise NotImplementedError
    result = check(fn)
    assert not result.passed
    assert "not implemented yet" in result.message
    assert "raise NotImplementedError" in result.message


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_passing_the_result_instead_of_the_function(check):
    result = check(np.zeros(4))
    assert not result.passed
    assert "Pass the name without calling it" in result.message


def test_overflow_in_learner_code_warns_nothing_and_is_reported():
    def fn(x_t, h_prev, W_xf, W_hf, b_f):
        return np.exp(1000.0 * (W_xf @ x_t + W_hf @ h_prev + b_f))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ex.check_forget_gate(fn)
    assert not result.passed
    assert "NaN or inf" in result.message


def test_changing_an_input_in_place_is_reported():
    def fn(c_prev, f_t, i_t, g_t):
        c_prev *= f_t
        c_prev += i_t * g_t
        return c_prev
    result = ex.check_cell_update(fn)
    assert not result.passed
    assert "changed its input c_prev in place" in result.message
    # and the cases themselves are untouched: a right answer still passes afterwards
    assert ex.check_cell_update(CELL_UPDATES[0]).passed


def test_learner_cannot_corrupt_the_cases():
    def vandal(x_t, h_prev, c_prev, P):
        for v in P.values():
            v[...] = 0.0
        raise ValueError("oops")
    ex.check_lstm_step(vandal)
    assert ex.check_lstm_step(lstm_step_ref).passed


def test_error_report_names_the_learners_line():
    def forget_gate(x_t, h_prev, W_xf, W_hf, b_f):
        return sigmod(W_xf @ x_t + W_hf @ h_prev + b_f)  # noqa: F821
    result = ex.check_forget_gate(forget_gate)
    assert "NameError: name 'sigmod' is not defined" in result.message
    assert "in forget_gate: return sigmod(W_xf @ x_t" in result.message
    assert "cell above" in result.message
    assert result.case["error"].startswith("NameError")


def test_failing_case_is_kept_for_the_learner():
    result = ex.check_forget_gate(no_bias)
    case = result.case
    assert set(case) >= {"x_t", "h_prev", "W_xf", "W_hf", "b_f", "expected", "got"}
    args = [case[k] for k in ("x_t", "h_prev", "W_xf", "W_hf", "b_f")]
    np.testing.assert_allclose(no_bias(*args), case["got"], err_msg="got")
    np.testing.assert_allclose(gate_ref(sig)(*args), case["expected"], err_msg="expected")


def test_unknown_mistake_still_gets_directions():
    def fn(x_t, h_prev, W_xf, W_hf, b_f):
        return sig(W_xf @ x_t + W_hf @ h_prev + 0.5 * b_f)
    result = ex.check_forget_gate(fn)
    assert not result.passed
    assert "None of the usual mistakes" in result.message
    assert "Wrong when only the bias acts: look at the bias b_f" in result.message
    assert "Right when only the input acts" in result.message

    result = ex.check_forget_gate(lambda x, h, W, U, b: sig(W @ x) + sig(U @ h) + sig(b))
    assert "wrong in every case, even when only one part acts" in result.message
    assert "the sigmoid and the way the terms are combined" in result.message

    def step(x_t, h_prev, c_prev, P):
        h_t, c_t = lstm_step_ref(x_t, h_prev, c_prev, P)
        return h_t**3, c_t
    result = ex.check_lstm_step(step)
    assert "Your c_t is right on every case" in result.message


# ----------------------------------------------------------------------------- the result object


def test_check_result_display():
    good = ex.check_forget_gate(gate_ref(sig))
    bad = ex.check_forget_gate(no_bias)
    assert repr(good).startswith("CheckResult(passed=True)\ncheck_forget_gate: passed.")
    assert str(bad) == bad.message
    assert "#2e7d32" in good._repr_html_() and "#c62828" in bad._repr_html_()
    assert good._repr_html_() == ex.check_forget_gate(gate_ref(sig))._repr_html_()
    assert bad._repr_html_() == ex.check_forget_gate(no_bias)._repr_html_()
    assert bad.message == ex.check_forget_gate(no_bias).message
    escaped = ex.CheckResult(False, "head <b>\nbody & <i>")._repr_html_()
    assert "&lt;b&gt;" in escaped and "&amp; &lt;i&gt;" in escaped and "<i>" not in escaped
    assert ex.CheckResult(True, "x").case == {}


def test_exercises_do_not_import_plotting():
    code = ("import sys, lstm_lab.exercises; print('matplotlib' in sys.modules, 'ipywidgets' in "
            "sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
