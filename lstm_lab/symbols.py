"""The one symbol table: every letter the cells, traces, plots, diagrams and sliders use.

Each symbol has a name, a LaTeX label, a colour (the same in every plot, in the cell
diagram and on the sliders), the nonlinearity that makes it and its Korean term. Code
that needs any of these reads them here; nothing else keeps a copy.

>>> from lstm_lab import symbols
>>> s = symbols.SYMBOLS['f']
>>> s.name, s.label, s.activation, s.korean
('forget gate', '$f_t$', 'sigmoid', '삭제/망각 게이트')
>>> symbols.ACTIVATION_OF['g'], symbols.COLORS['c']
('tanh', '#0072B2')
"""

from dataclasses import dataclass

__all__ = ["Symbol", "SYMBOLS", "COLORS", "LABELS", "NAMES", "ACTIVATION_OF", "KOREAN",
           "SIGMOID_GATES"]


@dataclass(frozen=True)
class Symbol:
    """One letter of the symbol table.

    name       : what it is, in English ('forget gate')
    label      : LaTeX for plots and the diagram ('$f_t$')
    color      : hex colour, one per symbol
    activation : 'sigmoid' or 'tanh' (the nonlinearity that makes it in the standard cells;
                 for c the tanh inside h_t = o_t * tanh(c_t), for h the RNN's tanh), or None
    korean     : the Korean term of the source documents, or '' where they have none
    """

    name: str
    label: str
    color: str
    activation: str | None
    korean: str


# Okabe-Ito for the LSTM symbols, Paul Tol's muted set for the rest: safe for the
# common colour-vision deficiencies. No two symbols share a colour.
SYMBOLS = {
    "x": Symbol("input", r"$x_t$", "#000000", None, "입력"),
    "f": Symbol("forget gate", r"$f_t$", "#D55E00", "sigmoid", "삭제/망각 게이트"),
    "i": Symbol("input gate", r"$i_t$", "#009E73", "sigmoid", "입력 게이트"),
    "g": Symbol("candidate", r"$g_t$", "#E69F00", "tanh", "후보 값"),
    "o": Symbol("output gate", r"$o_t$", "#CC79A7", "sigmoid", "출력 게이트"),
    "c": Symbol("cell state", r"$c_t$", "#0072B2", "tanh", "셀 상태"),
    "h": Symbol("hidden state", r"$h_t$", "#56B4E9", "tanh", "은닉 상태"),
    "r": Symbol("reset gate", r"$r_t$", "#882255", "sigmoid", "리셋 게이트"),
    "z": Symbol("update gate", r"$z_t$", "#332288", "sigmoid", "업데이트 게이트"),
    "y": Symbol("readout", r"$y_t$", "#999933", None, "출력"),
}

COLORS = {k: s.color for k, s in SYMBOLS.items()}
LABELS = {k: s.label for k, s in SYMBOLS.items()}
NAMES = {k: s.name for k, s in SYMBOLS.items()}
KOREAN = {k: s.korean for k, s in SYMBOLS.items()}
# which nonlinearity makes each symbol that has one
ACTIVATION_OF = {k: s.activation for k, s in SYMBOLS.items() if s.activation is not None}
# the gates squashed by a sigmoid, in the order plots list them
SIGMOID_GATES = tuple(k for k, s in SYMBOLS.items() if s.activation == "sigmoid")
