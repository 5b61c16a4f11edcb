"""Tests for lstm_lab.plots: helpers draw the trace's own numbers and update in place."""

import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_hex, to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lstm_lab as ll  # noqa: E402
from lstm_lab import plots  # noqa: E402

SYMBOLS = {  # what plot_gates shows for each cell: its gates, then c (with a cell state), h
    kind: [*cls.gate_names, *("c" * cls.has_cell_state), "h"] for kind, cls in ll.CELLS.items()
}
assert SYMBOLS["lstm"] == ["f", "i", "g", "o", "c", "h"] and SYMBOLS["gru"] == ["r", "z", "g", "h"]
assert SYMBOLS["rnn"] == ["h"]


def _values(trace, sym):
    return {"h": trace.h, "c": trace.c}.get(sym) if sym in "hc" else trace.gates[sym]


pytestmark = pytest.mark.usefixtures("leaves_matplotlib_as_it_was")


def make_trace(kind, T=12, D=1, H=3, B=None, seed=0):
    rng = np.random.default_rng(seed)
    cell = ll.CELLS[kind](D, H, seed=seed)
    shape = (T, D) if B is None else (T, B, D)
    x = rng.normal(size=shape)
    x[2] += 2.0  # a pulse, so the gates move
    hshape = (H,) if B is None else (B, H)
    kw = {"h0": 0.3 * rng.normal(size=hshape)}
    if cell.has_cell_state:
        kw["c0"] = 0.5 * rng.normal(size=hshape)
    return cell.forward(x, **kw)


def draw(fig):
    """Render fully under Agg (warnings are errors in this suite, missing glyphs included)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def legend_texts(ax):
    leg = ax.get_legend()
    return [] if leg is None else [t.get_text() for t in leg.get_texts()]


# --------------------------------------------------------------------------- colours and labels

def test_colors_are_distinct_hex_and_cover_every_symbol():
    keys = set("xfigochrzy")
    assert set(plots.COLORS) == keys
    assert set(plots.LABELS) == keys
    for k, c in plots.COLORS.items():
        assert re.fullmatch(r"#[0-9A-Fa-f]{6}", c), k
    assert len({c.lower() for c in plots.COLORS.values()}) == len(plots.COLORS)
    for k, lab in plots.LABELS.items():
        assert lab == f"${k}_t$", k


def test_importing_the_package_pulls_no_plotting_and_plots_pull_no_pyplot():
    code = ("import sys, lstm_lab\n"
            "assert 'matplotlib' not in sys.modules, 'import lstm_lab imported matplotlib'\n"
            "from lstm_lab import plots, diagram\n"
            "bad = [m for m in ('matplotlib.pyplot', 'ipywidgets', 'ipympl') if m in sys.modules]\n"
            "assert not bad, bad\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# --------------------------------------------------------------------------- plot_gates

@pytest.mark.parametrize("kind", list(SYMBOLS))
def test_plot_gates_draws_each_symbol_of_the_trace_on_a_fresh_figure(kind):
    trace = make_trace(kind)
    p = plots.plot_gates(trace, unit=1)
    assert isinstance(p.figure, Figure)
    assert p.gates == tuple(SYMBOLS[kind])
    assert set(p.lines) == {"x", *SYMBOLS[kind]}
    T = len(trace)
    for s in SYMBOLS[kind]:
        x, y = p.lines[s].get_data()
        np.testing.assert_array_equal(x, np.arange(1, T + 1), err_msg=s)
        np.testing.assert_allclose(y, _values(trace, s)[:, 1], err_msg=s)
        assert to_hex(p.lines[s].get_color()) == plots.COLORS[s].lower(), s
    np.testing.assert_allclose(p.lines["x"].get_ydata(), trace.x[:, 0], err_msg="x")
    # the panel legends name the symbols as the symbol table writes them
    shown = [t for ax in p.axes for t in legend_texts(ax)]
    assert shown == [plots.LABELS[s] for s in SYMBOLS[kind]
                     if s in "fiorz"] + [plots.LABELS[s] for s in SYMBOLS[kind] if s in "gch"]
    assert p.axes[-1].get_xlabel() == "time step t"
    assert p.panels["x"].get_ylabel() == plots.LABELS["x"]
    assert repr(p) == f"GatesPlot(unit=1, gates={','.join(SYMBOLS[kind])}, T={T})"
    draw(p.figure)


def test_plot_gates_on_a_given_figure_subfigure_and_axes():
    trace = make_trace("lstm")
    fig = Figure()
    p = plots.plot_gates(trace, fig=fig)
    assert p.figure is fig and all(ax.figure is fig for ax in p.axes)
    assert len(fig.axes) == 3
    assert p._repr_png_() is None  # the caller's figure shows itself

    fig2 = Figure()
    left, right = fig2.subfigures(1, 2)
    p2 = plots.plot_gates(trace, fig=left, gates=("f", "c"))
    assert p2.figure is fig2
    assert len(left.axes) == 3 and len(right.axes) == 0
    draw(fig2)

    fig3 = Figure()
    axes = fig3.subplots(2, 1)
    p3 = plots.plot_gates(trace, axes=axes, gates="f,i")
    assert p3.axes == list(axes) and set(p3.lines) == {"x", "f", "i"}
    np.testing.assert_allclose(axes[1].lines[0].get_ydata(), trace.gates["f"][:, 0], err_msg="f")

    with pytest.raises(ValueError, match="empty Figure"):
        plots.plot_gates(trace, fig=fig)  # already has axes
    with pytest.raises(ValueError, match="2 Axes"):
        plots.plot_gates(trace, axes=axes[:1], gates="fi")


@pytest.mark.parametrize("gates, label", [
    (("f", "c", "h"), "states"), (("i", "g", "c"), "candidate, states"),
    (("o", "h"), "hidden state"), (("f", "c"), "cell state"),
])
def test_plot_gates_names_the_state_panel_after_what_it_holds(gates, label):
    p = plots.plot_gates(make_trace("lstm"), fig=Figure(), gates=gates)
    assert p.panels["states"].get_ylabel() == label


def test_plot_gates_batched_trace_picks_the_sequence_and_unit():
    trace = make_trace("gru", T=7, D=2, H=3, B=2)
    p = plots.plot_gates(trace, unit=2, batch=1)
    for s in SYMBOLS["gru"]:
        np.testing.assert_allclose(p.lines[s].get_ydata(), _values(trace, s)[:, 1, 2], err_msg=s)
    np.testing.assert_allclose(p.x_lines[1].get_ydata(), trace.x[:, 1, 1], err_msg="x[1]")
    assert legend_texts(p.panels["x"]) == ["$x_{t,0}$", "$x_{t,1}$"]


def test_plot_gates_update_changes_the_same_lines_in_place():
    cell = ll.LSTMCell(1, 2, seed=3)
    p = plots.plot_gates(cell.forward(np.zeros((10, 1))), unit=0)
    lines_before = dict(p.lines)
    n_artists = [len(ax.get_children()) for ax in p.axes]
    before = draw(p.figure)

    cell.params["b_f"] = np.array([4.0, -4.0])
    cell.params["W_xg"][:] = 2.0
    x = np.sin(np.arange(15.0))[:, None] * 3.0
    trace = cell.forward(x)
    assert p.update(trace) is p
    assert p.lines == lines_before  # the very same Line2D objects
    assert [len(ax.get_children()) for ax in p.axes] == n_artists
    for s in SYMBOLS["lstm"]:
        np.testing.assert_allclose(p.lines[s].get_ydata(), _values(trace, s)[:, 0], err_msg=s)
        np.testing.assert_array_equal(p.lines[s].get_xdata(), np.arange(1, 16), err_msg=s)
    assert p.T == 15 and p.axes[0].get_xlim() == (0.5, 15.5)
    # every value stays inside its panel's y-limits
    for name, ax in p.panels.items():
        lo, hi = ax.get_ylim()
        for ln in ax.get_lines():
            y = np.asarray(ln.get_ydata(), dtype=float)
            if y.size > 2:
                assert lo <= y.min() and y.max() <= hi, name
    assert not np.array_equal(before, draw(p.figure))


def test_plot_gates_set_time_marks_every_panel():
    p = plots.plot_gates(make_trace("lstm"))
    p.set_time(4)
    assert len(p._markers) == len(p.axes)
    assert all(list(m.get_xdata()) == [4, 4] and m.get_visible() for m in p._markers)
    p.set_time(None)
    assert not any(m.get_visible() for m in p._markers)


@pytest.mark.parametrize("where", ["above", "right", "inside", None])
def test_plot_gates_legend_places(where):
    p = plots.plot_gates(make_trace("gru"), legend=where)
    assert (p.panels["gates"].get_legend() is None) == (where is None)
    draw(p.figure)


def test_plot_gates_bad_input():
    trace = make_trace("lstm", H=3)
    with pytest.raises(ValueError, match=r"unit must be in 0\.\.2"):
        plots.plot_gates(trace, unit=3)
    with pytest.raises(ValueError, match="batch must be 0"):
        plots.plot_gates(trace, batch=1)
    with pytest.raises(ValueError, match="subset of f, i, g, o, c, h"):
        plots.plot_gates(trace, gates=["r"])
    with pytest.raises(ValueError, match="legend"):
        plots.plot_gates(trace, legend="below")
    with pytest.raises(TypeError, match="trace"):
        plots.plot_gates(np.zeros((5, 3)))
    with pytest.raises(TypeError, match="unit must be an int"):
        plots.plot_gates(trace, unit=0.5)
    p = plots.plot_gates(trace)
    with pytest.raises(ValueError, match="has no f, i, o, c"):
        p.update(make_trace("gru"))


# --------------------------------------------------------------------------- plot_heatmap

def test_plot_heatmap_shows_time_by_units_and_updates_in_place():
    trace = make_trace("lstm", T=9, D=2, H=5, B=3)
    hm = plots.plot_heatmap(trace, gate="i", batch=2)
    np.testing.assert_allclose(hm.image.get_array(), trace.gates["i"][:, 2, :].T, err_msg="i")
    assert hm.image.get_extent() == [0.5, 9.5, -0.5, 4.5]
    assert hm.image.get_clim() == (0.0, 1.0)
    assert hm.colorbar.ax.get_ylabel() == "$i_t$"
    assert hm.ax.get_xlabel() == "time step t" and hm.ax.get_ylabel() == "unit"
    assert repr(hm) == "HeatmapPlot(gate=i, T=9, H=5)"
    image = hm.image
    longer = ll.LSTMCell(2, 5, seed=1).forward(np.ones((14, 3, 2)))
    hm.update(longer)
    assert hm.image is image
    np.testing.assert_allclose(hm.image.get_array(), longer.gates["i"][:, 2, :].T, err_msg="i")
    assert hm.image.get_extent() == [0.5, 14.5, -0.5, 4.5]
    hm.set_time(3)
    draw(hm.figure)


@pytest.mark.parametrize("gate", ["c", "h", "g"])
def test_plot_heatmap_diverging_maps_for_tanh_range_values(gate):
    trace = make_trace("lstm", T=6, H=4)
    trace.c[2, 1] = 3.0  # a cell state beyond the tanh range widens the colour range
    fig = Figure()
    ax = fig.add_subplot()
    hm = plots.plot_heatmap(trace, gate=gate, ax=ax)
    assert hm.ax is ax and hm.figure is fig
    lo, hi = hm.image.get_clim()
    assert lo == -hi
    assert hi >= (3.0 if gate == "c" else 1.0)
    np.testing.assert_allclose(hm.image.get_array(), _values(trace, gate).T, err_msg=gate)


def test_plot_heatmap_bad_gate():
    with pytest.raises(ValueError, match="r, z, g, h"):
        plots.plot_heatmap(make_trace("gru"), gate="f")


# --------------------------------------------------------------------------- plot_activation

@pytest.mark.parametrize("kind,letter", [("sigmoid", "f"), ("sigmoid", "o"), ("tanh", "g")])
def test_plot_activation_marks_the_trace_preactivations_on_the_curve(kind, letter):
    trace = make_trace("lstm", T=10)
    pre = trace.preacts[letter][:, 0]
    p = plots.plot_activation(kind, pre, symbol=letter)
    np.testing.assert_allclose(p.markers.get_xdata(), pre, err_msg=letter)
    # the marker heights are the gate values the cell computed
    np.testing.assert_allclose(p.markers.get_ydata(), trace.gates[letter][:, 0], rtol=1e-12,
                               err_msg=letter)
    a, y = p.curve.get_data()
    ref = 1 / (1 + np.exp(-a)) if kind == "sigmoid" else np.tanh(a)
    np.testing.assert_allclose(y, ref, atol=1e-12, err_msg="curve")
    assert legend_texts(p.ax) == ["saturated", "near linear",
                                  r"$\sigma$" if kind == "sigmoid" else r"$\tanh$",
                                  plots.LABELS[letter]]
    assert p.ax.get_ylabel() == plots.LABELS[letter]
    assert to_hex(p.markers.get_markerfacecolor()) == plots.COLORS[letter].lower()
    assert repr(p) == f"ActivationPlot(kind={kind}, symbol={letter}, n=10)"
    draw(p.figure)


def test_plot_activation_regions_follow_the_slope():
    p = plots.plot_activation("sigmoid")
    spans = [c for c in p.ax.patches]
    sat = [s for s in spans if s.get_label() == "saturated"][0]
    edge = sat.get_bbox().x1  # the left saturated region ends where the slope is 10% of max
    s = 1 / (1 + np.exp(-edge))
    assert s * (1 - s) == pytest.approx(0.1 * 0.25, rel=1e-6)
    lin = [s for s in spans if s.get_label() == "near linear"][0]
    e = lin.get_bbox().x1
    t = 1 / (1 + np.exp(-e))
    assert t * (1 - t) == pytest.approx(0.8 * 0.25, rel=1e-6)
    assert p.n == 0 and len(p.markers.get_xdata()) == 0


def test_plot_activation_update_moves_markers_and_widens_for_large_values():
    fig = Figure()
    ax = fig.add_subplot()
    p = plots.plot_activation("tanh", [0.0], ax=ax)
    markers, curve = p.markers, p.curve
    p.update(np.array([[-20.0, 1.0]]))
    assert p.markers is markers and p.curve is curve
    np.testing.assert_allclose(p.markers.get_ydata(), np.tanh([-20.0, 1.0]), err_msg="tanh")
    assert p.ax.get_xlim()[0] <= -20.0
    assert curve.get_xdata().min() <= -20.0
    draw(fig)


def test_plot_activation_bad_input():
    with pytest.raises(ValueError, match="'sigmoid' or 'tanh'"):
        plots.plot_activation("relu")
    with pytest.raises(ValueError, match="kind='tanh'"):
        plots.plot_activation("sigmoid", symbol="g")
    with pytest.raises(ValueError, match="finite"):
        plots.plot_activation("sigmoid", [np.nan])


# --------------------------------------------------------------------------- plot_conveyor

def _bar_heights(collection):
    return np.array([p.vertices[1, 1] for p in collection.get_paths()])


@pytest.mark.parametrize("kind", ["lstm", "peephole", "coupled"])
def test_plot_conveyor_bars_are_what_the_gates_removed_and_added(kind):
    trace = make_trace(kind, T=10, H=2)
    p = plots.plot_conveyor(trace, unit=1)
    c, f, i, g = (trace.c[:, 1], trace.gates["f"][:, 1], trace.gates["i"][:, 1],
                  trace.gates["g"][:, 1])
    c_prev = np.concatenate([[trace.c0[1]], c[:-1]])
    np.testing.assert_allclose(p.lines["c"].get_ydata(), c, err_msg="c")
    np.testing.assert_array_equal(p.lines["c"].get_xdata(), np.arange(1, 11), err_msg="t")
    np.testing.assert_allclose(p.lines["c0"].get_data(), [[0, 1], [trace.c0[1], c[0]]],
                               err_msg="c0")
    np.testing.assert_allclose(_bar_heights(p.removed), -(1 - f) * c_prev, err_msg="removed")
    np.testing.assert_allclose(_bar_heights(p.added), i * g, err_msg="added")
    # the two bars are the whole change of the cell state
    np.testing.assert_allclose(c_prev + p.removed_values + p.added_values, c, atol=1e-12,
                               err_msg="c_t = c_{t-1} - removed + added")
    assert legend_texts(p.ax) == ["$c_t$", r"removed: $-(1-f_t)\,c_{t-1}$",
                                  r"added: $i_t\,g_t$"]
    assert to_rgba(p.removed.get_facecolor()[0])[:3] == to_rgba(plots.COLORS["f"])[:3]
    draw(p.figure)


def test_plot_conveyor_update_in_place_with_new_length():
    fig = Figure()
    ax = fig.add_subplot()
    p = plots.plot_conveyor(make_trace("lstm", T=5), ax=ax)
    removed, added, line = p.removed, p.added, p.lines["c"]
    trace = make_trace("lstm", T=20, seed=4)
    p.update(trace)
    assert (p.removed, p.added, p.lines["c"]) == (removed, added, line)
    assert len(p.removed.get_paths()) == 20
    np.testing.assert_allclose(line.get_ydata(), trace.c[:, 0], err_msg="c")
    lo, hi = ax.get_ylim()
    assert lo <= min(trace.c[:, 0].min(), p.removed_values.min()) and hi >= trace.c[:, 0].max()
    p.set_time(7)
    assert repr(p) == "ConveyorPlot(unit=0, T=20)"
    draw(fig)


def test_plot_conveyor_needs_a_cell_state():
    for kind in ("gru", "rnn"):
        with pytest.raises(ValueError, match="LSTM family"):
            plots.plot_conveyor(make_trace(kind))


# --------------------------------------------------------------------------- plot_gradient_norms

def test_plot_gradient_norms_log_scale_colours_and_update():
    k = np.arange(25)
    curves = {"rnn": 0.5 ** k, "lstm": 0.97 ** k, "gru": 0.9 ** k}
    p = plots.plot_gradient_norms(curves)
    assert p.ax.get_yscale() == "log"
    assert legend_texts(p.ax) == ["rnn", "lstm", "gru"]
    for name, y in curves.items():
        np.testing.assert_allclose(p.lines[name].get_ydata(), y, err_msg=name)
        np.testing.assert_array_equal(p.lines[name].get_xdata(), k, err_msg=name)
        assert p.lines[name].get_color() == plots.CELL_COLORS[name]
    lo, hi = p.ax.get_ylim()
    assert lo < 0.5 ** 24 and hi > 1.0
    draw(p.figure)

    rnn_line = p.lines["rnn"]
    y = np.r_[1.0, 0.0, 1e-3, np.inf, 2.0]  # zeros and infinities cannot sit on a log axis
    p.update({"rnn": y, "lstm b_f=3": 0.99 ** k})
    assert p.lines["rnn"] is rnn_line
    np.testing.assert_allclose(rnn_line.get_ydata(), [1.0, np.nan, 1e-3, np.nan, 2.0],
                               err_msg="masked")
    assert set(p.lines) == {"rnn", "lstm b_f=3"}
    assert p.lines["lstm b_f=3"].get_color() not in plots.CELL_COLORS.values()
    assert legend_texts(p.ax) == ["rnn", "lstm b_f=3"]
    assert len(p.ax.get_lines()) == 2
    draw(p.figure)


def test_plot_gradient_norms_on_a_given_ax_and_bad_input():
    fig = Figure()
    ax = fig.add_subplot()
    p = plots.plot_gradient_norms({"a": [1.0, 0.1]}, ax=ax, ylabel="norm",
                                  colors={"a": "#123456"})
    assert p.ax is ax and ax.get_ylabel() == "norm" and p.lines["a"].get_color() == "#123456"
    with pytest.raises(TypeError, match="dict"):
        plots.plot_gradient_norms([1, 2, 3])
    with pytest.raises(ValueError, match="1-D"):
        plots.plot_gradient_norms({"a": np.ones((2, 2))})


# --------------------------------------------------------------------------- coloured text

def test_plot_text_colored_one_cell_per_character():
    text = "ab <c>\nnext line is longer than four"
    values = np.linspace(-1, 1, len(text))
    p = plots.plot_text_colored(text, values, width=8)
    assert len(p.texts) == len(text)
    shown = [t.get_text() for t in p.texts]
    assert shown[:7] == ["a", "b", "", "<", "c", ">", "\u21b5"]
    assert p.rows[0] == list(range(7))            # the newline ends the first line
    assert all(len(r) <= 8 for r in p.rows)       # long lines wrap at the width
    grid = np.asarray(p.image.get_array().filled(np.nan))
    for r, row in enumerate(p.rows):
        np.testing.assert_allclose(grid[r, : len(row)], values[row], err_msg=f"row {r}")
        assert np.all(np.isnan(grid[r, len(row):])), r
    texts = list(p.texts)
    p.update(-values)
    assert p.texts == texts
    np.testing.assert_allclose(np.asarray(p.image.get_array().filled(np.nan))[0, :7],
                               -values[:7], err_msg="updated")
    assert repr(p) == f"TextPlot(chars={len(text)}, rows={len(p.rows)})"
    draw(p.figure)


def test_plot_text_colored_unknown_glyphs_and_new_text():
    fig = Figure()
    ax = fig.add_subplot()
    p = plots.plot_text_colored("LSTM \ud55c\uad6d\uc5b4", [0.1] * 8, ax=ax)  # Hangul: no glyph
    assert [t.get_text() for t in p.texts][-3:] == ["?", "?", "?"]
    draw(fig)  # no missing-glyph warning (warnings are errors here)
    p.update([0.5, np.nan], text="hi")
    assert [t.get_text() for t in p.texts] == ["h", "i"] and len(ax.texts) == 2
    with pytest.raises(ValueError, match=r"shape \(len\(text\),\) = \(2,\)"):
        p.update([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="width"):
        plots.plot_text_colored("abc", [0, 0, 0], width=0)


def test_text_html_escapes_and_colours_each_character():
    text = 'a<b>&"\nz'
    out = plots.text_html(text, [-1.0, 0.0, 1.0, 0.5, -0.5, 0.2, 0.0, np.nan])
    assert out.startswith("<div") and out.endswith("</div>")
    assert out.count("<span") == len(text)
    assert "&lt;" in out and "&gt;" in out and "&amp;" in out and "&quot;" in out
    assert "<b>" not in out
    assert "\u21b5</span><br>" in out
    titles = re.findall(r'title="([^"]*)"', out)
    assert titles == ["-1.000", "0.000", "1.000", "0.500", "-0.500", "0.200", "0.000", "nan"]
    import matplotlib as mpl
    first = re.search(r"background-color: (#[0-9a-f]{6})", out).group(1)
    assert first == to_hex(mpl.colormaps["coolwarm"](0.0))
    wrapped = plots.text_html("abcdef", np.zeros(6), width=2)
    assert wrapped.count("<br>") == 3


# --------------------------------------------------------------------------- parameter counts

def test_plot_param_counts_labels_exact_counts_and_updates():
    cells = {name: cls(10, 20, seed=0) for name, cls in ll.CELLS.items()}
    p = plots.plot_param_counts(cells)
    for name, cell in cells.items():
        assert p.counts[name] == cell.num_params
        assert p.bars[name].get_height() == cell.num_params
        assert p.labels[name].get_text() == f"{cell.num_params:,}"
        assert to_hex(p.bars[name].get_facecolor()) == plots.CELL_COLORS[name].lower()
    assert [t.get_text() for t in p.ax.get_xticklabels()] == list(cells)
    assert p.counts["lstm"] == 4 * (20 * 10 + 20 * 20 + 20)
    draw(p.figure)
    bars = dict(p.bars)
    p.update({name: 1000 + k for k, name in enumerate(cells)})
    assert p.bars == bars and p.labels["rnn"].get_text() == "1,000"
    assert p.bars["gru"].get_height() == 1004
    p.update({"tiny": 3, "big": 12345})
    assert list(p.bars) == ["tiny", "big"] and len(p.ax.patches) == 2
    assert repr(p) == "BarsPlot(tiny=3, big=12345)"
    draw(p.figure)
    with pytest.raises(TypeError, match="cell .*or an int"):
        plots.plot_param_counts({"x": "many"})
    with pytest.raises(TypeError, match="non-empty dict"):
        plots.plot_param_counts({})


# --------------------------------------------------------------------------- all helpers

def _every_plot():
    trace = make_trace("lstm")
    return [plots.plot_gates(trace), plots.plot_heatmap(trace), plots.plot_conveyor(trace),
            plots.plot_activation("sigmoid", trace.preacts["f"][:, 0], symbol="f"),
            plots.plot_gradient_norms({"lstm": np.ones(4)}),
            plots.plot_text_colored("hi", [0, 1]), plots.plot_param_counts({"rnn": 5})]


def test_reprs_show_no_memory_address_and_fresh_figures_display_as_png():
    for p in _every_plot():
        assert "0x" not in repr(p) and " at " not in repr(p), repr(p)
        png = p._repr_png_()
        assert png[:8] == b"\x89PNG\r\n\x1a\n", type(p).__name__
        assert p.figure.canvas.figure is p.figure


def test_helpers_draw_into_a_given_ax_without_touching_other_axes():
    trace = make_trace("lstm")
    fig = Figure()
    axes = fig.subplots(2, 3)
    made = [plots.plot_heatmap(trace, ax=axes[0, 0]), plots.plot_conveyor(trace, ax=axes[0, 1]),
            plots.plot_activation("tanh", ax=axes[0, 2]),
            plots.plot_gradient_norms({"rnn": [1, 0.5]}, ax=axes[1, 0]),
            plots.plot_text_colored("ok", [0, 0], ax=axes[1, 1]),
            plots.plot_param_counts({"lstm": 7}, ax=axes[1, 2])]
    for p, ax in zip(made, axes.flat, strict=True):
        assert p.ax is ax and p.figure is fig
    draw(fig)
