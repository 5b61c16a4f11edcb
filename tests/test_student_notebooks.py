"""The student versions of the exercise notebooks: up to date with the solutions, free of
solutions, and runnable -- every exercise stub raises NotImplementedError and every check cell
answers "not implemented yet" instead of crashing."""

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


def _check_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "exercises.check_" in c.source]


def test_there_are_exercise_notebooks():
    names = [p.name for p in SOLUTIONS]
    assert len(names) >= 7, names
    for word in ("forget", "input", "cell", "output", "lstm_step", "gru", "backward"):
        assert any(word in n for n in names), (word, names)


def test_student_versions_are_up_to_date():
    texts = _maker().render_all()
    assert sorted(texts) == sorted(STUDENT.glob("*.ipynb")), "student notebooks missing or extra"
    stale = [p.name for p, text in texts.items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"out of date: {stale}; run python tools/make_student_notebooks.py"


def test_strip_solutions_keeps_indentation_and_refuses_broken_markers():
    maker = _maker()
    source = ("def f(x):\n    # return twice x\n    ### BEGIN SOLUTION\n    y = 2 * x\n"
              "    return y\n    ### END SOLUTION\n\nprint('kept')")
    text, regions = maker.strip_solutions(source)
    assert regions == 1
    assert text.split("\n") == ["def f(x):", "    # return twice x", "    " + maker.STUB[0],
                                "    raise NotImplementedError()", "", "print('kept')"]
    for broken in ("### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                   "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"):
        with pytest.raises(ValueError, match="SOLUTION"):
            maker.strip_solutions(broken)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebook_is_committed_executed_and_passing(path):
    nb = nbformat.read(path, as_version=4)
    exercises = [c for c in nb.cells if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source]
    checks = _check_cells(nb)
    assert exercises and len(checks) >= len(exercises)
    for cell in exercises:
        assert cell.source.count("### BEGIN SOLUTION") == cell.source.count("### END SOLUTION")
        assert cell.metadata["nbgrader"]["solution"] is True
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.execution_count is not None, f"cell {cell.id} was not executed"
            assert all(o.output_type != "error" for o in cell.outputs), cell.id
    for cell in checks:
        if "with_a_slip" in cell.source:           # the demonstration of a failing check
            continue
        text = cell.outputs[0]["data"]["text/plain"]
        assert text.startswith("CheckResult(passed=True)"), f"{cell.id}: {text}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_notebook_has_no_solution_and_no_output(path):
    nb = nbformat.read(STUDENT / path.name, as_version=4)
    solution = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert len(_exercise_cells(nb)) == sum("### BEGIN SOLUTION" in c.source for c in solution.cells)
    for cell in nb.cells:
        assert cell.metadata == {}
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert set(nb.metadata) == {"kernelspec", "language_info"}


def _run(path):
    """Execute a notebook in a fresh kernel that imports lstm_lab from this checkout."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    client = NotebookClient(nb, kernel_name="python3", timeout=120, startup_timeout=120,
                            allow_errors=False, resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return nb


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_notebook_runs_and_every_check_says_not_implemented(path):
    nb = _run(STUDENT / path.name)          # raises CellExecutionError if any cell fails
    exercises, checks = _exercise_cells(nb), _check_cells(nb)
    assert exercises
    for cell in exercises:
        assert "raise NotImplementedError()" in cell.source
        assert "# YOUR CODE HERE" in cell.source
    names = [line.split("def ", 1)[1].split("(")[0] for cell in exercises
             for line in cell.source.splitlines() if line.startswith("def ")]
    for name in names:                      # each exercise's own check reports it as not written
        cell = next(c for c in checks if f"({name})" in c.source)
        plain = cell.outputs[0]["data"]["text/plain"]
        html = cell.outputs[0]["data"]["text/html"]
        assert plain.startswith("CheckResult(passed=False)"), plain
        assert "not implemented yet" in plain and "not implemented yet" in html, plain
    for cell in checks:                     # any other check (the demonstration) still answers
        assert cell.outputs and "CheckResult" in cell.outputs[0]["data"]["text/plain"]
