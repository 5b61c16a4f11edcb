"""The teacher's whole nbgrader workflow, as docs/teachers_guide.md describes it, run for real.

One course (``bash tools/course``), one release (``nbgrader generate_assignment``), five
students, then ``nbgrader autograde``, ``generate_feedback`` and ``export``:

- ``correct``: every function right, every written answer filled in;
- ``untouched``: hands the release back as it came;
- ``mistakes``: one typical, catalogued mistake in every graded function;
- ``faulty``: functions that hang (the checkers' time limit stops them) or raise;
- ``from_student_folder``: a correct student who worked in notebooks/exercises/student/
  instead of nbgrader's release copies.

The test asserts the exact score table, that each mistake's diagnosis is in that student's
feedback HTML, that the feedback never points at things static HTML cannot show, that
``nbgrader validate`` fails wrong and blank notebooks and passes correct ones, and that no
nbgrader error is logged. It also proves notebooks/exercises/student/ is what nbgrader
releases, and that the classroom lab has nbgrader's (and notebook's) extensions switched off.
It takes a few minutes (see the report in docs/teachers_guide.md); nbgrader is required
(the `teach` extra, which CI installs), so a missing nbgrader fails it.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "notebooks" / "exercises"
STUDENT = EXERCISES / "student"
ASSIGNMENT = "lstm_exercises"
BIN = Path(sys.executable).parent

# grade_id of the solution cell -> (text in the solution, what the student wrote instead,
# words of the diagnosis the feedback must show, parts the mistake loses)
MISTAKES = {
    "forget_gate": ("return sigmoid(W_xf @ x_t + W_hf @ h_prev + b_f)",
                    "return np.tanh(W_xf @ x_t + W_hf @ h_prev + b_f)",
                    "uses tanh where the sigmoid belongs", 4),
    "input_gate": ("return sigmoid(W_xi @ x_t + W_hi @ h_prev + b_i)",
                   "return sigmoid(W_xi @ x_t + W_hi @ h_prev)",
                   "The bias b_i is missing", 2),
    "candidate": ("return np.tanh(W_xg @ x_t + W_hg @ h_prev + b_g)",
                  "return sigmoid(W_xg @ x_t + W_hg @ h_prev + b_g)",
                  "uses the sigmoid where tanh belongs", 4),
    "output_gate": ("return sigmoid(W_xo @ x_t + W_ho @ h_prev + b_o)",
                    "return sigmoid(W_xo @ x_t + h_prev @ W_ho + b_o)",
                    "W_ho is used transposed", 2),
    "cell_update": ("return f_t * c_prev + i_t * g_t", "return i_t * c_prev + f_t * g_t",
                    "f_t and i_t are swapped in the cell update", 3),
    "hidden_state": ("return o_t * np.tanh(c_t)", "return o_t * c_t",
                     "The tanh on c_t is missing", 3),
    "lstm_step": ("return h_t, c_t", "return c_t, h_t",
                  "The result is returned as (c_t, h_t)", 3),
    "gru_step": ("return (1 - z_t) * g_t + z_t * h_prev", "return z_t * g_t + (1 - z_t) * h_prev",
                 "z_t and 1 - z_t are swapped", 3),
    "gru_step_reset_after": ('r_t * (p["W_hg"] @ h_prev + p["b_hg"])',
                             'p["W_hg"] @ (r_t * h_prev) + p["b_hg"]',
                             "r_t is applied before the matrix product", 3),
    "lstm_step_backward": ("d_c = dc_t + dh_t * o_t * (1 - tanh_c**2)",
                           "d_c = dh_t * o_t * (1 - tanh_c**2)",
                           "The incoming dc_t is left out", 2),
    "lstm_forward": ('+ h @ params["W_h" + gate].T', '+ h0 @ params["W_h" + gate].T',
                     "The hidden state is not carried from step to step", 3),
    "rnn_bptt": ("(dh[t] + dh_next)", "dh[t]",
                 "The gradient is not carried back through time", 2),
    "lstm_bptt": ("d_c = dc_next + d_h * o", "d_c = d_h * o",
                  "The gradient along the cell state is not carried back", 2),
    # the find-the-bug exercise: the student hands in the buggy code unchanged
    "lstm_forward_fixed": ('h @ params["W_hf"].T', 'h @ params["W_hf"]',
                           "W_hf is used transposed", 3),
}
HANGS = {"forget_gate", "lstm_forward"}     # the faulty student's endless loops; the rest raise

TOTAL = 68        # 48 autograded points (one per part) + 10 written answers of 2 points each
SCORES = {        # exported score: autograded points only (written answers await the teacher)
    "correct": 48.0,
    "from_student_folder": 48.0,
    "mistakes": 48.0 - sum(lost for *_, lost in MISTAKES.values()),
    "untouched": 0.0,
    "faulty": 0.0,
}


def _run(args, cwd, check=True, timeout=900):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               OPENBLAS_NUM_THREADS="1", JUPYTER_NO_CONFIG="1", JUPYTER_CONFIG_DIR=str(cwd / ".jc"))
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode:
        raise AssertionError(f"{args} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def _nbgrader(course, *args, check=True):
    return _run([sys.executable, "-m", "nbgrader", *args], course, check=check)


def _answer_code(source_cell, grade_id, kind):
    """What a student writes in a solution cell: the model solution, or a version with one
    mistake, one that hangs or one that raises."""
    lines = [ln for ln in source_cell.source.split("\n")
             if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
    code = "\n".join(lines)
    if kind == "mistakes":
        right, wrong, _, _ = MISTAKES[grade_id]
        assert right in code, f"{grade_id}: the solution no longer contains {right!r}"
        code = code.replace(right, wrong)
    elif kind == "faulty":
        header = code.split('"""', 2)
        body = ("    while True:\n        pass" if grade_id in HANGS
                else '    raise ValueError("I gave up")')
        code = '"""'.join(header[:2]) + '"""\n' + body
    return code


def _fill(released, source, kind):
    """The release notebook `released` as a student of this kind hands it back."""
    nb = nbformat.read(released, as_version=4)
    if kind == "untouched":
        return nb
    solutions = {c.metadata["nbgrader"]["grade_id"]: c for c in
                 nbformat.read(source, as_version=4).cells if "nbgrader" in c.metadata}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.cell_type == "markdown":
            cell.source = "The gates decide, unit by unit, how much passes." if kind in (
                "correct", "from_student_folder") else cell.source
            continue
        code_kind = "correct" if kind == "from_student_folder" else kind
        cell.source = _answer_code(solutions[meta["grade_id"]], meta["grade_id"], code_kind)
    return nb


def _same_notebook(a, b):
    """Equal as notebooks (cells with ids, sources, metadata, outputs; notebook metadata)."""
    def norm(nb):
        return json.loads(nbformat.writes(nb))
    return norm(a) == norm(b)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course after the whole workflow: created, released, submitted, autograded, fed
    back and exported. Yields (course folder, {command: its output})."""
    course = tmp_path_factory.mktemp("grading") / "course"
    logs = {}
    env_python = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run(["bash", str(ROOT / "tools" / "course"), str(course)], env=env_python,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    logs["course"] = done.stdout + done.stderr
    logs["generate_assignment"] = _nbgrader(course, "generate_assignment", ASSIGNMENT).stderr
    release = course / "release" / ASSIGNMENT
    source = course / "source" / ASSIGNMENT
    for kind in ("correct", "untouched", "mistakes", "faulty", "from_student_folder"):
        folder = course / "submitted" / kind / ASSIGNMENT
        folder.mkdir(parents=True)
        for path in sorted(source.glob("*.ipynb")):
            handed_out = STUDENT / path.name if kind == "from_student_folder" else \
                release / path.name
            nbformat.write(_fill(handed_out, path, kind), folder / path.name)
    logs["autograde"] = _nbgrader(course, "autograde", ASSIGNMENT).stderr
    logs["generate_feedback"] = _nbgrader(course, "generate_feedback", ASSIGNMENT).stderr
    logs["export"] = _nbgrader(course, "export").stderr
    return course, logs


def _feedback(course, student):
    folder = course / "feedback" / student / ASSIGNMENT
    pages = sorted(folder.glob("*.html"))
    assert len(pages) == len(list((course / "source" / ASSIGNMENT).glob("*.ipynb"))), pages
    return html.unescape("\n".join(p.read_text(encoding="utf-8") for p in pages))


def test_release_is_the_student_folder(course):
    """notebooks/exercises/student/ is exactly what nbgrader generate_assignment releases."""
    course, _ = course
    release = sorted((course / "release" / ASSIGNMENT).glob("*.ipynb"))
    assert [p.name for p in release] == [p.name for p in sorted(STUDENT.glob("*.ipynb"))]
    for path in release:
        assert _same_notebook(nbformat.read(path, 4), nbformat.read(STUDENT / path.name, 4)), \
            f"{path.name}: run python tools/make_student_notebooks.py"


def test_exact_score_table(course):
    course, _ = course
    with open(course / "grades.csv", newline="", encoding="utf-8") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    table = {student: (float(row["score"]), float(row["max_score"]))
             for student, row in rows.items()}
    assert table == {student: (score, TOTAL) for student, score in SCORES.items()}
    assert SCORES["mistakes"] == 9.0   # 39 of the 48 points lost, each mistake exactly its parts


def test_each_mistake_loses_exactly_its_parts_and_is_named(course):
    course, _ = course
    text = _feedback(course, "mistakes")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        grades = {g.name: (g.score, g.max_score) for nb in
                  gb.find_submission(ASSIGNMENT, "mistakes").notebooks for g in nb.grades}
    for grade_id, (_, _, diagnosis, lost) in MISTAKES.items():
        assert diagnosis in text, f"{grade_id}: the feedback does not name {diagnosis!r}"
        parts = {k: v for k, v in grades.items() if re.fullmatch(f"test_{grade_id}_[0-9]+", k)}
        assert parts, grade_id
        assert sum(m - s for s, m in parts.values()) == lost, (grade_id, parts)


def test_untouched_and_faulty_students_get_clear_messages(course):
    course, _ = course
    assert "not implemented yet" in _feedback(course, "untouched")
    faulty = _feedback(course, "faulty")
    assert "did not return within 5 s" in faulty
    assert "I gave up" in faulty and "your function raised an error" in faulty


def test_feedback_makes_sense_as_static_html(course):
    course, _ = course
    for student in SCORES:
        text = _feedback(course, student)
        assert "result.case" not in text, student
        assert "Traceback (most recent call last)" not in text, student
        assert "#c62828" not in text, f"{student}: a red box in static feedback"


def test_correct_feedback_shows_no_failure(course):
    course, _ = course
    for student in ("correct", "from_student_folder"):
        text = _feedback(course, student)
        assert "GradingFailure" not in text and "wrong, no points" not in text, student


def test_no_nbgrader_error_is_logged(course):
    _, logs = course
    for command, log in logs.items():
        bad = [ln for ln in log.splitlines() if re.search(r"\| (ERROR|CRITICAL)\]", ln)]
        assert not bad, f"{command}: {bad[:3]}"


def test_validate_fails_wrong_and_blank_notebooks_and_passes_correct_ones(course):
    course, _ = course
    submitted = course / "submitted"
    wrong = sorted((submitted / "mistakes" / ASSIGNMENT).glob("*.ipynb"))
    done = _nbgrader(course, "validate", *map(str, wrong), check=False)
    failed = re.findall(r"VALIDATION FAILED ON \d+ CELL", done.stdout)
    assert len(failed) == len(wrong), done.stdout[-3000:]
    blank = submitted / "untouched" / ASSIGNMENT / "01_forget_gate.ipynb"
    right = submitted / "correct" / ASSIGNMENT / "01_forget_gate.ipynb"
    assert "VALIDATION FAILED" in _nbgrader(course, "validate", str(blank), check=False).stdout
    assert "Success! Your notebook passes all the tests." in _nbgrader(
        course, "validate", str(right), check=False).stdout


# ------------------------------------------------------------------ the classroom lab


def test_classroom_lab_switches_off_nbgrader_and_notebook_extensions(tmp_path):
    """With jupyter_config/ first on JUPYTER_CONFIG_PATH (as tools/lab, Binder and the browser
    tests put it), the server loads no nbgrader or notebook extension and JupyterLab disables
    their lab extensions; without it, nbgrader's would load (so the check can fail)."""
    probe = (
        "import json\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "from jupyterlab_server.config import get_page_config\n"
        "from jupyter_core.paths import jupyter_path\n"
        "app = ServerApp()\n"
        f"app.initialize(argv=['--ServerApp.root_dir={tmp_path}'], new_httpserver=False,\n"
        "               find_extensions=True)\n"
        "on = sorted(k for k, v in app.jpserver_extensions.items() if v)\n"
        "page = get_page_config(jupyter_path('labextensions'))\n"
        "off = page.get('disabledExtensions', [])\n"
        "off = sorted(k for k in off if off[k]) if isinstance(off, dict) else sorted(off)\n"
        "print(json.dumps({'on': on, 'off': off}))\n")

    def ask(config_path):
        env = dict(os.environ, JUPYTER_CONFIG_PATH=config_path,   # the user's config: empty
                   JUPYTER_CONFIG_DIR=str(tmp_path / "user"), JUPYTER_RUNTIME_DIR=str(tmp_path))
        env.pop("JUPYTER_NO_CONFIG", None)
        done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    lab = ask(str(ROOT / "jupyter_config"))
    assert not [k for k in lab["on"] if k.startswith(("nbgrader", "notebook"))
                and k != "notebook_shim"], lab["on"]
    assert {"@jupyter/nbgrader", "@jupyter-notebook/lab-extension"} <= set(lab["off"])
    plain = ask("")
    assert any(k.startswith("nbgrader") for k in plain["on"]), plain["on"]
