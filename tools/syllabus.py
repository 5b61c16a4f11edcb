"""Build the syllabus table of docs/teachers_guide.md from the notebooks' opening cells.

A notebook joins the syllabus when its first markdown cell holds a time and its learning
objectives, in this form:

    **Time:** about 25 minutes (20 core, 5 optional).

    **Learning objectives.** After this notebook you can:

    1. write the forget gate's equation and ...;
    2. ...

and every section heading (## or ###) ends in `· core` or `· optional`. The table in the guide
sits between the lines `<!-- syllabus:begin -->` and `<!-- syllabus:end -->`; this script rewrites
it, so a new notebook appears in it once its opening cell follows the form above:

    .venv/bin/python tools/syllabus.py           # rewrite the table in docs/teachers_guide.md
    .venv/bin/python tools/syllabus.py --check   # report only; exit 1 when out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GUIDE = ROOT / "docs" / "teachers_guide.md"
BEGIN, END = "<!-- syllabus:begin -->", "<!-- syllabus:end -->"

TIME = re.compile(r"^\*\*Time:\*\*\s+about\s+(\d+)\s+minutes\s*(?:\(([^)]*)\))?", re.M)
OBJECTIVES = re.compile(r"^\*\*Learning objectives\.\*\*[^\n]*\n+((?:\d+\.\s[^\n]+\n?)+)", re.M)
HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*$", re.M)
MARK = re.compile(r"\s·\s(core|optional)$")


class Entry(NamedTuple):
    stem: str              # file name without .ipynb
    title: str             # the notebook's "# ..." title
    minutes: int           # total time
    split: str             # what the parentheses say, e.g. "20 core, 5 optional" ("" if none)
    objectives: tuple      # the objectives, in order
    sections: tuple        # (heading text without its mark, "core" | "optional" | None)


def sections(nb) -> tuple:
    """Every ## and ### heading of the markdown cells: (text without its mark, mark or None)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for _hashes, text in HEADING.findall(cell.source):
            mark = MARK.search(text)
            found.append((MARK.sub("", text), mark.group(1) if mark else None))
    return tuple(found)


def read_entry(path: Path) -> Entry | None:
    """The syllabus entry of one notebook, or None when its first cell gives no time."""
    nb = nbformat.read(path, as_version=4)
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    time = TIME.search(first)
    if time is None:
        return None
    title = re.search(r"^#\s+(.+)$", first, re.M)
    block = OBJECTIVES.search(first)
    objectives = tuple(re.sub(r"^\d+\.\s+", "", line).strip()
                       for line in block.group(1).strip().splitlines()) if block else ()
    return Entry(path.stem, title.group(1).strip() if title else path.stem, int(time.group(1)),
                 (time.group(2) or "").strip(), objectives, sections(nb))


def entries(folder: Path = NOTEBOOKS) -> list[Entry]:
    """The entries of every notebooks/NN_*.ipynb that has one, in file-name order."""
    found = (read_entry(p) for p in sorted(folder.glob("[0-9][0-9]_*.ipynb")))
    return [e for e in found if e is not None]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def table(items: list[Entry]) -> str:
    """The syllabus as a markdown table: one row per notebook."""
    rows = ["| notebook | time | after it a student can | optional sections |",
            "| --- | --- | --- | --- |"]
    for e in items:
        time = f"{e.minutes} min" + (f" ({e.split})" if e.split else "")
        goals = "<br>".join(f"{k}. {_cell(o)}" for k, o in enumerate(e.objectives, 1))
        optional = "; ".join(_cell(s) for s, mark in e.sections if mark == "optional") or "none"
        link = f"[{_cell(e.title)}](../notebooks/{e.stem}.ipynb)"
        rows.append(f"| {link} | {time} | {goals} | {optional} |")
    total = sum(e.minutes for e in items)
    rows.append(f"| **all {len(items)} notebooks** | **{total} min** | | |")
    return "\n".join(rows)


def updated_guide(text: str, new_table: str) -> str:
    """The guide's text with the table between the markers replaced."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"the guide has no {BEGIN} ... {END} block for the syllabus")
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{new_table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args(argv)
    text = GUIDE.read_text(encoding="utf-8")
    new = updated_guide(text, table(entries()))
    if new == text:
        print("docs/teachers_guide.md: the syllabus table is up to date")
        return 0
    if args.check:
        print("docs/teachers_guide.md: the syllabus table is out of date; "
              "run .venv/bin/python tools/syllabus.py", file=sys.stderr)
        return 1
    GUIDE.write_text(new, encoding="utf-8")
    print("docs/teachers_guide.md: syllabus table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
