"""The experiments command: train one cell on one long-range task and print the result as JSON.

Usage::

    python -m lstm_lab.experiments TASK --cell CELL --T N --seed S \
        [--steps N] [--quick]

TASK is ``adding``, ``copy`` or ``longrange`` (see ``lstm_lab.tasks``); CELL is a key of
``lstm_lab.CELLS`` (rnn, lstm, peephole, coupled, gru and every registered variant). Every
cell gets the same budget for a task: hidden size, batch size, number of steps, optimiser (Adam),
learning rate, schedule and clipping are the task's, never the cell's, so a comparison
between cells is fair. Progress goes to stderr; the last line of stdout is one JSON object
with the task, cell, T, seed, steps, seconds, the test metric (``test_mse``, ``test_xent``
or ``test_accuracy``) on a held-out test set, and its memoryless baseline
(``baseline_mse``, ``baseline_xent`` or ``baseline_accuracy``).

``--quick`` is a small budget for CI: it trains end to end in a few seconds but learns
little.

The same run from Python: ``run('adding', 'lstm', T=100, seed=0)`` returns the dict.
"""

import argparse
import json
import sys
import time

import numpy as np

from . import CELLS
from .tasks import TASKS
from .train import SequenceModel, blas_threads, fit, step_schedule

__all__ = ["BUDGETS", "QUICK", "run", "main"]

# One budget per task, shared by every cell. The adding problem's is sized so that an LSTM
# and a GRU learn it at T = 100 well inside two minutes on one laptop-class CPU core. The copy
# task's default delay is short (T = 10): at T >= 100 an LSTM with a budget of this size stays
# at the memoryless baseline (Arjovsky et al. 2016). The long-range token task puts the key
# T - 2 steps back in every example; at T = 50, with b_f = 1, the gated cells do not find it
# within this budget, and an LSTM started with --forget-bias 3 does.
BUDGETS = {
    "adding": dict(T=100, hidden=32, batch=32, steps=3000, lr=1e-2, clip=1.0, test_size=1000),
    "copy": dict(T=10, hidden=64, batch=32, steps=8000, lr=1e-2, clip=1.0, test_size=500),
    "longrange": dict(T=50, hidden=32, batch=32, steps=1500, lr=1e-2, clip=1.0, test_size=1000),
}
QUICK = dict(hidden=8, batch=8, steps=30, test_size=64)


def run(
    task,
    cell,
    T=None,
    seed=0,
    steps=None,
    quick=False,
    progress="auto",
    hidden=None,
    batch=None,
    lr=None,
    forget_bias=None,
):
    """Train a fresh ``cell`` model on ``task`` with the task's budget; return the result dict.

    The model is seeded with ``seed``, the training batches come from ``[seed, 0]``, the
    held-out validation batch from ``[seed, 1]`` and the test set from ``[seed, 2]``, so a
    run is reproducible and the test set is never trained on. ``forget_bias`` (LSTM family
    only) overrides the cells' default b_f = 1.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    budget = dict(BUDGETS[task])
    if quick:
        budget.update(QUICK)
    for key, value in (
        ("T", T),
        ("steps", steps),
        ("hidden", hidden),
        ("batch", batch),
        ("lr", lr),
    ):
        if value is not None:
            budget[key] = value
    options = {}
    if forget_bias is not None:
        if not CELLS[cell].takes_forget_bias:
            takers = ", ".join(k for k, c in CELLS.items() if c.takes_forget_bias)
            raise ValueError(
                f"forget_bias applies to the LSTM family cells that have one ({takers}), "
                f"not to {cell!r}"
            )
        options["forget_bias"] = float(forget_bias)
    the_task = TASKS[task](T=budget["T"])
    model = SequenceModel(
        CELLS[cell](the_task.input_size, budget["hidden"], seed=seed, **options),
        the_task.output_size,
        many_to_one=the_task.many_to_one,
        seed=seed,
    )
    start = time.perf_counter()
    hist = fit(
        model,
        the_task,
        budget["steps"],
        batch_size=budget["batch"],
        lr=budget["lr"],
        clip=budget["clip"],
        schedule=step_schedule,
        eval_every=max(budget["steps"] // 20, 1),
        eval_batch=min(256, budget["test_size"]),
        seed=seed,
        progress=progress,
        description=f"{task} {cell} T={budget['T']}",
    )
    x_test, y_test = the_task.sample(budget["test_size"], np.random.default_rng([seed, 2]))
    with blas_threads(1):
        score = the_task.evaluate(model.predict(x_test), y_test)
    seconds = time.perf_counter() - start
    return {
        "task": task,
        "cell": cell,
        "T": the_task.T,
        "seed": seed,
        "steps": hist.steps,
        "seconds": round(seconds, 2),
        the_task.metric: score,
        the_task.baseline_key: the_task.baseline(),
        "hidden": budget["hidden"],
        "batch": budget["batch"],
        "lr": budget["lr"],
        "schedule": "step",
        "clip": budget["clip"],
        "optimizer": "adam",
        "num_params": model.num_params,
        "test_size": budget["test_size"],
        "final_train_loss": hist.loss[-1],
        "quick": bool(quick),
        "forget_bias": getattr(model.cell, "forget_bias", None),
    }


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m lstm_lab.experiments",
        description="Train one recurrent cell on a long-range task; "
        "print the result as JSON (the last line of stdout).",
    )
    parser.add_argument("task", choices=sorted(TASKS), help="the task")
    parser.add_argument("--cell", required=True, choices=list(CELLS), help="the recurrent cell")
    parser.add_argument(
        "--T",
        type=int,
        default=None,
        help="sequence length (default: adding 100, copy 10, longrange 50)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and data (default 0)")
    parser.add_argument(
        "--steps", type=int, default=None, help="training steps (default: the task's budget)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny budget that still trains end to end (CI)"
    )
    parser.add_argument(
        "--hidden", type=int, default=None, help="hidden size H (default: the task's budget)"
    )
    parser.add_argument(
        "--batch", type=int, default=None, help="batch size B (default: the task's budget)"
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="Adam learning rate (default: the task's budget)"
    )
    parser.add_argument(
        "--forget-bias",
        type=float,
        default=None,
        help="initial forget-gate bias b_f of an LSTM-family cell (default 1)",
    )
    return parser


def main(argv=None):
    """Run the command with ``argv`` (default: sys.argv[1:]); print the JSON line; return 0."""
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("T", "steps", "hidden", "batch"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer; got {value}")
    if args.lr is not None and not args.lr > 0:
        parser.error(f"--lr must be > 0; got {args.lr}")
    try:
        result = run(
            args.task,
            args.cell,
            T=args.T,
            seed=args.seed,
            steps=args.steps,
            quick=args.quick,
            progress="text",
            hidden=args.hidden,
            batch=args.batch,
            lr=args.lr,
            forget_bias=args.forget_bias,
        )
    except ValueError as err:
        parser.error(str(err))
    print(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
