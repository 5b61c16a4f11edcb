"""Classroom checkers: run a learner's gate, step or backward function and say what is wrong.

Each ``check_*`` function calls the learner's function on a handful of cases chosen to isolate
one term at a time (zero input, zero state, only the bias; D != H so that a transposed weight
shows; random cases) and compares it with the package's own cells. When the answer is wrong,
it replays well-known mistakes -- "what would a learner who used tanh here get?" -- and names
the one that reproduces the learner's numbers, with the equation to look at and one failing
case. A checker never raises because the learner's code is wrong, badly shaped, crashing or
endless: it reports that in the returned `CheckResult`. Each call of the learner's function
runs under a time limit, ``TIME_LIMIT`` seconds (5 unless changed; ``check_*(fn,
time_limit=20)`` for one check); a function that does not return by then is reported as "did
not return within 5 s". An interrupt from outside (Stop, Ctrl-C, a test runner's timeout)
is never caught: it stops the checker at once.

The functions a learner writes (vectors are 1-D, (H,); matrices (H, D); names as in the
symbol table)::

    check_forget_gate(fn)      fn(x_t, h_prev, W_xf, W_hf, b_f) -> f_t       (H,)
    check_input_gate(fn)       fn(x_t, h_prev, W_xi, W_hi, b_i) -> i_t       (H,)
    check_candidate(fn)        fn(x_t, h_prev, W_xg, W_hg, b_g) -> g_t       (H,)
    check_output_gate(fn)      fn(x_t, h_prev, W_xo, W_ho, b_o) -> o_t       (H,)
    check_cell_update(fn)      fn(c_prev, f_t, i_t, g_t)        -> c_t       (H,)
    check_hidden_state(fn)     fn(o_t, c_t)                     -> h_t       (H,)
    check_lstm_step(fn)        fn(x_t, h_prev, c_prev, params)  -> (h_t, c_t)
    check_gru_step(fn)         fn(x_t, h_prev, params)          -> h_t  (reset before W_hg)
    check_lstm_step_backward(fn)  fn(dh_t, dc_t, cache)         -> dict of gradients
    check_gru_step_reset_after(fn)  fn(x_t, h_prev, params)     -> h_t  (reset after W_hg)
    check_lstm_forward(fn)     fn(x, h0, c0, params)  -> dict 'h', 'c', 'f', 'i', 'g', 'o' (T, B, H)
    check_rnn_bptt(fn)         fn(x, h0, params, dh)  -> dict of gradients (BPTT, vanilla RNN)
    check_lstm_bptt(fn)        fn(x, h0, c0, params, dh) -> dict of gradients (BPTT, LSTM)

For nbgrader, ``grade(name, fn, part)`` grades one part of an exercise in a test cell (see
the end of this module and docs/teachers_guide.md).

>>> def forget_gate(x_t, h_prev, W_xf, W_hf, b_f):
...     return 1 / (1 + np.exp(-(W_xf @ x_t + W_hf @ h_prev + b_f)))
>>> check_forget_gate(forget_gate)
CheckResult(passed=True)
check_forget_gate: passed. ...
>>> def forget_gate(x_t, h_prev, W_xf, W_hf, b_f):        # tanh where the sigmoid belongs
...     return np.tanh(W_xf @ x_t + W_hf @ h_prev + b_f)
>>> result = check_forget_gate(forget_gate)
>>> bool(result), 'uses tanh where the sigmoid belongs' in result.message
(False, True)
"""

from __future__ import annotations

import ctypes
import html
import itertools
import math
import re
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from .cells import GRUCell, LSTMCell, RNNCell, sigmoid
from .gradcheck import numeric_gradient
from .symbols import ACTIVATION_OF, NAMES

__all__ = [
    "CHECKS", "CheckResult", "check_candidate", "check_cell_update", "check_forget_gate",
    "check_gru_step", "check_hidden_state", "check_input_gate", "check_lstm_step",
    "check_lstm_step_backward", "check_output_gate", "lstm_step_cache", "TIME_LIMIT",
]

TIME_LIMIT = 5.0
"""Seconds each call of a learner's function may take before the checker gives up on it."""

RTOL, ATOL = 1e-5, 1e-7          # float32 arithmetic in a learner's code still passes
_BIG = 40.0                      # sigmoid(+-40) is exactly 1 / 0 in float64: gate open / shut


# ============================================================================ the result


class CheckResult:
    """What a checker found: ``passed`` (bool; the result is truthy when passed) and ``message``.

    In a notebook it shows as a green (passed) or red box; ``str()`` gives the message alone.
    ``case`` holds every input of the failing case shown in the message, with ``expected``
    and ``got`` (empty when passed), so the learner can rerun their function on it.

    >>> r = CheckResult(False, "check_x: not right yet.\\nWhat is wrong: the bias is missing.")
    >>> bool(r), str(r).splitlines()[1]
    (False, 'What is wrong: the bias is missing.')
    """

    def __init__(self, passed, message, case=None):
        self.passed = bool(passed)
        self.message = str(message)
        self.case = dict(case or {})

    def __bool__(self):
        return self.passed

    def __str__(self):
        return self.message

    def __repr__(self):
        return f"CheckResult(passed={self.passed})\n{self.message}"

    def _repr_html_(self):
        edge, back = ("#2e7d32", "#e8f5e9") if self.passed else ("#c62828", "#ffebee")
        head, _, rest = self.message.partition("\n")
        body = ('<pre style="margin:6px 0 0 0; white-space:pre-wrap; background:transparent; '
                f'color:inherit; font-size:0.95em">{html.escape(rest)}</pre>') if rest else ""
        return (f'<div style="border-left:6px solid {edge}; background:{back}; color:#1b1b1b; '
                f'padding:6px 10px; margin:4px 0"><b>{html.escape(head)}</b>{body}</div>')


# ============================================================================ running learner code


class _ShapeError:
    """Marks a call that raised a shape mismatch (as a transposed weight does when D != H)."""

    def __repr__(self):
        return "<shape error>"


_SHAPE_ERROR = _ShapeError()
_SHAPE_WORDS = ("shape", "mismatch", "align", "broadcast", "dimension")


def _is_shape_error(err):
    return isinstance(err, ValueError) and any(w in str(err).lower() for w in _SHAPE_WORDS)


def _copy(value):
    """A deep copy of arrays, dicts, tuples and lists of them (other values are shared)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_copy(v) for v in value)
    return value


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return True


@dataclass
class _Outcome:
    """One call of the learner's function: what it returned or raised, and what it modified."""

    value: object = None
    error: Exception | None = None
    where: str = ""                       # "in fn_name: source line" of the learner's failing line
    mutated: list = field(default_factory=list)
    timed_out: bool = False


class _TimeUp(BaseException):
    """Raised inside the learner's function when its time is up. Not an Exception, so that the
    learner's own `except Exception:` does not swallow it."""


def _time_limit(value):
    """The time limit to use: `value`, or TIME_LIMIT when it is None; a positive finite number."""
    limit = TIME_LIMIT if value is None else value
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not (
            0 < limit < math.inf):
        raise ValueError(f"time_limit must be a positive number of seconds; got {limit!r}")
    return float(limit)


def _run_limited(fn, args, limit):
    """fn(*args), raising _TimeUp if it has not returned after `limit` seconds.

    In the main thread (a Jupyter kernel runs cells there) a SIGALRM timer interrupts the call
    at its next Python bytecode, and keeps interrupting every 50 ms in case the function catches
    it; a timer set by someone else (a test runner's timeout) keeps its own deadline and its
    own handler. Where signals are not available (Windows, other threads) the call runs in a
    helper thread that is abandoned, and asked to stop, when the time is up.
    """
    if (hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) is not None):  # None: a handler set from C
        return _run_with_alarm(fn, args, limit)
    return _run_in_thread(fn, args, limit)


def _run_with_alarm(fn, args, limit):
    start = time.monotonic()
    deadline = start + limit
    outer_handler = signal.getsignal(signal.SIGALRM)
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    outer_deadline = start + outer_delay if outer_delay > 0 else math.inf
    state = {"active": True, "outer_fired": False}

    def on_alarm(signum, frame):
        if not state["active"]:
            return
        now = time.monotonic()
        if now >= outer_deadline and not state["outer_fired"]:
            state["outer_fired"] = True   # the outer timer's moment: its handler decides
            if callable(outer_handler):
                outer_handler(signum, frame)
            elif outer_handler == signal.SIG_DFL:   # what the alarm would have done
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
                signal.raise_signal(signal.SIGALRM)
            return
        if now >= deadline:
            raise _TimeUp

    try:
        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(min(limit, outer_delay or limit), 1e-6), 0.05)
        try:
            return fn(*args)
        finally:
            state["active"] = False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_delay > 0 and not state["outer_fired"]:   # give the outer timer back
            left = max(outer_deadline - time.monotonic(), 1e-6)
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


def _run_in_thread(fn, args, limit):
    box = {}

    def target():
        with np.errstate(all="ignore"):
            try:
                box["value"] = fn(*args)
            except BaseException as err:  # handed back to the caller's thread just below
                box["error"] = err

    worker = threading.Thread(target=target, name="learner function", daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():  # ask it to stop at its next bytecode; it is abandoned either way
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(worker.ident),
                                                   ctypes.py_object(_TimeUp))
        raise _TimeUp
    if "error" in box:
        raise box["error"]
    return box["value"]


def _call(fn, args, limit=None):
    """Call fn on copies of `args` (a dict name -> value, in argument order) within `limit`
    seconds; returns an _Outcome. Only the learner's `Exception`s are caught: an interrupt or
    an outer timeout goes on at once."""
    copies = {k: _copy(v) for k, v in args.items()}
    limit = _time_limit(limit)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = _run_limited(fn, list(copies.values()), limit)
        except _TimeUp:
            return _Outcome(timed_out=True)
        except Exception as err:  # the learner's code failing is a finding, not an error here
            return _Outcome(error=err, where=_learner_line(err))
    mutated = [k for k in args if not _same(args[k], copies[k])]
    return _Outcome(value=value, mutated=mutated)


def _learner_line(err):
    """'in forget_gate: return sigmod(...)' for the last frame outside this module and numpy."""
    def ours(filename):
        return filename == __file__ or "numpy" in filename.replace("\\", "/").split("/")

    frames = [fr for fr in traceback.extract_tb(err.__traceback__) if not ours(fr.filename)]
    if not frames:
        return ""
    fr = frames[-1]
    line = (fr.line or "").strip()
    return f"in {fr.name}: {line}" if line else f"in {fr.name}"


def _error_text(err):
    text = re.sub(r" at 0x[0-9a-fA-F]+", "", f"{type(err).__name__}: {err}".strip())
    return text if len(text) <= 300 else text[:297] + "..."


# ============================================================================ formatting


def _num(v):
    return f"{round(float(v), 4) + 0.0: .4f}"


def _fmt(value):
    """A short, deterministic rendering of a number, vector or small matrix."""
    if value is _SHAPE_ERROR:
        return "(raised a shape error)"
    if isinstance(value, (tuple, list)) and all(isinstance(v, np.ndarray) for v in value):
        return ", ".join(_fmt(v) for v in value)
    try:
        arr = np.asarray(value)
    except Exception:  # ragged lists and the like
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":   # no repr(): it may show a memory address
        if isinstance(value, (str, bytes)):
            return repr(value)[:120]
        return f"{arr.dtype} values" if arr.dtype.kind == "c" else f"a {type(value).__name__}"
    arr = arr.astype(float)
    if arr.ndim == 0:
        return _num(arr)
    if arr.size <= 8 and arr.ndim <= 2:
        rows = arr if arr.ndim == 2 else [arr]
        text = ", ".join("[" + ", ".join(_num(v) for v in row) + "]" for row in rows)
        return text if arr.ndim == 1 else f"[{text}] (shape {arr.shape})"
    return f"an array of shape {arr.shape}"


# ========================================================================== the mistakes catalogue

# Every exercise's maths is written once more below with switches ("slots") that plant a
# mistake; the switched-off version must equal the package's cells (tests/test_exercises.py
# checks that). The expected answers themselves always come from the cells.

_GATES = {  # letter -> (name, activation it should have), from the symbol table
    L: (NAMES[L], ACTIVATION_OF[L]) for L in ("f", "i", "g", "o", "r", "z")
}
_ACTS = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda a: np.maximum(a, 0.0),
    "none": lambda a: a,
    "flipped": lambda a: sigmoid(-a),        # 1 / (1 + exp(+a)): a sign slip in the sigmoid
}


def _gate_equation(L, reset=False):
    act = _GATES[L][1]
    h = "(r_t * h_{t-1})" if reset else "h_{t-1}"
    return f"{L}_t = {act}(W_x{L} x_t + W_h{L} {h} + b_{L})"


def _gate_value(cfg, L, x, h, P, after=None):
    """act(W_xL x + W_hL h + b_L) with the mistakes cfg switches on; `after` scales the
    recurrent term after its product (the GRU's reset_after form)."""
    src = cfg.get((L, "src"), L)
    Wx, Wh, b = P["W_x" + src], P["W_h" + src], P["b_" + src]
    a = np.zeros(b.shape)
    a = a + {"ok": lambda: Wx @ x, "transposed": lambda: Wx.T @ x, "W_h": lambda: Wh @ x,
             "missing": lambda: 0.0}[cfg.get((L, "x"), "ok")]()
    rec = {"ok": lambda: Wh @ h, "transposed": lambda: Wh.T @ h, "W_x": lambda: Wx @ h,
           "missing": lambda: 0.0}[cfg.get((L, "h"), "ok")]()
    a = a + (rec if after is None else after * rec)
    a = a + {"ok": b, "missing": 0.0, "negated": -b}[cfg.get((L, "bias"), "ok")]
    return _ACTS[cfg.get((L, "act"), _GATES[L][1])](a)


@dataclass(frozen=True)
class _Mistake:
    """A planted mistake: the slots it sets, what to tell the learner, the equation to look at."""

    changes: tuple            # ((slot, value), ...)
    cause: str
    look_at: str

    @property
    def slots(self):
        return frozenset(slot for slot, _ in self.changes)


def _act_cause(L, got):
    name, want = _GATES[L]
    who = f"The {name} {L}_t"
    if got == "none":
        return (f"{who} has no activation: it returns the weighted sum itself (the "
                f"pre-activation). Wrap it in {want}.")
    if got == "flipped":
        return (f"{who} has a sign slip in the sigmoid: 1 / (1 + exp(a)) is sigmoid(-a) = 1 - "
                "sigmoid(a). The sigmoid is 1 / (1 + exp(-a)).")
    if want == "sigmoid" and got == "tanh":
        return (f"{who} uses tanh where the sigmoid belongs. A gate says how much passes, so its "
                "values must lie between 0 and 1; tanh gives values between -1 and 1.")
    if want == "sigmoid" and got == "relu":
        return (f"{who} uses ReLU where the sigmoid belongs. ReLU has no upper bound (the gate "
                "could let through more than everything) and is 0 for every negative input; the "
                "sigmoid maps any input into (0, 1).")
    if want == "tanh" and got == "sigmoid":
        return (f"{who} uses the sigmoid where tanh belongs. The candidate is new content for the "
                "cell state and must be able to push it down as well as up, so it lies between -1 "
                "and 1; the sigmoid only gives values in (0, 1).")
    if want == "tanh" and got == "relu":
        return (f"{who} uses ReLU where tanh belongs: the candidate must lie between -1 and 1 "
                "(negative values included), ReLU is unbounded and never negative.")
    return f"{who} uses another activation where {want} belongs."


def _gate_mistakes(L, *, step=False, others=(), reset=False):
    """The single mistakes one gate's equation can carry (slots keyed by the gate letter)."""
    eq = _gate_equation(L, reset)
    name = _GATES[L][0]
    where = f" in the {name} {L}_t" if step else ""
    hvec = "(r_t * h_{t-1})" if reset else "h_{t-1}"
    out = [_Mistake((((L, "act"), a),), _act_cause(L, a), eq)
           for a in _ACTS if a != _GATES[L][1]]
    out += [
        _Mistake((((L, "bias"), "missing"),), f"The bias b_{L} is missing{where}.", eq),
        _Mistake((((L, "bias"), "negated"),),
                 f"The bias b_{L} is subtracted{where}; it is added.", eq),
        _Mistake((((L, "x"), "missing"),), f"The input term W_x{L} x_t is missing{where}.", eq),
        _Mistake((((L, "h"), "missing"),),
                 f"The recurrent term W_h{L} {hvec} is missing{where}: the {name} must also look "
                 "at the previous hidden state.", eq),
        _Mistake((((L, "x"), "transposed"),),
                 f"W_x{L} is used transposed{where} (as in x_t @ W_x{L} or W_x{L}.T @ x_t). W_x{L} "
                 f"has shape (H, D), so the product is W_x{L} @ x_t, which gives H values.", eq),
        _Mistake((((L, "h"), "transposed"),),
                 f"W_h{L} is used transposed{where} (as in h_prev @ W_h{L} or W_h{L}.T @ h_prev). "
                 f"With column vectors the product is W_h{L} @ h_prev; the transpose mixes the "
                 f"units the wrong way round (no shape error shows it, since W_h{L} is "
                 "square).", eq),
        _Mistake((((L, "x"), "W_h"), ((L, "h"), "W_x")),
                 f"W_x{L} and W_h{L} are swapped{where}: W_x{L} (H, D) multiplies the input x_t "
                 f"and W_h{L} (H, H) multiplies h_{{t-1}}.", eq),
        _Mistake((((L, "x"), "W_h"),), f"x_t is multiplied by W_h{L}{where}; it belongs with "
                                       f"W_x{L}.", eq),
        _Mistake((((L, "h"), "W_x"),),
                 f"h_{{t-1}} is multiplied by W_x{L}{where}; it belongs with W_h{L}.", eq),
    ]
    for M in others:
        out.append(_Mistake((((L, "src"), M),),
                            f"The {name} {L}_t is computed with the {_GATES[M][0]}'s weights "
                            f"(W_x{M}, W_h{M}, b_{M}); each gate has its own: W_x{L}, W_h{L}, "
                            f"b_{L}.", eq))
    return out


def _all_gates_mistakes(letters):
    """The same slip made in every gate at once (a habit, such as writing x_t @ W)."""
    def every(comp, value):
        return tuple(((L, comp), value) for L in letters)
    eq = "every gate: W_x* x_t + W_h* h_{t-1} + b_*, e.g. " + _gate_equation(letters[0])
    out = [
        _Mistake(every("x", "transposed"),
                 "Every W_x* is used transposed (x_t @ W_x* or W_x*.T @ x_t). Each W_x* has shape "
                 "(H, D): write W_x* @ x_t.", eq),
        _Mistake(every("h", "transposed"),
                 "Every W_h* is used transposed (h_prev @ W_h* or W_h*.T @ h_prev): write W_h* @ "
                 "h_prev.", eq),
        _Mistake(every("x", "transposed") + every("h", "transposed"),
                 "Every weight is used transposed (row-vector style, x_t @ W): here vectors are "
                 "columns and each W_x* (H, D) multiplies from the left: W_x* @ x_t, W_h* @ "
                 "h_prev.", eq),
        _Mistake(every("x", "W_h") + every("h", "W_x"),
                 "The input and recurrent weights are swapped in every gate: W_x* belongs with x_t "
                 "and W_h* with h_{t-1}.", eq),
        _Mistake(every("bias", "missing"), "Every gate is missing its bias b_*.", eq),
        _Mistake(every("h", "missing"),
                 "No gate looks at h_{t-1}: the recurrent terms W_h* h_{t-1} are missing.", eq),
        _Mistake(every("x", "missing"), "No gate looks at x_t: the input terms W_x* x_t are "
                                        "missing.", eq),
    ]
    sig = [L for L in letters if _GATES[L][1] == "sigmoid"]
    out.append(_Mistake(tuple(((L, "act"), "tanh") for L in sig),
                        "Every gate uses tanh: the gates (" + ", ".join(f"{L}_t" for L in sig)
                        + ") need the sigmoid, values in (0, 1), because each says how much "
                          "passes.", eq))
    return out


# -- the LSTM cell update c_t = f_t * c_{t-1} + i_t * g_t

_UPDATE_EQ = "c_t = f_t * c_{t-1} + i_t * g_t   (* is the Hadamard product, element by element)"
_TERM1 = {"ok": lambda c, f, i: f * c, "i": lambda c, f, i: i * c, "nogate": lambda c, f, i: c,
          "missing": lambda c, f, i: 0.0, "f": lambda c, f, i: f, "dot": lambda c, f, i: f @ c}
_TERM2 = {"ok": lambda f, i, g: i * g, "f": lambda f, i, g: f * g, "nogate": lambda f, i, g: g,
          "i": lambda f, i, g: i, "missing": lambda f, i, g: 0.0, "dot": lambda f, i, g: i @ g,
          "sum": lambda f, i, g: i + g}


def _update_value(cfg, c, f, i, g):
    c_t = (np.zeros(c.shape) + _TERM1[cfg.get(("c", "term1"), "ok")](c, f, i)
           + _TERM2[cfg.get(("c", "term2"), "ok")](f, i, g))
    return np.tanh(c_t) if cfg.get(("c", "outer"), "ok") == "tanh" else c_t


def _update_mistakes():
    def m(changes, cause):
        return _Mistake(tuple((("c", k), v) for k, v in changes), cause, _UPDATE_EQ)
    return [
        m([("term1", "i"), ("term2", "f")],
          "f_t and i_t are swapped in the cell update: the forget gate f_t scales the old cell "
          "state c_{t-1} (how much is kept), the input gate i_t scales the candidate g_t (how much "
          "is written)."),
        m([("term1", "missing")],
          "c_{t-1} is left out: the new cell state starts from the old one, scaled by f_t. That "
          "carried-over term is what lets the cell remember across many steps."),
        m([("term1", "f")],
          "c_{t-1} is left out: you add f_t itself where f_t * c_{t-1} belongs."),
        m([("term1", "nogate")],
          "c_{t-1} is added without the forget gate: it must be scaled by f_t, which decides how "
          "much of the old cell state is kept."),
        m([("term1", "i")],
          "c_{t-1} is scaled by i_t; the forget gate f_t decides how much of the old cell state is "
          "kept."),
        m([("term1", "dot")],
          "f_t and c_{t-1} are combined with a matrix (dot) product, which adds up over all units "
          "into one number. Gates act unit by unit: multiply element by element, f_t * c_{t-1}."),
        m([("term2", "f")], "The candidate g_t is scaled by f_t; the input gate i_t decides how "
                            "much of it is written."),
        m([("term2", "nogate")], "The candidate g_t is added without the input gate: it must be "
                                 "scaled by i_t."),
        m([("term2", "i")], "The candidate g_t is left out: you add i_t itself where i_t * g_t "
                            "belongs."),
        m([("term2", "missing")], "The new content i_t * g_t is left out of the cell update."),
        m([("term2", "dot")],
          "i_t and g_t are combined with a matrix (dot) product, which adds up over all units into "
          "one number. Multiply element by element: i_t * g_t."),
        m([("term2", "sum")], "i_t and g_t are added; the input gate multiplies the candidate: i_t "
                              "* g_t."),
        m([("outer", "tanh")],
          "tanh is applied to the new cell state. The cell state is not squashed; tanh(c_t) "
          "belongs to the hidden state, h_t = o_t * tanh(c_t)."),
    ]


# -- the LSTM hidden state h_t = o_t * tanh(c_t)

_HIDDEN_EQ = "h_t = o_t * tanh(c_t)   (* element by element)"
_HIDDEN = {
    "ok": lambda o, c: o * np.tanh(c),
    "no_tanh": lambda o, c: o * c,
    "tanh_outside": lambda o, c: np.tanh(o * c),
    "no_o": lambda o, c: np.tanh(c),
    "sigmoid": lambda o, c: o * sigmoid(c),
    "tanh_on_o": lambda o, c: np.tanh(o) * c,
    "sum": lambda o, c: o + np.tanh(c),
    "c_only": lambda o, c: c,
}


def _hidden_value(cfg, o, c):
    return _HIDDEN[cfg.get(("h", "form"), "ok")](o, c)


def _hidden_mistakes():
    causes = {
        "no_tanh": "The tanh on c_t is missing. The cell state can grow beyond +-1; tanh squeezes "
                   "it into (-1, 1) before the output gate chooses how much of it to show.",
        "tanh_outside": "tanh is put around the whole product, tanh(o_t * c_t). It belongs on c_t "
                        "alone, and o_t then scales the result: o_t * tanh(c_t).",
        "no_o": "The output gate o_t is left out: it decides how much of tanh(c_t) is shown as "
                "h_t.",
        "sigmoid": "The sigmoid is applied to c_t where tanh belongs: h_t can be negative, so c_t "
                   "is squeezed into (-1, 1) with tanh.",
        "tanh_on_o": "tanh is applied to o_t instead of c_t: o_t is already a gate in (0, 1); it "
                     "is c_t that gets the tanh.",
        "sum": "o_t and tanh(c_t) are added; the output gate multiplies, element by element.",
        "c_only": "You returned c_t itself; the hidden state is o_t * tanh(c_t).",
    }
    return [_Mistake(((("h", "form"), k),), v, _HIDDEN_EQ) for k, v in causes.items()]


# -- the whole LSTM step


def _lstm_value(cfg, x_t, h_prev, c_prev, P):
    f, i, g, o = (_gate_value(cfg, L, x_t, h_prev, P) for L in "figo")
    c_t = _update_value(cfg, c_prev, f, i, g)
    h_t = _hidden_value(cfg, o, c_prev if cfg.get(("h", "uses")) == "c_prev" else c_t)
    return (c_t, h_t) if cfg.get(("out", "order")) == "swapped" else (h_t, c_t)


def _lstm_mistakes():
    """Structural mistakes first: where two mistakes give the same numbers, the first is named."""
    out = [_Mistake(((("out", "order"), "swapped"),),
                    "The result is returned as (c_t, h_t); return (h_t, c_t), in that order.",
                    "return h_t, c_t")]
    out += _update_mistakes() + _hidden_mistakes() + _all_gates_mistakes("figo")
    out.append(_Mistake(((("h", "uses"), "c_prev"),),
                        "h_t is computed from the old cell state c_{t-1}; it uses the new one, "
                        "c_t, computed just before it in the same step.", _HIDDEN_EQ))
    for L in "figo":
        out += _gate_mistakes(L, step=True, others=[M for M in "figo" if M != L])
    return out


# -- the GRU step (reset before the matrix product)

_GRU_H_EQ = "h_t = (1 - z_t) * g_t + z_t * h_{t-1}"
_GRU_G_EQ = _gate_equation("g", reset=True)
_MIX = {
    "ok": lambda z, g, h: (1 - z) * g + z * h,
    "swapped": lambda z, g, h: z * g + (1 - z) * h,
    "no_z_on_h": lambda z, g, h: (1 - z) * g + h,
    "no_1mz": lambda z, g, h: g + z * h,
    "g_only": lambda z, g, h: g,
}


def _gru_value(cfg, x_t, h_prev, P):
    r = _gate_value(cfg, "r", x_t, h_prev, P)
    z = _gate_value(cfg, "z", x_t, h_prev, P)
    reset = cfg.get(("g", "reset"), "before")
    if reset == "after":
        g = _gate_value(cfg, "g", x_t, h_prev, P, after=r)
    else:
        g = _gate_value(cfg, "g", x_t, {"before": r, "none": 1.0, "z": z}[reset] * h_prev, P)
    return _MIX[cfg.get(("h", "mix"), "ok")](z, g, h_prev)


def _gru_mistakes():
    """Structural mistakes first (z and 1 - z swapped gives the same numbers as a sign slip in
    z_t's sigmoid; the swap is the likelier cause)."""
    out = [
        _Mistake(((("h", "mix"), "swapped"),),
                 "z_t and 1 - z_t are swapped. Here (as in the source documents, PyTorch and "
                 "Keras) z_t is the share of the old state h_{t-1} that is kept and 1 - z_t the "
                 "share of the candidate g_t. (Some texts, colah's post among them, name it the "
                 "other way round.)",
                 _GRU_H_EQ),
        _Mistake(((("h", "mix"), "no_z_on_h"),),
                 "h_{t-1} is added without z_t: the update gate z_t decides how much of it is "
                 "kept.",
                 _GRU_H_EQ),
        _Mistake(((("h", "mix"), "no_1mz"),),
                 "The candidate g_t is added without (1 - z_t): the new state mixes g_t and "
                 "h_{t-1}, with weights 1 - z_t and z_t that add up to 1.", _GRU_H_EQ),
        _Mistake(((("h", "mix"), "g_only"),),
                 "You returned the candidate g_t; the new state mixes it with h_{t-1}.", _GRU_H_EQ),
        _Mistake(((("g", "reset"), "none"),),
                 "The reset gate r_t is left out: in the candidate it multiplies h_{t-1} (element "
                 "by element) before W_hg does.", _GRU_G_EQ),
        _Mistake(((("g", "reset"), "after"),),
                 "r_t is applied after the matrix product, r_t * (W_hg h_{t-1}). That is the "
                 "reset_after=True variant (PyTorch, Keras); this exercise is the source "
                 "documents' GRU: first r_t * h_{t-1}, then W_hg.", _GRU_G_EQ),
        _Mistake(((("g", "reset"), "z"),),
                 "The candidate uses z_t where the reset gate r_t belongs.", _GRU_G_EQ),
        _Mistake(((("r", "src"), "z"), (("z", "src"), "r")),
                 "r_t and z_t are swapped: W_xr, W_hr, b_r make the reset gate (used inside the "
                 "candidate) and W_xz, W_hz, b_z the update gate (used to mix g_t and h_{t-1}).",
                 "r_t = sigmoid(W_xr x_t + W_hr h_{t-1} + b_r), z_t = sigmoid(W_xz x_t + W_hz "
                 "h_{t-1} + b_z)"),
    ]
    out += _all_gates_mistakes("rzg")
    for L in "rzg":
        out += _gate_mistakes(L, step=True, others=[M for M in "rzg" if M != L], reset=(L == "g"))
    return out


# -- one LSTM step backward

_BWD_KEYS_X = ("x_t", "h_prev", "c_prev")
_DC_EQ = "dc = dc_t + dh_t * o_t * (1 - tanh(c_t)**2)   (the gradient reaching c_t)"


def _lstm_backward_value(cfg, dh, dc_in, cache):
    """The gradients of one LSTM step, with the mistakes cfg switches on (see the exercise)."""
    on = lambda name: cfg.get(("bwd", name), False)  # noqa: E731
    P = cache["params"]
    x, hp, cp = cache["x_t"], cache["h_prev"], cache["c_prev"]
    f, i, g, o, c = (cache[k] for k in ("f_t", "i_t", "g_t", "o_t", "c_t"))
    tc = np.tanh(c)
    d = {"o": dh * (c if on("do_c") else tc)}                        # h = o * tanh(c)
    local = 1.0 if on("no_tanh_grad") else (1 - c**2 if on("tanh_grad_c") else 1 - tc**2)
    dc = (0.0 if on("no_h_path") else dh * o * local) + (0.0 if on("no_dc_t") else dc_in)
    d["f"] = dc * (c if on("df_c") else cp)                          # c = f * c_prev + i * g
    d["i"], d["g"] = (dc * i, dc * g) if on("di_dg_swapped") else (dc * g, dc * i)
    da = {}
    for L, s in (("f", f), ("i", i), ("o", o)):                      # sigmoid'(a) = s (1 - s)
        if on("sig_missing") or on("sig_missing_" + L):
            da[L] = d[L]
        else:
            da[L] = d[L] * ((1 - s**2) if on("sig_as_tanh") else s * (1 - s))
    da["g"] = d["g"] * {"ok": 1 - g**2, "missing": 1.0, "1mg": 1 - g,
                        "as_sig": g * (1 - g)}[cfg.get(("bwd", "tanh_g"), "ok")]
    grads = {}
    for L in "figo":
        grads["W_x" + L] = np.outer(da[L], x)
        grads["W_h" + L] = np.outer(hp, da[L]) if on("dWh_T") else np.outer(da[L], hp)
        grads["b_" + L] = da[L]
    for key, W, slip in (("x_t", "W_x", "dx_no_T"), ("h_prev", "W_h", "dh_no_T")):
        grads[key] = sum((P[W + L] if on(slip) else P[W + L].T) @ da[L] for L in "figo")
    grads["c_prev"] = dc if on("dc_prev_no_f") else dc * f
    return grads


def _backward_mistakes():
    def m(name, cause, look, value=True):
        return _Mistake(((("bwd", name), value),), cause, look)
    sig_eq = "da_f = df * f_t * (1 - f_t)  (and alike for i_t, o_t): sigmoid'(a) = s (1 - s)"
    g_eq = "da_g = dg * (1 - g_t**2)"
    out = [
        m("no_dc_t",
          "The incoming dc_t is left out. The gradient reaching c_t has two parts: dc_t, from the "
          "next step's cell state, and dh_t * o_t * (1 - tanh(c_t)**2), through h_t.", _DC_EQ),
        m("no_h_path",
          "The path from h_t back to c_t is left out: h_t = o_t * tanh(c_t) depends on c_t, so "
          "dh_t also reaches the cell state.", _DC_EQ),
        m("no_tanh_grad",
          "tanh's derivative is missing on the way from h_t to c_t: d tanh(c)/dc = 1 - "
          "tanh(c)**2.", _DC_EQ),
        m("tanh_grad_c",
          "tanh's derivative is written 1 - c_t**2; it is 1 - tanh(c_t)**2.", _DC_EQ),
        m("do_c",
          "do_t uses c_t: since h_t = o_t * tanh(c_t), dL/do_t = dh_t * tanh(c_t).",
          "do = dh_t * tanh(c_t)"),
        m("df_c",
          "df_t uses c_t: since c_t = f_t * c_{t-1} + i_t * g_t, dL/df_t = dc * c_{t-1}.",
          "df = dc * c_{t-1}"),
        m("di_dg_swapped",
          "di_t and dg_t are swapped: dL/di_t = dc * g_t and dL/dg_t = dc * i_t (each gets the "
          "other factor of the product).", "di = dc * g_t,  dg = dc * i_t"),
        m("dc_prev_no_f",
          "dc_{t-1} misses the forget gate: the old cell state entered c_t as f_t * c_{t-1}, so "
          "dL/dc_{t-1} = dc * f_t.", "dc_prev = dc * f_t"),
        m("sig_missing",
          "The sigmoid's derivative is missing in the gates f, i, o: the gradient of a gate's "
          "pre-activation is d(gate) * s * (1 - s).", sig_eq),
        m("sig_as_tanh",
          "The sigmoid gates use tanh's derivative 1 - s**2; the sigmoid's is s * (1 - s).",
          sig_eq),
        m("tanh_g", "tanh's derivative is missing in the candidate: da_g = dg * (1 - g_t**2).",
          g_eq, "missing"),
        m("tanh_g", "The candidate's derivative is written 1 - g_t; tanh's is 1 - g_t**2.",
          g_eq, "1mg"),
        m("tanh_g",
          "The candidate uses the sigmoid's derivative g (1 - g); g_t comes from tanh, whose "
          "derivative is 1 - g_t**2.", g_eq, "as_sig"),
        m("dx_no_T",
          "dx_t uses W_x* without the transpose. Going back through W_x* x_t, the gradient is "
          "W_x*^T da_*: dx_t = sum over the gates of W_x*.T @ da_*.",
          "dx_t = W_xf.T @ da_f + W_xi.T @ da_i + W_xg.T @ da_g + W_xo.T @ da_o"),
        m("dh_no_T",
          "dh_prev uses W_h* without the transpose: dh_prev = sum over the gates of W_h*.T @ da_*.",
          "dh_prev = W_hf.T @ da_f + W_hi.T @ da_i + W_hg.T @ da_g + W_ho.T @ da_o"),
        m("dWh_T",
          "dW_h* is transposed: dW_h* = np.outer(da_*, h_prev), the shape of W_h* (H, H) with row "
          "k for unit k.", "dW_h* = np.outer(da_*, h_prev)"),
    ]
    for L in "fio":
        out.append(m("sig_missing_" + L, f"The sigmoid's derivative is missing in gate {L}: da_{L} "
                                         f"= d{L} * {L}_t * (1 - {L}_t).", sig_eq))
    return out


# ============================================================================ the exercises


@dataclass
class _Case:
    label: str                # what the case isolates, e.g. "only the bias acts (x_t = 0, ...)"
    args: dict                # the learner's arguments by name, in order
    expected: object          # from the package's cells
    show: tuple = ()          # which arguments the message prints
    hint: str = ""            # the part of the equation this case isolates


@dataclass
class _Exercise:
    name: str                 # "check_forget_gate"
    call: str                 # "forget_gate(x_t, h_prev, W_xf, W_hf, b_f) -> f_t"
    kind: str                 # 'vector' | 'pair' | 'grads'
    result: str               # what the function computes, e.g. "f_t"
    equation: str             # the whole exercise's equations, for generic messages
    cases: list
    mistakes: list
    variant: object           # variant(cfg, **case.args) -> output with those mistakes
    depth: int = 2            # how many mistakes at once the diagnosis tries
    together: str = ""        # what to say when every isolation case is right, a random one not
    shared: str = ""          # what every case shares, for when every isolation case is wrong
    H: int = 4
    D: int = 3
    read: object = None       # read(case, value) -> (value, problem), for another kind of result
    show_got: object = None   # show_got(case, got) -> message lines, for another kind of result

    def eval_order(self):
        """Random cases first: they tell most mistakes apart in one call."""
        n = len(self.cases)
        return sorted(range(n), key=lambda k: ("random" not in self.cases[k].label, k))


def _rounded(rng, shape, lo, hi, signs=True):
    """Values with two decimals and |v| in [lo, hi] (random signs): easy to read in a message."""
    v = rng.uniform(lo, hi, size=shape)
    if signs:
        v = v * rng.choice([-1.0, 1.0], size=shape)
    return np.round(v, 2)


def _zero_lstm(D, H):
    cell = LSTMCell(D, H, seed=0)
    for name, arr in cell.params.items():
        cell.params[name] = np.zeros_like(arr)
    return cell


def _lstm_with(params, D, H):
    cell = LSTMCell(D, H, seed=0)
    for name, value in params.items():
        cell.params[name] = value
    return cell


def _gru_with(params, D, H):
    cell = GRUCell(D, H, seed=0, reset_after=False)
    for name, value in params.items():
        cell.params[name] = value
    return cell


def _random_params(rng, D, H, letters):
    P = {}
    for L in letters:
        P["W_x" + L] = _rounded(rng, (H, D), 0.05, 1.0)
        P["W_h" + L] = _rounded(rng, (H, H), 0.05, 1.0)
        P["b_" + L] = _rounded(rng, (H,), 0.2, 1.2)
    return P


@cache
def _gate_exercise(L):
    name = _GATES[L][0]
    rng = np.random.default_rng(1000 + "figo".index(L))
    cases = []
    act = _GATES[L][1]
    specs = [
        ("only the bias acts (x_t = 0, h_{t-1} = 0)", 3, True, False, False, (f"b_{L}",),
         f"the bias b_{L} and the {act}"),
        (f"only the input acts (h_{{t-1}} = 0, b_{L} = 0)", 3, False, True, False, ("x_t",),
         f"the input term W_x{L} x_t"),
        (f"only the previous hidden state acts (x_t = 0, b_{L} = 0)", 3, False, False, True,
         ("h_prev",),
         f"the recurrent term W_h{L} h_{{t-1}}"),
        ("random 1", 3, True, True, True, ("x_t", "h_prev", f"b_{L}"), ""),
        ("random 2", 3, True, True, True, ("x_t", "h_prev", f"b_{L}"), ""),
        ("random, D = H = 4", 4, True, True, True, ("x_t", "h_prev", f"b_{L}"), ""),
    ]
    H = 4
    for label, D, with_b, with_x, with_h, show, hint in specs:
        x = _rounded(rng, D, 0.3, 1.5) if with_x else np.zeros(D)
        h = _rounded(rng, H, 0.1, 0.9) if with_h else np.zeros(H)
        Wx, Wh = _rounded(rng, (H, D), 0.1, 1.0), _rounded(rng, (H, H), 0.1, 1.0)
        b = _rounded(rng, H, 0.3, 1.5) if with_b else np.zeros(H)
        cell = _zero_lstm(D, H)
        cell.params["W_x" + L], cell.params["W_h" + L], cell.params["b_" + L] = Wx, Wh, b
        _, gates = cell.step(x, h, np.zeros(H))
        args = {"x_t": x, "h_prev": h, f"W_x{L}": Wx, f"W_h{L}": Wh, f"b_{L}": b}
        cases.append(_Case(label, args, gates[L], show, hint))

    def variant(cfg, x_t, h_prev, Wx, Wh, b):
        return _gate_value(cfg, L, x_t, h_prev, {"W_x" + L: Wx, "W_h" + L: Wh, "b_" + L: b})

    return _Exercise(
        name=f"check_{'candidate' if L == 'g' else name.replace(' ', '_')}",
        call=f"fn(x_t, h_prev, W_x{L}, W_h{L}, b_{L}) -> {L}_t",
        kind="vector", result=f"{L}_t", equation=_gate_equation(L), cases=cases,
        mistakes=_gate_mistakes(L), variant=variant, depth=3,
        together="Each term is right on its own but not together: the three terms are added inside "
                 f"the {act}.",
        shared=f"the {act} and the way the terms are combined")


def _logit(p):
    """The pre-activation whose sigmoid is p; +-40 (exactly 1 or 0 after the sigmoid) at 1, 0."""
    inner = np.clip(p, 1e-6, 1 - 1e-6)
    return np.where(p >= 1, _BIG, np.where(p <= 0, -_BIG, np.log(inner / (1 - inner))))


def _lstm_from_gates(c_prev, f, i, g):
    """Run a zero-weight LSTM step whose biases give the gate values f, i, g (1 and 0 exactly via
    +-40): returns the gates the cell used and its c_t, the package's own cell update."""
    H = c_prev.size
    cell = _zero_lstm(1, H)
    cell.params["b_f"], cell.params["b_i"] = _logit(f), _logit(i)
    cell.params["b_g"] = np.arctanh(g)
    state, gates = cell.step(np.zeros(1), np.zeros(H), c_prev)
    return gates, state


@cache
def _cell_update_exercise():
    rng = np.random.default_rng(2000)
    H = 4
    cases = []
    specs = [
        ("the forget gate is open and the input gate closed (f_t = 1, i_t = 0): c_t keeps "
         "c_{t-1}",
         np.ones(H), np.zeros(H),
         "the term f_t * c_{t-1}"),
        ("the forget gate is closed and the input gate open (f_t = 0, i_t = 1): c_t takes g_t",
         np.zeros(H), np.ones(H),
         "the term i_t * g_t"),
        ("random 1", None, None, ""), ("random 2", None, None, ""), ("random 3", None, None, ""),
    ]
    for label, f, i, hint in specs:
        c_prev = _rounded(rng, H, 0.3, 2.0)
        f = np.round(rng.uniform(0.1, 0.9, H), 2) if f is None else f
        i = np.round(rng.uniform(0.1, 0.9, H), 2) if i is None else i
        g = _rounded(rng, H, 0.1, 0.9)
        gates, state = _lstm_from_gates(c_prev, f, i, g)
        args = {"c_prev": c_prev, "f_t": gates["f"], "i_t": gates["i"], "g_t": gates["g"]}
        cases.append(_Case(label, args, state.c, tuple(args), hint))

    def variant(cfg, c_prev, f_t, i_t, g_t):
        return _update_value(cfg, c_prev, f_t, i_t, g_t)

    return _Exercise(name="check_cell_update", call="fn(c_prev, f_t, i_t, g_t) -> c_t",
                     kind="vector", result="c_t", equation=_UPDATE_EQ, cases=cases,
                     mistakes=_update_mistakes(), variant=variant, depth=2, D=1,
                     together="Each term is right on its own but not together: c_t is their "
                              "sum.",
                     shared="how the two products are formed and added")


@cache
def _hidden_state_exercise():
    rng = np.random.default_rng(3000)
    H = 4
    cases = []
    specs = [("the output gate is fully open (o_t = 1): h_t = tanh(c_t)", "open", 0.3, 2.5,
              "tanh(c_t)"),
             ("the cell state is large (|c_t| > 2)", None, 2.0, 3.0,
              "the tanh that keeps h_t in (-1, 1)"),
             ("random 1", None, 0.2, 2.0, ""), ("random 2", None, 0.2, 2.0, "")]
    for label, gate, lo, hi, hint in specs:
        c_t = _rounded(rng, H, lo, hi)
        o = np.ones(H) if gate == "open" else np.round(rng.uniform(0.1, 0.9, H), 2)
        cell = _zero_lstm(1, H)     # f = 1, i = 0 carries c_{t-1} into c_t unchanged
        cell.params["b_f"], cell.params["b_i"] = np.full(H, _BIG), np.full(H, -_BIG)
        cell.params["b_o"] = _logit(o)
        state, gates = cell.step(np.zeros(1), np.zeros(H), c_t)
        args = {"o_t": gates["o"], "c_t": state.c}
        cases.append(_Case(label, args, state.h, ("o_t", "c_t"), hint))

    def variant(cfg, o_t, c_t):
        return _hidden_value(cfg, o_t, c_t)

    return _Exercise(name="check_hidden_state", call="fn(o_t, c_t) -> h_t", kind="vector",
                     result="h_t",
                     equation=_HIDDEN_EQ, cases=cases, mistakes=_hidden_mistakes(), variant=variant,
                     depth=1, D=1)


@cache
def _lstm_step_exercise():
    rng = np.random.default_rng(4000)
    H = 4
    cases = []
    specs = [("only the biases act (x_t = 0, h_{t-1} = 0)", 3, False, False, True,
              "the biases, the activations and the cell update"),
             ("no memory yet (h_{t-1} = 0, c_{t-1} = 0)", 3, True, False, False, "the input terms "
                                                                                 "W_x* x_t"),
             ("random 1", 3, True, True, True, ""), ("random 2", 3, True, True, True, ""),
             ("random, D = H = 4", 4, True, True, True, "")]
    for label, D, with_x, with_h, with_c, hint in specs:
        P = _random_params(rng, D, H, "figo")
        x = _rounded(rng, D, 0.3, 1.5) if with_x else np.zeros(D)
        h = _rounded(rng, H, 0.1, 0.9) if with_h else np.zeros(H)
        c = _rounded(rng, H, 0.3, 2.0) if with_c else np.zeros(H)
        state, _ = _lstm_with(P, D, H).step(x, h, c)
        args = {"x_t": x, "h_prev": h, "c_prev": c, "params": P}
        cases.append(_Case(label, args, (state.h, state.c), ("x_t", "h_prev", "c_prev"), hint))

    def variant(cfg, x_t, h_prev, c_prev, params):
        return _lstm_value(cfg, x_t, h_prev, c_prev, params)

    eq = "\n".join([_gate_equation("f"), _gate_equation("i"), _gate_equation("g"), _UPDATE_EQ,
                    _gate_equation("o"), _HIDDEN_EQ])
    return _Exercise(name="check_lstm_step", call="fn(x_t, h_prev, c_prev, params) -> (h_t, c_t)",
                     kind="pair", result="(h_t, c_t)", equation=eq, cases=cases,
                     mistakes=_lstm_mistakes(), variant=variant, depth=2,
                     together="The problem shows only when h_{t-1} is not zero: look at the "
                              "recurrent terms W_h* h_{t-1}.",
                     shared="the activations, the cell update and h_t = o_t * tanh(c_t)")


@cache
def _gru_step_exercise():
    rng = np.random.default_rng(5000)
    H = 4
    cases = []
    specs = [("only the biases act (x_t = 0, h_{t-1} = 0)", 3, False, False,
              "the biases, the activations and h_t's mix of g_t and h_{t-1}"),
             ("no memory yet (h_{t-1} = 0)", 3, True, False, "the input terms W_x* x_t"),
             ("random 1", 3, True, True, ""), ("random 2", 3, True, True, ""),
             ("random, D = H = 4", 4, True, True, "")]
    for label, D, with_x, with_h, hint in specs:
        P = _random_params(rng, D, H, "rzg")
        x = _rounded(rng, D, 0.3, 1.5) if with_x else np.zeros(D)
        h = _rounded(rng, H, 0.1, 0.9) if with_h else np.zeros(H)
        state, _ = _gru_with(P, D, H).step(x, h)
        args = {"x_t": x, "h_prev": h, "params": P}
        cases.append(_Case(label, args, state.h, ("x_t", "h_prev"), hint))

    def variant(cfg, x_t, h_prev, params):
        return _gru_value(cfg, x_t, h_prev, params)

    eq = "\n".join([_gate_equation("r"), _gate_equation("z"), _GRU_G_EQ, _GRU_H_EQ])
    return _Exercise(name="check_gru_step", call="fn(x_t, h_prev, params) -> h_t", kind="vector",
                     result="h_t", equation=eq, cases=cases, mistakes=_gru_mistakes(),
                     variant=variant, depth=2,
                     together="The problem shows only when h_{t-1} is not zero: look at the "
                              "recurrent terms W_hr h_{t-1}, W_hz h_{t-1}, W_hg (r_t * h_{t-1}) "
                              "and at z_t * h_{t-1} in h_t.",
                     shared="the activations and the mix h_t = (1 - z_t) * g_t + z_t * h_{t-1}")


def lstm_step_cache(x_t, h_prev, c_prev, params):
    """Everything one LSTM step computed, for its backward (the cache of the backward exercise).

    x_t (D,), h_prev and c_prev (H,), params a mapping with W_x* (H, D), W_h* (H, H), b_* (H,)
    for * in f, i, g, o. Computed by the package's `LSTMCell.step`. Returns a dict with
    'x_t', 'h_prev', 'c_prev', 'params' (a copy), the gates 'f_t', 'i_t', 'g_t', 'o_t' and the
    new states 'c_t', 'h_t'.

    >>> P = {f"{w}{L}": np.zeros((2, 3) if w == "W_x" else (2, 2) if w == "W_h" else 2)
    ...      for L in "figo" for w in ("W_x", "W_h", "b_")}
    >>> cache = lstm_step_cache(np.ones(3), np.zeros(2), np.ones(2), P)
    >>> cache["f_t"], cache["c_t"]              # every gate is sigmoid(0) = 0.5, g = tanh(0) = 0
    (array([0.5, 0.5]), array([0.5, 0.5]))
    """
    x_t, h_prev, c_prev = (np.array(v, dtype=float) for v in (x_t, h_prev, c_prev))
    P = {k: np.array(v, dtype=float) for k, v in params.items()}
    state, gates = _lstm_with(P, x_t.shape[-1], h_prev.shape[-1]).step(x_t, h_prev, c_prev)
    cache = {"x_t": x_t, "h_prev": h_prev, "c_prev": c_prev, "params": P}
    cache.update({f"{L}_t": gates[L] for L in "figo"})
    cache.update(c_t=state.c, h_t=state.h)
    return cache


def _backward_reference(dh, dc, cache):
    """dL/d(everything) for L = dh . h_t + dc . c_t, by central differences of `LSTMCell.step`.

    (The cells' own backward takes only dh; the step's dc_t from later steps is what this
    exercise adds, so the reference differentiates the package's step numerically instead:
    five-point differences, accurate far inside the checker's tolerance.)"""
    x, hp, cp = (cache[k].copy() for k in _BWD_KEYS_X)
    cell = _lstm_with(cache["params"], x.size, hp.size)

    def loss():
        state, _ = cell.step(x, hp, cp)
        return float(dh @ state.h + dc @ state.c)

    targets = list(cell.params.items()) + [("x_t", x), ("h_prev", hp), ("c_prev", cp)]
    return {name: numeric_gradient(loss, arr) for name, arr in targets}


@cache
def _backward_exercise():
    rng = np.random.default_rng(6000)
    H = 4
    cases = []
    specs = [("only dh_t flows in (dc_t = 0)", 3, True, False, "the path from h_t: do and dh_t's "
                                                               "share of dc"),
             ("only dc_t flows in (dh_t = 0)", 3, False, True, "the path from c_t: dc_t in dc"),
             ("random 1", 3, True, True, ""), ("random 2", 3, True, True, ""),
             ("random, D = H = 4", 4, True, True, "")]
    for label, D, with_dh, with_dc, hint in specs:
        P = _random_params(rng, D, H, "figo")
        cache = lstm_step_cache(_rounded(rng, D, 0.3, 1.5), _rounded(rng, H, 0.1, 0.9),
                                _rounded(rng, H, 0.3, 2.0), P)
        dh = _rounded(rng, H, 0.2, 1.0) if with_dh else np.zeros(H)
        dc = _rounded(rng, H, 0.2, 1.0) if with_dc else np.zeros(H)
        args = {"dh_t": dh, "dc_t": dc, "cache": cache}
        cases.append(_Case(label, args, _backward_reference(dh, dc, cache), ("dh_t", "dc_t"), hint))

    def variant(cfg, dh_t, dc_t, cache):
        return _lstm_backward_value(cfg, dh_t, dc_t, cache)

    return _Exercise(name="check_lstm_step_backward", call="fn(dh_t, dc_t, cache) -> grads (dict)",
                     kind="grads", result="Every gradient", equation=_DC_EQ, cases=cases,
                     mistakes=_backward_mistakes(), variant=variant, depth=2,
                     together="Each path is right on its own but not together: dc adds dc_t and "
                              "dh_t's share.",
                     shared="the local derivatives of the sigmoids and the tanh, and the steps "
                            "through the weights")


# ============================================================================ checking


def _close(a, b):
    """Outcome equality: both shape errors, or arrays (pairs, dicts of arrays) equal within
    tolerance."""
    if a is _SHAPE_ERROR or b is _SHAPE_ERROR:
        return a is b
    if isinstance(a, dict):
        return all(k in b and _close(a[k], b[k]) for k in a)
    if isinstance(a, tuple):
        return (isinstance(b, tuple) and len(a) == len(b)
                and all(_close(u, v) for u, v in zip(a, b, strict=True)))
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _as_vector(value, H):
    """(array, None) for a finite real array; (None or the array, a sentence) for a problem."""
    if value is None:
        return None, "returned None: is the `return` statement missing?"
    if isinstance(value, (tuple, list)) and len(value) and all(np.ndim(v) >= 1 for v in value):
        return None, (f"returned a {type(value).__name__} of {len(value)} values; return one array "
                      f"of shape (H,) = ({H},).")
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged sequences and the like
        return None, f"returned something that is not an array ({type(err).__name__}: {err})."
    if arr.dtype.kind not in "biuf":
        return None, (f"returned values of type {arr.dtype} ({type(value).__name__}); return a "
                      "real numpy array.")
    arr = arr.astype(float)
    if arr.shape != (H,):
        return arr, None
    if not np.isfinite(arr).all():
        return arr, "returned NaN or inf values."
    return arr, None


def _shape_problem(shape, H, D, name):
    """A sentence for an output of the wrong shape, with the usual cause."""
    want = f"{name} must be a 1-D vector of shape (H,) = ({H},); got shape {shape}"
    if shape == ():
        return (f"{want}: a single number. A dot product (np.dot, @, np.sum) of two vectors adds "
                "up over all the units; gates and states work unit by unit, element by element "
                "(*).")
    if shape in ((H, 1), (1, H)):
        return (f"{want}, a {'column' if shape == (H, 1) else 'row'} matrix. Vectors are 1-D here: "
                "do not reshape x_t or h_prev or add an axis ([:, None], np.newaxis, keepdims).")
    if len(shape) == 2:
        return (f"{want}, a matrix. Usually `*` was used where the matrix product `@` belongs (W * "
                "x broadcasts to a matrix), or a vector was reshaped to a column and broadcast "
                "against another.")
    if shape == (D,) and D != H:
        return (f"{want}: the size of x_t, D = {D}. {name} has one value per hidden unit (H = "
                f"{H}).")
    return want + "."


@dataclass
class _Run:
    """The learner's outcome on every case, ready to compare with the mistakes' outcomes."""

    outcomes: list            # _Outcome per case
    values: list              # normalised value, or _SHAPE_ERROR, per case


def _normalise_pair(value, H):
    """(h_t, c_t) as two float arrays, or a problem. Each half is looked at on its own: numpy
    cannot make one array of a pair whose halves differ in shape, or of a None."""
    pair = (len(value) == 2 if isinstance(value, (tuple, list)) else
            isinstance(value, np.ndarray) and value.ndim >= 2 and len(value) == 2)
    if value is None:
        return None, _as_vector(value, H)[1]
    if not pair:
        kind = (f"one array of shape {value.shape}" if isinstance(value, np.ndarray) else
                f"a {type(value).__name__} of {len(value)} values"
                if isinstance(value, (tuple, list)) else type(value).__name__)
        return None, f"must return the pair (h_t, c_t); it returned {kind}."
    out = []
    for name, v in zip(("h_t", "c_t"), value, strict=True):
        if v is None:
            return None, (f"returned a pair whose {name} is None: is the line that computes "
                          f"{name} missing, or does it call a function that returns nothing?")
        arr, problem = _as_vector(v, H)
        if problem:
            return None, f"returned a pair (h_t, c_t), but as {name} it {problem}"
        if arr.shape != (H,):
            return None, ("returned a pair (h_t, c_t) of the wrong shape: "
                          + _shape_problem(arr.shape, H, None, name))
        out.append(arr)
    return tuple(out), None


_KEY_ALIASES = {"dx": "x_t", "x": "x_t", "dh": "h_prev", "dh_prev": "h_prev", "h0": "h_prev",
                "dc": "c_prev", "dc_prev": "c_prev", "c0": "c_prev"}


def _normalise_grads(value, expected):
    """The learner's gradients under the expected names ('dW_xf' -> 'W_xf'), or a problem."""
    if not isinstance(value, Mapping):
        return None, ("must return a dict of gradients keyed like the parameters ('W_xf', ..., "
                      f"'b_o') plus 'x_t', 'h_prev', 'c_prev'; it returned {type(value).__name__}.")
    grads = {}
    for key, v in value.items():
        k = str(key)
        if k not in expected:
            k = _KEY_ALIASES.get(k, k[1:] if k.startswith("d") and k[1:] in expected else k)
        if k in expected:
            grads[k] = v
    missing = [k for k in expected if k not in grads]
    if missing:
        return None, ("returned no gradient for " + ", ".join(missing) + ". Use the parameter "
                                                                         "names ('W_xf', ...) and "
                                                                         "'x_t', 'h_prev', "
                                                                         "'c_prev' as keys.")
    for k, want in expected.items():
        try:
            arr = np.asarray(grads[k], dtype=float)
        except (TypeError, ValueError):
            return None, (f"returned a gradient for {k} that is not a real array "
                          f"({type(grads[k]).__name__}).")
        if arr.shape != want.shape:
            if arr.shape == want.shape[::-1] and np.allclose(arr.T, want, rtol=RTOL, atol=ATOL):
                return None, (f"returned the gradient of {k} transposed, shape {arr.shape}. A "
                              f"gradient has the shape of its parameter, {want.shape}: for W_x* "
                              "(H, D) it is the outer product np.outer(da_*, x_t), row k for unit "
                              "k.")
            return None, (f"returned a gradient for {k} of shape {arr.shape}; it must have the "
                          f"shape of {k}, {want.shape}.")
        if not np.isfinite(arr).all():
            return None, f"returned NaN or inf in the gradient of {k}."
        grads[k] = arr
    return grads, None


def _screen(ex, fn, limit):
    """Run fn on every case and return (_Run, None), or (None, CheckResult) for a problem that
    must be reported before any comparison (not written yet, a crash, a wrong return type,
    no answer within the time limit)."""
    if not callable(fn):
        return None, _failed(ex, f"{ex.name} needs your function itself, {ex.call}; it got a "
                                 f"{type(fn).__name__}. Pass the name without calling it: "
                                 f"{ex.name}(my_function).")
    outcomes = []
    for case in ex.cases:
        out = _call(fn, case.args, limit)
        if out.timed_out:   # the other cases would most likely take as long: stop here
            return None, _timed_out(ex, case, limit)
        outcomes.append(out)
    for out in outcomes:
        if isinstance(out.error, NotImplementedError):
            return None, CheckResult(False, f"{ex.name}: not implemented yet.\nYour function still "
                                            "raises NotImplementedError: replace `raise "
                                            "NotImplementedError` with your code, run that cell, "
                                            "then run this check again.")
    values = []
    for case, out in zip(ex.cases, outcomes, strict=True):
        if out.error is not None:
            if _is_shape_error(out.error):
                values.append(_SHAPE_ERROR)
                continue
            return None, _crashed(ex, case, out)
        try:
            value, problem = _normalise(ex, case, out.value)
        except Exception as err:  # an odd object the checks above did not foresee
            value, problem = None, ("Your function returned something the checker cannot read "
                                    f"({_error_text(err)}).")
        if problem:
            return None, _failed(ex, problem, case=case, got=out.value)
        values.append(value)
    for case, out in zip(ex.cases, outcomes, strict=True):
        if out.mutated:
            names = ", ".join(out.mutated)
            return None, _failed(ex, f"Your function changed its input {names} in place (e.g. with "
                                     "*= or +=, or by writing into it). The caller still needs the "
                                     "old values: build a new array instead (write `new = a * b`, "
                                     "not `a *= b`).",
                                 case=case)
    return _Run(outcomes, values), None


def _normalise(ex, case, value):
    """The learner's return value as the comparisons want it, or a sentence on what is wrong."""
    if ex.read is not None:
        return ex.read(case, value)
    if ex.kind == "vector":
        arr, problem = _as_vector(value, ex.H)
        if problem is None and arr.shape != (ex.H,):
            D = case.args["x_t"].size if "x_t" in case.args else None   # no x_t, no D to blame
            problem = _shape_problem(arr.shape, ex.H, D, ex.result)
            if arr.size == ex.H and np.allclose(arr.ravel(), case.expected, rtol=RTOL, atol=ATOL):
                problem += " The values themselves are right; only the shape is wrong."
            return None, problem
        return arr, problem and "Your function " + problem
    if ex.kind == "pair":
        pair, problem = _normalise_pair(value, ex.H)
        return pair, problem and "Your function " + problem
    grads, problem = _normalise_grads(value, case.expected)
    return grads, problem and "Your function " + problem


def _matches(ex, run, cfg):
    for k in ex.eval_order():
        case = ex.cases[k]
        try:
            with np.errstate(all="ignore"):
                value = ex.variant(cfg, *case.args.values())
        except ValueError:
            value = _SHAPE_ERROR
        if not _close(run.values[k], value):
            return False
    return True


def _diagnose(ex, run):
    """The fewest planted mistakes that reproduce the learner's outcome on every case, or None."""
    for n in range(1, ex.depth + 1):
        for combo in itertools.combinations(ex.mistakes, n):
            slots = [m.slots for m in combo]
            if n > 1 and len(frozenset().union(*slots)) < sum(len(s) for s in slots):
                continue                                   # two mistakes in the same place
            cfg = dict(ch for m in combo for ch in m.changes)
            if _matches(ex, run, cfg):
                return combo
    return None


def _check(ex, fn, time_limit=None):
    limit = _time_limit(time_limit)   # a bad time_limit is the caller's error: raise it now
    run, problem = _screen(ex, fn, limit)
    if problem is not None:
        return problem
    return _verdict(ex, run)


def _verdict(ex, run):
    """The CheckResult of a screened run: passed, or what is wrong and one failing case."""
    wrong = [k for k, case in enumerate(ex.cases) if not _close(run.values[k], case.expected)]
    if not wrong:
        labels = "; ".join(case.label.split(" (")[0] for case in ex.cases)
        return CheckResult(True, f"{ex.name}: passed. {ex.result} is right on all {len(ex.cases)} "
                                 f"cases ({labels}).")
    # show a case where the function returned numbers; mention a shape error besides
    returned = [k for k in wrong if run.values[k] is not _SHAPE_ERROR]
    shown = returned[0] if returned else wrong[0]
    raised = [k for k in wrong if run.values[k] is _SHAPE_ERROR]
    note = ""
    if returned and raised:
        k = raised[0]
        x = ex.cases[k].args.get("x_t")
        dims = f" (D = {x.size}, H = {ex.H})" if x is not None else ""
        note = (f"On the case \"{ex.cases[k].label}\"{dims} your function raised "
                f"{_error_text(run.outcomes[k].error)}")
    combo = _diagnose(ex, run)
    if combo is not None:
        causes = [m.cause for m in combo]
        looks = list(dict.fromkeys(m.look_at for m in combo))
    else:
        causes, looks = _undiagnosed(ex, run, wrong), [ex.equation]
    return _failed(ex, causes, looks, case=ex.cases[shown], got=run.outcomes[shown].value,
                   outcome=run.outcomes[shown], note=note)


def _shapes_advice(ex):
    """Where a shape error comes from in this exercise, in one sentence."""
    if ex.kind in ("grads", "bptt"):
        return ("Each gradient has the shape of what it is the gradient of (dW_h* like W_h*, dx_t "
                "like x_t), and going back through a product W @ v takes the transpose: W.T @ da.")
    if ex.kind == "sequence":
        return ("With a batch, rows are examples: x[t] (B, D) @ W_x*.T and h (B, H) @ W_h*.T, "
                "each (B, H).")
    if not any(k.startswith("W_") or k == "params" for k in ex.cases[0].args):
        return "Every input here is a vector of shape (H,): combine them element by element."
    return ("Check that every weight multiplies the vector of its own size, W_x* (H, D) @ x_t "
            "(D,) and W_h* (H, H) @ h_{t-1} (H,).")


def _undiagnosed(ex, run, wrong):
    """What can still be said when no known mistake reproduces the learner's numbers: which
    isolation cases are right and which wrong, and so which term to look at."""
    if all(value is _SHAPE_ERROR for value in run.values):
        return ["Your function raises a shape error on every case, so there are no numbers to "
                "compare yet. " + _shapes_advice(ex) +
                " The failing case shows the shapes of its inputs and the error."]
    text = "None of the usual mistakes reproduces your numbers."
    if ex.kind == "pair":
        c_right = all(value is not _SHAPE_ERROR and _close(value[1], case.expected[1])
                      for value, case in zip(run.values, ex.cases, strict=True))
        text += (" Your c_t is right on every case, so the mistake is in o_t or in h_t = o_t * "
                 "tanh(c_t)."
                 if c_right else
                 " Your c_t is already wrong: check f_t, i_t, g_t and the cell update one at a "
                 "time (check_forget_gate, check_input_gate, check_candidate, check_cell_update).")
    hinted = [k for k, case in enumerate(ex.cases) if case.hint]
    if len(hinted) > 1 and set(hinted) <= set(wrong) and ex.shared:
        text += (" It is wrong in every case, even when only one part acts, so look first at "
                 f"what every case shares: {ex.shared}.")
        hinted = []
    elif hinted:
        text += " The cases narrow it down."
    for k in hinted:
        case = ex.cases[k]
        short = case.label.split(" (")[0]
        text += (f" Wrong when {short}: look at {case.hint}." if k in wrong else
                 f" Right when {short} (so that part seems fine: {case.hint}).")
    if hinted and not set(hinted) & set(wrong) and ex.together:
        text += " " + ex.together
    if any(run.values[k] is _SHAPE_ERROR for k in wrong):
        text += " Your function raises a shape error on some cases. " + _shapes_advice(ex)
    if ex.kind == "grads":
        text += " " + _grads_localise(ex, run, wrong)
    return [text + " Compare your code with the equations line by line."]


def _grads_localise(ex, run, wrong):
    bad = set()
    for k in wrong:
        value, want = run.values[k], ex.cases[k].expected
        if value is _SHAPE_ERROR:
            return "Your function raises a shape error on some cases (see the failing case)."
        bad |= {key for key in want if not _close(value[key], want[key])}
    order = [key for key in ex.cases[0].expected if key in bad]
    good = [key for key in ex.cases[0].expected if key not in bad]
    hint = ""
    gates_bad = {key[-1] for key in bad if key[:2] in ("W_", "b_")}
    if len(gates_bad) == 1:
        L = gates_bad.pop()
        hint = (f" Only gate {L}'s gradients are wrong: look at d{L} and its local derivative."
                if f"b_{L}" in bad else     # db_L is da_L itself: da_L is right
                f" Only gate {L}'s weight gradients are wrong, and b_{L}'s, which is da_{L} "
                f"itself, is right: look at how da_{L} meets the inputs, np.outer(da_{L}, x_t) "
                f"and np.outer(da_{L}, h_prev).")
    elif gates_bad == {"f", "i", "g"}:     # the three gates that dc reaches, not the output gate
        hint = (" The output gate's gradients are right and those of f, i, g are not: look at dc, "
                + _DC_EQ + ".")
    elif not gates_bad:
        hint = (" Every parameter gradient is right: look at how the pre-activation gradients flow "
                "back to x_t (W_x*.T @ da_*), h_prev (W_h*.T @ da_*) and c_prev (dc * f_t).")
    return f"Wrong: {', '.join(order)}. Right: {', '.join(good) or 'none'}.{hint}"


_COUNT = {2: "two", 3: "three"}


def _failed(ex, causes, looks=(), case=None, got=None, outcome=None, note=""):
    """A failed CheckResult: the causes, the equations to look at, then one failing case."""
    causes = [causes] if isinstance(causes, str) else list(causes)
    lines = [f"{ex.name}: not right yet."]
    if len(causes) == 1:
        lines.append("What is wrong: " + causes[0])
    else:
        lines.append(f"What is wrong ({_COUNT.get(len(causes), len(causes))} things):")
        lines += [f"  {k}. {c}" for k, c in enumerate(causes, 1)]
    if looks:
        eqs = [ln for look in looks for ln in look.split("\n")]
        lines.append("Look at: " + eqs[0])
        lines += ["         " + e for e in eqs[1:]]
    record = {}
    raised = outcome is not None and outcome.error is not None
    if case is not None and (got is not None or raised):
        lines.append(f"A failing case, {case.label}:")
        lines += _case_lines(ex, case, got, outcome)
        # copies: editing result.case must not change the checker's own cases
        record = {**_copy(case.args), "expected": _copy(case.expected), "got": got}
    if note:
        lines.append(note)
    if record:
        lines.append("All inputs of this case: result.case")
    return CheckResult(False, "\n".join(lines), case=record)


def _case_lines(ex, case, got, outcome):
    lines = [f"    {name:<9}= {_fmt(case.args[name])}" for name in case.show]
    if outcome is not None and outcome.error is not None:
        lines += [f"    shapes: {_shapes(case.args)}",
                  f"    your function raised {_error_text(outcome.error)}"]
        return lines + ([f"    {outcome.where}"] if outcome.where else [])
    if ex.show_got is not None:
        return lines + ex.show_got(case, got)
    if ex.kind == "grads":
        return lines + _grads_case_lines(case, got)
    if ex.kind == "pair" and isinstance(got, (tuple, list)) and len(got) == 2:
        (want_h, want_c), (got_h, got_c) = case.expected, got
        return lines + [f"    expected h_t = {_fmt(want_h)}", f"             c_t = {_fmt(want_c)}",
                        f"    got      h_t = {_fmt(got_h)}", f"             c_t = {_fmt(got_c)}"]
    if ex.kind == "pair":
        return lines + [f"    got      {_fmt(got)}"]
    return lines + [f"    expected = {_fmt(case.expected)}", f"    got      = {_fmt(got)}"]


def _grads_case_lines(case, got):
    grads, _ = _normalise_grads(got, case.expected)
    if grads is None:
        return []
    bad = [k for k in case.expected if not _close(grads[k], case.expected[k])]
    vectors = [k for k in bad if case.expected[k].ndim == 1][:2] or bad[:1]
    lines = []
    for k in vectors:
        want = case.expected[k]
        if want.ndim == 1:
            lines += [f"    d{k}: expected {_fmt(want)}", f"    {' ' * (len(k) + 3)}got      "
                                                          f"{_fmt(grads[k])}"]
        else:
            lines.append(f"    d{k}: largest difference {np.max(np.abs(grads[k] - want)):.4f}")
    return lines


def _shapes(args):
    return ", ".join(f"{k} {np.shape(v)}" for k, v in args.items() if isinstance(v, np.ndarray))


def _crashed(ex, case, out):
    err = out.error
    text = f"{ex.name}: your function raised an error.\n{_error_text(err)}"
    if out.where:
        text += f"\n    {out.where}"
    shapes = _shapes(case.args)
    text += f"\nIt was called as {ex.call}, on the case \"{case.label}\""
    text += f", with {shapes}." if shapes else "."
    tip = {
        NameError: "A name is not defined: a typo, or a cell above (the one defining sigmoid, say) "
                   "was not run.",
        KeyError: "params uses the symbol table's names: W_xf, W_hf, b_f, W_xi, ... (W_xr, ... for "
                  "the GRU).",
        TypeError: f"Check the signature: {ex.call}, and that every argument is used as an array.",
    }
    for kind, advice in tip.items():
        if isinstance(err, kind):
            text += "\n" + advice
            break
    return CheckResult(False, text, case={**_copy(case.args), "error": _error_text(err)})


def _timed_out(ex, case, limit):
    shapes = _shapes(case.args)
    text = (f"{ex.name}: your function did not return within {limit:g} s.\n"
            f"It was called as {ex.call}, on the case \"{case.label}\""
            + (f", with {shapes}." if shapes else ".") +
            "\nLook for a loop that never ends (a `while` whose condition stays true, a loop "
            "that waits for something). If it is only slow, allow it more time: "
            f"{ex.name}(your_function, time_limit=30), or exercises.TIME_LIMIT = 30 for every "
            "check.")
    return CheckResult(False, text, case={**_copy(case.args),
                                          "error": f"did not return within {limit:g} s"})


# ============================================================================ the checkers


def check_forget_gate(fn, *, time_limit=None):
    """Check fn(x_t, h_prev, W_xf, W_hf, b_f) -> f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + b_f).

    x_t (D,), h_prev (H,), W_xf (H, D), W_hf (H, H), b_f (H,); f_t (H,). Returns a `CheckResult`.
    Every checker takes ``time_limit``, the seconds each call of fn may take (default
    ``TIME_LIMIT``, 5).
    """
    return _check(_gate_exercise("f"), fn, time_limit)


def check_input_gate(fn, *, time_limit=None):
    """Check fn(x_t, h_prev, W_xi, W_hi, b_i) -> i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + b_i)."""
    return _check(_gate_exercise("i"), fn, time_limit)


def check_candidate(fn, *, time_limit=None):
    """Check fn(x_t, h_prev, W_xg, W_hg, b_g) -> g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g)."""
    return _check(_gate_exercise("g"), fn, time_limit)


def check_output_gate(fn, *, time_limit=None):
    """Check fn(x_t, h_prev, W_xo, W_ho, b_o) -> o_t = sigmoid(W_xo x_t + W_ho h_{t-1} + b_o)."""
    return _check(_gate_exercise("o"), fn, time_limit)


def check_cell_update(fn, *, time_limit=None):
    """Check fn(c_prev, f_t, i_t, g_t) -> c_t = f_t * c_{t-1} + i_t * g_t (Hadamard products)."""
    return _check(_cell_update_exercise(), fn, time_limit)


def check_hidden_state(fn, *, time_limit=None):
    """Check fn(o_t, c_t) -> h_t = o_t * tanh(c_t), shape (H,)."""
    return _check(_hidden_state_exercise(), fn, time_limit)


def check_lstm_step(fn, *, time_limit=None):
    """Check fn(x_t, h_prev, c_prev, params) -> (h_t, c_t), one whole LSTM step.

    x_t (D,), h_prev and c_prev (H,); params a dict with W_x* (H, D), W_h* (H, H), b_* (H,)
    for * in f, i, g, o (the symbol table's names: 'W_xf', 'W_hf', 'b_f', ...).
    """
    return _check(_lstm_step_exercise(), fn, time_limit)


def check_gru_step(fn, *, time_limit=None):
    """Check fn(x_t, h_prev, params) -> h_t, one GRU step with the reset gate before the product.

    r_t = sigmoid(W_xr x_t + W_hr h_{t-1} + b_r), z_t = sigmoid(W_xz x_t + W_hz h_{t-1} + b_z),
    g_t = tanh(W_xg x_t + W_hg (r_t * h_{t-1}) + b_g), h_t = (1 - z_t) * g_t + z_t * h_{t-1}
    (``GRUCell(reset_after=False)``). params holds W_xr, W_hr, b_r, W_xz, ..., b_g.
    """
    return _check(_gru_step_exercise(), fn, time_limit)


def check_lstm_step_backward(fn, *, time_limit=None):
    """Check fn(dh_t, dc_t, cache) -> grads, the backward pass of one LSTM step.

    dh_t (H,) is dL/dh_t and dc_t (H,) the gradient reaching c_t from the next step (through
    c_{t+1}); cache is what `lstm_step_cache` returns. grads must be a dict with the gradient
    of L = dh_t . h_t + dc_t . c_t for every parameter ('W_xf', ..., 'b_o', each shaped like
    its parameter) and for 'x_t', 'h_prev', 'c_prev' (a leading 'd', as in 'dW_xf', is accepted).
    """
    return _check(_backward_exercise(), fn, time_limit)


CHECKS = {
    "forget_gate": check_forget_gate, "input_gate": check_input_gate, "candidate": check_candidate,
    "output_gate": check_output_gate, "cell_update": check_cell_update,
    "hidden_state": check_hidden_state, "lstm_step": check_lstm_step, "gru_step": check_gru_step,
    "lstm_step_backward": check_lstm_step_backward,
}


# ======================================================================= exercises that ask more
#
# Three functions that take more than one line: a whole LSTM forward pass over a batch of
# sequences (every gate recorded), backpropagation through time for the vanilla RNN, and the
# GRU step in the reset_after=True convention (PyTorch, Keras). The machinery above runs them;
# each brings its own catalogue of mistakes and, where its result is not a vector, its reader.

_SEQ_KEYS = ("h", "c", "f", "i", "g", "o")
_SEQ_EQ = ("for t = 0 .. T-1: the step equations on the batch (x[t] (B, D) @ W_x*.T), starting "
           "from h0, c0;\nthen h[t] = h_t, c[t] = c_t and every gate's value at step t")


def _seq_value(cfg, x, h0, c0, P):
    """The LSTM over a batch of sequences, with the mistakes cfg switches on; each batch row runs
    through the step maths above, so every one-step mistake can happen here too."""
    on = lambda name: cfg.get(("seq", name), False)  # noqa: E731
    T, B, _ = x.shape
    H = P["b_f"].shape[0]
    h, c = (np.zeros((B, H)), np.zeros((B, H))) if on("zero_start") else (h0, c0)
    out = {k: np.zeros((T, B, H)) for k in _SEQ_KEYS}
    for t in (reversed(range(T)) if on("reversed") else range(T)):
        h_in = h0 if on("h_not_carried") else h
        c_in = c0 if on("c_not_carried") else c
        rows = []
        for b in range(B):
            gates = {L: _gate_value(cfg, L, x[t, b], h_in[b], P) for L in "figo"}
            c_t = _update_value(cfg, c_in[b], gates["f"], gates["i"], gates["g"])
            h_t = _hidden_value(cfg, gates["o"], c_t)
            rows.append({"h": h_t, "c": c_t, **gates})
        h = np.stack([r["h"] for r in rows])
        c = np.stack([r["c"] for r in rows])
        for k in _SEQ_KEYS:
            out[k][t] = np.stack([r[k] for r in rows])
        if on("record_prev"):
            out["h"][t], out["c"][t] = h_in, c_in
    return out


def _seq_mistakes():
    def m(name, cause, look=_SEQ_EQ):
        return _Mistake(((("seq", name), True),), cause, look)
    out = [
        m("h_not_carried", "The hidden state is not carried from step to step: every step starts "
                           "from h0 again. After step t, h_t becomes the h_{t-1} of step t + 1."),
        m("c_not_carried", "The cell state is not carried from step to step: every step starts "
                           "from c0 again, so the cell remembers nothing beyond one step."),
        m("zero_start", "The initial states h0 and c0 are ignored: the first step must start "
                        "from them, not from zeros."),
        m("record_prev", "h[t] and c[t] hold the states from before step t (h_{t-1}, c_{t-1}); "
                         "they must hold the new states computed at step t."),
        m("reversed", "The steps run from the last time step to the first. A forward pass reads "
                      "the sequence in order, t = 0, 1, ..., T - 1."),
    ]
    out += _update_mistakes() + _hidden_mistakes()
    for L in "figo":
        out += _gate_mistakes(L, step=True, others=[M for M in "figo" if M != L])
    return out


def _read_seq(case, value):
    """The learner's dict of sequences as float arrays (T, B, H), or what is wrong with it."""
    T, B, H = case.expected["h"].shape
    if not isinstance(value, Mapping):
        return None, (f"Your function must return a dict with the keys {', '.join(_SEQ_KEYS)} "
                      f"(each an array (T, B, H) = ({T}, {B}, {H})); it returned "
                      f"{type(value).__name__}.")
    missing = [k for k in _SEQ_KEYS if k not in value]
    if missing:
        return None, (f"Your function returned no {', '.join(missing)}: the dict needs the "
                      f"states h and c and every gate f, i, g, o, each (T, B, H).")
    why = {(B, T, H): " Time comes first here: index [t, b, unit].",
           (B, H): " That is one step's values: keep every step, stacked along time."}
    return _read_arrays(value, {k: (T, B, H) for k in _SEQ_KEYS}, lambda k: k, why)


def _read_arrays(value, shapes, label, why=None):
    """value[k] for every k of `shapes` as a finite float array of shape shapes[k], or (None,
    what is wrong); label(k) names it in the sentence, why maps a wrong shape to its cause."""
    out = {}
    for k, shape in shapes.items():
        try:
            arr = np.asarray(value[k], dtype=float)
        except (TypeError, ValueError):
            return None, f"Your function returned {label(k)} that is not a real array."
        if arr.shape != shape:
            return None, (f"Your function returned {label(k)} of shape {arr.shape}; it must "
                          f"have the shape {shape}.{(why or {}).get(arr.shape, '')}")
        if not np.isfinite(arr).all():
            return None, f"Your function returned NaN or inf in {label(k)}."
        out[k] = arr
    return out, None


def _show_seq(case, got):
    value, _ = _read_seq(case, got)
    if value is None:
        return []
    lines = []
    for k in _SEQ_KEYS:
        want = case.expected[k]
        bad = [t for t in range(want.shape[0]) if not _close(value[k][t], want[t])]
        if bad:
            right = ", right before it" if bad[0] else ""
            lines += [f"    {k}: wrong from step t = {bad[0]} on{right}; at t = {bad[0]}, "
                      "first sequence:",
                      f"        expected {_fmt(want[bad[0], 0])}",
                      f"        got      {_fmt(value[k][bad[0], 0])}"]
    return lines[:6]


@cache
def _lstm_forward_exercise():
    rng = np.random.default_rng(7000)
    H = 3
    specs = [("one step (T = 1) from zero states", 1, 2, 2, False,
              "one step of the equations on a batch (x[t] @ W_x*.T)"),
             ("the states are carried (T = 4, h0 = c0 = 0)", 4, 2, 2, False,
              "how h_t and c_t feed the next step"),
             ("start from h0 and c0 (T = 2)", 2, 2, 2, True, "the initial states h0, c0"),
             ("random 1 (T = 5, B = 3)", 5, 3, 2, True, ""),
             ("random 2 (T = 3, B = 4, D = H = 3)", 3, 4, 3, True, "")]
    cases = []
    for label, T, B, D, with_state, hint in specs:
        P = _random_params(rng, D, H, "figo")
        x = _rounded(rng, (T, B, D), 0.3, 1.5)
        h0 = _rounded(rng, (B, H), 0.1, 0.9) if with_state else np.zeros((B, H))
        c0 = _rounded(rng, (B, H), 0.3, 2.0) if with_state else np.zeros((B, H))
        trace = _lstm_with(P, D, H).forward(x, h0, c0)
        expected = {"h": trace.h, "c": trace.c, **{L: trace.gates[L] for L in "figo"}}
        args = {"x": x, "h0": h0, "c0": c0, "params": P}
        cases.append(_Case(label, args, expected, ("h0", "c0") if with_state else (), hint))

    def variant(cfg, x, h0, c0, params):
        return _seq_value(cfg, x, h0, c0, params)

    return _Exercise(name="check_lstm_forward", call="fn(x, h0, c0, params) -> dict of (T, B, H)",
                     kind="sequence", result="Every state and gate", equation=_SEQ_EQ,
                     cases=cases, mistakes=_seq_mistakes(), variant=variant, depth=1, H=H, D=2,
                     read=_read_seq, show_got=_show_seq,
                     together="One step and the initial states are right, the longer runs not: "
                              "look at how the states go from one step to the next.",
                     shared="the step equations themselves (activations, cell update, h_t)")


# -- backpropagation through time for the vanilla RNN

_BPTT_EQ = ("for t = T-1 .. 0:  dh_total = dh[t] + dh_next;  da = dh_total * (1 - h_t**2)\n"
            "dW_xh += outer(da, x_t), dW_hh += outer(da, h_{t-1}), db_h += da\n"
            "dx[t] = W_xh.T @ da,  dh_next = W_hh.T @ da;  after the loop dh0 = dh_next")
_BPTT_KEYS = ("W_xh", "W_hh", "b_h", "x", "h0")


def _bptt_value(cfg, x, h0, params, dh):
    """BPTT of h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h) for L = sum_t dh[t] . h_t, with the
    mistakes cfg switches on."""
    on = lambda name: cfg.get(("bptt", name), False)  # noqa: E731
    W_xh, W_hh, b_h = params["W_xh"], params["W_hh"], params["b_h"]
    T = x.shape[0]
    hs = [h0]
    for t in range(T):
        hs.append(np.tanh(W_xh @ x[t] + W_hh @ hs[-1] + b_h))
    g = {"W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh), "b_h": np.zeros_like(b_h),
         "x": np.zeros_like(x)}
    d_next = np.zeros_like(h0)
    for t in (range(T) if on("forward_order") else reversed(range(T))):
        d_own = dh[t] if not on("last_only") or t == T - 1 else 0.0
        d_total = d_own + (0.0 if on("no_carry") else d_next)
        h_t, h_prev = hs[t + 1], hs[t]
        da = d_total if on("no_tanh_grad") else d_total * (1 - h_t**2)
        parts = {"W_xh": np.outer(da, x[t]),
                 "W_hh": np.outer(da, h_t if on("dWhh_h_t") else h_prev), "b_h": da}
        for k, v in parts.items():
            g[k] = v if on("overwrite") else g[k] + v
        g["x"][t] = (W_xh if on("dx_no_T") else W_xh.T) @ da
        d_next = (W_hh if on("dh_no_T") else W_hh.T) @ da
    g["h0"] = d_next
    return g


def _bptt_mistakes():
    def m(name, cause, look=_BPTT_EQ):
        return _Mistake(((("bptt", name), True),), cause, look)
    return [
        m("no_carry", "The gradient is not carried back through time: each step uses only its "
                      "own dh[t]. h_t also feeds step t + 1, so dh_total = dh[t] + W_hh.T @ da "
                      "of step t + 1."),
        m("last_only", "Only the last step's dh reaches the weights: every dh[t] adds to the "
                       "gradient of its own step, not only dh[T - 1]."),
        m("forward_order", "The backward loop runs forwards in time. The gradient of step t "
                           "needs what came back from step t + 1, so the loop runs t = T - 1 "
                           "down to 0."),
        m("no_tanh_grad", "tanh's derivative is missing: da = dh_total * (1 - h_t**2)."),
        m("dWhh_h_t", "dW_hh uses h_t; the recurrent weight multiplied h_{t-1}, so dW_hh += "
                      "outer(da, h_{t-1})."),
        m("overwrite", "The weight gradients are overwritten at every step (=) instead of "
                       "summed over the steps (+=): the same weights act at every step."),
        m("dx_no_T", "dx[t] uses W_xh without the transpose: dx[t] = W_xh.T @ da."),
        m("dh_no_T", "The gradient passed back to h_{t-1} uses W_hh without the transpose: "
                     "W_hh.T @ da."),
    ]


def _read_bptt(case, value):
    """The learner's gradients under the names of case.expected ('dx' -> 'x'), or a problem."""
    keys = list(case.expected)
    if not isinstance(value, Mapping):
        return None, ("Your function must return a dict of gradients with the keys "
                      f"{', '.join(keys)}; it returned {type(value).__name__}.")
    grads = {k: v for k, v in value.items() if str(k) in keys}
    grads.update({str(k)[1:]: v for k, v in value.items()
                  if str(k).startswith("d") and str(k)[1:] in keys})
    missing = [k for k in keys if k not in grads]
    if missing:
        return None, (f"Your function returned no gradient for {', '.join(missing)}: the keys "
                      f"are {', '.join(keys)} (or the same with a leading d).")
    return _read_arrays(grads, {k: case.expected[k].shape for k in keys},
                        lambda k: f"the gradient of {k} (shaped like {k} itself)")


def _show_bptt(case, got):
    value, _ = _read_bptt(case, got)
    if value is None:
        return []
    bad = [k for k in case.expected if not _close(value[k], case.expected[k])]
    good = [k for k in case.expected if k not in bad]
    lines = [f"    wrong: {', '.join(bad)}; right: {', '.join(good) or 'none'}"]
    for k in bad[:2]:
        gap = np.max(np.abs(value[k] - case.expected[k]))
        lines.append(f"    d{k}: largest difference {gap:.4f}")
    return lines


@cache
def _rnn_bptt_exercise():
    rng = np.random.default_rng(8000)
    H, D = 2, 3
    specs = [("one step (T = 1)", 1, "all", "the local derivatives of one step"),
             ("the loss only at the last step (dh[t] = 0 for t < T - 1)", 4, "last",
              "carrying the gradient back through W_hh"),
             ("random 1 (T = 4)", 4, "all", ""), ("random 2 (T = 5)", 5, "all", "")]
    cases = []
    for label, T, where, hint in specs:
        P = {"W_xh": _rounded(rng, (H, D), 0.1, 1.0), "W_hh": _rounded(rng, (H, H), 0.1, 1.0),
             "b_h": _rounded(rng, H, 0.1, 0.5)}
        x = _rounded(rng, (T, D), 0.3, 1.5)
        h0 = _rounded(rng, H, 0.1, 0.9)
        dh = _rounded(rng, (T, H), 0.2, 1.0)
        if where == "last":
            dh[:-1] = 0.0
        cell = RNNCell(D, H, seed=0)
        for name, value in P.items():
            cell.params[name] = value
        grads = cell.backward(cell.forward(x, h0), dh)
        args = {"x": x, "h0": h0, "params": P, "dh": dh}
        cases.append(_Case(label, args, {k: grads[k] for k in _BPTT_KEYS}, (), hint))

    def variant(cfg, x, h0, params, dh):
        return _bptt_value(cfg, x, h0, params, dh)

    return _Exercise(name="check_rnn_bptt", call="fn(x, h0, params, dh) -> dict of gradients",
                     kind="bptt", result="Every gradient", equation=_BPTT_EQ, cases=cases,
                     mistakes=_bptt_mistakes(), variant=variant, depth=2, H=H, D=D,
                     read=_read_bptt, show_got=_show_bptt,
                     together="One step is right, a longer sequence not: look at how the "
                              "gradient is carried back and summed over the steps.",
                     shared="the local derivative of tanh and the steps through the weights")


# -- backpropagation through time for the LSTM (the stretch): Exercise 7's step in a loop

_LSTM_BPTT_EQ = ("for t = T-1 .. 0:  grads_t = step_backward(dh[t] + dh_next, dc_next, cache_t);\n"
                 "add grads_t's weight gradients; dx[t] = grads_t['x_t'];\n"
                 "dh_next, dc_next = grads_t['h_prev'], grads_t['c_prev'];  after the loop "
                 "dh0, dc0 = dh_next, dc_next")


def _lstm_bptt_value(cfg, x, h0, c0, params, dh):
    """BPTT of the LSTM for L = sum_t dh[t] . h_t, with the mistakes cfg switches on: the
    sequence-level ones here, and every one-step mistake through `_lstm_backward_value`."""
    on = lambda name: cfg.get(("lbptt", name), False)  # noqa: E731
    T = x.shape[0]
    caches, h, c = [], h0, c0
    for t in range(T):
        caches.append(lstm_step_cache(x[t], h, c, params))
        h, c = caches[-1]["h_t"], caches[-1]["c_t"]
    g = {k: np.zeros_like(v) for k, v in params.items()}
    g["x"] = np.zeros_like(x)
    dh_next, dc_next = np.zeros_like(h0), np.zeros_like(c0)
    for t in (range(T) if on("forward_order") else reversed(range(T))):
        d_own = dh[t] if not on("last_only") or t == T - 1 else 0.0
        step = _lstm_backward_value(cfg, d_own + (0.0 if on("no_dh_carry") else dh_next),
                                    0.0 * dc_next if on("no_dc_carry") else dc_next, caches[t])
        for k in params:
            g[k] = step[k] if on("overwrite") else g[k] + step[k]
        g["x"][t] = step["x_t"]
        dh_next, dc_next = step["h_prev"], step["c_prev"]
    g["h0"], g["c0"] = dh_next, dc_next
    return g


def _lstm_bptt_mistakes():
    def m(name, cause):
        return _Mistake(((("lbptt", name), True),), cause, _LSTM_BPTT_EQ)
    return [
        m("no_dh_carry", "The gradient reaching h_t from step t + 1 is dropped: the step "
                         "backward of step t needs dh[t] + dh_next, where dh_next is "
                         "grads['h_prev'] of step t + 1."),
        m("no_dc_carry", "The gradient along the cell state is not carried back: dc_t of step "
                         "t is grads['c_prev'] of step t + 1 (zero only at the last step)."),
        m("last_only", "Only the last step's dh reaches the weights: every dh[t] adds to the "
                       "gradient of its own step."),
        m("forward_order", "The backward loop runs forwards in time; it must run t = T - 1 down "
                           "to 0, each step taking what came back from the step after it."),
        m("overwrite", "The weight gradients are overwritten at every step (=) instead of "
                       "summed over the steps (+=): the same weights act at every step."),
    ] + _backward_mistakes()


@cache
def _lstm_bptt_exercise():
    rng = np.random.default_rng(8500)
    H = 3
    specs = [("one step (T = 1)", 1, 2, "all", "one step backward (Exercise 7)"),
             ("the loss only at the last step (dh[t] = 0 for t < T - 1)", 4, 2, "last",
              "carrying dh and dc back through the steps"),
             ("random 1 (T = 4)", 4, 2, "all", ""),
             ("random 2 (T = 3, D = H = 3)", 3, 3, "all", "")]
    cases = []
    for label, T, D, where, hint in specs:
        P = _random_params(rng, D, H, "figo")
        x = _rounded(rng, (T, D), 0.3, 1.5)
        h0, c0 = _rounded(rng, H, 0.1, 0.9), _rounded(rng, H, 0.3, 2.0)
        dh = _rounded(rng, (T, H), 0.2, 1.0)
        if where == "last":
            dh[:-1] = 0.0
        cell = _lstm_with(P, D, H)
        grads = cell.backward(cell.forward(x, h0, c0), dh)
        args = {"x": x, "h0": h0, "c0": c0, "params": P, "dh": dh}
        cases.append(_Case(label, args, {k: grads[k] for k in (*P, "x", "h0", "c0")}, (), hint))

    def variant(cfg, x, h0, c0, params, dh):
        return _lstm_bptt_value(cfg, x, h0, c0, params, dh)

    return _Exercise(name="check_lstm_bptt", call="fn(x, h0, c0, params, dh) -> dict of gradients",
                     kind="bptt", result="Every gradient", equation=_LSTM_BPTT_EQ, cases=cases,
                     mistakes=_lstm_bptt_mistakes(), variant=variant, depth=1, H=H, D=2,
                     read=_read_bptt, show_got=_show_bptt,
                     together="One step is right, a longer sequence not: look at how dh and dc "
                              "are carried back and how the weight gradients are summed.",
                     shared="the step backward itself (Exercise 7)")


# -- the GRU step with the reset gate after the product (reset_after=True)

_GRU_AFTER_G_EQ = "g_t = tanh(W_xg x_t + b_xg + r_t * (W_hg h_{t-1} + b_hg))"
_GRU_AFTER_FORMS = {
    "after": lambda x, h, r, z, P: P["W_xg"] @ x + P["b_xg"] + r * (P["W_hg"] @ h + P["b_hg"]),
    "before": lambda x, h, r, z, P: P["W_xg"] @ x + P["b_xg"] + P["W_hg"] @ (r * h) + P["b_hg"],
    "bias_outside": lambda x, h, r, z, P: P["W_xg"] @ x + P["b_xg"] + r * (P["W_hg"] @ h)
    + P["b_hg"],
    "no_r": lambda x, h, r, z, P: P["W_xg"] @ x + P["b_xg"] + P["W_hg"] @ h + P["b_hg"],
    "z": lambda x, h, r, z, P: P["W_xg"] @ x + P["b_xg"] + z * (P["W_hg"] @ h + P["b_hg"]),
    "no_b_hg": lambda x, h, r, z, P: P["W_xg"] @ x + P["b_xg"] + r * (P["W_hg"] @ h),
    "no_b_xg": lambda x, h, r, z, P: P["W_xg"] @ x + r * (P["W_hg"] @ h + P["b_hg"]),
}


def _gru_after_value(cfg, x_t, h_prev, P):
    r = _gate_value(cfg, "r", x_t, h_prev, P)
    z = _gate_value(cfg, "z", x_t, h_prev, P)
    g = np.tanh(_GRU_AFTER_FORMS[cfg.get(("g", "form"), "after")](x_t, h_prev, r, z, P))
    return _MIX[cfg.get(("h", "mix"), "ok")](z, g, h_prev)


def _gru_after_mistakes():
    def m(form, cause):
        return _Mistake(((("g", "form"), form),), cause, _GRU_AFTER_G_EQ)
    out = [mistake for mistake in _gru_mistakes() if mistake.slots <= {("h", "mix")}]
    out += [
        m("before", "r_t is applied before the matrix product, W_hg (r_t * h_{t-1}): that is the "
                    "source documents' GRU (reset_after=False). Here r_t scales the whole "
                    "recurrent term, W_hg h_{t-1} + b_hg."),
        m("bias_outside", "b_hg is added outside the reset gate: r_t multiplies W_hg h_{t-1} + "
                          "b_hg together (that is why this form has two biases)."),
        m("no_r", "The reset gate r_t is left out of the candidate."),
        m("z", "The candidate uses z_t where the reset gate r_t belongs."),
        m("no_b_hg", "The recurrent bias b_hg is missing from the candidate."),
        m("no_b_xg", "The input bias b_xg is missing from the candidate."),
        _Mistake(((("r", "src"), "z"), (("z", "src"), "r")),
                 "r_t and z_t are swapped: W_xr, W_hr, b_r make the reset gate and W_xz, W_hz, "
                 "b_z the update gate.", _gate_equation("r")),
    ]
    for L in "rz":
        out += _gate_mistakes(L, step=True)
    return out


@cache
def _gru_after_exercise():
    rng = np.random.default_rng(9000)
    H = 4
    specs = [("only the biases act (x_t = 0, h_{t-1} = 0)", 3, False, False,
              "the biases (b_xg and b_hg both count here) and the activations"),
             ("no memory yet (h_{t-1} = 0)", 3, True, False, "the input terms W_x* x_t"),
             ("random 1", 3, True, True, ""), ("random 2", 3, True, True, ""),
             ("random, D = H = 4", 4, True, True, "")]
    cases = []
    for label, D, with_x, with_h, hint in specs:
        P = _random_params(rng, D, H, "rzg")
        bias = P.pop("b_g")
        P["b_xg"], P["b_hg"] = bias, _rounded(rng, (H,), 0.2, 1.2)
        x = _rounded(rng, D, 0.3, 1.5) if with_x else np.zeros(D)
        h = _rounded(rng, H, 0.1, 0.9) if with_h else np.zeros(H)
        cell = GRUCell(D, H, seed=0, reset_after=True)
        for name, value in P.items():
            cell.params[name] = value
        state, _ = cell.step(x, h)
        args = {"x_t": x, "h_prev": h, "params": P}
        cases.append(_Case(label, args, state.h, ("x_t", "h_prev"), hint))

    def variant(cfg, x_t, h_prev, params):
        return _gru_after_value(cfg, x_t, h_prev, params)

    eq = "\n".join([_gate_equation("r"), _gate_equation("z"), _GRU_AFTER_G_EQ, _GRU_H_EQ])
    return _Exercise(name="check_gru_step_reset_after", call="fn(x_t, h_prev, params) -> h_t",
                     kind="vector", result="h_t", equation=eq, cases=cases,
                     mistakes=_gru_after_mistakes(), variant=variant, depth=2,
                     together="The problem shows only when h_{t-1} is not zero: look at the "
                              "recurrent terms and at r_t * (W_hg h_{t-1} + b_hg).",
                     shared="the activations and the mix h_t = (1 - z_t) * g_t + z_t * h_{t-1}")


def check_lstm_forward(fn, *, time_limit=None):
    """Check fn(x, h0, c0, params) -> dict, an LSTM run over a batch of sequences.

    x (T, B, D), time first; h0, c0 (B, H); params as for `check_lstm_step`. The dict holds
    'h', 'c', 'f', 'i', 'g', 'o', each (T, B, H): the states and gates at every step, as in
    ``LSTMCell.forward``'s trace.
    """
    return _check(_lstm_forward_exercise(), fn, time_limit)


def check_rnn_bptt(fn, *, time_limit=None):
    """Check fn(x, h0, params, dh) -> grads, backpropagation through time for the vanilla RNN.

    x (T, D), h0 (H,), params 'W_xh' (H, D), 'W_hh' (H, H), 'b_h' (H,), dh (T, H) = dL/dh_t at
    every step (not counting the path through later steps). grads: 'W_xh', 'W_hh', 'b_h', 'x'
    (T, D) and 'h0' (H,), as ``RNNCell.backward`` returns them.
    """
    return _check(_rnn_bptt_exercise(), fn, time_limit)


def check_lstm_bptt(fn, *, time_limit=None):
    """Check fn(x, h0, c0, params, dh) -> grads, backpropagation through time for the LSTM.

    x (T, D), h0 and c0 (H,), params as for `check_lstm_step`, dh (T, H) = dL/dh_t from each
    step's own output. grads: every parameter, 'x' (T, D), 'h0' and 'c0' (H,), as
    ``LSTMCell.backward`` returns them.
    """
    return _check(_lstm_bptt_exercise(), fn, time_limit)


def check_gru_step_reset_after(fn, *, time_limit=None):
    """Check fn(x_t, h_prev, params) -> h_t, one GRU step in the reset_after=True form.

    g_t = tanh(W_xg x_t + b_xg + r_t * (W_hg h_{t-1} + b_hg)) (PyTorch, Keras); the other
    equations as in `check_gru_step`. params holds W_xr, ..., W_hg, b_xg, b_hg.
    """
    return _check(_gru_after_exercise(), fn, time_limit)


CHECKS.update(lstm_forward=check_lstm_forward, rnn_bptt=check_rnn_bptt,
              lstm_bptt=check_lstm_bptt, gru_step_reset_after=check_gru_step_reset_after)
__all__ += ["check_gru_step_reset_after", "check_lstm_bptt", "check_lstm_forward",
            "check_rnn_bptt"]


# ============================================================================ grading with nbgrader
#
# An nbgrader test cell earns its points when it runs without an error. `grade` splits an
# exercise into parts, one per isolation case (only the bias, only the input, ...) and one for
# the random cases together, so a half-right function earns part of the points, and it raises
# `GradingFailure` (shown as the diagnosis, with no traceback) when the part is wrong. The
# learner's function is run once per exercise; the parts reuse that run.

_EXERCISES = {
    "forget_gate": lambda: _gate_exercise("f"), "input_gate": lambda: _gate_exercise("i"),
    "candidate": lambda: _gate_exercise("g"), "output_gate": lambda: _gate_exercise("o"),
    "cell_update": _cell_update_exercise, "hidden_state": _hidden_state_exercise,
    "lstm_step": _lstm_step_exercise, "gru_step": _gru_step_exercise,
    "gru_step_reset_after": _gru_after_exercise, "lstm_step_backward": _backward_exercise,
    "lstm_forward": _lstm_forward_exercise, "rnn_bptt": _rnn_bptt_exercise,
    "lstm_bptt": _lstm_bptt_exercise,
}
_STATIC_ONLY = "\nAll inputs of this case: result.case"   # a notebook hint; feedback is static
_graded = {}                                               # (name, id(fn)) -> (fn, verdict)


class GradingFailure(AssertionError):
    """A graded part is wrong. In a notebook it shows as its message alone, no traceback."""

    def _render_traceback_(self):   # IPython prints these lines in place of a traceback
        return str(self).splitlines()


def parts(name):
    """The graded parts of exercise `name`: a list of (label, case numbers).

    >>> [label for label, _ in parts("cell_update")]
    ['the forget gate is open and the input gate closed', 'the forget gate is closed and the \
input gate open', 'the random cases']
    """
    ex = _EXERCISES[name]()
    out = [(case.label.split(" (")[0], [k])
           for k, case in enumerate(ex.cases) if case.hint]
    together = [k for k, case in enumerate(ex.cases) if not case.hint]
    return out + [("the random cases", together)]


def _graded_run(name, fn, time_limit):
    """(the CheckResult, the set of wrong case numbers, or None when nothing could be compared)
    for fn on exercise `name`, computed once per function."""
    key = (name, id(fn))
    if key not in _graded or _graded[key][0] is not fn:
        ex = _EXERCISES[name]()
        run, problem = _screen(ex, fn, _time_limit(time_limit))
        if problem is not None:
            verdict = (problem, None)
        else:
            wrong = {k for k, case in enumerate(ex.cases) if not _close(run.values[k],
                                                                       case.expected)}
            verdict = (_verdict(ex, run), wrong)
        _graded[key] = (fn, verdict)
    return _graded[key][1]


def grade(name, fn, part, *, time_limit=None):
    """For an nbgrader test cell: raise `GradingFailure` unless fn is right on part `part`
    (1, 2, ...; see `parts`) of exercise `name` (a key of `CHECKS`); print one line if it is.

    The failure's message is the checker's diagnosis, written for static feedback.

    >>> def forget_gate(x_t, h_prev, W_xf, W_hf, b_f):          # the bias is missing
    ...     return sigmoid(W_xf @ x_t + W_hf @ h_prev)
    >>> grade("forget_gate", forget_gate, 2)
    forget_gate, part 2 of 4 (only the input acts): right.
    >>> grade("forget_gate", forget_gate, 1)
    Traceback (most recent call last):
    ...
    lstm_lab.exercises.GradingFailure: forget_gate, part 1 of 4 (only the bias acts): wrong, ...
    """
    all_parts = parts(name)
    if not 1 <= part <= len(all_parts):
        raise ValueError(f"{name} has parts 1 to {len(all_parts)}; got {part!r}")
    label, cases = all_parts[part - 1]
    head = f"{name}, part {part} of {len(all_parts)} ({label})"
    result, wrong = _graded_run(name, fn, time_limit)
    if wrong is None or wrong & set(cases):
        raise GradingFailure(f"{head}: wrong, no points for this part.\n"
                             + result.message.replace(_STATIC_ONLY, ""))
    print(f"{head}: right.")


class Demonstration:
    """A checker's answer on a function written wrong on purpose, shown in a neutral grey box
    (it is an example, not the learner's result)."""

    def __init__(self, result):
        self.result = result

    def __repr__(self):
        return "A demonstration of the check (not your function):\n" + self.text

    @property
    def text(self):
        return self.result.message.replace(_STATIC_ONLY, "")

    def _repr_html_(self):
        return ('<div style="border-left:6px solid #757575; background:#f5f5f5; color:#1b1b1b; '
                'padding:6px 10px; margin:4px 0"><b>A demonstration of the check (not your '
                'function):</b><pre style="margin:6px 0 0 0; white-space:pre-wrap; '
                f'background:transparent; color:inherit">{html.escape(self.text)}</pre></div>')


def demonstrate(name, fn):
    """What the check of exercise `name` says about fn, as a `Demonstration` (grey, not red)."""
    return Demonstration(CHECKS[name](fn))


__all__ += ["Demonstration", "GradingFailure", "demonstrate", "grade", "parts"]
