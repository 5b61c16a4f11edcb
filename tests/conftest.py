"""Test-suite wide hooks: keep conftest files out of doctest collection; report redraw latency.

The terminal summary lives here rather than in tests/browser/conftest.py because under
pytest-xdist only the conftest files on the command line's paths (and their parents) are
loaded by the controlling process, which is the one that writes the summary.
"""

from __future__ import annotations

import signal
import sys

import pytest
from hypothesis import settings

# The same examples on every run and every machine: a property test that fails once fails
# again, and CI never meets an example that no developer has seen. No example database is
# written into the repository.
settings.register_profile("lstm_lab", derandomize=True, database=None)
settings.load_profile("lstm_lab")


def pytest_configure(config):
    """Give SIGINT Python's own handler when the test process was started with it ignored.

    A command put in the background by a non-interactive shell (``bash .ci/run &``) starts
    with SIGINT ignored, and Python then installs no KeyboardInterrupt handler. The tests of
    interrupted calls send real SIGINTs and check that the handler is left as it was found:
    both need Python's usual one.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_ignore_collect(collection_path, config):
    """Do not collect conftest.py files as doctest modules.

    ``--doctest-modules`` imports every .py file under the test paths as a module named after
    its file, so two conftest.py files (here and in tests/browser/) collide ("import file
    mismatch"). Conftest files hold no doctests; pytest still loads them as conftests.
    Returning None (not False) leaves every other path to pytest's own rules (--ignore...).
    """
    if collection_path.name == "conftest.py":
        return True
    return None


@pytest.fixture(autouse=True)
def _exercises_built_afresh():
    """Each test builds the exercises it uses anew, so that no test sees a cached one.

    lstm_lab.exercises caches each exercise (its cases and mistake catalogue) once built. A
    test that ran after another would then never run the code that builds it, so it could
    neither catch a bug there nor be counted as reaching it. mutmut forks each mutant's run
    from a process that has already run the tests: without this, most mutants of the mistake
    catalogues survived although the tests kill them. Building all of them takes about 0.2 s.
    """
    exercises = sys.modules.get("lstm_lab.exercises")
    if exercises is not None:
        for obj in vars(exercises).values():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()


def pytest_terminal_summary(terminalreporter):
    """Print the key-press-to-redraw latencies the browser tests recorded."""
    rows = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            props = dict(getattr(report, "user_properties", ()) or ())
            if getattr(report, "when", None) == "call" and "redraw_latency_ms" in props:
                rows.append((report.nodeid, props["redraw_latency_ms"], props.get("keys", "")))
    if not rows:
        return
    terminalreporter.section("browser: key press to canvas redraw")
    for nodeid, latency, keys in sorted(rows):
        shown = "no draw seen" if latency is None else f"{latency:8.0f} ms"
        terminalreporter.write_line(f"{shown}  {keys:<16} {nodeid}")


@pytest.fixture
def leaves_matplotlib_as_it_was():
    """No global rcParams changed and no pyplot figure left open by the test.

    The explorers draw on figures of their own, outside pyplot, and set their style per
    figure, so that a notebook's own plots are never touched. Modules whose tests draw say
    ``pytestmark = pytest.mark.usefixtures("leaves_matplotlib_as_it_was")``.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    yield
    after = dict(matplotlib.rcParams)
    changed = sorted(k for k in before if before[k] != after[k])
    assert not changed, f"rcParams changed: {changed}"
    assert plt.get_fignums() == [], "a pyplot figure was left open"


@pytest.fixture
def make_explorer(request):
    """Build explorers by registry name, closed after the test: ``make_explorer('chain', T=9)``."""
    from lstm_lab import widgets

    def build(name, **kwargs):
        ex = widgets.EXPLORERS[name](**kwargs)
        request.addfinalizer(ex.close)
        return ex

    return build
