"""Smoke test in a real browser: an ipympl figure whose line an ipywidgets slider redraws."""

from __future__ import annotations

import jlab_driver as jd
import nbformat
import pytest

pytestmark = pytest.mark.browser

SETUP = """\
%matplotlib ipympl
import numpy as np
import matplotlib.pyplot as plt
import ipywidgets as widgets"""

FIGURE = """\
with plt.ioff():
    fig, ax = plt.subplots(figsize=(5, 3))
t = np.linspace(0.0, 1.0, 200)
line, = ax.plot(t, np.sin(2 * np.pi * t), lw=3)
ax.set_ylim(-1.1, 1.1)
ax.set_title("sin(2 pi w t)")
w = widgets.FloatSlider(value=1.0, min=0.5, max=5.0, step=0.25, description="w")

def redraw(change):
    line.set_ydata(np.sin(2 * np.pi * change["new"] * t))
    fig.canvas.draw_idle()

w.observe(redraw, names="value")
widgets.VBox([w, fig.canvas])"""


@pytest.fixture(scope="module")
def smoke_notebook(lab_root) -> str:
    """A two-cell notebook written at test time inside the server root; returns its path."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(SETUP), nbformat.v4.new_code_cell(FIGURE)]
    folder = lab_root / "smoke"
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / "slider_smoke.ipynb")
    return "smoke/slider_smoke.ipynb"


def test_slider_redraws_ipympl_figure(page, lab_server, smoke_notebook, artifacts, record_property):
    jd.open_notebook(page, lab_server, smoke_notebook)
    seconds = jd.run_all_cells(page)
    page.screenshot(path=artifacts / "after-run-all.png", full_page=True)
    record_property("run_all_s", round(seconds, 2))

    assert jd.error_outputs(page) == [], "error output in the page after Run All Cells"
    outputs = jd.explorer_outputs(page)
    assert outputs.count() == 1, "expected one output with a slider and an ipympl canvas"

    redraw = jd.move_slider_and_watch(page, outputs.first)
    (artifacts / "canvas-before.png").write_bytes(redraw.before)
    (artifacts / "canvas-after.png").write_bytes(redraw.after)
    page.screenshot(path=artifacts / "after-slider.png", full_page=True)
    record_property("redraw_latency_ms", redraw.latency_ms)
    record_property("keys", redraw.keys_text)
    print(f"key press to redraw: {redraw.latency_ms} ms after {redraw.keys}")

    assert redraw.changed, f"the figure's canvas did not change after {redraw.keys}"
    assert redraw.keys == ["ArrowRight"] * 5, f"ArrowRight should move w; needed {redraw.keys}"
    assert redraw.latency_ms is not None, "the canvas changed but no draw was recorded"
    assert jd.error_outputs(page) == [], "error output in the page after moving the slider"
    assert page.page_errors == [], f"uncaught errors in the page: {page.page_errors}"


def test_classroom_config_has_no_news_prompt(page, lab_server, smoke_notebook):
    """The repository's JupyterLab config: no news question, no update check, no news feed."""
    jd.open_notebook(page, lab_server, smoke_notebook)
    page.wait_for_timeout(3000)  # the news question would show as a toast by now
    toasts = " ".join(page.locator(".Toastify__toast").all_inner_texts())
    assert "news" not in toasts.lower(), f"news pop-up shown: {toasts!r}"
    assert lab_server.request("lab/api/news") == {"news": []}
    assert lab_server.request("lab/api/update") == {"notification": None}
