"""The syllabus: every notebook states its objectives and time, marks its sections core or
optional, and the teacher's guide's table is the one tools/syllabus.py builds from them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_tool():
    spec = importlib.util.spec_from_file_location("syllabus", ROOT / "tools" / "syllabus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


syllabus = load_tool()

# notebooks that must carry objectives, a time and section marks (others join when they do)
REQUIRED = (
    "00_start_here", "01_rnn_and_long_term_dependencies", "02_forget_gate", "03_input_gate",
    "04_cell_state_update", "05_output_gate", "06_the_full_lstm", "07_vanishing_gradients",
    "08_training_long_range", "09_variants", "10_sequence_shapes", "11_inside_a_trained_lstm",
    "12_which_gate_matters", "13_attention", "90_framework_layouts",
)


def check_entry(entry, stem):
    """The problems of one syllabus entry, as a list of messages (empty: all well)."""
    if entry is None:
        return [f"{stem}: its first markdown cell has no '**Time:** about N minutes' line"]
    problems = []
    if not 3 <= len(entry.objectives) <= 5:
        problems.append(f"{stem}: {len(entry.objectives)} learning objectives; want 3 to 5")
    if entry.minutes <= 0:
        problems.append(f"{stem}: time {entry.minutes} minutes")
    numbers = [int(word) for word in entry.split.replace(",", " ").split() if word.isdigit()]
    if len(numbers) > 1 and sum(numbers) != entry.minutes:
        problems.append(f"{stem}: '{entry.split}' does not add up to {entry.minutes} minutes")
    unmarked = [text for text, mark in entry.sections if mark is None]
    if unmarked:
        problems.append(f"{stem}: headings without '· core' or '· optional': {unmarked}")
    if not entry.sections:
        problems.append(f"{stem}: no section headings")
    return problems


@pytest.mark.parametrize("stem", REQUIRED)
def test_notebook_opens_with_objectives_and_time_and_marks_every_section(stem):
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    assert path.exists(), f"notebooks/{stem}.ipynb is missing"
    assert check_entry(syllabus.read_entry(path), stem) == []


def test_every_notebook_in_the_syllabus_is_well_formed():
    for entry in syllabus.entries():
        assert check_entry(entry, entry.stem) == []


def test_the_guides_syllabus_table_is_built_from_the_notebooks():
    text = syllabus.GUIDE.read_text(encoding="utf-8")
    table = syllabus.table(syllabus.entries())
    assert syllabus.updated_guide(text, table) == text, (
        "docs/teachers_guide.md's syllabus table is out of date: run tools/syllabus.py")
    for stem in REQUIRED:
        assert f"(../notebooks/{stem}.ipynb)" in table, f"{stem} is not in the syllabus table"


def test_check_entry_catches_a_missing_time_too_few_objectives_and_an_unmarked_heading(tmp_path):
    """The checks above can fail: a notebook that breaks each rule is reported."""
    good = ("# 42 · Test\n\n**Time:** about 20 minutes (15 core, 5 optional).\n\n"
            "**Learning objectives.** After this notebook you can:\n\n"
            "1. one;\n2. two;\n3. three.\n")
    cases = {
        "ok": (good, "## A · core\n\n### B · optional"),
        "no_time": (good.replace("**Time:**", "Time:"), "## A · core"),
        "two_goals": (good.replace("3. three.\n", ""), "## A · core"),
        "unmarked": (good, "## A · core\n\n## B"),
        "bad_sum": (good.replace("(15 core", "(10 core"), "## A · core"),
    }
    found = {}
    for name, (first, rest) in cases.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(first), nbformat.v4.new_markdown_cell(rest)]
        path = tmp_path / f"42_{name}.ipynb"
        nbformat.write(nb, path)
        found[name] = check_entry(syllabus.read_entry(path), name)
    assert found["ok"] == []
    assert "no '**Time:**" in found["no_time"][0]
    assert "2 learning objectives" in found["two_goals"][0]
    assert "['B']" in found["unmarked"][0]
    assert "does not add up" in found["bad_sum"][0]
    entry = syllabus.read_entry(tmp_path / "42_ok.ipynb")
    assert entry.objectives == ("one;", "two;", "three.") and entry.minutes == 20
    assert entry.sections == (("A", "core"), ("B", "optional"))
    row = syllabus.table([entry]).splitlines()[2]
    assert row.startswith(
        "| [42 · Test](../notebooks/42_ok.ipynb) | 20 min (15 core, 5 optional) |")
    assert row.endswith("| B |")
