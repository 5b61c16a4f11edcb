"""A recurrent cell drawn like colah's LSTM figures (values on the wires), and the sequence shapes.

Layout (LSTM family): the cell state runs along the top from c_{t-1} to c_t; h_{t-1} enters
at the bottom left, x_t from below, and h_t leaves at the bottom right (and upwards). Layers
with weights (a sigmoid or tanh of W_x x_t + W_h h_{t-1} + b) are coloured boxes; pointwise
operations are circles (x, +, 1-) and the pointwise tanh an ellipse. Colours are
``plots.COLORS``: a gate's box, wire and label share its colour in every plot.

Steps that ``highlight`` brings forward (the rest fades):

========== ======================================================================
kind       steps
========== ======================================================================
lstm,      'forget' (f_t from h_{t-1} and x_t, and the product f_t * c_{t-1}),
peephole,  'input' (i_t and the candidate g_t, and their product i_t * g_t),
coupled    'update' (c_t = f_t * c_{t-1} + i_t * g_t along the cell-state line),
           'output' (o_t, and h_t = o_t * tanh(c_t))
gru        'reset' (r_t and the product r_t * h_{t-1}),
           'update' (the update gate z_t, feeding z_t * h_{t-1} and 1 - z_t),
           'candidate' (g_t = tanh(W_xg x_t + W_hg (r_t * h_{t-1}) + b_g)),
           'output' (h_t = (1 - z_t) * g_t + z_t * h_{t-1} along the top line)
rnn        'hidden' (h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h))
========== ======================================================================

The peephole diagram adds dashed wires from the cell state into the three sigmoids
(c_{t-1} into f and i, c_t into o); the coupled diagram has no forget layer: a "1-" node
makes f_t = 1 - i_t. The GRU's state line along the top carries h itself.

Time steps count as in the equations, t = 1..T: the values shown for step t are
x_t = ``trace.x[t-1]``, h_{t-1} = ``trace.h[t-2]`` (``trace.h0`` at t = 1), c_{t-1} likewise,
and the gates, c_t, h_t from row t - 1.

``draw_shape`` draws the sequence shapes (``SHAPES``: one-to-one to bidirectional) in the same
colours: a box for each copy of the cell, inputs below, outputs above, and on the arrows the
shapes of the arrays the package passes there (``shape_tensors``), in symbols and in numbers.

>>> from lstm_lab import diagram
>>> d = diagram.draw_cell('lstm', highlight='forget')
>>> d
CellDiagram(kind=lstm, highlight=forget)
"""

from __future__ import annotations

import io
import itertools
from contextlib import contextmanager

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from .cells import CELLS
from .cells.base import Cell as _Cell
from .symbols import COLORS, LABELS

__all__ = ["STEPS", "KINDS", "GRU_FORMS", "draw_cell", "show_gru_form", "CellDiagram",
           "draw_unrolled", "UnrolledDiagram", "SHAPES", "SHAPE_TITLES", "Tensor", "shape_tensors",
           "draw_shape", "ShapeDiagram"]

# each cell declares how it is drawn (its `diagram`): the steps below are read from there
STEPS = {kind: cls.diagram.steps for kind, cls in CELLS.items()}
KINDS = tuple(STEPS)

# geometry, in data units
_BOX = (0.0, 0.0, 11.8, 6.2)      # x, y, width, height of the rounded cell box
_TOP, _BOT, _LAYER = 5.4, 1.0, 2.9  # the state line, the input line, the layers' centres
_LW, _LH = 1.0, 0.7                # layer box width and height
_R = 0.28                          # radius of a pointwise node
_LEFT, _RIGHT = -1.2, 12.6        # where the wires enter and leave
_XIN = -0.9                        # where x_t enters from below
_UP = 6.9                          # where h_t leaves upwards

_WIRE = "#4D4D4D"                  # colour of plain wires
_FADED = 0.16
_LABEL_SIZE = 8.5
_MIN_FONT = 6.0                    # points: the smallest label size when scaled down
_XLIM, _YLIM = (-1.45, 15.0), (-1.35, 7.55)
_ASPECT = (_XLIM[1] - _XLIM[0]) / (_YLIM[1] - _YLIM[0])  # width / height of the drawn region
_REF_WIDTH = 6.2                   # inches of drawn width at which sizes are as written

# what the value labels say before values are written
_SYMBOLS = {
    **LABELS, "h_prev": r"$h_{t-1}$", "c_prev": r"$c_{t-1}$",
    "fc": r"$f_t\,c_{t-1}$", "ig": r"$i_t\,g_t$",
}
_HIDDEN_SYMBOLS = ("fc", "ig")  # products shown only with values


def _fmt(v):
    s = f"{v:.2f}"
    return "0.00" if s == "-0.00" else s


class _ShowsItself:
    """A diagram that drew its own figure shows as a PNG in a notebook (one drawn into an ax
    passed in belongs to someone else's figure, which shows itself)."""

    def _repr_png_(self):
        if not self._owns_figure:
            return None
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=90)
        return buf.getvalue()


class CellDiagram(_ShowsItself):
    """A drawn cell whose steps can be highlighted and whose wires show a trace's values.

    Built by :func:`draw_cell`. Attributes: ``.kind``, ``.figure`` (root Figure), ``.ax``,
    ``.steps`` (valid step names), ``.step_artists`` (step -> list of artists of that step),
    ``.absent_artists`` (the parts of the standard cell this variant removed: drawn, always
    faded, in no step),
    ``.symbol_texts`` (name -> Text holding the symbol, mathtext, e.g. '$f_t$'),
    ``.value_texts`` (name -> Text holding the value, plain text, e.g. '=0.73'; empty until
    ``show_values``), ``.current`` (highlighted step or None), ``.scale``.
    Names: 'x', 'h_prev', 'c_prev', the gate letters, 'c', 'h', 'fc' and 'ig' (the products
    f_t c_{t-1} and i_t g_t); ``value_texts['t']`` shows the step, "t = 3".
    """

    def __init__(self, kind, ax=None, scale=None):
        if not isinstance(kind, str):
            raise TypeError(f"kind must be a str, one of {', '.join(KINDS)}; "
                            f"got {type(kind).__name__}")
        if kind not in CELLS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        if ax is not None and not hasattr(ax, "add_patch"):
            raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
        self.kind = kind
        self.spec = CELLS[kind].diagram
        self.steps = self.spec.steps
        self._owns_figure = ax is None
        if ax is None:
            fig = Figure(figsize=(_REF_WIDTH, _REF_WIDTH / _ASPECT))
            FigureCanvasAgg(fig)
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.ax = ax
        try:
            self.figure = ax.get_figure(root=True)
        except TypeError:  # matplotlib < 3.10
            self.figure = ax.figure if isinstance(ax.figure, Figure) else ax.figure.figure
        self.step_artists = {s: [] for s in self.steps}
        self._base = {}       # artist -> (linewidth, zorder), for the artists of the steps
        self._all = []        # every artist drawn, for scaling
        self.absent_artists = []
        self._fading = False  # while True, what is drawn belongs to a removed part
        self.value_texts = {}
        self.symbol_texts = {}
        self.current = None
        self._values_at = None
        ax.set_axis_off()
        ax.set_xlim(*_XLIM)
        ax.set_ylim(*_YLIM)
        ax.set_aspect("equal", adjustable="box")
        x, y, w, h = _BOX
        self._all.append(ax.add_patch(FancyBboxPatch(
            (x, y), w, h, boxstyle="round,pad=0,rounding_size=0.55", facecolor="#F5F5F5",
            edgecolor="#9A9A9A", lw=1.2, zorder=0)))
        builders = {"rnn": self._build_rnn, "gru": self._build_gru, "lstm": self._build_lstm}
        builders[self.spec.layout]()
        # the time step stays readable whatever is highlighted: it is not registered
        self.value_texts["t"] = ax.text(0.15, 6.35, "", fontsize=_LABEL_SIZE, ha="left",
                                        va="bottom", color="#333333", zorder=5)
        self._all.append(self.value_texts["t"])
        if scale is None:
            # text and line sizes are in points: shrink them with the Axes, so that a small
            # diagram (a widget's panel) keeps the proportions of the full-size one
            width_in = min(ax.bbox.width, ax.bbox.height * _ASPECT) / self.figure.dpi
            scale = float(np.clip(width_in / _REF_WIDTH, 0.45, 1.6))
        elif not isinstance(scale, (int, float)) or not 0.1 <= scale <= 5:
            raise ValueError(f"scale must be a number in 0.1..5 or None; got {scale!r}")
        self.scale = float(scale)
        if self.scale != 1.0:
            self._rescale(self.scale)

    # ------------------------------------------------------------------ primitives

    def _rescale(self, s):
        lw_s = s ** 0.7
        # wire labels stay readable in a small panel; text inside boxes and nodes must fit them
        font_s = max(s, _MIN_FONT / _LABEL_SIZE)
        for a in self._all:
            if hasattr(a, "set_fontsize"):
                size = a.get_fontsize()
                a.set_fontsize(size * (font_s if size == _LABEL_SIZE else s))
                continue
            if hasattr(a, "set_mutation_scale"):
                a.set_mutation_scale(a.get_mutation_scale() * s)
            if hasattr(a, "set_markersize"):
                a.set_markersize(a.get_markersize() * s)
                a.set_markeredgewidth(a.get_markeredgewidth() * lw_s)
            a.set_linewidth(a.get_linewidth() * lw_s)
        for a, (lw, z) in list(self._base.items()):
            self._base[a] = (a.get_linewidth() if lw is not None else None, z)

    def _register(self, artist, steps):
        self._all.append(artist)
        if self._fading:  # a removed part: always faded, never highlighted
            artist.set_alpha(_FADED)
            self.absent_artists.append(artist)
            return artist
        for s in steps:
            self.step_artists[s].append(artist)
        lw = artist.get_linewidth() if hasattr(artist, "get_linewidth") else None
        self._base[artist] = (lw, artist.get_zorder())
        return artist

    @contextmanager
    def _removed(self, removed):
        """Draw what follows faded, as a removed part, when `removed` is true."""
        self._fading = bool(removed)
        try:
            yield
        finally:
            self._fading = False

    def _wire(self, pts, steps, color=_WIRE, arrow=True, lw=1.6, ls="-"):
        """A polyline through ``pts``, with an arrowhead at its end if ``arrow``."""
        path = Path(np.asarray(pts, dtype=float))
        patch = FancyArrowPatch(path=path, arrowstyle="-|>" if arrow else "-", mutation_scale=9,
                                color=color, lw=lw, linestyle=ls, joinstyle="miter",
                                capstyle="butt", zorder=2)
        self.ax.add_patch(patch)
        return self._register(patch, steps)

    def _layer(self, cx, label, color, steps, cy=_LAYER):
        """A box for a layer with weights: sigma or tanh of an affine map."""
        box = FancyBboxPatch((cx - _LW / 2, cy - _LH / 2), _LW, _LH,
                             boxstyle="round,pad=0,rounding_size=0.12", facecolor=color,
                             edgecolor="#333333", lw=1.0, zorder=3)
        self.ax.add_patch(box)
        self._register(box, steps)
        txt = self.ax.text(cx, cy, label, ha="center", va="center", color="white",
                           fontsize=11 if label == r"$\sigma$" else 8.5, fontweight="bold",
                           zorder=4)
        self._register(txt, steps)

    def _node(self, cx, cy, label, steps, fontsize=12):
        """A circle for a pointwise operation."""
        c = Circle((cx, cy), _R, facecolor="white", edgecolor="#333333", lw=1.2, zorder=3)
        self.ax.add_patch(c)
        self._register(c, steps)
        if label in ("\u00d7", "+"):  # drawn as a marker: much cheaper to redraw than a glyph
            (mark,) = self.ax.plot([cx], [cy], ls="none", marker="x" if label != "+" else "+",
                                   ms=7.5 if label == "+" else 6, mew=1.3, color="#222222",
                                   zorder=4)
        else:
            mark = self.ax.text(cx, cy, label, ha="center", va="center_baseline",
                                fontsize=fontsize, color="#222222", zorder=4)
        self._register(mark, steps)

    def _oval(self, cx, cy, label, steps):
        """An ellipse for the pointwise tanh."""
        e = Ellipse((cx, cy), 0.95, 0.5, facecolor="white", edgecolor="#333333", lw=1.2, zorder=3)
        self.ax.add_patch(e)
        self._register(e, steps)
        self._register(self.ax.text(cx, cy, label, ha="center", va="center", fontsize=8,
                                    zorder=4), steps)

    def _text(self, key, x, y, steps, color="#222222", ha="left", va="center", symbol=None):
        """A wire's label: its symbol (mathtext, drawn once) and its value (plain text).

        The value sits right after the symbol; for a right-aligned label the symbol sits
        right before the value. Only the plain value text changes on ``show_values``, so a
        redraw never re-parses mathtext. ``va`` ('bottom' or 'center') places the baseline.
        """
        base = y + 0.12 if va == "bottom" else y - 0.09
        kw = dict(fontsize=_LABEL_SIZE, color=color, zorder=5, va="baseline",
                  annotation_clip=False)
        if symbol is None:
            symbol = "" if key in _HIDDEN_SYMBOLS else _SYMBOLS[key]
        if ha == "right":
            value = self.ax.annotate("", (x, base), ha="right", **kw)
            sym = self.ax.annotate(symbol, (0, base), xycoords=(value, "data"), ha="right", **kw)
        else:
            sym = self.ax.annotate(symbol, (x, base), ha=ha, **kw)
            value = self.ax.annotate("", (1, base), xycoords=(sym, "data"), ha="left", **kw)
        self.value_texts[key] = value
        self.symbol_texts[key] = sym
        self._register(sym, steps)
        return self._register(value, steps)

    # ------------------------------------------------------------------ the LSTM family

    def _build_lstm(self):
        spec = self.spec
        coupled, absent = spec.coupled, set(spec.absent)
        xf, xi, xg, xo, xout, xup, xx = 2.4, 4.0, 5.6, 7.5, 9.7, 10.9, 1.2
        y_ig = 4.25
        top = _LAYER + _LH / 2
        bottom = _LAYER - _LH / 2
        inputs = ("forget", "input", "output")
        C, H = COLORS["c"], COLORS["h"]

        # the cell-state line: c_{t-1} -> x (forget) -> + (input) -> c_t
        self._wire([(_LEFT, _TOP), (xf - _R, _TOP)], ("forget", "update"), C, arrow=False, lw=2.6)
        self._wire([(xf + _R, _TOP), (xg - _R, _TOP)], ("update",), C, lw=2.6)
        self._wire([(xg + _R, _TOP), (_RIGHT, _TOP)], ("update", "output"), C, lw=2.6)
        with self._removed("f" in absent):
            self._node(xf, _TOP, "\u00d7", ("forget", "update"))
        self._node(xg, _TOP, "+", ("update",), fontsize=13)
        self._text("c_prev", _LEFT, _TOP + 0.15, ("forget", "update"), ha="left", va="bottom")
        self._text("c", _RIGHT + 0.1, _TOP, ("update", "output"), ha="left", va="center")
        # f_t c_{t-1} ends before the + node, so a long value never runs into it
        self._text("fc", xg - _R - 0.1, _TOP + 0.15, ("update",), ha="right", va="bottom")

        # inputs: h_{t-1} along the bottom, x_t from below, one branch up into each layer
        layers = [(xi, "input", "i"), (xg, "input", "g"), (xo, "output", "o")]
        if not coupled:
            layers.insert(0, (xf, "forget", "f"))
        else:
            layers[0] = (xi, ("forget", "input"), "i")
        self._wire([(_LEFT, _BOT), (xo, _BOT)], inputs, arrow=False)
        self._wire([(xx, _XIN), (xx, _BOT)], inputs, COLORS["x"], arrow=False)
        self._text("h_prev", _LEFT, _BOT + 0.15, inputs, ha="left", va="bottom")
        self._text("x", xx + 0.12, _XIN + 0.05, inputs, ha="left", va="bottom")
        for cx, steps, letter in layers:
            steps = (steps,) if isinstance(steps, str) else steps
            with self._removed(letter in absent):
                self._wire([(cx, _BOT), (cx, bottom)], steps)

        # forget gate (or, coupled, 1 - i_t)
        if not coupled:
            with self._removed("f" in absent):
                self._layer(xf, r"$\sigma$", COLORS["f"], ("forget",))
                self._wire([(xf, top), (xf, _TOP - _R)], ("forget", "update"), COLORS["f"])
                self._text("f", xf - 0.12, 4.1, ("forget",), color=COLORS["f"], ha="right",
                           va="center")
        else:
            self._node(xf, y_ig, "1\u2212", ("forget",), fontsize=8)
            self._wire([(xi, y_ig), (xf + _R, y_ig)], ("forget",), COLORS["i"])
            self._wire([(xf, y_ig + _R), (xf, _TOP - _R)], ("forget", "update"), COLORS["f"])
            self._text("f", xf - 0.12, 4.85, ("forget",), color=COLORS["f"], ha="right",
                       va="center")

        # input gate and candidate, multiplied, added to the cell state
        i_steps = ("forget", "input") if coupled else ("input",)
        with self._removed("i" in absent):
            self._layer(xi, r"$\sigma$", COLORS["i"], i_steps)
            self._wire([(xi, top), (xi, y_ig), (xg - _R, y_ig)], i_steps, COLORS["i"])
            self._node(xg, y_ig, "\u00d7", ("input", "update"))
            # left of its wire, a row below f_t's label so that the two never meet
            self._text("i", xi - 0.08, 3.55, i_steps, color=COLORS["i"], ha="right", va="center")
        self._layer(xg, "lin" if "g" in spec.linear else "tanh", COLORS["g"], ("input",))
        self._wire([(xg, top), (xg, y_ig - _R)], ("input",), COLORS["g"])
        self._wire([(xg, y_ig + _R), (xg, _TOP - _R)], ("input", "update"))
        self._text("g", xg + 0.12, 3.6, ("input",), color=COLORS["g"], ha="left", va="center")
        self._text("ig", xg + 0.2, 4.83, ("update",), ha="left", va="center")

        # output gate and h_t = o_t * tanh(c_t)
        with self._removed("o" in absent):
            self._layer(xo, r"$\sigma$", COLORS["o"], ("output",))
            self._wire([(xo + _LW / 2, _LAYER), (xout - _R, _LAYER)], ("output",), COLORS["o"])
            # above the box's corner: beside the wire a long value would reach the x node
            self._text("o", xo + _LW / 2 + 0.08, top, ("output",), color=COLORS["o"],
                       ha="left", va="bottom")
        y_tanh = 4.35
        self._wire([(xout, _TOP), (xout, y_tanh + 0.25)], ("output",), C)
        with self._removed("c" in spec.linear):
            self._oval(xout, y_tanh, "tanh", ("output",))
        self._wire([(xout, y_tanh - 0.25), (xout, _LAYER + _R)], ("output",))
        with self._removed("o" in absent):
            self._node(xout, _LAYER, "\u00d7", ("output",))
        self._wire([(xout, _LAYER - _R), (xout, _BOT), (_RIGHT, _BOT)], ("output",), H, lw=2.0)
        # h_t also leaves upwards (to the next layer); it passes under the cell-state line
        self._wire([(xup, _BOT), (xup, _TOP - 0.22)], ("output",), H, arrow=False, lw=2.0)
        self._wire([(xup, _TOP + 0.22), (xup, _UP)], ("output",), H, lw=2.0)
        self._text("h", _RIGHT + 0.1, _BOT, ("output",), ha="left", va="center")
        up = self.ax.text(xup + 0.12, _UP, r"$h_t$", fontsize=_LABEL_SIZE, ha="left", va="top",
                          zorder=5)
        self._register(up, ("output",))

        # diagonal peepholes: c_{t-1} into f and i, c_t into o (dashed)
        P = dict(color=C, arrow=True, lw=1.1, ls=(0, (3, 2)))
        xp, yp = 0.5, 3.5
        if "f" in spec.peephole:
            self._wire([(xp, _TOP), (xp, yp), (xf - 0.3, yp), (xf - 0.3, top)], ("forget",), **P)
        if "i" in spec.peephole:
            self._wire([(xp, _TOP), (xp, yp), (xi + 0.25, yp), (xi + 0.25, top)], ("input",), **P)
        if "o" in spec.peephole:
            self._wire([(xo - 0.25, _TOP), (xo - 0.25, top)], ("output",), **P)

    # ------------------------------------------------------------------ GRU

    def _build_gru(self):
        xdrop, xx, xr, xz, x1, xg, xmix, xup = 0.8, 1.3, 2.6, 4.4, 6.0, 7.5, 9.3, 10.9
        y_r, y_mix, y_xg = 4.0, 4.5, 0.5
        yl = 2.6  # the GRU's layers sit lower, to leave room for r_t * h_{t-1} above them
        top = yl + _LH / 2
        bottom = yl - _LH / 2
        H = COLORS["h"]
        # the steps of the four roles, and the letters of the reset and update slots (an update
        # letter of None: the update slot is 1 minus the reset slot's gate, as in the MGU)
        reset, update, candidate, output = self.steps
        R, Z = self.spec.gates
        gates = (reset, update)

        # the state line: h_{t-1} -> x (z_t) -> + -> h_t
        self._wire([(_LEFT, _TOP), (xz - _R, _TOP)], (reset, update, output), H,
                   arrow=False, lw=2.6)
        self._node(xz, _TOP, "\u00d7", (update, output))
        self._wire([(xz + _R, _TOP), (xmix - _R, _TOP)], (output,), H, lw=2.6)
        self._node(xmix, _TOP, "+", (output,), fontsize=13)
        self._wire([(xmix + _R, _TOP), (_RIGHT, _TOP)], (output,), H, lw=2.6)
        self._wire([(xup, _TOP), (xup, _UP)], (output,), H, lw=2.0)
        self._text("h_prev", _LEFT, _TOP + 0.15, (reset, update, output), ha="left",
                   va="bottom")
        self._text("h", _RIGHT + 0.1, _TOP, (output,), ha="left", va="center")
        up = self.ax.text(xup + 0.12, _UP, r"$h_t$", fontsize=_LABEL_SIZE, ha="left", va="top",
                          zorder=5)
        self._register(up, (output,))

        # inputs: h_{t-1} down the left side, x_t from below; both into the gate layers
        if Z is None:
            self._wire([(xdrop, _TOP), (xdrop, _BOT), (xr, _BOT), (xr, bottom)], gates)
        else:
            self._wire([(xdrop, _TOP), (xdrop, _BOT), (xz, _BOT), (xz, bottom)], gates)
            self._wire([(xr, _BOT), (xr, bottom)], (reset,))
        self._wire([(xx, _XIN), (xx, _BOT)], gates + (candidate,), COLORS["x"], arrow=False)
        self._wire([(xx, y_xg), (xg, y_xg), (xg, bottom)], (candidate,), COLORS["x"])
        self._text("x", xx + 0.12, _XIN + 0.05, gates + (candidate,), ha="left", va="bottom")

        # reset gate: r_t * h_{t-1} feeds the candidate
        self._layer(xr, r"$\sigma$", COLORS[R], (reset,), cy=yl)
        self._wire([(xr, top), (xr, y_r - _R)], (reset,), COLORS[R])
        self._wire([(xr, _TOP), (xr, y_r + _R)], (reset,), H)
        self._node(xr, y_r, "\u00d7", (reset, candidate))
        self._text(R, xr - 0.12, 3.35, (reset,), color=COLORS[R], ha="right", va="center")
        # r_t * h_{t-1} to the candidate; it hops over z_t's wire
        self._wire([(xr + _R, y_r), (xz - 0.18, y_r)], (reset, candidate), arrow=False)
        self._wire([(xz + 0.18, y_r), (xg - 0.3, y_r), (xg - 0.3, top)], (reset, candidate))

        # update gate: z_t * h_{t-1} on the state line, 1 - z_t for the candidate
        if Z is None:  # z_t = 1 - (the reset slot's gate)
            self._wire([(xr + _LW / 2, yl), (xz - _R, yl)], (update,), COLORS[R])
            self._node(xz, yl, "1\u2212", (update,), fontsize=8)
            self._wire([(xz, yl + _R), (xz, _TOP - _R)], (update,), COLORS["z"])
            self._text("z", xz - 0.12, 3.35, (update,), color=COLORS["z"], ha="right",
                       va="center", symbol=f"$1-{LABELS[R][1:-1]}$")
        else:
            self._layer(xz, r"$\sigma$", COLORS[Z], (update,), cy=yl)
            self._wire([(xz, top), (xz, _TOP - _R)], (update,), COLORS[Z])
            self._text(Z, xz - 0.12, 3.35, (update,), color=COLORS[Z], ha="right", va="center")
        self._wire([(xz, y_mix), (x1 - _R, y_mix)], (update,), COLORS["z"])
        self._node(x1, y_mix, "1\u2212", (update, output), fontsize=8)
        self._wire([(x1 + _R, y_mix), (xmix - _R, y_mix)], (output,))

        # candidate and the mix (1 - z_t) * g_t + z_t * h_{t-1}
        self._layer(xg, "tanh", COLORS["g"], (candidate,), cy=yl)
        self._wire([(xg + _LW / 2, yl), (xmix, yl), (xmix, y_mix - _R)],
                   (candidate, output), COLORS["g"])
        self._text("g", xg + _LW / 2 + 0.08, yl + 0.12, (candidate,), color=COLORS["g"],
                   ha="left", va="bottom")
        self._node(xmix, y_mix, "\u00d7", (output,))
        self._wire([(xmix, y_mix + _R), (xmix, _TOP - _R)], (output,))

    # ------------------------------------------------------------------ vanilla RNN

    def _build_rnn(self):
        xx, xl, xout = 2.5, 5.8, 9.5
        y_out = 4.4
        steps = ("hidden",)
        H = COLORS["h"]
        self._wire([(_LEFT, _BOT), (xl, _BOT), (xl, _LAYER - _LH / 2)], steps)
        eq = self.ax.text(_BOX[2] / 2, 5.45, r"$h_t = \tanh(W_{xh}\,x_t + W_{hh}\,h_{t-1} + b_h)$",
                          ha="center", va="center", fontsize=9, color="#333333", zorder=5)
        self._register(eq, steps)
        self._wire([(xx, _XIN), (xx, _BOT)], steps, COLORS["x"], arrow=False)
        self._layer(xl, "tanh", H, steps)
        self._wire([(xl, _LAYER + _LH / 2), (xl, y_out), (xout, y_out), (xout, _BOT),
                    (_RIGHT, _BOT)], steps, H, lw=2.0)
        self._wire([(xout, y_out), (xout, _UP)], steps, H, lw=2.0)
        self._text("h_prev", _LEFT, _BOT + 0.15, steps, ha="left", va="bottom")
        self._text("x", xx + 0.12, _XIN + 0.05, steps, ha="left", va="bottom")
        self._text("h", _RIGHT + 0.1, _BOT, steps, ha="left", va="center")
        up = self.ax.text(xout + 0.12, _UP, r"$h_t$", fontsize=_LABEL_SIZE, ha="left", va="top",
                          zorder=5)
        self._register(up, steps)

    # ------------------------------------------------------------------ public

    def highlight(self, step):
        """Bring ``step``'s artists forward (full colour, thicker) and fade the rest; None
        shows everything normally. Changes the artists in place; returns self."""
        if step is not None and step not in self.step_artists:
            raise ValueError(f"step must be one of {', '.join(self.steps)} (kind {self.kind!r}) "
                             f"or None; got {step!r}")
        on = set(self.step_artists[step]) if step is not None else set(self._base)
        for artist, (lw, z) in self._base.items():
            lit = artist in on
            artist.set_alpha(1.0 if lit else _FADED)
            if lw is not None:
                artist.set_linewidth(lw * 1.6 if lit and step is not None else lw)
            artist.set_zorder(z + 10 if lit and step is not None else z)
        self.current = step
        return self

    def show_values(self, trace, t, batch=0, unit=0):
        """Write step ``t``'s values (t = 1..T) of one unit next to the wires, in place.

        Parameters
        ----------
        trace : a trace of this kind of cell (``cell.forward(x)``)
        t : the time step, 1..T: x_t = trace.x[t-1], h_{t-1} = trace.h[t-2] (trace.h0 at t = 1)
        batch : which sequence of a batched trace
        unit : which hidden unit (x_t shows its first components when D > 1)
        """
        for name in ("h", "x", "gates"):
            if not hasattr(trace, name):
                raise TypeError("trace must be what cell.forward(x) returns; "
                                f"got {type(trace).__name__}")
        tkind = getattr(trace, "kind", None)
        if tkind is not None and tkind != self.kind:
            raise ValueError(f"this diagram draws a {self.kind!r} cell; the trace is {tkind!r}")
        h = np.asarray(trace.h)
        T, H = h.shape[0], h.shape[-1]
        batched = h.ndim == 3
        for name, val in (("t", t), ("batch", batch), ("unit", unit)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
                raise TypeError(f"{name} must be an int; got {val!r}")
        if not 1 <= t <= T:
            raise ValueError(f"t must be a time step in 1..T (T={T}); got {t}")
        if not 0 <= unit < H:
            raise ValueError(f"unit must be in 0..{H - 1} (H={H}); got {unit}")
        if batched and not 0 <= batch < h.shape[1]:
            raise ValueError(f"batch must be in 0..{h.shape[1] - 1}; got {batch}")
        if not batched and batch != 0:
            raise ValueError(f"batch must be 0 for a trace of one sequence; got {batch}")

        def row(arr, k):  # one unit's value at trace row k (k = -1: the initial state)
            a = np.asarray(arr)
            a = a[:, batch] if batched else a
            return float(a[k, unit])

        def init(arr):
            a = np.asarray(arr)
            return float((a[batch] if batched else a)[unit])

        r = t - 1
        vals = {"h": row(trace.h, r),
                "h_prev": row(trace.h, r - 1) if r else init(trace.h0)}
        for k, v in trace.gates.items():
            vals[k] = row(v, r)
        if trace.c is not None:
            vals["c"] = row(trace.c, r)
            vals["c_prev"] = row(trace.c, r - 1) if r else init(trace.c0)
        x = np.asarray(trace.x)
        x = x[r, batch] if batched else x[r]
        xs = ", ".join(_fmt(float(v)) for v in x[:3]) + (", \u2026" if x.shape[0] > 3 else "")
        R, Z = self.spec.gates
        if self.spec.layout == "gru" and Z is None:  # the update slot shows 1 - (reset gate)
            vals["z"] = 1.0 - vals[R]
        if "c_prev" in vals:  # a removed gate is 1
            vals["fc"] = vals.get("f", 1.0) * vals["c_prev"]
            vals["ig"] = vals.get("i", 1.0) * vals["g"]
        for key, text in self.value_texts.items():
            if key == "x":
                text.set_text(f"={xs}" if x.shape[0] == 1 else f"=({xs})")
            elif key == "t":
                text.set_text(f"t = {t}")
            elif key in vals:
                text.set_text(f"={_fmt(vals[key])}")
        for key in _HIDDEN_SYMBOLS:
            if key in self.symbol_texts:
                self.symbol_texts[key].set_text(_SYMBOLS[key])
        self._values_at = t
        return self

    def clear_values(self):
        """Back to the bare symbols on the wires."""
        for text in self.value_texts.values():
            text.set_text("")
        for key in _HIDDEN_SYMBOLS:
            if key in self.symbol_texts:
                self.symbol_texts[key].set_text("")
        self._values_at = None
        return self

    def __repr__(self):
        at = "" if self._values_at is None else f", t={self._values_at}"
        return f"CellDiagram(kind={self.kind}, highlight={self.current}{at})"


def draw_cell(kind="lstm", highlight=None, trace=None, t=None, batch=0, unit=0, ax=None, *,
              scale=None):
    """Draw a recurrent cell as a diagram; optionally highlight one step and write values.

    Parameters
    ----------
    kind : 'lstm', 'peephole', 'coupled', 'gru' or 'rnn'
    highlight : a step of that kind (see ``STEPS`` and the module docstring) or None
    trace : optional trace of that kind; its values at step ``t`` are written on the wires
    t : time step 1..T for the values (1 if a trace is given without t)
    batch, unit : which sequence of a batch, which hidden unit
    ax : Axes to draw into (a fresh small Figure if None); the Axes is given equal aspect
        and no frame, so give the diagram an Axes of its own
    scale : factor for text sizes and line widths; None sizes them to the Axes (1.0 at a
        drawn width of 6.2 inches), so a small panel looks like a shrunken full-size diagram

    Returns
    -------
    CellDiagram with ``.highlight(step)``, ``.show_values(trace, t)``, ``.step_artists``,
    ``.value_texts``, ``.figure``, ``.ax``.

    Examples
    --------
    >>> import numpy as np, lstm_lab as ll
    >>> from lstm_lab import diagram
    >>> trace = ll.LSTMCell(input_size=1, hidden_size=1, seed=0).forward(np.ones((4, 1)))
    >>> d = diagram.draw_cell('lstm', highlight='update', trace=trace, t=2)
    >>> d
    CellDiagram(kind=lstm, highlight=update, t=2)
    >>> d.symbol_texts['f'].get_text(), d.value_texts['f'].get_text()
    ('$f_t$', '=0.77')
    >>> d.value_texts['f'].get_text() == f"={trace.gates['f'][1, 0]:.2f}"
    True
    >>> d.highlight('sideways')
    Traceback (most recent call last):
    ...
    ValueError: step must be one of forget, input, update, output (kind 'lstm') or None; ...
    """
    d = CellDiagram(kind, ax, scale=scale)
    if highlight is not None:
        d.highlight(highlight)
    if trace is not None:
        d.show_values(trace, 1 if t is None else t, batch=batch, unit=unit)
    elif t is not None:
        raise ValueError("t was given without a trace to read the values from")
    return d



# ---------------------------------------------------------------------- the unrolled chain

# geometry of the chain, in data units: step t's box is centred at (t, 0); gap k (k = 0..T)
# lies between box k and box k + 1 and carries h_k forwards (and dL/dh_k backwards)
_CBW, _CBH = 0.5, 0.8          # box width and height
_CH_Y, _CC_Y = -0.15, 0.22     # the recurrent h arrows and the LSTM's cell-state line
_CUP = (0.4, 0.95)             # h_t leaves upwards between these heights
_CX = (-1.25, -0.4)            # x_t enters from below between these heights
_CG_Y = -0.7                   # the backward (gradient) arrows, under the chain
_CYLIM = (-1.8, 1.45)
_CGRAD_LW = (0.3, 6.0)         # gradient arrow width at norm 0 and at (or above) the reference
_CMAP = "RdBu_r"               # h_t colours its box, -1 blue .. +1 red (plots.plot_heatmap's map)
_CHAR_W = 0.64                 # a digit's width in em (DejaVu Sans): for the numbers' spacing
_CGREY = "#444444"


def _fmt_grad(v):
    """A gradient norm in at most five characters: 0, 0.37, 12, 3e-5."""
    if v == 0:
        return "0"
    if v >= 9.5:
        return f"{v:.0f}" if v < 1e5 else f"{v:.0e}".replace("e+0", "e").replace("e+", "e")
    if v >= 0.095:
        return f"{v:.2f}"
    m, e = f"{v:.0e}".split("e")
    return f"{m}e{int(e)}"


def _segments(pairs):
    """x and y of line segments ((x0, y0), (x1, y1)) joined by NaN gaps: one Line2D for all."""
    xs, ys = [], []
    for (x0, y0), (x1, y1) in pairs:
        xs += [x0, x1, np.nan]
        ys += [y0, y1, np.nan]
    return xs[:-1], ys[:-1]


class UnrolledDiagram(_ShowsItself):
    """An RNN, LSTM or GRU unrolled over T steps: one box per step, values written on it.

    Built by :func:`draw_unrolled`. Step t (t = 1..T) is a box centred at x = t: x_t enters
    from below, h_t leaves upwards with its value written above, and the recurrent arrow
    h_{t-1} -> h_t joins the boxes; a cell with a cell state (the LSTM family) adds the line
    c_{t-1} -> c_t along the top with c_t written on it. Each box is coloured by h_t (blue -1,
    white 0, red +1). Under the chain, backward arrows carry the gradient from box t + 1 to
    box t (gap t, t = 0..T): their width grows linearly with its norm up to ``grad_ref`` (wider
    is more gradient), and the norm is written under them. The norm is ||dL/dh_t||, or for a
    cell with a cell state given dL/dc_t too, the norm of the whole state's gradient
    (dL/dh_t, dL/dc_t): in an LSTM the gradient travels back along c.

    Attributes: ``.figure``, ``.ax``, ``.T``, ``.has_cell_state``, ``.boxes`` (one Rectangle
    a step), ``.wires`` (name -> Line2D: 'up', 'x', 'h' and 'c', every arrow of that kind),
    ``.grad_lines`` (a LineCollection, one segment a gap, t = 0..T) and ``.grad_heads``,
    ``.grad_norms`` (the norms drawn, (T+1,), or None), ``.value_texts`` (key -> Text:
    'h1'..'hT', 'c1'..'cT', 'x1'..'xT', 'dh0'..'dhT'; a row's numbers are written at every
    ``stride``-th step when T is too long for all of them to fit, and those centred on a gap,
    c_t and the norms, turn upright when a gap is too narrow for them), ``.symbol_texts``
    (the rows' labels: 'h', 'c', 'x', 'dh'), ``.mark``.
    """

    def __init__(self, cell, steps, ax=None, unit=0, grad_ref=None, numbers=("h", "c", "x")):
        cls = cell if isinstance(cell, type) else type(cell)
        self.kind = cls.kind
        self.has_cell_state = bool(cls.has_cell_state)
        self.T = steps
        self.unit = unit
        if grad_ref is not None and not (np.isfinite(grad_ref) and grad_ref > 0):
            raise ValueError(f"grad_ref must be a positive number or None; got {grad_ref!r}")
        self.grad_ref = grad_ref
        unknown = set(numbers) - {"h", "c", "x"}
        if unknown:
            raise ValueError(f"numbers must name rows among 'h', 'c', 'x'; got {sorted(unknown)}")
        self.numbers = tuple(numbers)
        self._owns_figure = ax is None
        if ax is None:
            fig = Figure(figsize=(min(2.0 + 0.55 * steps, 12.0), 2.6))
            FigureCanvasAgg(fig)
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        elif not hasattr(ax, "add_patch"):
            raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
        self.ax = ax
        try:
            self.figure = ax.get_figure(root=True)
        except TypeError:  # matplotlib < 3.10
            self.figure = ax.figure if isinstance(ax.figure, Figure) else ax.figure.figure
        self._cmap, self._norm = colormaps[_CMAP], Normalize(-1.0, 1.0)
        self.mark = None
        self.grad_norms = None
        self.value_texts, self.symbol_texts = {}, {}
        self._layout()
        self._build()

    # ------------------------------------------------------------------ layout

    def _layout(self):
        """Font size, label gutter and stride from the Axes' width in points and T."""
        width_pt = self.ax.bbox.width * 72.0 / self.figure.dpi
        self._columns = columns = max(self.T, 5) + 0.9
        gutter_pt = 62.0 if not self.has_cell_state else 84.0
        col_pt = max((width_pt - gutter_pt) / (columns + 0.1), 1.0)
        self.fontsize = fs = float(np.clip(col_pt / 4.2, 6.0, 8.0))
        self._gutter = gutter_pt * fs / 8.0 / col_pt
        # five characters a number ("-0.76", "3e-12") and some air between neighbours
        self.stride = int(np.ceil((5 * _CHAR_W * fs + 3.0) / col_pt))
        # numbers centred on a gap sit between two wires: upright while they fit there
        self._rotation = 0 if 5 * _CHAR_W * fs + 4.0 < 0.8 * col_pt else 90
        self.ax.set_axis_off()
        self.ax.set_xlim(-0.1 - self._gutter, columns)
        self.ax.set_ylim(*_CYLIM)

    def _shown(self, k):
        """Whether step (or gap) k carries a number at this stride; the last always does."""
        return k == self.T or (k % self.stride == 0 and self.T - k >= self.stride)

    def _number(self, key, x, y, va, color="#222222", rotation=0):
        self.value_texts[key] = self.ax.text(x, y, "", ha="center", va=va, color=color,
                                             fontsize=self.fontsize, zorder=5,
                                             rotation=rotation, rotation_mode="anchor"
                                             if not rotation else "default")

    def _wire(self, name, pairs, color, lw, head):
        """Every arrow of one kind as one Line2D (NaN between them), heads as markers."""
        ax = self.ax
        (self.wires[name],) = ax.plot(*_segments(pairs), color=color, lw=lw,
                                      solid_capstyle="butt", zorder=2)
        ends = np.array([end for _start, end in pairs], dtype=float)
        ax.plot(ends[:, 0], ends[:, 1], ls="none", marker=head, ms=2.2 + 1.6 * lw, mew=0,
                color=color, zorder=2)

    def _build(self):
        ax, T, half = self.ax, self.T, _CBW / 2
        self.boxes, self.wires = [], {}
        steps = range(1, T + 1)
        for t in steps:
            box = Rectangle((t - half, -_CBH / 2), _CBW, _CBH, facecolor="white",
                            edgecolor="#555555", lw=0.8, zorder=3)
            ax.add_patch(box)
            self.boxes.append(box)
        # gap k: from the right edge of box k (the left margin for k = 0) to box k + 1;
        # every arrow stops short of its target by the size of its head
        gaps = [(k + half if k else 0.2, (k + 1 - half if k < T else T + 0.8) - 0.06)
                for k in range(T + 1)]
        self._gaps = gaps
        y_h = 0.0 if not self.has_cell_state else _CH_Y
        self._wire("up", [((t, _CUP[0]), (t, _CUP[1] - 0.08)) for t in steps], COLORS["h"],
                   1.4, "^")
        self._wire("x", [((t, _CX[0]), (t, _CX[1] - 0.09)) for t in steps], COLORS["x"], 1.0,
                   "^")
        self._wire("h", [((x0, y_h), (x1, y_h)) for x0, x1 in gaps], COLORS["h"], 1.6, ">")
        if self.has_cell_state:
            self._wire("c", [((x0, _CC_Y), (x1, _CC_Y)) for x0, x1 in gaps], COLORS["c"], 2.4,
                       ">")
        # the gradient: one segment a gap, drawn right to left, head on the left
        self.grad_lines = LineCollection(
            [[(x1, _CG_Y), (x0 + 0.08, _CG_Y)] for x0, x1 in gaps], colors=_CGREY,
            linewidths=_CGRAD_LW[0], capstyle="butt", zorder=2)
        ax.add_collection(self.grad_lines, autolim=False)
        self.grad_heads = ax.scatter([x0 + 0.06 for x0, _x1 in gaps], [_CG_Y] * (T + 1),
                                     marker="<", s=self._head_sizes(np.zeros(T + 1)),
                                     color=_CGREY, linewidths=0, zorder=2)
        self.grad_lines.set_visible(False)
        self.grad_heads.set_visible(False)
        # the numbers: h_t above its box, c_t over the gap it leaves by, x_t below, norms under
        for t in steps:
            if not self._shown(t):
                continue
            if "h" in self.numbers:
                self._number(f"h{t}", t, _CUP[1] + 0.06, "bottom")
            if "x" in self.numbers:
                self._number(f"x{t}", t, _CX[0] - 0.07, "top")
            if "c" in self.numbers and self.has_cell_state:
                self._number(f"c{t}", t + 0.5, _CUP[0] + 0.08, "bottom", color=COLORS["c"],
                             rotation=self._rotation)
        for k in range(T + 1):
            if self._shown(k):
                self._number(f"dh{k}", k + 0.5, _CG_Y - 0.14, "top", color=_CGREY,
                             rotation=self._rotation)
        # the rows' labels, right-aligned in the gutter
        grad = (r"$\|\partial L/\partial(h_t, c_t)\|$" if self.has_cell_state
                else r"$\|\partial L/\partial h_t\|$")
        rows = {"h": (_CUP[1] + 0.2, LABELS["h"]), "x": (_CX[0] - 0.2, LABELS["x"]),
                "dh": (_CG_Y - 0.3, grad)}
        if self.has_cell_state:
            rows["c"] = (_CUP[0] + 0.2, LABELS["c"])
        for key, (y, label) in rows.items():
            self.symbol_texts[key] = ax.text(
                -0.15, y, label, ha="right", va="center", fontsize=self.fontsize + 0.5,
                zorder=5, color=COLORS["c"] if key == "c" else "#222222")
        self.symbol_texts["dh"].set_visible(False)

    def _head_sizes(self, widths):
        return (2.0 + 1.7 * np.asarray(widths)) ** 2

    # ------------------------------------------------------------------ values

    def update(self, trace=None, grads=None, mark=None):
        """Write a trace's values (and gradients) on the chain, changing the artists in place.

        Parameters
        ----------
        trace : ``cell.forward(x)`` of one sequence (x shaped (T, D)) of this kind of cell,
            T the diagram's; None leaves the values as they are
        grads : dL/dh_t for t = 0..T, an array (T+1, H), or the pair ``gradients.state_grads``
            returns, (dL/dh, dL/dc) (dL/dc None without a cell state); its norm per step sets
            the backward arrows' widths. None hides the gradient row.
        mark : a step 1..T whose box is outlined (e.g. where a pulse enters), or None
        """
        if mark is not None and (isinstance(mark, bool) or not isinstance(mark, (int, np.integer))
                                 or not 1 <= mark <= self.T):
            raise ValueError(f"mark must be a step in 1..T (T={self.T}) or None; got {mark!r}")
        norms = None if grads is None else self._norms(grads)
        if trace is not None:
            self._write_trace(trace)
        self._write_grads(norms)
        for t, box in enumerate(self.boxes, start=1):
            on = mark is not None and t == mark
            box.set_linewidth(2.6 if on else 0.8)
            box.set_edgecolor("#111111" if on else "#555555")
        self.mark = None if mark is None else int(mark)
        return self

    def _write_trace(self, trace):
        for name in ("h", "x", "c"):
            if not hasattr(trace, name):
                raise TypeError("trace must be what cell.forward(x) returns; "
                                f"got {type(trace).__name__}")
        h = np.asarray(trace.h)
        if h.ndim != 2:
            raise ValueError(f"trace must be of one sequence, h shaped (T, H); got {h.shape}")
        if h.shape[0] != self.T:
            raise ValueError(f"this diagram has T={self.T} steps; the trace has {h.shape[0]}")
        if (trace.c is not None) != self.has_cell_state:
            raise ValueError(f"this diagram draws a {self.kind!r} cell; the trace is of a cell "
                             f"{'with' if trace.c is not None else 'without'} a cell state")
        if not 0 <= self.unit < h.shape[1]:
            raise ValueError(f"unit must be in 0..{h.shape[1] - 1} (H={h.shape[1]}); "
                             f"got {self.unit}")
        hv = h[:, self.unit]
        rgba = self._cmap(self._norm(hv))
        x = np.asarray(trace.x)[:, 0]
        c = None if trace.c is None else np.asarray(trace.c)[:, self.unit]
        for t, box in enumerate(self.boxes, start=1):
            box.set_facecolor(rgba[t - 1])
            for key, v in (("h", hv), ("x", x), ("c", c)):
                text = self.value_texts.get(f"{key}{t}")
                if text is not None:
                    text.set_text(_fmt(v[t - 1]))

    def _norms(self, grads):
        """||dL/dh_t|| (or of (dL/dh_t, dL/dc_t)) for t = 0..T from what update was given."""
        parts = [g for g in grads if g is not None] if isinstance(grads, tuple) else [grads]
        if not parts or len(parts) > 2:
            raise ValueError("grads must be dL/dh (T+1, H) or the pair (dL/dh, dL/dc)")
        sq = 0.0
        for g in parts:
            g = np.asarray(g, dtype=float)
            if g.ndim != 2 or g.shape[0] != self.T + 1:
                raise ValueError(f"grads must hold dL/dh_t for t = 0..T, shaped (T+1, H) = "
                                 f"({self.T + 1}, H); got {g.shape}")
            if not np.all(np.isfinite(g)):
                raise ValueError("grads must be finite")
            sq = sq + np.sum(g * g, axis=1)
        return np.sqrt(sq)

    def _write_grads(self, norms):
        shown = norms is not None
        for artist in (self.grad_lines, self.grad_heads, self.symbol_texts["dh"]):
            artist.set_visible(shown)
        self.grad_norms = norms
        if not shown:
            for k in range(self.T + 1):
                if f"dh{k}" in self.value_texts:
                    self.value_texts[f"dh{k}"].set_text("")
            return
        widths = self.grad_widths(norms)
        self.grad_lines.set_linewidths(widths)
        self.grad_heads.set_sizes(self._head_sizes(widths))
        for k in range(self.T + 1):
            if f"dh{k}" in self.value_texts:
                self.value_texts[f"dh{k}"].set_text(_fmt_grad(norms[k]))

    def grad_widths(self, norms):
        """The backward arrows' line widths (points) for gradient norms (t = 0..T): linear in
        the norm from 0.3 (no gradient) to 6 at ``grad_ref`` and above; ``grad_ref`` None is
        the norm at t = T, the gradient as the loss hands it over."""
        norms = np.asarray(norms, dtype=float)
        ref = self.grad_ref if self.grad_ref is not None else norms[-1]
        lo, hi = _CGRAD_LW
        frac = np.clip(norms / ref, 0.0, 1.0) if ref > 0 else np.zeros_like(norms)
        return lo + (hi - lo) * frac

    def __repr__(self):
        grads = "" if self.grad_norms is None else ", grads"
        return f"UnrolledDiagram(kind={self.kind}, T={self.T}{grads})"


def draw_unrolled(cell_or_kind="rnn", trace=None, grads=None, ax=None, *, steps=None, mark=None,
                  unit=0, grad_ref=None, numbers=("h", "c", "x")):
    """Draw a recurrent cell unrolled over T steps, optionally with a trace's values and
    the gradient flowing back.

    Parameters
    ----------
    cell_or_kind : a cell (or cell class), or a key of ``ll.CELLS`` ('rnn', 'lstm', 'gru', ...);
        the chain asks it whether it has a cell state
    trace : optional ``cell.forward(x)`` of one sequence: h_t (and c_t) are written on the
        chain and colour its boxes; T is its length
    grads : optional dL/dh_t for t = 0..T, (T+1, H), or ``gradients.state_grads``'s pair;
        drawn as backward arrows under the chain, width linear in the norm
    ax : the Axes to draw into (a fresh Figure if None); the diagram turns its frame off
    steps : T when no trace is given (5 by default)
    mark : a step 1..T to outline, or None
    unit : which hidden unit's h_t and c_t are written (the gradient norm is over all units)
    grad_ref : the norm drawn at full width; None: the norm at t = T
    numbers : the rows whose values are written as numbers ('h', 'c', 'x'); the gradient
        row's always are

    Returns
    -------
    UnrolledDiagram, whose ``update(trace, grads, mark)`` changes the values in place.

    Examples
    --------
    >>> import numpy as np, lstm_lab as ll
    >>> from lstm_lab import diagram, gradients
    >>> cell = ll.RNNCell(input_size=1, hidden_size=1, seed=0)
    >>> trace = cell.forward(np.eye(6, 1))                  # a pulse at t = 1
    >>> dh = np.zeros_like(trace.h); dh[-1] = 1.0           # L = h_T
    >>> d = diagram.draw_unrolled(cell, trace, gradients.state_grads(cell, trace, dh), mark=1)
    >>> d
    UnrolledDiagram(kind=rnn, T=6, grads)
    >>> d.value_texts['h2'].get_text() == diagram._fmt(trace.h[1, 0])
    True
    >>> widths = d.grad_lines.get_linewidths()               # gap t carries dL/dh_t, t = 0..6
    >>> bool(widths[0] < widths[6])                          # it vanishes on the way back
    True
    """
    if isinstance(cell_or_kind, str):
        if cell_or_kind not in CELLS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {cell_or_kind!r}")
        cls = CELLS[cell_or_kind]
    elif isinstance(cell_or_kind, type) and issubclass(cell_or_kind, _Cell):
        cls = cell_or_kind
    elif isinstance(cell_or_kind, _Cell):
        cls = type(cell_or_kind)
    else:
        raise TypeError("cell_or_kind must be a cell, a cell class or one of "
                        f"{', '.join(KINDS)}; got {type(cell_or_kind).__name__}")
    if trace is not None:
        T = len(np.asarray(trace.h))
        if steps is not None and steps != T:
            raise ValueError(f"steps={steps} but the trace has T={T} steps")
    else:
        T = 5 if steps is None else steps
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"steps T must be a positive integer; got {T!r}")
    if isinstance(unit, bool) or not isinstance(unit, (int, np.integer)) or unit < 0:
        raise ValueError(f"unit must be a non-negative integer; got {unit!r}")
    d = UnrolledDiagram(cls, int(T), ax, unit=int(unit), grad_ref=grad_ref, numbers=numbers)
    return d.update(trace, grads, mark)


# ====================================================================== sequence shapes

SHAPES = ("one_to_one", "one_to_many", "many_to_one", "many_to_many", "encoder_decoder",
          "stacked", "bidirectional")
"""The shapes ``draw_shape`` draws, in teaching order."""

SHAPE_TITLES = {
    "one_to_one": "one-to-one", "one_to_many": "one-to-many (generation)",
    "many_to_one": "many-to-one", "many_to_many": "many-to-many (tagging)",
    "encoder_decoder": "encoder-decoder", "stacked": "stacked (2 layers)",
    "bidirectional": "bidirectional",
}

_DX, _BW, _BH, _MK = 1.4, 0.9, 0.55, 0.5   # column spacing, cell box, input/output marker
_GAP = 2.9                                 # from the encoder's last column to the decoder's first
_ROW = {"single": (1.5,), "stacked": (1.5, 4.4), "bidirectional": (1.5, 3.0)}
_SHAPE_LM, _SHAPE_RM = 2.5, 0.6             # margins for the labels, left and right
_BIDIR_RM = 2.2                            # the backward row's initial state enters on the right
_MIN_WIDTH = 9.0                           # data units right of the left margin: the title fits
_IN_PER_UNIT = 0.4                         # inches per data unit of an own figure
_TITLE = 0.55                              # room above the outputs for the title
_HOP = 0.16                                # half the gap where a wire passes under another
_KEEP = object()


class Tensor:
    """One tensor of a shape figure: its symbol, its axes in symbols and its sizes.

    ``dims`` are the axis names as written ('T', 'B', 'D', '2H', 'K+1'), ``sizes`` the numbers
    they stand for; ``text`` and ``numbers`` are how the figure writes them.
    """

    def __init__(self, symbol, dims, sizes):
        self.symbol, self.dims, self.sizes = symbol, tuple(dims), tuple(int(s) for s in sizes)

    @property
    def text(self):
        return "(" + ", ".join(self.dims) + ("," if len(self.dims) == 1 else "") + ")"

    @property
    def numbers(self):
        return str(self.sizes)

    def __eq__(self, other):
        return isinstance(other, Tensor) and (self.symbol, self.dims, self.sizes) == (
            other.symbol, other.dims, other.sizes)

    def __repr__(self):
        return f"Tensor({self.symbol} {self.text} = {self.numbers})"


def _size(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1; got {value}")
    return int(value)


def shape_tensors(shape, T=6, D=4, H=8, K=2, B=None, S=None):
    """The tensors a shape's figure writes on its arrows: name -> ``Tensor``.

    The shapes are those of the package: x is time first, (T, B, D), or (T, D) for one
    sequence (``B=None``: every B below is then dropped); a cell's state at one step is (B, H);
    ``SequenceModel`` reads out y (B, K) many-to-one or (T, B, K) many-to-many; a ``Stacked``
    network's second layer reads the first layer's h (T, B, H); a ``Bidirectional`` network's
    output is (T, B, 2H); a ``Seq2Seq`` encodes a source (S, B, D) (S = T unless given), hands
    its last state h_S (B, H) to the decoder, which reads d (T, B, K+1) and writes y (T, B, K).
    One-to-many feeds y_t back as the next input, so it needs D = K.

    >>> t = shape_tensors('bidirectional', T=5, D=3, H=4, K=2, B=8)
    >>> t['h'], t['y']
    (Tensor($h$ (T, B, 2H) = (5, 8, 8)), Tensor($y$ (T, B, K) = (5, 8, 2)))
    >>> shape_tensors('many_to_one', T=5, D=3, H=4, K=2)['y']
    Tensor($y$ (K,) = (2,))
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {shape!r}")
    T, D, H, K = (_size(v, n) for v, n in ((T, "T"), (D, "D"), (H, "H"), (K, "K")))
    S = T if S is None else _size(S, "S")
    if B is not None:
        B = _size(B, "B")
    if shape == "one_to_many" and D != K:
        raise ValueError(f"one_to_many feeds y_t back in as x_(t+1), so D must equal K; "
                         f"got D={D}, K={K}")
    sizes = {"T": T, "S": S, "B": B, "D": D, "H": H, "K": K, "2H": 2 * H, "K+1": K + 1}

    def tensor(symbol, *dims):
        dims = [d for d in dims if d != "B" or B is not None]
        return Tensor(symbol, dims, [sizes[d] for d in dims])

    state = tensor("$h_t$", "B", "H")
    seq_y = tensor("$y$", "T", "B", "K")
    seq_x = tensor("$x$", "T", "B", "D")
    if shape == "one_to_one":
        return {"x": tensor("$x$", "B", "D"), "h": tensor("$h$", "B", "H"),
                "y": tensor("$y$", "B", "K")}
    if shape == "one_to_many":
        return {"x": tensor("$x_1$", "B", "D"), "h": state, "y": seq_y}
    if shape == "many_to_one":
        return {"x": seq_x, "h": state, "y": tensor("$y$", "B", "K")}
    if shape == "many_to_many":
        return {"x": seq_x, "h": state, "y": seq_y}
    if shape == "encoder_decoder":
        return {"x": tensor("$x$", "S", "B", "D"), "context": tensor("$h_S$", "B", "H"),
                "d": tensor("$d$", "T", "B", "K+1"), "y": seq_y}
    if shape == "stacked":
        return {"x": seq_x, "h1": tensor("$h^{(1)}_t$", "B", "H"),
                "between": tensor("$h^{(1)}$", "T", "B", "H"),
                "h2": tensor("$h^{(2)}_t$", "B", "H"), "y": seq_y}
    return {"x": seq_x, "h_fwd": tensor(r"$\overrightarrow{h}_t$", "B", "H"),
            "h_bwd": tensor(r"$\overleftarrow{h}_t$", "B", "H"),
            "h": tensor("$h$", "T", "B", "2H"), "y": seq_y}


def _slots(n, limit):
    """The time steps drawn for a sequence of n: all up to ``limit``, else the first ones,
    None (drawn as an ellipsis) and the last two."""
    if n <= limit:
        return list(range(1, n + 1))
    return [*range(1, limit - 2), None, n - 1, n]


class _Layout:
    """What one shape looks like: plain lists of what to draw, in data units."""

    def __init__(self):
        self.boxes, self.markers, self.nodes, self.arrows, self.texts = [], [], [], [], []
        self.labels = {}          # key -> (x, y, ha): the middle of the label's two lines
        self.width = self.top = 0.0

    def arrow(self, pts, color=_WIRE, lw=1.4, ls="-", hops=()):
        """A polyline ending in an arrowhead; ``hops``: points where it passes under a wire."""
        self.arrows.append((np.asarray(pts, dtype=float), color, lw, ls, tuple(hops)))


def _layout(shape, T, S, kind_label, right_margin):
    L = _Layout()
    H_col, X_col, Y_col = COLORS["h"], COLORS["x"], COLORS["y"]
    y_in = 0.0
    rows = _ROW.get(shape, _ROW["single"])
    y_out = rows[-1] + {"bidirectional": 3.0, "one_to_one": 2.3}.get(shape, 1.6)
    y_cat = rows[-1] + 1.25
    lab = 0.15 + _MK / 2                                # a label's distance from its marker
    above = 0.42                                        # a label's middle above its arrow

    def columns(slots, x0, y_rows, box_text, direction=(1,), first_state=True):
        """Boxes on each row, their recurrent arrows (direction +1 right, -1 left)."""
        xs = [x0 + k * _DX for k in range(len(slots))]
        for y, text, sign in zip(y_rows, box_text, direction, strict=True):
            for x, t in zip(xs, slots, strict=True):
                if t is None:
                    L.texts.append((x, y, "\u2026"))
                else:
                    L.boxes.append((x, y, text))
            for k in range(len(slots) - 1):
                a, b = xs[k], xs[k + 1]
                if slots[k] is None:
                    a0, b0 = a + 0.3, b - _BW / 2
                elif slots[k + 1] is None:
                    a0, b0 = a + _BW / 2, b - 0.3
                else:
                    a0, b0 = a + _BW / 2, b - _BW / 2
                L.arrow([(a0, y), (b0, y)] if sign > 0 else [(b0, y), (a0, y)], H_col, 2.0)
            if first_state and sign > 0:
                L.arrow([(xs[0] - _BW / 2 - 0.8, y), (xs[0] - _BW / 2, y)], H_col, 2.0)
            elif first_state:
                L.arrow([(xs[-1] + _BW / 2 + 0.8, y), (xs[-1] + _BW / 2, y)], H_col, 2.0)
        return xs

    def inputs(xs, slots, symbol, y_box, edge=X_col, fed=False, x_gap=0.0):
        for k, (x, t) in enumerate(zip(xs, slots, strict=True)):
            if t is None:
                L.texts.append((x, y_in, "\u2026"))
                continue
            dashed = fed and k > 0
            L.markers.append((x + x_gap, y_in, f"${symbol}_{{{t}}}$", edge, dashed))
            L.arrow([(x + x_gap, y_in + _MK / 2), (x + x_gap, y_box - _BH / 2)], X_col, 1.4)

    def outputs(xs, slots, y_box, only_last=False):
        for k, (x, t) in enumerate(zip(xs, slots, strict=True)):
            if only_last and k < len(slots) - 1:
                continue
            if t is None:
                L.texts.append((x, y_out, "\u2026"))
                continue
            L.markers.append((x, y_out, f"$y_{{{t}}}$", Y_col, False))
            L.arrow([(x, y_box + _BH / 2), (x, y_out - _MK / 2)], H_col, 1.6)

    def feedback(xs, slots, y_row):
        """y_t, sampled, becomes the next input: a dashed wire down between the columns."""
        for k in range(len(slots) - 1):
            if slots[k] is None or slots[k + 1] is None:
                continue
            a, b = xs[k], xs[k + 1]
            m = (a + b) / 2
            L.arrow([(a + _MK / 2, y_out), (m, y_out), (m, y_in), (b - _MK / 2, y_in)],
                    "#8A8A8A", 1.1, (0, (3, 2)), hops=[(m, y_row)])

    x0 = 0.0
    if shape in ("one_to_one", "one_to_many", "many_to_one", "many_to_many"):
        slots = [1] if shape == "one_to_one" else _slots(T, 7)
        y = rows[0]
        xs = columns(slots, x0, rows, (kind_label,), first_state=shape != "one_to_one")
        if shape == "one_to_many":
            inputs(xs, slots, "x", y, fed=True)
            feedback(xs, slots, y)
        else:
            inputs(xs, slots, "x", y)
        outputs(xs, slots, y, only_last=shape == "many_to_one")
        L.labels["x"] = (xs[0] - lab, y_in, "right")
        if shape == "one_to_one":
            L.labels["h"] = (xs[0] - 0.15, (y + _BH / 2 + y_out - _MK / 2) / 2, "right")
        else:
            L.labels["h"] = (xs[0] - _BW / 2 - 0.1, y + above, "right")
        x_y = xs[-1] if shape == "many_to_one" else xs[0]
        L.labels["y"] = (x_y - lab, y_out, "right")
    elif shape == "encoder_decoder":
        y = rows[0]
        src, tgt = _slots(S, 5), _slots(T, 5)
        xs = columns(src, x0, rows, ("enc",))
        x1 = xs[-1] + _GAP
        xd = columns(tgt, x1, rows, ("dec",), first_state=False)
        inputs(xs, src, "x", y)
        inputs(xd, tgt, "d", y, edge="#777777", fed=True)
        feedback(xd, tgt, y)
        outputs(xd, tgt, y)
        L.arrow([(xs[-1] + _BW / 2, y), (xd[0] - _BW / 2, y)], H_col, 2.0)   # s_0 = h_S
        L.texts.append(((xs[0] + xs[-1]) / 2, y_in - 0.7, "encoder"))
        L.texts.append(((xd[0] + xd[-1]) / 2, y_in - 0.7, "decoder"))
        L.labels["x"] = (xs[0] - lab, y_in, "right")
        L.labels["context"] = ((xs[-1] + xd[0]) / 2, y + above, "center")
        L.labels["d"] = (xd[0] - lab, y_in, "right")
        L.labels["y"] = (xd[0] - lab, y_out, "right")
        xs = xs + xd
    elif shape == "stacked":
        slots = _slots(T, 7)
        xs = columns(slots, x0, rows, (kind_label, kind_label), direction=(1, 1))
        inputs(xs, slots, "x", rows[0])
        for x, t in zip(xs, slots, strict=True):
            if t is not None:
                L.arrow([(x, rows[0] + _BH / 2), (x, rows[1] - _BH / 2)], H_col, 1.6)
            else:
                L.texts.append((x, (rows[0] + rows[1]) / 2, "\u2026"))
        outputs(xs, slots, rows[1])
        L.labels["x"] = (xs[0] - lab, y_in, "right")
        L.labels["h1"] = (xs[0] - _BW / 2 - 0.1, rows[0] + above, "right")
        L.labels["between"] = (xs[0] - 0.15, (rows[0] + rows[1]) / 2, "right")
        L.labels["h2"] = (xs[0] - _BW / 2 - 0.1, rows[1] + above, "right")
        L.labels["y"] = (xs[0] - lab, y_out, "right")
    else:  # bidirectional: the forward row reads x_1..x_T, the backward row x_T..x_1
        slots = _slots(T, 7)
        yf, yb = rows
        s = 0.3                                         # the two rows' boxes are staggered
        xs = [x0 + k * _DX for k in range(len(slots))]
        for row_y, shift, text, sign in ((yf, -s, "fwd", 1), (yb, s, "bwd", -1)):
            columns(slots, x0 + shift, (row_y,), (text,), direction=(sign,))
        for x, t in zip(xs, slots, strict=True):
            if t is None:
                for yy in (y_in, y_cat, y_out):
                    L.texts.append((x, yy, "\u2026"))
                continue
            L.markers.append((x, y_in, f"$x_{{{t}}}$", X_col, False))
            L.arrow([(x - s, y_in + _MK / 2), (x - s, yf - _BH / 2)], X_col, 1.4)
            # x_t up to the backward row, under the forward row's recurrent wire
            L.arrow([(x + s, y_in + _MK / 2), (x + s, yb - _BH / 2)], X_col, 1.4,
                    hops=[(x + s, yf)])
            # both rows' states into [h_fwd ; h_bwd]; the forward one passes under a wire
            L.arrow([(x - s, yf + _BH / 2), (x - s, y_cat - 0.2)], H_col, 1.6,
                    hops=[(x - s, yb)])
            L.arrow([(x + s, yb + _BH / 2), (x + s, y_cat - 0.2)], H_col, 1.6)
            L.nodes.append((x, y_cat, "[ ; ]"))
            L.markers.append((x, y_out, f"$y_{{{t}}}$", Y_col, False))
            L.arrow([(x, y_cat + 0.2), (x, y_out - _MK / 2)], H_col, 1.6)
        L.labels["x"] = (xs[0] - lab, y_in, "right")
        L.labels["h_fwd"] = (xs[0] - s - _BW / 2 - 0.1, yf + above, "right")
        L.labels["h_bwd"] = (xs[-1] + s + _BW / 2 + 0.1, yb + above, "left")
        L.labels["h"] = (xs[0] - 0.15, (y_cat + 0.2 + y_out - _MK / 2) / 2, "right")
        L.labels["y"] = (xs[0] - lab, y_out, "right")
    L.width = xs[-1] + _BW / 2 + 0.3 + right_margin
    L.top = y_out + _MK / 2 + 0.2
    return L


class ShapeDiagram(_ShowsItself):
    """A sequence shape drawn with the tensor shapes on its arrows; redrawn in place.

    Built by :func:`draw_shape`. Attributes: ``.shape``, ``.sizes`` (dict T, S, D, H, K, B),
    ``.cell`` (the kind written in the boxes), ``.tensors`` (name -> ``Tensor``: what the labels
    say), ``.symbol_texts`` and ``.value_texts`` (label name -> Text: the symbol with its axes,
    '$x$ (T, B, D)', and below it the sizes, '= (20, 3, 4)'; empty for names this shape does
    not use), ``.title``, ``.figure``, ``.ax``. Every artist is made once, for the largest
    figure any shape needs; ``update`` moves, shows and hides them.
    """

    _LABEL_KEYS = ("x", "h", "y", "d", "context", "h1", "between", "h2", "h_fwd", "h_bwd")

    def __init__(self, ax=None):
        if ax is not None and not hasattr(ax, "add_patch"):
            raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
        self._owns_figure = ax is None
        if ax is None:
            fig = Figure(figsize=(6.0, 2.5))
            FigureCanvasAgg(fig)
            ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.ax = ax
        try:
            self.figure = ax.get_figure(root=True)
        except TypeError:  # matplotlib < 3.10
            self.figure = ax.figure if isinstance(ax.figure, Figure) else ax.figure.figure
        ax.set_axis_off()
        ax.set_aspect("equal", adjustable="box")
        # the largest layout of every shape sets how many artists of each kind are made, and
        # (in a given Axes) the fixed limits, so that no update resizes the picture
        counts = {"boxes": 0, "markers": 0, "nodes": 0, "arrows": 0, "texts": 0}
        self._extent = [0.0, 0.0]
        for shape in SHAPES:
            for n in range(1, 10):
                lay = _layout(shape, n, n, "LSTM", self._right_margin(shape))
                for key in counts:
                    counts[key] = max(counts[key], len(getattr(lay, key)))
                self._extent = [max(self._extent[0], lay.width), max(self._extent[1], lay.top)]
        box = dict(boxstyle="round,pad=0,rounding_size=0.1", zorder=3)
        self._boxes = [(ax.add_patch(FancyBboxPatch((0, 0), _BW, _BH, facecolor=COLORS["h"],
                                                    edgecolor="#333333", lw=1.0, **box)),
                        ax.text(0, 0, "", ha="center", va="center", color="white",
                                fontsize=7.5, fontweight="bold", zorder=4))
                       for _ in range(counts["boxes"])]
        self._markers = [(ax.add_patch(FancyBboxPatch((0, 0), _MK, _MK, facecolor="white",
                                                      lw=1.2, **box)),
                          ax.text(0, 0, "", ha="center", va="center", fontsize=8, zorder=4))
                         for _ in range(counts["markers"])]
        self._nodes = [(ax.add_patch(FancyBboxPatch((0, 0), 0.7, 0.4, facecolor="white",
                                                    edgecolor="#333333", lw=1.0, **box)),
                        ax.text(0, 0, "", ha="center", va="center", fontsize=7.5, zorder=4))
                       for _ in range(counts["nodes"])]
        self._arrows = []
        for _ in range(counts["arrows"]):
            (line,) = ax.plot([], [], solid_capstyle="butt", zorder=2)
            head = FancyArrowPatch((0, 0), (1, 0), arrowstyle="-|>", mutation_scale=9,
                                   shrinkA=0, shrinkB=0, joinstyle="miter", capstyle="butt",
                                   zorder=2)
            ax.add_patch(head)
            self._arrows.append((line, head))
        self._texts = [ax.text(0, 0, "", ha="center", va="center", fontsize=9, color="#333333",
                               zorder=4) for _ in range(counts["texts"])]
        kw = dict(fontsize=_LABEL_SIZE, color="#222222", zorder=5)
        self.symbol_texts = {k: ax.text(0, 0, "", va="bottom", **kw) for k in self._LABEL_KEYS}
        self.value_texts = {k: ax.text(0, 0, "", va="top", **kw) for k in self._LABEL_KEYS}
        self.title = ax.text(0, 0, "", ha="left", va="top", fontsize=9, color="#333333",
                             fontweight="bold", zorder=5)
        self.shape = None
        self.sizes = {"T": 6, "S": None, "D": 4, "H": 8, "K": 2, "B": None}
        self.cell = "lstm"
        self.tensors = {}

    @staticmethod
    def _right_margin(shape):
        return _BIDIR_RM if shape == "bidirectional" else _SHAPE_RM

    def update(self, shape=None, *, T=_KEEP, D=_KEEP, H=_KEEP, K=_KEEP, B=_KEEP, S=_KEEP,
               cell=_KEEP, measured=None):
        """Redraw in place for another shape or other sizes (the ones not given are kept).

        ``measured`` (optional): name -> the shape tuple of the array a real forward pass gave;
        every one must equal what the figure writes, else ValueError (a figure cannot lie).
        Returns self.
        """
        shape = self.shape if shape is None else shape
        sizes = dict(self.sizes)
        for name, value in (("T", T), ("D", D), ("H", H), ("K", K), ("B", B), ("S", S)):
            if value is not _KEEP:
                sizes[name] = value
        cell = self.cell if cell is _KEEP else cell
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(KINDS)}; got {cell!r}")
        tensors = shape_tensors(shape, **sizes)
        for name, got in (measured or {}).items():
            if name not in tensors:
                raise ValueError(f"the {shape} figure writes no tensor {name!r}; it writes "
                                 f"{', '.join(tensors)}")
            if tuple(got) != tensors[name].sizes:
                raise ValueError(f"{name}: the forward pass gave shape {tuple(got)}, the figure "
                                 f"would write {tensors[name].numbers}")
        lay = _layout(shape, sizes["T"], sizes["S"] or sizes["T"], cell.upper(),
                      self._right_margin(shape))
        old = self.shape, self.sizes, self.cell, self.tensors
        self.shape, self.sizes, self.cell, self.tensors = shape, sizes, cell, tensors
        try:
            self._place(lay)
        except BaseException:
            # what the diagram says it shows stays what it showed (a caller that redraws
            # the old settings, as an explorer rolling back does, repairs the artists)
            self.shape, self.sizes, self.cell, self.tensors = old
            raise
        return self

    def _place(self, lay):
        ax = self.ax
        if self._owns_figure:
            width, top = max(lay.width, _MIN_WIDTH) + _SHAPE_LM, lay.top + _TITLE + 1.2
            self.figure.set_size_inches(width * _IN_PER_UNIT, top * _IN_PER_UNIT)
            dx, dy = (max(lay.width, _MIN_WIDTH) - lay.width) / 2, 0.0
        else:
            width, top = self._extent[0] + _SHAPE_LM, self._extent[1] + _TITLE + 1.2
            # centred in the fixed limits
            dx, dy = (self._extent[0] - lay.width) / 2, (self._extent[1] - lay.top) / 2
        ax.set_xlim(-_SHAPE_LM, width - _SHAPE_LM)
        ax.set_ylim(-1.2, top - 1.2)
        for (patch, text), item in itertools.zip_longest(self._boxes, lay.boxes):
            self._show(item is not None, patch, text)
            if item is not None:
                x, y, label = item
                patch.set_bounds(x + dx - _BW / 2, y + dy - _BH / 2, _BW, _BH)
                text.set_position((x + dx, y + dy))
                text.set_text(label)
        for (patch, text), item in itertools.zip_longest(self._markers, lay.markers):
            self._show(item is not None, patch, text)
            if item is not None:
                x, y, label, color, dashed = item
                patch.set_bounds(x + dx - _MK / 2, y + dy - _MK / 2, _MK, _MK)
                patch.set_edgecolor(color)
                patch.set_linestyle((0, (2, 1.5)) if dashed else "-")
                text.set_position((x + dx, y + dy))
                text.set_text(label)
                text.set_color("#222222" if color == COLORS["x"] else color)
                digits = len(label) - 6                     # '$x_{12}$': a long index, smaller
                text.set_fontsize(8.0 if digits <= 1 else 7.0 if digits == 2 else 6.0)
        for (patch, text), item in itertools.zip_longest(self._nodes, lay.nodes):
            self._show(item is not None, patch, text)
            if item is not None:
                x, y, label = item
                patch.set_bounds(x + dx - 0.35, y + dy - 0.2, 0.7, 0.4)
                text.set_position((x + dx, y + dy))
                text.set_text(label)
        for (line, head), item in itertools.zip_longest(self._arrows, lay.arrows):
            self._show(item is not None, line, head)
            if item is None:
                continue
            pts, color, lw, ls, hops = item
            pts = pts + [dx, dy]
            body = self._with_hops(pts, [(hx + dx, hy + dy) for hx, hy in hops])
            line.set_data(body[:, 0], body[:, 1])
            step = pts[-1] - pts[-2]                  # the head: the last 0.25 of the wire
            step *= min(1.0, 0.25 / max(float(np.hypot(*step)), 1e-9))
            head.set_positions(tuple(pts[-1] - step), tuple(pts[-1]))
            for artist in (line, head):
                artist.set_color(color)
                artist.set_linewidth(lw)
                artist.set_linestyle(ls)
        for text, item in itertools.zip_longest(self._texts, lay.texts):
            text.set_visible(item is not None)
            if item is not None:
                text.set_position((item[0] + dx, item[1] + dy))
                text.set_text(item[2])
        for key in self._LABEL_KEYS:
            sym, val = self.symbol_texts[key], self.value_texts[key]
            if key in self.tensors and key in lay.labels:
                x, y, ha = lay.labels[key]
                tensor = self.tensors[key]
                sym.set_text(f"{tensor.symbol} {tensor.text}")
                val.set_text(f"= {tensor.numbers}")
                for t, yy in ((sym, y + 0.02), (val, y - 0.02)):
                    t.set_position((x + dx, yy + dy))
                    t.set_horizontalalignment(ha)
                    t.set_visible(True)
            else:
                for t in (sym, val):
                    t.set_text("")
                    t.set_visible(False)
        batch = "one sequence" if self.sizes["B"] is None else f"B = {self.sizes['B']}"
        self.title.set_text(f"{SHAPE_TITLES[self.shape]}: {self.cell.upper()} cells, {batch}")
        self.title.set_position((-_SHAPE_LM + 0.1, top - 1.2 - 0.05))

    @staticmethod
    def _show(visible, *artists):
        for a in artists:
            a.set_visible(visible)

    @staticmethod
    def _with_hops(pts, hops):
        """The polyline with a gap (NaN) where it passes under another wire at a hop point."""
        out = [pts[0]]
        for a, b in zip(pts[:-1], pts[1:], strict=True):
            for hx, hy in hops:
                vertical = abs(a[0] - b[0]) < 1e-9 and abs(a[0] - hx) < 1e-9
                if vertical and min(a[1], b[1]) < hy < max(a[1], b[1]):
                    sign = 1.0 if b[1] > a[1] else -1.0
                    out += [(hx, hy - sign * _HOP), (np.nan, np.nan), (hx, hy + sign * _HOP)]
            out.append(b)
        return np.asarray(out, dtype=float)

    def __repr__(self):
        unused = {"T", "S"} if self.shape == "one_to_one" else set()
        if self.shape != "encoder_decoder":
            unused.add("S")
        size = ", ".join(f"{k}={v}" for k, v in self.sizes.items()
                         if v is not None and k not in unused)
        return f"ShapeDiagram({self.shape}, {size}, cell={self.cell})"


def draw_shape(shape="many_to_many", T=6, D=4, H=8, K=2, B=None, *, S=None, cell="lstm",
               ax=None):
    """Draw a sequence shape with the tensor shapes the package uses written on its arrows.

    Inputs below (x_t, black), the cells in a row (boxes in h's colour, h_t passed along the
    row), outputs above (y_t in the readout's colour). The labels give each tensor in symbols
    and in numbers, e.g. '$x$ (T, B, D)' over '= (20, 3, 4)'; ``shape_tensors`` says which.
    Long sequences are drawn with their middle elided (an ellipsis), so any T draws cleanly.

    Parameters
    ----------
    shape : one of ``SHAPES``
    T, D, H, K : sequence length, input size, hidden size, output size
    B : batch size, or None for one sequence (the shapes then have no B axis)
    S : the source length of encoder_decoder (T unless given; T is then the output length)
    cell : the kind of cell written in the boxes ('lstm', 'gru', 'rnn', ...)
    ax : Axes to draw into (a Figure sized to the shape if None)

    Returns
    -------
    ShapeDiagram, with ``.update(shape, T=..., ...)`` to redraw it in place.

    >>> d = draw_shape('stacked', T=20, D=4, H=16, K=2, B=5, cell='lstm')
    >>> d
    ShapeDiagram(stacked, T=20, D=4, H=16, K=2, B=5, cell=lstm)
    >>> d.symbol_texts['between'].get_text(), d.value_texts['between'].get_text()
    ('$h^{(1)}$ (T, B, H)', '= (20, 5, 16)')
    >>> d.update('many_to_one', B=None).value_texts['y'].get_text()
    '= (2,)'
    """
    d = ShapeDiagram(ax)
    return d.update(shape, T=T, D=D, H=H, K=K, B=B, S=S, cell=cell)


GRU_FORMS = {
    False: r"$g_t = \tanh(W_{xg}\,x_t + W_{hg}\,(r_t \odot h_{t-1}) + b_g)$",
    True: r"$g_t = \tanh(W_{xg}\,x_t + b_{xg} + r_t \odot (W_{hg}\,h_{t-1} + b_{hg}))$",
}
"""The GRU candidate's equation in each form, by ``reset_after``."""


def show_gru_form(d, reset_after):
    """Write under a GRU diagram `d` the candidate's equation in the form `reset_after` picks.

    The text is made on the first call (``d.symbol_texts['form']``) and changed in place
    afterwards; it belongs to the 'candidate' step. Returns `d`.

    >>> d = show_gru_form(draw_cell('gru'), True)
    >>> 'b_{hg}' in d.symbol_texts['form'].get_text()
    True
    """
    if d.spec.layout != "gru" or d.spec.gates[1] is None:
        raise ValueError(f"show_gru_form needs a GRU diagram; got kind {d.kind!r}")
    if not isinstance(reset_after, (bool, np.bool_)):
        raise TypeError(f"reset_after must be True or False; got {reset_after!r}")
    text = d.symbol_texts.get("form")
    if text is None:
        text = d.ax.text(_BOX[2] / 2 + 0.6, -0.75, "", ha="center", va="center", zorder=5,
                         fontsize=_LABEL_SIZE * max(d.scale, _MIN_FONT / _LABEL_SIZE),
                         color="#333333")
        d.symbol_texts["form"] = text
        d._register(text, ("candidate",))
    form = GRU_FORMS[bool(reset_after)]
    if text.get_text() != form:
        text.set_text(form)
    return d
