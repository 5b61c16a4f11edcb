"""Notebook 09's race: the stored runs match the recipe that made them."""

import json
from pathlib import Path

import numpy as np

from lstm_lab.experiments import RACE, race_run

DATA = Path(__file__).resolve().parents[1] / "notebooks" / "data" / "variants_race.json"


def test_stored_race_was_made_with_the_current_settings():
    data = json.loads(DATA.read_text())
    assert data["settings"] == RACE
    assert data["made_by"] == "python notebooks/data/variants_race.py"
    points = len(range(0, RACE["steps"] - RACE["window"] + 1, data["curve_every"]))
    for kind in data["kinds"]:
        assert sorted(data["runs"][kind]) == [str(s) for s in data["seeds"]]
        for run in data["runs"][kind].values():
            assert len(run["curve"]) == points
            assert run["test_mse"] > 0


def test_race_run_returns_the_running_mean_of_the_loss():
    result = race_run("gru", 0, steps=30, window=5, test_size=16)
    assert result["curve"].shape == (30 - 5 + 1,)
    assert np.isfinite(result["curve"]).all()
    assert result["baseline_mse"] > 0 and result["test_mse"] > 0
