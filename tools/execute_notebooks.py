"""Re-execute the lab's notebooks in place, in a real kernel, with deterministic stored output.

Usage (from the repository root, in the pinned environment that `bash tools/test` creates):

    .venv/bin/python tools/execute_notebooks.py                 # every notebook
    .venv/bin/python tools/execute_notebooks.py notebooks/02_forget_gate.ipynb
    .venv/bin/python tools/execute_notebooks.py --check         # run, compare, write nothing

Every notebooks/*.ipynb and notebooks/exercises/*.ipynb is run top to bottom with nbclient in
the ``python3`` kernel of this interpreter, each in its own folder as working directory. Then:

- the widget state is saved in the notebook metadata, so sliders and figures also show on
  static renderers (GitHub, nbviewer) and in JupyterLab before the kernel runs;
- widget model ids, which the kernel draws at random, are renamed in order of appearance
  (32 hex digits: a hash of the notebook's path, then a counter), so the file does not change
  between runs;
- execution timestamps and other per-run metadata are stripped; the kernelspec is fixed to
  python3; cells without an id get one derived from their position;
- the notebook is written atomically (a temporary file in the same folder, then a rename),
  so a failure never leaves a truncated file, and its entry in notebooks/MANIFEST.sha256
  (the hashes tools/lab trusts; see tools/manifest.py) is updated;
- afterwards, if tools/make_student_notebooks.py exists, it is run to regenerate
  notebooks/exercises/student/.

A cell that raises stops the run for that notebook (non-zero exit) unless it is tagged
``raises-exception``. The script refuses to run if installed versions differ from
requirements/constraints.txt (override with --allow-unpinned).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lstm_lab._atomic import write_atomic

sys.path.insert(0, str(Path(__file__).resolve().parent))
import manifest  # noqa: E402  (tools/manifest.py, beside this file)

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
STUDENT_MAKER = ROOT / "tools" / "make_student_notebooks.py"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
# Per-run notebook and cell metadata that must not be committed.
VOLATILE_NB_METADATA = ("papermill", "execution", "toc-autonumbering", "varInspector")
VOLATILE_CELL_METADATA = ("execution", "papermill", "ExecuteTime", "collapsed", "scrolled")


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def default_notebooks() -> list[Path]:
    """notebooks/*.ipynb, then notebooks/exercises/*.ipynb, by name (not the student copies)."""
    found = sorted((ROOT / "notebooks").glob("*.ipynb"))
    found += sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb"))
    return found


def unpinned_packages() -> list[str]:
    """How this environment differs from requirements/constraints.txt (and lstm_lab missing)."""
    problems = []
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, _, version = line.partition("==")
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            problems.append(f"{name} (pinned {version}) is not installed")
            continue
        if installed != version:
            problems.append(f"{name}=={installed} installed, pinned {version}")
    try:
        md.version("lstm_lab")
    except md.PackageNotFoundError:
        problems.append("lstm_lab itself is not installed (pip install -e .)")
    return problems


# ------------------------------------------------------------------ determinism


def _ids_in(value) -> list[str]:
    """Widget model ids referenced in a widget state value, in a stable order."""
    text = json.dumps(value, sort_keys=True)
    return re.findall(r"IPY_MODEL_([0-9a-zA-Z_-]+)", text)


def renumber_widget_ids(nb, label: str) -> int:
    """Give every widget model a deterministic id; returns how many were renamed.

    Order: models shown in outputs (cell order), then the models they reference
    (breadth first), then the rest sorted by their state. Every occurrence (state keys,
    ``IPY_MODEL_`` references, output ``model_id`` fields) is renamed together.
    """
    widgets = nb.metadata.get("widgets", {}).get(WIDGET_STATE)
    state = widgets.get("state", {}) if widgets else {}
    order: list[str] = []
    seen: set[str] = set()

    def visit(model_id: str) -> None:
        if model_id not in seen:
            seen.add(model_id)
            order.append(model_id)

    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view and "model_id" in view:
                visit(view["model_id"])
    queue = list(order)
    while queue:
        model_id = queue.pop(0)
        for ref in _ids_in(state.get(model_id, {})):
            if ref not in seen:
                visit(ref)
                queue.append(ref)

    def masked(model_id: str) -> str:
        text = json.dumps(state[model_id], sort_keys=True)
        return re.sub(r"IPY_MODEL_[0-9a-zA-Z_-]+", "IPY_MODEL_", text)

    for model_id in sorted((m for m in state if m not in seen), key=masked):
        visit(model_id)
        for ref in _ids_in(state[model_id]):
            visit(ref)

    digest = hashlib.sha256(label.encode("utf-8")).hexdigest()[:20]
    mapping = {old: f"{digest}{k + 1:012x}" for k, old in enumerate(order)}
    if not mapping:
        return 0

    def rename(text: str) -> str:
        return re.sub(
            r"IPY_MODEL_([0-9a-zA-Z_-]+)",
            lambda m: "IPY_MODEL_" + mapping.get(m.group(1), m.group(1)),
            text,
        )

    if widgets:
        new_state = {}
        for old, value in state.items():
            new_state[mapping.get(old, old)] = json.loads(rename(json.dumps(value)))
        widgets["state"] = dict(sorted(new_state.items()))
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view and view.get("model_id") in mapping:
                view["model_id"] = mapping[view["model_id"]]
    return len(mapping)


def normalise(nb, label: str) -> None:
    """Strip per-run metadata and make ids deterministic, in place."""
    for key in VOLATILE_NB_METADATA:
        nb.metadata.pop(key, None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for index, cell in enumerate(nb.cells):
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if not cell.get("id"):
            cell["id"] = hashlib.sha256(f"{label}:{index}".encode()).hexdigest()[:16]
        for output in cell.get("outputs", []):
            output.get("metadata", {}).pop("execution", None)
    renumber_widget_ids(nb, label)


# ------------------------------------------------------------------ running


def execute(path: Path, timeout: int) -> object:
    """Run one notebook with nbclient in this interpreter's python3 kernel; return the result."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        startup_timeout=120,
        record_timing=False,
        store_widget_state=True,
        coalesce_streams=True,  # one stream output per cell, however the prints were chunked
        allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # The kernel's own stderr (not the notebook's) goes to a scratch file, shown only if the
    # run fails: ipykernel warns there on every start that its local TCP link is unencrypted.
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
        except Exception:
            kernel_log.seek(0)
            lines = [ln for ln in kernel_log.read().splitlines() if "without encryption" not in ln]
            if lines:
                shown = "\n      ".join(lines[-30:])
                print(f"\n    kernel stderr:\n      {shown}", file=sys.stderr)
            raise
    normalise(nb, path.relative_to(ROOT).as_posix())
    nbformat.validate(nb)
    return nb


def serialise(nb) -> str:
    import nbformat

    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Re-execute the lab's notebooks in place with deterministic output."
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--check", action="store_true", help="run and compare; write nothing")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (600)")
    parser.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="run even if installed versions differ from requirements/constraints.txt",
    )
    args = parser.parse_args(argv)

    problems = unpinned_packages()
    if problems and not args.allow_unpinned:
        print("This environment does not match requirements/constraints.txt:", file=sys.stderr)
        for problem in problems[:20]:
            print("  " + problem, file=sys.stderr)
        print("Use the .venv made by `bash tools/test`, or pass --allow-unpinned.", file=sys.stderr)
        return 2

    paths = [p.resolve() for p in args.notebooks] or default_notebooks()
    if not paths:
        print("no notebooks found under notebooks/")
        return 0
    os.environ.setdefault("PYTHONHASHSEED", "0")
    for var in BLAS_THREAD_VARS:  # one BLAS thread, as in tools/test: same numbers, no waiting
        os.environ.setdefault(var, "1")
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    failed, differ = [], []
    start = time.perf_counter()
    for k, path in enumerate(paths, 1):
        name = path.relative_to(ROOT).as_posix()
        print(f"[{k}/{len(paths)}] {name} ...", end=" ", flush=True)
        t0 = time.perf_counter()
        try:
            nb = execute(path, args.timeout)
        except Exception as exc:  # report every notebook, then fail
            print(f"FAILED after {time.perf_counter() - t0:.1f} s")
            print(f"    {type(exc).__name__}: {str(exc).strip()[-2000:]}", file=sys.stderr)
            failed.append(name)
            continue
        text = serialise(nb)
        old = path.read_text(encoding="utf-8")
        status = "unchanged" if text == old else ("differs" if args.check else "updated")
        if text != old:
            differ.append(name)
            if not args.check:
                write_atomic(path, text)
                manifest.update([path])
        print(f"{time.perf_counter() - t0:.1f} s, {status}")

    if STUDENT_MAKER.exists() and not args.check and not failed:
        print(f"regenerating student notebooks: {STUDENT_MAKER.relative_to(ROOT)}", flush=True)
        subprocess.run([sys.executable, str(STUDENT_MAKER)], cwd=ROOT, check=True)

    print(
        f"{len(paths)} notebook(s) in {time.perf_counter() - start:.1f} s: "
        f"{len(failed)} failed, {len(differ)} {'differ' if args.check else 'updated'}"
    )
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    if args.check and differ:
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
