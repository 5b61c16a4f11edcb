"""Make which_gate_matters.json, the heavy runs notebook 12 reads (about 8 minutes on one core).

    OPENBLAS_NUM_THREADS=1 python notebooks/data/which_gate_matters.py

Every run is one call of the experiments command, for example

    python -m lstm_lab.experiments longrange --cell nfg --T 20 --hidden 16 --steps 600 --seed 0

with every cell of the comparison, seeds 0, 1, 2 and the same budget for every cell of a task
(hidden size, batch, steps, learning rate, schedule, clipping). The JSON holds, per run, the
command line and the JSON line the command printed.
"""

from pathlib import Path

from lstm_lab.experiments import record_runs

CELLS = ("rnn", "lstm", "peephole", "coupled", "cifg", "nig", "nfg", "nog", "niaf", "noaf",
         "gru", "mgu")
SEEDS = (0, 1, 2)
BUDGETS = {  # task -> the options every cell gets
    "longrange": ["--T", "20", "--hidden", "16", "--steps", "600"],
    "adding": ["--T", "30", "--hidden", "16", "--steps", "600"],
}


def main():
    argvs = [[task, "--cell", cell, *options, "--seed", seed]
             for task, options in BUDGETS.items() for cell in CELLS for seed in SEEDS]
    record_runs(argvs, Path(__file__).with_suffix(".json"),
                made_by="python notebooks/data/which_gate_matters.py", budgets=BUDGETS)


if __name__ == "__main__":
    main()
