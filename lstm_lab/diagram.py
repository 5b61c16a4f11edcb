"""A recurrent cell drawn like colah's LSTM figures, one step highlighted, real values on the wires.

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

>>> from lstm_lab import diagram
>>> d = diagram.draw_cell('lstm', highlight='forget')
>>> d
CellDiagram(kind=lstm, highlight=forget)
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse, FancyArrowPatch, FancyBboxPatch
from matplotlib.path import Path

from .cells import CELLS
from .symbols import COLORS, LABELS

__all__ = ["STEPS", "KINDS", "GRU_FORMS", "draw_cell", "show_gru_form", "CellDiagram"]

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


class CellDiagram:
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

    def _repr_png_(self):
        if not self._owns_figure:
            return None
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=90)
        return buf.getvalue()

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
