"""Attention over an encoder's hidden states: dot-product and additive scores, exact backward.

A decoder state s_t (size H_s) looks at every encoder state h_j (size H_h, j = 1..S), gives
each a score e_tj, turns the scores into weights that sum to one, and reads their weighted
average, the context vector:

    e_tj     = scale * (s_t . h_j)                           dot-product (Luong et al. 2015)
    e_tj     = scale * v_a . tanh(W_a s_t + U_a h_j + b_a)   additive (Bahdanau et al. 2014)
    alpha_tj = exp(e_tj) / sum_k exp(e_tk)                   attention weights (softmax over j)
    ctx_t    = sum_j alpha_tj h_j                            context vector

where W_a (A, H_s), U_a (A, H_h), b_a (A,) and v_a (A,) are the additive score's parameters
(A is its width); the dot-product score has none and needs H_s = H_h. ``scale`` (1 unless set)
sharpens the weights above 1 and blurs them below; 0 makes them uniform. The Transformer's
scaled dot product uses scale = 1 / sqrt(H).

Shapes: s is (T, H_s) or (T, B, H_s), hs is (S, H_h) or (S, B, H_h), time first as everywhere
in the package; the weights are (T, S) or (T, B, S), the context (T, H_h) or (T, B, H_h).
``backward`` mirrors ``forward`` in reverse and returns the gradients of every parameter and
of 's' and 'hs'.

>>> import numpy as np
>>> att = AdditiveAttention(query_size=4, key_size=3, width=5, seed=0)
>>> rng = np.random.default_rng(0)
>>> trace = att.forward(rng.normal(size=(2, 4)), rng.normal(size=(6, 3)))
>>> trace.weights.shape, np.allclose(trace.weights.sum(axis=-1), 1.0), trace.context.shape
((2, 6), True, (2, 3))
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np

from ._checks import as_real_array, check_size

__all__ = [
    "AttentionTrace", "AdditiveAttention", "DotAttention", "Seq2Seq", "Seq2SeqTrace", "softmax",
    "save_seq2seq", "load_seq2seq",
]


def softmax(e, axis=-1):
    """exp(e) / sum(exp(e)) along ``axis``, shifted by the maximum so that it never overflows."""
    z = np.exp(e - e.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


class AttentionTrace:
    """One forward pass of an attention layer: what backward needs and what a heatmap shows.

    s, hs    : the queries (decoder states) and the encoder states, batched (T, B, .), (S, B, .)
    scores   : e, (T, B, S);  weights : alpha, (T, B, S);  context : ctx, (T, B, H_h)
    u        : tanh(W_a s_t + U_a h_j + b_a), (T, B, S, A), additive attention only
    batched  : False when the inputs had no batch axis (then the properties drop it)
    """

    def __init__(self, s, hs, scores, weights, context, batched, u=None):
        self.s, self.hs = s, hs
        self._scores, self._weights, self._context = scores, weights, context
        self.u = u
        self.batched = batched

    def _shown(self, a):
        return a if self.batched else a[:, 0]

    @property
    def scores(self):
        return self._shown(self._scores)

    @property
    def weights(self):
        """alpha_tj: row t is where the decoder looks at step t (each row sums to 1)."""
        return self._shown(self._weights)

    @property
    def context(self):
        return self._shown(self._context)

    def __repr__(self):
        T, B, S = self._weights.shape
        return f"AttentionTrace(T={T}, S={S}, B={B}, batched={self.batched})"


def _as_batched(a, name, size, dtype, symbol):
    """``a`` as a (steps, B, size) array of ``dtype``, and whether it came with a batch axis."""
    a = as_real_array(a, name, dtype)
    if a.ndim not in (2, 3) or a.shape[-1] != size or a.shape[0] == 0:
        raise ValueError(f"{name} must have shape ({symbol}, {size}) or ({symbol}, B, {size}) "
                         f"with {symbol} >= 1; got {a.shape}")
    batched = a.ndim == 3
    if not batched:
        a = a[:, None, :]
    return a, batched


class _Attention:
    """What both scores share: input checks, the softmax, the context and their backward."""

    def __init__(self, query_size, key_size, dtype, scale=1.0):
        self.query_size = check_size(query_size, "query_size")
        self.key_size = check_size(key_size, "key_size")
        self.scale = scale
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64; got {self.dtype}")
        self.params = {}

    @property
    def num_params(self):
        return int(sum(p.size for p in self.params.values()))

    @property
    def scale(self):
        """The factor on every score (1 by default): above 1 sharper weights, below 1 blurrier."""
        return self._scale

    @scale.setter
    def scale(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            raise TypeError(f"scale must be a number; got {value!r}")
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"scale must be finite and >= 0; got {value}")
        self._scale = float(value)

    def _inputs(self, s, hs):
        s, sb = _as_batched(s, "s", self.query_size, self.dtype, "T")
        hs, hb = _as_batched(hs, "hs", self.key_size, self.dtype, "S")
        if sb != hb or s.shape[1] != hs.shape[1]:
            raise ValueError("s and hs must both have a batch axis of the same size B, or both "
                             f"have none; got B = {s.shape[1] if sb else 'none'} and "
                             f"{hs.shape[1] if hb else 'none'}")
        return s, hs, sb

    def forward(self, s, hs):
        """Scores, weights and context for every query s_t over every encoder state h_j."""
        s, hs, batched = self._inputs(s, hs)
        raw, u = self._scores(s, hs)
        scores = self._scale * raw
        weights = softmax(scores, axis=-1)
        # ctx_t = sum_j alpha_tj h_j
        context = np.einsum("tbs,sbh->tbh", weights, hs)
        return AttentionTrace(s, hs, scores, weights, context, batched, u)

    def backward(self, trace, dcontext, dweights=None):
        """Gradients given dL/dctx (shaped like trace.context) and optionally dL/dalpha.

        Returns a dict with every key of ``params`` plus 's' and 'hs', each shaped like its value.
        """
        if not isinstance(trace, AttentionTrace):
            raise TypeError(f"trace must be an AttentionTrace; got {type(trace).__name__}")
        alpha, hs = trace._weights, trace.hs
        dctx = self._grad_in(dcontext, trace.context.shape, trace.batched, "dcontext")
        # ctx_t = sum_j alpha_tj h_j: to the weights and, directly, to the encoder states
        dalpha = np.einsum("tbh,sbh->tbs", dctx, hs)
        if dweights is not None:
            dalpha = dalpha + self._grad_in(dweights, trace.weights.shape, trace.batched,
                                            "dweights")
        dhs = np.einsum("tbs,tbh->sbh", alpha, dctx)
        # softmax: de_tj = alpha_tj (dalpha_tj - sum_k alpha_tk dalpha_tk)
        de = alpha * (dalpha - (alpha * dalpha).sum(axis=-1, keepdims=True))
        # e = scale * raw score
        grads = self._scores_backward(trace, self._scale * de)
        grads["hs"] = grads["hs"] + dhs
        if not trace.batched:
            grads["s"], grads["hs"] = grads["s"][:, 0], grads["hs"][:, 0]
        return grads

    def _grad_in(self, d, shape, batched, name):
        d = as_real_array(d, name, self.dtype)
        if d.shape != shape:
            raise ValueError(f"{name} must have the shape {shape}; got {d.shape}")
        return d if batched else d[:, None]

    def __repr__(self):
        extra = f", width={self.width}" if hasattr(self, "width") else ""
        extra += f", scale={self._scale:g}" if self._scale != 1.0 else ""
        return (f"{type(self).__name__}(query_size={self.query_size}, "
                f"key_size={self.key_size}{extra}, num_params={self.num_params})")


class DotAttention(_Attention):
    """Dot-product attention (Luong, Pham & Manning 2015): e_tj = s_t . h_j; no parameters.

    >>> att = DotAttention(size=2)
    >>> trace = att.forward(np.array([[10.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    >>> trace.weights.round(4).tolist()     # the query points at the first state
    [[1.0, 0.0]]
    """

    def __init__(self, size, dtype=np.float64, scale=1.0):
        super().__init__(size, size, dtype, scale)

    def _scores(self, s, hs):
        # e_tj = s_t . h_j
        return np.einsum("tbh,sbh->tbs", s, hs), None

    def _scores_backward(self, trace, de):
        return {"s": np.einsum("tbs,sbh->tbh", de, trace.hs),
                "hs": np.einsum("tbs,tbh->sbh", de, trace.s)}


class AdditiveAttention(_Attention):
    """Additive attention (Bahdanau, Cho & Bengio 2014): e_tj = v_a . tanh(W_a s_t + U_a h_j + b_a).

    Parameters: W_a (A, H_s), U_a (A, H_h), b_a (A,), v_a (A,); the weights start uniform in
    +-1/sqrt(fan in) from ``seed``, b_a at zero.
    """

    def __init__(self, query_size, key_size, width=None, seed=0, dtype=np.float64, scale=1.0):
        super().__init__(query_size, key_size, dtype, scale)
        self.width = A = check_size(width if width is not None else key_size, "width A")
        rng = np.random.default_rng(seed)

        def uniform(shape, fan_in):
            k = 1.0 / math.sqrt(fan_in)
            return rng.uniform(-k, k, size=shape).astype(self.dtype)

        self.params = {
            "W_a": uniform((A, self.query_size), self.query_size),
            "U_a": uniform((A, self.key_size), self.key_size),
            "b_a": np.zeros(A, dtype=self.dtype),
            "v_a": uniform((A,), A),
        }

    def _scores(self, s, hs):
        p = self.params
        # W_a s_t + U_a h_j + b_a for every pair (t, j): (T, B, S, A)
        pre = (s @ p["W_a"].T)[:, :, None, :] + (hs @ p["U_a"].T).transpose(1, 0, 2)[None]
        u = np.tanh(pre + p["b_a"])
        return u @ p["v_a"], u

    def _scores_backward(self, trace, de):
        p, u = self.params, trace.u
        # e = u . v_a
        dv = np.einsum("tbs,tbsa->a", de, u)
        du = de[..., None] * p["v_a"]
        # u = tanh(pre): through tanh's slope
        dpre = du * (1.0 - u * u)
        db = dpre.sum(axis=(0, 1, 2))
        dWs = dpre.sum(axis=2)  # (T, B, A): the part that came from W_a s_t
        dUh = dpre.sum(axis=0).transpose(1, 0, 2)  # (S, B, A): the part from U_a h_j
        return {
            "W_a": np.einsum("tba,tbh->ah", dWs, trace.s),
            "U_a": np.einsum("sba,sbh->ah", dUh, trace.hs),
            "b_a": db,
            "v_a": dv,
            "s": dWs @ p["W_a"],
            "hs": dUh @ p["U_a"],
        }


class Seq2SeqTrace:
    """One forward pass of a ``Seq2Seq`` model: the encoder's, the decoder's and the attention's
    traces, and the output logits y (T, B, K)."""

    def __init__(self, encoder, decoder, attention, features, output):
        self.encoder, self.decoder, self.attention = encoder, decoder, attention
        self.features, self.output = features, output

    def __repr__(self):
        return f"Seq2SeqTrace(output {self.output.shape}, attention={self.attention is not None})"


class Seq2Seq:
    """An encoder-decoder: an encoder cell reads the source, a decoder cell writes the target.

        h_j  = encoder(x_j, h_{j-1}),  j = 1..S             the encoder's states
        s_t  = decoder(d_t, s_{t-1}),  s_0 = h_S             the decoder starts from the summary h_S
        y_t  = W_hy s_t + b_y                                without attention (the bottleneck)
        y_t  = W_hy [s_t ; ctx_t] + b_y                      with attention over h_1..h_S

    The decoder's input d_t is the code of the previous target symbol (a start code at t = 1),
    given by the task during training. Without attention everything the decoder knows about
    the source has to pass through the one vector h_S; with it, every step can look back at
    every h_j. The attention reads the decoder's current state s_t (the placement of Luong et
    al. 2015, so the decoder runs as one sequence); its score is dot-product or additive.

    Parameters
    ----------
    encoder, decoder : lstm_lab cells with the same hidden size H (an LSTM decoder starts
        with c_0 = 0; only h_S is handed over).
    output_size : K, the number of output symbols.
    attention : None, 'dot', 'additive', or an attention object with query and key size H.
    seed : seeds W_hy ~ U(-1/sqrt(F), 1/sqrt(F)), F its fan-in, and the additive attention.

    ``params`` maps 'enc.NAME', 'dec.NAME', 'att.NAME', 'W_hy' and 'b_y' to the live arrays.
    ``forward(x)`` takes x = (source (S, B, D), decoder inputs (T, B, D_dec)); ``predict(x)``
    decodes greedily, feeding back its own choice as the next input (the decoder's input code
    must then be the output symbols plus a start code: D_dec = K + 1, start code K).
    """

    def __init__(self, encoder, decoder, output_size, attention=None, seed=0):
        H = encoder.hidden_size
        if decoder.hidden_size != H:
            raise ValueError(f"encoder and decoder must have the same hidden size H; got "
                             f"{H} and {decoder.hidden_size}")
        self.encoder, self.decoder = encoder, decoder
        self.output_size = K = check_size(output_size, "output_size K")
        self.dtype = encoder.dtype
        if attention == "dot":
            attention = DotAttention(H, dtype=self.dtype)
        elif attention == "additive":
            attention = AdditiveAttention(H, H, seed=seed, dtype=self.dtype)
        elif attention is not None and not isinstance(attention, _Attention):
            raise ValueError(f"attention must be None, 'dot', 'additive' or an attention "
                             f"object; got {attention!r}")
        self.attention = attention
        F = 2 * H if attention is not None else H
        rng = np.random.default_rng(seed)
        k = 1.0 / math.sqrt(F)
        self._readout = {"W_hy": rng.uniform(-k, k, size=(K, F)).astype(self.dtype),
                         "b_y": np.zeros(K, dtype=self.dtype)}
        self.params = {f"enc.{k}": v for k, v in encoder.params.items()}
        self.params.update({f"dec.{k}": v for k, v in decoder.params.items()})
        if attention is not None:
            self.params.update({f"att.{k}": v for k, v in attention.params.items()})
        self.params.update(self._readout)

    @property
    def num_params(self):
        return int(sum(a.size for a in self.params.values()))

    def __repr__(self):
        kind = "none" if self.attention is None else type(self.attention).__name__
        return (f"Seq2Seq(encoder={type(self.encoder).__name__}, "
                f"decoder={type(self.decoder).__name__}, H={self.encoder.hidden_size}, "
                f"K={self.output_size}, attention={kind}, num_params={self.num_params})")

    def _read_out(self, s, att_trace):
        feats = s if att_trace is None else np.concatenate([s, att_trace._context], axis=-1)
        return feats, feats @ self._readout["W_hy"].T + self._readout["b_y"]

    def forward(self, x):
        """Encode x[0], decode x[1] (teacher forcing); a ``Seq2SeqTrace``."""
        source, inputs = _pair(x)
        enc = self.encoder.forward(source)
        dec = self.decoder.forward(inputs, h0=enc.final.h)
        att = None if self.attention is None else self.attention.forward(dec.h, enc.h)
        feats, y = self._read_out(dec.h if dec.h.ndim == 3 else dec.h[:, None], att)
        if dec.h.ndim == 2:
            feats, y = feats[:, 0], y[:, 0]
        return Seq2SeqTrace(enc, dec, att, feats, y)

    def backward(self, trace, dy):
        """Gradients of every params key given dy = dL/dy (shaped like trace.output)."""
        if not isinstance(trace, Seq2SeqTrace):
            raise TypeError(f"trace must be a Seq2SeqTrace; got {type(trace).__name__}")
        dy = as_real_array(dy, "dy", self.dtype)
        if dy.shape != trace.output.shape:
            raise ValueError(f"dy must have the shape of trace.output, {trace.output.shape}; "
                             f"got {dy.shape}")
        H, K = self.encoder.hidden_size, self.output_size
        W = self._readout["W_hy"]
        # y_t = W_hy f_t + b_y
        grads = {"W_hy": dy.reshape(-1, K).T @ trace.features.reshape(-1, W.shape[1]),
                 "b_y": dy.reshape(-1, K).sum(axis=0)}
        dfeat = dy @ W
        ds = dfeat[..., :H]
        dh_enc = np.zeros_like(trace.encoder.h)
        if trace.attention is not None:
            # f_t = [s_t ; ctx_t]: the context's share goes back through the attention
            ga = self.attention.backward(trace.attention, dfeat[..., H:])
            ds = ds + ga["s"]
            dh_enc += ga["hs"]
            grads.update({f"att.{k}": ga[k] for k in self.attention.params})
        gd = self.decoder.backward(trace.decoder, ds)
        # s_0 = h_S: the decoder's first state is the encoder's last
        dh_enc[-1] += gd["h0"]
        ge = self.encoder.backward(trace.encoder, dh_enc)
        grads.update({f"dec.{k}": gd[k] for k in self.decoder.params})
        grads.update({f"enc.{k}": ge[k] for k in self.encoder.params})
        return grads

    def predict(self, x):
        """Greedy decoding: logits (T, B, K) when each step is fed the previous step's choice."""
        return self.decode(x)[0]

    def decode(self, x):
        """Greedy decoding with what it looked at: (logits, alpha), alpha (T, S) or (T, B, S).

        The logits are those of ``predict``; alpha holds each step's attention weights over the
        source in that same greedy run (None without attention).
        """
        source, inputs = _pair(x)
        K = self.output_size
        if inputs.shape[-1] != K + 1:
            raise ValueError(f"greedy decoding feeds back one-hot codes of the K = {K} symbols "
                             f"plus a start code, so the decoder input size must be {K + 1}; "
                             f"got {inputs.shape[-1]}")
        batched = inputs.ndim == 3
        enc = self.encoder.forward(source)
        hs = enc.h if batched else enc.h[:, None]
        h, c = enc.final.h, None
        d = inputs[0]
        out, alpha = [], []
        for _ in range(inputs.shape[0]):
            step = (self.decoder.forward(d[None], h0=h) if c is None
                    else self.decoder.forward(d[None], h0=h, c0=c))
            h, c = step.final.h, step.final.c
            s = step.h if batched else step.h[:, None]
            att = None if self.attention is None else self.attention.forward(s, hs)
            y = self._read_out(s, att)[1][0]
            out.append(y if batched else y[0])
            if att is not None:
                alpha.append(att.weights[0] if batched else att.weights[0, 0])
            d = np.zeros_like(d)
            np.put_along_axis(d, out[-1].argmax(axis=-1)[..., None], 1.0, axis=-1)
        return np.stack(out), (np.stack(alpha) if alpha else None)

    def attention_weights(self, x):
        """alpha (T, S) or (T, B, S) of a teacher-forced pass (None without attention)."""
        trace = self.forward(x)
        return None if trace.attention is None else trace.attention.weights


def _pair(x):
    if not (isinstance(x, (tuple, list)) and len(x) == 2):
        raise TypeError("x must be a pair (source, decoder inputs); got "
                        f"{type(x).__name__}")
    return x[0], x[1]


# ----------------------------------------------------------------------------- saving weights

PRETRAINED = Path(__file__).parent / "data" / "reverse_gru_dot.npz"


def save_seq2seq(model, path):
    """Write a ``Seq2Seq``'s weights and its description to an .npz file (no pickle), atomically.

    ``load_seq2seq(path)`` builds the same model back.
    """
    from ._atomic import write_atomic

    meta = {
        "encoder": model.encoder.kind, "decoder": model.decoder.kind,
        "input_size": model.encoder.input_size, "decoder_input_size": model.decoder.input_size,
        "hidden_size": model.encoder.hidden_size, "output_size": model.output_size,
        "attention": None if model.attention is None else type(model.attention).__name__,
        "width": getattr(model.attention, "width", None), "dtype": str(model.dtype),
        "scale": None if model.attention is None else model.attention.scale,
        "reset_after": [getattr(c, "reset_after", None) for c in (model.encoder, model.decoder)],
    }
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(json.dumps(meta)), **model.params)
    write_atomic(path, buffer.getvalue())


def load_seq2seq(path=None):
    """The ``Seq2Seq`` that ``save_seq2seq`` wrote to ``path``; by default the package's
    pretrained reverser (``PRETRAINED``: a GRU encoder-decoder with dot-product attention,
    made by the command in notebooks/data/attention_runs.py)."""
    from .cells import CELLS

    path = PRETRAINED if path is None else path
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
    dtype = np.dtype(meta["dtype"])

    def cell(kind, input_size, reset_after):
        options = {} if reset_after is None else {"reset_after": reset_after}
        return CELLS[kind](input_size, meta["hidden_size"], seed=0, dtype=dtype, **options)

    H = meta["hidden_size"]
    attention = {
        None: lambda: None,
        "DotAttention": lambda: DotAttention(H, dtype=dtype, scale=meta.get("scale", 1.0)),
        "AdditiveAttention": lambda: AdditiveAttention(H, H, width=meta["width"], dtype=dtype,
                                                       scale=meta.get("scale", 1.0)),
    }[meta["attention"]]()
    model = Seq2Seq(cell(meta["encoder"], meta["input_size"], meta["reset_after"][0]),
                    cell(meta["decoder"], meta["decoder_input_size"], meta["reset_after"][1]),
                    meta["output_size"], attention=attention)
    if set(arrays) != set(model.params):
        raise ValueError(f"{path}: the weights {sorted(arrays)} do not fit the model it "
                         f"describes ({sorted(model.params)})")
    for name, value in arrays.items():
        target = model.params[name]
        if value.shape != target.shape:
            raise ValueError(f"{path}: {name} has shape {value.shape}, the model {target.shape}")
        target[...] = value
    return model
