"""Make long_range_runs.json, the small runs notebook 08 reads instead of training them.

    OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 python notebooks/data/long_range_runs.py

Twelve runs of ``lstm_lab.experiments.train_small``, the function notebook 08 trains its live
adding-problem runs with (budget ``SMALL_BUDGET``, 400 steps, seeds 0, 1, 2): the RNN, the
LSTM and the GRU on the small copy task, and the LSTM started from b_f = 0 on the adding
problem at T = 20, which the notebook sets beside its live LSTM with the default b_f = 1.
About 8 seconds on one core. The JSON holds the settings and, per run, the held-out score
every 40 steps (``evals``, the learning curve) and the last one (``final``). Training
multiplies rounding differences, so another BLAS kernel gives slightly different numbers;
Haswell is the kernel the notebooks' stored outputs are made with. Running the script again
on the same machine writes the same file.
"""

import json
from pathlib import Path

from lstm_lab._atomic import write_atomic
from lstm_lab.experiments import SMALL_BUDGET, train_small
from lstm_lab.tasks import AddingTask, CopyTask

STEPS = 400
SEEDS = (0, 1, 2)
TASKS = {  # name -> (task class, its options)
    "copy": (CopyTask, {"T": 10, "n_symbols": 4, "length": 3}),
    "adding": (AddingTask, {"T": 20}),
}
RUNS = {  # task -> [(name, cell kind, cell options)]
    "copy": [("rnn", "rnn", {}), ("lstm", "lstm", {}), ("gru", "gru", {})],
    "adding": [("lstm b_f = 0", "lstm", {"forget_bias": 0.0})],
}


def main():
    out = {"made_by": "python notebooks/data/long_range_runs.py",
           "budget": {**SMALL_BUDGET, "steps": STEPS, "seeds": list(SEEDS)},
           "tasks": {name: options for name, (_, options) in TASKS.items()}, "runs": {}}
    for task_name, runs in RUNS.items():
        task_class, options = TASKS[task_name]
        task = task_class(**options)
        for name, kind, cell_options in runs:
            for seed in SEEDS:
                model, hist = train_small(kind, task, STEPS, seed=seed, **cell_options)
                out["runs"].setdefault(task_name, {}).setdefault(name, []).append({
                    "cell": kind, "cell_options": cell_options, "seed": seed,
                    "num_params": model.num_params,
                    "evals": [[step, float(value)] for step, value in hist.evals],
                    "final": float(hist.final),
                })
    path = Path(__file__).with_suffix(".json")
    write_atomic(path, json.dumps(out, indent=1) + "\n")
    print(f"wrote {path.name}")


if __name__ == "__main__":
    main()
