"""Hand-written mutants of what mutmut cannot mutate: class-level data and module constants.

    .venv/bin/python tools/hand_mutants.py            # every mutant; exit 1 if one survives
    .venv/bin/python tools/hand_mutants.py --list     # only their names
    .venv/bin/python tools/hand_mutants.py torch_order_lstm symbol_labels_f_i

mutmut 3 mutates only the bodies of functions, so a cell's declared metadata (gate_names,
fused_letters, sigmoid_letters, the torch/keras gate orders interop uses, peepholes, the
diagram's declaration), the symbol table of lstm_lab/symbols.py and the exercise checkers'
tolerances escape it. Each mutant here is one realistic slip in that data (two letters
swapped, a gate dropped, a tolerance loosened), applied by patching the imported package in a
fresh Python process, which then runs the unit tests that should notice (-x: the first
failure kills it). Prints killed/survived per mutant.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = ["-o", "addopts=", "-p", "no:nbval", "-p", "no:randomly", "-p", "no:cacheprovider",
          "-p", "no:xdist", "-q", "-x", "--no-header", "-W", "error"]

CELL_TESTS = ["tests/test_cells.py", "tests/test_gradients.py", "tests/test_gaps.py"]
INTEROP_TESTS = ["tests/test_interop.py", "tests/test_networks.py"]
SYMBOL_TESTS = ["tests/test_mutants_static.py", "tests/test_exercises.py", "tests/test_cells.py"]
EXERCISE_TESTS = ["tests/test_mutants_exercises.py", "tests/test_exercises.py"]

# Patch the symbol table the way an edit of SYMBOLS would: the derived tables are rebuilt in
# place, so that every module that imported them sees the change.
_SYMBOLS = """
import dataclasses
from lstm_lab import symbols as S
def edit(letter, **changes):
    S.SYMBOLS[letter] = dataclasses.replace(S.SYMBOLS[letter], **changes)
    for table, field in ((S.COLORS, "color"), (S.LABELS, "label"), (S.NAMES, "name"),
                         (S.KOREAN, "korean")):
        table.clear(); table.update({k: getattr(s, field) for k, s in S.SYMBOLS.items()})
    S.ACTIVATION_OF.clear()
    S.ACTIVATION_OF.update({k: s.activation for k, s in S.SYMBOLS.items() if s.activation})
"""

# name -> (what the slip is, patch code run after `import lstm_lab`, tests that should kill it)
MUTANTS = {
    "torch_order_lstm": ("LSTM's PyTorch gate order with f and i swapped",
                         "C = lstm_lab.cells.LSTMCell; C.torch_order = ('f','i','g','o')",
                         INTEROP_TESTS),
    "keras_order_lstm": ("LSTM's Keras gate order with g and o swapped",
                         "C = lstm_lab.cells.LSTMCell; C.keras_order = ('i','f','o','g')",
                         INTEROP_TESTS),
    "torch_order_gru": ("GRU's PyTorch gate order with r and z swapped",
                        "C = lstm_lab.cells.GRUCell; C.torch_order = ('z','r','g')",
                        INTEROP_TESTS),
    "keras_order_gru": ("GRU's Keras gate order the same as PyTorch's (z, r swapped)",
                        "C = lstm_lab.cells.GRUCell; C.keras_order = ('r','z','g')",
                        INTEROP_TESTS),
    "fused_letters_lstm": ("LSTM's fused block order with o and f swapped",
                           "C = lstm_lab.cells.LSTMCell; "
                           "C.fused_letters = ('f','o','i','g')", CELL_TESTS),
    "sigmoid_letters_lstm": ("LSTM without i among its sigmoid gates",
                             "C = lstm_lab.cells.LSTMCell; C.sigmoid_letters = ('o','f')",
                             CELL_TESTS),
    "gate_names_lstm": ("LSTM's declared gates without o",
                        "C = lstm_lab.cells.LSTMCell; C.gate_names = ('f','i','g')",
                        CELL_TESTS),
    "gate_names_gru": ("GRU's declared gates with r and z swapped",
                       "C = lstm_lab.cells.GRUCell; C.gate_names = ('z','r','g')",
                       CELL_TESTS),
    "gate_names_nfg": ("the no-forget-gate variant declaring a forget gate",
                       "lstm_lab.cells.CELLS['nfg'].gate_names = ('f','i','g','o')",
                       CELL_TESTS),
    "peepholes_peephole": ("the peephole LSTM without the output gate's peephole",
                           "lstm_lab.cells.CELLS['peephole'].peepholes = ('f','i')",
                           CELL_TESTS),
    "coupled_flag": ("the coupled cell not declaring f_t = 1 - i_t",
                     "lstm_lab.cells.CELLS['coupled'].coupled = False",
                     CELL_TESTS + ["tests/test_mutants_static.py"]),
    "diagram_absent_nog": ("the no-output-gate variant's diagram not fading o",
                           "import dataclasses; from lstm_lab.cells import CELLS; C = CELLS['nog'];"
                           " C.diagram = dataclasses.replace(C.diagram, absent=())",
                           ["tests/test_mutants_static.py", "tests/test_cells.py"]),
    "has_cell_state_gru": ("GRU declaring a cell state",
                           "C = lstm_lab.cells.GRUCell; C.has_cell_state = True",
                           CELL_TESTS),
    "cells_registry": ("the registry's 'lstm' and 'gru' entries swapped",
                       "from lstm_lab import cells; L, G = cells.CELLS['lstm'], cells.CELLS['gru'];"
                       " cells.CELLS['lstm'], cells.CELLS['gru'] = G, L", CELL_TESTS),
    "symbol_labels_f_i": ("the labels of f and i swapped",
                          _SYMBOLS + "edit('f', label=r'$i_t$'); edit('i', label=r'$f_t$')",
                          SYMBOL_TESTS),
    "symbol_activation_g": ("the candidate's activation a sigmoid",
                            _SYMBOLS + "edit('g', activation='sigmoid')", SYMBOL_TESTS),
    "symbol_activation_r": ("the reset gate's activation a tanh",
                            _SYMBOLS + "edit('r', activation='tanh')", SYMBOL_TESTS),
    "symbol_names_r_z": ("the names of r and z swapped",
                         _SYMBOLS + "edit('r', name='update gate'); edit('z', name='reset gate')",
                         SYMBOL_TESTS),
    "symbol_colors_f_o": ("the colours of f and o swapped",
                          _SYMBOLS + "edit('f', color='#CC79A7'); edit('o', color='#D55E00')",
                          SYMBOL_TESTS),
    "symbol_color_shared": ("c drawn in h's colour",
                            _SYMBOLS + "edit('c', color='#56B4E9')", SYMBOL_TESTS),
    "checker_rtol_1000x": ("the exercise checkers' relative tolerance loosened 1000x",
                           "from lstm_lab import exercises as E; E.RTOL = 1e-2", EXERCISE_TESTS),
    "checker_atol_1000x": ("the exercise checkers' absolute tolerance loosened 1000x",
                           "from lstm_lab import exercises as E; E.ATOL = 1e-4", EXERCISE_TESTS),
    "checker_big_small": ("the checkers' 'gate fully open' pre-activation 4 instead of 40",
                          "from lstm_lab import exercises as E; E._BIG = 4.0; "
                          "[f.cache_clear() for f in (E._cell_update_exercise, "
                          "E._hidden_state_exercise)]", EXERCISE_TESTS),
}


def run(name: str) -> tuple[bool, float, str]:
    """(killed, seconds, last line of pytest's output) for one mutant."""
    _, patch, tests = MUTANTS[name]
    code = (f"import sys, pytest, lstm_lab\n{patch}\n"
            f"sys.exit(pytest.main({PYTEST + list(tests)!r}))")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{name}: pytest exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc.returncode == 1, time.monotonic() - start, lines[-1] if lines else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    names = args.names or list(MUTANTS)
    if args.list:
        for name in names:
            print(f"{name:<22} {MUTANTS[name][0]}")
        return 0
    survived = []
    for name in names:
        killed, seconds, last = run(name)
        verdict = "killed  " if killed else "SURVIVED"
        print(f"{verdict} {name:<22} {seconds:5.1f} s  {last}", flush=True)
        if not killed:
            survived.append(name)
    print(f"{len(names) - len(survived)} of {len(names)} hand mutants killed")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
