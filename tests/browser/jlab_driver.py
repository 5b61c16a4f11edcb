"""Helpers for the browser tests: start a real JupyterLab, drive its notebooks in Chromium.

JupyterLab 4 DOM facts these helpers rely on:

- a notebook opens at ``/lab/tree/<path>?token=...`` inside ``.jp-NotebookPanel``;
- the toolbar's kernel indicator is ``.jp-Notebook-ExecutionIndicator`` with ``data-status``
  ("idle", "busy", "starting", ...);
- a code cell's prompt ``.jp-InputPrompt`` reads ``[*]:`` while queued or running,
  ``[ ]:`` before it ran and ``[n]:`` after;
- tracebacks and stderr are rendered as
  ``.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]``;
- ipywidgets 8 sliders are noUiSlider handles (``.widget-slider .noUi-handle``, focusable, moved
  by the arrow keys, End and Home); ipympl draws into ``.jupyter-matplotlib-canvas-div canvas``
  (the first canvas is the figure, the second the rubber-band overlay).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = (
    "no Chromium found (looked for {}); install Debian's browser with "
    "`apt-get install chromium` (or set LSTM_LAB_CHROMIUM to a chromium binary)"
)

SLIDER = ".widget-slider .noUi-handle"
CANVAS = ".jupyter-matplotlib-canvas-div canvas"
ERROR_OUTPUT = (
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
    ".jp-OutputArea-output.jp-mod-error"
)
WIDGET_ERROR_TEXT = re.compile(
    r"Error displaying widget|Error rendering output item|Failed to load model"
)

# Records, in the page, every keydown and every drawImage onto a canvas, with performance.now()
# timestamps, so key-press-to-redraw latency is measured inside the browser.
INIT_SCRIPT = """
(() => {
  window.__lstmLab = {keys: [], draws: [], busy: []};
  new MutationObserver(records => {
    for (const r of records) {
      if (r.target.getAttribute('data-status') === 'busy') {
        window.__lstmLab.busy.push(performance.now());
      }
    }
  }).observe(document, {attributes: true, attributeFilter: ['data-status'], subtree: true});
  document.addEventListener('keydown', e => {
    window.__lstmLab.keys.push({key: e.key, t: performance.now()});
  }, true);
  const original = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    window.__lstmLab.draws.push({canvas: this.canvas, t: performance.now()});
    return original.apply(this, args);
  };
})();
"""


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None: $LSTM_LAB_CHROMIUM, then Debian's /usr/bin/chromium."""
    override = os.environ.get("LSTM_LAB_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LabServer:
    """A running ``jupyter lab`` serving ``root`` on 127.0.0.1 (see :func:`start_lab`)."""

    root: Path
    port: int
    token: str
    process: subprocess.Popen
    log_path: Path
    started_in: float = 0.0
    _log: object = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """Browser URL of a page or file under the server root, with the token."""
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def request(self, path: str, method: str = "GET"):
        """Call a server URL path (e.g. ``api/sessions``); returns the decoded JSON or None."""
        request = urllib.request.Request(self.url(path), method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        return json.loads(body) if body else None

    def api(self, path: str, method: str = "GET"):
        """Call the server's REST API under ``/api/``."""
        return self.request(f"api/{path}", method)

    def shutdown_kernels(self) -> None:
        """End every session and kernel the server runs (between tests)."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")
        for kernel in self.api("kernels"):
            self.api(f"kernels/{kernel['id']}", method="DELETE")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s) and close its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"LabServer({self.base_url}, root={str(self.root)!r}, {state})"


def start_lab(root: Path, state_dir: Path, *, timeout: float = 90.0) -> LabServer:
    """Start ``jupyter lab`` with the repository's configuration and wait until it answers.

    root: the folder the server shows (a working copy, so runs never write into the repo).
    state_dir: where the server's settings, workspaces, runtime files and log go.
    The server listens on 127.0.0.1 on a free port, needs a random token, opens no browser,
    uses this interpreter's kernel, and has autosave switched off.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    settings = state_dir / "user-settings"
    docmanager = settings / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True, exist_ok=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    config_path = [str(REPO / "jupyter_config")]
    if env.get("JUPYTER_CONFIG_PATH"):
        config_path.append(env["JUPYTER_CONFIG_PATH"])
    env.update(
        JUPYTER_CONFIG_PATH=os.pathsep.join(config_path),
        JUPYTER_RUNTIME_DIR=str(state_dir / "runtime"),
        JUPYTER_DATA_DIR=str(state_dir / "data"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONHASHSEED="0",
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={state_dir / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log_path = state_dir / "jupyter-lab.log"
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed by LabServer.stop)
    t0 = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LabServer(root, port, token, process, log_path, _log=log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(
                f"jupyter lab exited with code {process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=5) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(
                f"jupyter lab did not answer within {timeout:.0f} s:\n{server.log_tail()}"
            )
        time.sleep(0.25)
    server.started_in = time.perf_counter() - t0
    return server


# ------------------------------------------------------------------ page helpers


def open_notebook(page, server: LabServer, relpath: str, *, timeout: float = 120.0) -> None:
    """Open ``relpath`` (relative to the server root) and wait until its kernel is idle.

    Each call uses a new, empty workspace, so no tab from an earlier test is restored.
    If JupyterLab asks which kernel to start, the default (Python 3) is accepted, as a
    student would.
    """
    workspace = "test-" + secrets.token_hex(4)
    path = "/".join(("lab", "workspaces", workspace, "tree", relpath))
    page.goto(server.url(path), timeout=timeout * 1000)
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    panel.locator(".jp-Notebook").first.wait_for(timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    idle = panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]')
    kernel_dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    while True:
        if kernel_dialog.count():
            kernel_dialog.locator("button.jp-mod-accept").click()
        if idle.count() and "No Kernel" not in panel.locator(".jp-Toolbar").first.inner_text():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{relpath}: kernel not idle after {timeout:.0f} s")
        page.wait_for_timeout(250)


def run_all_cells(page, *, timeout: float = 180.0) -> float:
    """Run > Run All Cells from the menu bar, then wait until every code cell has run.

    The click is retried (up to three times) if the kernel never turns busy, which happens
    when the menu is used before the notebook has become JupyterLab's current widget.
    Returns the seconds from the click to an idle kernel with no queued cell.
    """
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))
    item = page.locator(".lm-Menu-item:not(.lm-mod-disabled)").filter(has=label)
    for _attempt in range(3):
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
        try:
            item.first.wait_for(timeout=5000)
        except Exception:  # menu entry still disabled: close the menu and try again
            page.keyboard.press("Escape")
            page.wait_for_timeout(1000)
            continue
        clicked = page.evaluate("() => performance.now()")
        item.first.click()
        t0 = time.perf_counter()
        try:
            page.wait_for_function(
                "(t) => window.__lstmLab.busy.some(b => b >= t)", arg=clicked, timeout=15000
            )
        except Exception:  # the kernel never went busy: the click did not take
            continue
        wait_until_executed(page, timeout=timeout)
        return time.perf_counter() - t0
    raise TimeoutError("Run > Run All Cells did not start the kernel after 3 tries")


def wait_until_executed(page, *, timeout: float = 180.0) -> None:
    """Wait until the kernel is idle and no code cell is queued or unrun (or one failed)."""
    page.wait_for_function(
        """() => {
            const status = document.querySelector(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
            if (!status || status.getAttribute('data-status') !== 'idle') return false;
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
            // a collapsed input shows no prompt text; every shown prompt must read [n]
            const shown = prompts.map(p => p.textContent.trim()).filter(t => t !== '');
            if (shown.some(t => t.includes('*'))) return false;
            // after an error JupyterLab drops the queue: stop waiting, the caller reports it
            if (document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) '
                + '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
                return true;
            }
            return shown.length > 0 && shown.every(t => /\\[\\d+\\]/.test(t));
        }""",
        timeout=timeout * 1000,
        polling=250,
    )


def error_outputs(page) -> list[str]:
    """Text of every error or stderr output and every widget rendering error on the page."""
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    found = [text.strip()[:2000] for text in panel.locator(ERROR_OUTPUT).all_inner_texts()]
    body = panel.first.inner_text()
    found += [m.group(0) for m in WIDGET_ERROR_TEXT.finditer(body)]
    return found


def explorer_outputs(page):
    """Locator of output areas that hold both a widget slider and an ipympl canvas."""
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    return (
        panel.locator(".jp-OutputArea-output")
        .filter(has=page.locator(SLIDER))
        .filter(has=page.locator(CANVAS))
    )


@dataclass
class Redraw:
    """What happened to a figure after keys were pressed on one of its sliders."""

    keys: list[str]
    changed: bool
    latency_ms: float | None  # first draw on the figure's canvas after the first key press
    before: bytes = field(repr=False, default=b"")
    after: bytes = field(repr=False, default=b"")

    @property
    def keys_text(self) -> str:
        """The keys pressed, runs grouped: 'ArrowRight x5, End'."""
        runs: list[list] = []
        for key in self.keys:
            if runs and runs[-1][0] == key:
                runs[-1][1] += 1
            else:
                runs.append([key, 1])
        return ", ".join(key if n == 1 else f"{key} x{n}" for key, n in runs)


def pick_slider(output) -> int:
    """Index of the slider to move in an explorer: the first bias (``b_...``), else the first.

    A bias moves its gate at every time step, so its effect on the figure is the easiest to
    see in the screenshots; a weight on x only matters where the input is non-zero.
    """
    labels = output.locator(".widget-slider").evaluate_all(
        "els => els.map(e => (e.querySelector('.widget-label') || {}).textContent || '')"
    )
    for index, label in enumerate(labels):
        if label.strip().startswith("b_"):
            return index
    return 0


def move_slider_and_watch(
    page, output, *, slider_index: int | None = None, presses: int = 5, timeout: float = 20.0
) -> Redraw:
    """Focus a slider in ``output``, press ArrowRight, and wait for its figure's pixels to change.

    The slider is ``slider_index`` (default: :func:`pick_slider`). If ``presses`` ArrowRight
    presses leave the canvas unchanged (a slider at its maximum, or a
    step too small to move a pixel), End and then Home are tried. The comparison uses
    screenshots of the figure's canvas element only, never of the slider.
    """
    if slider_index is None:
        slider_index = pick_slider(output)
    canvas = output.locator(CANVAS).first
    handle = output.locator(".widget-slider").nth(slider_index).locator(".noUi-handle").first
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # let a pending initial draw land
    before = canvas.screenshot()
    page.evaluate("() => { window.__lstmLab.keys = []; window.__lstmLab.draws = []; }")
    handle.focus()
    pressed: list[str] = []
    after = before
    for keys in (["ArrowRight"] * presses, ["End"], ["Home"]):
        for key in keys:
            page.keyboard.press(key)
            pressed.append(key)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            page.wait_for_timeout(200)
            after = canvas.screenshot()
            if after != before:
                break
        if after != before:
            break
    latency = canvas.evaluate(
        """(el) => {
            const rec = window.__lstmLab;
            if (!rec.keys.length) return null;
            const t0 = rec.keys[0].t;
            const draws = rec.draws.filter(d => d.canvas === el && d.t >= t0);
            return draws.length ? draws[0].t - t0 : null;
        }"""
    )
    return Redraw(pressed, after != before, latency, before, after)
