"""How numbers print in the validation outputs: Markdown table cells and CSV fields."""

from __future__ import annotations

import math


def cell(v, nd=3) -> str:
    """A Markdown cell: ``nd`` significant digits for floats, "–" for None and non-finite values."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{nd}g}" if isinstance(v, float) else str(v)


def csv_number(v) -> str:
    """A CSV field: six significant digits, empty for non-finite values."""
    v = float(v)
    return "" if not math.isfinite(v) else f"{v:.6g}"
