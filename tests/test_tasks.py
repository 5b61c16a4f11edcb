"""Tests for lstm_lab.tasks: the generators' structure, their seeds, the memoryless baselines."""

import math

import numpy as np
import pytest

from lstm_lab import tasks
from lstm_lab.train import accuracy, mse, softmax_cross_entropy

# ----------------------------------------------------------------------------- adding problem


@pytest.mark.parametrize("T", [2, 7, 100])
def test_adding_structure(T):
    x, y = tasks.adding_problem(64, T, rng=3)
    assert x.shape == (T, 64, 2) and y.shape == (64, 1)
    values, markers = x[..., 0], x[..., 1]
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert set(np.unique(markers)) <= {0.0, 1.0}
    half = T // 2
    # exactly one marker in each half
    np.testing.assert_array_equal(markers[:half].sum(axis=0), 1.0)
    np.testing.assert_array_equal(markers[half:].sum(axis=0), 1.0)
    np.testing.assert_allclose(y[:, 0], (values * markers).sum(axis=0), rtol=0, atol=1e-15)


def test_adding_markers_cover_both_halves():
    x, _ = tasks.adding_problem(5000, 10, rng=0)
    positions = np.argwhere(x[..., 1] == 1.0)[:, 0]
    counts = np.bincount(positions, minlength=10)
    assert np.all(counts > 0), counts  # every step can carry a marker
    assert counts[:5].sum() == counts[5:].sum() == 5000


def test_adding_is_seeded():
    a = tasks.adding_problem(8, 20, rng=5)
    b = tasks.adding_problem(8, 20, rng=np.random.default_rng(5))
    c = tasks.adding_problem(8, 20, rng=6)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_adding_mean_predictor_scores_one_sixth():
    """Predicting the mean (1) gives MSE 1/6 (Arjovsky et al. 2016's baseline 0.167)."""
    _, y = tasks.adding_problem(20000, 50, rng=11)
    loss, _ = mse(np.ones_like(y), y)
    assert abs(loss - tasks.adding_baseline()) < 0.005, loss
    assert tasks.adding_baseline() == pytest.approx(1 / 6, rel=1e-15)
    # and no constant beats it by more than sampling noise: the best constant is the sample mean
    best, _ = mse(np.full_like(y, y.mean()), y)
    assert best == pytest.approx(y.var(), rel=1e-12)
    assert abs(best - 1 / 6) < 0.005


@pytest.mark.parametrize(
    "bad, err",
    [((0, 10), ValueError), ((4, 1), ValueError), ((4.0, 10), TypeError), ((True, 10), TypeError)],
)
def test_adding_bad_arguments(bad, err):
    with pytest.raises(err, match="batch|T"):
        tasks.adding_problem(*bad, rng=0)


def test_bad_rng():
    with pytest.raises(TypeError, match="rng must be"):
        tasks.adding_problem(4, 10, rng="seed")


# ----------------------------------------------------------------------------- copy task


@pytest.mark.parametrize("T", [1, 5, 30])
def test_copy_structure(T):
    x, y = tasks.copy_task(16, T, rng=2)
    total = T + 20
    assert x.shape == (total, 16, 10) and y.shape == (total, 16)
    np.testing.assert_array_equal(x.sum(axis=-1), 1.0)  # one-hot
    codes = x.argmax(-1)
    assert np.all((codes[:10] >= 1) & (codes[:10] <= 8))  # 10 symbols from 8
    np.testing.assert_array_equal(codes[10 : 10 + T - 1], 0)  # T - 1 blanks
    np.testing.assert_array_equal(codes[10 + T - 1], 9)  # the delimiter
    np.testing.assert_array_equal(codes[10 + T :], 0)  # 10 more blanks
    np.testing.assert_array_equal(y[: T + 10], 0)  # blanks until the delimiter has passed
    np.testing.assert_array_equal(y[T + 10 :], codes[:10])  # then the symbols, in order
    assert y.dtype.kind == "i" and y.max() <= 8


@pytest.mark.parametrize("T", [5, 10, 100, 500])
def test_copy_memoryless_model_scores_the_baseline(T):
    """Blanks where they must be, a uniform guess among the 8 symbols: 10 ln 8 / (T + 20)."""
    _, y = tasks.copy_task(64, T, rng=4)
    logits = tasks.copy_memoryless_logits(T, 64)
    loss, _ = softmax_cross_entropy(logits, y)
    expected = 10 * math.log(8) / (T + 20)
    assert tasks.copy_baseline(T) == pytest.approx(expected, rel=1e-15)
    assert loss == pytest.approx(expected, rel=0.01)
    # a memoryless model that does not even know the blanks does worse
    uniform, _ = softmax_cross_entropy(np.zeros_like(logits), y)
    assert uniform == pytest.approx(math.log(9), rel=1e-12) and uniform > loss


def test_copy_is_seeded_and_varies():
    a, _ = tasks.copy_task(4, 5, rng=1)
    b, _ = tasks.copy_task(4, 5, rng=1)
    c, _ = tasks.copy_task(4, 5, rng=2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ----------------------------------------------------------------------------- long-range task


def test_longrange_structure():
    T = 40
    x, y = tasks.longrange_task(200, T, rng=7)
    vocab = tasks.longrange_vocabulary()
    assert x.shape == (T, 200, len(vocab)) and y.shape == (200,)
    np.testing.assert_array_equal(x.sum(axis=-1), 1.0)
    codes = x.argmax(-1)
    np.testing.assert_array_equal(codes[1], y)  # the key, early
    np.testing.assert_array_equal(codes[-1], vocab.index("?"))  # the question, last
    middle = codes[np.r_[0, 2 : T - 1]]
    assert np.all(middle >= 4) and np.all(middle < len(vocab) - 1)  # no other key anywhere
    assert set(np.unique(y)) == {0, 1, 2, 3}
    words = tasks.longrange_decode(x, batch=3).split()
    assert words[:6] == ["the", vocab[y[3]], "teacher", "gave", "a", "quiz"] and words[-1] == "?"


def test_longrange_memoryless_model_scores_the_baseline():
    """Without memory the question alone carries no information: accuracy 1/4."""
    _, y = tasks.longrange_task(20000, 20, rng=8)
    constant = np.zeros((y.size, 4))
    constant[:, 2] = 1.0  # always answer one key
    assert abs(accuracy(constant, y) - tasks.longrange_baseline(4)) < 0.01
    assert tasks.longrange_baseline(4) == 0.25


def test_longrange_bad_arguments():
    with pytest.raises(ValueError, match="T must be >= 7"):
        tasks.longrange_task(2, 6, rng=0)
    with pytest.raises(ValueError, match="n_keys"):
        tasks.longrange_task(2, 20, rng=0, n_keys=9)
    with pytest.raises(ValueError, match="x must have shape"):
        tasks.longrange_decode(np.zeros((5, 3)))


# ----------------------------------------------------------------------------- task objects


@pytest.mark.parametrize("name, T", [("adding", 12), ("copy", 4), ("longrange", 15)])
def test_task_objects_agree_with_their_samples(name, T):
    task = tasks.TASKS[name](T=T)
    x, y = task.sample(6, rng=0, dtype=np.float32)
    assert x.dtype == np.float32
    assert x.shape[1:] == (6, task.input_size)
    assert repr(task).startswith(type(task).__name__ + f"(T={T}")
    if task.many_to_one:
        out_shape = (6, task.output_size)
    else:
        out_shape = (x.shape[0], 6, task.output_size)
    output = np.zeros(out_shape)
    loss, d = task.loss(output, y)
    assert d.shape == out_shape and np.isfinite(loss)
    value = task.evaluate(output, y)
    assert isinstance(value, float)
    assert task.metric in ("test_mse", "test_xent", "test_accuracy")
    assert task.baseline_key == task.metric.replace("test_", "baseline_")


def test_reached_direction():
    assert tasks.AddingTask().reached(0.005, 0.01) and not tasks.AddingTask().reached(0.02, 0.01)
    assert tasks.LongRangeTask().reached(0.99, 0.95) and not tasks.LongRangeTask().reached(
        0.5, 0.95
    )
