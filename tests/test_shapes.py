"""Sequence shapes: the figures draw for any T, write the shapes a real forward pass gives, and
the shapes explorer keeps the widgets contract."""

import functools
import re
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
from test_diagram import _clashes, _label_boxes  # noqa: E402  (the label-clash checker)
from test_widgets import pixels  # noqa: E402  (an explorer's pixels)

import lstm_lab as ll  # noqa: E402
from lstm_lab import diagram, widgets  # noqa: E402
from lstm_lab.attention import Seq2Seq  # noqa: E402
from lstm_lab.networks import build  # noqa: E402
from lstm_lab.train import SequenceModel  # noqa: E402

SHAPES = ["one_to_one", "one_to_many", "many_to_one", "many_to_many", "encoder_decoder",
          "stacked", "bidirectional"]


pytestmark = pytest.mark.usefixtures("leaves_matplotlib_as_it_was")


@pytest.fixture
def explorer(make_explorer):
    """Build a 'shapes' explorer with keywords; it is closed after the test."""
    return functools.partial(make_explorer, "shapes")


def written(d):
    """What the figure writes on its arrows: name -> (dims, sizes) read back from the labels."""
    out = {}
    for key, text in d.value_texts.items():
        if not text.get_text():
            continue
        sizes = tuple(int(v) for v in re.findall(r"\d+", text.get_text()))
        dims = re.search(r"\(([^)]*)\)$", d.symbol_texts[key].get_text()).group(1).split(",")
        out[key] = (tuple(s.strip() for s in dims if s.strip()), sizes)
    return out


# ------------------------------------------------------------------ real forward passes


def forward_shapes(shape, T, D, H, K, B, S=None, kind="lstm"):
    """name -> shape of the array the package's network of that shape computes (independent of
    ``widgets.shape_forward``: built here from the public classes)."""
    rng = np.random.default_rng(1)
    b = () if B is None else (B,)
    S = T if S is None else S
    if shape == "encoder_decoder":
        model = Seq2Seq(ll.CELLS[kind](D, H), ll.CELLS[kind](K + 1, H), K)
        x, d = rng.normal(size=(S, *b, D)), rng.normal(size=(T, *b, K + 1))
        tr = model.forward((x, d))
        assert model.predict((x, np.eye(K + 1)[np.full((T, *b), K)])).shape == tr.output.shape
        return {"x": x.shape, "context": tr.encoder.final.h.shape, "d": d.shape,
                "y": tr.output.shape}
    if shape == "stacked":
        net = ll.Stacked([ll.CELLS[kind](D, H), ll.CELLS[kind](H, H)])
        x = rng.normal(size=(T, *b, D))
        tr = SequenceModel(net, K, many_to_one=False).forward(x)
        assert net.layers[1].input_size == tr.cell.layers[0].h.shape[-1]
        return {"x": x.shape, "h1": tr.cell.layers[0].h[0].shape,
                "between": tr.cell.layers[0].h.shape, "h2": tr.cell.layers[1].h[0].shape,
                "y": tr.output.shape}
    if shape == "bidirectional":
        net = build(kind, D, H, bidirectional=True)
        x = rng.normal(size=(T, *b, D))
        tr = SequenceModel(net, K, many_to_one=False).forward(x)
        return {"x": x.shape, "h_fwd": tr.cell.fwd.h[0].shape, "h_bwd": tr.cell.bwd.h[0].shape,
                "h": tr.cell.h.shape, "y": tr.output.shape}
    model = SequenceModel(ll.CELLS[kind](D, H), K, many_to_one=shape in ("one_to_one",
                                                                         "many_to_one"))
    if shape == "one_to_one":
        x = rng.normal(size=(*b, D))
        tr = model.forward(x[None])
        return {"x": x.shape, "h": tr.h[0].shape, "y": tr.output.shape}
    if shape == "one_to_many":
        x1 = rng.normal(size=(*b, D))
        first = model.forward(x1[None])
        ys, state, x = [first.output[0]], first.final, None
        for _ in range(T - 1):
            x = np.eye(K)[ys[-1].argmax(-1)]                        # fed back: D = K
            tr = model.forward(x[None], h0=state.h, c0=state.c)
            ys.append(tr.output[0])
            state = tr.final
        return {"x": x1.shape, "h": first.h[0].shape, "y": np.stack(ys).shape}
    x = rng.normal(size=(T, *b, D))
    tr = model.forward(x)
    return {"x": x.shape, "h": tr.h[0].shape, "y": tr.output.shape}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("B", [None, 5])
def test_the_written_shapes_are_those_of_a_real_forward_pass(shape, B):
    T, D, H, K = 7, 3, 6, 4
    if shape == "one_to_many":
        D = K
    d = diagram.draw_shape(shape, T=T, D=D, H=H, K=K, B=B, S=9)
    real = forward_shapes(shape, T, D, H, K, B, S=9)
    shown = written(d)
    assert set(shown) == set(real), "every tensor the network makes is labelled, nothing else"
    sizes = {"T": T, "S": 9, "B": B, "D": D, "H": H, "K": K, "2H": 2 * H, "K+1": K + 1}
    for name, (dims, numbers) in shown.items():
        assert numbers == real[name], name
        assert tuple(sizes[s] for s in dims) == numbers, (name, dims)   # symbols agree
        assert "B" in dims if B is not None else "B" not in dims
    assert {k: t.sizes for k, t in d.tensors.items()} == real
    if shape == "bidirectional":
        assert shown["h"][0][-1] == "2H"
    if shape == "stacked":
        assert shown["between"][0] == (("T", "B", "H") if B else ("T", "H"))   # layer 2 input
    # the explorer's own forward pass agrees as well
    assert widgets.shape_forward(shape, T=T, D=D, H=H, K=K, B=B, S=9)[1] == real


def test_a_figure_refuses_a_measured_shape_it_does_not_write():
    d = diagram.draw_shape("bidirectional", T=4, D=3, H=5, K=2, B=2)
    d.update(measured={"h": (4, 2, 10), "y": (4, 2, 2)})
    with pytest.raises(ValueError, match=r"h: the forward pass gave shape \(4, 2, 5\)"):
        d.update(measured={"h": (4, 2, 5)})          # H, not 2H: the label would lie
    with pytest.raises(ValueError, match="writes no tensor 'c'"):
        d.update(measured={"c": (4, 2, 5)})


# ------------------------------------------------------------------ any T draws cleanly


def visible(d):
    """The diagram as the clash checker sees it, without the artists hidden for this shape."""
    ax = d.ax
    return SimpleNamespace(
        value_texts=d.value_texts, symbol_texts=d.symbol_texts,
        ax=SimpleNamespace(lines=[a for a in ax.lines if a.get_visible()],
                           patches=[a for a in ax.patches if a.get_visible()],
                           transData=ax.transData, bbox=ax.bbox))


def problems(d):
    """Label clashes (with labels, wires, boxes, other text) and text outside the figure."""
    fig = d.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = _clashes(visible(d), renderer)
    labels = _label_boxes(d, renderer)
    label_texts = {*d.value_texts.values(), *d.symbol_texts.values()}
    others = [t for t in d.ax.texts if t.get_visible() and t.get_text() and t not in label_texts]
    for key, box in labels.items():
        for t in others:
            if t.get_window_extent(renderer).overlaps(box):
                found.append((key, t.get_text()))
    inside = Bbox.from_bounds(0, 0, fig.bbox.width, fig.bbox.height)
    for t in [*others, *(t for t in label_texts if t.get_text())]:
        e = t.get_window_extent(renderer)
        if not (inside.x0 - 1 <= e.x0 and e.x1 <= inside.x1 + 1 and inside.y0 - 1 <= e.y0
                and e.y1 <= inside.y1 + 1):
            found.append((t.get_text(), "outside the figure"))
    return found


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_draws_for_every_T_without_clashes(shape):
    d = diagram.draw_shape(shape, T=1, D=2, H=16, K=2, B=32)
    children = list(d.ax.get_children())
    for T in range(1, 13):
        d.update(T=T)
        assert list(d.ax.get_children()) == children, "drawn in place: the same artists"
        assert problems(d) == [], (T, problems(d))
        columns = [t.get_text() for t, (p, _) in zip((m[1] for m in d._markers), d._markers,
                                                     strict=True) if p.get_visible()]
        ellipses = [t for t in d._texts if t.get_visible() and t.get_text() == "\u2026"]
        n = 1 if shape == "one_to_one" else T
        if shape != "one_to_one":
            assert f"$x_{{{n}}}$" in columns or f"$d_{{{n}}}$" in columns, (T, columns)
        limit = 5 if shape == "encoder_decoder" else 7
        assert bool(ellipses) == (n > limit), (T, len(ellipses))


@pytest.mark.parametrize("B", [None, 4])
def test_the_explorer_panel_is_clean_for_every_shape_and_T(explorer, B):
    ex = explorer()
    ex.controls["batched"].value = B is not None
    ex.sliders["H"].value = 32
    d = ex.plots["diagram"]
    for shape in SHAPES:
        ex.controls["shape"].value = shape
        for T in (1, 5, 7, 8, 12):
            ex.sliders["T"].value = T
            assert ex.error is None, ex.error
            assert problems(d) == [], (shape, T, problems(d))


def test_the_clash_check_sees_a_label_on_a_wire():
    d = diagram.draw_shape("many_to_many", T=3)
    assert problems(d) == []
    x, y = d.value_texts["h"].get_position()
    d.value_texts["h"].set_position((x + 1.5, y - 0.4))            # onto the boxes' row
    assert {what for key, what in problems(d) if key == "h"} & {"a wire or node",
                                                                 "FancyBboxPatch"}


def test_update_redraws_in_place_and_changes_the_picture():
    d = diagram.draw_shape("many_to_one", T=4, B=3)
    children = list(d.ax.get_children())
    before = pixels(d.figure)
    for shape in SHAPES:
        d.update(shape, D=2, K=2)
        assert list(d.ax.get_children()) == children, shape
        assert d.shape == shape and repr(d).startswith(f"ShapeDiagram({shape}, ")
        assert ("T=4" in repr(d)) == (shape != "one_to_one"), "one-to-one has no time axis"
        after = pixels(d.figure)
        assert after.shape != before.shape or np.any(after != before), shape
        before = after
    assert d._repr_png_()[:4] == b"\x89PNG"


def test_bad_sizes_and_shapes_are_refused():
    with pytest.raises(ValueError, match="shape must be one of one_to_one"):
        diagram.draw_shape("two_to_three")
    with pytest.raises(ValueError, match="D must equal K"):
        diagram.draw_shape("one_to_many", D=3, K=2)
    with pytest.raises(ValueError, match="T must be >= 1"):
        diagram.shape_tensors("many_to_one", T=0)
    with pytest.raises(TypeError, match="H must be an int"):
        diagram.shape_tensors("many_to_one", H=2.5)
    with pytest.raises(ValueError, match="cell must be one of"):
        diagram.draw_shape("stacked", cell="transformer")
    with pytest.raises(TypeError, match="ax must be"):
        diagram.ShapeDiagram(ax="here")


# ------------------------------------------------------------------ the explorer


def test_the_explorer_keeps_the_contract(explorer):
    assert widgets.EXPLORERS["shapes"] is widgets.ShapesExplorer
    ex = explorer()
    assert list(ex.sliders) == ["T", "H"]
    assert all(isinstance(s, ipywidgets.IntSlider) for s in ex.sliders.values())
    assert {"shape", "cell", "batched", "reset"} <= set(ex.controls)
    assert isinstance(ex.widget, ipywidgets.VBox) and ex.error_box in ex.widget.children
    assert repr(ex) == ("ShapesExplorer(shape='many_to_many', cell='lstm', T=5, D=3, H=8, K=3, "
                        "B=4)")
    d = ex.plots["diagram"]
    assert ex.measured == forward_shapes("many_to_many", 5, 3, 8, 3, 4)
    assert {k: v[1] for k, v in written(d).items()} == ex.measured


def test_the_explorer_controls_change_the_figure_and_the_shapes(explorer):
    ex = explorer()
    d = ex.plots["diagram"]
    children = list(ex.figure.axes[0].get_children())
    before = pixels(ex.figure)
    moves = [("slider", "T", 9), ("slider", "H", 20), ("control", "shape", "bidirectional"),
             ("control", "cell", "gru"), ("control", "batched", False),
             ("control", "shape", "one_to_many"), ("slider", "T", 1)]
    for kind, key, value in moves:
        (ex.sliders if kind == "slider" else ex.controls)[key].value = value
        assert ex.error is None, (key, ex.error)
        after = pixels(ex.figure)
        assert np.any(after != before), f"{key} = {value} did not change the figure"
        assert list(ex.figure.axes[0].get_children()) == children, "updated in place"
        s = ex._sizes()
        real = forward_shapes(ex.controls["shape"].value, s["T"], s["D"], s["H"], s["K"], s["B"],
                              kind=ex.controls["cell"].value)
        assert ex.measured == real
        assert {k: v[1] for k, v in written(d).items()} == real, key
        before = after
    assert d.cell == "gru" and "GRU" in [t.get_text() for t in ex.figure.axes[0].texts]


def test_the_explorer_reset_restores_the_defaults_and_the_picture(explorer):
    ex = explorer(shape="stacked", cell="gru")
    start = pixels(ex.figure)
    ex.sliders["T"].value = 12
    ex.sliders["H"].value = 3
    ex.controls["shape"].value = "encoder_decoder"
    ex.controls["batched"].value = False
    assert np.any(pixels(ex.figure) != start)
    ex.controls["reset"].click()
    assert ex.error is None
    assert (ex.sliders["T"].value, ex.sliders["H"].value) == (5, 8)
    assert ex.controls["shape"].value == "stacked" and ex.controls["batched"].value is True
    np.testing.assert_array_equal(pixels(ex.figure), start)


def test_the_explorer_shows_errors_and_rolls_back(explorer, monkeypatch):
    ex = explorer()
    before = pixels(ex.figure)

    def broken(*args, **kwargs):
        raise RuntimeError("forward exploded on purpose")

    monkeypatch.setattr(widgets, "shape_forward", broken)
    ex.sliders["T"].value = 9
    assert isinstance(ex.error, RuntimeError) and "exploded" in ex.error_box.value
    assert ex.sliders["T"].value == 5, "the failed move was rolled back"
    np.testing.assert_array_equal(pixels(ex.figure), before)
    monkeypatch.undo()
    # a forward pass whose shapes differ from the labels is an error, not a wrong figure
    real = widgets.shape_forward

    def lying(*args, **kwargs):
        model, shapes = real(*args, **kwargs)
        return model, {**shapes, "y": shapes["y"][:-1] + (shapes["y"][-1] + 1,)}

    monkeypatch.setattr(widgets, "shape_forward", lying)
    ex.controls["shape"].value = "many_to_one"
    assert isinstance(ex.error, ValueError) and "the forward pass gave shape" in str(ex.error)
    assert ex.controls["shape"].value == "many_to_many"
    monkeypatch.undo()
    ex.sliders["T"].value = 9
    assert ex.error is None and ex.error_box.layout.display == "none"


def test_the_explorer_refuses_bad_options():
    with pytest.raises(ValueError, match="shape must be one of"):
        widgets.ShapesExplorer(shape="ring")
    with pytest.raises(ValueError, match="cell must be one of"):
        widgets.ShapesExplorer(cell="transformer")
    with pytest.raises(ValueError, match=r"T must be a whole number in 1\.\.12"):
        widgets.ShapesExplorer(T=2.5)
    with pytest.raises(TypeError, match="unexpected keyword"):
        widgets.ShapesExplorer(W_xf=1.0)


@pytest.mark.parametrize("where", ["forward", "figure"])
def test_an_interrupted_update_leaves_the_explorer_as_it_was(explorer, monkeypatch, where):
    ex = explorer()
    before = (pixels(ex.figure), dict(ex.measured), ex.model, ex.sliders["T"].value)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    if where == "forward":
        monkeypatch.setattr(widgets, "shape_forward", stop)
    else:
        monkeypatch.setattr(ex.plots["diagram"], "_place", stop)
    with pytest.raises(KeyboardInterrupt):
        ex.sliders["T"].value = 11
    monkeypatch.undo()
    assert ex.sliders["T"].value == before[3] and ex.measured == before[1]
    assert ex.model is before[2] and ex.plots["diagram"].sizes["T"] == before[3]
    np.testing.assert_array_equal(pixels(ex.figure), before[0])
    ex.sliders["T"].value = 11
    assert ex.error is None and ex.measured["x"][0] == 11
