"""Slider explorers for the notebooks: ipywidgets wired to a cell, its plots and its diagram.

Every explorer in `EXPLORERS` keeps the widgets contract of DESIGN.md:

- it is built with no arguments and customised by keyword arguments
  (``ForgetGateExplorer(b_f=3.0, sequence='step')``);
- ``.sliders`` maps a parameter name of the symbol table ('W_xf', 'b_f', ...) to the
  ``FloatSlider`` that sets it; ``.controls`` holds every other control ('sequence', 't',
  'reset', ...);
- ``.figure`` is the one matplotlib Figure it draws into, built once, and ``.plots`` the plot
  objects drawn in it (``plots.GatesPlot``, ``diagram.CellDiagram``, ...); ``.widget`` is the
  ipywidgets container (controls above the canvas), and the explorer displays itself;
- setting a slider's ``.value`` from Python writes it into ``cell.params`` in place, runs the
  cell again and updates the existing artists before it returns, then asks the canvas to
  redraw, so everything can be tested headlessly under Agg;
- an exception raised while updating is kept in ``.error`` and shown in the widget
  (``.error_box``); an update that fails or is interrupted (Stop) half-way is undone as a
  whole: the cell's params, the computed trace, the moved slider or control and the figure
  go back to what they were; the "Reset" button (``controls['reset']``) puts every slider and
  control back to its default.

In JupyterLab after ``%matplotlib widget`` the canvas is ipympl's interactive widget. Under
any other backend the explorer draws with Agg, shows the picture in an image widget once it
is displayed, and otherwise draws when the pixels are read (``canvas.draw()``,
``canvas.buffer_rgba()``, ``savefig``). The 't' control, the plots' time axis and the
diagram count time steps the same way, t = 1..T as in the equations.

>>> from lstm_lab import widgets
>>> ex = widgets.ForgetGateExplorer()
>>> ex
ForgetGateExplorer(sequence='pulse', T=30, t=4; W_xf=0.00, W_hf=0.00, b_f=1.50)
>>> ex.sliders['b_f'].value = 4.0          # f_t = sigmoid(4) ~ 0.98: the cell keeps c
>>> float(ex.cell.params['b_f'][0])
4.0
>>> round(float(ex.trace.gates['f'][-1, 0]), 3)
0.982
>>> ex.close()
"""

import base64
import html
import io
import itertools
import time
import traceback
import warnings
from functools import partial

import ipywidgets as widgets
import matplotlib
import matplotlib.image
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from . import diagram, gradients, plots
from ._atomic import commit, interrupts_deferred
from ._checks import as_real_array
from .cells import CELLS, LSTMCell, RNNCell
from .symbols import ACTIVATION_OF
from .tasks import AddingTask, CopyTask
from .train import Adam, SequenceModel, fit

__all__ = [
    "EXPLORERS", "GRU_DEFAULTS", "LSTM_DEFAULTS", "LSTM_FAMILY", "SEQUENCES",
    "AttentionExplorer", "CellExplorer", "CellUpdateExplorer", "ChainExplorer", "Explorer",
    "ForgetGateExplorer", "GRUExplorer", "InputGateExplorer", "LSTMExplorer",
    "LSTMVariantExplorer", "MemorySpanExplorer", "OutputGateExplorer", "RNNMemoryExplorer",
    "ShapesExplorer", "TrainingExplorer", "UnitExplorer", "input_sequence",
    "rnn_input_jacobian_norms", "shape_forward",
]

# ------------------------------------------------------------------------------- input sequences

SEQUENCES = {
    "pulse": "pulse, then silence",
    "step": "step (on from T/3)",
    "noise": "noise (seeded)",
    "store_recall": "store, wait, recall",
}
"""The input sequences the explorers offer: key -> the label in the dropdown."""


def input_sequence(kind="pulse", steps=30, *, amplitude=1.0, seed=0):
    """One input channel over time, an array (T, 1), for the explorers' 'sequence' control.

    Steps count from 1 as in the equations (x_t is row t - 1):

    - 'pulse': x_3 = amplitude, zero everywhere else (a pulse, then silence);
    - 'step': zero up to t = T//3, then amplitude to the end;
    - 'noise': amplitude * N(0, 1) at every step, from ``np.random.default_rng(seed)``;
    - 'store_recall': x_3 = amplitude (the value to store) and x_{T-4} = -amplitude (the cue
      to recall it), zero everywhere else.

    >>> input_sequence('pulse', 8)[:, 0]
    array([0., 0., 1., 0., 0., 0., 0., 0.])
    >>> input_sequence('store_recall', 10, amplitude=0.5)[:, 0]
    array([ 0. ,  0. ,  0.5,  0. ,  0. , -0.5,  0. ,  0. ,  0. ,  0. ])
    """
    if kind not in SEQUENCES:
        raise ValueError(f"sequence must be one of {', '.join(map(repr, SEQUENCES))}; got {kind!r}")
    steps = _positive_int(steps, "steps T")
    if steps < 8:
        raise ValueError(f"steps T must be at least 8 so every input sequence fits; got {steps}")
    x = np.zeros((steps, 1))
    if kind == "pulse":
        x[2] = amplitude
    elif kind == "step":
        x[steps // 3:] = amplitude
    elif kind == "noise":
        x[:, 0] = amplitude * np.random.default_rng(seed).standard_normal(steps)
    else:
        x[2] = amplitude
        x[steps - 5] = -amplitude
    return x


def _positive_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


def rnn_input_jacobian_norms(cell, trace):
    """||dh_t / dx_1|| for t = 1..T of a vanilla RNN trace of one sequence: an array (T,).

    Exact forward-mode Jacobian products, one small matrix product a step:
    dh_1/dx_1 = diag(1 - h_1^2) W_xh and dh_t/dx_1 = diag(1 - h_t^2) W_hh dh_{t-1}/dx_1.
    The norm is the spectral norm of the (H, D) matrix (the vector norm when D = 1).

    >>> cell = RNNCell(1, 2, seed=0)
    >>> cell.params['W_xh'] = np.array([[1.0], [0.0]])
    >>> cell.params['W_hh'] = 0.5 * np.eye(2)
    >>> rnn_input_jacobian_norms(cell, cell.forward(np.zeros((4, 1))))   # h stays 0: 0.5^(t-1)
    array([1.   , 0.5  , 0.25 , 0.125])
    """
    if not isinstance(cell, RNNCell) or trace.batched:
        raise ValueError("rnn_input_jacobian_norms needs an RNNCell and the trace of one sequence "
                         f"(x shaped (T, D)); got kind={cell.kind!r}, batched={trace.batched}")
    W_xh, W_hh = cell.params["W_xh"], cell.params["W_hh"]
    slope = 1.0 - trace.h * trace.h                    # tanh'(a_t) at every step, (T, H)
    J = slope[0][:, None] * W_xh                       # dh_1/dx_1, (H, D)
    norms = np.empty(len(trace))
    norms[0] = _norm(J)
    for t in range(1, len(trace)):
        J = slope[t][:, None] * (W_hh @ J)             # back through tanh, then W_hh
        norms[t] = _norm(J)
    return norms


def _norm(J):
    """Spectral norm of a small matrix (the vector norm for a single column)."""
    if J.shape[1] == 1:
        return float(np.sqrt(np.sum(J * J)))
    return float(np.linalg.norm(J, 2))


# ---------------------------------------------------------------------------- the base class

LSTM_DEFAULTS = {
    "W_xf": 0.0, "W_hf": 0.0, "b_f": 1.5,      # f ~ 0.82 whatever the input: c fades slowly
    "W_xi": 4.0, "W_hi": 0.0, "b_i": -2.0,     # i opens (0.88) at x = 1, nearly shut (0.12) at 0
    "W_xg": 2.0, "W_hg": 0.0, "b_g": 0.0,      # g = tanh(2 x): the value that would be written
    "W_xo": 0.0, "W_ho": 0.0, "b_o": 2.0,      # o ~ 0.88: h shows most of tanh(c)
}
"""The hand-set one-unit LSTM the LSTM explorers start from (each changes a few entries)."""

_SLIDER_RANGE = (-6.0, 6.0, 0.05)


def _fewer_ticks(gates=None, axes=(), nbins=4):
    """Fewer tick labels, the main cost of every redraw (each label is laid out and drawn anew).

    For a plots.GatesPlot the upper panels drop their x axis (their labels are hidden anyway;
    the bottom panel carries the time axis); other axes get at most `nbins` intervals per axis.
    """
    if gates is not None:
        for ax in gates.axes[:-1]:
            ax.xaxis.set_visible(False)
        axes = [*axes, *gates.axes]
        gates.axes[-1].xaxis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 5, 10],
                                                            integer=True))
    for ax in axes:
        if not isinstance(ax.yaxis.get_major_locator(), FixedLocator):
            ax.yaxis.set_major_locator(MaxNLocator(nbins=2, steps=[1, 2, 2.5, 5, 10]))


def _margins(sub, left, right, bottom, top, **kwargs):
    """subplots_adjust of a (sub)figure with the margins given in inches."""
    x0, y0, x1, y1 = sub.bbox.extents
    w, h = (x1 - x0) / sub.dpi, (y1 - y0) / sub.dpi     # (sub)figure size in inches
    sub.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        **kwargs)


class _IdleAggCanvas(FigureCanvasAgg):
    """An Agg canvas whose draw_idle waits, as a GUI backend's does, until the picture is needed.

    A GUI canvas redraws once control returns to its event loop, however many updates asked
    for it. Without an event loop the picture is needed when its pixels are read, so the
    pending draw happens then: in ``buffer_rgba()``, ``copy_from_bbox()``, ``draw()`` and
    ``savefig``. Every update is drawn at most once, and every read sees the current picture.
    """

    def __init__(self, figure):
        super().__init__(figure)
        self._pending = True           # nothing drawn yet

    def draw_idle(self, *args, **kwargs):
        self._pending = True

    def draw(self):
        self._pending = False
        super().draw()

    def _flush(self):
        if self._pending:
            self.draw()

    def buffer_rgba(self):
        self._flush()
        return super().buffer_rgba()

    def copy_from_bbox(self, bbox):
        self._flush()
        return super().copy_from_bbox(bbox)


_figure_numbers = itertools.count(1)


def _new_figure(figsize, dpi):
    """A Figure drawn on ipympl's canvas widget when that backend is active, else on Agg.

    Under ipympl the canvas and its manager are made the way ipympl makes them, inside
    ``plt.ioff()`` so nothing is shown before the explorer is, and without registering the
    figure with pyplot (``plt.gcf()`` and ``plt.plot`` never draw into an explorer).
    Otherwise the canvas is an Agg canvas that draws when its pixels are read.
    Returns (figure, uses_ipympl).
    """
    fig = Figure(figsize=figsize, dpi=dpi)
    backend = matplotlib.get_backend().lower()
    if "ipympl" in backend or backend == "widget":
        import matplotlib.pyplot as plt
        from ipympl import backend_nbagg

        with plt.ioff(), warnings.catch_warnings():
            # ipympl's toolbar passes its canvas on to traitlets, which objects (harmlessly)
            warnings.filterwarnings("ignore", "Passing unrecognized arguments to super",
                                    DeprecationWarning)
            backend_nbagg.new_figure_manager_given_figure(next(_figure_numbers), fig)
        canvas = fig.canvas
        canvas.header_visible = False
        canvas.footer_visible = False
        canvas.resizable = False
        canvas.toolbar_position = "right"
        return fig, True
    _IdleAggCanvas(fig)
    return fig, False


class Explorer:
    """What every explorer shares: sliders, controls, one figure, errors shown, reset, display.

    A subclass sets `name`, `slider_names`, `defaults` (parameter name -> default value) and
    `options` (keyword -> default), and writes `_make_cell`, `_make_controls`, `recompute`
    (run the model, no drawing), `_build_plots` (once) and `_update_artists` (in place).

    Attributes
    ----------
    cell : the cell whose ``params`` the sliders write into
    sliders : dict parameter name -> ipywidgets.FloatSlider (its description is the name)
    controls : dict name -> the other controls; always 'reset' (an ipywidgets.Button)
    figure : matplotlib.figure.Figure, built once
    plots : dict name -> the plot objects drawn in the figure
    widget : ipywidgets.VBox: the sliders, the controls, the error box and the canvas
    error : the exception the last update raised, or None when it succeeded
    error_box : ipywidgets.HTML showing that error (hidden when there is none)
    """

    name = None
    slider_names = ()
    defaults = {}
    options = {}
    figsize = (8.6, 3.7)
    dpi = 90

    def __init__(self, **kwargs):
        unknown = set(kwargs) - set(self.options) - set(self.defaults)
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) "
                f"{', '.join(sorted(unknown))}; it takes the options {', '.join(self.options)} "
                f"and the parameters {', '.join(self.defaults)}")
        self._opts = {k: kwargs.get(k, v) for k, v in self.options.items()}
        self._param_defaults = {}
        for k, v in self.defaults.items():
            value = kwargs.get(k, v)
            number = isinstance(value, (int, float, np.integer, np.floating))
            if not number or isinstance(value, bool) or not np.isfinite(value):
                raise TypeError(f"{k} must be a finite number; got {value!r}")
            self._param_defaults[k] = float(value)
        self._holding = False    # True while reset sets many values: one update at the end
        self._restoring = False  # True while a failed update puts the controls back
        self._live_view = False  # True once displayed: keep the snapshot image current
        self.error = None
        self.plots = {}
        self.cell = self._make_cell()
        for name, value in self._param_defaults.items():
            self._apply_param(name, value)
        self.sliders = {name: self._make_slider(name) for name in self.slider_names}
        self.controls = self._make_controls()
        self.recompute()
        self.figure, self._ipympl = _new_figure(self.figsize, self.dpi)
        self._build_plots()
        self._add_time_controls()
        self.controls["reset"] = widgets.Button(
            description="Reset", icon="undo", tooltip="every slider and control to its default",
            layout=widgets.Layout(width="7.5em"))
        self._control_defaults = {k: c.value for k, c in self.controls.items()
                                  if hasattr(c, "value")}
        self._update_artists()
        self.error_box = widgets.HTML(layout=widgets.Layout(display="none"))
        if self._ipympl:
            self._view = self.figure.canvas
        else:
            self._view = widgets.Image(format="png", layout=widgets.Layout(width="auto"))
        self.widget = widgets.VBox([*self._control_rows(), self.error_box, self._view])
        for name, slider in self.sliders.items():
            slider.observe(partial(self._on_slider, name), names="value")
        for name, control in self.controls.items():
            self._observe_control(name, control)

    @property
    def param_defaults(self):
        """Every parameter's default value here (the class defaults, then keyword arguments)."""
        return dict(self._param_defaults)

    # -- building blocks ---------------------------------------------------------------------

    def _make_slider(self, name):
        lo, hi, step = _SLIDER_RANGE
        value = self._param_defaults[name]
        letter = name[-1]                          # W_xf, W_hf, b_f -> 'f'
        return widgets.FloatSlider(
            value=value, min=min(lo, value), max=max(hi, value), step=step, description=name,
            readout_format=".2f", continuous_update=True,
            style={"description_width": "3.2em",
                   "handle_color": plots.COLORS.get(letter, "#777777")},
            layout=widgets.Layout(width="19em"))

    def _sequence_control(self):
        if self._opts["sequence"] not in SEQUENCES:
            raise ValueError(f"sequence must be one of {', '.join(map(repr, SEQUENCES))}; "
                             f"got {self._opts['sequence']!r}")
        return widgets.Dropdown(options=[(label, key) for key, label in SEQUENCES.items()],
                                value=self._opts["sequence"], description="input x",
                                style={"description_width": "4em"},
                                layout=widgets.Layout(width="15.5em"))

    def _add_time_controls(self):
        """Controls that need the figure (the time axis); none by default."""

    def _control_rows(self):
        """Rows above the canvas: the sliders grouped by gate, then the other controls."""
        groups = {}
        for name, slider in self.sliders.items():
            groups.setdefault(name[-1], []).append(slider)
        rows = [widgets.HBox(group) for group in groups.values()]
        rows.append(widgets.HBox(list(self.controls.values()),
                                 layout=widgets.Layout(align_items="center", flex_flow="row wrap")))
        return rows

    def _observe_control(self, name, control):
        if name == "reset":
            control.on_click(lambda _button: self.reset())
        elif name == "t":
            control.observe(lambda change: self._guarded(self._time_moved, (control, change)),
                            names="value")
        elif name != "play":                      # play drives 't' through a link
            control.observe(
                lambda change: self._guarded(self._refresh_unless_holding, (control, change)),
                names="value")

    # -- updates -----------------------------------------------------------------------------

    def _apply_param(self, name, value):
        """Write a slider's value into the cell's live parameter array, in place."""
        self.cell.params[name][...] = value

    def _on_slider(self, name, change):
        def work():
            self._apply_param(name, change["new"])
            self._refresh_unless_holding()
        self._guarded(work, (self.sliders[name], change))

    def _refresh_unless_holding(self):
        if not self._holding:
            self.recompute()
            self._update_artists()
            self._draw()

    def _time_moved(self):
        if not self._holding:
            self._update_time()
            self._draw()

    def _update_time(self):
        """Move what follows the time step (markers, the diagram's numbers); no recompute."""

    def refresh(self):
        """Run the model for the current settings and redraw; an error is shown, not raised."""
        self._guarded(lambda: (self.recompute(), self._update_artists(), self._draw()))

    def _guarded(self, work, moved=None):
        """Run one update as a whole: if it fails or is interrupted half-way, the cell's params,
        what ``recompute`` computed, the sliders and controls (`moved` = (widget, change) for
        the one that triggered it) and the figure go back to what they were. An error is then
        shown (and kept in ``.error``); an interrupt goes on once everything is back."""
        if self._restoring:
            return
        state = dict(self.__dict__)
        params = [(arr.copy(), arr) for arr in self.cell.params.values()]
        values = [(w, w.value) for w in self._value_widgets()]
        if moved is not None:
            widget, change = moved
            values = [(w, change["old"] if w is widget else v) for w, v in values]
        try:
            work()
        except BaseException as exc:
            with interrupts_deferred():
                self._roll_back(state, params, values)
            if not isinstance(exc, Exception):
                raise
            self._show_error(exc)  # kept in .error and shown in the widget, not swallowed
        else:
            if self.error is not None:
                self._show_error(None)

    def _value_widgets(self):
        return [w for w in (*self.sliders.values(), *self.controls.values())
                if hasattr(w, "value")]

    def _roll_back(self, state, params, values):
        """Put back the state `_guarded` saved, then redraw it."""
        self._restoring = True
        try:
            for widget, value in values:
                if widget.value != value:
                    widget.value = value
        finally:
            self._restoring = False
        commit(params)
        for key in set(self.__dict__) - set(state):
            del self.__dict__[key]
        self.__dict__.update(state)
        try:
            self._update_artists()
            self._draw()
        except Exception:  # noqa: S110 -- the saved state drew before; keep what is shown
            pass

    def _show_error(self, exc):
        self.error = exc
        if exc is None:
            self.error_box.value = ""
            self.error_box.layout.display = "none"
            return
        frames = traceback.extract_tb(exc.__traceback__)
        where = ""
        if frames:
            last = frames[-1]
            file = last.filename.replace("\\", "/").rsplit("/", 1)[-1]   # no folders shown
            where = f"\n  in {last.name}() at {file}:{last.lineno}"
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip() + where
        self.error_box.value = (
            '<pre style="color:#a00000; background:#fff0f0; padding:4px 6px; margin:2px 0; '
            f'white-space:pre-wrap">The update failed: {html.escape(text)}</pre>')
        self.error_box.layout.display = None

    def _draw(self):
        self.figure.canvas.draw_idle()
        if self._live_view:
            self._push_snapshot()

    def _snapshot_png(self):
        """The figure as PNG bytes, drawn now by Agg."""
        canvas = self.figure.canvas
        if self._ipympl:
            # render only: ipympl's own draw() would also push an image to the frontend and,
            # before the frontend is up, store it in _data_url without the "data:" prefix
            FigureCanvasAgg.draw(canvas)
        else:
            canvas.draw()
        buf = io.BytesIO()
        matplotlib.image.imsave(buf, np.asarray(canvas.buffer_rgba()), format="png")
        return buf.getvalue()

    def _push_snapshot(self):
        """Keep the picture current where ipympl's live canvas is not (no ipympl, no frontend)."""
        if not self._ipympl:
            self._view.value = self._snapshot_png()
        elif getattr(self._view, "syncing_data_url", False):   # no frontend has attached yet
            png = base64.b64encode(self._snapshot_png()).decode("ascii")
            self._view._data_url = f"data:image/png;base64,{png}"

    def reset(self):
        """Every slider and control back to its default, then one update."""
        self._guarded(self._reset_work)

    def _reset_work(self):
        self._holding = True
        try:
            if "play" in self.controls:
                self.controls["play"].playing = False
            for name, slider in self.sliders.items():
                slider.value = self._param_defaults[name]
                self._apply_param(name, self._param_defaults[name])
            for name, value in self._control_defaults.items():
                self.controls[name].value = value
        finally:
            self._holding = False
        self.recompute()
        self._update_artists()
        self._draw()

    # -- display -----------------------------------------------------------------------------

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """The live widget, a PNG of the figure for where no kernel runs, and the repr as text."""
        self._live_view = True
        png = self._snapshot_png()
        if self._ipympl:
            self._view._data_url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        else:
            self._view.value = png
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        bundle["text/plain"] = repr(self)
        bundle["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle

    def close(self):
        """Close the widgets (under ipympl the canvas too); the figure goes with the explorer."""
        for w in [*self.sliders.values(), *self.controls.values(), self.error_box, self._view,
                  self.widget]:
            w.close()

    def _state_repr(self):
        return ""

    def __repr__(self):
        sliders = ", ".join(f"{k}={s.value:.2f}" for k, s in self.sliders.items())
        state = self._state_repr()
        return f"{type(self).__name__}({state}{'; ' if state and sliders else ''}{sliders})"

    # -- written by each explorer ------------------------------------------------------------

    def _make_cell(self):
        raise NotImplementedError

    def _make_controls(self):
        raise NotImplementedError

    def recompute(self):
        """Run the model for the current sliders and controls (no drawing)."""
        raise NotImplementedError

    def _build_plots(self):
        raise NotImplementedError

    def _update_artists(self):
        raise NotImplementedError


# ------------------------------------------------------------------- the LSTM step explorers


class _OneUnitLSTMExplorer(Explorer):
    """A one-unit LSTM with one input (H = D = 1): each weight is one number and one slider."""

    defaults = LSTM_DEFAULTS
    options = {"sequence": "pulse", "steps": 30, "seed": 0}

    def _make_cell(self):
        self._steps = _positive_int(self._opts["steps"], "steps T")
        input_sequence("pulse", self._steps)  # T long enough for every sequence
        return LSTMCell(1, 1, seed=self._opts["seed"])

    def _make_controls(self):
        return {"sequence": self._sequence_control()}

    def recompute(self):
        self.x = input_sequence(self.controls["sequence"].value, self._steps,
                                seed=self._opts["seed"])
        self.trace = self.cell.forward(self.x)

    def _state_repr(self):
        return f"sequence={self.controls['sequence'].value!r}, T={self._steps}"


class _StepExplorer(_OneUnitLSTMExplorer):
    """One walkthrough step: its sliders, the gates over time, its activation curves, the diagram.

    ``controls['t']`` picks the time step the diagram writes its numbers for; a dashed line
    marks it on the time plots and a ring marks its pre-activation on the activation curves.
    """

    step = None                 # the diagram's step to highlight
    gates_shown = None          # symbols for plots.plot_gates
    activations = ()            # symbols whose sigmoid or tanh curve shows the pre-activations
    options = {**_OneUnitLSTMExplorer.options, "t": 4}
    figsize = (10.0, 5.0)
    _split = (0.8, 1.2)        # widths of the left column (time plots) and the right one

    def _build_plots(self):
        fig = self.figure
        left, right = fig.subfigures(1, 2, width_ratios=self._split, wspace=0.0)
        gates = plots.plot_gates(self.trace, fig=left, gates=self.gates_shown)
        _margins(left, left=0.7, right=0.1, bottom=0.55, top=0.2, hspace=0.45)
        self.plots["gates"] = gates
        # the plots' time axis: trace row r is drawn at x = r + origin
        self._t_origin = int(round(float(gates.lines["x"].get_xdata()[0])))
        self._build_right(right)
        _fewer_ticks(gates, [p.ax for k, p in self.plots.items() if k != "gates"])

    def _build_right(self, sub):
        """The diagram on top, the activation curves below it."""
        n = max(1, len(self.activations))
        gs = sub.add_gridspec(2, n, height_ratios=(2.3, 1.0), hspace=0.25, wspace=0.3,
                              left=0.09, right=0.98, bottom=0.11, top=1.0)
        self.plots["diagram"] = diagram.draw_cell("lstm", highlight=self.step, scale=None,
                                                  ax=sub.add_subplot(gs[0, :]))
        self._rings = {}
        for k, sym in enumerate(self.activations):
            kind = ACTIVATION_OF[sym]
            plot = plots.plot_activation(kind, self.trace.preacts[sym][:, 0],
                                         ax=sub.add_subplot(gs[1, k]), symbol=sym)
            plot.ax.get_legend().remove()
            plot.ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
            plot.ax.yaxis.set_major_locator(
                FixedLocator([0, 0.5, 1] if kind == "sigmoid" else [-1, 0, 1]))
            (self._rings[sym],) = plot.ax.plot([0.0], [0.0], "o", ms=10, mfc="none", mec="k",
                                               mew=1.5, zorder=5)
            self.plots["activation_" + sym] = plot

    def _add_time_controls(self):
        T, t0 = self._steps, self._t_origin
        t = self._opts["t"]
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not t0 <= t < t0 + T:
            raise ValueError(f"t must be a time step from {t0} to {t0 + T - 1} (as on the plots' "
                             f"time axis); got {t!r}")
        self.controls["t"] = widgets.IntSlider(
            value=int(t), min=t0, max=t0 + T - 1, step=1, description="t",
            continuous_update=True, style={"description_width": "1.2em"},
            layout=widgets.Layout(width="17em"))

    @property
    def t(self):
        """The time step the diagram shows, as on the plots' time axis."""
        return self.controls["t"].value

    def _update_artists(self):
        self.plots["gates"].update(self.trace)
        for sym in self.activations:
            self.plots["activation_" + sym].update(self.trace.preacts[sym][:, 0])
        self._update_time()

    def _update_time(self):
        t, row = self.t, self.t - self._t_origin
        self.plots["gates"].set_time(t)
        for sym, ring in self._rings.items():
            ring.set_data([self.trace.preacts[sym][row, 0]], [self.trace.gates[sym][row, 0]])
        self.plots["diagram"].show_values(self.trace, t)

    def _state_repr(self):
        return f"{super()._state_repr()}, t={self.t}"


class ForgetGateExplorer(_StepExplorer):
    """Step 1, what to forget: f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + b_f).

    Sliders W_xf, W_hf, b_f. With the default pulse the cell writes c once and from then on
    only forgets: c_t shrinks by the factor f_t every step. b_f near 5 keeps it, b_f near
    -5 wipes it at once; a negative W_xf makes an input clear the memory.

    Panels: x and f, c, h over time (dashed: the step t the diagram shows); the sigmoid with
    every step's pre-activation (the ring marks step t); the cell diagram with the forget
    path highlighted and step t's values written on it.

    >>> ex = ForgetGateExplorer(b_f=-2.0, sequence='step')
    >>> list(ex.sliders), ex.controls['sequence'].value
    (['W_xf', 'W_hf', 'b_f'], 'step')
    >>> ex.close()
    """

    name = "forget"
    step = "forget"
    slider_names = ("W_xf", "W_hf", "b_f")
    gates_shown = ("f", "c", "h")
    activations = ("f",)


class InputGateExplorer(_StepExplorer):
    """Step 2, what to write: the input gate i_t and the candidate g_t (C~_t in colah's post).

    i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + b_i) decides how much of
    g_t = tanh(W_xg x_t + W_hg h_{t-1} + b_g) is added to the cell state.
    Sliders W_xi, W_hi, b_i, W_xg, W_hg, b_g. The default input is seeded noise and the
    default weights open i only for positive inputs, so c collects those alone.
    """

    name = "input"
    step = "input"
    slider_names = ("W_xi", "W_hi", "b_i", "W_xg", "W_hg", "b_g")
    defaults = {**LSTM_DEFAULTS, "b_f": 0.5}
    options = {**_StepExplorer.options, "sequence": "noise", "t": 5}
    gates_shown = ("i", "g", "c")
    activations = ("i", "g")


class CellUpdateExplorer(_StepExplorer):
    """Step 3, the update: c_t = f_t * c_{t-1} + i_t * g_t, the conveyor belt.

    The cell state is driven by the forget gate, the input gate and the candidate, so the
    sliders are theirs: W_xf, W_hf, b_f, W_xi, W_hi, b_i, W_xg, W_hg, b_g. The lower right
    panel is the conveyor: c_t with, at every step, what f_t removed and what i_t * g_t
    added. The default input is a step: c climbs until removing and adding balance.
    """

    name = "update"
    step = "update"
    slider_names = ("W_xf", "W_hf", "b_f", "W_xi", "W_hi", "b_i", "W_xg", "W_hg", "b_g")
    options = {**_StepExplorer.options, "sequence": "step", "t": 11}
    gates_shown = ("f", "i", "g", "c")

    def _build_right(self, sub):
        gs = sub.add_gridspec(2, 1, height_ratios=(2.3, 1.0), hspace=0.35,
                              left=0.09, right=0.98, bottom=0.11, top=1.0)
        self.plots["diagram"] = diagram.draw_cell("lstm", highlight=self.step, scale=None,
                                                  ax=sub.add_subplot(gs[0]))
        self.plots["conveyor"] = plots.plot_conveyor(self.trace, ax=sub.add_subplot(gs[1]))
        self._rings = {}

    def _update_artists(self):
        self.plots["conveyor"].update(self.trace)
        super()._update_artists()

    def _update_time(self):
        super()._update_time()
        self.plots["conveyor"].set_time(self.t)


class OutputGateExplorer(_StepExplorer):
    """Step 4, what to show: o_t = sigmoid(W_xo x_t + W_ho h_{t-1} + b_o), h_t = o_t * tanh(c_t).

    Sliders W_xo, W_ho, b_o. The default input stores a value at t = 3 and gives a recall
    cue, a negative input, at t = T - 4. The forget gate keeps c (b_f = 4) and the output
    gate opens only on the cue (W_xo = -4, b_o = -2), so h_t stays near zero while c_t holds
    the value, then shows it when asked.
    """

    name = "output"
    step = "output"
    slider_names = ("W_xo", "W_ho", "b_o")
    defaults = {**LSTM_DEFAULTS, "b_f": 4.0, "W_xo": -4.0, "b_o": -2.0}
    options = {**_StepExplorer.options, "sequence": "store_recall", "t": 26}
    gates_shown = ("o", "c", "h")
    activations = ("o",)


class LSTMExplorer(_StepExplorer):
    """The whole one-unit LSTM: all twelve weights, and a player that walks along the trace.

    ``controls['play']`` (an ipywidgets.Play) drives ``controls['t']``: the dashed time marker
    moves along the gate plots and the diagram writes the values of step t on its wires.
    The defaults are OutputGateExplorer's: store a value, hold it, show it on the recall cue.
    """

    name = "lstm"
    step = None
    slider_names = tuple(LSTM_DEFAULTS)
    defaults = OutputGateExplorer.defaults
    options = {**_StepExplorer.options, "sequence": "store_recall", "t": 3, "interval": 400}
    gates_shown = ("f", "i", "g", "o", "c", "h")
    figsize = (10.0, 4.0)

    def _build_right(self, sub):
        ax = sub.add_axes((0.0, 0.0, 1.0, 1.0))
        self.plots["diagram"] = diagram.draw_cell("lstm", ax=ax, scale=1.0)
        self._rings = {}

    def _add_time_controls(self):
        super()._add_time_controls()
        t = self.controls["t"]
        self.controls["play"] = widgets.Play(
            value=t.value, min=t.min, max=t.max, step=1, interval=self._opts["interval"],
            description="play", show_repeat=False)
        self._link = widgets.link((self.controls["play"], "value"), (t, "value"))

    def close(self):
        self._link.unlink()
        super().close()


class CellExplorer(LSTMExplorer):
    """Any registered cell (a key of ``ll.CELLS``), one unit with one input, all its weights.

    ``cell`` names the variant: its sliders are its own ``params`` (a removed gate has none),
    the plots show the gates its trace records, the diagram is the variant's own (removed
    parts faded). Weights the LSTM explorers also have start at their values; the others
    (peepholes, GRU weights) at the cell's seeded initial values.

    >>> ex = CellExplorer(cell='gru')
    >>> list(ex.sliders)[:3], ex.controls['sequence'].value
    (['W_xr', 'W_hr', 'b_r'], 'store_recall')
    >>> ex.close()
    """

    name = "cell"
    options = {**LSTMExplorer.options, "cell": "lstm"}

    def __init__(self, **kwargs):
        kind = kwargs.get("cell", self.options["cell"])
        if not isinstance(kind, str) or kind not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {kind!r}")
        probe = CELLS[kind](1, 1, seed=kwargs.get("seed", self.options["seed"]))
        # per instance: the sliders and defaults of this cell's own parameters
        self.slider_names = tuple(probe.params)
        self.defaults = {k: OutputGateExplorer.defaults.get(k, float(v[(0,) * v.ndim]))
                         for k, v in probe.params.items()}
        self.gates_shown = probe.gate_names + ("c",) * probe.has_cell_state + ("h",)
        super().__init__(**kwargs)

    def _make_cell(self):
        self._steps = _positive_int(self._opts["steps"], "steps T")
        input_sequence("pulse", self._steps)  # T long enough for every sequence
        return CELLS[self._opts["cell"]](1, 1, seed=self._opts["seed"])

    def _build_right(self, sub):
        ax = sub.add_axes((0.0, 0.0, 1.0, 1.0))
        self.plots["diagram"] = diagram.draw_cell(self._opts["cell"], ax=ax, scale=1.0)
        self._rings = {}

    def _state_repr(self):
        return f"cell={self._opts['cell']!r}, {super()._state_repr()}"


# ------------------------------------------------------------------------ memory explorers


def _orthogonal(n, seed):
    """A seeded random orthogonal (n, n) matrix (QR of a Gaussian, column signs fixed)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q * np.sign(np.diag(r))


class RNNMemoryExplorer(Explorer):
    """The long-term dependency problem: how much the pulse x_3 still moves h_t in a vanilla RNN.

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h) with H units (8 by default) and one input;
    W_hh = scale * Q for a fixed seeded orthogonal Q, and W_xh a fixed unit vector. The left
    panel follows the input at step 3, where the default pulse arrives (`source_step`):
    ||dh_{3+k}/dx_3|| on a log axis against the distance k it has travelled (exact Jacobian
    products, `rnn_input_jacobian_norms`), with the linear prediction scale^k dashed on top:
    below 1 the influence vanishes geometrically, above 1 it explodes until tanh saturates.
    The right panel is h_t of every unit over time, the same pulse entering at t = 3.

    Controls: 'scale' (of W_hh), 'amplitude' (of the input; large inputs push tanh into
    saturation, which shrinks the gradient), 'sequence', 'reset'. The slider 'b_h' sets every
    entry of the bias b_h to its value (a bias saturates tanh too).

    >>> ex = RNNMemoryExplorer()
    >>> ex.controls['scale'].value = 0.5
    >>> float(ex.norms[10] / ex.norms[0]) < 0.5 ** 9      # vanished within ten steps
    True
    >>> ex.close()
    """

    name = "rnn_memory"
    slider_names = ("b_h",)
    defaults = {"b_h": 0.0}
    options = {"hidden_size": 8, "steps": 30, "seed": 0, "scale": 0.9, "amplitude": 0.1,
               "sequence": "pulse"}
    figsize = (8.6, 3.2)
    _ylim = (1e-9, 1e6)
    source_step = 3     # the step whose input the left panel follows: input_sequence's pulse

    def _make_cell(self):
        self._steps = _positive_int(self._opts["steps"], "steps T")
        input_sequence("pulse", self._steps)
        H = _positive_int(self._opts["hidden_size"], "hidden_size H")
        cell = RNNCell(1, H, seed=self._opts["seed"])
        w = np.random.default_rng(self._opts["seed"] + 1).standard_normal(H)
        cell.params["W_xh"] = (w / np.linalg.norm(w))[:, None]
        self._Q = _orthogonal(H, self._opts["seed"])
        return cell

    def _make_slider(self, name):
        slider = super()._make_slider(name)
        slider.min, slider.max = min(-2.0, slider.value), max(2.0, slider.value)
        return slider

    def _make_controls(self):
        scale = widgets.FloatSlider(
            value=self._opts["scale"], min=0.5, max=1.5, step=0.01, description="scale",
            readout_format=".2f", continuous_update=True, style={"description_width": "3.2em"},
            layout=widgets.Layout(width="19em"))
        amplitude = widgets.FloatSlider(
            value=self._opts["amplitude"], min=0.0, max=3.0, step=0.05, description="amplitude",
            readout_format=".2f", continuous_update=True, style={"description_width": "4.8em"},
            layout=widgets.Layout(width="20.5em"))
        return {"scale": scale, "amplitude": amplitude, "sequence": self._sequence_control()}

    def recompute(self):
        scale = self.controls["scale"].value
        self.cell.params["W_hh"][...] = scale * self._Q
        self.x = input_sequence(self.controls["sequence"].value, self._steps,
                                amplitude=self.controls["amplitude"].value, seed=self._opts["seed"])
        self.trace = self.cell.forward(self.x)
        s = self.source_step                    # the run again from step s on: its x_1 is x_s
        tail = self.cell.forward(self.x[s - 1:], h0=self.trace.h[s - 2])
        self.norms = rnn_input_jacobian_norms(self.cell, tail)        # index k = t - s
        self.linear = scale ** np.arange(len(tail))

    def _curves(self):
        s = self.source_step
        return {rf"$\|\partial h_{{{s}+k}} / \partial x_{s}\|$": self.norms,
                r"linear: $\mathrm{scale}^k$": self.linear}

    def _build_plots(self):
        ax, ax_h = self.figure.subplots(1, 2, width_ratios=(1.3, 1.0))
        _margins(self.figure, left=0.75, right=0.6, bottom=0.5, top=0.3, wspace=0.2)
        curves = self._curves()
        norms = plots.plot_gradient_norms(curves, ax=ax, ylabel="norm", colors=dict(
            zip(curves, (plots.COLORS["h"], "0.45"), strict=True)))
        measured, handles = norms.lines[next(iter(curves))], ax.get_legend().legend_handles
        for line in (measured, handles[0]):
            line.set_linewidth(4.0)                            # wide, so the dashed line on top
            line.set_alpha(0.6)                                # of it stays visible
        for line in (norms.lines[r"linear: $\mathrm{scale}^k$"], handles[1]):
            line.set_linestyle("--")
            line.set_linewidth(1.3)
            line.set_color("0.1")
            line.set_zorder(2.5)                               # over the measured curve
        ax.axhline(1.0, color="0.7", lw=0.8, zorder=0)
        ax.yaxis.set_minor_locator(NullLocator())   # ~100 minor ticks over 15 decades: slow
        s = self.source_step
        ax.set_xlabel(rf"steps $k$ from $x_{s}$ to $h_{{{s}+k}}$")
        ax.set_title(rf"how much the input $x_{s}$ still moves $h_t$", fontsize=10)
        self.plots["norms"] = norms
        self.plots["heatmap"] = plots.plot_heatmap(self.trace, gate="h", ax=ax_h)

    def _update_artists(self):
        self.plots["norms"].update(self._curves())
        self.plots["norms"].ax.set_ylim(*self._ylim)      # fixed: the slope is what changes
        self.plots["heatmap"].update(self.trace)
        m = max(float(np.max(np.abs(self.trace.h))), 1e-3)  # small inputs: show them anyway
        self.plots["heatmap"].image.set_clim(-m, m)

    def _state_repr(self):
        c = self.controls
        return (f"H={self.cell.hidden_size}, T={self._steps}, scale={c['scale'].value:.2f}, "
                f"amplitude={c['amplitude'].value:.2f}, sequence={c['sequence'].value!r}")


class MemorySpanExplorer(_OneUnitLSTMExplorer):
    """How far back an LSTM's gradient reaches, set by the forget gate.

    A one-unit LSTM with sliders b_f, W_xf, W_hf. The left panel shows, on a log axis
    against the distance k = T - t, |dh_T/dh_t| (c_t held fixed) and |dc_T/dc_t| (h_t held
    fixed), exact products of the per-step Jacobians (`lstm_lab.gradients.state_jacobians`),
    and dotted the product of the forget gates f_{t+1} ... f_T, the cell path alone. With
    b_f = 1 the gradient fades within a dozen steps; with b_f = 5 it still reaches the start.
    The right panel shows x, f and c over time.

    >>> ex = MemorySpanExplorer()
    >>> ex.sliders['b_f'].value = 5.0
    >>> bool(ex.dc[0] > 0.5)                 # |dc_T/dc_0|: the gradient reaches t = 0
    True
    >>> ex.close()
    """

    name = "memory_span"
    slider_names = ("b_f", "W_xf", "W_hf")
    # recurrent weights on, so that h_t reaches later steps (through i, g and o)
    defaults = {**LSTM_DEFAULTS, "b_f": 1.0, "W_hi": 1.0, "W_hg": 1.0, "W_ho": 1.0}
    options = {**_OneUnitLSTMExplorer.options, "sequence": "noise", "steps": 40}
    _ylim = (1e-12, 3.0)
    _names = (r"$|\partial h_T / \partial h_t|$", r"$|\partial c_T / \partial c_t|$",
              r"$f_{t+1} \cdots f_T$")

    def recompute(self):
        super().recompute()
        P = gradients.state_jacobians(self.cell, self.trace)   # entry t: d(h_T, c_T)/d(h_t, c_t)
        self.dh = np.abs(P[:, 0, 0])                           # one unit: the blocks are 1 x 1
        self.dc = np.abs(P[:, 1, 1])
        self.forget = gradients.forget_gate_products(self.trace)[:, 0]

    def _curves(self):
        # plots.plot_gradient_norms indexes by the distance k = T - t
        return dict(zip(self._names, (self.dh[::-1], self.dc[::-1], self.forget[::-1]),
                        strict=True))

    def _build_plots(self):
        left, right = self.figure.subfigures(1, 2, width_ratios=(1.15, 1.0), wspace=0.0)
        ax = left.add_subplot()
        _margins(left, left=0.75, right=0.15, bottom=0.5, top=0.3)
        norms = plots.plot_gradient_norms(self._curves(), ax=ax, ylabel="norm", colors=dict(
            zip(self._names, (plots.COLORS["h"], plots.COLORS["c"], plots.COLORS["f"]),
                strict=True)))
        for line in (norms.lines[self._names[2]], ax.get_legend().legend_handles[2]):
            line.set_linestyle(":")
            line.set_linewidth(1.6)
        ax.axhline(1.0, color="0.7", lw=0.8, zorder=0)
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(r"distance back in time $k = T - t$")
        ax.set_title(f"how far back the gradient of step T={self._steps} reaches", fontsize=10)
        self.plots["norms"] = norms
        self.plots["gates"] = plots.plot_gates(self.trace, fig=right, gates=("f", "c"))
        _margins(right, left=0.65, right=0.1, bottom=0.5, top=0.2, hspace=0.5)
        _fewer_ticks(self.plots["gates"])

    def _update_artists(self):
        self.plots["norms"].update(self._curves())
        self.plots["norms"].ax.set_ylim(*self._ylim)
        self.plots["gates"].update(self.trace)


class AttentionExplorer(Explorer):
    """Step through a decoder with attention and see where it looks (notebook 13).

    A trained encoder-decoder (``lstm_lab.attention.Seq2Seq``; by default the package's
    pretrained GRU reverser with dot-product attention, ``attention.load_seq2seq()``) reverses
    a random string of L symbols. The left panel is the attention heatmap alpha_tj, one row per
    decoder step t, with step t outlined; the right panel the weights alpha_tj of step t as
    bars over the source symbols, the chosen one darker, and what the decoder wrote.

    The slider 'scale' multiplies every score e_tj before the softmax (the model was trained
    with 1): below 1 the weights blur towards uniform and the decoder loses its place; above
    1 they sharpen towards a hard choice. The model itself is left as it was. Controls: 't'
    (the decoder step), 'L' (the string's length, also beyond the lengths the model was
    trained on), 'example' (which random string), 'reset'.

    >>> ex = AttentionExplorer()
    >>> ex.controls['L'].value = 8
    >>> ex.controls['t'].value = 1
    >>> int(ex.weights[0].argmax())          # step 1 reads the last source symbol
    7
    >>> ex.close()
    """

    name = "attention"
    slider_names = ("scale",)
    defaults = {"scale": 1.0}
    options = {"model": None, "length": 12, "example": 0, "max_length": 40}
    figsize = (8.6, 3.6)

    def _make_cell(self):
        from .attention import Seq2Seq, load_seq2seq

        model = self._opts["model"]
        self.model = load_seq2seq() if model is None else model
        if not isinstance(self.model, Seq2Seq) or self.model.attention is None:
            raise TypeError("model must be a Seq2Seq with attention; got "
                            f"{type(self.model).__name__}")
        self._max_length = _positive_int(self._opts["max_length"], "max_length")
        return self.model.decoder

    def _make_slider(self, name):
        slider = super()._make_slider(name)
        slider.min, slider.max = 0.0, max(4.0, slider.value)
        return slider

    def _apply_param(self, name, value):
        """The scale lives in its slider; ``recompute`` lends it to the model for one run."""
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"scale must be finite and >= 0; got {value}")

    def _make_controls(self):
        L = _positive_int(self._opts["length"], "length L")
        if L > self._max_length:
            raise ValueError(f"length must be at most max_length = {self._max_length}; got {L}")
        style = {"description_width": "4.5em"}
        return {
            "t": widgets.IntSlider(value=1, min=1, max=L, description="step t", style=style,
                                   layout=widgets.Layout(width="19em")),
            "L": widgets.IntSlider(value=L, min=1, max=self._max_length, description="length L",
                                   style=style, layout=widgets.Layout(width="19em")),
            "example": widgets.IntSlider(value=int(self._opts["example"]), min=0, max=99,
                                         description="example", style=style,
                                         layout=widgets.Layout(width="19em")),
        }

    def recompute(self):
        from .tasks import ReversalTask

        K, L = self.model.output_size, self.controls["L"].value
        task = ReversalTask(n_symbols=K, min_length=1, max_length=self._max_length)
        (x, d), y = task.sample(1, rng=self.controls["example"].value, length=L)
        self.source, self.target = x[:, 0].argmax(-1), y[:, 0]
        attention = self.model.attention
        trained_scale, attention.scale = attention.scale, self.sliders["scale"].value
        try:
            # the greedy run: the decoder fed its own outputs, and where it looked meanwhile
            logits, weights = self.model.decode((x, d))
            self.decoded, self.weights = logits.argmax(-1)[:, 0], weights[:, 0]
        finally:
            attention.scale = trained_scale
        holding, self._holding = self._holding, True   # t follows L without its own update
        try:
            self.controls["t"].max = L
        finally:
            self._holding = holding

    def _build_plots(self):
        ax_heat, ax_bars = self.figure.subplots(1, 2, width_ratios=(1.0, 1.25))
        _margins(self.figure, left=0.7, right=0.3, bottom=0.55, top=0.35, wspace=0.3)
        self.plots["heatmap"] = plots.plot_attention(self.weights, ax=ax_heat)
        ax_heat.set_title(r"attention weights $\alpha_{tj}$", fontsize=10)
        positions = np.arange(1, self._max_length + 1)
        self._bars = ax_bars.bar(positions, np.zeros(self._max_length), width=0.8,
                                 color=plots.COLORS["h"])
        ax_bars.set_ylim(0, 1.05)
        ax_bars.set_xlabel("source position $j$ (symbol below)")
        ax_bars.set_ylabel(r"$\alpha_{tj}$")
        self._bars_ax = ax_bars

    def _update_artists(self):
        n = len(self.source)
        self.plots["heatmap"].update(self.weights, source=self.source.tolist(),
                                     target=self.decoded.tolist())
        self._bars_ax.set_xlim(0.5, n + 0.5)
        self._bars_ax.set_xticks(range(1, n + 1))
        self._bars_ax.set_xticklabels([str(v) for v in self.source], fontsize="small")
        for j, bar in enumerate(self._bars):
            bar.set_visible(j < n)
        self._update_time()

    def _update_time(self):
        t = min(self.controls["t"].value, len(self.source))
        self.plots["heatmap"].highlight(t)
        row = self.weights[t - 1]
        best = int(row.argmax())
        for j, bar in enumerate(self._bars[: len(row)]):
            bar.set_height(row[j])
            bar.set_color(plots.COLORS["o"] if j == best else plots.COLORS["h"])
        verdict = "right" if self.decoded[t - 1] == self.target[t - 1] else "wrong"
        self._bars_ax.set_title(f"t = {t}: looks most at j = {best + 1}, writes "
                                f"{self.decoded[t - 1]} ({verdict})", fontsize=10)

    def _state_repr(self):
        c = self.controls
        return f"L={c['L'].value}, example={c['example'].value}, t={c['t'].value}"

    @property
    def accuracy(self):
        """The fraction of the string decoded right at the current settings."""
        return float(np.mean(self.decoded == self.target))


class _CellPair:
    """The chain explorer's RNN and LSTM, their parameters under one mapping.

    The two cells' parameter names are disjoint (W_xh, W_hh, b_h; W_xf, ..., b_o), so one
    dict of their live arrays serves the sliders, the update's roll-back and reset.
    """

    def __init__(self, **cells):
        self.cells = cells
        self.params = {k: v for cell in cells.values() for k, v in cell.params.items()}

    def __repr__(self):
        return f"_CellPair({', '.join(self.cells)})"


class ChainExplorer(Explorer):
    """The unrolled chain: a pulse fading forwards and a gradient vanishing backwards.

    Two one-unit cells read the same input, a pulse of height `amplitude` at step t (zero
    elsewhere), and are drawn unrolled over T steps (``diagram.draw_unrolled``), a vanilla RNN
    above an LSTM: each box is coloured by h_t with its value above it (and c_t along the
    LSTM's top line). Under each chain the gradient of the loss L = h_T flows back: arrows
    whose width is ||dL/dh_t|| (full width: the 1 the loss hands to h_T), the norm written
    under them. The title on the right gives |dh_T/dx_t|, how much the pulse still reaches
    the end: the forward fade and the backward vanishing are the same product of Jacobians.

    Sliders: 'W_hh', the RNN's recurrent weight (one unit: the factor every step multiplies
    h by, before tanh's slope), and 'b_f', the LSTM's forget-gate bias (f_t = sigma(b_f + ...)
    is the factor on the cell path c_{t-1} -> c_t). Controls: 't' (the step the pulse enters),
    'reset'. The LSTM has LSTM_DEFAULTS with W_hi = W_hg = W_ho = 1, so h_{t-1} reaches the
    cell through its gates; the RNN has W_xh = 1, b_h = 0.

    >>> ex = ChainExplorer()
    >>> ex.sliders['W_hh'].value = 0.5
    >>> bool(ex.dx['rnn'] < 1e-3 < ex.dx['lstm'])   # the pulse at t = 3 no longer reaches h_12
    True
    >>> ex.close()
    """

    name = "chain"
    slider_names = ("W_hh", "b_f")
    defaults = {"W_hh": 0.8, "b_f": 3.0}
    options = {"steps": 12, "t": 3, "amplitude": 1.0, "seed": 0}
    figsize = (9.6, 5.2)
    _ranges = {"W_hh": (0.0, 2.0), "b_f": (-3.0, 6.0)}
    _fixed = {"rnn": {"W_xh": 1.0, "b_h": 0.0}, "lstm": LSTM_DEFAULTS}

    def _make_cell(self):
        self._steps = _positive_int(self._opts["steps"], "steps T")
        seed = self._opts["seed"]
        amplitude = self._opts["amplitude"]
        if isinstance(amplitude, bool) or not isinstance(amplitude, (int, float)) \
                or not np.isfinite(amplitude):
            raise TypeError(f"amplitude must be a finite number; got {amplitude!r}")
        pair = _CellPair(rnn=RNNCell(1, 1, seed=seed), lstm=LSTMCell(1, 1, seed=seed))
        for kind, values in self._fixed.items():
            for name, value in values.items():
                pair.cells[kind].params[name][...] = value
        return pair

    def _make_slider(self, name):
        slider = super()._make_slider(name)
        lo, hi = self._ranges[name]
        slider.min, slider.max = min(lo, slider.value), max(hi, slider.value)
        return slider

    def _make_controls(self):
        t, T = self._opts["t"], self._steps
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= T:
            raise ValueError(f"t must be a time step from 1 to T={T}; got {t!r}")
        return {"t": widgets.IntSlider(value=int(t), min=1, max=T, step=1,
                                       description="pulse at t", continuous_update=True,
                                       style={"description_width": "5.5em"},
                                       layout=widgets.Layout(width="21em"))}

    def _time_moved(self):
        """The pulse moved: the input changed, so everything is computed again."""
        self._refresh_unless_holding()

    @property
    def t(self):
        """The step where the pulse enters."""
        return self.controls["t"].value

    def recompute(self):
        T, t = self._steps, self.t
        self.x = np.zeros((T, 1))
        self.x[t - 1, 0] = self._opts["amplitude"]
        dh = np.zeros((T, 1))
        dh[-1, 0] = 1.0                                         # L = h_T
        self.traces, self.grads, self.dx = {}, {}, {}
        for kind, cell in self.cell.cells.items():
            trace = cell.forward(self.x)
            self.traces[kind] = trace
            self.grads[kind] = gradients.state_grads(cell, trace, dh)
            self.dx[kind] = abs(float(cell.backward(trace, dh)["x"][t - 1, 0]))   # |dh_T/dx_t|
        self.trace = self.traces["rnn"]

    def _build_plots(self):
        axes = self.figure.subplots(2, 1)
        _margins(self.figure, left=0.05, right=0.1, bottom=0.05, top=0.3, hspace=0.3)
        self._titles = {}
        heads = {"rnn": r"RNN: $h_t = \tanh(W_{xh}\,x_t + W_{hh}\,h_{t-1} + b_h)$",
                 "lstm": r"LSTM: $c_t = f_t\,c_{t-1} + i_t\,g_t$,  "
                         r"$f_t = \sigma(W_{xf}\,x_t + W_{hf}\,h_{t-1} + b_f)$"}
        for ax, (kind, cell) in zip(axes, self.cell.cells.items(), strict=True):
            self.plots[kind] = diagram.draw_unrolled(
                cell, self.traces[kind], self.grads[kind], ax=ax, mark=self.t,
                numbers=("h", "c"))
            # texts, not titles: a title's placement asks the (hidden) axis for its ticks
            ax.text(0.0, 1.02, heads[kind], transform=ax.transAxes, ha="left", va="bottom",
                    fontsize=9.5)
            self._titles[kind] = ax.text(1.0, 1.02, "", transform=ax.transAxes, ha="right",
                                         va="bottom", fontsize=9)

    def _update_artists(self):
        t = self.t
        for kind, d in self.plots.items():
            d.update(self.traces[kind], self.grads[kind], mark=t)
        w = float(self.cell.params["W_hh"][0, 0])
        f = self.traces["lstm"].gates["f"][t:, 0]
        f_mean = float(np.mean(f)) if len(f) else float("nan")
        T = self._steps
        self._titles["rnn"].set_text(
            f"W_hh = {w:.2f}    |\u2202h_{T}/\u2202x_{t}| = {_fmt_small(self.dx['rnn'])}")
        self._titles["lstm"].set_text(
            f"mean f after the pulse = {f_mean:.2f}    "
            f"|\u2202h_{T}/\u2202x_{t}| = {_fmt_small(self.dx['lstm'])}")

    def _state_repr(self):
        return f"T={self._steps}, t={self.t}"


def _fmt_small(v):
    """A non-negative number that may be tiny: 0.37, or 2.1e-07."""
    return f"{v:.2f}" if v >= 0.01 or v == 0 else f"{v:.1e}"


def shape_forward(shape, T=6, D=4, H=8, K=2, B=None, *, S=None, cell="lstm", seed=0):
    """Run the package's network of a sequence shape once; the shapes of what it computed.

    The networks: ``SequenceModel`` on a cell (one-to-one is one step, T = 1, from h_0 = 0: a
    feed-forward layer; one-to-many feeds its argmax back as the next one-hot input), a
    ``Stacked`` pair of cells and a ``Bidirectional`` pair under the same readout, a ``Seq2Seq``
    encoder-decoder. Returns (model, shapes): shapes maps each name of
    ``diagram.shape_tensors(shape, ...)`` to the shape of the array the forward pass made, so a
    figure can be checked against it.

    >>> model, shapes = shape_forward('bidirectional', T=5, D=3, H=4, K=2, B=8)
    >>> shapes['h'], shapes['y']
    ((5, 8, 8), (5, 8, 2))
    """
    from . import networks, train
    from .attention import Seq2Seq

    diagram.shape_tensors(shape, T=T, D=D, H=H, K=K, B=B, S=S)     # checks the sizes
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {cell!r}")
    S = T if S is None else S
    rng = np.random.default_rng(seed)
    batch = () if B is None else (B,)

    def x_of(steps, size):
        return rng.normal(size=(steps, *batch, size))

    if shape == "encoder_decoder":
        model = Seq2Seq(CELLS[cell](D, H, seed=seed), CELLS[cell](K + 1, H, seed=seed + 1), K,
                        seed=seed)
        x, d = x_of(S, D), x_of(T, K + 1)
        trace = model.forward((x, d))
        return model, {"x": x.shape, "context": trace.encoder.final.h.shape, "d": d.shape,
                       "y": trace.output.shape}
    if shape in ("stacked", "bidirectional"):
        net = networks.build(cell, D, H, num_layers=2 if shape == "stacked" else 1,
                             bidirectional=shape == "bidirectional", seed=seed)
        model = train.SequenceModel(net, K, many_to_one=False, seed=seed)
        x = x_of(T, D)
        trace = model.forward(x)
        net_trace = trace.cell
        if shape == "stacked":
            low, high = net_trace.layers
            return model, {"x": x.shape, "h1": low.h[0].shape, "between": low.h.shape,
                           "h2": high.h[0].shape, "y": trace.output.shape}
        return model, {"x": x.shape, "h_fwd": net_trace.fwd.h[0].shape,
                       "h_bwd": net_trace.bwd.h[0].shape, "h": net_trace.h.shape,
                       "y": trace.output.shape}
    many_to_one = shape in ("one_to_one", "many_to_one")
    model = train.SequenceModel(CELLS[cell](D, H, seed=seed), K, many_to_one=many_to_one,
                                seed=seed)
    if shape == "one_to_one":
        x = x_of(1, D)[0]
        trace = model.forward(x[None])
        return model, {"x": x.shape, "h": trace.h[0].shape, "y": trace.output.shape}
    if shape == "one_to_many":
        x1 = x_of(1, D)[0]
        x, ys, state, h = x1, [], {}, None
        for _ in range(T):                       # y_t, as a one-hot choice, is x_(t+1)
            trace = model.forward(x[None], **state)
            y = trace.output[0]
            ys.append(y)
            h = trace.h[0]
            state = {k: v for k, v in zip(("h0", "c0"), trace.final, strict=True)
                     if v is not None}
            x = np.zeros_like(y)
            np.put_along_axis(x, y.argmax(axis=-1)[..., None], 1.0, axis=-1)
        return model, {"x": x1.shape, "h": h.shape, "y": np.stack(ys).shape}
    x = x_of(T, D)
    trace = model.forward(x)
    return model, {"x": x.shape, "h": trace.h[0].shape, "y": trace.output.shape}


class ShapesExplorer(Explorer):
    """Pick a sequence shape and its sizes; see the figure and the tensor shapes on its arrows.

    The figure is ``diagram.ShapeDiagram``: inputs below, cells in a row, outputs above, and on
    the arrows the tensors' shapes in symbols and in numbers. The numbers are not computed by
    the figure: every update runs the package's own network of that shape once
    (``shape_forward``) and writes the shapes of the arrays it made (the diagram refuses any
    that differ from the symbols, so a label cannot drift from the code).

    The sliders are the sizes, not weights: 'T' (sequence length; the middle of a long
    sequence is elided) and 'H' (hidden size). They are integer sliders, since a size is
    counted. Controls: 'shape' (one of ``diagram.SHAPES``), 'cell' (the kind in the boxes),
    'batched' (a batch of B sequences, or one sequence with no B axis), 'reset'.
    Options: shape, cell, D, K, B, seed. ``.model`` is the network that ran, ``.measured``
    the shapes it gave.

    >>> ex = ShapesExplorer()
    >>> ex.controls['shape'].value = 'bidirectional'
    >>> ex.measured['h'], ex.plots['diagram'].value_texts['h'].get_text()
    ((5, 4, 16), '= (5, 4, 16)')
    >>> ex.close()
    """

    name = "shapes"
    slider_names = ("T", "H")
    defaults = {"T": 5, "H": 8}
    options = {"shape": "many_to_many", "cell": "lstm", "D": 3, "K": 3, "B": 4, "seed": 0}
    figsize = (8.6, 3.4)
    _limits = {"T": (1, 12), "H": (1, 32)}

    def _make_cell(self):
        if self._opts["shape"] not in diagram.SHAPES:
            raise ValueError(f"shape must be one of {', '.join(diagram.SHAPES)}; got "
                             f"{self._opts['shape']!r}")
        if self._opts["cell"] not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}; got {self._opts['cell']!r}")
        for key in ("D", "K", "B"):
            _positive_int(self._opts[key], key)
        return self._run(self._opts["shape"], self._opts["cell"], batched=True,
                         T=int(self._param_defaults["T"]), H=int(self._param_defaults["H"]))

    def _apply_param(self, name, value):
        """T and H live in their sliders; ``recompute`` builds the network of those sizes."""
        lo, hi = self._limits[name]
        if not (float(value).is_integer() and lo <= value <= hi):
            raise ValueError(f"{name} must be a whole number in {lo}..{hi}; got {value}")

    def _make_slider(self, name):
        lo, hi = self._limits[name]
        return widgets.IntSlider(
            value=int(self._param_defaults[name]), min=lo, max=hi, description=name,
            continuous_update=True, style={"description_width": "1.5em",
                                           "handle_color": plots.COLORS["h"]},
            layout=widgets.Layout(width="16em"))

    def _make_controls(self):
        style = {"description_width": "3.5em"}
        return {
            "shape": widgets.Dropdown(
                options=[(diagram.SHAPE_TITLES[s].split(" (")[0], s) for s in diagram.SHAPES],
                value=self._opts["shape"], description="shape", style=style,
                layout=widgets.Layout(width="19em")),
            "cell": widgets.Dropdown(options=list(CELLS), value=self._opts["cell"],
                                     description="cell", style=style,
                                     layout=widgets.Layout(width="11em")),
            "batched": widgets.Checkbox(value=True, description=f"batch of B={self._opts['B']}",
                                        indent=False, layout=widgets.Layout(width="9em")),
        }

    def _control_rows(self):
        return [widgets.HBox([*self.sliders.values(), *self.controls.values()],
                             layout=widgets.Layout(align_items="center",
                                                   flex_flow="row wrap"))]

    def _sizes(self, shape=None, T=None, H=None, batched=None):
        """T, D, H, K, B of the current settings (or of those given)."""
        shape = self.controls["shape"].value if shape is None else shape
        batched = self.controls["batched"].value if batched is None else batched
        o = self._opts
        return dict(T=self.sliders["T"].value if T is None else T, D=o["D"],
                    H=self.sliders["H"].value if H is None else H,
                    K=o["D"] if shape == "one_to_many" else o["K"],   # y_t is fed back in
                    B=o["B"] if batched else None)

    def _run(self, shape, cell, **sizes):
        self.model, self.measured = shape_forward(shape, **self._sizes(shape, **sizes),
                                                  cell=cell, seed=self._opts["seed"])
        return self.model

    def recompute(self):
        c = self.controls
        self.cell = self._run(c["shape"].value, c["cell"].value)

    def _build_plots(self):
        ax = self.figure.add_axes((0.0, 0.0, 1.0, 1.0))
        self.plots["diagram"] = diagram.ShapeDiagram(ax)

    def _update_artists(self):
        self.plots["diagram"].update(self.controls["shape"].value, **self._sizes(),
                                     cell=self.controls["cell"].value, measured=self.measured)

    def _state_repr(self):
        c = self.controls
        size = ", ".join(f"{k}={v}" for k, v in self._sizes().items() if v is not None)
        return f"shape={c['shape'].value!r}, cell={c['cell'].value!r}, {size}"

    def __repr__(self):
        return f"ShapesExplorer({self._state_repr()})"


# ------------------------------------------------------------------------ inside a trained LSTM

_NEWLINE = "\u21b5"           # a line break is drawn as the return arrow, coloured like a character
_TITLE_CHARS = "".join(chr(k) for k in range(32, 127))    # what the titles may use
_glyph_atlases = {}


def _glyph_atlas(chars, cell, fontsize, dpi):
    """Each character of `chars` drawn once, black on white, in a cell of (width, height) pixels.

    Returns coverage (len(chars) + 1, height, width), float32 in [0, 1], row 0 blank: the text
    layer of a grid of characters is then one fancy-indexing of this array, instead of one
    matplotlib Text per character (each drawn glyph costs tens of microseconds on every draw).
    """
    key = (chars, cell, fontsize, dpi)
    if key not in _glyph_atlases:
        width, height = cell
        fig = Figure(figsize=(width * len(chars) / dpi, height / dpi), dpi=dpi)
        FigureCanvasAgg(fig)
        for k, ch in enumerate(chars):
            shown = _NEWLINE if ch == "\n" else (ch if ch.isprintable() else "?")
            fig.text((k + 0.5) / len(chars), 0.5, shown, ha="center", va="center",
                     family="monospace", fontsize=fontsize)
        fig.canvas.draw()
        ink = 1.0 - np.asarray(fig.canvas.buffer_rgba())[..., 0].astype(np.float32) / 255.0
        glyphs = ink.reshape(height, len(chars), width).transpose(1, 0, 2)
        _glyph_atlases[key] = np.concatenate([np.zeros((1, height, width), np.float32), glyphs])
    return _glyph_atlases[key]


class UnitExplorer(Explorer):
    """Pick a unit of a trained character model and see its activation coloured over the text.

    The upper panel is the text, one character per cell, each cell coloured by the chosen
    unit's activation after reading that character (Karpathy, Johnson & Fei-Fei 2015): red
    above the centre of the colour scale, blue below. The lower panel is the control: the SAME
    unit of the SAME network at initialisation, before any training, over the same text. Each
    title gives the unit's correlation r with the target counter (by default the bracket
    depth, ``generate.bracket_depth``) over the whole text, and the chance level: the best |r|
    of any unit of that quantity in the untrained network, what a search over its units finds
    with no training at all.

    With no arguments it shows the package's own trained model (``generate.load_char_model()``:
    an LSTM with H = 24 trained for 250 steps exactly as notebook 11 trains its first seed,
    weights committed as lstm_lab/data/char_lstm.npz by notebooks/data/char_lstm.py) and its
    untrained twin, over a fresh text ``generate.make_text(3000, seed=1)``. Keywords: `model`
    (a ``SequenceModel`` or cell), `untrained` (the same network at initialisation), `vocab`
    (the ``Vocabulary`` they read), `text`, `target` ('bracket depth', 'inside a quote' or an
    array (N,) of one value per character), `quantity` and `unit` (default: the trained
    network's best-correlated unit of h_t and c_t), `offset`, `rows`, `columns`.

    Each panel's colours span that unit's own range over the whole text, from its lowest
    activation (blue) to its highest (red), since the two networks' units differ in scale
    (a trained c_t reaches 10 and more; an untrained unit barely moves) and r does not depend
    on scale. The slider 'clip' narrows both to the middle fraction `clip` of the range
    (1: all of it; 0.5: the middle half), beyond which the colours stay at the ends: small
    differences show up, the extremes saturate.
    Controls: 'unit' (0..H-1), 'quantity' (h_t, c_t or a gate), 'target', 'offset' (the first
    character shown), 'reset'.

    Drawing: the titles and both panels are one RGBA image, one image pixel per screen pixel,
    composed in numpy from a glyph atlas rendered once (matplotlib rasterises every glyph of
    every Text on every draw: ~1300 characters as Text artists took several hundred ms a
    redraw). A move updates that image and nothing else, well inside the 100 ms budget.

    Attributes after each update: ``values`` (per panel, the activations shown, (rows,
    columns), NaN where no character), ``positions`` (the index into the text of each cell,
    -1 where none), ``ranges`` (each panel's colour range), ``r`` and ``r_untrained`` (every
    unit's r with the target, (H,)), ``chance``, ``titles``, ``image``, ``panel_rows`` (the
    image rows of each panel).

    >>> ex = UnitExplorer()
    >>> ex.controls['quantity'].value, ex.controls['unit'].value   # the trained bracket counter
    ('c', 14)
    >>> r, chance = abs(float(ex.r[14])), ex.chance    # chance: the best untrained unit's |r|
    >>> print(f"|r| = {r:.2f}, chance level {chance:.2f}")
    |r| = 0.84, chance level 0.55
    >>> ex.close()
    """

    name = "units"
    slider_names = ("clip",)
    defaults = {"clip": 1.0}
    options = {"model": None, "untrained": None, "vocab": None, "text": None,
               "target": "bracket depth", "quantity": None, "unit": None, "offset": 0,
               "rows": 10, "columns": 72}
    cell_size = (9, 15)       # pixels per character (width, height) at the figure's dpi
    title_size = (7, 15)      # pixels per character of the panels' titles
    fontsize = 9
    _margin = dict(left=10, title=20, gap=12, bottom=8, top=6, bar=70)   # pixels

    def _make_cell(self):
        from .generate import Vocabulary, bracket_depth, load_char_model, make_text, quote_state
        from .train import SequenceModel

        model, untrained, vocab = (self._opts[k] for k in ("model", "untrained", "vocab"))
        if model is None:
            if untrained is not None or vocab is not None:
                raise TypeError("untrained and vocab go with a model; without one the explorer "
                                "shows the package's own (generate.load_char_model())")
            model, vocab, untrained = load_char_model()
        elif untrained is None or not isinstance(vocab, Vocabulary):
            raise TypeError("with a model, pass untrained= (the same network at initialisation) "
                            "and vocab= (the Vocabulary it reads)")
        cell, twin = (m.cell if isinstance(m, SequenceModel) else m for m in (model, untrained))
        for what, c in (("model", cell), ("untrained", twin)):
            if not (hasattr(c, "forward") and hasattr(c, "hidden_size")):
                raise TypeError(f"{what} must be a SequenceModel or a cell; got {type(c).__name__}")
        if type(cell) is not type(twin) or (cell.input_size, cell.hidden_size) != (
                twin.input_size, twin.hidden_size) or cell.input_size != len(vocab):
            raise ValueError(
                f"model, untrained and vocab must fit: the same kind and sizes, input size V = "
                f"{len(vocab)}; got {cell!r} and {twin!r}")
        text = make_text(3000, seed=1) if self._opts["text"] is None else self._opts["text"]
        if not isinstance(text, str) or len(text) < 2:
            raise TypeError("text must be a str of at least two characters")
        self.text, self.vocab = text, vocab
        x = vocab.one_hot(text)                                   # checks every character
        self.trace, self.untrained_trace = cell.forward(x), twin.forward(x)
        self.quantities = ("h", *("c" * (self.trace.c is not None)), *cell.gate_names)
        target = self._opts["target"]
        counters = {"bracket depth": bracket_depth, "inside a quote": quote_state}
        if isinstance(target, str):
            if target not in counters:
                raise ValueError(f"target must be one of {', '.join(map(repr, counters))} or "
                                 f"an array of one value per character; got {target!r}")
            self.targets = {name: f(text) for name, f in counters.items()}
        else:
            values = as_real_array(target, "target", np.float64)
            if values.shape != (len(text),):
                raise ValueError(f"target must have one value per character, shape "
                                 f"({len(text)},); got {values.shape}")
            self.targets = {"target": values}
        self._correlations = {}
        self._layouts = {}
        self._shape = (_positive_int(self._opts["rows"], "rows"),
                       _positive_int(self._opts["columns"], "columns"))
        # one atlas for the text and the titles: printable ASCII, then the text's other characters
        glyphs = _TITLE_CHARS + "".join(sorted(set(text) - set(_TITLE_CHARS)))
        self._glyphs = _glyph_atlas(glyphs, self.cell_size, self.fontsize, self.dpi)
        index = {ch: k + 1 for k, ch in enumerate(glyphs)}
        self._glyph_of = np.array([index[ch] for ch in text])
        (R, W), (cw, ch), m = self._shape, self.cell_size, self._margin
        trim = (self.cell_size[0] - self.title_size[0]) // 2     # titles: narrower cells
        self._title_glyphs = self._glyphs[:, :, trim: trim + self.title_size[0]]
        # the picture, top down: title, panel (trained), gap, title, panel (untrained)
        panel = R * ch
        self.panel_rows = [
            slice(m["title"], m["title"] + panel),
            slice(2 * m["title"] + panel + m["gap"], 2 * (m["title"] + panel) + m["gap"])]
        self._title_rows = [slice(rows.start - m["title"], rows.start - m["title"] + ch)
                            for rows in self.panel_rows]
        self.figsize = ((m["left"] + W * cw + m["bar"]) / self.dpi,
                        (m["top"] + self.panel_rows[1].stop + m["bottom"]) / self.dpi)
        return cell

    def activations(self, quantity, untrained=False):
        """One network's `quantity` (h, c or a gate letter) at every character: (N, H)."""
        trace = self.untrained_trace if untrained else self.trace
        return {"h": trace.h, "c": trace.c}.get(quantity, trace.gates.get(quantity))

    def correlations(self, quantity, target, untrained=False):
        """r of every unit of `quantity` with the target counter over the whole text: (H,)."""
        from .generate import unit_correlations

        key = (quantity, target, untrained)
        if key not in self._correlations:
            self._correlations[key] = unit_correlations(self.activations(quantity, untrained),
                                                        self.targets[target])
        return self._correlations[key]

    def _make_slider(self, name):
        slider = super()._make_slider(name)
        slider.min, slider.max, slider.step = 0.05, max(2.0, slider.value), 0.05
        return slider

    def _apply_param(self, name, value):
        """'clip' lives in its slider and sets only the colour scale; no cell parameter moves."""
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"clip must be finite and > 0; got {value}")

    def _make_controls(self):
        target = next(iter(self.targets)) if not isinstance(self._opts["target"], str) \
            else self._opts["target"]
        quantity, unit = self._opts["quantity"], self._opts["unit"]
        if quantity is None:                       # the notebook's search: units of h_t and c_t
            searched = [q for q in self.quantities if q in ("h", "c")]
            quantity = max(searched, key=lambda q: np.abs(self.correlations(q, target)).max())
        if quantity not in self.quantities:
            raise ValueError(f"quantity must be one of {', '.join(self.quantities)}; "
                             f"got {quantity!r}")
        H = self.cell.hidden_size
        if unit is None:
            unit = int(np.argmax(np.abs(self.correlations(quantity, target))))
        if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or not 0 <= unit < H:
            raise ValueError(f"unit must be an int from 0 to H - 1 = {H - 1}; got {unit!r}")
        offset = self._opts["offset"]
        if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)) or not (
                0 <= offset < len(self.text)):
            raise ValueError(f"offset must be an int from 0 to {len(self.text) - 1}; "
                             f"got {offset!r}")
        style = {"description_width": "4em"}
        labels = {"h": "h_t (hidden)", "c": "c_t (cell)"}
        return {
            "unit": widgets.IntSlider(value=int(unit), min=0, max=H - 1, description="unit",
                                      style=style, layout=widgets.Layout(width="17em")),
            "quantity": widgets.Dropdown(
                options=[(labels.get(q, f"{q}_t (gate)"), q) for q in self.quantities],
                value=quantity, description="quantity", style={"description_width": "5em"},
                layout=widgets.Layout(width="15em")),
            "target": widgets.Dropdown(options=list(self.targets), value=target,
                                       description="target", style=style,
                                       layout=widgets.Layout(width="15em")),
            "offset": widgets.IntSlider(value=int(offset), min=0, max=len(self.text) - 1,
                                        description="offset", style=style,
                                        layout=widgets.Layout(width="24em")),
        }

    def _layout(self, offset):
        """Text positions in the grid from character `offset` on: (rows, columns), -1 = empty.

        A row ends after a line break (drawn as the return arrow) or when it is full."""
        if offset not in self._layouts:
            R, W = self._shape
            grid = np.full((R, W), -1)
            r = c = 0
            for k in range(offset, len(self.text)):
                grid[r, c] = k
                c += 1
                if self.text[k] == "\n" or c == W:
                    r, c = r + 1, 0
                    if r == R:
                        break
            if len(self._layouts) > 64:
                self._layouts.clear()
            self._layouts[offset] = grid
        return self._layouts[offset]

    def recompute(self):
        c = self.controls
        q, unit, target = c["quantity"].value, c["unit"].value, c["target"].value
        self.r = self.correlations(q, target)
        self.r_untrained = self.correlations(q, target, untrained=True)
        self.chance = float(np.max(np.abs(self.r_untrained)))
        self.positions = self._layout(c["offset"].value)
        shown = self.positions >= 0
        self.values = []                                  # per panel: (rows, columns), NaN = empty
        for untrained in (False, True):
            grid = np.full(self.positions.shape, np.nan)
            grid[shown] = self.activations(q, untrained)[self.positions[shown], unit]
            self.values.append(grid)

    def colour_ranges(self):
        """(vmin, vmax) of each panel's colours: the middle `clip` of the unit's range over the
        whole text, from its lowest to its highest activation; beyond, the end colours."""
        q, unit = self.controls["quantity"].value, self.controls["unit"].value
        clip = self.sliders["clip"].value
        ranges = []
        for untrained in (False, True):
            a = self.activations(q, untrained)[:, unit]
            low, high = float(a.min()), float(a.max())
            middle, half = 0.5 * (low + high), 0.5 * max(high - low, 1e-12)
            ranges.append((middle - clip * half, middle + clip * half))
        return ranges

    def _build_plots(self):
        (_R, W), (cw, _ch), m = self._shape, self.cell_size, self._margin
        fw, fh = self.figure.bbox.width, self.figure.bbox.height
        self.cmap = matplotlib.colormaps["coolwarm"]
        # titles and both panels are one image, one image pixel per screen pixel: no
        # resampling blur, and no matplotlib Text to lay out and rasterise again on every draw
        height = self.panel_rows[1].stop
        ax = self.figure.add_axes((m["left"] / fw, m["bottom"] / fh, W * cw / fw, height / fh))
        ax.set_axis_off()
        self._pixels = np.full((height, W * cw, 4), 255, np.uint8)
        self.image = ax.imshow(self._pixels.copy(), aspect="auto", interpolation="nearest",
                               extent=(0, W * cw, height, 0))
        bar = self.figure.add_axes(((m["left"] + W * cw + 14) / fw, m["bottom"] / fh,
                                    10 / fw, (height - m["title"]) / fh))
        self.colorbar = self.figure.colorbar(ScalarMappable(Normalize(0, 1), self.cmap), cax=bar)
        self.colorbar.set_ticks([0, 0.5, 1], labels=["low", "middle", "high"])
        self.colorbar.ax.tick_params(labelsize=8.5)
        self.colorbar.outline.set_linewidth(0.5)
        self.plots = {"text": self.image, "colorbar": self.colorbar}

    def _picture(self, values, norm):
        """A panel's pixels, RGB floats in [0, 255]: each cell's colour, its glyph on top."""
        (R, W), (cw, ch) = self._shape, self.cell_size
        shown = np.isfinite(values)
        background = self.cmap(norm(np.where(shown, values, 0.0)))[..., :3].astype(np.float32)
        background[~shown] = 1.0                                     # no character: white
        luminance = background @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        ink = np.where(luminance < 0.45, 1.0, 0.0).astype(np.float32)   # white on dark cells
        glyph = self._glyphs[np.where(shown, self._glyph_of[np.maximum(self.positions, 0)], 0)]
        coverage = glyph.transpose(0, 2, 1, 3).reshape(R * ch, W * cw, 1)
        up = lambda a: np.repeat(np.repeat(a, ch, axis=0), cw, axis=1)   # noqa: E731
        bg = up(background)
        return 255.0 * (bg + (up(ink)[..., None] - bg) * coverage) + 0.5

    def _title(self, rows, text):
        """Write `text` in black on white into the title rows of the picture (cut to fit)."""
        cw, ch = self.title_size
        text = text[: self._pixels.shape[1] // cw]
        codes = [_TITLE_CHARS.find(letter) + 1 for letter in text]     # unknown: blank
        ink = self._title_glyphs[codes].transpose(1, 0, 2).reshape(ch, len(text) * cw)
        self._pixels[rows, :, :3] = 255
        self._pixels[rows, : len(text) * cw, :3] = (255.0 * (1.0 - ink) + 0.5)[..., None]

    def _update_artists(self):
        self.ranges = self.colour_ranges()
        for rows, values, (low, high) in zip(self.panel_rows, self.values, self.ranges,
                                             strict=True):
            self._pixels[rows, :, :3] = self._picture(values, Normalize(low, high))
        c = self.controls
        q, unit, target = c["quantity"].value, c["unit"].value, c["target"].value
        (low, high), (low0, high0) = self.ranges
        self.titles = [
            f"trained: unit {unit} of {q}_t, r = {self.r[unit]:+.2f} with the {target}  "
            f"(colours {low:.2f} to {high:.2f})",
            f"before training, same unit: r = {self.r_untrained[unit]:+.2f}; chance "
            f"{self.chance:.2f} = its best |r|  (colours {low0:.2f} to {high0:.2f})"]
        for rows, title in zip(self._title_rows, self.titles, strict=True):
            self._title(rows, title)
        self.image.set_data(self._pixels.copy())

    def _state_repr(self):
        c = self.controls
        return (f"H={self.cell.hidden_size}, chars={len(self.text)}, "
                f"target={c['target'].value!r}, quantity={c['quantity'].value!r}, "
                f"unit={c['unit'].value}, offset={c['offset'].value}")


class _SwitchingCellExplorer(LSTMExplorer):
    """A one-unit cell explorer whose cell a control swaps (the GRU's convention, an LSTM variant).

    A subclass names the control (`switch`) and says which cell it asks for (`_cell_for`).
    A switch builds that cell and gives each of its parameters the value it had in the old
    cell (under the same name, or the one in `renamed`), else its default (`param_defaults`
    lists the current cell's). ``.sliders`` is then a new dict holding the new cell's sliders
    (one FloatSlider per parameter name, made the first time that name is needed and reused
    afterwards), and the slider rows of ``.widget`` are replaced by theirs. The figure holds
    one panel pair (gates over time, diagram) per cell kind, built the first time it is
    shown, in the same place; a switch shows the new cell's pair and hides the others, and
    ``.plots`` names the shown pair. Everything the switch changes is derived again from the
    explorer's state in `_update_artists`, so a switch that fails is undone as any update is.
    """

    switch = None               # the key in .controls of the control that swaps the cell
    renamed = {}                # a new cell's parameter -> the old cell's that carries over to it
    family_defaults = {}        # every parameter any of the cells has -> its default

    def __init__(self, **kwargs):
        self._seed = kwargs.get("seed", self.options["seed"])
        self._sliders_made, self._faces, self._rows = {}, {}, {}
        self._set_cell_spec(self._cell_for(kwargs.get(self.switch, self.options[self.switch])))
        self.defaults = self.family_defaults      # every keyword the family takes is checked
        super().__init__(**kwargs)
        self._family, self._param_defaults = self._param_defaults, {
            k: self._param_defaults[k] for k in self.cell.params}
        self._sliders_made.update(self.sliders)

    def _cell_for(self, choice):
        """The cell the switch's value `choice` asks for (with the explorer's seed)."""
        raise NotImplementedError

    def _set_cell_spec(self, cell):
        self._spec_cell = cell
        self.slider_names = tuple(cell.params)
        self.gates_shown = cell.gate_names + ("c",) * cell.has_cell_state + ("h",)

    def _make_cell(self):
        self._steps = _positive_int(self._opts["steps"], "steps T")
        input_sequence("pulse", self._steps)  # T long enough for every sequence
        return self._spec_cell

    def _apply_param(self, name, value):
        if name in self.cell.params:          # the family's other parameters wait for their cell
            super()._apply_param(name, value)

    def _make_slider(self, name):
        slider = super()._make_slider(name)
        if hasattr(self, "sliders"):                  # made by a switch: observe it now
            slider.observe(partial(self._on_slider, name), names="value")
        return slider

    def _observe_control(self, name, control):
        if name != self.switch:
            super()._observe_control(name, control)
            return

        def switched(change):
            if self._restoring:
                return
            if self._holding:      # within a reset: that update is guarded as a whole
                self._switch_cell()
            else:
                self._guarded(lambda: (self._switch_cell(), self._refresh_unless_holding()),
                              (control, change))
        control.observe(switched, names="value")

    def _switch_cell(self):
        """Swap in the cell the switch asks for, carrying the shared parameters' values over."""
        old, cell = self.cell, self._cell_for(self.controls[self.switch].value)
        self._set_cell_spec(cell)
        self._param_defaults = {k: self._family[k] for k in cell.params}
        for name, array in cell.params.items():
            source = name if name in old.params else self.renamed.get(name)
            array[...] = old.params[source] if source in old.params else self._family[name]
        for name in cell.params:
            if name not in self._sliders_made:
                self._sliders_made[name] = self._make_slider(name)
        self.cell = cell
        self.sliders = {name: self._sliders_made[name] for name in cell.params}
        restoring, self._restoring = self._restoring, True     # no update per slider
        try:
            for name, array in cell.params.items():
                self.sliders[name].value = float(array[(0,) * array.ndim])
        finally:
            self._restoring = restoring

    def _build_plots(self):
        self._grid = self.figure.add_gridspec(1, 2, width_ratios=self._split, wspace=0.0)
        self._show_face()
        gates = self.plots["gates"]
        self._t_origin = int(round(float(gates.lines["x"].get_xdata()[0])))

    def _show_face(self):
        """Show the current cell's panels (built on first use) and name them in ``.plots``."""
        kind = self.cell.kind
        if kind not in self._faces:
            left = self.figure.add_subfigure(self._grid[0])
            right = self.figure.add_subfigure(self._grid[1])
            gates = plots.plot_gates(self.trace, fig=left, gates=self.gates_shown)
            _margins(left, left=0.7, right=0.1, bottom=0.55, top=0.2, hspace=0.45)
            _fewer_ticks(gates)
            cell_diagram = diagram.draw_cell(kind, ax=right.add_axes((0.0, 0.0, 1.0, 1.0)),
                                             scale=1.0)
            self._faces[kind] = (left, right, {"gates": gates, "diagram": cell_diagram})
        for k, (left, right, _face) in self._faces.items():
            left.set_visible(k == kind)
            right.set_visible(k == kind)
        self.plots = dict(self._faces[kind][2])
        self._rings = {}

    def _control_rows(self):
        rows = super()._control_rows()
        self._rows[self.cell.kind] = rows[:-1]
        self._controls_row = rows[-1]
        return rows

    def _update_artists(self):
        self._show_face()
        super()._update_artists()
        if not hasattr(self, "widget"):
            return
        kind = self.cell.kind
        if kind not in self._rows:
            *self._rows[kind], extra = super()._control_rows()
            extra.close()                          # the controls' row is made once
        children = (*self._rows[kind], self._controls_row, self.error_box, self._view)
        if self.widget.children != children:
            self.widget.children = children

    def close(self):
        for slider in self._sliders_made.values():
            slider.close()
        for rows in self._rows.values():
            for row in rows:
                row.close()
        super().close()

    def _state_repr(self):
        return f"{self.switch}={self.controls[self.switch].value!r}, {super()._state_repr()}"


GRU_DEFAULTS = {
    "W_xr": 0.0, "W_hr": 0.0, "b_r": 2.0,      # r ~ 0.88: the candidate sees most of h_{t-1}
    "W_xz": -4.0, "W_hz": 0.0, "b_z": 2.0,     # z ~ 0.88 (keep h) but 0.12 (write) at x = 1
    "W_xg": 2.0, "W_hg": 1.0, "b_g": 0.0,      # g = tanh(2 x + r h): the value to write
    "b_xg": 0.0, "b_hg": 0.0,                  # reset_after=True: b_xg takes b_g's place
}
"""The hand-set one-unit GRU the GRU explorer starts from (b_xg, b_hg only with reset_after)."""


class GRUExplorer(_SwitchingCellExplorer):
    """The GRU, one unit with one input: its gates r_t and z_t, and both candidate forms.

    h_t = (1 - z_t) * g_t + z_t * h_{t-1}: z_t near 1 copies h_{t-1} forward, z_t near 0
    writes the candidate g_t. The reset gate r_t decides how much of h_{t-1} the candidate
    sees. Sliders: every parameter of ``GRUCell``; the Checkbox ``controls['reset_after']``
    switches between the two forms of the candidate,
    g_t = tanh(W_xg x_t + W_hg (r_t * h_{t-1}) + b_g) (False, Cho et al. 2014 and the source
    documents) and g_t = tanh(W_xg x_t + b_xg + r_t * (W_hg h_{t-1} + b_hg)) (True, PyTorch's
    and Keras's). The switch rebuilds the cell with the same weights; b_g and b_xg carry over
    to each other and b_hg starts at its default. For one unit, W_hg (r_t h_{t-1}) equals
    r_t (W_hg h_{t-1}): the two forms differ only by r_t * b_hg.

    Panels: x, r, z, g and h over time (dashed: step t); the GRU diagram with step t's values,
    and under it the candidate's equation in the form in use.

    >>> ex = GRUExplorer()
    >>> ex.sliders['b_z'].value = 6.0          # z_t ~ 1: h is copied forward
    >>> bool(abs(ex.trace.h[-1, 0] - ex.trace.h[3, 0]) < 0.05)
    True
    >>> ex.controls['reset_after'].value = True
    >>> list(ex.sliders)[-2:]
    ['b_xg', 'b_hg']
    >>> ex.close()
    """

    name = "gru"
    switch = "reset_after"
    renamed = {"b_xg": "b_g", "b_g": "b_xg"}
    family_defaults = GRU_DEFAULTS
    options = {**LSTMExplorer.options, "sequence": "pulse", "t": 4, "reset_after": False}

    def _cell_for(self, choice):
        return CELLS["gru"](1, 1, seed=self._seed,
                            reset_after=choice)

    def _make_controls(self):
        return {**super()._make_controls(), "reset_after": widgets.Checkbox(
            value=self.cell.reset_after, description="reset_after", indent=False,
            layout=widgets.Layout(width="8em"))}

    def _show_face(self):
        super()._show_face()
        diagram.show_gru_form(self.plots["diagram"], self.cell.reset_after)


LSTM_FAMILY = tuple(kind for kind, cls in CELLS.items() if cls.has_cell_state)
"""The kinds of the registered cells with a cell state c_t beside h_t: the LSTM family."""


class LSTMVariantExplorer(_SwitchingCellExplorer):
    """The LSTM family side by side: pick a variant and its sliders and diagram follow.

    ``controls['variant']`` (a Dropdown over `LSTM_FAMILY`: the plain LSTM, peephole,
    coupled and Greff et al.'s variants the package registers) swaps the one-unit cell.
    Its sliders are the variant's own ``params``: the peephole variants add p_f, p_i, p_o
    (0 by default, so a peephole starts out as the plain LSTM); the coupled cell has no
    forget-gate weights (f_t = 1 - i_t); NIG, NFG, NOG drop a gate's weights. Weights the
    old and new variants share keep their values. The LSTM weights start at LSTMExplorer's.

    >>> ex = LSTMVariantExplorer()
    >>> ex.sliders['W_xo'].value = -3.0
    >>> ex.controls['variant'].value = 'nog'      # no output gate: o_t = 1
    >>> 'W_xo' in ex.sliders, ex.sliders['W_xi'].value
    (False, 4.0)
    >>> ex.controls['variant'].value = 'peephole'
    >>> ex.sliders['W_xo'].value, ex.sliders['p_o'].value     # W_xo is back at its default
    (-4.0, 0.0)
    >>> ex.close()
    """

    name = "variants"
    switch = "variant"
    family_defaults = {**OutputGateExplorer.defaults, "p_f": 0.0, "p_i": 0.0, "p_o": 0.0}
    options = {**LSTMExplorer.options, "variant": "lstm"}

    def _cell_for(self, choice):
        if choice not in LSTM_FAMILY:
            raise ValueError(f"variant must be one of {', '.join(LSTM_FAMILY)}; got {choice!r}")
        return CELLS[choice](1, 1, seed=self._seed)

    def _make_controls(self):
        # each cell's own name for itself: its docstring's first line, up to the reference
        labels = [(f"{kind}: {CELLS[kind].__doc__.split(' (')[0].strip().removeprefix('The ')}",
                   kind) for kind in LSTM_FAMILY]
        return {**super()._make_controls(), "variant": widgets.Dropdown(
            options=labels, value=self.cell.kind, description="variant",
            style={"description_width": "4em"}, layout=widgets.Layout(width="27em"))}


# ------------------------------------------------------------------------ training explorer


def _cell_label(kind):
    """A cell's name in the dropdown and the run labels: its class name without 'Cell'."""
    name = CELLS[kind].__name__
    return name[:-4] if name.endswith("Cell") else name


class TrainingExplorer(Explorer):
    """Train a cell on a long-range task for a few seconds and watch its loss (notebook 08).

    The model is a cell with a linear readout (``train.SequenceModel``) on the adding problem
    of length T (``task='copy'``: the copy task with a delay of T, 3 symbols from 4). Controls:
    'cell' (the cells named in ``cells``, by default the plain RNN, the LSTM and the GRU), 'T',
    'H' (the hidden size), 'train' (a button: ``steps`` steps of ``train.fit``, Adam with
    learning rate ``lr``, gradient norm clipped at 1, batches of ``batch_size``), 'clear'
    (forget the earlier runs) and 'reset'. The slider 'b_f' is the forget-gate bias the cell
    starts from, for the cells that take one (``takes_forget_bias``); it is disabled for the
    others.

    Left panel: the training loss at every step of each run against the task's memoryless
    baseline, the latest run bold and the earlier ones faded, each labelled by its settings.
    Right panel: how strongly the loss of the next run's model at its start depends on each
    input step, ||dL/dx_t|| on a fixed batch (largest = 1): the gradient that has to reach the
    early steps before the model can learn to use them. Changing any setting starts a fresh
    model; everything is seeded, so the same settings give the same run.

    While a run trains, the progress bar, the label (step k of n, loss) and the figure are
    updated every ``interval`` seconds and sent to the page as they are drawn. The notebook's
    interrupt (■, SIGINT to the kernel) stops a run cleanly: the model keeps its last completed
    step and its curve stays, marked as stopped.

    >>> ex = TrainingExplorer(cell='gru', T=5, hidden_size=8)
    >>> hist = ex.train(steps=30)
    >>> len(hist.loss), ex.steps_done, ex.plots['loss'].lines[0].get_ydata().size
    (30, 30, 30)
    >>> ex.close()
    """

    name = "training"
    slider_names = ("b_f",)
    defaults = {"b_f": 1.0}
    options = {"cell": "lstm", "cells": ("rnn", "lstm", "gru"), "task": "adding", "T": 20,
               "hidden_size": 16, "steps": 600, "batch_size": 32, "lr": 2e-2, "seed": 0,
               "max_T": 60, "max_hidden": 32, "interval": 0.4, "max_runs": 6}
    figsize = (9.0, 3.5)
    _tasks = ("adding", "copy")
    _grad_floor = 1e-8
    _smooth = 15                                   # steps averaged in an earlier run's curve
    _styles = ("--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)), (0, (1, 3)))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.progress = widgets.IntProgress(value=0, min=0, max=self._steps, description="",
                                            layout=widgets.Layout(width="14em"))
        self.status = widgets.HTML(value=self._ready_text())
        controls = self.controls
        self.widget.children = (
            widgets.HBox([controls["cell"], controls["T"], controls["H"], self.sliders["b_f"]],
                         layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([controls["train"], controls["clear"], controls["reset"], self.progress,
                          self.status], layout=widgets.Layout(align_items="center",
                                                              flex_flow="row wrap")),
            self.error_box, self._view)

    # -- settings and the model ------------------------------------------------------------------

    def _make_cell(self):
        o = self._opts
        if o["task"] not in self._tasks:
            raise ValueError(f"task must be 'adding' or 'copy'; got {o['task']!r}")
        self._cells = tuple(o["cells"])
        bad = [k for k in self._cells if k not in CELLS]
        if bad or not self._cells:
            raise ValueError(f"cells must name cells among {', '.join(CELLS)}; got {o['cells']!r}")
        if o["cell"] not in self._cells:
            raise ValueError(f"cell must be one of {', '.join(self._cells)}; got {o['cell']!r}")
        self._max_T = _positive_int(o["max_T"], "max_T")
        self._max_H = _positive_int(o["max_hidden"], "max_hidden")
        T, H = _positive_int(o["T"], "T"), _positive_int(o["hidden_size"], "hidden_size H")
        if not 2 <= T <= self._max_T or H > self._max_H:
            raise ValueError(f"T must lie in 2..{self._max_T} and H in 1..{self._max_H}; "
                             f"got T={T}, H={H}")
        self._steps = _positive_int(o["steps"], "steps")
        self._batch = _positive_int(o["batch_size"], "batch_size")
        if not (isinstance(o["lr"], (int, float)) and np.isfinite(o["lr"]) and o["lr"] > 0):
            raise ValueError(f"lr must be a positive number; got {o['lr']!r}")
        self._runs = []
        self._drawn = {}                 # what the legend shows; kept through a roll-back
        self._build_model((o["cell"], T, H, self._param_defaults["b_f"]))
        return self.model.cell

    def _apply_param(self, name, value):
        """b_f lives in its slider; ``recompute`` builds the model from it."""
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value}")

    def _make_task(self, T):
        if self._opts["task"] == "copy":
            return CopyTask(T=T, n_symbols=4, length=3)
        return AddingTask(T=T)

    def _settings(self):
        """(cell kind, T, H, b_f or None when the cell takes no forget bias)."""
        c = self.controls
        kind = c["cell"].value
        b_f = self.sliders["b_f"].value if CELLS[kind].takes_forget_bias else None
        return kind, c["T"].value, c["H"].value, b_f

    def _build_model(self, settings):
        """A fresh model at initialisation for `settings`, and how its loss depends on x_t."""
        kind, T, H, b_f = settings
        seed = self._opts["seed"]
        task = self._make_task(T)
        extra = {"forget_bias": b_f} if CELLS[kind].takes_forget_bias else {}
        cell = CELLS[kind](task.input_size, H, seed=seed, **extra)
        model = SequenceModel(cell, task.output_size, many_to_one=task.many_to_one, seed=seed)
        # how strongly the loss depends on each input step at the start, on a fixed batch
        x, y = task.sample(16, np.random.default_rng([seed, 2]))
        trace = model.forward(x)
        loss, dy = task.loss(trace.output, y)
        dx = model.backward(trace, dy)["x"]
        g = np.sqrt(np.sum(dx * dx, axis=(1, 2)))                 # ||dL/dx_t||, (T,)
        self.__dict__.update(                  # all at once: Stop cannot split the settings
            task=task, model=model, cell=cell, _model_settings=(kind, T, H, b_f),
            steps_done=0, start_loss=loss, input_grad=g / max(float(g.max()), 1e-300))

    def _make_controls(self):
        style = {"description_width": "1.5em"}
        return {
            "cell": widgets.Dropdown(options=[(_cell_label(k), k) for k in self._cells],
                                     value=self._opts["cell"], description="cell",
                                     style={"description_width": "2.5em"},
                                     layout=widgets.Layout(width="11em")),
            "T": widgets.IntSlider(value=self._opts["T"], min=2, max=self._max_T,
                                   description="T", style=style,
                                   layout=widgets.Layout(width="17em")),
            "H": widgets.IntSlider(value=self._opts["hidden_size"], min=1, max=self._max_H,
                                   description="H", style=style,
                                   layout=widgets.Layout(width="15em")),
            "train": widgets.Button(description="Train", icon="play", button_style="primary",
                                    tooltip=f"train {self._steps} steps from the start; "
                                            "■ (interrupt the kernel) stops",
                                    layout=widgets.Layout(width="7.5em")),
            "clear": widgets.Button(description="Clear", icon="trash",
                                    tooltip="forget the runs drawn so far",
                                    layout=widgets.Layout(width="7em")),
        }

    def _observe_control(self, name, control):
        if name == "train":
            control.on_click(lambda _button: self._train_clicked())
        elif name == "clear":
            control.on_click(lambda _button: self.clear())
        else:
            super()._observe_control(name, control)

    def recompute(self):
        settings = self._settings()
        if settings != self._model_settings:
            self._build_model(settings)
        self.sliders["b_f"].disabled = settings[3] is None

    # -- training ------------------------------------------------------------------------------

    def _label(self, settings=None):
        kind, T, H, b_f = settings or self._model_settings
        return f"{_cell_label(kind)} T={T} H={H}" + ("" if b_f is None else f" b_f={b_f:.2f}")

    def train(self, steps=None, seconds=None):
        """Train a fresh model with the current settings; returns the ``train.History``.

        ``steps`` steps (the explorer's ``steps`` by default), stopping early after ``seconds``
        seconds when given. The loss curve, the progress bar and its label follow the run. An
        error is shown in the widget (and None returned); an interrupt (■) ends the run with
        the model at its last completed step and its curve drawn, then goes on.
        """
        steps = self._steps if steps is None else _positive_int(steps, "steps")
        self._show_error(None)
        run = {"hist": None, "optimizer": None, "frozen": [], "shown": -np.inf, "steps": steps}
        start = time.perf_counter()

        def tick(hist):
            run["hist"] = hist
            now = time.perf_counter()
            if now - run["shown"] >= self._opts["interval"]:
                run["shown"] = now
                self._show_progress(run, "step")
            return seconds is not None and now - start >= seconds

        outcome = "interrupted"
        try:
            self._freeze(run["frozen"])
            self._build_model(self._settings())
            run.update(label=self._label(), color=CELLS[self._model_settings[0]].color,
                       losses=np.empty(0))
            self._runs = [run, *self._runs][: self._opts["max_runs"]]
            run["optimizer"] = Adam(self.model.params, lr=self._opts["lr"])
            self.progress.max = steps
            fit(self.model, self.task, steps, batch_size=self._batch, optimizer=run["optimizer"],
                clip=1.0, eval_every=steps, seed=self._opts["seed"], progress="off",
                callback=tick)
            outcome = "done"
        except Exception as exc:               # shown in the widget, like a slider's error
            outcome = exc
        finally:
            self._end_run(run, outcome)
        return run["hist"] if outcome == "done" else None

    def _end_run(self, run, outcome):
        """Put the run away with Stop held off (a Stop that comes before that is caught first
        and delivered after): controls back, the completed steps drawn, how it ended said."""
        pending = False
        while True:
            try:
                with interrupts_deferred():
                    self._finish_run(run, outcome)
                break
            except KeyboardInterrupt:
                pending = True
        if pending:
            raise KeyboardInterrupt

    def _finish_run(self, run, outcome):
        for w in run["frozen"]:
            w.disabled = False
        run["frozen"] = []
        hist, optimizer = run["hist"], run["optimizer"]
        if "label" not in run:                 # stopped before the run began
            how = "failed" if isinstance(outcome, Exception) else "stopped"
            self.status.value = f"<code>{how} before the first step</code>"
            if isinstance(outcome, Exception):
                self._show_error(outcome)
            return
        done = self.steps_done = 0 if optimizer is None else optimizer.t
        if outcome == "done":
            metric = "" if hist.final is None else f", held-out {hist.metric} {hist.final:.4f}"
            how = "diverged after" if hist.diverged else "done:"
            word = f"{how} {done} steps in {hist.seconds:.1f} s{metric}"
        elif outcome == "interrupted":
            run["label"] += f" (stopped at {done})"
            word = f"stopped at step {done} of {run['steps']} (interrupted); the model keeps it"
        else:
            run["label"] += " (failed)"
            word = f"failed in step {done + 1}"
        try:
            self._show_progress(run, word)
            self._update_artists()
            self._draw()
        except Exception as exc:
            outcome = exc
        if isinstance(outcome, Exception):
            self._show_error(outcome)

    def _show_progress(self, run, word):
        """The progress bar, its label and the run's curve (its completed steps), shown now."""
        hist, optimizer = run["hist"], run["optimizer"]
        k = 0 if hist is None or optimizer is None else optimizer.t
        losses = [] if hist is None else hist.loss[:k]
        run["losses"] = np.asarray(losses, dtype=float)
        self.progress.value = min(len(losses), run["steps"])
        last = f", loss {losses[-1]:.4f}" if losses else ""
        text = f"step {len(losses)} of {run['steps']}{last}" if word == "step" else f"{word}{last}"
        self.status.value = f"<code>{html.escape(text)}</code>"
        self._update_runs()
        self._draw_now()

    def _draw_now(self):
        """Draw and show the figure at once, without waiting for the kernel to be idle.

        Under ipympl ``draw_idle`` asks the page to ask back for a picture, which a busy
        kernel answers only when it is done; ``canvas.draw()`` renders and sends it now.
        """
        canvas = self.figure.canvas
        if self._ipympl and not getattr(canvas, "syncing_data_url", True):
            canvas.draw()
        else:
            self._draw()

    def _freeze(self, frozen):
        """Disable every control while a run trains (a click would wait until it ended);
        each one goes into `frozen` before it is disabled, so that it can be enabled again."""
        for w in [*self.sliders.values(), *self.controls.values()]:
            if hasattr(w, "disabled") and not w.disabled:
                frozen.append(w)
                w.disabled = True

    def _train_clicked(self):
        try:
            self.train()
        except KeyboardInterrupt:
            pass            # the run ended where ■ caught it; the label says so

    def clear(self):
        """Forget the runs drawn so far (the current model stays)."""
        def work():
            self._runs = []
            self._update_artists()
            self._draw()
        self._guarded(work)

    def _reset_work(self):
        self._runs = []
        self.progress.value = 0
        self.status.value = self._ready_text()
        super()._reset_work()

    def _ready_text(self):
        return f"<code>press Train: {self._steps} steps</code>"

    def close(self):
        self.progress.close()
        self.status.close()
        super().close()

    # -- the figure ----------------------------------------------------------------------------

    def _build_plots(self):
        ax, ax_grad = self.figure.subplots(1, 2, width_ratios=(1.55, 1.0))
        _margins(self.figure, left=0.75, right=0.2, bottom=0.5, top=0.3, wspace=0.3)
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        loss = "MSE" if self.task.loss_name == "mse" else "cross-entropy"
        ax.set_ylabel(f"training loss ({loss})")
        ax.axhline(self.task.baseline(), color="0.3", ls="--", lw=1.0, zorder=1)
        self._baseline_text = ax.text(0.99, 0.0, "memoryless baseline", color="0.3",
                                      fontsize="x-small", ha="right", va="bottom",
                                      transform=ax.get_yaxis_transform())
        self._baseline_text.set_y(self.task.baseline() * 1.08)
        lines = [ax.plot([], [], lw=1.0)[0] for _ in range(self._opts["max_runs"])]
        self.plots["loss"] = _Curves(ax, lines)
        self._hint = ax.text(0.5, 0.6, "press Train", color="0.45", ha="center", va="center",
                             transform=ax.transAxes)
        ax.yaxis.set_minor_locator(NullLocator())
        ax_grad.set_yscale("log")
        ax_grad.set_ylim(self._grad_floor / 3, 3.0)       # fixed: the slope is what changes
        decades = np.logspace(np.log10(self._grad_floor), 0, 5)      # every other decade
        ax_grad.yaxis.set_major_locator(FixedLocator(decades))
        ax_grad.set_xlabel("input step $t$")
        ax_grad.set_title(r"at the start: $\|\partial L / \partial x_t\|$, largest = 1",
                          fontsize=10)
        ax_grad.yaxis.set_minor_locator(NullLocator())
        (line,) = ax_grad.plot([], [], lw=1.6)
        self.plots["grad"] = _Curves(ax_grad, [line])

    def _update_artists(self):
        self._update_runs()
        ax, (line,) = self.plots["grad"].ax, self.plots["grad"].lines
        g = np.maximum(self.input_grad, self._grad_floor)
        line.set_data(np.arange(1, g.size + 1), g)
        line.set_color(CELLS[self._model_settings[0]].color)
        ax.set_xlim(0.5, g.size + 0.5)
        b_f = self._model_settings[3]
        forget = "" if b_f is None else f" (σ(b_f) = {1 / (1 + np.exp(-b_f)):.2f})"
        self.plots["loss"].ax.set_title(
            f"next: {self._label()}{forget}, loss at start {self.start_loss:.3f}", fontsize=10)

    def _update_runs(self):
        """The runs' curves (newest bold), the legend when the runs changed, the axis limits."""
        ax, lines = self.plots["loss"].ax, self.plots["loss"].lines
        for k, line in enumerate(lines):
            if k < len(self._runs):
                run = self._runs[k]
                y = run["losses"]
                x = np.arange(1, y.size + 1)
                if k and y.size >= self._smooth:     # earlier runs: smoothed, faded, dashed
                    y = np.convolve(y, np.ones(self._smooth) / self._smooth, mode="valid")
                    x = x[self._smooth // 2:][: y.size]
                line.set_data(x, y)
                line.set_color(run["color"])
                line.set_alpha(1.0 if k == 0 else 0.55)
                line.set_linewidth(1.1 if k == 0 else 1.4)
                line.set_linestyle(self._styles[(k - 1) % len(self._styles)] if k else "-")
                line.set_zorder(3 if k == 0 else 2)
                line.set_visible(True)
            else:
                line.set_data([], [])
                line.set_visible(False)
        self._hint.set_visible(not self._runs)
        labels = tuple(run["label"] for run in self._runs)
        if self._drawn.get("labels") != labels:
            self._drawn["labels"] = labels
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            if labels:
                ax.legend(lines[: len(labels)], labels, fontsize="x-small", loc="lower left",
                          framealpha=0.8)
        longest = max([self._steps, *(run["steps"] for run in self._runs)])
        ax.set_xlim(0, longest)
        values = [run["losses"] for run in self._runs if run["losses"].size]
        base = self.task.baseline()
        lo = min([base, *(float(np.min(v)) for v in values)])
        hi = max([base, self.start_loss, *(float(np.max(v)) for v in values)])
        ax.set_ylim(max(lo, 1e-6) / 1.5, hi * 1.5)
        self._baseline_text.set_y(base * 1.08)

    def _state_repr(self):
        kind, T, H, _b_f = self._settings()
        return f"cell={kind!r}, T={T}, H={H}, runs={len(self._runs)}"


class _Curves:
    """The lines of one panel of the training explorer (``.ax``, ``.lines``)."""

    def __init__(self, ax, lines):
        self.ax = ax
        self.lines = lines

    def __repr__(self):
        return f"_Curves({len(self.lines)} lines)"


EXPLORERS = {
    "forget": ForgetGateExplorer,
    "input": InputGateExplorer,
    "update": CellUpdateExplorer,
    "output": OutputGateExplorer,
    "lstm": LSTMExplorer,
    "cell": CellExplorer,
    "rnn_memory": RNNMemoryExplorer,
    "memory_span": MemorySpanExplorer,
    "attention": AttentionExplorer,
    "chain": ChainExplorer,
    "shapes": ShapesExplorer,
    "units": UnitExplorer,
    "gru": GRUExplorer,
    "variants": LSTMVariantExplorer,
    "training": TrainingExplorer,
}
"""Every explorer by name, as the notebooks and tests look them up."""
