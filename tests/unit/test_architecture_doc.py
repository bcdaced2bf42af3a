"""docs/ARCHITECTURE.md names real files: every path it quotes exists (a move that forgets the
map fails here)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
# `a/b.py`, `a/b/`, `../shared/DESIGN.md`: a quoted path with a folder in it
QUOTED = re.compile(r"`(\.\./)?([\w.-]+/[\w./-]*)`")


def named_paths(text: str) -> list[str]:
    return [(m.group(1) or "") + m.group(2) for m in QUOTED.finditer(text)]


def test_the_scan_sees_paths() -> None:
    assert named_paths("see `shared/ids.py` and `../shared/DESIGN.md`, not `x`") == [
        "shared/ids.py",
        "../shared/DESIGN.md",
    ]


def test_every_named_file_exists() -> None:
    names = named_paths(DOC.read_text(encoding="utf-8"))
    assert len(names) > 40  # the four walks and the layer table
    missing = sorted({n for n in names if not (ROOT / n).exists()})
    assert not missing, f"docs/ARCHITECTURE.md names files that do not exist: {missing}"


def test_the_four_walks_are_there() -> None:
    text = DOC.read_text(encoding="utf-8")
    for title in (
        "an inbound message to a stored document",
        "adding a message kind",
        "a send from the app to WhatsApp",
        "client totals",
    ):
        assert re.search(rf"^## Walk \d: {re.escape(title)}$", text, re.M), title
