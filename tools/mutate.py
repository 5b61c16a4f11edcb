"""Mutation testing of the modules a change touched: run mutmut on them, print the score table.

    .venv/bin/python tools/mutate.py cells.gru trace     # mutate these modules, then the table
    .venv/bin/python tools/mutate.py --table             # only the table of what has run so far
    .venv/bin/python tools/mutate.py --table --survivors # and the names of the survivors
    .venv/bin/python tools/mutate.py --rerun cells.gru   # after new tests: only the survivors

A module is named as under lstm_lab/ (``cells.gru``, ``train``; ``cells`` is
cells/__init__.py). mutmut (the ``mutation`` extra) works in a copy, mutants/, configured by
[tool.mutmut] in pyproject.toml. Naming a module re-runs every mutant of it; ``--rerun`` runs
only those not killed (survived, untested or not run), which is what new tests can change.
``mutmut show NAME`` prints one mutant's diff. At most 2 worker processes by default
(``--max-children``): the tests themselves are single-threaded.

Score = killed / (mutants - equivalent); a timeout counts as killed, and so does a crash (the
test process killed by SIGALRM, SIGSEGV or SIGABRT, which mutmut calls "suspicious" or
"segfault"); a mutant no test reaches (or not yet run) counts as survived. Equivalent mutants
are listed with their reason in docs/mutation.md ("- `mutant name`: reason"); an entry whose
reason starts with "killed on disk" is import-time code mutmut cannot switch, killed by the
tests once written into the source (``mutmut apply NAME``), and counts as killed. Mutants that
change only the text of an exception or warning message are counted apart (column "msg") and
left out of the score.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
EQUIVALENT_DOC = ROOT / "docs" / "mutation.md"
KILLED = {1: "killed", 3: "killed"}
# the test process died of a signal that is not mutmut's time limit: the mutant crashed the
# tests (an alarm with no handler left, a segfault), which fails the suite as surely as a test
CRASHED = {-14: "SIGALRM", -11: "SIGSEGV", -6: "SIGABRT"}
TIMEOUT = {36, 24, -24, 152, 255}


def pattern(module: str) -> str:
    """mutmut's name pattern for the mutants of one module ('cells' is cells/__init__.py)."""
    if module == "cells":
        return "lstm_lab.cells.x*"
    return f"lstm_lab.{module}.*"


def equivalent() -> dict[str, str]:
    """Mutant name -> reason, from the list in docs/mutation.md: the lines of its section
    "## Equivalent mutants ..." only (a survivor named elsewhere on the page is no entry)."""
    if not EQUIVALENT_DOC.exists():
        return {}
    found, inside = {}, False
    for line in EQUIVALENT_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line.startswith("## Equivalent mutants")
        match = re.match(r"- `(lstm_lab\.[^`]+)`: (.+)", line)
        if inside and match:
            found[match.group(1)] = match.group(2)
    return found


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    return {node.name: node for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _message_nodes(fn: ast.AST) -> set[int]:
    """ids of the string constants inside `raise ...` and `warnings.warn(...)` of a function."""
    ids = set()
    for node in ast.walk(fn):
        inside = None
        if isinstance(node, ast.Raise):
            inside = node.exc
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "warn"):
            inside = node
        if inside is not None:
            ids |= {id(c) for c in ast.walk(inside)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return ids


def message_only(source: Path) -> set[str]:
    """Short names (x_f__mutmut_N) of the mutants of a mutated file that change nothing but a
    string constant of an exception or warning message."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    fns = _functions(tree)
    found = set()
    for name, fn in fns.items():
        match = re.fullmatch(r"(.+)__mutmut_(\d+)", name)
        if not match or match.group(1) + "__mutmut_orig" not in fns:
            continue
        orig = fns[match.group(1) + "__mutmut_orig"]
        a, b = list(ast.walk(orig)), list(ast.walk(fn))
        if len(a) != len(b):
            continue
        messages = _message_nodes(orig)
        changed = [(u, v) for u, v in zip(a, b, strict=True)
                   if type(u) is not type(v)
                   or (isinstance(u, ast.Constant) and u.value != v.value)]
        if changed and all(isinstance(u, ast.Constant) and id(u) in messages
                           and isinstance(v, ast.Constant) and isinstance(v.value, str)
                           for u, v in changed):
            found.add(name)
    return found


def table(modules: list[str], survivors: bool = False) -> list[dict]:
    """One row per mutated module: counts by outcome and the score."""
    equiv = equivalent()
    rows = []
    for meta in sorted(MUTANTS.glob("lstm_lab/**/*.py.meta")):
        rel = meta.relative_to(MUTANTS / "lstm_lab").as_posix()[: -len(".py.meta")]
        module = rel.replace("/", ".").removesuffix(".__init__")
        if modules and module not in modules:
            continue
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        if not codes:
            continue
        messages = message_only(meta.with_suffix(""))
        count, left = Counter(), []
        for key, code in codes.items():
            if key in equiv and equiv[key].startswith("killed on disk"):
                count["killed"] += 1
            elif key in equiv:
                count["equivalent"] += 1
            elif code in KILLED or code in CRASHED:
                count["killed"] += 1
            elif code in TIMEOUT:
                count["timeout"] += 1
            elif key.rsplit(".", 1)[-1] in messages:
                count["msg"] += 1
            elif code is None:
                count["not run"] += 1
                left.append(key)
            else:                                    # survived, no tests, suspicious
                count["survived"] += 1
                left.append(key)
        scored = len(codes) - count["equivalent"] - count["msg"]
        score = (count["killed"] + count["timeout"]) / scored if scored else 1.0
        rows.append({"module": module, "mutants": len(codes), **count, "score": score,
                     "left": left if survivors else []})
    return rows


def skipped() -> dict[str, list[str]]:
    """Per mutated module, the functions and methods mutmut made no mutant of, with their
    decorators (mutmut 3 skips decorated functions; some others hold nothing to mutate)."""
    found = {}
    for meta in sorted(MUTANTS.glob("lstm_lab/**/*.py.meta")):
        mutated_file = meta.with_suffix("")
        source = ROOT / mutated_file.relative_to(MUTANTS)
        mutated = set(re.findall(r"def (x\S*?)__mutmut_orig", mutated_file.read_text("utf-8")))
        tree = ast.parse(source.read_text(encoding="utf-8"))
        defs = [(f"x_{n.name}", n.name, n) for n in tree.body if isinstance(n, ast.FunctionDef)]
        defs += [(f"x\u01c1{c.name}\u01c1{n.name}", f"{c.name}.{n.name}", n) for c in tree.body
                 if isinstance(c, ast.ClassDef) for n in c.body if isinstance(n, ast.FunctionDef)]
        left = [shown + "".join(f" @{ast.unparse(d)}" for d in node.decorator_list)
                for key, shown, node in defs if key not in mutated]
        if left:
            found[source.relative_to(ROOT).as_posix()] = left
    return found


def print_table(rows: list[dict]) -> None:
    cols = ["mutants", "killed", "timeout", "survived", "not run", "equivalent", "msg"]
    print(f"{'module':<16}" + "".join(f"{c:>11}" for c in cols) + f"{'score':>8}")
    for row in rows:
        print(f"{row['module']:<16}" + "".join(f"{row.get(c, 0):>11}" for c in cols)
              + f"{100 * row['score']:>7.1f}%")
        for name in row["left"]:
            print("    " + name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules under lstm_lab/, e.g. cells.gru")
    parser.add_argument("--table", action="store_true", help="only print the table")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    parser.add_argument("--skipped", action="store_true",
                        help="list the functions mutmut made no mutant of")
    parser.add_argument("--rerun", action="store_true",
                        help="re-run only the mutants of the modules that were not killed")
    parser.add_argument("--max-children", type=int, default=2)
    args = parser.parse_args(argv)
    if args.skipped:
        for path, names in skipped().items():
            print(f"{path}: {len(names)}")
            for name in names:
                print("    " + name)
        return 0
    if not args.table:
        if not args.modules:
            parser.error("name the modules to mutate (a full run takes hours: see CONTRIBUTING.md)")
        names = list(map(pattern, args.modules))
        if args.rerun:
            names = [n for row in table(args.modules, survivors=True) for n in row["left"]]
            if not names:
                print("no mutant of these modules is left to re-run")
                print_table(table(args.modules))
                return 0
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        mutmut = Path(sys.executable).with_name("mutmut")
        start = time.monotonic()
        status = subprocess.call(
            [str(mutmut), "run", "--max-children", str(args.max_children), *names],
            cwd=ROOT, env=env)
        print(f"mutmut run took {time.monotonic() - start:.0f} s")
        if status:
            return status
    print_table(table(args.modules, args.survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
