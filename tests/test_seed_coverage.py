"""docs/seed_coverage.md: every claim of the five source documents, with where the course teaches
it. Every anchor must point at a cell that exists: a section heading's text (its core/optional
mark aside) or a cell id, in a notebook that exists."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "seed_coverage.md"
SOURCES = ("000", "001", "002", "003", "004")

ROW = re.compile(r"^\| (\d{3})\.(\d+) \| (.+?) \|\s*(.*?)\s*\| (.+?) \|$", re.M)
REFERENCE = re.compile(r"`(\d\d_[a-z0-9_]+) › ([^`]+)`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.M)
MARK = re.compile(r"\s·\s(core|optional)$")


def rows(text: str) -> list[tuple[str, str, str, str]]:
    """(item id, claim, where, how) of every item row of the map."""
    return [(f"{src}.{n}", claim, where, how) for src, n, claim, where, how in ROW.findall(text)]


def anchors_of(path: Path) -> set[str]:
    """Every anchor a notebook offers: '#' + each cell id, and each heading's text."""
    nb = nbformat.read(path, as_version=4)
    found = set()
    for cell in nb.cells:
        if cell.get("id"):
            found.add("#" + cell["id"])
        if cell.cell_type == "markdown":
            found.update(MARK.sub("", text) for text in HEADING.findall(cell.source))
    return found


def broken_references(text: str, notebooks: Path) -> list[str]:
    """Every reference of the map whose notebook or anchor does not exist."""
    cache: dict[str, set[str] | None] = {}
    broken = []
    for item, _claim, where, _how in rows(text):
        for stem, anchor in REFERENCE.findall(where):
            if stem not in cache:
                path = notebooks / f"{stem}.ipynb"
                cache[stem] = anchors_of(path) if path.exists() else None
            if cache[stem] is None:
                broken.append(f"{item}: no notebook {stem}.ipynb")
            elif anchor not in cache[stem]:
                broken.append(f"{item}: {stem} has no heading or cell id {anchor!r}")
    return broken


@pytest.fixture(scope="module")
def text():
    assert MAP.exists(), "docs/seed_coverage.md is missing"
    return MAP.read_text(encoding="utf-8")


def test_every_source_is_mapped_item_by_item(text):
    items = rows(text)
    ids = [item for item, *_ in items]
    assert len(ids) == len(set(ids)), "item ids repeat"
    for source in SOURCES:
        numbers = [int(item.split(".")[1]) for item in ids if item.startswith(source + ".")]
        assert numbers, f"source {source} has no items in the map"
        assert numbers == list(range(1, len(numbers) + 1)), f"{source}: items numbered {numbers}"
    assert len(items) >= 50, f"only {len(items)} items; the sources hold more distinct claims"


def test_every_item_says_where_and_how_or_that_it_is_not_yet_taught(text):
    for item, claim, where, how in rows(text):
        assert len(claim.split()) >= 4, f"{item}: the claim is missing"
        taught = REFERENCE.findall(where)
        assert taught or "not yet taught" in how, f"{item}: no anchor and not marked not yet taught"
        if taught:
            assert re.match(r"(live|stated|the course|generation|not yet taught)", how), (
                f"{item}: 'how' must start with live / stated: {how[:60]!r}")


def test_every_anchor_points_at_a_cell_that_exists(text):
    assert broken_references(text, ROOT / "notebooks") == []


def test_a_missing_notebook_or_anchor_is_reported(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_markdown_cell("## Real heading · core\n\ntext")
    cell["id"] = "real-id"
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "42_real.ipynb")
    text = "\n".join([
        "| 000.1 | a claim of four words | `42_real › Real heading` | live |",
        "| 000.2 | a claim of four words | `42_real › #real-id` | live |",
        "| 000.3 | a claim of four words | `42_real › Missing heading` | live |",
        "| 000.4 | a claim of four words | `43_gone › Real heading` | live |",
    ])
    assert broken_references(text, tmp_path) == [
        "000.3: 42_real has no heading or cell id 'Missing heading'",
        "000.4: no notebook 43_gone.ipynb",
    ]
