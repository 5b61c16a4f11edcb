"""Make sequence_shapes_runs.json, the runs notebook 10 reads instead of training (seconds).

    OPENBLAS_NUM_THREADS=1 python notebooks/data/sequence_shapes_runs.py

Trains the left-to-right LSTM and the bidirectional network of notebook 10's section "When the
answer lies in the future" on the echo task with shift +2, seeds 0, 1 and 2, with the same
budget for both (FIT below), and the three character writers of the section "One-to-many:
generation". The task classes, model builders and the writers' training are the notebook's own
cells (ids nb10-05, nb10-08, nb10-16b, nb10-16c), run here, so each is written once. The JSON
holds the budget and, per run, the model, the seed, the held-out accuracy at every evaluation
and at the end; per writer, its held-out cross-entropy in nats per character and the
fraction of its written words that are words of the text (cell nb10-21a).
"""

import contextlib
import io
import json
import re
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")

import lstm_lab as ll  # noqa: E402
from lstm_lab import diagram, generate, train  # noqa: E402
from lstm_lab._atomic import write_atomic  # noqa: E402

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "10_sequence_shapes.ipynb"
SEEDS = (0, 1, 2)
HIDDEN = 16                     # the notebook's H: one LSTM of H, or two of H / 2
FIT = {"steps": 200, "lr": 3e-2, "target": 0.99, "eval_every": 25}


def notebook_cells():
    """The notebook's code cells by id."""
    return {c["id"]: "".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]}


def notebook_definitions(cells):
    """The notebook's EchoTagTask, its future task, its two model builders and its writer."""
    names = {"np": np, "ll": ll, "train": train, "hidden": HIDDEN, "per_direction": HIDDEN // 2}
    exec(cells["nb10-05"], names)
    names["future"] = names["EchoTagTask"](shift=+2)
    with contextlib.redirect_stdout(io.StringIO()):  # the cell also prints the two models
        exec(cells["nb10-08"], names)
    names.update(generate=generate, diagram=diagram)
    exec(cells["nb10-16b"], names)                   # the text, chars, V, width (and a figure)
    exec(cells["nb10-16c"], names)                   # train_writer
    return names


def main():
    cells = notebook_cells()
    names = notebook_definitions(cells)
    runs = []
    for seed in SEEDS:
        for model in ("left_to_right", "bidirectional"):
            hist = train.fit(names[model](seed), names["future"], seed=seed, progress="off",
                             **FIT)
            runs.append({"model": model.replace("_", " "), "seed": seed, "final": hist.final,
                         "steps": hist.steps, "evals": [list(e) for e in hist.evals]})
    trained = {seed: names["train_writer"](seed) for seed in SEEDS}
    # the notebook's word count (cell nb10-21a) over all three writers
    names.update(writers={s: model for s, (model, _) in trained.items()}, seeds=SEEDS, re=re,
                 Markdown=str)
    exec(cells["nb10-21a"], names)
    writers = [{"seed": s, "xent": xent, "known": float(names["known"][s])}
               for s, (_, xent) in trained.items()]
    data = {"made_by": "python notebooks/data/sequence_shapes_runs.py", "fit": FIT,
            "runs": runs, "writers": writers}
    write_atomic(HERE / "sequence_shapes_runs.json", json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
