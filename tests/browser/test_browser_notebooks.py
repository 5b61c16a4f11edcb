"""Every notebook that shows an explorer, run in JupyterLab in Chromium as a student would."""

from __future__ import annotations

import re

import jlab_driver as jd
import pytest

pytestmark = pytest.mark.browser

EXPLORER_CALL = re.compile(r"\w*Explorer\(")


def explorer_notebooks() -> list[str]:
    """notebooks/NN_*.ipynb whose code builds an explorer (its source contains ``Explorer(``)."""
    import nbformat

    found = []
    for path in sorted((jd.REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
        if EXPLORER_CALL.search(code):
            found.append(f"notebooks/{path.name}")
    return found


NOTEBOOKS = explorer_notebooks()
PARAMS = NOTEBOOKS or [
    pytest.param(
        None, marks=pytest.mark.skip(reason="no notebooks/NN_*.ipynb builds an Explorer( yet")
    )
]


@pytest.mark.parametrize("relpath", PARAMS, ids=lambda p: p and p.split("/")[-1])
def test_notebook_explorers_redraw(page, lab_server, relpath, artifacts, record_property):
    jd.open_notebook(page, lab_server, relpath)
    seconds = jd.run_all_cells(page, timeout=240)
    record_property("run_all_s", round(seconds, 2))
    page.screenshot(path=artifacts / "after-run-all.png", full_page=True)

    errors = jd.error_outputs(page)
    assert errors == [], f"{relpath}: error output after Run All Cells:\n" + "\n---\n".join(errors)

    outputs = jd.explorer_outputs(page)
    count = outputs.count()
    assert count >= 1, f"{relpath} builds an explorer but no output shows a slider and a figure"

    latencies = []
    for k in range(count):
        redraw = jd.move_slider_and_watch(page, outputs.nth(k))
        (artifacts / f"explorer{k}-canvas-before.png").write_bytes(redraw.before)
        (artifacts / f"explorer{k}-canvas-after.png").write_bytes(redraw.after)
        assert redraw.changed, (
            f"{relpath}: explorer #{k}: no redraw after {redraw.keys} on its first slider"
        )
        latencies.append(redraw.latency_ms)
        print(
            f"{relpath} explorer #{k}: key press to redraw {redraw.latency_ms} ms ({redraw.keys})"
        )
        record_property("keys", redraw.keys_text)

    page.screenshot(path=artifacts / "after-sliders.png", full_page=True)
    measured = [x for x in latencies if x is not None]
    record_property("redraw_latency_ms", max(measured) if measured else None)
    errors = jd.error_outputs(page)
    assert errors == [], f"{relpath}: error output after moving sliders:\n" + "\n---\n".join(errors)
    assert page.page_errors == [], f"{relpath}: uncaught errors in the page: {page.page_errors}"
