"""Class-level data and the symbol table, which mutmut cannot mutate.

tools/hand_mutants.py applies hand-written mutants of this data (a gate order with two letters
swapped, a gate dropped from a variant's declaration, two symbols' labels or colours swapped);
these tests kill the ones the rest of the unit tests let through.
"""

from __future__ import annotations

import colorsys

import pytest
from matplotlib.colors import to_rgb

from lstm_lab import symbols
from lstm_lab.cells import CELLS


@pytest.mark.parametrize("kind", [k for k, c in CELLS.items() if c.diagram.layout == "lstm"])
def test_the_diagram_fades_exactly_the_gates_a_variant_lacks(kind):
    """Hand mutant diagram_absent_nog: the no-output-gate cell drawn with a live o_t."""
    cls = CELLS[kind]
    assert set(cls.diagram.absent) == {L for L in "fio" if L not in cls.gate_names}, kind
    assert bool(cls.diagram.coupled) == bool(getattr(cls, "coupled", False)), kind


def test_every_label_is_the_letter_at_time_t():
    """Hand mutant symbol_labels_f_i: f and i drawn with each other's label."""
    for letter, label in symbols.LABELS.items():
        assert label == rf"${letter}_t$", letter


def test_no_two_symbols_share_a_colour():
    """Hand mutant symbol_color_shared: c drawn in h's colour."""
    assert len(set(symbols.COLORS.values())) == len(symbols.COLORS)


def _hue(colour):
    return 360 * colorsys.rgb_to_hsv(*to_rgb(colour))[0]


def test_the_forget_gate_is_the_orange_the_lessons_name():
    """Hand mutant symbol_colors_f_o: notebook 02 sends the reader to "the orange sigmoid box"
    of f_t; with f and o swapped that box is pink."""
    assert 10 <= _hue(symbols.COLORS["f"]) <= 40
    assert not 10 <= _hue(symbols.COLORS["o"]) <= 40

