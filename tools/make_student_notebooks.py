"""Make the student versions of the exercise notebooks: exactly what nbgrader releases.

Usage (from anywhere; paths are found from this file; needs the `teach` extra, nbgrader):

    python tools/make_student_notebooks.py            # write notebooks/exercises/student/*.ipynb
    python tools/make_student_notebooks.py --check    # exit 1 if a student version is out of date

The solution notebooks notebooks/exercises/NN_*.ipynb are nbgrader source notebooks. This
copies them into a temporary nbgrader course as the assignment `lstm_exercises` and runs
``nbgrader generate_assignment`` there (without a gradebook, ignoring the user's own Jupyter
config); its release copies become notebooks/exercises/student/NN_*.ipynb. So each student
notebook is what a class gets from nbgrader: every ``### BEGIN SOLUTION`` ... ``### END
SOLUTION`` region replaced by ``# YOUR CODE HERE`` and ``raise NotImplementedError()``, the
written answers by "YOUR ANSWER HERE", outputs cleared, test cells locked, and nbgrader's
metadata and checksums kept, so that a submission made from it can be autograded.

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
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from lstm_lab._atomic import write_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
import manifest  # noqa: E402  (tools/manifest.py, beside this file)

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "exercises"
TARGET = SOURCE / "student"
ASSIGNMENT = "lstm_exercises"


def render_all() -> dict[Path, str]:
    """Every student notebook's path and file text, from the solution notebooks."""
    sources = sorted(SOURCE.glob("[0-9][0-9]_*.ipynb"))
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        (course / "source" / ASSIGNMENT).mkdir(parents=True)
        (course / "config").mkdir()
        for path in sources:
            shutil.copyfile(path, course / "source" / ASSIGNMENT / path.name)
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(course / "config"), "JUPYTER_NO_CONFIG": "1"}
        done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT,
                               "--no-db", "--force", "--log-level=WARN"],
                              cwd=course, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"nbgrader generate_assignment failed:\n{done.stderr}")
        release = course / "release" / ASSIGNMENT
        return {TARGET / path.name: nbformat.writes(nbformat.read(release / path.name, 4)) + "\n"
                for path in sources}


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
