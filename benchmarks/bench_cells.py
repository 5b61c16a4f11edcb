"""Time forward + backward of the numpy cells against the matching torch.nn modules; print a table.

    python benchmarks/bench_cells.py [--repeats 15] [--sample-ms 20] [--kinds rnn lstm gru]
                                     [--dtypes float32 float64] [--clock wall|cpu] [--no-torch]

What is timed, for each cell kind (rnn, lstm, gru with reset_after=True, which is nn.GRU),
dtype (float32, float64) and size (T, B, D, H) of the grid:

- ours:  ``trace = cell.forward(x); cell.backward(trace, R)``, which returns the gradients of
  every weight, of x and of h0 (and c0);
- torch: ``out, _ = module(x)`` with x requiring grad, then the gradients of ``(out * R).sum()``
  with respect to x and every weight (``torch.autograd.grad``): the same work. The module gets
  our cell's weights first and its output is checked against ours, so both sides compute the
  same thing.

Both run in this one process with the same number of threads (torch.set_num_threads is set to
the number of threads numpy's BLAS uses, read with threadpoolctl when it is installed, else from
OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else the CPU count: OpenBLAS's default). Timing samples
alternate between the contenders (ours, torch, and, for float32 LSTMs, torch with oneDNN
disabled: ``torch.backends.mkldnn.flags(enabled=False)``), so drift of a shared machine is shared;
each sample runs the call enough times to last about --sample-ms, and the table shows the median
of the samples (up to --repeats; a point stops after about 5 s), with a second summary from each
contender's fastest sample. The environment is left as it is (no thread or BLAS variables are
changed). Without torch the script prints our times alone. The whole grid takes about 30 s on
an idle machine.

With two BLAS / OpenMP threads on a machine whose cores are busy with other work, both sides'
times swing by orders of magnitude (a thread waits for a descheduled partner): compare runs
made on an idle machine, or with one thread and CPU time (``OPENBLAS_NUM_THREADS=1 ...
--clock cpu``), which that noise hardly touches.

The goal (issue 9): median ratio ours/torch <= 0.7 over the 24 points, none above 2.0, the
float32 LSTM points held against torch without oneDNN.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# run from a checkout, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lstm_lab as ll  # noqa: E402

GRID = [(20, 1, 2, 4), (100, 16, 8, 32), (50, 64, 64, 128), (400, 8, 4, 16)]
KINDS = ("rnn", "lstm", "gru")
DTYPES = ("float32", "float64")


def blas_threads():
    """(number of threads numpy's BLAS uses, how it was found)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if blas:
            p = blas[0]
            return int(p["num_threads"]), f"threadpoolctl: {p['internal_api']} {p.get('version')}"
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), f"${var}"
    return os.cpu_count() or 1, "CPU count (OpenBLAS's default; threadpoolctl not installed)"


def make_cell(kind, D, H, dtype):
    if kind == "gru":
        return ll.GRUCell(D, H, seed=0, dtype=dtype, reset_after=True)
    return ll.CELLS[kind](D, H, seed=0, dtype=dtype)


def ours_call(cell, x, R):
    def run():
        trace = cell.forward(x)
        return cell.backward(trace, R)
    return run


def torch_call(torch, cell, x, R):
    """A closure running torch's forward + backward on the same weights, and the module's output."""
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell.kind]
    tdtype = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[cell.dtype]
    module = cls(cell.input_size, cell.hidden_size, dtype=tdtype)
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                            for k, v in cell.to_torch().items()})
    weights = list(module.parameters())
    xt, Rt = torch.from_numpy(x), torch.from_numpy(R)

    def run():
        xg = xt.detach().requires_grad_(True)
        out, _ = module(xg)
        return torch.autograd.grad((out * Rt).sum(), [xg, *weights])

    with torch.no_grad():
        out = module(xt)[0].numpy()
    return run, out


def calibrate(fns, sample_s):
    """Calls per sample so that the slowest contender's sample lasts about `sample_s`."""
    per_call = 0.0
    for fn in fns:
        fn()  # warm up (allocations, oneDNN primitive caches)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        per_call = max(per_call, statistics.median(times))
    return max(1, round(sample_s / max(per_call, 1e-7)))


def timed(fn, n, clock):
    t0 = clock()
    for _ in range(n):
        fn()
    return (clock() - t0) / n


def measure(fns, repeats, sample_s, clock=time.perf_counter, max_s=5.0):
    """Seconds per call of each function: one list of samples per function, the samples
    alternating between them (at least 3 rounds; fewer than `repeats` once the point has
    taken more than `max_s`)."""
    start = time.perf_counter()
    n = calibrate(fns, sample_s)
    samples = [[] for _ in fns]
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for k in order:
            samples[k].append(timed(fns[k], n, clock))
        if r >= 2 and time.perf_counter() - start > max_s:
            break
    return samples


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15, help="timing samples per contender")
    parser.add_argument("--sample-ms", type=float, default=20.0, help="length of one sample")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--no-torch", action="store_true", help="time our cells alone")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: perf_counter; cpu: process CPU time, steadier on a busy "
                             "machine but only meaningful with one thread (OPENBLAS_NUM_THREADS=1)")
    args = parser.parse_args(argv)

    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch is not importable: printing our times alone.", file=sys.stderr)
    threads, how = blas_threads()
    print(f"numpy {np.__version__}, BLAS threads {threads} ({how}); "
          f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    if torch is not None:
        torch.set_num_threads(threads)
        print(f"torch {torch.__version__}, torch.set_num_threads({threads}); "
              f"oneDNN available: {torch.backends.mkldnn.is_available()}")
    print(f"median of up to {args.repeats} alternated samples of about {args.sample_ms:g} ms "
          f"each; {args.clock} time per forward + backward call, ms; "
          f"load average at the start {os.getloadavg()[0]:.1f}\n")

    rows = []
    points = [(k, dt, g) for k in args.kinds for dt in args.dtypes for g in GRID]
    start = time.perf_counter()
    for num, (kind, dtype, (T, B, D, H)) in enumerate(points, 1):
        print(f"[{num}/{len(points)}] {kind} {dtype} T={T} B={B} D={D} H={H}",
              file=sys.stderr, flush=True)
        cell = make_cell(kind, D, H, np.dtype(dtype))
        rng = np.random.default_rng(1)
        x = rng.normal(size=(T, B, D)).astype(dtype)
        R = rng.normal(size=(T, B, H)).astype(dtype)
        fns = [ours_call(cell, x, R)]
        nodnn = False
        if torch is not None:
            run, out = torch_call(torch, cell, x, R)
            tol = 1e-4 if dtype == "float32" else 1e-10
            np.testing.assert_allclose(out, cell.forward(x).h, rtol=tol, atol=tol,
                                       err_msg=f"torch and ours differ: {kind} {dtype}")
            fns.append(run)
            if kind == "lstm" and dtype == "float32":
                nodnn = True

                def run_nodnn(run=run):
                    with torch.backends.mkldnn.flags(enabled=False):
                        return run()
                fns.append(run_nodnn)
        clock = time.perf_counter if args.clock == "wall" else time.process_time
        samples = measure(fns, args.repeats, args.sample_ms / 1e3, clock)
        rows.append((kind, dtype, (T, B, D, H), samples, nodnn))
    elapsed = time.perf_counter() - start
    report(rows, torch is not None)
    if torch is not None:
        print("\nthe same with the fastest sample of each contender instead of the median "
              "(less sensitive to other load on the machine):")
        summary(rows, min)
    print(f"\n({len(points)} points in {elapsed:.0f} s; load average at the end "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")


def report(rows, with_torch):
    """The table of median times, and the summary of the ratios."""
    if not with_torch:
        print("| cell | dtype | T | B | D | H | ours ms |")
        print("| --- | --- | --- | --- | --- | --- | ---: |")
        for kind, dtype, (T, B, D, H), samples, _ in rows:
            print(f"| {kind} | {dtype} | {T} | {B} | {D} | {H} "
                  f"| {statistics.median(samples[0]) * 1e3:.3f} |")
        return
    print("| cell | dtype | T | B | D | H | ours ms | torch ms | ours/torch "
          "| torch no-oneDNN ms | ours/no-oneDNN |")
    print("| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for kind, dtype, (T, B, D, H), samples, nodnn in rows:
        t = [statistics.median(s) * 1e3 for s in samples]
        extra = f"| {t[2]:.3f} | {t[0] / t[2]:.2f} " if nodnn else "| | "
        print(f"| {kind} | {dtype} | {T} | {B} | {D} | {H} | {t[0]:.3f} "
              f"| {t[1]:.3f} | {t[0] / t[1]:.2f} {extra}|")
    print()
    summary(rows, statistics.median)


def summary(rows, stat):
    """Median ratio over the points and the worst point, from `stat` of each one's samples."""
    ratios, held = [], []
    for kind, dtype, size, samples, nodnn in rows:
        t = [stat(s) for s in samples]
        ratios.append((t[0] / t[1], kind, dtype, size))
        # the cap of 2.0 holds the float32 LSTM points against torch without oneDNN
        held.append((t[0] / t[2] if nodnn else t[0] / t[1], kind, dtype, size))
    print(f"  median ratio ours/torch over {len(ratios)} points: "
          f"{statistics.median(r[0] for r in ratios):.2f} (goal <= 0.7)")
    print(f"  median, the float32 LSTM points against torch without oneDNN: "
          f"{statistics.median(r[0] for r in held):.2f}")
    worst = max(held)
    print(f"  worst point (float32 LSTM against torch without oneDNN): {worst[0]:.2f}, "
          f"{worst[1]} {worst[2]} (T, B, D, H) = {worst[3]} (goal <= 2.0)")
    worst = max(ratios)
    print(f"  worst point against default torch: {worst[0]:.2f}, "
          f"{worst[1]} {worst[2]} (T, B, D, H) = {worst[3]}")


if __name__ == "__main__":
    main()
