"""mutmut's configuration: pinned, run on unit tests only, never collected or committed.

Not in mutmut's own test selection: it reads files (constraints, .gitignore) that mutmut does
not copy into mutants/.
"""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ the mutmut configuration


def _pyproject():
    from pathlib import Path


    root = Path(__file__).resolve().parents[1]
    return root, tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))


def test_mutmut_is_pinned_runs_existing_unit_tests_and_overrides_addopts():
    root, project = _pyproject()
    extra = project["project"]["optional-dependencies"]["mutation"]
    assert len(extra) == 1 and extra[0].startswith("mutmut=="), extra
    constraints = (root / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    assert "mutmut==" not in constraints          # installed by hand, like the parity extra
    config = project["tool"]["mutmut"]
    for test in config["pytest_add_cli_args_test_selection"]:
        path, _, name = test.partition("::")      # a file, or one test function of it
        assert (root / path).is_file(), test
        assert not name or f"def {name}(" in (root / path).read_text(encoding="utf-8"), test
        assert "browser" not in test and "notebook" not in test, test
    args = config["pytest_add_cli_args"]
    assert args[args.index("-o") + 1] == "addopts=" and "no:nbval" in args
    for pattern in config["only_mutate"]:
        assert list(root.glob(pattern)), pattern


def test_the_project_never_collects_or_commits_mutants():
    root, project = _pyproject()
    assert "mutants" in project["tool"]["pytest"]["ini_options"]["norecursedirs"]
    assert "mutants" in project["tool"]["ruff"]["extend-exclude"]
    assert "mutants/" in (root / ".gitignore").read_text(encoding="utf-8").splitlines()
