"""Behaviours of lstm_lab.train that mutmut's survivors showed no test pinned down.

Each test fails on the mutants named in its docstring (tools/mutate.py; docs/mutation.md).
"""

from __future__ import annotations

import contextlib
import math
import sys
import types
import warnings

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab import train
from lstm_lab.tasks import AddingTask

# ----------------------------------------------------------------------------- the model


def _lstm_model(K=2, many_to_one=True, dtype=np.float64):
    return train.SequenceModel(ll.LSTMCell(2, 3, seed=0, dtype=dtype), K, many_to_one=many_to_one)


def test_model_params_len_and_repr():
    """ModelParams.__len__ mutant 1 (cell minus readout) and __repr__ mutants 3, 4, 5, 7, 8."""
    params = train.SequenceModel(ll.RNNCell(2, 3, seed=0), 4).params
    assert len(params) == 5 == len(list(params))
    assert repr(params) == ("ModelParams(W_xh: (3, 2), W_hh: (3, 3), b_h: (3,), "
                            "W_hy: (4, 3), b_y: (4,))")


def test_model_params_readout_assignment_names_the_readout_in_its_errors():
    """ModelParams.__setitem__ mutants 5 (the name left out of as_real_array's errors), 6 (no
    dtype: a float32 model takes a value beyond float32's range and stores inf) and 13, 20, 21
    (the shape of b_y spelt wrong)."""
    model = _lstm_model(K=2, dtype=np.float32)
    before = {k: model.params[k].copy() for k in ("W_hy", "b_y")}
    with pytest.raises(TypeError, match=r"^W_hy must be a real numeric array"):
        model.params["W_hy"] = np.full((2, 3), "a")
    with pytest.raises(ValueError, match=r"^b_y has values too large for float32"):
        model.params["b_y"] = np.array([1.0, 1e300])
    with pytest.raises(ValueError, match=r"^b_y must have shape \(K,\) = \(2,\); got \(3,\)$"):
        model.params["b_y"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"^W_hy must have shape \(K, H\) = \(2, 3\); got \(3,\)$"):
        model.params["W_hy"] = np.zeros(3)
    for k, v in before.items():
        np.testing.assert_array_equal(model.params[k], v)
    model.params["b_y"] = [1, 2]
    assert model.params["b_y"].dtype == np.float32 and model.params["b_y"].tolist() == [1, 2]


def test_model_trace_passes_the_cell_traces_attributes_through():
    """ModelTrace.__getattr__ mutants 1-24 (no test read trace.h etc. through the model): h, c,
    x, h0, c0, final, batched, gates and kind are the cell trace's own; any other missing name
    raises AttributeError naming it."""
    model = _lstm_model(many_to_one=False)
    rng = np.random.default_rng(0)
    trace = model.forward(rng.normal(size=(4, 5, 2)), h0=rng.normal(size=(5, 3)),
                          c0=rng.normal(size=(5, 3)))
    for name in ("h", "c", "x", "h0", "c0", "final", "batched", "gates", "kind"):
        assert getattr(trace, name) is getattr(trace.cell, name), name
    assert trace.kind == "lstm" and trace.batched is True and trace.h.shape == (4, 5, 3)
    for name in ("preacts", "nope", "H"):
        with pytest.raises(AttributeError) as err:
            getattr(trace, name)
        assert err.value.args == (name,)


def test_predict_passes_both_initial_states_on():
    """SequenceModel.predict mutants 2, 3, 5, 6 (h0 or c0 dropped, or c0 passed as h0)."""
    model = _lstm_model()
    rng = np.random.default_rng(1)
    x, h0, c0 = rng.normal(size=(4, 5, 2)), rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected = model.forward(x, h0=h0, c0=c0).output
    np.testing.assert_array_equal(model.predict(x, h0, c0), expected)
    np.testing.assert_array_equal(model.predict(x, h0=h0, c0=c0), expected)
    for other in (model.predict(x), model.predict(x, h0), model.predict(x, c0=c0),
                  model.predict(x, c0, c0)):
        assert not np.allclose(other, expected)


# ----------------------------------------------------------------------------- losses


def test_mse_refuses_a_non_numeric_target_with_a_type_error():
    """mse mutants 3 (`or` -> `and`: a float y lets a string target through), 11 and 12 (the
    message)."""
    with pytest.raises(TypeError, match=r"^y and target must be real numbers; got dtypes "
                                         r"float64 and <U1$"):
        train.mse(np.ones(2), np.array(["a", "b"]))
    with pytest.raises(TypeError, match=r"got dtypes <U1 and float64$"):
        train.mse(np.array(["a", "b"]), np.ones(2))


def test_mse_computes_in_the_predictions_float_dtype():
    """mse mutants 13, 14, 16, 17, 18 (the dtype picked wrong), 21 (y cast to float64) and 28,
    30 (the target kept in float64): a float32 prediction gives a float32 gradient; an integer
    one is compared in float64."""
    y = np.array([[1.0], [3.0]], dtype=np.float32)
    loss, dy = train.mse(y, np.array([[0.0], [1.0]]))
    assert dy.dtype == np.float32 and dy.ravel().tolist() == [1.0, 2.0] and loss == 2.5
    loss, dy = train.mse(np.array([1, 2]), np.array([0.5, 0.5]))
    assert dy.dtype == np.float64 and loss == 1.25 and dy.tolist() == [0.5, 1.5]


def test_label_shape_error_names_the_shape_without_the_class_axis():
    """_check_labels mutants 9, 10 (logits.shape[:+1] / [:-2] in the message)."""
    with pytest.raises(ValueError, match=r"^labels must have shape \(2, 3\) \(logits without "
                                         r"the class axis K\); got \(2,\)$"):
        train.softmax_cross_entropy(np.zeros((2, 3, 4)), np.zeros(2, dtype=int))


def test_cross_entropy_shifts_each_row_by_its_own_maximum():
    """softmax_cross_entropy mutants 8, 10 (one maximum over the whole batch: a row far below
    it underflows to log 0)."""
    logits = np.array([[1000.0, 0.0], [0.0, -1000.0]])
    loss, d = train.softmax_cross_entropy(logits, np.array([0, 1]))
    assert loss == pytest.approx(500.0)
    np.testing.assert_allclose(d, [[0.0, 0.0], [0.5, -0.5]], atol=1e-300)


def test_cross_entropy_of_one_position_is_softmax_minus_onehot():
    """softmax_cross_entropy mutant 43 (N floored at 2: one position's gradient halved)."""
    loss, d = train.softmax_cross_entropy(np.array([0.0, 0.0]), np.array(1))
    assert loss == pytest.approx(np.log(2)) and d.tolist() == [0.5, -0.5]


# ----------------------------------------------------------------------------- clipping, optimisers


def test_clip_grad_norm_clips_only_the_keys_given():
    """clip_grad_norm mutants 7 (keys ignored), 12, 14 (the norm taken over every key)."""
    g = {"W": np.array([3.0]), "b": np.array([4.0]), "c": np.array([12.0])}
    assert train.clip_grad_norm(g, 1.0, keys=["W", "b"]) == 5.0
    assert g["W"].tolist() == pytest.approx([0.6]) and g["b"].tolist() == pytest.approx([0.8])
    assert g["c"].tolist() == [12.0]


def test_clip_grad_norm_at_exactly_max_norm_writes_nothing():
    """clip_grad_norm mutant 18 (`>=`: a norm equal to max_norm is "clipped" too, writing into
    arrays that need no change; read-only ones then raise)."""
    g = {"W": np.array([3.0]), "b": np.array([4.0])}
    for v in g.values():
        v.flags.writeable = False
    assert train.clip_grad_norm(g, 5.0) == 5.0
    assert g["W"].tolist() == [3.0] and g["b"].tolist() == [4.0]


def test_sgd_defaults_and_plain_steps_round_once():
    """SGD.__init__ mutants 1 (default lr 1.1) and 11 (a momentum buffer without momentum: the
    float64 gradient of a float32 weight is rounded to float32 before the step)."""
    rng = np.random.default_rng(0)
    p = {"w": rng.normal(size=200).astype(np.float32)}
    start = p["w"].copy()
    opt = train.SGD(p)
    assert opt.lr == 0.1 and opt.momentum == 0.0
    g = rng.normal(size=200)
    opt.step({"w": g})
    np.testing.assert_array_equal(p["w"], (start - 0.1 * g).astype(np.float32))


def test_sgd_momentum_is_kept_in_the_weights_dtype():
    """SGD.step mutant 13 (the velocity of a float32 weight computed in float64)."""
    rng = np.random.default_rng(1)
    p = {"w": rng.normal(size=200).astype(np.float32)}
    w, v = p["w"].copy(), np.zeros(200, dtype=np.float32)
    opt = train.SGD(p, lr=0.1, momentum=0.9)
    for _ in range(3):
        g = rng.normal(size=200)
        opt.step({"w": g})
        v = (0.9 * v + g).astype(np.float32)
        w = (w - 0.1 * v).astype(np.float32)
        np.testing.assert_array_equal(p["w"], w)
        np.testing.assert_array_equal(opt._v["w"], v)


def test_sgd_step_beyond_float32_range_raises_and_changes_nothing():
    """SGD.step mutants 7 (errstate left alone: the overflow surfaces as a RuntimeWarning), 17
    (the new float32 weight kept in float64, so inf is written) and 21, 24, 25 (the message)."""
    p = {"w": np.array([1.0, 2.0], dtype=np.float32)}
    opt = train.SGD(p, lr=1.0)
    with pytest.raises(FloatingPointError, match=r"^this step would make parameter 'w' inf or "
                                                 r"NaN; training diverged \(no parameter was "
                                                 r"changed\)$"):
        opt.step({"w": np.array([0.0, -1e39])})
    assert p["w"].tolist() == [1.0, 2.0] and opt.t == 0


def test_step_schedule_drops_to_a_tenth_for_the_last_quarter():
    """step_schedule mutants 1-7."""
    assert [train.step_schedule(s, 100) for s in (0, 1, 74, 75, 99)] == [1.0, 1.0, 1.0, 0.1, 0.1]
    assert [train.step_schedule(s, 8) for s in (0, 5, 6, 7)] == [1.0, 1.0, 0.1, 0.1]
    assert train.constant_schedule(99, 100) == 1.0


# ----------------------------------------------------------------------------- kernel, BLAS


class _Shell:
    pass


@pytest.mark.parametrize("case", ["absent", "no shell", "no kernel attr", "kernel None", "kernel"])
def test_in_kernel_reads_ipython_from_sys_modules(case, monkeypatch):
    """_in_kernel mutants 1-18: True only when IPython is imported, get_ipython() gives a shell
    and that shell has a kernel."""
    shell = _Shell()
    if case == "kernel None":
        shell.kernel = None
    elif case == "kernel":
        shell.kernel = object()
    fake = types.ModuleType("IPython")
    fake.get_ipython = (lambda: None) if case == "no shell" else (lambda: shell)
    if case == "absent":
        monkeypatch.delitem(sys.modules, "IPython", raising=False)
    else:
        monkeypatch.setitem(sys.modules, "IPython", fake)
    monkeypatch.delitem(sys.modules, "ipython", raising=False)
    monkeypatch.delitem(sys.modules, "IPYTHON", raising=False)
    assert train._in_kernel() is (case == "kernel")


@pytest.fixture
def limits(monkeypatch):
    """Records every threadpoolctl.threadpool_limits call instead of changing the BLAS."""
    import threadpoolctl

    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return contextlib.nullcontext()

    monkeypatch.setattr(threadpoolctl, "threadpool_limits", fake)
    return calls


def test_blas_threads_limits_the_blas_library(limits):
    """blas_threads mutants 1 (default 2 threads), 2 (None and n swapped), 3, 5 (no limit
    passed), 4, 6 (every library limited, not only the BLAS)."""
    with train.blas_threads():
        pass
    with train.blas_threads(3.0):
        pass
    assert limits == [((), {"limits": 1, "user_api": "blas"}),
                      ((), {"limits": 3, "user_api": "blas"})]
    assert isinstance(train.blas_threads(None), contextlib.nullcontext)
    assert len(limits) == 2


# ----------------------------------------------------------------------------- History


def test_history_starts_empty_and_its_repr():
    """History.__init__ mutants 1, 2, 7-11, 13 and __repr__ mutants 1-12."""
    hist = train.History("test_mse")
    assert hist.metric == "test_mse" and hist.message == ""
    assert hist.loss == [] and hist.evals == [] and hist.grad_norms == []
    assert hist.steps == 0 and type(hist.steps) is int
    assert hist.seconds == 0.0 and type(hist.seconds) is float
    assert hist.reached is False and hist.diverged is False and hist.final is None
    assert repr(hist) == "History(steps=0, test_mse last=none, reached=False, seconds=0.0)"
    hist.evals.append((10, 0.123456))
    hist.steps, hist.seconds, hist.reached = 10, 2.25, True
    assert repr(hist) == "History(steps=10, test_mse last=0.1235, reached=True, seconds=2.2)"
    hist.diverged = True
    assert repr(hist) == ("History(steps=10, test_mse last=0.1235, reached=True, diverged, "
                          "seconds=2.2)")


# ----------------------------------------------------------------------------- fit


class _Scripted(AddingTask):
    """The adding task, recording every batch drawn; ``losses`` / ``evals`` (step -> value or
    callable(output, target)) replace the reported loss or metric at chosen steps, and
    ``dys`` (step -> callable(dy)) the gradient."""

    def __init__(self, T=3, losses=None, evals=None, dys=None):
        super().__init__(T)
        self.samples, self.losses, self.evals, self.dys = [], losses or {}, evals or {}, dys or {}
        self.step = 0
        self.eval_count = 0

    def sample(self, batch, rng=None, dtype=np.float64):
        x, y = super().sample(batch, rng, dtype)
        self.samples.append((batch, dtype, x.copy()))
        return x, y

    def loss(self, output, target):
        self.step += 1
        loss, dy = super().loss(output, target)
        value = self.losses.get(self.step, loss)
        loss = value(output, target) if callable(value) else value
        return loss, self.dys.get(self.step, lambda d: d)(dy)

    def evaluate(self, output, target):
        self.eval_count += 1
        value = self.evals.get(self.step, train.mse(output, target)[0])
        return value(output, target) if callable(value) else value


def _rnn_model(dtype=np.float64):
    return train.SequenceModel(ll.RNNCell(2, 3, seed=0, dtype=dtype), 1)


def _no_kernel(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)


def test_fit_defaults_are_the_documented_ones(limits, monkeypatch, capsys):
    """fit mutants 1, 2, 5, 6, 7, 8, 11 (the defaults of batch_size, lr, clip, eval_every,
    eval_batch, seed, threads), 9, 10 (progress 'auto' misspelt), 166 (threads not passed to
    blas_threads), 51, 54, 56, 57 (the held-out batch not the one seeded [seed, 1]) and 123
    (grad_norms holding None)."""
    _no_kernel(monkeypatch)
    big = {s: (lambda d: d * 50.0) for s in range(1, 102)}     # norms well above the clip

    def run(**kwargs):
        model, task = _rnn_model(), _Scripted(dys=big)
        return model, task, train.fit(model, task, 101, **kwargs)

    model, task, hist = run()
    err = capsys.readouterr().err
    assert err.startswith("adding 1/101 loss ") and "adding 101/101 test_mse " in err
    assert limits == [((), {"limits": 1, "user_api": "blas"})]
    assert [s[0] for s in task.samples[:2]] == [256, 32] and len(task.samples) == 102
    x_val = AddingTask(3).sample(256, np.random.default_rng([0, 1]))[0]
    x_first = AddingTask(3).sample(32, np.random.default_rng([0, 0]))[0]
    np.testing.assert_array_equal(task.samples[0][2], x_val)
    np.testing.assert_array_equal(task.samples[1][2], x_first)
    assert [s for s, _ in hist.evals] == [100, 101]
    assert all(type(n) is float and n > 2.0 for n in hist.grad_norms)
    model2, _, hist2 = run(batch_size=32, lr=1e-2, optimizer="adam", clip=1.0, eval_every=100,
                           eval_batch=256, seed=0, progress="off", threads=1)
    assert hist2.loss == hist.loss and hist2.evals == hist.evals
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, model2.params[k], err_msg=k)
    run(progress="off", threads=None)
    run(progress="off", threads=2)
    assert [call[1]["limits"] for call in limits] == [1, 1, 2]


def test_fit_checks_its_sizes_and_optimizer_by_name():
    """fit mutants 14, 17, 18, 21, 24, 25 (steps / batch_size misnamed in their errors), 29, 30
    ('sgd' not found) and 32 (the error for an unknown optimizer)."""
    model, task = _rnn_model(), _Scripted()
    with pytest.raises(ValueError, match=r"^steps must be a positive integer; got 0$"):
        train.fit(model, task, 0, progress="off")
    with pytest.raises(TypeError, match=r"^batch_size must be a positive integer; got 2.0"):
        train.fit(model, task, 3, batch_size=2.0, progress="off")
    with pytest.raises(ValueError, match=r"^optimizer must be 'adam', 'sgd' or an optimiser "
                                         r"object; got 'rmsprop'$"):
        train.fit(model, task, 3, optimizer="rmsprop", progress="off")
    other = _rnn_model()
    train.fit(model, _Scripted(), 3, optimizer="sgd", lr=0.5, progress="off")
    train.fit(other, _Scripted(), 3, optimizer=train.SGD(other.params, lr=0.5), progress="off")
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, other.params[k], err_msg=k)


def test_fit_draws_every_batch_in_the_models_dtype():
    """fit mutants 43 (dtype None), 52, 55 (the held-out batch) and 92, 95 (the training
    batches drawn in float64 for a float32 model); 59 (History(None))."""
    model, task = _rnn_model(np.float32), _Scripted()
    hist = train.fit(model, task, 3, progress="off")
    assert [(b, d) for b, d, _ in task.samples] == [(256, np.float32)] + [(32, np.float32)] * 3
    assert all(x.dtype == np.float32 for *_, x in task.samples)
    assert hist.metric == "test_mse" and hist.message.startswith("test_mse ")


def test_fit_progress_lines_are_pinned(monkeypatch, capsys):
    """fit mutants 159, 162, 164 (the description lost or 'None'), 201, 203, 205, 208, 209
    (the loss/metric message of the bar) and 174, 214 (the callback handed None)."""
    _no_kernel(monkeypatch)
    ticks = iter(range(10**6))
    monkeypatch.setattr(train.time, "perf_counter", lambda: float(next(ticks)))
    seen = []

    def callback(hist):
        assert isinstance(hist, train.History)
        seen.append(hist.steps)

    for description in (None, "mine"):
        task = _Scripted(losses={1: 0.5, 2: 0.5, 3: 0.5}, evals={2: 0.25, 3: 0.125})
        hist = train.fit(_rnn_model(), task, 3, eval_every=2, progress="text",
                         description=description, callback=callback)
        name = description or "adding"
        assert capsys.readouterr() == ("", (
            f"{name} 1/3 loss 0.5000\n"
            f"{name} 2/3 loss 0.5000, test_mse 0.2500\n"
            f"{name} 3/3 loss 0.5000, test_mse 0.1250\n"
            f"{name} 3/3 test_mse 0.1250 after 3 steps\n"))
        assert hist.message == "test_mse 0.1250 after 3 steps"
    assert seen == [0, 1, 2, 3] * 2


def test_fit_callback_stops_training():
    """fit mutants 168, 170 (a callback that says stop before the first step is ignored, or
    steps still run) and 215 (a stop asked for after a step ignored)."""
    model = _rnn_model()
    before = {k: v.copy() for k, v in model.params.items()}
    task = _Scripted()
    hist = train.fit(model, task, 5, progress="off", callback=lambda h: True)
    assert hist.steps == 0 and hist.loss == [] and hist.evals == [] and task.step == 0
    assert hist.message == "stopped after 0 steps"
    for k, v in before.items():
        np.testing.assert_array_equal(model.params[k], v)
    hist = train.fit(model, _Scripted(), 5, progress="off", callback=lambda h: h.steps == 2)
    assert hist.steps == 2 and len(hist.loss) == 2 and not hist.diverged
    assert hist.message == "stopped by the callback after 2 steps"


def _diverging_fit(task, model=None, **kwargs):
    model = model or _rnn_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # no overflow warning may escape
        hist = train.fit(model, task, 5, progress="off", eval_every=2, **kwargs)
    assert isinstance(hist, train.History) and hist.diverged is True and hist.steps < 5
    return hist


def _kept(step):
    return f"; kept the last finite weights (those after step {step})"


def test_fit_reports_a_non_finite_loss_or_gradient_and_stops():
    """fit mutants 60, 61, 62 (diverged / message not set), 96 (an overflow in the loss left
    to warn), 184 (returns None), 125-128 and 131-138 (the message) and 107 (backward handed a
    non-finite dy)."""
    hist = _diverging_fit(_Scripted(losses={2: np.nan}))
    assert hist.message == "diverged at step 2: the loss is nan" + _kept(1)
    assert hist.steps == 2 and len(hist.loss) == 2 and hist.grad_norms[-1] == np.inf

    def huge(output, target):
        return float(np.mean((output * 1e200) ** 2))     # overflows to inf, warning

    hist = _diverging_fit(_Scripted(losses={3: huge}))
    assert hist.message == "diverged at step 3: the loss is inf" + _kept(2)

    model = _rnn_model()
    backward, seen = model.backward, []

    def tolerant(trace, dy):          # a model that would make up a gradient from any dy
        seen.append(bool(np.isfinite(dy).all()))
        return backward(trace, np.nan_to_num(dy))

    model.backward = tolerant
    hist = _diverging_fit(_Scripted(dys={4: lambda d: d * np.inf}), model=model)
    assert hist.message == "diverged at step 4: the gradient norm is inf" + _kept(3)
    assert seen == [True] * 3 and hist.grad_norms[-1] == np.inf and hist.steps == 4


def test_fit_reports_an_overflow_inside_backward_as_an_infinite_gradient():
    """fit mutants 117-121: a ValueError about NaN or inf from backward (dh = dy W_hy overflows)
    is a divergence, any other ValueError passes through."""
    model = _rnn_model()
    model.params["W_hy"] = np.full((1, 3), 1e308)
    hist = _diverging_fit(_Scripted(losses={1: 0.5}, dys={1: lambda d: np.full_like(d, 10.0)}),
                          model=model)
    assert hist.message == "diverged at step 1: the gradient norm is inf" + _kept(0)
    assert hist.grad_norms == [np.inf]
    model = _rnn_model()

    def refusing(trace, dy):
        raise ValueError("some other problem")

    model.backward = refusing
    with pytest.raises(ValueError, match="some other problem"):
        train.fit(model, _Scripted(), 3, progress="off")


def test_fit_reports_a_non_finite_held_out_metric_and_stops():
    """fit mutants 63 (an overflow in the evaluation left to warn), 75-80 (the message) and 192
    (returns None)."""
    def huge(output, target):
        return float(np.mean((output * 1e200) ** 2))

    hist = _diverging_fit(_Scripted(evals={4: huge}))
    assert hist.message == "diverged at step 4: the held-out test_mse is inf" + _kept(4)
    assert hist.steps == 4 and hist.evals[-1] == (4, np.inf)


class _FailingSGD(train.SGD):
    """SGD whose second step would overflow."""

    def step(self, grads):
        if self.t == 1:
            raise FloatingPointError("this step would make parameter 'W_hy' inf or NaN")
        super().step(grads)


def test_fit_reports_an_update_that_would_overflow_and_stops():
    """fit mutants 146-156 (the message)."""
    model = _rnn_model()
    hist = _diverging_fit(_Scripted(), model=model, optimizer=_FailingSGD(model.params))
    assert hist.message == ("diverged at step 2: the update would make a weight inf or NaN"
                            + _kept(1))


# ----------------------------------------------------------------------------- Progress


class _Stream:
    """A stream that records what was written and how often it was flushed."""

    def __init__(self, tty):
        self.text, self.flushes, self.tty = "", 0, tty

    def write(self, s):
        self.text += s

    def flush(self):
        self.flushes += 1

    def isatty(self):
        return self.tty


class _Pipe:
    """A stream without isatty."""

    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_defaults_sizes_and_repr(monkeypatch):
    """Progress.__init__ mutants on the defaults (description, mode, interval, stream), total
    (at least 1, an int), the mode check and its message, the start state (step 0, message
    ''), and __repr__."""
    _no_kernel(monkeypatch)
    bar = train.Progress(5)
    assert (bar.total, bar.description, bar.mode, bar.interval) == (5, "", "text", 0.25)
    assert bar.stream is sys.stderr and bar.step == 0 and bar.message == ""
    assert repr(bar) == "Progress(0/5, mode='text')"
    assert [train.Progress(n, mode="off").total for n in (0, 1, 2, 3.7, -4)] == [1, 1, 2, 3, 1]
    assert [train.Progress(3, mode=m).mode for m in ("text", "off")] == ["text", "off"]
    with pytest.raises(ValueError, match=r"^mode must be 'auto', 'widget', 'text' or 'off'; "
                                         r"got 'fancy'$"):
        train.Progress(3, mode="fancy")
    with pytest.raises(ValueError, match=r"got 'AUTO'$"):
        train.Progress(3, mode="AUTO")
    stream = _Stream(tty=False)
    bar = train.Progress(4, "d", stream=stream)
    assert bar.stream is stream and bar.mode == "text"
    bar.update(2, "m")
    assert repr(bar) == "Progress(2/4, mode='text')"


def test_progress_on_a_terminal_redraws_one_line():
    """Progress._draw mutants on the terminal bar (its 30 cells, the numbers, the trailing
    blanks, the newline only at close, a flush per draw), update's default message and
    close(final=True) / close() keeping the last message."""
    stream = _Stream(tty=True)
    bar = train.Progress(10, "demo", mode="text", interval=0.0, stream=stream)
    bar.update(0)
    bar.update(5, "half")
    bar.update(10, "all")
    bar.update(12, "over")
    bar.close()
    assert stream.text == (
        "\rdemo [------------------------------] 0/10    "
        "\rdemo [###############---------------] 5/10 half   "
        "\rdemo [##############################] 10/10 all   "
        "\rdemo [##############################] 12/10 over   "
        "\rdemo [##############################] 12/10 over   \n")
    assert stream.flushes == 5 and bar.message == "over"
    bar.close("done")
    assert stream.text.endswith("\rdemo [##############################] 12/10 done   \n")


@pytest.mark.parametrize("make", [lambda: _Stream(tty=False), _Pipe], ids=["log", "pipe"])
def test_progress_in_a_log_prints_a_line_per_tenth(make):
    """Progress._draw mutants on the log lines (one per tenth of the way, and one at close),
    __init__ mutants on isatty (a stream without it is a log) and 53, 54 on the first tenth
    (-1: step 0 prints, a step before it does not)."""
    stream = make()                     # a fresh stream each run: the test may run twice
    bar = train.Progress(20, "demo", mode="text", interval=0.0, stream=stream)
    for step, message in [(-2, "z"), (0, "a"), (1, "b"), (2, "c"), (3, "d"), (18, "e"), (19, "f"),
                          (20, "g"), (20, "h")]:
        bar.update(step, message)
    bar.close()
    bar.close("done")
    assert stream.text == ("demo 0/20 a\ndemo 2/20 c\ndemo 18/20 e\ndemo 20/20 g\n"
                           "demo 20/20 h\ndemo 20/20 done\n")


def test_progress_redraws_at_most_every_interval(monkeypatch):
    """Progress.update mutants (the clock compared with `>`, `+`, the last time not kept) and
    __init__'s default interval 0.25 s."""
    times = iter([100.0, 100.2, 100.25, 100.3, 100.5, 100.75])
    monkeypatch.setattr(train.time, "perf_counter", lambda: next(times))
    stream = _Stream(tty=False)
    bar = train.Progress(6, "t", mode="text", stream=stream)
    for step in range(6):
        bar.update(step)
    assert stream.text == "t 0/6 \nt 2/6 \nt 4/6 \nt 5/6 \n"


@pytest.fixture
def widgets(monkeypatch):
    """Stand-ins for ipywidgets and IPython.display, recording what Progress builds and shows."""
    made = {"shown": []}

    class Widget:
        def __init__(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs
            self.value = kwargs.get("value")

    class IntProgress(Widget):
        pass

    class HTML(Widget):
        pass

    class HBox(Widget):
        pass

    fake = types.ModuleType("ipywidgets")
    fake.IntProgress, fake.HTML, fake.HBox = IntProgress, HTML, HBox
    display = types.ModuleType("IPython.display")
    display.display = lambda obj: made["shown"].append(obj)
    ipython = types.ModuleType("IPython")
    shell = _Shell()
    shell.kernel = object()
    ipython.get_ipython = lambda: shell
    ipython.display = display
    monkeypatch.setitem(sys.modules, "ipywidgets", fake)
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return made


def test_progress_widget_shows_a_bar_and_a_label(widgets):
    """Progress.__init__ mutants on the widgets (IntProgress value/min/max/description, the
    empty HTML label, display(HBox([bar, label]))), 'auto' choosing the widget in a kernel,
    and _draw's widget branch (value capped at total, the label's text)."""
    stream = _Stream(tty=True)
    bar = train.Progress(7, "w", interval=0.0, stream=stream)
    assert bar.mode == "widget"
    assert bar._bar.kwargs == {"value": 0, "min": 0, "max": 7, "description": "w"}
    assert bar._label.kwargs == {"value": ""} and bar._label.value == ""
    [box] = widgets["shown"]
    assert type(box).__name__ == "HBox" and box.args == ([bar._bar, bar._label],)
    bar.update(3, "x")
    assert (bar._bar.value, bar._label.value) == (3, "x")
    bar.update(9, "y")
    assert (bar._bar.value, bar._label.value) == (7, "y")
    bar.close("done")
    assert (bar._bar.value, bar._label.value) == (7, "done")
    assert stream.text == "" and stream.flushes == 0


def test_fit_times_the_run_from_start_to_end(monkeypatch):
    """fit mutant 220 (seconds = end + start)."""
    values = []

    def clock():
        values.append(1000.0 + 0.5 * len(values))
        return values[-1]

    monkeypatch.setattr(train.time, "perf_counter", clock)
    hist = train.fit(_rnn_model(), _Scripted(), 2, progress="off")
    assert len(values) >= 2 and hist.seconds == values[-1] - values[0]


# ----------------------------------------------------------------------------- more of the model


def test_model_defaults_seed_zero_and_its_trace_says_which_readout():
    """SequenceModel.__init__ mutant 2 (default seed 1), ModelTrace.__init__ mutant 3 and
    forward mutant 28 (trace.many_to_one None)."""
    a = train.SequenceModel(ll.RNNCell(2, 3, seed=0), 2)
    b = train.SequenceModel(ll.RNNCell(2, 3, seed=0), 2, seed=0)
    c = train.SequenceModel(ll.RNNCell(2, 3, seed=0), 2, seed=1)
    np.testing.assert_array_equal(a.params["W_hy"], b.params["W_hy"])
    assert not np.array_equal(a.params["W_hy"], c.params["W_hy"])
    x = np.ones((3, 2))
    assert a.forward(x).many_to_one is True
    assert _lstm_model(many_to_one=False).forward(x).many_to_one is False


def test_model_backward_checks_dy_and_keeps_the_models_dtype():
    """SequenceModel.backward mutants 3 (the type named in the error), 6, 11, 12 (dy misnamed
    in its errors) and 7 (dy kept in float64 for a float32 model: float64 readout gradients)."""
    model = train.SequenceModel(ll.RNNCell(2, 3, seed=0, dtype=np.float32), 2)
    trace = model.forward(np.ones((3, 4, 2), dtype=np.float32))
    with pytest.raises(TypeError, match=r"^trace must be a ModelTrace from this model's "
                                        r"forward; got dict$"):
        model.backward({}, np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"^dy contains NaN or inf"):
        model.backward(trace, np.full((4, 2), np.nan))
    with pytest.raises(TypeError, match=r"^dy must be a real numeric array"):
        model.backward(trace, np.full((4, 2), "a"))
    grads = model.backward(trace, np.full((4, 2), 0.1))
    assert {v.dtype for v in grads.values()} == {np.dtype(np.float32)}


# ----------------------------------------------------------------------------- more optimisers


def test_optimizer_step_errors_name_the_gradient():
    """_checked_grads mutants 2, 3, 14, 16, 19 (the messages) and _param_keys mutant 1 (the
    missing key reported by a bare KeyError); global_norm mutant 3 (keys ignored)."""
    p = {"w": np.zeros(2), "b": np.zeros(1)}
    opt = train.SGD(p)
    with pytest.raises(TypeError, match=r"^grads must be a dict name -> array; got list$"):
        opt.step([np.zeros(2), np.zeros(1)])
    with pytest.raises(KeyError, match=r"grads has no entry for parameter\(s\) w, b"):
        opt.step({})
    with pytest.raises(TypeError, match=r"^grads\['w'\] must be a real numeric array; got "
                                        r"dtype <U1$"):
        opt.step({"w": np.array(["a", "b"]), "b": np.zeros(1)})
    with pytest.raises(ValueError, match=r"^grads\['b'\] must have the shape of params\['b'\], "
                                         r"\(1,\); got \(2,\) \(nothing is broadcast\)$"):
        opt.step({"w": np.zeros(2), "b": np.zeros(2)})
    with pytest.raises(FloatingPointError, match=r"^grads\['w'\] contains NaN or inf; training "
                                                 r"diverged \(no parameter was changed\)$"):
        opt.step({"w": np.array([0.0, np.inf]), "b": np.zeros(1)})
    assert p["w"].tolist() == [0.0, 0.0] and opt.t == 0
    g = {"W": np.array([3.0]), "b": np.array([4.0])}
    assert train.global_norm(g, keys=["W"]) == 3.0 and train.global_norm(g) == 5.0


def test_adam_defaults():
    """Adam.__init__ mutants on the defaults lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8."""
    opt = train.Adam({"w": np.zeros(1)})
    assert (opt.lr, opt.beta1, opt.beta2, opt.eps, opt.t) == (1e-3, 0.9, 0.999, 1e-8, 0)


def test_adam_keeps_its_moments_in_the_weights_dtype():
    """Adam.step mutants 32, 39 (a float32 weight's moments computed in float64)."""
    rng = np.random.default_rng(2)
    p = {"w": rng.normal(size=200).astype(np.float32)}
    w = p["w"].copy()
    m = v = np.zeros(200, dtype=np.float32)
    opt = train.Adam(p, lr=0.01)
    for t in range(1, 4):
        g = rng.normal(size=200)
        opt.step({"w": g})
        m = (0.9 * m + (1.0 - 0.9) * g).astype(np.float32)
        v = (0.999 * v + (1.0 - 0.999) * (g * g)).astype(np.float32)
        step = 0.01 * math.sqrt(1.0 - 0.999**t) / (1.0 - 0.9**t)
        eps = 1e-8 * math.sqrt(1.0 - 0.999**t)
        w = (w - step * m / (np.sqrt(v) + eps)).astype(np.float32)
        np.testing.assert_array_equal(opt._m["w"], m)
        np.testing.assert_array_equal(opt._v["w"], v)
        np.testing.assert_array_equal(p["w"], w)


def test_adam_step_that_would_overflow_raises_and_changes_nothing():
    """Adam.step mutants 27 (errstate left alone: a RuntimeWarning instead), 47 (the float32
    weight kept in float64, so inf is written), 53, 54 (the parameter message) and 57, 58, 60
    (the second-moment message: g * g overflows while the weight stays finite)."""
    p = {"w": np.array([3e38, 1.0], dtype=np.float32)}
    opt = train.Adam(p, lr=1e38)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match=r"^this step would make parameter 'w' "
                                                     r"inf or NaN; training diverged \(no "
                                                     r"parameter was changed\)$"):
            opt.step({"w": np.array([-1.0, 0.0])})
        q = {"w": np.array([1.0, 2.0])}
        opt2 = train.Adam(q)
        with pytest.raises(FloatingPointError, match=r"^this step would make the second moment "
                                                     r"of 'w' inf or NaN; training diverged"):
            opt2.step({"w": np.array([1e200, 0.0])})
    assert p["w"].tolist() == [np.float32(3e38), 1.0] and opt.t == 0
    assert q["w"].tolist() == [1.0, 2.0] and opt2.t == 0
    assert not opt._m["w"].any() and not opt2._v["w"].any()


def test_model_checks_its_cell_and_size_and_draws_w_hy_from_plus_minus_one_over_root_h():
    """SequenceModel.__init__ mutants 17, 24 (the errors' words) and 33, 34, 44, 45 (W_hy not
    uniform in [-1/sqrt(H), 1/sqrt(H)]); _Optimizer.__init__ mutant 6 (the type named)."""
    with pytest.raises(TypeError, match=r"^cell must be an lstm_lab cell \(with \.params\); "
                                        r"got object$"):
        train.SequenceModel(object(), 1)
    with pytest.raises(ValueError, match=r"^output_size K must be a positive integer; got 0$"):
        train.SequenceModel(ll.RNNCell(2, 3, seed=0), 0)
    H = 64
    w = train.SequenceModel(ll.RNNCell(2, H, seed=0), 50, seed=3).params["W_hy"]
    k = 1 / np.sqrt(H)
    assert np.abs(w).max() <= k and w.min() < -0.9 * k and w.max() > 0.9 * k
    with pytest.raises(TypeError, match=r"^params must be a Mapping name -> array "
                                        r"\(model.params\); got list$"):
        train.Adam([np.zeros(1)])
