"""Attention: the equations, exact backward against finite differences, the encoder-decoder."""

from __future__ import annotations

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab.attention import AdditiveAttention, DotAttention, Seq2Seq, softmax
from lstm_lab.gradcheck import numeric_gradient
from lstm_lab.tasks import ReversalTask

TOL = 1e-6  # the cells' gradcheck tolerance


def rel_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-12)


def make(kind, H=4, A=3, seed=0, scale=1.0):
    if kind == "dot":
        return DotAttention(H, scale=scale)
    return AdditiveAttention(H, H + 1, width=A, seed=seed, scale=scale)


def inputs(att, T=3, S=5, B=2, seed=1):
    rng = np.random.default_rng(seed)
    lead = (T,) if B is None else (T, B)
    keys = (S,) if B is None else (S, B)
    return rng.normal(size=lead + (att.query_size,)), rng.normal(size=keys + (att.key_size,))


# ------------------------------------------------------------------ the forward equations


@pytest.mark.parametrize("kind", ["dot", "additive"])
@pytest.mark.parametrize("B", [None, 2])
def test_forward_equals_the_equations_written_out(kind, B):
    att = make(kind)
    s, hs = inputs(att, B=B)
    trace = att.forward(s, hs)
    s3 = s if B is not None else s[:, None]
    h3 = hs if B is not None else hs[:, None]
    T, S, batch = s3.shape[0], h3.shape[0], s3.shape[1]
    for b in range(batch):
        for t in range(T):
            if kind == "dot":
                e = np.array([s3[t, b] @ h3[j, b] for j in range(S)])
            else:
                p = att.params
                e = np.array([p["v_a"] @ np.tanh(p["W_a"] @ s3[t, b] + p["U_a"] @ h3[j, b]
                                                  + p["b_a"]) for j in range(S)])
            alpha = np.exp(e) / np.exp(e).sum()
            ctx = sum(alpha[j] * h3[j, b] for j in range(S))
            got_w = trace.weights[t, b] if B is not None else trace.weights[t]
            got_c = trace.context[t, b] if B is not None else trace.context[t]
            np.testing.assert_allclose(got_w, alpha, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(got_c, ctx, rtol=1e-12, atol=1e-15)


def test_softmax_never_overflows_and_sums_to_one():
    w = softmax(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(w, [[1.0, 0.0, 0.0]], atol=1e-300)
    assert np.all(np.isfinite(w))


def test_dot_attention_looks_where_the_query_points():
    keys = np.eye(4)
    trace = DotAttention(4).forward(20.0 * keys[[2, 0]], keys)
    assert trace.weights.argmax(axis=-1).tolist() == [2, 0]


# ------------------------------------------------------------------ backward


@pytest.mark.parametrize("kind", ["dot", "additive"])
@pytest.mark.parametrize("B", [None, 2])
@pytest.mark.parametrize("scale", [1.0, 0.6])
def test_backward_matches_finite_differences(kind, B, scale):
    att = make(kind, scale=scale)
    s, hs = inputs(att, B=B)
    rng = np.random.default_rng(7)
    trace = att.forward(s, hs)
    dctx = rng.normal(size=trace.context.shape)
    dw = rng.normal(size=trace.weights.shape)

    def loss():
        tr = att.forward(s, hs)
        return float(np.sum(tr.context * dctx) + np.sum(tr.weights * dw))

    grads = att.backward(trace, dctx, dweights=dw)
    assert set(grads) == set(att.params) | {"s", "hs"}
    for name, arr in [*att.params.items(), ("s", s), ("hs", hs)]:
        assert grads[name].shape == arr.shape, name
        err = rel_error(grads[name], numeric_gradient(loss, arr))
        assert err < TOL, (name, err)


def test_backward_without_dweights_is_the_context_path_only():
    att = make("additive")
    s, hs = inputs(att)
    trace = att.forward(s, hs)
    dctx = np.ones_like(trace.context)
    zero = att.backward(trace, dctx, dweights=np.zeros_like(trace.weights))
    plain = att.backward(trace, dctx)
    for k in plain:
        np.testing.assert_array_equal(plain[k], zero[k], err_msg=k)


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("batched", [False, True])
def test_seq2seq_backward_matches_finite_differences(attention, kind, batched):
    task = ReversalTask(n_symbols=3, min_length=4, max_length=4)
    (src, inp), y = task.sample(2, rng=0)
    if not batched:
        src, inp, y = src[:, 0], inp[:, 0], y[:, 0]
    model = Seq2Seq(ll.CELLS[kind](3, 4, seed=1), ll.CELLS[kind](4, 4, seed=2), 3,
                    attention=attention, seed=3)
    rng = np.random.default_rng(5)
    dy = rng.normal(size=model.forward((src, inp)).output.shape)

    def loss():
        return float(np.sum(model.forward((src, inp)).output * dy))

    grads = model.backward(model.forward((src, inp)), dy)
    assert set(grads) == set(model.params)
    worst = {name: rel_error(grads[name], numeric_gradient(loss, arr))
             for name, arr in model.params.items()}
    assert max(worst.values()) < TOL, worst


def test_seq2seq_trains_with_fit_and_attention_helps():
    """A short run of each: with attention the reversal of 12 symbols is learned far better."""
    task = ReversalTask(n_symbols=6, min_length=8, max_length=12)
    scores = {}
    for attention in (None, "dot"):
        model = Seq2Seq(ll.GRUCell(6, 24, seed=0), ll.GRUCell(7, 24, seed=1), 6,
                        attention=attention, seed=0)
        hist = ll.train.fit(model, task, 200, batch_size=32, lr=1e-2, eval_every=200,
                            seed=0, progress="off")
        assert not hist.diverged
        (src, inp), y = task.sample(200, rng=1, length=12)
        scores[attention] = task.evaluate(model.predict((src, inp)), y)
    assert scores["dot"] > scores[None] + 0.2, scores


def test_predict_feeds_back_its_own_choices():
    """Greedy decoding equals a teacher-forced pass whose inputs are the model's own choices."""
    task = ReversalTask(n_symbols=4, min_length=5, max_length=5)
    (src, inp), _ = task.sample(3, rng=2)
    model = Seq2Seq(ll.LSTMCell(4, 6, seed=0), ll.LSTMCell(5, 6, seed=1), 4, attention="additive")
    greedy = model.predict((src, inp))
    chosen = greedy.argmax(-1)
    fed = np.zeros_like(inp)
    fed[0] = inp[0]
    np.put_along_axis(fed[1:], chosen[:-1, :, None], 1.0, axis=-1)
    np.testing.assert_allclose(model.forward((src, fed)).output, greedy, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ bad input


def test_bad_inputs_are_refused_with_clear_errors():
    att = make("additive")
    s, hs = inputs(att)
    with pytest.raises(ValueError, match=r"s must have shape \(T, 4\) or \(T, B, 4\)"):
        att.forward(s[..., :3], hs)
    with pytest.raises(ValueError, match="hs must have shape"):
        att.forward(s, hs[:0])
    with pytest.raises(ValueError, match="batch axis"):
        att.forward(s, hs[:, 0])
    with pytest.raises(ValueError, match="NaN or inf"):
        att.forward(np.full_like(s, np.nan), hs)
    trace = att.forward(s, hs)
    with pytest.raises(ValueError, match="dcontext must have the shape"):
        att.backward(trace, np.zeros((1, 1)))
    with pytest.raises(ValueError, match="same hidden size"):
        Seq2Seq(ll.GRUCell(2, 3), ll.GRUCell(2, 4), 2)
    with pytest.raises(ValueError, match="attention must be"):
        Seq2Seq(ll.GRUCell(2, 3), ll.GRUCell(2, 3), 2, attention="luong")
    with pytest.raises(TypeError, match="pair"):
        Seq2Seq(ll.GRUCell(2, 3), ll.GRUCell(2, 3), 2).forward(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="decoder input size must be 3"):
        Seq2Seq(ll.GRUCell(2, 3), ll.GRUCell(2, 3), 2).predict((np.zeros((3, 2)),
                                                                np.zeros((3, 2))))


# ------------------------------------------------------------------ saving, the command


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
def test_save_and_load_give_the_same_model(tmp_path, attention):
    from lstm_lab.attention import load_seq2seq, save_seq2seq

    model = Seq2Seq(ll.GRUCell(3, 4, seed=1, reset_after=True), ll.GRUCell(4, 4, seed=2), 3,
                    attention=attention, seed=3)
    if attention is not None:
        model.attention.scale = 0.5
    path = tmp_path / "m.npz"
    save_seq2seq(model, path)
    again = load_seq2seq(path)
    assert repr(again) == repr(model)
    assert attention is None or again.attention.scale == 0.5
    assert again.encoder.reset_after and not again.decoder.reset_after
    (src, inp), _ = ReversalTask(n_symbols=3, min_length=4, max_length=4).sample(2, rng=0)
    np.testing.assert_array_equal(again.predict((src, inp)), model.predict((src, inp)))
    with np.load(path, allow_pickle=False) as data:  # plain arrays, no pickle needed
        assert "__meta__" in data.files


def test_load_refuses_weights_that_do_not_fit(tmp_path):
    from lstm_lab.attention import load_seq2seq, save_seq2seq

    model = Seq2Seq(ll.GRUCell(3, 4), ll.GRUCell(4, 4), 3, attention="dot")
    path = tmp_path / "m.npz"
    save_seq2seq(model, path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["W_hy"] = arrays["W_hy"][:, :3]
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="W_hy has shape"):
        load_seq2seq(path)


def test_the_reverse_command_reports_accuracy_by_length(tmp_path, capsys):
    from lstm_lab import experiments
    from lstm_lab.attention import load_seq2seq

    path = tmp_path / "w.npz"
    assert experiments.main(["reverse", "--cell", "lstm", "--attention", "additive", "--quick",
                             "--T", "10", "--save", str(path)]) == 0
    result = __import__("json").loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["task"] == "reverse" and result["attention"] == "additive"
    assert set(result["accuracy_by_length"]) == {"5", "10"}
    assert result["baseline_accuracy"] == pytest.approx(1 / 8)
    assert result["test_accuracy"] == pytest.approx(np.mean(list(
        result["accuracy_by_length"].values())))
    assert load_seq2seq(path).attention is not None


@pytest.mark.parametrize("argv, message", [
    (["adding", "--cell", "gru", "--attention", "dot"], "reverse task only"),
    (["reverse", "--cell", "gru", "--forget-bias", "2"], "does not go with the reverse"),
    (["reverse", "--cell", "gru", "--T", "3"], "at least 5"),
])
def test_the_reverse_command_refuses_what_does_not_fit(argv, message, capsys):
    from lstm_lab import experiments

    with pytest.raises(SystemExit):
        experiments.main(argv)
    assert message in capsys.readouterr().err


def test_scale_sharpens_blurs_and_zero_makes_the_weights_uniform():
    s, hs = inputs(make("dot"))
    widths = {}
    for scale in (0.0, 1.0, 4.0):
        w = DotAttention(4, scale=scale).forward(s, hs).weights
        widths[scale] = float(w.max(axis=-1).mean())
    np.testing.assert_allclose(DotAttention(4, scale=0.0).forward(s, hs).weights, 1 / 5)
    assert widths[0.0] < widths[1.0] < widths[4.0], widths
    with pytest.raises(ValueError, match="scale must be finite and >= 0"):
        DotAttention(4, scale=-1.0)


def test_decode_returns_the_greedy_logits_and_the_weights_of_that_same_run():
    from lstm_lab.attention import load_seq2seq
    from lstm_lab.tasks import ReversalTask

    model = load_seq2seq()
    task = ReversalTask(n_symbols=model.output_size, min_length=1, max_length=40)
    for batch_axis in (True, False):
        (x, d), _ = task.sample(3, rng=5, length=9)
        if not batch_axis:
            x, d = x[:, 0], d[:, 0]
        logits, alpha = model.decode((x, d))
        np.testing.assert_array_equal(logits, model.predict((x, d)))
        # the same weights as a teacher-forced pass fed what the greedy run chose
        chosen = logits.argmax(-1)
        fed = np.zeros_like(d)
        fed[0] = d[0]
        np.put_along_axis(fed[1:], chosen[:-1][..., None], 1.0, axis=-1)
        np.testing.assert_allclose(alpha, model.attention_weights((x, fed)), rtol=1e-12,
                                   atol=1e-12)
        assert alpha.shape == ((9, 3, 9) if batch_axis else (9, 9))
