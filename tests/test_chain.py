"""Tests of the unrolled chain (diagram.draw_unrolled) and its explorer (widgets.ChainExplorer)."""

import functools

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
from test_diagram import _clashes  # noqa: E402  (the label-clash checker of the cell diagram)
from test_faults import Fault, sweep_an_explorer_move  # noqa: E402  (fault injection)
from test_widgets import pixels  # noqa: E402  (an explorer's pixels)

import lstm_lab as ll  # noqa: E402
from lstm_lab import diagram, gradients, widgets  # noqa: E402

KINDS = list(ll.CELLS)


pytestmark = pytest.mark.usefixtures("leaves_matplotlib_as_it_was")


@pytest.fixture
def explorer(make_explorer):
    """Build a 'chain' explorer with keywords; it is closed after the test."""
    return functools.partial(make_explorer, "chain")


def run(kind, T, H=2, seed=0, pulse=None):
    """A cell of `kind`, its trace on a seeded input (or a pulse at step `pulse`), L = sum(h_T)."""
    cell = ll.CELLS[kind](1, H, seed=seed)
    if pulse is None:
        x = np.random.default_rng(seed).normal(size=(T, 1))
    else:
        x = np.zeros((T, 1))
        x[pulse - 1] = 1.0
    trace = cell.forward(x)
    dh = np.zeros_like(trace.h)
    dh[-1] = 1.0
    return cell, trace, dh


def tail_grads(cell, trace, dh):
    """dL/dh_t (and dL/dc_t) for t = 0..T, each from the cell's own backward of the run that
    starts at step t + 1 from (h_t, c_t): its 'h0' and 'c0' gradients. Independent of
    lstm_lab.gradients (which multiplies step Jacobians)."""
    T, H = trace.h.shape
    out_h, out_c = np.zeros((T + 1, H)), np.zeros((T + 1, H))
    out_h[T] = dh[-1]
    for t in range(T):
        h0 = trace.h0 if t == 0 else trace.h[t - 1]
        kw = {"h0": h0}
        if cell.has_cell_state:
            kw["c0"] = trace.c0 if t == 0 else trace.c[t - 1]
        tail = cell.forward(trace.x[t:], **kw)
        g = cell.backward(tail, dh[t:])
        out_h[t] = g["h0"]
        if cell.has_cell_state:
            out_c[t] = g["c0"]
    return out_h, (out_c if cell.has_cell_state else None)


def chain_clashes(d):
    """The cell diagram's clash check over every text of the chain (numbers and row labels),
    plus the gradient arrows (a LineCollection, which that check does not read)."""
    view = type("View", (), {})()
    view.ax = d.ax
    view.value_texts = {**d.value_texts, **{"row " + k: t for k, t in d.symbol_texts.items()
                                            if t.get_visible()}}
    view.symbol_texts = {}
    renderer = d.figure.canvas.get_renderer()
    found = _clashes(view, renderer)
    boxes = {k: t.get_window_extent(renderer).shrunk(0.98, 0.9)
             for k, t in view.value_texts.items() if t.get_text() and t.get_visible()}
    if d.grad_lines.get_visible():
        widths = d.grad_lines.get_linewidths()
        for seg, lw in zip(d.grad_lines.get_segments(), widths, strict=True):
            xy = d.ax.transData.transform(seg)
            pad = lw / 2 * d.figure.dpi / 72
            arrow = Bbox([[xy[:, 0].min(), xy[:, 1].min() - pad],
                          [xy[:, 0].max(), xy[:, 1].max() + pad]])
            found += [(k, "a gradient arrow") for k, b in boxes.items() if b.overlaps(arrow)]
    return found


# ------------------------------------------------------------------------------ the diagram


@pytest.mark.parametrize("kind", KINDS)
def test_the_numbers_and_colours_are_the_trace(kind):
    cell, trace, dh = run(kind, 7, H=3)
    d = diagram.draw_unrolled(cell, trace, unit=1)
    assert d.stride == 1 and d.T == 7 and d.has_cell_state == cell.has_cell_state
    for t in range(1, 8):
        assert d.value_texts[f"h{t}"].get_text() == diagram._fmt(trace.h[t - 1, 1]), t
        assert d.value_texts[f"x{t}"].get_text() == diagram._fmt(trace.x[t - 1, 0]), t
        want = matplotlib.colormaps["RdBu_r"]((trace.h[t - 1, 1] + 1) / 2)
        np.testing.assert_allclose(d.boxes[t - 1].get_facecolor(), want, err_msg=f"box {t}")
        if cell.has_cell_state:
            assert d.value_texts[f"c{t}"].get_text() == diagram._fmt(trace.c[t - 1, 1]), t
    assert ("c" in d.symbol_texts) == cell.has_cell_state
    assert not any(k.startswith("c") for k in d.value_texts) or cell.has_cell_state
    assert not d.grad_lines.get_visible() and d.grad_norms is None
    assert repr(d) == f"UnrolledDiagram(kind={kind}, T=7)"
    assert d._repr_png_()[:4] == b"\x89PNG"


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_the_gradient_arrows_are_the_gradient_norms(kind):
    cell, trace, dh = run(kind, 9, H=3, seed=2)
    ref_h, ref_c = tail_grads(cell, trace, dh)
    grads = gradients.state_grads(cell, trace, dh)
    np.testing.assert_allclose(grads[0], ref_h, rtol=1e-9, atol=1e-14, err_msg="dL/dh_t")
    d = diagram.draw_unrolled(cell, trace, grads)
    norms = np.sqrt(np.sum(ref_h ** 2, axis=1) + (0 if ref_c is None else
                                                  np.sum(ref_c ** 2, axis=1)))
    np.testing.assert_allclose(d.grad_norms, norms, rtol=1e-9, err_msg="norms drawn")
    widths = np.asarray(d.grad_lines.get_linewidths())
    lo, hi = 0.3, 6.0
    np.testing.assert_allclose(widths, lo + (hi - lo) * np.clip(norms / norms[-1], 0, 1),
                               rtol=1e-12, err_msg="width linear in the norm, full at t = T")
    order = np.argsort(norms, kind="stable")
    assert np.all(np.diff(widths[order]) >= 0), "wider arrow, larger norm"
    for k in range(10):
        assert d.value_texts[f"dh{k}"].get_text() == diagram._fmt_grad(norms[k]), k
    assert d.grad_lines.get_visible() and d.symbol_texts["dh"].get_visible()
    # ||dL/dh_t|| alone when only dL/dh is given
    d.update(trace, grads[0])
    np.testing.assert_allclose(d.grad_norms, np.linalg.norm(ref_h, axis=1), rtol=1e-9)


def test_the_gradient_matches_finite_differences():
    """dL/dh_0 of the chain's left-most arrow, against central differences of L = sum(h_T)."""
    cell, trace, dh = run("lstm", 6, H=2, seed=4)
    d = diagram.draw_unrolled(cell, trace, gradients.state_grads(cell, trace, dh))
    eps, num = 1e-6, []
    for which in ("h0", "c0"):
        for j in range(2):
            plus = {"h0": trace.h0.copy(), "c0": trace.c0.copy()}
            minus = {"h0": trace.h0.copy(), "c0": trace.c0.copy()}
            plus[which][j] += eps
            minus[which][j] -= eps
            num.append((cell.forward(trace.x, **plus).h[-1].sum()
                        - cell.forward(trace.x, **minus).h[-1].sum()) / (2 * eps))
    assert d.grad_norms[0] == pytest.approx(np.linalg.norm(num), rel=1e-6)


def test_widths_saturate_at_the_reference_and_a_zero_gradient_is_a_hairline():
    cell, trace, dh = run("rnn", 4, H=1)
    grads = np.array([[0.0], [0.5], [2.0], [4.0], [1.0]])
    d = diagram.draw_unrolled(cell, trace, grads, grad_ref=2.0)
    np.testing.assert_allclose(d.grad_lines.get_linewidths(), [0.3, 1.725, 6.0, 6.0, 3.15])
    assert [d.value_texts[f"dh{k}"].get_text() for k in range(5)] == ["0", "0.50", "2.00",
                                                                        "4.00", "1.00"]
    assert [diagram._fmt_grad(v) for v in (3.2e-5, 0.0123, 12.3, 2.5e7)] == [
        "3e-5", "1e-2", "12", "2e7"]


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T", [1, 2, 3, 5, 8, 12, 20, 30, 40])
def test_any_length_draws_without_label_clashes(kind, T):
    cell, trace, dh = run(kind, T, H=1, pulse=1)
    for figsize in ((9.6, 2.4), (6.0, 2.2)):
        fig = Figure(figsize=figsize, dpi=90)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
        d = diagram.draw_unrolled(cell, trace, gradients.state_grads(cell, trace, dh), ax=ax,
                                  mark=1)
        fig.canvas.draw()
        assert chain_clashes(d) == [], (figsize, d.stride)
        shown = [k for k in d.value_texts if k.startswith("h")]
        assert f"h{T}" in shown and len(shown) >= T // d.stride
        assert len(d.boxes) == T and len(d.grad_lines.get_segments()) == T + 1


def test_the_clash_check_sees_a_number_too_long_for_its_place():
    cell, trace, dh = run("lstm", 12, H=1, pulse=1)
    d = diagram.draw_unrolled(cell, trace, gradients.state_grads(cell, trace, dh))
    d.value_texts["dh5"].set_text("0.123456789 far too long")
    d.value_texts["h3"].set_text("a value that runs over its neighbours")
    d.value_texts["dh9"].set_y(d.grad_lines.get_segments()[9][0, 1])   # onto its arrow
    d.figure.canvas.draw()
    found = chain_clashes(d)
    assert {w for k, w in found if k == "dh5"} >= {"dh6", "a wire or node"}, found
    assert ("dh9", "a gradient arrow") in found, found
    assert ("h3", "h4") in found, found


def test_update_changes_the_same_artists_in_place():
    cell, trace, dh = run("lstm", 10, H=1, pulse=2)
    d = diagram.draw_unrolled(cell, trace, gradients.state_grads(cell, trace, dh), mark=2)
    before = pixels(d.figure)
    artists = (list(d.boxes), dict(d.value_texts), dict(d.wires), d.grad_lines, d.grad_heads,
               list(d.ax.get_children()))
    cell.params["b_f"] = np.array([-2.0])
    trace2 = cell.forward(trace.x)
    assert d.update(trace2, gradients.state_grads(cell, trace2, dh), mark=5) is d
    assert (list(d.boxes), dict(d.value_texts), dict(d.wires), d.grad_lines, d.grad_heads,
            list(d.ax.get_children())) == artists
    assert d.value_texts["c4"].get_text() == diagram._fmt(trace2.c[3, 0])
    assert d.mark == 5 and d.boxes[4].get_linewidth() > d.boxes[1].get_linewidth()
    assert np.any(pixels(d.figure) != before)
    d.update(None, None)                        # values stay; the gradient row goes
    assert d.value_texts["c4"].get_text() == diagram._fmt(trace2.c[3, 0])
    assert not d.grad_lines.get_visible() and d.value_texts["dh3"].get_text() == ""
    assert d.mark is None


def test_bad_input_is_refused_clearly():
    cell, trace, dh = run("rnn", 5, H=1)
    with pytest.raises(ValueError, match="kind must be one of rnn"):
        diagram.draw_unrolled("transformer")
    with pytest.raises(TypeError, match="cell_or_kind must be"):
        diagram.draw_unrolled(3)
    with pytest.raises(ValueError, match="steps=4 but the trace has T=5"):
        diagram.draw_unrolled(cell, trace, steps=4)
    with pytest.raises(ValueError, match="steps T must be a positive integer"):
        diagram.draw_unrolled("rnn", steps=0)
    with pytest.raises(ValueError, match="one sequence"):
        diagram.draw_unrolled(cell, cell.forward(np.zeros((5, 2, 1))))
    with pytest.raises(ValueError, match=r"shaped \(T\+1, H\) = \(6, H\); got \(5, 1\)"):
        diagram.draw_unrolled(cell, trace, dh)
    with pytest.raises(ValueError, match="finite"):
        diagram.draw_unrolled(cell, trace, np.full((6, 1), np.nan))
    with pytest.raises(ValueError, match=r"mark must be a step in 1..T \(T=5\)"):
        diagram.draw_unrolled(cell, trace, mark=6)
    with pytest.raises(ValueError, match="without a cell state"):
        diagram.draw_unrolled("lstm", trace)
    d = diagram.draw_unrolled(cell, trace)
    with pytest.raises(ValueError, match="has T=5 steps; the trace has 3"):
        d.update(cell.forward(np.zeros((3, 1))))
    with pytest.raises(ValueError, match="grad_ref"):
        diagram.draw_unrolled(cell, trace, grad_ref=0.0)
    with pytest.raises(ValueError, match="numbers must name rows"):
        diagram.draw_unrolled(cell, trace, numbers=("y",))
    with pytest.raises(ValueError, match=r"unit must be in 0..0 \(H=1\)"):
        diagram.draw_unrolled(cell, trace, unit=1)


def test_a_cell_is_asked_what_it_is_not_named():
    """A cell class of no registered kind that declares a cell state gets the c line."""

    class MyLSTM(ll.LSTMCell):
        kind = "my_lstm"

    cell = MyLSTM(1, 1, seed=0)
    d = diagram.draw_unrolled(cell, steps=3)
    assert d.has_cell_state and "c" in d.wires and "c" in d.symbol_texts
    assert "c" not in diagram.draw_unrolled(ll.GRUCell, steps=3).wires


# ------------------------------------------------------------------------------ the explorer


def reference(ex):
    """A fresh RNN and LSTM set as the explorer says, run on its pulse: traces, grads, dx."""
    t, T = ex.controls["t"].value, len(ex.x)
    values = {**ex.param_defaults, **{k: s.value for k, s in ex.sliders.items()}}
    rnn, lstm = ll.RNNCell(1, 1, seed=9), ll.LSTMCell(1, 1, seed=9)
    for name, value in {"W_xh": 1.0, "b_h": 0.0, **widgets.LSTM_DEFAULTS, **values}.items():
        cell = rnn if name in rnn.params else lstm
        cell.params[name] = np.full(cell.params[name].shape, value)
    x = np.zeros((T, 1))
    x[t - 1] = 1.0
    out = {}
    for kind, cell in (("rnn", rnn), ("lstm", lstm)):
        trace = cell.forward(x)
        dh = np.zeros_like(trace.h)
        dh[-1] = 1.0
        out[kind] = trace, tail_grads(cell, trace, dh), cell.backward(trace, dh)["x"][t - 1, 0]
    return out


def check_explorer(ex):
    for kind, (trace, (gh, gc), dx) in reference(ex).items():
        d = ex.plots[kind]
        for t in range(1, len(trace) + 1):
            assert d.value_texts[f"h{t}"].get_text() == diagram._fmt(trace.h[t - 1, 0])
            if kind == "lstm":
                assert d.value_texts[f"c{t}"].get_text() == diagram._fmt(trace.c[t - 1, 0])
        norms = np.sqrt(np.sum(gh ** 2, axis=1) + (0 if gc is None else np.sum(gc ** 2, axis=1)))
        np.testing.assert_allclose(d.grad_norms, norms, rtol=1e-9, atol=1e-300, err_msg=kind)
        assert ex.dx[kind] == pytest.approx(abs(dx), rel=1e-9, abs=1e-300)
        assert d.mark == ex.controls["t"].value
        assert widgets._fmt_small(abs(dx)) in ex._titles[kind].get_text()


def test_the_explorer_keeps_the_contract(explorer):
    ex = explorer()
    assert widgets.EXPLORERS["chain"] is widgets.ChainExplorer
    assert isinstance(ex.figure, Figure) and isinstance(ex.widget, ipywidgets.VBox)
    assert list(ex.sliders) == ["W_hh", "b_f"]
    for key, slider in ex.sliders.items():
        assert slider.description == key and key in ex.cell.params
        np.testing.assert_allclose(ex.cell.params[key], slider.value, err_msg=key)
    assert ex.cell.params["W_hh"] is ex.cell.cells["rnn"].params["W_hh"]
    assert ex.cell.params["b_f"] is ex.cell.cells["lstm"].params["b_f"]
    assert set(ex.controls) == {"t", "reset"}
    assert repr(ex) == "ChainExplorer(T=12, t=3; W_hh=0.80, b_f=3.00)"
    check_explorer(ex)
    # the defaults tell the story: the RNN's pulse is gone by T, the LSTM's is not
    assert ex.dx["rnn"] < 0.05 < 0.2 < ex.dx["lstm"]


def test_each_slider_and_the_pulse_change_the_figure_in_place(explorer):
    ex = explorer()
    children = {k: list(d.ax.get_children()) for k, d in ex.plots.items()}
    before = pixels(ex.figure)
    for key, value in (("W_hh", 0.4), ("b_f", 0.0)):
        array = ex.cell.params[key]
        ex.sliders[key].value = value
        assert ex.error is None, ex.error
        assert ex.cell.params[key] is array and float(array.ravel()[0]) == value
        after = pixels(ex.figure)
        assert np.any(after != before), key
        check_explorer(ex)
        before = after
    ex.controls["t"].value = 8
    assert ex.error is None and ex.x[7, 0] == 1.0 and ex.x.sum() == 1.0
    assert np.any(pixels(ex.figure) != before)
    check_explorer(ex)
    assert {k: list(d.ax.get_children()) for k, d in ex.plots.items()} == children


def test_the_forget_bias_is_what_keeps_the_lstm_memory(explorer):
    ex = explorer()
    ex.sliders["b_f"].value = 5.0
    kept = ex.dx["lstm"]
    ex.sliders["b_f"].value = -2.0
    assert ex.dx["lstm"] < 1e-4 < 0.2 < kept
    ex.sliders["W_hh"].value = 1.0
    ex.sliders["W_hh"].value = 0.3
    assert ex.dx["rnn"] < 1e-5


def test_reset_restores_the_defaults_and_the_picture(explorer):
    ex = explorer()
    start = pixels(ex.figure)
    ex.sliders["W_hh"].value = 1.5
    ex.sliders["b_f"].value = -1.0
    ex.controls["t"].value = 10
    assert np.any(pixels(ex.figure) != start)
    ex.controls["reset"].click()
    assert ex.error is None
    assert {k: s.value for k, s in ex.sliders.items()} == {"W_hh": 0.8, "b_f": 3.0}
    assert ex.controls["t"].value == 3
    np.testing.assert_array_equal(pixels(ex.figure), start)
    check_explorer(ex)


def test_an_error_is_shown_and_the_explorer_rolls_back(explorer, monkeypatch):
    ex = explorer()
    start = pixels(ex.figure)
    params = {k: v.copy() for k, v in ex.cell.params.items()}

    def broken(*args, **kwargs):
        raise RuntimeError("the LSTM exploded on purpose")

    monkeypatch.setattr(ex.cell.cells["lstm"], "forward", broken)
    ex.sliders["W_hh"].value = 1.2                   # the observer must not raise
    assert isinstance(ex.error, RuntimeError) and "exploded on purpose" in ex.error_box.value
    assert ex.error_box.layout.display != "none"
    assert ex.sliders["W_hh"].value == 0.8, "the slider went back"
    for k, v in params.items():
        np.testing.assert_array_equal(ex.cell.params[k], v, err_msg=k)
    np.testing.assert_array_equal(pixels(ex.figure), start)
    ex.controls["t"].value = 6
    assert isinstance(ex.error, RuntimeError) and ex.controls["t"].value == 3
    monkeypatch.undo()
    ex.controls["t"].value = 6
    assert ex.error is None and ex.error_box.layout.display == "none"
    check_explorer(ex)


def test_an_error_while_drawing_rolls_back_too(explorer, monkeypatch):
    ex = explorer()
    start = pixels(ex.figure)

    def broken(*args, **kwargs):
        raise ValueError("diagram refused")

    monkeypatch.setattr(ex.plots["lstm"], "update", broken)
    ex.sliders["b_f"].value = 0.5
    assert isinstance(ex.error, ValueError) and ex.sliders["b_f"].value == 3.0
    monkeypatch.undo()
    np.testing.assert_array_equal(pixels(ex.figure), start)


@pytest.mark.parametrize("steps", [1, 5, 12, 30])
def test_the_explorer_figure_has_no_label_clashes(explorer, steps):
    ex = explorer(steps=steps, t=1)
    for t in sorted({1, steps}):
        ex.controls["t"].value = t
        ex.figure.canvas.draw()
        for kind, d in ex.plots.items():
            assert chain_clashes(d) == [], (kind, t)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="t must be a time step from 1 to T=12"):
        widgets.ChainExplorer(t=13)
    with pytest.raises(TypeError, match="amplitude must be a finite number"):
        widgets.ChainExplorer(amplitude=float("nan"))
    with pytest.raises(TypeError, match="unexpected keyword"):
        widgets.ChainExplorer(scale=2.0)


def _state(ex):
    return ({k: v.copy() for k, v in ex.cell.params.items()},
            {k: s.value for k, s in ex.sliders.items()},
            {k: c.value for k, c in ex.controls.items() if hasattr(c, "value")},
            ex.traces, ex._snapshot_png())


def _same_state(a, b):
    return (a[0].keys() == b[0].keys() and all(np.array_equal(a[0][k], b[0][k]) for k in a[0])
            and a[1:4] == b[1:4] and a[4] == b[4])


@pytest.mark.parametrize("exc", [Fault("failed"), KeyboardInterrupt()], ids=["error", "interrupt"])
@pytest.mark.parametrize("move", [("slider", "W_hh", 0.3), ("slider", "b_f", -1.0),
                                  ("control", "t", 7)], ids=["W_hh", "b_f", "t"])
def test_a_move_that_fails_anywhere_leaves_the_explorer_as_it_was(explorer, move, exc):
    ex = explorer()
    kind, key, value = move
    widget = (ex.sliders if kind == "slider" else ex.controls)[key]
    targets = [(cell, name) for cell in ex.cell.cells.values() for name in ("forward", "backward")]
    targets += [(gradients, "state_grads"), (ex, "_update_artists"), (ex, "_draw")]
    targets += [(d, "update") for d in ex.plots.values()]

    def do_move():
        widget.value = value

    assert sweep_an_explorer_move(ex, lambda: targets, do_move, exc, _state, _same_state) >= 10
    do_move()
    assert ex.error is None and widget.value == value
    check_explorer(ex)
