"""Make attention_runs.json and the pretrained reverser, the heavy runs notebook 13 reads.

    OPENBLAS_NUM_THREADS=1 python notebooks/data/attention_runs.py     # about 5 minutes

Every run is one call of the experiments command, for example

    python -m lstm_lab.experiments reverse --cell gru --attention dot --seed 0

with attention none, dot and additive, seeds 0, 1 and 2, and the same budget for all (the
command's REVERSE_BUDGET: H = 32, strings of 5 to 30 symbols, 3000 Adam steps). The run with
dot-product attention and seed 0 also saves its weights as lstm_lab/data/reverse_gru_dot.npz,
the model ``lstm_lab.attention.load_seq2seq()`` loads and the explorer shows.
"""

import os
from pathlib import Path

from lstm_lab.attention import PRETRAINED
from lstm_lab.experiments import record_runs

ROOT = Path(__file__).resolve().parents[2]

ATTENTION = ("none", "dot", "additive")
SEEDS = (0, 1, 2)


def main():
    argvs = []
    for attention in ATTENTION:
        for seed in SEEDS:
            argv = ["reverse", "--cell", "gru", "--attention", attention, "--seed", seed]
            if (attention, seed) == ("dot", 0):
                argv += ["--save", PRETRAINED.relative_to(ROOT)]  # no machine path in the file
            argvs.append(argv)
    os.chdir(ROOT)
    record_runs(argvs, Path("notebooks/data/attention_runs.json"),
                made_by="python notebooks/data/attention_runs.py")


if __name__ == "__main__":
    main()
