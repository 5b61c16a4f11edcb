"""Finite-difference checks of backward: central differences against the analytic gradients."""

import numpy as np

from ._atomic import restored_on_failure

__all__ = ["gradcheck", "numeric_gradient"]

_STATE_KEYS = ("x", "h0", "c0")


def gradcheck(model, x, h0=None, c0=None, *, eps=1e-3, seed=0):
    """Compare model.backward with central finite differences, for every gradient it returns.

    The loss is L = sum(R * out), where out is the trace's `output` (if it has one) or `h`, and R
    a fixed random array drawn from `seed`; backward gets dL/dout = R. For each key of the grads
    that names a parameter or one of 'x', 'h0', 'c0', every element is moved by +-eps and +-2 eps
    and differentiated with the five-point central difference

        numeric = (8 (L(+eps) - L(-eps)) - (L(+2 eps) - L(-2 eps))) / (12 eps)

    whose error shrinks like eps^4 (the two-point formula's like eps^2), so that even gradients
    as small as 1e-8 are checked to about 1e-9 relative error.

    Returns {key: norm(analytic - numeric) / max(norm(analytic) + norm(numeric), 1e-12)}, the
    relative error over the whole array. Initial states not given are checked at zero. Use a
    float64 model: in float32 the differences themselves are only good to about 1e-3.
    Parameters are perturbed in place and restored, also when the check fails or is
    interrupted half-way (a NaN in backward, Stop pressed): the model is left as it was.

    >>> import lstm_lab as ll
    >>> cell = ll.LSTMCell(input_size=2, hidden_size=3, seed=0)
    >>> errors = gradcheck(cell, np.random.default_rng(0).normal(size=(4, 2)))
    >>> sorted(errors) == sorted([*cell.params, 'x', 'h0', 'c0'])
    True
    >>> max(errors.values()) < 1e-7
    True
    """
    states = {"h0": h0, "c0": c0}
    x = np.array(x, dtype=np.float64, copy=True)
    trace = model.forward(x, **{k: v for k, v in states.items() if v is not None})
    out = _output(trace)
    R = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    grads = model.backward(trace, R)

    inputs = {"x": x}
    for key in ("h0", "c0"):
        if key in grads:  # check the initial state even when none was given: at zero
            given = states[key]
            inputs[key] = (
                np.zeros_like(grads[key]) if given is None else np.array(given, dtype=np.float64)
            )

    def loss():
        kwargs = {k: v for k, v in inputs.items() if k != "x"}
        return float(np.sum(R * _output(model.forward(inputs["x"], **kwargs)), dtype=np.float64))

    errors = {}
    for key, analytic in grads.items():
        if key in _STATE_KEYS:
            target = inputs.get(key)
        elif key in model.params:
            target = model.params[key]
        else:
            continue
        if target is None:
            continue
        numeric = numeric_gradient(loss, target, eps)
        analytic = np.asarray(analytic, dtype=np.float64)
        diff = np.linalg.norm(analytic - numeric)
        errors[key] = float(diff / max(np.linalg.norm(analytic) + np.linalg.norm(numeric), 1e-12))
    return errors


def numeric_gradient(loss, arr, eps=1e-3):
    """d loss() / d arr by the five-point central difference, moving each entry of `arr` in place.

    `loss` takes no arguments and reads `arr`; every entry is restored afterwards, also when
    `loss` raises or the computation is interrupted.

    >>> a = np.array([1.0, 2.0])
    >>> numeric_gradient(lambda: float(np.sum(a ** 3)), a).round(9)
    array([ 3., 12.])
    """
    grad = np.zeros(arr.shape, dtype=np.float64)
    with restored_on_failure([arr]):
        for idx in np.ndindex(arr.shape):
            keep = arr[idx]
            at = {}
            for step in (-2, -1, 1, 2):
                arr[idx] = keep + step * eps
                at[step] = loss()
            arr[idx] = keep
            grad[idx] = (8 * (at[1] - at[-1]) - (at[2] - at[-2])) / (12 * eps)
    return grad


def _output(trace):
    return trace.output if hasattr(trace, "output") else trace.h
