"""The trace's documented size formula, and the peak memory of forward + backward (tracemalloc).

Trace (lstm_lab/trace.py) documents: a trace holds k * H + D numbers per step and sequence
(k = 1 RNN, 5 GRU, 7 LSTM family), plus the weights and the initial states; backward works in
about 2 * G * H more per step (G fused gate blocks), freed when it returns. numpy reports its
buffers to tracemalloc, so the measured figures are the arrays' bytes.
"""

import tracemalloc

import numpy as np
import pytest

import lstm_lab as ll

# numbers per time step and sequence that a trace keeps beyond x_t: k in k * H + D
PER_STEP = {"rnn": 1, "gru": 5, "gru_reset_after": 5, "lstm": 7, "peephole": 7, "coupled": 7}
GATE_BLOCKS = {"rnn": 1, "gru": 3, "gru_reset_after": 3, "lstm": 4, "peephole": 4, "coupled": 3}


def make(variant, D, H, dtype=np.float64):
    if variant == "gru_reset_after":
        return ll.GRUCell(D, H, seed=0, dtype=dtype, reset_after=True)
    return ll.CELLS[variant](D, H, seed=0, dtype=dtype)


def formula_bytes(cell, variant, T, B):
    """The size formula of Trace's docstring, in bytes."""
    states = 2 if cell.has_cell_state else 1
    numbers = T * B * (PER_STEP[variant] * cell.hidden_size + cell.input_size)
    return cell.dtype.itemsize * (numbers + cell.num_params + states * B * cell.hidden_size)


def traced(fn):
    """(result, bytes still held after fn, peak bytes during fn), counted from the call."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, after - before, peak - before


@pytest.mark.parametrize("variant", PER_STEP)
@pytest.mark.parametrize("B", [None, 1, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nbytes_is_the_documented_formula(variant, B, dtype):
    T, D, H = 13, 2, 5
    cell = make(variant, D, H, dtype)
    x = np.ones((T, D) if B is None else (T, B, D))
    trace = cell.forward(x)
    assert trace.nbytes == formula_bytes(cell, variant, T, B or 1)


@pytest.mark.parametrize("variant", PER_STEP)
def test_a_trace_holds_what_the_formula_says(variant):
    """What forward leaves allocated is the trace's arrays (nbytes), and nothing much else."""
    T, B, D, H = 2000, 2, 3, 32
    cell = make(variant, D, H)
    x = np.random.default_rng(0).normal(size=(T, B, D))
    trace, held, _ = traced(lambda: cell.forward(x))
    expected = formula_bytes(cell, variant, T, B)
    assert trace.nbytes == expected
    # small Python objects (the Trace, its dicts and views) come on top of the arrays
    assert expected <= held <= expected + 64_000, f"{variant}: holds {held}, formula {expected}"


@pytest.mark.parametrize("variant", PER_STEP)
def test_backward_working_memory(variant):
    """Backward's peak beyond the trace stays within the documented 2*G*H (GRU: 3*G*H) per step,
    and it frees everything but the gradients."""
    T, B, D, H = 2000, 3, 2, 32
    cell = make(variant, D, H)
    rng = np.random.default_rng(0)
    x, dh = rng.normal(size=(T, B, D)), rng.normal(size=(T, B, H))
    trace = cell.forward(x)
    grads, held, peak = traced(lambda: cell.backward(trace, dh))
    per_step = (3 if variant.startswith("gru") else 2) * GATE_BLOCKS[variant] * H
    bound = 8 * (T * B * (per_step + H + D)) + 64_000  # + dh's own copy and dL/dx
    assert peak <= bound, f"{variant}: backward peaked at {peak} bytes, bound {bound}"
    grad_bytes = sum(g.nbytes for g in grads.values())
    assert grad_bytes <= held <= grad_bytes + 64_000


def test_long_lstm_forward_backward_peak():
    """Issue 9: forward + backward of an LSTM with T = 10 000, B = 1, D = 1, H = 64 under 100 MB;
    in fact under the formula's trace (7H + D per step) plus backward's 2 * 4 * H per step."""
    T, B, D, H = 10_000, 1, 1, 64
    cell = ll.LSTMCell(D, H, seed=0)
    rng = np.random.default_rng(0)
    x, dh = rng.normal(size=(T, D)), rng.normal(size=(T, H))

    def run():
        trace = cell.forward(x)
        return trace, cell.backward(trace, dh)

    (trace, grads), held, peak = traced(run)
    assert trace.nbytes == formula_bytes(cell, "lstm", T, B)
    bound = 8 * T * B * ((7 + 2 * 4) * H + 2 * D) + 1_000_000
    assert peak <= bound, f"peak {peak / 1e6:.1f} MB, bound from the formula {bound / 1e6:.1f} MB"
    assert peak < 100e6
    # afterwards only the trace and the gradients remain
    grad_bytes = sum(g.nbytes for g in grads.values())
    assert held <= trace.nbytes + grad_bytes + 200_000
    assert np.isfinite(grads["W_hf"]).all()
