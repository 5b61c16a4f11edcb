"""Exercise-checker behaviours mutation testing found unpinned: each test fails on its mutant.

The tolerance (tools/hand_mutants.py: checker_rtol_1000x, checker_atol_1000x), the "right
alone but not together", "look at dc" and "wrong in every case" hints, the explanation of a
(1, H) row output, and the isolation cases' labels against the values they hold.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lstm_lab import exercises as ex


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def forget_gate(x_t, h_prev, W_xf, W_hf, b_f):
    return sig(W_xf @ x_t + W_hf @ h_prev + b_f)


def cell_update(c_prev, f_t, i_t, g_t):
    return f_t * c_prev + i_t * g_t


def endless(*args):
    """A learner's function that never returns."""
    while True:
        pass


def lstm_backward(dh_t, dc_t, cache, dc_scale=1.0, slip=None):
    """The LSTM step's backward; dc_scale != 1 plants an unknown slip in dc, `slip` one of the
    catalogued mistakes, written as a learner would write it (see SLIPS)."""
    P = cache["params"]
    f, i, g, o = (cache[f"{L}_t"] for L in "figo")
    c, tc = cache["c_t"], np.tanh(cache["c_t"])
    dc = dc_scale * (dc_t + dh_t * o * (1 - c**2 if slip == "tanh_grad_c" else 1 - tc**2))
    di, dg = (dc * i, dc * g) if slip == "di_dg_swapped" else (dc * g, dc * i)
    sig = (lambda s: 1 - s**2) if slip == "sig_as_tanh" else (lambda s: s * (1 - s))
    dtanh_g = {"tanh_g missing": 1.0, "tanh_g 1mg": 1 - g, "tanh_g as_sig": g * (1 - g)}
    da = {"f": dc * cache["c_prev"] * sig(f), "i": di * sig(i),
          "g": dg * dtanh_g.get(slip, 1 - g**2), "o": dh_t * tc * sig(o)}
    grads = {"x_t": sum(P[f"W_x{L}"].T @ da[L] for L in "figo"),
             "h_prev": sum(P[f"W_h{L}"].T @ da[L] for L in "figo"), "c_prev": dc * f}
    for L in "figo":
        grads.update({f"W_x{L}": np.outer(da[L], cache["x_t"]),
                      f"W_h{L}": np.outer(da[L], cache["h_prev"]), f"b_{L}": da[L]})
    return grads


# each slip of lstm_backward, and the catalogued mistake (what it plants) it is
SLIPS = {"tanh_grad_c": ((("bwd", "tanh_grad_c"), True),),
         "di_dg_swapped": ((("bwd", "di_dg_swapped"), True),),
         "sig_as_tanh": ((("bwd", "sig_as_tanh"), True),),
         "tanh_g missing": ((("bwd", "tanh_g"), "missing"),),
         "tanh_g 1mg": ((("bwd", "tanh_g"), "1mg"),),
         "tanh_g as_sig": ((("bwd", "tanh_g"), "as_sig"),)}


@pytest.mark.parametrize("slip", list(SLIPS))
def test_a_learners_backward_slip_is_named(slip):
    """Written by hand, not planted through the catalogue's own variant: the variant's maths of
    each mistake must be the learner's."""
    cause = next(m.cause for m in ex._backward_mistakes() if m.changes == SLIPS[slip])
    result = ex.check_lstm_step_backward(lambda *a: lstm_backward(*a, slip=slip))
    assert not result.passed and cause in result.message, result.message


# ----------------------------------------------------------------------------- the tolerance


@pytest.mark.parametrize("off", [1.002, 0.998])
def test_an_answer_two_per_mille_off_does_not_pass(off):
    assert ex.check_forget_gate(forget_gate).passed
    result = ex.check_forget_gate(lambda *args: off * forget_gate(*args))
    assert not result.passed, result.message
    assert not ex.check_cell_update(lambda *args: off * cell_update(*args)).passed


def test_an_absolute_error_of_5e_5_does_not_pass():
    """Near zero only ATOL counts: 1e-7 lets float32 rounding through, not 5e-5."""
    assert not ex.check_cell_update(lambda *args: cell_update(*args) + 5e-5).passed
    float32 = ex.check_cell_update(
        lambda *args: cell_update(*(np.float32(a) for a in args)).astype(np.float64))
    assert float32.passed, float32.message


def test_backward_two_per_mille_off_does_not_pass():
    assert ex.check_lstm_step_backward(lstm_backward).passed
    result = ex.check_lstm_step_backward(lambda *a: {k: 1.002 * v
                                                     for k, v in lstm_backward(*a).items()})
    assert not result.passed


# ----------------------------------------------------------------------------- the hints


def test_each_term_right_alone_but_not_together_is_said():
    def gate(x_t, h_prev, W_xf, W_hf, b_f):      # each term squashed on its own, then summed
        return sig(W_xf @ x_t) + sig(W_hf @ h_prev) + sig(b_f) - 1.0

    result = ex.check_forget_gate(gate)
    assert not result.passed
    assert "None of the usual mistakes" in result.message
    for short in ("only the bias acts", "only the input acts",
                  "only the previous hidden state acts"):
        assert f"Right when {short}" in result.message, short
    assert ("Each term is right on its own but not together: the three terms are added inside "
            "the sigmoid.") in result.message

    def update(c_prev, f_t, i_t, g_t):            # the larger product instead of the sum
        a, b = f_t * c_prev, i_t * g_t
        return np.where(np.abs(a) > np.abs(b), a, b)

    result = ex.check_cell_update(update)
    assert "Each term is right on its own but not together: c_t is their sum." in result.message


def test_look_at_dc_when_only_the_output_gate_gradients_are_right():
    result = ex.check_lstm_step_backward(lambda *a: lstm_backward(*a, dc_scale=1.5))
    assert not result.passed
    assert "None of the usual mistakes" in result.message
    assert ("The output gate's gradients are right and those of f, i, g are not: look at dc, "
            + ex._DC_EQ + ".") in result.message
    wrong = re.search(r"Wrong: ([^.]*)\. Right: ([^.]*)\.", result.message)
    assert wrong and "W_xo" in wrong.group(2) and "W_xf" in wrong.group(1), result.message


def test_wrong_in_every_case_names_what_the_cases_share_on_the_cell_update():
    result = ex.check_cell_update(lambda *args: cell_update(*args) + 0.1)
    assert not result.passed
    assert ("It is wrong in every case, even when only one part acts, so look first at what "
            "every case shares: how the two products are formed and added.") in result.message
    assert "Wrong when the forget gate is open" not in result.message


def test_a_row_output_is_explained():
    result = ex.check_forget_gate(lambda *args: forget_gate(*args)[None, :])
    assert not result.passed
    assert "got shape (1, 4), a row matrix" in result.message, result.message
    assert "Vectors are 1-D here" in result.message
    assert "The values themselves are right; only the shape is wrong." in result.message
    column = ex.check_forget_gate(lambda *args: forget_gate(*args)[:, None])
    assert "got shape (4, 1), a column matrix" in column.message


# ----------------------------------------------------------------------------- the case labels


def _label_values(label):
    """{'f_t': 1.0, 'i_t': 0.0} from a label '... (f_t = 1, i_t = 0): ...'."""
    return {name: float(v) for name, v in re.findall(r"\b([a-z]_t) = (\d)\b", label)}


@pytest.mark.parametrize("make", [ex._cell_update_exercise, ex._hidden_state_exercise],
                         ids=["cell_update", "hidden"])
def test_case_labels_hold_the_gate_values_they_state(make):
    exercise = make()
    stated = 0
    for case in exercise.cases:
        for name, value in _label_values(case.label).items():
            stated += 1
            np.testing.assert_array_equal(case.args[name], np.full(exercise.H, value),
                                          err_msg=case.label)
        if "|c_t| > 2" in case.label:
            stated += 1
            assert np.all(np.abs(case.args["c_t"]) > 2), case.label
    assert stated >= {"check_cell_update": 4, "check_hidden_state": 2}[exercise.name]


def test_labels_say_what_the_states_do():
    """'c_t keeps c_{t-1}' and 'c_t takes g_t' and 'h_t = tanh(c_t)' hold exactly."""
    for case in ex._cell_update_exercise().cases:
        if "c_t keeps c_{t-1}" in case.label:
            np.testing.assert_array_equal(case.expected, case.args["c_prev"])
        if "c_t takes g_t" in case.label:
            np.testing.assert_array_equal(case.expected, case.args["g_t"])
    for case in ex._hidden_state_exercise().cases:
        if "h_t = tanh(c_t)" in case.label:
            np.testing.assert_allclose(case.expected, np.tanh(case.args["c_t"]), rtol=1e-15)


# ------------------------------------------------------------------------- grade and time limits


def test_grade_keeps_one_verdict_per_exercise_for_the_same_function():
    """A sigmoid gate is right as the forget gate and wrong as the candidate (tanh): grading
    the one function on both must not reuse the first verdict (exercises._graded_run's key)."""
    def gate(x_t, h_prev, W_x, W_h, b):
        return sig(W_x @ x_t + W_h @ h_prev + b)

    with contextlib.redirect_stdout(io.StringIO()):
        ex.grade("forget_gate", gate, 1)
    with pytest.raises(ex.GradingFailure, match="uses the sigmoid where tanh belongs"):
        ex.grade("candidate", gate, 1)


@pytest.mark.parametrize("name", list(ex.CHECKS))
def test_every_check_passes_its_time_limit_on(name):
    result = ex.CHECKS[name](endless, time_limit=0.1)
    assert "did not return within 0.1 s" in result.message, result.message


# ------------------------------------------------------------------- the time limit's two paths


def test_an_outer_timer_is_given_back_with_its_time_left_and_interval():
    """A timer someone else set (a test runner's, a kernel's) that is due after the call keeps
    its deadline, its repeat interval and its handler, however soon it is due."""
    fired = []

    def outer(signum, frame):
        fired.append(signum)

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        for delay in (60.0, 0.5):
            signal.setitimer(signal.ITIMER_REAL, delay, 7.0)
            started = time.monotonic()
            assert ex._run_limited(lambda a: a + 1, [41], 5.0) == 42
            left, interval = signal.getitimer(signal.ITIMER_REAL)
            assert interval == pytest.approx(7.0)
            assert abs(left - (delay - (time.monotonic() - started))) < 0.2, (delay, left)
            assert signal.getsignal(signal.SIGALRM) is outer
        signal.setitimer(signal.ITIMER_REAL, 60.0, 7.0)     # and through a whole check
        assert ex.check_forget_gate(forget_gate).passed
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 50.0
        assert signal.getitimer(signal.ITIMER_REAL)[1] == pytest.approx(7.0)
        assert not fired and signal.getsignal(signal.SIGALRM) is outer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_outer_timer_due_first_fires_at_its_own_deadline():
    """Due before the time limit, the outer timer fires when it is due, not at the limit."""
    class OuterTimeout(BaseException):
        pass

    def outer(signum, frame):
        raise OuterTimeout

    previous = signal.signal(signal.SIGALRM, outer)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        started = time.monotonic()
        with pytest.raises(OuterTimeout):
            ex.check_forget_gate(endless, time_limit=60)
        assert time.monotonic() - started < 30, "it waited for the 60 s limit"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_an_alarm_after_the_function_returned_is_ignored(monkeypatch):
    """The time limit's signal can arrive once the learner's function has returned, before the
    timer is disarmed: the answer stands, it is not turned into a time-out."""
    disarm, clock = signal.setitimer, time.monotonic

    def late_alarm_then_disarm(which, seconds, *interval):
        handler = signal.getsignal(signal.SIGALRM)
        if seconds == 0 and callable(handler):     # an hour after the deadline
            with monkeypatch.context() as m:
                m.setattr(time, "monotonic", lambda: clock() + 3600.0)
                handler(signal.SIGALRM, None)
        return disarm(which, seconds, *interval)

    monkeypatch.setattr(signal, "setitimer", late_alarm_then_disarm)
    assert ex._run_limited(lambda: 42, [], 5.0) == 42


@pytest.mark.parametrize("limit", [0, -1, math.inf, math.nan, True, "1", [1]],
                         ids=["zero", "negative", "inf", "nan", "True", "a string", "a list"])
def test_a_time_limit_must_be_a_positive_finite_number(limit):
    with pytest.raises(ValueError, match=re.escape(
            f"time_limit must be a positive number of seconds; got {limit!r}")):
        ex.check_forget_gate(forget_gate, time_limit=limit)


def test_the_time_limit_given_is_the_one_kept(monkeypatch):
    """time_limit=0.2 stops the function after 0.2 s, not after the default TIME_LIMIT."""
    monkeypatch.setattr(ex, "TIME_LIMIT", 60.0)
    started = time.monotonic()
    assert "did not return within 0.2 s" in ex.check_forget_gate(endless, time_limit=0.2).message
    assert time.monotonic() - started < 30, "it waited for the default limit"


def test_a_limit_under_a_second_is_kept_and_kept_again_when_caught():
    """The first stop comes at the limit, 0.2 s, and the next one 50 ms after a learner's bare
    `except:` swallows it. Measured as the CPU time the loops got, which cannot exceed the wall
    time they ran: it cannot fail on a machine that is merely slow."""
    spent = {}

    def stubborn(*args):
        start = time.thread_time()
        try:
            while True:
                spent["to the first stop"] = time.thread_time() - start
        except BaseException:   # a bare `except:` in the learner's code
            pass
        start = time.thread_time()
        while True:
            spent["to the next"] = time.thread_time() - start

    assert "did not return within 0.2 s" in ex.check_forget_gate(stubborn, time_limit=0.2).message
    assert spent["to the first stop"] < 0.6 and spent.get("to the next", 0) < 0.6, spent


def _alone(name):
    return not any(t.name == name for t in threading.enumerate())


def test_off_the_main_thread_the_learner_runs_in_a_daemon_thread_stopped_at_the_limit():
    """No SIGALRM off the main thread: the learner's function runs in a daemon thread of its
    own, with numpy's floating-point warnings off as on the main thread, and is made to stop
    when its time is up, by an exception that is not an Exception."""
    seen, stop = [], threading.Event()

    def catches_all(*args):
        me = threading.current_thread()
        seen.append((me.name, me.daemon, np.geterr()))
        while not stop.is_set():
            try:                # every point where the request to stop can land is in here
                while not stop.is_set():
                    pass
            except Exception:   # a learner's catch-all must not swallow it
                pass

    box = {}
    try:
        in_main = ex.check_forget_gate(catches_all, time_limit=0.2)
        assert "did not return within 0.2 s" in in_main.message
        worker = threading.Thread(target=lambda: box.update(
            r=ex.check_forget_gate(catches_all, time_limit=0.2)))
        worker.start()
        worker.join(30)
        assert "did not return within 0.2 s" in box["r"].message
        quiet = dict.fromkeys(("divide", "over", "under", "invalid"), "ignore")
        assert seen == [(threading.main_thread().name, False, quiet),
                        ("learner function", True, quiet)]
        deadline = time.monotonic() + 10
        while not _alone("learner function") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _alone("learner function"), "the abandoned function is still running"
    finally:
        stop.set()


def test_off_the_main_thread_the_learners_error_is_reported():
    class LearnerError(Exception):
        pass

    def fails(*args):
        raise LearnerError("my own message")

    box = {}
    worker = threading.Thread(target=lambda: box.update(r=ex.check_forget_gate(fails)))
    worker.start()
    worker.join(30)
    assert "LearnerError: my own message" in box["r"].message, box["r"].message


# ------------------------------------------------------------------------ what a result holds


def test_a_function_called_instead_of_passed_is_named_by_what_it_returned():
    result = ex.check_forget_gate(forget_gate(np.zeros(3), np.zeros(4), np.zeros((4, 3)),
                                              np.zeros((4, 4)), np.zeros(4)))
    assert not result.passed
    assert "it got a ndarray. Pass the name without calling it" in result.message, result.message


def test_the_shape_error_marker_says_what_it_is_in_a_debugger():
    assert repr(ex._SHAPE_ERROR) == "<shape error>"


def test_a_failed_pair_keeps_a_copy_of_the_expected_pair():
    result = ex.check_lstm_step(lambda *args: (np.zeros(4), np.zeros(4)))
    assert not result.passed
    h, c = result.case["expected"]
    case = next(k for k in ex._EXERCISES["lstm_step"]().cases
                if np.array_equal(k.args["x_t"], result.case["x_t"]))
    np.testing.assert_array_equal(h, case.expected[0])
    np.testing.assert_array_equal(c, case.expected[1])


# --------------------------------------------------------------- the hints' reading of an answer


def test_the_right_values_in_a_column_are_recognised_to_the_checkers_tolerance():
    """"The values themselves are right" uses the tolerance that passes an answer: ATOL where a
    value is near zero."""
    e = ex._EXERCISES["candidate"]()
    case = min(e.cases, key=lambda k: np.min(np.abs(k.expected)))
    near = case.expected + 0.8 * ex.ATOL
    assert ex._close(near, case.expected)
    _, problem = ex._normalise(e, case, near[:, None])
    assert "The values themselves are right" in problem, problem


def test_a_transposed_gradient_is_recognised_to_the_checkers_tolerance():
    e = ex._EXERCISES["lstm_step_backward"]()
    case, k = min(((c, k) for c in e.cases for k, v in c.expected.items()
                   if v.ndim == 2 and v.shape[0] != v.shape[1]),
                  key=lambda ck: np.min(np.abs(ck[0].expected[ck[1]])))
    near = case.expected[k] + 0.8 * ex.ATOL
    assert ex._close(near, case.expected[k])
    _, problem = ex._normalise_grads({**case.expected, k: near.T}, case.expected)
    assert f"returned the gradient of {k} transposed" in problem, problem


@pytest.mark.parametrize("name", ["lstm_step_backward", "rnn_bptt", "lstm_bptt"])
def test_only_a_leading_d_marks_a_gradient(name):
    e = ex._EXERCISES[name]()
    marked = lambda *a: {"\u2202" + k: v for k, v in e.variant({}, *a).items()}  # noqa: E731
    result = ex.CHECKS[name](marked)
    assert not result.passed and "returned no gradient for" in result.message, result.message
    assert ex.CHECKS[name](lambda *a: {"d" + k: v for k, v in e.variant({}, *a).items()})


@pytest.mark.parametrize("part", ["W", "b"])
def test_one_gates_weight_or_bias_gradients_alone_wrong_are_placed(part):
    """Only W_*f wrong (db_f = da_f right): look at the outer products; only db_f wrong: at df.
    Either way not "every parameter gradient is right"."""
    keys = {"W": ("W_xf", "W_hf"), "b": ("b_f",)}[part]

    def learner(*a):
        return {k: 2.0 * v if k in keys else v for k, v in lstm_backward(*a).items()}

    result = ex.check_lstm_step_backward(learner)
    assert not result.passed and "Every parameter gradient is right" not in result.message
    if part == "W":
        assert ("Only gate f's weight gradients are wrong, and b_f's, which is da_f itself, is "
                "right: look at how da_f meets the inputs") in result.message, result.message
        got, want = result.case["got"]["W_xf"], result.case["expected"]["W_xf"]
        assert (f"dW_xf: largest difference {np.max(np.abs(got - want)):.4f}"
                in result.message), result.message
        assert result.message.count("largest difference") == 1, "one matrix is enough"
    else:
        assert ("Only gate f's gradients are wrong: look at df and its local derivative."
                in result.message), result.message


# ------------------------------------------------------------------------ the words students read

# What the exercises tell a learner, word for word. DIAGNOSES holds every exercise's equations,
# case labels, hints and each catalogued mistake's cause and where to look; MESSAGES holds what
# each checker, grade() and demonstrate() say about a set of learner functions that reaches
# every kind of message (right, one and two catalogued mistakes, an unknown slip, a row, an
# input changed in place, errors, bad return values, a time-out). The other tests check that a
# message names the right thing; these pin the words, so that a changed message shows up as a
# reviewed change to the fixture. After a deliberate change, rewrite both with:
#     python tests/test_mutants_exercises.py
DIAGNOSES = Path(__file__).parent / "fixtures" / "diagnoses.json"
MESSAGES = Path(__file__).parent / "fixtures" / "checker_messages.json"
# a printed number; it is compared to a tolerance, since the learner functions here use BLAS
NUMBER = re.compile(r"(-?\d+\.\d*(?:e[+-]?\d+)?|-?\d+e[+-]?\d+)")


def what_the_exercises_say():
    """Every exercise's words, as plain data, by exercise name."""
    from test_exercises import EXERCISES

    said = {}
    for name, make in EXERCISES.items():
        e = make()
        said[name] = {
            "name": e.name, "call": e.call, "result": e.result, "equation": e.equation,
            "together": e.together, "shared": e.shared,
            "cases": [case.label for case in e.cases],
            "mistakes": [{"plants": repr(m.changes), "cause": m.cause, "look at": m.look_at}
                         for m in e.mistakes],
        }
    return said


def _scaled(value, k):
    if isinstance(value, dict):
        return {key: _scaled(v, k) for key, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_scaled(v, k) for v in value)
    return value * k


def _misshapen(e):
    """(label, change) pairs: the right numbers returned in a wrong form, for e's kind of result."""
    if e.kind == "vector":
        yield "a row", lambda v: v.reshape(1, -1)
        yield "a column", lambda v: v.reshape(-1, 1)
        yield "a matrix", lambda v: v[:, None] + 0 * v[None, :]
        yield "D values", lambda v: v[:e.D]
        yield "a ragged list", lambda v: [v[0], list(v[1:])]
        yield "a list holding a ragged list", lambda v: [[v[0], list(v[1:])]]
    elif e.kind == "pair":
        yield "h_t as a row", lambda v: (v[0].reshape(1, -1), v[1])
        yield "c_t as a column", lambda v: (v[0], v[1].reshape(-1, 1))
        yield "three values", lambda v: (*v, v[0])
        yield "a pair of numbers", lambda v: (0.5, 0.5)
        yield "h_t is None", lambda v: (None, v[1])
        yield "one array", lambda v: np.concatenate(v)
        yield "a stacked array", lambda v: np.stack(v)       # (2, H): read as the pair
        yield "NaN in h_t", lambda v: (v[0] * np.nan, v[1])
    else:                                   # a dict of arrays
        first = next(iter(e.variant({}, *e.cases[0].args.values())))
        weight = next((k for k in e.variant({}, *e.cases[0].args.values()) if k[:2] == "W_"),
                      first)
        names = {"x_t": "dx", "h_prev": "dh_prev", "c_prev": "dc"}
        yield "keys with a d", lambda v: {names.get(k, "d" + k): x for k, x in v.items()}
        yield "a key missing", lambda v: {k: x for k, x in v.items() if k != first}
        yield "a weight transposed", lambda v: {**v, weight: v[weight].T}
        vector = next((k for k, x in e.variant({}, *e.cases[0].args.values()).items()
                       if np.ndim(x) == 1), None)
        if vector is not None:
            yield "a vector as a column", lambda v: {**v, vector: v[vector][:, None]}
        yield "an extra axis", lambda v: {**v, first: v[first][None]}
        yield "a string", lambda v: {**v, first: "oops"}
        yield "NaN", lambda v: {**v, first: v[first] * np.nan}
        yield "a list", lambda v: list(v.values())
        if e.kind == "sequence":
            yield "batch first", lambda v: {k: np.swapaxes(x, 0, 1) for k, x in v.items()}
            yield "the last step only", lambda v: {k: x[-1] for k, x in v.items()}


def _some_zero(args):
    return any(isinstance(a, np.ndarray) and a.size and not a.any() for a in args)


def _partly_wrong(e, right):
    """(label, learner) pairs wrong on some cases or in some parts of the result only."""
    slip = lambda *args: _scaled(right(*args), 1.37)                        # noqa: E731
    yield "right alone, wrong together", lambda *a: (right if _some_zero(a) else slip)(*a)
    yield "wrong alone, right together", lambda *a: (slip if _some_zero(a) else right)(*a)
    calls = []

    def raises_on_some(*args):
        calls.append(1)
        if len(calls) % 2:
            raise ValueError("shapes (4,3) and (4,) not aligned")
        return slip(*args)

    yield "a shape error on some cases", raises_on_some
    if any(isinstance(a, dict) for a in e.cases[0].args.values()):
        yield "a wrong key", lambda *a: next(v for v in a if isinstance(v, dict))["Wf"]
    if e.kind == "pair":
        yield "h_t wrong, c_t right", lambda *a: (1.37 * right(*a)[0], right(*a)[1])
    if e.kind in ("grads", "bptt"):
        keys = list(e.cases[0].expected)
        first_input = next(k for k in keys if k[:2] not in ("W_", "b_"))
        gate = next(k for k in keys if k[:2] == "W_")[-1]
        gate_keys = {k for k in keys if k[:2] in ("W_", "b_") and k[-1] == gate}
        yield "an input's gradient off", lambda *a: {
            k: 1.37 * v if k == first_input else v for k, v in right(*a).items()}
        yield "one gate's gradients off", lambda *a: {
            k: 1.37 * v if k in gate_keys else v for k, v in right(*a).items()}


def learners(e):
    """(label, learner function, time limit) for exercise e, reaching every kind of message."""
    from test_exercises import BROKEN

    def planted(*changes):
        cfg = {slot: value for m in changes for slot, value in m.changes}
        return lambda *args: e.variant(cfg, *args)

    right = planted()

    def changes_its_input(*args):
        out = right(*args)
        next(a for a in args if isinstance(a, np.ndarray))[...] += 1.0
        return out

    def changes_two_inputs(*args):
        out = right(*args)
        for a in [a for a in args if isinstance(a, np.ndarray)][:2]:
            a[...] += 1.0
        return out

    def own_shape_error(*args):
        raise ValueError("operands could not be broadcast together with shapes (4,) (3,)")

    def not_written_yet(*args):
        raise NotImplementedError

    yield "not written yet", not_written_yet, None
    yield "right", right, None
    yield "mistake 0", planted(e.mistakes[0]), None
    yield "mistake 1", planted(e.mistakes[1]), None
    yield "mistakes 0 and 2", planted(e.mistakes[0], e.mistakes[2]), None
    yield "an unknown slip", lambda *args: _scaled(right(*args), 1.37), None
    for label, change in _misshapen(e):
        yield label, (lambda *args, change=change: change(right(*args))), None
    yield "changes its input", changes_its_input, None
    if sum(isinstance(a, np.ndarray) for a in e.cases[0].args.values()) > 1:
        yield "changes two inputs", changes_two_inputs, None
    yield "a shape error", own_shape_error, None
    for label, fn in _partly_wrong(e, right):
        yield label, fn, None
    if e.name == "check_forget_gate":
        yield "never returns", endless, 0.2
    for label, (fn, _) in BROKEN.items():
        yield label, fn, None


def _case_keys(result):
    return None if result.case is None else ", ".join(sorted(result.case))


def what_the_checkers_say():
    """{check name: {learner label: message}}, with grade() and demonstrate() beside them."""
    said = {}
    for name, check in ex.CHECKS.items():
        e = ex._EXERCISES[name]()
        out = said[name] = {}
        for label, fn, limit in learners(e):
            result = check(fn, time_limit=limit) if limit else check(fn)
            error = (result.case or {}).get("error") if isinstance(result.case, dict) else None
            out[label] = (f"passed: {result.passed}; case: {_case_keys(result)}; error: {error}\n"
                          + result.message)
            if label in ("right", "mistake 0"):
                out[label + ", html"] = result._repr_html_()
        wrong = dict((label, fn) for label, fn, _ in learners(e))["mistake 0"]
        shown = ex.demonstrate(name, wrong)
        out["demonstrate"] = repr(shown)
        out["demonstrate, html"] = shown._repr_html_()
        for part in range(1, len(ex.parts(name)) + 1):
            try:
                with contextlib.redirect_stdout(io.StringIO()) as printed:
                    ex.grade(name, wrong, part)
                out[f"grade part {part}"] = printed.getvalue()
            except ex.GradingFailure as failure:
                out[f"grade part {part}"] = str(failure)
    return said


def same_words(got, want):
    """Equal text, and numbers equal to the printed precision.

    A line naming mutmut's trampoline as the learner's line is dropped: under mutmut every call
    into lstm_lab.exercises passes through it, so a learner function called with the wrong
    number of arguments fails there instead of at a line of ours.
    """
    got = re.sub(r"\n +in trampoline: [^\n]*", "", got)
    g, w = NUMBER.split(got), NUMBER.split(want)
    if len(g) != len(w) or g[::2] != w[::2]:
        return False
    return all(len(a) == len(b) and np.isclose(float(a), float(b), rtol=2e-3, atol=1e-9)
               for a, b in zip(g[1::2], w[1::2], strict=True))


def test_every_diagnosis_says_what_was_reviewed():
    want = json.loads(DIAGNOSES.read_text(encoding="utf-8"))
    got = what_the_exercises_say()
    assert list(got) == list(want)
    for name in want:
        for key in want[name]:
            assert got[name][key] == want[name][key], f"{name}: {key}"


def test_every_checker_message_says_what_was_reviewed():
    assert_says_what_was_reviewed(what_the_checkers_say())


def test_checkers_say_the_same_outside_the_main_thread():
    """Off the main thread there is no SIGALRM: the learner's function runs in a thread of its
    own, whose value, error and time-out are handed back the same way."""
    box = {}
    worker = threading.Thread(target=lambda: box.update(said=what_the_checkers_say()))
    worker.start()
    worker.join(300)
    assert not worker.is_alive() and "said" in box
    assert_says_what_was_reviewed(box["said"])


def assert_says_what_was_reviewed(got):
    want = json.loads(MESSAGES.read_text(encoding="utf-8"))
    assert list(got) == list(want)
    for name in want:
        assert list(got[name]) == list(want[name]), name
        for label, message in want[name].items():
            assert same_words(got[name][label], message), (
                f"{name}, {label}:\n--- got\n{got[name][label]}\n--- reviewed\n{message}")


def test_same_words_allows_only_the_last_printed_digit():
    assert same_words("h_t = [0.1234 -0.5] at t = 3", "h_t = [0.1235 -0.5] at t = 3")
    assert not same_words("h_t = [0.1234 -0.5]", "h_t = [0.1334 -0.5]")
    assert not same_words("h_t = [0.1234 -0.5]", "h_t = [0.12345 -0.5]")
    assert not same_words("h_t = [0.1234]", "c_t = [0.1234]")
    assert not same_words("t = 3", "t = 4")
    assert same_words("TypeError: f\n    in trampoline: return orig_func()\nIt was",
                      "TypeError: f\nIt was")


if __name__ == "__main__":
    for path, said in ((DIAGNOSES, what_the_exercises_say()), (MESSAGES, what_the_checkers_say())):
        path.write_text(json.dumps(said, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote tests/fixtures/{path.name}")
