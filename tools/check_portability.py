#!/usr/bin/env python3
"""Run the notebooks under other BLAS kernels and report which stored outputs change.

A stored notebook output must come out the same on any CPU. OpenBLAS picks a kernel per CPU
(Haswell, SkylakeX, ...), and each sums in its own order; ``OPENBLAS_CORETYPE`` forces one,
``Prescott`` being the generic x86-64 kernel. This tool re-runs notebooks with nbval (exactly
as ``bash tools/test`` compares them) in a fresh process per setting and lists the cells whose
output differs, so a contributor sees the problem before CI does.

Usage (from the repository root, in the environment ``bash tools/test`` creates):

    .venv/bin/python tools/check_portability.py                    # every notebook, every setting
    .venv/bin/python tools/check_portability.py notebooks/08_training_long_range.ipynb
    .venv/bin/python tools/check_portability.py --setting Prescott:1 --setting Haswell:2
    .venv/bin/python tools/check_portability.py --list             # the settings for this machine

The settings for this machine: on x86-64, ``Prescott`` and ``Haswell`` with one BLAS thread,
``SkylakeX`` too where /proc/cpuinfo shows avx512f (never forced otherwise: the kernel would
crash), and ``Haswell`` with two threads. With a BLAS other than OpenBLAS (MKL, Accelerate)
the variable does nothing; the tool says so and runs nothing. Exit status: 0 when every
setting reproduces every stored output, 1 otherwise, 2 for a setup problem.

``--with-unit-tests`` also runs the package's doctests and the unit tests whose expected values
come from training (tests/test_train.py, test_experiments.py, test_generate.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# threadpoolctl's name for each kernel a run asks for (it calls the generic kernel "Katmai")
REPORTED_AS = {"Prescott": "Katmai"}
TRAINING_UNIT_TESTS = ("lstm_lab", "tests/test_train.py", "tests/test_experiments.py",
                       "tests/test_generate.py")


def default_notebooks() -> list[Path]:
    """Every notebook nbval runs: notebooks/*.ipynb and notebooks/exercises/*.ipynb."""
    found = sorted((ROOT / "notebooks").glob("*.ipynb"))
    return found + sorted((ROOT / "notebooks" / "exercises").glob("*.ipynb"))


def blas_info(env: dict | None = None) -> dict:
    """threadpoolctl's description of the BLAS a fresh interpreter loads under ``env``."""
    code = (
        "import json, numpy, threadpoolctl\n"
        "info = [i for i in threadpoolctl.threadpool_info() if i.get('user_api') == 'blas']\n"
        "print(json.dumps(info[0] if info else {}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def has_avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False


def machine_settings() -> tuple[list[tuple[str, int]], str]:
    """The (kernel, threads) settings to try here, and a sentence saying why."""
    info = blas_info()
    if info.get("internal_api") != "openblas":
        name = info.get("internal_api") or "no BLAS threadpoolctl knows"
        return [], (f"the BLAS is {name}, not OpenBLAS: OPENBLAS_CORETYPE has no effect, so only "
                    "the default kernel runs (the notebooks' own nbval run)")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return [], (f"OpenBLAS on {platform.machine()}: its x86-64 kernels cannot be forced here, "
                    "so only the default kernel runs (the notebooks' own nbval run)")
    settings = [("Prescott", 1), ("Haswell", 1)]
    why = f"OpenBLAS, default kernel {info.get('architecture')}"
    if has_avx512():
        settings.append(("SkylakeX", 1))
    else:
        why += "; no avx512f, so SkylakeX is not forced"
    settings.append(("Haswell", 2))
    return settings, why


def setting_env(kernel: str, threads: int) -> dict:
    env = dict(os.environ)
    env.update(OPENBLAS_CORETYPE=kernel, OPENBLAS_NUM_THREADS=str(threads),
               OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return env


def failed_cells(output: str) -> list[tuple[str, int]]:
    """(notebook, code-cell index) of each 'FAILED path::Cell N' line pytest printed."""
    found = re.findall(r"^FAILED (\S+\.ipynb)::Cell (\d+)", output, flags=re.M)
    return sorted({(path, int(n)) for path, n in found})


def other_failures(output: str) -> list[str]:
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, flags=re.M))
                  - {f"{p}::Cell {n}" for p, n in failed_cells(output)})


def describe_cell(path: str, index: int) -> str:
    """'Cell N' as nbval counts it (code cells only) -> its id and first line, for people."""
    try:
        cells = json.loads((ROOT / path).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError):
        return f"Cell {index}"
    code = [c for c in cells if c.get("cell_type") == "code"]
    if index >= len(code):
        return f"Cell {index}"
    first = "".join(code[index].get("source", "")).strip().splitlines() or [""]
    return f"Cell {index} (id {code[index].get('id')}): {first[0][:70]}"


def run_setting(kernel: str, threads: int, paths: list[str], unit_tests: bool = False,
                timeout: float = 1500) -> dict:
    """Run nbval over ``paths`` (and optionally the training unit tests) under one setting."""
    env = setting_env(kernel, threads)
    info = blas_info(env)
    want = REPORTED_AS.get(kernel, kernel)
    result = {"kernel": kernel, "threads": threads, "reported": info.get("architecture"),
              "failed": [], "other": [], "returncode": None, "seconds": 0.0, "tail": ""}
    if info.get("architecture", "").lower() != want.lower():
        result["tail"] = (f"asked for OPENBLAS_CORETYPE={kernel}, but the BLAS reports "
                          f"{info.get('architecture')!r}: the setting did not take effect")
        result["returncode"] = 2
        return result
    targets = list(paths) + (list(TRAINING_UNIT_TESTS) if unit_tests else [])
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-q", "-rfE",
           "--no-header", *targets]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    result["seconds"] = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    result.update(returncode=proc.returncode, failed=failed_cells(out),
                  other=other_failures(out), tail="\n".join(out.splitlines()[-40:]))
    return result


def report(result: dict) -> str:
    head = (f"OPENBLAS_CORETYPE={result['kernel']} with {result['threads']} thread(s) "
            f"(BLAS reports {result['reported']}), {result['seconds']:.0f} s: ")
    if result["returncode"] == 0:
        return head + "every stored output reproduced"
    lines = [head + "DIFFERENT"]
    for path, index in result["failed"]:
        lines.append(f"  {path}  {describe_cell(path, index)}")
    for name in result["other"]:
        lines.append(f"  {name}")
    if not result["failed"] and not result["other"]:
        lines.append(result["tail"])
    return "\n".join(lines)


def parse_setting(text: str) -> tuple[str, int]:
    kernel, _, threads = text.partition(":")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", kernel) or not threads.isdigit() \
            or not 1 <= int(threads) <= 64:
        raise argparse.ArgumentTypeError(
            f"a setting is KERNEL:THREADS, e.g. Prescott:1; got {text!r}")
    return kernel, int(threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--setting", action="append", type=parse_setting, default=None,
                        metavar="KERNEL:THREADS", help="instead of this machine's settings")
    parser.add_argument("--with-unit-tests", action="store_true",
                        help="also the doctests and the unit tests of training")
    parser.add_argument("--list", action="store_true", help="print the settings and stop")
    args = parser.parse_args(argv)

    settings, why = machine_settings()
    if args.setting:
        settings = args.setting
    print(f"check_portability: {why}")
    if args.list or not settings:
        for kernel, threads in settings:
            print(f"  {kernel}:{threads}")
        return 0
    paths = [str(p.resolve().relative_to(ROOT)) for p in (args.notebooks or default_notebooks())]
    worst = 0
    for kernel, threads in settings:
        result = run_setting(kernel, threads, paths, unit_tests=args.with_unit_tests)
        print(report(result), flush=True)
        worst = max(worst, 0 if result["returncode"] == 0 else
                    2 if result["returncode"] == 2 else 1)
    return worst


if __name__ == "__main__":
    sys.exit(main())
