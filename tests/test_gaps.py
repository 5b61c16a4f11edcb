"""Behaviours that mutation testing found unpinned: each test fails on the mutated behaviour.

The mutants (issue: mutation testing) that survived the rest of the suite: gradcheck ignoring
its ``eps``, an unbatched ``trace.preacts`` with one row, ``fit`` calling its schedule with
steps 1..n, clipping that starts late, and ``build`` seeding every cell alike.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab import train
from lstm_lab.networks import build
from lstm_lab.tasks import AddingTask

# the module, not the function lstm_lab.gradcheck that the package exports under its name
gradcheck_module = importlib.import_module("lstm_lab.gradcheck")


def test_gradcheck_uses_the_eps_it_is_given(monkeypatch):
    seen = []
    original = gradcheck_module.numeric_gradient

    def spy(loss, arr, eps=1e-3):
        seen.append(eps)
        return original(loss, arr, eps)

    monkeypatch.setattr(gradcheck_module, "numeric_gradient", spy)
    cell = ll.LSTMCell(2, 3, seed=0)
    x = np.random.default_rng(0).normal(size=(4, 2))
    small = ll.gradcheck(cell, x)
    assert seen and set(seen) == {1e-3}
    seen.clear()
    coarse = ll.gradcheck(cell, x, eps=0.3)
    assert seen and set(seen) == {0.3}
    # five-point differences with a step of 0.3 are visibly worse than with 1e-3
    assert max(coarse.values()) > 100 * max(small.values()), (coarse, small)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "peephole", "coupled", "gru"])
def test_unbatched_preacts_have_one_row_per_step(kind):
    cell = ll.CELLS[kind](2, 3, seed=0)
    x = np.random.default_rng(1).normal(size=(5, 2))
    trace = cell.forward(x)
    batched = cell.forward(x[:, None, :])
    assert trace.preacts, kind
    for letter, value in trace.preacts.items():
        assert value.shape == (5, 3), (letter, value.shape)
        np.testing.assert_allclose(value, batched.preacts[letter][:, 0], rtol=1e-12,
                                   err_msg=letter)


def test_fit_calls_the_schedule_with_steps_zero_to_n_minus_one():
    calls = []

    def schedule(step, steps):
        calls.append((step, steps))
        return 1.0

    model = train.SequenceModel(ll.RNNCell(2, 3, seed=0), 1)
    train.fit(model, AddingTask(T=4), 5, schedule=schedule, progress="off")
    assert calls == [(k, 5) for k in range(5)]


def test_a_schedule_scales_each_step_and_the_learning_rate_comes_back():
    model = train.SequenceModel(ll.RNNCell(2, 3, seed=0), 1)
    opt = train.SGD(model.params, lr=0.1)
    before = {k: v.copy() for k, v in model.params.items()}
    train.fit(model, AddingTask(T=4), 1, optimizer=opt, clip=None, progress="off",
              schedule=lambda step, steps: 0.0)
    for k, v in model.params.items():  # a factor 0 on the only step: nothing moves
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    assert opt.lr == 0.1


def test_clipping_starts_exactly_above_the_threshold():
    def grads():
        return {"W": np.array([3.0]), "b": np.array([4.0])}  # norm 5

    just_above = grads()
    assert train.clip_grad_norm(just_above, 4.99) == pytest.approx(5.0)
    assert train.global_norm(just_above) == pytest.approx(4.99, rel=1e-12)
    at = grads()
    train.clip_grad_norm(at, 5.0)
    np.testing.assert_array_equal(at["W"], [3.0])  # not above: left alone
    below = grads()
    train.clip_grad_norm(below, 5.01)
    np.testing.assert_array_equal(below["b"], [4.0])


def test_fit_clips_a_gradient_only_slightly_above_the_threshold():
    model = train.SequenceModel(ll.RNNCell(2, 3, seed=0), 1)
    task = AddingTask(T=4)
    x, y = task.sample(32, np.random.default_rng([0, 0]))
    trace = model.forward(x)
    norm = train.global_norm(model.backward(trace, task.loss(trace.output, y)[1]))
    before = np.concatenate([v.ravel().copy() for v in model.params.values()])
    clip = 0.9 * norm  # 10 % below the gradient's norm: must clip
    train.fit(model, task, 1, optimizer=train.SGD(model.params, lr=1.0), clip=clip,
              progress="off", seed=0)
    after = np.concatenate([v.ravel() for v in model.params.values()])
    assert np.linalg.norm(after - before) == pytest.approx(clip, rel=1e-9)


def test_build_seeds_every_layer_and_direction_differently():
    net = build("lstm", 3, 4, num_layers=2, bidirectional=True, seed=7)
    cells = net.cells()
    firsts = [c.params["W_hf"].copy() for c in cells]
    for i in range(len(firsts)):
        for j in range(i + 1, len(firsts)):
            assert not np.allclose(firsts[i], firsts[j]), (i, j)
    # and each is the cell built alone with seed + k
    for k, c in enumerate(cells):
        alone = ll.LSTMCell(c.input_size, 4, seed=7 + k)
        np.testing.assert_array_equal(c.params["W_xi"], alone.params["W_xi"], err_msg=str(k))
