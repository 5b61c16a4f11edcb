"""Time forward + backward of this checkout's cells against an earlier commit's; print a table.

    python benchmarks/bench_redesign.py [--base fea5029] [--repeats 11] [--sample-ms 20]
                                        [--clock cpu|wall] [--kinds rnn lstm ...]

Issue 14 moved the cells into one module per variant; this checks that the move cost no
speed. The base commit (by default fea5029, the last commit before the cell package) is
checked out with ``git worktree add`` into a temporary folder outside the repository and
removed at the end. Each side is imported in its own subprocess, both with one BLAS thread
(OPENBLAS_NUM_THREADS=1 and friends), so neither can see the other's code; a fresh pair of
workers serves each cell kind and dtype, so no side carries the allocator's history of
earlier kinds into a later one (that history alone moved some points by 10-15%). For every
cell kind, dtype and size (T, B, D, H) of the grid the two workers build the same seeded
cell and time ``trace = cell.forward(x); cell.backward(trace, R)``; the samples alternate
between the two (base first on even rounds, new first on odd ones), so drift of a shared
machine is shared. Each sample runs the call enough times to last about --sample-ms. The
table shows, per point, the median of the samples of each side, the ratio new / base of the
medians and of the fastest samples, and the verdict: a point is slower when both ratios
exceed 1.10.

CPU time (the default clock) is what a busy, shared machine disturbs least; --clock wall
measures elapsed time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GRID = [(20, 1, 2, 4), (100, 16, 8, 32), (400, 8, 4, 16), (50, 32, 16, 64)]
KINDS = ("rnn", "lstm", "peephole", "coupled", "gru", "gru_reset_after")
DTYPES = ("float64", "float32")
ONE_THREAD = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
LIMIT = 1.10


# -- the worker: one checkout's package, timing what it is asked to --------------------------


def worker(clock):
    """Read one JSON request a line from stdin, answer with the time of one call."""
    import numpy as np

    import lstm_lab as ll

    timer = time.process_time if clock == "cpu" else time.perf_counter
    cache = {}
    print(json.dumps({"ready": ll.__file__}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        key = (req["kind"], req["dtype"], *req["size"])
        if key not in cache:
            T, B, D, H = req["size"]
            kind, dtype = req["kind"], np.dtype(req["dtype"])
            if kind == "gru_reset_after":
                cell = ll.GRUCell(D, H, seed=0, dtype=dtype, reset_after=True)
            else:
                cell = ll.CELLS[kind](D, H, seed=0, dtype=dtype)
            rng = np.random.default_rng(1)
            x = rng.normal(size=(T, B, D)).astype(dtype)
            R = rng.normal(size=(T, B, H)).astype(dtype)
            checksum = float(cell.backward(cell.forward(x), R)["x"].sum())
            cache[key] = (cell, x, R, checksum)
        cell, x, R, checksum = cache[key]
        n = req["n"]
        start = timer()
        for _ in range(n):
            cell.backward(cell.forward(x), R)
        print(json.dumps({"seconds": (timer() - start) / n, "checksum": checksum}), flush=True)


class Worker:
    def __init__(self, root, clock):
        env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(root)}
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", "--clock", clock],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=root)
        ready = json.loads(self.proc.stdout.readline())
        if not Path(ready["ready"]).resolve().is_relative_to(Path(root).resolve()):
            raise RuntimeError("a worker imported lstm_lab from outside its checkout")

    def time(self, kind, dtype, size, n):
        self.proc.stdin.write(json.dumps({"kind": kind, "dtype": dtype, "size": size,
                                          "n": n}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="fea5029", help="the commit to compare against")
    parser.add_argument("--repeats", type=int, default=11, help="samples per side and point")
    parser.add_argument("--sample-ms", type=float, default=20.0)
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--kinds", nargs="+", default=list(KINDS))
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.clock)

    folder = Path(tempfile.mkdtemp(prefix="lstm_lab_base_"))
    base_dir = folder / "checkout"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base_dir),
                    args.base], check=True, capture_output=True)
    try:
        rows = run_grid({"base": base_dir, "new": REPO}, args)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_dir)],
                       check=False, capture_output=True)
        folder.rmdir()
    report(rows, args)
    return 0 if all(not r["slower"] for r in rows) else 1


def run_grid(roots, args):
    rows = []
    for dtype in args.dtypes:
        for kind in args.kinds:
            sides = {k: Worker(root, args.clock) for k, root in roots.items()}
            for size in GRID:
                first = {k: w.time(kind, dtype, size, 1) for k, w in sides.items()}
                if abs(first["base"]["checksum"] - first["new"]["checksum"]) > 1e-6 * max(
                        1.0, abs(first["base"]["checksum"])):
                    raise RuntimeError(f"{kind} {dtype} {size}: the two sides compute "
                                       f"different gradients")
                # calls per sample: enough to last about --sample-ms on the slower side
                once = max(v["seconds"] for v in first.values())
                n = max(1, int(args.sample_ms / 1000 / max(once, 1e-7)))
                samples = {k: [] for k in sides}
                for r in range(args.repeats):
                    order = ("base", "new") if r % 2 == 0 else ("new", "base")
                    for k in order:
                        samples[k].append(sides[k].time(kind, dtype, size, n)["seconds"])
                med = {k: statistics.median(v) for k, v in samples.items()}
                best = {k: min(v) for k, v in samples.items()}
                ratio, ratio_best = med["new"] / med["base"], best["new"] / best["base"]
                rows.append(dict(kind=kind, dtype=dtype, size=size, base=med["base"],
                                 new=med["new"], ratio=ratio, ratio_best=ratio_best,
                                 slower=ratio > LIMIT and ratio_best > LIMIT))
                print(f"  {kind:16s} {dtype:8s} {str(size):18s} ratio {ratio:.3f}",
                      file=sys.stderr, flush=True)
            for w in sides.values():
                w.close()
    return rows


def report(rows, args):
    print(f"forward + backward, new (this checkout) against base {args.base}; one BLAS thread; "
          f"{args.clock} time; median of {args.repeats} alternating samples per side")
    print(f"{'kind':16s} {'dtype':8s} {'(T, B, D, H)':18s} {'base ms':>9s} {'new ms':>9s} "
          f"{'new/base':>9s} {'fastest':>8s}")
    for r in rows:
        flag = "  SLOWER" if r["slower"] else ""
        print(f"{r['kind']:16s} {r['dtype']:8s} {str(r['size']):18s} {1e3 * r['base']:9.3f} "
              f"{1e3 * r['new']:9.3f} {r['ratio']:9.3f} {r['ratio_best']:8.3f}{flag}")
    ratios = [r["ratio"] for r in rows]
    print(f"median ratio {statistics.median(ratios):.3f}, largest {max(ratios):.3f} (median of "
          f"samples), largest {max(r['ratio_best'] for r in rows):.3f} (fastest samples); "
          f"{sum(r['slower'] for r in rows)} of {len(rows)} points slower than {LIMIT:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
