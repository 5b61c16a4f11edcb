"""Fault injection: a call that fails or is interrupted half-way leaves every object and file as
it was (or, for an operation that had already committed, as it would be had it finished).

Two deterministic injectors, each swept over every point it can hit:

- ``failing(targets, n, exc)`` wraps the named functions and raises `exc` on the n-th call of
  any of them, n running over every call the operation makes;
- ``interrupted_at(n)`` raises KeyboardInterrupt at the n-th Python function call the
  operation makes (a trace function), as Stop would between two bytecodes, but only where a
  real SIGINT would be delivered (not while an operation holds it off for a commit).

A full disk is a tiny RLIMIT_FSIZE in a subprocess that ignores SIGXFSZ.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import tracemalloc
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lstm_lab as ll  # noqa: E402
from lstm_lab import (  # noqa: E402
    _atomic,
    exercises,
    experiments,
    generate,
    gradients,
    networks,
    tasks,
    train,
    widgets,
)
from lstm_lab.gradcheck import numeric_gradient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SWEEP_CAP = 250  # trace sweeps longer than this visit SWEEP_CAP evenly spread call numbers


class Fault(Exception):
    """The error the injectors raise (an Exception, as a NaN check or a bug would)."""


# ============================================================================ the injectors


class _Calls:
    def __init__(self):
        self.n = 0


@contextlib.contextmanager
def failing(targets, n, exc):
    """Raise `exc` on the n-th call, counted over every (object, attribute name) in `targets`."""
    calls = _Calls()
    saved = []
    for obj, name in targets:
        original = getattr(obj, name)

        def wrapper(*args, _original=original, **kwargs):
            calls.n += 1
            if calls.n == n:
                raise exc
            return _original(*args, **kwargs)

        saved.append((obj, name, obj.__dict__.get(name, _MISSING) if hasattr(obj, "__dict__")
                      else _MISSING))
        setattr(obj, name, wrapper)
    try:
        yield calls
    finally:
        for obj, name, old in reversed(saved):
            if old is _MISSING:
                delattr(obj, name)
            else:
                setattr(obj, name, old)


_MISSING = object()


def count_calls(targets, operation):
    """How many calls of `targets` `operation()` makes."""
    with failing(targets, 0, Fault()) as calls:
        operation()
    return calls.n


def sweep_an_explorer_move(ex, targets, move, exc, state, same_state, after_reset=None):
    """Make `move()` fail with `exc` at each call of `targets()` in turn, from the explorer's
    reset state: each time the error is shown (an interrupt goes on) and `state(ex)` is as it
    was. `after_reset(state)` may check the reset first. Returns how many calls were swept."""
    total = count_calls(targets(), move)
    assert total > 0
    ex.reset()
    before = state(ex)
    if after_reset is not None:
        after_reset(before)
    for n in range(1, total + 1):
        with failing(targets(), n, exc):
            if isinstance(exc, Exception):
                move()
                assert ex.error is exc, n
            else:
                with pytest.raises(KeyboardInterrupt):
                    move()
        assert same_state(state(ex), before), f"call {n} of {total}"
    return total


def _deliverable():
    """True where a real SIGINT would raise KeyboardInterrupt now (not held off)."""
    return signal.getsignal(signal.SIGINT) is signal.default_int_handler


@contextlib.contextmanager
def interrupted_at(n):
    """Raise KeyboardInterrupt at the n-th Python call (n = 0: only count them)."""
    calls = _Calls()

    def tracer(frame, event, arg):
        if event == "call":
            calls.n += 1
            if calls.n == n and _deliverable():
                sys.settrace(None)
                raise KeyboardInterrupt(f"injected at call {n}")
        return None

    sys.settrace(tracer)
    try:
        yield calls
    finally:
        sys.settrace(None)


def trace_points(operation):
    """The call numbers to interrupt `operation` at: all of them, or SWEEP_CAP spread evenly."""
    with interrupted_at(0) as calls:
        operation()
    total = calls.n
    assert total > 0
    if total <= SWEEP_CAP:
        return list(range(1, total + 1))
    return sorted({int(k) for k in np.linspace(1, total, SWEEP_CAP)})


def arrays_of(mapping):
    return {k: np.array(v, copy=True) for k, v in mapping.items()}


def same(a, b):
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=True) and np.asarray(a[k]).dtype ==
        np.asarray(b[k]).dtype for k in a)


# ============================================================================ params assignment


def _param_owners():
    cell = ll.LSTMCell(2, 3, seed=0)
    model = train.SequenceModel(ll.GRUCell(2, 3, seed=1), 2)
    net = networks.build("lstm", 2, 3, num_layers=2, bidirectional=True, seed=2)
    return [(cell.params, "W_hf"), (model.params, "W_hy"), (model.params, "b_r"),
            (net.params, "l1.bwd.W_xg")]


@pytest.mark.parametrize("which", range(4))
def test_params_assignment_is_whole_or_not_at_all(which):
    params, key = _param_owners()[which]
    before = arrays_of(params)
    new = np.arange(params[key].size, dtype=float).reshape(params[key].shape) / 7.0
    after = dict(before, **{key: new.astype(params[key].dtype)})

    def assign():
        params[key] = new

    for n in trace_points(assign):
        params[key] = before[key]
        with contextlib.suppress(KeyboardInterrupt), interrupted_at(n):
            assign()
        now = arrays_of(params)
        assert same(now, before) or same(now, after), n
    for bad in (np.full(params[key].shape, np.nan), np.zeros(params[key].shape[:-1] + (99,))):
        params[key] = before[key]
        with pytest.raises(ValueError):
            params[key] = bad
        assert same(arrays_of(params), before)


# ============================================================================ gradcheck


def _gradcheck_models():
    rng = np.random.default_rng(0)
    return [
        ("lstm", ll.LSTMCell(1, 2, seed=0), rng.normal(size=(3, 1))),
        ("model", train.SequenceModel(ll.GRUCell(1, 2, seed=0), 1), rng.normal(size=(3, 1))),
        ("stacked", networks.build("rnn", 1, 2, num_layers=2, seed=0), rng.normal(size=(3, 1))),
    ]


@pytest.mark.parametrize("which", range(3))
@pytest.mark.parametrize("exc", [Fault("NaN in backward"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
def test_gradcheck_leaves_the_weights_as_they_were(which, exc):
    _name, model, x = _gradcheck_models()[which]
    before = arrays_of(model.params)
    targets = [(model, "forward")]
    total = count_calls(targets, lambda: ll.gradcheck(model, x))
    assert same(arrays_of(model.params), before)
    for n in range(1, total + 1):
        with pytest.raises(type(exc)), failing(targets, n, exc):
            ll.gradcheck(model, x)
        assert same(arrays_of(model.params), before), f"call {n} of {total}"


def test_gradcheck_interrupted_anywhere_restores_the_weights():
    cell = ll.RNNCell(1, 1, seed=0)
    x = np.array([[0.5], [-1.0]])
    before = arrays_of(cell.params)
    for n in trace_points(lambda: ll.gradcheck(cell, x)):
        with contextlib.suppress(KeyboardInterrupt), interrupted_at(n):
            ll.gradcheck(cell, x)
        assert same(arrays_of(cell.params), before), n


@pytest.mark.parametrize("exc", [Fault(), KeyboardInterrupt()], ids=["error", "interrupt"])
def test_numeric_gradient_restores_its_array_whenever_loss_stops(exc):
    arr = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = arr.copy()

    class Holder:  # failing() patches attributes
        def loss(self):
            return float(np.sum(arr ** 3))

    holder = Holder()
    targets = [(holder, "loss")]
    total = count_calls(targets, lambda: numeric_gradient(lambda: holder.loss(), arr))
    assert total == 4 * arr.size
    for n in range(1, total + 1):
        with pytest.raises(type(exc)), failing(targets, n, exc):
            numeric_gradient(lambda: holder.loss(), arr)
        np.testing.assert_array_equal(arr, before, err_msg=f"call {n}")


# ============================================================================ optimisers


def _optimisers():
    def fresh(kind):
        model = train.SequenceModel(ll.LSTMCell(2, 2, seed=0), 1)
        opt = {"sgd": lambda p: train.SGD(p, lr=0.1),
               "momentum": lambda p: train.SGD(p, lr=0.1, momentum=0.9),
               "adam": lambda p: train.Adam(p, lr=0.01)}[kind](model.params)
        return model, opt
    return fresh


def _grads(model, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=v.shape) for k, v in model.params.items()}


def _opt_state(model, opt):
    state = {"p." + k: v for k, v in arrays_of(model.params).items()}
    for name in ("_m", "_v"):
        for k, v in (getattr(opt, name, None) or {}).items():
            state[f"{name}.{k}"] = v.copy()
    state["t"] = np.array(opt.t)
    return state


KINDS = ["sgd", "momentum", "adam"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_step_with_one_bad_gradient_changes_nothing(kind):
    model, opt = _optimisers()(kind)
    opt.step(_grads(model, 1))             # some optimiser state to keep
    before = _opt_state(model, opt)
    last = list(model.params)[-1]
    for bad, err in (({last: np.array([np.nan])}, FloatingPointError),
                     ({last: np.array([np.inf])}, FloatingPointError),
                     ({"W_xf": np.zeros((1, 2))}, ValueError),     # would broadcast
                     ({"b_y": np.zeros(())}, ValueError),
                     ({"b_f": np.array(["a", "b"])}, TypeError)):
        grads = dict(_grads(model, 2), **bad)
        with pytest.raises(err):
            opt.step(grads)
        assert same(_opt_state(model, opt), before), bad


@pytest.mark.parametrize("kind", ["sgd", "momentum"])
def test_a_step_that_would_overflow_changes_nothing(kind):
    model, opt = _optimisers()(kind)
    opt.lr = 1e307
    before = _opt_state(model, opt)
    grads = {k: np.full(v.shape, 1e10) for k, v in model.params.items()}
    with pytest.raises(FloatingPointError, match="diverged"):
        opt.step(grads)
    assert same(_opt_state(model, opt), before)


@pytest.mark.parametrize("kind", KINDS)
def test_a_step_interrupted_anywhere_is_whole_or_not_at_all(kind):
    fresh = _optimisers()
    model, opt = fresh(kind)
    opt.step(_grads(model, 1))
    start = _opt_state(model, opt)
    opt.step(_grads(model, 2))
    done = _opt_state(model, opt)

    def reset():
        m, o = fresh(kind)
        o.step(_grads(m, 1))
        return m, o

    model, opt = reset()
    points = trace_points(lambda: opt.step(_grads(model, 2)))
    for n in points:
        model, opt = reset()
        grads = _grads(model, 2)
        with contextlib.suppress(KeyboardInterrupt), interrupted_at(n):
            opt.step(grads)
        now = _opt_state(model, opt)
        assert same(now, start) or same(now, done), f"interrupted at call {n}"


def test_clip_grad_norm_is_whole_or_not_at_all():
    rng = np.random.default_rng(0)
    grads = {"W": rng.normal(size=(3, 3)) * 10, "b": rng.normal(size=3) * 10}
    before = arrays_of(grads)
    clipped = arrays_of(grads)
    train.clip_grad_norm(clipped, 1.0)
    for n in trace_points(lambda: train.clip_grad_norm(arrays_of(before), 1.0)):
        g = arrays_of(before)
        with contextlib.suppress(KeyboardInterrupt), interrupted_at(n):
            train.clip_grad_norm(g, 1.0)
        assert same(g, before) or same(g, clipped), n
    bad = dict(arrays_of(before), b=np.array([1.0, np.nan, 0.0]))
    keep = arrays_of(bad)
    with pytest.raises(FloatingPointError):
        train.clip_grad_norm(bad, 1.0)
    assert same(bad, keep)


# ============================================================================ fit


def _fit_setup(steps=6):
    model = train.SequenceModel(ll.GRUCell(2, 3, seed=0), 1)
    task = tasks.AddingTask(T=4)
    opt = train.Adam(model.params, lr=0.05)
    return model, task, opt


def _reference_run(steps):
    """Params and Adam state after every step of an uninterrupted run, by step number."""
    model, task, opt = _fit_setup()
    states = {0: _opt_state(model, opt)}
    commit = opt._commit

    def recording(*args):
        commit(*args)
        states[opt.t] = _opt_state(model, opt)

    opt._commit = recording
    train.fit(model, task, steps, optimizer=opt, batch_size=4, eval_every=2, eval_batch=8,
              progress="off")
    return states


def test_fit_interrupted_anywhere_keeps_one_whole_step():
    steps = 3
    states = _reference_run(steps)
    model, task, opt = _fit_setup()

    def run(m, t, o):
        return lambda: train.fit(m, t, steps, optimizer=o, batch_size=4, eval_every=2,
                                 eval_batch=8, progress="off")

    for n in trace_points(run(model, task, opt)):
        model, task, opt = _fit_setup()
        with contextlib.suppress(KeyboardInterrupt), interrupted_at(n):
            run(model, task, opt)()
        assert same(_opt_state(model, opt), states[opt.t]), f"call {n}, after step {opt.t}"
        assert opt.lr == 0.05


@pytest.mark.parametrize("exc", [Fault(), KeyboardInterrupt()], ids=["error", "interrupt"])
def test_fit_failing_in_any_part_keeps_one_whole_step(exc):
    steps = 3
    states = _reference_run(steps)
    model, task, opt = _fit_setup()

    def targets(m, t, o):
        return [(m, "forward"), (m, "backward"), (m, "predict"), (t, "sample"), (t, "loss"),
                (t, "evaluate"), (o, "step")]

    def run(m, t, o):
        return lambda: train.fit(m, t, steps, optimizer=o, batch_size=4, eval_every=2,
                                 eval_batch=8, progress="off")

    total = count_calls(targets(model, task, opt), run(model, task, opt))
    for n in range(1, total + 1):
        model, task, opt = _fit_setup()
        with pytest.raises(type(exc)), failing(targets(model, task, opt), n, exc):
            run(model, task, opt)()
        assert same(_opt_state(model, opt), states[opt.t]), f"call {n}, after step {opt.t}"
        assert opt.lr == 0.05


@pytest.mark.parametrize("optimizer, lr", [("sgd", 1e12), ("sgd", 1e300), ("adam", 1e300)])
def test_fit_stops_cleanly_when_training_blows_up(optimizer, lr):
    model = train.SequenceModel(ll.LSTMCell(2, 4, seed=0), 1)
    hist = train.fit(model, tasks.AddingTask(T=5), 50, optimizer=optimizer, lr=lr, clip=None,
                     progress="off")          # filterwarnings=error: no warning may escape
    assert hist.diverged and hist.steps < 50
    assert "\n" not in hist.message and f"diverged at step {hist.steps}" in hist.message
    assert all(np.isfinite(v).all() for v in model.params.values())
    assert "diverged" in repr(hist)


def test_fit_keeps_the_last_finite_weights_when_a_gradient_turns_nan():
    states = _reference_run(4)
    model, task, opt = _fit_setup()
    backward = model.backward
    calls = _Calls()

    def poisoned(trace, dy):
        calls.n += 1
        grads = backward(trace, dy)
        if calls.n == 3:
            grads["W_hy"] = grads["W_hy"] * np.nan
        return grads

    model.backward = poisoned
    hist = train.fit(model, task, 4, optimizer=opt, batch_size=4, eval_every=2, eval_batch=8,
                     progress="off")
    assert hist.diverged and hist.steps == 3 and opt.t == 2
    assert same(_opt_state(model, opt), states[2])
    assert "after step 2" in hist.message


def test_the_experiments_command_reports_divergence_as_strict_json(capsys):
    assert experiments.main(["adding", "--cell", "rnn", "--T", "5", "--quick", "--lr",
                             "1e300"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out.strip().splitlines()[-1])   # no NaN or Infinity in strict JSON
    assert result["diverged"] is True
    assert "diverged at step" in err


def test_mse_of_an_integer_prediction_keeps_the_target():
    loss, dy = train.mse(np.array([1, 0]), np.array([0.4, 0.5]))
    assert loss == pytest.approx((0.36 + 0.25) / 2)
    np.testing.assert_allclose(dy, [0.6, -0.5])


# ============================================================================ sizes


def _peak_bytes(operation):
    tracemalloc.start()
    try:
        operation()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_from_torch_refuses_a_huge_layer_index_before_allocating():
    rng = np.random.default_rng(0)
    sd = {"weight_ih_l0": rng.normal(size=(8, 1)), "weight_hh_l0": rng.normal(size=(8, 2)),
          "weight_ih_l5000000": rng.normal(size=(8, 2)),
          "weight_hh_l5000000": rng.normal(size=(8, 2))}
    errors = []

    def load():
        try:
            networks.from_torch(sd, kind="lstm")
        except ValueError as err:
            errors.append(str(err))

    assert _peak_bytes(load) < 2_000_000
    assert errors and "missing layer(s) l1" in errors[0] and len(errors[0]) < 400


@pytest.mark.parametrize("call", [
    lambda: tasks.adding_problem(100_000, 100_000),
    lambda: tasks.copy_task(10_000, 100_000),
    lambda: tasks.longrange_task(10_000, 100_000),
    lambda: tasks.AddingTask(T=10**7).sample(64),
    lambda: generate.make_text(10**12),
    lambda: generate.CharTask("ab" * 100, T=10).sample(10**9),
    lambda: ll.LSTMCell.from_torch({"weight_ih_l0": np.broadcast_to(0.0, (20_000, 20_000)),
                                    "weight_hh_l0": np.zeros((4, 1))}),
], ids=["adding", "copy", "longrange", "task", "make_text", "chars", "interop"])
def test_sizes_from_outside_are_bounded_before_allocating(call):
    errors = []

    def attempt():
        try:
            call()
        except ValueError as err:
            errors.append(str(err))

    assert _peak_bytes(attempt) < 5_000_000
    assert errors and ("at most" in errors[0] or "numbers" in errors[0]), errors


def test_sample_length_is_bounded():
    vocab = generate.Vocabulary("ab")
    model = train.SequenceModel(ll.LSTMCell(2, 2, seed=0), 2, many_to_one=False)
    with pytest.raises(ValueError, match="length must be between 0 and"):
        generate.sample(model, vocab, length=10**12)


@pytest.mark.parametrize("flag, value", [("--T", "100000000"), ("--hidden", "1000000"),
                                         ("--batch", "10000000")])
def test_the_experiments_command_refuses_huge_sizes_with_a_usage_error(flag, value, capsys):
    def attempt():
        with pytest.raises(SystemExit) as info:
            experiments.main(["adding", "--cell", "lstm", "--quick", flag, value])
        assert info.value.code == 2

    assert _peak_bytes(attempt) < 5_000_000
    err = capsys.readouterr().err
    assert "usage:" in err and "numbers" in err and "Traceback" not in err


# ============================================================================ checkers


def _correct_forget_gate(x_t, h_prev, W_xf, W_hf, b_f):
    return 1 / (1 + np.exp(-(W_xf @ x_t + W_hf @ h_prev + b_f)))


def test_editing_result_case_does_not_change_the_checker():
    def wrong(x_t, h_prev, W_xf, W_hf, b_f):
        return np.tanh(W_xf @ x_t + W_hf @ h_prev + b_f)

    result = exercises.check_forget_gate(wrong)
    assert not result and result.case
    for value in result.case.values():   # what a learner trying things out might do
        if isinstance(value, np.ndarray) and value.flags.writeable:
            value[...] = 99.0
    assert exercises.check_forget_gate(_correct_forget_gate)
    crashed = exercises.check_lstm_step(lambda x_t, h_prev, c_prev, params: 1 / 0)
    for value in crashed.case.values():
        if isinstance(value, dict):
            for arr in value.values():
                arr[...] = -5.0
    assert exercises.check_lstm_step(_lstm_step)


def _lstm_step(x_t, h_prev, c_prev, params):
    def gate(L, act):
        return act(params["W_x" + L] @ x_t + params["W_h" + L] @ h_prev + params["b_" + L])

    sig = ll.cells.sigmoid
    f, i, g, o = gate("f", sig), gate("i", sig), gate("g", np.tanh), gate("o", sig)
    c = f * c_prev + i * g
    return o * np.tanh(c), c


def _endless(x_t, h_prev, W_xf, W_hf, b_f):
    while True:
        try:
            pass
        except Exception:  # a learner's catch-all must not swallow the time limit
            pass


def test_a_function_that_never_returns_is_reported_after_the_time_limit():
    before = (signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL))
    result = exercises.check_forget_gate(_endless, time_limit=0.3)
    assert not result and "did not return within 0.3 s" in result.message
    assert "time_limit" in result.message
    assert (signal.getsignal(signal.SIGALRM), signal.getitimer(signal.ITIMER_REAL)) == before


def test_the_time_limit_also_holds_outside_the_main_thread():
    box = {}
    worker = threading.Thread(
        target=lambda: box.update(r=exercises.check_forget_gate(_endless, time_limit=0.3)))
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and "did not return within 0.3 s" in box["r"].message


def test_the_default_time_limit_is_documented_and_adjustable(monkeypatch):
    assert 1 <= exercises.TIME_LIMIT <= 10
    guide = (ROOT / "docs" / "teachers_guide.md").read_text(encoding="utf-8")
    assert f"{exercises.TIME_LIMIT:g} seconds" in guide and "TIME_LIMIT" in guide
    monkeypatch.setattr(exercises, "TIME_LIMIT", 0.2)
    assert "within 0.2 s" in exercises.check_forget_gate(_endless).message
    with pytest.raises(ValueError, match="time_limit"):
        exercises.check_forget_gate(_correct_forget_gate, time_limit=-1)


class OuterTimeout(BaseException):
    """What a test runner's or a kernel's own timeout raises (not an Exception)."""


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OuterTimeout(), SystemExit(3)],
                         ids=["interrupt", "outer timeout", "exit"])
@pytest.mark.parametrize("check", list(exercises.CHECKS.values()),
                         ids=list(exercises.CHECKS))
def test_an_outside_interrupt_passes_through_at_once(check, exc):
    calls = _Calls()

    def fn(*args):
        calls.n += 1
        raise exc

    with pytest.raises(type(exc)):
        check(fn)
    assert calls.n == 1, "the remaining cases must not run"


def test_an_outer_alarm_keeps_its_own_deadline_and_handler():
    def outer(signum, frame):
        raise OuterTimeout

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(OuterTimeout):
            exercises.check_forget_gate(_endless, time_limit=60)
        assert signal.getsignal(signal.SIGALRM) is outer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_real_sigint_stops_the_checker():
    def stopped(*args):
        os.kill(os.getpid(), signal.SIGINT)
        while True:
            pass

    with pytest.raises(KeyboardInterrupt):
        exercises.check_forget_gate(stopped, time_limit=60)


# ============================================================================ slider callbacks


@pytest.fixture
def explorer_factory():
    made = []

    def make(name):
        ex = widgets.EXPLORERS[name]()
        made.append(ex)
        return ex

    yield make
    for ex in made:
        ex.close()
        plt.close(ex.figure)


def _explorer_state(ex):
    return (arrays_of(ex.cell.params), {k: s.value for k, s in ex.sliders.items()},
            {k: c.value for k, c in ex.controls.items() if hasattr(c, "value")},
            ex.trace, ex._snapshot_png())


def _same_explorer(a, b):
    return (same(a[0], b[0]) and a[1] == b[1] and a[2] == b[2] and a[3] is b[3]
            and a[4] == b[4])


MOVES = [("forget", "slider", "b_f", 2.5), ("input", "control", "sequence", "step"),
         ("output", "slider", "b_o", 1.5), ("lstm", "slider", "W_xo", -1.5),
         ("rnn_memory", "control", "scale", 1.3), ("memory_span", "slider", "W_hf", 0.7),
         ("update", "control", "t", 9)]


def _targets(ex):
    """What an explorer update calls: the cell, the maths, the plots and the canvas."""
    found = [(ex.cell, "forward"), (ex, "_update_artists"), (ex, "_draw"),
             (widgets, "input_sequence"), (gradients, "state_jacobians"),
             (widgets, "rnn_input_jacobian_norms")]
    found += [(p, "update") for p in ex.plots.values() if hasattr(p, "update")]
    found += [(p, "set_time") for p in ex.plots.values() if hasattr(p, "set_time")]
    return found


@pytest.mark.parametrize("exc", [Fault("draw failed"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
@pytest.mark.parametrize("name", ["lstm", "rnn_memory"])
def test_a_reset_that_fails_anywhere_leaves_the_explorer_as_it_was(explorer_factory, name, exc):
    ex = explorer_factory(name)
    first = next(iter(ex.sliders.values()))
    first.value = first.value + 0.5
    total = count_calls(_targets(ex), ex.reset)
    first.value = first.value + 0.5
    before = _explorer_state(ex)
    for n in range(1, total + 1):
        with failing(_targets(ex), n, exc):
            if isinstance(exc, Exception):
                ex.reset()
                assert ex.error is exc, n
            else:
                with pytest.raises(KeyboardInterrupt):
                    ex.reset()
        assert _same_explorer(_explorer_state(ex), before), f"call {n} of {total}"


# The explorers built on other models than one cell (the network shapes, the trained character
# model's units, the whole cell diagram, attention): the same sweep over what their update
# calls. chain, gru, variants and training have sweeps of their own, in test_chain,
# test_variant_explorers and test_training_explorer.
OTHER_MOVES = [("shapes", "slider", "T", 7), ("shapes", "control", "shape", "stacked"),
               ("shapes", "slider", "H", 3), ("units", "slider", "clip", 0.5),
               ("units", "control", "unit", 3), ("units", "control", "quantity", "h"),
               ("cell", "slider", "b_f", 1.5), ("attention", "slider", "scale", 2.0),
               ("attention", "control", "t", 2)]
SWEPT_ELSEWHERE = {"chain", "gru", "variants", "training"}


def _other_targets(ex):
    found = [(ex, "_update_artists"), (ex, "_draw")]
    if hasattr(getattr(ex, "cell", None), "forward"):
        found.append((ex.cell, "forward"))
    return found + [(p, "update") for p in ex.plots.values() if hasattr(p, "update")]


def _other_state(ex):
    params = getattr(getattr(ex, "cell", None), "params", None)
    return (None if params is None else arrays_of(params),
            {k: s.value for k, s in ex.sliders.items()},
            {k: c.value for k, c in ex.controls.items() if hasattr(c, "value")},
            ex._snapshot_png())


def _same_other_state(a, b):
    params_same = a[0] is b[0] is None or (a[0] is not None and b[0] is not None
                                           and same(a[0], b[0]))
    return params_same and a[1:] == b[1:]


def test_every_explorer_has_a_fault_sweep():
    swept = {m[0] for m in MOVES} | {m[0] for m in OTHER_MOVES} | SWEPT_ELSEWHERE
    assert swept == set(widgets.EXPLORERS)


@pytest.mark.parametrize("exc", [Fault("plot failed"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
@pytest.mark.parametrize("move", MOVES + OTHER_MOVES,
                         ids=[f"{m[0]}-{m[2]}" for m in MOVES + OTHER_MOVES])
def test_a_move_that_fails_anywhere_leaves_the_explorer_as_it_was(explorer_factory, move, exc):
    name, kind, key, value = move
    ex = explorer_factory(name)
    widget = (ex.sliders if kind == "slider" else ex.controls)[key]
    assert widget.value != value
    start = _explorer_state(ex) if move in MOVES else None

    def do_move():
        widget.value = value

    def reset_is_the_start(state):      # the trace is computed anew, so compared apart
        assert _same_explorer(state[:3] + start[3:], start)

    if move in MOVES:
        sweep_an_explorer_move(ex, lambda: _targets(ex), do_move, exc, _explorer_state,
                               _same_explorer, reset_is_the_start)
    else:
        sweep_an_explorer_move(ex, lambda: _other_targets(ex), do_move, exc, _other_state,
                               _same_other_state)
    do_move()                                   # and the explorer still works afterwards
    assert ex.error is None and widget.value == value


# ============================================================================ files


def test_write_atomic_replaces_whole_files_or_nothing(tmp_path):
    path = tmp_path / "data.json"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o640)
    for n in trace_points(lambda: _atomic.write_atomic(tmp_path / "probe", "new" * 10)):
        path.write_text("old", encoding="utf-8")
        with contextlib.suppress(KeyboardInterrupt), interrupted_at(n):
            _atomic.write_atomic(path, "new" * 10)
        assert path.read_text(encoding="utf-8") in ("old", "new" * 10), n
        leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
        assert not leftovers, (n, leftovers)
    _atomic.write_atomic(path, "fresh")
    assert path.read_text(encoding="utf-8") == "fresh" and path.stat().st_mode & 0o777 == 0o640


_FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
"""


def _run_with_full_disk(script, limit=2000, cwd=None):
    code = textwrap.dedent(_FULL_DISK.format(limit=limit)) + textwrap.dedent(script)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_write_atomic_on_a_full_disk_keeps_the_old_file(tmp_path):
    path = tmp_path / "notebook.ipynb"
    path.write_text("the old notebook", encoding="utf-8")
    proc = _run_with_full_disk(f"""
        from lstm_lab._atomic import write_atomic
        try:
            write_atomic({str(path)!r}, "x" * 100_000)
        except OSError as err:
            print("refused:", err.errno)
    """)
    assert "refused:" in proc.stdout, proc.stderr
    assert path.read_text(encoding="utf-8") == "the old notebook"
    assert [p.name for p in tmp_path.iterdir()] == ["notebook.ipynb"]


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("tool, target", [
    ("freeze_constraints.py", "requirements/constraints.txt"),
    ("manifest.py", "notebooks/MANIFEST.sha256"),
])
def test_the_data_writing_tools_on_a_full_disk_keep_the_old_file(tmp_path, tool, target):
    root = tmp_path / "repo"
    (root / "tools").mkdir(parents=True)
    shutil.copy(ROOT / "tools" / tool, root / "tools" / tool)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    if not (root / target).exists():
        (root / target).write_text("# the old file\n", encoding="utf-8")
    old = (root / target).read_text(encoding="utf-8")
    proc = _run_with_full_disk(f"""
        import runpy
        sys.argv = [{str(root / "tools" / tool)!r}]
        runpy.run_path(sys.argv[0], run_name="__main__")
    """, limit=200, cwd=root)
    assert proc.returncode != 0 and "File too large" in proc.stderr, proc.stderr
    assert (root / target).read_text(encoding="utf-8") == old
    assert not [p for p in (root / target).parent.iterdir() if p.name.endswith(".tmp")]


def _repo_copy(tmp_path):
    """A copy of the tools and notebooks to run them on (the tools find paths from their file)."""
    root = tmp_path / "repo"
    for rel in ("tools", "notebooks"):
        shutil.copytree(ROOT / rel, root / rel, ignore=shutil.ignore_patterns(".*"))
    return root


def _run_tool(root, *args, full_disk=False):
    if full_disk:
        return _run_with_full_disk(f"""
            import runpy
            sys.argv = {[str(root / "tools" / args[0]), *args[1:]]!r}
            try:
                runpy.run_path(sys.argv[0], run_name="__main__")
            except SystemExit as exit:
                sys.exit(exit.code)
        """, limit=20_000, cwd=root)
    return subprocess.run([sys.executable, str(root / "tools" / args[0]), *args[1:]],
                          capture_output=True, text=True, timeout=300, cwd=root)


def _snapshot_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted((root / "notebooks").rglob("*")) if p.is_file()}


def _change_a_solution(root):
    """Edit one solution notebook's markdown so that its student version goes stale."""
    path = sorted((root / "notebooks" / "exercises").glob("[0-9][0-9]_*.ipynb"))[0]
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A new closing remark. " * 1500))
    nbformat.write(nb, path)
    return path


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_make_student_notebooks_on_a_full_disk_leaves_every_file_whole(tmp_path):
    root = _repo_copy(tmp_path)
    solution = _change_a_solution(root)
    before = _snapshot_files(root)
    proc = _run_tool(root, "make_student_notebooks.py", full_disk=True)
    assert proc.returncode != 0 and "File too large" in proc.stderr, proc.stderr
    assert _snapshot_files(root) == before
    proc = _run_tool(root, "make_student_notebooks.py")   # with room again: it goes through
    assert proc.returncode == 0, proc.stderr
    trusted = _run_tool(root, "manifest.py", "--trusted").stdout.split()
    assert f"notebooks/exercises/student/{solution.name}" in trusted, "manifest not updated"


_FAKE_EXECUTE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("ex", {tool!r})
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)
tool.unpinned_packages = lambda: []
tool.STUDENT_MAKER = tool.ROOT / "no such tool"

def execute(path, timeout):   # the kernel's part: a notebook with a long new output
    import nbformat
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("new output " * 5000))
    return nb

tool.execute = execute
sys.exit(tool.main([{notebook!r}]))
"""


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_execute_notebooks_on_a_full_disk_leaves_the_notebook_whole(tmp_path):
    root = _repo_copy(tmp_path)
    notebook = root / "notebooks" / "00_start_here.ipynb"
    before = _snapshot_files(root)
    script = _FAKE_EXECUTE.format(tool=str(root / "tools" / "execute_notebooks.py"),
                                  notebook=str(notebook))
    proc = _run_with_full_disk(script, limit=40_000, cwd=root)
    assert proc.returncode != 0 and "File too large" in proc.stderr, proc.stderr
    assert _snapshot_files(root) == before
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "new output" in notebook.read_text(encoding="utf-8")
    assert _run_tool(root, "manifest.py", "--check").returncode == 0, "manifest not updated"


def test_make_student_notebooks_never_overwrites_or_deletes_what_it_did_not_write(tmp_path):
    root = _repo_copy(tmp_path)
    student = root / "notebooks" / "exercises" / "student"
    solution = _change_a_solution(root)
    edited = student / solution.name
    edited.write_text(edited.read_text(encoding="utf-8").replace(
        "raise NotImplementedError()", "return 42  # my answer", 1), encoding="utf-8")
    foreign = student / "99_from_a_classmate.ipynb"
    foreign.write_text(edited.read_text(encoding="utf-8"), encoding="utf-8")
    kept = {p: p.read_bytes() for p in (edited, foreign)}
    proc = _run_tool(root, "make_student_notebooks.py")
    assert proc.returncode == 1
    for path, data in kept.items():
        assert path.read_bytes() == data
        assert f"left alone: notebooks/exercises/student/{path.name}" in proc.stderr
    # a student notebook the tool wrote itself, whose solution is gone, is removed
    other = sorted(student.glob("[0-9][0-9]_*.ipynb"))[1]
    (root / "notebooks" / "exercises" / other.name).unlink()
    proc = _run_tool(root, "make_student_notebooks.py")
    assert not other.exists() and foreign.exists() and edited.read_bytes() == kept[edited]


def test_the_manifest_matches_the_shipped_notebooks():
    tool = _load_tool("manifest")
    assert tool.read() == tool.compute(), (
        f"notebooks/MANIFEST.sha256 is out of date; run: {tool.COMMAND}")


def _load_tool(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"tool_{name}", ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASH = shutil.which("bash")


@pytest.mark.skipif(BASH is None, reason="needs bash")
def test_tools_lab_trusts_only_what_the_repository_ships(tmp_path):
    root = _repo_copy(tmp_path)
    for rel in ("pyproject.toml", "requirements/constraints.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    (root / "jupyter_config").mkdir()
    dropped = root / "notebooks" / "12_dropped_in.ipynb"
    shutil.copy(root / "notebooks" / "00_start_here.ipynb", dropped)
    changed = root / "notebooks" / "02_forget_gate.ipynb"
    changed.write_text(changed.read_text(encoding="utf-8").replace("forget", "f0rget"),
                       encoding="utf-8")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "jupyter.log"
    (venv / "bin" / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    (venv / "bin" / "jupyter").write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    for exe in ("python", "jupyter"):
        (venv / "bin" / exe).chmod(0o755)
    import hashlib

    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()
                            + (root / "requirements" / "constraints.txt").read_bytes())
    (venv / ".lstm_lab-installed").write_text(f"{digest.hexdigest()} {root}\n")
    proc = subprocess.run([BASH, str(root / "tools" / "lab")], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "VENV": str(venv),
                               "HOME": str(tmp_path)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    trust = next(line for line in log.read_text().splitlines() if line.startswith("trust "))
    trusted = set(trust.split()[1:])
    assert "notebooks/00_start_here.ipynb" in trusted
    assert "notebooks/exercises/student/01_forget_gate.ipynb" in trusted or any(
        "student/" in t for t in trusted)
    assert "notebooks/12_dropped_in.ipynb" not in trusted
    assert "notebooks/02_forget_gate.ipynb" not in trusted
    assert "not trusted" in proc.stderr and "12_dropped_in" in proc.stderr


def test_nothing_here_leaves_sigint_or_sigalrm_changed():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with _atomic.interrupts_deferred():
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    reached = []
    with pytest.raises(KeyboardInterrupt), _atomic.interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        reached.append(True)               # the interrupt waits for the block's end
    assert reached
