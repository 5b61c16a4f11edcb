"""Tests for the experiments command: one --quick run in a subprocess, the rest in-process."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_lab import experiments, tasks

REPO = Path(__file__).resolve().parents[1]


def test_quick_run_end_to_end():
    """The real command: progress on stderr, the last stdout line one JSON object."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_lab.experiments",
            "adding",
            "--cell",
            "lstm",
            "--T",
            "30",
            "--seed",
            "3",
            "--quick",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["task"] == "adding" and result["cell"] == "lstm"
    assert result["T"] == 30 and result["seed"] == 3 and result["quick"] is True
    assert result["steps"] == experiments.QUICK["steps"]
    assert result["seconds"] > 0
    assert math.isfinite(result["test_mse"]) and result["test_mse"] >= 0
    assert result["baseline_mse"] == pytest.approx(1 / 6)
    assert (
        "adding lstm T=30" in proc.stderr and f"{result['steps']}/{result['steps']}" in proc.stderr
    )


@pytest.mark.parametrize("task, metric", [("copy", "test_xent"), ("longrange", "test_accuracy")])
@pytest.mark.parametrize("cell", ["rnn", "gru", "peephole", "coupled"])
def test_every_task_and_cell_runs(task, metric, cell, capsys):
    assert experiments.main([task, "--cell", cell, "--T", "8", "--seed", "1", "--quick"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out.strip().splitlines()[-1])
    expected = {
        "task",
        "cell",
        "T",
        "seed",
        "steps",
        "seconds",
        metric,
        metric.replace("test_", "baseline_"),
    }
    assert expected <= set(result)
    assert result["T"] == 8 and result["cell"] == cell and math.isfinite(result[metric])
    baseline = tasks.TASKS[task](T=8).baseline()
    assert result[metric.replace("test_", "baseline_")] == pytest.approx(baseline)
    assert err  # progress went to stderr


def test_same_seed_same_result_and_same_budget_for_every_cell():
    a = experiments.run("adding", "gru", T=10, seed=5, quick=True, progress="off")
    b = experiments.run("adding", "gru", T=10, seed=5, quick=True, progress="off")
    c = experiments.run("adding", "rnn", T=10, seed=5, quick=True, progress="off")
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    for key in ("steps", "batch", "lr", "schedule", "clip", "optimizer", "hidden", "test_size"):
        assert a[key] == c[key], key


def test_steps_override():
    result = experiments.run("longrange", "rnn", T=10, seed=0, steps=7, quick=True, progress="off")
    assert result["steps"] == 7


@pytest.mark.parametrize(
    "argv, message",
    [
        (["adding", "--cell", "lstmx"], "invalid choice"),
        (["sorting", "--cell", "lstm"], "invalid choice"),
        (["adding"], "--cell"),
        (["adding", "--cell", "lstm", "--T", "0"], "--T must be a positive integer"),
        (["adding", "--cell", "lstm", "--lr", "-1"], "--lr must be > 0"),
        (["longrange", "--cell", "lstm", "--T", "3", "--quick"], "T must be >= 7"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        experiments.main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_forget_bias_option(capsys):
    assert (
        experiments.main(
            ["longrange", "--cell", "lstm", "--T", "8", "--quick", "--forget-bias", "3"]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["forget_bias"] == 3.0
    default = experiments.run("longrange", "coupled", T=8, quick=True, progress="off")
    assert default["forget_bias"] == 1.0
    assert (
        experiments.run("longrange", "gru", T=8, quick=True, progress="off")["forget_bias"] is None
    )
    with pytest.raises(SystemExit):
        experiments.main(["adding", "--cell", "gru", "--quick", "--forget-bias", "2"])
    assert "LSTM family" in capsys.readouterr().err
