"""Every notebook reproduces its stored outputs under other BLAS kernels and thread counts.

OpenBLAS picks a compute kernel per CPU, and each kernel sums in its own order; training
amplifies the last digit. So CI on another CPU sees other trained numbers. This test runs
every notebook (and the doctests and unit tests of training) with nbval in a fresh process per
setting, ``OPENBLAS_CORETYPE`` forcing the kernel: Prescott (the generic x86-64 kernel) and
Haswell with one BLAS thread, SkylakeX too where the CPU has avx512f, and Haswell with two
threads. The implementation is ``tools/check_portability.py``, which contributors run by hand.

Each setting is a class of its own, so ``--dist loadscope`` (tools/test) spreads the settings
over the xdist workers. Select these tests with ``-m portability``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.portability


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        "check_portability", ROOT / "tools" / "check_portability.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
SETTINGS, WHY = tool.machine_settings()
ALL_SETTINGS = [("Prescott", 1), ("Haswell", 1), ("SkylakeX", 1), ("Haswell", 2)]


def _run(kernel: str, threads: int) -> None:
    if (kernel, threads) not in SETTINGS:
        pytest.skip(f"{kernel} with {threads} thread(s) is not tried here: {WHY}")
    paths = [str(p.relative_to(ROOT)) for p in tool.default_notebooks()]
    result = tool.run_setting(kernel, threads, paths, unit_tests=True)
    assert result["returncode"] == 0, tool.report(result) + "\n" + result["tail"]


def _setting_class(kernel: str, threads: int):
    def test_stored_outputs_reproduce(self):
        _run(kernel, threads)

    name = f"TestKernel{kernel}{threads}Thread"
    return name, type(name, (), {"test_stored_outputs_reproduce": test_stored_outputs_reproduce})


for _kernel, _threads in ALL_SETTINGS:
    _name, _cls = _setting_class(_kernel, _threads)
    globals()[_name] = _cls


def test_settings_cover_this_machine():
    """x86-64 OpenBLAS machines try Prescott and Haswell, SkylakeX only with avx512f."""
    info = tool.blas_info()
    if info.get("internal_api") != "openblas" or tool.platform.machine().lower() not in (
        "x86_64",
        "amd64",
    ):
        assert SETTINGS == [], SETTINGS
        return
    kernels = {kernel for kernel, _ in SETTINGS}
    assert {"Prescott", "Haswell"} <= kernels
    assert ("SkylakeX" in kernels) == tool.has_avx512()
    assert any(threads > 1 for _, threads in SETTINGS)


def test_failed_cells_are_read_from_pytest_output():
    output = (
        "FAILED notebooks/08_training_long_range.ipynb::Cell 7 - nbval mismatch\n"
        "FAILED notebooks/08_training_long_range.ipynb::Cell 7\n"
        "FAILED tests/test_train.py::test_fit - AssertionError\n"
        "1 failed, 2 passed\n"
    )
    assert tool.failed_cells(output) == [("notebooks/08_training_long_range.ipynb", 7)]
    assert tool.other_failures(output) == ["tests/test_train.py::test_fit"]


def test_a_setting_must_take_effect():
    """A kernel name OpenBLAS does not know falls back silently; the tool notices and refuses."""
    if tool.blas_info().get("internal_api") != "openblas":
        pytest.skip(WHY)
    result = tool.run_setting("NoSuchKernel", 1, [])
    assert result["returncode"] == 2 and "did not take effect" in result["tail"], result
