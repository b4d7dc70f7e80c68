"""A self-contained HTML report: sections of text, tables and PNG figures (embedded as base64)."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from ..io.tables import atomic_write_bytes

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.6em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; } th { background: #f3f3f3; }
td:first-child, th:first-child { text-align: left; }
table.text td, table.text th { text-align: left; } table.text td { white-space: nowrap; }
table.text td:last-child { white-space: normal; }
.banner { background: #fff4d6; border: 1px solid #e0b84c; padding: 0.6em 1em; }
img { max-width: 100%; } .row img { max-width: 23%; margin: 0.5%; }
.note { color: #555; font-size: 0.9em; }
.legend span.chip { display: inline-block; padding: 2px 10px; margin: 2px 6px 2px 0; border-radius: 3px;
  border: 1px solid #999; font-size: 0.9em; }
"""


class HtmlReport:
    """Collects sections; :meth:`write` produces one HTML file with the figures inlined."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, css: str = "") -> None:
        attr = f' class="{css}"' if css else ""
        self.parts.append(f"<p{attr}>{html.escape(text)}</p>")

    def table(self, table: pd.DataFrame, digits: int = 3, na_rep: str = "\u2014", css: str = "") -> None:
        """``css`` "text": cells of strings, left-aligned."""
        self.parts.append(table.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, escape=True,
                                        na_rep=na_rep, classes=css or None))

    def legend(self, items: list[tuple[str, str]], caption: str = "") -> None:
        """A row of colour chips: (label, CSS colour) each."""
        chips = "".join(f"<span class=chip style='background:{html.escape(colour)}'>{html.escape(label)}</span>"
                        for label, colour in items)
        self.parts.append(f"<p class=legend>{html.escape(caption)} {chips}</p>")

    def figure(self, path: str | Path, caption: str = "") -> None:
        self.parts.append(f"<figure>{_img(path)}<figcaption class=note>{html.escape(caption)}</figcaption></figure>")

    def figures_row(self, paths: list[Path], caption: str = "") -> None:
        images = "".join(_img(p) for p in paths)
        self.parts.append(f"<div class=row>{images}</div><p class=note>{html.escape(caption)}</p>")

    def write(self, path: str | Path) -> Path:
        body = "\n".join(self.parts)
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>\n{body}\n</body></html>")
        return atomic_write_bytes(path, page.encode())


def _img(path: str | Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"<img src='data:image/png;base64,{data}' alt='{html.escape(Path(path).name)}'>"
