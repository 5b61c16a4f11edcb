"""The character corpus, its counters, the char task, temperature softmax and sampling."""

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab import generate
from lstm_lab.networks import build
from lstm_lab.train import SequenceModel, fit


def test_make_text_is_seeded_and_well_formed():
    text = generate.make_text(5000, seed=1)
    assert len(text) == 5000
    assert text == generate.make_text(5000, seed=1)
    assert text != generate.make_text(5000, seed=2)
    for ch in '"()\n':
        assert ch in text, ch
    for line in text.splitlines()[:-1]:   # every complete line closes what it opens
        assert line.count('"') % 2 == 0, line
        depth = generate.bracket_depth(line)
        assert depth[-1] == 0 and line.count("(") == line.count(")"), line
    assert generate.bracket_depth(text).max() >= 3


def test_counters_on_a_hand_made_text():
    text = 'a "b (c" (d (e) "f")\n"g'
    q = generate.quote_state(text)
    d = generate.bracket_depth(text)
    expected_q = [0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1]
    expected_d = [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 2, 2, 2, 2, 2, 1, 0, 0, 0]
    np.testing.assert_array_equal(q, expected_q, err_msg="quote_state")
    np.testing.assert_array_equal(d, expected_d, err_msg="bracket_depth")


def test_vocabulary_round_trip_and_errors():
    text = generate.make_text(800, seed=0)
    vocab = generate.Vocabulary(text)
    assert vocab.decode(vocab.encode(text)) == text
    assert vocab.one_hot(text[:7]).shape == (7, len(vocab))
    np.testing.assert_array_equal(vocab.one_hot(text[:7]).argmax(-1), vocab.encode(text[:7]))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("Q")
    with pytest.raises(TypeError, match="non-empty str"):
        generate.Vocabulary("")


def test_char_task_targets_are_the_next_characters():
    task = generate.CharTask(generate.make_text(3000, seed=0), T=20)
    x, y = task.sample(6, rng=3)
    assert x.shape == (20, 6, len(task.vocab)) and y.shape == (20, 6)
    for b in range(6):
        window = task.vocab.decode(x[:, b].argmax(-1)) + task.vocab.chars[y[-1, b]]
        assert window in task.text
        np.testing.assert_array_equal(x[1:, b].argmax(-1), y[:-1, b])
    assert 2.0 < task.baseline() < np.log(len(task.vocab))
    with pytest.raises(ValueError, match="longer than T"):
        generate.CharTask("abc", T=5)


def test_char_task_trains_with_fit():
    task = generate.CharTask(generate.make_text(3000, seed=0), T=12)
    V = len(task.vocab)
    model = SequenceModel(ll.GRUCell(V, 16, seed=0), V, many_to_one=False)
    hist = fit(model, task, steps=60, batch_size=8, lr=2e-2, eval_every=30, eval_batch=16,
               progress="off")
    assert hist.loss[-1] < hist.loss[0] - 0.5
    assert hist.final < task.baseline()


def test_softmax_with_temperature():
    logits = np.array([1.0, 3.0, 0.5, -2.0])
    p1 = generate.softmax(logits)
    np.testing.assert_allclose(p1, np.exp(logits) / np.exp(logits).sum(), rtol=1e-12)
    cold, hot = generate.softmax(logits, 0.3), generate.softmax(logits, 5.0)
    assert cold.max() > p1.max() > hot.max()     # colder is sharper, hotter is flatter
    np.testing.assert_array_equal(generate.softmax(logits, 0), [0, 1, 0, 0])
    huge = generate.softmax(np.array([[1e300, -1e300], [0.0, 0.0]]), 1e-3)
    np.testing.assert_array_equal(huge, [[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        generate.softmax(logits, -1.0)


def _greedy_by_rerunning(model, vocab, prime, length):
    """Greedy decoding that re-reads the whole text every step (no state carried)."""
    text = prime
    for _ in range(length):
        y = model.forward(vocab.one_hot(text)).output
        text += vocab.chars[int(y[-1].argmax())]
    return text[len(prime):]


@pytest.mark.parametrize("make_cell", [
    lambda V: ll.LSTMCell(V, 8, seed=0),
    lambda V: ll.GRUCell(V, 8, seed=1),
    lambda V: build("lstm", V, 6, num_layers=2, bidirectional=False, seed=2),
])
def test_sampling_carries_the_state(make_cell):
    vocab = generate.Vocabulary("ab()\n ")
    V = len(vocab)
    model = SequenceModel(make_cell(V), V, many_to_one=False, seed=3)
    H = model.cell.hidden_size
    model.params["W_hy"] = np.random.default_rng(4).normal(scale=4.0, size=(V, H))
    got = generate.sample(model, vocab, prime="(a", length=25, temperature=0)
    assert got == _greedy_by_rerunning(model, vocab, "(a", 25)
    assert len(set(got)) > 1


def test_sampling_frequencies_follow_the_softmax():
    vocab = generate.Vocabulary("abc")
    model = SequenceModel(ll.RNNCell(3, 2, seed=0), 3, many_to_one=False)
    model.params["W_hy"] = np.zeros((3, 2))             # the output ignores the state:
    model.params["b_y"] = np.log([0.2, 0.5, 0.3])       # y = log p every step
    n = 3000
    for temperature in (1.0, 0.5):
        text = generate.sample(model, vocab, "a", n, temperature=temperature, seed=7)
        freq = np.array([text.count(ch) for ch in "abc"]) / n
        p = generate.softmax(model.params["b_y"], temperature)
        np.testing.assert_allclose(freq, p, atol=0.03, err_msg=f"temperature {temperature}")
    a = generate.sample(model, vocab, "a", 50, seed=1)
    assert a == generate.sample(model, vocab, "a", 50, seed=1)
    assert a != generate.sample(model, vocab, "a", 50, seed=2)


def test_sampling_errors():
    vocab = generate.Vocabulary("abc")
    with pytest.raises(TypeError, match="many_to_one=False"):
        generate.sample(SequenceModel(ll.RNNCell(3, 2), 3), vocab)
    with pytest.raises(ValueError, match="V=3"):
        generate.sample(SequenceModel(ll.RNNCell(4, 2), 4, many_to_one=False), vocab, "a")
    model = SequenceModel(ll.RNNCell(3, 2), 3, many_to_one=False)
    with pytest.raises(ValueError, match="prime must be a non-empty str"):
        generate.sample(model, vocab, "")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        generate.sample(model, vocab, "z")
    assert generate.sample(model, vocab, "a", 0) == ""


def test_unit_correlations_match_numpy():
    rng = np.random.default_rng(0)
    target = rng.integers(0, 4, size=200).astype(float)
    h = np.column_stack([target + rng.normal(size=200), -target, rng.normal(size=200),
                         np.full(200, 0.3)])
    r = generate.unit_correlations(h, target)
    for k in range(3):
        np.testing.assert_allclose(r[k], np.corrcoef(h[:, k], target)[0, 1], rtol=1e-12,
                                   err_msg=f"unit {k}")
    assert r[3] == 0.0
    with pytest.raises(ValueError, match=r"h must be \(N, H\)"):
        generate.unit_correlations(h, target[:10])
