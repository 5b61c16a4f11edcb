"""The student versions of the exercise notebooks: up to date with the solutions (nbgrader's
own release), free of solutions, gradable, and runnable -- every exercise stub raises
NotImplementedError and every test cell answers "not implemented yet" instead of crashing."""

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "notebooks" / "exercises"
STUDENT = EXERCISES / "student"
SOLUTIONS = sorted(EXERCISES.glob("[0-9][0-9]_*.ipynb"))


def _maker():
    spec = importlib.util.spec_from_file_location("make_student_notebooks",
                                                  ROOT / "tools" / "make_student_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exercise_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "NotImplementedError" in c.source]


def _test_cells(nb):
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")
            and c.cell_type == "code"]


def test_there_are_exercise_notebooks():
    names = [p.name for p in SOLUTIONS]
    assert len(names) >= 10, names
    for word in ("forget", "input", "cell", "output", "lstm_step", "gru", "backward",
                 "lstm_forward", "bptt", "bug"):
        assert any(word in n for n in names), (word, names)


def test_student_versions_are_up_to_date():
    texts = _maker().render_all()
    assert sorted(texts) == sorted(STUDENT.glob("*.ipynb")), "student notebooks missing or extra"
    stale = [p.name for p, text in texts.items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date: {stale}; run python tools/make_student_notebooks.py"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebook_is_committed_executed_and_passing(path):
    """Every solution notebook is an nbgrader source: solution cells, graded test cells with
    points (at least one visible test per function, all passing), one written question with a
    model answer; committed executed."""
    nb = nbformat.read(path, as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    solutions = [c for c, m in zip(nb.cells, meta, strict=True)
                 if m.get("solution") and c.cell_type == "code"]
    written = [c for c, m in zip(nb.cells, meta, strict=True)
               if m.get("solution") and m.get("grade") and c.cell_type == "markdown"]
    tests = _test_cells(nb)
    assert solutions and tests and len(written) == 1
    ids = [m["grade_id"] for m in meta if m]
    assert len(ids) == len(set(ids)), "grade ids must be unique within a notebook"
    for cell in solutions:
        assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION") == 1
        name = cell.source.split("def ", 1)[1].split("(")[0]
        assert any(f", {name}, " in t.source for t in tests), f"no test cell for {name}"
    for cell in tests:
        assert cell.metadata.nbgrader["points"] > 0 and cell.metadata.nbgrader["locked"]
        assert cell.source.startswith("exercises.grade(")
        assert [o.output_type for o in cell.outputs] == ["stream"], cell.id
        assert cell.outputs[0].text.rstrip().endswith(": right."), cell.outputs[0].text
    assert written[0].metadata.nbgrader["points"] > 0
    assert written[0].source.startswith("*Model answer")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"cell {cell.id} was not executed"
            assert all(o.output_type != "error" for o in cell.outputs), cell.id
            text = "".join(str(o.get("data", {}).get("text/html", "")) for o in cell.outputs)
            assert "#c62828" not in text, f"{cell.id} shows a red box to every student"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_notebook_has_no_solution_and_no_output(path):
    nb = nbformat.read(STUDENT / path.name, as_version=4)
    solution = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "Model answer" not in text and "YOUR ANSWER HERE" in text
    assert len(_exercise_cells(nb)) == sum("### BEGIN SOLUTION" in c.source for c in solution.cells)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # nbgrader's metadata stays, so that a submission made from this file can be autograded
    graded = [c.metadata.nbgrader["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert graded == [c.metadata.nbgrader["grade_id"] for c in solution.cells
                      if "nbgrader" in c.metadata]
    assert all("checksum" in c.metadata.nbgrader for c in nb.cells if "nbgrader" in c.metadata)


def _run(path):
    """Execute a notebook in a fresh kernel that imports lstm_lab from this checkout; a cell
    that raises is recorded, not fatal (the test cells of an unwritten exercise raise)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, startup_timeout=120,
                            allow_errors=True, resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return nb


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_notebook_runs_and_every_test_says_not_implemented(path):
    nb = _run(STUDENT / path.name)
    exercises, tests = _exercise_cells(nb), _test_cells(nb)
    assert exercises and tests
    for cell in exercises:
        assert "raise NotImplementedError()" in cell.source
        assert "# YOUR CODE HERE" in cell.source
    for cell in nb.cells:                   # only the test cells fail, and only as planned
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if cell in tests:
            assert [e.ename for e in errors] == ["GradingFailure"], cell.id
            text = "\n".join(errors[0].traceback)
            assert "not implemented yet" in text and "Traceback" not in text, text
        elif cell in exercises or cell.cell_type == "code":
            assert not errors, f"{cell.id}: {errors}"
