"""The GRU explorer (both candidate forms) and the LSTM-family variant explorer: values, switches,
reset, errors."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lstm_lab as ll  # noqa: E402
from lstm_lab import diagram, widgets  # noqa: E402
from tests.test_faults import (  # noqa: E402
    Fault,
    _explorer_state,
    _same_explorer,
    _targets,
    count_calls,
    failing,
)
from tests.test_widgets import pixels  # noqa: E402

FAMILY = [k for k, cls in ll.CELLS.items() if cls.has_cell_state]


@pytest.fixture
def make(make_explorer):
    """Build an explorer by its registry name; it is closed after the test."""
    return make_explorer


def reference(ex, **cell_kwargs):
    """A fresh cell of the explorer's kind and form, set to its slider values, and its trace."""
    cell = ll.CELLS[ex.cell.kind](1, 1, seed=99, **cell_kwargs)
    assert list(cell.params) == list(ex.sliders), "the sliders are exactly the cell's params"
    for name, slider in ex.sliders.items():
        cell.params[name] = np.full(cell.params[name].shape, slider.value)
    x = widgets.input_sequence(ex.controls["sequence"].value, len(ex.trace), seed=0)
    return cell, cell.forward(x)


def check_shown(ex, ref):
    """Every value the diagram writes at step t, and every plotted line, equal the reference."""
    t = ex.t
    d = ex.plots["diagram"]
    assert d.kind == ex.cell.kind and d.ax.get_figure(root=True) is ex.figure
    assert d.ax.get_visible() and d.ax.get_figure(root=False).get_visible()
    r = t - 1
    want = {"h": ref.h[r, 0], "h_prev": ref.h[r - 1, 0] if r else 0.0, "x": ref.x[r, 0]}
    want.update({k: v[r, 0] for k, v in ref.gates.items()})
    if ref.c is not None:                  # and the products on the cell-state line
        want.update(c=ref.c[r, 0], c_prev=ref.c[r - 1, 0] if r else 0.0)
        want.update(fc=want.get("f", 1.0) * want["c_prev"], ig=want.get("i", 1.0) * want["g"])
    shown = {k: v.get_text() for k, v in d.value_texts.items() if k in want}
    assert set(shown) == set(want), (ex.cell.kind, set(want) ^ set(shown))
    for key, value in shown.items():
        written = f"={float(want[key]):.2f}".replace("=-0.00", "=0.00")
        assert value == written, (ex.cell.kind, key, value, want[key])
    assert d.value_texts["t"].get_text() == f"t = {t}"
    for sym, line in ex.plots["gates"].lines.items():
        values = {"x": ref.x, "h": ref.h, "c": ref.c}.get(sym, ref.gates.get(sym))
        np.testing.assert_allclose(line.get_ydata(), values[:, 0], rtol=1e-12, atol=1e-12,
                                   err_msg=f"{ex.cell.kind} {sym} line")


# ---------------------------------------------------------------------------------- GRU


@pytest.mark.parametrize("reset_after", [False, True])
def test_gru_diagram_and_traces_show_the_cell_of_that_form(make, reset_after):
    ex = make("gru", reset_after=reset_after, t=5)
    assert ex.cell.reset_after is reset_after and ex.plots["diagram"].kind == "gru"
    assert ex.plots["diagram"].symbol_texts["form"].get_text() == diagram.GRU_FORMS[reset_after]
    for slider in ex.sliders.values():
        slider.value = slider.value + 0.7
        assert ex.error is None, ex.error
        for t in (1, 4, 17):
            ex.controls["t"].value = t
            check_shown(ex, reference(ex, reset_after=reset_after)[1])


def test_reset_after_changes_h_exactly_as_the_cell_of_that_form_computes(make):
    ex = make("gru")
    ex.sliders["b_g"].value = 0.8
    ex.sliders["W_hg"].value = -1.5
    before = {k: s.value for k, s in ex.sliders.items()}
    canvas_before = pixels(ex)
    ex.controls["reset_after"].value = True
    assert ex.error is None, ex.error
    assert ex.cell.reset_after and list(ex.sliders)[-2:] == ["b_xg", "b_hg"]
    form = ex.plots["diagram"].symbol_texts["form"]
    assert form.get_text() == diagram.GRU_FORMS[True] and form.get_visible()
    assert ex.sliders["b_xg"].value == 0.8 and ex.sliders["b_hg"].value == 0.0
    assert all(ex.sliders[k].value == v for k, v in before.items() if k != "b_g")
    # one unit and b_hg = 0: W_hg (r h) = r (W_hg h), the two forms agree
    np.testing.assert_allclose(ex.trace.h, reference(ex, reset_after=True)[1].h, rtol=1e-12)
    ex.sliders["b_hg"].value = 1.2                        # now they differ by r_t * b_hg
    cell, ref = reference(ex, reset_after=True)
    np.testing.assert_allclose(ex.trace.h, ref.h, rtol=1e-12, atol=1e-15)
    other = ll.GRUCell(1, 1, reset_after=False)
    for name in other.params:
        other.params[name] = cell.params["b_xg" if name == "b_g" else name]
    assert np.max(np.abs(other.forward(ref.x).h - ex.trace.h)) > 0.05
    check_shown(ex, ref)
    assert np.any(pixels(ex) != canvas_before)
    ex.controls["reset_after"].value = False          # back: b_xg carries over to b_g
    assert ex.error is None and list(ex.sliders) == list(other.params)
    assert form.get_text() == diagram.GRU_FORMS[False]
    assert ex.sliders["b_g"].value == 0.8
    np.testing.assert_allclose(ex.trace.h, other.forward(ref.x).h, rtol=1e-12)
    check_shown(ex, reference(ex)[1])


def test_z_near_one_copies_h_forward_and_r_near_zero_hides_it_from_the_candidate(make):
    ex = make("gru")
    ex.sliders["b_z"].value = 6.0
    h = ex.trace.h[:, 0]
    assert abs(h[-1] - h[3]) < 0.05 * abs(h[3])
    ex.sliders["b_z"].value = 0.0
    ex.sliders["b_r"].value = -6.0                     # g_t = tanh(W_xg x_t + b_g) = 0
    assert np.all(np.abs(ex.trace.gates["g"][4:, 0]) < 0.01)


# ----------------------------------------------------------------------- the LSTM family


def test_the_selector_offers_exactly_the_lstm_family(make):
    ex = make("variants")
    selector = ex.controls["variant"]
    assert isinstance(selector, ipywidgets.Dropdown)
    assert [v for _label, v in selector.options] == FAMILY == list(widgets.LSTM_FAMILY)
    assert {"lstm", "peephole", "coupled", "nig", "nfg", "nog", "cifg"} <= set(FAMILY)
    assert "gru" not in FAMILY and "rnn" not in FAMILY
    with pytest.raises(ValueError, match="variant must be one of"):
        widgets.LSTMVariantExplorer(variant="gru")


@pytest.mark.parametrize("kind", FAMILY)
def test_each_variant_shows_its_own_sliders_diagram_and_values(make, kind):
    ex = make("variants", W_hf=0.5)
    ex.sliders["b_i"].value = -1.0
    carried = {k: s.value for k, s in ex.sliders.items()}
    ex.controls["variant"].value = kind
    assert ex.error is None, ex.error
    assert ex.cell.kind == kind and list(ex.sliders) == list(ex.cell.params)
    for name, slider in ex.sliders.items():
        want = carried.get(name, ex.param_defaults[name])
        assert slider.value == want and ex.cell.params[name][0, ...].item() == want, name
        assert slider.description == name
    shown = [w for row in ex.widget.children[:-3] for w in row.children]
    # each gate's row: its weights, bias and peephole (p_f beside W_xf, W_hf, b_f)
    assert sorted(map(id, shown)) == sorted(map(id, ex.sliders.values())), "exactly the sliders"
    for t in (3, 12):
        ex.controls["t"].value = t
        check_shown(ex, reference(ex)[1])
    for slider in ex.sliders.values():
        slider.value = slider.value + 0.5
        assert ex.error is None, ex.error
    check_shown(ex, reference(ex)[1])


def test_switching_updates_in_place_and_reset_goes_back(make):
    ex = make("variants")
    start, axes, widget = pixels(ex), len(ex.figure.axes), ex.widget
    lstm_plots = dict(ex.plots)
    ex.sliders["W_xg"].value = 1.0
    for kind in ("peephole", "coupled", "peephole"):
        ex.controls["variant"].value = kind
    assert ex.figure.axes and ex.widget is widget
    n = len(ex.figure.axes)
    ex.controls["variant"].value = "coupled"            # seen before: nothing new is built
    assert len(ex.figure.axes) == n > axes
    ex.controls["reset"].click()
    assert ex.error is None, ex.error
    assert ex.controls["variant"].value == "lstm" and ex.cell.kind == "lstm"
    assert {k: s.value for k, s in ex.sliders.items()} == ex.param_defaults
    assert ex.plots == lstm_plots and len(ex.figure.axes) == n
    np.testing.assert_array_equal(pixels(ex), start)
    check_shown(ex, reference(ex)[1])


@pytest.mark.parametrize("name, key, value", [
    ("variants", "variant", "peephole"), ("variants", "variant", "coupled"),
    ("gru", "reset_after", True)])
@pytest.mark.parametrize("exc", [Fault("switch failed"), KeyboardInterrupt()],
                         ids=["error", "interrupt"])
def test_a_switch_that_fails_anywhere_leaves_everything_as_it_was(make, name, key, value, exc):
    ex = make(name)
    control = ex.controls[key]
    last = list(ex.sliders.values())[-1]               # b_o, b_g: every switch here keeps it
    last.value = last.value + 0.5
    before, children, plots_before = _explorer_state(ex), ex.widget.children, dict(ex.plots)

    def switch():
        control.value = value

    total = count_calls(_targets(ex), switch)
    assert total > 0
    control.value = ex._control_defaults[key]            # back, by a switch that works
    assert _same_explorer(_explorer_state(ex)[:3] + before[3:4] + _explorer_state(ex)[4:], before)
    assert ex.widget.children == children and ex.plots == plots_before
    before, sliders = _explorer_state(ex), ex.sliders
    for n in range(1, total + 1):
        with failing(_targets(ex), n, exc):
            if isinstance(exc, Exception):
                switch()
                assert ex.error is exc, n
                assert "switch failed" in ex.error_box.value
            else:
                with pytest.raises(KeyboardInterrupt):
                    switch()
        assert _same_explorer(_explorer_state(ex), before), f"call {n} of {total}"
        assert ex.sliders is sliders and ex.widget.children == children
        assert ex.plots == plots_before and control.value != value
    switch()
    assert ex.error is None and ex.controls[key].value == value


def test_an_impossible_switch_is_shown_and_rolled_back(make, monkeypatch):
    ex = make("variants")
    before = _explorer_state(ex)

    def broken(choice):
        raise ValueError(f"no cell for {choice}")

    monkeypatch.setattr(ex, "_cell_for", broken)
    ex.controls["variant"].value = "nig"
    assert isinstance(ex.error, ValueError) and "no cell for nig" in ex.error_box.value
    assert ex.controls["variant"].value == "lstm"
    assert _same_explorer(_explorer_state(ex), before)


def test_keywords_set_the_defaults_of_every_member(make):
    ex = make("variants", variant="peephole", p_f=1.5, b_f=2.0)
    assert ex.sliders["p_f"].value == 1.5 and ex.sliders["b_f"].value == 2.0
    ex.controls["variant"].value = "coupled"
    ex.controls["reset"].click()
    assert ex.cell.kind == "peephole" and ex.sliders["p_f"].value == 1.5
    with pytest.raises(TypeError, match="finite number"):
        widgets.LSTMVariantExplorer(p_o=float("inf"))
    with pytest.raises(TypeError, match="b_q"):
        widgets.GRUExplorer(b_q=1.0)
    assert repr(ex).startswith("LSTMVariantExplorer(variant='peephole', ")


def test_show_gru_form_refuses_other_diagrams():
    with pytest.raises(ValueError, match="GRU diagram"):
        diagram.show_gru_form(diagram.draw_cell("lstm"), True)
    with pytest.raises(TypeError, match="reset_after"):
        diagram.show_gru_form(diagram.draw_cell("gru"), "yes")
