"""Small text helpers shared by the library and the CLI (no dependencies: the CLI imports
this at start-up)."""

from __future__ import annotations


def human_bytes(n: float) -> str:
    """``1.9 kB``, ``466.0 MB``: decimal units, as people quote log volumes."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"
