"""The hashes of the notebooks this repository ships, so that tools/lab trusts those and no other.

Usage (from anywhere; paths are found from this file):

    .venv/bin/python tools/manifest.py             # rewrite notebooks/MANIFEST.sha256
    .venv/bin/python tools/manifest.py --check     # exit 1 if it does not match the notebooks
    .venv/bin/python tools/manifest.py --trusted   # print the notebooks it vouches for

notebooks/MANIFEST.sha256 holds one line per shipped notebook, ``<sha256>  <path>``, the path
relative to the repository root. JupyterLab runs the stored scripts (widget views, HTML) of a
trusted notebook when it opens it, so tools/lab trusts a notebook only if its content is
exactly what the repository ships: a notebook someone dropped into notebooks/, or a shipped
one changed since, stays untrusted. The manifest is a file, so this works without .git (a ZIP
download, Binder).

Which notebooks are shipped: those git tracks under notebooks/ (in a git checkout), and those
the manifest already lists. tools/execute_notebooks.py and tools/make_student_notebooks.py
update the entries of the notebooks they write; after changing notebooks by hand (or merging
a branch that did), run the first command above and commit the manifest with the notebooks.
Line endings are hashed as LF, so a checkout that turned them into CRLF still matches.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

from lstm_lab._atomic import write_atomic

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "notebooks" / "MANIFEST.sha256"
PATTERNS = ("notebooks/*.ipynb", "notebooks/exercises/*.ipynb",
            "notebooks/exercises/student/*.ipynb")
COMMAND = ".venv/bin/python tools/manifest.py"


def digest(path: Path) -> str:
    """sha256 of the file's bytes, CRLF read as LF."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def read(manifest: Path = MANIFEST) -> dict[str, str]:
    """The manifest as {relative path: sha256} (empty if there is none)."""
    if not manifest.exists():
        return {}
    entries = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        hexdigest, sep, rel = line.partition("  ")
        if not sep or len(hexdigest) != 64:
            raise ValueError(f"{manifest.name}, line {number}: expected '<sha256>  <path>'")
        entries[rel] = hexdigest
    return entries


def render(entries: dict[str, str]) -> str:
    return "".join(f"{entries[rel]}  {rel}\n" for rel in sorted(entries))


def write(entries: dict[str, str], manifest: Path = MANIFEST) -> None:
    write_atomic(manifest, render(entries))


def tracked(root: Path = ROOT) -> list[str] | None:
    """The notebooks git tracks under notebooks/, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "--", *PATTERNS], cwd=root, check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return [line for line in out.splitlines() if line]


def shipped(root: Path = ROOT, manifest: Path = MANIFEST) -> list[str]:
    """The shipped notebooks that exist: git-tracked ones and those the manifest lists."""
    names = set(tracked(root) or []) | set(read(manifest))
    return sorted(rel for rel in names if (root / rel).is_file())


def compute(root: Path = ROOT, manifest: Path = MANIFEST) -> dict[str, str]:
    return {rel: digest(root / rel) for rel in shipped(root, manifest)}


def update(paths, removed=(), root: Path = ROOT, manifest: Path = MANIFEST) -> None:
    """Record the current hashes of `paths` (files a tool just wrote) and drop `removed`."""
    entries = read(manifest)
    for path in paths:
        entries[Path(path).resolve().relative_to(root).as_posix()] = digest(Path(path))
    for path in removed:
        entries.pop(Path(path).resolve().relative_to(root).as_posix(), None)
    write(entries, manifest)


def is_shipped(path: Path, root: Path = ROOT, manifest: Path = MANIFEST) -> bool:
    """True if `path` exists and its content is what the manifest records for it."""
    path = Path(path).resolve()
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        return False
    recorded = read(manifest).get(rel)
    return recorded is not None and path.is_file() and digest(path) == recorded


def trusted(root: Path = ROOT, manifest: Path = MANIFEST) -> tuple[list[str], list[str]]:
    """(notebooks whose content matches the manifest, other notebooks in the folders)."""
    entries = read(manifest)
    found = sorted({p.relative_to(root).as_posix() for pattern in PATTERNS
                    for p in root.glob(pattern)})
    good = [rel for rel in found if entries.get(rel) == digest(root / rel)]
    return good, [rel for rel in found if rel not in good]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if the manifest does not match the notebooks")
    mode.add_argument("--trusted", action="store_true",
                      help="print the notebooks whose content matches the manifest, one a line "
                           "(the others are named on stderr)")
    args = parser.parse_args(argv)
    if args.trusted:
        good, other = trusted()
        for rel in good:
            print(rel)
        for rel in other:
            print(f"not trusted (not what the repository ships): {rel}", file=sys.stderr)
        return 0
    entries = compute()
    if args.check:
        if read() != entries:
            print(f"{MANIFEST.relative_to(ROOT)} is out of date; run: {COMMAND}",
                  file=sys.stderr)
            return 1
        print(f"{MANIFEST.relative_to(ROOT)} matches {len(entries)} notebooks")
        return 0
    write(entries)
    print(f"{MANIFEST.relative_to(ROOT)}: {len(entries)} notebooks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
