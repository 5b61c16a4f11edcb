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
(``baseline_mse``, ``baseline_xent`` or ``baseline_accuracy``). A run whose training
diverged says ``"diverged": true``; a number that became inf or NaN is written as null.

``--quick`` is a small budget for CI: it trains end to end in a few seconds but learns
little.

TASK ``reverse`` trains an encoder-decoder (``lstm_lab.attention.Seq2Seq``, encoder and
decoder both of kind CELL) to reverse strings of 5 to T symbols, with ``--attention`` none,
dot or additive; its JSON adds the accuracy at each length (``accuracy_by_length``), and
``--save FILE.npz`` keeps the trained weights (read them with
``lstm_lab.attention.load_seq2seq``).

The same run from Python: ``run('adding', 'lstm', T=100, seed=0)`` returns the dict.
"""

import argparse
import json
import math
import subprocess
import sys
import time

import numpy as np

from . import CELLS
from ._atomic import write_atomic
from ._checks import check_elements, check_size
from .attention import Seq2Seq, save_seq2seq
from .tasks import TASKS, ReversalTask
from .train import SequenceModel, blas_threads, fit, step_schedule

__all__ = ["BUDGETS", "QUICK", "RACE", "REVERSE_BUDGET", "SMALL_BUDGET", "race_run",
           "record_runs", "run", "run_reversal", "train_small", "main"]

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
# The reversal task: T is the longest string; every batch has one length from 5 to T, and the
# test set holds test_size strings of each length 5, 10, ..., T.
REVERSE_BUDGET = dict(T=30, hidden=32, batch=32, steps=3000, lr=1e-2, clip=1.0, test_size=200)
REVERSE_MIN_LENGTH = 5
ATTENTION_KINDS = ("none", "dot", "additive")
# Notebook 09's race: the adding problem at T = 20, one short budget for every cell.
RACE = dict(T=20, hidden=16, batch=32, steps=300, lr=2e-2, clip=1.0, window=25, test_size=1000,
            test_seed=123)
# The small budget of notebook 08's side-by-side runs: a run of 400 steps takes about half a
# second on one core (hidden size H, batch size, Adam's learning rate, clipping, and how often
# the held-out batch is scored).
SMALL_BUDGET = dict(hidden=16, batch_size=32, lr=2e-2, clip=1.0, eval_every=40)


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
        hint = " (the reversal task: run_reversal)" if task == "reverse" else ""
        raise ValueError(f"task must be one of {', '.join(TASKS)}{hint}; got {task!r}")
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
    for key in ("T", "steps", "hidden", "batch", "test_size"):
        budget[key] = check_size(budget[key], key)
    # sizes from a command line: refuse before anything is allocated
    check_elements("the trace (T, B, H)", T=budget["T"], B=budget["batch"], H=budget["hidden"])
    check_elements("the test set's trace (T, test_size, H)", T=budget["T"],
                   test_size=budget["test_size"], H=budget["hidden"])
    check_elements("W_h (4H, H)", G=4, H=budget["hidden"], H_=budget["hidden"])
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
    with blas_threads(1), np.errstate(all="ignore"):  # an overflow scores inf, shown as null
        score = the_task.evaluate(model.predict(x_test), y_test)
    seconds = time.perf_counter() - start
    finite_losses = [v for v in hist.loss if math.isfinite(v)]
    result = {
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
        "final_train_loss": finite_losses[-1] if finite_losses else None,
        "quick": bool(quick),
        "forget_bias": getattr(model.cell, "forget_bias", None),
        "diverged": hist.diverged,
    }
    # strict JSON has no NaN or Infinity: a diverged run's non-finite numbers become null
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in result.items()}


def run_reversal(cell, attention="none", T=None, seed=0, steps=None, quick=False,
                 progress="auto", hidden=None, batch=None, lr=None, save=None):
    """Train an encoder-decoder of ``cell`` cells to reverse strings; return the result dict.

    ``attention`` is 'none', 'dot' or 'additive'; the budget is ``REVERSE_BUDGET`` whatever
    the attention, so the three are compared fairly. Seeds as in ``run``; the test strings of
    length L come from ``[seed, 2, L]``. ``save`` names an .npz file for the trained weights.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION_KINDS)}; "
                         f"got {attention!r}")
    budget = dict(REVERSE_BUDGET)
    if quick:
        budget.update(QUICK)
    for key, value in (("T", T), ("steps", steps), ("hidden", hidden), ("batch", batch),
                       ("lr", lr)):
        if value is not None:
            budget[key] = value
    for key in ("T", "steps", "hidden", "batch", "test_size"):
        budget[key] = check_size(budget[key], key)
    if budget["T"] < REVERSE_MIN_LENGTH:
        raise ValueError(f"T must be at least {REVERSE_MIN_LENGTH} for the reversal task; "
                         f"got {budget['T']}")
    H = budget["hidden"]
    check_elements("the attention scores (T, B, T, H)", T=budget["T"], B=budget["batch"],
                   T_=budget["T"], H=H)
    check_elements("the test set's trace (T, test_size, H)", T=budget["T"],
                   test_size=budget["test_size"], H=H)
    task = ReversalTask(min_length=REVERSE_MIN_LENGTH, max_length=budget["T"])
    K = task.output_size
    model = Seq2Seq(CELLS[cell](task.input_size, H, seed=seed),
                    CELLS[cell](K + 1, H, seed=seed + 1), K,
                    attention=None if attention == "none" else attention, seed=seed)
    start = time.perf_counter()
    hist = fit(model, task, budget["steps"], batch_size=budget["batch"], lr=budget["lr"],
               clip=budget["clip"], schedule=step_schedule,
               eval_every=max(budget["steps"] // 20, 1), eval_batch=min(256, budget["test_size"]),
               seed=seed, progress=progress,
               description=f"reverse {cell} attention={attention} T<={budget['T']}")
    by_length = {}
    with blas_threads(1), np.errstate(all="ignore"):
        for L in range(REVERSE_MIN_LENGTH, budget["T"] + 1, 5):
            x, y = task.sample(budget["test_size"], np.random.default_rng([seed, 2, L]), length=L)
            by_length[str(L)] = task.evaluate(model.predict(x), y)
    seconds = time.perf_counter() - start
    if save is not None:
        save_seq2seq(model, save)
    finite_losses = [v for v in hist.loss if math.isfinite(v)]
    result = {
        "task": "reverse", "cell": cell, "attention": attention, "T": budget["T"],
        "min_length": REVERSE_MIN_LENGTH, "seed": seed, "steps": hist.steps,
        "seconds": round(seconds, 2),
        "test_accuracy": float(np.mean(list(by_length.values()))),
        "accuracy_by_length": by_length, "baseline_accuracy": task.baseline(),
        "hidden": H, "batch": budget["batch"], "lr": budget["lr"], "schedule": "step",
        "clip": budget["clip"], "optimizer": "adam", "num_params": model.num_params,
        "test_size": budget["test_size"],
        "final_train_loss": finite_losses[-1] if finite_losses else None,
        "quick": bool(quick), "diverged": hist.diverged,
        "saved": None if save is None else str(save),
    }
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in result.items()}


def race_run(kind, seed, **settings):
    """Train one cell of notebook 09's race (settings: ``RACE``, overridable); return a dict.

    The cell ``CELLS[kind]`` with ``hidden`` units and a linear readout, both seeded with
    ``seed``, takes ``steps`` Adam steps (constant rate ``lr``, clipping at ``clip``) on batches
    of the adding problem at ``T``. Returns ``test_mse`` on ``test_size`` examples drawn with
    seed ``test_seed`` (the same set for every run), the task's ``baseline_mse`` and ``curve``,
    the running mean of the training loss over ``window`` steps (``curve[k]`` is the mean of
    steps k + 1 to k + window). notebooks/data/variants_race.py records these runs; the
    notebook repeats a few of them live.
    """
    s = {**RACE, **settings}
    task = TASKS["adding"](T=s["T"])
    x_test, y_test = task.sample(s["test_size"], np.random.default_rng(s["test_seed"]))
    model = SequenceModel(CELLS[kind](task.input_size, s["hidden"], seed=seed),
                          task.output_size, seed=seed)
    hist = fit(model, task, steps=s["steps"], batch_size=s["batch"], lr=s["lr"], clip=s["clip"],
               eval_every=s["steps"], seed=seed, progress="off")
    window = s["window"]
    return {"test_mse": float(task.evaluate(model.predict(x_test), y_test)),
            "baseline_mse": float(task.baseline()),
            "curve": np.convolve(hist.loss, np.ones(window) / window, mode="valid")}


def train_small(kind, task, steps, seed=0, **cell_options):
    """Train a cell of ``kind`` with a linear readout on ``task`` with SMALL_BUDGET: (model, hist).

    ``seed`` sets the initial weights and the training batches; ``cell_options`` go to the cell
    (``forget_bias=0.0``, say). ``hist.evals`` holds the held-out score every 40 steps. Notebook
    08 trains its live runs with this function and notebooks/data/long_range_runs.py the runs
    it stores, so a stored run is the very computation the notebook would do.

    >>> from lstm_lab.tasks import AddingTask
    >>> model, hist = train_small("gru", AddingTask(T=5), steps=80, seed=1)
    >>> [step for step, _ in hist.evals], model.num_params
    ([40, 80], 929)
    """
    budget = dict(SMALL_BUDGET)
    cell = CELLS[kind](task.input_size, budget.pop("hidden"), seed=seed, **cell_options)
    model = SequenceModel(cell, task.output_size, many_to_one=task.many_to_one, seed=seed)
    return model, fit(model, task, steps, seed=seed, progress="off", **budget)


def record_runs(argvs, out, made_by, **extra):
    """Run the command once per argument list, each in a fresh interpreter, and keep the results.

    Writes ``{"made_by": made_by, **extra, "runs": [{"command": ..., "result": ...}]}`` to
    ``out`` as JSON (atomically), where each result is the JSON line the command printed, and
    returns the runs. Progress, one line per run, goes to stderr. The data files the notebooks
    read are made this way (notebooks/data/*.py).
    """
    runs = []
    for argv in argvs:
        argv = [str(a) for a in argv]
        printed = subprocess.run([sys.executable, "-m", "lstm_lab.experiments", *argv],
                                 capture_output=True, text=True, check=True).stdout
        result = json.loads(printed.strip().splitlines()[-1])
        runs.append({"command": " ".join(["python -m lstm_lab.experiments", *argv]),
                     "result": result})
        print(f"{' '.join(argv)}: {result['seconds']:.1f} s", file=sys.stderr, flush=True)
    text = json.dumps({"made_by": made_by, **extra, "runs": runs}, indent=1) + "\n"
    write_atomic(out, text)
    return runs


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m lstm_lab.experiments",
        description="Train one recurrent cell on a long-range task; "
        "print the result as JSON (the last line of stdout).",
    )
    parser.add_argument("task", choices=sorted([*TASKS, "reverse"]), help="the task")
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
    parser.add_argument(
        "--attention",
        choices=ATTENTION_KINDS,
        default=None,
        help="reverse only: the decoder's attention over the encoder's states (default none)",
    )
    parser.add_argument(
        "--save", default=None, metavar="FILE.npz", help="reverse only: write the trained weights"
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
    if args.task != "reverse" and (args.attention is not None or args.save is not None):
        parser.error("--attention and --save go with the reverse task only")
    if args.task == "reverse" and args.forget_bias is not None:
        parser.error("--forget-bias does not go with the reverse task")
    try:
        if args.task == "reverse":
            result = run_reversal(
                args.cell, attention=args.attention or "none", T=args.T, seed=args.seed,
                steps=args.steps, quick=args.quick, progress="text", hidden=args.hidden,
                batch=args.batch, lr=args.lr, save=args.save,
            )
        else:
            result = run(
                args.task, args.cell, T=args.T, seed=args.seed, steps=args.steps,
                quick=args.quick, progress="text", hidden=args.hidden, batch=args.batch,
                lr=args.lr, forget_bias=args.forget_bias,
            )
    except ValueError as err:
        parser.error(str(err))
    print(json.dumps(result, allow_nan=False))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
