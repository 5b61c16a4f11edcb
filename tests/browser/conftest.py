"""Fixtures for the browser tests: a real JupyterLab on a working copy, and headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import jlab_driver as jd
import pytest

REPO = jd.REPO
ARTIFACTS = Path(os.environ.get("LSTM_LAB_ARTIFACTS", REPO / "test-artifacts")) / "browser"


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser/ carries the ``browser`` marker (select with -m)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; the browser tests skip (saying how to install it) without one."""
    path = jd.find_chromium()
    if path is None:
        reason = jd.NO_CHROMIUM.format(", ".join(jd.CHROMIUM_CANDIDATES))
        if os.environ.get("LSTM_LAB_REQUIRE_BROWSER") == "1":  # set by .ci/run
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    """A scratch folder the server shows: a copy of notebooks/, so runs never touch the repo."""
    root = tmp_path_factory.mktemp("lab-root")
    if (REPO / "notebooks").is_dir():
        shutil.copytree(
            REPO / "notebooks",
            root / "notebooks",
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
    return root


@pytest.fixture(scope="session")
def lab_server(chromium_path, lab_root, tmp_path_factory):
    """``jupyter lab`` on 127.0.0.1 (free port, token, repository config); stopped at the end."""
    state = tmp_path_factory.mktemp("lab-state")
    server = jd.start_lab(lab_root, state)
    try:
        yield server
    finally:
        server.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        shutil.copyfile(server.log_path, ARTIFACTS / f"jupyter-lab-{worker}.log")


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A headless Chromium launched through Playwright's Python package (no browser download)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=jd.CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def artifacts(request) -> Path:
    """test-artifacts/browser/<test name>/ for this test's screenshots (gitignored)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    folder = ARTIFACTS / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def page(browser, lab_server, artifacts, request):
    """A fresh browser page (own context) that records uncaught page errors in ``page_errors``.

    On the way out it saves console messages to the artifacts folder and shuts the kernels
    down, so each test starts from a server with no running kernel.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(jd.INIT_SCRIPT)
    page = context.new_page()
    page_errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    page.page_errors = page_errors
    try:
        yield page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            page.screenshot(path=artifacts / "failure.png", full_page=True)
        (artifacts / "console.log").write_text("\n".join(console), encoding="utf-8")
        context.close()
        lab_server.shutdown_kernels()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
