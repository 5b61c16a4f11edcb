"""Measure the trace's memory and the peak of forward + backward with tracemalloc; print a table.

    python benchmarks/bench_memory.py [--T 10000] [--B 1] [--D 1] [--H 64] [--dtype float64]

For every cell kind: the trace's size by the documented formula (Trace's docstring:
k * H + D numbers per step and sequence, plus the weights and initial states), the bytes
forward leaves allocated (the trace), and the peak traced memory of forward + backward
(numpy reports its buffers to tracemalloc). Issue 9's figure is the LSTM's peak at
T = 10 000, B = 1, D = 1, H = 64: at most 100 MB.
"""

import argparse
import sys
import tracemalloc
from pathlib import Path

import numpy as np

# run from a checkout, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lstm_lab as ll  # noqa: E402

PER_STEP = {"rnn": 1, "lstm": 7, "peephole": 7, "coupled": 7, "gru": 5, "gru (reset_after)": 5}


def make(kind, D, H, dtype):
    if kind == "gru (reset_after)":
        return ll.GRUCell(D, H, seed=0, dtype=dtype, reset_after=True)
    return ll.CELLS[kind](D, H, seed=0, dtype=dtype)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--T", type=int, default=10_000)
    parser.add_argument("--B", type=int, default=1)
    parser.add_argument("--D", type=int, default=1)
    parser.add_argument("--H", type=int, default=64)
    parser.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    args = parser.parse_args(argv)
    T, B, D, H, dtype = args.T, args.B, args.D, args.H, np.dtype(args.dtype)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, B, D)).astype(dtype)
    dh = rng.normal(size=(T, B, H)).astype(dtype)
    print(f"T={T}, B={B}, D={D}, H={H}, {dtype.name}; MB = 10^6 bytes\n")
    print("| cell | k (k*H + D per step) | trace by the formula, MB | trace.nbytes, MB "
          "| held after forward, MB | peak of forward + backward, MB "
          "| backward's extra, H per step |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind, k in PER_STEP.items():
        print(f"{kind} ...", file=sys.stderr, flush=True)
        cell = make(kind, D, H, dtype)
        states = 2 if cell.has_cell_state else 1
        formula = dtype.itemsize * (T * B * (k * H + D) + cell.num_params + states * B * H)
        tracemalloc.start()
        trace = cell.forward(x)
        held = tracemalloc.get_traced_memory()[0]
        cell.backward(trace, dh)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        extra = (peak - held) / (dtype.itemsize * T * B * H)
        print(f"| {kind} | {k} | {formula / 1e6:.1f} | {trace.nbytes / 1e6:.1f} | {held / 1e6:.1f} "
              f"| {peak / 1e6:.1f} | {extra:.1f} |")
        del trace
    print("\ngoal (issue 9): the LSTM's peak at T = 10 000, B = 1, D = 1, H = 64 under 100 MB")


if __name__ == "__main__":
    main()
