"""Character-level text: a built-in corpus, one-hot training batches, sampling with a temperature.

The corpus is made here, from a seed, so nothing is downloaded: short lines of narration
in which characters speak in quotes, and lines of bracketed expressions nested a few
levels deep. Both need memory to predict: inside quotes other words follow than outside,
and a line of brackets can only end once every bracket is closed. ``quote_state`` and
``bracket_depth`` give the true counters, one value per character, for finding the units
of a trained model that track them (Karpathy, Johnson & Fei-Fei 2015).

Generation is the one-to-many use of a recurrent network: a model trained to predict the
next character (``SequenceModel(cell, V, many_to_one=False)``) is fed its own samples.

>>> from lstm_lab import generate
>>> text = generate.make_text(300, seed=0)
>>> lines = text.splitlines()[:-1]                  # the complete lines
>>> len(text), all(line.count('(') == line.count(')') for line in lines)
(300, True)
"""

import io
import json
from collections import namedtuple
from pathlib import Path

import numpy as np

from ._checks import MAX_ELEMENTS, as_real_array, check_elements, check_size
from .train import SequenceModel, softmax_cross_entropy

__all__ = [
    "Vocabulary", "CharTask", "make_text", "quote_state", "bracket_depth", "softmax",
    "sample", "unit_correlations", "CharModel", "PRETRAINED", "save_char_model", "load_char_model",
]

_NARRATION = {
    "who": ("the cat", "the old dog", "a fox", "the bird", "my aunt", "the king", "a girl"),
    "verb": ("sat", "ran", "slept", "looked", "waited", "sang", "walked"),
    "where": ("on the mat", "by the river", "under a tree", "in the rain", "at the door",
              "near the hill"),
}
_SAID = ("said", "asked", "cried", "whispered")
_SPEECH = ("yes", "no", "come", "home", "stop", "wait", "look", "here", "now", "please", "why",
           "we", "must", "go", "not", "you", "see")
_OPS = ("add", "mul", "max", "min", "neg")
_ATOMS = ("x", "y", "z", "1", "2", "3", "7")


# ----------------------------------------------------------------------------- the corpus

def _speech(rng):
    words = rng.choice(_SPEECH, size=int(rng.integers(2, 7)))
    return '"' + " ".join(words) + '"'


def _narration(rng):
    who = rng.choice(_NARRATION["who"])
    line = f"{who} {rng.choice(_NARRATION['verb'])} {rng.choice(_NARRATION['where'])}"
    form = rng.integers(3)
    if form == 0:
        return line + "."
    if form == 1:
        return f"{line} and {rng.choice(_SAID)} {_speech(rng)}."
    return f"{_speech(rng)} {rng.choice(_SAID)} {who}."


def _expression(rng, depth):
    if depth >= 4 or (depth > 0 and rng.random() < 0.35):
        return str(rng.choice(_ATOMS))
    args = [_expression(rng, depth + 1) for _ in range(int(rng.integers(1, 4)))]
    return "(" + str(rng.choice(_OPS)) + " " + " ".join(args) + ")"


def make_text(n_chars=20000, seed=0):
    """A corpus of ``n_chars`` characters: lines of narration with quoted speech and lines of
    bracketed expressions, one line per '\\n', drawn from ``seed``.

    Every quote and bracket is closed before its line ends; the corpus is cut at the end
    of the line that reaches ``n_chars`` and then trimmed, so the last line may be open.

    >>> print(make_text(130, seed=3))
    "please yes no wait here why" asked the old dog.
    my aunt sang on the mat.
    a girl looked under a tree and cried "come must must see
    """
    n_chars = check_size(n_chars, "n_chars", MAX_ELEMENTS)
    rng = np.random.default_rng(seed)
    lines, total = [], 0
    while total < n_chars:
        line = _narration(rng) if rng.random() < 0.55 else _expression(rng, 0)
        lines.append(line + "\n")
        total += len(line) + 1
    return "".join(lines)[:n_chars]


def quote_state(text):
    """1.0 for every character inside a quotation (the opening '"' included), else 0.0; shape (N,).

    >>> quote_state('a "bc" d').tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    out = np.zeros(len(text))
    inside = False
    for k, ch in enumerate(text):
        if ch == '"':
            inside = not inside
        elif ch == "\n":
            inside = False
        out[k] = inside
    return out


def bracket_depth(text):
    """How many brackets are open after each character ('(' counts itself); shape (N,).

    >>> bracket_depth('(a (b) c)\\n').tolist()
    [1.0, 1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    """
    out = np.zeros(len(text))
    depth = 0
    for k, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch == "\n":
            depth = 0
        out[k] = depth
    return out


# ----------------------------------------------------------------------------- characters

class Vocabulary:
    """The characters of a text, each with an index; one-hot vectors of size V.

    >>> vocab = Vocabulary("hello")
    >>> vocab, vocab.encode("hole").tolist(), vocab.decode([3, 1])
    (Vocabulary(V=4, chars='ehlo'), [1, 3, 2, 0], 'oh')
    >>> vocab.one_hot("eh").tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]
    """

    def __init__(self, text):
        if not isinstance(text, str) or not text:
            raise TypeError("Vocabulary needs a non-empty str to take its characters from")
        self.chars = "".join(sorted(set(text)))
        self._index = {ch: k for k, ch in enumerate(self.chars)}

    def __len__(self):
        return len(self.chars)

    def __contains__(self, ch):
        return ch in self._index

    def __repr__(self):
        return f"Vocabulary(V={len(self)}, chars={self.chars!r})"

    def encode(self, text):
        """The indices of the characters of ``text``, an int array (N,)."""
        unknown = sorted(set(text) - set(self.chars))
        if unknown:
            raise ValueError(f"characters {unknown!r} are not in the vocabulary {self.chars!r}")
        return np.array([self._index[ch] for ch in text], dtype=np.intp)

    def decode(self, indices):
        """The string of the characters with these indices."""
        return "".join(self.chars[int(k)] for k in np.asarray(indices).ravel())

    def one_hot(self, text_or_indices, dtype=np.float64):
        """One-hot rows (..., V): a str, or an int array of indices of any shape."""
        idx = self.encode(text_or_indices) if isinstance(text_or_indices, str) else \
            np.asarray(text_or_indices)
        return np.eye(len(self), dtype=dtype)[idx]


class CharTask:
    """Next-character prediction on a text, in the task protocol ``lstm_lab.train.fit`` uses.

    Each batch is B windows of T + 1 characters from random places: x (T, B, V) one-hot of
    the first T, y (T, B) the index of the character that follows each one. The loss is the
    mean cross-entropy in nats per character (divide by ln 2 for bits); the held-out score
    is the same cross-entropy.

    >>> task = CharTask(make_text(2000, seed=0), T=16)
    >>> x, y = task.sample(4, rng=0)
    >>> x.shape, y.shape, task.vocab.decode(x[1:, 0].argmax(-1)) == task.vocab.decode(y[:-1, 0])
    ((16, 4, 34), (16, 4), True)
    """

    name = "chars"
    metric = "test_xent"
    many_to_one = False

    def __init__(self, text, T=50, vocab=None):
        self.vocab = Vocabulary(text) if vocab is None else vocab
        self.T = check_size(T, "T")
        if len(text) < self.T + 1:
            raise ValueError(f"text must be longer than T + 1 = {self.T + 1} characters; got "
                             f"{len(text)}")
        self.text = text
        self.codes = self.vocab.encode(text)
        self.input_size = self.output_size = len(self.vocab)

    def __repr__(self):
        return f"CharTask(T={self.T}, V={len(self.vocab)}, chars in text={len(self.text)})"

    def sample(self, batch, rng=None, dtype=np.float64):
        """A batch (x (T, B, V), y (T, B) labels) of windows starting at random places."""
        batch = check_size(batch, "batch")
        check_elements("x (T, B, V)", T=self.T, B=batch, V=len(self.vocab))
        rng = np.random.default_rng(rng)
        starts = rng.integers(0, len(self.codes) - self.T, size=batch)
        windows = self.codes[starts[None, :] + np.arange(self.T + 1)[:, None]]   # (T + 1, B)
        return self.vocab.one_hot(windows[:-1], dtype), windows[1:]

    def loss(self, output, target):
        """(mean cross-entropy, its gradient) of logits (T, B, V) against labels (T, B)."""
        return softmax_cross_entropy(output, target)

    def evaluate(self, output, target):
        return float(softmax_cross_entropy(output, target)[0])

    def reached(self, value, target):
        return value <= target

    def baseline(self):
        """The cross-entropy of guessing from the character frequencies alone (nats)."""
        p = np.bincount(self.codes, minlength=len(self.vocab)) / len(self.codes)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())


# ----------------------------------------------------------------------------- sampling

MAX_SAMPLE_LENGTH = 1_000_000   # one forward step per character: a million takes minutes

def softmax(logits, temperature=1.0):
    """Probabilities softmax(logits / temperature) over the last axis, computed stably.

    temperature = 1 gives the model's own distribution; below 1 sharpens it towards the most
    likely character (0 picks it: a one-hot), above 1 flattens it towards uniform.

    >>> softmax(np.log([1.0, 2.0, 1.0])).round(3).tolist()
    [0.25, 0.5, 0.25]
    >>> softmax(np.log([1.0, 2.0, 1.0]), temperature=0.5).round(3).tolist()
    [0.167, 0.667, 0.167]
    >>> softmax([0.0, 3.0, 1.0], temperature=0).tolist()
    [0.0, 1.0, 0.0]
    """
    z = as_real_array(logits, "logits", np.float64)
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0; got {temperature}")
    if temperature == 0:
        return np.eye(z.shape[-1])[z.argmax(axis=-1)]
    z = z / temperature
    z -= z.max(axis=-1, keepdims=True)   # exp never overflows
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sample(model, vocab, prime="\n", length=200, temperature=1.0, seed=0):
    """Generate ``length`` characters from a next-character model (one-to-many).

    The model reads ``prime``; then, again and again, its output y_t = W_hy h_t + b_y at the
    last step gives the distribution softmax(y_t / temperature) of the next character, one
    is drawn, and fed back in as the next input, carrying the state (h, c) along.

    Parameters
    ----------
    model : a ``SequenceModel`` with many_to_one=False whose input and output size is V.
    vocab : the ``Vocabulary`` the model was trained with.
    prime : str, at least one character, all in the vocabulary.
    length : how many characters to generate. temperature : >= 0 (0: always the likeliest).
    seed : seeds the draws.

    Returns the generated string (without the prime).

    >>> import lstm_lab as ll
    >>> vocab = Vocabulary("ab")
    >>> model = SequenceModel(ll.LSTMCell(2, 4, seed=0), 2, many_to_one=False)
    >>> model.params['b_y'][:] = [5.0, -5.0]            # strongly prefers 'a'
    >>> sample(model, vocab, prime="b", length=8, temperature=0)
    'aaaaaaaa'
    """
    if not isinstance(model, SequenceModel) or model.many_to_one:
        raise TypeError("model must be a lstm_lab.train.SequenceModel with many_to_one=False "
                        "(a readout at every step)")
    V = len(vocab)
    if model.cell.input_size != V or model.output_size != V:
        raise ValueError(f"the model must read and predict V={V} characters; it has input_size "
                         f"{model.cell.input_size} and output_size {model.output_size}")
    if not isinstance(prime, str) or not prime:
        raise ValueError("prime must be a non-empty str (e.g. '\\n') to start from")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)):
        raise TypeError(f"length must be an int; got {length!r}")
    if not 0 <= length <= MAX_SAMPLE_LENGTH:
        raise ValueError(f"length must be between 0 and {MAX_SAMPLE_LENGTH:,}; got {length:,}")
    length = int(length)
    rng = np.random.default_rng(seed)
    dtype = model.params["W_hy"].dtype
    trace = model.forward(vocab.one_hot(prime, dtype))
    out = []
    for _ in range(length):
        p = softmax(trace.output[-1], temperature)
        k = int(rng.choice(V, p=p))
        out.append(vocab.chars[k])
        h, c = trace.final
        state = {"h0": h} if c is None else {"h0": h, "c0": c}
        trace = model.forward(vocab.one_hot([k], dtype), **state)   # feed the sample back in
    return "".join(out)


# ----------------------------------------------------------------------------- probing units

def unit_correlations(h, target):
    """Pearson correlation of every unit's activation with a target counter.

    h : (N, H) activations, one row per character; target : (N,). Returns (H,) correlations
    (0 for a unit that never changes).

    >>> h = np.array([[0.1, 1.0], [0.9, 0.0], [0.2, 1.0]])
    >>> unit_correlations(h, [0, 1, 0]).round(3).tolist()
    [0.993, -1.0]
    """
    h = as_real_array(h, "h", np.float64)
    y = as_real_array(target, "target", np.float64)
    if h.ndim != 2 or y.shape != (h.shape[0],):
        raise ValueError(f"h must be (N, H) and target (N,); got {h.shape} and {y.shape}")
    hc = h - h.mean(axis=0)
    yc = y - y.mean()
    denom = np.sqrt((hc * hc).sum(axis=0) * (yc @ yc))
    varies = (np.ptp(h, axis=0) > 0) & (np.ptp(y) > 0)   # a constant has no correlation
    return np.divide(hc.T @ yc, denom, out=np.zeros(h.shape[1]), where=varies)


# ----------------------------------------------------------------------------- saved models

PRETRAINED = Path(__file__).parent / "data" / "char_lstm.npz"

CharModel = namedtuple("CharModel", "model vocab untrained")
CharModel.__doc__ = """A saved next-character model: the trained ``SequenceModel``, its
``Vocabulary``, and the same network at initialisation (its cell rebuilt from its seed)."""


def save_char_model(model, vocab, path, *, seed):
    """Write a next-character ``SequenceModel`` to an .npz file (no pickle), atomically.

    The weights are stored as float32 (half the size; a teaching figure needs no more), with
    the vocabulary, the cell's kind and the ``seed`` its cell was built with, so that
    ``load_char_model`` can rebuild both the trained model and its untrained twin.
    """
    from ._atomic import write_atomic

    if not isinstance(model, SequenceModel) or model.many_to_one:
        raise TypeError("model must be a SequenceModel with many_to_one=False")
    meta = {"kind": model.cell.kind, "hidden_size": model.cell.hidden_size,
            "chars": vocab.chars, "seed": int(seed)}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, __meta__=np.array(json.dumps(meta)),
                        **{k: np.asarray(v, np.float32) for k, v in model.params.items()})
    write_atomic(path, buffer.getvalue())


def load_char_model(path=None):
    """The ``CharModel`` that ``save_char_model`` wrote to ``path`` (float64 weights).

    By default the package's own (``PRETRAINED``): an LSTM with H = 24 trained as notebook 11
    trains its first seed, 250 steps on ``make_text(40000, seed=0)``, made by the command in
    notebooks/data/char_lstm.py.

    >>> saved = load_char_model()
    >>> saved.model.cell.hidden_size, len(saved.vocab), saved.untrained.kind
    (24, 34, 'lstm')
    """
    from .cells import CELLS

    path = PRETRAINED if path is None else path
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
    vocab = Vocabulary(meta["chars"])
    V, H, seed = len(vocab), meta["hidden_size"], meta["seed"]
    model = SequenceModel(CELLS[meta["kind"]](V, H, seed=seed), V, many_to_one=False, seed=seed)
    if set(arrays) != set(model.params):
        raise ValueError(f"{path}: the weights {sorted(arrays)} do not fit a {meta['kind']} "
                         f"model ({sorted(model.params)})")
    for name, value in arrays.items():
        model.params[name] = value.astype(np.float64)
    return CharModel(model, vocab, CELLS[meta["kind"]](V, H, seed=seed))
