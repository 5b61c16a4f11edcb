"""Repository tooling: tools/test's exit codes, the nbval sanitize file, notebook normalising."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ tools/test


def fake_venv(tmp_path: Path, exit_code: int) -> Path:
    """A virtualenv stand-in whose python prints its arguments and exits with ``exit_code``.

    Its install stamp matches the repository, so tools/test runs no pip.
    """
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(f'#!/bin/sh\necho "fake python $*"\nexit {exit_code}\n')
    python.chmod(0o755)
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes()
        + (ROOT / "requirements" / "constraints.txt").read_bytes()
    ).hexdigest()
    (venv / ".lstm_lab-installed").write_text(f"{digest} {ROOT}\n")
    return venv


@pytest.mark.skipif(BASH is None, reason="needs bash")
@pytest.mark.parametrize("code", [0, 1, 2, 5])
def test_tools_test_propagates_pytest_exit_code(tmp_path, code):
    venv = fake_venv(tmp_path, code)
    result = subprocess.run(
        [BASH, str(ROOT / "tools" / "test"), "-k", "some_name"],
        env={"PATH": "/usr/bin:/bin", "VENV": str(venv), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == code, result.stderr
    assert "-m pytest" in result.stdout and "-k some_name" in result.stdout, result.stdout
    assert "pip install" not in result.stdout, "the stamp matched, nothing should be installed"
    if code == 5:
        assert "collected no tests" in result.stderr


@pytest.mark.skipif(BASH is None or shutil.which("nproc") is None, reason="needs bash, nproc")
def test_tools_test_uses_every_core_even_with_one_blas_thread(tmp_path):
    """GNU nproc honours OMP_NUM_THREADS, which tools/test sets to 1 for BLAS: the worker
    count must come from the cores all the same (it once silently ran one process)."""
    venv = fake_venv(tmp_path, 0)
    cores = int(subprocess.run(["nproc"], env={"PATH": "/usr/bin:/bin"}, capture_output=True,
                               text=True, check=True).stdout)
    result = subprocess.run(
        [BASH, str(ROOT / "tools" / "test")],
        env={"PATH": "/usr/bin:/bin", "VENV": str(venv), "HOME": str(tmp_path),
             "OMP_NUM_THREADS": "1"},
        capture_output=True, text=True, timeout=60,
    )
    assert f"-n {min(cores, 4)} " in result.stdout, result.stdout


@pytest.mark.skipif(BASH is None, reason="needs bash")
@pytest.mark.parametrize(
    "script",
    ["tools/test", "tools/lab", "tools/_venv.sh", ".ci/run", "binder/postBuild", "binder/start"],
)
def test_shell_scripts_parse(script):
    result = subprocess.run([BASH, "-n", str(ROOT / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ nbval sanitize file


def sanitize_patterns() -> list[tuple[str, str]]:
    text = (ROOT / "tests" / "nbval_sanitize.cfg").read_text(encoding="utf-8")
    # the same expression nbval uses to read the file
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)


def sanitize(text: str) -> str:
    for regex, replace in sanitize_patterns():
        text = re.sub(regex, replace, text)
    return text


def test_sanitize_file_has_compilable_patterns():
    patterns = sanitize_patterns()
    assert len(patterns) >= 5
    for regex, _ in patterns:
        re.compile(regex)


def test_sanitize_equates_two_ipympl_snapshots():
    def snapshot(number: int, png: str, width: float) -> str:
        return (
            '<div style="display: inline-block;">\n'
            '    <div class="jupyter-widgets widget-label" style="text-align: center;">\n'
            f"        Figure {number}\n    </div>\n"
            f"    <img src='data:image/png;base64,{png}' width={width}/>\n</div>"
        )

    first = snapshot(1, "iVBORw0KGgoAAAANSUhEUgAAAZAAAAEsCAYAAADtt+XCAAAA", 640.0)
    second = snapshot(7, "iVBORw0KGgoAAAANSUhEUgAAAZAAAAEsCAYAAADtt/YBBBB=", 320.0)
    assert first != second
    assert sanitize(first) == sanitize(second)


@pytest.mark.parametrize(
    "a, b",
    [
        ("<function f at 0x7f3a1c2b4d60>", "<function f at 0x7f00deadbeef>"),
        (
            "CPU times: user 1.2 ms, sys: 0 ns, total: 1.2 ms\nWall time: 3.4 ms",
            "CPU times: user 980 µs, sys: 12 µs, total: 992 µs\nWall time: 1.01 ms",
        ),
        ("trained in 12.5 s", "trained in 9.87 s"),
    ],
)
def test_sanitize_equates_legitimately_varying_text(a, b):
    assert sanitize(a) == sanitize(b)


@pytest.mark.parametrize(
    "a, b",
    [
        ("h_T = 0.7616", "h_T = 0.7617"),
        ("50 steps", "60 steps"),
        ("array([1., 2.])", "array([1., 3.])"),
    ],
)
def test_sanitize_keeps_real_differences(a, b):
    assert sanitize(a) != sanitize(b)


# ------------------------------------------------------------------ tools/execute_notebooks.py


def executed_notebook(ids: list[str]):
    """A notebook as nbclient leaves it: two widget views and their state under random ids."""
    box, slider, layout, canvas = ids
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("explorer", execution_count=1, id="explorer-cell")]
    view = {"version_major": 2, "version_minor": 0, "model_id": box}
    nb.cells[0].outputs = [
        nbformat.v4.new_output(
            "execute_result",
            data={"application/vnd.jupyter.widget-view+json": view, "text/plain": "VBox()"},
            execution_count=1,
        )
    ]
    nb.cells[0].metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    state = {
        box: {
            "model_name": "VBoxModel",
            "state": {
                "children": [f"IPY_MODEL_{slider}", f"IPY_MODEL_{canvas}"],
                "layout": f"IPY_MODEL_{layout}",
            },
        },
        slider: {
            "model_name": "FloatSliderModel",
            "state": {"value": 1.0, "layout": f"IPY_MODEL_{layout}"},
        },
        layout: {"model_name": "LayoutModel", "state": {}},
        canvas: {"model_name": "MPLCanvasModel", "state": {"_figure_label": "Figure 1"}},
    }
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "state": state,
            "version_major": 2,
            "version_minor": 0,
        }
    }
    return nb


def test_normalise_makes_widget_ids_and_metadata_deterministic():
    tool = load_tool("execute_notebooks")
    run1 = executed_notebook(["a" * 32, "b" * 32, "c" * 32, "d" * 32])
    run2 = executed_notebook(["9" * 32, "1" * 32, "5" * 32, "0" * 32])
    for nb in (run1, run2):
        tool.normalise(nb, "notebooks/99_test.ipynb")
    text1, text2 = tool.serialise(run1), tool.serialise(run2)
    assert text1 == text2
    assert "execute_input" not in text1
    state = run1.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    view_id = run1.cells[0].outputs[0]["data"]["application/vnd.jupyter.widget-view+json"][
        "model_id"
    ]
    assert view_id in state, "the output's model id must name a saved model"
    for model in state.values():
        for ref in re.findall(r"IPY_MODEL_(\w+)", str(model)):
            assert ref in state, f"dangling reference {ref}"
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in state)
    assert run1.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(run1)


def test_normalise_differs_when_the_content_differs():
    tool = load_tool("execute_notebooks")
    run1 = executed_notebook(["a" * 32, "b" * 32, "c" * 32, "d" * 32])
    run2 = copy.deepcopy(run1)
    run2.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]["b" * 32][
        "state"
    ]["value"] = 2.0
    for nb in (run1, run2):
        tool.normalise(nb, "notebooks/99_test.ipynb")
    assert tool.serialise(run1) != tool.serialise(run2)
