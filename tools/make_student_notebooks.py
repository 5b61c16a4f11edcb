"""Make the student versions of the exercise notebooks: solutions become NotImplementedError.

Usage (from anywhere; paths are found from this file):

    python tools/make_student_notebooks.py            # write notebooks/exercises/student/*.ipynb
    python tools/make_student_notebooks.py --check    # exit 1 if a student version is out of date

For every notebooks/exercises/NN_*.ipynb (the solution version) it writes
notebooks/exercises/student/NN_*.ipynb where

- every region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the markers nbgrader
  uses) is replaced, at the same indentation, by a ``# YOUR CODE HERE`` comment and
  ``raise NotImplementedError()``; the lines outside the markers (the function's signature,
  docstring and the comment saying what to write) stay;
- every output and execution count is cleared, cell and notebook metadata are stripped
  (only the kernelspec stays), and a short note for the student opens the notebook.

The output depends on nothing but the solution notebooks, so running it twice changes nothing.
Every file is written atomically (a temporary file, then a rename), and the notebooks'
entries in notebooks/MANIFEST.sha256 (see tools/manifest.py) are updated.

It never deletes or overwrites a file it did not generate: a student notebook is replaced or
removed (when its solution notebook is gone) only if its content is still what the manifest
records; one that was edited, or that someone else put there, is left alone and named, and
the command exits with 1.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from lstm_lab._atomic import write_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
import manifest  # noqa: E402  (tools/manifest.py, beside this file)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "exercises"
TARGET = SOURCE / "student"
BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
STUB = ("# YOUR CODE HERE: replace this comment and the `raise` below with your code",
        "raise NotImplementedError()")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
NOTE = ("*Student version.* Write your code where a cell says `YOUR CODE HERE`, run that cell, "
        "then run the check cell below it: it tells you whether your function is right and, if "
        "not, what to look at.")


def strip_solutions(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each solution region in `source` by the stub; return (new source, regions).

    >>> text = "def f(x):\\n    # double x\\n    ### BEGIN SOLUTION\\n    return 2 * x\\n"
    >>> print(strip_solutions(text + "    ### END SOLUTION")[0])
    def f(x):
        # double x
        # YOUR CODE HERE: replace this comment and the `raise` below with your code
        raise NotImplementedError()
    """
    out: list[str] = []
    inside = False
    regions = 0
    for number, line in enumerate(source.split("\n"), 1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise ValueError(f"{where}, line {number}: BEGIN SOLUTION inside a solution region")
            inside, regions = True, regions + 1
            out += [begin.group(1) + stub for stub in STUB]
        elif END.match(line):
            if not inside:
                raise ValueError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "\n".join(out), regions


def student_version(nb: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student version of a solution notebook (a new notebook; `nb` is not changed)."""
    cells = [nbformat.v4.new_markdown_cell(NOTE, id="student-note")]
    regions = 0
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id") or f"cell-{index}"
        if cell.cell_type == "code":
            source, found = strip_solutions(cell.source, f"{name}, cell {index}")
            regions += found
            cells.append(nbformat.v4.new_code_cell(source, id=cell_id))
        elif cell.cell_type == "markdown":
            cells.append(nbformat.v4.new_markdown_cell(cell.source, id=cell_id))
        else:
            cells.append(nbformat.v4.new_raw_cell(cell.source, id=cell_id))
    if not regions:
        raise ValueError(f"{name} has no ### BEGIN SOLUTION / ### END SOLUTION region")
    out = nbformat.v4.new_notebook(cells=cells)
    out.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    out.nbformat, out.nbformat_minor = 4, 5
    nbformat.validate(out)
    return out


def render_all() -> dict[Path, str]:
    """Every student notebook's path and file text, from the solution notebooks."""
    texts = {}
    for path in sorted(SOURCE.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        texts[TARGET / path.name] = nbformat.writes(student_version(nb, path.name)) + "\n"
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a student notebook is stale or missing")
    args = parser.parse_args(argv)
    texts = render_all()
    if not texts:
        print(f"no exercise notebooks in {SOURCE.relative_to(ROOT)}", file=sys.stderr)
        return 1
    stale = [p for p, text in texts.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    extra = [p for p in sorted(TARGET.glob("*.ipynb")) if p not in texts]
    if args.check:
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}")
        for path in extra:
            print(f"no solution notebook for: {path.relative_to(ROOT)}")
        if stale or extra:
            print("run: python tools/make_student_notebooks.py", file=sys.stderr)
            return 1
        print(f"{len(texts)} student notebooks are up to date")
        return 0
    TARGET.mkdir(parents=True, exist_ok=True)
    ours = [p for p in stale + extra if not p.exists() or manifest.is_shipped(p)]
    kept = [p for p in stale + extra if p not in ours]
    written = [p for p in stale if p in ours]
    removed = [p for p in extra if p in ours]
    for path in written:
        write_atomic(path, texts[path])
    for path in removed:
        path.unlink()
    if written or removed:
        manifest.update(written, removed)
    for path in kept:
        print(f"left alone: {path.relative_to(ROOT)} is not what this tool wrote (edited, or put "
              f"there by someone else); move it away and run again to "
              f"{'regenerate' if path in texts else 'remove'} it", file=sys.stderr)
    print(f"{len(texts)} student notebooks: {len(written)} written, {len(removed)} removed, "
          f"{len(texts) - len(stale)} unchanged, {len(kept)} left alone")
    return 1 if kept else 0


if __name__ == "__main__":
    raise SystemExit(main())
