"""Count the CPU instructions of forward + backward, this checkout against an earlier commit.

    python benchmarks/bench_instructions.py --kind gru --reset-after --size 50 32 16 64
    python benchmarks/bench_instructions.py --kind lstm --size 50 32 16 64 --base fea5029

Timings on a shared or virtual machine move by 10-20% from run to run at sizes of a few
milliseconds, more than the 10% that bench_redesign.py is meant to resolve. valgrind's
callgrind counts instructions instead, which repeat to the instruction for the same program
and input. For each side (this checkout, and the base commit in a temporary git worktree)
the script runs the same program twice under callgrind, with 0 and with N calls of
``cell.forward`` + ``cell.backward`` after one warm-up call, and reports the difference per
call: the cost of the calls alone, without Python's start-up and imports. Needs valgrind.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROGRAM = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import lstm_lab as ll
kind, reset_after, calls = sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
T, B, D, H = map(int, sys.argv[5:9])
cell = ll.CELLS[kind](D, H, seed=0, **({"reset_after": True} if reset_after else {}))
x = np.random.default_rng(0).normal(size=(T, B, D))
R = np.random.default_rng(1).normal(size=(T, B, H))
trace = cell.forward(x); cell.backward(trace, R)          # warm-up: the same in both runs
for _ in range(calls):
    trace = cell.forward(x); cell.backward(trace, R)
"""


def instructions(root, args, calls, tmp):
    """Instructions callgrind counts for the program with `calls` calls under `root`."""
    script = Path(tmp) / "program.py"
    script.write_text(PROGRAM)
    env = {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0",  # start-up the same in every run, to the instruction
           "OPENBLAS_CORETYPE": args.coretype}
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg.out", sys.executable,
           str(script), str(root), args.kind, "1" if args.reset_after else "0", str(calls),
           *map(str, args.size)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="fea5029", help="the commit to compare against")
    parser.add_argument("--kind", default="lstm", help="a key of ll.CELLS")
    parser.add_argument("--reset-after", action="store_true", help="GRU: the reset-after form")
    parser.add_argument("--size", nargs=4, type=int, default=[50, 32, 16, 64],
                        metavar=("T", "B", "D", "H"))
    parser.add_argument("--calls", type=int, default=4, help="calls counted (default 4)")
    parser.add_argument("--coretype", default="Haswell",
                        help="OPENBLAS_CORETYPE for both sides, so both run the same kernel")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base),
                        args.base], check=True, capture_output=True)
        try:
            per_call = {}
            for name, root in (("base", base), ("new", REPO)):
                subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "lstm_lab")],
                               check=True)  # bytecode first: compiling would count as work
                counts = [instructions(root, args, n, tmp) for n in (0, args.calls)]
                per_call[name] = (counts[1] - counts[0]) / args.calls
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)],
                           check=True, capture_output=True)
    label = f"{args.kind}{' reset_after' if args.reset_after else ''} {tuple(args.size)} float64"
    print(f"{label}: base {args.base} {per_call['base']:,.0f}, new {per_call['new']:,.0f} "
          f"instructions per forward + backward; new/base {per_call['new'] / per_call['base']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
