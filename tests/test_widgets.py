"""Tests of lstm_lab.widgets: each explorer keeps the contract and plots what the cell computes."""

import base64
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import lstm_lab as ll  # noqa: E402
from lstm_lab import widgets  # noqa: E402

NAMES = list(widgets.EXPLORERS)
# the explorers whose sliders write into a cell's params and that read an input sequence
CELL_NAMES = [n for n in NAMES
              if n not in ("attention", "chain", "shapes", "units", "training")]
LSTM_NAMES = ["forget", "input", "update", "output", "lstm", "memory_span"]
STEP_NAMES = ["forget", "input", "update", "output", "lstm"]
REPO = Path(ll.__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("leaves_matplotlib_as_it_was")


@pytest.fixture
def make(make_explorer):
    """Build explorers by registry name and close them after the test."""
    return make_explorer


def pixels(shown):
    """The RGBA pixels of an explorer's figure (or of a figure), drawn now."""
    fig = getattr(shown, "figure", shown)
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def other_value(slider, delta=2.5):
    """A value inside the slider's range, far from its current one."""
    delta = min(delta, (slider.max - slider.min) / 2)
    v = slider.value + delta if slider.value + delta <= slider.max else slider.value - delta
    return round(v / slider.step) * slider.step


# ------------------------------------------------------------------------------ references


def reference_lstm(ex):
    """An independent one-unit LSTM with the explorer's parameters, run on its input."""
    cell = ll.LSTMCell(1, 1, seed=123)
    values = {**ex.param_defaults, **{n: s.value for n, s in ex.sliders.items()}}
    for name, value in values.items():
        cell.params[name] = np.full(cell.params[name].shape, value)
    x = widgets.input_sequence(ex.controls["sequence"].value, len(ex.trace), seed=0)
    return cell, x, cell.forward(x)


def check_lstm_plots(ex):
    """The plotted lines, markers, bars and diagram numbers equal an independent forward pass."""
    cell, x, ref = reference_lstm(ex)
    np.testing.assert_allclose(ex.x, x, err_msg="input sequence")
    gates = ex.plots["gates"]
    np.testing.assert_allclose(gates.lines["x"].get_ydata(), x[:, 0], err_msg="x line")
    for sym in gates.gates:
        want = {"c": ref.c, "h": ref.h}.get(sym, ref.gates.get(sym))
        np.testing.assert_allclose(gates.lines[sym].get_ydata(), want[:, 0], rtol=1e-12,
                                   atol=1e-12, err_msg=f"{sym} line")
    for key, plot in ex.plots.items():
        if key.startswith("activation_"):
            sym = key.split("_")[1]
            np.testing.assert_allclose(plot.markers.get_xdata(), ref.preacts[sym][:, 0],
                                       rtol=1e-12, atol=1e-12, err_msg=f"{sym} pre-activations")
            np.testing.assert_allclose(plot.markers.get_ydata(), ref.gates[sym][:, 0], rtol=1e-12,
                                       atol=1e-12, err_msg=f"{sym} on its activation curve")
    if "conveyor" in ex.plots:
        c_prev = np.concatenate([[0.0], ref.c[:-1, 0]])
        conveyor = ex.plots["conveyor"]
        np.testing.assert_allclose(conveyor.removed_values, -(1 - ref.gates["f"][:, 0]) * c_prev,
                                   atol=1e-12, err_msg="removed by f")
        added = ref.gates["i"][:, 0] * ref.gates["g"][:, 0]
        np.testing.assert_allclose(conveyor.added_values, added, atol=1e-12, err_msg="added: i g")
    if "diagram" in ex.plots:
        row = ex.t - ex._t_origin
        text = ex.plots["diagram"].value_texts["c"].get_text()
        assert f"{ref.c[row, 0]:.2f}".replace("-0.00", "0.00") in text, (text, ref.c[row, 0])
    return cell, x, ref


def rnn_reference_norms(cell, x, source=1):
    """||dh_t/dx_s|| for t = s..T (s = source) from cell.backward with one-hot dh."""
    trace = cell.forward(x)
    T, H = trace.h.shape
    norms = np.empty(T - source + 1)
    for t in range(source - 1, T):
        J = np.empty((H, x.shape[1]))
        for j in range(H):
            dh = np.zeros_like(trace.h)
            dh[t, j] = 1.0
            J[j] = cell.backward(trace, dh)["x"][source - 1]
        norms[t - source + 1] = np.linalg.norm(J, 2)
    return norms


def lstm_span_reference(cell, x, eps=1e-6):
    """|dh_T/dh_t| by backward from the state at t, |dc_T/dc_t| by central differences; t = 0..T."""
    trace = cell.forward(x)
    T = len(trace)
    dh, dc = np.ones(T + 1), np.ones(T + 1)
    for t in range(T):
        h_t = np.zeros(1) if t == 0 else trace.h[t - 1]
        c_t = np.zeros(1) if t == 0 else trace.c[t - 1]
        sub = cell.forward(x[t:], h0=h_t, c0=c_t)
        one_hot = np.zeros_like(sub.h)
        one_hot[-1] = 1.0
        dh[t] = abs(cell.backward(sub, one_hot)["h0"][0])
        up = cell.forward(x[t:], h0=h_t, c0=c_t + eps).c[-1, 0]
        down = cell.forward(x[t:], h0=h_t, c0=c_t - eps).c[-1, 0]
        dc[t] = abs(up - down) / (2 * eps)
    return dh, dc, trace


def check_plots(ex):
    """The explorer's plotted values equal what an independent computation gives."""
    if ex.name in STEP_NAMES:
        check_lstm_plots(ex)
    elif ex.name == "rnn_memory":
        cell = ex.cell
        scale = ex.controls["scale"].value
        W_hh = cell.params["W_hh"]
        np.testing.assert_allclose(W_hh.T @ W_hh, scale**2 * np.eye(cell.hidden_size), atol=1e-12,
                                   err_msg="W_hh = scale * orthogonal")
        np.testing.assert_allclose(cell.params["b_h"], ex.sliders["b_h"].value, err_msg="b_h")
        x = widgets.input_sequence(ex.controls["sequence"].value, len(ex.trace),
                                   amplitude=ex.controls["amplitude"].value, seed=0)
        # the left panel follows the input at the step where the default pulse arrives
        source = int(np.argmax(widgets.input_sequence("pulse", len(x))[:, 0])) + 1
        assert ex.source_step == source == 3
        ref = rnn_reference_norms(cell, x, source)
        lines = list(ex.plots["norms"].lines.values())
        np.testing.assert_allclose(lines[0].get_ydata(), ref, rtol=1e-9, err_msg="||dh_t/dx_3||")
        np.testing.assert_allclose(lines[1].get_ydata(), scale ** np.arange(len(ref)), rtol=1e-12,
                                   err_msg="linear prediction scale^k")
        assert lines[1].get_zorder() > lines[0].get_zorder(), "the dashed line is drawn on top"
        np.testing.assert_allclose(ex.plots["heatmap"].image.get_array().T,
                                   cell.forward(x).h, err_msg="h heatmap")
    elif ex.name == "memory_span":
        cell, x, _ref = reference_lstm(ex)
        dh, dc, trace = lstm_span_reference(cell, x)
        lines = list(ex.plots["norms"].lines.values())      # indexed by k = T - t
        np.testing.assert_allclose(lines[0].get_ydata()[::-1], dh, rtol=1e-8, atol=1e-300,
                                   err_msg="|dh_T/dh_t|")
        got_dc = lines[1].get_ydata()[::-1]
        np.testing.assert_allclose(got_dc, dc, rtol=1e-5, atol=1e-9, err_msg="|dc_T/dc_t|")
        prod = np.cumprod(trace.gates["f"][::-1, 0])
        np.testing.assert_allclose(lines[2].get_ydata(), np.concatenate([[1.0], prod]), rtol=1e-12,
                                   err_msg="product of forget gates")
        np.testing.assert_allclose(ex.plots["gates"].lines["f"].get_ydata(), trace.gates["f"][:, 0],
                                   err_msg="f line")
    elif ex.name in ("cell", "gru", "variants"):
        check_cell_plots(ex)
    elif ex.name == "attention":
        check_attention_plots(ex)
    else:
        raise AssertionError(f"no reference check for {ex.name!r}")


def check_cell_plots(ex):
    """CellExplorer: its lines and the diagram's h_t equal a fresh cell of the same kind."""
    cell = ll.CELLS[ex.cell.kind](1, 1, seed=123)
    values = {**ex.param_defaults, **{n: s.value for n, s in ex.sliders.items()}}
    assert set(values) == set(cell.params)
    for name, value in values.items():
        cell.params[name] = np.full(cell.params[name].shape, value)
    x = widgets.input_sequence(ex.controls["sequence"].value, len(ex.trace), seed=0)
    ref = cell.forward(x)
    gates = ex.plots["gates"]
    assert set(gates.gates) == {*cell.gate_names, "h", *("c" * cell.has_cell_state)}
    for sym in gates.gates:
        want = {"c": ref.c, "h": ref.h}.get(sym, ref.gates.get(sym))
        np.testing.assert_allclose(gates.lines[sym].get_ydata(), want[:, 0], rtol=1e-12,
                                   atol=1e-12, err_msg=f"{sym} line")
    row = ex.t - ex._t_origin
    text = ex.plots["diagram"].value_texts["h"].get_text()
    assert f"{ref.h[row, 0]:.2f}".replace("-0.00", "0.00") in text, (text, ref.h[row, 0])


def check_attention_plots(ex):
    """AttentionExplorer: heatmap, bars and decoded string equal a fresh greedy run."""
    from lstm_lab.attention import load_seq2seq
    from lstm_lab.tasks import ReversalTask

    model = load_seq2seq()
    model.attention.scale = ex.sliders["scale"].value
    L = ex.controls["L"].value
    (x, d), y = ReversalTask(8, 1, 40).sample(1, rng=ex.controls["example"].value, length=L)
    decoded = model.predict((x, d)).argmax(-1)[:, 0]
    np.testing.assert_array_equal(ex.decoded, decoded)
    np.testing.assert_array_equal(ex.target, y[:, 0])
    fed = np.zeros_like(d)
    fed[0] = d[0]
    fed[np.arange(1, L), 0, decoded[:-1]] = 1.0
    weights = model.attention_weights((x, fed))[:, 0]
    np.testing.assert_allclose(ex.plots["heatmap"].image.get_array(), weights, rtol=1e-12)
    t = ex.controls["t"].value
    heights = [bar.get_height() for bar in ex._bars[:L]]
    np.testing.assert_allclose(heights, weights[t - 1], rtol=1e-12)
    assert ex.plots["heatmap"].row.get_visible() and ex.plots["heatmap"].row.get_y() == t - 1.5


# ------------------------------------------------------------------------------------ tests


def test_registry_names_every_explorer():
    assert set(NAMES) == {"forget", "input", "update", "output", "lstm", "cell", "rnn_memory",
                          "memory_span", "attention", "chain", "shapes", "units", "gru",
                          "variants", "training"}
    for name, cls in widgets.EXPLORERS.items():
        assert issubclass(cls, widgets.Explorer) and cls.name == name


@pytest.mark.parametrize("name", CELL_NAMES)
def test_built_with_defaults_keeps_the_contract(make, name):
    ex = make(name)
    assert isinstance(ex.figure, Figure)
    assert ex.sliders, "every explorer has at least one parameter slider"
    for key, slider in ex.sliders.items():
        assert isinstance(slider, ipywidgets.FloatSlider)
        assert slider.description == key and key in ex.cell.params
        assert slider.readout_format == ".2f"
        np.testing.assert_allclose(ex.cell.params[key], slider.value, err_msg=key)
    assert isinstance(ex.controls["reset"], ipywidgets.Button)
    assert "sequence" in ex.controls
    assert isinstance(ex.widget, ipywidgets.VBox)
    assert ex.error is None and ex.error_box in ex.widget.children
    view = ex.widget.children[-1]
    assert isinstance(view, ipywidgets.Image)       # under Agg: the picture as an image widget
    text = repr(ex)
    assert text.startswith(type(ex).__name__ + "(") and "0x" not in text
    for slider in ex.sliders.values():
        assert f"{slider.description}={slider.value:.2f}" in text
    check_plots(ex)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_every_slider_changes_the_figure_and_the_plotted_values(make, name):
    ex = make(name)
    before = pixels(ex)
    for key, slider in ex.sliders.items():
        array = ex.cell.params[key]
        value = other_value(slider)
        slider.value = value
        assert ex.error is None, ex.error
        assert ex.cell.params[key] is array, f"{key}: the live array was replaced"
        np.testing.assert_allclose(array, value, err_msg=f"{key} written into cell.params")
        after = pixels(ex)
        assert np.any(after != before), f"moving {key} did not change the figure"
        check_plots(ex)
        before = after


@pytest.mark.parametrize("name", ["forget", "memory_span"])
def test_a_slider_move_asks_for_a_redraw_and_the_pixels_follow(make, name, monkeypatch):
    ex = make(name)
    canvas = ex.figure.canvas
    before = pixels(ex)
    calls = []
    original = canvas.draw_idle
    monkeypatch.setattr(canvas, "draw_idle", lambda *a, **k: (calls.append(1), original(*a, **k)))
    slider = next(iter(ex.sliders.values()))
    slider.value = other_value(slider)
    assert calls == [1], "one draw_idle per slider move"
    read = np.asarray(canvas.buffer_rgba()).copy()     # no explicit draw: reading draws
    assert np.any(read != before)
    np.testing.assert_array_equal(read, pixels(ex))


@pytest.mark.parametrize("name", CELL_NAMES)
def test_reset_restores_every_default_and_the_picture(make, name):
    ex = make(name)
    start = pixels(ex)
    defaults = {k: s.value for k, s in ex.sliders.items()}
    controls = {k: c.value for k, c in ex.controls.items() if hasattr(c, "value")}
    for slider in ex.sliders.values():
        slider.value = other_value(slider)
    for control in ex.controls.values():
        if isinstance(control, ipywidgets.Dropdown):
            control.value = [v for _label, v in control.options if v != control.value][0]
        elif isinstance(control, (ipywidgets.IntSlider, ipywidgets.FloatSlider)):
            control.value = control.max if control.value != control.max else control.min
    assert np.any(pixels(ex) != start)
    ex.controls["reset"].click()
    assert ex.error is None, ex.error
    assert {k: s.value for k, s in ex.sliders.items()} == defaults
    assert {k: c.value for k, c in ex.controls.items() if hasattr(c, "value")} == controls
    for key, value in defaults.items():
        np.testing.assert_allclose(ex.cell.params[key], value, err_msg=key)
    np.testing.assert_array_equal(pixels(ex), start, err_msg="reset did not restore the picture")
    check_plots(ex)


@pytest.mark.parametrize("name", CELL_NAMES)
def test_a_callback_error_is_shown_not_swallowed(make, name, monkeypatch):
    ex = make(name)

    def broken(*args, **kwargs):
        raise RuntimeError("forward exploded on purpose")

    monkeypatch.setattr(ex.cell, "forward", broken)
    slider = next(iter(ex.sliders.values()))
    slider.value = other_value(slider)              # the observer must not raise
    assert isinstance(ex.error, RuntimeError)
    assert "forward exploded on purpose" in ex.error_box.value
    assert "RuntimeError" in ex.error_box.value
    assert ex.error_box.layout.display != "none" and ex.error_box in ex.widget.children
    ex.controls["sequence"].value = "noise" if ex.controls["sequence"].value != "noise" else "step"
    assert isinstance(ex.error, RuntimeError), "a control's update error is shown as well"
    monkeypatch.undo()
    slider.value = other_value(slider)
    assert ex.error is None and ex.error_box.value == "" and ex.error_box.layout.display == "none"
    check_plots(ex)


@pytest.mark.parametrize("name", STEP_NAMES)
def test_an_error_while_moving_in_time_is_shown(make, name, monkeypatch):
    ex = make(name)

    def broken(*args, **kwargs):
        raise ValueError("diagram refused")

    monkeypatch.setattr(ex.plots["diagram"], "show_values", broken)
    ex.controls["t"].value = ex.controls["t"].min
    assert isinstance(ex.error, ValueError) and "diagram refused" in ex.error_box.value


@pytest.mark.parametrize("name", CELL_NAMES)
def test_the_sequence_control_switches_the_input(make, name):
    ex = make(name)
    for kind in widgets.SEQUENCES:
        ex.controls["sequence"].value = kind
        assert ex.error is None, ex.error
        amplitude = ex.controls["amplitude"].value if "amplitude" in ex.controls else 1.0
        want = widgets.input_sequence(kind, len(ex.trace), amplitude=amplitude, seed=0)
        np.testing.assert_allclose(ex.trace.x, want, err_msg=kind)
        if "gates" in ex.plots:
            np.testing.assert_allclose(ex.plots["gates"].lines["x"].get_ydata(), want[:, 0],
                                       err_msg=kind)
        check_plots(ex)


@pytest.mark.parametrize("name", STEP_NAMES)
def test_the_time_control_moves_the_marker_and_the_diagram(make, name):
    ex = make(name)
    t_control = ex.controls["t"]
    lines = ex.plots["gates"].lines
    for t in (t_control.min, (t_control.min + t_control.max) // 2, t_control.max):
        before = pixels(ex)
        changed = t != t_control.value
        t_control.value = t
        assert ex.error is None, ex.error
        row = t - ex._t_origin
        # the marker sits where the plots draw step t
        assert lines["x"].get_xdata()[row] == t
        for marker in ex.plots["gates"]._markers:
            assert list(marker.get_xdata()) == [t, t]
        texts = ex.plots["diagram"].value_texts
        assert texts["t"].get_text() == f"t = {t}"
        assert f"{ex.trace.h[row, 0]:.2f}".replace("-0.00", "0.00") in texts["h"].get_text()
        for key in ex.plots:
            if key.startswith("activation_"):
                sym = key.split("_")[1]
                ring = ex._rings[sym]
                assert ring.get_xdata()[0] == ex.trace.preacts[sym][row, 0]
        if changed:
            assert np.any(pixels(ex) != before), f"t = {t} did not change the figure"


def test_the_player_drives_the_time_step(make):
    ex = make("lstm")
    play, t = ex.controls["play"], ex.controls["t"]
    assert isinstance(play, ipywidgets.Play) and (play.min, play.max) == (t.min, t.max)
    play.value = t.min + 7
    assert t.value == t.min + 7
    assert ex.plots["diagram"].value_texts["t"].get_text() == f"t = {t.min + 7}"
    t.value = t.min + 2
    assert play.value == t.min + 2


def test_rnn_memory_scale_and_amplitude(make):
    ex = make("rnn_memory")
    ex.controls["amplitude"].value = 0.0      # h stays 0: exactly the linear prediction
    for scale in (0.6, 1.0, 1.4):
        ex.controls["scale"].value = scale
        assert ex.error is None, ex.error
        k = np.arange(len(ex.trace) - ex.source_step + 1)
        np.testing.assert_allclose(ex.norms, scale**k, rtol=1e-9, err_msg=f"scale={scale}")
        check_plots(ex)
    ex.controls["amplitude"].value = 3.0      # saturated tanh: far below the linear prediction
    assert ex.norms[-1] < 0.1 * ex.linear[-1]
    check_plots(ex)


def test_memory_span_grows_with_the_forget_bias(make):
    ex = make("memory_span")
    reach = []
    for b_f in (-2.0, 1.0, 5.0):
        ex.sliders["b_f"].value = b_f
        reach.append(ex.dc[0])
        check_plots(ex)
    assert reach[0] < reach[1] < reach[2] and reach[2] > 0.5


def test_keyword_arguments_customise_and_bad_ones_are_refused(make):
    ex = make("forget", b_f=3.0, W_xi=1.0, sequence="step", steps=20, t=7)
    assert ex.sliders["b_f"].value == 3.0 and ex.cell.params["W_xi"][0, 0] == 1.0
    assert len(ex.trace) == 20 and ex.controls["t"].value == 7
    assert ex.controls["sequence"].value == "step"
    check_plots(ex)
    ex.controls["reset"].click()
    assert ex.sliders["b_f"].value == 3.0, "reset goes back to the explorer's own defaults"
    rnn = make("rnn_memory", hidden_size=4, scale=1.2)
    assert rnn.cell.hidden_size == 4 and rnn.controls["scale"].value == 1.2
    with pytest.raises(TypeError, match="b_q"):
        widgets.ForgetGateExplorer(b_q=1.0)
    with pytest.raises(ValueError, match="sequence must be one of"):
        widgets.InputGateExplorer(sequence="sawtooth")
    with pytest.raises(ValueError, match="t must be a time step"):
        widgets.OutputGateExplorer(t=0)
    with pytest.raises(ValueError, match="at least 8"):
        widgets.LSTMExplorer(steps=3)
    with pytest.raises(TypeError, match="finite number"):
        widgets.ForgetGateExplorer(b_f=float("nan"))


def test_input_sequences():
    pulse, step = widgets.input_sequence("pulse", 8), widgets.input_sequence("step", 9)
    np.testing.assert_array_equal(pulse[:, 0], [0, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(step[:, 0], [0, 0, 0, 1, 1, 1, 1, 1, 1])
    recall = widgets.input_sequence("store_recall", 12, amplitude=0.5)[:, 0]
    assert recall[2] == 0.5 and recall[7] == -0.5 and np.count_nonzero(recall) == 2
    a = widgets.input_sequence("noise", 30, seed=3)
    np.testing.assert_array_equal(a, widgets.input_sequence("noise", 30, seed=3))
    assert not np.array_equal(a, widgets.input_sequence("noise", 30, seed=4))
    assert a.shape == (30, 1) and 0.5 < a.std() < 1.5
    with pytest.raises(ValueError, match="pulse"):
        widgets.input_sequence("chirp")
    with pytest.raises(TypeError, match="steps T"):
        widgets.input_sequence("pulse", 10.0)


def test_rnn_input_jacobian_norms_match_backward():
    cell = ll.RNNCell(2, 5, seed=4)
    x = np.random.default_rng(0).normal(size=(9, 2))
    np.testing.assert_allclose(widgets.rnn_input_jacobian_norms(cell, cell.forward(x)),
                               rnn_reference_norms(cell, x), rtol=1e-10)
    with pytest.raises(ValueError, match="RNNCell"):
        gru = ll.GRUCell(1, 2)
        widgets.rnn_input_jacobian_norms(gru, gru.forward(np.ones((3, 1))))


@pytest.mark.parametrize("name", ["forget", "rnn_memory"])
def test_display_gives_the_widget_a_picture_and_a_stable_text(make, name):
    from IPython.core.formatters import DisplayFormatter

    ex = make(name)
    data, _meta = DisplayFormatter().format(ex)
    assert data["text/plain"] == repr(ex) and "0x" not in data["text/plain"]
    assert data["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    assert base64.b64decode(data["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    view = ex.widget.children[-1]
    first = view.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    slider = next(iter(ex.sliders.values()))
    slider.value = other_value(slider)
    assert view.value != first, "once displayed, the image follows the sliders"


def test_under_ipympl_the_canvas_is_the_widget():
    script = textwrap.dedent("""
        import warnings
        warnings.simplefilter("always")
        caught = warnings.catch_warnings(record=True)
        record = caught.__enter__()
        import matplotlib.pyplot as plt
        from ipympl.backend_nbagg import Canvas
        from lstm_lab import widgets
        for name, cls in widgets.EXPLORERS.items():
            ex = cls()
            assert plt.get_fignums() == [], "an explorer's figure stays out of pyplot"
            assert isinstance(ex.figure.canvas, Canvas), name
            assert ex.widget.children[-1] is ex.figure.canvas, name
            slider = next(iter(ex.sliders.values()))
            slider.value = slider.value + 0.5
            assert ex.error is None, ex.error
            bundle = ex._repr_mimebundle_()
            assert ex.figure.canvas._data_url.startswith("data:image/png;base64,"), name
            assert bundle["text/plain"] == repr(ex)
            ex.close()
        assert plt.get_fignums() == [], plt.get_fignums()
        ours = [str(w.message) for w in record
                if "lstm_lab" in w.filename or "ipympl" in w.filename]
        assert not ours, ours
        print("ok")
    """)
    env = dict(os.environ, MPLBACKEND="module://ipympl.backend_nbagg",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]


def test_importing_the_package_loads_no_widgets():
    code = ("import sys, lstm_lab; "
            "names = ('ipywidgets', 'matplotlib', 'lstm_lab.widgets'); "
            "print([m for m in names if m in sys.modules])")
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kind", ll.CELLS)
def test_the_cell_explorer_accepts_every_registered_cell(kind):
    ex = widgets.CellExplorer(cell=kind, t=5)
    try:
        assert ex.cell.kind == kind and list(ex.sliders) == list(ex.cell.params)
        assert ex.plots["diagram"].kind == kind
        check_plots(ex)
        for name, slider in ex.sliders.items():
            slider.value = slider.value + 0.5
            assert ex.error is None, (name, ex.error)
            np.testing.assert_allclose(ex.cell.params[name], slider.value, err_msg=name)
        check_plots(ex)
        ex.controls["t"].value = 9
        check_plots(ex)
    finally:
        ex.close()
    with pytest.raises(ValueError, match="cell must be one of rnn, lstm"):
        widgets.CellExplorer(cell="transformer")


# ------------------------------------------------------------------------------------ attention


def test_attention_explorer_keeps_the_contract(make):
    ex = make("attention")
    assert list(ex.sliders) == ["scale"] and ex.sliders["scale"].value == 1.0
    assert isinstance(ex.sliders["scale"], ipywidgets.FloatSlider)
    assert {"t", "L", "example", "reset"} <= set(ex.controls)
    assert isinstance(ex.figure, Figure) and ex.error is None
    assert repr(ex) == "AttentionExplorer(L=12, example=0, t=1; scale=1.00)"
    assert ex.accuracy == 1.0                      # the pretrained reverser gets it right
    check_plots(ex)


def test_attention_explorer_scale_blurs_the_weights_and_leaves_the_model_alone(make):
    from lstm_lab.attention import load_seq2seq

    model = load_seq2seq()
    ex = make("attention", model=model)
    start = pixels(ex)
    sharp = ex.weights.max(axis=1).mean()
    ex.sliders["scale"].value = 0.0                # uniform weights: the decoder loses its place
    assert ex.error is None, ex.error
    np.testing.assert_allclose(ex.weights, 1 / 12)
    assert ex.accuracy < 0.5 and model.attention.scale == 1.0
    assert np.any(pixels(ex) != start)
    check_plots(ex)
    ex.sliders["scale"].value = 0.5
    assert 1 / 12 < ex.weights.max(axis=1).mean() < sharp
    ex.controls["reset"].click()
    assert ex.sliders["scale"].value == 1.0 and ex.accuracy == 1.0
    np.testing.assert_array_equal(pixels(ex), start)


def test_attention_explorer_steps_and_lengths(make):
    ex = make("attention")
    for t in (1, 6, 12):
        ex.controls["t"].value = t
        assert ex.error is None, ex.error
        assert int(ex.weights[t - 1].argmax()) in (12 - t - 1, 12 - t, 12 - t + 1)
        check_plots(ex)
    ex.controls["L"].value = 5                     # t follows the new length
    assert ex.controls["t"].max == 5 and ex.controls["t"].value <= 5
    assert len(ex.source) == 5 and ex.error is None
    check_plots(ex)
    ex.controls["example"].value = 3
    check_plots(ex)


def test_attention_explorer_shows_errors_and_refuses_bad_models(make, monkeypatch):
    ex = make("attention")
    monkeypatch.setattr(ex.model, "decode", lambda x: (_ for _ in ()).throw(
        RuntimeError("decoder broke on purpose")))
    ex.sliders["scale"].value = 2.0
    assert isinstance(ex.error, RuntimeError) and "decoder broke" in ex.error_box.value
    assert ex.sliders["scale"].value == 1.0          # the failed move was rolled back
    monkeypatch.undo()
    ex.sliders["scale"].value = 2.0
    assert ex.error is None
    from lstm_lab.attention import Seq2Seq

    with pytest.raises(TypeError, match="with attention"):
        widgets.AttentionExplorer(model=Seq2Seq(ll.GRUCell(8, 4), ll.GRUCell(9, 4), 8))
    with pytest.raises(ValueError, match="at most max_length"):
        widgets.AttentionExplorer(length=50)
