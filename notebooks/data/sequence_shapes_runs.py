"""Make sequence_shapes_runs.json, the bidirectional comparison notebook 10 reads (seconds).

    OPENBLAS_NUM_THREADS=1 python notebooks/data/sequence_shapes_runs.py

Trains the left-to-right LSTM and the bidirectional network of notebook 10's section "When the
answer lies in the future" on the echo task with shift +2, seeds 0, 1 and 2, with the same
budget for both (FIT below). The task class and the two model builders are the notebook's own
cells (ids nb10-05 and nb10-08), run here, so each is written once. The JSON holds the budget
and, per run, the model, the seed, the held-out accuracy at every evaluation and at the end.
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np

import lstm_lab as ll
from lstm_lab import train
from lstm_lab._atomic import write_atomic

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "10_sequence_shapes.ipynb"
SEEDS = (0, 1, 2)
HIDDEN = 16                     # the notebook's H: one LSTM of H, or two of H / 2
FIT = {"steps": 200, "lr": 3e-2, "target": 0.99, "eval_every": 25}


def notebook_definitions():
    """The notebook's EchoTagTask, its future task and its two model builders."""
    cells = {c["id"]: "".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]}
    names = {"np": np, "ll": ll, "train": train, "hidden": HIDDEN, "per_direction": HIDDEN // 2}
    exec(cells["nb10-05"], names)
    names["future"] = names["EchoTagTask"](shift=+2)
    with contextlib.redirect_stdout(io.StringIO()):  # the cell also prints the two models
        exec(cells["nb10-08"], names)
    return names


def main():
    names = notebook_definitions()
    runs = []
    for seed in SEEDS:
        for model in ("left_to_right", "bidirectional"):
            hist = train.fit(names[model](seed), names["future"], seed=seed, progress="off",
                             **FIT)
            runs.append({"model": model.replace("_", " "), "seed": seed, "final": hist.final,
                         "steps": hist.steps, "evals": [list(e) for e in hist.evals]})
    data = {"made_by": "python notebooks/data/sequence_shapes_runs.py", "fit": FIT,
            "runs": runs}
    write_atomic(HERE / "sequence_shapes_runs.json", json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
