"""Time `import lstm_lab` beyond numpy's own import, in fresh interpreters; print the figures.

    python benchmarks/bench_import.py [--runs 15]

Each run is a new Python process that imports numpy, then lstm_lab, timing each import with
perf_counter inside the process (interpreter start-up is not counted). The figure that matters
(issue 9: at most 0.05 s) is the median of the second. Two settings are measured:

- as the environment is: if PYTHONDONTWRITEBYTECODE is set and the package is run from a
  checkout, Python compiles every module of lstm_lab on every import;
- with bytecode cached (a fresh PYTHONPYCACHEPREFIX in a temporary folder, warmed once), which
  is what an installed package has (pip writes the .pyc files at install time).

It also checks that `import lstm_lab` loads neither matplotlib nor ipywidgets, and prints
`python -X importtime`'s lines for the package (microseconds: self, cumulative).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = """
import sys, time
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
import lstm_lab
t2 = time.perf_counter()
heavy = [m for m in ("matplotlib", "ipywidgets") if m in sys.modules]
print(t1 - t0, t2 - t1, ",".join(heavy) or "-")
"""


def run_probe(env):
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=REPO, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1]), out[2]


def measure(env, runs, label):
    numpy_s, ours_s, heavy = [], [], set()
    for k in range(runs):
        print(f"\r{label}: run {k + 1}/{runs}", end="", file=sys.stderr, flush=True)
        a, b, h = run_probe(env)
        numpy_s.append(a)
        ours_s.append(b)
        heavy.update(x for x in h.split(",") if x != "-")
    print(file=sys.stderr)
    return numpy_s, ours_s, heavy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE", "(unset)")
    print(f"python {sys.version.split()[0]}; PYTHONDONTWRITEBYTECODE={flag}; "
          f"{args.runs} fresh processes each\n")
    print("| setting | numpy import, median s | lstm_lab import beyond numpy: median s "
          "| min s | max s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    heavy_all = set()
    with tempfile.TemporaryDirectory() as cache:
        cached = dict(env, PYTHONPYCACHEPREFIX=cache)
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        run_probe(cached)  # warm the bytecode cache
        for label, e in (("as the environment is", env), ("bytecode cached (installed)", cached)):
            numpy_s, ours_s, heavy = measure(e, args.runs, label)
            heavy_all |= heavy
            print(f"| {label} | {statistics.median(numpy_s):.4f} | {statistics.median(ours_s):.4f} "
                  f"| {min(ours_s):.4f} | {max(ours_s):.4f} |")
    print("\ngoal: lstm_lab at most 0.05 s beyond numpy")
    print("matplotlib / ipywidgets imported by `import lstm_lab`: "
          + (", ".join(sorted(heavy_all)) if heavy_all else "neither"))

    cmd = [sys.executable, "-X", "importtime", "-c", "import numpy; import lstm_lab"]
    out = subprocess.run(cmd, env=env, cwd=REPO, check=True, capture_output=True, text=True).stderr
    print("\npython -X importtime (as the environment is), lstm_lab's modules, microseconds:")
    print("| module | self | cumulative |")
    print("| --- | ---: | ---: |")
    for line in out.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2].lstrip().startswith("lstm_lab"):
            print(f"| {parts[2].strip()} | {parts[0]} | {parts[1]} |")


if __name__ == "__main__":
    main()
