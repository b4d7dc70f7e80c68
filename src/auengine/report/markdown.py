"""Markdown tables without extra dependencies (pandas' to_markdown needs tabulate)."""
from __future__ import annotations

import pandas as pd


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table of ``frame`` (index dropped); floats with ``digits`` decimals."""
    def cell(value) -> str:
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
