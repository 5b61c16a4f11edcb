"""Behaviours of the attention layers and the encoder-decoder that mutmut's survivors showed no
test pinned down.

Each test fails on the mutants named beside it (tools/mutate.py; docs/mutation.md); "mutant N"
is lstm_lab.attention's mutant N of the function named.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab.attention import (
    AdditiveAttention,
    DotAttention,
    Seq2Seq,
    _Attention,
    load_seq2seq,
    save_seq2seq,
    softmax,
)
from lstm_lab.tasks import ReversalTask


def pair(n_symbols=3, length=4, batch=2, rng=0):
    (src, inp), _ = ReversalTask(n_symbols=n_symbols, min_length=length,
                                 max_length=length).sample(batch, rng=rng)
    return src, inp


def model(attention=None, kind="gru", dtype=np.float64, seed=3, **options):
    return Seq2Seq(ll.CELLS[kind](3, 4, seed=1, dtype=dtype, **options),
                   ll.CELLS[kind](4, 4, seed=2, dtype=dtype), 3, attention=attention, seed=seed)


# ------------------------------------------------------------------ softmax, the layers


def test_softmax_shifts_each_row_by_its_own_maximum():
    """softmax mutants 4, 6: shifted by the maximum of the whole array, a row far below it
    underflows to 0 / 0."""
    w = softmax(np.array([[1000.0, 999.0], [0.0, -1.0]]))
    row = np.exp([0.0, -1.0]) / np.exp([0.0, -1.0]).sum()
    np.testing.assert_allclose(w, [row, row], rtol=1e-12)
    np.testing.assert_allclose(softmax(np.array([[1000.0, 0.0], [999.0, -1.0]]), axis=0),
                               np.array([row, row]).T, rtol=1e-12)


def test_attention_trace_repr_and_scores():
    """AttentionTrace.__repr__ mutant 1; _Attention.forward mutant 31 (scores not kept): the
    trace shows its sizes and holds the scaled scores e = scale * s . h."""
    rng = np.random.default_rng(0)
    s, hs = rng.normal(size=(3, 2, 4)), rng.normal(size=(5, 2, 4))
    trace = DotAttention(4, scale=0.5).forward(s, hs)
    assert repr(trace) == "AttentionTrace(T=3, S=5, B=2, batched=True)"
    np.testing.assert_allclose(trace.scores, 0.5 * np.einsum("tbh,sbh->tbs", s, hs),
                               rtol=1e-12)
    plain = DotAttention(4).forward(s[:, 0], hs[:, 0])
    assert repr(plain) == "AttentionTrace(T=3, S=5, B=1, batched=False)"
    np.testing.assert_allclose(plain.scores, s[:, 0] @ hs[:, 0].T, rtol=1e-12)


def test_defaults_scale_one_and_seed_zero():
    """DotAttention.__init__ mutant 1, AdditiveAttention.__init__ mutants 1, 2 and
    _Attention.__init__ mutant 1 (a subclass of the base that gives no scale): the scale is 1
    and the seed 0 unless given."""
    assert DotAttention(3).scale == 1.0
    add = AdditiveAttention(3, 4)
    assert add.scale == 1.0
    seeded = AdditiveAttention(3, 4, seed=0)
    for name, value in add.params.items():
        np.testing.assert_array_equal(value, seeded.params[name], err_msg=name)

    class Plain(_Attention):
        def __init__(self, size):
            super().__init__(size, size, np.float64)

    assert Plain(3).scale == 1.0


def test_additive_attention_is_seeded_and_sized_by_its_arguments():
    """AdditiveAttention.__init__ mutants 16 (width ignored), 23 (seed ignored), 25, 26, 32,
    33, 35 (the range of the uniform draws): W_a, U_a and v_a are drawn from
    U(-1/sqrt(fan in), 1/sqrt(fan in)), from the seed given."""
    a, b, c = (AdditiveAttention(40, 30, width=50, seed=seed) for seed in (4, 4, 5))
    assert a.width == 50 and a.params["W_a"].shape == (50, 40)
    assert a.params["U_a"].shape == (50, 30) and a.params["v_a"].shape == (50,)
    for name in ("W_a", "U_a", "v_a"):
        np.testing.assert_array_equal(a.params[name], b.params[name], err_msg=name)
        assert not np.array_equal(a.params[name], c.params[name]), name
    for name, fan_in in (("W_a", 40), ("U_a", 30), ("v_a", 50)):
        k = 1 / np.sqrt(fan_in)
        value = a.params[name]
        assert np.abs(value).max() <= k, name
        assert value.max() > 0.8 * k and value.min() < -0.8 * k, name
    np.testing.assert_array_equal(a.params["b_a"], np.zeros(50))
    assert AdditiveAttention(3, 4).width == 4


@pytest.mark.parametrize("kind", ["dot", "additive"])
def test_float32_attention_stays_float32(kind):
    """_Attention.__init__ mutant 18, DotAttention.__init__ mutant 4, AdditiveAttention.__init__
    mutants 5, 28, 54, 56, _as_batched mutant 4, _inputs mutants 5, 20, _grad_in mutant 4:
    a float32 layer converts float64 (and integer) inputs and gradients to float32."""
    att = (DotAttention(4, dtype=np.float32) if kind == "dot"
           else AdditiveAttention(4, 4, width=3, dtype=np.float32))
    assert att.dtype == np.float32
    assert {v.dtype for v in att.params.values()} <= {np.dtype(np.float32)}
    rng = np.random.default_rng(0)
    s, hs = rng.normal(size=(3, 2, 4)), rng.normal(size=(5, 2, 4))
    trace = att.forward(s, hs)
    assert trace.s.dtype == trace.hs.dtype == np.float32
    assert trace.weights.dtype == trace.context.dtype == np.float32
    grads = att.backward(trace, np.ones(trace.context.shape),
                         dweights=np.ones(trace.weights.shape))
    for key, value in grads.items():
        assert value.dtype == np.float32, key
    ints = att.forward(np.ones((3, 4), dtype=int), np.ones((5, 4), dtype=int))
    assert ints.s.dtype == ints.hs.dtype == np.float32


def test_bad_sizes_and_dtypes_are_named_in_the_error():
    """_Attention.__init__ mutants 4, 7, 8, 11, 14, 15, 20; AdditiveAttention.__init__ mutants
    13, 19, 20, 21; Seq2Seq.__init__ mutants 8, 11, 12, 13."""
    with pytest.raises(ValueError, match="^query_size must be a positive integer; got 0$"):
        DotAttention(0)
    with pytest.raises(ValueError, match="^key_size must be a positive integer; got 0$"):
        AdditiveAttention(3, 0)
    with pytest.raises(ValueError, match="^width A must be a positive integer; got 0$"):
        AdditiveAttention(3, 4, width=0)
    with pytest.raises(TypeError, match="^dtype must be float32 or float64; got int64$"):
        DotAttention(3, dtype=np.int64)
    with pytest.raises(ValueError, match="^output_size K must be a positive integer; got 0$"):
        Seq2Seq(ll.GRUCell(2, 3), ll.GRUCell(2, 3), 0)


def test_bad_inputs_are_named_in_the_error():
    """_as_batched mutant 3 and _grad_in mutant 3 (the array's name lost), _inputs mutants 21,
    29, 30 (the symbol S), 31 (one batched and one unbatched input of one row let through)
    and 40-47 (the batch sizes reported); _Attention.backward mutants 2, 3 (the trace's type),
    31, 36, 37 (dweights named)."""
    att = AdditiveAttention(4, 5, width=3)
    rng = np.random.default_rng(1)
    s, hs = rng.normal(size=(3, 2, 4)), rng.normal(size=(6, 2, 5))
    with pytest.raises(ValueError, match="^s contains NaN or inf"):
        att.forward(np.full_like(s, np.nan), hs)
    with pytest.raises(ValueError, match="^hs contains NaN or inf"):
        att.forward(s, np.full_like(hs, np.inf))
    with pytest.raises(ValueError, match=re.escape(
            "hs must have shape (S, 5) or (S, B, 5) with S >= 1; got (0, 2, 5)")):
        att.forward(s, hs[:0])
    cases = [(s, hs[:, 0], "got B = 2 and none"), (s[:, 0], hs, "got B = none and 2"),
             (s, hs[:, :1], "got B = 2 and 1"), (s[:, 0], hs[:, :1], "got B = none and 1"),
             (s[:, :1], hs[:, 0], "got B = 1 and none")]
    for q, k, message in cases:
        with pytest.raises(ValueError, match=re.escape(
                "s and hs must both have a batch axis of the same size B, or both have none; "
                + message) + "$"):
            att.forward(q, k)
    trace = att.forward(s, hs)
    with pytest.raises(TypeError, match="^trace must be an AttentionTrace; got dict$"):
        att.backward({}, np.zeros((3, 2, 5)))
    with pytest.raises(ValueError, match=re.escape(
            "dweights must have the shape (3, 2, 6); got (3, 2)")):
        att.backward(trace, np.zeros((3, 2, 5)), dweights=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="^dcontext contains NaN or inf"):
        att.backward(trace, np.full((3, 2, 5), np.nan))


def test_attention_repr_shows_sizes_width_and_a_scale_other_than_one():
    """_Attention.__repr__ mutants 1-18."""
    assert repr(DotAttention(4)) == "DotAttention(query_size=4, key_size=4, num_params=0)"
    assert repr(DotAttention(4, scale=0.5)) == (
        "DotAttention(query_size=4, key_size=4, scale=0.5, num_params=0)")
    assert repr(DotAttention(4, scale=2)) == (
        "DotAttention(query_size=4, key_size=4, scale=2, num_params=0)")
    assert repr(AdditiveAttention(4, 5, width=3)) == (
        "AdditiveAttention(query_size=4, key_size=5, width=3, num_params=33)")
    assert repr(AdditiveAttention(4, 5, width=3, scale=2.0)) == (
        "AdditiveAttention(query_size=4, key_size=5, width=3, scale=2, num_params=33)")


# ------------------------------------------------------------------ Seq2Seq


def test_seq2seq_repr_and_trace_repr():
    """Seq2Seq.__repr__ mutants 1-9, Seq2SeqTrace.__repr__ mutant 1."""
    plain, dot = model(), model("dot")
    assert repr(plain) == ("Seq2Seq(encoder=GRUCell, decoder=GRUCell, H=4, K=3, "
                           f"attention=none, num_params={plain.num_params})")
    assert repr(dot) == ("Seq2Seq(encoder=GRUCell, decoder=GRUCell, H=4, K=3, "
                         f"attention=DotAttention, num_params={dot.num_params})")
    mixed = Seq2Seq(ll.LSTMCell(3, 4), ll.GRUCell(4, 4), 3, attention="additive")
    assert repr(mixed).startswith("Seq2Seq(encoder=LSTMCell, decoder=GRUCell, H=4, K=3, "
                                  "attention=AdditiveAttention, ")
    x = pair()
    assert repr(plain.forward(x)) == "Seq2SeqTrace(output (4, 2, 3), attention=False)"
    assert repr(dot.forward(x)) == "Seq2SeqTrace(output (4, 2, 3), attention=True)"


def test_seq2seq_is_seeded_by_its_seed_and_draws_w_hy_in_range():
    """Seq2Seq.__init__ mutants 1 (default seed 1), 29, 33 (the additive attention not seeded
    by seed), 47 (W_hy unseeded), 50, 60, 61, 63 (the range of W_hy)."""
    np.testing.assert_array_equal(model(seed=0).params["W_hy"],
                                  Seq2Seq(ll.GRUCell(3, 4, seed=1), ll.GRUCell(4, 4, seed=2),
                                          3).params["W_hy"])
    a, b = model("additive", seed=5), model("additive", seed=5)
    for name, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[name], err_msg=name)
    reference = AdditiveAttention(4, 4, seed=5)
    for name, value in reference.params.items():
        np.testing.assert_array_equal(a.params[f"att.{name}"], value, err_msg=name)
    assert not np.array_equal(a.params["att.W_a"], model("additive", seed=6).params["att.W_a"])
    for attention, F in ((None, 30), ("dot", 60)):
        H = 30
        W = Seq2Seq(ll.GRUCell(3, H), ll.GRUCell(3, H), 40, attention=attention,
                    seed=7).params["W_hy"]
        again = Seq2Seq(ll.GRUCell(3, H), ll.GRUCell(3, H), 40, attention=attention,
                        seed=7).params["W_hy"]
        np.testing.assert_array_equal(W, again)
        k = 1 / np.sqrt(F)
        assert W.shape == (40, F) and np.abs(W).max() <= k
        assert W.max() > 0.9 * k and W.min() < -0.9 * k


@pytest.mark.parametrize("attention", [None, "dot", "additive"])
def test_a_float32_seq2seq_is_float32_throughout(attention):
    """Seq2Seq.__init__ mutants 20, 22, 30, 34, 56, 67, 69 (parts built as float64);
    Seq2Seq.backward mutant 7 (dy kept float64)."""
    m = model(attention, dtype=np.float32)
    for name, value in m.params.items():
        assert value.dtype == np.float32, name
    if attention is not None:
        assert m.attention.dtype == np.float32
    trace = m.forward(pair())
    assert trace.output.dtype == np.float32
    grads = m.backward(trace, np.ones(trace.output.shape))
    for name, value in grads.items():
        assert value.dtype == np.float32, name


def test_seq2seq_errors_name_what_is_wrong():
    """Seq2Seq.backward mutants 2, 3, 6, 11, 12, 14; _pair mutants 2 (a triple let through),
    8 (the type named)."""
    m = model("dot")
    x = pair()
    trace = m.forward(x)
    with pytest.raises(TypeError, match="^trace must be a Seq2SeqTrace; got AttentionTrace$"):
        m.backward(trace.attention, np.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match="^dy contains NaN or inf"):
        m.backward(trace, np.full((4, 2, 3), np.nan))
    with pytest.raises(ValueError, match=re.escape(
            "dy must have the shape of trace.output, (4, 2, 3); got (4, 3)")):
        m.backward(trace, np.zeros((4, 3)))
    with pytest.raises(TypeError, match="^x must be a pair .source, decoder inputs.; got tuple$"):
        m.forward((*x, x[0]))
    with pytest.raises(TypeError, match="^x must be a pair .source, decoder inputs.; got ndarray$"):
        m.forward(x[0])


def test_decode_says_which_decoder_input_size_greedy_decoding_needs():
    """decode mutants 9-13: the sizes in the message (T, B and D all different here)."""
    m = model()
    src = np.zeros((4, 2, 3))
    with pytest.raises(ValueError, match=re.escape(
            "greedy decoding feeds back one-hot codes of the K = 3 symbols plus a start code, "
            "so the decoder input size must be 4; got 5")):
        m.decode((src, np.zeros((6, 2, 5))))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("batched", [True, False])
def test_decode_carries_the_decoders_state_from_step_to_step(kind, batched):
    """decode mutants 30, 35-41 (the LSTM decoder's c, or h, or the input, not handed on
    from one step to the next): greedy decoding equals a teacher-forced pass fed the model's
    own choices."""
    m = Seq2Seq(ll.CELLS[kind](4, 6, seed=0), ll.CELLS[kind](5, 6, seed=1), 4,
                attention="additive")
    src, inp = pair(n_symbols=4, length=5, batch=3, rng=2)
    if not batched:
        src, inp = src[:, 0], inp[:, 0]
    greedy, alpha = m.decode((src, inp))
    chosen = greedy.argmax(-1)
    fed = np.zeros_like(inp)
    fed[0] = inp[0]
    np.put_along_axis(fed[1:], chosen[:-1][..., None], 1.0, axis=-1)
    np.testing.assert_allclose(m.forward((src, fed)).output, greedy, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(alpha, m.attention_weights((src, fed)), rtol=1e-12,
                               atol=1e-14)


def test_without_attention_decode_and_attention_weights_give_none():
    """decode mutants 47, 92 and attention_weights mutant 3 (an attention asked of a model that
    has none)."""
    m = model()
    x = pair(n_symbols=3)
    logits, alpha = m.decode(x)
    assert alpha is None and logits.shape == (4, 2, 3)
    assert m.attention_weights(x) is None


# ------------------------------------------------------------------ saving and loading


def test_save_and_load_keep_width_dtype_and_the_decoders_reset_after(tmp_path):
    """save_seq2seq mutants 22, 27, 28 and load_seq2seq mutants 69, 74 (the additive width
    lost), load_seq2seq mutants 19, 20, 32, 36, 70, 75 (loaded as float64) and 112 (the
    decoder's reset_after lost)."""
    H = 4
    m = Seq2Seq(ll.GRUCell(3, H, seed=1, dtype=np.float32),
                ll.GRUCell(4, H, seed=2, reset_after=True, dtype=np.float32), 3,
                attention=AdditiveAttention(H, H, width=7, seed=2, dtype=np.float32), seed=3)
    path = tmp_path / "m.npz"
    save_seq2seq(m, path)
    again = load_seq2seq(path)
    assert again.attention.width == 7 and again.decoder.reset_after
    assert not again.encoder.reset_after
    assert again.dtype == np.float32 and again.attention.dtype == np.float32
    for name, value in again.params.items():
        assert value.dtype == np.float32, name
        np.testing.assert_array_equal(value, m.params[name], err_msg=name)
    x = pair()
    np.testing.assert_array_equal(again.predict(x), m.predict(x))


def test_a_float32_dot_model_loads_as_float32(tmp_path):
    """load_seq2seq mutants 51, 54 (the dot-product attention built as float64)."""
    m = model("dot", dtype=np.float32)
    save_seq2seq(m, tmp_path / "m.npz")
    again = load_seq2seq(tmp_path / "m.npz")
    assert again.attention.dtype == np.float32
    assert again.forward(pair()).output.dtype == np.float32


def _rewrite(path, change):
    """Load the .npz at path, let change(meta, arrays) edit it, write it back."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
    meta_array = change(meta, arrays)
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=meta_array if meta_array is not None
             else np.array(json.dumps(meta)), **arrays)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize("attention", ["dot", "additive"])
def test_a_file_without_a_scale_loads_with_scale_one(tmp_path, attention):
    """load_seq2seq mutants 57, 59, 62, 80, 82, 85: a file written before attention had a
    scale (no 'scale' in its description) loads with the scale 1."""
    m = model(attention)
    path = tmp_path / "old.npz"
    save_seq2seq(m, path)
    _rewrite(path, lambda meta, arrays: meta.pop("scale") and None)
    again = load_seq2seq(path)
    assert again.attention.scale == 1.0
    x = pair()
    np.testing.assert_array_equal(again.predict(x), m.predict(x))


def test_load_never_unpickles(tmp_path):
    """load_seq2seq mutant 9 (allow_pickle=True): a description stored as a pickled object
    array is refused, not unpickled."""
    path = tmp_path / "pickled.npz"
    save_seq2seq(model("dot"), path)
    _rewrite(path, lambda meta, arrays: np.array(json.dumps(meta), dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        load_seq2seq(path)


def test_load_names_the_weights_that_do_not_fit(tmp_path):
    """load_seq2seq mutants 128, 129, 130: the message lists the file's and the model's
    weights."""
    path = tmp_path / "m.npz"
    save_seq2seq(Seq2Seq(ll.RNNCell(3, 4), ll.RNNCell(4, 4), 3), path)
    _rewrite(path, lambda meta, arrays: arrays.update(extra=np.zeros(2)))
    model_keys = sorted(Seq2Seq(ll.RNNCell(3, 4), ll.RNNCell(4, 4), 3).params)
    with pytest.raises(ValueError, match=re.escape(
            f"{path}: the weights {sorted(model_keys + ['extra'])} do not fit the model it "
            f"describes ({model_keys})")):
        load_seq2seq(path)
