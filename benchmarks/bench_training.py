"""Train each cell on a task with the experiments command; print the README's results table.

    python benchmarks/bench_training.py [--task adding] [--T 100] [--cells lstm gru rnn] \
        [--seeds 0 1 2]

Every run is the real command (``python -m lstm_lab.experiments``) in a fresh process, with the
same budget for every cell; its progress shows on stderr. The table printed at the end (Markdown)
gives, per run, the cell, T, seed, the test metric and the wall-clock seconds, then the mean per
cell, beside the published reference points.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

REFERENCES = {
    "adding": [
        "Hochreiter & Schmidhuber 1997 (their adding experiment, a variant with values in "
        "[-1, 1]): the LSTM solves it for sequence lengths up to T = 1000.",
        "Arjovsky et al. 2016: the standard form used here; predicting the mean scores "
        "MSE 0.167 (1/6), the baseline every model is measured against.",
    ],
    "copy": [
        "Arjovsky et al. 2016: baseline 10 ln 8 / (T + 20); at T >= 100 an LSTM with a small "
        "budget stays at the baseline."
    ],
    "longrange": ["Baseline: accuracy 1 / (number of keys), a guess."],
}


def run_one(task, cell, T, seed, steps):
    cmd = [
        sys.executable,
        "-m",
        "lstm_lab.experiments",
        task,
        "--cell",
        cell,
        "--T",
        str(T),
        "--seed",
        str(seed),
    ]
    if steps:
        cmd += ["--steps", str(steps)]
    print("$ python -m lstm_lab.experiments " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="adding", choices=["adding", "copy", "longrange"])
    parser.add_argument("--T", type=int, default=100)
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args(argv)

    results = [
        run_one(args.task, cell, args.T, seed, args.steps)
        for cell in args.cells
        for seed in args.seeds
    ]
    metric = next(k for k in results[0] if k.startswith("test_"))
    baseline = results[0][metric.replace("test_", "baseline_")]
    r0 = results[0]
    print(
        f"\n{args.task}, T = {args.T}: every cell H = {r0['hidden']}, batch {r0['batch']}, "
        f"{r0['steps']} steps of Adam (lr {r0['lr']}, x0.1 for the last quarter), gradient norm "
        f"clipped at {r0['clip']}; test set {r0['test_size']} sequences; "
        f"baseline {metric.replace('test_', '')} = {baseline:.4f}\n"
    )
    print(f"| cell | T | seed | {metric} | seconds |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['cell']} | {r['T']} | {r['seed']} | {r[metric]:.3g} | {r['seconds']:.1f} |")
    print()
    for cell in args.cells:
        mine = [r for r in results if r["cell"] == cell]
        mean = sum(r[metric] for r in mine) / len(mine)
        slowest = max(r["seconds"] for r in mine)
        print(
            f"{cell}: mean {metric} {mean:.3g} over {len(mine)} seeds, slowest run {slowest:.1f} s"
        )
    print()
    for ref in REFERENCES[args.task]:
        print("reference: " + ref)
    return 0


if __name__ == "__main__":
    sys.exit(main())
