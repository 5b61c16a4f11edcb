"""Seeded long-range sequence tasks (adding, copy, long-range token) with their baselines.

Every generator takes a ``numpy.random.Generator`` (or a seed) and returns time-first
arrays, the layout the cells read: inputs ``x`` of shape (T, B, D) and targets either
(B, K) for a many-to-one task or (T, B) class labels for a many-to-many one. Nothing is
downloaded; the same seed always gives the same batch.

Each task also comes with the score of the best model that has *no memory*, as a
function (``adding_baseline``, ``copy_baseline``, ``longrange_baseline``): a trained
network has learned something only once it beats that number.

A task object (``AddingTask``, ``CopyTask``, ``LongRangeTask``; ``TASKS`` maps the
command-line names to them) bundles the generator, the loss, the test metric and the
baseline, which is what ``lstm_lab.train.fit`` and ``python -m lstm_lab.experiments`` use.
"""

import math

import numpy as np

from ._checks import check_elements
from .train import accuracy, mse, softmax_cross_entropy

__all__ = [
    "adding_problem",
    "adding_baseline",
    "copy_task",
    "copy_baseline",
    "copy_memoryless_logits",
    "longrange_task",
    "longrange_baseline",
    "AddingTask",
    "ReversalTask",
    "CopyTask",
    "LongRangeTask",
    "TASKS",
]


def _rng(rng):
    """A numpy Generator from a Generator, an int seed or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}"
    )


def _check_positive(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


# ----------------------------------------------------------------------------- adding problem


def adding_problem(batch, T, rng=None, dtype=np.float64):
    """The adding problem (Hochreiter & Schmidhuber 1997) in its standard form (Arjovsky et al.).

    Each step carries two numbers: a value drawn uniformly from [0, 1] and a marker that is
    1 at exactly two steps (one in the first half of the sequence, one in the second half)
    and 0 elsewhere. The target is the sum of the two marked values, read at the end.

    Parameters
    ----------
    batch : int, number of sequences B.
    T : int >= 2, sequence length.
    rng : numpy Generator or int seed.

    Returns
    -------
    x : (T, B, 2) array, ``x[..., 0]`` the values, ``x[..., 1]`` the markers.
    y : (B, 1) array, the sums.

    Examples
    --------
    >>> x, y = adding_problem(4, 10, rng=0)
    >>> x.shape, y.shape
    ((10, 4, 2), (4, 1))
    >>> bool(np.all(x[..., 1].sum(axis=0) == 2))
    True
    >>> np.allclose(y[:, 0], (x[..., 0] * x[..., 1]).sum(axis=0))
    True
    """
    B = _check_positive(batch, "batch")
    T = _check_positive(T, "T", 2)
    check_elements("x (T, B, 2)", T=T, B=B, D=2)
    rng = _rng(rng)
    half = T // 2
    x = np.zeros((T, B, 2), dtype=dtype)
    x[..., 0] = rng.uniform(0.0, 1.0, size=(T, B))
    first = rng.integers(0, half, size=B)  # one marker in [0, T/2)
    second = rng.integers(half, T, size=B)  # one in [T/2, T)
    cols = np.arange(B)
    x[first, cols, 1] = 1.0
    x[second, cols, 1] = 1.0
    y = (x[first, cols, 0] + x[second, cols, 0])[:, None]
    return x, y


def adding_baseline():
    """MSE of the best memoryless answer on the adding problem: always predict the mean, 1.

    The target is the sum of two independent U(0, 1) values, whose variance is
    2 * 1/12 = 1/6; predicting its mean scores exactly that (Arjovsky et al. 2016: 0.167).

    >>> round(adding_baseline(), 4)
    0.1667
    """
    return 1.0 / 6.0


# ----------------------------------------------------------------------------- copy task

COPY_BLANK = 0
COPY_DELIMITER = 9


def copy_task(batch, T, rng=None, n_symbols=8, length=10, dtype=np.float64):
    """The copy (memory) task of Arjovsky et al. 2016, one-hot encoded.

    Input: ``length`` symbols drawn from {1..n_symbols}, then T - 1 blanks (0), a delimiter
    (n_symbols + 1), and ``length`` more blanks: T + 2*length steps in all. Target: blanks
    for the first T + length steps, then the ``length`` symbols in their order. The network
    must hold the symbols for T + length steps and play them back after the delimiter.

    Returns
    -------
    x : (T + 2*length, B, n_symbols + 2) one-hot inputs (blank, symbols, delimiter).
    y : (T + 2*length, B) int labels in {0..n_symbols} (0 = blank); an output layer needs
        n_symbols + 1 classes.

    Examples
    --------
    >>> x, y = copy_task(2, 5, rng=0)
    >>> x.shape, y.shape
    ((25, 2, 10), (25, 2))
    >>> bool(np.all(x.argmax(-1)[:10] == y[-10:]))    # what goes in comes out at the end
    True
    >>> int(x.argmax(-1)[14, 0])                        # the delimiter, after T - 1 = 4 blanks
    9
    """
    B = _check_positive(batch, "batch")
    T = _check_positive(T, "T")
    n_symbols = _check_positive(n_symbols, "n_symbols")
    length = _check_positive(length, "length")
    check_elements("x (T + 2*length, B, n_symbols + 2)", steps=T + 2 * length, B=B,
                   D=n_symbols + 2)
    rng = _rng(rng)
    total = T + 2 * length
    symbols = rng.integers(1, n_symbols + 1, size=(length, B))
    codes = np.zeros((total, B), dtype=np.int64)
    codes[:length] = symbols
    codes[length + T - 1] = n_symbols + 1  # the delimiter
    x = np.zeros((total, B, n_symbols + 2), dtype=dtype)
    np.put_along_axis(x, codes[..., None], 1.0, axis=-1)
    y = np.zeros((total, B), dtype=np.int64)
    y[-length:] = symbols
    return x, y


def copy_baseline(T, n_symbols=8, length=10):
    """Cross-entropy (mean nats per step) of the best memoryless copy-task model.

    Without memory a model can still output blanks for the first T + length steps at no
    cost, then guess uniformly among the n_symbols for the last ``length``:
    ``length * ln(n_symbols) / (T + 2*length)``, i.e. 10 ln 8 / (T + 20).

    >>> round(copy_baseline(100), 4)
    0.1733
    """
    T = _check_positive(T, "T")
    return length * math.log(n_symbols) / (T + 2 * length)


def copy_memoryless_logits(T, batch, n_symbols=8, length=10, confidence=50.0, dtype=np.float64):
    """Logits of the memoryless copy-task model that ``copy_baseline`` scores.

    Certain blank for the first T + length steps, then uniform over the n_symbols
    (blank excluded). ``confidence`` is the logit gap used for "certain".

    Returns (T + 2*length, batch, n_symbols + 1) logits.

    >>> copy_memoryless_logits(5, 1).shape
    (25, 1, 9)
    """
    T = _check_positive(T, "T")
    batch = _check_positive(batch, "batch")
    n_symbols = _check_positive(n_symbols, "n_symbols")
    length = _check_positive(length, "length")
    total = T + 2 * length
    check_elements("logits (T + 2*length, B, n_symbols + 1)", steps=total, B=batch,
                   K=n_symbols + 1)
    logits = np.zeros((total, batch, n_symbols + 1), dtype=dtype)
    logits[: T + length, :, COPY_BLANK] = confidence
    logits[T + length :, :, COPY_BLANK] = -confidence
    return logits


# ------------------------------------------------------------------------ long-range token task

LONGRANGE_KEYS = ("science", "math", "music", "history")
LONGRANGE_FILLERS = (
    "the",
    "a",
    "teacher",
    "gave",
    "quiz",
    "today",
    "student",
    "who",
    "scored",
    "well",
    "was",
    "praised",
    "by",
    "class",
    "after",
    "lunch",
    "and",
    "then",
    "every",
    "test",
    "good",
    "hard",
)
LONGRANGE_OPENING = ("the", None, "teacher", "gave", "a", "quiz")  # None marks the key
LONGRANGE_QUESTION = "?"


def longrange_vocabulary(n_keys=4):
    """The token list of the long-range task: keys, fillers, then the question mark."""
    if not 2 <= n_keys <= len(LONGRANGE_KEYS):
        raise ValueError(f"n_keys must be between 2 and {len(LONGRANGE_KEYS)}; got {n_keys}")
    return tuple(LONGRANGE_KEYS[:n_keys]) + LONGRANGE_FILLERS + (LONGRANGE_QUESTION,)


def longrange_task(batch, T, rng=None, n_keys=4, dtype=np.float64):
    """A token task shaped like "the science teacher gave a quiz ... praised by the ?? teacher".

    Each sequence opens with "the KEY teacher gave a quiz" (KEY one of ``n_keys`` subjects),
    goes on with random filler words (distractors), and ends with the question token "?",
    at which the model must name the KEY it saw near the start: the answer lies T - 2
    steps back. Tokens are one-hot over ``longrange_vocabulary(n_keys)``.

    Returns
    -------
    x : (T, B, V) one-hot tokens, V = n_keys + 23.
    y : (B,) int labels in {0..n_keys-1}, the key of each sequence.

    Examples
    --------
    >>> x, y = longrange_task(3, 12, rng=0)
    >>> x.shape, y.shape
    ((12, 3, 27), (3,))
    >>> words = longrange_vocabulary()
    >>> words[int(x[1, 0].argmax())] == words[int(y[0])], words[int(x[-1, 0].argmax())]
    (True, '?')
    """
    B = _check_positive(batch, "batch")
    T = _check_positive(T, "T", len(LONGRANGE_OPENING) + 1)
    vocab = longrange_vocabulary(n_keys)
    check_elements("x (T, B, V)", T=T, B=B, V=len(vocab))
    index = {w: k for k, w in enumerate(vocab)}
    rng = _rng(rng)
    keys = rng.integers(0, n_keys, size=B)
    codes = np.empty((T, B), dtype=np.int64)
    for t, word in enumerate(LONGRANGE_OPENING):
        codes[t] = keys if word is None else index[word]
    n_open = len(LONGRANGE_OPENING)
    codes[n_open : T - 1] = rng.integers(
        n_keys, n_keys + len(LONGRANGE_FILLERS), size=(T - 1 - n_open, B)
    )
    codes[T - 1] = index[LONGRANGE_QUESTION]
    x = np.zeros((T, B, len(vocab)), dtype=dtype)
    np.put_along_axis(x, codes[..., None], 1.0, axis=-1)
    return x, keys


def longrange_baseline(n_keys=4):
    """Accuracy of a model without memory on the long-range task: a guess, 1 / n_keys.

    >>> longrange_baseline(4)
    0.25
    """
    if n_keys < 2:
        raise ValueError(f"n_keys must be >= 2; got {n_keys}")
    return 1.0 / n_keys


def longrange_decode(x, n_keys=4, batch=0):
    """The words of one sequence of a long-range batch x (T, B, V) or (T, V), as a string.

    >>> x, y = longrange_task(1, 9, rng=1)
    >>> longrange_decode(x).split()[:3]
    ['the', 'math', 'teacher']
    """
    vocab = longrange_vocabulary(n_keys)
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[:, batch]
    if x.ndim != 2 or x.shape[-1] != len(vocab):
        raise ValueError(
            f"x must have shape (T, B, V) or (T, V) with V={len(vocab)}; got {np.shape(x)}"
        )
    return " ".join(vocab[int(k)] for k in x.argmax(-1))


# ----------------------------------------------------------------------------- task objects


class _Task:
    """What the training loop and the command need: sizes, a sampler, the loss, the metric."""

    name = ""
    loss_name = ""
    metric = ""  # key of the test metric in the experiment's JSON
    baseline_key = ""  # key of its baseline
    higher_is_better = False

    def __repr__(self):
        return (
            f"{type(self).__name__}(T={self.T}, input_size={self.input_size}, "
            f"output_size={self.output_size})"
        )

    def loss(self, output, target):
        """(loss, dloss/doutput) of the model's output against a target batch."""
        if self.loss_name == "mse":
            return mse(output, target)
        return softmax_cross_entropy(output, target)

    def evaluate(self, output, target):
        """The test metric of an output against its target, a float."""
        return float(self.loss(output, target)[0])

    def reached(self, value, target):
        """Whether a metric value meets a target (below it, or above it for accuracy)."""
        return value >= target if self.higher_is_better else value <= target


class AddingTask(_Task):
    """The adding problem at length T: many-to-one regression, MSE, baseline 1/6.

    >>> task = AddingTask(T=20)
    >>> task
    AddingTask(T=20, input_size=2, output_size=1)
    >>> x, y = task.sample(8, rng=0)
    >>> x.shape, y.shape, task.metric, round(task.baseline(), 3)
    ((20, 8, 2), (8, 1), 'test_mse', 0.167)
    """

    name, loss_name, metric, baseline_key = "adding", "mse", "test_mse", "baseline_mse"
    input_size, output_size, many_to_one = 2, 1, True

    def __init__(self, T=100):
        self.T = _check_positive(T, "T", 2)

    def sample(self, batch, rng=None, dtype=np.float64):
        """A batch (x (T, B, 2), y (B, 1)); see ``adding_problem``."""
        return adding_problem(batch, self.T, rng, dtype)

    def baseline(self):
        return adding_baseline()


class CopyTask(_Task):
    """The copy task with a delay of T: many-to-many, cross-entropy, baseline 10 ln 8 / (T + 20).

    >>> task = CopyTask(T=10)
    >>> x, y = task.sample(4, rng=0)
    >>> x.shape, y.shape, task.output_size, round(task.baseline(), 4)
    ((30, 4, 10), (30, 4), 9, 0.6931)
    """

    name, loss_name, metric, baseline_key = "copy", "xent", "test_xent", "baseline_xent"
    many_to_one = False

    def __init__(self, T=10, n_symbols=8, length=10):
        self.T = _check_positive(T, "T")
        self.n_symbols = _check_positive(n_symbols, "n_symbols")
        self.length = _check_positive(length, "length")
        self.input_size = n_symbols + 2
        self.output_size = n_symbols + 1

    def sample(self, batch, rng=None, dtype=np.float64):
        """A batch (x (T+20, B, 10), y (T+20, B) labels); see ``copy_task``."""
        return copy_task(batch, self.T, rng, self.n_symbols, self.length, dtype)

    def baseline(self):
        return copy_baseline(self.T, self.n_symbols, self.length)


class LongRangeTask(_Task):
    """The long-range token task: many-to-one classification, accuracy, baseline 1 / n_keys.

    >>> task = LongRangeTask(T=30)
    >>> x, y = task.sample(5, rng=0)
    >>> x.shape, y.shape, task.metric, task.baseline()
    ((30, 5, 27), (5,), 'test_accuracy', 0.25)
    """

    name, loss_name, metric, baseline_key = (
        "longrange",
        "xent",
        "test_accuracy",
        "baseline_accuracy",
    )
    many_to_one = True
    higher_is_better = True

    def __init__(self, T=50, n_keys=4):
        self.T = _check_positive(T, "T", len(LONGRANGE_OPENING) + 1)
        self.n_keys = int(n_keys)
        self.vocabulary = longrange_vocabulary(self.n_keys)
        self.input_size = len(self.vocabulary)
        self.output_size = self.n_keys

    def sample(self, batch, rng=None, dtype=np.float64):
        """A batch (x (T, B, V), y (B,) labels); see ``longrange_task``."""
        return longrange_task(batch, self.T, rng, self.n_keys, dtype)

    def evaluate(self, output, target):
        return accuracy(output, target)

    def decode(self, x, batch=0):
        """The words of one sequence of x, as a string."""
        return longrange_decode(x, self.n_keys, batch)

    def baseline(self):
        return longrange_baseline(self.n_keys)


TASKS = {"adding": AddingTask, "copy": CopyTask, "longrange": LongRangeTask}


class ReversalTask(_Task):
    """Reverse a string of symbols: an encoder-decoder task (``lstm_lab.attention.Seq2Seq``).

    The source is L symbols drawn from n_symbols, one-hot (L, B, n_symbols); the target is the
    same symbols in reverse order, labels (L, B). The decoder's input at step t is the one-hot
    code of target symbol t - 1, with a start code (index n_symbols) at t = 1. Every batch has
    one length L, drawn uniformly from [min_length, max_length]. Scored by per-symbol accuracy
    of greedy decoding; guessing scores 1 / n_symbols.

    >>> task = ReversalTask(n_symbols=5, min_length=4, max_length=4)
    >>> (source, inputs), target = task.sample(2, rng=0)
    >>> source.shape, inputs.shape, target.shape
    ((4, 2, 5), (4, 2, 6), (4, 2))
    >>> bool((source.argmax(-1)[::-1] == target).all()), inputs[0].argmax(-1).tolist()
    (True, [5, 5])
    """

    name, loss_name, metric, baseline_key = "reverse", "xent", "test_accuracy", "baseline_accuracy"
    many_to_one = False
    higher_is_better = True

    def __init__(self, n_symbols=8, min_length=5, max_length=20):
        self.n_symbols = _check_positive(n_symbols, "n_symbols", 2)
        self.min_length = _check_positive(min_length, "min_length")
        self.max_length = _check_positive(max_length, "max_length", self.min_length)
        self.T = self.max_length
        self.input_size = self.n_symbols
        self.output_size = self.n_symbols

    def sample(self, batch, rng=None, dtype=np.float64, length=None):
        """((source (L, B, S), decoder inputs (L, B, S + 1)), target (L, B)); L drawn if None."""
        rng = np.random.default_rng(rng)
        batch = _check_positive(batch, "batch")
        L = rng.integers(self.min_length, self.max_length + 1) if length is None else length
        L = _check_positive(L, "length")
        symbols = rng.integers(0, self.n_symbols, size=(L, batch))
        target = symbols[::-1].copy()
        eye = np.eye(self.n_symbols + 1, dtype=dtype)
        source = eye[symbols][..., : self.n_symbols]
        previous = np.concatenate([np.full((1, batch), self.n_symbols), target[:-1]])
        return (source, eye[previous]), target

    def evaluate(self, output, target):
        return accuracy(output, target)

    def baseline(self):
        return 1.0 / self.n_symbols
