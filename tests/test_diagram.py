"""Tests for lstm_lab.diagram: each step highlights its own artists; values come from the trace."""

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

import lstm_lab as ll  # noqa: E402
from lstm_lab import diagram, plots  # noqa: E402

KINDS = list(ll.CELLS)  # every registered cell; the five below at least, with these steps
STEPS = {
    "lstm": ("forget", "input", "update", "output"),
    "peephole": ("forget", "input", "update", "output"),
    "coupled": ("forget", "input", "update", "output"),
    "gru": ("reset", "update", "candidate", "output"),
    "rnn": ("hidden",),
}


pytestmark = pytest.mark.usefixtures("leaves_matplotlib_as_it_was")


def make_trace(kind, T=4, D=1, H=2, B=None, seed=0):
    rng = np.random.default_rng(seed)
    cell = ll.CELLS[kind](D, H, seed=seed)
    x = rng.normal(size=(T, D) if B is None else (T, B, D))
    shape = (H,) if B is None else (B, H)
    kw = {"h0": rng.normal(size=shape)}  # non-zero initial states, so t = 1 is checked
    if cell.has_cell_state:
        kw["c0"] = rng.normal(size=shape)
    return cell.forward(x, **kw)


def render(fig):
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def fmt(v):
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


def test_steps_table_matches_the_documented_steps():
    assert STEPS.items() <= diagram.STEPS.items()
    assert diagram.KINDS == tuple(KINDS)
    assert all(diagram.STEPS[k] == ll.CELLS[k].diagram.steps for k in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_each_step_highlights_its_own_artists(kind):
    d = diagram.draw_cell(kind)
    assert d.steps == diagram.STEPS[kind]
    assert set(d.step_artists) == set(diagram.STEPS[kind])
    sets = {s: set(map(id, arts)) for s, arts in d.step_artists.items()}
    for s, ids in sets.items():
        assert ids, f"step {s} has no artists"
    for a, b in itertools.combinations(d.steps, 2):
        assert sets[a] != sets[b], f"{kind}: steps {a} and {b} highlight the same artists"
    everything = set(map(id, d._base))
    n_children = len(d.ax.get_children())
    before = render(d.figure)
    for s in d.steps:
        assert d.highlight(s) is d and d.current == s
        lit = d.step_artists[s]
        faded = [a for a in d._base if id(a) not in sets[s]]
        assert all(a.get_alpha() == 1.0 for a in lit), s
        assert all(a.get_alpha() < 0.3 for a in faded), s
        if faded:
            assert min(a.get_alpha() for a in lit) > max(a.get_alpha() for a in faded)
        # wires of the step are drawn thicker than when nothing is highlighted
        for a in lit:
            lw = d._base[a][0]
            if lw:
                assert a.get_linewidth() > lw, (s, a)
        assert len(d.ax.get_children()) == n_children  # in place: nothing added or removed
        if len(d.steps) > 1:
            assert sets[s] != everything
            assert not np.array_equal(render(d.figure), before), s
    d.highlight(None)
    assert d.current is None
    assert all(a.get_alpha() == 1.0 for a in d._base)
    assert all(a.get_linewidth() == lw for a, (lw, _) in d._base.items() if lw is not None)
    np.testing.assert_array_equal(render(d.figure), before, err_msg="highlight(None) restores")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("t", [1, 3])
def test_show_values_writes_the_trace_values_of_step_t(kind, t):
    trace = make_trace(kind, T=4, H=2)
    u = 1
    d = diagram.draw_cell(kind, trace=trace, t=t, unit=u)
    r = t - 1
    want = {"h": trace.h[r, u], "h_prev": trace.h[r - 1, u] if t > 1 else trace.h0[u],
            "x": trace.x[r, 0]}
    for k, v in trace.gates.items():
        want[k] = v[r, u]
    if trace.c is not None:
        want["c"] = trace.c[r, u]
        want["c_prev"] = trace.c[r - 1, u] if t > 1 else trace.c0[u]
        want["fc"] = want.get("f", 1.0) * want["c_prev"]  # a removed gate is 1
        want["ig"] = want.get("i", 1.0) * want["g"]
    spec = ll.CELLS[kind].diagram
    if spec.layout == "gru" and spec.gates[1] is None:  # the update slot is 1 - the gate
        want["z"] = 1.0 - want[spec.gates[0]]
    shown = {k for k, txt in d.value_texts.items() if txt.get_text()}
    assert shown == set(want) | {"t"}
    for key, v in want.items():
        assert d.value_texts[key].get_text() == "=" + fmt(v), key
    assert d.value_texts["t"].get_text() == f"t = {t}"
    # the symbol of each wire stays beside its value, as the symbol table writes it
    assert d.symbol_texts["h_prev"].get_text() == "$h_{t-1}$"
    for g in trace.gates:
        assert d.symbol_texts[g].get_text() == plots.LABELS[g]
    assert repr(d) == f"CellDiagram(kind={kind}, highlight=None, t={t})"
    render(d.figure)


def test_show_values_updates_the_same_text_artists():
    trace = make_trace("lstm", T=5)
    d = diagram.draw_cell("lstm", highlight="update", trace=trace, t=2)
    texts = dict(d.value_texts)
    n = len(d.ax.texts)
    first = render(d.figure)
    d.show_values(trace, 5)
    assert d.value_texts == texts and len(d.ax.texts) == n
    assert d.value_texts["c"].get_text() == "=" + fmt(trace.c[4, 0])
    assert d.value_texts["c_prev"].get_text() == "=" + fmt(trace.c[3, 0])
    assert not np.array_equal(first, render(d.figure))
    d.clear_values()
    assert all(t.get_text() == "" for t in d.value_texts.values())
    assert d.symbol_texts["fc"].get_text() == ""  # the products show only with values
    assert repr(d) == "CellDiagram(kind=lstm, highlight=update)"


def test_show_values_batched_trace_and_wide_input():
    trace = make_trace("gru", T=3, D=4, H=3, B=2)
    d = diagram.draw_cell("gru", trace=trace, t=2, batch=1, unit=2)
    assert d.value_texts["z"].get_text() == "=" + fmt(trace.gates["z"][1, 1, 2])
    assert d.value_texts["h_prev"].get_text() == "=" + fmt(trace.h[0, 1, 2])
    xs = ", ".join(fmt(v) for v in trace.x[1, 1, :3])
    assert d.value_texts["x"].get_text() == f"=({xs}, \u2026)"


def test_draws_on_a_given_ax_with_colours_of_the_symbol_table():
    fig = Figure(figsize=(4, 2.2))
    ax = fig.add_axes((0, 0, 1, 1))
    d = diagram.draw_cell("lstm", ax=ax)
    assert d.ax is ax and d.figure is fig
    assert d._repr_png_() is None
    assert d.scale < 1.0  # a smaller panel gets smaller text and lines
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    fills = {to_rgba(p.get_facecolor()) for p in boxes}
    for letter in "figo":
        assert to_rgba(plots.COLORS[letter]) in fills, letter
    render(fig)
    png = diagram.draw_cell("gru")._repr_png_()
    assert png[:4] == b"\x89PNG"


def test_variants_differ_from_the_plain_lstm():
    plain = diagram.draw_cell("lstm")
    peep = diagram.draw_cell("peephole")
    coupled = diagram.draw_cell("coupled")
    dashed = [p for p in peep.ax.patches if p.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == 3  # c_{t-1} into f and i, c_t into o
    assert not [p for p in plain.ax.patches if p.get_linestyle() not in ("-", "solid")]
    layer_colours = {to_rgba(p.get_facecolor()) for p in coupled.ax.patches
                     if isinstance(p, FancyBboxPatch)}
    assert to_rgba(plots.COLORS["f"]) not in layer_colours  # no forget layer: f_t = 1 - i_t
    assert "1\u2212" in [t.get_text() for t in coupled.ax.texts]
    assert "1\u2212" in [t.get_text() for t in diagram.draw_cell("gru").ax.texts]


def test_bad_input():
    with pytest.raises(ValueError, match="forget, input, update, output"):
        diagram.draw_cell("lstm", highlight="reset")
    with pytest.raises(ValueError, match="reset, update, candidate, output"):
        diagram.draw_cell("gru", highlight="forget")
    with pytest.raises(ValueError, match="rnn, lstm, peephole, coupled, gru"):
        diagram.draw_cell("transformer")
    with pytest.raises(TypeError, match="kind must be a str"):
        diagram.draw_cell(3)
    trace = make_trace("lstm", T=4)
    d = diagram.draw_cell("lstm")
    with pytest.raises(ValueError, match=r"1\.\.T \(T=4\); got 0"):
        d.show_values(trace, 0)
    with pytest.raises(ValueError, match=r"got 5"):
        d.show_values(trace, 5)
    with pytest.raises(ValueError, match="'gru'"):
        d.show_values(make_trace("gru"), 1)
    with pytest.raises(ValueError, match="unit"):
        d.show_values(trace, 1, unit=2)
    with pytest.raises(ValueError, match="batch must be 0"):
        d.show_values(trace, 1, batch=1)
    with pytest.raises(TypeError, match="trace"):
        d.show_values(np.zeros((4, 2)), 1)
    with pytest.raises(ValueError, match="without a trace"):
        diagram.draw_cell("lstm", t=2)
    with pytest.raises(ValueError, match="scale"):
        diagram.draw_cell("lstm", scale=0)


@pytest.mark.parametrize("kind", KINDS)
def test_removed_parts_are_drawn_faded_whatever_is_highlighted(kind):
    """A variant that removes a gate (or a squashing) still shows where it was, faded."""
    cls = ll.CELLS[kind]
    d = diagram.draw_cell(kind)
    removed = set(cls.diagram.absent) | set(cls.diagram.linear) & {"c"}
    if cls.diagram.layout == "lstm":  # which of the standard gates the cell lacks
        assert set(cls.diagram.absent) == {"f", "i", "o"} - set(cls.gate_names)
    assert bool(d.absent_artists) == bool(removed)
    everything = {id(a) for arts in d.step_artists.values() for a in arts}
    assert not everything & {id(a) for a in d.absent_artists}
    for step in (None, *d.steps):
        d.highlight(step)
        assert all(a.get_alpha() < 0.3 for a in d.absent_artists), step
    d.show_values(make_trace(kind), 2)
    render(d.figure)


# ------------------------------------------------------------------ labels stay clear


def _label_boxes(d, renderer):
    """Each wire label (symbol and value together) as a display-space box, slightly shrunk."""
    from matplotlib.transforms import Bbox

    boxes = {}
    for key, value in d.value_texts.items():
        parts = [t.get_window_extent(renderer) for t in (d.symbol_texts.get(key), value)
                 if t is not None and t.get_text()]
        if parts:
            boxes[key] = Bbox.union(parts).shrunk(0.98, 0.9)
    return boxes


def _clashes(d, renderer):
    """(label, what it runs into) for every label that touches another label, a wire, a node
    or a box of the diagram (the rounded cell box around everything excepted)."""
    boxes = _label_boxes(d, renderer)
    found = [(a, b) for a in boxes for b in boxes if a < b and boxes[a].overlaps(boxes[b])]
    t = np.linspace(0.0, 1.0, 60)
    for key, box in boxes.items():
        for line in d.ax.lines:
            xy = d.ax.transData.transform(np.column_stack(line.get_data()))
            if len(xy) == 1:  # a node drawn as a marker
                xy = np.repeat(xy, 2, axis=0)
            for (x0, y0), (x1, y1) in zip(xy[:-1], xy[1:], strict=True):
                px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
                if np.any((px > box.x0) & (px < box.x1) & (py > box.y0) & (py < box.y1)):
                    found.append((key, "a wire or node"))
                    break
        for patch in d.ax.patches:
            extent = patch.get_window_extent(renderer)
            if extent.width < 0.5 * d.ax.bbox.width and extent.overlaps(box):
                found.append((key, type(patch).__name__))
    return found


@pytest.mark.parametrize("name", ["forget", "input", "update", "output", "lstm"])
def test_the_explorers_diagram_labels_do_not_run_into_anything(name):
    from lstm_lab import widgets

    ex = widgets.EXPLORERS[name]()
    try:
        ex.figure.canvas.draw()
        d = ex.plots["diagram"]
        assert _clashes(d, ex.figure.canvas.get_renderer()) == []
    finally:
        ex.close()


def test_the_clash_check_can_fail():
    """A label long enough to run into the forget gate's x node is reported."""
    from lstm_lab import widgets

    ex = widgets.EXPLORERS["update"]()
    try:
        d = ex.plots["diagram"]
        d.value_texts["c_prev"].set_text("=0.00 with a value far too long for its place")
        ex.figure.canvas.draw()
        clashes = _clashes(d, ex.figure.canvas.get_renderer())
        assert {what for key, what in clashes if key == "c_prev"} >= {"fc", "Circle"}, clashes
    finally:
        ex.close()
