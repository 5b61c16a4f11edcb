"""Tests of widgets.UnitExplorer: one unit's activation over the text, trained and untrained."""

import functools

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from test_widgets import pixels  # noqa: E402  (an explorer's pixels)

import lstm_lab as ll  # noqa: E402
from lstm_lab import generate, train, widgets  # noqa: E402

TEXT = generate.make_text(3000, seed=1)          # the explorer's default text


pytestmark = pytest.mark.usefixtures("leaves_matplotlib_as_it_was")


@pytest.fixture
def make(make_explorer):
    """Build a 'units' explorer with keywords; it is closed after the test."""
    return functools.partial(make_explorer, "units")


@pytest.fixture(scope="module")
def saved():
    """The package's trained model and its untrained twin, run over the text here, not by it."""
    model, vocab, untrained = generate.load_char_model()
    x = vocab.one_hot(TEXT)
    return model.cell.forward(x), untrained.forward(x)


def activation(trace, quantity):
    return {"h": trace.h, "c": trace.c}.get(quantity, trace.gates.get(quantity))


def layout(text, offset, rows, columns):
    """Where each character goes: a row ends after '\\n' or when it is full; -1 = empty."""
    grid = np.full((rows, columns), -1)
    r = c = 0
    for k in range(offset, len(text)):
        if r == rows:
            break
        grid[r, c] = k
        c += 1
        if text[k] == "\n" or c == columns:
            r, c = r + 1, 0
    return grid


def pearson(a, b):
    return float(np.corrcoef(a, b)[0, 1])


def check_panels(ex, traces, text, target):
    """Each panel's cells carry the unit's activation of that network, and are painted in the
    colour of that value on the panel's scale; the titles print r and the chance level."""
    q, unit = ex.controls["quantity"].value, ex.controls["unit"].value
    clip = ex.sliders["clip"].value
    R, W = ex.values[0].shape
    where = layout(text, ex.controls["offset"].value, R, W)
    shown = where >= 0
    picture = np.asarray(ex.image.get_array())
    cw, ch = ex.cell_size
    for panel, (trace, rows) in enumerate(zip(traces, ex.panel_rows, strict=True)):
        a = activation(trace, q)[:, unit]
        want = np.full((R, W), np.nan)
        want[shown] = a[where[shown]]
        np.testing.assert_array_equal(ex.values[panel], want, err_msg=f"panel {panel} values")
        middle, half = (a.max() + a.min()) / 2, (a.max() - a.min()) / 2
        low, high = middle - clip * half, middle + clip * half
        np.testing.assert_allclose(ex.ranges[panel], (low, high), rtol=1e-12)
        colours = plt.get_cmap("coolwarm")(np.clip((want - low) / (high - low), 0, 1))
        corner = picture[rows][::ch, ::cw, :3].astype(float) / 255   # glyphs never reach (0, 0)
        np.testing.assert_allclose(corner[shown], colours[shown][:, :3], atol=1 / 255 + 1e-9,
                                   err_msg=f"panel {panel}: cell colour = activation's colour")
        assert np.all(corner[~shown] == 1.0), "cells without a character stay white"
        block = picture[rows, :, :3].reshape(R, ch, W, cw, 3)
        inked = np.any(block != block[:, :1, :, :1], axis=(1, 3, 4))       # a glyph drawn
        visible = np.zeros((R, W), bool)
        visible[shown] = [text[k] != " " for k in where[shown]]
        np.testing.assert_array_equal(inked, visible, err_msg=f"panel {panel}: glyphs")
    r = [pearson(activation(t, q)[:, unit], target) for t in traces]
    chance = max(abs(pearson(activation(traces[1], q)[:, k], target))
                 for k in range(activation(traces[1], q).shape[1]))
    np.testing.assert_allclose([ex.r[unit], ex.r_untrained[unit]], r, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ex.chance, chance, rtol=1e-9)
    assert f"r = {r[0]:+.2f} " in ex.titles[0], ex.titles[0]
    assert f"r = {r[1]:+.2f};" in ex.titles[1] and f"chance {chance:.2f} " in ex.titles[1], \
        ex.titles[1]


# ------------------------------------------------------------------------------------ tests


def test_registered_and_keeps_the_contract(make):
    assert widgets.EXPLORERS["units"] is widgets.UnitExplorer
    ex = make()
    assert isinstance(ex.figure, Figure) and isinstance(ex.widget, ipywidgets.VBox)
    assert list(ex.sliders) == ["clip"]
    clip = ex.sliders["clip"]
    assert isinstance(clip, ipywidgets.FloatSlider) and clip.description == "clip"
    assert clip.readout_format == ".2f" and clip.value == 1.0
    assert {"unit", "quantity", "offset", "target", "reset"} <= set(ex.controls)
    assert isinstance(ex.controls["reset"], ipywidgets.Button)
    unit = ex.controls["unit"]
    assert isinstance(unit, ipywidgets.IntSlider) and (unit.min, unit.max) == (0, 23)
    assert ex.controls["quantity"].options[:2] == (("h_t (hidden)", "h"), ("c_t (cell)", "c"))
    assert ex.controls["offset"].max == len(TEXT) - 1
    assert ex.error is None and ex.error_box in ex.widget.children
    # the first slider of its output is the float slider the browser test moves
    assert ex.widget.children[0].children[0] is clip
    assert repr(ex) == ("UnitExplorer(H=24, chars=3000, target='bracket depth', quantity='c', "
                        "unit=14, offset=0; clip=1.00)")
    assert ex.values[0].size >= 600, "a grid of about 600 characters"


def test_the_default_unit_is_the_trained_networks_best_of_h_and_c(make, saved):
    ex = make()
    depth = generate.bracket_depth(TEXT)
    best = max(((q, k, abs(pearson(activation(saved[0], q)[:, k], depth)))
                for q in ("h", "c") for k in range(24)), key=lambda item: item[2])
    assert (ex.controls["quantity"].value, ex.controls["unit"].value) == best[:2]


@pytest.mark.parametrize("settings", [
    {},
    {"unit": 3, "offset": 517, "clip": 0.4},
    {"quantity": "h", "unit": 22, "offset": 2990},
    {"quantity": "f", "unit": 0, "clip": 1.7},
    {"quantity": "g", "unit": 7, "target": "inside a quote", "offset": 40},
], ids=["default", "c-unit3-clip", "h-end-of-text", "forget-gate", "candidate-quote"])
def test_the_colours_are_the_units_activations_and_the_titles_its_r(make, saved, settings):
    ex = make()
    for key, value in settings.items():
        (ex.sliders if key == "clip" else ex.controls)[key].value = value
        assert ex.error is None, ex.error
    target = {"bracket depth": generate.bracket_depth,
              "inside a quote": generate.quote_state}[ex.controls["target"].value](TEXT)
    check_panels(ex, saved, TEXT, target)


def test_a_network_and_target_passed_by_keyword(make):
    """Any cell kind (a GRU: no c_t) and an array as the target; untrained = another seed."""
    text = generate.make_text(400, seed=5)
    vocab = generate.Vocabulary(text)
    V = len(vocab)
    model = train.SequenceModel(ll.GRUCell(V, 6, seed=1), V, many_to_one=False)
    twin = ll.GRUCell(V, 6, seed=2)
    target = np.sin(np.arange(len(text)) / 7.0)
    ex = make(model=model, untrained=twin, vocab=vocab, text=text, target=target,
              quantity="z", unit=5, rows=4, columns=30)
    assert ex.controls["quantity"].options == (("h_t (hidden)", "h"), ("r_t (gate)", "r"),
                                                 ("z_t (gate)", "z"), ("g_t (gate)", "g"))
    assert ex.controls["target"].options == ("target",) and ex.values[0].shape == (4, 30)
    x = vocab.one_hot(text)
    traces = (model.cell.forward(x), twin.forward(x))
    check_panels(ex, traces, text, target)
    ex.controls["offset"].value = 123
    check_panels(ex, traces, text, target)


@pytest.mark.parametrize("control, value", [("unit", 5), ("offset", 250), ("quantity", "o"),
                                            ("target", "inside a quote"), ("clip", 0.5)])
def test_every_control_updates_the_same_artists_in_place(make, saved, control, value):
    ex = make()
    before = pixels(ex)
    artists = list(ex.figure.findobj())
    image, axes = ex.image, list(ex.figure.axes)
    (ex.sliders if control == "clip" else ex.controls)[control].value = value
    assert ex.error is None, ex.error
    assert ex.image is image and ex.figure.axes == axes
    assert list(ex.figure.findobj()) == artists, "no artist made or removed"
    assert np.any(pixels(ex) != before), f"moving {control} did not change the figure"
    check_panels(ex, saved, TEXT, generate.bracket_depth(TEXT) if control != "target"
                 else generate.quote_state(TEXT))


def test_the_slider_asks_for_one_redraw_and_the_pixels_follow(make, monkeypatch):
    ex = make()
    canvas = ex.figure.canvas
    before = pixels(ex)
    calls = []
    original = canvas.draw_idle
    monkeypatch.setattr(canvas, "draw_idle", lambda *a, **k: (calls.append(1), original(*a, **k)))
    slider = next(iter(ex.sliders.values()))
    slider.value = slider.value + 0.25                 # what the browser test's key presses do
    assert calls == [1]
    read = np.asarray(canvas.buffer_rgba()).copy()     # no explicit draw: reading draws
    assert np.any(read != before)
    np.testing.assert_array_equal(read, pixels(ex))


def test_reset_restores_every_default_and_the_picture(make):
    ex = make()
    start = pixels(ex)
    ex.sliders["clip"].value = 0.3
    for key, value in (("quantity", "h"), ("unit", 2), ("offset", 999),
                       ("target", "inside a quote")):
        ex.controls[key].value = value
    assert np.any(pixels(ex) != start)
    ex.controls["reset"].click()
    assert ex.error is None
    assert ex.sliders["clip"].value == 1.0
    assert [ex.controls[k].value for k in ("quantity", "unit", "offset", "target")] == \
        ["c", 14, 0, "bracket depth"]
    np.testing.assert_array_equal(pixels(ex), start)


def test_an_error_is_shown_and_the_explorer_left_as_it_was(make, monkeypatch):
    ex = make()
    start = pixels(ex)
    values = [v.copy() for v in ex.values]

    def broken(*args):
        raise RuntimeError("colouring failed")

    monkeypatch.setattr(ex, "_picture", broken)
    ex.controls["offset"].value = 300
    assert isinstance(ex.error, RuntimeError)
    assert "colouring failed" in ex.error_box.value and ex.error_box.layout.display is None
    assert ex.controls["offset"].value == 0, "the control goes back"
    np.testing.assert_array_equal(ex.values[0], values[0])
    np.testing.assert_array_equal(pixels(ex), start)
    ex.sliders["clip"].value = 0.5
    assert ex.error is not None and ex.sliders["clip"].value == 1.0
    monkeypatch.undo()
    ex.controls["offset"].value = 300
    assert ex.error is None and ex.error_box.layout.display == "none"
    assert ex.controls["offset"].value == 300


@pytest.mark.parametrize("exc", [RuntimeError("half-way"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
@pytest.mark.parametrize("call", [1, 2])
def test_an_update_stopped_half_way_leaves_the_picture_whole(make, monkeypatch, call, exc):
    """The second panel failing after the first was painted: everything goes back as it was."""
    ex = make()
    start, values = pixels(ex), [v.copy() for v in ex.values]
    original, calls = ex._picture, []

    def picture(*args):
        calls.append(1)
        if len(calls) == call:
            raise exc
        return original(*args)

    monkeypatch.setattr(ex, "_picture", picture)
    if isinstance(exc, Exception):
        ex.controls["unit"].value = 3
        assert ex.error is exc
    else:
        with pytest.raises(KeyboardInterrupt):
            ex.controls["unit"].value = 3
    assert ex.controls["unit"].value == 14
    for got, want in zip(ex.values, values, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(pixels(ex), start)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"unit": 24}, ValueError, "unit must be an int from 0 to H - 1 = 23"),
    ({"offset": 3000}, ValueError, "offset must be an int from 0 to 2999"),
    ({"quantity": "x"}, ValueError, "quantity must be one of h, c, f, i, g, o"),
    ({"target": "depth"}, ValueError, "target must be one of"),
    ({"target": np.zeros(10)}, ValueError, r"one value per character, shape \(3000,\)"),
    ({"text": "hello \u00e9"}, ValueError, "not in the vocabulary"),
    ({"clip": 0.0}, ValueError, "clip must be finite and > 0"),
    ({"model": ll.LSTMCell(34, 24)}, TypeError, "pass untrained="),
    ({"untrained": ll.LSTMCell(34, 24)}, TypeError, "go with a model"),
    ({"rows": 0}, ValueError, "rows must be a positive integer"),
    ({"colour": 1}, TypeError, "unexpected keyword argument"),
])
def test_bad_keywords_are_refused_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.UnitExplorer(**kwargs)


def test_model_and_twin_must_fit():
    vocab = generate.Vocabulary(TEXT)
    with pytest.raises(ValueError, match="the same kind and sizes"):
        widgets.UnitExplorer(model=ll.LSTMCell(34, 24), untrained=ll.GRUCell(34, 24),
                             vocab=vocab)
    with pytest.raises(ValueError, match="input size V = 34"):
        widgets.UnitExplorer(model=ll.LSTMCell(5, 4), untrained=ll.LSTMCell(5, 4), vocab=vocab)


def test_saved_char_model_round_trip(tmp_path):
    text = generate.make_text(300, seed=2)
    vocab = generate.Vocabulary(text)
    V = len(vocab)
    model = train.SequenceModel(ll.LSTMCell(V, 5, seed=7), V, many_to_one=False, seed=7)
    model.params["b_f"] = np.linspace(-1, 1, 5)
    path = tmp_path / "m.npz"
    generate.save_char_model(model, vocab, path, seed=7)
    back = generate.load_char_model(path)
    assert back.vocab.chars == vocab.chars and back.model.cell.kind == "lstm"
    for name, value in model.params.items():
        np.testing.assert_allclose(back.model.params[name], value, rtol=1e-6, atol=1e-7,
                                   err_msg=name)
        assert back.model.params[name].dtype == np.float64
    fresh = ll.LSTMCell(V, 5, seed=7)                   # the untrained twin: its starting point
    for name, value in fresh.params.items():
        np.testing.assert_array_equal(back.untrained.params[name], value, err_msg=name)
    with np.load(path, allow_pickle=False) as data:
        assert all(data[k].dtype == np.float32 for k in data.files if k != "__meta__")


def test_the_shipped_model_is_a_bracket_counter_and_small():
    size = generate.PRETRAINED.stat().st_size
    assert size < 40_000, f"{generate.PRETRAINED.name} is {size} bytes"
    model, vocab, twin = generate.load_char_model()
    x = vocab.one_hot(TEXT)
    depth = generate.bracket_depth(TEXT)
    best = max(abs(r) for r in generate.unit_correlations(model.cell.forward(x).c, depth))
    chance = max(abs(r) for r in generate.unit_correlations(twin.forward(x).c, depth))
    assert best > chance + 0.2, (best, chance)
