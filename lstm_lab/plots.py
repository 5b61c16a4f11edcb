"""Plot helpers that read a trace: gates over time, heatmaps, activations, the conveyor belt, more.

Every helper draws with matplotlib's object API, changes no global setting, takes
``ax=None`` (several-panel helpers take ``fig=None``) and returns a small object that
holds its artists and redraws them in place with ``.update(...)``. Without ``ax``/``fig``
the helper makes a fresh :class:`matplotlib.figure.Figure` (no pyplot state); the returned
object then shows that figure as a PNG in a notebook.

Time runs as in the equations: step t = 1..T on every time axis, trace row ``t - 1``
holding h_t (``trace.h[t - 1]``), and t = 0 the initial state (h_0, c_0). ``set_time(t)``
and the cell diagram's ``t`` count the same way.

One colour per symbol, the same in every plot, in the cell diagram and in the sliders:

>>> from lstm_lab import plots
>>> plots.COLORS['f'], plots.LABELS['c']
('#D55E00', '$c_t$')
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize, to_hex
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from .cells import CELLS
from .symbols import ACTIVATION_OF, COLORS, LABELS, NAMES, SIGMOID_GATES

__all__ = [
    "COLORS", "LABELS", "NAMES", "CELL_COLORS", "ACTIVATION_OF",
    "plot_gates", "plot_heatmap", "plot_activation", "plot_conveyor",
    "plot_gradient_norms", "plot_text_colored", "text_html", "plot_param_counts",
    "GatesPlot", "HeatmapPlot", "ActivationPlot", "ConveyorPlot", "GradientNormPlot",
    "TextPlot", "BarsPlot", "plot_attention", "AttentionPlot",
]

# the symbol table (lstm_lab.symbols) gives every symbol its colour, label, name and activation
# (c: the tanh(c_t) inside h_t = o_t * tanh(c_t); h: the vanilla RNN's h_t = tanh(...));
# every cell declares its own colour for plots that compare cells
CELL_COLORS = {kind: cls.color for kind, cls in CELLS.items()}
_EXTRA_COLORS = ("#332288", "#882255", "#44AA99", "#999933", "#AA4499", "#88CCEE",
                 "#117733", "#DDCC77", "#000000")

_X_STYLES = (("#000000", "-"), ("#6E6E6E", "--"), ("#A8A8A8", "-."), ("#000000", ":"),
             ("#6E6E6E", "-"), ("#A8A8A8", "--"), ("#000000", "-."), ("#6E6E6E", ":"))
_SIGMOID_GATES = SIGMOID_GATES
_GATE_ORDER = ("f", "i", "r", "z", "g", "o")
_SMALL = "small"


# --------------------------------------------------------------------------- helpers

def _fresh_figure(figsize, layout="constrained"):
    """A new Figure with an Agg canvas, outside pyplot's figure manager."""
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _root_figure(obj):
    """The top-level Figure of an Axes, Figure or SubFigure."""
    try:
        return obj.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10: .figure of an Axes or SubFigure is the root
        return obj if isinstance(obj, Figure) else obj.figure


def _check_ax(ax):
    if ax is not None and not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")


def _check_trace(trace):
    for name in ("h", "x", "gates"):
        if not hasattr(trace, name):
            raise TypeError("trace must be what cell.forward(x) returns (with .x, .h, .gates); "
                            f"got {type(trace).__name__}")


def _check_index(trace, batch, unit):
    """Validate batch and unit against trace.h's shape (T, H) or (T, B, H)."""
    h = np.asarray(trace.h)
    batched = h.ndim == 3
    for name, val in (("batch", batch), ("unit", unit)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
            raise TypeError(f"{name} must be an int; got {val!r}")
    H = h.shape[-1]
    if not 0 <= unit < H:
        raise ValueError(f"unit must be in 0..{H - 1} (H={H}); got {unit}")
    if batched:
        B = h.shape[1]
        if not 0 <= batch < B:
            raise ValueError(f"batch must be in 0..{B - 1} (B={B}); got {batch}")
    elif batch != 0:
        raise ValueError("batch must be 0 for a trace of one sequence (x of shape (T, D)); "
                         f"got {batch}")
    return batched


def _series(arr, batched, batch, unit=None):
    """One sequence out of an array shaped (T, H) or (T, B, H): (T,) for a unit, else (T, H)."""
    a = np.asarray(arr, dtype=float)
    if batched:
        a = a[:, batch]
    return a if unit is None else a[:, unit]


def _vector(arr, batched, batch):
    """One vector out of a state shaped (H,) or (B, H)."""
    a = np.asarray(arr, dtype=float)
    return a[batch] if batched else a


def _symbols_of(trace):
    """The symbols a trace can show, in teaching order: f,i,g,o,c,h / r,z,g,h / h."""
    syms = [k for k in _GATE_ORDER if k in trace.gates]
    if getattr(trace, "c", None) is not None:
        syms.append("c")
    syms.append("h")
    return syms


def _values(trace, sym):
    if sym == "h":
        return trace.h
    if sym == "c":
        return trace.c
    return trace.gates[sym]


def _states_label(syms):
    """The y label of the panel holding the candidate and/or the states ``syms``.

    >>> _states_label(["c", "h"]), _states_label(["g", "c"]), _states_label(["h"])
    ('states', 'candidate, states', 'hidden state')
    """
    names = {"g": "candidate", "c": "cell state", "h": "hidden state"}
    if len(syms) == 1:
        return names.get(syms[0], syms[0])
    return "candidate, states" if "g" in syms else "states"


def _sym_limits(values, floor=1.05):
    """Symmetric y-limits that hold the data and at least [-floor, floor]."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    lim = max(floor, 1.08 * m)
    return -lim, lim


def _data_limits(values, min_span=0.2):
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return -1.0, 1.0
    lo, hi = float(a.min()), float(a.max())
    pad = max(0.08 * (hi - lo), min_span / 2)
    return lo - pad, hi + pad


_LEGEND_PLACES = ("above", "right", "inside", None)


def _legend(ax, where, ncols):
    """A compact legend for one panel, placed without a layout engine."""
    kw = dict(fontsize=_SMALL, handlelength=1.2)
    if where == "above":
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=ncols, frameon=False,
                  borderaxespad=0.1, **kw)
    elif where == "right":
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                  borderaxespad=0.1, **kw)
    elif where == "inside":
        ax.legend(loc="upper right", ncols=ncols, framealpha=0.7, borderaxespad=0.3, **kw)


def _markers_for(T):
    return ("o", 3.0) if T <= 60 else ("", 0.0)


class _PlotBase:
    """Common parts: the root figure, PNG display when the figure is ours, a time marker."""

    figure: Figure
    _owns_figure: bool = False

    def _repr_png_(self):
        if not self._owns_figure:
            return None  # the caller's figure shows itself
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=90)
        return buf.getvalue()

    def draw_idle(self):
        """Ask the figure's canvas to redraw when it next can."""
        self.figure.canvas.draw_idle()

    _marker = None  # the time marker, made on the first set_time
    _marker_style = {"color": "0.3", "lw": 1.0, "ls": "--", "zorder": 0.5}

    def set_time(self, t):
        """Mark step ``t`` (1..T, as on the time axis) with a vertical line; None hides it."""
        if self._marker is None:
            self._marker = self.ax.axvline(0, **self._marker_style)
        self._marker.set_visible(t is not None)
        if t is not None:
            self._marker.set_xdata([t, t])
        return self

    def _use_ax(self, ax, figsize):
        """Draw on `ax`, or on one Axes of a fresh figure of `figsize` that this plot then owns."""
        if ax is None:
            ax = _fresh_figure(figsize).add_subplot()
            self._owns_figure = True
        self.ax = ax
        self.figure = _root_figure(ax)
        return ax


# --------------------------------------------------------------------------- gates over time

class GatesPlot(_PlotBase):
    """Input and gate values of one unit over time (see :func:`plot_gates`).

    Attributes
    ----------
    figure : the root Figure
    axes : list of Axes, top to bottom (input panel first)
    panels : dict 'x' | 'gates' | 'states' -> Axes
    lines : dict symbol -> Line2D ('x' is the first input component)
    x_lines : list of Line2D, one per input component shown
    """

    def __init__(self, trace, unit, batch, gates, fig, axes, legend="above"):
        if legend not in _LEGEND_PLACES:
            raise ValueError(f"legend must be one of {', '.join(map(repr, _LEGEND_PLACES))}; "
                             f"got {legend!r}")
        _check_trace(trace)
        batched = _check_index(trace, batch, unit)
        available = _symbols_of(trace)
        if gates is None:
            gates = available
        else:
            if isinstance(gates, str):
                gates = [s for s in gates.replace(",", " ").split()] if (
                    "," in gates or " " in gates) else list(gates)
            gates = list(gates)
            bad = [s for s in gates if s not in available]
            if bad or not gates:
                raise ValueError(f"gates must be a non-empty subset of {', '.join(available)} "
                                 f"for this trace; got {gates!r}")
        self.unit, self.batch, self.gates = unit, batch, tuple(gates)
        gate_syms = [s for s in self.gates if s in _SIGMOID_GATES]
        state_syms = [s for s in self.gates if s not in _SIGMOID_GATES]
        names = ["x"] + (["gates"] if gate_syms else []) + (["states"] if state_syms else [])

        if axes is not None:
            axes = list(axes)
            if len(axes) != len(names):
                raise ValueError(f"axes must hold {len(names)} Axes (panels {', '.join(names)}); "
                                 f"got {len(axes)}")
            for ax in axes:
                _check_ax(ax)
        else:
            if fig is None:
                fig = _fresh_figure((6.4, 1.2 + 1.35 * len(names)))
                self._owns_figure = True
            elif fig.axes:
                raise ValueError("fig must be an empty Figure or SubFigure (it already has axes); "
                                 "use fig.subfigures() or pass axes=")
            ratios = [0.7] + [1.0] * (len(names) - 1)
            axes = list(np.atleast_1d(fig.subplots(len(names), 1, sharex=True,
                                                   gridspec_kw={"height_ratios": ratios})))
        self.axes = axes
        self.panels = dict(zip(names, axes, strict=True))
        self.figure = _root_figure(axes[0])

        x = _series(trace.x, batched, batch)
        T, D = x.shape
        marker, ms = _markers_for(T)
        t = np.arange(1, T + 1)
        ax = self.panels["x"]
        self.x_lines = []
        shown = min(D, 8)
        for d in range(shown):
            label = LABELS["x"] if D == 1 else rf"$x_{{t,{d}}}$"
            # the input stays black and grey (no symbol's colour), told apart by the dash pattern
            color, dash = _X_STYLES[d % len(_X_STYLES)]
            (ln,) = ax.plot(t, x[:, d], color=color, ls=dash, lw=1.5, marker=marker, ms=ms,
                            label=label)
            self.x_lines.append(ln)
        ax.set_ylabel(LABELS["x"] if D == 1 else "input")
        if D > 1:
            _legend(ax, legend, min(shown, 8))
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        self.lines = {"x": self.x_lines[0]}

        for panel, syms in (("gates", gate_syms), ("states", state_syms)):
            if not syms:
                continue
            ax = self.panels[panel]
            for s in syms:
                (ln,) = ax.plot(t, _series(_values(trace, s), batched, batch, unit),
                                color=COLORS[s], lw=2.0 if s in "ch" else 1.6,
                                marker=marker, ms=ms, label=LABELS[s])
                self.lines[s] = ln
            if panel == "gates":
                ax.set_ylim(-0.05, 1.05)
                ax.set_yticks([0, 0.5, 1])
                ax.axhline(0.5, color="0.85", lw=0.8, ls=":", zorder=0)
                ax.set_ylabel("gates")
            else:
                ax.axhline(0, color="0.8", lw=0.8, zorder=0)
                ax.set_ylabel(_states_label(syms))
            _legend(ax, legend, len(syms))
        axes[-1].set_xlabel("time step t")
        for ax in axes:
            ax.tick_params(labelsize=_SMALL)
        self._markers = []
        self.T = T
        self._rescale()

    def _rescale(self):
        for ax in self.axes:
            ax.set_xlim(0.5, self.T + 0.5)
        self.panels["x"].set_ylim(*_data_limits(
            np.concatenate([ln.get_ydata() for ln in self.x_lines])))
        if "states" in self.panels:
            vals = [self.lines[s].get_ydata() for s in self.gates if s not in _SIGMOID_GATES]
            self.panels["states"].set_ylim(*_sym_limits(np.concatenate(vals)))

    def update(self, trace):
        """Redraw the same lines with a new trace of the same kind (T may change)."""
        _check_trace(trace)
        batched = _check_index(trace, self.batch, self.unit)
        x = _series(trace.x, batched, self.batch)
        T = x.shape[0]
        if x.shape[1] < len(self.x_lines):
            raise ValueError(f"trace.x has D={x.shape[1]}; this plot shows "
                             f"{len(self.x_lines)} inputs")
        t = np.arange(1, T + 1)
        marker, ms = _markers_for(T)
        for d, ln in enumerate(self.x_lines):
            ln.set_data(t, x[:, d])
        missing = [s for s in self.gates if s not in _symbols_of(trace)]
        if missing:
            raise ValueError(f"the new trace has no {', '.join(missing)}; this plot shows "
                             f"{', '.join(self.gates)}")
        for s in self.gates:
            self.lines[s].set_data(t, _series(_values(trace, s), batched, self.batch, self.unit))
        if T != self.T:
            for ln in list(self.x_lines) + [self.lines[s] for s in self.gates]:
                ln.set_marker(marker)
                ln.set_markersize(ms)
        self.T = T
        self._rescale()
        return self

    def set_time(self, t):
        """Mark step ``t`` (1..T, as on the time axis) with a vertical line on every panel;
        None hides it."""
        if not self._markers:
            self._markers = [ax.axvline(0, color="0.3", lw=1.0, ls="--", zorder=0.5)
                             for ax in self.axes]
        for m in self._markers:
            m.set_visible(t is not None)
            if t is not None:
                m.set_xdata([t, t])
        return self

    def __repr__(self):
        return f"GatesPlot(unit={self.unit}, gates={','.join(self.gates)}, T={self.T})"


def plot_gates(trace, unit=0, batch=0, fig=None, gates=None, *, axes=None, legend="above"):
    """Plot the input sequence and one unit's gate values over time.

    Time runs t = 1..T (row t - 1 of the trace). Panels, top to bottom: the input x_t; the
    sigmoid gates (f, i, o or r, z; 0..1); the
    candidate and states (g, c, h; tanh range, widened when |c_t| > 1).

    Parameters
    ----------
    trace : the trace ``cell.forward(x)`` returns; arrays (T, H) or (T, B, H)
    unit : which hidden unit (0..H-1)
    batch : which sequence of a batched trace (0..B-1)
    fig : an empty Figure or SubFigure to draw into (a fresh Figure if None)
    gates : symbols to show, a subset of f,i,g,o,c,h (LSTM family), r,z,g,h (GRU) or h (RNN);
        all of them if None
    axes : instead of ``fig``, the Axes to draw into, one per panel (x, then gates, then states)
    legend : where each panel's legend goes: 'above' the panel (needs a little space between
        panels), 'right' of it (needs a right margin), 'inside' (upper right) or None

    Returns
    -------
    GatesPlot with ``.figure``, ``.axes``, ``.lines`` (symbol -> Line2D), ``.update(trace)``
    and ``.set_time(t)``.

    Examples
    --------
    >>> import numpy as np, lstm_lab as ll
    >>> from lstm_lab import plots
    >>> cell = ll.LSTMCell(input_size=1, hidden_size=2, seed=0)
    >>> trace = cell.forward(np.sin(np.linspace(0, 3, 20))[:, None])
    >>> p = plots.plot_gates(trace, unit=1)
    >>> p
    GatesPlot(unit=1, gates=f,i,g,o,c,h, T=20)
    >>> bool(np.allclose(p.lines['f'].get_ydata(), trace.gates['f'][:, 1]))
    True
    >>> p = p.update(cell.forward(np.ones((5, 1))))
    >>> len(p.lines['h'].get_ydata())
    5
    """
    return GatesPlot(trace, unit, batch, gates, fig, axes, legend)


# --------------------------------------------------------------------------- heatmap

class HeatmapPlot(_PlotBase):
    """A gate or state over time (x axis) and units (y axis); see :func:`plot_heatmap`.

    Attributes: ``.figure``, ``.ax``, ``.image`` (AxesImage), ``.colorbar``.
    """

    def __init__(self, trace, gate, batch, ax):
        _check_trace(trace)
        _check_ax(ax)
        batched = _check_index(trace, batch, 0)
        available = _symbols_of(trace)
        if gate not in available:
            raise ValueError(f"gate must be one of {', '.join(available)} for this trace; "
                             f"got {gate!r}")
        self.gate, self.batch = gate, batch
        ax = self._use_ax(ax, (6.4, 3.0))
        data = _series(_values(trace, gate), batched, batch).T  # (H, T)
        H, T = data.shape
        if gate in _SIGMOID_GATES:
            cmap, vmin, vmax = "viridis", 0.0, 1.0
        else:
            cmap = "RdBu_r"
            vmin, vmax = _sym_limits(data, floor=1.0) if gate == "c" else (-1.0, 1.0)
        self.image = ax.imshow(data, aspect="auto", origin="lower", interpolation="nearest",
                               cmap=cmap, vmin=vmin, vmax=vmax,
                               extent=(0.5, T + 0.5, -0.5, H - 0.5))
        self.colorbar = ax.figure.colorbar(self.image, ax=ax, pad=0.02)
        self.colorbar.set_label(LABELS[gate])
        ax.set_xlabel("time step t")
        ax.set_ylabel("unit")
        ax.set_title(f"{NAMES[gate]} {LABELS[gate]}", fontsize="medium")
        if H <= 16:
            ax.set_yticks(range(H))
        self.T, self.H = T, H

    def update(self, trace):
        """Show a new trace in the same image (T and H may change)."""
        _check_trace(trace)
        batched = _check_index(trace, self.batch, 0)
        if self.gate not in _symbols_of(trace):
            raise ValueError(f"the new trace has no {self.gate!r}")
        data = _series(_values(trace, self.gate), batched, self.batch).T
        H, T = data.shape
        self.image.set_data(data)
        if self.gate == "c":
            self.image.set_clim(*_sym_limits(data, floor=1.0))
        if (H, T) != (self.H, self.T):
            self.image.set_extent((0.5, T + 0.5, -0.5, H - 0.5))
            self.ax.set_xlim(0.5, T + 0.5)
            self.ax.set_ylim(-0.5, H - 0.5)
        self.T, self.H = T, H
        return self

    _marker_style = {"color": "k", "lw": 1.0, "ls": "--"}

    def __repr__(self):
        return f"HeatmapPlot(gate={self.gate}, T={self.T}, H={self.H})"


def plot_heatmap(trace, gate="f", batch=0, ax=None):
    """Heatmap of one gate (f, i, g, o, r, z) or state (c, h): time across, units up.

    Sigmoid gates use viridis on 0..1; g and h a diverging map on -1..1; c a diverging
    map symmetric around 0 that widens with |c_t|.

    Parameters
    ----------
    trace : the trace ``cell.forward(x)`` returns; arrays (T, H) or (T, B, H)
    gate : 'f', 'i', 'g', 'o' (LSTM family), 'r', 'z', 'g' (GRU), 'c', 'h'
    batch : which sequence of a batched trace
    ax : Axes to draw into (a fresh Figure if None)

    Examples
    --------
    >>> import numpy as np, lstm_lab as ll
    >>> from lstm_lab import plots
    >>> trace = ll.LSTMCell(input_size=1, hidden_size=4, seed=0).forward(np.ones((10, 1)))
    >>> hm = plots.plot_heatmap(trace, gate='c')
    >>> hm
    HeatmapPlot(gate=c, T=10, H=4)
    >>> np.asarray(hm.image.get_array()).shape
    (4, 10)
    """
    return HeatmapPlot(trace, gate, batch, ax)


# --------------------------------------------------------------------------- activation curves

SATURATED_SLOPE = 0.1  # a region is "saturated" where the slope is below 10% of its maximum
LINEAR_SLOPE = 0.8     # ... and "near linear" where it is above 80% of its maximum


def _sigmoid(a):
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _slope_edge(kind, frac):
    """|a| where the activation's slope equals ``frac`` of its maximum."""
    if kind == "sigmoid":  # s(1-s) = frac/4  ->  s = (1 + sqrt(1-frac)) / 2
        s = 0.5 * (1.0 + np.sqrt(1.0 - frac))
        return float(np.log(s / (1.0 - s)))
    return float(np.arctanh(np.sqrt(1.0 - frac)))  # 1 - tanh^2 = frac


class ActivationPlot(_PlotBase):
    """A sigmoid or tanh curve with pre-activations marked; see :func:`plot_activation`.

    Attributes: ``.figure``, ``.ax``, ``.curve`` and ``.markers`` (Line2D), ``.kind``, ``.symbol``.
    """

    def __init__(self, kind, pre, ax, symbol):
        if kind not in ("sigmoid", "tanh"):
            raise ValueError(f"kind must be 'sigmoid' or 'tanh'; got {kind!r}")
        if symbol is not None:
            if symbol not in ACTIVATION_OF:
                raise ValueError(f"symbol must be one of {', '.join(ACTIVATION_OF)} or None; "
                                 f"got {symbol!r}")
            if ACTIVATION_OF[symbol] != kind:
                raise ValueError(f"{symbol!r} comes from a {ACTIVATION_OF[symbol]}; "
                                 f"use kind={ACTIVATION_OF[symbol]!r}")
        _check_ax(ax)
        self.kind, self.symbol = kind, symbol
        self._f = _sigmoid if kind == "sigmoid" else np.tanh
        ax = self._use_ax(ax, (4.2, 2.8))
        big = 1e9
        z_sat = _slope_edge(kind, SATURATED_SLOPE)
        z_lin = _slope_edge(kind, LINEAR_SLOPE)
        sat_kw = {"color": "0.88", "lw": 0, "zorder": 0}
        ax.axvspan(-big, -z_sat, label="saturated", **sat_kw)
        ax.axvspan(z_sat, big, **sat_kw)
        ax.axvspan(-z_lin, z_lin, color="#DCEBF7", lw=0, zorder=0, label="near linear")
        mid = 0.5 if kind == "sigmoid" else 0.0
        ax.axhline(mid, color="0.6", lw=0.8, ls=":", zorder=1)
        ax.axvline(0.0, color="0.6", lw=0.8, ls=":", zorder=1)
        (self.curve,) = ax.plot([], [], color="0.15", lw=1.8, zorder=2,
                                label=r"$\sigma$" if kind == "sigmoid" else r"$\tanh$")
        color = COLORS[symbol] if symbol else "#D55E00"
        mlabel = LABELS[symbol] if symbol else "values"
        (self.markers,) = ax.plot([], [], ls="none", marker="o", ms=6, mfc=color, mec="white",
                                  mew=0.8, zorder=3, alpha=0.85, label=mlabel)
        if symbol is None:
            ax.set_ylabel(r"$\sigma(a)$" if kind == "sigmoid" else r"$\tanh(a)$")
            ax.set_xlabel(r"pre-activation $a$")
        elif symbol == "c":
            ax.set_ylabel(r"$\tanh(c_t)$")
            ax.set_xlabel(r"$c_t$")
        else:
            ax.set_ylabel(LABELS[symbol])
            ax.set_xlabel(f"pre-activation of {LABELS[symbol]}")
        ax.set_ylim((-0.05, 1.05) if kind == "sigmoid" else (-1.1, 1.1))
        ax.legend(loc="lower right", fontsize="x-small", framealpha=0.85)
        ax.tick_params(labelsize=_SMALL)
        self._xmax = None
        self.update(pre)

    def update(self, pre):
        """Move the markers to new pre-activation values (any shape; None clears them)."""
        if pre is None:
            a = np.zeros(0)
        else:
            a = np.asarray(pre, dtype=float).ravel()
            if not np.all(np.isfinite(a)):
                raise ValueError("pre must hold finite pre-activation values")
        xmax = 6.0 if a.size == 0 else max(6.0, 1.08 * float(np.max(np.abs(a))))
        if xmax != self._xmax:
            grid = np.linspace(-xmax, xmax, 241)
            self.curve.set_data(grid, self._f(grid))
            self.ax.set_xlim(-xmax, xmax)
            self._xmax = xmax
        self.markers.set_data(a, self._f(a))
        self.n = a.size
        return self

    def __repr__(self):
        sym = f", symbol={self.symbol}" if self.symbol else ""
        return f"ActivationPlot(kind={self.kind}{sym}, n={self.n})"


def plot_activation(kind="sigmoid", pre=None, ax=None, symbol=None):
    """The sigmoid or tanh curve with pre-activation values marked on it.

    Shaded: the saturated regions (slope below 10% of its maximum: the gate is shut or
    wide open and barely moves) in grey, the near-linear middle in pale blue. A dotted
    line marks half open (sigmoid 0.5, tanh 0).

    Parameters
    ----------
    kind : 'sigmoid' or 'tanh'
    pre : array of pre-activations to mark (any shape), e.g. ``trace.preacts['f'][:, 0]``
    ax : Axes to draw into (a fresh Figure if None)
    symbol : the symbol the values belong to ('f', 'i', 'g', 'o', 'r', 'z', 'c', 'h'): colours
        the markers and labels the axes

    Examples
    --------
    >>> from lstm_lab import plots
    >>> p = plots.plot_activation('sigmoid', pre=[-5.0, 0.0, 2.0], symbol='f')
    >>> p
    ActivationPlot(kind=sigmoid, symbol=f, n=3)
    >>> [round(float(v), 3) for v in p.markers.get_ydata()]
    [0.007, 0.5, 0.881]
    """
    return ActivationPlot(kind, pre, ax, symbol)


# --------------------------------------------------------------------------- the conveyor belt

def _bar_verts(t, heights, left, right):
    return [((tt + left, 0.0), (tt + left, v), (tt + right, v), (tt + right, 0.0))
            for tt, v in zip(t, heights, strict=True)]


class ConveyorPlot(_PlotBase):
    """The cell state c_t and what each step removed and added; see :func:`plot_conveyor`.

    Attributes: ``.figure``, ``.ax``, ``.lines`` ('c' -> c_t line, 'c0' -> the connector from
    c_0 at t = 0), ``.removed`` and ``.added`` (PolyCollections, one bar per step),
    ``.removed_values`` and ``.added_values`` (the bar heights, (T,) arrays).
    """

    def __init__(self, trace, unit, batch, ax):
        _check_trace(trace)
        _check_ax(ax)
        self._check_kind(trace)
        _check_index(trace, batch, unit)
        self.unit, self.batch = unit, batch
        ax = self._use_ax(ax, (6.4, 2.8))
        ax.axhline(0, color="0.75", lw=0.8, zorder=0)
        self.removed = PolyCollection([], facecolors=COLORS["f"], edgecolors="none", alpha=0.75,
                                      zorder=1)
        self.added = PolyCollection([], facecolors=COLORS["i"], edgecolors="none", alpha=0.75,
                                    zorder=1)
        ax.add_collection(self.removed)
        ax.add_collection(self.added)
        (c0_line,) = ax.plot([], [], color=COLORS["c"], lw=1.5, ls=":", marker="o", ms=5,
                             mfc="white", markevery=[0], zorder=2)
        (c_line,) = ax.plot([], [], color=COLORS["c"], lw=2.2, marker="o", ms=3.5, zorder=3,
                            label=LABELS["c"])
        self.lines = {"c": c_line, "c0": c0_line}
        handles = [c_line,
                   Patch(color=COLORS["f"], alpha=0.75, label=r"removed: $-(1-f_t)\,c_{t-1}$"),
                   Patch(color=COLORS["i"], alpha=0.75, label=r"added: $i_t\,g_t$")]
        ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), ncols=3,
                  fontsize=_SMALL, frameon=False, handlelength=1.2, borderaxespad=0.1)
        ax.set_xlabel("time step t")
        ax.set_ylabel(f"cell state {LABELS['c']}")
        ax.tick_params(labelsize=_SMALL)
        self.update(trace)

    @staticmethod
    def _check_kind(trace):
        if getattr(trace, "c", None) is None or not all(k in trace.gates for k in "fig"):
            raise ValueError("plot_conveyor needs a trace of the LSTM family (with c, f, i, g); "
                             "RNN and GRU traces have no cell state")

    def update(self, trace):
        """Redraw with a new LSTM-family trace (T may change)."""
        _check_trace(trace)
        self._check_kind(trace)
        batched = _check_index(trace, self.batch, self.unit)
        b, u = self.batch, self.unit
        c = _series(trace.c, batched, b, u)
        f = _series(trace.gates["f"], batched, b, u)
        i = _series(trace.gates["i"], batched, b, u)
        g = _series(trace.gates["g"], batched, b, u)
        c0 = float(_vector(trace.c0, batched, b)[u])
        c_prev = np.concatenate([[c0], c[:-1]])
        T = c.shape[0]
        t = np.arange(1, T + 1)
        self.removed_values = -(1.0 - f) * c_prev
        self.added_values = i * g
        self.removed.set_verts(_bar_verts(t, self.removed_values, -0.38, -0.02))
        self.added.set_verts(_bar_verts(t, self.added_values, 0.02, 0.38))
        self.lines["c"].set_data(t, c)
        self.lines["c0"].set_data([0.0, 1.0], [c0, c[0]] if T else [c0, c0])
        marker, ms = _markers_for(T)
        self.lines["c"].set_marker(marker)
        lo, hi = _data_limits(np.concatenate([c, [c0, 0.0], self.removed_values,
                                              self.added_values]))
        self.ax.set_ylim(lo, hi)
        self.ax.set_xlim(-0.5, T + 0.5)
        self.T = T
        return self

    def __repr__(self):
        return f"ConveyorPlot(unit={self.unit}, T={self.T})"


def plot_conveyor(trace, unit=0, batch=0, ax=None):
    """The cell state as a conveyor belt: c_t over time, and at every step the bars of
    what the forget gate removed, -(1 - f_t) * c_{t-1}, and what the input gate added,
    i_t * g_t. The two bars sum to the change c_t - c_{t-1}. The dotted start is c_0 at
    t = 0 (``trace.c0``).

    Parameters
    ----------
    trace : an LSTM-family trace (lstm, peephole, coupled)
    unit, batch : which unit, which sequence of a batch
    ax : Axes to draw into (a fresh Figure if None)

    Examples
    --------
    >>> import numpy as np, lstm_lab as ll
    >>> from lstm_lab import plots
    >>> trace = ll.LSTMCell(input_size=1, hidden_size=1, seed=0).forward(np.ones((6, 1)))
    >>> p = plots.plot_conveyor(trace)
    >>> p
    ConveyorPlot(unit=0, T=6)
    >>> c_prev = np.concatenate([trace.c0, trace.c[:-1, 0]])
    >>> bool(np.allclose(c_prev + p.removed_values + p.added_values, trace.c[:, 0]))
    True
    """
    return ConveyorPlot(trace, unit, batch, ax)


# --------------------------------------------------------------------------- gradient norms

def _positive(a):
    a = np.asarray(a, dtype=float)
    if a.ndim != 1:
        raise ValueError("each curve must be a 1-D array of norms indexed by k; "
                         f"got shape {a.shape}")
    return np.where(np.isfinite(a) & (a > 0), a, np.nan)


class GradientNormPlot(_PlotBase):
    """Gradient norms against distance back in time, on a log axis; see :func:`plot_gradient_norms`.

    Attributes: ``.figure``, ``.ax``, ``.lines`` (name -> Line2D).
    """

    def __init__(self, curves, ax, ylabel, colors):
        _check_ax(ax)
        ax = self._use_ax(ax, (5.2, 3.0))
        self._colors = dict(colors or {})
        self.lines = {}
        ax.set_yscale("log")
        ax.set_xlabel(r"distance back in time $k$")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", color="0.9", lw=0.8)
        ax.tick_params(labelsize=_SMALL)
        self._legend = None
        self.update(curves)

    def _color_for(self, name):
        if name in self._colors:
            return self._colors[name]
        if name in CELL_COLORS:
            return CELL_COLORS[name]
        used = {ln.get_color() for ln in self.lines.values()}
        for c in _EXTRA_COLORS:
            if c not in used:
                return c
        return _EXTRA_COLORS[len(self.lines) % len(_EXTRA_COLORS)]

    def update(self, curves):
        """Show new curves; same names keep their lines, new names get new ones."""
        if not isinstance(curves, Mapping) or not curves:
            raise TypeError("curves must be a non-empty dict name -> 1-D array of norms")
        data = {str(k): _positive(v) for k, v in curves.items()}
        changed = set(data) != set(self.lines)
        for name in list(self.lines):
            if name not in data:
                self.lines.pop(name).remove()
        for name, y in data.items():
            k = np.arange(y.shape[0])
            if name in self.lines:
                self.lines[name].set_data(k, y)
            else:
                (self.lines[name],) = self.ax.plot(k, y, lw=2.0, color=self._color_for(name),
                                                   label=name)
        if changed:
            if self._legend is not None:
                self._legend.remove()
            self._legend = self.ax.legend(fontsize=_SMALL, framealpha=0.85)
        allv = np.concatenate([y for y in data.values()])
        allv = allv[np.isfinite(allv)]
        if allv.size:
            # whole decades, with room above and below the data
            lo = 10.0 ** np.floor(np.log10(allv.min()) - 0.15)
            hi = 10.0 ** np.ceil(np.log10(allv.max()) + 0.15)
            self.ax.set_ylim(lo, hi)
        kmax = max(y.shape[0] for y in data.values())
        self.ax.set_xlim(-0.5, max(kmax - 0.5, 0.5))
        return self

    def __repr__(self):
        return f"GradientNormPlot(curves={','.join(self.lines)})"


def plot_gradient_norms(curves, ax=None, *, ylabel="gradient norm", colors=None):
    """Gradient norm against distance back in time k (log scale), several curves at once.

    Parameters
    ----------
    curves : dict name -> 1-D array of norms, index k = 0..T-1 (distance back in time);
        zeros and non-finite values are left out (a log axis cannot show them)
    ax : Axes to draw into (a fresh Figure if None)
    ylabel : the y-axis label, e.g. r"$\\|\\partial h_T / \\partial h_{T-k}\\|$"
    colors : optional dict name -> colour; cell names ('rnn', 'lstm', 'gru', 'peephole',
        'coupled') get ``CELL_COLORS`` by default

    Examples
    --------
    >>> import numpy as np
    >>> from lstm_lab import plots
    >>> k = np.arange(20)
    >>> p = plots.plot_gradient_norms({'rnn': 0.5 ** k, 'lstm': 0.95 ** k})
    >>> p
    GradientNormPlot(curves=rnn,lstm)
    >>> p.lines['rnn'].get_color() == plots.CELL_COLORS['rnn']
    True
    """
    return GradientNormPlot(curves, ax, ylabel, colors)


# --------------------------------------------------------------------------- coloured text

_NEWLINE_GLYPH = "\u21b5"  # the return arrow, drawn where a line ends with '\n'
_glyph_cache = {}


def _has_glyph(ch):
    """Whether the monospace font matplotlib uses can draw ``ch`` (no missing-glyph warning)."""
    if ch not in _glyph_cache:
        from matplotlib import font_manager, ft2font

        path = font_manager.findfont(font_manager.FontProperties(family="monospace"))
        font = _glyph_cache.setdefault(None, ft2font.FT2Font(path))
        _glyph_cache[ch] = ch.isprintable() and font.get_char_index(ord(ch)) != 0
    return _glyph_cache[ch]


def _check_text(text, values):
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    v = np.asarray(values, dtype=float)
    if v.shape != (len(text),):
        raise ValueError(f"values must have shape (len(text),) = ({len(text)},), one per "
                         f"character; got {v.shape}")
    if np.any(np.isinf(v)):
        raise ValueError("values must be finite (NaN means 'no value' and is left uncoloured)")
    return v


def _layout(text, width):
    """Rows of character indices: break after '\\n' and after ``width`` characters."""
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive int; got {width!r}")
    rows, row = [], []
    for k, ch in enumerate(text):
        row.append(k)
        if ch == "\n" or len(row) == width:
            rows.append(row)
            row = []
    if row or not rows:
        rows.append(row)
    return rows


def _shown_char(ch):
    if ch == "\n":
        return _NEWLINE_GLYPH
    if ch in " \t\r":
        return ""
    return ch if _has_glyph(ch) else "?"


class TextPlot(_PlotBase):
    """Text drawn character by character on coloured cells; see :func:`plot_text_colored`.

    Attributes: ``.figure``, ``.ax``, ``.image`` (AxesImage of the cell colours, NaN where
    there is no character), ``.texts`` (one Text per character, in order), ``.rows``.
    """

    def __init__(self, text, values, ax, cmap, vmin, vmax, width, fontsize):
        v = _check_text(text, values)
        _check_ax(ax)
        self.text, self.width, self.fontsize = text, width, fontsize
        self.rows = _layout(text, width)
        ncols = max((len(r) for r in self.rows), default=1) or 1
        if ax is None:
            fig = _fresh_figure((0.3 + 0.105 * ncols * fontsize / 9, 0.2 + 0.21 * len(self.rows)
                                 * fontsize / 9), layout=None)
            ax = fig.add_axes((0.01, 0.01, 0.98, 0.98))
            self._owns_figure = True
        self.ax = ax
        self.figure = _root_figure(ax)
        self.norm = Normalize(vmin=vmin, vmax=vmax)
        self.cmap = colormaps[cmap] if isinstance(cmap, str) else cmap
        self._ncols = ncols
        self.image = ax.imshow(self._grid(v), cmap=self.cmap, norm=self.norm, aspect="auto",
                               interpolation="nearest", extent=(-0.5, ncols - 0.5,
                                                                len(self.rows) - 0.5, -0.5))
        self.texts = []
        for r, row in enumerate(self.rows):
            for c, k in enumerate(row):
                self.texts.append(ax.text(c, r, _shown_char(text[k]), ha="center", va="center",
                                          family="monospace", fontsize=fontsize))
        self._color_texts(v)
        ax.set_xlim(-0.5, ncols - 0.5)
        ax.set_ylim(len(self.rows) - 0.5, -0.5)
        ax.set_axis_off()

    def _grid(self, v):
        grid = np.full((len(self.rows), self._ncols), np.nan)
        for r, row in enumerate(self.rows):
            grid[r, : len(row)] = v[row]
        return grid

    def _color_texts(self, v):
        rgba = self.cmap(self.norm(np.nan_to_num(v, nan=0.5 * (self.norm.vmin + self.norm.vmax))))
        lum = 0.2126 * rgba[:, 0] + 0.7152 * rgba[:, 1] + 0.0722 * rgba[:, 2]
        for t, val, lu in zip(self.texts, v, lum, strict=True):
            t.set_color("white" if np.isfinite(val) and lu < 0.45 else "black")

    def update(self, values, text=None):
        """Recolour with new values (same text), or lay out a new ``text`` with its values."""
        if text is not None and text != self.text:
            for t in self.texts:
                t.remove()
            self.image.remove()
            self.__init__(text, values, self.ax, self.cmap, self.norm.vmin, self.norm.vmax,
                          self.width, self.fontsize)
            return self
        v = _check_text(self.text, values)
        self.image.set_data(self._grid(v))
        self._color_texts(v)
        return self

    def __repr__(self):
        return f"TextPlot(chars={len(self.text)}, rows={len(self.rows)})"


def plot_text_colored(text, values, ax=None, cmap="coolwarm", vmin=-1, vmax=1, *, width=80,
                      fontsize=9):
    """Draw ``text`` character by character, each on a cell coloured by its value.

    Lines break after every '\\n' (drawn as a return arrow, coloured like any character)
    and after ``width`` characters. Characters the monospace font cannot draw show as '?'.

    Parameters
    ----------
    text : str of length N
    values : (N,) array, one value per character (e.g. one unit's h_t); NaN = uncoloured
    ax : Axes to draw into (a fresh Figure sized to the text if None)
    cmap, vmin, vmax : colour map and the value range it spans
    width : characters per line at most
    fontsize : in points

    Examples
    --------
    >>> import numpy as np
    >>> from lstm_lab import plots
    >>> p = plots.plot_text_colored("hello\\nworld", np.linspace(-1, 1, 11), width=4)
    >>> p
    TextPlot(chars=11, rows=4)
    >>> [t.get_text() for t in p.texts][:6]
    ['h', 'e', 'l', 'l', 'o', '↵']
    """
    return TextPlot(text, values, ax, cmap, vmin, vmax, width, fontsize)


def text_html(text, values, cmap="coolwarm", vmin=-1, vmax=1, *, width=None):
    """The same colouring as HTML for a notebook: one ``<span>`` per character.

    Characters are HTML-escaped; each span's tooltip shows its value. Lines break at
    '\\n' (shown as a return arrow) and, if ``width`` is given, after ``width`` characters.

    Examples
    --------
    >>> from lstm_lab import plots
    >>> print(plots.text_html("a<b", [0.0, 1.0, -1.0]))  # doctest: +ELLIPSIS
    <div style="font-family: monospace; ...">...&lt;</span>...</div>
    >>> from IPython.display import HTML  # doctest: +SKIP
    >>> HTML(plots.text_html("hello", [0, .2, .4, .6, .8]))  # doctest: +SKIP
    """
    v = _check_text(text, values)
    if width is not None:
        _layout("", width)  # validates width
    cm = colormaps[cmap] if isinstance(cmap, str) else cmap
    norm = Normalize(vmin=vmin, vmax=vmax)
    parts = ['<div style="font-family: monospace; white-space: pre; line-height: 1.6; '
             'font-size: 13px;">']
    col = 0
    for ch, val in zip(text, v, strict=True):
        if np.isfinite(val):
            rgba = cm(norm(val))
            lum = 0.2126 * rgba[0] + 0.7152 * rgba[1] + 0.0722 * rgba[2]
            fg = "#ffffff" if lum < 0.45 else "#000000"
            style = f"background-color: {to_hex(rgba)}; color: {fg};"
            title = f"{val:.3f}"
        else:
            style, title = "", "nan"
        shown = _NEWLINE_GLYPH if ch == "\n" else ("\u00a0" if ch == " " else
                                                   html.escape(ch.replace("\t", " ")))
        parts.append(f'<span style="{style}" title="{title}">{shown}</span>')
        col += 1
        if ch == "\n" or (width is not None and col == width):
            parts.append("<br>")
            col = 0
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------- parameter counts

def _count(name, model):
    if isinstance(model, bool):
        raise TypeError(f"models[{name!r}] must be a cell or an int; got {model!r}")
    if isinstance(model, (int, np.integer)):
        if model < 0:
            raise ValueError(f"models[{name!r}] must be a non-negative count; got {model}")
        return int(model), None
    n = getattr(model, "num_params", None)
    if n is None:
        raise TypeError(f"models[{name!r}] must be a cell (with .num_params) or an int; "
                        f"got {type(model).__name__}")
    return int(n), getattr(model, "kind", None)


class BarsPlot(_PlotBase):
    """Parameter counts as labelled bars; see :func:`plot_param_counts`.

    Attributes: ``.figure``, ``.ax``, ``.bars`` (name -> Rectangle), ``.labels`` (name -> Text),
    ``.counts`` (name -> int).
    """

    def __init__(self, models, ax):
        _check_ax(ax)
        ax = self._use_ax(ax, (5.0, 3.0))
        ax.set_ylabel("number of parameters")
        ax.tick_params(labelsize=_SMALL)
        ax.spines[["top", "right"]].set_visible(False)
        self.bars, self.labels, self.counts = {}, {}, {}
        self._container = None
        self.update(models)

    def update(self, models):
        """New counts: bars of the same names change height in place; other names rebuild."""
        if not isinstance(models, Mapping) or not models:
            raise TypeError("models must be a non-empty dict name -> cell or int")
        parsed = {str(k): _count(k, m) for k, m in models.items()}
        counts = {k: n for k, (n, _) in parsed.items()}
        if list(counts) == list(self.bars):
            for name, n in counts.items():
                self.bars[name].set_height(n)
                self.labels[name].set_text(f"{n:,}")
                self.labels[name].xy = (self.labels[name].xy[0], n)
        else:
            for t in self.labels.values():
                t.remove()
            if self._container is not None:
                self._container.remove()
            names = list(counts)
            colors = []
            for k, (_, kind) in parsed.items():
                base = kind if kind in CELL_COLORS else k
                colors.append(CELL_COLORS.get(base, "0.5"))
            self._container = self.ax.bar(names, [counts[k] for k in names], color=colors,
                                          width=0.6)
            self.bars = dict(zip(names, self._container.patches, strict=True))
            texts = self.ax.bar_label(self._container, labels=[f"{counts[k]:,}" for k in names],
                                      padding=2, fontsize=_SMALL)
            self.labels = dict(zip(names, texts, strict=True))
        self.counts = counts
        top = max(counts.values())
        self.ax.set_ylim(0, max(top, 1) * 1.15)
        return self

    def __repr__(self):
        return "BarsPlot(" + ", ".join(f"{k}={n}" for k, n in self.counts.items()) + ")"


def plot_param_counts(models, ax=None):
    """Bars of parameter counts, each labelled with its exact count.

    Parameters
    ----------
    models : dict name -> cell (its ``num_params`` is used, its ``kind`` picks the colour) or int
    ax : Axes to draw into (a fresh Figure if None)

    Examples
    --------
    >>> from lstm_lab import plots
    >>> p = plots.plot_param_counts({'rnn': 48, 'gru': 144, 'lstm': 192})
    >>> p
    BarsPlot(rnn=48, gru=144, lstm=192)
    >>> p.labels['lstm'].get_text()
    '192'
    """
    return BarsPlot(models, ax)


# --------------------------------------------------------------------------- attention weights

class AttentionPlot(_PlotBase):
    """Attention weights alpha_tj as a heatmap: decoder steps t down, encoder steps j across.

    Attributes: ``.figure``, ``.ax``, ``.image`` (AxesImage), ``.row`` (the rectangle that
    ``highlight`` moves), ``.colorbar``.
    """

    def __init__(self, weights, ax, source, target):
        weights = self._check(weights)
        ax = self._use_ax(ax, (4.2, 3.8))
        self.T, self.S = weights.shape
        self.image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto",
                               interpolation="nearest")
        self.colorbar = ax.figure.colorbar(self.image, ax=ax, pad=0.02)
        self.colorbar.set_label(r"$\alpha_{tj}$")
        self.row = ax.add_patch(_row_patch(0, self.S))
        self.row.set_visible(False)
        self._labels(source, target)
        ax.set_xlabel("encoder step $j$ (source)")
        ax.set_ylabel("decoder step $t$ (output)")

    @staticmethod
    def _check(weights):
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or 0 in weights.shape:
            raise ValueError(f"weights must have shape (T, S); got {weights.shape}")
        if not np.isfinite(weights).all():
            raise ValueError("weights contain NaN or inf")
        return weights

    def _labels(self, source, target):
        for labels, n, axis in ((source, self.S, self.ax.xaxis), (target, self.T, self.ax.yaxis)):
            if labels is not None and len(labels) != n:
                raise ValueError(f"expected {n} labels; got {len(labels)}")
            axis.set_ticks(range(n))
            axis.set_ticklabels([str(v) for v in labels] if labels is not None
                                else [str(k + 1) for k in range(n)], fontsize=_SMALL)

    def update(self, weights, source=None, target=None):
        """Show new weights (the shape may change) and, optionally, new tick labels."""
        weights = self._check(weights)
        self.image.set_data(weights)
        resized = weights.shape != (self.T, self.S)
        if resized:
            self.T, self.S = weights.shape
            self.image.set_extent((-0.5, self.S - 0.5, self.T - 0.5, -0.5))
            self.ax.set_xlim(-0.5, self.S - 0.5)
            self.ax.set_ylim(self.T - 0.5, -0.5)
            self.row.set_width(self.S)
        if resized or source is not None or target is not None:
            self._labels(source, target)
        return self

    def highlight(self, t):
        """Outline decoder step t (1..T, as in the equations); None hides the outline."""
        self.row.set_visible(t is not None)
        if t is not None:
            if not 1 <= t <= self.T:
                raise ValueError(f"t must be in 1..{self.T}; got {t}")
            self.row.set_y(t - 1.5)
        return self

    def __repr__(self):
        return f"AttentionPlot(T={self.T}, S={self.S})"


def _row_patch(t_index, S):
    return Rectangle((-0.5, t_index - 0.5), S, 1.0, fill=False, edgecolor=COLORS.get("o", "C1"),
                     lw=2.0)


def plot_attention(weights, ax=None, source=None, target=None):
    """Heatmap of attention weights (T, S): where each decoder step looks in the source.

    Parameters
    ----------
    weights : alpha, (T, S), each row summing to 1 (e.g. ``AttentionTrace.weights``)
    ax : Axes to draw into (a fresh Figure if None)
    source, target : tick labels for the S encoder steps and the T decoder steps

    Examples
    --------
    >>> import numpy as np
    >>> from lstm_lab import plots
    >>> p = plots.plot_attention(np.eye(3)[::-1], source="abc", target="cba")
    >>> p, p.highlight(2).row.get_y()
    (AttentionPlot(T=3, S=3), 0.5)
    """
    return AttentionPlot(weights, ax, source, target)
