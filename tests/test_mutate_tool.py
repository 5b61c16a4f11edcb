"""tools/mutate.py: the score it prints and the mutants `--rerun` hands to mutmut."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MUTATED = '''
def x_f__mutmut_orig(a):
    if a < 0:
        raise ValueError("a must be >= 0")
    return a + 1
def x_f__mutmut_1(a):
    if a < 0:
        raise ValueError("XXa must be >= 0XX")
    return a + 1
def x_f__mutmut_2(a):
    if a <= 0:
        raise ValueError("a must be >= 0")
    return a + 1
def x_f__mutmut_3(a):
    if a < 0:
        raise ValueError("a must be >= 0")
    return a - 1
'''


def _tool(tmp_path, monkeypatch, codes, equivalent=""):
    spec = importlib.util.spec_from_file_location("mutate", ROOT / "tools" / "mutate.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    mutants = tmp_path / "mutants"
    (mutants / "lstm_lab").mkdir(parents=True, exist_ok=True)
    (mutants / "lstm_lab" / "m.py").write_text(MUTATED, encoding="utf-8")
    keys = {f"lstm_lab.m.x_f__mutmut_{k}": v for k, v in codes.items()}
    (mutants / "lstm_lab" / "m.py.meta").write_text(json.dumps({"exit_code_by_key": keys}))
    doc = tmp_path / "mutation.md"
    doc.write_text(equivalent, encoding="utf-8")
    monkeypatch.setattr(tool, "MUTANTS", mutants)
    monkeypatch.setattr(tool, "EQUIVALENT_DOC", doc)
    return tool


def test_the_score_leaves_out_equivalent_and_message_only_mutants(tmp_path, monkeypatch):
    # 1 changes only the error message, 2 is listed as equivalent, 3 survived
    tool = _tool(tmp_path, monkeypatch, {1: 0, 2: 0, 3: 0},
                 "## Equivalent mutants\n\n- `lstm_lab.m.x_f__mutmut_2`: a reason\n\n"
                 "## Survivors not yet killed\n\n- `lstm_lab.m.x_f__mutmut_3`: still open\n")
    (row,) = tool.table(["m"], survivors=True)
    assert (row["msg"], row["equivalent"], row["survived"]) == (1, 1, 1)
    assert row["score"] == 0.0 and row["left"] == ["lstm_lab.m.x_f__mutmut_3"]
    tool = _tool(tmp_path, monkeypatch, {1: 1, 2: 36, 3: 1})   # a timeout counts as killed
    (row,) = tool.table(["m"])
    assert (row["killed"], row["timeout"], row["score"]) == (2, 1, 1.0)
    tool = _tool(tmp_path, monkeypatch, {1: -14, 2: -11, 3: 5})  # crashes kill; "no tests" not
    (row,) = tool.table(["m"])
    assert (row["killed"], row["survived"], row["score"]) == (2, 1, 2 / 3)


def test_rerun_hands_mutmut_only_the_mutants_not_killed(tmp_path, monkeypatch):
    tool = _tool(tmp_path, monkeypatch, {1: 1, 2: 0, 3: None})
    calls = []
    monkeypatch.setattr(tool.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or 0)
    assert tool.main(["--rerun", "m"]) == 0
    (cmd,) = calls
    assert cmd[1:4] == ["run", "--max-children", "2"]
    assert cmd[4:] == ["lstm_lab.m.x_f__mutmut_2", "lstm_lab.m.x_f__mutmut_3"]
    calls.clear()
    assert tool.main(["m"]) == 0                                 # a module: all its mutants
    assert calls[0][4:] == ["lstm_lab.m.*"]


def test_rerun_with_nothing_left_does_not_start_mutmut(tmp_path, monkeypatch, capsys):
    tool = _tool(tmp_path, monkeypatch, {1: 1, 2: 1, 3: 1})
    monkeypatch.setattr(tool.subprocess, "call", lambda *a, **k: 1 / 0)
    assert tool.main(["--rerun", "m"]) == 0
    assert "no mutant of these modules is left to re-run" in capsys.readouterr().out
