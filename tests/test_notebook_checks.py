"""Outputs nbval does not compare are followed by check cells that state their claim.

A notebook output that moves with the BLAS kernel (training, chaotic runs, timings) is shown
to the reader but not compared: its cell starts with ``# NBVAL_IGNORE_OUTPUT``. The claim the
notebook draws from it is then asserted, with a margin, by a *check cell*: a code cell whose
first line is ``# Check: <the claim>`` and which holds at least one real ``assert``. Between an
ignored cell and its check there may be markdown and other ignored cells only. A check cell
prints nothing, so nothing it shows can differ between machines.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORE = "# NBVAL_IGNORE_OUTPUT"
CHECK = "# Check:"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "notebooks" / "exercises").glob("*.ipynb")
)


def code_cells(path: Path) -> list[tuple[int, str]]:
    """(index among all cells, source) of every non-empty code cell."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [
        (k, "".join(c["source"]))
        for k, c in enumerate(cells)
        if c["cell_type"] == "code" and "".join(c["source"]).strip()
    ]


def first_line(source: str) -> str:
    return source.lstrip().splitlines()[0].strip()


def real_asserts(source: str) -> list[ast.Assert]:
    """The assert statements whose test is not a constant (``assert True`` cannot fail)."""
    tree = ast.parse(source)
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and not isinstance(node.test, ast.Constant)
    ]


def unchecked_ignored_cells(path: Path) -> list[str]:
    """Problems: ignored cells with no check after them, and malformed check cells."""
    problems = []
    cells = code_cells(path)
    pending = []  # ignored cells waiting for their check
    for k, source in cells:
        head = first_line(source)
        if head == IGNORE:
            pending.append(k)
        elif head.startswith(CHECK):
            if len(head) <= len(CHECK) + 3:
                problems.append(f"cell {k}: a check cell must say its claim after '# Check:'")
            if not real_asserts(source):
                problems.append(f"cell {k}: a check cell needs an assert that can fail")
            pending = []
        elif pending:
            problems.append(
                f"cells {pending}: output not compared, but followed by cell {k} "
                f"({head[:50]!r}) instead of a '# Check:' cell"
            )
            pending = []
        elif IGNORE in source:
            problems.append(f"cell {k}: {IGNORE} must be the cell's first line")
    if pending:
        problems.append(f"cells {pending}: output not compared and no check cell after them")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_ignored_output_is_checked(path):
    problems = unchecked_ignored_cells(path)
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_print_nothing(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    noisy = [
        k
        for k, c in enumerate(cells)
        if c["cell_type"] == "code"
        and "".join(c["source"]).strip()
        and first_line("".join(c["source"])).startswith(CHECK)
        and c.get("outputs")
    ]
    assert not noisy, f"{path.name}: check cells {noisy} store output (a check prints nothing)"


def test_the_list_of_ignored_cells():
    """Every output-ignored cell in the course, listed (shown with -rA); each has its check."""
    listing = []
    for path in NOTEBOOKS:
        for k, source in code_cells(path):
            if first_line(source) == IGNORE:
                listing.append(f"{path.name} cell {k}")
    # the training notebooks keep their trained numbers out of the comparison
    assert any(line.startswith("08_") for line in listing), listing
    print("\n".join(listing))


# ------------------------------------------------------------------ the rule itself can fail


def fake_notebook(tmp_path: Path, sources: list[str]) -> Path:
    cells = [
        {"cell_type": "code", "source": s, "metadata": {}, "outputs": [], "execution_count": 1}
        for s in sources
    ]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))
    return path


@pytest.mark.parametrize(
    "sources, expected",
    [
        ([f"{IGNORE}\nx = train()", "print(x)"], "instead of a '# Check:' cell"),
        ([f"{IGNORE}\nx = train()"], "no check cell after them"),
        ([f"{IGNORE}\nx = 1", "# Check: x is one\nassert True"], "an assert that can fail"),
        ([f"{IGNORE}\nx = 1", "# Check:\nassert x == 1"], "must say its claim"),
        (["x = 1  # NBVAL_IGNORE_OUTPUT"], "must be the cell's first line"),
    ],
)
def test_rule_catches(tmp_path, sources, expected):
    problems = unchecked_ignored_cells(fake_notebook(tmp_path, sources))
    assert any(expected in p for p in problems), problems


def test_rule_accepts_a_chain_ending_in_a_check(tmp_path):
    sources = [f"{IGNORE}\nx = train()", f"{IGNORE}\nshow(x)", "# Check: x is small\nassert x < 1"]
    assert unchecked_ignored_cells(fake_notebook(tmp_path, sources)) == []
