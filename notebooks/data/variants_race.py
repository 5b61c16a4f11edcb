"""Make variants_race.json, the race notebook 09 reads (about 10 seconds on one core).

    OPENBLAS_NUM_THREADS=1 python notebooks/data/variants_race.py

Every run is ``lstm_lab.experiments.race_run(kind, seed)``: the adding problem at T = 20, the
same budget for every cell (``lstm_lab.experiments.RACE``: hidden size 16, 300 Adam steps of
batch 32, learning rate 0.02, clipping at 1), cells rnn, lstm, peephole, coupled and gru,
seeds 0, 1, 2. The JSON holds the settings, the baseline and, per run, the test MSE and every
5th point of the running mean of the training loss over 25 steps (``curve_every`` = 5:
stored point j is the mean of steps 5j + 1 to 5j + 25).
"""

import json
from pathlib import Path

from lstm_lab._atomic import write_atomic
from lstm_lab.experiments import RACE, race_run

KINDS = ("rnn", "lstm", "peephole", "coupled", "gru")
SEEDS = (0, 1, 2)
CURVE_EVERY = 5


def main():
    runs = {}
    for kind in KINDS:
        for seed in SEEDS:
            result = race_run(kind, seed)  # trains with one BLAS thread (``fit``)
            runs.setdefault(kind, {})[str(seed)] = {
                "test_mse": result["test_mse"],
                "curve": [float(v) for v in result["curve"][::CURVE_EVERY]],
            }
    data = {"made_by": "python notebooks/data/variants_race.py", "settings": RACE,
            "kinds": list(KINDS), "seeds": list(SEEDS), "curve_every": CURVE_EVERY,
            "baseline_mse": result["baseline_mse"], "runs": runs}
    write_atomic(Path(__file__).with_suffix(".json"), json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
