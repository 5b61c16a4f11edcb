"""Vanishing gradients measured: step Jacobians, their products, dL/dh_t norms, forget products.

Time indices follow the symbol table: h_0 is the initial state (``trace.h0``) and
h_t = ``trace.h[t-1]`` for t = 1..T; likewise c_t. The state s_t is h_t for the RNN and
the GRU and the stacked vector [h_t; c_t] (size 2H) for the LSTM family.

Backpropagation through time multiplies one Jacobian per step,

    ds_T/ds_t = J_T J_{T-1} ... J_{t+1},        J_t = ds_t/ds_{t-1},

so the gradient that reaches step t from a loss at step T shrinks (or grows) like that
product. This module builds each J_t exactly from the trace (the derivative of every gate
written out, checked against the cells' backward and finite differences in the tests),
multiplies them, and reports norms: arrays indexed by t = 0..T (entry T is the identity).
Reverse one (``a[::-1]``) to index by distance back in time k = T - t.

All functions accept one sequence or a batch; a batch adds a B axis after the time axis.
"""

import numpy as np

from .trace import Trace

__all__ = [
    "step_jacobians",
    "state_jacobians",
    "jacobian_norms",
    "grad_norms",
    "state_grads",
    "forget_gate_products",
]


def _cell_trace(trace):
    """The cell's own Trace: a model's trace (lstm_lab.train) holds it as ``.cell``."""
    inner = getattr(trace, "cell", None)
    return inner if isinstance(inner, Trace) else trace


def _check(cell, trace):
    for attr in ("h", "h0", "gates", "record"):
        if not hasattr(trace, attr):
            raise TypeError(
                f"trace must be a cell trace (with .{attr}); got {type(trace).__name__}"
            )
    if getattr(trace, "kind", cell.kind) != cell.kind:
        raise ValueError(f"trace is from a {trace.kind!r} cell but cell is {cell.kind!r}")
    if trace.h.shape[-1] != cell.hidden_size:
        raise ValueError(
            f"trace has H={trace.h.shape[-1]} but the cell has hidden_size H={cell.hidden_size}"
        )


def step_jacobians(cell, trace):
    """J_t = ds_t / ds_{t-1} for t = 1..T, computed exactly from the trace.

    Returns an array (T, S, S), or (T, B, S, S) for a batch, with ``J[t-1]`` = ds_t/ds_{t-1};
    S = H (RNN, GRU) or 2H with s = [h; c] (LSTM family), so for an LSTM
    ``J[t-1][:H, :H]`` is dh_t/dh_{t-1} and ``J[t-1][H:, H:]`` is dc_t/dc_{t-1}.

    Each cell declares its own Jacobian rule; it reads the weights the trace was made with
    (as ``backward`` does), so a later change to the cell's weights does not alter it.

    Examples
    --------
    >>> import lstm_lab as ll
    >>> cell = ll.RNNCell(1, 3, seed=0)
    >>> trace = cell.forward(np.zeros((4, 1)))
    >>> J = step_jacobians(cell, trace)       # h stays 0, so J_t = W_hh
    >>> J.shape, bool(np.allclose(J[2], cell.params['W_hh']))
    ((4, 3, 3), True)
    """
    trace = _cell_trace(trace)
    _check(cell, trace)
    J = cell.step_jacobians(trace)              # batched rows (T, B, S, S)
    return J if trace.batched else J[:, 0]


def state_jacobians(cell, trace):
    """ds_T/ds_t for t = 0..T: products of the step Jacobians, from the end backwards.

    Returns (T+1, S, S) (or (T+1, B, S, S)); entry t is ds_T/ds_t and entry T the identity.

    >>> import lstm_lab as ll
    >>> cell = ll.LSTMCell(1, 2, seed=0)
    >>> P = state_jacobians(cell, cell.forward(np.ones((6, 1))))
    >>> P.shape, bool(np.allclose(P[-1], np.eye(4)))
    ((7, 4, 4), True)
    """
    J = step_jacobians(cell, trace)
    T = J.shape[0]
    S = J.shape[-1]
    P = np.empty((T + 1,) + J.shape[1:], dtype=J.dtype)
    P[T] = np.broadcast_to(np.eye(S, dtype=J.dtype), J.shape[1:])
    for t in range(T - 1, -1, -1):
        # ds_T/ds_t = ds_T/ds_{t+1} J_{t+1}
        np.matmul(P[t + 1], J[t], out=P[t])
    return P


def jacobian_norms(cell, trace, wrt="h", ord=2):
    """Norms of dh_T/dh_t (wrt='h') or dc_T/dc_t (wrt='c', LSTM family) for t = 0..T.

    ``ord`` is the matrix norm (2: spectral, 'fro': Frobenius). Returns (T+1,) or (T+1, B);
    entry T is 1 (the identity). For the LSTM family, dh_T/dh_t holds c_t fixed and
    dc_T/dc_t holds h_t fixed: these are blocks of the full state Jacobian.

    >>> import lstm_lab as ll
    >>> cell = ll.RNNCell(1, 4, seed=0)
    >>> norms = jacobian_norms(cell, cell.forward(np.zeros((30, 1))))
    >>> norms.shape, float(norms[-1]), bool(norms[0] < norms[20])
    ((31,), 1.0, True)
    """
    if wrt not in ("h", "c"):
        raise ValueError(f"wrt must be 'h' or 'c'; got {wrt!r}")
    H = cell.hidden_size
    if wrt == "c" and not getattr(cell, "has_cell_state", False):
        raise ValueError(f"a {cell.kind!r} cell has no cell state c; use wrt='h'")
    P = state_jacobians(cell, trace)
    block = P[..., :H, :H] if wrt == "h" else P[..., H:, H:]
    return np.linalg.norm(block, ord=ord, axis=(-2, -1))


def state_grads(cell, trace, dh, dc=None):
    """dL/dh_t (and dL/dc_t) for t = 0..T, given the direct gradients dh = dL/dh_t at every step.

    dh is shaped like trace.h (t = 1..T), the same argument ``cell.backward`` takes; dc
    (LSTM family, optional) adds direct gradients on c_t. The recursion is BPTT's:
    delta_t = direct_t + J_{t+1}^T delta_{t+1}.

    Returns (dL/dh, dL/dc): arrays (T+1, H) or (T+1, B, H) indexed by t = 0..T
    (dL/dc is None without a cell state). Entry 0 equals backward's 'h0' (and 'c0').
    """
    J = step_jacobians(cell, trace)
    dh = np.asarray(dh, dtype=J.dtype)
    if dh.shape != trace.h.shape:
        raise ValueError(f"dh must have the shape of trace.h, {trace.h.shape}; got {dh.shape}")
    T, H = dh.shape[0], cell.hidden_size
    has_c = J.shape[-1] == 2 * H
    direct = dh
    if has_c:
        dcv = np.zeros_like(dh) if dc is None else np.asarray(dc, dtype=J.dtype)
        if dcv.shape != dh.shape:
            raise ValueError(f"dc must have the shape of trace.c, {dh.shape}; got {dcv.shape}")
        direct = np.concatenate([dh, dcv], axis=-1)
    elif dc is not None:
        raise ValueError(f"a {cell.kind!r} cell has no cell state c; dc must be None")
    delta = np.zeros((T + 1,) + direct.shape[1:], dtype=J.dtype)
    delta[T] = direct[T - 1]
    for t in range(T - 1, -1, -1):
        # the gradient reaching s_t through s_{t+1}, plus what the loss puts on s_t directly
        back = np.matmul(delta[t + 1][..., None, :], J[t])[..., 0, :]
        delta[t] = back + (direct[t - 1] if t > 0 else 0.0)
    if has_c:
        return delta[..., :H], delta[..., H:]
    return delta, None


def grad_norms(cell, trace, dh=None):
    """||dL/dh_t|| for t = 0..T.

    dh is the direct gradient dL/dh_t at every step (shaped like trace.h); by default the
    loss is L = sum(h_T), i.e. a gradient of ones on the last hidden state only.
    Returns (T+1,) or (T+1, B).

    >>> import lstm_lab as ll
    >>> cell = ll.GRUCell(2, 5, seed=1)
    >>> trace = cell.forward(np.random.default_rng(0).normal(size=(10, 2)))
    >>> n = grad_norms(cell, trace)
    >>> n.shape, bool(np.isclose(n[-1], np.sqrt(5)))
    ((11,), True)
    """
    if dh is None:
        dh = np.zeros_like(trace.h)
        dh[-1] = 1.0
    return np.linalg.norm(state_grads(cell, trace, dh)[0], axis=-1)


def forget_gate_products(trace):
    """prod_{s=t+1}^{T} f_s for t = 0..T: how much of c_t survives, untouched, to c_T.

    Along the cell path c_t = f_t * c_{t-1} + ..., so when nothing else depends on c
    (W_h* = 0, no peepholes) dc_T/dc_t = diag(this product). Returns (T+1, H) or (T+1, B, H);
    entry T is ones.

    >>> import lstm_lab as ll
    >>> cell = ll.LSTMCell(1, 2, seed=0, forget_bias=1.0)
    >>> cell.params['W_xf'] = np.zeros((2, 1)); cell.params['W_hf'] = np.zeros((2, 2))
    >>> prod = forget_gate_products(cell.forward(np.zeros((3, 1))))
    >>> bool(np.allclose(prod[0], ll.cells.sigmoid(1.0) ** 3))
    True
    """
    if getattr(trace, "c", None) is None or "f" not in trace.gates:
        raise ValueError(
            "forget_gate_products needs a trace with a cell state and a forget gate (LSTM family)"
        )
    f = trace.gates["f"]
    T = f.shape[0]
    out = np.ones((T + 1,) + f.shape[1:], dtype=f.dtype)
    for t in range(T - 1, -1, -1):
        out[t] = out[t + 1] * f[t]
    return out
