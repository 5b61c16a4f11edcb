"""The code and the notebooks pass ruff with the settings in pyproject.toml."""

import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(pathlib.Path(sys.executable).with_name("ruff"))
    if not pathlib.Path(ruff).exists():
        pytest.skip("ruff is not installed (it comes with the 'test' extra)")
    paths = ["lstm_lab", "tests", "tools", "benchmarks", "notebooks"]
    out = subprocess.run([ruff, "check", "--no-cache", *paths], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
